//! DELETE: removing an object from every mountpath that holds a copy, or only the copy
//! still at a given version (one moved away meanwhile).

use std::io;
use std::path::Path;

use super::meta::ObjectMeta;
use super::{Error, ObjectStore, Result};
use crate::fs::layout;
use crate::names::validate_object;

impl ObjectStore {
    /// Removes `bucket/object` (from every mountpath that has a copy).
    pub async fn delete(&self, bucket: &str, object: &str) -> Result<()> {
        self.require_bucket(bucket)?;
        validate_object(object)?;
        if self.remove_copies(bucket, object, None).await? {
            Ok(())
        } else {
            Err(Error::ObjectNotFound {
                bucket: bucket.into(),
                object: object.into(),
            })
        }
    }

    /// Unlinks the object on its HRW mountpath and on any other readable one (a copy
    /// not yet resilvered), only where it is still at `version` when one is given.
    /// Each unlink runs on its mountpath's metadata thread, where that mountpath's
    /// commits run too, so no PUT lands between the check and the unlink. Returns
    /// whether anything was removed.
    pub(super) async fn remove_copies(
        &self,
        bucket: &str,
        object: &str,
        version: Option<u64>,
    ) -> Result<bool> {
        let (key, hrw) = self.place(bucket, object)?;
        let set = self.mountpaths.current();
        let others = set.readable().filter(|m| m.path != hrw.path).cloned();
        let mut removed = false;
        for mp in std::iter::once(hrw.clone()).chain(others) {
            let path = layout::object_path(&mp.path, bucket, object);
            let objects_dir = layout::objects_dir(&mp.path, bucket);
            let res = mp
                .disk
                .call(move || remove_one(&path, &objects_dir, version))
                .await;
            match res {
                Ok(gone) => removed |= gone,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {}
                Err(e) => {
                    self.meta_cache.forget(key);
                    return Err(Error::io(format!("{bucket}/{object}: delete"), e));
                }
            }
        }
        self.meta_cache.forget(key);
        Ok(removed)
    }
}

impl ObjectStore {
    /// Unlinks the object on one mountpath if it is still at `version`.
    pub(super) async fn remove_at(
        &self,
        mp: &crate::fs::Mountpath,
        bucket: &str,
        object: &str,
        version: u64,
    ) -> Result<bool> {
        let path = layout::object_path(&mp.path, bucket, object);
        let objects_dir = layout::objects_dir(&mp.path, bucket);
        match mp
            .disk
            .call(move || remove_one(&path, &objects_dir, Some(version)))
            .await
        {
            Ok(gone) => Ok(gone),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {
                Ok(false)
            }
            Err(e) => Err(Error::io(
                format!("{bucket}/{object}: remove moved copy"),
                e,
            )),
        }
    }
}

/// Unlinks one object file (if still at `version`, when given) and prunes emptied dirs.
pub(super) fn remove_one(
    path: &Path,
    objects_dir: &Path,
    version: Option<u64>,
) -> io::Result<bool> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Ok(false);
    }
    if let Some(version) = version {
        let current = xattr::get(path, super::meta::XATTR)
            .ok()
            .flatten()
            .and_then(|raw| ObjectMeta::decode(&raw).ok());
        if current.is_none_or(|m| m.version != version) {
            return Ok(false);
        }
    }
    std::fs::remove_file(path)?;
    if let Some(parent) = path.parent() {
        super::commit::prune_empty_dirs(parent, objects_dir);
    }
    Ok(true)
}
