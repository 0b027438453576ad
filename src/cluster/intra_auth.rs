//! Intra-cluster request signing. With a cluster secret, every node-to-node request
//! carries `Ais-Intra-Auth: v1;t=<unix s>;c=<caller ID>;b=<body SHA-256 | UNSIGNED>;m=<MAC>`,
//! the MAC being HMAC-SHA256 over method, path and query, caller, body digest and time.
//! The receiver checks it in constant time within a clock-skew limit, and checks the body
//! digest once it has read the body. Streamed bodies (object data) are sent `UNSIGNED`;
//! endpoints that change a node's map or buckets insist on a signed body.
//!
//! The same key signs the proxy's redirects (`x=<expiry>&u=<MAC>` appended to the
//! Location), so a target can tell a redirected request from a direct one.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The signature header.
pub const AUTH_HEADER: HeaderName = HeaderName::from_static("ais-intra-auth");
/// Body digest of a request whose body is streamed and not covered.
pub const UNSIGNED: &str = "UNSIGNED";
/// How far a signature's time may be from ours, seconds.
pub const MAX_SKEW_SECS: u64 = 120;
/// How long a signed redirect stays valid, seconds.
pub const REDIRECT_TTL_SECS: u64 = 60;

type HmacSha256 = Hmac<Sha256>;

/// Why a signed request was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum IntraAuthError {
    /// No signature where one is required.
    #[error("intra-cluster request is not signed (Ais-Intra-Auth missing)")]
    Missing,
    /// The header does not parse.
    #[error("malformed Ais-Intra-Auth: {0}")]
    Malformed(&'static str),
    /// The timestamp is too far from now.
    #[error("intra-cluster signature time is {0} s off (limit {MAX_SKEW_SECS} s)")]
    Skew(u64),
    /// The MAC does not match: wrong secret or altered request.
    #[error("intra-cluster signature does not match (wrong cluster secret or altered request)")]
    BadMac,
    /// The body differs from the one signed.
    #[error("request body does not match its signed digest")]
    BodyMismatch,
    /// A control message arrived with a streamed (unsigned) body.
    #[error("control message body must be signed")]
    UnsignedBody,
    /// A redirect signature is missing, expired or wrong.
    #[error("{0}")]
    Redirect(&'static str),
}

/// What a receipt vouches for: node `node` holds `bucket/object` at `version` (`verdict`:
/// stored, or kept a newer one).
pub struct Receipt<'a> {
    /// The receiving node.
    pub node: &'a str,
    /// Bucket.
    pub bucket: &'a str,
    /// Object.
    pub object: &'a str,
    /// Version sent.
    pub version: &'a str,
    /// `stored` or `kept-newer`.
    pub verdict: &'a str,
}

/// The cluster secret as a MAC key (kept keyed: each use clones the HMAC state instead
/// of hashing the key again). Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct ClusterKey(Arc<HmacSha256>);

impl std::fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterKey(..)")
    }
}

/// Who signs this node's outgoing intra-cluster requests.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The cluster key.
    pub key: ClusterKey,
    /// This node's ID.
    pub caller: String,
}

impl Signer {
    /// Adds the signature header to `req`; `body` is `None` for a streamed body.
    pub fn sign_request<B>(&self, req: &mut http::Request<B>, body: Option<&[u8]>) {
        let path_q = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let value = self
            .key
            .sign(req.method(), &path_q, &self.caller, body, now_secs());
        req.headers_mut().insert(AUTH_HEADER, value);
    }
}

/// What a verified signature vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The calling node's ID.
    pub caller: String,
    /// SHA-256 of the body, when the body is covered.
    pub body_digest: Option<[u8; 32]>,
}

impl Signed {
    /// Checks a body read after the headers were verified; a control message must have
    /// been signed with its body.
    pub fn check_body(&self, body: &[u8]) -> Result<(), IntraAuthError> {
        let want = self.body_digest.ok_or(IntraAuthError::UnsignedBody)?;
        let got: [u8; 32] = Sha256::digest(body).into();
        if bool::from(want.ct_eq(&got)) {
            Ok(())
        } else {
            Err(IntraAuthError::BodyMismatch)
        }
    }
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl ClusterKey {
    /// A key from a secret; `None` for an empty one.
    pub fn new(secret: &[u8]) -> Option<ClusterKey> {
        let trimmed = secret.trim_ascii();
        if trimmed.is_empty() {
            return None;
        }
        let mac = <HmacSha256 as KeyInit>::new_from_slice(trimmed)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        Some(ClusterKey(Arc::new(mac)))
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = (*self.0).clone();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                mac.update(b"\n");
            }
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// The `Ais-Intra-Auth` value for a request; `body` is `None` for a streamed body.
    pub fn sign(
        &self,
        method: &Method,
        path_and_query: &str,
        caller: &str,
        body: Option<&[u8]>,
        now: u64,
    ) -> HeaderValue {
        let digest = body.map_or_else(|| UNSIGNED.to_string(), |b| hex::encode(Sha256::digest(b)));
        let t = now.to_string();
        let mac = self.request_mac(method, path_and_query, caller, &digest, &t);
        let value = format!("v1;t={t};c={caller};b={digest};m={}", hex::encode(mac));
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("v1;invalid"))
    }

    /// The MAC of one request's signed fields.
    fn request_mac(
        &self,
        method: &Method,
        pq: &str,
        caller: &str,
        digest: &str,
        t: &str,
    ) -> [u8; 32] {
        let fields: [&[u8]; 6] = [
            b"AIS-INTRA-V1",
            method.as_str().as_bytes(),
            pq.as_bytes(),
            caller.as_bytes(),
            digest.as_bytes(),
            t.as_bytes(),
        ];
        self.mac(&fields)
    }

    /// Verifies a request's signature (not yet its body: see [`Signed::check_body`]).
    pub fn verify(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        now: u64,
    ) -> Result<Signed, IntraAuthError> {
        let value = headers
            .get(&AUTH_HEADER)
            .ok_or(IntraAuthError::Missing)?
            .to_str()
            .map_err(|_| IntraAuthError::Malformed("not ASCII"))?;
        let mut fields = value.split(';');
        if fields.next() != Some("v1") {
            return Err(IntraAuthError::Malformed("unknown version"));
        }
        let (mut t, mut c, mut b, mut m) = (None, None, None, None);
        for f in fields {
            match f.split_once('=') {
                Some(("t", v)) => t = Some(v),
                Some(("c", v)) => c = Some(v),
                Some(("b", v)) => b = Some(v),
                Some(("m", v)) => m = Some(v),
                _ => return Err(IntraAuthError::Malformed("unknown field")),
            }
        }
        let (Some(t), Some(c), Some(b), Some(m)) = (t, c, b, m) else {
            return Err(IntraAuthError::Malformed("missing field"));
        };
        let when: u64 = t.parse().map_err(|_| IntraAuthError::Malformed("time"))?;
        let off = now.abs_diff(when);
        if off > MAX_SKEW_SECS {
            return Err(IntraAuthError::Skew(off));
        }
        let body_digest = match b {
            UNSIGNED => None,
            hex_digest => {
                let mut d = [0u8; 32];
                hex::decode_to_slice(hex_digest, &mut d)
                    .map_err(|_| IntraAuthError::Malformed("body digest"))?;
                Some(d)
            }
        };
        let want = self.request_mac(method, path_and_query, c, b, t);
        let mut got = [0u8; 32];
        hex::decode_to_slice(m, &mut got).map_err(|_| IntraAuthError::Malformed("MAC"))?;
        if !bool::from(want.ct_eq(&got)) {
            return Err(IntraAuthError::BadMac);
        }
        Ok(Signed {
            caller: c.to_string(),
            body_digest,
        })
    }

    /// A receipt for an object a node took over (hex MAC over the node, the object, the
    /// version and the verdict): the sender deletes its copy only on a receipt it can
    /// verify, never on the word of a node that does not hold the key.
    pub fn receipt(&self, what: &Receipt<'_>) -> String {
        hex::encode(self.receipt_mac(what))
    }

    /// Whether `value` is the receipt [`ClusterKey::receipt`] makes for `what`.
    pub fn verify_receipt(&self, value: &[u8], what: &Receipt<'_>) -> bool {
        let mut got = [0u8; 32];
        if hex::decode_to_slice(value, &mut got).is_err() {
            return false;
        }
        bool::from(self.receipt_mac(what).ct_eq(&got))
    }

    fn receipt_mac(&self, r: &Receipt<'_>) -> [u8; 32] {
        self.mac(&[
            b"AIS-RECEIPT-V1",
            r.node.as_bytes(),
            r.bucket.as_bytes(),
            r.object.as_bytes(),
            r.version.as_bytes(),
            r.verdict.as_bytes(),
        ])
    }

    /// The query suffix that makes `location` (a redirect to `target_id`) verifiable:
    /// `&x=<expiry>&u=<MAC>`; `location` already holds a query.
    pub fn sign_redirect(
        &self,
        method: &Method,
        location_path_query: &str,
        target_id: &str,
        now: u64,
    ) -> String {
        let expiry = (now + REDIRECT_TTL_SECS).to_string();
        let signed = format!("{location_path_query}&x={expiry}");
        let mac = self.mac(&[
            b"AIS-REDIRECT-V1",
            method.as_str().as_bytes(),
            signed.as_bytes(),
            target_id.as_bytes(),
        ]);
        format!("&x={expiry}&u={}", hex::encode(mac))
    }

    /// Checks that `path_and_query` is a redirect signed for `target_id` and not expired.
    pub fn verify_redirect(
        &self,
        method: &Method,
        path_and_query: &str,
        target_id: &str,
        now: u64,
    ) -> Result<(), IntraAuthError> {
        const NOT_REDIRECTED: &str = "expected to be redirected by a proxy (intra-cluster signing is on: direct access to a target's public port is refused)";
        let (signed, mac) = path_and_query
            .rsplit_once("&u=")
            .ok_or(IntraAuthError::Redirect(NOT_REDIRECTED))?;
        let expiry = signed
            .rsplit_once("&x=")
            .and_then(|(_, x)| x.parse::<u64>().ok())
            .ok_or(IntraAuthError::Redirect(NOT_REDIRECTED))?;
        let mut got = [0u8; 32];
        hex::decode_to_slice(mac, &mut got)
            .map_err(|_| IntraAuthError::Redirect(NOT_REDIRECTED))?;
        let want = self.mac(&[
            b"AIS-REDIRECT-V1",
            method.as_str().as_bytes(),
            signed.as_bytes(),
            target_id.as_bytes(),
        ]);
        if !bool::from(want.ct_eq(&got)) {
            return Err(IntraAuthError::Redirect(
                "redirect signature does not match this request and target",
            ));
        }
        if now > expiry {
            return Err(IntraAuthError::Redirect(
                "redirect expired: ask the proxy again",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ClusterKey {
        ClusterKey::new(s.as_bytes()).unwrap()
    }

    #[test]
    fn receipts_bind_node_object_version_and_verdict() {
        let k = key("s3cret");
        let of = |node, object, version, verdict| Receipt {
            node,
            bucket: "b",
            object,
            version,
            verdict,
        };
        let r = k.receipt(&of("t1", "o", "3", "stored"));
        assert!(k.verify_receipt(r.as_bytes(), &of("t1", "o", "3", "stored")));
        for (node, obj, ver, verdict) in [
            ("t2", "o", "3", "stored"),
            ("t1", "p", "3", "stored"),
            ("t1", "o", "4", "stored"),
            ("t1", "o", "3", "kept-newer"),
        ] {
            assert!(!k.verify_receipt(r.as_bytes(), &of(node, obj, ver, verdict)));
        }
        assert!(!key("other").verify_receipt(r.as_bytes(), &of("t1", "o", "3", "stored")));
        assert!(!k.verify_receipt(b"zz", &of("t1", "o", "3", "stored")));
    }

    fn headers(v: HeaderValue) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTH_HEADER, v);
        h
    }

    #[test]
    fn signed_request_verifies_and_any_change_breaks_it() {
        let k = key("s3cret");
        let body = br#"{"smap":{}}"#;
        let h = headers(k.sign(&Method::PUT, "/v1/metasync", "p1", Some(body), 1000));
        let ok = k.verify(&Method::PUT, "/v1/metasync", &h, 1010).unwrap();
        assert_eq!(ok.caller, "p1");
        assert_eq!(ok.check_body(body), Ok(()));
        assert_eq!(ok.check_body(b"{}"), Err(IntraAuthError::BodyMismatch));

        let cases: &[(&str, Method, &str, u64, IntraAuthError)] = &[
            (
                "other secret",
                Method::PUT,
                "/v1/metasync",
                1000,
                IntraAuthError::BadMac,
            ),
            (
                "s3cret",
                Method::POST,
                "/v1/metasync",
                1000,
                IntraAuthError::BadMac,
            ),
            (
                "s3cret",
                Method::PUT,
                "/v1/metasync?x=1",
                1000,
                IntraAuthError::BadMac,
            ),
            (
                "s3cret",
                Method::PUT,
                "/v1/metasync",
                1000 + MAX_SKEW_SECS + 1,
                IntraAuthError::Skew(MAX_SKEW_SECS + 1),
            ),
            (
                "s3cret",
                Method::PUT,
                "/v1/metasync",
                1000 - MAX_SKEW_SECS - 5,
                IntraAuthError::Skew(MAX_SKEW_SECS + 5),
            ),
        ];
        for (secret, method, path, now, want) in cases {
            assert_eq!(
                key(secret).verify(method, path, &h, *now).unwrap_err(),
                *want,
                "{secret} {method} {path} {now}"
            );
        }
        assert_eq!(
            k.verify(&Method::PUT, "/v1/metasync", &HeaderMap::new(), 1000),
            Err(IntraAuthError::Missing)
        );
        // A caller ID swapped into a valid header.
        let forged = h[&AUTH_HEADER].to_str().unwrap().replace("c=p1", "c=p2");
        let h2 = headers(HeaderValue::from_str(&forged).unwrap());
        assert_eq!(
            k.verify(&Method::PUT, "/v1/metasync", &h2, 1000),
            Err(IntraAuthError::BadMac)
        );
        for bad in [
            "v2;t=1",
            "v1;t=x;c=a;b=UNSIGNED;m=00",
            "v1;t=1000;c=a",
            "v1;zz=1",
        ] {
            let h = headers(HeaderValue::from_static(bad));
            assert!(
                matches!(
                    k.verify(&Method::GET, "/", &h, 1000),
                    Err(IntraAuthError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn streamed_body_is_not_a_control_message() {
        let k = key("k");
        let h = headers(k.sign(&Method::PUT, "/v1/objects/b/o", "t1", None, 5));
        let s = k.verify(&Method::PUT, "/v1/objects/b/o", &h, 5).unwrap();
        assert_eq!(s.body_digest, None);
        assert_eq!(s.check_body(b"x"), Err(IntraAuthError::UnsignedBody));
    }

    #[test]
    fn redirects_are_bound_to_target_method_query_and_time() {
        let k = key("k");
        let loc = "/v1/objects/b/o?provider=ais&pid=p1&utm=abc";
        let full = format!("{loc}{}", k.sign_redirect(&Method::GET, loc, "t1", 100));
        assert_eq!(k.verify_redirect(&Method::GET, &full, "t1", 150), Ok(()));
        assert!(k.verify_redirect(&Method::GET, &full, "t2", 150).is_err());
        assert!(k.verify_redirect(&Method::PUT, &full, "t1", 150).is_err());
        assert!(k
            .verify_redirect(&Method::GET, &full, "t1", 100 + REDIRECT_TTL_SECS + 1)
            .is_err());
        let altered = full.replace("b/o", "b/p");
        assert!(k
            .verify_redirect(&Method::GET, &altered, "t1", 150)
            .is_err());
        assert!(key("other")
            .verify_redirect(&Method::GET, &full, "t1", 150)
            .is_err());
        assert!(k.verify_redirect(&Method::GET, loc, "t1", 150).is_err());
    }

    #[test]
    fn empty_secret_is_no_key() {
        assert!(ClusterKey::new(b"  \n").is_none());
        assert_eq!(format!("{:?}", key("abc")), "ClusterKey(..)");
    }
}
