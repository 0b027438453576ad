//! A native upload's body on its way to the store: its declared size checked against
//! the store's limit before a byte is read, and what is left of it drained after a refusal.

use std::time::Duration;

use http::{header, HeaderMap};
use hyper::body::Incoming;

use super::ApiError;
use crate::service::body::{body_stream, drain, BodyPace, DRAIN_ON_ERROR};
use crate::service::TargetContext;
use crate::store;

/// The body as the store reads it, paced (a client that stalls is cut off).
pub(super) type Upload<'a> =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = store::BodyResult> + Send + 'a>>;

/// The size the request's Content-Length declares; 400 when it is not a number, 413
/// when it is over the store's largest object.
pub(super) fn declared_size(
    ctx: &TargetContext,
    headers: &HeaderMap,
    bucket: &str,
    object: &str,
) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get(header::CONTENT_LENGTH) else {
        return Ok(None);
    };
    let size = v
        .to_str()
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| ApiError::BadRequest("invalid Content-Length".into()))?;
    let max = ctx.store.config().max_object_size;
    if size > max {
        return Err(ApiError::TooLarge(format!(
            "ais://{bucket}/{object}: Content-Length {size} exceeds the maximum object size of {max} bytes"
        )));
    }
    Ok(Some(size))
}

/// The request body, paced as the target's config says.
pub(super) fn paced<'a>(ctx: &TargetContext, incoming: &'a mut Incoming) -> Upload<'a> {
    Box::pin(body_stream(incoming, BodyPace::of(&ctx.config)))
}

/// The store's refusal, after reading what the client is still sending (bounded), so it
/// gets the error reply instead of a connection reset in the middle of its upload.
pub(super) async fn refused(incoming: &mut Incoming, e: store::Error) -> ApiError {
    drain(incoming, DRAIN_ON_ERROR, Duration::from_secs(2)).await;
    e.into()
}
