//! Start-up checks of mountpaths and HRW selection among them.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prometheus::IntCounter;
use thiserror::Error;

use super::lock::MountpathLock;
use crate::disk::DiskHandle;
use crate::hrw;

/// Why the mountpaths were refused at start-up.
#[derive(Debug, Error)]
pub enum FsError {
    /// No mountpath was configured.
    #[error("no mountpath configured: pass --mountpath DIR (one per disk)")]
    None,
    /// A configured mountpath is missing.
    #[error("mountpath {0} does not exist (a failed or remapped disk?): fix the mount, remove it from the configuration, or pass --start-with-lost-mountpath to start without it")]
    Lost(PathBuf),
    /// Every configured mountpath is missing.
    #[error("none of the configured mountpaths exists")]
    AllLost,
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
    /// The worker that does this disk's I/O (its threads stop when the last handle goes).
    pub disk: DiskHandle,
    /// Bytes read from this disk by object GETs.
    pub read_bytes: IntCounter,
    /// Bytes of object GETs served from the page cache on the request's thread.
    pub cache_read_bytes: IntCounter,
    /// Bytes written to this disk by object PUTs.
    pub write_bytes: IntCounter,
    /// How committed objects are made durable here.
    pub sync: super::MountpathSync,
    /// This process's claim on the disk, released when the mountpath is dropped.
    _lock: Option<MountpathLock>,
}

impl Mountpath {
    /// A mountpath served by `disk`, counting its traffic in `counters`, holding `lock`,
    /// flushing by `group_sync`.
    pub fn new(
        path: PathBuf,
        disk: DiskHandle,
        counters: IoCounters,
        lock: Option<MountpathLock>,
        group_sync: super::GroupSync,
    ) -> Self {
        let digest = hrw::digest(path.as_os_str().as_encoded_bytes());
        Mountpath {
            sync: super::MountpathSync::new(&path, group_sync),
            path,
            digest,
            disk,
            read_bytes: counters.read,
            cache_read_bytes: counters.cache_read,
            write_bytes: counters.write,
            _lock: lock,
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

/// Why a mountpath is on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Leaving {
    /// To be disabled once its objects have moved to the others.
    Disable,
    /// To be detached once its objects have moved to the others.
    Detach,
}

/// The mountpaths at one moment. Replaced whole on every change, so a reader holds a
/// consistent set for as long as it needs one.
#[derive(Debug, Default)]
pub struct MpSet {
    /// HRW places objects among these.
    pub available: Vec<Arc<Mountpath>>,
    /// Still read, no longer chosen: their objects are moving to the available ones.
    pub leaving: Vec<(Arc<Mountpath>, Leaving)>,
    /// Neither read nor chosen (by the admin, or after a failed health check).
    pub disabled: Vec<Arc<Mountpath>>,
    /// Disabled ones whose objects did not move off first (a failed health check,
    /// `dntres`): their objects exist but cannot be read until they are enabled.
    pub undrained: Vec<PathBuf>,
    /// Bumped on every change.
    pub generation: u64,
}

impl MpSet {
    /// The mountpath HRW picks among the available ones for an object's digest.
    pub fn select(&self, uname_digest: u64) -> Option<&Arc<Mountpath>> {
        let i = hrw::select(uname_digest, self.available.iter().map(|m| m.digest))?;
        self.available.get(i)
    }

    /// The first `n` available mountpaths by HRW weight for `uname_digest`, heaviest
    /// first (the first is [`MpSet::select`]'s): where an object's mirror copies go.
    pub fn ranked(&self, uname_digest: u64, n: usize) -> Vec<&Arc<Mountpath>> {
        let mut all: Vec<(u64, usize)> = self
            .available
            .iter()
            .enumerate()
            .map(|(i, m)| (crate::hrw::mix(m.digest ^ uname_digest), i))
            .collect();
        // On equal weight the later one wins, as in `hrw::select`.
        all.sort_unstable_by(|a, b| b.cmp(a));
        all.into_iter()
            .take(n)
            .map(|(_, i)| &self.available[i])
            .collect()
    }

    /// Mountpaths objects may be read from: the available, then the leaving ones.
    pub fn readable(&self) -> impl Iterator<Item = &Arc<Mountpath>> {
        self.available
            .iter()
            .chain(self.leaving.iter().map(|(m, _)| m))
    }

    /// Every mountpath this target has, in any state.
    pub fn every(&self) -> impl Iterator<Item = &Arc<Mountpath>> {
        self.readable().chain(self.disabled.iter())
    }

    /// The mountpath HRW picks for a digest among the readable ones and the disabled ones
    /// still holding their objects, when it is one of the latter: where an object that is
    /// nowhere readable may be.
    pub fn undrained_owner(&self, uname_digest: u64) -> Option<&Arc<Mountpath>> {
        if self.undrained.is_empty() {
            return None;
        }
        let held: Vec<&Arc<Mountpath>> = self
            .readable()
            .chain(
                self.disabled
                    .iter()
                    .filter(|m| self.undrained.contains(&m.path)),
            )
            .collect();
        let i = hrw::select(uname_digest, held.iter().map(|m| m.digest))?;
        held.get(i)
            .copied()
            .filter(|m| self.undrained.contains(&m.path))
    }

    fn find(&self, path: &Path) -> Option<&Arc<Mountpath>> {
        self.every().find(|m| m.path == path)
    }
}

/// Why a change of the mountpath set was refused.
#[derive(Debug, Error)]
pub enum MpChangeError {
    /// No such mountpath here.
    #[error("{0}: not a mountpath of this target")]
    Unknown(PathBuf),
    /// Attaching one that is already there.
    #[error("{0}: already a mountpath of this target")]
    Exists(PathBuf),
    /// The change does not apply to its present state.
    #[error("{path}: mountpath is {state}, cannot {action}")]
    WrongState {
        /// The mountpath.
        path: PathBuf,
        /// Its state.
        state: &'static str,
        /// What was asked.
        action: &'static str,
    },
    /// Removing the last mountpath that takes objects.
    #[error("{0}: the last available mountpath cannot be disabled or detached (the target would have nowhere to store objects)")]
    Last(PathBuf),
}

/// A target's mountpaths: read lock-free by every request, changed rarely (attach,
/// detach, enable, disable) by one writer at a time.
#[derive(Debug)]
pub struct Mountpaths {
    set: arc_swap::ArcSwap<MpSet>,
    change: std::sync::Mutex<()>,
}

impl Mountpaths {
    /// Starts with all of `list` available.
    pub fn new(list: Vec<Mountpath>) -> Self {
        let set = MpSet {
            available: list.into_iter().map(Arc::new).collect(),
            ..MpSet::default()
        };
        Mountpaths {
            set: arc_swap::ArcSwap::from_pointee(set),
            change: std::sync::Mutex::new(()),
        }
    }

    /// The set as it is now.
    pub fn current(&self) -> Arc<MpSet> {
        self.set.load_full()
    }

    /// The current set's generation (bumped by every change of the set).
    pub fn generation(&self) -> u64 {
        self.set.load().generation
    }

    /// The available mountpaths, in order.
    pub fn available(&self) -> Vec<Arc<Mountpath>> {
        self.set.load().available.clone()
    }

    /// The object's digest (`hrw::object_digest`) and the mountpath HRW picks for it,
    /// `None` when no mountpath is available.
    pub fn for_object(&self, bucket: &str, object: &str) -> Option<(u64, Arc<Mountpath>)> {
        let key = hrw::object_digest(bucket, object);
        let set = self.set.load();
        set.select(key).map(|m| (key, m.clone()))
    }

    /// The readable mountpath whose path is a prefix of `path`, if any.
    pub fn containing(&self, path: &Path) -> Option<Arc<Mountpath>> {
        self.set
            .load()
            .readable()
            .find(|m| path.starts_with(&m.path))
            .cloned()
    }

    /// Applies `f` to a copy of the set and publishes the result, one writer at a time.
    fn update<T>(
        &self,
        f: impl FnOnce(&mut MpSet) -> Result<T, MpChangeError>,
    ) -> Result<T, MpChangeError> {
        let _one = self.change.lock().unwrap_or_else(|p| p.into_inner());
        let cur = self.set.load_full();
        let mut next = MpSet {
            available: cur.available.clone(),
            leaving: cur.leaving.clone(),
            disabled: cur.disabled.clone(),
            undrained: cur.undrained.clone(),
            generation: cur.generation + 1,
        };
        let out = f(&mut next)?;
        self.set.store(Arc::new(next));
        Ok(out)
    }

    /// Adds a new, available mountpath. The caller has checked its filesystem against
    /// the others with [`Mountpaths::check_new`].
    pub fn attach(&self, mp: Mountpath) -> Result<(), MpChangeError> {
        self.update(|s| {
            if s.find(&mp.path).is_some() {
                return Err(MpChangeError::Exists(mp.path.clone()));
            }
            s.available.push(Arc::new(mp));
            Ok(())
        })
    }

    /// Refuses `path` if it equals, nests with, or (unless `allow_shared_fs`) shares a
    /// filesystem with a mountpath this target has; returns its canonical form.
    pub fn check_new(&self, path: &Path, allow_shared_fs: bool) -> Result<PathBuf, FsError> {
        let set = self.set.load();
        let mut all: Vec<PathBuf> = set.every().map(|m| m.path.clone()).collect();
        all.push(path.to_path_buf());
        let checked = check_mountpaths(&all, allow_shared_fs)?;
        checked
            .last()
            .cloned()
            .ok_or_else(|| FsError::Unusable(path.into(), io::ErrorKind::NotFound.into()))
    }

    /// Takes an available mountpath out of placement but keeps it readable until its
    /// objects have moved ([`Mountpaths::finish_leaving`]).
    pub fn start_leaving(&self, path: &Path, why: Leaving) -> Result<(), MpChangeError> {
        self.update(|s| {
            let i = position(&s.available, path).ok_or_else(|| state_error(s, path, why))?;
            if s.available.len() == 1 {
                return Err(MpChangeError::Last(path.into()));
            }
            let mp = s.available.remove(i);
            s.leaving.push((mp, why));
            Ok(())
        })
    }

    /// Completes what [`Mountpaths::start_leaving`] began: disabled, or gone (returned).
    pub fn finish_leaving(&self, path: &Path) -> Result<Option<Arc<Mountpath>>, MpChangeError> {
        self.update(|s| {
            let i = s
                .leaving
                .iter()
                .position(|(m, _)| m.path == path)
                .ok_or_else(|| MpChangeError::Unknown(path.into()))?;
            let (mp, why) = s.leaving.remove(i);
            Ok(match why {
                Leaving::Disable => {
                    s.disabled.push(mp);
                    None
                }
                Leaving::Detach => Some(mp),
            })
        })
    }

    /// Disables a mountpath at once (a failed health check, or `dntres`). Unlike the
    /// admin's way this may take the last one: a target with a broken disk must not use it.
    pub fn disable_now(&self, path: &Path) -> Result<bool, MpChangeError> {
        self.update(|s| {
            if position(&s.disabled, path).is_some() {
                return Ok(false);
            }
            let mp = take_readable(s, path)?;
            s.undrained.push(mp.path.clone());
            s.disabled.push(mp);
            Ok(true)
        })
    }

    /// Removes a mountpath at once, in any state; returns it (its disk threads stop when
    /// the last in-flight request lets go of it).
    pub fn detach_now(&self, path: &Path) -> Result<Arc<Mountpath>, MpChangeError> {
        self.update(|s| {
            s.undrained.retain(|p| p != path);
            if let Some(i) = position(&s.disabled, path) {
                return Ok(s.disabled.remove(i));
            }
            take_readable(s, path)
        })
    }

    /// Makes a disabled or leaving mountpath available again; false if it already was.
    pub fn enable(&self, path: &Path) -> Result<bool, MpChangeError> {
        self.update(|s| {
            s.undrained.retain(|p| p != path);
            if position(&s.available, path).is_some() {
                return Ok(false);
            }
            let mp = match position(&s.disabled, path) {
                Some(i) => s.disabled.remove(i),
                None => take_readable(s, path)?,
            };
            s.available.push(mp);
            Ok(true)
        })
    }
}

fn position(list: &[Arc<Mountpath>], path: &Path) -> Option<usize> {
    list.iter().position(|m| m.path == path)
}

/// Removes `path` from the available or leaving lists.
fn take_readable(s: &mut MpSet, path: &Path) -> Result<Arc<Mountpath>, MpChangeError> {
    if let Some(i) = position(&s.available, path) {
        return Ok(s.available.remove(i));
    }
    if let Some(i) = s.leaving.iter().position(|(m, _)| m.path == path) {
        return Ok(s.leaving.remove(i).0);
    }
    Err(MpChangeError::Unknown(path.into()))
}

fn state_error(s: &MpSet, path: &Path, why: Leaving) -> MpChangeError {
    let action = match why {
        Leaving::Disable => "disable",
        Leaving::Detach => "detach",
    };
    let state = if position(&s.disabled, path).is_some() {
        "disabled"
    } else if s.leaving.iter().any(|(m, _)| m.path == path) {
        "already leaving"
    } else {
        return MpChangeError::Unknown(path.into());
    };
    MpChangeError::WrongState {
        path: path.into(),
        state,
        action,
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
