//! Reusable I/O buffers under a memory budget.
//!
//! A fresh 256 KiB allocation costs 64 page faults the first time the kernel writes into
//! it; recycling keeps that off the data path. A lent buffer goes home when it is dropped,
//! wherever that happens (a disk thread, hyper after sending it as `Bytes`, an error path),
//! so the count of lent buffers is exact. At most `budget` buffers are lent at once:
//! beyond that, callers wait for one to come back instead of growing the heap, which is
//! what keeps a target's memory flat under hundreds of concurrent large requests.
//!
//! A buffer handed to the network ([`BufferPool::freeze`]) leaves the budget: the budget
//! bounds the buffers being filled by disks and uploads, so a client that stops reading
//! cannot hold the slots every other request needs. Buffers on their way out are bounded
//! apart: a connection queues at most one frame in hyper plus one read ahead, the number
//! of connections is limited, and a send that makes no progress times out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use super::IoBuf;

/// Bytes of buffers lent at once, shared by pools of different buffer sizes.
#[derive(Debug)]
pub struct Budget {
    limit: AtomicUsize,
    lent: AtomicUsize,
    returned: Notify,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            limit: AtomicUsize::new(limit),
            lent: AtomicUsize::new(0),
            returned: Notify::new(),
        })
    }

    /// Takes `size` bytes if they fit.
    pub fn try_lend(&self, size: usize) -> bool {
        self.lent
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n + size <= self.limit.load(Ordering::Acquire)).then_some(n + size)
            })
            .is_ok()
    }

    /// Gives back `size` bytes taken with [`Budget::try_lend`].
    pub fn release(&self, size: usize) {
        self.lent.fetch_sub(size, Ordering::AcqRel);
        // Every waiter looks again: with two buffer sizes, the one woken alone might be
        // a large one that still does not fit while a small one would.
        self.returned.notify_waiters();
    }

    /// Changes the limit (mountpaths came or went); what is lent beyond a lowered limit
    /// is returned as usual, and waiters look again at a raised one.
    pub fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Release);
        self.returned.notify_waiters();
    }

    /// The limit now.
    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Acquire)
    }

    /// Bytes lent now.
    pub fn lent(&self) -> usize {
        self.lent.load(Ordering::Acquire)
    }
}

/// A budgeted pool of equally sized buffers.
#[derive(Debug)]
pub struct BufferPool {
    free: Mutex<Vec<IoBuf>>,
    size: usize,
    max_idle: usize,
    budget: Arc<Budget>,
}

impl BufferPool {
    /// A pool of `size`-byte buffers lending at most `budget` at once and keeping at most
    /// `max_idle` of them when unused.
    pub fn new(size: usize, budget: usize, max_idle: usize) -> Arc<BufferPool> {
        Self::sharing(
            size,
            &Budget::new(size * budget.max(1)),
            max_idle.min(budget),
        )
    }

    /// A pool of `size`-byte buffers lent from `budget` (which other pools may share),
    /// keeping at most `max_idle` of them when unused.
    pub fn sharing(size: usize, budget: &Arc<Budget>, max_idle: usize) -> Arc<BufferPool> {
        Arc::new(BufferPool {
            free: Mutex::new(Vec::new()),
            size,
            max_idle,
            budget: budget.clone(),
        })
    }

    /// Size of each buffer.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Buffers' worth of this pool's size lent right now (from the whole budget).
    pub fn lent(&self) -> usize {
        self.budget.lent.load(Ordering::Acquire) / self.size
    }

    /// An empty buffer, if the budget allows one now.
    pub fn try_take(self: &Arc<Self>) -> Option<IoBuf> {
        if !self.budget.try_lend(self.size) {
            return None;
        }
        let reused = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut buf = reused.unwrap_or_else(|| IoBuf::with_capacity(self.size));
        buf.lend_from(self.clone());
        Some(buf)
    }

    /// An empty buffer, waiting for one to come back when the budget is used up. A caller
    /// must not hold another buffer of this pool while it waits (that could deadlock).
    pub async fn take(self: &Arc<Self>) -> IoBuf {
        loop {
            let returned = self.budget.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            if let Some(buf) = self.try_take() {
                return buf;
            }
            returned.await;
        }
    }

    /// An empty buffer, waiting at most `wait` for one; `None` when none came back in time.
    pub async fn take_within(self: &Arc<Self>, wait: std::time::Duration) -> Option<IoBuf> {
        tokio::time::timeout(wait, self.take()).await.ok()
    }

    /// Wraps a filled buffer as `Bytes` for the network; it leaves the budget now and goes
    /// home when the last `Bytes` drops.
    pub fn freeze(mut buf: IoBuf) -> Bytes {
        if let Some(pool) = buf.leave_budget() {
            pool.release_slot();
        }
        Bytes::from_owner(buf)
    }

    fn release_slot(&self) {
        self.budget.release(self.size);
    }

    /// Called by a lent buffer's `Drop`.
    pub(super) fn recycle(&self, buf: IoBuf, budgeted: bool) {
        {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            if free.len() < self.max_idle {
                free.push(buf);
            }
        }
        if budgeted {
            self.release_slot();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_and_idle_is_capped() {
        let pool = BufferPool::new(4096, 8, 2);
        let mut a = pool.try_take().unwrap();
        a.extend_from_slice(b"hello");
        let ptr = a.as_ptr();
        let bytes = BufferPool::freeze(a);
        assert_eq!(&bytes[..], b"hello");
        assert_eq!(
            pool.lent(),
            0,
            "a buffer handed to the network leaves the budget"
        );
        drop(bytes);
        assert_eq!(pool.lent(), 0);
        let again = pool.try_take().unwrap();
        assert_eq!(again.as_ptr(), ptr, "the same allocation is reused");
        assert_eq!(pool.lent(), 1);
        assert!(again.is_empty());
        drop(again);
        let many: Vec<IoBuf> = (0..5).map(|_| pool.try_take().unwrap()).collect();
        drop(many);
        assert_eq!(pool.free.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn budget_makes_takers_wait() {
        let pool = BufferPool::new(4096, 2, 2);
        let a = pool.take().await;
        let _b = pool.take().await;
        assert!(pool.try_take().is_none(), "the budget is two buffers");
        let waiter = tokio::spawn({
            let pool = pool.clone();
            async move { pool.take().await.capacity() }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "a third taker waits");
        // Returned from another thread, as a disk worker does.
        std::thread::spawn(move || drop(a)).join().unwrap();
        assert_eq!(waiter.await.unwrap(), 4096);
        // The waiter dropped its buffer, which went home: only `_b` is still lent.
        assert_eq!(pool.lent(), 1);
    }

    #[tokio::test]
    async fn two_sizes_share_one_budget() {
        let budget = Budget::new(4 * 4096);
        let small = BufferPool::sharing(4096, &budget, 4);
        let large = BufferPool::sharing(4 * 4096, &budget, 1);
        let s = small.try_take().unwrap();
        assert!(
            large.try_take().is_none(),
            "a small buffer lent leaves no room for a large one"
        );
        let waiter = tokio::spawn({
            let large = large.clone();
            async move { large.take().await.capacity() }
        });
        let s2 = small.try_take().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(s);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "one small buffer back is not enough");
        drop(s2);
        assert_eq!(waiter.await.unwrap(), 4 * 4096);
    }
}
