//! N-way mirror: `n` copies of an object on the first `n` mountpaths HRW ranks for it
//! (the main copy on the first, as without a mirror), each the same file at the same
//! path on its own disk, with the same metadata and modification time. Any copy serves a
//! read (a missing or damaged main copy falls back to another, see `open_misplaced`); the
//! resilver walk keeps the copies where the ranking wants them and re-makes lost ones.

use std::path::PathBuf;
use std::sync::Arc;

use futures_util::TryStreamExt;

use super::put::PutOptions;
use super::{Error, ObjectStore, Result};
use crate::fs::{layout, Mountpath};

impl ObjectStore {
    /// The mountpaths `n` copies of `bucket/object` go to (fewer when fewer are
    /// available), the main copy's first.
    pub fn copy_mountpaths(&self, bucket: &str, object: &str, n: usize) -> Vec<Arc<Mountpath>> {
        let digest = crate::hrw::object_digest(bucket, object);
        self.mountpaths
            .current()
            .ranked(digest, n)
            .into_iter()
            .cloned()
            .collect()
    }

    /// Makes `bucket/object` present, at its current version, on each of the mountpaths
    /// [`ObjectStore::copy_mountpaths`] names for `n` copies (copied from the main copy,
    /// or whichever copy is found), and removes copies on the others. Returns how many
    /// copies it has now.
    pub async fn mirror(&self, bucket: &str, object: &str, n: usize) -> Result<usize> {
        let want = self.copy_mountpaths(bucket, object, n.max(1));
        let source = self.open_object(bucket, object).await?;
        let (meta, mtime_ns) = (source.info.meta.clone(), source.info.mtime_ns);
        let from = source.info.mountpath.clone();
        drop(source);
        let mut copies = 0;
        for mp in &want {
            if mp.path == from
                || self
                    .has_copy(mp, bucket, object, meta.version, mtime_ns)
                    .await
            {
                copies += 1;
                continue;
            }
            let reader = self.open_object(bucket, object).await?;
            if reader.info.meta.version != meta.version {
                return Ok(copies); // overwritten meanwhile: that PUT mirrors its own version
            }
            let size = reader.info.meta.size;
            let body = Box::pin(reader.stream(0, size).map_err(|e| e.to_string()));
            let opts = PutOptions {
                expected: Some((meta.cksum_type.clone(), meta.cksum_value.clone()))
                    .filter(|(t, _)| t == super::checksum::DEFAULT_TYPE),
                size: Some(size),
                ..PutOptions::default()
            };
            let written = self
                .write_work_file(bucket, object, mp, body, &opts)
                .await?;
            let mtime = std::time::UNIX_EPOCH
                + std::time::Duration::from_nanos(u64::try_from(mtime_ns).unwrap_or(0));
            let key = crate::hrw::object_digest(bucket, object);
            match self
                .commit(bucket, object, key, mp, written, meta.clone(), Some(mtime))
                .await
            {
                Ok(_) | Err(Error::NotNewer { .. }) => copies += 1,
                Err(e) => return Err(e),
            }
        }
        // Copies where the ranking no longer wants one (fewer copies asked, or a
        // mountpath came back): removed, only if still this version.
        let set = self.mountpaths.current();
        for mp in set.readable() {
            if want.iter().any(|w| w.path == mp.path) {
                continue;
            }
            if self
                .has_copy(mp, bucket, object, meta.version, mtime_ns)
                .await
            {
                self.remove_at(mp, bucket, object, meta.version).await?;
            }
        }
        Ok(copies)
    }

    /// Whether `mp` holds `bucket/object` at `version`, modified at `mtime_ns`.
    async fn has_copy(
        &self,
        mp: &Mountpath,
        bucket: &str,
        object: &str,
        version: u64,
        mtime_ns: i64,
    ) -> bool {
        let path = layout::object_path(&mp.path, bucket, object);
        mp.disk
            .call(move || {
                let stat = std::fs::metadata(&path)?;
                let meta = xattr::get(&path, super::meta::XATTR)?
                    .and_then(|raw| super::meta::ObjectMeta::decode(&raw).ok());
                Ok::<_, std::io::Error>(
                    stat.is_file()
                        && super::unix_ns(stat.modified()) == mtime_ns
                        && meta.is_some_and(|m| m.version == version && m.size == stat.len()),
                )
            })
            .await
            .unwrap_or(false)
    }

    /// The mountpaths holding a file of `bucket/object` now (`Ais-Mirror-Paths`).
    pub fn copies_of(&self, bucket: &str, object: &str) -> Vec<PathBuf> {
        let set = self.mountpaths.current();
        let mut out = Vec::new();
        for mp in set.readable() {
            let path = layout::object_path(&mp.path, bucket, object);
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                out.push(mp.path.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::store::testing::store_with;

    #[tokio::test]
    async fn copies_follow_the_ranking_and_any_one_serves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store_with(dir.path(), 4);
        s.create_bucket("b").await.expect("bucket");
        let body = futures_util::stream::iter([Ok(Bytes::from_static(b"mirrored"))]);
        s.put("b", "o", body, PutOptions::default())
            .await
            .expect("put");
        assert_eq!(s.mirror("b", "o", 3).await.expect("mirror"), 3);
        let want: Vec<PathBuf> = s
            .copy_mountpaths("b", "o", 3)
            .iter()
            .map(|m| m.path.clone())
            .collect();
        let mut have = s.copies_of("b", "o");
        have.sort();
        let mut sorted = want.clone();
        sorted.sort();
        assert_eq!(have, sorted);
        // The main copy lost: another copy serves it.
        std::fs::remove_file(layout::object_path(&want[0], "b", "o")).expect("rm");
        let r = s.open_object("b", "o").await.expect("open a copy");
        assert_eq!(r.info.meta.size, 8);
        // Re-made, and down to 2 copies on request.
        assert_eq!(s.mirror("b", "o", 3).await.expect("re-mirror"), 3);
        assert_eq!(s.copies_of("b", "o").len(), 3);
        assert_eq!(s.mirror("b", "o", 2).await.expect("fewer"), 2);
        assert_eq!(s.copies_of("b", "o").len(), 2);
        // Deleted everywhere.
        s.delete("b", "o").await.expect("delete");
        assert!(s.copies_of("b", "o").is_empty());
    }
}
