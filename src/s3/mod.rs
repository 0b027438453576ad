//! The S3-compatible front end, beside [`native_api`](crate::native_api) over the same
//! buckets and objects. Every request is parsed once into an [`op::S3Request`]; failures
//! become S3 XML errors in [`error`] only.
//!
//! Where requests are served: an object operation by the target that owns the object (the
//! proxy, or a target that does not own it, forwards the request there by streaming:
//! botocore does not follow redirects); a bucket operation by the proxy (a target
//! registered with a proxy forwards it there; a lone target serves it from its store).
//! The node that serves a request verifies its signature; forwarders pass it on intact.

pub mod access;
pub mod auth;
pub mod bucket;
pub mod checksum;
pub mod chunked;
pub mod error;
pub mod list;
mod local;
mod object;
pub mod op;
pub mod xml;

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use hyper::body::Incoming;

use crate::http::Body;
use crate::target_node::TargetContext;
use error::S3Error;
use op::Style;

/// Marks a request forwarded once already: the receiver serves it, never forwards again.
pub const FORWARDED: HeaderName = HeaderName::from_static("ais-s3-forwarded");
/// Tells the receiver of a forwarded request how the path names the bucket (`root`, or
/// `vhost=<bucket>`); absent means `/s3/...`. Only routing: the signature still covers
/// the path and host exactly as the client sent them.
pub const STYLE: HeaderName = HeaderName::from_static("ais-s3-style");
/// A client that follows redirects asks the proxy for a 307 to the owner instead of the
/// forwarded answer.
pub const WANTS_REDIRECT: HeaderName = HeaderName::from_static("ais-s3-redirect");
/// Largest XML request body (CompleteMultipartUpload of 10,000 parts, DeleteObjects).
pub const MAX_XML_BODY: usize = 2 << 20;
/// How long an XML body may take to arrive (as a native control message).
pub const XML_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A fresh request ID, as `x-amz-request-id`.
pub fn request_id() -> String {
    use rand::Rng;
    format!("{:016X}", rand::thread_rng().gen::<u64>())
}

/// The path relative to the S3 root, and the style, of a request that reached `/s3`
/// (or, with a style hint, anything).
pub fn style_of(path: &str, headers: &HeaderMap) -> (String, Style) {
    match headers.get(&STYLE).and_then(|v| v.to_str().ok()) {
        Some("root") => (path.to_string(), Style::Root),
        Some(v) if v.starts_with("vhost=") => {
            (path.to_string(), Style::VirtualHost(v[6..].to_string()))
        }
        _ => (
            path.strip_prefix("/s3").unwrap_or(path).to_string(),
            Style::Prefixed,
        ),
    }
}

/// The hint header for a style.
pub fn style_header(style: &Style) -> Option<(HeaderName, HeaderValue)> {
    let v = match style {
        Style::Prefixed => return None,
        Style::Root => "root".to_string(),
        Style::VirtualHost(b) => format!("vhost={b}"),
    };
    HeaderValue::from_str(&v).ok().map(|v| (STYLE, v))
}

/// Unix seconds now.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Stamps the request ID on a response (a forwarded answer keeps the serving node's, the
/// one its error body names).
pub fn finish(mut resp: Response<Body>, request_id: &str) -> Response<Body> {
    if !resp.headers().contains_key("x-amz-request-id") {
        if let Ok(v) = HeaderValue::from_str(request_id) {
            resp.headers_mut().insert("x-amz-request-id", v);
        }
    }
    resp.headers_mut()
        .insert(http::header::SERVER, HeaderValue::from_static("AIStore"));
    resp
}

/// Serves an S3 request on a target; never fails (errors become S3 XML).
pub async fn handle_target(ctx: Arc<TargetContext>, req: Request<Incoming>) -> Response<Body> {
    let rid = request_id();
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let resp = match route_target(&ctx, req).await {
        Ok(r) => r,
        Err(e) => {
            let (code, status) = e.code();
            if status.is_server_error() {
                tracing::warn!(%method, %path, code, error = %e, "S3 request failed");
            } else {
                tracing::debug!(%method, %path, code, error = %e, "S3 request refused");
            }
            error::error_response(&e, &method, &path, &rid)
        }
    };
    finish(resp, &rid)
}

async fn route_target(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, S3Error> {
    let (rel, style) = style_of(req.uri().path(), req.headers());
    let (bucket, key) = op::resource(&rel, &style)?;
    let query = crate::http::request::query(&req);
    let parsed = op::parse(req.method(), bucket, key, query, req.headers())?;
    let forwarded = req.headers().contains_key(&FORWARDED);
    let uuid = ctx
        .cluster
        .smap()
        .map(|s| s.uuid.clone())
        .unwrap_or_default();
    let mut extra: Vec<(HeaderName, HeaderValue)> =
        vec![(FORWARDED, HeaderValue::from_static("1"))];
    extra.extend(style_header(&style));
    if parsed.is_object_op() {
        if !forwarded {
            if let Some(owner) = ctx.other_owner(&parsed.bucket, &parsed.key) {
                return ctx
                    .data
                    .forward(req, owner.control_url(), &extra)
                    .await
                    .map_err(|e| S3Error::Upstream(e.to_string()));
            }
        }
        let verified = access::verify(client_keys(ctx, &uuid), &req, &style, &parsed)?;
        return object::serve(ctx, req, parsed, verified).await;
    }
    if let (Some(proxy), false) = (&ctx.config.proxy, forwarded) {
        // Bucket operations need the whole cluster's view: the proxy has it.
        return ctx
            .data
            .forward(req, proxy, &extra)
            .await
            .map_err(|e| S3Error::Upstream(e.to_string()));
    }
    access::verify(client_keys(ctx, &uuid), &req, &style, &parsed)?;
    let body = crate::http::request::read_limited_within(
        req.into_body(),
        MAX_XML_BODY,
        crate::s3::XML_BODY_TIMEOUT,
    )
    .await
    .map_err(|e| S3Error::Invalid("InvalidRequest", format!("request body: {e}")))?;
    bucket::serve(&local::LocalBuckets(ctx), &parsed, body).await
}

/// The client credentials of a target, for [`access::verify`].
fn client_keys<'a>(ctx: &'a TargetContext, uuid: &'a str) -> access::ClientKeys<'a> {
    access::ClientKeys {
        s3: ctx.config.s3_credentials.as_ref(),
        token: ctx.config.intra.auth.as_ref(),
        uuid,
    }
}
