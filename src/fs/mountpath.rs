//! Start-up checks of mountpaths and HRW selection among them.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use prometheus::IntCounter;
use thiserror::Error;

use crate::disk::DiskHandle;
use crate::hrw;

/// Why the mountpaths were refused at start-up.
#[derive(Debug, Error)]
pub enum FsError {
    /// No mountpath was configured.
    #[error("no mountpath configured: pass --mountpath DIR (one per disk)")]
    None,
    /// A mountpath does not exist or cannot be read.
    #[error("mountpath {0}: {1}")]
    Unusable(PathBuf, io::Error),
    /// A mountpath is not a directory.
    #[error("mountpath {0} is not a directory")]
    NotDir(PathBuf),
    /// The same directory was given twice.
    #[error("mountpath {0} is given twice")]
    Duplicate(PathBuf),
    /// One mountpath lies inside another.
    #[error("mountpath {inner} is nested inside mountpath {outer}")]
    Nested {
        /// The enclosing mountpath.
        outer: PathBuf,
        /// The nested one.
        inner: PathBuf,
    },
    /// Two mountpaths are on one filesystem (would double-count one disk).
    #[error("mountpaths {a} and {b} share one filesystem (st_dev {dev:#x}); give one mountpath per disk, or pass --allow-shared-fs for testing")]
    SharedFs {
        /// First mountpath.
        a: PathBuf,
        /// Second mountpath.
        b: PathBuf,
        /// Their common device number.
        dev: u64,
    },
    /// The mountpath is marked as owned by another target.
    #[error("mountpath {path} belongs to target {owner:?}, not {ours:?}: refusing to use another target's disk")]
    ForeignNode {
        /// The mountpath.
        path: PathBuf,
        /// The ID found in its mark.
        owner: String,
        /// The ID this target runs with.
        ours: String,
    },
    /// Mountpaths carry different node-ID marks.
    #[error("mountpath {a} belongs to target {a_id:?} but {b} to {b_id:?}")]
    MixedMarks {
        /// First mountpath.
        a: PathBuf,
        /// Its owner.
        a_id: String,
        /// Second mountpath.
        b: PathBuf,
        /// Its owner.
        b_id: String,
    },
    /// Reading or writing the node-ID xattr failed (xattrs are required).
    #[error("mountpath {0}: extended attributes are required: {1}")]
    Xattr(PathBuf, io::Error),
    /// The disk worker could not start.
    #[error("mountpath {0}: disk worker: {1}")]
    Worker(PathBuf, io::Error),
    /// Another process holds the mountpath's lock.
    #[error("mountpath {0} is in use by another aisnode process (lock file {1} is held): one target per mountpath")]
    Locked(PathBuf, PathBuf),
    /// The lock file could not be opened or locked.
    #[error("mountpath {0}: cannot lock {1}: {2}")]
    Lock(PathBuf, PathBuf, io::Error),
}

/// Validates the configured mountpaths and returns their canonical paths, in order.
/// Refuses missing paths, non-directories, duplicates, nesting and, unless
/// `allow_shared_fs`, two mountpaths on one filesystem.
pub fn check_mountpaths(raw: &[PathBuf], allow_shared_fs: bool) -> Result<Vec<PathBuf>, FsError> {
    if raw.is_empty() {
        return Err(FsError::None);
    }
    let mut seen: Vec<(PathBuf, u64)> = Vec::with_capacity(raw.len());
    for p in raw {
        let path = p
            .canonicalize()
            .map_err(|e| FsError::Unusable(p.clone(), e))?;
        let meta = std::fs::metadata(&path).map_err(|e| FsError::Unusable(p.clone(), e))?;
        if !meta.is_dir() {
            return Err(FsError::NotDir(path));
        }
        for (other, dev) in &seen {
            if *other == path {
                return Err(FsError::Duplicate(path));
            }
            if path.starts_with(other) {
                return Err(FsError::Nested {
                    outer: other.clone(),
                    inner: path,
                });
            }
            if other.starts_with(&path) {
                return Err(FsError::Nested {
                    outer: path,
                    inner: other.clone(),
                });
            }
            if *dev == meta.dev() && !allow_shared_fs {
                return Err(FsError::SharedFs {
                    a: other.clone(),
                    b: path,
                    dev: *dev,
                });
            }
        }
        seen.push((path, meta.dev()));
    }
    Ok(seen.into_iter().map(|(p, _)| p).collect())
}

/// One mountpath in service: its path, HRW digest and disk worker.
#[derive(Debug)]
pub struct Mountpath {
    /// Canonical path.
    pub path: PathBuf,
    /// `XXH64(path, hrw::SEED)`, as AIStore's `PathDigest`.
    pub digest: u64,
    /// The worker that does this disk's I/O.
    pub disk: DiskHandle,
    /// Bytes read from this disk by object GETs.
    pub read_bytes: IntCounter,
    /// Bytes of object GETs served from the page cache on the request's thread.
    pub cache_read_bytes: IntCounter,
    /// Bytes written to this disk by object PUTs.
    pub write_bytes: IntCounter,
}

impl Mountpath {
    /// A mountpath served by `disk`, counting its traffic in `counters`.
    pub fn new(path: PathBuf, disk: DiskHandle, counters: IoCounters) -> Self {
        let digest = hrw::digest(path.as_os_str().as_encoded_bytes());
        Mountpath {
            path,
            digest,
            disk,
            read_bytes: counters.read,
            cache_read_bytes: counters.cache_read,
            write_bytes: counters.write,
        }
    }
}

/// A mountpath's byte counters.
#[derive(Debug, Clone)]
pub struct IoCounters {
    /// GET bytes read by the disk threads.
    pub read: IntCounter,
    /// GET bytes copied from the page cache on request threads.
    pub cache_read: IntCounter,
    /// PUT bytes written.
    pub write: IntCounter,
}

/// The available mountpaths of a target.
#[derive(Debug)]
pub struct Mountpaths {
    list: Vec<Mountpath>,
}

impl Mountpaths {
    /// Wraps a non-empty list.
    pub fn new(list: Vec<Mountpath>) -> Self {
        Mountpaths { list }
    }

    /// All mountpaths, in configured order.
    pub fn all(&self) -> &[Mountpath] {
        &self.list
    }

    /// The mountpath HRW picks for an object's uname digest.
    pub fn select(&self, uname_digest: u64) -> &Mountpath {
        let i = hrw::select(uname_digest, self.list.iter().map(|m| m.digest)).unwrap_or(0);
        &self.list[i]
    }

    /// The object's digest (`hrw::object_digest`) and the mountpath HRW picks for it.
    pub fn for_object(&self, bucket: &str, object: &str) -> (u64, &Mountpath) {
        let key = hrw::object_digest(bucket, object);
        (key, self.select(key))
    }

    /// The mountpath whose path is a prefix of `path`, if any.
    pub fn containing(&self, path: &Path) -> Option<&Mountpath> {
        self.list.iter().find(|m| path.starts_with(&m.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_missing_duplicate_nested_and_shared() {
        let root = tempfile::tempdir().unwrap();
        let a = root.path().join("a");
        let b = root.path().join("b");
        std::fs::create_dir_all(a.join("inner")).unwrap();
        std::fs::create_dir(&b).unwrap();
        assert!(matches!(check_mountpaths(&[], true), Err(FsError::None)));
        assert!(matches!(
            check_mountpaths(&[root.path().join("missing")], true),
            Err(FsError::Unusable(..))
        ));
        assert!(matches!(
            check_mountpaths(&[a.clone(), a.clone()], true),
            Err(FsError::Duplicate(_))
        ));
        assert!(matches!(
            check_mountpaths(&[a.clone(), a.join("inner")], true),
            Err(FsError::Nested { .. })
        ));
        assert!(matches!(
            check_mountpaths(&[a.clone(), b.clone()], false),
            Err(FsError::SharedFs { .. })
        ));
        assert_eq!(
            check_mountpaths(&[a.clone(), b.clone()], true)
                .unwrap()
                .len(),
            2
        );
    }
}
