//! S3 request bodies on their way to the store: aws-chunked decoding, checksums checked as
//! the bytes pass, and the store's refusals in S3 words.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use futures_util::Stream;
use http::{header, HeaderMap};
use hyper::body::Incoming;

use crate::s3::auth::Verified;
use crate::s3::checksum::{self, BodyChecks, Verdict};
use crate::s3::chunked;
use crate::s3::error::S3Error;
use crate::service::body::body_stream;
use crate::service::TargetContext;
use crate::store::{self, PutOptions};

use super::headers::header_u64;

/// A body on its way to the store.
pub(super) type BodyStream<'a> = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send + 'a>>;

/// The request body as the store reads it (aws-chunked decoded, checksums verified) and
/// the options those headers imply.
pub(super) fn upload_body<'a>(
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
pub(super) fn upload_error(e: store::Error, verdict: &Verdict) -> S3Error {
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
