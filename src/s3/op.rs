//! Every S3 request parsed once, at the edge, into a typed operation: which bucket, which
//! key, what to do. Handlers never look at the method or the query to decide what to do.

use std::collections::HashMap;

use http::{HeaderMap, Method};

use super::error::S3Error;

/// How the request names its bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    /// `/s3/<bucket>/<key>` (AIStore's endpoint).
    Prefixed,
    /// `/<bucket>/<key>` (the proxy with `s3_at_root`).
    Root,
    /// `Host: <bucket>.<domain>`, path `/<key>`.
    VirtualHost(String),
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    ListBuckets,
    CreateBucket,
    DeleteBucket,
    HeadBucket,
    GetBucketLocation,
    GetBucketVersioning,
    /// ListObjectsV2 (`list-type=2`) or v1.
    ListObjects {
        v2: bool,
    },
    ListObjectVersions,
    ListMultipartUploads,
    DeleteObjects,
    PutObject,
    CopyObject {
        source: CopySource,
    },
    GetObject,
    HeadObject,
    DeleteObject,
    CreateMultipartUpload,
    UploadPart {
        upload_id: String,
        part: u32,
    },
    UploadPartCopy {
        upload_id: String,
        part: u32,
        source: CopySource,
    },
    CompleteMultipartUpload {
        upload_id: String,
    },
    AbortMultipartUpload {
        upload_id: String,
    },
    ListParts {
        upload_id: String,
    },
}

/// `x-amz-copy-source`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
}

/// A parsed S3 request.
#[derive(Debug, Clone)]
pub struct S3Request {
    pub op: Op,
    /// Bucket ("" for ListBuckets).
    pub bucket: String,
    /// Key ("" for service and bucket operations).
    pub key: String,
    /// Query parameters, decoded.
    pub query: HashMap<String, String>,
}

impl S3Request {
    /// Whether the operation is on one object (served by the object's owner).
    pub fn is_object_op(&self) -> bool {
        !self.key.is_empty()
    }
}

/// Bucket sub-resources S3 has and we do not.
const UNSUPPORTED_BUCKET: &[&str] = &[
    "acl",
    "policy",
    "cors",
    "lifecycle",
    "tagging",
    "encryption",
    "website",
    "logging",
    "notification",
    "replication",
    "requestPayment",
    "accelerate",
    "analytics",
    "inventory",
    "metrics",
    "object-lock",
    "ownershipControls",
    "publicAccessBlock",
    "intelligent-tiering",
    "policyStatus",
];
const UNSUPPORTED_OBJECT: &[&str] = &[
    "acl",
    "tagging",
    "retention",
    "legal-hold",
    "torrent",
    "restore",
    "select",
    "attributes",
];

/// Splits a path (without the `/s3` prefix for [`Style::Prefixed`]) into bucket and key,
/// percent-decoding each once.
pub fn resource(path: &str, style: &Style) -> Result<(String, String), S3Error> {
    let decode =
        |s: &str| crate::http::request::decode(s).map_err(|m| S3Error::Invalid("InvalidURI", m));
    let path = path.strip_prefix('/').unwrap_or(path);
    match style {
        Style::VirtualHost(bucket) => Ok((bucket.clone(), decode(path)?)),
        _ => match path.split_once('/') {
            None => Ok((decode(path)?, String::new())),
            Some((b, k)) => Ok((decode(b)?, decode(k)?)),
        },
    }
}

/// Parses what the request asks for.
pub fn parse(
    method: &Method,
    bucket: String,
    key: String,
    query: HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<S3Request, S3Error> {
    let has = |k: &str| query.contains_key(k);
    let upload_id = || query.get("uploadId").cloned().unwrap_or_default();
    let op = if bucket.is_empty() {
        match *method {
            Method::GET => Op::ListBuckets,
            _ => return Err(S3Error::MethodNotAllowed(method.clone())),
        }
    } else if key.is_empty() {
        if let Some(sub) = UNSUPPORTED_BUCKET.iter().find(|s| has(s)) {
            return Err(S3Error::NotImplemented(format!(
                "bucket sub-resource ?{sub}"
            )));
        }
        match *method {
            Method::PUT if has("versioning") => {
                return Err(S3Error::NotImplemented(
                    "PutBucketVersioning (buckets are unversioned)".into(),
                ))
            }
            Method::PUT => Op::CreateBucket,
            Method::DELETE => Op::DeleteBucket,
            Method::HEAD => Op::HeadBucket,
            Method::GET if has("location") => Op::GetBucketLocation,
            Method::GET if has("versioning") => Op::GetBucketVersioning,
            Method::GET if has("uploads") => Op::ListMultipartUploads,
            Method::GET if has("versions") => Op::ListObjectVersions,
            Method::GET => Op::ListObjects {
                v2: query.get("list-type").is_some_and(|v| v == "2"),
            },
            Method::POST if has("delete") => Op::DeleteObjects,
            _ => return Err(S3Error::MethodNotAllowed(method.clone())),
        }
    } else {
        if let Some(sub) = UNSUPPORTED_OBJECT.iter().find(|s| has(s)) {
            return Err(S3Error::NotImplemented(format!(
                "object sub-resource ?{sub}"
            )));
        }
        let copy = headers
            .get("x-amz-copy-source")
            .map(|v| copy_source(v.to_str().unwrap_or("")))
            .transpose()?;
        match *method {
            Method::PUT if has("uploadId") || has("partNumber") => {
                let part = part_number(query.get("partNumber"))?;
                match copy {
                    Some(source) => Op::UploadPartCopy {
                        upload_id: upload_id(),
                        part,
                        source,
                    },
                    None => Op::UploadPart {
                        upload_id: upload_id(),
                        part,
                    },
                }
            }
            Method::PUT => match copy {
                Some(source) => Op::CopyObject { source },
                None => Op::PutObject,
            },
            Method::GET if has("uploadId") => Op::ListParts {
                upload_id: upload_id(),
            },
            Method::GET => Op::GetObject,
            Method::HEAD => Op::HeadObject,
            Method::DELETE if has("uploadId") => Op::AbortMultipartUpload {
                upload_id: upload_id(),
            },
            Method::DELETE => Op::DeleteObject,
            Method::POST if has("uploads") => Op::CreateMultipartUpload,
            Method::POST if has("uploadId") => Op::CompleteMultipartUpload {
                upload_id: upload_id(),
            },
            _ => return Err(S3Error::MethodNotAllowed(method.clone())),
        }
    };
    Ok(S3Request {
        op,
        bucket,
        key,
        query,
    })
}

fn part_number(v: Option<&String>) -> Result<u32, S3Error> {
    v.and_then(|s| s.parse::<u32>().ok())
        .filter(|n| (1..=crate::store::MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| {
            S3Error::Invalid(
                "InvalidArgument",
                "partNumber must be an integer between 1 and 10000".into(),
            )
        })
}

/// `[/]bucket/key[?versionId=...]`, URL-encoded.
fn copy_source(raw: &str) -> Result<CopySource, S3Error> {
    let bad = || {
        S3Error::Invalid(
            "InvalidArgument",
            format!("x-amz-copy-source {raw:?} must be bucket/key"),
        )
    };
    let path = raw.split('?').next().unwrap_or("");
    let path = path.strip_prefix('/').unwrap_or(path);
    let (b, k) = path.split_once('/').ok_or_else(bad)?;
    let decode = |s: &str| crate::http::request::decode(s).map_err(|_| bad());
    let (bucket, key) = (decode(b)?, decode(k)?);
    if bucket.is_empty() || key.is_empty() {
        return Err(bad());
    }
    Ok(CopySource { bucket, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: Method, path: &str, query: &str, headers: &[(&str, &str)]) -> Result<Op, String> {
        let (b, k) = resource(path, &Style::Prefixed).map_err(|e| e.code().0.to_string())?;
        let q = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let mut h = HeaderMap::new();
        for (n, v) in headers {
            h.insert(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        parse(&method, b, k, q, &h)
            .map(|r| r.op)
            .map_err(|e| e.code().0.to_string())
    }

    #[test]
    fn operations_table() {
        let src = CopySource {
            bucket: "src".into(),
            key: "a b/c".into(),
        };
        type Case<'a> = (
            Method,
            &'a str,
            &'a str,
            Vec<(&'a str, &'a str)>,
            Result<Op, String>,
        );
        let cases: Vec<Case> = vec![
            (Method::GET, "", "", vec![], Ok(Op::ListBuckets)),
            (Method::GET, "/", "", vec![], Ok(Op::ListBuckets)),
            (Method::PUT, "/b", "", vec![], Ok(Op::CreateBucket)),
            (Method::PUT, "/b/", "", vec![], Ok(Op::CreateBucket)),
            (
                Method::GET,
                "/b",
                "list-type=2",
                vec![],
                Ok(Op::ListObjects { v2: true }),
            ),
            (
                Method::GET,
                "/b",
                "prefix=x",
                vec![],
                Ok(Op::ListObjects { v2: false }),
            ),
            (
                Method::GET,
                "/b",
                "location",
                vec![],
                Ok(Op::GetBucketLocation),
            ),
            (
                Method::GET,
                "/b",
                "versions",
                vec![],
                Ok(Op::ListObjectVersions),
            ),
            (
                Method::GET,
                "/b",
                "uploads",
                vec![],
                Ok(Op::ListMultipartUploads),
            ),
            (Method::POST, "/b", "delete", vec![], Ok(Op::DeleteObjects)),
            (
                Method::GET,
                "/b",
                "acl",
                vec![],
                Err("NotImplemented".into()),
            ),
            (Method::PUT, "/b/k", "", vec![], Ok(Op::PutObject)),
            (
                Method::PUT,
                "/b/k",
                "",
                vec![("x-amz-copy-source", "/src/a%20b/c?versionId=1")],
                Ok(Op::CopyObject {
                    source: src.clone(),
                }),
            ),
            (
                Method::PUT,
                "/b/k",
                "partNumber=2&uploadId=u",
                vec![],
                Ok(Op::UploadPart {
                    upload_id: "u".into(),
                    part: 2,
                }),
            ),
            (
                Method::PUT,
                "/b/k",
                "partNumber=3&uploadId=u",
                vec![("x-amz-copy-source", "src/a%20b/c")],
                Ok(Op::UploadPartCopy {
                    upload_id: "u".into(),
                    part: 3,
                    source: src,
                }),
            ),
            (
                Method::PUT,
                "/b/k",
                "partNumber=0&uploadId=u",
                vec![],
                Err("InvalidArgument".into()),
            ),
            (
                Method::PUT,
                "/b/k",
                "",
                vec![("x-amz-copy-source", "nokey")],
                Err("InvalidArgument".into()),
            ),
            (
                Method::POST,
                "/b/k",
                "uploads",
                vec![],
                Ok(Op::CreateMultipartUpload),
            ),
            (
                Method::POST,
                "/b/k",
                "uploadId=u",
                vec![],
                Ok(Op::CompleteMultipartUpload {
                    upload_id: "u".into(),
                }),
            ),
            (
                Method::DELETE,
                "/b/k",
                "uploadId=u",
                vec![],
                Ok(Op::AbortMultipartUpload {
                    upload_id: "u".into(),
                }),
            ),
            (
                Method::GET,
                "/b/k",
                "uploadId=u",
                vec![],
                Ok(Op::ListParts {
                    upload_id: "u".into(),
                }),
            ),
            (Method::GET, "/b/dir/k%2Fx", "", vec![], Ok(Op::GetObject)),
            (Method::HEAD, "/b/k", "", vec![], Ok(Op::HeadObject)),
            (Method::DELETE, "/b/k", "", vec![], Ok(Op::DeleteObject)),
            (
                Method::GET,
                "/b/k",
                "tagging",
                vec![],
                Err("NotImplemented".into()),
            ),
            (
                Method::PATCH,
                "/b/k",
                "",
                vec![],
                Err("MethodNotAllowed".into()),
            ),
        ];
        for (m, path, q, h, want) in cases {
            assert_eq!(op(m.clone(), path, q, &h), want, "{m} {path}?{q}");
        }
    }

    #[test]
    fn resources() {
        assert_eq!(
            resource("/b/dir/a%20b", &Style::Prefixed).unwrap(),
            ("b".into(), "dir/a b".into())
        );
        assert_eq!(
            resource("/dir/k", &Style::VirtualHost("vb".into())).unwrap(),
            ("vb".into(), "dir/k".into())
        );
        assert!(resource("/b/%FF", &Style::Root).is_err());
    }
}
