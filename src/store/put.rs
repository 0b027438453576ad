//! PUT: stream a body into a work file on the HRW mountpath, checksum it, then commit
//! (metadata xattr, rename into place) in one step on the disk worker, with the flushes
//! the `durability` setting asks for around it (see `fs::sync`).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::body_hashes::BodyHashes;
use super::checksum::DEFAULT_TYPE;
use super::commit::{Commit, CommitFail, CommitMode};
use super::meta::{ObjectInfo, ObjectMeta};
use super::work_file::WorkFile;
use super::{Error, ObjectStore, Result};
use crate::disk::{BufferPool, IoBuf, PendingWrite, ALIGN};
use crate::fs::{layout, Durability, Mountpath};

/// What the client asked of a PUT besides the data.
#[derive(Debug, Default, Clone)]
pub struct PutOptions {
    /// Checksum the client computed (type, lowercase hex value); verified before commit.
    pub expected: Option<(String, String)>,
    /// User metadata to store with the object.
    pub custom: BTreeMap<String, String>,
    /// Announced body length, if any; a shorter or longer body is an error.
    pub size: Option<u64>,
    /// Compute the content's MD5 and keep it (an S3 ETag).
    pub md5: bool,
    /// Standard HTTP attributes to keep (see [`ObjectMeta::attrs`]).
    pub attrs: BTreeMap<String, String>,
    /// Checksums the caller verified against the body, by algorithm (base64).
    pub checksums: BTreeMap<String, String>,
    /// Checksums that are only known once the body has ended (aws-chunked trailers),
    /// merged into `checksums` at commit.
    pub late_checksums: Option<LateChecksums>,
}

/// Checksums filled in while the body streams; read when the PUT commits.
pub type LateChecksums = Arc<std::sync::Mutex<BTreeMap<String, String>>>;

/// A body written to a work file on the object's mountpath, hashed, not yet committed.
pub(super) struct Written {
    pub(super) file: Arc<File>,
    pub(super) guard: WorkFile,
    pub(super) size: u64,
    /// XXH64, lowercase hex.
    pub(super) xxhash: String,
    /// MD5, lowercase hex, when asked for (or needed to check the client's).
    pub(super) md5: Option<String>,
}

impl Written {
    /// A work file hashed after it was written whole (an append flush, joined parts).
    pub(super) fn hashed(file: File, guard: WorkFile, size: u64, xxhash: String) -> Written {
        Written {
            file: Arc::new(file),
            guard,
            size,
            xxhash,
            md5: None,
        }
    }

    /// The metadata of this body as a new object: its size and checksum.
    pub(super) fn meta(&self) -> ObjectMeta {
        ObjectMeta {
            size: self.size,
            cksum_type: DEFAULT_TYPE.to_string(),
            cksum_value: self.xxhash.clone(),
            md5: self.md5.clone().unwrap_or_default(),
            ..ObjectMeta::default()
        }
    }
}

/// Body frames received but not yet written, in order.
#[derive(Default)]
struct Frames {
    parts: std::collections::VecDeque<Bytes>,
    len: usize,
}

impl Frames {
    fn push(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.len += b.len();
            self.parts.push_back(b);
        }
    }

    /// Moves up to `max` bytes from the front into `buf`.
    fn move_into(&mut self, buf: &mut IoBuf, max: usize) {
        let mut want = max.min(self.len);
        while want > 0 {
            let Some(front) = self.parts.front_mut() else {
                break;
            };
            let n = want.min(front.len());
            buf.extend_from_slice(&front[..n]);
            if n == front.len() {
                self.parts.pop_front();
            } else {
                let _ = front.split_to(n);
            }
            self.len -= n;
            want -= n;
        }
    }
}

/// How a body stream can fail: the client's fault (`Body`) or ours.
pub type BodyResult = std::result::Result<Bytes, String>;

impl ObjectStore {
    /// Stores `body` as `bucket/object`, replacing any previous version atomically.
    pub async fn put<S>(
        &self,
        bucket: &str,
        object: &str,
        body: S,
        opts: PutOptions,
    ) -> Result<ObjectInfo>
    where
        S: Stream<Item = BodyResult> + Unpin,
    {
        let (key, mp) = self.place_checked(bucket, object)?;
        let written = self
            .write_work_file(bucket, object, &mp, body, &opts)
            .await?;
        let mut checksums = opts.checksums;
        if let Some(late) = &opts.late_checksums {
            let late = late.lock().unwrap_or_else(|p| p.into_inner());
            checksums.extend(late.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let meta = ObjectMeta {
            custom: opts.custom,
            attrs: opts.attrs,
            checksums,
            ..written.meta()
        };
        self.commit(bucket, object, key, &mp, written, meta, None)
            .await
    }

    /// A chunk buffer of `pool`, waiting at most the configured time for one.
    pub(super) async fn take_buffer(
        &self,
        pool: &Arc<BufferPool>,
        bucket: &str,
        object: &str,
    ) -> Result<IoBuf> {
        pool.take_within(self.cfg.buffer_wait)
            .await
            .ok_or_else(|| Error::Busy(format!("{bucket}/{object}"), self.cfg.buffer_wait))
    }

    /// Renames a written work file into place as `bucket/object` with `meta`; on failure
    /// the work file is removed. A new version is one past the current one; a `replica`
    /// (an object moved from another target, with its modification time) keeps its
    /// version and is refused when the version here is not older.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn commit(
        &self,
        bucket: &str,
        object: &str,
        key: u64,
        mp: &Mountpath,
        written: Written,
        meta: ObjectMeta,
        replica: Option<std::time::SystemTime>,
    ) -> Result<ObjectInfo> {
        let commit = Commit {
            work: written.guard.path().to_path_buf(),
            objects_dir: layout::objects_dir(&mp.path, bucket),
            target: layout::object_path(&mp.path, bucket, object),
            durability: self.cfg.durability,
            data_flushed: false,
            mode: replica.map_or(CommitMode::New, CommitMode::Replica),
            extra: None,
        };
        self.commit_as((bucket, object, key), mp, written, meta, commit)
            .await
    }

    /// Runs `commit` for `written`, the work file of the object named and keyed by
    /// `(bucket, object, key)` (see [`ObjectStore::commit`]).
    pub(super) async fn commit_as(
        &self,
        (bucket, object, key): (&str, &str, u64),
        mp: &Mountpath,
        written: Written,
        meta: ObjectMeta,
        commit: Commit,
    ) -> Result<ObjectInfo> {
        let file = written.file;
        let group = commit.durability == Durability::Group;
        let (mut commit, mut meta) = (commit, meta);
        let outcome = loop {
            let f = file.clone();
            match mp.disk.call(move || commit.run(&f, meta)).await {
                // The name holds a version: this one's data must be on stable storage
                // before the rename replaces it (see `fs::sync`).
                Ok(Err(CommitFail::FlushFirst(back))) => {
                    if let Err(e) = self.flush_data(mp, &file).await {
                        written.guard.remove().await;
                        return Err(Error::io(format!("{bucket}/{object}: flush"), e));
                    }
                    (commit, meta) = *back;
                    commit.data_flushed = true;
                }
                other => break other,
            }
        };
        self.meta_cache.forget(key);
        let err = match outcome {
            Ok(Ok((info, flush))) => {
                written.guard.committed();
                if group {
                    // A new name's data and entry share one flush: a crash before it
                    // leaves an object nobody was told of, found damaged and moved aside
                    // at start-up.
                    self.flush_committed(mp, flush.data.then_some(&file), &flush.dirs)
                        .await
                        .map_err(|e| Error::io(format!("{bucket}/{object}: flush"), e))?;
                }
                return Ok(ObjectInfo {
                    mountpath: mp.path.clone(),
                    ..info
                });
            }
            Ok(Err(CommitFail::Conflict)) => Error::NameConflict {
                bucket: bucket.into(),
                object: object.into(),
            },
            Ok(Err(CommitFail::BucketGone)) => Error::BucketNotFound(bucket.into()),
            Ok(Err(CommitFail::NotNewer(have))) => Error::NotNewer {
                bucket: bucket.into(),
                object: object.into(),
                have,
            },
            Ok(Err(CommitFail::FlushFirst(_))) => Error::io(
                format!("{bucket}/{object}: commit"),
                io::Error::other("asked for a flush twice"),
            ),
            Err(e) => Error::io(format!("{bucket}/{object}: commit"), e),
        };
        written.guard.remove().await;
        Err(err)
    }

    /// Creates the work file a PUT writes into, with the guard that removes it on failure.
    async fn open_work_file(
        &self,
        bucket: &str,
        object: &str,
        mp: &Mountpath,
    ) -> Result<(Arc<File>, WorkFile)> {
        let work_path = layout::work_path(&mp.path, bucket, object);
        let wk = work_path.clone();
        let direct = self.cfg.direct_io;
        let file = mp
            .disk
            .call(move || create_work_file(&wk, direct))
            .await
            .map_err(|e| Error::io(format!("{bucket}/{object}: create work file"), e))?;
        Ok((Arc::new(file), WorkFile::new(work_path, mp.disk.clone())))
    }

    /// Refuses a PUT whose metadata or announced size is over the limits, before any byte.
    fn check_limits(&self, bucket: &str, object: &str, opts: &PutOptions) -> Result<()> {
        for m in [&opts.custom, &opts.attrs] {
            let size = super::meta::metadata_size(m);
            if size > super::meta::MAX_USER_METADATA {
                return Err(Error::MetadataTooLarge {
                    bucket: bucket.into(),
                    object: object.into(),
                    size,
                    max: super::meta::MAX_USER_METADATA,
                });
            }
        }
        let max = self.cfg.max_object_size;
        if opts.size.is_some_and(|n| n > max) {
            return Err(too_large(bucket, object, max));
        }
        Ok(())
    }

    /// Streams `body` into a new work file on `mp`, hashing it on the way, and checks its
    /// length and the client's checksum. On any error the work file is already gone.
    pub(super) async fn write_work_file<S>(
        &self,
        bucket: &str,
        object: &str,
        mp: &Mountpath,
        mut body: S,
        opts: &PutOptions,
    ) -> Result<Written>
    where
        S: Stream<Item = BodyResult> + Unpin,
    {
        let err_body = |reason| body_error(bucket, object, reason);
        self.check_limits(bucket, object, opts)?;
        let max = self.cfg.max_object_size;
        let mut hashes = BodyHashes::new(self, bucket, object, opts.md5, opts.expected.as_ref())?;

        let (disk, direct) = (mp.disk.clone(), self.cfg.direct_io);
        let (file, guard) = self.open_work_file(bucket, object, mp).await?;

        // Every early return below is an error; the work file is then removed before the
        // client hears of it (the guard's Drop only covers a dropped request).
        let outcome: Result<(u64, String, Option<String>)> = async {
            // Body bytes wait in the frames hyper handed us until a whole chunk is there;
            // only then is a chunk buffer taken, filled and written (one write in flight).
            // A slow or stalled client therefore holds no buffer of the budget.
            let pool = self.pools.for_size(opts.size);
            let chunk = pool.size();
            let mut pending = Frames::default();
            let mut in_flight: Option<PendingWrite> = None;
            let mut offset = 0u64;
            let mut received = 0u64;
            let mut ended = false;
            let write_err = |e| Error::io(format!("{bucket}/{object}: write"), e);
            loop {
                while pending.len >= chunk || (ended && pending.len > 0) {
                    let mut buf = match in_flight.take() {
                        Some(w) => w.await.map_err(write_err)?,
                        None => self.take_buffer(pool, bucket, object).await?,
                    };
                    buf.clear();
                    pending.move_into(&mut buf, chunk);
                    let len = buf.len() as u64;
                    if direct && buf.len() % ALIGN != 0 {
                        // O_DIRECT writes whole blocks: pad the tail; the commit truncates it away.
                        buf.pad_to(buf.len().div_ceil(ALIGN) * ALIGN);
                    }
                    in_flight = Some(
                        disk.start_write(file.clone(), buf, offset)
                            .await
                            .map_err(write_err)?,
                    );
                    offset += len;
                }
                if ended {
                    break;
                }
                // While waiting for the body, a finished write's buffer goes home.
                let next = match in_flight.as_mut() {
                    Some(w) => tokio::select! {
                        biased;
                        next = body.next() => next,
                        done = w => {
                            in_flight = None;
                            drop(done.map_err(write_err)?);
                            continue;
                        }
                    },
                    None => body.next().await,
                };
                let data = match next {
                    Some(Ok(data)) => data,
                    Some(Err(reason)) => return Err(err_body(reason)),
                    None => {
                        ended = true;
                        continue;
                    }
                };
                received += data.len() as u64;
                if received > max {
                    return Err(too_large(bucket, object, max));
                }
                hashes.update(&data).await;
                pending.push(data);
            }
            if let Some(w) = in_flight.take() {
                w.await.map_err(write_err)?;
            }
            match opts.size {
                Some(want) if want != received => {
                    return Err(err_body(format!(
                        "expected {want} bytes, received {received}"
                    )))
                }
                _ => {}
            }
            mp.write_bytes.inc_by(received);

            let (value, md5) = hashes
                .finish(bucket, object, opts.expected.as_ref())
                .await?;
            Ok((received, value, md5))
        }
        .await;
        match outcome {
            Ok((size, xxhash, md5)) => Ok(Written {
                file,
                guard,
                size,
                xxhash,
                md5,
            }),
            Err(e) => {
                guard.remove().await;
                Err(e)
            }
        }
    }
}

fn create_work_file(path: &Path, direct: bool) -> io::Result<File> {
    let flags = libc::O_CLOEXEC | if direct { libc::O_DIRECT } else { 0 };
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(flags)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            open()
        }
        r => r,
    }
}

fn body_error(bucket: &str, object: &str, reason: String) -> Error {
    Error::Body {
        bucket: bucket.into(),
        object: object.into(),
        reason,
    }
}

fn too_large(bucket: &str, object: &str, max: u64) -> Error {
    Error::TooLarge {
        bucket: bucket.into(),
        object: object.into(),
        max,
    }
}
