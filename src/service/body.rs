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

/// How fast a request body must arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyPace {
    /// Longest wait for any data.
    pub idle: Duration,
    /// Least average rate, bytes/s, over each window of `idle` (0 = none).
    pub min_rate: u64,
}

impl BodyPace {
    /// The target's configured pace.
    pub fn of(cfg: &crate::config::TargetConfig) -> BodyPace {
        BodyPace {
            idle: cfg.body_idle_timeout(),
            min_rate: cfg.settings.min_body_rate,
        }
    }
}

/// The request body as a stream of chunks; a stall longer than `pace.idle`, or a window of
/// `pace.idle` that brought less than `min_rate` bytes a second (a trickling client holding
/// a connection and a request slot), ends it with an error.
pub fn body_stream(
    body: &mut Incoming,
    pace: BodyPace,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, String>> + Send + '_ {
    let window_start = tokio::time::Instant::now();
    futures_util::stream::unfold(Some((body, window_start, 0u64)), move |state| async move {
        let (body, mut window, mut seen) = state?;
        loop {
            match tokio::time::timeout(pace.idle, body.frame()).await {
                Err(_) => {
                    return Some((Err(format!("no data for {}s", pace.idle.as_secs())), None))
                }
                Ok(None) => return None,
                Ok(Some(Err(e))) => return Some((Err(e.to_string()), None)),
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        seen += data.len() as u64;
                        let elapsed = window.elapsed();
                        if elapsed >= pace.idle {
                            let want = pace.min_rate.saturating_mul(elapsed.as_secs());
                            if seen < want {
                                return Some((
                                        Err(format!(
                                            "body arrives at {} bytes/s, below the minimum of {} bytes/s",
                                            seen / elapsed.as_secs().max(1),
                                            pace.min_rate
                                        )),
                                        None,
                                    ));
                            }
                            window = tokio::time::Instant::now();
                            seen = 0;
                        }
                        return Some((Ok(data), Some((body, window, seen))));
                    }
                }
            }
        }
    })
}
