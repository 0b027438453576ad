//! Erasure-coded slices of objects whose owner is another target: one slice per object
//! here at most, under `%ec/<object>` on the object's HRW mountpath, with the slice's own
//! size and XXH64 in `user.ais.lom` (so reads check it like an object's) and what it is a
//! slice of in `user.ais.ec` ([`SliceInfo`]: index, scheme, the whole object's metadata).

use std::time::{Duration, UNIX_EPOCH};

use futures_util::Stream;
use serde::{Deserialize, Serialize};

use super::commit::{Commit, CommitMode};
use super::get::open_blocking;
use super::meta::ObjectMeta;
use super::put::{BodyResult, PutOptions};
use super::reader::ObjectReader;
use super::{Error, ObjectStore, Result};
use crate::fs::layout;
use crate::hrw;

/// Name of the slice-description xattr.
pub const EC_XATTR: &str = "user.ais.ec";

/// What a slice file is a slice of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceInfo {
    /// Which slice (0..D are data, D..D+P parity).
    pub index: u32,
    /// Data slices of the scheme.
    pub data: u32,
    /// Parity slices of the scheme.
    pub parity: u32,
    /// Bytes per shard (see [`crate::erasure::Layout`]).
    pub shard: u32,
    /// The whole object's metadata (size, checksum, version, user metadata).
    pub object: ObjectMeta,
    /// The object's modification time, unix ns.
    pub mtime_ns: i64,
}

impl SliceInfo {
    /// The coding layout this slice belongs to.
    pub fn layout(&self) -> crate::erasure::Layout {
        crate::erasure::Layout {
            data: self.data as usize,
            parity: self.parity as usize,
            shard: self.shard as usize,
            size: self.object.size,
        }
    }

    /// `[8B BE digest][msgpack]`.
    pub fn encode(&self) -> Vec<u8> {
        let payload = rmp_serde::to_vec(self).unwrap_or_default();
        let mut out = hrw::digest(&payload).to_be_bytes().to_vec();
        out.extend_from_slice(&payload);
        out
    }

    pub fn decode(raw: &[u8]) -> std::result::Result<SliceInfo, String> {
        if raw.len() < 8 {
            return Err("slice description too short".into());
        }
        let (digest, payload) = raw.split_at(8);
        if digest != hrw::digest(payload).to_be_bytes() {
            return Err("slice description digest mismatch".into());
        }
        rmp_serde::from_slice(payload).map_err(|e| e.to_string())
    }
}

impl ObjectStore {
    /// Stores `body` as this target's slice of `bucket/object`, replacing an older one
    /// (or the same version's slice under another index). Refused like a replica when a
    /// newer slice is here or the object was deleted here since.
    pub async fn put_slice<S>(
        &self,
        bucket: &str,
        object: &str,
        body: S,
        info: SliceInfo,
    ) -> Result<()>
    where
        S: Stream<Item = BodyResult> + Unpin,
    {
        let (key, mp) = self.place_checked(bucket, object)?;
        if self.tombstone(bucket, object).await? >= Some(info.mtime_ns) {
            return Err(Error::NotNewer {
                bucket: bucket.into(),
                object: object.into(),
                have: 0,
            });
        }
        let opts = PutOptions {
            size: Some(info.layout().slice_size()),
            ..PutOptions::default()
        };
        let written = self
            .write_work_file(bucket, object, &mp, body, &opts)
            .await?;
        let meta = ObjectMeta {
            version: info.object.version,
            ..written.meta()
        };
        let mtime = UNIX_EPOCH + Duration::from_nanos(u64::try_from(info.mtime_ns).unwrap_or(0));
        let commit = Commit {
            work: written.guard.path().to_path_buf(),
            objects_dir: layout::slices_dir(&mp.path, bucket),
            target: layout::slice_path(&mp.path, bucket, object),
            durability: self.cfg.durability,
            data_flushed: false,
            mode: CommitMode::Slice(mtime),
            extra: Some((EC_XATTR, info.encode())),
        };
        self.ensure_dir(&mp, layout::slices_dir(&mp.path, bucket))
            .await?;
        self.commit_as((bucket, object, key), &mp, written, meta, commit)
            .await
            .map(|_| ())
    }

    async fn ensure_dir(&self, mp: &crate::fs::Mountpath, dir: std::path::PathBuf) -> Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        mp.disk
            .call(move || std::fs::create_dir_all(&dir))
            .await
            .map_err(|e| Error::io("create the slices directory", e))
    }

    /// This target's slice of `bucket/object` (on its HRW mountpath, or any other a
    /// mountpath change left it on), opened to stream and checked against its XXH64 as
    /// it streams whole.
    pub async fn open_slice(
        &self,
        bucket: &str,
        object: &str,
    ) -> Result<(ObjectReader, SliceInfo)> {
        let (_, hrw_mp) = self.place_checked(bucket, object)?;
        let set = self.mountpaths.current();
        let others = set.readable().filter(|m| m.path != hrw_mp.path).cloned();
        let direct = self.cfg.direct_io;
        for mp in std::iter::once(hrw_mp.clone()).chain(others) {
            let path = layout::slice_path(&mp.path, bucket, object);
            let opened = mp
                .disk
                .call(move || {
                    let o = open_blocking(&path, direct, false, None)?;
                    let info = xattr::get(&path, EC_XATTR).ok().flatten();
                    Ok::<_, std::io::Error>((o, info))
                })
                .await
                .map_err(|e| Error::io(format!("{bucket}/{object}: open slice"), e))?;
            let (Ok(o), Some(raw)) = opened else { continue };
            let Ok(info) = SliceInfo::decode(&raw) else {
                continue;
            };
            return Ok((self.reader(o, &mp, false, direct, bucket, object), info));
        }
        Err(Error::ObjectNotFound {
            bucket: bucket.into(),
            object: object.into(),
        })
    }

    /// The description of this target's slice of `bucket/object`, if it has one.
    pub async fn slice_info(&self, bucket: &str, object: &str) -> Result<Option<SliceInfo>> {
        match self.open_slice(bucket, object).await {
            Ok((_, info)) => Ok(Some(info)),
            Err(Error::ObjectNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Removes this target's slice of `bucket/object` (only if of `version`, when
    /// given); returns whether one was removed.
    pub async fn remove_slice(
        &self,
        bucket: &str,
        object: &str,
        version: Option<u64>,
    ) -> Result<bool> {
        self.place_checked(bucket, object)?;
        let mut removed = false;
        for mp in self.mountpaths.current().readable() {
            let path = layout::slice_path(&mp.path, bucket, object);
            let root = layout::slices_dir(&mp.path, bucket);
            let gone = mp
                .disk
                .call(move || super::delete::remove_one(&path, &root, version))
                .await;
            match gone {
                Ok(g) => removed |= g,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {}
                Err(e) => return Err(Error::io(format!("{bucket}/{object}: remove slice"), e)),
            }
        }
        Ok(removed)
    }

    /// Up to `n` names of objects of `bucket` with a slice here, after `after`, sorted.
    pub async fn slices(&self, bucket: &str, after: &str, n: usize) -> Result<Vec<String>> {
        let roots: Vec<_> = self
            .mountpaths
            .current()
            .readable()
            .map(|m| layout::slices_dir(&m.path, bucket))
            .collect();
        let after = after.to_string();
        let found = tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            for root in &roots {
                match super::list::sorted_names(None, root, "", &after, n) {
                    Ok(v) => all.extend(v),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            all.sort();
            all.dedup();
            all.truncate(n);
            Ok(all)
        })
        .await
        .map_err(|e| Error::io(format!("{bucket}: slices"), std::io::Error::other(e)))?;
        found.map_err(|e| Error::io(format!("{bucket}: slices"), e))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures_util::TryStreamExt;

    use super::*;
    use crate::store::testing::store;

    fn info(index: u32, version: u64, mtime_ns: i64, size: u64) -> SliceInfo {
        let layout = crate::erasure::Layout::new(2, 1, size);
        SliceInfo {
            index,
            data: 2,
            parity: 1,
            shard: layout.shard as u32,
            object: ObjectMeta {
                size,
                version,
                ..ObjectMeta::default()
            },
            mtime_ns,
        }
    }

    async fn put(s: &ObjectStore, i: SliceInfo, data: &'static [u8]) -> Result<()> {
        let body = futures_util::stream::iter([Ok(Bytes::from_static(data))]);
        s.put_slice("b", "dir/o", body, i).await
    }

    #[tokio::test]
    async fn slices_are_kept_apart_from_objects_and_replaced_only_by_newer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        s.create_bucket("b").await.expect("bucket");
        // A 20-byte object: shards of 10 bytes, one stripe.
        put(&s, info(0, 3, 2_000_000_000, 20), b"0123456789")
            .await
            .expect("slice");
        assert!(matches!(
            s.open_object("b", "dir/o").await,
            Err(Error::ObjectNotFound { .. })
        ));
        let (r, got) = s.open_slice("b", "dir/o").await.expect("open");
        assert_eq!(got, info(0, 3, 2_000_000_000, 20));
        let bytes: Vec<Bytes> = r.stream(0, 10).try_collect().await.expect("read");
        assert_eq!(bytes.concat(), b"0123456789");
        // The wrong length is refused; an older one is refused; the same version under
        // another index replaces it.
        assert!(put(&s, info(1, 4, 3_000_000_000, 20), b"short")
            .await
            .is_err());
        let older = put(&s, info(1, 2, 1_000_000_000, 20), b"abcdefghij").await;
        assert!(matches!(older, Err(Error::NotNewer { .. })), "{older:?}");
        put(&s, info(2, 3, 2_000_000_000, 20), b"ABCDEFGHIJ")
            .await
            .expect("same version, other index");
        assert_eq!(s.slice_info("b", "dir/o").await.unwrap().unwrap().index, 2);
        assert_eq!(s.slices("b", "", 10).await.unwrap(), ["dir/o"]);
        assert!(!s.remove_slice("b", "dir/o", Some(9)).await.unwrap());
        assert!(s.remove_slice("b", "dir/o", None).await.unwrap());
        assert_eq!(s.slice_info("b", "dir/o").await.unwrap(), None);
        // A deletion here after the object was written refuses its slice.
        s.add_tombstone("b", "dir/o", 5_000_000_000).await.unwrap();
        let deleted = put(&s, info(0, 3, 4_000_000_000, 20), b"0123456789").await;
        assert!(
            matches!(deleted, Err(Error::NotNewer { .. })),
            "{deleted:?}"
        );
    }
}
