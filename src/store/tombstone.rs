//! Tombstones: a DELETE in a cluster leaves a mark, `<mountpath>/@ais/<bucket>/%tb/<object>`
//! (an empty file whose modification time is the deletion time), for a while. Without it
//! a copy held by a target that was away when the DELETE happened would come back with
//! that target: its walk would move the stale copy to the owner, or the owner would
//! fetch it on a GET. With it, a copy written before the deletion is refused on arrival
//! and removed where the mark is carried (the walk of the target holding the mark sends
//! it to the owner, like an object).
//!
//! Names share one tree, so a mark can meet a directory of older marks (`a` deleted after
//! `a/b` was): the mark of `a` is then the directory's `user.ais.tomb` attribute (the
//! deletion time, unix ns), and a file mark in the way of a new one below it becomes such
//! a directory. These marks stop stale copies here; only file marks are carried by walks.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::commit::prune_empty_dirs;
use super::list::sorted_names;
use super::{Error, ObjectStore, Result};
use crate::fs::layout;
use crate::names::validate_object;

fn mtime_ns(m: &std::fs::Metadata) -> i64 {
    m.mtime() * 1_000_000_000 + m.mtime_nsec()
}

/// The attribute that makes a directory of marks a mark itself.
const DIR_MARK: &str = "user.ais.tomb";

/// The deletion time a mark at `path` records, file or directory.
fn mark_time(path: &Path) -> Option<i64> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => Some(mtime_ns(&m)),
        Ok(m) if m.is_dir() => xattr::get(path, DIR_MARK)
            .ok()
            .flatten()
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|v| v.parse().ok()),
        _ => None,
    }
}

/// Removes empty directories from `dir` up to `root`, stopping at one that is a mark.
fn prune_marks(dir: &Path, root: &Path) {
    let mut d = dir.to_path_buf();
    while d != root && d.starts_with(root) {
        if mark_time(&d).is_some() || std::fs::remove_dir(&d).is_err() {
            break;
        }
        if !d.pop() {
            break;
        }
    }
}

/// Writes the mark of a deletion at `when_ns` at `path`, below `root`.
fn write_mark(root: &Path, path: &Path, when_ns: i64) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return xattr::set(path, DIR_MARK, when_ns.to_string().as_bytes());
    }
    // An older file mark where this one needs a directory becomes a directory mark.
    if let Ok(rel) = path.strip_prefix(root) {
        let mut at = root.to_path_buf();
        let parts: Vec<_> = rel.components().collect();
        for c in &parts[..parts.len().saturating_sub(1)] {
            at.push(c);
            if let Ok(m) = std::fs::symlink_metadata(&at) {
                if m.is_file() {
                    let t = mtime_ns(&m);
                    std::fs::remove_file(&at)?;
                    std::fs::create_dir(&at)?;
                    xattr::set(&at, DIR_MARK, t.to_string().as_bytes())?;
                }
            }
        }
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let when = UNIX_EPOCH + Duration::from_nanos(u64::try_from(when_ns).unwrap_or(0));
    std::fs::File::create(path)?.set_modified(when)
}

impl ObjectStore {
    /// Marks `bucket/object` as deleted at `when_ns` (on its HRW mountpath).
    pub async fn add_tombstone(&self, bucket: &str, object: &str, when_ns: i64) -> Result<()> {
        validate_object(object)?;
        let (_, mp) = self.place(bucket, object)?;
        let path = layout::tombstone_path(&mp.path, bucket, object);
        let root = layout::tombstones_dir(&mp.path, bucket);
        mp.disk
            .call(move || write_mark(&root, &path, when_ns))
            .await
            .map_err(|e| Error::io(format!("{bucket}/{object}: tombstone"), e))
    }

    /// When `bucket/object` was deleted here, if a tombstone says so.
    pub async fn tombstone(&self, bucket: &str, object: &str) -> Result<Option<i64>> {
        validate_object(object)?;
        let (_, mp) = self.place(bucket, object)?;
        let path = layout::tombstone_path(&mp.path, bucket, object);
        Ok(mark_time(&path))
    }

    /// A copy moving here was refused (or removed) because of the deletion at `when_ns`:
    /// the mark moves on by one nanosecond, which tells that DELETE, still running, that
    /// it did delete an object (see [`ObjectStore::stopped_a_copy`]).
    pub async fn note_stopped_copy(&self, bucket: &str, object: &str, when_ns: i64) -> Result<()> {
        if self.tombstone(bucket, object).await? == Some(when_ns) {
            self.add_tombstone(bucket, object, when_ns + 1).await?;
        }
        Ok(())
    }

    /// Whether the deletion marked at `when_ns` stopped a copy on its way here.
    pub async fn stopped_a_copy(&self, bucket: &str, object: &str, when_ns: i64) -> Result<bool> {
        Ok(self.tombstone(bucket, object).await? == Some(when_ns + 1))
    }

    /// A deletion at `when_ns` made elsewhere: removes the object here (on any readable
    /// mountpath) if it was written before then, and keeps the tombstone. Returns whether
    /// a copy was removed.
    pub async fn apply_tombstone(&self, bucket: &str, object: &str, when_ns: i64) -> Result<bool> {
        let (key, _) = self.place_checked(bucket, object)?;
        let mut removed = false;
        for mp in self.mountpaths.current().readable() {
            let path = layout::object_path(&mp.path, bucket, object);
            let objects_dir = layout::objects_dir(&mp.path, bucket);
            let gone = mp
                .disk
                .call(move || match std::fs::symlink_metadata(&path) {
                    Ok(m) if m.is_file() && mtime_ns(&m) < when_ns => {
                        std::fs::remove_file(&path)?;
                        if let Some(parent) = path.parent() {
                            prune_empty_dirs(parent, &objects_dir);
                        }
                        Ok(true)
                    }
                    _ => Ok(false),
                })
                .await
                .map_err(|e| Error::io(format!("{bucket}/{object}: apply deletion"), e))?;
            removed |= gone;
        }
        self.meta_cache.forget(key);
        self.add_tombstone(bucket, object, when_ns).await?;
        Ok(removed)
    }

    /// Removes the tombstone of `bucket/object` if it is still the one made at `when_ns`
    /// (a DELETE that found nothing to delete).
    pub async fn forget_tombstone(&self, bucket: &str, object: &str, when_ns: i64) -> Result<()> {
        validate_object(object)?;
        let (_, mp) = self.place(bucket, object)?;
        let path = layout::tombstone_path(&mp.path, bucket, object);
        let objects_dir = layout::tombstones_dir(&mp.path, bucket);
        mp.disk
            .call(move || match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() && mtime_ns(&m) == when_ns => {
                    std::fs::remove_file(&path)?;
                    if let Some(parent) = path.parent() {
                        prune_marks(parent, &objects_dir);
                    }
                    Ok(())
                }
                Ok(m) if m.is_dir() && mark_time(&path) == Some(when_ns) => {
                    xattr::remove(&path, DIR_MARK)
                }
                _ => Ok(()),
            })
            .await
            .map_err(|e| Error::io(format!("{bucket}/{object}: forget tombstone"), e))
    }

    /// Up to `n` tombstones of `bucket` after `after`, by name, with their times.
    pub async fn tombstones(
        &self,
        bucket: &str,
        after: &str,
        n: usize,
    ) -> Result<Vec<(String, i64)>> {
        let roots: Vec<_> = self
            .mountpaths
            .current()
            .readable()
            .map(|m| layout::tombstones_dir(&m.path, bucket))
            .collect();
        let after = after.to_string();
        let found = tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            for root in &roots {
                let names = match sorted_names(None, root, "", &after, n) {
                    Ok(v) => v,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                for name in names {
                    if let Ok(m) = std::fs::symlink_metadata(root.join(&name)) {
                        all.push((name, mtime_ns(&m)));
                    }
                }
            }
            all.sort();
            all.dedup_by(|a, b| a.0 == b.0);
            all.truncate(n);
            Ok(all)
        })
        .await
        .map_err(|e| Error::io(format!("{bucket}: tombstones"), std::io::Error::other(e)))?;
        found.map_err(|e| Error::io(format!("{bucket}: tombstones"), e))
    }

    /// Removes tombstones older than `max_age`; returns how many.
    pub fn expire_tombstones(&self, max_age: Duration) -> usize {
        let cutoff = SystemTime::now().checked_sub(max_age).unwrap_or(UNIX_EPOCH);
        let mut removed = 0;
        for mp in self.mountpaths.current().readable() {
            for (bucket, _) in self.list_buckets() {
                let root = layout::tombstones_dir(&mp.path, &bucket);
                removed += expire_under(&root, &root, cutoff);
            }
        }
        removed
    }
}

fn expire_under(dir: &Path, root: &Path, cutoff: SystemTime) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let Ok(m) = e.metadata() else { continue };
        if m.is_dir() {
            removed += expire_under(&e.path(), root, cutoff);
            let old = mark_time(&e.path()).is_some_and(|t| {
                UNIX_EPOCH + Duration::from_nanos(u64::try_from(t).unwrap_or(0)) < cutoff
            });
            if old && xattr::remove(e.path(), DIR_MARK).is_ok() {
                removed += 1;
            }
            prune_marks(&e.path(), root);
        } else if m.modified().is_ok_and(|t| t < cutoff) && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_of_names_that_were_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("%tb");
        std::fs::create_dir(&root).unwrap();
        // `a/b` deleted, then `a` (a directory of marks is in the way).
        write_mark(&root, &root.join("a/b"), 1_000_000_000).unwrap();
        write_mark(&root, &root.join("a"), 2_000_000_000).unwrap();
        assert_eq!(mark_time(&root.join("a")), Some(2_000_000_000));
        assert_eq!(mark_time(&root.join("a/b")), Some(1_000_000_000));
        // `c` deleted, then `c/d` (a file mark is in the way).
        write_mark(&root, &root.join("c"), 3_000_000_000).unwrap();
        write_mark(&root, &root.join("c/d"), 4_000_000_000).unwrap();
        assert_eq!(mark_time(&root.join("c")), Some(3_000_000_000));
        assert_eq!(mark_time(&root.join("c/d")), Some(4_000_000_000));
        // All old: expired, and the directories go with them.
        let far = SystemTime::now() + Duration::from_secs(10);
        assert_eq!(expire_under(&root, &root, far), 4);
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
    }
}
