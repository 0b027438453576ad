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
        if let Some(deleted) = self.deleted_since(bucket, object, mtime_ns).await? {
            self.note_stopped_copy(bucket, object, deleted).await?;
            return Err(not_newer(bucket, object));
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
        let info = self
            .commit(bucket, object, key, &mp, written, meta, Some(mtime))
            .await?;
        // A DELETE that came while the data was on its way writes its tombstone before it
        // deletes, so either that delete removed this copy or the tombstone is seen here.
        if let Some(deleted) = self.deleted_since(bucket, object, mtime_ns).await? {
            self.apply_tombstone(bucket, object, deleted).await?;
            self.note_stopped_copy(bucket, object, deleted).await?;
            return Err(not_newer(bucket, object));
        }
        Ok(info)
    }

    /// When `bucket/object` was deleted here, if that was not before `mtime_ns`.
    async fn deleted_since(
        &self,
        bucket: &str,
        object: &str,
        mtime_ns: i64,
    ) -> Result<Option<i64>> {
        Ok(self
            .tombstone(bucket, object)
            .await?
            .filter(|&deleted| deleted >= mtime_ns))
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

fn not_newer(bucket: &str, object: &str) -> Error {
    Error::NotNewer {
        bucket: bucket.into(),
        object: object.into(),
        have: 0,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures_util::StreamExt;

    use super::*;
    use crate::store::testing::store;

    /// A stored object's metadata and time, then the object is gone again: what a
    /// sender would carry.
    async fn carried(s: &ObjectStore, data: &'static [u8]) -> (ObjectMeta, i64) {
        let body = futures_util::stream::iter([Ok(Bytes::from_static(data))]);
        s.put("b", "o", body, PutOptions::default())
            .await
            .expect("put");
        let info = s.open_object("b", "o").await.expect("open").info;
        s.delete("b", "o").await.expect("delete");
        (info.meta, info.mtime_ns)
    }

    /// Runs `put_replica` with the body held back until `meanwhile` has run.
    async fn replica_around(
        s: &ObjectStore,
        meta: ObjectMeta,
        mtime: i64,
        data: &'static [u8],
        meanwhile: impl std::future::Future<Output = ()>,
    ) -> Result<ObjectInfo> {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let body = futures_util::stream::once(async move {
            let _ = rx.await;
            Ok(Bytes::from_static(data))
        })
        .boxed();
        let put = s.put_replica("b", "o", body, meta, mtime);
        let other = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            meanwhile.await;
            let _ = tx.send(());
        };
        tokio::join!(put, other).0
    }

    #[tokio::test]
    async fn a_copy_arriving_during_a_delete_does_not_come_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        s.create_bucket("b").await.expect("bucket");
        const DATA: &[u8] = b"moved while deleted";

        // Without a deletion the copy lands.
        let (meta, mtime) = carried(&s, DATA).await;
        let landed = replica_around(&s, meta, mtime, DATA, async {}).await;
        assert!(landed.is_ok(), "{landed:?}");
        assert!(s.open_object("b", "o").await.is_ok());
        s.delete("b", "o").await.expect("delete");

        // A DELETE (mark, then delete) while the data is on its way: refused, and gone.
        let (meta, mtime) = carried(&s, DATA).await;
        let now = crate::store::unix_now_ns();
        let refused = replica_around(&s, meta, mtime, DATA, async {
            s.add_tombstone("b", "o", now).await.expect("mark");
            let _ = s.delete("b", "o").await;
        })
        .await;
        assert!(
            matches!(refused, Err(Error::NotNewer { .. })),
            "{refused:?}"
        );
        assert!(matches!(
            s.open_object("b", "o").await,
            Err(Error::ObjectNotFound { .. })
        ));
        // ...and that DELETE learns it stopped a copy (so it answers 200, not 404).
        assert!(s.stopped_a_copy("b", "o", now).await.expect("mark read"));

        // A copy refused at the door (the mark was there first) tells it too.
        s.add_tombstone("b", "p", now).await.expect("mark");
        assert!(!s.stopped_a_copy("b", "p", now).await.expect("mark read"));
        let (meta, mtime) = carried(&s, DATA).await;
        let at_door = s
            .put_replica(
                "b",
                "p",
                futures_util::stream::iter([Ok(Bytes::from_static(DATA))]),
                meta,
                mtime - 1_000_000_000,
            )
            .await;
        assert!(
            matches!(at_door, Err(Error::NotNewer { .. })),
            "{at_door:?}"
        );
        assert!(s.stopped_a_copy("b", "p", now).await.expect("mark read"));
    }
}
