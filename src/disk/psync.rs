//! Positional-I/O engine: the worker thread runs each operation as a syscall, in order.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use tokio::sync::OwnedSemaphorePermit;

use super::op::DiskOp;

/// Runs operations until every sender is gone.
pub(super) fn run(rx: crossbeam_channel::Receiver<(DiskOp, OwnedSemaphorePermit)>) {
    for (op, _permit) in rx {
        execute(op);
    }
}

fn execute(op: DiskOp) {
    match op {
        DiskOp::Read {
            file,
            mut buf,
            offset,
            reply,
        } => {
            let (ptr, spare) = buf.spare();
            let off = libc::off_t::try_from(offset).unwrap_or(libc::off_t::MAX);
            // SAFETY: `ptr` points at `spare` writable bytes owned by `buf`, which outlives the call.
            let n = unsafe { libc::pread(file.as_raw_fd(), ptr.cast(), spare, off) };
            let res = if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                // SAFETY: pread initialised `n` bytes of the spare capacity.
                unsafe { buf.advance(n as usize) };
                Ok(n as usize)
            };
            let _ = reply.send((buf, res));
        }
        DiskOp::Write {
            file,
            buf,
            offset,
            reply,
        } => {
            let res = file.write_all_at(&buf, offset);
            let _ = reply.send((buf, res));
        }
        DiskOp::Fsync { file, reply } => {
            let _ = reply.send(file.sync_all());
        }
        DiskOp::Call(f) => f(),
    }
}
