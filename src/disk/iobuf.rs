//! `IoBuf`: a byte buffer whose memory is aligned to 4096 bytes, so the same buffers serve
//! buffered I/O and O_DIRECT (which needs aligned addresses, lengths and offsets).
#![allow(unsafe_code)]

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;
use std::sync::Arc;

use super::pool::BufferPool;

/// Alignment of every buffer (the largest logical block size we expect).
pub const ALIGN: usize = 4096;

/// A fixed-capacity, 4 KiB-aligned byte buffer.
pub struct IoBuf {
    ptr: NonNull<u8>,
    cap: usize,
    len: usize,
    /// The pool this buffer was lent by; dropping the buffer returns it there.
    home: Option<Arc<BufferPool>>,
    /// Whether it still counts against its pool's budget (see [`BufferPool::freeze`]).
    budgeted: bool,
}

// SAFETY: IoBuf owns its allocation exclusively, like Vec<u8>.
unsafe impl Send for IoBuf {}
// SAFETY: shared references only read the initialised prefix.
unsafe impl Sync for IoBuf {}

impl IoBuf {
    /// An empty buffer holding at least `cap` bytes (rounded up to a multiple of 4 KiB).
    pub fn with_capacity(cap: usize) -> IoBuf {
        let cap = cap.max(1).div_ceil(ALIGN) * ALIGN;
        let layout = Self::layout(cap);
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        IoBuf {
            ptr,
            cap,
            len: 0,
            home: None,
            budgeted: false,
        }
    }

    /// Marks the buffer as lent by `pool`, counted against its budget.
    pub(super) fn lend_from(&mut self, pool: Arc<BufferPool>) {
        self.home = Some(pool);
        self.budgeted = true;
    }

    /// Stops counting the buffer against its pool's budget (it still goes home when
    /// dropped); returns the pool whose budget it left, if it was counted.
    pub(super) fn leave_budget(&mut self) -> Option<&Arc<BufferPool>> {
        if std::mem::take(&mut self.budgeted) {
            self.home.as_ref()
        } else {
            None
        }
    }

    fn layout(cap: usize) -> Layout {
        Layout::from_size_align(cap, ALIGN)
            .unwrap_or_else(|_| handle_alloc_error(Layout::new::<u8>()))
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total room.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Forgets the contents.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Keeps the first `n` bytes.
    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n);
    }

    /// Drops the first `n` bytes, moving the rest to the front.
    pub fn consume_front(&mut self, n: usize) {
        let n = n.min(self.len);
        // SAFETY: both ranges lie within the initialised prefix; `copy` handles overlap.
        unsafe { std::ptr::copy(self.ptr.as_ptr().add(n), self.ptr.as_ptr(), self.len - n) };
        self.len -= n;
    }

    /// Appends `data`; panics if it does not fit (callers size their chunks).
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        assert!(data.len() <= self.cap - self.len, "IoBuf overflow");
        // SAFETY: the destination is within capacity and does not overlap `data`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.ptr.as_ptr().add(self.len),
                data.len(),
            )
        };
        self.len += data.len();
    }

    /// Zero-fills up to `n` bytes (for padding a tail to the block size).
    pub fn pad_to(&mut self, n: usize) {
        let n = n.min(self.cap);
        if n > self.len {
            // SAFETY: the range is within capacity.
            unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(self.len), 0, n - self.len) };
            self.len = n;
        }
    }

    /// Pointer to the first unused byte, and how many follow.
    pub(crate) fn spare(&mut self) -> (*mut u8, usize) {
        // SAFETY: `len <= cap`, so the pointer stays within (or one past) the allocation.
        (
            unsafe { self.ptr.as_ptr().add(self.len) },
            self.cap - self.len,
        )
    }

    /// Marks `n` more bytes as initialised.
    ///
    /// # Safety
    /// The `n` bytes after the current length must have been written.
    pub(crate) unsafe fn advance(&mut self, n: usize) {
        self.len = (self.len + n).min(self.cap);
    }
}

impl std::ops::Deref for IoBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes are initialised.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for IoBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Drop for IoBuf {
    fn drop(&mut self) {
        if let Some(pool) = self.home.take() {
            // Hand the allocation back: a new owner of the same memory goes to the pool.
            let back = IoBuf {
                ptr: self.ptr,
                cap: self.cap,
                len: 0,
                home: None,
                budgeted: false,
            };
            self.cap = 0;
            pool.recycle(back, self.budgeted);
            return;
        }
        if self.cap > 0 {
            // SAFETY: allocated in `with_capacity` with this layout, and not handed on.
            unsafe { dealloc(self.ptr.as_ptr(), Self::layout(self.cap)) };
        }
    }
}

impl std::fmt::Debug for IoBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoBuf")
            .field("len", &self.len)
            .field("cap", &self.cap)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_well_behaved() {
        let mut b = IoBuf::with_capacity(5000);
        assert_eq!(b.capacity(), 8192);
        assert_eq!(b.spare().0 as usize % ALIGN, 0);
        b.extend_from_slice(b"hello world");
        assert_eq!(&b[..], b"hello world");
        b.consume_front(6);
        assert_eq!(&b[..], b"world");
        b.pad_to(4096);
        assert_eq!(b.len(), 4096);
        assert!(b[5..].iter().all(|&x| x == 0));
        b.truncate(3);
        assert_eq!(&b[..], b"wor");
        b.clear();
        assert!(b.is_empty());
    }
}
