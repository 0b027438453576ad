//! Damaged objects are moved aside, never served and never left in place: a file whose
//! data no longer matches its checksum (bitrot, or zeros where a power cut lost the
//! data), that is shorter or longer than its metadata says, or that lost its metadata.
//! It goes to `<mountpath>/.ais.quarantine/<bucket>/<object>.<unix ns>` (kept for the
//! operator, never read again), and is counted. The object is then missing here, so a
//! request finds another copy (get-from-neighbor) or answers 404.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use prometheus::IntCounter;

use super::commit::prune_empty_dirs;
use crate::disk::DiskHandle;
use crate::fs::layout;

/// Identity of one object file: (device, inode). A damaged file is moved only if the
/// object's path still names it (a PUT may have replaced it meanwhile).
pub type FileId = (u64, u64);

/// The file identity of `meta`.
pub fn file_id(meta: &std::fs::Metadata) -> FileId {
    (meta.dev(), meta.ino())
}

/// Where damaged objects go and how they are counted.
#[derive(Debug, Clone)]
pub struct Quarantine {
    counter: IntCounter,
    /// The open-file cache, whose entry for a moved object must go (the store sets it).
    pub(super) cache: Option<std::sync::Arc<super::meta_cache::MetaCache>>,
}

/// One damaged object file.
#[derive(Debug, Clone)]
pub struct Damaged {
    /// The mountpath it is on.
    pub mountpath: PathBuf,
    /// Bucket.
    pub bucket: String,
    /// Object name.
    pub object: String,
    /// The file it was found in.
    pub id: FileId,
    /// What is wrong with it.
    pub reason: String,
}

impl Quarantine {
    /// Counts moved objects in `counter`.
    pub fn new(counter: IntCounter) -> Quarantine {
        Quarantine {
            counter,
            cache: None,
        }
    }

    /// Moves the file aside now (on the caller's thread: start-up scan).
    pub fn move_now(&self, d: &Damaged) -> io::Result<bool> {
        let moved = move_aside(d)?;
        if moved {
            if let Some(c) = &self.cache {
                // A file renamed away keeps its links: the cached descriptor would still
                // pass the hot path's fstat check.
                c.forget(crate::hrw::object_digest(&d.bucket, &d.object));
            }
            self.counter.inc();
            tracing::error!(mountpath = %d.mountpath.display(), bucket = %d.bucket, object = %d.object, reason = %d.reason, "damaged object moved aside (quarantined)");
        }
        Ok(moved)
    }

    /// Moves the file aside on the mountpath's metadata thread, where that mountpath's
    /// commits run too (no PUT lands between the identity check and the rename).
    pub fn move_later(&self, disk: &DiskHandle, d: Damaged) {
        let me = self.clone();
        disk.call_detached(move || {
            if let Err(e) = me.move_now(&d) {
                tracing::warn!(object = %d.object, error = %e, "cannot move damaged object aside");
            }
        });
    }
}

fn move_aside(d: &Damaged) -> io::Result<bool> {
    let path = layout::object_path(&d.mountpath, &d.bucket, &d.object);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() && file_id(&m) == d.id => {}
        Ok(_) => return Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_nanos());
    let dest = d
        .mountpath
        .join(layout::QUARANTINE_DIR)
        .join(&d.bucket)
        .join(format!("{}.{stamp}", d.object));
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(&path, &dest)?;
    if let Some(parent) = path.parent() {
        prune_empty_dirs(parent, &layout::objects_dir(&d.mountpath, &d.bucket));
    }
    Ok(true)
}

/// Files moved aside on `mountpath` so far (for tests and the operator).
pub fn quarantined_files(mountpath: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![mountpath.join(layout::QUARANTINE_DIR)];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(_) => n += 1,
                Err(_) => {}
            }
        }
    }
    n
}
