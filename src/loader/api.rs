//! The two APIs aisloader speaks: AIStore's native REST API (redirects followed, XXH64
//! sent with PUTs) and S3 (path style, SigV4-signed with an unsigned payload, so any S3
//! server can be measured: ours, SeaweedFS, s3s-fs, MinIO).

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

use super::client::LoadClient;
use crate::s3::auth::{sign_v4, Credentials};

/// Which API, and where.
pub enum Api {
    /// `<endpoint>/v1/objects/<bucket>/<name>`.
    Native { endpoint: String },
    /// `<endpoint>/<bucket>/<name>` (endpoint e.g. `http://proxy:8080/s3`).
    S3 {
        endpoint: String,
        creds: Credentials,
    },
}

/// Request headers.
pub type Headers = Vec<(&'static str, String)>;

impl Api {
    /// The URL of one object.
    pub fn object_url(&self, bucket: &str, name: &str) -> String {
        match self {
            Api::Native { endpoint } => format!("{endpoint}/v1/objects/{bucket}/{name}"),
            Api::S3 { endpoint, .. } => format!("{endpoint}/{bucket}/{name}"),
        }
    }

    /// Headers for `method url` (signed for S3); `body` is hashed for native PUTs when
    /// `xxhash` is set.
    pub fn headers(
        &self,
        method: &Method,
        url: &str,
        body: Option<&[u8]>,
        xxhash: bool,
    ) -> Headers {
        match self {
            Api::Native { .. } => {
                let mut h: Headers = Vec::new();
                if let Some(body) = body {
                    h.push(("Content-Type", "application/octet-stream".into()));
                    if xxhash {
                        h.push(("Ais-Checksum-Type", "xxhash".into()));
                        h.push((
                            "Ais-Checksum-Value",
                            format!("{:016x}", xxhash_rust::xxh64::xxh64(body, 0)),
                        ));
                    }
                }
                h
            }
            Api::S3 { creds, .. } => signed(creds, method, url),
        }
    }

    /// Creates the bucket unless it exists.
    pub async fn ensure_bucket(&self, client: &LoadClient, bucket: &str) -> Result<(), String> {
        let (method, url, body) = match self {
            Api::Native { endpoint } => (
                Method::POST,
                format!("{endpoint}/v1/buckets/{bucket}"),
                Bytes::from_static(br#"{"action":"create-bck"}"#),
            ),
            Api::S3 { endpoint, .. } => (Method::PUT, format!("{endpoint}/{bucket}"), Bytes::new()),
        };
        let mut headers = self.headers(&method, &url, None, false);
        if matches!(self, Api::Native { .. }) {
            headers.push(("Content-Type", "application/json".into()));
        }
        let out = client.send(method, &url, body, &headers, false).await?;
        // 409: ours and AIStore say the bucket exists; S3 servers say BucketAlreadyOwnedByYou.
        if out.status.is_success() || out.status.as_u16() == 409 {
            Ok(())
        } else {
            Err(format!(
                "create bucket {bucket}: {} {}",
                out.status, out.error_text
            ))
        }
    }

    /// Every object name in the bucket.
    /// With `members`, the members of its archives instead (see [`super::batch`]).
    pub async fn list_bucket(
        &self,
        client: &LoadClient,
        bucket: &str,
        members: bool,
    ) -> Result<Vec<String>, String> {
        match self {
            Api::Native { endpoint } => list_native(endpoint, bucket, members).await,
            Api::S3 { endpoint, .. } => {
                let mut names = Vec::new();
                let mut token = String::new();
                loop {
                    let mut url = format!("{endpoint}/{bucket}?list-type=2&max-keys=1000");
                    if !token.is_empty() {
                        let t: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
                        url.push_str(&format!("&continuation-token={t}"));
                    }
                    let headers = self.headers(&Method::GET, &url, None, false);
                    let out = client.send_collect(Method::GET, &url, &headers).await?;
                    let page: ListPage = quick_xml::de::from_str(&out)
                        .map_err(|e| format!("list {bucket}: {e}: {out}"))?;
                    names.extend(page.contents.into_iter().map(|c| c.key));
                    match page.next_continuation_token {
                        Some(t) if page.is_truncated => token = t,
                        _ => return Ok(names),
                    }
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPage {
    #[serde(default)]
    is_truncated: bool,
    #[serde(default)]
    next_continuation_token: Option<String>,
    #[serde(default)]
    contents: Vec<ListKey>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListKey {
    key: String,
}

/// SigV4 headers for a request without a signed payload.
fn signed(creds: &Credentials, method: &Method, url: &str) -> Headers {
    let Ok(uri) = url.parse::<Uri>() else {
        return Vec::new();
    };
    let mut h = HeaderMap::new();
    if let Some(a) = uri.authority().and_then(|a| a.as_str().parse().ok()) {
        h.insert(http::header::HOST, a);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    sign_v4(creds, method, &uri, &mut h, "UNSIGNED-PAYLOAD", now);
    ["x-amz-date", "x-amz-content-sha256", "authorization"]
        .into_iter()
        .filter_map(|k| Some((k, h.get(k)?.to_str().ok()?.to_string())))
        .collect()
}

/// Every object name (JSON list pages through the proxy).
async fn list_native(endpoint: &str, bucket: &str, members: bool) -> Result<Vec<String>, String> {
    use crate::wire::lso::ENTRY_IN_ARCH;
    let url = format!("{endpoint}/v1/buckets/{bucket}");
    let ctl = crate::http::ControlClient::new(std::time::Duration::from_secs(60));
    let (mut names, mut token, mut uuid) = (Vec::new(), String::new(), String::new());
    // LsNameOnly (16), and LsArchDir (8) for members, which follow their archive.
    let flags = if members { "24" } else { "16" };
    let mut archive = String::new();
    loop {
        let msg = serde_json::json!({"action": "list", "value": {"props": "name", "flags": flags, "uuid": uuid, "continuation_token": token}});
        let reply = ctl
            .send(
                Method::GET,
                &url,
                Some(serde_json::to_vec(&msg).unwrap_or_default()),
            )
            .await
            .map_err(|e| e.to_string())?;
        if !reply.status.is_success() {
            return Err(format!(
                "list: {} {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            ));
        }
        let page: crate::wire::lso::LsoPage =
            serde_json::from_slice(&reply.body).map_err(|e| format!("list {bucket}: {e}"))?;
        for e in page.entries {
            if !members {
                names.push(e.name);
            } else if e.flags & ENTRY_IN_ARCH == 0 {
                archive = e.name;
            } else if let Some(m) = e.name.strip_prefix(&format!("{archive}/")) {
                names.push(super::batch::member_name(&archive, m));
            }
        }
        if page.continuation_token.is_empty() {
            return Ok(names);
        }
        token = page.continuation_token;
        uuid = page.uuid;
    }
}
