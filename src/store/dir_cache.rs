//! Sorted directory listings kept between list requests, so that a page of a listing
//! costs what the page holds, not what the bucket holds.
//!
//! A directory is read (and sorted) once; later requests use the kept copy for as long
//! as the directory's identity and modification time are unchanged (the kernel moves a
//! directory's mtime on every create, unlink and rename in it), which costs one `stat`
//! per directory visited. A listing read while the directory was being changed, or so
//! soon after its last change that a further change could land in the same timestamp
//! tick, is used once and not kept (the "racy" rule Git applies to its index). Entries
//! are stored compactly (one byte arena, one offset per name) under a byte budget; the
//! least recently used directories go first.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A listing whose directory changed less than this before it was read is not kept:
/// timestamps come from a coarse clock (a few ms per tick).
const RACY: Duration = Duration::from_millis(100);

/// What identifies one state of a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    mtime: i64,
    mtime_ns: i64,
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            mtime: m.mtime(),
            mtime_ns: m.mtime_nsec(),
        }
    }
}

/// One directory's entries in byte order, each file as its name and each subdirectory
/// as its name followed by `/`: in that order a depth-first walk meets object names
/// sorted (`a.txt` < `a/` < `a0`).
#[derive(Debug, Default)]
pub struct SortedDir {
    arena: Vec<u8>,
    /// End of each key in `arena`.
    ends: Vec<u32>,
}

impl SortedDir {
    fn from_keys(mut keys: Vec<String>) -> SortedDir {
        keys.sort_unstable();
        let mut d = SortedDir {
            arena: Vec::with_capacity(keys.iter().map(String::len).sum()),
            ends: Vec::with_capacity(keys.len()),
        };
        for k in keys {
            d.arena.extend_from_slice(k.as_bytes());
            d.ends.push(d.arena.len() as u32);
        }
        d
    }

    /// Reads `dir`: its entries, and whether the read may be kept.
    fn read(dir: &Path) -> std::io::Result<(SortedDir, Option<Stamp>)> {
        let before = std::fs::metadata(dir)?;
        let started = SystemTime::now();
        let mut keys = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            match entry.file_type() {
                Ok(t) if t.is_dir() => keys.push(format!("{name}/")),
                Ok(t) if t.is_file() => keys.push(name),
                _ => {}
            }
        }
        let after = std::fs::metadata(dir)?;
        let stamp = Stamp::of(&before);
        let settled = before
            .modified()
            .ok()
            .and_then(|m| started.duration_since(m).ok())
            .is_some_and(|age| age >= RACY);
        let keep = (stamp == Stamp::of(&after) && settled).then_some(stamp);
        Ok((SortedDir::from_keys(keys), keep))
    }

    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The `i`th key.
    pub fn key(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        // Keys were whole UTF-8 strings and are cut at their own boundaries.
        std::str::from_utf8(&self.arena[start..self.ends[i] as usize]).unwrap_or_default()
    }

    /// The first index whose key does not satisfy `below` (keys satisfying it form a
    /// leading run).
    pub fn partition_point(&self, below: impl Fn(&str) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if below(self.key(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn bytes(&self) -> usize {
        self.arena.capacity() + self.ends.capacity() * 4 + 64
    }
}

#[derive(Debug)]
struct Kept {
    stamp: Stamp,
    dir: Arc<SortedDir>,
    used: u64,
}

#[derive(Debug, Default)]
struct Inner {
    dirs: HashMap<PathBuf, Kept>,
    bytes: usize,
    clock: u64,
}

/// The sorted entries of `dir` read now, not kept (`None` when it does not exist).
pub fn read_sorted(dir: &Path) -> std::io::Result<Option<Arc<SortedDir>>> {
    match SortedDir::read(dir) {
        Ok((d, _)) => Ok(Some(Arc::new(d))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Kept sorted listings, bounded by a byte budget.
#[derive(Debug)]
pub struct DirCache {
    budget: usize,
    inner: Mutex<Inner>,
}

impl DirCache {
    pub fn new(budget_bytes: usize) -> DirCache {
        DirCache {
            budget: budget_bytes,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The sorted entries of `dir` (`None` when it does not exist).
    pub fn get(&self, dir: &Path) -> std::io::Result<Option<Arc<SortedDir>>> {
        let now = match std::fs::metadata(dir) {
            Ok(m) => Stamp::of(&m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        {
            let mut inner = self.lock();
            inner.clock += 1;
            let clock = inner.clock;
            if let Some(k) = inner.dirs.get_mut(dir) {
                if k.stamp == now {
                    k.used = clock;
                    return Ok(Some(k.dir.clone()));
                }
            }
        }
        let (sorted, keep) = match SortedDir::read(dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let sorted = Arc::new(sorted);
        let mut inner = self.lock();
        if let Some(old) = inner.dirs.remove(dir) {
            inner.bytes -= old.dir.bytes();
        }
        if let Some(stamp) = keep.filter(|_| sorted.bytes() <= self.budget / 2) {
            inner.bytes += sorted.bytes();
            let used = inner.clock;
            inner.dirs.insert(
                dir.to_path_buf(),
                Kept {
                    stamp,
                    dir: sorted.clone(),
                    used,
                },
            );
            while inner.bytes > self.budget {
                let Some(oldest) = inner
                    .dirs
                    .iter()
                    .min_by_key(|(_, k)| k.used)
                    .map(|(p, _)| p.clone())
                else {
                    break;
                };
                if let Some(k) = inner.dirs.remove(&oldest) {
                    inner.bytes -= k.dir.bytes();
                }
            }
        }
        Ok(Some(sorted))
    }

    /// Bytes held.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(path: &Path) {
        // Moves the directory's mtime back so the read is not "racy".
        let old = SystemTime::now() - Duration::from_secs(5);
        let f = std::fs::File::open(path).unwrap();
        f.set_modified(old).unwrap();
    }

    #[test]
    fn keys_sort_as_object_names_do() {
        let d = SortedDir::from_keys(vec!["a0".into(), "a/".into(), "a.txt".into(), "b".into()]);
        let keys: Vec<_> = (0..d.len()).map(|i| d.key(i)).collect();
        assert_eq!(keys, ["a.txt", "a/", "a0", "b"]);
        assert_eq!(d.partition_point(|k| k < "a0"), 2);
        assert_eq!(d.partition_point(|_| true), 4);
    }

    #[test]
    fn a_settled_directory_is_kept_until_it_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("x"), b"").unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        let cache = DirCache::new(1 << 20);
        // Just changed: read, not kept.
        let d = cache.get(&dir).unwrap().unwrap();
        assert_eq!((d.key(0), d.key(1)), ("sub/", "x"));
        assert_eq!(cache.bytes(), 0);
        age(&dir);
        let first = cache.get(&dir).unwrap().unwrap();
        assert!(cache.bytes() > 0);
        let again = cache.get(&dir).unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &again), "served from the cache");
        // A new entry moves the mtime: read again.
        std::fs::write(dir.join("y"), b"").unwrap();
        let changed = cache.get(&dir).unwrap().unwrap();
        assert_eq!(changed.len(), 3);
        assert!(cache.get(&tmp.path().join("nope")).unwrap().is_none());
    }

    #[test]
    fn the_budget_evicts_the_least_recently_used() {
        let tmp = tempfile::tempdir().unwrap();
        let mut dirs = Vec::new();
        for i in 0..4 {
            let d = tmp.path().join(format!("d{i}"));
            std::fs::create_dir(&d).unwrap();
            for j in 0..50 {
                std::fs::write(d.join(format!("name-{j:04}")), b"").unwrap();
            }
            age(&d);
            dirs.push(d);
        }
        let one = SortedDir::read(&dirs[0]).unwrap().0.bytes();
        let cache = DirCache::new(one * 2 + one / 2);
        for d in &dirs {
            cache.get(d).unwrap();
        }
        assert!(cache.bytes() <= one * 2 + one / 2);
        assert!(cache.bytes() >= one * 2);
    }
}
