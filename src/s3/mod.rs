//! S3, the dialect: requests parsed into typed operations ([`op`]), SigV4 ([`auth`]),
//! S3 XML documents and errors, aws-chunked bodies, and the bucket operations both the
//! proxy and a lone target serve ([`bucket`], over a [`bucket::Buckets`] of either). The
//! target's object front end is [`s3_api`](crate::s3_api). Every request is parsed once into an [`op::S3Request`]; failures
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
pub mod op;
pub mod xml;

use http::{HeaderMap, HeaderName, HeaderValue, Response};

use crate::http::Body;
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

/// A whole S3 error answer (XML body, request ID) for a request refused before an S3
/// handler saw it (the gates).
pub fn refusal(e: &error::S3Error, method: &http::Method, path: &str) -> Response<Body> {
    let rid = request_id();
    finish(error::error_response(e, method, path, &rid), &rid)
}
