//! Target registration and keepalives, removal of silent targets, and pushing each new
//! map version to every target.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Response};
use serde::Deserialize;

use super::ProxyContext;
use crate::cluster::{ClusterMeta, Snode};
use crate::http::{Body, Plane};
use crate::wire::json_response;
use crate::wire::ApiError;

/// What a registering target sends (AIStore's `cluMeta` carries the node as `si`).
#[derive(Debug, Deserialize)]
pub struct JoinRequest {
    /// The node.
    pub si: Snode,
}

/// `POST /v1/cluster/autoreg`. A target already in the map keeps its place: it moves to
/// other URLs only through the intra-cluster port and only when the node at the old URLs
/// no longer answers as itself; through the public port only first joins (and repeats of
/// the same registration) are taken.
pub(super) async fn autoreg(
    ctx: &ProxyContext,
    plane: Plane,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let req: JoinRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("malformed registration: {e}")))?;
    let mut si = req.si;
    if si.daemon_type == "proxy" && plane == Plane::Intra {
        return super::primary::admit_proxy(ctx, si, body).await;
    }
    let id_ok = !si.daemon_id.is_empty()
        && si.daemon_id.len() <= 64
        && si
            .daemon_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if si.daemon_type != "target" || !id_ok || !si.url().starts_with("http://") {
        return Err(ApiError::BadRequest(format!(
            "registration must name a target with an ID of 1 to 64 [A-Za-z0-9_-] and an http:// URL, got {:?} {:?} {:?}",
            si.daemon_type,
            si.daemon_id,
            si.url()
        )));
    }
    if !si.node_name.is_empty() && !crate::names::valid_node_name(&si.node_name) {
        return Err(ApiError::BadRequest(format!(
            "registration names node {:?}: use 1 to 253 of [A-Za-z0-9._-]",
            si.node_name
        )));
    }
    if si.intra_control_net.direct_url.is_empty() {
        si = si.clone().with_intra_url(&si.public_net.direct_url.clone());
    }
    // Derived here, never taken from the caller: it decides which objects a node owns.
    si.id_digest = crate::hrw::digest(si.daemon_id.as_bytes());
    si.flags = 0;
    let current = ctx.state.smap().tmap.get(&si.daemon_id).cloned();
    if let Some(old) = current.filter(|old| !same_endpoints(old, &si)) {
        if plane == Plane::Public {
            return Err(ApiError::Forbidden(format!(
                "target {} is in the cluster map at {}; a registration through the public port cannot move it",
                si.daemon_id,
                old.url()
            )));
        }
        if answers_as(ctx, &old).await {
            return Err(ApiError::Conflict(format!(
                "target {} is in the cluster map at {} and still answers there; refusing to move it to {}",
                si.daemon_id,
                old.url(),
                si.url()
            )));
        }
        tracing::warn!(target_id = %si.daemon_id, old = %old.url(), new = %si.url(), "target re-registered at new URLs (the old ones do not answer)");
    }
    let (smap, bmd) = ctx.state.join(si).await?;
    Ok(json_response(&ClusterMeta { smap, bmd }))
}

fn same_endpoints(a: &Snode, b: &Snode) -> bool {
    a.public_net == b.public_net && a.intra_control_net == b.intra_control_net
}

/// Whether the node at `old`'s control URL answers with `old`'s ID.
async fn answers_as(ctx: &ProxyContext, old: &Snode) -> bool {
    let url = format!("{}/v1/daemon?what=snode", old.control_url());
    match ctx.client.send(Method::GET, &url, None).await {
        Ok(r) if r.status.is_success() => {
            serde_json::from_slice::<Snode>(&r.body).is_ok_and(|s| s.daemon_id == old.daemon_id)
        }
        _ => false,
    }
}

/// `POST /v1/cluster/keepalive/<id>`: taken by the primary (a proxy that is not passes it
/// on, so a target that has not heard of a new primary yet stays in the map).
pub(super) async fn keepalive(ctx: &ProxyContext, id: &str) -> Result<Response<Body>, ApiError> {
    if !ctx.state.is_primary() {
        let path = format!("/v1/cluster/keepalive/{id}");
        return super::primary::to_primary(ctx, Method::POST, &path, Some(b"{}".to_vec())).await;
    }
    match ctx.state.keepalive(id) {
        Some((smap, bmd)) => Ok(json_response(&serde_json::json!({
            "smap_version": smap.to_string(),
            "bmd_version": bmd.to_string(),
        }))),
        None => Err(ApiError::NotFound(format!(
            "target {id:?} is not in the cluster map: register again"
        ))),
    }
}

/// `DELETE /v1/cluster/daemon/<id>` on the intra-cluster port: a target leaves the map
/// by itself (it lost its last mountpath). With a cluster key, only the node itself may.
pub(super) async fn leave(
    ctx: &ProxyContext,
    plane: Plane,
    signed_by: Option<&str>,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    if plane != Plane::Intra {
        return Err(ApiError::Forbidden(
            "a node leaves the map on the intra-cluster port only".into(),
        ));
    }
    if ctx.config.intra.key.is_some() && signed_by != Some(id) {
        return Err(ApiError::Forbidden(format!(
            "only target {id:?} itself may take itself out of the map"
        )));
    }
    if !ctx.state.remove(id).await? {
        return Err(ApiError::NotFound(format!(
            "target {id:?} is not in the cluster map"
        )));
    }
    ctx.metrics.target_removed_count.inc();
    tracing::warn!(target_id = %id, "target left the cluster map (it has no mountpath left)");
    Ok(Response::new(crate::http::empty()))
}

/// Health-checks targets whose keepalives stopped; removes those that do not answer.
pub(super) async fn health_loop(ctx: Arc<ProxyContext>) {
    let every = Duration::from_millis(ctx.config.settings.check_interval_ms);
    let timeout = Duration::from_millis(ctx.config.settings.node_timeout_ms);
    loop {
        tokio::time::sleep(every).await;
        for t in ctx.state.silent_targets(timeout) {
            let url = format!("{}/v1/health", t.control_url());
            let alive = matches!(ctx.client.send(Method::GET, &url, None).await, Ok(r) if r.status.is_success());
            if alive {
                ctx.state.touch(&t.daemon_id);
            } else if ctx.state.remove(&t.daemon_id).await.unwrap_or(false) {
                ctx.metrics.target_removed_count.inc();
                tracing::warn!(target_id = %t.daemon_id, url = %t.url(), silent_for = ?timeout, "target removed from the cluster map");
            }
        }
    }
}

/// Sends the latest map and bucket list to every target after each change.
pub(super) async fn push_loop(ctx: Arc<ProxyContext>) {
    loop {
        ctx.state.changed().notified().await;
        if !ctx.state.is_primary() {
            continue;
        }
        let meta = ClusterMeta {
            smap: (*ctx.state.smap()).clone(),
            bmd: ctx.state.bmd(),
        };
        let Ok(body) = serde_json::to_vec(&meta) else {
            continue;
        };
        let pushes = meta.smap.tmap.values().map(|t| {
            let (client, body) = (ctx.client.clone(), body.clone());
            let url = format!("{}/v1/metasync", t.control_url());
            async move {
                match client.send(Method::PUT, &url, Some(body)).await {
                    Ok(r) if r.status.is_success() => {}
                    Ok(r) => tracing::warn!(%url, status = %r.status, "map push refused"),
                    Err(e) => tracing::debug!(%url, error = %e, "map push failed (keepalives will catch up)"),
                }
            }
        });
        futures_util::future::join_all(pushes).await;
    }
}
