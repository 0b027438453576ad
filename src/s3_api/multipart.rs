//! S3 multipart uploads on the target that owns the object: create, parts (sent or copied
//! from another object), complete, list; over the store's uploads, which the native API
//! shares.

use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderMap, HeaderName, Request, Response};
use hyper::body::Incoming;

use crate::http::{empty, request::set_header, Body};
use crate::s3::auth::Verified;
use crate::s3::bucket::xml_response;
use crate::s3::error::S3Error;
use crate::s3::op::{CopySource, S3Request};
use crate::s3::xml::{self, XMLNS};
use crate::service::body::{drain, DRAIN_ON_ERROR};
use crate::service::TargetContext;
use crate::store::{PutOptions, UploadSpec};

use super::body::{upload_body, upload_error};
use super::copy::source_stream;
use super::headers::{attrs, etag, user_meta};

/// `CreateMultipartUpload`: a new upload with the final object's metadata.
pub(super) async fn create_upload(
    ctx: &TargetContext,
    headers: &HeaderMap,
    s3: S3Request,
) -> Result<Response<Body>, S3Error> {
    let spec = UploadSpec {
        object: s3.key.clone(),
        custom: user_meta(headers)?,
        attrs: attrs(headers),
        ..Default::default()
    };
    let id = ctx.store.create_upload(&s3.bucket, spec).await?;
    Ok(xml_response(&xml::InitiateMultipartUploadResult {
        xmlns: XMLNS,
        bucket: s3.bucket,
        key: s3.key,
        upload_id: id,
    }))
}

pub(super) async fn upload_part(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
    s3: &S3Request,
    upload_id: &str,
    part: u32,
    verified: Verified,
) -> Result<Response<Body>, S3Error> {
    let (parts, mut incoming) = req.into_parts();
    let h = &parts.headers;
    let result = async {
        let (body, opts, verdict) = upload_body(ctx, &mut incoming, h, verified)?;
        let checksums = opts.checksums.clone();
        let p = ctx
            .store
            .put_part(&s3.bucket, &s3.key, upload_id, part, body, opts)
            .await
            .map_err(|e| upload_error(e, &verdict))?;
        Ok::<_, S3Error>((p, checksums))
    }
    .await;
    let (p, checksums) = match result {
        Ok(r) => r,
        Err(e) => {
            drain(&mut incoming, DRAIN_ON_ERROR, Duration::from_secs(2)).await;
            return Err(e);
        }
    };
    ctx.metrics.put_bytes.inc_by(p.size);
    let mut resp = Response::new(empty());
    set_header(&mut resp, header::ETAG, format!("\"{}\"", p.md5));
    for (algo, v) in checksums {
        if let Ok(name) = HeaderName::from_bytes(format!("x-amz-checksum-{algo}").as_bytes()) {
            set_header(&mut resp, name, v);
        }
    }
    Ok(resp)
}

/// `UploadPartCopy`: a part taken from another object (or a range of it).
pub(super) async fn upload_part_copy(
    ctx: &TargetContext,
    req: &Request<Incoming>,
    s3: &S3Request,
    upload_id: &str,
    part: u32,
    source: &CopySource,
) -> Result<Response<Body>, S3Error> {
    let range = req
        .headers()
        .get("x-amz-copy-source-range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (_, body, len) = source_stream(ctx, source, range.as_deref()).await?;
    let opts = PutOptions {
        size: Some(len),
        ..Default::default()
    };
    let p = ctx
        .store
        .put_part(&s3.bucket, &s3.key, upload_id, part, body, opts)
        .await?;
    let doc = CopyPartResult(xml::CopyResult {
        xmlns: XMLNS,
        last_modified: xml::iso8601(p.mtime_ns),
        etag: format!("\"{}\"", p.md5),
    });
    Ok(xml_response(&doc))
}

/// `CompleteMultipartUpload`: the parts listed in the XML body become the object.
pub(super) async fn complete_upload(
    ctx: &TargetContext,
    req: Request<Incoming>,
    s3: S3Request,
    upload_id: &str,
) -> Result<Response<Body>, S3Error> {
    let body = crate::http::request::read_limited_within(
        req.into_body(),
        crate::s3::MAX_XML_BODY,
        crate::s3::XML_BODY_TIMEOUT,
    )
    .await
    .map_err(|e| S3Error::Invalid("InvalidRequest", format!("request body: {e}")))?;
    let text = std::str::from_utf8(&body).map_err(|_| S3Error::MalformedXml("not UTF-8".into()))?;
    let doc: xml::CompleteMultipartUpload = xml::from_xml(text).map_err(S3Error::MalformedXml)?;
    if doc.part.is_empty() {
        return Err(S3Error::MalformedXml("no Part elements".into()));
    }
    let parts: Vec<(u32, String)> = doc
        .part
        .into_iter()
        .map(|p| (p.part_number, p.etag))
        .collect();
    let info = ctx
        .store
        .complete_upload(
            &s3.bucket,
            &s3.key,
            upload_id,
            &parts,
            crate::store::Completion::S3,
        )
        .await?;
    crate::service::redundancy::protect(ctx, &s3.bucket, &s3.key).await?;
    Ok(xml_response(&xml::CompleteMultipartUploadResult {
        xmlns: XMLNS,
        location: format!("/{}/{}", s3.bucket, s3.key),
        bucket: s3.bucket,
        key: s3.key,
        etag: etag(&info.meta),
    }))
}

pub(super) async fn list_parts(
    ctx: &TargetContext,
    s3: &S3Request,
    upload_id: &str,
) -> Result<Response<Body>, S3Error> {
    let (_, parts) = ctx.store.list_parts(&s3.bucket, &s3.key, upload_id).await?;
    let marker: u32 = s3
        .query
        .get("part-number-marker")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let max: usize = s3
        .query
        .get("max-parts")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
        .min(1000);
    let mut after: Vec<_> = parts.into_iter().filter(|p| p.number > marker).collect();
    let truncated = after.len() > max;
    after.truncate(max);
    Ok(xml_response(&xml::ListPartsResult {
        xmlns: XMLNS,
        bucket: s3.bucket.clone(),
        key: s3.key.clone(),
        upload_id: upload_id.to_string(),
        initiator: xml::OWNER,
        owner: xml::OWNER,
        storage_class: "STANDARD",
        part_number_marker: marker,
        next_part_number_marker: after.last().map_or(marker, |p| p.number),
        max_parts: max,
        is_truncated: truncated,
        part: after
            .into_iter()
            .map(|p| xml::PartXml {
                part_number: p.number,
                last_modified: xml::iso8601(p.mtime_ns),
                etag: format!("\"{}\"", p.md5),
                size: p.size,
            })
            .collect(),
    }))
}

/// `CopyPartResult`: the same fields as `CopyObjectResult` under another root.
#[derive(serde::Serialize)]
#[serde(rename = "CopyPartResult")]
struct CopyPartResult(xml::CopyResult);
