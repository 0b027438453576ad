//! Signature V2, the form boto3 still produces for presigned URLs.

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use http::{HeaderMap, Method};

use super::*;
use crate::s3::error::S3Error;

/// Sub-resources that V2 signs (in this order after sorting).
const V2_SUBRESOURCES: &[&str] = &[
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

#[allow(clippy::too_many_arguments)]
pub(super) fn verify_v2(
    creds: &Credentials,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    query: &[(String, String)],
    key: &str,
    signature: &str,
    date: &str,
) -> Result<Verified, S3Error> {
    let (secret, user) = check_key(creds, key)?;
    let mut amz: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-amz-") && n.as_str() != "x-amz-date")
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).trim().to_string(),
            )
        })
        .collect();
    if let Some(d) = headers.get("x-amz-date") {
        amz.push((
            "x-amz-date".into(),
            String::from_utf8_lossy(d.as_bytes()).trim().to_string(),
        ));
    }
    amz.sort();
    let mut sub: Vec<&(String, String)> = query
        .iter()
        .filter(|(k, _)| V2_SUBRESOURCES.contains(&k.as_str()))
        .collect();
    sub.sort();
    let mut resource = path.to_string();
    if !sub.is_empty() {
        let parts: Vec<String> = sub
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        resource.push('?');
        resource.push_str(&parts.join("&"));
    }
    let mut sts = format!(
        "{}\n{}\n{}\n{date}\n",
        method.as_str(),
        header(headers, "content-md5"),
        header(headers, "content-type"),
    );
    for (k, v) in &amz {
        sts.push_str(&format!("{k}:{v}\n"));
    }
    sts.push_str(&resource);
    let mut mac = <HmacSha1 as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(sts.as_bytes());
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if ct_eq(&want, signature) {
        Ok(Verified {
            user,
            ..Verified::default()
        })
    } else {
        Err(mismatch())
    }
}
