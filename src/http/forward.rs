//! Streaming request forwarding for the S3 front end (botocore does not follow 307s): the
//! request goes on to another node with its method, path, query and headers (the
//! signature covers them) and its body streamed through; the answer streams back. Memory
//! per forwarded request is hyper's buffers, whatever the object size, and a slow reader
//! on either side slows the other (backpressure).

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};

use super::client::ClientError;
use super::Body;

/// Body of a forwarded request.
pub type ReqBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// Pooled client for object data between nodes; cheap to clone.
#[derive(Clone, Debug)]
pub struct DataClient {
    inner: Client<HttpConnector, ReqBody>,
    signer: Option<crate::cluster::intra_auth::Signer>,
}

/// Connection-level headers that never pass through a proxy (RFC 9110 §7.6.1), plus
/// `Expect`: the client's 100-continue is answered here, when the body is first read.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

fn strip_hop_by_hop(h: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        h.remove(*name);
    }
}

impl Default for DataClient {
    fn default() -> Self {
        Self::new(Duration::from_secs(5))
    }
}

impl DataClient {
    /// A client that gives up connecting after `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> DataClient {
        DataClient {
            inner: super::client::pooled(connect_timeout),
            signer: None,
        }
    }

    /// The same client signing every request (body unsigned: it streams) with the
    /// cluster key, when there is one.
    pub fn signed_by(mut self, signer: Option<crate::cluster::intra_auth::Signer>) -> DataClient {
        self.signer = signer;
        self
    }

    /// Sends `req` to another node and returns the answer with its body still streaming.
    pub async fn send(&self, mut req: Request<ReqBody>) -> Result<Response<Incoming>, ClientError> {
        if let Some(s) = &self.signer {
            s.sign_request(&mut req, None);
        }
        let url = req.uri().to_string();
        self.inner
            .request(req)
            .await
            .map_err(|e| ClientError::Transport(url, e.to_string()))
    }

    /// Sends a small control `body` signed with the request (the receiver checks it
    /// before acting on it) and returns the answer with its body still streaming.
    pub async fn send_signed(
        &self,
        method: http::Method,
        url: &str,
        body: Bytes,
    ) -> Result<Response<Incoming>, ClientError> {
        let full = http_body_util::Full::new(body.clone())
            .map_err(|never| match never {})
            .boxed_unsync();
        let mut req = Request::builder()
            .method(method)
            .uri(url)
            .body(full)
            .map_err(|_| ClientError::Url(url.to_string()))?;
        if let Some(s) = &self.signer {
            s.sign_request(&mut req, Some(&body));
        }
        self.inner
            .request(req)
            .await
            .map_err(|e| ClientError::Transport(url.to_string(), e.to_string()))
    }

    /// Forwards `req` to the node at `base_url` (same path and query), adding `extra`
    /// headers, and streams the answer back.
    pub async fn forward(
        &self,
        req: Request<Incoming>,
        base_url: &str,
        extra: &[(HeaderName, HeaderValue)],
    ) -> Result<Response<Body>, ClientError> {
        let (mut parts, body) = req.into_parts();
        let path_q = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let url = format!("{}{}", base_url.trim_end_matches('/'), path_q);
        parts.uri = url.parse().map_err(|_| ClientError::Url(url.clone()))?;
        strip_hop_by_hop(&mut parts.headers);
        // Never pass on a client's claim to be a node.
        parts
            .headers
            .remove(crate::cluster::intra_auth::AUTH_HEADER);
        for (k, v) in extra {
            parts.headers.insert(k.clone(), v.clone());
        }
        let body: ReqBody = body.map_err(|e| e.into()).boxed_unsync();
        let resp = self.send(Request::from_parts(parts, body)).await?;
        Ok(into_response(resp))
    }
}

/// A response from another node as ours, its body streaming.
pub fn into_response(resp: Response<Incoming>) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, body.map_err(std::io::Error::other).boxed_unsync())
}

/// An empty request body.
pub fn no_body() -> ReqBody {
    http_body_util::Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Whether `h` asks for `100-continue`.
pub fn expects_continue(h: &HeaderMap) -> bool {
    h.get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}
