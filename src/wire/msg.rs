//! Reading AIStore requests (control messages, object paths, the provider) and writing
//! JSON answers, the same on proxy and target.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use hyper::body::Incoming;
use serde::Deserialize;

use super::ApiError;
use crate::http::request::{query, set_header};
use crate::http::{full, Body};

/// An AIStore control message (`ActMsg`).
#[derive(Debug, Default, Deserialize, serde::Serialize)]
pub struct ActMsg {
    /// Action name, e.g. `create-bck`.
    #[serde(default)]
    pub action: String,
    /// Optional name argument.
    #[serde(default)]
    pub name: String,
    /// Action-specific value.
    #[serde(default)]
    pub value: serde_json::Value,
}

/// Largest JSON control message accepted, bytes.
pub const MAX_CONTROL_BODY: usize = 1 << 20;

/// How long a control message may take to arrive.
pub const CONTROL_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Splits `<bucket>/<object>` (still percent-encoded) and decodes each part exactly once.
pub fn split_object_path(rest: &str) -> Result<(String, String), ApiError> {
    let (bucket, object) = split_object_path_borrowed(rest)?;
    Ok((bucket.into_owned(), object.into_owned()))
}

/// [`split_object_path`] borrowing from `rest` where nothing is percent-encoded.
pub fn split_object_path_borrowed(rest: &str) -> Result<(Cow<'_, str>, Cow<'_, str>), ApiError> {
    let (bucket, object) = rest.split_once('/').ok_or_else(|| {
        ApiError::BadRequest(format!("missing object name in /v1/objects/{rest}"))
    })?;
    if object.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "missing object name in /v1/objects/{rest}"
        )));
    }
    let decode = |raw| crate::http::request::decode_borrowed(raw).map_err(ApiError::BadRequest);
    Ok((decode(bucket)?, decode(object)?))
}

/// The string `key` of a JSON action value ("" when absent or not a string).
pub fn str_field(value: &serde_json::Value, key: &str) -> String {
    value
        .get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_string()
}

pub fn decode(raw: &str) -> Result<String, ApiError> {
    crate::http::request::decode(raw).map_err(ApiError::BadRequest)
}

/// Only `ais://` buckets in the global namespace live here.
pub fn check_provider(req: &Request<Incoming>) -> Result<(), ApiError> {
    if req
        .uri()
        .query()
        .is_none_or(|q| !q.contains("provider") && !q.contains("namespace"))
    {
        return Ok(()); // most requests: nothing to decode
    }
    let q = query(req);
    match q.get("provider").map(String::as_str) {
        None | Some("") | Some("ais") => {}
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "provider {other:?} is not supported: only ais:// buckets are served"
            )))
        }
    }
    match q.get("namespace").map(String::as_str) {
        None | Some("") | Some("@#") => Ok(()),
        Some(ns) => Err(ApiError::BadRequest(format!(
            "namespace {ns:?} is not supported: only the global namespace"
        ))),
    }
}

/// Reads a small control body (at most 1 MiB, within 10 s). When the request came signed
/// on the intra-cluster listener, the body must be the one signed.
pub async fn read_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    read_body_within(req, MAX_CONTROL_BODY).await
}

/// [`read_body`] with a larger cap, for requests that list many items.
pub async fn read_body_within(req: Request<Incoming>, limit: usize) -> Result<Bytes, ApiError> {
    let signed = req
        .extensions()
        .get::<crate::cluster::intra_auth::Signed>()
        .cloned();
    let body =
        crate::http::request::read_limited_within(req.into_body(), limit, CONTROL_BODY_TIMEOUT)
            .await
            .map_err(|e| ApiError::BadRequest(format!("reading control message: {e}")))?;
    if let Some(s) = signed {
        s.check_body(&body)
            .map_err(|e| ApiError::Forbidden(e.to_string()))?;
    }
    Ok(body)
}

/// Reads a JSON control message (empty body = default message).
pub async fn read_act_msg(req: Request<Incoming>) -> Result<ActMsg, ApiError> {
    let bytes = read_body(req).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActMsg::default());
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON control message: {e}")))
}

/// The prefix in `/v1/buckets/B/<prefix>`, if any.
pub fn path_prefix<T>(req: &Request<T>) -> Option<String> {
    let rest = req.uri().path().strip_prefix("/v1/buckets/")?;
    let (_, prefix) = rest.split_once('/')?;
    percent_encoding::percent_decode_str(prefix)
        .decode_utf8()
        .ok()
        .map(|p| p.into_owned())
        .filter(|p| !p.is_empty())
}

/// A JSON response.
pub fn json_response(value: &impl serde::Serialize) -> Response<Body> {
    let mut resp = Response::new(full(serde_json::to_vec(value).unwrap_or_default()));
    set_header(&mut resp, http::header::CONTENT_TYPE, "application/json");
    resp
}

/// `Ais-Custom-Md: k=v[,k=v]`, possibly repeated.
pub fn custom_md(headers: &HeaderMap) -> Result<BTreeMap<String, String>, ApiError> {
    let mut md = BTreeMap::new();
    for value in headers.get_all("Ais-Custom-Md") {
        let text = value
            .to_str()
            .map_err(|_| ApiError::BadRequest("Ais-Custom-Md is not ASCII".into()))?;
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                ApiError::BadRequest(format!("Ais-Custom-Md entry {pair:?} is not key=value"))
            })?;
            md.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    Ok(md)
}
