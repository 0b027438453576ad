//! A small pooled HTTP/1.1 client for node-to-node control traffic (registration,
//! keepalives, map pushes, bucket broadcasts, list merging). Never carries object data.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use thiserror::Error;

/// Why a control request failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The URL does not parse.
    #[error("bad URL {0}")]
    Url(String),
    /// Connect, send or receive failed.
    #[error("{0}: {1}")]
    Transport(String, String),
    /// No answer in time.
    #[error("{0}: timed out after {1:?}")]
    Timeout(String, Duration),
}

/// A reply with its body read.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// Pooled client; cheap to clone.
#[derive(Clone, Debug)]
pub struct ControlClient {
    inner: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl ControlClient {
    /// A client whose every request (including reading the body) ends within `timeout`.
    pub fn new(timeout: Duration) -> ControlClient {
        ControlClient {
            inner: pooled(timeout),
            timeout,
        }
    }

    /// Sends `method url` with a JSON (or empty) body and reads the whole reply.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, ClientError> {
        let mut req = Request::builder().method(method).uri(url);
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|_| ClientError::Url(url.to_string()))?;
        let work = async {
            let resp = self
                .inner
                .request(req)
                .await
                .map_err(|e| ClientError::Transport(url.to_string(), error_chain(&e)))?;
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| ClientError::Transport(url.to_string(), e.to_string()))?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| ClientError::Timeout(url.to_string(), self.timeout))?
    }
}

/// A pooled HTTP/1.1 client between nodes: no Nagle delay, bounded connect time, idle
/// connections kept 30 s.
pub(super) fn pooled<B>(connect_timeout: Duration) -> Client<HttpConnector, B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(connect_timeout));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
