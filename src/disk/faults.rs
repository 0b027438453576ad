//! Errors that suggest the disk itself is failing, noted for the filesystem health
//! checker. A missing file or a full disk is normal; an I/O error, a read-only or shut
//! down filesystem, or a corrupted structure is not.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

/// Fault-class errors one disk's operations met.
#[derive(Debug, Default)]
pub struct Faults {
    count: AtomicU64,
    notify: Notify,
}

impl Faults {
    /// Notes `e` if it is fault-class, waking the health checker.
    pub fn note(&self, e: &io::Error) {
        if is_fault(e) {
            self.count.fetch_add(1, Ordering::Relaxed);
            self.notify.notify_one();
        }
    }

    /// Fault-class errors seen so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Resolves after the next fault (or at once if one came since the last wait).
    pub async fn wait(&self) {
        self.notify.notified().await;
    }
}

/// Whether an error points at the disk or filesystem rather than at the request. ENOSPC
/// counts: the check that follows tells a full disk (healthy, 507) from a broken one.
pub fn is_fault(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO)
            | Some(libc::EROFS)
            | Some(libc::ENOSPC)
            | Some(libc::EUCLEAN) // XFS/ext4: filesystem structure corrupted
            | Some(libc::ENODEV)
            | Some(libc::ENXIO)
            | Some(libc::EREMOTEIO)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_errors() {
        for (errno, fault) in [
            (libc::EIO, true),
            (libc::EROFS, true),
            (libc::EUCLEAN, true),
            (libc::ENOSPC, true),
            (libc::ENOENT, false),
            (libc::EEXIST, false),
            (libc::EACCES, false),
        ] {
            assert_eq!(
                is_fault(&io::Error::from_raw_os_error(errno)),
                fault,
                "{errno}"
            );
        }
        assert!(!is_fault(&io::Error::other("x")));
        let f = Faults::default();
        f.note(&io::Error::from_raw_os_error(libc::ENOENT));
        f.note(&io::Error::from_raw_os_error(libc::EIO));
        assert_eq!(f.count(), 1);
    }
}
