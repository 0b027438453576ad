//! Service and bucket operations, written once over [`Buckets`]: a lone target serves them
//! from its own store, the proxy from the whole cluster.

use bytes::Bytes;
use http::{Response, StatusCode};

use super::error::S3Error;
use super::list::{self, url_encode, PageAsk, PageResult, PageSource};
use super::op::{Op, S3Request};
use super::xml::{self, to_xml, XMLNS};
use crate::http::{empty, full, Body};
use crate::store::UploadInfo;

/// Where bucket-level operations get their answers.
#[allow(async_fn_in_trait)]
pub trait Buckets: PageSourceFor {
    /// Every bucket with its creation time (unix ns), sorted by name.
    async fn list_buckets(&self) -> Result<Vec<(String, i64)>, S3Error>;
    /// Creates a bucket (`BucketExists` when it is there).
    async fn create_bucket(&self, bucket: &str) -> Result<(), S3Error>;
    /// Destroys a bucket and everything in it.
    async fn destroy_bucket(&self, bucket: &str) -> Result<(), S3Error>;
    /// Whether the bucket exists (`NoSuchBucket` otherwise).
    async fn head_bucket(&self, bucket: &str) -> Result<(), S3Error>;
    /// Multipart uploads in progress.
    async fn list_uploads(&self, bucket: &str) -> Result<Vec<UploadInfo>, S3Error>;
    /// Deletes one object (missing is not an error).
    async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), S3Error>;
}

/// A sorted source of one bucket's names.
#[allow(async_fn_in_trait)]
pub trait PageSourceFor {
    /// One page of `bucket`.
    async fn bucket_page(&self, bucket: &str, ask: PageAsk<'_>) -> PageResult;
}

struct InBucket<'a, B: ?Sized>(&'a B, &'a str);

impl<B: PageSourceFor + ?Sized> PageSource for InBucket<'_, B> {
    async fn page(&self, ask: PageAsk<'_>) -> PageResult {
        self.0.bucket_page(self.1, ask).await
    }
}

/// An XML response.
pub fn xml_response<T: serde::Serialize>(doc: &T) -> Response<Body> {
    let mut r = Response::new(full(to_xml(doc)));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    r
}

fn no_content() -> Response<Body> {
    let mut r = Response::new(empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

const DEFAULT_MAX_KEYS: usize = 1000;

/// Serves a service or bucket operation; `body` is the (small, already read) request body.
pub async fn serve(
    b: &impl Buckets,
    req: &S3Request,
    body: Bytes,
) -> Result<Response<Body>, S3Error> {
    let bucket = req.bucket.as_str();
    if !bucket.is_empty() {
        crate::names::validate_bucket(bucket)?;
    }
    match &req.op {
        Op::ListBuckets => {
            let list = b.list_buckets().await?;
            Ok(xml_response(&xml::ListAllMyBucketsResult {
                xmlns: XMLNS,
                owner: xml::OWNER,
                buckets: xml::Buckets {
                    bucket: list
                        .into_iter()
                        .map(|(name, created)| xml::BucketXml {
                            name,
                            creation_date: xml::iso8601(created),
                        })
                        .collect(),
                },
            }))
        }
        Op::CreateBucket => {
            b.create_bucket(bucket).await?;
            let mut r = Response::new(empty());
            crate::http::request::set_header(&mut r, http::header::LOCATION, format!("/{bucket}"));
            Ok(r)
        }
        Op::DeleteBucket => {
            b.head_bucket(bucket).await?;
            let (some, _) = b
                .bucket_page(
                    bucket,
                    PageAsk {
                        prefix: "",
                        after: "",
                        n: 1,
                    },
                )
                .await?;
            if !some.is_empty() {
                return Err(S3Error::BucketNotEmpty(bucket.into()));
            }
            b.destroy_bucket(bucket).await?;
            Ok(no_content())
        }
        Op::HeadBucket => {
            b.head_bucket(bucket).await?;
            let mut r = Response::new(empty());
            crate::http::request::set_header(
                &mut r,
                http::HeaderName::from_static("x-amz-bucket-region"),
                "us-east-1",
            );
            Ok(r)
        }
        Op::GetBucketLocation => {
            b.head_bucket(bucket).await?;
            Ok(xml_response(&xml::LocationConstraint {
                xmlns: XMLNS,
                region: String::new(),
            }))
        }
        Op::GetBucketVersioning => {
            b.head_bucket(bucket).await?;
            Ok(xml_response(&xml::VersioningConfiguration { xmlns: XMLNS }))
        }
        Op::ListObjects { v2 } => list_objects(b, req, *v2).await,
        Op::ListObjectVersions => list_versions(b, req).await,
        Op::ListMultipartUploads => list_uploads(b, req).await,
        Op::DeleteObjects => delete_objects(b, req, body).await,
        other => Err(S3Error::NotImplemented(format!(
            "{other:?} as a bucket operation"
        ))),
    }
}

fn max_keys(req: &S3Request, name: &str) -> Result<usize, S3Error> {
    match req.query.get(name) {
        None => Ok(DEFAULT_MAX_KEYS),
        Some(v) => v
            .parse::<usize>()
            .map(|n| n.min(DEFAULT_MAX_KEYS))
            .map_err(|_| {
                S3Error::Invalid(
                    "InvalidArgument",
                    format!("{name} must be a non-negative integer"),
                )
            }),
    }
}

/// What every listing takes from the query.
struct ListParams<'a> {
    prefix: &'a str,
    delimiter: &'a str,
    max: usize,
    /// `encoding-type=url`.
    url: bool,
}

impl<'a> ListParams<'a> {
    /// The parameters of a listing of a bucket that exists, its prefix checked.
    async fn of_existing(b: &impl Buckets, req: &'a S3Request) -> Result<ListParams<'a>, S3Error> {
        b.head_bucket(&req.bucket).await?;
        let params = ListParams::parse(req)?;
        crate::names::validate_prefix(params.prefix)?;
        Ok(params)
    }

    /// A name as the client asked it encoded.
    fn enc(&self, s: &str) -> String {
        if self.url {
            url_encode(s)
        } else {
            s.to_string()
        }
    }

    /// The common prefixes of a page, encoded.
    fn common_prefixes(&self, prefixes: Vec<String>) -> Vec<xml::CommonPrefix> {
        let prefixes = prefixes.into_iter();
        prefixes
            .map(|p| xml::CommonPrefix {
                prefix: self.enc(&p),
            })
            .collect()
    }

    /// One listed object, encoded.
    fn contents(&self, e: list::Entry) -> xml::Contents {
        xml::Contents {
            key: self.enc(&e.key),
            last_modified: xml::iso8601(e.mtime_ns),
            etag: format!("\"{}\"", e.etag),
            size: e.size,
            storage_class: "STANDARD",
        }
    }

    fn parse(req: &'a S3Request) -> Result<ListParams<'a>, S3Error> {
        let url = match q(req, "encoding-type") {
            "" => false,
            "url" => true,
            other => {
                return Err(S3Error::Invalid(
                    "InvalidArgument",
                    format!("invalid encoding-type {other:?}"),
                ))
            }
        };
        Ok(ListParams {
            prefix: q(req, "prefix"),
            delimiter: q(req, "delimiter"),
            max: max_keys(req, "max-keys")?,
            url,
        })
    }
}

fn q<'a>(req: &'a S3Request, name: &str) -> &'a str {
    req.query.get(name).map(String::as_str).unwrap_or("")
}

async fn list_objects(
    b: &impl Buckets,
    req: &S3Request,
    v2: bool,
) -> Result<Response<Body>, S3Error> {
    let bucket = req.bucket.as_str();
    let params = ListParams::of_existing(b, req).await?;
    let (prefix, delimiter, max) = (params.prefix, params.delimiter, params.max);
    let enc = |s: &str| params.enc(s);
    let token = q(req, "continuation-token");
    let after = if v2 {
        if token.is_empty() {
            q(req, "start-after").to_string()
        } else {
            decode_token(token)?
        }
    } else {
        q(req, "marker").to_string()
    };
    let page = list::list(&InBucket(b, bucket), prefix, delimiter, &after, max).await?;
    let next = page
        .truncated
        .then(|| page.last.clone().unwrap_or_default());
    let key_count = page.contents.len() + page.prefixes.len();
    let doc = xml::ListBucketResult {
        xmlns: XMLNS,
        name: bucket.to_string(),
        prefix: enc(prefix),
        marker: (!v2).then(|| enc(q(req, "marker"))),
        next_marker: if v2 || delimiter.is_empty() {
            None
        } else {
            next.as_deref().map(enc)
        },
        continuation_token: (v2 && !token.is_empty()).then(|| token.to_string()),
        next_continuation_token: if v2 {
            next.as_deref().map(encode_token)
        } else {
            None
        },
        start_after: (v2 && req.query.contains_key("start-after"))
            .then(|| enc(q(req, "start-after"))),
        key_count: v2.then_some(key_count),
        max_keys: max,
        delimiter: (!delimiter.is_empty()).then(|| enc(delimiter)),
        encoding_type: params.url.then(|| "url".to_string()),
        is_truncated: page.truncated,
        contents: page
            .contents
            .into_iter()
            .map(|e| params.contents(e))
            .collect(),
        common_prefixes: params.common_prefixes(page.prefixes),
    };
    Ok(xml_response(&doc))
}

/// Continuation tokens are opaque to clients: the resume name, base64url.
fn encode_token(name: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name)
}

fn decode_token(token: &str) -> Result<String, S3Error> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .ok_or_else(|| {
            S3Error::Invalid(
                "InvalidArgument",
                "the continuation token is not valid".into(),
            )
        })
}

async fn list_versions(b: &impl Buckets, req: &S3Request) -> Result<Response<Body>, S3Error> {
    let bucket = req.bucket.as_str();
    let params = ListParams::of_existing(b, req).await?;
    let (prefix, delimiter, max) = (params.prefix, params.delimiter, params.max);
    let enc = |s: &str| params.enc(s);
    let marker = q(req, "key-marker");
    let page = list::list(&InBucket(b, bucket), prefix, delimiter, marker, max).await?;
    let next = page
        .truncated
        .then(|| page.last.clone().unwrap_or_default());
    let doc = xml::ListVersionsResult {
        xmlns: XMLNS,
        name: bucket.to_string(),
        prefix: enc(prefix),
        key_marker: enc(marker),
        version_id_marker: q(req, "version-id-marker").to_string(),
        next_key_marker: next.as_deref().map(enc),
        next_version_id_marker: next.as_ref().map(|_| "null".to_string()),
        max_keys: max,
        delimiter: (!delimiter.is_empty()).then(|| enc(delimiter)),
        encoding_type: params.url.then(|| "url".to_string()),
        is_truncated: page.truncated,
        version: page
            .contents
            .into_iter()
            .map(|e| xml::VersionXml::current(params.contents(e)))
            .collect(),
        common_prefixes: params.common_prefixes(page.prefixes),
    };
    Ok(xml_response(&doc))
}

async fn list_uploads(b: &impl Buckets, req: &S3Request) -> Result<Response<Body>, S3Error> {
    let bucket = req.bucket.as_str();
    b.head_bucket(bucket).await?;
    let prefix = q(req, "prefix");
    let max = max_keys(req, "max-uploads")?;
    let (key_marker, id_marker) = (q(req, "key-marker"), q(req, "upload-id-marker"));
    let mut all: Vec<UploadInfo> = b
        .list_uploads(bucket)
        .await?
        .into_iter()
        .filter(|u| u.spec.object.starts_with(prefix))
        .filter(|u| (u.spec.object.as_str(), u.id.as_str()) > (key_marker, id_marker))
        .collect();
    all.sort_by(|a, b| (&a.spec.object, &a.id).cmp(&(&b.spec.object, &b.id)));
    let truncated = all.len() > max;
    all.truncate(max);
    let (next_key, next_id) = match all.last() {
        Some(u) if truncated => (u.spec.object.clone(), u.id.clone()),
        _ => Default::default(),
    };
    Ok(xml_response(&xml::ListMultipartUploadsResult {
        xmlns: XMLNS,
        bucket: bucket.to_string(),
        key_marker: key_marker.to_string(),
        upload_id_marker: id_marker.to_string(),
        next_key_marker: next_key,
        next_upload_id_marker: next_id,
        prefix: prefix.to_string(),
        max_uploads: max,
        is_truncated: truncated,
        upload: all
            .into_iter()
            .map(|u| xml::UploadXml {
                key: u.spec.object,
                upload_id: u.id,
                initiator: xml::OWNER,
                owner: xml::OWNER,
                storage_class: "STANDARD",
                initiated: xml::iso8601(u.spec.created_ns),
            })
            .collect(),
    }))
}

/// Most keys one DeleteObjects request may name (S3's limit).
const MAX_DELETE_KEYS: usize = 1000;

async fn delete_objects(
    b: &impl Buckets,
    req: &S3Request,
    body: Bytes,
) -> Result<Response<Body>, S3Error> {
    let bucket = req.bucket.as_str();
    b.head_bucket(bucket).await?;
    let text = std::str::from_utf8(&body).map_err(|_| S3Error::MalformedXml("not UTF-8".into()))?;
    let doc: xml::Delete = xml::from_xml(text).map_err(S3Error::MalformedXml)?;
    if doc.object.is_empty() || doc.object.len() > MAX_DELETE_KEYS {
        return Err(S3Error::MalformedXml(format!(
            "a Delete names 1 to {MAX_DELETE_KEYS} objects, not {}",
            doc.object.len()
        )));
    }
    let mut result = xml::DeleteResult {
        xmlns: XMLNS,
        deleted: Vec::new(),
        error: Vec::new(),
    };
    // A few at a time: each is one request to the object's owner.
    use futures_util::StreamExt as _;
    let outcomes: Vec<_> = futures_util::stream::iter(doc.object.into_iter().map(|o| async move {
        let r = b.delete_object(bucket, &o.key).await;
        (o.key, r)
    }))
    .buffered(16)
    .collect()
    .await;
    for (key, r) in outcomes {
        match r {
            Ok(()) => {
                if !doc.quiet {
                    result.deleted.push(xml::DeletedXml { key });
                }
            }
            Err(e) => result.error.push(xml::DeleteErrorXml {
                key,
                code: e.code().0.to_string(),
                message: e.to_string(),
            }),
        }
    }
    Ok(xml_response(&result))
}
