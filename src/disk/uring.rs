//! io_uring engine: the worker thread owns one ring, keeps up to `depth` operations in
//! flight, and replies to each caller when its completion arrives.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types, IoUring};
use tokio::sync::OwnedSemaphorePermit;

use super::op::DiskOp;

type Rx = crossbeam_channel::Receiver<(DiskOp, OwnedSemaphorePermit)>;

/// A ring plus the operations it has in flight, indexed by `user_data`.
pub(super) struct Ring {
    ring: IoUring,
    slots: Vec<Option<(DiskOp, OwnedSemaphorePermit)>>,
    free: Vec<usize>,
    /// Bytes already written, per slot, for writes the kernel completed short.
    written: Vec<usize>,
}

impl Ring {
    /// Creates the ring; fails where the kernel or a seccomp profile forbids io_uring.
    pub(super) fn new(depth: u32) -> io::Result<Ring> {
        let ring = IoUring::new(depth.next_power_of_two())?;
        let n = depth as usize;
        Ok(Ring {
            ring,
            slots: (0..n).map(|_| None).collect(),
            free: (0..n).rev().collect(),
            written: vec![0; n],
        })
    }

    /// Runs until every sender is gone and nothing is in flight.
    pub(super) fn run(mut self, rx: Rx) {
        let mut open = true;
        loop {
            let in_flight = self.slots.len() - self.free.len();
            if in_flight == 0 {
                if !open {
                    return;
                }
                match rx.recv() {
                    Ok(op) => self.start(op),
                    Err(_) => return,
                }
            }
            while open && !self.free.is_empty() {
                match rx.try_recv() {
                    Ok(op) => self.start(op),
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => open = false,
                }
            }
            if self.slots.len() > self.free.len() {
                self.submit_and_reap();
            }
        }
    }

    /// Runs metadata calls inline; queues data operations on the ring.
    fn start(&mut self, (op, permit): (DiskOp, OwnedSemaphorePermit)) {
        if let DiskOp::Call(f) = op {
            f();
            return;
        }
        // The semaphore admits at most `depth` operations, so a slot is always free.
        let Some(slot) = self.free.pop() else {
            unreachable_slot(op);
            return;
        };
        self.written[slot] = 0;
        self.slots[slot] = Some((op, permit));
        self.push(slot);
    }

    /// Builds and pushes the SQE for the operation in `slot`.
    fn push(&mut self, slot: usize) {
        let Some((op, _)) = self.slots[slot].as_mut() else {
            return;
        };
        let done = self.written[slot];
        let sqe: squeue::Entry = match op {
            DiskOp::Read {
                file, buf, offset, ..
            } => {
                let (ptr, spare) = buf.spare();
                let len = u32::try_from(spare).unwrap_or(u32::MAX);
                opcode::Read::new(types::Fd(file.as_raw_fd()), ptr, len)
                    .offset(*offset)
                    .build()
            }
            DiskOp::Write {
                file, buf, offset, ..
            } => {
                let rest = &buf[done..];
                let len = u32::try_from(rest.len()).unwrap_or(u32::MAX);
                opcode::Write::new(types::Fd(file.as_raw_fd()), rest.as_ptr(), len)
                    .offset(*offset + done as u64)
                    .build()
            }
            DiskOp::Fsync { file, .. } => opcode::Fsync::new(types::Fd(file.as_raw_fd())).build(),
            DiskOp::Call(_) => return,
        };
        let sqe = sqe.user_data(slot as u64);
        loop {
            // SAFETY: the buffer and file the SQE points at are owned by `self.slots[slot]`,
            // which is neither moved nor dropped until this slot's CQE has been reaped.
            let pushed = unsafe { self.ring.submission().push(&sqe) };
            if pushed.is_ok() {
                return;
            }
            // Submission queue full: hand what is queued to the kernel and retry.
            match self.ring.submit() {
                Ok(_) => {}
                Err(e) if is_transient(&e) => self.back_off(),
                // This slot's SQE is not in the ring: failing it alone is safe.
                Err(e) => {
                    self.finish(slot, Err(e));
                    return;
                }
            }
        }
    }

    /// After EAGAIN/EBUSY (the kernel is short of memory, or completions must be reaped
    /// first): reap what has completed, or wait a moment when nothing has.
    fn back_off(&mut self) {
        if self.ring.completion().is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        self.reap();
    }

    fn submit_and_reap(&mut self) {
        match self.ring.submit_and_wait(1) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) if is_transient(&e) => self.back_off(),
            Err(e) => {
                // Never fail and free an in-flight slot here: the kernel may already hold
                // its SQE and still write into its buffer. Completions arrive when the
                // ring recovers; until then the callers wait (and their requests time out).
                tracing::error!(error = %e, in_flight = self.slots.len() - self.free.len(), "io_uring submit failed; retrying");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        self.reap();
    }

    /// Handles every completion the ring holds.
    fn reap(&mut self) {
        let done: Vec<(usize, i32)> = self
            .ring
            .completion()
            .map(|cqe| (cqe.user_data() as usize, cqe.result()))
            .collect();
        for (slot, res) in done {
            if res < 0 {
                self.finish(slot, Err(io::Error::from_raw_os_error(-res)));
            } else {
                self.complete(slot, res as usize);
            }
        }
    }

    /// Handles a successful completion of `n` bytes; resubmits short writes.
    fn complete(&mut self, slot: usize, n: usize) {
        if let Some((DiskOp::Write { buf, .. }, _)) = self.slots[slot].as_ref() {
            let total = self.written[slot] + n;
            if n > 0 && total < buf.len() {
                self.written[slot] = total;
                self.push(slot);
                return;
            }
            if total < buf.len() {
                self.finish(
                    slot,
                    Err(io::Error::new(io::ErrorKind::WriteZero, "short write")),
                );
                return;
            }
        }
        self.finish(slot, Ok(n));
    }

    /// Replies to the caller and frees the slot.
    fn finish(&mut self, slot: usize, res: io::Result<usize>) {
        let Some((op, _permit)) = self.slots[slot].take() else {
            return;
        };
        self.free.push(slot);
        match op {
            DiskOp::Read { mut buf, reply, .. } => {
                if let Ok(n) = res {
                    // SAFETY: the kernel initialised `n` bytes of the spare capacity.
                    unsafe { buf.advance(n) };
                }
                let _ = reply.send((buf, res));
            }
            DiskOp::Write { buf, reply, .. } => {
                let _ = reply.send((buf, res.map(|_| ())));
            }
            DiskOp::Fsync { reply, .. } => {
                let _ = reply.send(res.map(|_| ()));
            }
            DiskOp::Call(_) => {}
        }
    }
}

/// Errors after which the same submission can simply be tried again.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN)
    )
}

fn unreachable_slot(op: DiskOp) {
    let err = || io::Error::other("disk worker has no free slot");
    match op {
        DiskOp::Read { buf, reply, .. } => drop(reply.send((buf, Err(err())))),
        DiskOp::Write { buf, reply, .. } => drop(reply.send((buf, Err(err())))),
        DiskOp::Fsync { reply, .. } => drop(reply.send(Err(err()))),
        DiskOp::Call(f) => f(),
    }
}
