//! Setting an object's user metadata in place (AIStore's `PATCH /v1/objects/B/O`, the
//! SDK's `set_custom_props`): merged into what is there, or replacing it. The data, its
//! checksum and version stay as they are.

use std::collections::BTreeMap;

use super::meta::{metadata_size, ObjectMeta, MAX_USER_METADATA, XATTR};
use super::{Error, ObjectStore, Result};
use crate::fs::layout;

impl ObjectStore {
    /// Sets `custom` on `bucket/object`, replacing all user metadata when `replace`,
    /// else adding to it (a key given again takes the new value).
    pub async fn set_custom(
        &self,
        bucket: &str,
        object: &str,
        custom: BTreeMap<String, String>,
        replace: bool,
    ) -> Result<()> {
        let (key, hrw) = self.place_checked(bucket, object)?;
        let set = self.mountpaths.current();
        let others = set.readable().filter(|m| m.path != hrw.path).cloned();
        for mp in std::iter::once(hrw.clone()).chain(others) {
            let path = layout::object_path(&mp.path, bucket, object);
            let custom = custom.clone();
            // On the metadata thread, where this mountpath's commits run: no PUT lands
            // between the read and the write of the record.
            let outcome = mp
                .disk
                .call(
                    move || -> std::io::Result<Option<std::result::Result<(), usize>>> {
                        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                            return Ok(None);
                        }
                        let raw = xattr::get(&path, XATTR)?.unwrap_or_default();
                        let mut meta = ObjectMeta::decode(&raw).map_err(std::io::Error::other)?;
                        if replace {
                            meta.custom = custom;
                        } else {
                            meta.custom.extend(custom);
                        }
                        let size = metadata_size(&meta.custom);
                        if size > MAX_USER_METADATA {
                            return Ok(Some(Err(size)));
                        }
                        xattr::set(&path, XATTR, &meta.encode())?;
                        Ok(Some(Ok(())))
                    },
                )
                .await
                .map_err(|e| Error::io(format!("{bucket}/{object}: set custom metadata"), e))?;
            self.meta_cache.forget(key);
            match outcome {
                None => continue,
                Some(Ok(())) => return Ok(()),
                Some(Err(size)) => {
                    return Err(Error::MetadataTooLarge {
                        bucket: bucket.into(),
                        object: object.into(),
                        size,
                        max: MAX_USER_METADATA,
                    })
                }
            }
        }
        Err(Error::ObjectNotFound {
            bucket: bucket.into(),
            object: object.into(),
        })
    }
}
