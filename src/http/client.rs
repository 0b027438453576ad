//! A small pooled HTTP/1.1 client for node-to-node control traffic (registration,
//! keepalives, map pushes, bucket broadcasts, list merging). Never carries object data.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use thiserror::Error;

use crate::cluster::intra_auth::Signer;

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
    /// The answer is larger than the caller accepts.
    #[error("{0}: reply larger than {1} bytes")]
    TooLarge(String, usize),
}

/// Largest reply read by default (cluster maps, list pages), bytes.
pub const MAX_REPLY: usize = 64 << 20;

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
    max_reply: usize,
    signer: Option<Signer>,
}

impl ControlClient {
    /// A client whose every request (including reading the body) ends within `timeout`.
    pub fn new(timeout: Duration) -> ControlClient {
        ControlClient {
            inner: pooled(timeout),
            timeout,
            max_reply: MAX_REPLY,
            signer: None,
        }
    }

    /// The same client signing every request with the cluster key (when there is one).
    pub fn signed_by(mut self, signer: Option<Signer>) -> ControlClient {
        self.signer = signer;
        self
    }

    /// The same client refusing replies larger than `max` bytes.
    pub fn max_reply(mut self, max: usize) -> ControlClient {
        self.max_reply = max;
        self
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
        let body = Bytes::from(body.unwrap_or_default());
        let mut req = req
            .body(Full::new(body.clone()))
            .map_err(|_| ClientError::Url(url.to_string()))?;
        if let Some(s) = &self.signer {
            s.sign_request(&mut req, Some(&body));
        }
        let max = self.max_reply;
        let work = async {
            let resp = self
                .inner
                .request(req)
                .await
                .map_err(|e| ClientError::Transport(url.to_string(), error_chain(&e)))?;
            let (parts, body) = resp.into_parts();
            let body = http_body_util::Limited::new(body, max)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        ClientError::TooLarge(url.to_string(), max)
                    } else {
                        ClientError::Transport(url.to_string(), e.to_string())
                    }
                })?
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
