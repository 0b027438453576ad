//! Per-mountpath disk workers: one OS thread per mountpath owns the data path, fed over a
//! bounded channel.
//!
//! Async code calls [`DiskHandle`] methods; each builds a [`DiskOp`] that owns its buffer
//! and file, sends it to the mountpath's worker thread and awaits the reply. Data I/O
//! (read, write, fsync) goes through one io_uring ring per worker, or through positional
//! syscalls when no ring can be had. Metadata work (open, xattr, rename) runs as closures
//! on a second, per-mountpath thread, so a blocking `open` or `rename` never stalls the
//! ring's submissions and completions; it is ordered per disk (PUTs of one name commit in
//! order). This module knows files and buffers, never objects or HTTP.

mod faults;
mod group_flush;
mod iobuf;
pub mod nowait;
mod op;
mod pool;
mod psync;
mod uring;

use std::fmt;
use std::fs::File;
use std::io;
use std::sync::Arc;

use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

pub use faults::{is_fault, Faults};
pub use group_flush::{DirFlushes, GroupFlush};
pub use iobuf::{IoBuf, ALIGN};
pub use op::DiskOp;
pub use pool::{Budget, BufferPool};

/// Which I/O engine the user asked for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// io_uring when the kernel allows it, positional I/O otherwise.
    Auto,
    /// io_uring or fail at start-up.
    Uring,
    /// Positional read/write syscalls on the worker thread.
    Psync,
}

/// The engine a worker actually runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Engine {
    /// One io_uring ring owned by the worker thread.
    #[serde(rename = "io_uring")]
    Uring,
    /// pread/pwrite/fsync syscalls.
    #[serde(rename = "psync")]
    Psync,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Uring => "io_uring",
            Engine::Psync => "psync",
        })
    }
}

/// Settings of one worker.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// Engine requested.
    pub engine: EngineChoice,
    /// Operations queued or in flight per disk before callers wait (also the ring size).
    pub queue_depth: u32,
}

/// Cheap, cloneable handle to one mountpath's worker.
#[derive(Clone)]
pub struct DiskHandle {
    tx: crossbeam_channel::Sender<(DiskOp, OwnedSemaphorePermit)>,
    slots: Arc<Semaphore>,
    meta_tx: crossbeam_channel::Sender<(DiskOp, OwnedSemaphorePermit)>,
    meta_slots: Arc<Semaphore>,
    depth: u32,
    engine: Engine,
    faults: Arc<Faults>,
}

impl fmt::Debug for DiskHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskHandle")
            .field("engine", &self.engine)
            .field("queued", &self.queued())
            .finish()
    }
}

impl DiskHandle {
    /// Starts the worker thread for the disk named `name` (used in the thread name).
    /// Fails if `EngineChoice::Uring` was asked for and no ring can be created.
    pub fn start(name: &str, cfg: WorkerConfig) -> io::Result<DiskHandle> {
        let depth = cfg.queue_depth.max(2);
        let ring = match cfg.engine {
            EngineChoice::Psync => None,
            EngineChoice::Auto => uring::Ring::new(depth).ok(),
            EngineChoice::Uring => Some(uring::Ring::new(depth).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("io_uring unavailable ({e}) and --io-engine=uring"),
                )
            })?),
        };
        let engine = if ring.is_some() {
            Engine::Uring
        } else {
            Engine::Psync
        };
        // The semaphore bounds the channel, so a send never blocks a tokio thread.
        let (tx, rx) = crossbeam_channel::bounded(depth as usize);
        std::thread::Builder::new()
            .name(format!("disk-{name}"))
            .spawn(move || match ring {
                Some(ring) => ring.run(rx),
                None => psync::run(rx),
            })?;
        let (meta_tx, meta_rx) = crossbeam_channel::bounded(depth as usize);
        std::thread::Builder::new()
            .name(format!("meta-{name}"))
            .spawn(move || psync::run(meta_rx))?;
        Ok(DiskHandle {
            tx,
            slots: Arc::new(Semaphore::new(depth as usize)),
            meta_tx,
            meta_slots: Arc::new(Semaphore::new(depth as usize)),
            depth,
            engine,
            faults: Arc::default(),
        })
    }

    /// The engine this worker runs.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Fault-class errors this disk's operations met.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// Passes a result through, noting a fault-class error.
    fn note<T>(&self, res: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &res {
            self.faults.note(e);
        }
        res
    }

    /// Operations queued or in flight right now.
    pub fn queued(&self) -> usize {
        self.depth as usize - self.slots.available_permits()
    }

    async fn submit(&self, op: DiskOp) -> io::Result<()> {
        let (tx, slots) = match op {
            DiskOp::Call(_) => (&self.meta_tx, &self.meta_slots),
            _ => (&self.tx, &self.slots),
        };
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| worker_gone())?;
        tx.try_send((op, permit)).map_err(|_| worker_gone())
    }

    /// Queues the operation `make` builds around a reply channel and waits for the reply.
    async fn ask<R>(&self, make: impl FnOnce(oneshot::Sender<R>) -> DiskOp) -> io::Result<R> {
        let (reply, rx) = oneshot::channel();
        self.submit(make(reply)).await?;
        rx.await.map_err(|_| worker_gone())
    }

    /// Reads up to `buf.capacity() - buf.len()` bytes at `offset`, appending to `buf`.
    /// Returns the buffer and how many bytes were read (0 at end of file).
    pub async fn read_at(
        &self,
        file: Arc<File>,
        buf: IoBuf,
        offset: u64,
    ) -> io::Result<(IoBuf, usize)> {
        let (buf, res) = self
            .ask(|reply| DiskOp::Read {
                file,
                buf,
                offset,
                reply,
            })
            .await?;
        self.note(res).map(|n| (buf, n))
    }

    /// Writes all of `buf` at `offset`; the buffer comes back for reuse.
    pub async fn write_at(&self, file: Arc<File>, buf: IoBuf, offset: u64) -> io::Result<IoBuf> {
        self.start_write(file, buf, offset).await?.await
    }

    /// Starts a write and returns the receiver of its completion, so the caller can
    /// fill the next buffer while this one is written.
    pub async fn start_write(
        &self,
        file: Arc<File>,
        buf: IoBuf,
        offset: u64,
    ) -> io::Result<PendingWrite> {
        let (reply, rx) = oneshot::channel();
        self.submit(DiskOp::Write {
            file,
            buf,
            offset,
            reply,
        })
        .await?;
        Ok(PendingWrite(rx, self.faults.clone()))
    }

    /// Flushes a file's data and metadata to stable storage.
    pub async fn fsync(&self, file: Arc<File>) -> io::Result<()> {
        let res = self.ask(|reply| DiskOp::Fsync { file, reply }).await?;
        self.note(res)
    }

    /// Runs a blocking flush (`fdatasync`, `fsync` of a directory, `syncfs`) on a thread of
    /// its own instead of this disk's threads, so that flushes of many requests run
    /// concurrently and the filesystem can share its log writes and device flushes among
    /// them (serialized, each would wait for the one before). Faults are counted as for
    /// the disk's own operations.
    pub async fn flush_concurrently<F>(&self, f: F) -> io::Result<()>
    where
        F: FnOnce() -> io::Result<()> + Send + 'static,
    {
        let res = tokio::task::spawn_blocking(f)
            .await
            .unwrap_or_else(|e| Err(io::Error::other(format!("flush thread: {e}"))));
        self.note(res)
    }

    /// Runs blocking metadata work (open, xattr, rename, unlink) on the disk's metadata thread.
    pub async fn call<T, F>(&self, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> io::Result<T> + Send + 'static,
    {
        let res = self
            .ask(|reply| {
                DiskOp::Call(Box::new(move || {
                    let _ = reply.send(f());
                }))
            })
            .await?;
        self.note(res)
    }

    /// Queues metadata work without waiting for it; runs it inline if the queue is full
    /// or gone (used from `Drop`, where nothing can be awaited).
    pub fn call_detached(&self, f: impl FnOnce() + Send + 'static) {
        match self.meta_slots.clone().try_acquire_owned() {
            Ok(permit) => {
                if let Err(crossbeam_channel::TrySendError::Full((DiskOp::Call(f), _)))
                | Err(crossbeam_channel::TrySendError::Disconnected((DiskOp::Call(f), _))) =
                    self.meta_tx.try_send((DiskOp::Call(Box::new(f)), permit))
                {
                    f();
                }
            }
            Err(_) => f(),
        }
    }
}

/// A write in flight; await [`PendingWrite::wait`] to get the buffer back.
pub struct PendingWrite(oneshot::Receiver<(IoBuf, io::Result<()>)>, Arc<Faults>);

impl PendingWrite {
    /// Waits for the write to finish and returns its buffer.
    pub async fn wait(self) -> io::Result<IoBuf> {
        self.await
    }
}

/// Resolves when the write is done (poll it no further after that).
impl std::future::Future for PendingWrite {
    type Output = io::Result<IoBuf>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|r| {
            let (buf, res) = r.map_err(|_| worker_gone())?;
            if let Err(e) = &res {
                self.1.note(e);
            }
            res.map(|()| buf)
        })
    }
}

fn worker_gone() -> io::Error {
    io::Error::other("disk worker stopped")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn roundtrip(engine: EngineChoice) {
        let disk = DiskHandle::start(
            "t",
            WorkerConfig {
                engine,
                queue_depth: 8,
            },
        )
        .unwrap();
        if engine == EngineChoice::Uring {
            assert_eq!(disk.engine(), Engine::Uring);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = Arc::new(
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .read(true)
                .write(true)
                .open(&path)
                .unwrap(),
        );
        let mut buf = IoBuf::with_capacity(1 << 20);
        let pattern: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
        buf.extend_from_slice(&pattern);
        let buf = disk.write_at(file.clone(), buf, 4096).await.unwrap();
        disk.fsync(file.clone()).await.unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096 + (1 << 20));
        let (got, n) = disk
            .read_at(file.clone(), IoBuf::with_capacity(1 << 20), 4096)
            .await
            .unwrap();
        assert_eq!(n, 1 << 20);
        assert_eq!(&got[..], &buf[..]);
        let (_, n) = disk
            .read_at(file.clone(), IoBuf::with_capacity(16), 1 << 30)
            .await
            .unwrap();
        assert_eq!(n, 0, "read past the end returns 0");
        let len = disk.call(move || Ok(file.metadata()?.len())).await.unwrap();
        assert_eq!(len, 4096 + (1 << 20));
    }

    #[tokio::test]
    async fn uring_roundtrip() {
        roundtrip(EngineChoice::Uring).await;
    }

    #[tokio::test]
    async fn psync_roundtrip() {
        roundtrip(EngineChoice::Psync).await;
    }
}
