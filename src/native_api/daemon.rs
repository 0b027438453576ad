//! `/v1/daemon`, `/v1/health` and `/metrics`.

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::{query, set_header, ApiError, TargetContext};
use crate::fs::Mountpath;
use crate::http::{empty, full, Body};
use crate::wire::json_response;
use crate::wire::msg::read_act_msg;
use crate::wire::specs::scrub_bucket;

/// This node in AIStore's `Snode` JSON shape.
pub fn snode(ctx: &TargetContext) -> serde_json::Value {
    serde_json::to_value(ctx.snode()).unwrap_or_default()
}

pub(super) fn daemon(
    ctx: &Arc<TargetContext>,
    req: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::GET {
        return Err(ApiError::MethodNotAllowed(req.method().clone()));
    }
    let q = query(req);
    let what = q.get("what").map(String::as_str).unwrap_or("");
    match what {
        "snode" => Ok(json_response(&snode(ctx))),
        "smap" => match ctx.cluster.smap() {
            Some(smap) => Ok(json_response(&*smap)),
            None => Err(ApiError::NotFound(
                "this target is not registered with a proxy: no cluster map".into(),
            )),
        },
        "mountpaths" => {
            let set = ctx.store.mountpaths().current();
            let names = |list: &mut dyn Iterator<Item = &Arc<Mountpath>>| {
                list.map(|m| m.path.display().to_string())
                    .collect::<Vec<_>>()
            };
            let engines: serde_json::Map<String, serde_json::Value> = set
                .every()
                .map(|m| {
                    (
                        m.path.display().to_string(),
                        json!(m.disk.engine().to_string()),
                    )
                })
                .collect();
            Ok(json_response(&json!({
                "available": names(&mut set.available.iter()),
                "waiting_dd": names(&mut set.leaving.iter().map(|(m, _)| m)),
                "disabled": names(&mut set.disabled.iter()),
                "io_engines": engines,
            })))
        }
        "node_status" => Ok(json_response(&node_status(ctx))),
        "config" => Ok(json_response(&ctx.config)),
        "rebalance" => Ok(json_response(&ctx.rebalance.state())),
        "resilver" => Ok(json_response(&ctx.resilver.state())),
        "scrub" => Ok(json_response(&ctx.scrub.state())),
        other => Err(ApiError::BadRequest(format!(
            "unsupported what={other:?}: expecting snode, smap, mountpaths, node_status, log, config, rebalance, resilver or scrub"
        ))),
    }
}

/// AIStore's `NodeStatus` of this target: counters, capacity of each mountpath.
fn node_status(ctx: &TargetContext) -> serde_json::Value {
    let mountpaths = ctx
        .store
        .mountpaths()
        .current()
        .available
        .iter()
        .map(|m| {
            let (used, avail) = nix::sys::statvfs::statvfs(m.path.as_path()).map_or((0, 0), |fs| {
                let frag = fs.fragment_size();
                let used = fs.blocks().saturating_sub(fs.blocks_free()) * frag;
                (used, fs.blocks_available() * frag)
            });
            (m.path.display().to_string(), used, avail)
        })
        .collect();
    crate::wire::node_status::node_status(crate::wire::node_status::NodeFacts {
        snode: snode(ctx),
        tracker: ctx.metrics.tracker(),
        mountpaths,
        smap_version: ctx.cluster.smap().map_or(0, |m| m.version),
    })
}

/// `PUT /v1/daemon` (intra-cluster port only): `shutdown-node`, `start` of a rebalance
/// walk, a scrub or a store cleanup, `stop` of a rebalance walk.
pub(super) async fn act(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let msg = read_act_msg(req).await?;
    let kind = msg.value.get("kind").and_then(|k| k.as_str());
    match (msg.action.as_str(), kind) {
        ("shutdown-node", _) => ctx.stop.notify_one(),
        ("start", Some("scrub")) => {
            let bucket = scrub_bucket(&msg.value)?;
            ctx.store.require_bucket(&bucket)?;
            crate::service::scrub::Scrub::start(ctx, bucket);
        }
        ("start", Some("rebalance")) => crate::service::rebalance::Rebalance::start(ctx),
        ("start", Some(crate::service::cleanup::KIND)) => {
            // Synchronous: the proxy's job waits for each target and counts what it removed.
            let removed = crate::service::cleanup::run(ctx).await;
            return Ok(Response::new(crate::http::full(removed.to_string())));
        }
        ("stop", Some("rebalance")) => ctx.rebalance.stop(),
        (other, _) => {
            return Err(ApiError::BadRequest(format!(
                "unsupported daemon action {other:?}: expecting shutdown-node, start (rebalance, scrub, cleanup-store) or stop (rebalance)"
            )))
        }
    }
    Ok(Response::new(empty()))
}

/// `PUT` (attach-mp), `POST` (enable-mp, disable-mp), `DELETE` (detach-mp) on
/// `/v1/daemon/mountpaths` with `{"action": ..., "value": "/path"}`; `?dntres=true` skips
/// the resilver.
pub(super) async fn mountpath_action(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    use crate::service::mountpaths::{act, MpAction};
    let dont_resilver = query(&req).get("dntres").is_some_and(|v| v == "true");
    let method = req.method().clone();
    let msg = read_act_msg(req).await?;
    let action = MpAction::parse(&msg.action).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "unsupported mountpath action {:?}: expecting attach-mp, enable-mp, disable-mp or detach-mp",
            msg.action
        ))
    })?;
    let expected = match action {
        MpAction::Attach => Method::PUT,
        MpAction::Enable | MpAction::Disable => Method::POST,
        MpAction::Detach => Method::DELETE,
    };
    if method != expected {
        return Err(ApiError::BadRequest(format!(
            "{} takes {expected}, not {method}",
            msg.action
        )));
    }
    let path = match &msg.value {
        serde_json::Value::String(p) if !p.is_empty() => std::path::PathBuf::from(p),
        _ => {
            return Err(ApiError::BadRequest(format!(
                "{}: the value must be the mountpath, a non-empty string",
                msg.action
            )))
        }
    };
    act(ctx, action, &path, dont_resilver)
        .await
        .map_err(|e| match e {
            crate::service::mountpaths::MpActError::Store(e) => ApiError::from(e),
            crate::service::mountpaths::MpActError::Fs(crate::fs::FsError::Locked(..)) => {
                ApiError::Conflict(e.to_string())
            }
            other => ApiError::BadRequest(other.to_string()),
        })?;
    Ok(Response::new(empty()))
}

pub(super) fn health(
    ctx: &Arc<TargetContext>,
    req: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let q = query(req);
    let wants_ready = q.get("readiness").is_some_and(|v| v == "true");
    let mut resp = Response::new(empty());
    // Not ready while shutting down, nor while a clustered target has not joined yet.
    let joined = ctx.config.proxy.is_none() || ctx.cluster.smap().is_some();
    if wants_ready && (!ctx.is_ready() || !joined || ctx.in_maintenance() || !ctx.has_storage()) {
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    if q.get("cii").is_some_and(|v| v == "true") {
        *resp.body_mut() = full(serde_json::to_vec(&node_state(ctx)).unwrap_or_default());
        set_header(&mut resp, http::header::CONTENT_TYPE, "application/json");
    }
    set_header(
        &mut resp,
        crate::wire::headers::AIS_NODE_UPTIME,
        ctx.started.elapsed().as_nanos().to_string(),
    );
    Ok(resp)
}

/// `GET /v1/health?cii=true`: the node's state, with the flags that explain a degraded
/// or unready target.
fn node_state(ctx: &TargetContext) -> serde_json::Value {
    let set = ctx.store.mountpaths().current();
    let mut flags = Vec::new();
    if !set.disabled.is_empty() {
        flags.push("disk-fault");
    }
    if set.available.is_empty() {
        flags.push("no-mountpaths");
    }
    if ctx.in_maintenance() {
        flags.push("maintenance");
    }
    if ctx.rebalance.state().running {
        flags.push("rebalancing");
    }
    if ctx.resilver.state().running {
        flags.push("resilvering");
    }
    json!({
        "node_id": ctx.node.id,
        "smap_version": ctx.cluster.smap_version().to_string(),
        "flags": flags,
        "mountpaths": {
            "available": set.available.len(),
            "waiting_dd": set.leaving.len(),
            "disabled": set.disabled.len(),
        },
    })
}

pub(super) fn metrics(
    ctx: &Arc<TargetContext>,
    req: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::GET {
        return Err(ApiError::MethodNotAllowed(req.method().clone()));
    }
    let set = ctx.store.mountpaths().current();
    ctx.metrics
        .mountpaths_available
        .set(set.available.len() as i64);
    ctx.metrics
        .mountpaths_disabled
        .set(set.disabled.len() as i64);
    ctx.metrics
        .buffer_budget_bytes
        .set(i64::try_from(ctx.store.buffer_budget()).unwrap_or(i64::MAX));
    for mp in set.every() {
        let label = mp.path.display().to_string();
        ctx.metrics
            .disk_queue_depth
            .with_label_values(&[label.as_str()])
            .set(mp.disk.queued() as i64);
    }
    let mut resp = Response::new(full(ctx.metrics.render()));
    set_header(
        &mut resp,
        http::header::CONTENT_TYPE,
        "text/plain; version=0.0.4",
    );
    Ok(resp)
}
