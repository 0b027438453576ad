//! Bucket create, destroy, list and start-up recovery.

use std::collections::BTreeMap;
use std::path::Path;

use super::{unix_ns, BucketInfo, Error, ObjectStore, Result};
use crate::fs::{layout, Mountpaths};
use crate::names::validate_bucket;

impl ObjectStore {
    /// Creates the bucket's directories on every mountpath.
    pub async fn create_bucket(&self, bucket: &str) -> Result<()> {
        validate_bucket(bucket)?;
        let _changing = self.bucket_changes.lock().await;
        if self.read_buckets().contains_key(bucket) {
            return Err(Error::BucketExists(bucket.to_string()));
        }
        for mp in self.mountpaths.available() {
            let (ob, wk) = (
                layout::objects_dir(&mp.path, bucket),
                layout::work_dir(&mp.path, bucket),
            );
            mp.disk
                .call(move || {
                    std::fs::create_dir_all(&ob)?;
                    std::fs::create_dir_all(&wk)
                })
                .await
                .map_err(|e| Error::io(format!("{bucket}: create bucket"), e))?;
        }
        let created_ns = unix_ns(Ok(std::time::SystemTime::now()));
        let mut buckets = self.write_buckets();
        if buckets.contains_key(bucket) {
            return Err(Error::BucketExists(bucket.to_string()));
        }
        buckets.insert(bucket.to_string(), BucketInfo { created_ns });
        Ok(())
    }

    /// Removes the bucket and all its objects. The directories are renamed into the
    /// mountpath's trash at once and deleted in the background.
    pub async fn destroy_bucket(&self, bucket: &str) -> Result<()> {
        let _changing = self.bucket_changes.lock().await;
        self.require_bucket(bucket)?;
        self.write_buckets().remove(bucket);
        for mp in self.mountpaths.available() {
            let dir = layout::bucket_dir(&mp.path, bucket);
            let trash = mp.path.join(layout::TRASH_DIR);
            let name = format!("{bucket}.{}", unix_ns(Ok(std::time::SystemTime::now())));
            let moved = mp
                .disk
                .call(move || {
                    std::fs::create_dir_all(&trash)?;
                    match std::fs::rename(&dir, trash.join(name)) {
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                        r => r,
                    }
                })
                .await;
            moved.map_err(|e| Error::io(format!("{bucket}: destroy bucket"), e))?;
            // Files kept open for hot objects would keep the bucket's space in use.
            self.meta_cache.clear();
            let trash = mp.path.join(layout::TRASH_DIR);
            tokio::task::spawn_blocking(move || empty_trash(&trash));
        }
        Ok(())
    }

    /// Renames bucket `from` to `to` (which must not exist): each
    /// mountpath's object tree moves with one `rename`, so it is instant and nothing is
    /// copied. Objects then sit where HRW placed them under the old name; the caller
    /// starts the walks that move them (rebalance, resilver), and reads find them
    /// meanwhile (other mountpaths, other targets). Returns `false` when it was done
    /// already (`from` gone, `to` there): a repeat, which changes nothing.
    pub async fn move_bucket(&self, from: &str, to: &str) -> Result<bool> {
        validate_bucket(to)?;
        let _changing = self.bucket_changes.lock().await;
        if self.require_bucket(from).is_err() && self.require_bucket(to).is_ok() {
            return Ok(false);
        }
        self.require_bucket(from)?;
        if self.read_buckets().contains_key(to) {
            return Err(Error::BucketExists(to.to_string()));
        }
        for mp in self.mountpaths.current().every() {
            let (src, dst) = (
                layout::bucket_dir(&mp.path, from),
                layout::bucket_dir(&mp.path, to),
            );
            let trash = mp.path.join(layout::TRASH_DIR);
            let stamp = unix_ns(Ok(std::time::SystemTime::now()));
            let moved = mp
                .disk
                .call(move || {
                    if dst.exists() {
                        // Left over from an earlier bucket of that name: to the trash.
                        std::fs::create_dir_all(&trash)?;
                        std::fs::rename(&dst, trash.join(format!("moved.{stamp}")))?;
                    }
                    if src.exists() {
                        std::fs::rename(&src, &dst)?;
                    }
                    std::fs::create_dir_all(dst.join(layout::OBJECTS_DIR))?;
                    std::fs::create_dir_all(dst.join(layout::WORK_DIR))?;
                    // Deletions remembered under the old name do not apply to the new one.
                    let _ = std::fs::remove_dir_all(dst.join(layout::TOMBSTONES_DIR));
                    Ok(())
                })
                .await;
            moved.map_err(|e| Error::io(format!("{from}: move to {to}"), e))?;
        }
        self.meta_cache.clear();
        let mut buckets = self.write_buckets();
        let info = buckets.remove(from);
        buckets.insert(
            to.to_string(),
            info.unwrap_or(BucketInfo {
                created_ns: unix_ns(Ok(std::time::SystemTime::now())),
            }),
        );
        Ok(true)
    }

    /// Names and facts of all buckets, sorted by name.
    pub fn list_buckets(&self) -> Vec<(String, BucketInfo)> {
        self.read_buckets()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Facts about one bucket.
    pub fn bucket_info(&self, bucket: &str) -> Result<BucketInfo> {
        validate_bucket(bucket)?;
        self.read_buckets()
            .get(bucket)
            .cloned()
            .ok_or_else(|| Error::BucketNotFound(bucket.to_string()))
    }
}

/// Start-up recovery: empties trash, removes every work file (no PUT survives a restart,
/// and a mountpath belongs to one target only), and returns the buckets found.
pub(super) fn recover(mountpaths: &Mountpaths) -> Result<BTreeMap<String, BucketInfo>> {
    let mut buckets = BTreeMap::new();
    for mp in mountpaths.available() {
        empty_trash(&mp.path.join(layout::TRASH_DIR));
        let root = mp.path.join(layout::PROVIDER_DIR);
        let entries = match std::fs::read_dir(&root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(format!("read {}", root.display()), e)),
        };
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if validate_bucket(&name).is_err() || !entry.path().is_dir() {
                continue;
            }
            let removed = remove_work_files(&layout::work_dir(&mp.path, &name));
            if removed > 0 {
                tracing::info!(mountpath = %mp.path.display(), bucket = %name, removed, "removed stale work files");
            }
            let created_ns = unix_ns(entry.metadata().and_then(|m| m.modified()));
            let info = buckets
                .entry(name.clone())
                .or_insert(BucketInfo { created_ns });
            info.created_ns = info.created_ns.min(created_ns);
        }
    }
    // A bucket seen on some mountpaths only (crash mid-create) gets its dirs everywhere.
    for name in buckets.keys() {
        for mp in mountpaths.available() {
            for dir in [
                layout::objects_dir(&mp.path, name),
                layout::work_dir(&mp.path, name),
            ] {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
            }
        }
    }
    Ok(buckets)
}

/// Removes every file in a work directory; returns how many.
pub(crate) fn remove_work_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

fn empty_trash(trash: &Path) {
    if let Ok(entries) = std::fs::read_dir(trash) {
        for entry in entries.flatten() {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(path = %entry.path().display(), error = %e, "cannot empty trash");
            }
        }
    }
}

impl ObjectStore {
    /// Removes every work file on every mountpath; returns how many (used at shutdown,
    /// after in-flight requests have ended).
    pub fn sweep_work_files(&self) -> usize {
        let mut removed = 0;
        for (name, _) in self.list_buckets() {
            for mp in self.mountpaths.available() {
                removed += remove_work_files(&layout::work_dir(&mp.path, &name));
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::testing::store;
    use super::super::PutOptions;

    #[tokio::test]
    async fn a_rename_repeated_while_it_runs_moves_once_and_loses_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        s.create_bucket("src").await.expect("bucket");
        for i in 0..20 {
            let body = futures_util::stream::iter([Ok(Bytes::from(format!("v{i}")))]);
            s.put("src", &format!("o{i}"), body, PutOptions::default())
                .await
                .expect("put");
        }
        // The proxy's rename and its repeat (or a late one) at once.
        let (a, b) = tokio::join!(s.move_bucket("src", "dst"), s.move_bucket("src", "dst"));
        let moved = [a.expect("first"), b.expect("second")];
        assert_eq!(moved.iter().filter(|m| **m).count(), 1, "{moved:?}");
        assert!(s.require_bucket("src").is_err());
        for i in 0..20 {
            let r = s.open_object("dst", &format!("o{i}")).await.expect("kept");
            assert_eq!(r.info.meta.size, format!("v{i}").len() as u64);
        }
    }
}
