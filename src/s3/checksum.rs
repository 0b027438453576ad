//! Checks of an S3 upload's body against what the client sent: `x-amz-checksum-*` (from a
//! header or an aws-chunked trailer) and the signed payload SHA-256. Runs as a stream
//! adapter in front of the store; a mismatch ends the body with an error (so nothing is
//! committed) and leaves the S3 error for the handler in the verdict.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::HeaderMap;
use sha2::Digest as _;

use super::chunked::Trailers;
use super::error::S3Error;

/// The checksum algorithms S3 clients send.
pub const ALGORITHMS: &[&str] = &["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

/// An incremental checksum of one algorithm.
pub enum Hasher {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64(crc64fast_nvme::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    /// A hasher for an algorithm name (lowercase).
    pub fn new(algo: &str) -> Option<Hasher> {
        Some(match algo {
            "crc32" => Hasher::Crc32(crc32fast::Hasher::new()),
            "crc32c" => Hasher::Crc32c(0),
            "crc64nvme" => Hasher::Crc64(crc64fast_nvme::Digest::new()),
            "sha1" => Hasher::Sha1(sha1::Sha1::new()),
            "sha256" => Hasher::Sha256(sha2::Sha256::new()),
            _ => return None,
        })
    }

    /// Feeds data.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc32(h) => h.update(data),
            Hasher::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            Hasher::Crc64(h) => h.write(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
    }

    /// The raw digest bytes (big-endian for CRCs, as S3 encodes them).
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            Hasher::Crc32c(c) => c.to_be_bytes().to_vec(),
            Hasher::Crc64(h) => h.sum64().to_be_bytes().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

/// Base64 as S3 spells checksum values.
pub fn b64(raw: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// What to verify while the body streams.
#[derive(Default)]
pub struct BodyChecks {
    /// Algorithm and expected base64 value from a header.
    pub header: Option<(String, String)>,
    /// Algorithm whose value comes in an aws-chunked trailer.
    pub trailer: Option<String>,
    /// Expected SHA-256 of the payload, hex (signed `x-amz-content-sha256`).
    pub sha256: Option<String>,
}

impl BodyChecks {
    /// What the request's headers ask to verify.
    pub fn from_headers(
        h: &HeaderMap,
        payload_sha256: Option<String>,
    ) -> Result<BodyChecks, S3Error> {
        let mut checks = BodyChecks {
            sha256: payload_sha256,
            ..Default::default()
        };
        for algo in ALGORITHMS {
            if let Some(v) = h.get(format!("x-amz-checksum-{algo}").as_str()) {
                let v = v.to_str().unwrap_or("").trim().to_string();
                checks.header = Some((algo.to_string(), v));
            }
        }
        if let Some(t) = h.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
            let t = t.trim().to_ascii_lowercase();
            if let Some(algo) = t.strip_prefix("x-amz-checksum-") {
                if !ALGORITHMS.contains(&algo) {
                    return Err(S3Error::Invalid(
                        "InvalidRequest",
                        format!("unsupported trailer {t}"),
                    ));
                }
                checks.trailer = Some(algo.to_string());
            }
        }
        Ok(checks)
    }

    /// Whether there is anything to verify.
    pub fn is_empty(&self) -> bool {
        self.header.is_none() && self.trailer.is_none() && self.sha256.is_none()
    }
}

/// Where the checker leaves a mismatch for the handler.
pub type Verdict = Arc<Mutex<Option<S3Error>>>;

/// Wraps `inner` so that, when it ends, the checksums are compared; a mismatch becomes an
/// error item (and the verdict). Verified trailer checksums go to `late` for the metadata.
pub fn verify<S>(
    inner: S,
    checks: BodyChecks,
    trailers: Trailers,
    late: Arc<Mutex<BTreeMap<String, String>>>,
    verdict: Verdict,
) -> impl Stream<Item = Result<Bytes, String>> + Send + Unpin
where
    S: Stream<Item = Result<Bytes, String>> + Send + Unpin,
{
    let algo = checks
        .header
        .as_ref()
        .map(|(a, _)| a.clone())
        .or_else(|| checks.trailer.clone());
    let hasher = algo.as_deref().and_then(Hasher::new);
    let sha = checks.sha256.as_ref().map(|_| sha2::Sha256::new());
    let state = (inner, hasher, sha, Some(checks), trailers, late, verdict);
    Box::pin(futures_util::stream::unfold(
        state,
        |(mut inner, mut hasher, mut sha, mut checks, trailers, late, verdict)| async move {
            let checks_now = checks.take()?;
            match inner.next().await {
                Some(Ok(data)) => {
                    if let Some(h) = hasher.as_mut() {
                        h.update(&data);
                    }
                    if let Some(s) = sha.as_mut() {
                        s.update(&data);
                    }
                    Some((
                        Ok(data),
                        (
                            inner,
                            hasher,
                            sha,
                            Some(checks_now),
                            trailers,
                            late,
                            verdict,
                        ),
                    ))
                }
                Some(Err(e)) => Some((Err(e), (inner, hasher, sha, None, trailers, late, verdict))),
                None => {
                    let failure = conclude(hasher, sha, &checks_now, &trailers, &late);
                    let failure = failure?;
                    let msg = failure.to_string();
                    *verdict.lock().unwrap_or_else(|p| p.into_inner()) = Some(failure);
                    Some((Err(msg), (inner, None, None, None, trailers, late, verdict)))
                }
            }
        },
    ))
}

/// `Some(error)` when a checksum does not match.
fn conclude(
    hasher: Option<Hasher>,
    sha: Option<sha2::Sha256>,
    checks: &BodyChecks,
    trailers: &Trailers,
    late: &Arc<Mutex<BTreeMap<String, String>>>,
) -> Option<S3Error> {
    if let (Some(s), Some(want)) = (sha, &checks.sha256) {
        let got = hex::encode(s.finalize());
        if !got.eq_ignore_ascii_case(want) {
            return Some(S3Error::Invalid(
                "XAmzContentSHA256Mismatch",
                format!("the provided x-amz-content-sha256 {want} does not match the body's {got}"),
            ));
        }
    }
    let got = b64(&hasher?.finish());
    let (algo, want) = match (&checks.header, &checks.trailer) {
        (Some((a, v)), _) => (a.clone(), v.clone()),
        (None, Some(a)) => {
            let t = trailers.lock().unwrap_or_else(|p| p.into_inner());
            match t.get(&format!("x-amz-checksum-{a}")) {
                Some(v) => (a.clone(), v.clone()),
                None => {
                    return Some(S3Error::Invalid(
                        "InvalidRequest",
                        format!(
                            "the x-amz-checksum-{a} trailer announced in x-amz-trailer is missing"
                        ),
                    ))
                }
            }
        }
        (None, None) => return None,
    };
    if got != want {
        return Some(S3Error::BadDigest(format!(
            "the {algo} you specified ({want}) did not match the calculated checksum ({got})"
        )));
    }
    if checks.header.is_none() {
        late.lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(algo, got);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // S3's documented values for "Hello world" are not published; these match
        // botocore's own implementations for b"hello world".
        let v = |a: &str| {
            let mut h = Hasher::new(a).unwrap();
            h.update(b"hello ");
            h.update(b"world");
            b64(&h.finish())
        };
        assert_eq!(v("crc32"), "DUoRhQ==");
        assert_eq!(v("crc32c"), "yZRlqg==");
        assert_eq!(v("sha1"), "Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
        assert_eq!(v("sha256"), "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=");
        assert_eq!(v("crc64nvme").len(), 12);
        assert!(Hasher::new("md4").is_none());
    }

    #[tokio::test]
    async fn mismatch_ends_the_body_with_an_error() {
        let body = futures_util::stream::iter(vec![Ok(Bytes::from_static(b"hello world"))]);
        let checks = BodyChecks {
            header: Some(("crc32".into(), "AAAAAA==".into())),
            ..Default::default()
        };
        let verdict: Verdict = Default::default();
        let items: Vec<_> = verify(
            body,
            checks,
            Default::default(),
            Default::default(),
            verdict.clone(),
        )
        .collect()
        .await;
        assert!(items.last().unwrap().is_err());
        assert_eq!(
            verdict.lock().unwrap().as_ref().unwrap().code().0,
            "BadDigest"
        );
    }
}
