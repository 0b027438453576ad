//! The headers of S3 objects: user metadata and HTTP attributes kept with an object,
//! checksums and ETags, conditional requests, and response overrides.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use http::{header, HeaderMap, HeaderName, HeaderValue};

use crate::s3::error::S3Error;
use crate::store::{ObjectInfo, ObjectMeta};

/// The HTTP attributes an object keeps (request header = response header).
pub const ATTRS: &[&str] = &[
    "content-type",
    "content-disposition",
    "cache-control",
    "content-encoding",
    "content-language",
    "expires",
];

/// The quoted entity tag.
pub fn etag(meta: &ObjectMeta) -> String {
    format!("\"{}\"", meta.entity_tag())
}

/// `x-amz-meta-*` headers as custom metadata (names lowercase, as HTTP/1.1 gives them).
pub(super) fn user_meta(h: &HeaderMap) -> Result<BTreeMap<String, String>, S3Error> {
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
pub(super) fn attrs(h: &HeaderMap) -> BTreeMap<String, String> {
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

pub(super) fn header_u64(h: &HeaderMap, name: &str) -> Result<Option<u64>, S3Error> {
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

pub(super) fn checksum_headers(h: &mut HeaderMap, meta: &ObjectMeta) {
    for (algo, v) in &meta.checksums {
        if let (Ok(name), Ok(v)) = (
            HeaderName::from_bytes(format!("x-amz-checksum-{algo}").as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(name, v);
        }
    }
}

pub(super) fn http_date(h: &HeaderMap, name: &str) -> Option<u64> {
    let v = h.get(name)?.to_str().ok()?;
    let t = httpdate::parse_http_date(v).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

pub(super) fn etag_matches(list: &str, tag: &str) -> bool {
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
pub(super) fn object_headers(h: &mut HeaderMap, info: &ObjectInfo) {
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
pub(super) fn overrides(h: &mut HeaderMap, q: &std::collections::HashMap<String, String>) {
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
