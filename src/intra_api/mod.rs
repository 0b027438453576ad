//! The target's side of the intra-cluster protocol, served on the intra-cluster listener
//! only: the proxy's maps (`PUT /v1/metasync`) and objects moving between targets
//! (`?ais_replica=put|get|tomb|del`, copies with `?ais_replica=copy`), each answered with
//! what the sender needs to trust it (a verdict and a receipt MAC'd with the cluster key).
//! The native and S3 front ends never see them. (The proxy's bucket fan-out uses the native
//! API on this same listener, as AIStore's proxies do.)

mod slices;

use std::sync::Arc;

use http::{header, HeaderValue, Method, Request, Response};
use hyper::body::Incoming;

use crate::cluster::intra_auth::Receipt;
use crate::http::{empty, stream, Body, Plane};
use crate::service::copy::copy_options;
use crate::service::replica::{
    body_of, parse_meta, parse_meta_only, replica_headers, REPLICA_MTIME, REPLICA_QUERY,
    REPLICA_RECEIPT, REPLICA_RESULT,
};
use crate::service::TargetContext;
use crate::store;
use crate::wire::msg::split_object_path;
use crate::wire::ApiError;

/// Serves `req` if it is an intra-cluster call; gives it back otherwise.
pub async fn handle(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Request<Incoming>> {
    if req.uri().path() == crate::wire::LIFELINE_PATH && Plane::of(&req) == Plane::Intra {
        return Ok(lifeline(ctx));
    }
    if req.uri().path() == crate::service::get_batch::SEND_PATH && Plane::of(&req) == Plane::Intra {
        return Ok(get_batch_send(ctx, req).await);
    }
    let metasync = req.uri().path() == "/v1/metasync" && Plane::of(&req) == Plane::Intra;
    let kind = replica_kind(&req);
    if !metasync && kind.is_none() {
        return Err(req);
    }
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let served = match (
        kind,
        path.strip_prefix("/v1/objects/").map(split_object_path),
    ) {
        (None, _) => metasync_put(ctx, req).await,
        (Some(kind), Some(Ok((bucket, object)))) => serve(ctx, req, &kind, &bucket, &object).await,
        (Some(_), Some(Err(e))) => Err(e),
        (Some(_), None) => Err(ApiError::NotFound(format!("{path}: not an object"))),
    };
    Ok(served.unwrap_or_else(|err| {
        if err.status() == http::StatusCode::FORBIDDEN {
            // A signature that does not cover the body it came with, as on any other route.
            ctx.metrics.guard.err_forbidden_count.inc();
        }
        tracing::debug!(%method, %path, error = %err, "intra-cluster call refused");
        crate::wire::error::error_response(&err, &method, &path, &format!("t[{}]", ctx.node.id))
    }))
}

/// `POST /v1/ml/moss-send`: this target's items of a GetBatch, for the designated target.
async fn get_batch_send(ctx: &Arc<TargetContext>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let body = crate::wire::msg::read_body_within(req, crate::wire::moss::MAX_REQUEST_BODY).await;
    body.and_then(|b| crate::service::get_batch::send(ctx.clone(), &b))
        .unwrap_or_else(|err| {
            crate::wire::error::error_response(
                &err,
                &Method::POST,
                &path,
                &format!("t[{}]", ctx.node.id),
            )
        })
}

/// `GET /v1/lifeline` (intra-cluster port): a body that never ends while this target
/// runs (a byte a second). The proxy holds it open: when this process dies, the kernel
/// closes the connection and the proxy knows at once, instead of after the keepalive
/// timeout. When shutdown starts it says goodbye and ends (a stop, not a death: the map
/// keeps the target until the keepalive timeout, as for a restart), so it does not hold
/// the drain either.
fn lifeline(ctx: &Arc<TargetContext>) -> Response<Body> {
    let ctx = ctx.clone();
    let ticks = futures_util::stream::unfold(Some(ctx), |ctx| async move {
        let ctx = ctx?;
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        if ctx.is_ready() {
            Some((Ok(bytes::Bytes::from_static(b"\n")), Some(ctx)))
        } else {
            Some((
                Ok(bytes::Bytes::from_static(crate::wire::LIFELINE_BYE)),
                None,
            ))
        }
    });
    Response::new(stream(ticks))
}

/// `PUT /v1/metasync`: the proxy's cluster map and bucket list.
async fn metasync_put(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    use crate::service::membership::{apply_meta, MetaError};
    if req.method() != Method::PUT {
        return Err(ApiError::MethodNotAllowed(req.method().clone()));
    }
    let from = req
        .extensions()
        .get::<crate::cluster::intra_auth::Signed>()
        .map(|s| s.caller.clone());
    let body = crate::wire::msg::read_body(req).await?;
    match apply_meta(ctx, &body, from.as_deref()).await {
        Ok(()) => Ok(Response::new(empty())),
        Err(e @ MetaError::Malformed(_)) => Err(ApiError::BadRequest(e.to_string())),
        Err(e @ MetaError::Refused(_)) => Err(ApiError::Conflict(e.to_string())),
    }
}

async fn serve(
    ctx: &TargetContext,
    req: Request<Incoming>,
    kind: &str,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    match (req.method().clone(), kind) {
        (Method::PUT, "put") => receive(ctx, req, bucket, object).await,
        (Method::GET, "get") => hand_over(ctx, bucket, object).await,
        (Method::HEAD, "has") => has(ctx, bucket, object).await,
        (Method::PUT, "copy") => receive_copy(ctx, req, bucket, object).await,
        (Method::PUT, "tomb") => receive_tombstone(ctx, &req, bucket, object).await,
        (Method::DELETE, "del") => {
            let pieces = ctx.redundancy(bucket).holders() > 1;
            if pieces {
                // Remembered, so a holder that was away cannot hand the copy back.
                let now = crate::store::unix_now_ns();
                ctx.store.add_tombstone(bucket, object, now).await?;
            }
            let slice = pieces && ctx.store.remove_slice(bucket, object, None).await?;
            match ctx.store.delete(bucket, object).await {
                Err(store::Error::ObjectNotFound { .. }) if slice => {}
                other => other?,
            }
            Ok(Response::new(empty()))
        }
        (Method::PUT, "slice") => slices::receive(ctx, req, bucket, object).await,
        (Method::GET, "slice") => slices::hand_over(ctx, bucket, object).await,
        (Method::HEAD, "slice") => slices::describe(ctx, bucket, object).await,
        (Method::POST, "restore") => slices::restore(ctx, bucket, object).await,
        (m, k) => Err(ApiError::BadRequest(format!(
            "{m} with {REPLICA_QUERY}={k:?}: expecting PUT put, GET get, HEAD has, PUT copy, PUT tomb, DELETE del, PUT|GET|HEAD slice or POST restore"
        ))),
    }
}

/// The `ais_replica` kind of a request that came on the intra-cluster port, if any.
fn replica_kind<B>(req: &Request<B>) -> Option<String> {
    if Plane::of(req) != Plane::Intra {
        return None;
    }
    let q = req.uri().query()?;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == REPLICA_QUERY)
        .map(|(_, v)| v.into_owned())
}

/// `PUT ?ais_replica=put` (intra-cluster port): stores an object moved here.
async fn receive(
    ctx: &TargetContext,
    req: Request<Incoming>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let (meta, mtime) = parse_meta(req.headers()).map_err(ApiError::BadRequest)?;
    let (size, version) = (meta.size, meta.version);
    let outcome = ctx
        .store
        .put_replica(bucket, object, body_of(req.into_body()), meta, mtime)
        .await;
    let verdict = match outcome {
        Ok(info) => {
            ctx.metrics.reb_rx_count.inc();
            ctx.metrics.reb_rx_size.inc_by(size);
            if ctx.redundancy(bucket).ec.is_some() {
                // A whole copy replaces a slice of an older version here.
                slices::drop_older_slice(ctx, bucket, object, info.mtime_ns).await;
            }
            "stored"
        }
        Err(store::Error::NotNewer { .. }) => "kept-newer",
        Err(e) => return Err(e.into()),
    };
    Ok(verdict_response(ctx, bucket, object, version, verdict))
}

/// A transfer's verdict and the receipt that proves it came from this target.
fn verdict_response(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    version: u64,
    verdict: &'static str,
) -> Response<Body> {
    let mut resp = Response::new(crate::http::empty());
    resp.headers_mut()
        .insert(REPLICA_RESULT, HeaderValue::from_static(verdict));
    if let Some(key) = ctx.cluster_key() {
        let version = version.to_string();
        let receipt = key.receipt(&Receipt {
            node: &ctx.node.id,
            bucket,
            object,
            version: &version,
            verdict,
        });
        if let Ok(v) = HeaderValue::from_str(&receipt) {
            resp.headers_mut().insert(REPLICA_RECEIPT, v);
        }
    }
    resp
}

/// `HEAD ?ais_replica=has` (intra-cluster port): whether a copy is here and how new
/// (200 with its modification time), deleted (410 with the deletion's time), or neither
/// (404). Healing asks before it sends a copy.
async fn has(ctx: &TargetContext, bucket: &str, object: &str) -> Result<Response<Body>, ApiError> {
    let (status, when) = match ctx.store.head(bucket, object).await {
        Ok(info) => (http::StatusCode::OK, info.mtime_ns),
        Err(store::Error::ObjectNotFound { .. }) => {
            match ctx.store.tombstone(bucket, object).await? {
                Some(t) => (http::StatusCode::GONE, t),
                None => {
                    return Err(ApiError::NotFound(format!(
                        "ais://{bucket}/{object}: no copy here"
                    )))
                }
            }
        }
        Err(e) => return Err(e.into()),
    };
    let mut resp = Response::new(empty());
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(REPLICA_MTIME, HeaderValue::from(when));
    Ok(resp)
}

/// `PUT ?ais_replica=tomb` (intra-cluster port): a deletion made at another target
/// (`ais-replica-mtime` = when): a copy here written before then goes.
async fn receive_tombstone(
    ctx: &TargetContext,
    req: &Request<Incoming>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let when: i64 = req
        .headers()
        .get(&REPLICA_MTIME)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ApiError::BadRequest("missing or malformed ais-replica-mtime".into()))?;
    let removed = ctx.store.apply_tombstone(bucket, object, when).await?;
    if removed {
        tracing::info!(%bucket, %object, "a copy deleted elsewhere while this target held it was removed");
    }
    Ok(Response::new(crate::http::empty()))
}

/// `GET ?ais_replica=get` (intra-cluster port): hands over an object with its metadata,
/// whoever owns it.
async fn hand_over(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let reader = ctx.store.open_object(bucket, object).await?;
    let size = reader.info.meta.size;
    let headers = replica_headers(&reader);
    let mut resp = Response::new(stream(reader.stream(0, size)));
    for (k, v) in headers {
        resp.headers_mut().insert(k, v);
    }
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(resp)
}

/// `PUT ?ais_replica=copy` (intra-cluster port): stores a copied object here.
async fn receive_copy(
    ctx: &TargetContext,
    req: Request<Incoming>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let meta = parse_meta_only(req.headers()).map_err(ApiError::BadRequest)?;
    let body = body_of(req.into_body());
    ctx.store
        .put(bucket, object, body, copy_options(&meta))
        .await?;
    crate::service::redundancy::protect(ctx, bucket, object).await?;
    Ok(Response::new(empty()))
}
