//! Bucket usage for AIStore's bucket summary: object count, sizes, bytes on disk, and
//! the size and use of the disks holding them.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Error, ObjectStore, Result};
use crate::fs::layout;

/// What one target (or, merged, a cluster) holds of a bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketUsage {
    /// Objects.
    pub count: u64,
    /// Smallest object, bytes (0 when there is none).
    pub min: u64,
    /// Largest object, bytes.
    pub max: u64,
    /// Sum of object sizes.
    pub total: u64,
    /// Bytes the objects take on disk (allocated blocks).
    pub on_disk: u64,
    /// Size of the disks (mountpaths) holding them.
    pub disks_size: u64,
}

impl BucketUsage {
    /// Adds another target's usage.
    pub fn merge(&mut self, o: &BucketUsage) {
        if o.count > 0 {
            self.min = if self.count == 0 {
                o.min
            } else {
                self.min.min(o.min)
            };
        }
        self.count += o.count;
        self.max = self.max.max(o.max);
        self.total += o.total;
        self.on_disk += o.on_disk;
        self.disks_size += o.disks_size;
    }

    fn add_object(&mut self, size: u64, on_disk: u64) {
        self.min = if self.count == 0 {
            size
        } else {
            self.min.min(size)
        };
        self.count += 1;
        self.max = self.max.max(size);
        self.total += size;
        self.on_disk += on_disk;
    }
}

impl ObjectStore {
    /// This target's usage of `bucket`, objects whose names start with `prefix`.
    pub async fn bucket_usage(&self, bucket: &str, prefix: &str) -> Result<BucketUsage> {
        self.require_bucket(bucket)?;
        let roots: Vec<_> = self
            .mountpaths
            .current()
            .readable()
            .map(|m| (m.path.clone(), layout::objects_dir(&m.path, bucket)))
            .collect();
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || {
            let mut usage = BucketUsage::default();
            for (mp, root) in &roots {
                walk(root, root, &prefix, &mut usage);
                if let Ok(fs) = nix::sys::statvfs::statvfs(mp.as_path()) {
                    usage.disks_size += fs.blocks() * fs.fragment_size();
                }
            }
            usage
        })
        .await
        .map_err(|e| Error::io(format!("{bucket}: summary"), std::io::Error::other(e)))
    }
}

fn walk(root: &Path, dir: &Path, prefix: &str, usage: &mut BucketUsage) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(m) = e.metadata() else { continue };
        let path = e.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        if m.is_dir() {
            // Only subtrees that can hold names with the prefix.
            let d = format!("{rel}/");
            if d.starts_with(prefix) || prefix.starts_with(&d) {
                walk(root, &path, prefix, usage);
            }
        } else if m.is_file() && rel.starts_with(prefix) {
            usage.add_object(m.len(), m.blocks() * 512);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_like_one_bucket() {
        let mut a = BucketUsage::default();
        a.add_object(10, 4096);
        a.add_object(30, 4096);
        let mut b = BucketUsage::default();
        b.add_object(5, 4096);
        let mut all = BucketUsage::default();
        all.merge(&BucketUsage::default());
        all.merge(&a);
        all.merge(&b);
        assert_eq!(
            (all.count, all.min, all.max, all.total, all.on_disk),
            (3, 5, 30, 45, 12288)
        );
    }
}
