//! Multipart uploads: parts staged on the object's own mountpath under
//! `@ais/<bucket>/%mp/<upload id>/`, each written like an object (work file, hashes,
//! rename), then concatenated into an ordinary object by one commit. One mechanism for
//! every front end: S3 today, AIStore's native multipart later.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures_util::Stream;
use md5::Digest as _;
use serde::{Deserialize, Serialize};

use super::checksum::{Checksummer, DEFAULT_TYPE};
use super::meta::{ObjectInfo, ObjectMeta, XATTR};
use super::put::{BodyResult, PutOptions, Written};
use super::work_file::WorkFile;
use super::{unix_ns, Error, ObjectStore, Result};
use crate::fs::layout;

/// Smallest part other than the last (S3's rule).
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// Largest part number (S3's rule).
pub const MAX_PART_NUMBER: u32 = 10_000;
const MANIFEST: &str = "upload.json";

/// What an upload keeps until it completes: the object it becomes and its attributes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UploadSpec {
    /// Object name.
    pub object: String,
    /// Creation time, unix ns.
    #[serde(default)]
    pub created_ns: i64,
    /// User metadata of the final object.
    #[serde(default)]
    pub custom: BTreeMap<String, String>,
    /// HTTP attributes of the final object.
    #[serde(default)]
    pub attrs: BTreeMap<String, String>,
}

/// What a completion checks, which differs between the front ends.
#[derive(Debug, Clone, Copy)]
pub struct Completion {
    /// Each listed part must name the ETag (MD5) it was stored with (S3); the native API
    /// sends empty ETags, which then match any.
    pub check_etags: bool,
    /// Every part but the last must be at least this large (S3: 5 MiB; native: 0).
    pub min_part_size: u64,
}

impl Completion {
    /// S3's rules.
    pub const S3: Completion = Completion {
        check_etags: true,
        min_part_size: MIN_PART_SIZE,
    };
    /// AIStore's native API.
    pub const NATIVE: Completion = Completion {
        check_etags: false,
        min_part_size: 0,
    };
}

/// One stored part.
#[derive(Debug, Clone)]
pub struct PartInfo {
    /// Part number, 1-based.
    pub number: u32,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex MD5 (the part's ETag).
    pub md5: String,
    /// When it was stored, unix ns.
    pub mtime_ns: i64,
}

/// One upload in progress.
#[derive(Debug, Clone)]
pub struct UploadInfo {
    /// Upload ID.
    pub id: String,
    /// What it becomes.
    pub spec: UploadSpec,
}

impl ObjectStore {
    fn upload_dir(&self, bucket: &str, object: &str, id: &str) -> Result<(PathBuf, u64)> {
        let (key, mp) = self.place_checked(bucket, object)?;
        let valid = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid {
            return Err(self.no_upload(bucket, object, id));
        }
        Ok((layout::uploads_dir(&mp.path, bucket).join(id), key))
    }

    fn no_upload(&self, bucket: &str, object: &str, id: &str) -> Error {
        Error::NoSuchUpload {
            bucket: bucket.into(),
            object: object.into(),
            upload: id.into(),
        }
    }

    /// Starts an upload of `bucket/object`; returns its ID.
    pub async fn create_upload(&self, bucket: &str, mut spec: UploadSpec) -> Result<String> {
        let object = spec.object.clone();
        let id = new_upload_id();
        let (dir, _) = self.upload_dir(bucket, &object, &id)?;
        spec.created_ns = unix_ns(Ok(SystemTime::now()));
        let json = serde_json::to_vec(&spec).unwrap_or_default();
        let (_, mp) = self.place(bucket, &object)?;
        let (made, durable) = (dir.clone(), self.durable());
        let created = mp
            .disk
            .call(move || {
                std::fs::create_dir_all(&made)?;
                let manifest = made.join(MANIFEST);
                std::fs::write(&manifest, json)?;
                if durable {
                    File::open(&manifest)?.sync_data()?;
                }
                Ok(())
            })
            .await;
        // The manifest's entry, and the upload's own in the uploads directory.
        let dirs: Vec<PathBuf> = std::iter::once(dir.clone())
            .chain(dir.parent().map(Path::to_path_buf))
            .collect();
        let flushed = match created {
            Ok(()) => self.flush_entries(&mp, &dirs).await,
            Err(e) => Err(e),
        };
        flushed.map_err(|e| Error::io(format!("{bucket}/{object}: create upload"), e))?;
        Ok(id)
    }

    async fn read_spec(
        &self,
        bucket: &str,
        object: &str,
        id: &str,
    ) -> Result<(PathBuf, UploadSpec)> {
        let (dir, _) = self.upload_dir(bucket, object, id)?;
        let manifest = dir.join(MANIFEST);
        let (_, mp) = self.place(bucket, object)?;
        let raw = mp.disk.call(move || std::fs::read(manifest)).await;
        let spec: UploadSpec = match raw {
            Ok(raw) => serde_json::from_slice(&raw).map_err(|e| Error::BadMeta {
                bucket: bucket.into(),
                object: object.into(),
                reason: format!("upload {id}: {e}"),
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(self.no_upload(bucket, object, id))
            }
            Err(e) => return Err(Error::io(format!("{bucket}/{object}: upload {id}"), e)),
        };
        if spec.object != object {
            return Err(self.no_upload(bucket, object, id));
        }
        Ok((dir, spec))
    }

    /// Stores part `number` of an upload (replacing an earlier one of that number).
    pub async fn put_part<S>(
        &self,
        bucket: &str,
        object: &str,
        id: &str,
        number: u32,
        body: S,
        opts: PutOptions,
    ) -> Result<PartInfo>
    where
        S: Stream<Item = BodyResult> + Unpin,
    {
        if !(1..=MAX_PART_NUMBER).contains(&number) {
            return Err(Error::InvalidPart {
                bucket: bucket.into(),
                object: object.into(),
                reason: format!("part number {number} is not between 1 and {MAX_PART_NUMBER}"),
            });
        }
        let (dir, _) = self.read_spec(bucket, object, id).await?;
        let (_, mp) = self.place(bucket, object)?;
        let opts = PutOptions { md5: true, ..opts };
        let written = self
            .write_work_file(bucket, object, &mp, body, &opts)
            .await?;
        let meta = ObjectMeta {
            size: written.size,
            cksum_type: DEFAULT_TYPE.into(),
            cksum_value: written.xxhash.clone(),
            version: 1,
            md5: written.md5.clone().unwrap_or_default(),
            ..Default::default()
        };
        // The part's bytes before its name, as for an object (see `fs::sync`).
        if let Err(e) = self.flush_data(&mp, &written.file).await {
            written.guard.remove().await;
            return Err(Error::io(
                format!("{bucket}/{object}: flush part {number}"),
                e,
            ));
        }
        let (file, work) = (written.file.clone(), written.guard.path().to_path_buf());
        let part_path = dir.join(part_name(number));
        let part_dir = dir.clone();
        let encoded = meta.encode();
        let moved = mp
            .disk
            .call(move || {
                use xattr::FileExt as _;
                file.set_xattr(XATTR, &encoded)?;
                if !dir.is_dir() {
                    return Err(io::Error::from_raw_os_error(libc::ENOENT));
                }
                std::fs::rename(&work, &part_path)
            })
            .await;
        match moved {
            Ok(()) => {
                written.guard.committed();
                self.flush_entries(&mp, &[part_dir])
                    .await
                    .map_err(|e| Error::io(format!("{bucket}/{object}: flush part {number}"), e))?;
            }
            Err(e) => {
                written.guard.remove().await;
                return Err(if e.kind() == io::ErrorKind::NotFound {
                    self.no_upload(bucket, object, id)
                } else {
                    Error::io(format!("{bucket}/{object}: store part {number}"), e)
                });
            }
        }
        Ok(PartInfo {
            number,
            size: meta.size,
            md5: meta.md5,
            mtime_ns: unix_ns(Ok(SystemTime::now())),
        })
    }

    /// The parts stored so far, by number.
    pub async fn list_parts(
        &self,
        bucket: &str,
        object: &str,
        id: &str,
    ) -> Result<(UploadSpec, Vec<PartInfo>)> {
        let (dir, spec) = self.read_spec(bucket, object, id).await?;
        let (_, mp) = self.place(bucket, object)?;
        let parts = mp
            .disk
            .call(move || read_parts(&dir))
            .await
            .map_err(|e| Error::io(format!("{bucket}/{object}: list parts of {id}"), e))?;
        Ok((spec, parts))
    }

    /// Removes an upload and its parts.
    pub async fn abort_upload(&self, bucket: &str, object: &str, id: &str) -> Result<()> {
        let (dir, _) = self.read_spec(bucket, object, id).await?;
        let (_, mp) = self.place(bucket, object)?;
        mp.disk
            .call(move || std::fs::remove_dir_all(dir))
            .await
            .map_err(|e| Error::io(format!("{bucket}/{object}: abort upload {id}"), e))
    }

    /// Joins the listed parts (number, ETag) into `bucket/object`, an ordinary object whose
    /// ETag is `<md5 of the parts' MD5s>-<count>`, and removes the upload.
    pub async fn complete_upload(
        &self,
        bucket: &str,
        object: &str,
        id: &str,
        wanted: &[(u32, String)],
        rules: Completion,
    ) -> Result<ObjectInfo> {
        let (dir, spec) = self.read_spec(bucket, object, id).await?;
        let (key, mp) = self.place(bucket, object)?;
        let bad = |reason: String| Error::InvalidPart {
            bucket: bucket.into(),
            object: object.into(),
            reason,
        };
        if wanted.is_empty() {
            return Err(bad("the list of parts is empty".into()));
        }
        if wanted.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(Error::InvalidPartOrder {
                bucket: bucket.into(),
                object: object.into(),
            });
        }
        let listed = dir.clone();
        let stored = mp
            .disk
            .call(move || read_parts(&listed))
            .await
            .map_err(|e| Error::io(format!("{bucket}/{object}: list parts of {id}"), e))?;
        let stored: BTreeMap<u32, PartInfo> = stored.into_iter().map(|p| (p.number, p)).collect();
        let mut chosen = Vec::with_capacity(wanted.len());
        for (i, (number, etag)) in wanted.iter().enumerate() {
            let etag = etag.trim().trim_matches('"').to_ascii_lowercase();
            let part = stored
                .get(number)
                .filter(|p| p.md5 == etag || (!rules.check_etags && etag.is_empty()))
                .ok_or_else(|| match rules.check_etags {
                    true => bad(format!("part {number} with ETag {etag:?} was not uploaded")),
                    false => bad(format!("part {number} was not uploaded")),
                })?;
            if i + 1 < wanted.len() && part.size < rules.min_part_size {
                return Err(Error::PartTooSmall {
                    bucket: bucket.into(),
                    object: object.into(),
                    part: *number,
                    size: part.size,
                    min: rules.min_part_size,
                });
            }
            chosen.push(part.clone());
        }
        let mut etag_md5 = md5::Md5::new();
        for p in &chosen {
            etag_md5.update(hex::decode(&p.md5).unwrap_or_default());
        }
        let etag = format!("{}-{}", hex::encode(etag_md5.finalize()), chosen.len());
        let max = self.cfg.max_object_size;
        let total: u64 = chosen.iter().map(|p| p.size).sum();
        if total > max {
            return Err(Error::TooLarge {
                bucket: bucket.into(),
                object: object.into(),
                max,
            });
        }

        // Concatenate on the blocking pool (not the disk's threads: a large join would
        // hold them), hashing as we go.
        let work_path = layout::work_path(&mp.path, bucket, object);
        let guard = WorkFile::new(work_path.clone(), mp.disk.clone());
        let sources: Vec<PathBuf> = chosen
            .iter()
            .map(|p| dir.join(part_name(p.number)))
            .collect();
        let joined = tokio::task::spawn_blocking(move || concatenate(&work_path, &sources))
            .await
            .map_err(io::Error::other)
            .and_then(|r| r);
        let (file, size, xxhash) = match joined {
            Ok(j) => j,
            Err(e) => {
                guard.remove().await;
                return Err(Error::io(
                    format!("{bucket}/{object}: join parts of {id}"),
                    e,
                ));
            }
        };
        mp.write_bytes.inc_by(size);
        let written = Written::hashed(file, guard, size, xxhash);
        let meta = ObjectMeta {
            custom: spec.custom,
            etag,
            attrs: spec.attrs,
            chunks: chosen.len() as u32,
            max_chunk_size: chosen.iter().map(|p| p.size).max().unwrap_or(0),
            ..written.meta()
        };
        let info = self
            .commit(bucket, object, key, &mp, written, meta, None)
            .await?;
        let _ = mp.disk.call(move || std::fs::remove_dir_all(dir)).await;
        Ok(info)
    }

    /// Uploads in progress in `bucket` (on every mountpath), sorted by object then ID.
    pub async fn list_uploads(&self, bucket: &str) -> Result<Vec<UploadInfo>> {
        self.require_bucket(bucket)?;
        let dirs: Vec<PathBuf> = self
            .mountpaths
            .available()
            .iter()
            .map(|m| layout::uploads_dir(&m.path, bucket))
            .collect();
        let mut all = tokio::task::spawn_blocking(move || {
            dirs.iter()
                .flat_map(|d| read_uploads(d))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| Error::io(format!("{bucket}: list uploads"), io::Error::other(e)))?;
        all.sort_by(|a, b| (&a.spec.object, &a.id).cmp(&(&b.spec.object, &b.id)));
        Ok(all)
    }

    /// Removes uploads untouched (no part stored) for longer than `max_age`; returns how many.
    pub fn sweep_uploads(&self, max_age: Duration) -> usize {
        let now = unix_ns(Ok(SystemTime::now()));
        let mut removed = 0;
        for (bucket, _) in self.list_buckets() {
            for mp in self.mountpaths.available() {
                let dir = layout::uploads_dir(&mp.path, &bucket);
                for up in read_uploads(&dir) {
                    // Last activity: the directory changes with every part stored.
                    let touched =
                        unix_ns(std::fs::metadata(dir.join(&up.id)).and_then(|m| m.modified()));
                    let age =
                        Duration::from_nanos((now - touched.max(up.spec.created_ns)).max(0) as u64);
                    if age > max_age && std::fs::remove_dir_all(dir.join(&up.id)).is_ok() {
                        tracing::info!(bucket = %bucket, object = %up.spec.object, upload = %up.id, "removed abandoned upload");
                        removed += 1;
                    }
                }
            }
        }
        removed
    }
}

fn part_name(number: u32) -> String {
    format!("part.{number:05}")
}

fn new_upload_id() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::thread_rng().gen();
    hex::encode(bytes)
}

fn read_parts(dir: &Path) -> io::Result<Vec<PartInfo>> {
    let mut parts = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(number) = name
            .to_str()
            .and_then(|n| n.strip_prefix("part."))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let Some(meta) = xattr::get(&path, XATTR)
            .ok()
            .flatten()
            .and_then(|raw| ObjectMeta::decode(&raw).ok())
        else {
            continue;
        };
        let stat = entry.metadata()?;
        parts.push(PartInfo {
            number,
            size: meta.size,
            md5: meta.md5,
            mtime_ns: unix_ns(stat.modified()),
        });
    }
    parts.sort_by_key(|p| p.number);
    Ok(parts)
}

fn read_uploads(dir: &Path) -> Vec<UploadInfo> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let id = e.file_name().into_string().ok()?;
            let raw = std::fs::read(e.path().join(MANIFEST)).ok()?;
            let spec = serde_json::from_slice(&raw).ok()?;
            Some(UploadInfo { id, spec })
        })
        .collect()
}

/// Writes the parts one after another into a new file at `dest`; returns it with its size
/// and XXH64.
fn concatenate(dest: &Path, parts: &[PathBuf]) -> io::Result<(File, u64, String)> {
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)?;
    let mut hasher = Checksummer::new(DEFAULT_TYPE).unwrap_or(Checksummer::None);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    for part in parts {
        let mut f = File::open(part)?;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            size += n as u64;
        }
    }
    Ok((out, size, hasher.finish()))
}
