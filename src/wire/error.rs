//! The one place where errors become HTTP: status codes and AIStore-shaped JSON bodies
//! (`{"message","method","url_path","remote_addr","caller","node","status"}`); for HEAD the
//! same JSON goes into the `Hdr-Error` header.

use http::{header, HeaderValue, Method, Response, StatusCode};
use serde::Serialize;
use thiserror::Error;

use crate::http::{empty, full, Body};
use crate::s3::error::S3Error;
use crate::store;

/// A failed native-API request.
#[derive(Debug, Error)]
pub enum ApiError {
    /// The store refused or failed (boxed: store errors carry names and checksums).
    #[error("{}", store_message(.0))]
    Store(Box<store::Error>),
    /// A bucket or object name was refused.
    #[error(transparent)]
    Name(#[from] crate::names::NameError),
    /// The bucket is not in the cluster's bucket list.
    #[error("bucket \"ais://{0}\" does not exist")]
    NoBucket(String),
    /// Creating a bucket the cluster already has.
    #[error("bucket \"ais://{0}\" already exists")]
    BucketExists(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// No such endpoint.
    #[error("{0}")]
    NotFound(String),
    /// The endpoint does not take this method.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(Method),
    /// A `Range` header that is malformed, multi-range, or outside the object.
    #[error("ais://{bucket}/{object}: range {range:?} is invalid or not satisfiable for {size} bytes (one range of the form bytes=a-b, bytes=a- or bytes=-n)")]
    Range {
        /// Bucket.
        bucket: String,
        /// Object.
        object: String,
        /// The header as sent.
        range: String,
        /// Object size.
        size: u64,
    },
    /// The announced body is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// The node is shutting down.
    #[error("node is shutting down")]
    ShuttingDown,
    /// No node can serve the request now (e.g. no target registered).
    #[error("{0}")]
    Unavailable(String),
    /// A node this one depends on failed.
    #[error("{0}")]
    Upstream(String),
    /// The caller may not do this here (control endpoint on a public port, bad signature,
    /// token without the permission).
    #[error("{0}")]
    Forbidden(String),
    /// No valid credentials where they are required.
    #[error("{0}")]
    Unauthorized(String),
    /// Too many connections or requests: retry after a moment.
    #[error("{0}")]
    Busy(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// This node has as much of this kind of work as it takes: retry later (429).
    #[error("{0}")]
    TooManyRequests(String),
}

impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> Self {
        ApiError::Store(Box::new(e))
    }
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        use store::Error as S;
        match self {
            ApiError::Store(e) => match e.as_ref() {
                S::BucketNotFound(_) | S::ObjectNotFound { .. } | S::NoSuchUpload { .. } => {
                    StatusCode::NOT_FOUND
                }
                S::InvalidPart { .. } | S::InvalidPartOrder { .. } | S::PartTooSmall { .. } => {
                    StatusCode::BAD_REQUEST
                }
                S::BucketExists(_) | S::NameConflict { .. } | S::NotNewer { .. } => {
                    StatusCode::CONFLICT
                }
                S::Name(_)
                | S::ChecksumMismatch { .. }
                | S::UnsupportedChecksum { .. }
                | S::Body { .. } => StatusCode::BAD_REQUEST,
                S::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                S::NoSpace(_) => StatusCode::INSUFFICIENT_STORAGE,
                S::Busy(..) | S::NoMountpaths | S::MountpathDown { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                S::Mountpath(crate::fs::MpChangeError::Unknown(_)) => StatusCode::NOT_FOUND,
                S::Mountpath(_) => StatusCode::BAD_REQUEST,
                S::MetadataTooLarge { .. } => StatusCode::BAD_REQUEST,
                S::Corrupted { .. } | S::BadMeta { .. } | S::Io { .. } => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            },
            ApiError::BadRequest(_) | ApiError::Name(_) => StatusCode::BAD_REQUEST,
            ApiError::NoBucket(_) => StatusCode::NOT_FOUND,
            ApiError::BucketExists(_) => StatusCode::CONFLICT,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Range { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ShuttingDown | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// Whether a checksum failed (for the error counter).
    pub fn is_checksum(&self) -> bool {
        match self {
            ApiError::Store(e) => matches!(
                e.as_ref(),
                store::Error::ChecksumMismatch { .. } | store::Error::Corrupted { .. }
            ),
            _ => false,
        }
    }
}

/// A store error in AIStore's words: buckets and objects named `ais://bucket/object`,
/// which AIStore clients parse to tell "bucket missing" from "object missing".
fn store_message(e: &store::Error) -> String {
    use store::Error as S;
    match e {
        S::BucketNotFound(b) => format!("bucket \"ais://{b}\" does not exist"),
        S::BucketExists(b) => format!("bucket \"ais://{b}\" already exists"),
        S::ObjectNotFound { bucket, object } => {
            format!("object \"ais://{bucket}/{object}\" does not exist")
        }
        S::Name(_)
        | S::NoSpace(_)
        | S::Busy(..)
        | S::Io { .. }
        | S::NoMountpaths
        | S::Mountpath(_) => e.to_string(),
        // The rest start with "bucket/object: ".
        _ => format!("ais://{e}"),
    }
}

#[derive(Serialize)]
struct ErrBody<'a> {
    message: String,
    method: &'a str,
    url_path: &'a str,
    remote_addr: &'a str,
    caller: &'a str,
    node: String,
    status: u16,
}

/// Renders `err` as AIStore does; `node` names the node that answered (`t[ID]`, `p[ID]`).
pub fn error_response(err: &ApiError, method: &Method, path: &str, node: &str) -> Response<Body> {
    let status = err.status();
    let body = ErrBody {
        message: err.to_string(),
        method: method.as_str(),
        url_path: path,
        remote_addr: "",
        caller: "",
        node: node.to_string(),
        status: status.as_u16(),
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    let mut resp = if *method == Method::HEAD {
        let mut r = Response::new(empty());
        if let Ok(v) = HeaderValue::from_bytes(&json) {
            r.headers_mut().insert("Hdr-Error", v);
        }
        r
    } else {
        let mut r = Response::new(full(json));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    };
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if let ApiError::Range { size, .. } = err {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    resp
}

/// A refused client: 401 without valid credentials, 403 with a valid token lacking the right.
impl From<crate::client_auth::Refusal> for ApiError {
    fn from(e: crate::client_auth::Refusal) -> ApiError {
        match e {
            crate::client_auth::Refusal::Denied(m) => ApiError::Forbidden(m),
            crate::client_auth::Refusal::Unauthenticated(m) => ApiError::Unauthorized(m),
        }
    }
}

/// The one map from AIStore's errors (the services' and the native fan-out's) to S3's, for
/// the S3 front ends of target and proxy: an S3 client always gets an S3 error.
impl From<ApiError> for S3Error {
    fn from(e: ApiError) -> S3Error {
        match e {
            ApiError::Store(s) => S3Error::Store(s),
            ApiError::Name(n) => S3Error::Name(n),
            ApiError::NoBucket(b) => S3Error::NoSuchBucket(b),
            ApiError::BucketExists(b) => S3Error::BucketExists(b),
            ApiError::BadRequest(m) | ApiError::NotFound(m) => {
                S3Error::Invalid("InvalidRequest", m)
            }
            ApiError::MethodNotAllowed(m) => S3Error::MethodNotAllowed(m),
            ApiError::Range { range, size, .. } => S3Error::InvalidRange(range, size),
            ApiError::TooLarge(m) => S3Error::Invalid("EntityTooLarge", m),
            ApiError::ShuttingDown => S3Error::Unavailable("node is shutting down".into()),
            ApiError::Unavailable(m) | ApiError::Busy(m) | ApiError::TooManyRequests(m) => {
                S3Error::Unavailable(m)
            }
            ApiError::Upstream(m) => S3Error::Upstream(m),
            ApiError::Forbidden(m) | ApiError::Unauthorized(m) => S3Error::Auth("AccessDenied", m),
            ApiError::Conflict(m) => S3Error::Conflict(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_clients_get_the_s3_code_for_each_error() {
        let cases: Vec<(ApiError, &str, u16)> = vec![
            (ApiError::NoBucket("b".into()), "NoSuchBucket", 404),
            (
                ApiError::BucketExists("b".into()),
                "BucketAlreadyOwnedByYou",
                409,
            ),
            (ApiError::BadRequest("x".into()), "InvalidRequest", 400),
            (ApiError::NotFound("x".into()), "InvalidRequest", 400),
            (
                ApiError::MethodNotAllowed(Method::PATCH),
                "MethodNotAllowed",
                405,
            ),
            (
                ApiError::Range {
                    bucket: "b".into(),
                    object: "o".into(),
                    range: "bytes=9-".into(),
                    size: 3,
                },
                "InvalidRange",
                416,
            ),
            (ApiError::TooLarge("x".into()), "EntityTooLarge", 400),
            (ApiError::ShuttingDown, "ServiceUnavailable", 503),
            (ApiError::Unavailable("x".into()), "ServiceUnavailable", 503),
            (ApiError::Busy("x".into()), "ServiceUnavailable", 503),
            (ApiError::Upstream("x".into()), "InternalError", 502),
            (ApiError::Forbidden("x".into()), "AccessDenied", 403),
            (ApiError::Unauthorized("x".into()), "AccessDenied", 403),
            (ApiError::Conflict("x".into()), "OperationAborted", 409),
            (
                ApiError::from(store::Error::ObjectNotFound {
                    bucket: "b".into(),
                    object: "o".into(),
                }),
                "NoSuchKey",
                404,
            ),
        ];
        for (api, code, status) in cases {
            let what = format!("{api:?}");
            let (c, s) = S3Error::from(api).code();
            assert_eq!((c, s.as_u16()), (code, status), "{what}");
        }
    }
}
