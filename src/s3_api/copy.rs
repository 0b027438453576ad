//! S3 copies on the target that owns the destination: `CopyObject` and the source of an
//! `UploadPartCopy`, read here or from its owner.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::TryStreamExt;
use http::{header, HeaderMap, Request, Response};

use crate::http::Body;
use crate::s3::bucket::xml_response;
use crate::s3::error::S3Error;
use crate::s3::op::{CopySource, S3Request};
use crate::s3::xml::{self, XMLNS};
use crate::service::TargetContext;
use crate::store::{self, PutOptions};

use super::body::BodyStream;
use super::headers::{attrs, etag, header_u64, user_meta};

#[derive(serde::Serialize)]
#[serde(rename = "CopyObjectResult")]
struct CopyObjectResult(xml::CopyResult);

/// What a copy takes from its source besides the bytes.
pub(super) struct SourceMeta {
    custom: BTreeMap<String, String>,
    attrs: BTreeMap<String, String>,
}

/// The source of a copy as a stream: read here when we own it, else fetched from its
/// owner (native API, streamed). `range` is an `x-amz-copy-source-range`.
pub(super) async fn source_stream(
    ctx: &TargetContext,
    src: &CopySource,
    range: Option<&str>,
) -> Result<(SourceMeta, BodyStream<'static>, u64), S3Error> {
    crate::names::validate_bucket(&src.bucket)?;
    crate::names::validate_object(&src.key)?;
    ctx.store.require_bucket(&src.bucket)?;
    let Some(owner) = ctx.other_owner(&src.bucket, &src.key) else {
        let reader = ctx.store.open_object(&src.bucket, &src.key).await?;
        let size = reader.info.meta.size;
        let (start, len) = match range {
            Some(r) => {
                crate::range::parse(r, size).map_err(|_| S3Error::InvalidRange(r.into(), size))?
            }
            None => (0, size),
        };
        let meta = SourceMeta {
            custom: reader.info.meta.custom.clone(),
            attrs: reader.info.meta.attrs.clone(),
        };
        let body = reader.stream(start, len).map_err(|e| e.to_string());
        return Ok((meta, Box::pin(body), len));
    };
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let url = format!(
        "{}/v1/objects/{}/{}",
        owner.control_url(),
        enc(&src.bucket),
        enc(&src.key)
    );
    let mut req = Request::get(&url);
    if let Some(r) = range {
        req = req.header(header::RANGE, r);
    }
    let req = req
        .body(crate::http::forward::no_body())
        .map_err(|e| S3Error::Upstream(e.to_string()))?;
    let resp = ctx
        .data
        .send(req)
        .await
        .map_err(|e| S3Error::Upstream(format!("copy source: {e}")))?;
    match resp.status().as_u16() {
        200 | 206 => {}
        404 => {
            return Err(store::Error::ObjectNotFound {
                bucket: src.bucket.clone(),
                object: src.key.clone(),
            }
            .into())
        }
        416 => return Err(S3Error::InvalidRange(range.unwrap_or("").into(), 0)),
        s => {
            return Err(S3Error::Upstream(format!(
                "copy source: {} answered {s}",
                owner.daemon_id
            )))
        }
    }
    let h = resp.headers();
    let len = header_u64(h, "content-length")?.unwrap_or(0);
    let mut custom = BTreeMap::new();
    for v in h.get_all(crate::wire::headers::AIS_CUSTOM_MD) {
        if let Some((k, v)) = v.to_str().ok().and_then(|s| s.split_once('=')) {
            custom.insert(k.to_string(), v.to_string());
        }
    }
    let meta = SourceMeta {
        custom,
        attrs: attrs(h),
    };
    let body = http_body_util::BodyDataStream::new(resp.into_body()).map_err(|e| e.to_string());
    Ok((meta, Box::pin(body), len))
}

pub(super) async fn copy(
    ctx: &Arc<TargetContext>,
    h: &HeaderMap,
    s3: &S3Request,
    src: &CopySource,
) -> Result<Response<Body>, S3Error> {
    let replace = match h
        .get("x-amz-metadata-directive")
        .and_then(|v| v.to_str().ok())
    {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(other) => {
            return Err(S3Error::Invalid(
                "InvalidArgument",
                format!("unknown metadata directive {other:?}"),
            ))
        }
    };
    if !replace && src.bucket == s3.bucket && src.key == s3.key {
        return Err(S3Error::Invalid(
            "InvalidRequest",
            "this copy request is illegal because it is trying to copy an object to itself without changing the object's metadata".into(),
        ));
    }
    let (meta, body, len) = source_stream(ctx, src, None).await?;
    let (custom, attrs) = if replace {
        (user_meta(h)?, attrs(h))
    } else {
        (meta.custom, meta.attrs)
    };
    let opts = PutOptions {
        size: Some(len),
        md5: true,
        custom,
        attrs,
        ..Default::default()
    };
    let info = ctx.store.put(&s3.bucket, &s3.key, body, opts).await?;
    crate::service::redundancy::protect(ctx, &s3.bucket, &s3.key).await?;
    ctx.metrics.put_count.inc();
    Ok(xml_response(&CopyObjectResult(xml::CopyResult {
        xmlns: XMLNS,
        last_modified: xml::iso8601(info.mtime_ns),
        etag: etag(&info.meta),
    })))
}
