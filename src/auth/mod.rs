//! Client tokens as AIStore's AuthN issues them: HS256 JWTs whose claims name the user,
//! the expiry, and the permissions on clusters (by UUID) and buckets. With a token key
//! configured, every native-API request needs `Authorization: Bearer <token>`.
//!
//! Only HS256 is accepted (what AuthN signs with); the header's `alg` is checked, never
//! trusted to pick an algorithm. Claims are read in both shapes AuthN has used: `username`
//! + `expires` (RFC 3339) and `sub` + `exp` (unix seconds).

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

mod issue;

pub use issue::{parse_grant, parse_lifetime, IssueArgs};

/// Permission bits (AIStore's `apc.AccessAttrs`).
pub mod ace {
    /// Read an object.
    pub const GET: u64 = 1;
    /// HEAD an object.
    pub const OBJ_HEAD: u64 = 1 << 1;
    /// Write an object.
    pub const PUT: u64 = 1 << 2;
    /// Append to an object.
    pub const APPEND: u64 = 1 << 3;
    /// Delete an object.
    pub const OBJ_DELETE: u64 = 1 << 4;
    /// Rename an object.
    pub const OBJ_MOVE: u64 = 1 << 5;
    /// HEAD a bucket.
    pub const BCK_HEAD: u64 = 1 << 8;
    /// List a bucket's objects.
    pub const OBJ_LIST: u64 = 1 << 9;
    /// List buckets.
    pub const LIST_BUCKETS: u64 = 1 << 12;
    /// Read the cluster map and node state.
    pub const SHOW_CLUSTER: u64 = 1 << 13;
    /// Create a bucket.
    pub const CREATE_BUCKET: u64 = 1 << 14;
    /// Destroy a bucket.
    pub const DESTROY_BUCKET: u64 = 1 << 15;
    /// Everything on the cluster.
    pub const ADMIN: u64 = 1 << 17;
    /// Read-only access to data.
    pub const RO: u64 = GET | OBJ_HEAD | LIST_BUCKETS | BCK_HEAD | OBJ_LIST;
    /// Read-write access to data.
    pub const RW: u64 = RO | PUT | APPEND | OBJ_DELETE | OBJ_MOVE;
}

/// Why a token was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TokenError {
    /// No `Authorization: Bearer` header.
    #[error("token required: send Authorization: Bearer <token> (AuthN is enabled)")]
    Missing,
    /// Not three base64url parts with JSON inside, or not HS256.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The signature does not match: another key, or altered claims.
    #[error("invalid token: signature does not match")]
    BadSignature,
    /// Past its expiry.
    #[error("token expired")]
    Expired,
    /// Valid, but without the permission.
    #[error("user {user:?} may not {what}")]
    Denied {
        /// Who.
        user: String,
        /// The operation.
        what: String,
    },
}

/// A bucket as AuthN names it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BckRef {
    /// Bucket name.
    pub name: String,
    /// Provider (`ais`).
    #[serde(default)]
    pub provider: String,
}

/// A cluster ID that matches every cluster (S3 users' grants: a node's users file is
/// written before its cluster has a UUID).
pub const ANY_CLUSTER: &str = "*";

/// A cluster permission.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterAcl {
    /// Cluster UUID.
    pub id: String,
    /// Permission bits (a decimal string on the wire).
    #[serde(with = "crate::cluster::u64_string")]
    pub perm: u64,
}

/// A bucket permission.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketAcl {
    /// The bucket.
    pub bck: BckRef,
    /// Permission bits.
    #[serde(with = "crate::cluster::u64_string")]
    pub perm: u64,
}

/// A token's claims.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// User (AuthN's older shape).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// User (JWT's registered claim).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sub: String,
    /// Expiry, RFC 3339 (older shape).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expires: String,
    /// Expiry, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// Full access everywhere.
    #[serde(default)]
    pub admin: bool,
    /// Per-cluster permissions.
    #[serde(default)]
    pub clusters: Vec<ClusterAcl>,
    /// Per-bucket permissions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<BucketAcl>,
}

impl Claims {
    /// The user's name.
    pub fn user(&self) -> &str {
        if self.sub.is_empty() {
            &self.username
        } else {
            &self.sub
        }
    }

    fn expiry(&self) -> Result<u64, TokenError> {
        if let Some(exp) = self.exp {
            return Ok(exp);
        }
        let t = httpdate_rfc3339(&self.expires).ok_or(TokenError::Malformed("no expiry"))?;
        Ok(t)
    }

    /// Whether the claims grant `need` on `bucket` (or cluster-wide when `None`) in the
    /// cluster `uuid`.
    pub fn allows(&self, uuid: &str, bucket: Option<&str>, need: u64) -> bool {
        if self.admin {
            return true;
        }
        if let Some(b) = bucket {
            let on_bucket = self
                .buckets
                .iter()
                .filter(|a| a.bck.name == b && matches!(a.bck.provider.as_str(), "" | "ais"))
                .fold(0, |acc, a| acc | a.perm);
            if on_bucket & need == need || on_bucket & ace::ADMIN != 0 {
                return true;
            }
        }
        let on_cluster = self
            .clusters
            .iter()
            .filter(|c| c.id == uuid || c.id == ANY_CLUSTER)
            .fold(0, |acc, c| acc | c.perm);
        on_cluster & need == need || on_cluster & ace::ADMIN != 0
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` to unix seconds.
fn httpdate_rfc3339(s: &str) -> Option<u64> {
    let secs = crate::dates::parse_iso8601(s.get(..19)?)? / 1_000_000_000;
    let rest = &s[19..];
    let rest = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset: i64 = match rest {
        "" | "Z" => 0,
        tz if tz.len() == 6 => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let h: i64 = tz.get(1..3)?.parse().ok()?;
            let m: i64 = tz.get(4..6)?.parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    u64::try_from(secs - offset).ok()
}

/// The HS256 key tokens are signed with, and the tokens it verified lately (a client
/// sends the same token with every request: the signature and the claims are checked
/// once, the expiry every time). Its `Debug` never shows the key.
#[derive(Clone)]
pub struct TokenKey {
    mac: Arc<Hmac<Sha256>>,
    seen: Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<Claims>>>>,
}

/// Most verified tokens remembered (the map is emptied when full).
const SEEN_TOKENS: usize = 4096;

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: String,
}

impl TokenKey {
    /// A key from a secret; `None` for an empty one.
    pub fn new(secret: &[u8]) -> Option<TokenKey> {
        let trimmed = secret.trim_ascii();
        if trimmed.is_empty() {
            return None;
        }
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(trimmed)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        Some(TokenKey {
            mac: Arc::new(mac),
            seen: Default::default(),
        })
    }

    /// A cluster key derived from this one, for clusters with tokens but no secret.
    pub fn derived_cluster_key(&self) -> crate::cluster::ClusterKey {
        let mut mac = self.mac();
        mac.update(b"aisnode intra-cluster key");
        let derived = hex::encode(mac.finalize().into_bytes());
        crate::cluster::ClusterKey::new(derived.as_bytes())
            .unwrap_or_else(|| unreachable!("a hex digest is never empty"))
    }

    fn mac(&self) -> Hmac<Sha256> {
        (*self.mac).clone()
    }

    /// [`TokenKey::verify`], remembering valid tokens: a repeated token costs a lookup
    /// and the expiry check.
    pub fn verify_cached(&self, token: &str, now: u64) -> Result<Arc<Claims>, TokenError> {
        let hit = self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned();
        let claims = match hit {
            Some(c) => c,
            None => {
                let c = Arc::new(self.verify(token, now)?);
                let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                if seen.len() >= SEEN_TOKENS {
                    seen.clear();
                }
                seen.insert(token.to_string(), c.clone());
                c
            }
        };
        if claims.expiry()? <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Signs `claims` as an HS256 JWT.
    pub fn issue(&self, claims: &Claims) -> String {
        let header = Header {
            alg: "HS256".into(),
            typ: "JWT".into(),
        };
        let h = B64.encode(serde_json::to_vec(&header).unwrap_or_default());
        let c = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{h}.{c}");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{sig}")
    }

    /// Checks a token's signature and expiry; returns its claims.
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed("expecting three dot-separated parts"));
        };
        let header: Header = B64
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed("header"))?;
        if header.alg != "HS256" {
            return Err(TokenError::Malformed("only HS256 tokens are accepted"));
        }
        let sig = B64
            .decode(s)
            .map_err(|_| TokenError::Malformed("signature"))?;
        let mut mac = self.mac();
        mac.update(h.as_bytes());
        mac.update(b".");
        mac.update(c.as_bytes());
        mac.verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = B64
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed("claims"))?;
        if claims.user().is_empty() {
            return Err(TokenError::Malformed("no user"));
        }
        if claims.expiry()? <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Checks the request's bearer token for `need` on `bucket` in cluster `uuid`.
    pub fn check(
        &self,
        headers: &http::HeaderMap,
        uuid: &str,
        bucket: Option<&str>,
        need: u64,
        what: &str,
    ) -> Result<Arc<Claims>, TokenError> {
        let token = bearer(headers).ok_or(TokenError::Missing)?;
        self.check_token(token, uuid, bucket, need, what)
    }

    /// Checks `token` for `need` on `bucket` in cluster `uuid`.
    pub fn check_token(
        &self,
        token: &str,
        uuid: &str,
        bucket: Option<&str>,
        need: u64,
        what: &str,
    ) -> Result<Arc<Claims>, TokenError> {
        let claims = self.verify_cached(token, crate::cluster::intra_auth::now_secs())?;
        if claims.allows(uuid, bucket, need) {
            Ok(claims)
        } else {
            Err(TokenError::Denied {
                user: claims.user().to_string(),
                what: what.to_string(),
            })
        }
    }
}

/// The token of `Authorization: Bearer <JWT>`, if the request has one.
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The permission a native-API request needs, and the bucket it applies to.
pub fn required(method: &http::Method, path: &str) -> (u64, Option<String>) {
    use http::Method as M;
    let bucket_of = |rest: &str| {
        let b = rest.split('/').next().unwrap_or("");
        crate::http::request::decode(b)
            .ok()
            .filter(|b| !b.is_empty())
    };
    if let Some(rest) = path.strip_prefix("/v1/objects/") {
        let need = match *method {
            M::GET => ace::GET,
            M::HEAD => ace::OBJ_HEAD,
            M::PUT => ace::PUT,
            M::DELETE => ace::OBJ_DELETE,
            M::POST => ace::OBJ_MOVE,
            _ => ace::PUT | ace::APPEND,
        };
        return (need, bucket_of(rest));
    }
    if let Some(rest) = path.strip_prefix("/v1/buckets/").filter(|r| !r.is_empty()) {
        let need = match *method {
            M::HEAD => ace::BCK_HEAD,
            M::GET => ace::OBJ_LIST,
            // The one bucket action taken by POST today.
            M::POST => ace::CREATE_BUCKET,
            M::DELETE => ace::DESTROY_BUCKET,
            _ => ace::ADMIN,
        };
        return (need, bucket_of(rest));
    }
    if path.starts_with("/v1/buckets") {
        return (ace::LIST_BUCKETS, None);
    }
    if let Some(rest) = path.strip_prefix("/v1/ml/moss") {
        // GetBatch reads: each bucket it names is checked again where it is parsed.
        return (ace::GET, bucket_of(rest.trim_start_matches('/')));
    }
    if path.starts_with("/v1/cluster")
        || path.starts_with("/v1/daemon")
        || path.starts_with("/v1/reverse")
    {
        return if *method == M::GET {
            (ace::SHOW_CLUSTER, None)
        } else {
            (ace::ADMIN, None)
        };
    }
    (ace::ADMIN, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims {
            username: "alice".into(),
            exp: Some(exp),
            clusters: vec![ClusterAcl {
                id: "UUID1".into(),
                perm: ace::RO,
            }],
            buckets: vec![BucketAcl {
                bck: BckRef {
                    name: "rw".into(),
                    provider: "ais".into(),
                },
                perm: ace::RW,
            }],
            ..Claims::default()
        }
    }

    #[test]
    fn issue_verify_and_refuse() {
        let k = TokenKey::new(b"key").unwrap();
        let tok = k.issue(&claims(2000));
        assert_eq!(k.verify(&tok, 1000).unwrap().user(), "alice");
        assert_eq!(k.verify(&tok, 2000), Err(TokenError::Expired));
        // Remembered tokens still expire.
        assert_eq!(k.verify_cached(&tok, 1000).unwrap().user(), "alice");
        assert_eq!(k.verify_cached(&tok, 1500).unwrap().user(), "alice");
        assert_eq!(k.verify_cached(&tok, 2000), Err(TokenError::Expired));
        let other = TokenKey::new(b"other").unwrap();
        assert_eq!(other.verify(&tok, 1000), Err(TokenError::BadSignature));
        // Claims swapped under the same signature.
        let mut parts: Vec<&str> = tok.split('.').collect();
        let forged = B64.encode(br#"{"username":"alice","exp":3000,"admin":true}"#);
        parts[1] = &forged;
        assert_eq!(
            k.verify(&parts.join("."), 1000),
            Err(TokenError::BadSignature)
        );
        // alg=none and friends.
        let none = format!(
            "{}.{}.",
            B64.encode(br#"{"alg":"none"}"#),
            B64.encode(br#"{"username":"a","exp":3000,"admin":true}"#)
        );
        assert!(matches!(
            k.verify(&none, 1000),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            k.verify("abc", 1000),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn permissions_by_cluster_and_bucket() {
        let c = claims(0);
        let cases = [
            ("UUID1", Some("any"), ace::GET, true),
            ("UUID1", Some("any"), ace::PUT, false),
            ("UUID1", Some("rw"), ace::PUT, true),
            ("UUID2", Some("rw"), ace::PUT, true),
            ("UUID2", Some("any"), ace::GET, false),
            ("UUID1", None, ace::CREATE_BUCKET, false),
        ];
        for (uuid, b, need, want) in cases {
            assert_eq!(c.allows(uuid, b, need), want, "{uuid} {b:?} {need}");
        }
        let admin = Claims {
            admin: true,
            ..Claims::default()
        };
        assert!(admin.allows("x", None, ace::ADMIN));
    }

    #[test]
    fn older_claims_shape_with_rfc3339_expiry() {
        let k = TokenKey::new(b"key").unwrap();
        let c: Claims = serde_json::from_str(
            r#"{"username":"bob","expires":"2030-01-01T00:00:00.5+01:00","admin":false,
                "clusters":[{"id":"U","perm":"513"}]}"#,
        )
        .unwrap();
        assert_eq!(c.expiry(), Ok(1893452400));
        assert_eq!(c.clusters[0].perm, 513);
        let tok = k.issue(&c);
        assert!(k.verify(&tok, 1893452399).is_ok());
        assert_eq!(k.verify(&tok, 1893452400), Err(TokenError::Expired));
    }

    #[test]
    fn requests_map_to_permissions() {
        use http::Method as M;
        let cases = [
            (M::GET, "/v1/objects/b/o", ace::GET, Some("b")),
            (M::PUT, "/v1/objects/b%20c/o", ace::PUT, Some("b c")),
            (M::GET, "/v1/buckets/b", ace::OBJ_LIST, Some("b")),
            (M::POST, "/v1/buckets/b", ace::CREATE_BUCKET, Some("b")),
            (M::DELETE, "/v1/buckets/b", ace::DESTROY_BUCKET, Some("b")),
            (M::GET, "/v1/buckets", ace::LIST_BUCKETS, None),
            (M::GET, "/v1/cluster", ace::SHOW_CLUSTER, None),
            (M::PUT, "/v1/cluster", ace::ADMIN, None),
        ];
        for (m, p, need, b) in cases {
            assert_eq!(required(&m, p), (need, b.map(String::from)), "{m} {p}");
        }
    }
}
