//! GET and HEAD: opening an object. A GET opens the file and reads its metadata in one call on the
//! disk worker, then streams chunks read by the worker, one read ahead of the socket.

use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::checksum::Checksummer;
use super::meta::{ObjectInfo, ObjectMeta, XATTR_C, XATTR_GUESS};
use super::meta_cache::{Checked, Entry, FileStamp, KeptContent, MetaCache};
use super::quarantine::{file_id, Damaged, FileId};
use super::reader::ObjectReader;
use super::{unix_ns, Error, ObjectStore, Result};
use crate::disk::nowait::{self, Cached};
use crate::disk::IoBuf;
use crate::fs::layout;

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
        let (key, mp) = self.place_checked(bucket, object)?;
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
                    // Forget the descriptor kept for it: the next read checks again. A
                    // mirror copy on another mountpath serves instead, if there is one.
                    self.meta_cache.forget(key);
                    return self
                        .open_misplaced(bucket, object, &mp, want_data)
                        .await
                        .map_err(|_| e);
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
                    return self
                        .open_misplaced(bucket, object, &mp, want_data)
                        .await
                        .map_err(|_| e);
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
                    let mut reader = self.reader(o, mp, false, direct, bucket, object);
                    reader.off_main = true;
                    return Ok(reader);
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
            off_main: false,
        }
    }
}
