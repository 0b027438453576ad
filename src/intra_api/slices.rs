//! Erasure-coded slices on the intra-cluster port: `PUT|GET|HEAD ?ais_replica=slice`
//! (the description in `ais-ec-slice`) and `POST ?ais_replica=restore` (a slice holder
//! asks the owner to rebuild an object it lacks). See [`crate::service::ec`].

use http::{header, HeaderValue, Response};
use hyper::body::Incoming;

use super::verdict_response;
use crate::http::{empty, stream, Body};
use crate::service::ec::{ensure_slices, parse_slice_header, slice_header, EC_SLICE};
use crate::service::locate::open_here_or_fetch;
use crate::service::replica::body_of;
use crate::service::TargetContext;
use crate::store;
use crate::wire::ApiError;

/// `PUT ?ais_replica=slice`: stores this target's slice of an object; a whole copy of an
/// older version here goes (the object is sliced now).
pub(super) async fn receive(
    ctx: &TargetContext,
    req: http::Request<Incoming>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let info = parse_slice_header(req.headers()).map_err(ApiError::BadRequest)?;
    let (version, mtime) = (info.object.version, info.mtime_ns);
    let outcome = ctx
        .store
        .put_slice(bucket, object, body_of(req.into_body()), info)
        .await;
    let verdict = match outcome {
        Ok(()) => {
            drop_older_copy(ctx, bucket, object, mtime).await;
            "stored"
        }
        Err(store::Error::NotNewer { .. }) => "kept-newer",
        Err(e) => return Err(e.into()),
    };
    Ok(verdict_response(ctx, bucket, object, version, verdict))
}

/// Removes the whole copy here if it is older than `mtime_ns` and this target does not
/// own the object.
async fn drop_older_copy(ctx: &TargetContext, bucket: &str, object: &str, mtime_ns: i64) {
    if ctx.other_owner(bucket, object).is_none() {
        return;
    }
    if let Ok(whole) = ctx.store.head(bucket, object).await {
        if whole.mtime_ns < mtime_ns {
            let _ = ctx
                .store
                .remove_if_version(bucket, object, whole.meta.version)
                .await;
        }
    }
}

/// Removes the slice here if it is of a version older than `mtime_ns`.
pub(super) async fn drop_older_slice(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    mtime_ns: i64,
) {
    if let Ok(Some(s)) = ctx.store.slice_info(bucket, object).await {
        if s.mtime_ns < mtime_ns {
            let _ = ctx
                .store
                .remove_slice(bucket, object, Some(s.object.version))
                .await;
        }
    }
}

/// `GET ?ais_replica=slice`: the slice here with its description (404: none).
pub(super) async fn hand_over(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let (reader, info) = ctx.store.open_slice(bucket, object).await?;
    let size = reader.info.meta.size;
    let mut resp = Response::new(stream(reader.stream(0, size)));
    described(&mut resp, &info);
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(resp)
}

/// `HEAD ?ais_replica=slice`: the description of the slice here (404: none).
pub(super) async fn describe(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let Some(info) = ctx.store.slice_info(bucket, object).await? else {
        return Err(ApiError::NotFound(format!(
            "ais://{bucket}/{object}: no slice here"
        )));
    };
    let mut resp = Response::new(empty());
    described(&mut resp, &info);
    Ok(resp)
}

fn described(resp: &mut Response<Body>, info: &store::SliceInfo) {
    // Base64 is always a valid header value.
    if let Some(v) = slice_header(info) {
        resp.headers_mut().insert(EC_SLICE, v);
    }
}

/// `POST ?ais_replica=restore`: the owner rebuilds the object if it lacks it, then gives
/// every slice holder its slice. 404 when there are not enough slices anywhere.
pub(super) async fn restore(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let reader = open_here_or_fetch(ctx, bucket, object).await?;
    let size = reader.info.meta.size;
    drop(reader);
    let scheme = ctx.redundancy(bucket).slices_for(size);
    if let (Some(scheme), Some(smap)) = (scheme, ctx.cluster.smap()) {
        if !ensure_slices(ctx, &smap, bucket, object, scheme).await {
            return Err(ApiError::Unavailable(format!(
                "ais://{bucket}/{object}: restored, but not every slice could be given"
            )));
        }
    }
    Ok(Response::new(empty()))
}
