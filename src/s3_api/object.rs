//! Object operations on the target that owns the object: PUT, GET, HEAD, DELETE, copy,
//! and multipart uploads.

use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::http::{empty, request::set_header, stream, Body};
use crate::s3::auth::Verified;
use crate::s3::error::S3Error;
use crate::s3::op::{Op, S3Request};
use crate::service::body::{drain, DRAIN_ON_ERROR};
use crate::service::TargetContext;
use crate::store::{self};
use crate::wire::ApiError;

use super::body::{upload_body, upload_error};
use super::copy::copy;
use super::headers::{
    attrs, check_conditions, checksum_headers, etag, object_headers, overrides, user_meta,
};
use super::multipart::{complete_upload, create_upload, list_parts, upload_part, upload_part_copy};

pub(super) async fn serve(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
    s3: S3Request,
    verified: Verified,
) -> Result<Response<Body>, S3Error> {
    crate::names::validate_bucket(&s3.bucket)?;
    crate::names::validate_object(&s3.key)?;
    let m = &ctx.metrics;
    match s3.op.clone() {
        Op::PutObject => {
            let r = put(ctx, req, &s3, verified).await;
            count(r.is_ok(), &m.put_count, &m.err_put_count);
            r
        }
        Op::GetObject | Op::HeadObject => {
            let r = get(ctx, &req, &s3).await;
            let ok = r.is_ok() || matches!(r, Err(S3Error::NotModified));
            if s3.op == Op::GetObject {
                count(ok, &m.get_count, &m.err_get_count);
            } else {
                count(ok, &m.head_count, &m.err_head_count);
            }
            r
        }
        Op::DeleteObject => {
            match crate::service::locate::delete_everywhere(ctx, &s3.bucket, &s3.key).await {
                Ok(()) => m.del_count.inc(),
                Err(ApiError::Store(e)) if matches!(*e, store::Error::ObjectNotFound { .. }) => {}
                Err(e) => {
                    m.err_del_count.inc();
                    return Err(e.into());
                }
            }
            Ok(status(StatusCode::NO_CONTENT))
        }
        Op::CopyObject { source } => copy(ctx, req.headers(), &s3, &source).await,
        Op::CreateMultipartUpload => create_upload(ctx, req.headers(), s3).await,
        Op::UploadPart { upload_id, part } => {
            upload_part(ctx, req, &s3, &upload_id, part, verified).await
        }
        Op::UploadPartCopy {
            upload_id,
            part,
            source,
        } => upload_part_copy(ctx, &req, &s3, &upload_id, part, &source).await,
        Op::CompleteMultipartUpload { upload_id } => {
            let r = complete_upload(ctx, req, s3, &upload_id).await;
            if r.is_ok() {
                m.put_count.inc();
            }
            r
        }
        Op::AbortMultipartUpload { upload_id } => {
            ctx.store
                .abort_upload(&s3.bucket, &s3.key, &upload_id)
                .await?;
            Ok(status(StatusCode::NO_CONTENT))
        }
        Op::ListParts { upload_id } => list_parts(ctx, &s3, &upload_id).await,
        other => Err(S3Error::NotImplemented(format!(
            "{other:?} as an object operation"
        ))),
    }
}

fn count(ok: bool, n: &prometheus::IntCounter, err: &prometheus::IntCounter) {
    if ok {
        n.inc()
    } else {
        err.inc()
    }
}

pub(super) fn status(s: StatusCode) -> Response<Body> {
    let mut r = Response::new(empty());
    *r.status_mut() = s;
    r
}

async fn put(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
    s3: &S3Request,
    verified: Verified,
) -> Result<Response<Body>, S3Error> {
    let (parts, mut incoming) = req.into_parts();
    let h = &parts.headers;
    let result = async {
        let (body, mut opts, verdict) = upload_body(ctx, &mut incoming, h, verified)?;
        opts.custom = user_meta(h)?;
        opts.attrs = attrs(h);
        ctx.store
            .put(&s3.bucket, &s3.key, body, opts)
            .await
            .map_err(|e| upload_error(e, &verdict))
    }
    .await;
    let info = match result {
        Ok(info) => info,
        Err(e) => {
            drain(&mut incoming, DRAIN_ON_ERROR, Duration::from_secs(2)).await;
            return Err(e);
        }
    };
    crate::service::redundancy::protect(ctx, &s3.bucket, &s3.key).await?;
    ctx.metrics.put_bytes.inc_by(info.meta.size);
    let mut resp = Response::new(empty());
    set_header(&mut resp, header::ETAG, etag(&info.meta));
    checksum_headers(resp.headers_mut(), &info.meta);
    Ok(resp)
}

async fn get(
    ctx: &Arc<TargetContext>,
    req: &Request<Incoming>,
    s3: &S3Request,
) -> Result<Response<Body>, S3Error> {
    let h = req.headers();
    let is_get = req.method() == Method::GET;
    let open = || async {
        crate::service::locate::open_here_or_fetch(ctx, &s3.bucket, &s3.key)
            .await
            .map_err(S3Error::from)
    };
    let reader = if is_get { Some(open().await?) } else { None };
    let info = match &reader {
        Some(r) => r.info.clone(),
        None => match ctx.store.head(&s3.bucket, &s3.key).await {
            // Perhaps still at its previous owner (rebalance): fetched like a GET.
            Err(store::Error::ObjectNotFound { .. }) => open().await?.info,
            other => other?,
        },
    };
    let mut headers = HeaderMap::with_capacity(16);
    object_headers(&mut headers, &info);
    if let Err(e) = check_conditions(h, &info.meta, info.mtime_ns) {
        if matches!(e, S3Error::NotModified) {
            let mut r = status(StatusCode::NOT_MODIFIED);
            for name in [header::ETAG, header::LAST_MODIFIED] {
                if let Some(v) = headers.remove(&name) {
                    r.headers_mut().insert(name, v);
                }
            }
            return Ok(r);
        }
        return Err(e);
    }
    let size = info.meta.size;
    let range = match h.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(text) => Some(
            crate::range::parse(text, size)
                .map_err(|_| S3Error::InvalidRange(text.into(), size))?,
        ),
        None => None,
    };
    let (start, len) = range.unwrap_or((0, size));
    let wants_checksum = h
        .get("x-amz-checksum-mode")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"enabled"));
    if wants_checksum && range.is_none() {
        checksum_headers(&mut headers, &info.meta);
    }
    if is_get {
        overrides(&mut headers, &crate::http::request::query(req));
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let mut resp = match reader {
        Some(reader) => {
            if ctx.store.config().validate_on_get {
                reader.verify().await?;
            }
            ctx.metrics.get_bytes.inc_by(len);
            Response::new(stream(reader.stream(start, len)))
        }
        None => Response::new(empty()),
    };
    if range.is_some() {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{size}", start + len - 1)) {
            headers.insert(header::CONTENT_RANGE, v);
        }
    }
    *resp.headers_mut() = headers;
    Ok(resp)
}
