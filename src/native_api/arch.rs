//! Reading inside archive objects through the native API: `GET ...?archpath=P` serves one
//! member, `GET ...?archregx=R[&archmode=M]` a TAR of the matching members, and listing
//! with `LsArchDir` adds each shard's members as `<shard>/<member>` entries. The reading
//! itself is [`crate::service::archive_read`]'s.

use std::collections::HashMap;

use http::{header, HeaderValue, Response};

use super::{ApiError, TargetContext};
use crate::http::{stream, Body};
use crate::service::archive_read::{self, Selection};

/// Whether a GET asks for something inside the object.
pub fn wants_archive(q: &HashMap<String, String>) -> bool {
    q.get("archpath").is_some_and(|p| !p.is_empty())
        || q.get("archregx").is_some_and(|p| !p.is_empty())
}

/// `GET` with `archpath` (one member) or `archregx` (a TAR of the matching ones).
pub async fn get(
    ctx: &TargetContext,
    q: &HashMap<String, String>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let path = q.get("archpath").cloned().unwrap_or_default();
    let what = if path.is_empty() {
        Selection::Matching {
            mode: q.get("archmode").cloned().unwrap_or_default(),
            pattern: q.get("archregx").cloned().unwrap_or_default(),
        }
    } else {
        Selection::Member(path)
    };
    let read = archive_read::read(ctx, bucket, object, what).await?;
    let mut resp = Response::new(stream(read.stream));
    let h = resp.headers_mut();
    match read.size {
        Some(size) => {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
        }
        None => {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-tar"),
            );
        }
    }
    Ok(resp)
}

/// Members `skip..skip+limit` of shard `object` as listing entries `<object>/<member>`
/// with sizes (none when it is not an archive or cannot be read).
pub async fn members(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    skip: usize,
    limit: usize,
) -> Vec<(String, u64)> {
    archive_read::members(ctx, bucket, object, skip, limit)
        .await
        .into_iter()
        .map(|m| (format!("{object}/{}", m.name), m.size))
        .collect()
}
