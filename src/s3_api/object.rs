//! Object operations on the target that owns the object: PUT, GET, HEAD, DELETE, copy,
//! and multipart uploads.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::http::{empty, request::set_header, stream, Body};
use crate::s3::auth::Verified;
use crate::s3::bucket::xml_response;
use crate::s3::checksum::{self, BodyChecks, Verdict};
use crate::s3::chunked;
use crate::s3::error::S3Error;
use crate::s3::op::{CopySource, Op, S3Request};
use crate::s3::xml::{self, XMLNS};
use crate::service::body::{body_stream, drain, DRAIN_ON_ERROR};
use crate::service::TargetContext;
use crate::store::{self, ObjectInfo, ObjectMeta, PutOptions, UploadSpec};
use crate::wire::ApiError;

/// A body on its way to the store.
type BodyStream<'a> = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send + 'a>>;

/// The HTTP attributes an object keeps (request header = response header).
pub const ATTRS: &[&str] = &[
    "content-type",
    "content-disposition",
    "cache-control",
    "content-encoding",
    "content-language",
    "expires",
];

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
                    return Err(from_api(e));
                }
            }
            Ok(status(StatusCode::NO_CONTENT))
        }
        Op::CopyObject { source } => copy(ctx, req.headers(), &s3, &source).await,
        Op::CreateMultipartUpload => {
            let spec = UploadSpec {
                object: s3.key.clone(),
                custom: user_meta(req.headers())?,
                attrs: attrs(req.headers()),
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
        Op::UploadPart { upload_id, part } => {
            upload_part(ctx, req, &s3, &upload_id, part, verified).await
        }
        Op::UploadPartCopy {
            upload_id,
            part,
            source,
        } => {
            let range = req
                .headers()
                .get("x-amz-copy-source-range")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let (_, body, len) = source_stream(ctx, &source, range.as_deref()).await?;
            let opts = PutOptions {
                size: Some(len),
                ..Default::default()
            };
            let p = ctx
                .store
                .put_part(&s3.bucket, &s3.key, &upload_id, part, body, opts)
                .await?;
            let doc = CopyPartResult(xml::CopyResult {
                xmlns: XMLNS,
                last_modified: xml::iso8601(p.mtime_ns),
                etag: format!("\"{}\"", p.md5),
            });
            Ok(xml_response(&doc))
        }
        Op::CompleteMultipartUpload { upload_id } => {
            let body = crate::http::request::read_limited_within(
                req.into_body(),
                crate::s3::MAX_XML_BODY,
                crate::s3::XML_BODY_TIMEOUT,
            )
            .await
            .map_err(|e| S3Error::Invalid("InvalidRequest", format!("request body: {e}")))?;
            let text = std::str::from_utf8(&body)
                .map_err(|_| S3Error::MalformedXml("not UTF-8".into()))?;
            let doc: xml::CompleteMultipartUpload =
                xml::from_xml(text).map_err(S3Error::MalformedXml)?;
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
                    &upload_id,
                    &parts,
                    crate::store::Completion::S3,
                )
                .await?;
            m.put_count.inc();
            Ok(xml_response(&xml::CompleteMultipartUploadResult {
                xmlns: XMLNS,
                location: format!("/{}/{}", s3.bucket, s3.key),
                bucket: s3.bucket,
                key: s3.key,
                etag: etag(&info.meta),
            }))
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

/// `CopyPartResult`: the same fields as `CopyObjectResult` under another root.
#[derive(serde::Serialize)]
#[serde(rename = "CopyPartResult")]
struct CopyPartResult(xml::CopyResult);

#[derive(serde::Serialize)]
#[serde(rename = "CopyObjectResult")]
struct CopyObjectResult(xml::CopyResult);

fn count(ok: bool, n: &prometheus::IntCounter, err: &prometheus::IntCounter) {
    if ok {
        n.inc()
    } else {
        err.inc()
    }
}

fn status(s: StatusCode) -> Response<Body> {
    let mut r = Response::new(empty());
    *r.status_mut() = s;
    r
}

/// The quoted entity tag.
pub fn etag(meta: &ObjectMeta) -> String {
    format!("\"{}\"", meta.entity_tag())
}

/// `x-amz-meta-*` headers as custom metadata (names lowercase, as HTTP/1.1 gives them).
fn user_meta(h: &HeaderMap) -> Result<BTreeMap<String, String>, S3Error> {
    let mut md = BTreeMap::new();
    let mut total = 0;
    for (name, value) in h {
        if let Some(k) = name.as_str().strip_prefix("x-amz-meta-") {
            let v = value
                .to_str()
                .map_err(|_| S3Error::Invalid("InvalidArgument", format!("{name} is not ASCII")))?;
            total += k.len() + v.len();
            md.insert(k.to_string(), v.to_string());
        }
    }
    // S3's limit on user metadata.
    if total > 2048 {
        return Err(S3Error::Invalid(
            "MetadataTooLarge",
            format!("user metadata of {total} bytes exceeds the 2 KiB limit"),
        ));
    }
    Ok(md)
}

/// The standard HTTP attributes to keep (`aws-chunked` is transport, not an attribute).
fn attrs(h: &HeaderMap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for name in ATTRS {
        if let Some(v) = h.get(*name).and_then(|v| v.to_str().ok()) {
            let v = if *name == "content-encoding" {
                v.split(',')
                    .map(str::trim)
                    .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                v.to_string()
            };
            if !v.is_empty() {
                out.insert(name.to_string(), v);
            }
        }
    }
    out
}

fn header_u64(h: &HeaderMap, name: &str) -> Result<Option<u64>, S3Error> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| S3Error::Invalid("InvalidArgument", format!("invalid {name}"))),
    }
}

/// The request body as the store reads it (aws-chunked decoded, checksums verified) and
/// the options those headers imply.
fn upload_body<'a>(
    ctx: &TargetContext,
    incoming: &'a mut Incoming,
    h: &HeaderMap,
    verified: Verified,
) -> Result<(BodyStream<'a>, PutOptions, Verdict), S3Error> {
    let raw: BodyStream<'a> = Box::pin(body_stream(
        incoming,
        crate::service::body::BodyPace::of(&ctx.config),
    ));
    let sha_mode = h
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let chunked_enc = sha_mode.starts_with("STREAMING-")
        || h.get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("aws-chunked"));
    let trailers: chunked::Trailers = Default::default();
    let (body, size): (BodyStream<'a>, Option<u64>) = if chunked_enc {
        let size = header_u64(h, "x-amz-decoded-content-length")?;
        (
            Box::pin(chunked::decode(raw, verified.chunks, trailers.clone())),
            size,
        )
    } else {
        (raw, header_u64(h, header::CONTENT_LENGTH.as_str())?)
    };
    let max = ctx.store.config().max_object_size;
    if size.is_some_and(|n| n > max) {
        return Err(S3Error::Invalid(
            "EntityTooLarge",
            format!("your proposed upload exceeds the maximum allowed object size of {max} bytes"),
        ));
    }
    let payload_sha = if chunked_enc {
        None
    } else {
        verified.payload_sha256
    };
    let checks = BodyChecks::from_headers(h, payload_sha)?;
    let mut opts = PutOptions {
        size,
        md5: true,
        ..Default::default()
    };
    if let Some(md5) = h.get("content-md5") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(md5.as_bytes())
            .ok()
            .filter(|r| r.len() == 16)
            .ok_or_else(|| {
                S3Error::Invalid(
                    "InvalidDigest",
                    "the Content-MD5 you specified is not valid".into(),
                )
            })?;
        opts.expected = Some(("md5".into(), hex::encode(raw)));
    }
    if let Some((algo, value)) = &checks.header {
        opts.checksums.insert(algo.clone(), value.clone());
    }
    let verdict: Verdict = Default::default();
    let body = if checks.is_empty() {
        body
    } else {
        let late: store::LateChecksums = Arc::new(Mutex::new(BTreeMap::new()));
        opts.late_checksums = Some(late.clone());
        Box::pin(checksum::verify(
            body,
            checks,
            trailers,
            late,
            verdict.clone(),
        ))
    };
    Ok((body, opts, verdict))
}

/// The S3 error for a failed upload: a checksum verdict wins over the store's view.
fn upload_error(e: store::Error, verdict: &Verdict) -> S3Error {
    if let Some(v) = verdict.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return v;
    }
    match e {
        store::Error::ChecksumMismatch { .. } => S3Error::BadDigest(
            "the Content-MD5 you specified did not match what we received".into(),
        ),
        store::Error::Body { ref reason, .. } if reason.starts_with("SignatureDoesNotMatch") => {
            S3Error::Auth("SignatureDoesNotMatch", reason.clone())
        }
        other => other.into(),
    }
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
    ctx.metrics.put_bytes.inc_by(info.meta.size);
    let mut resp = Response::new(empty());
    set_header(&mut resp, header::ETAG, etag(&info.meta));
    checksum_headers(resp.headers_mut(), &info.meta);
    Ok(resp)
}

async fn upload_part(
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

fn checksum_headers(h: &mut HeaderMap, meta: &ObjectMeta) {
    for (algo, v) in &meta.checksums {
        if let (Ok(name), Ok(v)) = (
            HeaderName::from_bytes(format!("x-amz-checksum-{algo}").as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(name, v);
        }
    }
}

fn http_date(h: &HeaderMap, name: &str) -> Option<u64> {
    let v = h.get(name)?.to_str().ok()?;
    let t = httpdate::parse_http_date(v).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

fn etag_matches(list: &str, tag: &str) -> bool {
    list.split(',')
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == tag)
}

/// RFC 9110 §13.2.2 order: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since.
pub fn check_conditions(h: &HeaderMap, meta: &ObjectMeta, mtime_ns: i64) -> Result<(), S3Error> {
    let tag = meta.entity_tag();
    let mtime = (mtime_ns.max(0) / 1_000_000_000) as u64;
    let if_match = h.get(header::IF_MATCH).and_then(|v| v.to_str().ok());
    let failed = match if_match {
        Some(list) => !etag_matches(list, tag),
        None => http_date(h, "if-unmodified-since").is_some_and(|t| mtime > t),
    };
    if failed {
        return Err(S3Error::PreconditionFailed);
    }
    match h.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        Some(list) if etag_matches(list, tag) => Err(S3Error::NotModified),
        Some(_) => Ok(()),
        None if http_date(h, "if-modified-since").is_some_and(|t| mtime <= t) => {
            Err(S3Error::NotModified)
        }
        None => Ok(()),
    }
}

/// Response headers that describe the object (GET and HEAD).
fn object_headers(h: &mut HeaderMap, info: &ObjectInfo) {
    let meta = &info.meta;
    if let Ok(v) = HeaderValue::from_str(&etag(meta)) {
        h.insert(header::ETAG, v);
    }
    let mtime = UNIX_EPOCH + Duration::from_nanos(info.mtime_ns.max(0) as u64);
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(mtime)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    for (k, v) in &meta.attrs {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(n, v);
        }
    }
    for (k, v) in &meta.custom {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(n, v);
        }
    }
    if let Some(n) = meta
        .etag
        .rsplit_once('-')
        .and_then(|(_, n)| n.parse::<u32>().ok())
    {
        h.insert("x-amz-mp-parts-count", HeaderValue::from(n));
    }
}

/// `response-*` query parameters override the stored attributes (GET only).
fn overrides(h: &mut HeaderMap, q: &std::collections::HashMap<String, String>) {
    for (param, name) in [
        ("response-content-type", "content-type"),
        ("response-content-language", "content-language"),
        ("response-expires", "expires"),
        ("response-cache-control", "cache-control"),
        ("response-content-disposition", "content-disposition"),
        ("response-content-encoding", "content-encoding"),
    ] {
        if let Some(v) = q.get(param).and_then(|v| HeaderValue::from_str(v).ok()) {
            h.insert(name, v);
        }
    }
}

/// A native-API failure of the shared target code, in S3's words.
fn from_api(e: ApiError) -> S3Error {
    match e {
        ApiError::Store(s) => S3Error::Store(s),
        other => S3Error::Unavailable(other.to_string()),
    }
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
            .map_err(from_api)
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

/// What a copy takes from its source besides the bytes.
struct SourceMeta {
    custom: BTreeMap<String, String>,
    attrs: BTreeMap<String, String>,
}

/// The source of a copy as a stream: read here when we own it, else fetched from its
/// owner (native API, streamed). `range` is an `x-amz-copy-source-range`.
async fn source_stream(
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

async fn copy(
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
    ctx.metrics.put_count.inc();
    Ok(xml_response(&CopyObjectResult(xml::CopyResult {
        xmlns: XMLNS,
        last_modified: xml::iso8601(info.mtime_ns),
        etag: etag(&info.meta),
    })))
}

async fn list_parts(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            md5: "abc".into(),
            ..Default::default()
        }
    }

    #[test]
    fn conditions() {
        let t = 1_700_000_000i64 * 1_000_000_000;
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![], "ok"),
            (vec![("if-match", "\"abc\"")], "ok"),
            (vec![("if-match", "\"x\", \"abc\"")], "ok"),
            (vec![("if-match", "*")], "ok"),
            (vec![("if-match", "\"x\"")], "PreconditionFailed"),
            (vec![("if-none-match", "\"abc\"")], "NotModified"),
            (vec![("if-none-match", "\"x\"")], "ok"),
            (
                vec![("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT")],
                "NotModified",
            ),
            (
                vec![("if-modified-since", "Tue, 14 Nov 2023 22:13:19 GMT")],
                "ok",
            ),
            (
                vec![("if-unmodified-since", "Tue, 14 Nov 2023 22:13:19 GMT")],
                "PreconditionFailed",
            ),
            (
                vec![("if-unmodified-since", "Tue, 14 Nov 2023 22:13:20 GMT")],
                "ok",
            ),
            // If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since.
            (
                vec![
                    ("if-match", "\"abc\""),
                    ("if-unmodified-since", "Tue, 14 Nov 2023 22:13:19 GMT"),
                ],
                "ok",
            ),
            (
                vec![
                    ("if-none-match", "\"x\""),
                    ("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT"),
                ],
                "ok",
            ),
        ];
        for (hs, want) in cases {
            let mut h = HeaderMap::new();
            for (k, v) in &hs {
                h.insert(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            let got = match check_conditions(&h, &meta(), t) {
                Ok(()) => "ok".to_string(),
                Err(e) => e.code().0.to_string(),
            };
            assert_eq!(got, want, "{hs:?}");
        }
    }

    #[test]
    fn attributes_drop_aws_chunked() {
        let mut h = HeaderMap::new();
        h.insert("content-encoding", "aws-chunked,gzip".parse().unwrap());
        h.insert("content-type", "text/plain".parse().unwrap());
        let a = attrs(&h);
        assert_eq!(a.get("content-encoding").unwrap(), "gzip");
        assert_eq!(a.get("content-type").unwrap(), "text/plain");
        h.insert("content-encoding", "aws-chunked".parse().unwrap());
        assert!(!attrs(&h).contains_key("content-encoding"));
    }
}
