//! Signing requests with SigV4, for the proxy's own requests to targets and for aisloader.

use http::{HeaderMap, Method, Uri};
use sha2::{Digest, Sha256};

use super::*;

/// `YYYYMMDD'T'HHMMSS'Z'` of unix seconds.
pub fn amz_date(unix: i64) -> String {
    let iso = crate::dates::iso8601(unix * 1_000_000_000);
    // 2013-05-24T00:00:00.000Z -> 20130524T000000Z
    format!(
        "{}{}{}T{}{}{}Z",
        &iso[0..4],
        &iso[5..7],
        &iso[8..10],
        &iso[11..13],
        &iso[14..16],
        &iso[17..19]
    )
}

/// Signs a request with SigV4 (region `us-east-1`, service `s3`): sets `x-amz-date`,
/// `x-amz-content-sha256` (`payload`: hex SHA-256 or `UNSIGNED-PAYLOAD`) and
/// `authorization` on `headers`, which must already hold `host`. Used by the proxy for
/// its own requests to targets and by aisloader.
pub fn sign_v4(
    creds: &Credentials,
    method: &Method,
    uri: &Uri,
    headers: &mut HeaderMap,
    payload: &str,
    now: i64,
) {
    let date_time = amz_date(now);
    let set = |h: &mut HeaderMap, k: &'static str, v: &str| {
        if let Ok(v) = http::HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    set(headers, "x-amz-date", &date_time);
    set(headers, "x-amz-content-sha256", payload);
    let signed = "host;x-amz-content-sha256;x-amz-date";
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{signed}\n{payload}",
        method.as_str(),
        uri.path(),
        canonical_query(&query, ""),
        canonical_headers(headers, signed),
    );
    let v = V4 {
        access_key: &creds.access_key,
        date: &date_time[..8],
        region: "us-east-1",
        service: "s3",
        signed_headers: signed,
        signature: "",
        amz_date: &date_time,
    };
    let scope = format!("{}/us-east-1/s3/aws4_request", v.date);
    let sts = format!(
        "AWS4-HMAC-SHA256\n{date_time}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let sig = hex::encode(hmac256(&signing_key(&creds.secret_key, &v), sts.as_bytes()));
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={sig}",
        creds.access_key
    );
    set(headers, "authorization", &auth);
}
