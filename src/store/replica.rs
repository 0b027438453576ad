//! Objects moving between targets (rebalance, get-from-neighbor): stored here with the
//! metadata they had there (version, checksums, custom metadata, modification time),
//! the data checked against the carried XXH64 before commit; and removed there only if
//! still the version that was sent.

use std::time::{Duration, UNIX_EPOCH};

use futures_util::Stream;

use super::meta::{ObjectInfo, ObjectMeta};
use super::put::{BodyResult, PutOptions};
use super::{Error, ObjectStore, Result};
use crate::names::validate_object;

impl ObjectStore {
    /// Stores `body` as `bucket/object` with `meta` kept as it is (version included) and
    /// modification time `mtime_ns`. Fails with [`Error::NotNewer`] when the copy here was
    /// written later (nothing changes then), and with a checksum mismatch when the data
    /// differs from what `meta` says.
    pub async fn put_replica<S>(
        &self,
        bucket: &str,
        object: &str,
        body: S,
        meta: ObjectMeta,
        mtime_ns: i64,
    ) -> Result<ObjectInfo>
    where
        S: Stream<Item = BodyResult> + Unpin,
    {
        self.require_bucket(bucket)?;
        validate_object(object)?;
        // Deleted here after this copy was written: it must not come back.
        if self
            .tombstone(bucket, object)
            .await?
            .is_some_and(|deleted| deleted >= mtime_ns)
        {
            return Err(Error::NotNewer {
                bucket: bucket.into(),
                object: object.into(),
                have: 0,
            });
        }
        let (key, mp) = self.place(bucket, object)?;
        let expected = (meta.cksum_type == super::checksum::DEFAULT_TYPE)
            .then(|| (meta.cksum_type.clone(), meta.cksum_value.clone()));
        let opts = PutOptions {
            expected,
            size: Some(meta.size),
            ..PutOptions::default()
        };
        let written = self
            .write_work_file(bucket, object, &mp, body, &opts)
            .await?;
        let mtime = UNIX_EPOCH + Duration::from_nanos(u64::try_from(mtime_ns).unwrap_or(0));
        self.commit(bucket, object, key, &mp, written, meta, Some(mtime))
            .await
    }

    /// Removes `bucket/object` if it is still at `version` (moved away: a newer PUT that
    /// came meanwhile stays). Returns whether it was removed.
    pub async fn remove_if_version(
        &self,
        bucket: &str,
        object: &str,
        version: u64,
    ) -> Result<bool> {
        self.require_bucket(bucket)?;
        validate_object(object)?;
        self.remove_copies(bucket, object, Some(version)).await
    }
}
