//! Proxy request routing: object redirects, buckets, cluster membership and map queries.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{header, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::{buckets, membership, ProxyContext};
use crate::http::request::{query, set_header};
use crate::http::{empty, full, Body, Plane};
use crate::names::{validate_bucket, validate_object};
use crate::wire::json_response;
use crate::wire::msg::{check_provider, split_object_path_borrowed};
use crate::wire::{error, ApiError};

/// Handles one request; never fails (errors become AIStore-shaped responses).
pub async fn handle(
    ctx: Arc<ProxyContext>,
    plane: Plane,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let method = req.method().clone();
    // The path, kept for error messages (a clone shares the request's bytes).
    let uri = req.uri().clone();
    let path = uri.path();
    if let Err(e) = super::gate::admit(&ctx, plane, &mut req) {
        let guard = &ctx.metrics.guard;
        if matches!(e, ApiError::Unauthorized(_)) || ctx.config.intra.auth.is_some() {
            guard.err_auth_count.inc();
        } else {
            guard.err_forbidden_count.inc();
        }
        tracing::info!(?plane, %method, %path, error = %e, "request refused at the gate");
        if super::s3::s3_route(&ctx, &req).is_some() {
            // An S3 client hears it in S3's words.
            return crate::s3::refusal(&e.into(), &method, path);
        }
        let mut resp =
            error::error_response(&e, &method, path, &format!("p[{}]", ctx.me.daemon_id));
        if super::gate::is_join(path) {
            // Where a target given the public URL joins instead.
            set_header(
                &mut resp,
                crate::wire::headers::AIS_INTRA_URL,
                ctx.me.control_url(),
            );
        }
        return resp;
    }
    match route(&ctx, req).await {
        Ok(resp) => resp,
        Err(err) => {
            ctx.metrics.err_count.inc();
            if err.status().is_server_error() {
                tracing::warn!(%method, %path, status = %err.status(), error = %err, "request failed");
            }
            error::error_response(&err, &method, path, &format!("p[{}]", ctx.me.daemon_id))
        }
    }
}

async fn route(
    ctx: &Arc<ProxyContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    if let Some((rel, style)) = super::s3::s3_route(ctx, &req) {
        return Ok(Box::pin(super::s3::handle(ctx, req, rel, style)).await);
    }
    let uri = req.uri().clone();
    if let Some(rest) = uri.path().strip_prefix("/v1/objects/") {
        let promote = req.method() == Method::POST && !rest.trim_end_matches('/').contains('/');
        if !promote {
            // The hot path answers without awaiting anything.
            return redirect(ctx, req, rest);
        }
    }
    // Everything else awaits in a future of its own: kept inline, the largest of these
    // would be copied into every redirect's future (~1/3 of its instructions).
    Box::pin(route_control(ctx, req)).await
}

async fn route_control(
    ctx: &Arc<ProxyContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let uri = req.uri().clone();
    let path = uri.path();
    let internal = [
        "/v1/raft/",
        "/v1/cluster/keepalive/",
        "/v1/health",
        "/metrics",
    ];
    if !internal.iter().any(|p| path.starts_with(p)) {
        // Changes made through another proxy are seen here (read-your-writes).
        ctx.state.catch_up().await;
    }
    if let Some(rest) = path.strip_prefix("/v1/objects/") {
        let bucket = crate::wire::msg::decode(rest.trim_end_matches('/'))?;
        return super::admin::promote(ctx, req, &bucket).await;
    }
    if path.starts_with(crate::wire::moss::MOSS_PATH) {
        return super::get_batch::redirect(ctx, req).await;
    }
    if path == "/v1/buckets" || path == "/v1/buckets/" {
        check_provider(&req)?;
        return buckets::list_buckets(ctx, &req);
    }
    if let Some(rest) = path.strip_prefix("/v1/buckets/") {
        check_provider(&req)?;
        // `/v1/buckets/B/<prefix>` (bucket HEAD with a summary of a prefix).
        let first = rest.split('/').next().unwrap_or_default();
        let bucket = crate::wire::msg::decode(first)?;
        return buckets::dispatch(ctx, req, bucket).await;
    }
    if path.starts_with("/v1/reverse/") {
        return super::admin::reverse(ctx, req).await;
    }
    if let (Some(id), &Method::DELETE) = (path.strip_prefix("/v1/cluster/daemon/"), req.method()) {
        let signed_by = req
            .extensions()
            .get::<crate::cluster::intra_auth::Signed>()
            .map(|s| s.caller.clone());
        return membership::leave(ctx, Plane::of(&req), signed_by.as_deref(), id).await;
    }
    if let Some(id) = path.strip_prefix("/v1/cluster/keepalive/") {
        return membership::keepalive(ctx, id).await;
    }
    if let Some(what) = path.strip_prefix(super::raft_net::RAFT_PATH) {
        return raft_rpc(ctx, req, what).await;
    }
    if let (Some(id), &Method::PUT) = (path.strip_prefix("/v1/cluster/proxy/"), req.method()) {
        return super::primary::set_primary(ctx, id).await;
    }
    match (req.method().clone(), path) {
        (Method::POST, "/v1/cluster/autoreg") | (Method::POST, "/v1/cluster/join") => {
            let plane = Plane::of(&req);
            let body = crate::wire::msg::read_body(req).await?;
            membership::autoreg(ctx, plane, &body).await
        }
        (Method::GET, "/v1/daemon") if query(&req).get("what").is_some_and(|w| w == "log") => {
            crate::wire::node_status::log(&query(&req)).await
        }
        (Method::GET, "/v1/cluster") | (Method::GET, "/v1/daemon") => {
            let what_q = query(&req).get("what").cloned().unwrap_or_default();
            if crate::wire::jobs::is_job_query(&what_q) {
                let body = crate::wire::msg::read_body(req).await?;
                return crate::wire::jobs::answer(&ctx.jobs, &what_q, &body, &ctx.me.daemon_id);
            }
            what(ctx, &req).await
        }
        (Method::PUT, "/v1/daemon") if Plane::of(&req) == Plane::Intra => {
            let msg = crate::wire::msg::read_act_msg(req).await?;
            if msg.action != "shutdown-node" {
                return Err(ApiError::BadRequest(format!(
                    "unsupported proxy daemon action {:?}: expecting shutdown-node",
                    msg.action
                )));
            }
            ctx.stop.notify_one();
            Ok(Response::new(empty()))
        }
        (Method::PUT, "/v1/cluster") => {
            let msg = crate::wire::msg::read_act_msg(req).await?;
            super::admin::cluster_action(ctx, msg).await
        }
        (Method::GET, "/v1/health") => {
            let q = query(&req);
            let mut resp = Response::new(empty());
            // Ready: not stopping, and holding the map that names the current primary.
            if q.get("readiness").is_some_and(|v| v == "true")
                && (!ctx.ready.load(Ordering::Acquire) || !ctx.state.current())
            {
                *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            }
            set_header(
                &mut resp,
                crate::wire::headers::AIS_NODE_UPTIME,
                ctx.started.elapsed().as_nanos().to_string(),
            );
            Ok(resp)
        }
        (Method::GET, "/metrics") => {
            let smap = ctx.state.smap();
            ctx.metrics.smap_version.set(smap.version as i64);
            ctx.metrics.targets.set(smap.tmap.len() as i64);
            let mut resp = Response::new(full(ctx.metrics.render()));
            set_header(&mut resp, header::CONTENT_TYPE, "text/plain; version=0.0.4");
            Ok(resp)
        }
        (m, p) => Err(ApiError::NotFound(format!("no such endpoint: {m} {p}"))),
    }
}

/// `/v1/raft/<what>`: Raft between proxies, on the intra-cluster port only.
async fn raft_rpc(
    ctx: &Arc<ProxyContext>,
    req: Request<Incoming>,
    what: &str,
) -> Result<Response<Body>, ApiError> {
    if Plane::of(&req) != Plane::Intra || req.method() != Method::POST {
        return Err(ApiError::Forbidden(
            "Raft messages are taken on the intra-cluster port only (POST)".into(),
        ));
    }
    let what = what.to_string();
    let ms = query(&req)
        .get("ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let body = crate::wire::msg::read_body(req).await?;
    match what.as_str() {
        "propose" => super::primary::propose_from_peer(ctx, &body).await,
        "elect" => super::primary::elect(ctx).await,
        "hold" => Ok(super::primary::hold(ctx, ms)),
        "applied" => Ok(Response::new(full(ctx.state.applied_index().to_string()))),
        rpc => super::raft_net::serve(&ctx.state.raft, rpc, &body).await,
    }
}

/// `GET /v1/daemon?what=` and `GET /v1/cluster?what=`.
async fn what(ctx: &ProxyContext, req: &Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let q = query(req);
    match q.get("what").map(String::as_str).unwrap_or("") {
        kind @ ("rebalance" | "resilver" | "scrub" | "mountpaths") => {
            // Every target's answer, by ID (a target that does not answer shows null).
            let smap = ctx.state.smap();
            let asks = smap.tmap.values().map(|t| async move {
                let url = format!("{}/v1/daemon?what={kind}", t.control_url());
                let state = match ctx.client.send(Method::GET, &url, None).await {
                    Ok(r) if r.status.is_success() => {
                        serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null)
                    }
                    _ => serde_json::Value::Null,
                };
                (t.daemon_id.clone(), state)
            });
            let all: serde_json::Map<String, serde_json::Value> =
                futures_util::future::join_all(asks)
                    .await
                    .into_iter()
                    .collect();
            Ok(json_response(&all))
        }
        "smap" => Ok(json_response(&*ctx.state.smap())),
        "bmd" => Ok(json_response(&ctx.state.bmd())),
        "snode" => Ok(json_response(&ctx.me)),
        "config" => Ok(json_response(&ctx.config)),
        "cluster_config" => Ok(json_response(&crate::wire::cluster_config::cluster_config(
            ctx.config.intra.authn,
            ctx.config.intra.signed,
        ))),
        "node_status" => Ok(json_response(&crate::wire::node_status::node_status(
            crate::wire::node_status::NodeFacts {
                snode: serde_json::to_value(&ctx.me).unwrap_or_default(),
                tracker: ctx.metrics.tracker(),
                mountpaths: Vec::new(),
                smap_version: ctx.state.smap().version,
            },
        ))),
        other => Err(ApiError::BadRequest(format!(
            "unsupported what={other:?}: expecting smap, bmd, snode, config, node_status, log, rebalance, resilver, scrub or mountpaths"
        ))),
    }
}

/// Answers an object request with a 307 to the owning target: the original path and
/// query plus `pid` (this proxy) and `utm` (redirect time, unix ns in base 36).
fn redirect(
    ctx: &ProxyContext,
    req: Request<Incoming>,
    rest: &str,
) -> Result<Response<Body>, ApiError> {
    check_provider(&req)?;
    let (bucket, object) = split_object_path_borrowed(rest)?;
    validate_bucket(&bucket)?;
    validate_object(&object)?;
    if !ctx.state.has_bucket(&bucket) {
        return Err(ApiError::NoBucket(bucket.into_owned()));
    }
    if let Some(q) = req.uri().query().filter(|q| q.contains("object_to=")) {
        copy_destination_allowed(ctx, &req, q)?;
    }
    let smap = ctx.state.smap_now();
    let owner = smap.owner(&bucket, &object).ok_or_else(|| {
        ApiError::Unavailable("no target in the cluster map: start a target with --proxy".into())
    })?;
    ctx.metrics.count_object_request(req.method());
    let location = super::redirect::signed_location(ctx, req.method(), req.uri(), owner);
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    if let Ok(v) = header::HeaderValue::try_from(location) {
        resp.headers_mut().insert(header::LOCATION, v); // takes the String, no copy
    }
    drain_in_background(req);
    Ok(resp)
}

/// An object copy (`?object_to=`) writes into the destination's bucket: the client needs
/// PUT there too (the gate checked the source).
#[cold]
fn copy_destination_allowed(
    ctx: &ProxyContext,
    req: &Request<Incoming>,
    query: &str,
) -> Result<(), ApiError> {
    let Some(to) = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == crate::wire::specs::OBJECT_TO)
        .map(|(_, v)| v.into_owned())
    else {
        return Ok(());
    };
    let (dst_bucket, _) = crate::wire::specs::parse_destination(&to)?;
    let who = crate::client_auth::principal(req);
    super::buckets::may(
        ctx,
        &who,
        &dst_bucket,
        crate::auth::ace::PUT,
        "copy into it",
    )
}

/// Reads and drops a request body the client sends anyway (a PUT without
/// `Expect: 100-continue`), so the connection stays usable; bounded by time.
fn drain_in_background(req: Request<Incoming>) {
    if http_body::Body::is_end_stream(req.body()) {
        return; // no body (hyper knows from the headers it parsed)
    }
    let expects_continue = req
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let has_body = req.headers().contains_key(header::CONTENT_LENGTH)
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    if expects_continue || !has_body {
        return;
    }
    let mut body = req.into_body();
    tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(5), body.frame()).await {
                Ok(Some(Ok(_))) => {}
                _ => break,
            }
        }
    });
}
