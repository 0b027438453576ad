//! One object moving between targets, on the intra-cluster port: `PUT|GET
//! /v1/objects/B/O?ais_replica=put|get|tomb|del` with the stored metadata record in
//! `ais-replica-meta` (base64) and the modification time in `ais-replica-mtime`; the
//! receiver's verdict comes back with a receipt MAC'd with the cluster key. The receiving side is
//! [`crate::intra_api`].

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use futures_util::TryStreamExt;
use http::{header, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::TargetContext;
use crate::cluster::intra_auth::Receipt;
use crate::cluster::Snode;
use crate::http::forward::ReqBody;
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

/// What a target did with a copy pushed to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Stored it.
    Stored,
    /// Kept the newer version it had.
    KeptNewer,
}

/// Streams the object `reader` reads to `to` as a replica and checks the receipt: only a
/// verdict MAC'd with the cluster key by `to` itself counts.
pub async fn push_copy(
    ctx: &TargetContext,
    to: &Snode,
    bucket: &str,
    name: &str,
    reader: ObjectReader,
) -> Result<Verdict, String> {
    let (size, version) = (reader.info.meta.size, reader.info.meta.version);
    let headers = replica_headers(&reader);
    let body: ReqBody = http_body_util::StreamBody::new(
        reader
            .stream(0, size)
            .map_ok(hyper::body::Frame::data)
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
    )
    .boxed_unsync();
    let push = Push {
        to,
        bucket,
        name,
        kind: "put",
        version,
        size,
    };
    push.send(ctx, headers, body).await
}

/// One body sent to another target's intra port (`PUT ?ais_replica=kind`), answered
/// with a verdict and its receipt.
pub struct Push<'a> {
    pub to: &'a Snode,
    pub bucket: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    /// The version the receipt must vouch for.
    pub version: u64,
    /// Content-Length.
    pub size: u64,
}

impl Push<'_> {
    /// Sends `body` with `headers`; only a verdict MAC'd with the cluster key by `to`
    /// itself counts.
    pub async fn send(
        &self,
        ctx: &TargetContext,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: ReqBody,
    ) -> Result<Verdict, String> {
        let (to, bucket, name) = (self.to, self.bucket, self.name);
        let mut req = Request::builder()
            .method(Method::PUT)
            .uri(replica_url(to, bucket, name, self.kind))
            .header(header::CONTENT_LENGTH, self.size);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let req = req.body(body).map_err(|e| e.to_string())?;
        let resp = ctx.data.send(req).await.map_err(|e| e.to_string())?;
        let (status, verdict) = (resp.status(), resp.headers().get(&REPLICA_RESULT).cloned());
        let receipt = resp.headers().get(&REPLICA_RECEIPT).cloned();
        let text = crate::http::request::read_limited(resp.into_body(), 64 << 10)
            .await
            .unwrap_or_default();
        let verdict = match (status, verdict.as_ref().map(HeaderValue::as_bytes)) {
            (StatusCode::OK, Some(b"stored")) => Verdict::Stored,
            (StatusCode::OK, Some(b"kept-newer")) => Verdict::KeptNewer,
            _ => {
                return Err(format!(
                    "{}: {status} {}",
                    to.daemon_id,
                    String::from_utf8_lossy(&text)
                ))
            }
        };
        let said = match verdict {
            Verdict::Stored => "stored",
            Verdict::KeptNewer => "kept-newer",
        };
        let version = self.version.to_string();
        let vouched = Receipt {
            node: &to.daemon_id,
            bucket,
            object: name,
            version: &version,
            verdict: said,
        };
        let verified = match (ctx.cluster_key(), &receipt) {
            (Some(key), Some(r)) => key.verify_receipt(r.as_bytes(), &vouched),
            _ => false,
        };
        if !verified {
            return Err(format!(
                "{}: no valid receipt for the copy it says it {said}",
                to.daemon_id
            ));
        }
        Ok(verdict)
    }
}
