//! On-disk layout, as in AIStore: `<mountpath>/@ais/<bucket>/%ob/<object>` for objects and
//! `<mountpath>/@ais/<bucket>/%wk/` for work files that are not objects yet.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Directory of all `ais://` buckets on a mountpath.
pub const PROVIDER_DIR: &str = "@ais";
/// Content-type directory of objects.
pub const OBJECTS_DIR: &str = "%ob";
/// Content-type directory of work (temporary) files.
pub const WORK_DIR: &str = "%wk";
/// Content-type directory of tombstones (deletions remembered for a while).
pub const TOMBSTONES_DIR: &str = "%tb";
/// Content-type directory of erasure-coded slices of objects other targets own.
pub const SLICES_DIR: &str = "%ec";
/// Content-type directory of multipart uploads in progress (never swept at start-up).
pub const UPLOADS_DIR: &str = "%mp";
/// Where damaged objects are moved aside (kept for the operator, never served).
pub const QUARANTINE_DIR: &str = ".ais.quarantine";
/// Where destroyed buckets wait for background removal.
pub const TRASH_DIR: &str = ".ais.trash";

/// `<mountpath>/@ais/<bucket>`.
pub fn bucket_dir(mountpath: &Path, bucket: &str) -> PathBuf {
    mountpath.join(PROVIDER_DIR).join(bucket)
}

/// `<mountpath>/@ais/<bucket>/%ob`.
pub fn objects_dir(mountpath: &Path, bucket: &str) -> PathBuf {
    bucket_dir(mountpath, bucket).join(OBJECTS_DIR)
}

/// `<mountpath>/@ais/<bucket>/%wk`.
pub fn work_dir(mountpath: &Path, bucket: &str) -> PathBuf {
    bucket_dir(mountpath, bucket).join(WORK_DIR)
}

/// `<mountpath>/@ais/<bucket>/%mp`.
pub fn uploads_dir(mountpath: &Path, bucket: &str) -> PathBuf {
    bucket_dir(mountpath, bucket).join(UPLOADS_DIR)
}

/// `<mountpath>/@ais/<bucket>/%tb`.
pub fn tombstones_dir(mountpath: &Path, bucket: &str) -> PathBuf {
    bucket_dir(mountpath, bucket).join(TOMBSTONES_DIR)
}

/// `<mountpath>/@ais/<bucket>/%tb/<object>`; `object` must be a validated name.
pub fn tombstone_path(mountpath: &Path, bucket: &str, object: &str) -> PathBuf {
    tombstones_dir(mountpath, bucket).join(object)
}

/// `<mountpath>/@ais/<bucket>/%ec`.
pub fn slices_dir(mountpath: &Path, bucket: &str) -> PathBuf {
    bucket_dir(mountpath, bucket).join(SLICES_DIR)
}

/// `<mountpath>/@ais/<bucket>/%ec/<object>`: the one slice of `object` this target keeps.
pub fn slice_path(mountpath: &Path, bucket: &str, object: &str) -> PathBuf {
    slices_dir(mountpath, bucket).join(object)
}

/// `<mountpath>/@ais/<bucket>/%ob/<object>`; `object` must be a validated name.
pub fn object_path(mountpath: &Path, bucket: &str, object: &str) -> PathBuf {
    objects_dir(mountpath, bucket).join(object)
}

/// A fresh, unique work-file path: `%wk/put.<name digest>.<sequence>.<pid>`.
/// Flat (no subdirectories), so clean-up is one directory read.
pub fn work_path(mountpath: &Path, bucket: &str, object: &str) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let digest = xxhash_rust::xxh64::xxh64(object.as_bytes(), 0);
    work_dir(mountpath, bucket).join(format!(
        "put.{digest:016x}.{seq:x}.{:x}",
        std::process::id()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_aistore_layout() {
        let mp = Path::new("/ais/nvme0n1");
        assert_eq!(
            object_path(mp, "abc", "images/dog.jpeg"),
            Path::new("/ais/nvme0n1/@ais/abc/%ob/images/dog.jpeg")
        );
        let w1 = work_path(mp, "abc", "x");
        let w2 = work_path(mp, "abc", "x");
        assert_ne!(w1, w2);
        assert_eq!(w1.parent().unwrap(), Path::new("/ais/nvme0n1/@ais/abc/%wk"));
    }
}
