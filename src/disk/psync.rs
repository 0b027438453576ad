//! Positional-I/O engine: the worker thread runs each operation as a syscall, in order.

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
            let start = buf.len();
            let want = buf.capacity() - start;
            buf.resize(start + want, 0);
            let res = file.read_at(&mut buf[start..], offset);
            buf.truncate(start + *res.as_ref().unwrap_or(&0));
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
