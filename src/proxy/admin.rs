//! Cluster administration through the proxy (`PUT /v1/cluster` with AIStore's actions):
//! maintenance, decommission and shutdown of a target, and starting a rebalance.
//!
//! Maintenance flags the target in the map: it stops owning objects, every target's
//! rebalance moves its objects to their new owners (readable meanwhile through
//! get-from-neighbor), and its readiness turns 503. Decommission does the same, waits
//! until the node's own walk has moved everything, then removes it from the map and tells
//! it to shut down. Stop-maintenance clears the flag (objects move back).

use std::time::{Duration, Instant};

use http::{Method, Response};
use serde::Deserialize;
use serde_json::json;

use super::ProxyContext;
use crate::cluster::{FLAG_DECOMMISSION, FLAG_MAINTENANCE};
use crate::http::{empty, Body};
use crate::wire::ActMsg;
use crate::wire::ApiError;

#[derive(Deserialize)]
struct NodeMsg {
    sid: String,
}

/// How long a decommission waits for the node's data to move before giving up.
const DECOMMISSION_LIMIT: Duration = Duration::from_secs(3600);

/// `PUT /v1/cluster`.
pub(super) async fn cluster_action(
    ctx: &std::sync::Arc<ProxyContext>,
    msg: ActMsg,
) -> Result<Response<Body>, ApiError> {
    ctx.state.check_writable().await?;
    let kind = crate::jobs::kind_of(&msg.value);
    let sid = || -> Result<String, ApiError> {
        serde_json::from_value::<NodeMsg>(msg.value.clone())
            .map(|m| m.sid)
            .map_err(|e| {
                ApiError::BadRequest(format!(
                    "{}: expecting {{\"sid\": <target ID>}}: {e}",
                    msg.action
                ))
            })
    };
    let flag = |id: String, flags: u64, on: bool| async move {
        ctx.state
            .set_flags(&id, flags, on)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("target {id:?} is not in the cluster map")))
    };
    match msg.action.as_str() {
        "start-maintenance" => {
            let id = sid()?;
            let v = flag(id.clone(), FLAG_MAINTENANCE, true).await?;
            tracing::info!(target_id = %id, smap_version = v, "target in maintenance: its objects move to the others");
        }
        "stop-maintenance" => {
            let id = sid()?;
            let v = flag(id.clone(), FLAG_MAINTENANCE | FLAG_DECOMMISSION, false).await?;
            tracing::info!(target_id = %id, smap_version = v, "target out of maintenance");
        }
        "decommission-node" if ctx.state.smap().pmap.contains_key(&sid()?) => {
            super::primary::decommission_proxy(ctx, &sid()?).await?;
        }
        "decommission-node" => {
            let id = sid()?;
            let v = flag(id.clone(), FLAG_DECOMMISSION | FLAG_MAINTENANCE, true).await?;
            tracing::info!(target_id = %id, smap_version = v, "decommissioning target: moving its objects first");
            tokio::spawn(finish_decommission(ctx.clone(), id, v));
        }
        "shutdown-node" => {
            let id = sid()?;
            let node = ctx.state.smap().tmap.get(&id).cloned().ok_or_else(|| {
                ApiError::NotFound(format!("target {id:?} is not in the cluster map"))
            })?;
            tell_shutdown(ctx, &node).await?;
        }
        "start" if kind == "scrub" => {
            let bucket = crate::wire::specs::scrub_bucket(&msg.value)?;
            if !ctx.state.bmd().buckets.contains_key(&bucket) {
                return Err(ApiError::NoBucket(bucket));
            }
            let body = serde_json::to_vec(&msg).unwrap_or_default();
            for t in ctx.state.smap().tmap.values() {
                let url = format!("{}/v1/daemon", t.control_url());
                match ctx.client.send(Method::PUT, &url, Some(body.clone())).await {
                    Ok(r) if r.status.is_success() => {}
                    Ok(r) => return Err(ApiError::Upstream(format!("{}: {}", t.daemon_id, r.status))),
                    Err(e) => return Err(ApiError::Upstream(e.to_string())),
                }
            }
        }
        "start" | "stop" if kind == "rebalance" => {
            let smap = ctx.state.smap();
            for t in smap.tmap.values() {
                let url = format!("{}/v1/daemon", t.control_url());
                let body = serde_json::to_vec(&json!({"action": msg.action, "value": {"kind": "rebalance"}}))
                    .unwrap_or_default();
                match ctx.client.send(Method::PUT, &url, Some(body)).await {
                    Ok(r) if r.status.is_success() => {}
                    Ok(r) => return Err(ApiError::Upstream(format!("{}: {}", t.daemon_id, r.status))),
                    Err(e) => return Err(ApiError::Upstream(e.to_string())),
                }
            }
        }
        "start" => return start_job(ctx, &kind),
        "stop" => crate::wire::jobs::stop(&ctx.jobs, &msg.value)?,
        other => {
            return Err(ApiError::BadRequest(format!(
                "unsupported cluster action {other:?}: expecting start-maintenance, stop-maintenance, decommission-node, shutdown-node, start (rebalance, scrub, lru, cleanup) or stop (rebalance or a job)"
            )))
        }
    }
    Ok(Response::new(empty()))
}

/// `start` of a job that answers its ID at once: `lru` (evicts remote buckets' objects
/// only, so it finds nothing to do in a cluster of ais:// buckets, as AIStore's does) and
/// `cleanup-store` (every target sweeps abandoned uploads, appends and old deletion marks;
/// the job counts what each removed).
fn start_job(ctx: &std::sync::Arc<ProxyContext>, kind: &str) -> Result<Response<Body>, ApiError> {
    let id = match kind {
        "lru" => ctx.jobs.start("lru", "", None, |_| async {
            tracing::info!("lru: only remote buckets' objects are evicted; ais:// buckets never are");
            Ok(serde_json::Value::Null)
        }),
        crate::jobs::CLEANUP_STORE => {
            let ctx = ctx.clone();
            ctx.jobs.clone().start(kind, "", None, move |p| async move {
                let body = serde_json::to_vec(&json!({"action": "start", "value": {"kind": crate::jobs::CLEANUP_STORE}}))
                    .unwrap_or_default();
                let targets: Vec<_> = ctx.state.smap().tmap.values().cloned().collect();
                for t in targets {
                    let url = format!("{}/v1/daemon", t.control_url());
                    let reply = super::fanout::ask(&ctx, &t, Method::PUT, &url, body.clone()).await?;
                    let removed = String::from_utf8_lossy(&reply).trim().parse().unwrap_or(0);
                    let counts = crate::jobs::Counts { objects: removed, ..Default::default() };
                    p.add(&t.daemon_id, counts);
                }
                Ok(serde_json::Value::Null)
            })
        }
        "" => return Err(ApiError::BadRequest("start: expecting a job kind ({\"Kind\": ...})".into())),
        other => {
            return Err(ApiError::BadRequest(format!(
                "start: job kind {other:?} cannot be started here: expecting rebalance, scrub, lru or cleanup"
            )))
        }
    };
    Ok(Response::new(crate::http::full(id)))
}

async fn tell_shutdown(ctx: &ProxyContext, node: &crate::cluster::Snode) -> Result<(), ApiError> {
    let url = format!("{}/v1/daemon", node.control_url());
    let body = serde_json::to_vec(&json!({"action": "shutdown-node"})).unwrap_or_default();
    match ctx.client.send(Method::PUT, &url, Some(body)).await {
        Ok(r) if r.status.is_success() => Ok(()),
        Ok(r) => Err(ApiError::Upstream(format!(
            "{}: {}",
            node.daemon_id, r.status
        ))),
        Err(e) => Err(ApiError::Upstream(e.to_string())),
    }
}

/// Waits until the decommissioned target's walk for map `version` (or later) is done,
/// then drops it from the map and tells it to shut down.
async fn finish_decommission(ctx: std::sync::Arc<ProxyContext>, id: String, version: u64) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Some(node) = ctx.state.smap().tmap.get(&id).cloned() else {
            return;
        };
        if node.flags & FLAG_DECOMMISSION == 0 {
            tracing::info!(target_id = %id, "decommission cancelled");
            return;
        }
        let url = format!("{}/v1/daemon?what=rebalance", node.control_url());
        let state = match ctx.client.send(Method::GET, &url, None).await {
            Ok(r) if r.status.is_success() => {
                serde_json::from_slice::<serde_json::Value>(&r.body).unwrap_or_default()
            }
            _ => continue,
        };
        let idle = state["running"] == false;
        let walked = state["smap_version"].as_u64().unwrap_or(0) >= version;
        if idle && !walked {
            // Already out of the owners (maintenance) before: no map change started a
            // walk for this version; ask for one.
            let body =
                serde_json::to_vec(&json!({"action": "start", "value": {"kind": "rebalance"}}))
                    .unwrap_or_default();
            let url = format!("{}/v1/daemon", node.control_url());
            let _ = ctx.client.send(Method::PUT, &url, Some(body)).await;
            continue;
        }
        let done = idle && walked;
        if done {
            let _ = tell_shutdown(&ctx, &node).await;
            if let Err(e) = ctx.state.remove(&id).await {
                tracing::error!(target_id = %id, error = %e, "decommission: the target's objects moved but it could not be taken out of the map; decommission it again");
                return;
            }
            tracing::info!(target_id = %id, took = ?started.elapsed(), "target decommissioned: its objects moved, removed from the map");
            return;
        }
        if started.elapsed() > DECOMMISSION_LIMIT {
            tracing::error!(target_id = %id, "decommission: the target's objects did not finish moving; it stays in the map, flagged");
            return;
        }
    }
}

/// Header naming the node a reverse-path request is for.
const NODE_ID: &str = "ais-node-id";

/// `/v1/reverse/daemon/...` with `Ais-Node-Id`: the request, body included, is passed to
/// that node's `/v1/daemon/...` on its intra-cluster port (signed there), and its answer
/// comes back as it is. How node-addressed admin (mountpaths, logs, status) reaches a
/// target or a proxy.
pub(super) async fn reverse(
    ctx: &ProxyContext,
    req: http::Request<hyper::body::Incoming>,
) -> Result<Response<Body>, ApiError> {
    let id = req
        .headers()
        .get(NODE_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::BadRequest("reverse path: the Ais-Node-Id header must name the node".into())
        })?;
    let rest = req
        .uri()
        .path()
        .strip_prefix("/v1/reverse")
        .unwrap_or_default()
        .to_string();
    if !rest.starts_with("/daemon") {
        return Err(ApiError::NotFound(format!(
            "reverse path: only /v1/reverse/daemon/... is served, not /v1/reverse{rest}"
        )));
    }
    let smap = ctx.state.smap();
    let node = smap
        .tmap
        .get(&id)
        .or_else(|| smap.pmap.get(&id))
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("node {id:?} is not in the cluster map")))?;
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let url = format!("{}/v1{rest}{query}", node.control_url());
    let method = req.method().clone();
    let body = crate::wire::msg::read_body(req).await?;
    let reply = ctx
        .client
        .send(method, &url, (!body.is_empty()).then(|| body.to_vec()))
        .await
        .map_err(|e| ApiError::Upstream(format!("{id}: {e}")))?;
    let mut resp = Response::new(crate::http::full(reply.body));
    *resp.status_mut() = reply.status;
    if let Some(ct) = reply.headers.get(http::header::CONTENT_TYPE) {
        resp.headers_mut()
            .insert(http::header::CONTENT_TYPE, ct.clone());
    }
    Ok(resp)
}

/// `POST /v1/objects/B {"action":"promote",...}`: to the target named by `tid`, else to
/// every active target (each promotes what it owns of a shared directory); answers the
/// ID of a finished job holding each target's counts.
pub(super) async fn promote(
    ctx: &ProxyContext,
    req: http::Request<hyper::body::Incoming>,
    bucket: &str,
) -> Result<Response<Body>, ApiError> {
    // Promote reads (and may delete) files of the targets' hosts: cluster admins only.
    let uuid = ctx.state.smap().uuid.clone();
    let who = crate::client_auth::principal(&req);
    crate::client_auth::authorize(
        who.as_ref(),
        &uuid,
        None,
        crate::auth::ace::ADMIN,
        "promote host files",
    )?;
    super::buckets::may(ctx, &who, bucket, crate::auth::ace::PUT, "promote into it")?;
    let body = crate::wire::msg::read_body(req).await?;
    let msg: ActMsg = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON control message: {e}")))?;
    if msg.action != "promote" {
        return Err(ApiError::BadRequest(format!(
            "ais://{bucket}: unsupported object action {:?} (expecting promote)",
            msg.action
        )));
    }
    if !ctx.state.bmd().buckets.contains_key(bucket) {
        return Err(ApiError::NoBucket(bucket.to_string()));
    }
    let tid = msg
        .value
        .get("tid")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    let smap = ctx.state.smap();
    let targets: Vec<_> = smap
        .tmap
        .values()
        .filter(|t| t.is_active() && (tid.is_empty() || t.daemon_id == tid))
        .cloned()
        .collect();
    if targets.is_empty() {
        return Err(ApiError::NotFound(format!(
            "promote: no target {tid:?} in the cluster map"
        )));
    }
    let mut per_node = Vec::with_capacity(targets.len());
    let mut missing_everywhere = true;
    for t in targets {
        let url = format!("{}/v1/objects/{bucket}", t.control_url());
        let r = ctx
            .client
            .send(Method::POST, &url, Some(body.to_vec()))
            .await
            .map_err(|e| ApiError::Upstream(format!("{}: {e}", t.daemon_id)))?;
        if !r.status.is_success() {
            let mut resp = Response::new(crate::http::full(r.body));
            *resp.status_mut() = r.status;
            return Ok(resp);
        }
        let part: crate::wire::specs::Promoted =
            serde_json::from_slice(&r.body).unwrap_or_default();
        let counts = crate::jobs::Counts {
            objects: part.objects,
            bytes: part.bytes,
            ..Default::default()
        };
        per_node.push((t.daemon_id.clone(), counts));
        missing_everywhere &= part.missing;
    }
    if missing_everywhere {
        let src = msg
            .value
            .get("src")
            .and_then(|v| v.as_str())
            .unwrap_or(&msg.name)
            .to_string();
        return Err(ApiError::NotFound(format!(
            "promote: {src:?} does not exist on any target"
        )));
    }
    // Done by now: answered as a finished job (AIStore answers a job ID, or nothing when
    // it promoted synchronously), so `Job.wait` and `get_details` report its counts.
    let id = ctx.jobs.record_done("promote", bucket, None, &per_node);
    Ok(Response::new(crate::http::full(id)))
}
