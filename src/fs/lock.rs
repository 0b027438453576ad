//! One process per mountpath: an exclusive `flock` on `<mountpath>/.ais.lock`, held for
//! the life of the process (the kernel drops it when the process dies, however it dies).
//! A second target started on the same disks is refused before it touches anything (it
//! would otherwise adopt the first one's ID and sweep its in-flight work files).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::FsError;

const LOCK_FILE: &str = ".ais.lock";

/// One held lock; dropping it releases it.
#[derive(Debug)]
pub struct MountpathLock {
    _held: Flock<File>,
}

/// Locks every mountpath, or fails naming the first one held by another process.
pub fn lock_mountpaths(paths: &[PathBuf]) -> Result<Vec<MountpathLock>, FsError> {
    paths.iter().map(|p| lock_mountpath(p)).collect()
}

/// Locks one mountpath (at start-up, or when it is attached).
pub fn lock_mountpath(path: &Path) -> Result<MountpathLock, FsError> {
    let file_path = path.join(LOCK_FILE);
    // Held open read-only: a file open for writing would stop the filesystem from being
    // remounted read-only (which the health checker must then notice, not prevent).
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&file_path)
        .and_then(|_| OpenOptions::new().read(true).open(&file_path))
        .map_err(|e| FsError::Lock(path.into(), file_path.clone(), e))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock)
        .map(|held| MountpathLock { _held: held })
        .map_err(|(_, errno)| {
            if errno == nix::errno::Errno::EWOULDBLOCK {
                FsError::Locked(path.into(), file_path)
            } else {
                FsError::Lock(path.into(), file_path, errno.into())
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_locker_is_refused_until_the_first_lets_go() {
        let a = tempfile::tempdir().unwrap();
        let paths = vec![a.path().to_path_buf()];
        let held = lock_mountpaths(&paths).unwrap();
        // flock locks belong to the open file description: a second open conflicts even
        // in the same process, as a second process would.
        assert!(matches!(lock_mountpaths(&paths), Err(FsError::Locked(..))));
        drop(held);
        assert!(lock_mountpaths(&paths).is_ok());
    }
}
