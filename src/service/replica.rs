//! One object moving between targets, on the intra-cluster port: `PUT|GET
//! /v1/objects/B/O?ais_replica=put|get|tomb|del` with the stored metadata record in
//! `ais-replica-meta` (base64) and the modification time in `ais-replica-mtime`; the
//! receiver's verdict comes back with a receipt MAC'd with the cluster key. The receiving side is
//! [`crate::intra_api`].

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use futures_util::TryStreamExt;
use http::{HeaderName, HeaderValue};
use hyper::body::Incoming;

use crate::cluster::Snode;
use crate::store::{self, ObjectMeta, ObjectReader};

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
