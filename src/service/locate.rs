//! Where an object is: here, or, after the set of targets changed, at a target that
//! owned it before (get-from-neighbor); and deleting it everywhere it may still be, so a
//! copy moved afterwards does not bring it back.

use std::time::Duration;

use http::{Method, Request, StatusCode};

use super::redundancy::copy_holders;
use super::replica::{body_of, parse_meta, replica_url};
use super::TargetContext;
use crate::cluster::Snode;
use crate::http::forward::no_body;
use crate::store::{self, ObjectReader};
use crate::wire::ApiError;

/// Opens `bucket/object` here, or, when this target does not have it, fetches it from
/// the targets that owned it before (and keeps it). A holder that does not answer makes
/// the object 503 (it may exist there), never 404.
pub async fn open_here_or_fetch(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
) -> Result<ObjectReader, ApiError> {
    match ctx.store.open_object(bucket, object).await {
        Ok(r) => {
            // Checked only off the main copy: the common read pays nothing for it.
            if r.off_main && ctx.redundancy(bucket).mirror_copies > 1 {
                super::redundancy::note_short(ctx, bucket, object);
            }
            return Ok(r);
        }
        Err(store::Error::ObjectNotFound { .. }) if ctx.config.proxy.is_some() => {}
        // Damaged here (and moved aside): served from a copy or rebuilt from slices.
        Err(store::Error::Corrupted { .. })
            if ctx.config.proxy.is_some() && ctx.redundancy(bucket).ec.is_some() => {}
        other => return other.map_err(ApiError::from),
    }
    // Boxed: inline, this rare path's future would be copied into every GET's.
    Box::pin(fetch_from_holders(ctx, bucket, object)).await
}

/// The object is not here: not at all if it was deleted through this owner, else from a
/// previous holder (get-from-neighbor).
async fn fetch_from_holders(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
) -> Result<ObjectReader, ApiError> {
    if ctx.store.tombstone(bucket, object).await?.is_some() {
        // Deleted through this owner: a copy elsewhere is stale.
        return Err(store::Error::ObjectNotFound {
            bucket: bucket.into(),
            object: object.into(),
        }
        .into());
    }
    let mut silent = Vec::new();
    for holder in all_holders(ctx, bucket, object) {
        match fetch(ctx, &holder, bucket, object).await {
            Ok(true) => {
                ctx.metrics.gfn_count.inc();
                return ctx
                    .store
                    .open_object(bucket, object)
                    .await
                    .map_err(ApiError::from);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::debug!(%bucket, %object, holder = %holder.daemon_id, error = %e, "get-from-neighbor failed");
                silent.push(holder.daemon_id);
            }
        }
    }
    if ctx.redundancy(bucket).ec.is_some() {
        match super::ec::rebuild(ctx, bucket, object).await {
            Ok(true) => {
                return ctx
                    .store
                    .open_object(bucket, object)
                    .await
                    .map_err(ApiError::from)
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(%bucket, %object, error = %e, "EC: cannot rebuild");
                silent.push(e);
            }
        }
    }
    // A holder may have pushed it here (and dropped its copy) while we asked around.
    match ctx.store.open_object(bucket, object).await {
        Err(store::Error::ObjectNotFound { .. }) => {}
        other => return other.map_err(ApiError::from),
    }
    if silent.is_empty() {
        return Err(store::Error::ObjectNotFound {
            bucket: bucket.into(),
            object: object.into(),
        }
        .into());
    }
    Err(ApiError::Unavailable(format!(
        "ais://{bucket}/{object}: not on this target, and target(s) {} that may hold it do not answer; retry",
        silent.join(", ")
    )))
}

/// Targets that may hold `bucket/object` besides this one: those its copies go to under
/// the current map, then those that owned it under the maps before.
fn all_holders(ctx: &TargetContext, bucket: &str, object: &str) -> Vec<Snode> {
    with_previous_owners(ctx, copy_holders(ctx, bucket, object), bucket, object)
}

fn with_previous_owners(
    ctx: &TargetContext,
    mut holders: Vec<Snode>,
    bucket: &str,
    object: &str,
) -> Vec<Snode> {
    for t in ctx.cluster.holders(&ctx.node.id, bucket, object) {
        if !holders.iter().any(|h| h.daemon_id == t.daemon_id) {
            holders.push(t);
        }
    }
    holders
}

/// Fetches one object from `holder`; `Ok(false)` when it does not have it.
async fn fetch(
    ctx: &TargetContext,
    holder: &Snode,
    bucket: &str,
    object: &str,
) -> Result<bool, String> {
    let req = Request::builder()
        .method(Method::GET)
        .uri(replica_url(holder, bucket, object, "get"))
        .body(no_body())
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(5), ctx.data.send(req))
        .await
        .map_err(|_| "no answer within 5 s".to_string())?
        .map_err(|e| e.to_string())?;
    match resp.status() {
        StatusCode::OK => {}
        StatusCode::NOT_FOUND => return Ok(false),
        s => return Err(format!("{s}")),
    }
    let (meta, mtime) = parse_meta(resp.headers())?;
    match ctx
        .store
        .put_replica(bucket, object, body_of(resp.into_body()), meta, mtime)
        .await
    {
        Ok(_) | Err(store::Error::NotNewer { .. }) => Ok(true),
        Err(e) => Err(e.to_string()),
    }
}

/// How long after a change of the set of targets a DELETE also removes copies at the
/// previous owners (a walk may not have moved them yet).
const DELETE_EVERYWHERE_FOR: Duration = Duration::from_secs(600);

/// DELETE: removes the object here and, for a while after the set of targets changed,
/// wherever a previous owner still holds a copy, so a delete during rebalance is not
/// undone by a copy moved afterwards.
pub async fn delete_everywhere(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
) -> Result<(), ApiError> {
    if ctx.config.proxy.is_none() {
        return ctx
            .store
            .delete(bucket, object)
            .await
            .map_err(ApiError::from);
    }
    // Remembered before anything is deleted, so neither a copy on a target that is away
    // nor one arriving while this runs can bring it back (an arriving copy checks for
    // the mark after it lands).
    let now = crate::store::unix_now_ns();
    let marked = ctx.store.add_tombstone(bucket, object, now).await;
    if let Err(e) = &marked {
        tracing::warn!(%bucket, %object, error = %e, "cannot record the deletion");
    }
    let here = ctx.store.delete(bucket, object).await;
    let outcome = delete_at_holders(ctx, bucket, object, here).await;
    let nothing_deleted = outcome
        .as_ref()
        .is_err_and(|e| e.status() == StatusCode::NOT_FOUND);
    if !(marked.is_ok() && nothing_deleted) {
        return outcome;
    }
    // A previous owner may have moved its copy here meanwhile (and dropped its own): the
    // mark stopped that copy, so the object was there and is deleted.
    if ctx.store.stopped_a_copy(bucket, object, now).await? {
        return Ok(());
    }
    let _ = ctx.store.forget_tombstone(bucket, object, now).await;
    outcome
}

async fn delete_at_holders(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    here: store::Result<()>,
) -> Result<(), ApiError> {
    let copies = copy_holders(ctx, bucket, object);
    if copies.is_empty() && !ctx.cluster.moved_within(DELETE_EVERYWHERE_FOR) {
        return here.map_err(ApiError::from);
    }
    let mut found = match here {
        Ok(()) => true,
        Err(store::Error::ObjectNotFound { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    let mut silent = Vec::new();
    for holder in with_previous_owners(ctx, copies, bucket, object) {
        let req = Request::builder()
            .method(Method::DELETE)
            .uri(replica_url(&holder, bucket, object, "del"))
            .body(no_body());
        let Ok(req) = req else { continue };
        match tokio::time::timeout(Duration::from_secs(5), ctx.data.send(req)).await {
            Ok(Ok(r)) if r.status() == StatusCode::OK => found = true,
            Ok(Ok(r)) if r.status() == StatusCode::NOT_FOUND => {}
            _ => silent.push(holder.daemon_id),
        }
    }
    match (found, silent.is_empty()) {
        (true, _) => Ok(()),
        (false, true) => Err(store::Error::ObjectNotFound {
            bucket: bucket.into(),
            object: object.into(),
        }
        .into()),
        (false, false) => Err(ApiError::Unavailable(format!(
            "ais://{bucket}/{object}: not on this target, and target(s) {} that may hold it do not answer; retry",
            silent.join(", ")
        ))),
    }
}
