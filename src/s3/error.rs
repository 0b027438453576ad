//! The one place where S3 failures become HTTP: the standard error codes, their statuses,
//! and the `<Error>` XML body (for HEAD, no body: S3 clients read the status alone).

use http::{header, HeaderValue, Method, Response, StatusCode};
use serde::Serialize;
use thiserror::Error;

use crate::http::{empty, full, Body};
use crate::store;

/// An S3 request that failed, with the S3 error code it is reported as.
#[derive(Debug, Error)]
pub enum S3Error {
    /// The store refused or failed.
    #[error("{0}")]
    Store(Box<store::Error>),
    /// A bucket or object name was refused.
    #[error(transparent)]
    Name(#[from] crate::names::NameError),
    /// `NoSuchBucket` known at the proxy.
    #[error("the bucket {0:?} does not exist")]
    NoSuchBucket(String),
    /// `BucketAlreadyOwnedByYou`.
    #[error("the bucket {0:?} already exists and is yours")]
    BucketExists(String),
    /// `BucketNotEmpty`.
    #[error("the bucket {0:?} is not empty")]
    BucketNotEmpty(String),
    /// `InvalidArgument` and other 400s with a code of their own.
    #[error("{1}")]
    Invalid(&'static str, String),
    /// `InvalidRange`.
    #[error("the range {0:?} cannot be satisfied for an object of {1} bytes")]
    InvalidRange(String, u64),
    /// `MalformedXML`.
    #[error("the XML you provided is not well-formed: {0}")]
    MalformedXml(String),
    /// `BadDigest`: a checksum the client sent does not match the data.
    #[error("{0}")]
    BadDigest(String),
    /// `PreconditionFailed` (412).
    #[error("at least one of the preconditions you specified did not hold")]
    PreconditionFailed,
    /// `304 Not Modified` (an error only in the sense that no body is sent).
    #[error("not modified")]
    NotModified,
    /// `AccessDenied`, `SignatureDoesNotMatch`, `InvalidAccessKeyId`, `RequestTimeTooSkewed`...
    #[error("{1}")]
    Auth(&'static str, String),
    /// `NotImplemented`.
    #[error("{0} is not implemented")]
    NotImplemented(String),
    /// `MethodNotAllowed`.
    #[error("the method {0} is not allowed against this resource")]
    MethodNotAllowed(Method),
    /// `ServiceUnavailable` (no target, shutting down).
    #[error("{0}")]
    Unavailable(String),
    /// A node this one forwarded to failed (`InternalError`, 502).
    #[error("{0}")]
    Upstream(String),
    /// The request conflicts with what is there now (`OperationAborted`, 409).
    #[error("{0}")]
    Conflict(String),
}

impl From<store::Error> for S3Error {
    fn from(e: store::Error) -> Self {
        S3Error::Store(Box::new(e))
    }
}

impl S3Error {
    /// The S3 error code and HTTP status.
    pub fn code(&self) -> (&'static str, StatusCode) {
        use store::Error as E;
        use StatusCode as S;
        match self {
            S3Error::Store(e) => match e.as_ref() {
                E::BucketNotFound(_) => ("NoSuchBucket", S::NOT_FOUND),
                E::ObjectNotFound { .. } => ("NoSuchKey", S::NOT_FOUND),
                E::BucketExists(_) => ("BucketAlreadyOwnedByYou", S::CONFLICT),
                E::Name(n) => name_code(n),
                E::ChecksumMismatch { .. } => ("BadDigest", S::BAD_REQUEST),
                E::UnsupportedChecksum { .. } => ("InvalidArgument", S::BAD_REQUEST),
                E::TooLarge { .. } => ("EntityTooLarge", S::BAD_REQUEST),
                E::NameConflict { .. } => ("InvalidArgument", S::CONFLICT),
                E::NotNewer { .. } => ("OperationAborted", S::CONFLICT),
                E::Body { .. } => ("IncompleteBody", S::BAD_REQUEST),
                E::NoSuchUpload { .. } => ("NoSuchUpload", S::NOT_FOUND),
                E::InvalidPart { .. } => ("InvalidPart", S::BAD_REQUEST),
                E::InvalidPartOrder { .. } => ("InvalidPartOrder", S::BAD_REQUEST),
                E::PartTooSmall { .. } => ("EntityTooSmall", S::BAD_REQUEST),
                E::NoSpace(_) => ("InsufficientStorage", S::INSUFFICIENT_STORAGE),
                E::Busy(..) => ("SlowDown", S::SERVICE_UNAVAILABLE),
                E::NoMountpaths | E::MountpathDown { .. } => {
                    ("ServiceUnavailable", S::SERVICE_UNAVAILABLE)
                }
                E::Mountpath(_) => ("InvalidRequest", S::BAD_REQUEST),
                E::MetadataTooLarge { .. } => ("MetadataTooLarge", S::BAD_REQUEST),
                E::Corrupted { .. } | E::BadMeta { .. } | E::Io { .. } => {
                    ("InternalError", S::INTERNAL_SERVER_ERROR)
                }
            },
            S3Error::Name(n) => name_code(n),
            S3Error::NoSuchBucket(_) => ("NoSuchBucket", S::NOT_FOUND),
            S3Error::BucketExists(_) => ("BucketAlreadyOwnedByYou", S::CONFLICT),
            S3Error::BucketNotEmpty(_) => ("BucketNotEmpty", S::CONFLICT),
            S3Error::Invalid(code, _) => (code, S::BAD_REQUEST),
            S3Error::InvalidRange(..) => ("InvalidRange", S::RANGE_NOT_SATISFIABLE),
            S3Error::MalformedXml(_) => ("MalformedXML", S::BAD_REQUEST),
            S3Error::BadDigest(_) => ("BadDigest", S::BAD_REQUEST),
            S3Error::PreconditionFailed => ("PreconditionFailed", S::PRECONDITION_FAILED),
            S3Error::NotModified => ("NotModified", S::NOT_MODIFIED),
            S3Error::Auth(code, _) => (code, S::FORBIDDEN),
            S3Error::NotImplemented(_) => ("NotImplemented", S::NOT_IMPLEMENTED),
            S3Error::MethodNotAllowed(_) => ("MethodNotAllowed", S::METHOD_NOT_ALLOWED),
            S3Error::Unavailable(_) => ("ServiceUnavailable", S::SERVICE_UNAVAILABLE),
            S3Error::Upstream(_) => ("InternalError", S::BAD_GATEWAY),
            S3Error::Conflict(_) => ("OperationAborted", S::CONFLICT),
        }
    }
}

fn name_code(n: &crate::names::NameError) -> (&'static str, StatusCode) {
    match n {
        crate::names::NameError::Bucket(_) => ("InvalidBucketName", StatusCode::BAD_REQUEST),
        crate::names::NameError::Object { why, .. } if why.starts_with("longer") => {
            ("KeyTooLongError", StatusCode::BAD_REQUEST)
        }
        crate::names::NameError::Object { .. } | crate::names::NameError::Prefix { .. } => {
            ("InvalidArgument", StatusCode::BAD_REQUEST)
        }
    }
}

#[derive(Serialize)]
#[serde(rename = "Error", rename_all = "PascalCase")]
struct ErrorXml<'a> {
    code: &'a str,
    message: String,
    resource: &'a str,
    request_id: &'a str,
}

/// Renders `err` as S3 does; `resource` is the request path, `request_id` the ID this
/// request was given (also sent as `x-amz-request-id`).
pub fn error_response(
    err: &S3Error,
    method: &Method,
    resource: &str,
    request_id: &str,
) -> Response<Body> {
    let (code, status) = err.code();
    let mut resp = if *method == Method::HEAD || status == StatusCode::NOT_MODIFIED {
        Response::new(empty())
    } else {
        let xml = super::xml::to_xml(&ErrorXml {
            code,
            message: err.to_string(),
            resource,
            request_id,
        });
        let mut r = Response::new(full(xml));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        r
    };
    *resp.status_mut() = status;
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if let S3Error::InvalidRange(_, size) = err {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let cases: Vec<(S3Error, &str, u16)> = vec![
            (
                store::Error::BucketNotFound("b".into()).into(),
                "NoSuchBucket",
                404,
            ),
            (
                store::Error::ObjectNotFound {
                    bucket: "b".into(),
                    object: "o".into(),
                }
                .into(),
                "NoSuchKey",
                404,
            ),
            (S3Error::BucketNotEmpty("b".into()), "BucketNotEmpty", 409),
            (
                S3Error::InvalidRange("bytes=9-".into(), 3),
                "InvalidRange",
                416,
            ),
            (
                crate::names::validate_object(&"x".repeat(1100))
                    .unwrap_err()
                    .into(),
                "KeyTooLongError",
                400,
            ),
            (
                crate::names::validate_bucket("a b").unwrap_err().into(),
                "InvalidBucketName",
                400,
            ),
            (S3Error::NotImplemented("x".into()), "NotImplemented", 501),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code().0, code, "{err}");
            assert_eq!(err.code().1.as_u16(), status, "{err}");
        }
    }

    #[test]
    fn error_body_is_s3_xml() {
        let r = error_response(&S3Error::NoSuchBucket("b".into()), &Method::GET, "/b", "r1");
        assert_eq!(r.status(), 404);
        let r = error_response(
            &S3Error::NoSuchBucket("b".into()),
            &Method::HEAD,
            "/b",
            "r1",
        );
        assert_eq!(r.status(), 404);
    }
}
