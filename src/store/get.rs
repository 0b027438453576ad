//! GET, HEAD and DELETE. A GET opens the file and reads its metadata in one call on the
//! disk worker, then streams chunks read by the worker, one read ahead of the socket.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use prometheus::IntCounter;
use tokio::task::JoinHandle;

use super::checksum::Checksummer;
use super::meta::{ObjectInfo, ObjectMeta, XATTR};
use super::{unix_ns, Error, ObjectStore, Result};
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
    pool: Arc<BufferPool>,
    direct: bool,
    bucket: String,
    object: String,
}

enum OpenFail {
    Missing,
    BadMeta(String),
}

/// Objects up to this size are read in the same call that opens them (one hop to the disk
/// thread instead of two, no read-ahead task): what keeps small GETs cheap.
const INLINE_READ: u64 = 64 << 10;

/// An opened object: file, metadata, times, and the whole content when it is small.
type Opened = (File, ObjectMeta, i64, i64, Option<Bytes>);

fn open_object(path: &Path, direct: bool) -> io::Result<std::result::Result<Opened, OpenFail>> {
    use xattr::FileExt as _;
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
    let stat = file.metadata()?;
    if !stat.is_file() {
        return Ok(Err(OpenFail::Missing));
    }
    let meta = match file.get_xattr(XATTR)? {
        Some(raw) => match ObjectMeta::decode(&raw) {
            Ok(m) => m,
            Err(e) => return Ok(Err(OpenFail::BadMeta(e))),
        },
        None => return Ok(Err(OpenFail::BadMeta("no metadata xattr".into()))),
    };
    if meta.size != stat.len() {
        let why = format!("metadata says {} bytes, file has {}", meta.size, stat.len());
        return Ok(Err(OpenFail::BadMeta(why)));
    }
    let inline = if !direct && meta.size <= INLINE_READ {
        use std::os::unix::fs::FileExt as _;
        let mut data = vec![0u8; meta.size as usize];
        file.read_exact_at(&mut data, 0)?;
        Some(Bytes::from(data))
    } else {
        None
    };
    Ok(Ok((
        file,
        meta,
        unix_ns(stat.accessed()),
        unix_ns(stat.modified()),
        inline,
    )))
}

impl ObjectStore {
    /// Opens `ais://bucket/object` for reading.
    pub async fn open_object(&self, bucket: &str, object: &str) -> Result<ObjectReader> {
        self.require_bucket(bucket)?;
        validate_object(object)?;
        let mp = self.mountpaths.for_object(bucket, object);
        let path = layout::object_path(&mp.path, bucket, object);
        let direct = self.cfg.direct_io;
        let opened = mp
            .disk
            .call(move || open_object(&path, direct))
            .await
            .map_err(|e| Error::io(format!("ais://{bucket}/{object}: open"), e))?;
        match opened {
            Ok((file, meta, atime_ns, mtime_ns, inline)) => Ok(ObjectReader {
                inline,
                info: ObjectInfo {
                    meta,
                    atime_ns,
                    mtime_ns,
                    mountpath: mp.path.clone(),
                },
                file: Arc::new(file),
                disk: mp.disk.clone(),
                read_bytes: mp.read_bytes.clone(),
                pool: self.pool.clone(),
                direct: self.cfg.direct_io,
                bucket: bucket.to_string(),
                object: object.to_string(),
            }),
            Err(OpenFail::Missing) => Err(Error::ObjectNotFound {
                bucket: bucket.into(),
                object: object.into(),
            }),
            Err(OpenFail::BadMeta(reason)) => Err(Error::BadMeta {
                bucket: bucket.into(),
                object: object.into(),
                reason,
            }),
        }
    }

    /// Metadata of `ais://bucket/object`.
    pub async fn head(&self, bucket: &str, object: &str) -> Result<ObjectInfo> {
        Ok(self.open_object(bucket, object).await?.info)
    }

    /// Removes `ais://bucket/object`.
    pub async fn delete(&self, bucket: &str, object: &str) -> Result<()> {
        self.require_bucket(bucket)?;
        validate_object(object)?;
        let mp = self.mountpaths.for_object(bucket, object);
        let path = layout::object_path(&mp.path, bucket, object);
        let res = mp
            .disk
            .call(move || {
                if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                    return Err(io::Error::from_raw_os_error(libc::ENOENT));
                }
                std::fs::remove_file(&path)
            })
            .await;
        match res {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {
                Err(Error::ObjectNotFound {
                    bucket: bucket.into(),
                    object: object.into(),
                })
            }
            Err(e) => Err(Error::io(format!("ais://{bucket}/{object}: delete"), e)),
        }
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
        let mut buf = self.pool.take();
        while pos < size {
            buf.clear();
            let (b, n) = self
                .disk
                .read_at(self.file.clone(), buf, pos)
                .await
                .map_err(|e| {
                    Error::io(format!("ais://{}/{}: read", self.bucket, self.object), e)
                })?;
            buf = b;
            if n == 0 {
                break;
            }
            hasher.update(&buf);
            pos += n as u64;
        }
        self.pool.give(buf);
        let actual = hasher.finish();
        if actual != self.info.meta.cksum_value {
            return Err(Error::Corrupted {
                bucket: self.bucket.clone(),
                object: self.object.clone(),
                kind: self.info.meta.cksum_type.clone(),
                expected: self.info.meta.cksum_value.clone(),
                actual,
            });
        }
        Ok(())
    }

    /// Streams `len` bytes from `start`, reading one chunk ahead.
    pub fn stream(
        self,
        start: u64,
        len: u64,
    ) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        let end = start + len;
        if let Some(data) = &self.inline {
            let chunk = data.slice(start as usize..end as usize);
            self.read_bytes.inc_by(chunk.len() as u64);
            let once = (!chunk.is_empty()).then_some(Ok(chunk));
            return futures_util::future::Either::Left(futures_util::stream::iter(once));
        }
        let first = (start < end).then(|| self.spawn_read(start, end));
        futures_util::future::Either::Right(futures_util::stream::unfold(
            (self, start, first),
            move |(reader, pos, pending)| async move {
                let pending = pending?;
                let result = match pending.await {
                    Ok(r) => r,
                    Err(e) => Err(io::Error::other(e)),
                };
                let chunk = match result {
                    Ok(b) if b.is_empty() => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "ais://{}/{}: object shorter than its metadata",
                            reader.bucket, reader.object
                        ),
                    )),
                    other => other,
                };
                match chunk {
                    Ok(bytes) => {
                        let next_pos = pos + bytes.len() as u64;
                        reader.read_bytes.inc_by(bytes.len() as u64);
                        let next = (next_pos < end).then(|| reader.spawn_read(next_pos, end));
                        Some((Ok(bytes), (reader, next_pos, next)))
                    }
                    // An error ends the stream: hyper aborts the response mid-body.
                    Err(e) => Some((Err(e), (reader, end, None))),
                }
            },
        ))
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
        // Chunk-sized reads use a recycled buffer; others an exact one.
        let buf = if need <= self.pool.size() && want >= SMALL_READ {
            self.pool.take()
        } else {
            IoBuf::with_capacity(need)
        };
        let (disk, file, pool) = (self.disk.clone(), self.file.clone(), self.pool.clone());
        tokio::spawn(async move {
            let (mut buf, _) = disk.read_at(file, buf, pos - skip as u64).await?;
            if buf.len() <= skip {
                buf.clear();
            } else if skip > 0 {
                buf.consume_front(skip);
            }
            buf.truncate(want);
            Ok(if buf.capacity() == pool.size() {
                pool.freeze(buf)
            } else {
                Bytes::from_owner(buf)
            })
        })
    }
}
