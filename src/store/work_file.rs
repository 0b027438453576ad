//! A work file that removes itself unless committed: whatever happens to a PUT (client
//! gone, checksum mismatch, error), no partial object and no work file stays behind.

use std::path::PathBuf;

use crate::disk::DiskHandle;

/// Guard over a work file's path.
pub(super) struct WorkFile {
    path: Option<PathBuf>,
    disk: DiskHandle,
}

impl WorkFile {
    /// Guards `path`, to be removed through `disk`'s worker.
    pub(super) fn new(path: PathBuf, disk: DiskHandle) -> WorkFile {
        WorkFile {
            path: Some(path),
            disk,
        }
    }

    /// The guarded path.
    pub(super) fn path(&self) -> &std::path::Path {
        self.path.as_deref().unwrap_or(std::path::Path::new(""))
    }

    /// Removes the work file now, waiting for it (used when a PUT fails, so no work file
    /// outlives the error reply).
    pub(super) async fn remove(mut self) {
        if let Some(path) = self.path.take() {
            let _ = self.disk.call(move || std::fs::remove_file(path)).await;
        }
    }

    /// The file was renamed into place: nothing to remove.
    pub(super) fn committed(mut self) {
        self.path = None;
    }
}

impl Drop for WorkFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            self.disk.call_detached(move || {
                let _ = std::fs::remove_file(path);
            });
        }
    }
}
