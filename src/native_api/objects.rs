//! `/v1/objects/<bucket>/<object>`: GET, PUT, HEAD, DELETE.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::upload::{declared_size, paced, refused};
use super::{set_header, ApiError, TargetContext};
use crate::cluster::intra_auth::now_secs;
use crate::http::{empty, stream, Body, Plane};
use crate::range;
use crate::store::{ObjectInfo, PutOptions};
use crate::wire::headers::*;
use crate::wire::object_op::ObjectOp;

pub(super) async fn dispatch(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
    bucket: String,
    object: String,
) -> Result<Response<Body>, ApiError> {
    let head = req.method() == Method::HEAD;
    if !(req.method() == Method::GET || head) || req.uri().query().is_some() {
        // Everything but a plain GET or HEAD awaits in a future of its own: inline, the
        // largest of them would be copied into every GET's future.
        return Box::pin(dispatch_any(ctx, req, bucket, object)).await;
    }
    if let Some(resp) = redirect_to_owner(ctx, &req, &bucket, &object)? {
        return Ok(resp);
    }
    if head {
        return self::head(ctx, &bucket, &object, None).await;
    }
    counted_get(ctx, req, &bucket, &object).await
}

/// GET, counted in the metrics.
async fn counted_get(
    ctx: &TargetContext,
    req: Request<Incoming>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let start = Instant::now();
    let m = &ctx.metrics;
    let res = get(ctx, req, bucket, object).await;
    count(
        res.is_ok(),
        &m.get_count,
        &m.err_get_count,
        &m.get_ns_total,
        start,
    );
    res
}

/// HEAD: the object's properties (fetched from a previous holder if need be).
/// `props` (AIStore's HEAD v2, `?props=name,size,...`): `Last-Modified` and `ETag` only
/// when listed.
async fn head(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    props: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let start = Instant::now();
    let m = &ctx.metrics;
    let res = match ctx.store.head(bucket, object).await {
        Err(crate::store::Error::ObjectNotFound { .. }) => Box::pin(
            crate::service::locate::open_here_or_fetch(ctx, bucket, object),
        )
        .await
        .map(|r| r.info),
        other => other.map_err(ApiError::from),
    };
    count(
        res.is_ok(),
        &m.head_count,
        &m.err_head_count,
        &m.head_ns_total,
        start,
    );
    let info = res?;
    let mut resp = Response::new(empty());
    object_headers(resp.headers_mut(), &info, true);
    head_props(resp.headers_mut(), ctx, bucket, object, &info);
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(info.meta.size));
    if let Some(props) = props {
        let asked = |p: &str| props.split(',').any(|x| x.trim() == p);
        if !asked("last-modified") {
            resp.headers_mut().remove(header::LAST_MODIFIED);
        }
        if !asked("etag") {
            resp.headers_mut().remove(header::ETAG);
        }
    }
    Ok(resp)
}

async fn dispatch_any(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
    bucket: String,
    object: String,
) -> Result<Response<Body>, ApiError> {
    if let Some(resp) = redirect_to_owner(ctx, &req, &bucket, &object)? {
        return Ok(resp);
    }
    let q = crate::http::request::query(&req);
    let start = Instant::now();
    let m = &ctx.metrics;
    match ObjectOp::parse(req.method(), &q)? {
        ObjectOp::Multipart => super::mpt::handle(ctx, req, q, &bucket, &object).await,
        ObjectOp::Get => counted_get(ctx, req, &bucket, &object).await,
        ObjectOp::Head => head(ctx, &bucket, &object, q.get("props").map(String::as_str)).await,
        ObjectOp::Append => append(ctx, req, &q, &bucket, &object).await,
        ObjectOp::CopyTo(to) => {
            let (dst_bucket, _) = crate::wire::specs::parse_destination(&to)?;
            let who = crate::client_auth::principal(&req);
            let need = crate::auth::ace::PUT;
            super::may(ctx, &who, Some(&dst_bucket), need, "copy into it")?;
            copied(crate::service::copy::copy_object(ctx, &bucket, &object, &to).await)
        }
        ObjectOp::Put => {
            let res = put(ctx, req, &bucket, &object).await;
            let ok = res.is_ok();
            count(ok, &m.put_count, &m.err_put_count, &m.put_ns_total, start);
            res
        }
        ObjectOp::SetCustom { replace } => set_custom(ctx, req, &bucket, &object, replace).await,
        ObjectOp::Delete => {
            let res = crate::service::locate::delete_everywhere(ctx, &bucket, &object).await;
            if res.is_ok() {
                m.del_count.inc()
            } else {
                m.err_del_count.inc()
            }
            res?;
            Ok(Response::new(empty()))
        }
    }
}

/// `PATCH`: `{"action":"","value":{k:v}}` sets custom metadata, merged or replacing.
async fn set_custom(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
    bucket: &str,
    object: &str,
    replace: bool,
) -> Result<Response<Body>, ApiError> {
    let msg = crate::wire::msg::read_act_msg(req).await?;
    let custom: std::collections::BTreeMap<String, String> = serde_json::from_value(msg.value)
        .map_err(|e| {
            ApiError::BadRequest(format!(
                "ais://{bucket}/{object}: custom metadata must be a JSON object of strings: {e}"
            ))
        })?;
    if ctx.store.head(bucket, object).await.is_err() {
        // Make sure it is here (get-from-neighbor) before changing it.
        crate::service::locate::open_here_or_fetch(ctx, bucket, object).await?;
    }
    ctx.store
        .set_custom(bucket, object, custom, replace)
        .await?;
    Ok(Response::new(empty()))
}

/// A copy's answer: empty when done; when the destination's owner refused, its answer
/// as it gave it.
fn copied(res: Result<(), crate::service::copy::CopyError>) -> Result<Response<Body>, ApiError> {
    use crate::service::copy::CopyError;
    match res {
        Ok(()) => Ok(Response::new(empty())),
        Err(CopyError::Api(e)) => Err(e),
        Err(CopyError::Owner(status, text)) => {
            let mut r = Response::new(crate::http::full(text));
            *r.status_mut() = status;
            set_header(&mut r, header::CONTENT_TYPE, "application/json");
            Ok(r)
        }
    }
}

/// A request for an object another target owns (per our map) gets a 307 there, so a
/// plain load balancer in front of the targets works. One hop at most: the `tgt` marker
/// says a target already sent it on. Only another node (intra-cluster port) may make us
/// serve an object we do not own; on the public port a marked request for another
/// target's object means the maps disagree for a moment (a change is being pushed):
/// 503, retry.
fn redirect_to_owner(
    ctx: &TargetContext,
    req: &Request<Incoming>,
    bucket: &str,
    object: &str,
) -> Result<Option<Response<Body>>, ApiError> {
    let q = req.uri().query().unwrap_or("");
    let marked = form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "tgt");
    if marked && Plane::of(req) == Plane::Intra {
        return Ok(None);
    }
    let Some(owner) = ctx.other_owner(bucket, object) else {
        return Ok(None);
    };
    let via_proxy = form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "pid");
    if via_proxy && ctx.redundancy(bucket).target_copies() > 1 {
        // The proxy's map is never older than ours and it chose this target: a new owner
        // whose map has not arrived yet (the old one may be dead). Served from the copies.
        return Ok(None);
    }
    if marked {
        return Err(ApiError::Unavailable(format!(
            "ais://{bucket}/{object}: cluster maps disagree on its owner ({} by this target's map, version {}); retry",
            owner.daemon_id,
            ctx.cluster.smap_version()
        )));
    }
    // The proxy's marker and signature were for us; the owner gets its own.
    let kept: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes())
        .filter(|(k, _)| !matches!(k.as_ref(), "x" | "u"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(&kept).append_pair("tgt", &ctx.node.id);
    let mut path_q = format!("{}?{}", req.uri().path(), query.finish());
    if let Some(key) = ctx.cluster_key() {
        path_q.push_str(&key.sign_redirect(req.method(), &path_q, &owner.daemon_id, now_secs()));
    }
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    set_header(
        &mut resp,
        header::LOCATION,
        format!("{}{path_q}", owner.url()),
    );
    Ok(Some(resp))
}

fn count(
    ok: bool,
    n: &prometheus::IntCounter,
    err: &prometheus::IntCounter,
    ns: &prometheus::IntCounter,
    t: Instant,
) {
    if ok {
        n.inc();
        ns.inc_by(t.elapsed().as_nanos() as u64);
    } else {
        err.inc();
    }
}

async fn get(
    ctx: &TargetContext,
    req: Request<Incoming>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let q = crate::http::request::query(&req);
    if super::arch::wants_archive(&q) {
        return Box::pin(super::arch::get(ctx, &q, bucket, object)).await;
    }
    let reader = crate::service::locate::open_here_or_fetch(ctx, bucket, object).await?;
    if ctx.store.config().validate_on_get {
        reader.verify().await?;
    }
    let size = reader.info.meta.size;
    let span = match req.headers().get(header::RANGE) {
        None => None,
        Some(h) => {
            let text = h.to_str().unwrap_or("");
            Some(range::parse(text, size).map_err(|_| ApiError::Range {
                bucket: bucket.into(),
                object: object.into(),
                range: text.into(),
                size,
            })?)
        }
    };
    let (start, len) = span.unwrap_or((0, size));
    ctx.metrics.get_bytes.inc_by(len);
    let mut headers = HeaderMap::with_capacity(12);
    object_headers(&mut headers, &reader.info, span.is_none());
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(header::CONTENT_TYPE, OCTET_STREAM);
    }
    headers.insert(header::ACCEPT_RANGES, BYTES);
    let mut resp = Response::new(stream(reader.stream(start, len)));
    *resp.headers_mut() = headers;
    if span.is_some() {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        set_header(
            &mut resp,
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", start + len - 1),
        );
    }
    Ok(resp)
}

async fn put(
    ctx: &TargetContext,
    req: Request<Incoming>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let headers = req.headers();
    let size = declared_size(ctx, headers, bucket, object)?;
    let opts = PutOptions {
        expected: client_checksum(headers),
        custom: crate::wire::msg::custom_md(headers)?,
        size,
        ..Default::default()
    };
    let mut incoming = req.into_body();
    let stored = ctx
        .store
        .put(bucket, object, paced(ctx, &mut incoming), opts)
        .await;
    let info = match stored {
        Ok(info) => info,
        Err(e) => return Err(refused(&mut incoming, e).await),
    };
    crate::service::redundancy::protect(ctx, bucket, object).await?;
    ctx.metrics.put_bytes.inc_by(info.meta.size);
    let mut resp = Response::new(empty());
    let h = resp.headers_mut();
    put_str(h, AIS_CHECKSUM_TYPE, &info.meta.cksum_type);
    put_str(h, AIS_CHECKSUM_VALUE, &info.meta.cksum_value);
    h.insert(AIS_ATIME, HeaderValue::from(info.atime_ns));
    h.insert(AIS_VERSION, HeaderValue::from(info.meta.version));
    Ok(resp)
}

/// `PUT ?append_type=append|flush&append_handle=H`: see [`crate::store`]'s append.
async fn append(
    ctx: &TargetContext,
    req: Request<Incoming>,
    q: &std::collections::HashMap<String, String>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let handle = q.get("append_handle").cloned().unwrap_or_default();
    let mut incoming = req.into_body();
    let body = paced(ctx, &mut incoming);
    match q.get("append_type").map(String::as_str) {
        Some("append") => {
            let next = ctx.store.append(bucket, object, &handle, body).await?;
            let mut resp = Response::new(empty());
            put_str(resp.headers_mut(), AIS_APPEND_HANDLE, &next);
            Ok(resp)
        }
        Some("flush") => {
            if handle.is_empty() {
                return Err(ApiError::BadRequest(format!(
                    "ais://{bucket}/{object}: flush needs the append_handle of the appends"
                )));
            }
            let info = ctx
                .store
                .flush_append(bucket, object, &handle, body)
                .await?;
            crate::service::redundancy::protect(ctx, bucket, object).await?;
            ctx.metrics.put_count.inc();
            let mut resp = Response::new(empty());
            put_str(resp.headers_mut(), AIS_CHECKSUM_TYPE, &info.meta.cksum_type);
            put_str(
                resp.headers_mut(),
                AIS_CHECKSUM_VALUE,
                &info.meta.cksum_value,
            );
            Ok(resp)
        }
        other => Err(ApiError::BadRequest(format!(
            "ais://{bucket}/{object}: append_type must be \"append\" or \"flush\", not {other:?}"
        ))),
    }
}

/// `Ais-Checksum-Type` + `Ais-Checksum-Value`, when both are sent and the type is not `none`.
fn client_checksum(headers: &HeaderMap) -> Option<(String, String)> {
    let kind = headers
        .get("Ais-Checksum-Type")?
        .to_str()
        .ok()?
        .trim()
        .to_ascii_lowercase();
    let value = headers
        .get("Ais-Checksum-Value")?
        .to_str()
        .ok()?
        .trim()
        .to_string();
    (kind != "none" && !kind.is_empty() && !value.is_empty()).then_some((kind, value))
}

const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");
const BYTES: HeaderValue = HeaderValue::from_static("bytes");

/// Inserts a header whose value came from a client or the disk; a value that is not a
/// valid header (it cannot happen for what we store) is left out rather than failing.
fn put_str(h: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// A checksum type's header value: the usual names need no allocation.
fn known_or_copied(kind: &str) -> HeaderValue {
    const KNOWN: [&str; 6] = ["xxhash", "xxhash2", "md5", "sha256", "crc32c", "none"];
    match KNOWN.iter().find(|k| **k == kind) {
        Some(k) => HeaderValue::from_static(k),
        None => HeaderValue::from_str(kind).unwrap_or(HeaderValue::from_static("")),
    }
}

/// `Last-Modified` for a unix-nanosecond time, formatted on the stack.
fn http_date(unix_ns: i64) -> Option<HeaderValue> {
    use std::io::Write as _;
    let t = std::time::UNIX_EPOCH + Duration::from_nanos(unix_ns.max(0) as u64);
    let mut buf = [0u8; 40]; // "Sun, 06 Nov 1994 08:49:37 GMT": 29
    let mut rest = &mut buf[..];
    write!(rest, "{}", httpdate::HttpDate::from(t)).ok()?;
    let len = 40 - rest.len();
    HeaderValue::from_bytes(&buf[..len]).ok()
}

/// An entity tag in quotes, built in its final buffer.
fn quoted(tag: &str) -> Option<HeaderValue> {
    let mut v = Vec::with_capacity(tag.len() + 2);
    v.push(b'"');
    v.extend_from_slice(tag.as_bytes());
    v.push(b'"');
    HeaderValue::from_maybe_shared(bytes::Bytes::from(v)).ok()
}

/// The headers GET and HEAD both carry: what the SDK's `ObjectAttributes` reads.
fn object_headers(h: &mut HeaderMap, info: &ObjectInfo, with_checksum: bool) {
    let meta = &info.meta;
    // Every GET builds these: no temporary Strings, one allocation per dynamic value.
    if with_checksum {
        h.insert(AIS_CHECKSUM_TYPE, known_or_copied(&meta.cksum_type));
        put_str(h, AIS_CHECKSUM_VALUE, &meta.cksum_value);
    }
    h.insert(AIS_ATIME, HeaderValue::from(info.atime_ns));
    h.insert(AIS_VERSION, HeaderValue::from(meta.version));
    h.insert(AIS_PRESENT, HeaderValue::from_static("true"));
    if let Some(v) = http_date(info.mtime_ns) {
        h.insert(header::LAST_MODIFIED, v);
    }
    for (k, v) in &meta.custom {
        if let Ok(v) = HeaderValue::from_str(&format!("{k}={v}")) {
            h.append(AIS_CUSTOM_MD, v);
        }
    }
    // What S3 uploads stored: the entity tag and the standard HTTP attributes.
    if let Some(v) = quoted(meta.entity_tag()) {
        h.insert(header::ETAG, v);
    }
    for (k, v) in &meta.attrs {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(n, v);
        }
    }
}

/// The object properties only HEAD reports (AIStore's `ObjectProps`).
fn head_props(
    h: &mut HeaderMap,
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    info: &ObjectInfo,
) {
    put_str(h, AIS_NAME, object);
    put_str(h, AIS_BUCKET_NAME, bucket);
    h.insert(AIS_BUCKET_PROVIDER, HeaderValue::from_static("ais"));
    use std::os::unix::ffi::OsStrExt as _;
    let mp = info.mountpath.as_os_str().as_bytes();
    let r = ctx.redundancy(bucket);
    if r.mirror_copies > 1 {
        let paths = ctx.store.copies_of(bucket, object);
        h.insert(AIS_MIRROR_COPIES, HeaderValue::from(paths.len()));
        let joined: Vec<&[u8]> = paths.iter().map(|p| p.as_os_str().as_bytes()).collect();
        if let Ok(v) = HeaderValue::from_bytes(&joined.join(&b","[..])) {
            h.insert(AIS_MIRROR_PATHS, v);
        }
    } else {
        h.insert(AIS_MIRROR_COPIES, HeaderValue::from_static("1"));
        if let Ok(v) = HeaderValue::from_bytes(mp) {
            h.insert(AIS_MIRROR_PATHS, v);
        }
    }
    if let Some(ec) = r.ec {
        h.insert(AIS_EC_DATA, HeaderValue::from(ec.data));
        h.insert(AIS_EC_PARITY, HeaderValue::from(ec.parity));
        let whole = r.slices_for(info.meta.size).is_none();
        h.insert(
            AIS_EC_REPLICATED,
            HeaderValue::from_static(if whole { "true" } else { "false" }),
        );
    }
    let mut location = Vec::with_capacity(ctx.node.id.len() + mp.len() + 3);
    location.extend_from_slice(b"t[");
    location.extend_from_slice(ctx.node.id.as_bytes());
    location.extend_from_slice(b"]:");
    location.extend_from_slice(mp);
    if let Ok(v) = HeaderValue::from_maybe_shared(bytes::Bytes::from(location)) {
        h.insert(AIS_LOCATION, v);
    }
    if info.meta.chunks > 0 {
        h.insert(AIS_CHUNKS_COUNT, HeaderValue::from(info.meta.chunks));
        h.insert(
            AIS_CHUNKS_MAX_CHUNK_SIZE,
            HeaderValue::from(info.meta.max_chunk_size),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_built_without_format_match_the_formatted_ones() {
        for ns in [0i64, 1_764_000_000_123_456_789, -5] {
            let t = std::time::UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64);
            assert_eq!(http_date(ns).unwrap(), httpdate::fmt_http_date(t).as_str());
        }
        assert_eq!(quoted("abc").unwrap(), "\"abc\"");
        assert_eq!(known_or_copied("xxhash"), "xxhash");
        assert_eq!(known_or_copied("sha512"), "sha512");
    }
}
