//! The operations a disk worker executes. Each owns its buffer and file, so a caller
//! that goes away mid-operation cannot leave the kernel touching freed memory.

use std::fs::File;
use std::io;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::IoBuf;

/// Reply carrying the buffer back with the result.
pub type BufReply<T> = oneshot::Sender<(IoBuf, io::Result<T>)>;

/// One unit of work for a disk worker.
pub enum DiskOp {
    /// Read into the spare capacity of `buf` at `offset`; replies with bytes read.
    Read {
        /// File to read.
        file: Arc<File>,
        /// Destination; bytes are appended after `buf.len()`.
        buf: IoBuf,
        /// File offset.
        offset: u64,
        /// Completion.
        reply: BufReply<usize>,
    },
    /// Write all of `buf` at `offset`.
    Write {
        /// File to write.
        file: Arc<File>,
        /// Source bytes.
        buf: IoBuf,
        /// File offset.
        offset: u64,
        /// Completion.
        reply: BufReply<()>,
    },
    /// fsync(2).
    Fsync {
        /// File to flush.
        file: Arc<File>,
        /// Completion.
        reply: oneshot::Sender<io::Result<()>>,
    },
    /// Blocking metadata work run on the worker thread; it replies by itself.
    Call(Box<dyn FnOnce() + Send>),
}
