//! Object copy (`PUT /v1/objects/B/O?object_to=ais/@#/B2/O2`, the SDK's `Object.copy`):
//! the target holding the source streams it to the destination's owner, which stores it
//! as a new version of the destination name with the source's user metadata, HTTP
//! attributes and checksums, the data checked against the source's XXH64 on arrival.

use std::sync::Arc;

use futures_util::TryStreamExt;
use http::{header, Method, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::replica::REPLICA_META;
use super::TargetContext;
use crate::http::forward::ReqBody;
use crate::store::{ObjectMeta, PutOptions};
use crate::wire::specs::parse_destination;
use crate::wire::ApiError;

/// Copies `bucket/object` to the destination named by `to`.
pub async fn copy_object(
    ctx: &Arc<TargetContext>,
    bucket: &str,
    object: &str,
    to: &str,
) -> Result<(), CopyError> {
    let (dst_bucket, dst_object) = parse_destination(to)?;
    copy_one(ctx, bucket, object, &dst_bucket, &dst_object).await?;
    Ok(())
}

/// Why one copy failed.
#[derive(Debug)]
pub enum CopyError {
    /// Here (source missing, disk, bad names).
    Api(ApiError),
    /// The destination's owner refused, with its status and error body.
    Owner(http::StatusCode, bytes::Bytes),
}

impl From<ApiError> for CopyError {
    fn from(e: ApiError) -> Self {
        CopyError::Api(e)
    }
}

impl std::fmt::Display for CopyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyError::Api(e) => write!(f, "{e}"),
            CopyError::Owner(s, b) => write!(f, "{s} {}", String::from_utf8_lossy(b)),
        }
    }
}

/// Copies `bucket/object` to `dst_bucket/dst_object` (stored here, or streamed to its
/// owner); the size copied.
pub async fn copy_one(
    ctx: &Arc<TargetContext>,
    bucket: &str,
    object: &str,
    dst_bucket: &str,
    dst_object: &str,
) -> Result<u64, CopyError> {
    if (dst_bucket, dst_object) == (bucket, object) {
        return Err(ApiError::BadRequest(format!(
            "ais://{bucket}/{object}: source and destination are the same object"
        ))
        .into());
    }
    let reader = super::locate::open_here_or_fetch(ctx, bucket, object).await?;
    let meta = reader.info.meta.clone();
    let size = meta.size;
    let owner = ctx
        .cluster
        .smap()
        .and_then(|s| s.owner(dst_bucket, dst_object).cloned())
        .filter(|o| o.daemon_id != ctx.node.id);
    let stream = reader.stream(0, size);
    match owner {
        None => {
            let body = Box::pin(stream.map_err(|e| e.to_string()));
            ctx.store
                .put(dst_bucket, dst_object, body, copy_options(&meta))
                .await
                .map_err(ApiError::from)?;
            super::redundancy::protect(ctx, dst_bucket, dst_object).await?;
        }
        Some(owner) => {
            let resp = send_to_owner(ctx, &owner, dst_bucket, dst_object, &meta, stream).await?;
            let status = resp.status();
            if !status.is_success() {
                let text = crate::http::request::read_limited(resp.into_body(), 64 << 10)
                    .await
                    .unwrap_or_default();
                return Err(CopyError::Owner(status, text));
            }
        }
    }
    tracing::debug!(%bucket, %object, to = %format!("{dst_bucket}/{dst_object}"), "object copied");
    Ok(size)
}

/// Streams `body` to `owner` as `bucket/name` with `meta` (`PUT ?ais_replica=copy` on its
/// intra-cluster port), for [`receive_copy`] there; returns its answer.
pub(super) async fn send_to_owner<S>(
    ctx: &TargetContext,
    owner: &crate::cluster::Snode,
    bucket: &str,
    name: &str,
    meta: &ObjectMeta,
    body: S,
) -> Result<Response<Incoming>, ApiError>
where
    S: futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
{
    let body: ReqBody = http_body_util::StreamBody::new(
        body.map_ok(hyper::body::Frame::data)
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
    )
    .boxed_unsync();
    let meta_b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(meta.encode())
    };
    let req = Request::builder()
        .method(Method::PUT)
        .uri(super::replica::replica_url(owner, bucket, name, "copy"))
        .header(header::CONTENT_LENGTH, meta.size)
        .header(REPLICA_META, meta_b64)
        .body(body)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    ctx.data
        .send(req)
        .await
        .map_err(|e| ApiError::Upstream(format!("{}: {e}", owner.daemon_id)))
}

/// A copy keeps the source's user metadata, HTTP attributes and checksums, and is checked
/// against its XXH64.
pub fn copy_options(meta: &ObjectMeta) -> PutOptions {
    PutOptions {
        expected: (meta.cksum_type == crate::store::checksum::DEFAULT_TYPE)
            .then(|| (meta.cksum_type.clone(), meta.cksum_value.clone())),
        custom: meta.custom.clone(),
        size: Some(meta.size),
        md5: !meta.md5.is_empty(),
        attrs: meta.attrs.clone(),
        checksums: meta.checksums.clone(),
        late_checksums: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let ok = |u: &str| parse_destination(u).unwrap();
        assert_eq!(ok("ais/@#/b2/d/o"), ("b2".into(), "d/o".into()));
        assert_eq!(ok("ais://b2/o"), ("b2".into(), "o".into()));
        assert_eq!(ok("b2/o"), ("b2".into(), "o".into()));
        for bad in [
            "ais/@#/b2/",
            "ais/@uuid#ns/b/o",
            "ais/@#/bad name/o",
            "ais/@#/b/../x",
        ] {
            assert!(parse_destination(bad).is_err(), "{bad}");
        }
    }
}
