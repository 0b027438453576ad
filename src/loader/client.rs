//! The loader's HTTP client: pooled keep-alive connections, redirects followed by hand
//! (a 307 keeps the method and the body), GET bodies counted and optionally hashed as they
//! stream, never buffered whole.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use xxhash_rust::xxh64::Xxh64;

/// What came back.
pub struct Outcome {
    /// Final status.
    pub status: StatusCode,
    /// Final headers.
    pub headers: HeaderMap,
    /// Body bytes received.
    pub received: u64,
    /// XXH64 of the body, when asked for.
    pub xxhash: Option<String>,
    /// The body, when it was small enough to keep for an error message.
    pub error_text: String,
}

/// A pooled client for many concurrent workers.
#[derive(Clone)]
pub struct LoadClient {
    inner: Client<HttpConnector, Full<Bytes>>,
}

impl LoadClient {
    /// A client with up to `pool` idle connections per host.
    pub fn new(pool: usize) -> LoadClient {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let inner = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool)
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        LoadClient { inner }
    }

    /// One request, its answer's body still to read.
    async fn request(
        &self,
        method: Method,
        url: &str,
        body: Bytes,
        headers: &[(&str, String)],
    ) -> Result<http::Response<hyper::body::Incoming>, String> {
        let mut req = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| format!("{url}: {e}"))?;
        self.inner
            .request(req)
            .await
            .map_err(|e| format!("{url}: {e}"))
    }

    /// Sends a bodiless request and returns its body as text (listings); fails unless 2xx.
    pub async fn send_collect(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
    ) -> Result<String, String> {
        let resp = self.request(method, url, Bytes::new(), headers).await?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{url}: {e}"))?
            .to_bytes();
        let text = String::from_utf8_lossy(&body).into_owned();
        if status.is_success() {
            Ok(text)
        } else {
            Err(format!("{url}: {status} {text}"))
        }
    }

    /// Sends a request, following up to 3 redirects.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Bytes,
        headers: &[(&str, String)],
        hash: bool,
    ) -> Result<Outcome, String> {
        let mut hasher = hash.then(|| Xxh64::new(0));
        let mut out = self
            .send_into(method, url, body, headers, |data| {
                if let Some(h) = hasher.as_mut() {
                    h.update(data);
                }
            })
            .await?;
        out.xxhash = hasher.map(|h| format!("{:016x}", h.digest()));
        Ok(out)
    }

    /// Sends a request, following up to 3 redirects; a successful answer's body goes to
    /// `sink` piece by piece as it arrives.
    pub async fn send_into(
        &self,
        method: Method,
        url: &str,
        body: Bytes,
        headers: &[(&str, String)],
        mut sink: impl FnMut(&[u8]),
    ) -> Result<Outcome, String> {
        let mut url = url.to_string();
        for _ in 0..4 {
            let resp = self
                .request(method.clone(), &url, body.clone(), headers)
                .await?;
            let status = resp.status();
            if status.is_redirection() {
                let loc = resp
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| format!("{url}: {status} without Location"))?
                    .to_string();
                // Drain so the connection can be reused.
                let _ = resp.into_body().collect().await;
                url = loc;
                continue;
            }
            let (parts, mut body) = resp.into_parts();
            let mut received = 0u64;
            let mut error_text = String::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| format!("{url}: body: {e}"))?;
                if let Ok(data) = frame.into_data() {
                    received += data.len() as u64;
                    if status.is_success() {
                        sink(&data);
                    } else if error_text.len() < 512 {
                        error_text.push_str(&String::from_utf8_lossy(&data));
                    }
                }
            }
            return Ok(Outcome {
                status,
                headers: parts.headers,
                received,
                xxhash: None,
                error_text,
            });
        }
        Err(format!("{url}: too many redirects"))
    }
}
