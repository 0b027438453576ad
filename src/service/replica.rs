//! One object moving between targets, on the intra-cluster port: `PUT|GET
//! /v1/objects/B/O?ais_replica=put|get|tomb|del` with the stored metadata record in
//! `ais-replica-meta` (base64) and the modification time in `ais-replica-mtime`; the
//! receiver's verdict comes back with a receipt MAC'd with the cluster key.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use futures_util::TryStreamExt;
use http::{header, HeaderName, HeaderValue, Request, Response};
use hyper::body::Incoming;

use super::TargetContext;
use crate::cluster::intra_auth::Receipt;
use crate::cluster::Snode;
use crate::http::{stream, Body};
use crate::store::{self, ObjectMeta, ObjectReader};
use crate::wire::ApiError;

/// Query parameter of replica transfers.
pub const REPLICA_QUERY: &str = "ais_replica";

/// The stored metadata record, base64.
pub const REPLICA_META: HeaderName = HeaderName::from_static("ais-replica-meta");

/// Modification time, unix ns.
pub const REPLICA_MTIME: HeaderName = HeaderName::from_static("ais-replica-mtime");

/// The receiver's verdict: `stored` or `kept-newer`.
pub const REPLICA_RESULT: HeaderName = HeaderName::from_static("ais-replica");

/// The receiver's proof of the verdict, made with the cluster key.
pub const REPLICA_RECEIPT: HeaderName = HeaderName::from_static("ais-replica-receipt");

pub fn replica_headers(reader: &ObjectReader) -> Vec<(HeaderName, HeaderValue)> {
    let meta = B64.encode(reader.info.meta.encode());
    let mut out = Vec::with_capacity(2);
    if let Ok(v) = HeaderValue::from_str(&meta) {
        out.push((REPLICA_META, v));
    }
    out.push((REPLICA_MTIME, HeaderValue::from(reader.info.mtime_ns)));
    out
}

/// `<intra URL>/v1/objects/<bucket>/<object>?ais_replica=<kind>`, names percent-encoded.
pub fn replica_url(node: &Snode, bucket: &str, object: &str, kind: &str) -> String {
    format!(
        "{}?{REPLICA_QUERY}={kind}",
        object_url(node, bucket, object)
    )
}

/// `bucket/object` on `node`'s intra-cluster port.
pub fn object_url(node: &Snode, bucket: &str, object: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
    const SEGMENT: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'?')
        .add(b'<')
        .add(b'>')
        .add(b'`')
        .add(b'{')
        .add(b'}')
        .add(b'+')
        .add(b'&');
    format!(
        "{}/v1/objects/{}/{}",
        node.control_url(),
        utf8_percent_encode(bucket, SEGMENT),
        utf8_percent_encode(object, SEGMENT)
    )
}

/// The carried metadata record alone (a copy takes no modification time).
pub fn parse_meta_only(h: &http::HeaderMap) -> Result<ObjectMeta, String> {
    let raw = h
        .get(&REPLICA_META)
        .and_then(|v| B64.decode(v.as_bytes()).ok())
        .ok_or("missing or malformed ais-replica-meta")?;
    ObjectMeta::decode(&raw)
}

pub fn parse_meta(h: &http::HeaderMap) -> Result<(ObjectMeta, i64), String> {
    let raw = h
        .get(&REPLICA_META)
        .and_then(|v| B64.decode(v.as_bytes()).ok())
        .ok_or("missing or malformed ais-replica-meta")?;
    let meta = ObjectMeta::decode(&raw)?;
    let mtime = h
        .get(&REPLICA_MTIME)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or("missing or malformed ais-replica-mtime")?;
    Ok((meta, mtime))
}

/// A response body as the store's body stream.
pub fn body_of(body: Incoming) -> impl futures_util::Stream<Item = store::BodyResult> + Unpin {
    http_body_util::BodyStream::new(body)
        .try_filter_map(|f| std::future::ready(Ok(f.into_data().ok())))
        .map_err(|e| e.to_string())
}

/// `PUT ?ais_replica=put` (intra-cluster port): stores an object moved here.
pub async fn receive(
    ctx: &TargetContext,
    req: Request<Incoming>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let (meta, mtime) = parse_meta(req.headers()).map_err(ApiError::BadRequest)?;
    let (size, version) = (meta.size, meta.version);
    let outcome = ctx
        .store
        .put_replica(bucket, object, body_of(req.into_body()), meta, mtime)
        .await;
    let verdict = match outcome {
        Ok(_) => {
            ctx.metrics.reb_rx_count.inc();
            ctx.metrics.reb_rx_size.inc_by(size);
            "stored"
        }
        Err(store::Error::NotNewer { .. }) => "kept-newer",
        Err(e) => return Err(e.into()),
    };
    let mut resp = Response::new(crate::http::empty());
    resp.headers_mut()
        .insert(REPLICA_RESULT, HeaderValue::from_static(verdict));
    if let Some(key) = ctx.cluster_key() {
        let version = version.to_string();
        let receipt = key.receipt(&Receipt {
            node: &ctx.node.id,
            bucket,
            object,
            version: &version,
            verdict,
        });
        if let Ok(v) = HeaderValue::from_str(&receipt) {
            resp.headers_mut().insert(REPLICA_RECEIPT, v);
        }
    }
    Ok(resp)
}

/// `PUT ?ais_replica=tomb` (intra-cluster port): a deletion made at another target
/// (`ais-replica-mtime` = when): a copy here written before then goes.
pub async fn receive_tombstone(
    ctx: &TargetContext,
    req: &Request<Incoming>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let when: i64 = req
        .headers()
        .get(&REPLICA_MTIME)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ApiError::BadRequest("missing or malformed ais-replica-mtime".into()))?;
    let removed = ctx.store.apply_tombstone(bucket, object, when).await?;
    if removed {
        tracing::info!(%bucket, %object, "a copy deleted elsewhere while this target held it was removed");
    }
    Ok(Response::new(crate::http::empty()))
}

/// `GET ?ais_replica=get` (intra-cluster port): hands over an object with its metadata,
/// whoever owns it.
pub async fn hand_over(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let reader = ctx.store.open_object(bucket, object).await?;
    let size = reader.info.meta.size;
    let headers = replica_headers(&reader);
    let mut resp = Response::new(stream(reader.stream(0, size)));
    for (k, v) in headers {
        resp.headers_mut().insert(k, v);
    }
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(resp)
}

/// The `ais_replica` kind of a request that came on the intra-cluster port, if any.
pub fn replica_kind<B>(req: &Request<B>) -> Option<String> {
    if crate::http::Plane::of(req) != crate::http::Plane::Intra {
        return None;
    }
    let q = req.uri().query()?;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == REPLICA_QUERY)
        .map(|(_, v)| v.into_owned())
}
