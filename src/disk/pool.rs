//! Reusable I/O buffers. A fresh 1 MiB allocation costs 256 page faults the first time
//! the kernel writes into it; recycling buffers keeps that off the data path. A buffer
//! handed to hyper as `Bytes` comes back to the pool when hyper drops it. Idle buffers
//! are capped, so the pool never holds more than `max_idle × size` bytes.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::IoBuf;

/// A pool of equally sized buffers.
#[derive(Debug)]
pub struct BufferPool {
    free: Mutex<Vec<IoBuf>>,
    size: usize,
    max_idle: usize,
}

impl BufferPool {
    /// A pool of `size`-byte buffers keeping at most `max_idle` of them when unused.
    pub fn new(size: usize, max_idle: usize) -> Arc<BufferPool> {
        Arc::new(BufferPool {
            free: Mutex::new(Vec::new()),
            size,
            max_idle,
        })
    }

    /// Size of each buffer.
    pub fn size(&self) -> usize {
        self.size
    }

    /// An empty buffer with capacity for `size` bytes.
    pub fn take(&self) -> IoBuf {
        let reused = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop();
        reused.unwrap_or_else(|| IoBuf::with_capacity(self.size))
    }

    /// Returns a buffer for reuse (dropped if the pool is full or it is the wrong size).
    pub fn give(&self, mut buf: IoBuf) {
        if buf.capacity() != self.size {
            return;
        }
        buf.clear();
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < self.max_idle {
            free.push(buf);
        }
    }

    /// Wraps a filled buffer as `Bytes` that returns to this pool when dropped.
    pub fn freeze(self: &Arc<Self>, buf: IoBuf) -> Bytes {
        Bytes::from_owner(Pooled {
            buf,
            pool: self.clone(),
        })
    }
}

struct Pooled {
    buf: IoBuf,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let buf = std::mem::replace(&mut self.buf, IoBuf::with_capacity(0));
        self.pool.give(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_and_idle_is_capped() {
        let pool = BufferPool::new(4096, 2);
        let mut a = pool.take();
        a.extend_from_slice(b"hello");
        let ptr = a.as_ptr();
        let bytes = pool.freeze(a);
        assert_eq!(&bytes[..], b"hello");
        drop(bytes);
        let again = pool.take();
        assert_eq!(again.as_ptr(), ptr, "the same allocation is reused");
        assert!(again.is_empty());
        for _ in 0..5 {
            pool.give(IoBuf::with_capacity(4096));
        }
        assert_eq!(pool.free.lock().unwrap().len(), 2);
    }
}
