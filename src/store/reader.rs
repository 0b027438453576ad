//! An open object: streaming it (chunks read by the disk worker, one read ahead of the
//! socket), checking it whole against its stored checksum.

use std::fs::File;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use prometheus::IntCounter;
use tokio::task::JoinHandle;

use super::checksum::Checksummer;
use super::meta::ObjectInfo;
use super::quarantine::{Damaged, FileId, Quarantine};
use super::{Error, Result};
use crate::disk::nowait::{self, Cached};
use crate::disk::{BufferPool, DiskHandle, IoBuf, ALIGN};

/// Reads below this size use an exact-size buffer instead of a pooled chunk.
const SMALL_READ: usize = 64 << 10;

/// An open object, ready to stream.
pub struct ObjectReader {
    /// Metadata and file times.
    pub info: ObjectInfo,
    /// The whole content, when the object was small enough to read at open.
    pub(super) inline: Option<Bytes>,
    pub(super) file: Arc<File>,
    pub(super) disk: DiskHandle,
    pub(super) read_bytes: IntCounter,
    pub(super) cache_read_bytes: IntCounter,
    /// Whether `inline` came from the page cache (true) or a disk thread.
    pub(super) inline_cached: bool,
    pub(super) pool: Arc<BufferPool>,
    /// How long a read waits for a buffer.
    pub(super) buffer_wait: std::time::Duration,
    pub(super) direct: bool,
    /// Read chunks on the caller's thread when the page cache holds them.
    pub(super) try_cache: bool,
    pub(super) bucket: String,
    pub(super) object: String,
    /// The file this reader reads, and where it goes if it turns out damaged.
    pub(super) id: FileId,
    pub(super) quarantine: Quarantine,
    /// Check the whole object against its checksum when it comes from the disk.
    pub(super) validate_cold: bool,
    /// Read from a mountpath other than the object's HRW one (its main copy missing or
    /// damaged, or not moved yet): a mirrored object then lacks a copy.
    pub off_main: bool,
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
