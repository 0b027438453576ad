//! Reading inside archive objects through the native API: `GET ...?archpath=P` serves one
//! member, `GET ...?archregx=R[&archmode=M]` a TAR of the matching members, and listing
//! with `LsArchDir` adds each shard's members as `<shard>/<member>` entries.

use std::collections::HashMap;

use http::{header, HeaderValue, Response};

use super::{ApiError, TargetContext};
use crate::archive::{self, ArchiveError, Matcher};
use crate::http::{full, Body};
use crate::target::rebalance;

/// Entry flag of an archive member (`EntryInArch`).
pub const ENTRY_IN_ARCH: u16 = 1 << 8;

fn api_error(bucket: &str, object: &str, e: ArchiveError) -> ApiError {
    match e {
        ArchiveError::Io(e) => ApiError::Store(Box::new(crate::store::Error::io(
            format!("{bucket}/{object}: read archive"),
            e,
        ))),
        ArchiveError::TooLarge => ApiError::TooLarge(format!("ais://{bucket}/{object}: {e}")),
        other => ApiError::BadRequest(format!("ais://{bucket}/{object}: {other}")),
    }
}

/// Whether a GET asks for something inside the object.
pub fn wants_archive(q: &HashMap<String, String>) -> bool {
    q.get("archpath").is_some_and(|p| !p.is_empty())
        || q.get("archregx").is_some_and(|p| !p.is_empty())
}

/// `GET` with `archpath` or `archregx`.
pub async fn get(
    ctx: &TargetContext,
    q: &HashMap<String, String>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    // Here (or fetched from a previous owner) first.
    drop(rebalance::open_here_or_fetch(ctx, bucket, object).await?);
    let (file, _) = ctx.store.open_plain(bucket, object).await?;
    let (b, o) = (bucket.to_string(), object.to_string());
    let path = q.get("archpath").cloned().unwrap_or_default();
    let pattern = q.get("archregx").cloned().unwrap_or_default();
    let mode = q.get("archmode").cloned().unwrap_or_default();
    let work = tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, bool), ArchiveError> {
        let mut file = file;
        let fmt = archive::detect(&mut file, &o)?.ok_or(ArchiveError::NotArchive)?;
        if !path.is_empty() {
            return Ok(match archive::extract(file, fmt, &path)? {
                Some(data) => (data, false),
                None => (Vec::new(), true),
            });
        }
        let m = Matcher::new(&mode, &pattern)?;
        let (tar, count) = archive::select_as_tar(file, fmt, &m)?;
        Ok((tar, count == 0))
    });
    let (data, missing) = work
        .await
        .map_err(|e| ApiError::Upstream(format!("archive read: {e}")))?
        .map_err(|e| api_error(&b, object, e))?;
    if missing {
        let what = match q.get("archpath") {
            Some(p) if !p.is_empty() => format!("no member {p:?}"),
            _ => "no member matches".to_string(),
        };
        return Err(ApiError::NotFound(format!(
            "ais://{bucket}/{object}: {what} in the archive"
        )));
    }
    let tar = q.get("archpath").is_none_or(|p| p.is_empty());
    ctx.metrics.get_bytes.inc_by(data.len() as u64);
    let mut resp = Response::new(full(data));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if tar {
            "application/x-tar"
        } else {
            "application/octet-stream"
        }),
    );
    Ok(resp)
}

/// The members of shard `object` as listing entries `<object>/<member>` with sizes
/// (empty when it is not an archive or cannot be read).
pub async fn members(ctx: &TargetContext, bucket: &str, object: &str) -> Vec<(String, u64)> {
    if !archive::looks_like_archive(object) {
        return Vec::new();
    }
    let Ok((file, _)) = ctx.store.open_plain(bucket, object).await else {
        return Vec::new();
    };
    let o = object.to_string();
    let listed =
        tokio::task::spawn_blocking(move || -> Result<Vec<archive::Member>, ArchiveError> {
            let mut file = file;
            match archive::detect(&mut file, &o)? {
                Some(fmt) => archive::list(file, fmt),
                None => Ok(Vec::new()),
            }
        })
        .await;
    match listed {
        Ok(Ok(m)) => m
            .into_iter()
            .map(|m| (format!("{object}/{}", m.name), m.size))
            .collect(),
        _ => Vec::new(),
    }
}
