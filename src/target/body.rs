//! Request bodies as the store consumes them, shared by both front ends: a stream of
//! chunks that ends with an error when the client stalls, and a bounded drain so a client
//! whose upload failed hears the error instead of a connection reset.

use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;

/// How much of a failed PUT's remaining body is read before the error reply.
pub const DRAIN_ON_ERROR: u64 = 8 << 20;

/// Reads and drops up to `limit` bytes of `body`, for at most `time`.
pub async fn drain(body: &mut Incoming, limit: u64, time: Duration) {
    let _ = tokio::time::timeout(time, async {
        let mut seen = 0u64;
        while seen < limit {
            match body.frame().await {
                Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len() as u64),
                _ => break,
            }
        }
    })
    .await;
}

/// The request body as a stream of chunks; a stall longer than `idle` ends it with an error.
pub fn body_stream(
    body: &mut Incoming,
    idle: Duration,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, String>> + Send + '_ {
    futures_util::stream::unfold(Some(body), move |state| async move {
        let body = state?;
        loop {
            match tokio::time::timeout(idle, body.frame()).await {
                Err(_) => return Some((Err(format!("no data for {}s", idle.as_secs())), None)),
                Ok(None) => return None,
                Ok(Some(Err(e))) => return Some((Err(e.to_string()), None)),
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        return Some((Ok(data), Some(body)));
                    }
                }
            }
        }
    })
}
