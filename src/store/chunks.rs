//! Chunk sizes by object size: with direct I/O, where each chunk is one disk request,
//! large objects are read and written in large chunks (half the hand-offs and io_uring
//! submissions per byte, and whole-MiB requests that keep a throttled or striped disk
//! busy), small ones in small chunks (a 64 KiB object does not hold a 1 MiB buffer). Both
//! sizes are lent from one memory budget. Through the page cache the kernel's read-ahead
//! and write-back already make the disk requests large, and a larger chunk would only
//! add to the memory each connection holds on its way out (one chunk queued in hyper and
//! one read ahead, outside the budget): one size then.

use std::sync::Arc;

use crate::disk::{Budget, BufferPool};

/// Chunk size for objects of at least [`LARGE_OBJECT_CHUNKS`] such chunks.
pub const LARGE_CHUNK: usize = 1 << 20;
/// An object is large from this many large chunks on.
pub const LARGE_OBJECT_CHUNKS: u64 = 4;

/// The two buffer pools of a store.
#[derive(Debug)]
pub struct ChunkPools {
    small: Arc<BufferPool>,
    large: Arc<BufferPool>,
    /// What both lend from.
    shared: Arc<Budget>,
}

impl ChunkPools {
    /// Pools of `chunk_size` and (with direct I/O) max(`chunk_size`, [`LARGE_CHUNK`]) buffers sharing
    /// `budget` bytes (at least four chunks; a budget too small for four large chunks
    /// gets one size). Returned buffers stay for reuse: freeing and reallocating them
    /// churns the allocator, which then holds more memory than the budget.
    pub fn new(chunk_size: usize, budget: usize, direct_io: bool) -> ChunkPools {
        let budget = budget.max(4 * chunk_size);
        let large_size = match chunk_size.max(LARGE_CHUNK) {
            large if direct_io && budget >= 4 * large => large,
            _ => chunk_size,
        };
        let shared = Budget::new(budget);
        ChunkPools {
            small: BufferPool::sharing(chunk_size, &shared, budget / chunk_size),
            large: BufferPool::sharing(large_size, &shared, budget / large_size),
            shared,
        }
    }

    /// Resizes the shared budget (at least four small chunks, as at the start). The
    /// buffer sizes stay what they were chosen at the start.
    pub fn set_budget(&self, budget: usize) {
        self.shared.set_limit(budget.max(4 * self.small.size()));
    }

    /// The shared budget now, bytes.
    pub fn budget(&self) -> usize {
        self.shared.limit()
    }

    /// The pool for an object of `size` bytes (unknown: the small one).
    pub fn for_size(&self, size: Option<u64>) -> &Arc<BufferPool> {
        match size {
            Some(n) if n >= LARGE_OBJECT_CHUNKS * self.large.size() as u64 => &self.large,
            _ => &self.small,
        }
    }
}

/// Budget per mountpath when the config leaves it to the target: 32 clients per disk
/// each holding a large chunk.
const AUTO_BUDGET_PER_MOUNTPATH: u64 = 32 << 20;

/// The buffer budget for `mountpaths` disks on a node with `memory` bytes: 32 MiB per
/// mountpath, at most a sixteenth of the memory, at least 32 MiB.
pub fn auto_buffer_budget(mountpaths: usize, memory: Option<u64>) -> u64 {
    let want = AUTO_BUDGET_PER_MOUNTPATH * mountpaths.max(1) as u64;
    let cap = memory.map_or(u64::MAX, |m| m / 16);
    want.min(cap).max(32 << 20)
}

/// The memory this process may use: its cgroup's limit (v2 or v1), else the machine's.
pub fn memory_limit() -> Option<u64> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let cgroup = read("/sys/fs/cgroup/memory.max")
        .or_else(|| read("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        // v1 says "no limit" with a huge number.
        .filter(|&v| v < 1 << 60);
    let total = read("/proc/meminfo").and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb << 10)
    });
    match (cgroup, total) {
        (Some(c), Some(t)) => Some(c.min(t)),
        (c, t) => c.or(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_budget_follows_disks_within_memory() {
        const MIB: u64 = 1 << 20;
        const GIB: u64 = 1 << 30;
        let cases = [
            (1, Some(24 * GIB), 32 * MIB),
            (2, Some(24 * GIB), 64 * MIB),
            (8, Some(24 * GIB), 256 * MIB),
            (8, None, 256 * MIB),
            (64, Some(24 * GIB), 1536 * MIB),
            // A 1 GiB container with 8 disks: a sixteenth of its memory.
            (8, Some(GIB), 64 * MIB),
            // Never below 32 MiB.
            (8, Some(256 * MIB), 32 * MIB),
            (0, None, 32 * MIB),
        ];
        for (mps, mem, want) in cases {
            assert_eq!(auto_buffer_budget(mps, mem), want, "{mps} {mem:?}");
        }
        assert!(memory_limit().is_some_and(|m| m > 64 * MIB));
    }

    #[tokio::test]
    async fn a_raised_budget_lets_a_waiting_taker_in() {
        let pools = ChunkPools::new(256 << 10, 1 << 20, false);
        let pool = pools.for_size(None).clone();
        let held: Vec<_> = (0..4)
            .map(|_| pool.try_take().expect("in budget"))
            .collect();
        assert!(pool.try_take().is_none(), "four chunks lent: budget spent");
        let waiter = tokio::spawn({
            let pool = pool.clone();
            async move { pool.take_within(std::time::Duration::from_secs(5)).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        pools.set_budget(2 << 20);
        assert_eq!(pools.budget(), 2 << 20);
        assert!(waiter.await.unwrap().is_some(), "woken by the raise");
        pools.set_budget(0);
        assert_eq!(pools.budget(), 1 << 20, "never below four chunks");
        drop(held);
    }

    #[test]
    fn pool_by_object_size() {
        let pools = ChunkPools::new(256 << 10, 32 << 20, true);
        let cases = [
            (None, 256 << 10),
            (Some(0), 256 << 10),
            (Some((4 << 20) - 1), 256 << 10),
            (Some(4 << 20), 1 << 20),
            (Some(8 << 30), 1 << 20),
        ];
        for (size, chunk) in cases {
            assert_eq!(pools.for_size(size).size(), chunk, "{size:?}");
        }
        // A configured chunk above the large one: one size for all.
        let pools = ChunkPools::new(2 << 20, 32 << 20, true);
        assert_eq!(pools.for_size(Some(1 << 30)).size(), 2 << 20);
        assert_eq!(pools.for_size(Some(1)).size(), 2 << 20);
        // A budget too small for four large chunks: small chunks only.
        let pools = ChunkPools::new(256 << 10, 1 << 20, true);
        assert_eq!(pools.for_size(Some(1 << 30)).size(), 256 << 10);
        // Through the page cache: one size.
        let pools = ChunkPools::new(256 << 10, 32 << 20, false);
        assert_eq!(pools.for_size(Some(1 << 30)).size(), 256 << 10);
    }
}
