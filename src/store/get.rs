//! GET, HEAD and DELETE. A GET opens the file and reads its metadata in one call on the
//! disk worker, then streams chunks read by the worker, one read ahead of the socket.

use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use prometheus::IntCounter;
use tokio::task::JoinHandle;

use super::checksum::Checksummer;
use super::meta::{ObjectInfo, ObjectMeta, XATTR_C, XATTR_GUESS};
use super::meta_cache::{Checked, Entry, FileStamp, KeptContent, MetaCache};
use super::quarantine::{file_id, Damaged, FileId, Quarantine};
use super::{unix_ns, Error, ObjectStore, Result};
use crate::disk::nowait::{self, Cached};
use crate::disk::{BufferPool, DiskHandle, IoBuf, ALIGN};
use crate::fs::layout;
use crate::names::validate_object;

/// Reads below this size use an exact-size buffer instead of a pooled chunk.
const SMALL_READ: usize = 64 << 10;

/// An open object, ready to stream.
pub struct ObjectReader {
    /// Metadata and file times.
    pub info: ObjectInfo,
    /// The whole content, when the object was small enough to read at open.
    inline: Option<Bytes>,
    file: Arc<File>,
    disk: DiskHandle,
    read_bytes: IntCounter,
    cache_read_bytes: IntCounter,
    /// Whether `inline` came from the page cache (true) or a disk thread.
    inline_cached: bool,
    pool: Arc<BufferPool>,
    /// How long a read waits for a buffer.
    buffer_wait: std::time::Duration,
    direct: bool,
    /// Read chunks on the caller's thread when the page cache holds them.
    try_cache: bool,
    bucket: String,
    object: String,
    /// The file this reader reads, and where it goes if it turns out damaged.
    id: FileId,
    quarantine: Quarantine,
    /// Check the whole object against its checksum when it comes from the disk.
    validate_cold: bool,
}

pub(super) enum OpenFail {
    Missing,
    /// Metadata missing, undecodable, or not matching the file: the file's identity and
    /// what is wrong.
    BadMeta(FileId, String),
}

/// Objects up to this size are read in the same call that opens them (no second hop to a
/// disk thread, no read-ahead task): what keeps small GETs cheap.
const INLINE_READ: u64 = 64 << 10;

/// An opened object: file, metadata, times, and the whole content when it is small.
pub(super) struct Opened {
    file: Arc<File>,
    id: FileId,
    pub(super) meta: ObjectMeta,
    atime_ns: i64,
    pub(super) mtime_ns: i64,
    data: Option<Bytes>,
}

type OpenResult = std::result::Result<Opened, OpenFail>;

/// Opens and describes an object on a disk thread (may block).
pub(super) fn open_blocking(
    path: &Path,
    direct: bool,
    want_data: bool,
    cache: CacheSlot<'_>,
) -> io::Result<OpenResult> {
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | if direct { libc::O_DIRECT } else { 0 })
        .open(path)
    {
        Ok(f) => f,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {
            return Ok(Err(OpenFail::Missing))
        }
        Err(e) => return Err(e),
    };
    let mut opened = match describe(file, cache)? {
        Ok(o) => o,
        Err(fail) => return Ok(Err(fail)),
    };
    if want_data && !direct && opened.meta.size <= INLINE_READ {
        use std::os::unix::fs::FileExt as _;
        let mut data = vec![0u8; opened.meta.size as usize];
        opened.file.read_exact_at(&mut data, 0)?;
        opened.data = Some(Bytes::from(data));
    }
    Ok(Ok(opened))
}

/// Opens and describes an object on the caller's thread if the kernel's caches can answer
/// without waiting for the disk (see [`nowait`]).
fn open_cached(
    path: &Path,
    direct: bool,
    want_data: bool,
    cache: CacheSlot<'_>,
) -> io::Result<Cached<OpenResult>> {
    let file = match nowait::open_read(path, direct)? {
        Cached::WouldBlock => return Ok(Cached::WouldBlock),
        Cached::Ready(None) => return Ok(Cached::Ready(Err(OpenFail::Missing))),
        Cached::Ready(Some(f)) => f,
    };
    let mut opened = match describe(file, cache)? {
        Ok(o) => o,
        Err(fail) => return Ok(Cached::Ready(Err(fail))),
    };
    if want_data && !direct {
        opened.data = read_small_cached(&opened.file, opened.meta.size)?;
    }
    Ok(Cached::Ready(Ok(opened)))
}

/// The whole content of a small object if the page cache holds all of it; otherwise the
/// stream reads it through the disk thread.
fn read_small_cached(file: &File, size: u64) -> io::Result<Option<Bytes>> {
    if size > INLINE_READ {
        return Ok(None);
    }
    let size = size as usize;
    let mut buf = IoBuf::with_capacity(size);
    Ok(match nowait::read_at(file, &mut buf, 0, size)? {
        Cached::Ready(n) if n == size => Some(Bytes::from_owner(buf)),
        _ => None,
    })
}

/// How long a kept file is served without a new `fstat`: our own writes, deletes,
/// metadata changes, quarantine and mountpath changes drop entries when they happen; this
/// bounds how long a change made behind our back (or missed) can go unseen (nginx's
/// `open_file_cache_valid` is 60 s).
const RECHECK_MS: u64 = 1000;

/// A hot object from the open-file cache (`None`: the kept file is no longer current).
/// At most once per [`RECHECK_MS`], one `fstat` of the kept descriptor proves it is still
/// the object's file: a PUT renames a new inode over the path and a DELETE unlinks it,
/// both leaving the kept inode without links; metadata changed in place moves its ctime.
/// No path lookup either way.
fn open_hot(entry: Entry, direct: bool, want_data: bool) -> io::Result<Option<Opened>> {
    let checked = entry.checked.clone();
    if checked.stale(RECHECK_MS) {
        let stat = entry.file.metadata()?;
        if stat.nlink() == 0 || FileStamp::of(&stat) != entry.stamp {
            return Ok(None);
        }
        checked.record(unix_ns(stat.accessed()), unix_ns(stat.modified()));
    }
    let data = if want_data && !direct {
        match entry.content.get() {
            Some(kept) => Some(kept),
            None => {
                let read = read_small_cached(&entry.file, entry.meta.size)?;
                if let Some(bytes) = &read {
                    entry.content.offer(bytes);
                }
                read
            }
        }
    } else {
        None
    };
    Ok(Some(Opened {
        atime_ns: checked.atime_ns.load(std::sync::atomic::Ordering::Relaxed),
        mtime_ns: checked.mtime_ns.load(std::sync::atomic::Ordering::Relaxed),
        id: entry.stamp.file_id(),
        file: entry.file,
        meta: entry.meta,
        data,
    }))
}

/// Where an object's metadata may be cached: the cache and the object's key.
/// The cache, the object's key, and the cache generation read before the open.
pub(super) type CacheSlot<'a> = Option<(&'a MetaCache, u64, u64)>;

/// File type, size and times from `fstat`; metadata from the cache when it was read from
/// this very file, else from the xattr (one syscall).
fn describe(file: File, cache: CacheSlot<'_>) -> io::Result<OpenResult> {
    let stat = file.metadata()?;
    if !stat.is_file() {
        return Ok(Err(OpenFail::Missing));
    }
    let stamp = FileStamp::of(&stat);
    let id = file_id(&stat);
    let file = Arc::new(file);
    let cached = cache.and_then(|(c, key, _)| c.meta_for(key, &stamp));
    let meta = match cached {
        Some(m) => m,
        None => match nowait::get_xattr(&file, XATTR_C, XATTR_GUESS)? {
            Some(raw) => match ObjectMeta::decode(&raw) {
                Ok(m) => {
                    if let Some((c, key, generation)) = cache {
                        let entry = Entry {
                            stamp,
                            meta: m.clone(),
                            file: file.clone(),
                            checked: Checked::now(
                                unix_ns(stat.accessed()),
                                unix_ns(stat.modified()),
                            ),
                            content: KeptContent::new(&c.content_budget),
                        };
                        c.put(key, generation, entry);
                    }
                    m
                }
                Err(e) => return Ok(Err(OpenFail::BadMeta(id, e))),
            },
            None => return Ok(Err(OpenFail::BadMeta(id, "no metadata xattr".into()))),
        },
    };
    if meta.size != stat.len() {
        let why = format!("metadata says {} bytes, file has {}", meta.size, stat.len());
        return Ok(Err(OpenFail::BadMeta(id, why)));
    }
    Ok(Ok(Opened {
        atime_ns: unix_ns(stat.accessed()),
        mtime_ns: unix_ns(stat.modified()),
        id,
        file,
        meta,
        data: None,
    }))
}

impl ObjectStore {
    /// Opens `bucket/object` for reading.
    pub async fn open_object(&self, bucket: &str, object: &str) -> Result<ObjectReader> {
        self.open_for(bucket, object, true).await
    }

    /// The object's file opened plainly (buffered reads, seeks: for reading inside
    /// archives) with its metadata.
    pub async fn open_plain(&self, bucket: &str, object: &str) -> Result<(File, ObjectInfo)> {
        let info = self.head(bucket, object).await?;
        let path = layout::object_path(&info.mountpath, bucket, object);
        let file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::ObjectNotFound {
                bucket: bucket.into(),
                object: object.into(),
            },
            _ => Error::io(format!("{bucket}/{object}: open"), e),
        })?;
        Ok((file, info))
    }

    /// Metadata of `bucket/object`.
    pub async fn head(&self, bucket: &str, object: &str) -> Result<ObjectInfo> {
        Ok(self.open_for(bucket, object, false).await?.info)
    }

    async fn open_for(&self, bucket: &str, object: &str, want_data: bool) -> Result<ObjectReader> {
        self.require_bucket(bucket)?;
        validate_object(object)?;
        let (key, mp) = self.place(bucket, object)?;
        let direct = self.cfg.direct_io;
        let io_err = |e| Error::io(format!("{bucket}/{object}: open"), e);
        let fast = self.cfg.inline_cache_hits;
        self.meta_cache.follow_set(self.mountpaths.generation());
        // Read before the open: a DELETE or destroy in between bumps it, and then what this
        // open found is not kept.
        let generation = self.meta_cache.generation(key);
        let hot = match fast.then(|| self.meta_cache.get(key)).flatten() {
            Some(entry) => open_hot(entry, direct, want_data).map_err(io_err)?,
            None => None,
        };
        // Built only when the open-file cache did not answer.
        let path = || layout::object_path(&mp.path, bucket, object);
        let cached = if let Some(opened) = hot {
            Cached::Ready(Ok(opened))
        } else if fast {
            let slot = Some((&*self.meta_cache, key, generation));
            open_cached(&path(), direct, want_data, slot).map_err(io_err)?
        } else {
            Cached::WouldBlock
        };
        let (opened, from_cache) = match cached {
            Cached::Ready(opened) => (opened, true),
            Cached::WouldBlock => {
                let cache = self.meta_cache.clone();
                let path = path();
                let read = move || {
                    let slot = fast.then_some((&*cache, key, generation));
                    open_blocking(&path, direct, want_data, slot)
                };
                (mp.disk.call(read).await.map_err(io_err)?, false)
            }
        };
        match opened {
            Ok(o) if !from_cache && o.data.is_some() && self.cfg.validate_cold_get => {
                // Read from the disk whole (small objects): checked before anything is
                // sent, so a flipped bit is never served as good. (Page-cache hits were
                // checked when they were read from the disk.)
                let data = o.data.as_deref().unwrap_or_default();
                if let Err(e) = self.check_whole(bucket, object, &mp, &o, data) {
                    // Forget the descriptor kept for it: the next read checks again.
                    self.meta_cache.forget(key);
                    return Err(e);
                }
                Ok(self.reader(o, &mp, from_cache, direct, bucket, object))
            }
            Ok(o)
                if want_data
                    && direct
                    && o.data.is_none()
                    && self.cfg.validate_cold_get
                    && o.meta.size <= INLINE_READ =>
            {
                // A small object read past the page cache (direct I/O: every read is
                // cold): checked whole before anything is sent, so a flipped bit answers
                // 500, not a 200 cut short; then served from what was read.
                let mut reader = self.reader(o, &mp, from_cache, direct, bucket, object);
                if let Err(e) = reader.load_checked().await {
                    self.meta_cache.forget(key);
                    return Err(e);
                }
                Ok(reader)
            }
            Ok(o) => Ok(self.reader(o, &mp, from_cache, direct, bucket, object)),
            Err(OpenFail::Missing) => self.open_misplaced(bucket, object, &mp, want_data).await,
            Err(OpenFail::BadMeta(id, reason)) => {
                self.meta_cache.forget(key);
                self.damaged(&mp, bucket, object, id, reason);
                self.open_misplaced(bucket, object, &mp, want_data).await
            }
        }
    }

    /// Moves a damaged object file aside (see [`super::quarantine`]).
    pub(super) fn damaged(
        &self,
        mp: &crate::fs::Mountpath,
        bucket: &str,
        object: &str,
        id: FileId,
        reason: String,
    ) {
        let d = Damaged {
            mountpath: mp.path.clone(),
            bucket: bucket.into(),
            object: object.into(),
            id,
            reason,
        };
        self.quarantine.move_later(&mp.disk, d);
    }

    /// An object that is not on its HRW mountpath may still be on another one: written
    /// before a mountpath was attached or enabled, or on one being disabled, until the
    /// resilver moves it. Such a read skips the caches and is checked like a cold one.
    async fn open_misplaced(
        &self,
        bucket: &str,
        object: &str,
        hrw: &Arc<crate::fs::Mountpath>,
        want_data: bool,
    ) -> Result<ObjectReader> {
        let set = self.mountpaths.current();
        let direct = self.cfg.direct_io;
        for mp in set.readable().filter(|m| m.path != hrw.path) {
            match self.open_uncached(mp, bucket, object, want_data).await? {
                Ok(o) => {
                    if let (Some(data), true) = (o.data.as_deref(), self.cfg.validate_cold_get) {
                        self.check_whole(bucket, object, mp, &o, data)?;
                    }
                    return Ok(self.reader(o, mp, false, direct, bucket, object));
                }
                Err(OpenFail::Missing) => {}
                Err(OpenFail::BadMeta(id, reason)) => self.damaged(mp, bucket, object, id, reason),
            }
        }
        // A move lands the object on its HRW mountpath before it leaves the other one, so
        // one that moved while we looked elsewhere is there now.
        match self.open_uncached(hrw, bucket, object, want_data).await? {
            Ok(o) => Ok(self.reader(o, hrw, false, direct, bucket, object)),
            // Not missing: on a disk that was disabled with its objects, out of reach.
            Err(_) => match set.undrained_owner(crate::hrw::object_digest(bucket, object)) {
                Some(down) => Err(Error::MountpathDown {
                    bucket: bucket.into(),
                    object: object.into(),
                    mountpath: down.path.display().to_string(),
                }),
                None => Err(Error::ObjectNotFound {
                    bucket: bucket.into(),
                    object: object.into(),
                }),
            },
        }
    }

    /// Opens `bucket/object` on `mp` on its disk thread, past the open-file cache.
    async fn open_uncached(
        &self,
        mp: &crate::fs::Mountpath,
        bucket: &str,
        object: &str,
        want_data: bool,
    ) -> Result<std::result::Result<Opened, OpenFail>> {
        let path = layout::object_path(&mp.path, bucket, object);
        let direct = self.cfg.direct_io;
        mp.disk
            .call(move || open_blocking(&path, direct, want_data, None))
            .await
            .map_err(|e| Error::io(format!("{bucket}/{object}: open"), e))
    }

    /// Compares a whole object read from the disk with its stored checksum; a mismatch
    /// moves the file aside.
    fn check_whole(
        &self,
        bucket: &str,
        object: &str,
        mp: &crate::fs::Mountpath,
        o: &Opened,
        data: &[u8],
    ) -> Result<()> {
        let meta = &o.meta;
        let Some(mut sum) = Checksummer::new(&meta.cksum_type) else {
            return Ok(());
        };
        if matches!(sum, Checksummer::None) {
            return Ok(());
        }
        sum.update(data);
        let actual = sum.finish();
        if actual == meta.cksum_value {
            return Ok(());
        }
        tracing::error!(%bucket, %object, mountpath = %mp.path.display(), expected = %meta.cksum_value, %actual, "object corrupted on disk (checksum mismatch on read)");
        let why = format!(
            "{} checksum {actual}, stored {}",
            meta.cksum_type, meta.cksum_value
        );
        self.damaged(mp, bucket, object, o.id, why);
        Err(Error::Corrupted {
            bucket: bucket.into(),
            object: object.into(),
            kind: meta.cksum_type.clone(),
            expected: meta.cksum_value.clone(),
            actual,
        })
    }

    pub(super) fn reader(
        &self,
        o: Opened,
        mp: &crate::fs::Mountpath,
        from_cache: bool,
        direct: bool,
        bucket: &str,
        object: &str,
    ) -> ObjectReader {
        let pool = self.pools.for_size(Some(o.meta.size)).clone();
        ObjectReader {
            inline: o.data,
            info: ObjectInfo {
                meta: o.meta,
                atime_ns: o.atime_ns,
                mtime_ns: o.mtime_ns,
                mountpath: mp.path.clone(),
            },
            file: o.file,
            disk: mp.disk.clone(),
            read_bytes: mp.read_bytes.clone(),
            cache_read_bytes: mp.cache_read_bytes.clone(),
            inline_cached: from_cache,
            pool,
            buffer_wait: self.cfg.buffer_wait,
            direct,
            try_cache: self.cfg.inline_cache_hits && !direct,
            bucket: bucket.to_string(),
            object: object.to_string(),
            id: o.id,
            quarantine: self.quarantine.clone(),
            validate_cold: self.cfg.validate_cold_get,
        }
    }

    /// Removes `bucket/object` (from every mountpath that has a copy).
    pub async fn delete(&self, bucket: &str, object: &str) -> Result<()> {
        self.require_bucket(bucket)?;
        validate_object(object)?;
        if self.remove_copies(bucket, object, None).await? {
            Ok(())
        } else {
            Err(Error::ObjectNotFound {
                bucket: bucket.into(),
                object: object.into(),
            })
        }
    }

    /// Unlinks the object on its HRW mountpath and on any other readable one (a copy
    /// not yet resilvered), only where it is still at `version` when one is given.
    /// Each unlink runs on its mountpath's metadata thread, where that mountpath's
    /// commits run too, so no PUT lands between the check and the unlink. Returns
    /// whether anything was removed.
    pub(super) async fn remove_copies(
        &self,
        bucket: &str,
        object: &str,
        version: Option<u64>,
    ) -> Result<bool> {
        let (key, hrw) = self.place(bucket, object)?;
        let set = self.mountpaths.current();
        let others = set.readable().filter(|m| m.path != hrw.path).cloned();
        let mut removed = false;
        for mp in std::iter::once(hrw.clone()).chain(others) {
            let path = layout::object_path(&mp.path, bucket, object);
            let objects_dir = layout::objects_dir(&mp.path, bucket);
            let res = mp
                .disk
                .call(move || remove_one(&path, &objects_dir, version))
                .await;
            match res {
                Ok(gone) => removed |= gone,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {}
                Err(e) => {
                    self.meta_cache.forget(key);
                    return Err(Error::io(format!("{bucket}/{object}: delete"), e));
                }
            }
        }
        self.meta_cache.forget(key);
        Ok(removed)
    }
}

impl ObjectStore {
    /// Unlinks the object on one mountpath if it is still at `version`.
    pub(super) async fn remove_at(
        &self,
        mp: &crate::fs::Mountpath,
        bucket: &str,
        object: &str,
        version: u64,
    ) -> Result<bool> {
        let path = layout::object_path(&mp.path, bucket, object);
        let objects_dir = layout::objects_dir(&mp.path, bucket);
        match mp
            .disk
            .call(move || remove_one(&path, &objects_dir, Some(version)))
            .await
        {
            Ok(gone) => Ok(gone),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {
                Ok(false)
            }
            Err(e) => Err(Error::io(
                format!("{bucket}/{object}: remove moved copy"),
                e,
            )),
        }
    }
}

/// Unlinks one object file (if still at `version`, when given) and prunes emptied dirs.
fn remove_one(path: &Path, objects_dir: &Path, version: Option<u64>) -> io::Result<bool> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Ok(false);
    }
    if let Some(version) = version {
        let current = xattr::get(path, super::meta::XATTR)
            .ok()
            .flatten()
            .and_then(|raw| ObjectMeta::decode(&raw).ok());
        if current.is_none_or(|m| m.version != version) {
            return Ok(false);
        }
    }
    std::fs::remove_file(path)?;
    if let Some(parent) = path.parent() {
        super::put::prune_empty_dirs(parent, objects_dir);
    }
    Ok(true)
}

/// The result of a spawned read; a panicked task is an I/O error.
async fn join(read: JoinHandle<io::Result<Bytes>>) -> io::Result<Bytes> {
    match read.await {
        Ok(r) => r,
        Err(e) => Err(io::Error::other(e)),
    }
}

impl ObjectReader {
    /// Reads the whole object and compares it with its stored checksum.
    pub async fn verify(&self) -> Result<()> {
        let Some(mut hasher) = Checksummer::new(&self.info.meta.cksum_type) else {
            return Ok(());
        };
        if matches!(hasher, Checksummer::None) {
            return Ok(());
        }
        let mut pos = 0;
        let size = self.info.meta.size;
        let mut buf = self
            .pool
            .take_within(self.buffer_wait)
            .await
            .ok_or_else(|| {
                Error::Busy(format!("{}/{}", self.bucket, self.object), self.buffer_wait)
            })?;
        while pos < size {
            buf.clear();
            let (b, n) = self
                .disk
                .read_at(self.file.clone(), buf, pos)
                .await
                .map_err(|e| Error::io(format!("{}/{}: read", self.bucket, self.object), e))?;
            buf = b;
            if n == 0 {
                break;
            }
            hasher.update(&buf);
            pos += n as u64;
        }
        drop(buf);
        let actual = hasher.finish();
        if actual != self.info.meta.cksum_value {
            return Err(self.corrupted(actual));
        }
        Ok(())
    }

    /// Reads a small object whole into memory and checks it before anything is sent (a
    /// mismatch answers 500 instead of a 200 cut short); it is then served from memory.
    pub(super) async fn load_checked(&mut self) -> Result<()> {
        let size = self.info.meta.size;
        let mut data = bytes::BytesMut::with_capacity(size as usize);
        while (data.len() as u64) < size {
            let piece = join(self.spawn_read(data.len() as u64, size))
                .await
                .map_err(|e| Error::io(format!("{}/{}: read", self.bucket, self.object), e))?;
            if piece.is_empty() {
                break;
            }
            data.extend_from_slice(&piece);
        }
        if let Some(mut sum) = Checksummer::new(&self.info.meta.cksum_type) {
            if !matches!(sum, Checksummer::None) {
                sum.update(&data);
                let actual = sum.finish();
                if actual != self.info.meta.cksum_value {
                    return Err(self.corrupted(actual));
                }
            }
        }
        self.inline = Some(data.freeze());
        self.inline_cached = false; // the stream counts it as read from the disk
        Ok(())
    }

    /// Moves the file aside and says why: its data reads `actual`.
    fn corrupted(&self, actual: String) -> Error {
        {
            self.quarantine.move_later(
                &self.disk,
                Damaged {
                    mountpath: self.info.mountpath.clone(),
                    bucket: self.bucket.clone(),
                    object: self.object.clone(),
                    id: self.id,
                    reason: format!("checksum {actual} on validation"),
                },
            );
        }
        Error::Corrupted {
            bucket: self.bucket.clone(),
            object: self.object.clone(),
            kind: self.info.meta.cksum_type.clone(),
            expected: self.info.meta.cksum_value.clone(),
            actual,
        }
    }

    /// Streams `len` bytes from `start`. Chunks in the page cache are copied on the
    /// caller's thread; the others come from the disk thread, one chunk read ahead.
    pub fn stream(
        self,
        start: u64,
        len: u64,
    ) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        let end = start + len;
        if let Some(data) = &self.inline {
            let chunk = data.slice(start as usize..end as usize);
            let counter = if self.inline_cached {
                &self.cache_read_bytes
            } else {
                &self.read_bytes
            };
            counter.inc_by(chunk.len() as u64);
            let once = (!chunk.is_empty()).then_some(Ok(chunk));
            return futures_util::future::Either::Left(futures_util::stream::iter(once));
        }
        // Without the cache path, start the first disk read before the headers go out.
        let first = (!self.try_cache && start < end).then(|| self.spawn_read(start, end));
        // A whole object whose first chunk comes from the disk is checked against its
        // stored checksum as it streams; the last chunk is held back on a mismatch, so a
        // client never receives a complete body of corrupted data.
        let whole = self.validate_cold && start == 0 && len == self.info.meta.size;
        let sum: Option<Checksummer> = whole
            .then(|| Checksummer::new(&self.info.meta.cksum_type))
            .flatten()
            .filter(|c| !matches!(c, Checksummer::None));
        futures_util::future::Either::Right(futures_util::stream::unfold(
            (self, start, first, sum),
            move |(reader, pos, pending, mut sum)| async move {
                if pos >= end {
                    return None;
                }
                let (result, from_disk) = match pending {
                    Some(read) => (join(read).await, true),
                    None => match reader.read_cached(pos, end) {
                        Ok(Some(bytes)) => (Ok(bytes), false),
                        Ok(None) => (join(reader.spawn_read(pos, end)).await, true),
                        Err(e) => (Err(e), false),
                    },
                };
                let chunk = match result {
                    Ok(b) if b.is_empty() => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "{}/{}: object shorter than its metadata",
                            reader.bucket, reader.object
                        ),
                    )),
                    other => other,
                };
                match chunk {
                    Ok(bytes) => {
                        let next_pos = pos + bytes.len() as u64;
                        let counter = if from_disk {
                            &reader.read_bytes
                        } else {
                            &reader.cache_read_bytes
                        };
                        counter.inc_by(bytes.len() as u64);
                        if pos == 0 && !from_disk {
                            sum = None; // a page-cache hit: checked when it was read in
                        }
                        if let Some(c) = sum.as_mut() {
                            c.update(&bytes);
                        }
                        if next_pos >= end {
                            if let Some(c) = sum.take() {
                                let actual = c.finish();
                                if actual != reader.info.meta.cksum_value {
                                    tracing::error!(bucket = %reader.bucket, object = %reader.object, expected = %reader.info.meta.cksum_value, %actual, "object corrupted on disk (checksum mismatch on read)");
                                    reader.quarantine.move_later(
                                        &reader.disk,
                                        Damaged {
                                            mountpath: reader.info.mountpath.clone(),
                                            bucket: reader.bucket.clone(),
                                            object: reader.object.clone(),
                                            id: reader.id,
                                            reason: format!("checksum {actual} on read"),
                                        },
                                    );
                                    let e = io::Error::new(
                                        io::ErrorKind::InvalidData,
                                        format!(
                                            "{}/{}: corrupted on disk",
                                            reader.bucket, reader.object
                                        ),
                                    );
                                    return Some((Err(e), (reader, end, None, None)));
                                }
                            }
                        }
                        // Read ahead only when the data comes from the disk.
                        let next =
                            (from_disk && next_pos < end).then(|| reader.spawn_read(next_pos, end));
                        Some((Ok(bytes), (reader, next_pos, next, sum)))
                    }
                    // An error ends the stream: hyper aborts the response mid-body.
                    Err(e) => Some((Err(e), (reader, end, None, None))),
                }
            },
        ))
    }

    /// The next chunk from the page cache on this thread, or `None` if any of it would
    /// have to come from the disk.
    fn read_cached(&self, pos: u64, end: u64) -> io::Result<Option<Bytes>> {
        if !self.try_cache {
            return Ok(None);
        }
        let want = (end - pos).min(self.pool.size() as u64) as usize;
        let buf = if want >= SMALL_READ {
            // Out of budget: the disk-thread path waits for a buffer instead.
            self.pool.try_take()
        } else {
            Some(IoBuf::with_capacity(want))
        };
        let Some(mut buf) = buf else {
            return Ok(None);
        };
        match nowait::read_at(&self.file, &mut buf, pos, want)? {
            Cached::Ready(n) if n > 0 => Ok(Some(BufferPool::freeze(buf))),
            _ => Ok(None),
        }
    }

    fn spawn_read(&self, pos: u64, end: u64) -> JoinHandle<io::Result<Bytes>> {
        let want = (end - pos).min(self.pool.size() as u64) as usize;
        // O_DIRECT reads whole aligned blocks: start at the block holding `pos`.
        let skip = if self.direct {
            (pos % ALIGN as u64) as usize
        } else {
            0
        };
        let need = skip + want;
        let (disk, file, pool) = (self.disk.clone(), self.file.clone(), self.pool.clone());
        tokio::spawn(async move {
            // Chunk-sized reads use a recycled buffer from the budget; others an exact one.
            // No deadline here: the response has begun, and failing it mid-body is worse
            // than waiting (a client that stops reading is cut off by the send timeout).
            let buf = if need <= pool.size() && want >= SMALL_READ {
                pool.take().await
            } else {
                IoBuf::with_capacity(need)
            };
            let (mut buf, _) = disk.read_at(file, buf, pos - skip as u64).await?;
            if buf.len() <= skip {
                buf.clear();
            } else if skip > 0 {
                buf.consume_front(skip);
            }
            buf.truncate(want);
            Ok(BufferPool::freeze(buf))
        })
    }
}
