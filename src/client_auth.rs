//! One rule for clients on the public ports of proxies and targets, native API, admin
//! endpoints and `/metrics` alike (S3 requests are checked the same way in
//! `s3::access`): a node with client credentials configured (an AuthN key, S3 keys, or
//! both) refuses anonymous requests; a request proves itself with whichever is
//! configured, a bearer token (checked for the permission the request needs) or an S3
//! signature made with the S3 key pair (SigV4 or V2, as `curl --aws-sigv4` sends). A
//! node with neither serves anonymous clients (the node says so at start-up).

use std::sync::Arc;

use http::{HeaderMap, Method, Uri};

use crate::auth::{Claims, TokenError, TokenKey};
use crate::s3::auth::Credentials;

/// Why a client request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No credential, or one that does not verify (401).
    Unauthenticated(String),
    /// A valid token without the right (403).
    Denied(String),
}

/// Who a public request was admitted as (kept in its extensions), for the checks a
/// handler makes on the other buckets it touches (a copy's destination, say).
#[derive(Clone, Debug)]
pub enum Principal {
    /// No client credentials are configured: anyone may do anything.
    Anyone,
    /// Signed with the S3 key pair: full access.
    KeyHolder,
    /// A token's user, with its permissions.
    Token(Arc<Claims>),
}

impl Principal {
    /// Whether this principal has `need` on `bucket` (`None`: the cluster).
    pub fn may(&self, uuid: &str, bucket: Option<&str>, need: u64) -> bool {
        match self {
            Principal::Anyone | Principal::KeyHolder => true,
            Principal::Token(c) => c.allows(uuid, bucket, need),
        }
    }
}

/// Checks that the request's principal (if it came through a public gate) has `need` on
/// `bucket`; requests from other nodes carry none and were checked where they entered.
pub fn authorize(
    who: Option<&Principal>,
    uuid: &str,
    bucket: Option<&str>,
    need: u64,
    what: &str,
) -> Result<(), Refusal> {
    match who {
        Some(p) if !p.may(uuid, bucket, need) => {
            let user = match p {
                Principal::Token(c) => c.user().to_string(),
                _ => String::new(),
            };
            Err(Refusal::Denied(format!(
                "user {user:?} may not {what} (bucket {:?})",
                bucket.unwrap_or("")
            )))
        }
        _ => Ok(()),
    }
}

/// The principal a public gate admitted `req` as, if any.
pub fn principal<B>(req: &http::Request<B>) -> Option<Principal> {
    req.extensions().get::<Principal>().cloned()
}

/// The permissions a bucket action needs on the other bucket it names (a copy's, move's
/// or archive's destination), beyond what the gate checked on the bucket in the path.
pub fn destination_need(action: &str, destination_exists: bool) -> u64 {
    use crate::auth::ace;
    match action {
        "move-bck" => ace::CREATE_BUCKET | ace::PUT,
        "copy-bck" | "copy-listrange" if !destination_exists => ace::CREATE_BUCKET | ace::PUT,
        _ => ace::PUT,
    }
}

/// The client credentials a node holds.
#[derive(Clone, Copy)]
pub struct ClientCredentials<'a> {
    /// AuthN token key.
    pub token: Option<&'a TokenKey>,
    /// S3 key pair.
    pub s3: Option<&'a Credentials>,
    /// `/metrics` without credentials (`--public-metrics`).
    pub public_metrics: bool,
}

impl ClientCredentials<'_> {
    /// Whether any client credential is configured.
    pub fn any(&self) -> bool {
        self.token.is_some() || self.s3.is_some()
    }
}

/// Whether a public-port path falls under this rule (S3 paths are checked by the S3
/// front end, probes of `/v1/health` never).
pub fn covers(path: &str) -> bool {
    (path.starts_with("/v1/") && path != "/v1/health") || path == "/v1" || path == "/metrics"
}

fn has_s3_signature(headers: &HeaderMap, uri: &Uri) -> bool {
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    auth.starts_with("AWS4-HMAC-SHA256 ")
        || auth.starts_with("AWS ")
        || uri.query().is_some_and(|q| q.contains("X-Amz-Algorithm="))
}

/// Checks a native-API (or admin, or metrics) request on a public port.
pub fn check(
    creds: ClientCredentials<'_>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    uuid: &str,
) -> Result<Principal, Refusal> {
    let path = uri.path();
    if !creds.any() || (path == "/metrics" && creds.public_metrics) {
        return Ok(Principal::Anyone);
    }
    let what = format!("{method} {path}");
    if let (Some(key), Some(token)) = (creds.token, crate::auth::bearer(headers)) {
        let (need, bucket) = crate::auth::required(method, path);
        return key
            .check_token(token, uuid, bucket.as_deref(), need, &what)
            .map(Principal::Token)
            .map_err(|e| match e {
                TokenError::Denied { .. } => Refusal::Denied(e.to_string()),
                _ => Refusal::Unauthenticated(e.to_string()),
            });
    }
    if let (Some(s3), true) = (creds.s3, has_s3_signature(headers, uri)) {
        let now = crate::cluster::intra_auth::now_secs() as i64;
        let v = crate::s3::auth::verify(Some(s3), method, uri, headers, now, path)
            .map_err(|e| Refusal::Unauthenticated(format!("{what}: {e}")))?;
        return match v.user {
            // An S3 user: its permissions, as a token's.
            Some(claims) => {
                let (need, bucket) = crate::auth::required(method, path);
                if claims.allows(uuid, bucket.as_deref(), need) {
                    Ok(Principal::Token(claims))
                } else {
                    Err(Refusal::Denied(format!(
                        "user {:?} may not {what}",
                        claims.user()
                    )))
                }
            }
            None => Ok(Principal::KeyHolder),
        };
    }
    let with = match (creds.token.is_some(), creds.s3.is_some()) {
        (true, true) => {
            "a token (Authorization: Bearer <JWT>) or an S3 signature with the cluster's S3 key"
        }
        (true, false) => "a token (Authorization: Bearer <JWT>)",
        _ => "an S3 signature (SigV4) made with the cluster's S3 key",
    };
    Err(Refusal::Unauthenticated(format!(
        "{what}: this cluster requires credentials: {with}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_only_where_nothing_is_configured() {
        let key = TokenKey::new(b"k").unwrap();
        let s3 = Credentials {
            access_key: "a".into(),
            secret_key: "s".into(),
            users: Vec::new(),
        };
        let uri: Uri = "/v1/objects/b/o".parse().unwrap();
        let h = HeaderMap::new();
        let none = ClientCredentials {
            token: None,
            s3: None,
            public_metrics: false,
        };
        assert!(matches!(
            check(none, &Method::GET, &uri, &h, "u"),
            Ok(Principal::Anyone)
        ));
        for creds in [
            ClientCredentials {
                token: Some(&key),
                ..none
            },
            ClientCredentials {
                s3: Some(&s3),
                ..none
            },
        ] {
            for path in [
                "/v1/objects/b/o",
                "/v1/daemon?what=smap",
                "/metrics",
                "/v1/reverse/daemon/mountpaths",
            ] {
                let uri: Uri = path.parse().unwrap();
                assert!(
                    matches!(
                        check(creds, &Method::GET, &uri, &h, "u"),
                        Err(Refusal::Unauthenticated(_))
                    ),
                    "{path}"
                );
            }
            let metrics: Uri = "/metrics".parse().unwrap();
            let open = ClientCredentials {
                public_metrics: true,
                ..creds
            };
            assert!(check(open, &Method::GET, &metrics, &h, "u").is_ok());
        }
        assert!(
            covers("/v1/objects/b/o")
                && covers("/metrics")
                && !covers("/v1/health")
                && !covers("/s3/b")
        );
    }
}
