//! Promote (`POST /v1/objects/B {"action":"promote","name":SRC,"value":{...}}`, the SDK's
//! `Object.promote`): files from a target's local filesystem become objects. A file or a
//! directory (`rcr`: recursively); names are `obj` (a file) or `obj` + the path under
//! the directory. On a file share every target sees (the default), each promotes only
//! the files it owns by HRW; with `notshr` each promotes what it sees and sends what
//! another target owns there. `ovw` replaces existing objects, `dls` removes each source
//! file once stored. Reading the host's files is powerful: a target promotes only from
//! under its configured `promote_roots` (none by default: promote is off).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::TryStreamExt;
use http::Method;
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use super::TargetContext;
use crate::store::{ObjectMeta, PutOptions};
use crate::wire::specs::Promoted;
use crate::wire::ApiError;

/// The action's value, in AIStore's field names.
#[derive(Debug, Default, Deserialize)]
pub struct PromoteArgs {
    /// Only this target promotes (else every target).
    #[serde(default)]
    pub tid: String,
    /// Source file or directory.
    #[serde(default)]
    pub src: String,
    /// Object name (a file) or name prefix (a directory).
    #[serde(default)]
    pub obj: String,
    /// Walk subdirectories.
    #[serde(default)]
    pub rcr: bool,
    /// Replace existing objects.
    #[serde(default)]
    pub ovw: bool,
    /// Delete each source file once stored.
    #[serde(default)]
    pub dls: bool,
    /// The source is not a share every target sees.
    #[serde(default)]
    pub notshr: bool,
}

/// Promotes what `args` names into `bucket` on this target.
pub async fn promote(
    ctx: &Arc<TargetContext>,
    bucket: &str,
    args: &PromoteArgs,
) -> Result<Promoted, ApiError> {
    ctx.store.require_bucket(bucket)?;
    let src = PathBuf::from(&args.src);
    let roots: Vec<PathBuf> = ctx
        .config
        .settings
        .promote_roots
        .iter()
        .map(|r| r.canonicalize().unwrap_or_else(|_| r.clone()))
        .collect();
    if roots.is_empty() {
        return Err(ApiError::Forbidden(
            "promote is off on this target: list the directories it may read in promote_roots"
                .into(),
        ));
    }
    let outside = || {
        ApiError::Forbidden(format!(
            "promote: {:?} is not an absolute path under promote_roots {roots:?}",
            args.src
        ))
    };
    let plain = src.is_absolute()
        && !src
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
    if !plain {
        return Err(outside());
    }
    let canonical = match src.canonicalize() {
        Ok(c) => c,
        // Gone: maybe promoted and removed (`dls`) by the target that owns it.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Promoted {
                missing: true,
                ..Promoted::default()
            })
        }
        Err(e) => return Err(ApiError::BadRequest(format!("promote {:?}: {e}", args.src))),
    };
    if !roots.iter().any(|r| canonical.starts_with(r)) {
        return Err(outside());
    }
    let files = {
        let (src, rcr, obj) = (src.clone(), args.rcr, args.obj.clone());
        tokio::task::spawn_blocking(move || sources(&src, rcr, &obj))
            .await
            .map_err(|e| ApiError::Upstream(e.to_string()))?
            .map_err(|e| ApiError::BadRequest(format!("promote {:?}: {e}", args.src)))?
    };
    let smap = ctx.cluster.smap();
    let mut done = Promoted::default();
    for (path, name) in files {
        crate::names::validate_object(&name)?;
        let owner = smap
            .as_ref()
            .and_then(|s| s.owner(bucket, &name).cloned())
            .filter(|o| o.daemon_id != ctx.node.id);
        if owner.is_some() && !args.notshr {
            continue; // its owner promotes it from the share
        }
        if !args.ovw && exists(ctx, bucket, &name, owner.as_ref()).await {
            done.skipped += 1;
            continue;
        }
        let Some(size) = store_file(ctx, bucket, &name, &path, owner.as_ref()).await? else {
            continue; // vanished meanwhile
        };
        done.objects += 1;
        done.bytes += size;
        if args.dls {
            let _ = tokio::fs::remove_file(&path).await;
        }
    }
    tracing::info!(%bucket, src = %args.src, objects = done.objects, bytes = done.bytes, skipped = done.skipped, "promoted");
    Ok(done)
}

/// The files to promote with their object names.
fn sources(src: &Path, recursive: bool, obj: &str) -> std::io::Result<Vec<(PathBuf, String)>> {
    let meta = std::fs::metadata(src)?;
    if meta.is_file() {
        let base = src
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = if obj.is_empty() {
            base
        } else {
            obj.to_string()
        };
        return Ok(vec![(src.to_path_buf(), name)]);
    }
    let prefix = if obj.is_empty() || obj.ends_with('/') {
        obj.to_string()
    } else {
        format!("{obj}/")
    };
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() && recursive {
                stack.push(e.path());
            } else if t.is_file() {
                let rel = e
                    .path()
                    .strip_prefix(src)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push((e.path(), format!("{prefix}{rel}")));
            }
        }
    }
    out.sort();
    Ok(out)
}

async fn exists(
    ctx: &TargetContext,
    bucket: &str,
    name: &str,
    owner: Option<&crate::cluster::Snode>,
) -> bool {
    match owner {
        None => ctx.store.head(bucket, name).await.is_ok(),
        Some(o) => {
            let url = format!(
                "{}/v1/objects/{bucket}/{}",
                o.control_url(),
                percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
            );
            matches!(ctx.control.send(Method::HEAD, &url, None).await, Ok(r) if r.status.is_success())
        }
    }
}

/// Stores one file as `bucket/name`, here or at its owner; returns its size (`None`:
/// the file is gone).
async fn store_file(
    ctx: &TargetContext,
    bucket: &str,
    name: &str,
    path: &Path,
    owner: Option<&crate::cluster::Snode>,
) -> Result<Option<u64>, ApiError> {
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ApiError::BadRequest(format!(
                "promote {}: {e}",
                path.display()
            )))
        }
    };
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let chunks = futures_util::stream::try_unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 1 << 20];
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok::<_, std::io::Error>(None);
        }
        buf.truncate(n);
        Ok(Some((bytes::Bytes::from(buf), f)))
    });
    match owner {
        None => {
            let opts = PutOptions {
                size: Some(size),
                ..PutOptions::default()
            };
            let body = Box::pin(chunks.map_err(|e| e.to_string()));
            ctx.store.put(bucket, name, body, opts).await?;
            super::redundancy::protect(ctx, bucket, name).await?;
        }
        Some(o) => {
            let meta = ObjectMeta {
                size,
                cksum_type: "none".into(),
                ..ObjectMeta::default()
            };
            let resp = super::copy::send_to_owner(ctx, o, bucket, name, &meta, chunks).await?;
            if !resp.status().is_success() {
                return Err(ApiError::Upstream(format!(
                    "{}: {}",
                    o.daemon_id,
                    resp.status()
                )));
            }
        }
    }
    Ok(Some(size))
}
