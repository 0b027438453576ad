//! Creating, destroying and renaming a bucket on every target, undone where it half failed.

use http::{Method, Response};
use serde_json::json;

use super::ProxyContext;
use crate::cluster::Snode;
use crate::http::{empty, Body};
use crate::wire::ApiError;

use super::fanout::{ask, broadcast, failures, Outcome};

/// A rename that failed on some target is moved back everywhere (a target that timed out
/// may have done it anyway; a target takes a repeated move as done), so the bucket stays
/// readable under its old name; what could not be moved back is named, and repeating the
/// rename finishes it.
pub(super) async fn undo_rename(
    ctx: &ProxyContext,
    targets: &[Snode],
    from: &str,
    to: &str,
    failed: &[String],
) -> ApiError {
    let back = serde_json::to_vec(&json!({"action": "move-bck", "value": {"to": from}}))
        .unwrap_or_default();
    let mut stuck = Vec::new();
    for t in targets {
        let url = format!("{}/v1/buckets/{to}", t.control_url());
        match ask(ctx, t, Method::POST, &url, back.clone()).await {
            Ok(_) => {}
            // Never moved there: nothing to undo.
            Err(why) if why.contains("404") => {}
            Err(why) => stuck.push(why),
        }
    }
    let failed = failed.join("; ");
    if stuck.is_empty() {
        tracing::warn!(%from, %to, %failed, "rename failed and was undone");
        return ApiError::Upstream(format!(
            "rename ais://{from} to ais://{to} failed on {failed}; undone: the bucket is ais://{from} as before"
        ));
    }
    tracing::error!(%from, %to, %failed, stuck = %stuck.join("; "), "rename failed and could not be undone everywhere");
    ApiError::Upstream(format!(
        "rename ais://{from} to ais://{to} failed on {failed}; moving back failed on {}: repeat the rename to finish it",
        stuck.join("; ")
    ))
}

/// `move-bck`: each target moves each mountpath's tree to the new name with one rename,
/// then walks the objects to where HRW puts them under the new name (reads find them
/// meanwhile); the bucket list then has the new name, with the old one's properties.
/// Answers a job ID, as AIStore does.
pub(super) async fn rename(
    ctx: &ProxyContext,
    from: &str,
    to: &str,
    caller: &str,
) -> Result<Response<Body>, ApiError> {
    ctx.state.check_writable().await?;
    let bmd = ctx.state.bmd();
    if !bmd.buckets.contains_key(from) {
        return Err(ApiError::NoBucket(from.to_string()));
    }
    if from == to || bmd.buckets.contains_key(to) {
        return Err(ApiError::BucketExists(to.to_string()));
    }
    let targets: Vec<Snode> = ctx.state.smap().tmap.values().cloned().collect();
    let body =
        serde_json::to_vec(&json!({"action": "move-bck", "value": {"to": to}})).unwrap_or_default();
    let mut failed = Vec::new();
    for t in &targets {
        let url = format!("{}/v1/buckets/{from}", t.control_url());
        if let Err(why) = ask(ctx, t, Method::POST, &url, body.clone()).await {
            failed.push(why);
        }
    }
    if !failed.is_empty() {
        return Err(undo_rename(ctx, &targets, from, to, &failed).await);
    }
    if !ctx.state.rename_bucket(from, to).await? {
        return Err(ApiError::Conflict(format!(
            "rename ais://{from}: the bucket list changed meanwhile"
        )));
    }
    // Every target holds its part under the new name now: walk it to the owners.
    let start = serde_json::to_vec(&json!({"action": "start", "value": {"kind": "rebalance"}}))
        .unwrap_or_default();
    for t in &targets {
        let url = format!("{}/v1/daemon", t.control_url());
        if let Err(e) = ctx
            .client
            .send(Method::PUT, &url, Some(start.clone()))
            .await
        {
            tracing::warn!(target_id = %t.daemon_id, error = %e, "rename: could not start the walk (the next change will)");
        }
    }
    tracing::info!(%from, %to, %caller, "bucket renamed");
    let id = ctx.jobs.record_done("move-bck", from, Some(to), &[]);
    Ok(Response::new(crate::http::full(id)))
}

pub(super) async fn create(
    ctx: &ProxyContext,
    bucket: &str,
    caller: &str,
) -> Result<Response<Body>, ApiError> {
    ctx.state.check_writable().await?;
    if ctx.state.has_bucket(bucket) {
        return Err(ApiError::BucketExists(bucket.to_string()));
    }
    let targets: Vec<Snode> = ctx.state.smap().tmap.values().cloned().collect();
    let outcomes = broadcast(ctx, &targets, Method::POST, bucket, "create-bck", 409).await;
    let failed = failures(&outcomes);
    if !failed.is_empty() {
        let created: Vec<Snode> = outcomes
            .into_iter()
            .filter_map(|(t, o)| matches!(o, Outcome::Done).then_some(t))
            .collect();
        tracing::warn!(bucket, %caller, failed = ?failed, undo_on = created.len(), "bucket create failed: undoing it where this call made it");
        let undo = broadcast(ctx, &created, Method::DELETE, bucket, "destroy-bck", 404).await;
        for why in failures(&undo) {
            tracing::warn!(bucket, error = %why, "undo of a failed bucket create failed");
        }
        return Err(ApiError::Upstream(format!(
            "create ais://{bucket} failed on {}",
            failed.join("; ")
        )));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    match ctx.state.add_bucket(bucket, now).await {
        Ok(true) => {}
        Ok(false) => return Err(ApiError::BucketExists(bucket.to_string())),
        Err(e) => {
            // Not in the bucket list: take it off the targets again (nothing half-made).
            let undo = broadcast(ctx, &targets, Method::DELETE, bucket, "destroy-bck", 404).await;
            for why in failures(&undo) {
                tracing::warn!(bucket, error = %why, "undo of a bucket create the proxies did not take failed");
            }
            return Err(e.into());
        }
    }
    tracing::info!(bucket, %caller, "bucket created");
    Ok(Response::new(empty()))
}

pub(super) async fn destroy(
    ctx: &ProxyContext,
    bucket: &str,
    caller: &str,
) -> Result<Response<Body>, ApiError> {
    ctx.state.check_writable().await?;
    if !ctx.state.remove_bucket(bucket).await? {
        return Err(ApiError::NoBucket(bucket.to_string()));
    }
    tracing::info!(bucket, %caller, "destroying bucket");
    let targets: Vec<Snode> = ctx.state.smap().tmap.values().cloned().collect();
    let outcomes = broadcast(ctx, &targets, Method::DELETE, bucket, "destroy-bck", 404).await;
    let failed = failures(&outcomes);
    if !failed.is_empty() {
        return Err(ApiError::Upstream(format!(
            "destroy ais://{bucket} failed on {}",
            failed.join("; ")
        )));
    }
    Ok(Response::new(empty()))
}
