//! Who may send an S3 request: the permissions each operation needs (on the source
//! bucket of a copy too), and the check by whichever client credential the node has:
//! an AuthN token (`Authorization: Bearer <JWT>`, or the JWT as the session token
//! `X-Amz-Security-Token` that S3 SDKs send), else the S3 key pair's signature. A node
//! with neither takes anonymous requests, as AIStore does.

use http::{HeaderMap, Request};

use super::auth::{self, Credentials, Verified};
use super::error::S3Error;
use super::op::{Op, S3Request, Style};
use crate::auth::{ace, TokenKey};

/// The client credentials a node checks S3 requests against.
#[derive(Clone, Copy)]
pub struct ClientKeys<'a> {
    /// The S3 key pair.
    pub s3: Option<&'a Credentials>,
    /// The AuthN token key.
    pub token: Option<&'a TokenKey>,
    /// The cluster's UUID (tokens name clusters by it).
    pub uuid: &'a str,
}

/// The permissions `req` needs, each on a bucket (`None`: the cluster).
pub fn needs(req: &S3Request) -> Vec<(u64, Option<&str>)> {
    let b = Some(req.bucket.as_str());
    let one = |need| vec![(need, b)];
    match &req.op {
        Op::ListBuckets => vec![(ace::LIST_BUCKETS, None)],
        Op::CreateBucket => one(ace::CREATE_BUCKET),
        Op::DeleteBucket => one(ace::DESTROY_BUCKET),
        Op::HeadBucket | Op::GetBucketLocation | Op::GetBucketVersioning => one(ace::BCK_HEAD),
        Op::ListObjects { .. }
        | Op::ListObjectVersions
        | Op::ListMultipartUploads
        | Op::ListParts { .. } => one(ace::OBJ_LIST),
        Op::DeleteObjects | Op::DeleteObject | Op::AbortMultipartUpload { .. } => {
            one(ace::OBJ_DELETE)
        }
        Op::PutObject
        | Op::CreateMultipartUpload
        | Op::UploadPart { .. }
        | Op::CompleteMultipartUpload { .. } => one(ace::PUT),
        Op::CopyObject { source } | Op::UploadPartCopy { source, .. } => {
            vec![(ace::PUT, b), (ace::GET, Some(source.bucket.as_str()))]
        }
        Op::GetObject => one(ace::GET),
        Op::HeadObject => one(ace::OBJ_HEAD),
    }
}

/// The JWT a request carries for AuthN, if any.
pub fn token_of(headers: &HeaderMap) -> Option<&str> {
    let bearer = crate::auth::bearer(headers);
    let session = headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok());
    bearer.or(session).map(str::trim).filter(|t| !t.is_empty())
}

/// Verifies `req` by the node's credentials and checks the rights `parsed` needs.
pub fn verify<B>(
    keys: ClientKeys<'_>,
    req: &Request<B>,
    style: &Style,
    parsed: &S3Request,
) -> Result<Verified, S3Error> {
    if let (Some(key), Some(token)) = (keys.token, token_of(req.headers())) {
        let what = format!("{} {}", req.method(), req.uri().path());
        for (need, bucket) in needs(parsed) {
            key.check_token(token, keys.uuid, bucket, need, &what)
                .map_err(|e| S3Error::Auth("AccessDenied", e.to_string()))?;
        }
        return Ok(Verified::default());
    }
    if keys.s3.is_none() && keys.token.is_some() {
        return Err(S3Error::Auth(
            "AccessDenied",
            "this cluster requires a token: send Authorization: Bearer <JWT> or the JWT as the session token (X-Amz-Security-Token)".into(),
        ));
    }
    let path = req.uri().path();
    let v2_resource = match style {
        Style::Prefixed => path.strip_prefix("/s3").unwrap_or(path).to_string(),
        Style::Root => path.to_string(),
        Style::VirtualHost(b) => format!("/{b}{path}"),
    };
    let verified = auth::verify(
        keys.s3,
        req.method(),
        req.uri(),
        req.headers(),
        crate::cluster::intra_auth::now_secs() as i64,
        &v2_resource,
    )?;
    // An S3 user (`--s3-users`): the rights of its entry, as a token's.
    if let Some(claims) = &verified.user {
        for (need, bucket) in needs(parsed) {
            if !claims.allows(keys.uuid, bucket, need) {
                return Err(S3Error::Auth(
                    "AccessDenied",
                    format!(
                        "user {:?} may not {} {}",
                        claims.user(),
                        req.method(),
                        req.uri().path()
                    ),
                ));
            }
        }
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::op::CopySource;

    fn req(op: Op, bucket: &str, key: &str) -> S3Request {
        S3Request {
            op,
            bucket: bucket.into(),
            key: key.into(),
            query: Default::default(),
        }
    }

    #[test]
    fn every_copy_needs_read_on_its_source() {
        let source = CopySource {
            bucket: "other".into(),
            key: "secret".into(),
        };
        for op in [
            Op::CopyObject {
                source: source.clone(),
            },
            Op::UploadPartCopy {
                upload_id: "u".into(),
                part: 1,
                source: source.clone(),
            },
        ] {
            let r = req(op, "mine", "k");
            let n = needs(&r);
            assert!(n.contains(&(ace::PUT, Some("mine"))));
            assert!(n.contains(&(ace::GET, Some("other"))));
        }
        assert_eq!(
            needs(&req(Op::GetObject, "b", "k")),
            vec![(ace::GET, Some("b"))]
        );
        assert_eq!(
            needs(&req(Op::ListBuckets, "", "")),
            vec![(ace::LIST_BUCKETS, None)]
        );
    }
}
