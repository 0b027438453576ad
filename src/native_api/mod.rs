//! AIStore's native REST API on the target: `/v1/objects`, `/v1/buckets`, `/v1/daemon`,
//! `/v1/health` and `/metrics`. Parses each request into typed calls on the
//! [`ObjectStore`](crate::store::ObjectStore) and the [`service`](crate::service)s; [`crate::wire::error`]
//! maps failures to HTTP (AIStore's JSON), once.

pub mod arch;
pub mod buckets;
mod daemon;
pub mod lso;
mod ml;
mod mpt;
mod objects;
mod upload;

use std::sync::Arc;
use std::time::Instant;

use http::{Method, Request, Response};
use hyper::body::Incoming;

use crate::http::Body;
pub use crate::service::{NodeInfo, TargetContext};
use crate::wire::msg::{check_provider, decode, read_act_msg, read_body, split_object_path};
use crate::wire::{json_response, ApiError};

/// Handles one request; never fails (errors become AIStore-shaped responses).
pub async fn handle(ctx: Arc<TargetContext>, req: Request<Incoming>) -> Response<Body> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let span = tracing::debug_span!("req", %method, %path);
    let _enter = span.enter();
    let resp = match route(&ctx, req).await {
        Ok(resp) => resp,
        Err(err) => {
            if err.is_checksum() {
                ctx.metrics.err_cksum_count.inc();
            }
            let status = err.status();
            if status == http::StatusCode::FORBIDDEN {
                ctx.metrics.guard.err_forbidden_count.inc();
            }
            if status.is_server_error() {
                tracing::warn!(%method, %path, %status, error = %err, "request failed");
            } else {
                tracing::debug!(%method, %path, %status, error = %err, "request refused");
            }
            crate::wire::error::error_response(&err, &method, &path, &format!("t[{}]", ctx.node.id))
        }
    };
    tracing::debug!(
        status = resp.status().as_u16(),
        latency_us = start.elapsed().as_micros() as u64,
        "done"
    );
    resp
}

async fn route(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    if let Some(rest) = req.uri().path().strip_prefix("/v1/objects/") {
        if req.method() != Method::POST || rest.trim_end_matches('/').contains('/') {
            let (bucket, object) = split_object_path(rest)?;
            check_provider(&req)?;
            return objects::dispatch(ctx, req, bucket, object).await;
        }
    }
    // Boxed, so the object path's future does not carry these.
    Box::pin(route_other(ctx, req)).await
}

async fn route_other(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/v1/objects/") {
        if req.method() == Method::POST && !rest.trim_end_matches('/').contains('/') {
            // `POST /v1/objects/B`: bucket-wide object actions (promote).
            let bucket = decode(rest.trim_end_matches('/'))?;
            check_provider(&req)?;
            return promote(ctx, req, &bucket).await;
        }
        let (bucket, object) = split_object_path(rest)?;
        check_provider(&req)?;
        return objects::dispatch(ctx, req, bucket, object).await;
    }
    if path == crate::wire::moss::MOSS_PATH
        || path.starts_with(&format!("{}/", crate::wire::moss::MOSS_PATH))
    {
        return ml::get_batch(ctx, req).await;
    }
    if path == "/v1/buckets" || path == "/v1/buckets/" {
        check_provider(&req)?;
        return buckets::dispatch_all(ctx, req).await;
    }
    if let Some(rest) = path.strip_prefix("/v1/buckets/") {
        // `/v1/buckets/B/<prefix>` (bucket HEAD with a summary of a prefix).
        let first = rest.split('/').next().unwrap_or_default();
        let bucket = decode(first)?;
        check_provider(&req)?;
        return buckets::dispatch(ctx, req, bucket).await;
    }
    match path {
        "/v1/cluster" if req.method() == Method::GET => {
            let what = query(&req).get("what").cloned().unwrap_or_default();
            if !crate::wire::jobs::is_job_query(&what) {
                return Err(ApiError::BadRequest(format!(
                    "unsupported what={what:?} on a target's /v1/cluster: expecting status or qryxstats"
                )));
            }
            let body = read_body(req).await?;
            crate::wire::jobs::answer(&ctx.jobs, &what, &body, &ctx.node.id)
        }
        "/v1/cluster" if req.method() == Method::PUT => {
            let msg = read_act_msg(req).await?;
            if msg.action != "stop" {
                return Err(ApiError::BadRequest(format!(
                    "unsupported action {:?} on a target's /v1/cluster: expecting stop",
                    msg.action
                )));
            }
            crate::wire::jobs::stop(&ctx.jobs, &msg.value)?;
            Ok(Response::new(crate::http::empty()))
        }
        "/v1/daemon" if req.method() == Method::PUT => daemon::act(ctx, req).await,
        "/v1/daemon/mountpaths" if req.method() != Method::GET => {
            daemon::mountpath_action(ctx, req).await
        }
        "/v1/daemon" => match query(&req).get("what").map(String::as_str) {
            Some("log") => crate::wire::node_status::log(&query(&req)).await,
            _ => daemon::daemon(ctx, &req),
        },
        "/v1/health" => daemon::health(ctx, &req),
        "/metrics" => daemon::metrics(ctx, &req),
        _ => Err(ApiError::NotFound(format!("no such endpoint: {path}"))),
    }
}

/// Refuses unless the client (when it came through this node's public gate) has `need`
/// on `bucket` (`None`: the cluster); requests from other nodes were checked where they
/// entered.
pub(crate) fn may(
    ctx: &TargetContext,
    who: &Option<crate::client_auth::Principal>,
    bucket: Option<&str>,
    need: u64,
    what: &str,
) -> Result<(), ApiError> {
    let uuid = ctx
        .cluster
        .smap()
        .map(|s| s.uuid.clone())
        .unwrap_or_default();
    crate::client_auth::authorize(who.as_ref(), &uuid, bucket, need, what).map_err(ApiError::from)
}

async fn promote(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
    bucket: &str,
) -> Result<Response<Body>, ApiError> {
    // Promote reads (and may delete) the host's files: cluster admins only.
    let who = crate::client_auth::principal(&req);
    may(
        ctx,
        &who,
        None,
        crate::auth::ace::ADMIN,
        "promote host files",
    )?;
    let msg = read_act_msg(req).await?;
    if msg.action != "promote" {
        return Err(ApiError::BadRequest(format!(
            "ais://{bucket}: unsupported object action {:?} (expecting promote)",
            msg.action
        )));
    }
    let mut args: crate::service::promote::PromoteArgs = serde_json::from_value(msg.value)
        .map_err(|e| ApiError::BadRequest(format!("promote: malformed value: {e}")))?;
    if args.src.is_empty() {
        args.src = msg.name;
    }
    let done = crate::service::promote::promote(ctx, bucket, &args).await?;
    if done.missing && ctx.config.proxy.is_none() {
        return Err(ApiError::NotFound(format!(
            "promote: {:?} does not exist",
            args.src
        )));
    }
    Ok(json_response(&done))
}

pub use crate::http::request::{query, set_header};

fn not_allowed(method: &Method) -> ApiError {
    ApiError::MethodNotAllowed(method.clone())
}
