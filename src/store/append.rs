//! Append (`PUT ?append_type=append&append_handle=H`, then `append_type=flush`): bytes
//! accumulate in a work file of the object's mountpath, invisible, until the flush
//! checksums it and commits it as a new version like any PUT. The first append starts
//! from the object's current content when it exists (the SDK's file writer in mode `a`).
//! The handle names the work file and the length the client has seen:
//! `append.<name digest>.<random>@<offset>`; a handle for another object, or whose
//! offset is not the file's length (a lost or doubled append), is refused.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use rand::Rng;

use super::checksum::{Checksummer, DEFAULT_TYPE};
use super::meta::ObjectInfo;
use super::put::{BodyResult, Written};
use super::work_file::WorkFile;
use super::{Error, ObjectStore, Result};
use crate::fs::layout;

impl ObjectStore {
    /// Appends `body`; returns the handle for the next append or the flush.
    pub async fn append<S>(
        &self,
        bucket: &str,
        object: &str,
        handle: &str,
        mut body: S,
    ) -> Result<String>
    where
        S: Stream<Item = BodyResult> + Unpin,
    {
        let (_, mp) = self.place_checked(bucket, object)?;
        let (name, mut offset) = if handle.is_empty() {
            let name = format!(
                "append.{:016x}.{:016x}",
                xxhash_rust::xxh64::xxh64(object.as_bytes(), 0),
                rand::thread_rng().gen::<u64>()
            );
            let path = layout::work_dir(&mp.path, bucket).join(&name);
            // Existing content first (mode `a`), read through this target (it may be
            // on another mountpath or only fetched later: only what is here counts).
            let current = match self.head(bucket, object).await {
                Ok(info) => Some(layout::object_path(&info.mountpath, bucket, object)),
                Err(Error::ObjectNotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            let start = mp
                .disk
                .call(move || start_file(&path, current.as_deref()))
                .await
                .map_err(|e| Error::io(format!("{bucket}/{object}: start append"), e))?;
            (name, start)
        } else {
            self.parse_handle(bucket, object, handle)?
        };
        let path = layout::work_dir(&mp.path, bucket).join(&name);
        let file = {
            let p = path.clone();
            let opened = mp
                .disk
                .call(move || File::options().write(true).open(p))
                .await;
            Arc::new(opened.map_err(|_| self.bad_handle(bucket, object, handle))?)
        };
        let len = file.metadata().map_err(|e| Error::io("append", e))?.len();
        if len != offset {
            return Err(self.bad_handle(bucket, object, handle));
        }
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|reason| Error::Body {
                bucket: bucket.into(),
                object: object.into(),
                reason,
            })?;
            let (f, at, n) = (file.clone(), offset, chunk.len() as u64);
            mp.disk
                .call(move || f.write_all_at(&chunk, at))
                .await
                .map_err(|e| Error::io(format!("{bucket}/{object}: append"), e))?;
            mp.write_bytes.inc_by(n);
            offset += n;
        }
        Ok(format!("{name}@{offset}"))
    }

    /// Commits what the appends of `handle` wrote (plus `body`) as `bucket/object`.
    pub async fn flush_append<S>(
        &self,
        bucket: &str,
        object: &str,
        handle: &str,
        body: S,
    ) -> Result<ObjectInfo>
    where
        S: Stream<Item = BodyResult> + Unpin,
    {
        let handle = self.append(bucket, object, handle, body).await?;
        let (name, _) = self.parse_handle(bucket, object, &handle)?;
        let (key, mp) = self.place(bucket, object)?;
        let path: PathBuf = layout::work_dir(&mp.path, bucket).join(name);
        let p = path.clone();
        let hashed = tokio::task::spawn_blocking(move || hash_file(&p))
            .await
            .map_err(io::Error::other)
            .and_then(|r| r)
            .map_err(|e| Error::io(format!("{bucket}/{object}: flush"), e))?;
        let (file, size, xxhash) = hashed;
        let written = Written::hashed(file, WorkFile::new(path, mp.disk.clone()), size, xxhash);
        let meta = written.meta();
        self.commit(bucket, object, key, &mp, written, meta, None)
            .await
    }

    fn parse_handle(&self, bucket: &str, object: &str, handle: &str) -> Result<(String, u64)> {
        let bad = || self.bad_handle(bucket, object, handle);
        let (name, offset) = handle.rsplit_once('@').ok_or_else(bad)?;
        let offset: u64 = offset.parse().map_err(|_| bad())?;
        let mut parts = name.split('.');
        let ok = parts.next() == Some("append")
            && parts.next()
                == Some(
                    format!("{:016x}", xxhash_rust::xxh64::xxh64(object.as_bytes(), 0)).as_str(),
                )
            && parts
                .next()
                .is_some_and(|r| r.len() == 16 && r.bytes().all(|b| b.is_ascii_hexdigit()))
            && parts.next().is_none();
        if !ok {
            return Err(bad());
        }
        Ok((name.to_string(), offset))
    }

    fn bad_handle(&self, bucket: &str, object: &str, handle: &str) -> Error {
        Error::InvalidPart {
            bucket: bucket.into(),
            object: object.into(),
            reason: format!(
                "append handle {handle:?} is not valid here (another object's, already flushed, or an append was lost: its length does not match)"
            ),
        }
    }
}

/// Creates the append file, with `current`'s content when given; returns its length.
fn start_file(path: &std::path::Path, current: Option<&std::path::Path>) -> io::Result<u64> {
    let out = File::options().write(true).create_new(true).open(path)?;
    let Some(src) = current else {
        return Ok(0);
    };
    let mut from = match File::open(src) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(at);
        }
        out.write_all_at(&buf[..n], at)?;
        at += n as u64;
    }
}

/// The file opened for the commit, its length and XXH64.
fn hash_file(path: &std::path::Path) -> io::Result<(File, u64, String)> {
    let mut f = File::options().read(true).write(true).open(path)?;
    let mut sum = Checksummer::new(DEFAULT_TYPE).unwrap_or(Checksummer::None);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sum.update(&buf[..n]);
        size += n as u64;
    }
    Ok((f, size, sum.finish()))
}

impl ObjectStore {
    /// Removes appends not written to for longer than `max_age` (never flushed: their
    /// client went away); a later append or flush with their handle is refused.
    pub fn sweep_appends(&self, max_age: std::time::Duration) -> usize {
        let mut removed = 0;
        for (bucket, _) in self.list_buckets() {
            for mp in self.mountpaths.available() {
                let dir = layout::work_dir(&mp.path, &bucket);
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for e in entries.flatten() {
                    let name = e.file_name();
                    if !name.to_string_lossy().starts_with("append.") {
                        continue;
                    }
                    let idle = e
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok());
                    if idle.is_some_and(|i| i > max_age) && std::fs::remove_file(e.path()).is_ok() {
                        tracing::info!(%bucket, file = %name.to_string_lossy(), "removed an append never flushed");
                        removed += 1;
                    }
                }
            }
        }
        removed
    }
}
