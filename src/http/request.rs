//! Protocol-neutral request helpers both front ends use: percent-decoding, the query
//! string, bounded control bodies, header values.

use std::collections::HashMap;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Limited};

use super::Body;

/// Percent-decodes one path segment into UTF-8.
pub fn decode(raw: &str) -> Result<String, String> {
    decode_borrowed(raw).map(std::borrow::Cow::into_owned)
}

/// [`decode`] that borrows `raw` when it has nothing to decode (most names).
pub fn decode_borrowed(raw: &str) -> Result<std::borrow::Cow<'_, str>, String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| format!("name {raw:?} is not valid UTF-8 after percent-decoding"))
}

/// The query string as a map (last value wins).
pub fn query<B>(req: &Request<B>) -> HashMap<String, String> {
    req.uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// Reads a whole body of at most `limit` bytes.
pub async fn read_limited<B>(body: B, limit: usize) -> Result<Bytes, String>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    Ok(Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes())
}

/// Reads a whole body of at most `limit` bytes within `time`.
pub async fn read_limited_within<B>(
    body: B,
    limit: usize,
    time: std::time::Duration,
) -> Result<Bytes, String>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    tokio::time::timeout(time, read_limited(body, limit))
        .await
        .map_err(|_| format!("body not received within {}s", time.as_secs()))?
}

/// Sets a header, dropping values that are not valid in a header.
pub fn set_header(resp: &mut Response<Body>, name: http::HeaderName, value: impl AsRef<str>) {
    if let Ok(v) = http::HeaderValue::from_str(value.as_ref()) {
        resp.headers_mut().insert(name, v);
    }
}
