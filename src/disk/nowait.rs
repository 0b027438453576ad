//! The cache-hit fast path: opens, metadata reads and data reads that the kernel can serve
//! from its caches without waiting for a disk, done on the caller's (tokio) thread.
//!
//! Each call either finishes without blocking or reports [`Cached::WouldBlock`], and the
//! caller then hands the work to the mountpath's threads as usual. This is the same
//! "try non-blocking first, punt when it would wait" rule io_uring applies internally
//! (IOCB_NOWAIT), and it saves two thread hand-offs per small GET: on two cores the
//! wake-ups of a hand-off cost more than a page-cache copy of a few KiB.
//! - open: `openat2(RESOLVE_CACHED)` fails with EAGAIN unless every path component is in
//!   the dentry cache.
//! - read: `preadv2(RWF_NOWAIT)` fails with EAGAIN unless the data is in the page cache.
//! - xattr: an open file's inode is in memory; XFS keeps small attributes inside the inode.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::IoBuf;

/// The outcome of a non-blocking attempt.
#[derive(Debug)]
pub enum Cached<T> {
    /// Done from the caches.
    Ready(T),
    /// The kernel would have to wait for the disk; use the worker.
    WouldBlock,
}

/// Opens `path` read-only (optionally O_DIRECT) if its lookup needs no disk I/O.
/// `Ok(Ready(None))` means the file does not exist.
pub fn open_read(path: &Path, direct: bool) -> io::Result<Cached<Option<File>>> {
    let Ok(cpath) = CString::new(path.as_os_str().as_bytes()) else {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    };
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | if direct { libc::O_DIRECT } else { 0 };
    let mut how: libc::open_how = unsafe_zeroed_open_how();
    how.flags = flags as u64;
    how.resolve = libc::RESOLVE_CACHED;
    // SAFETY: `cpath` is NUL-terminated and `how` is a valid open_how of the given size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            cpath.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd >= 0 {
        // SAFETY: the kernel just returned this descriptor; nothing else owns it.
        return Ok(Cached::Ready(Some(unsafe { File::from_raw_fd(fd as i32) })));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => Ok(Cached::Ready(None)),
        // EAGAIN: not all cached. ENOSYS/EINVAL/EPERM: no openat2 or RESOLVE_CACHED
        // (kernels before 5.12, seccomp); the worker's plain open handles those.
        Some(libc::EAGAIN) | Some(libc::ENOSYS) | Some(libc::EINVAL) | Some(libc::EPERM) => {
            Ok(Cached::WouldBlock)
        }
        _ => Err(err),
    }
}

fn unsafe_zeroed_open_how() -> libc::open_how {
    // SAFETY: open_how is a plain C struct of integers; all-zero is its documented default.
    unsafe { std::mem::zeroed() }
}

/// Reads the extended attribute `name` of an open file with one syscall when it fits in
/// `small` bytes (the common case); larger values take the two-call path.
pub fn get_xattr(file: &File, name: &std::ffi::CStr, small: usize) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; small];
    // SAFETY: `buf` has `small` writable bytes; `name` is NUL-terminated.
    let n = unsafe {
        libc::fgetxattr(
            file.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n >= 0 {
        buf.truncate(n as usize);
        return Ok(Some(buf));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ENODATA) => Ok(None),
        Some(libc::ERANGE) => {
            use xattr::FileExt as _;
            let name = std::ffi::OsStr::from_bytes(name.to_bytes());
            file.get_xattr(name)
        }
        _ => Err(err),
    }
}

/// Reads up to `len` bytes into `buf`'s spare room at `offset` if the data is in the page
/// cache. A short count means only part of it was cached (or the file ended).
pub fn read_at(file: &File, buf: &mut IoBuf, offset: u64, len: usize) -> io::Result<Cached<usize>> {
    let (ptr, spare) = buf.spare();
    let iov = libc::iovec {
        iov_base: ptr.cast(),
        iov_len: spare.min(len),
    };
    let off = libc::off_t::try_from(offset).unwrap_or(libc::off_t::MAX);
    // SAFETY: the iovec points at `spare` writable bytes owned by `buf`.
    let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, off, libc::RWF_NOWAIT) };
    if n >= 0 {
        // SAFETY: preadv2 initialised `n` bytes of the spare room.
        unsafe { buf.advance(n as usize) };
        return Ok(Cached::Ready(n as usize));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        // EOPNOTSUPP: a filesystem without RWF_NOWAIT support.
        Some(libc::EAGAIN) | Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => Ok(Cached::WouldBlock),
        _ => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn cached_open_xattr_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = File::create(&path).unwrap();
        f.write_all(&[7u8; 10_000]).unwrap();
        drop(f);
        let file = match open_read(&path, false).unwrap() {
            Cached::Ready(Some(f)) => f,
            other => panic!("a file just written is in the dentry cache: {other:?}"),
        };
        // A name looked up once leaves a negative dentry: its absence is cached too.
        let missing = dir.path().join("missing");
        assert!(std::fs::metadata(&missing).is_err());
        assert!(matches!(
            open_read(&missing, false).unwrap(),
            Cached::Ready(None)
        ));
        let mut buf = IoBuf::with_capacity(16 << 10);
        match read_at(&file, &mut buf, 0, 1 << 20).unwrap() {
            Cached::Ready(n) => assert_eq!(n, 10_000),
            Cached::WouldBlock => panic!("data just written is in the page cache"),
        }
        assert!(buf.iter().all(|&b| b == 7));
        let name = c"user.test.attr";
        match xattr::set(&path, "user.test.attr", b"hello") {
            Ok(()) => {
                assert_eq!(get_xattr(&file, name, 64).unwrap().unwrap(), b"hello");
                // Larger than the first guess: the fallback reads it whole.
                assert_eq!(get_xattr(&file, name, 2).unwrap().unwrap(), b"hello");
            }
            // tmpfs before 6.6 has no user xattrs; the metadata tests cover real mountpaths.
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(get_xattr(&file, c"user.none", 64).unwrap().is_none());
    }
}
