//! Copies of an object on other targets, for buckets whose properties ask for them (EC:
//! P+1 whole copies on as many machines, see [`crate::cluster::bprops::Redundancy`]).
//! Where they go is [`crate::cluster::placement`]: the owner, then the next targets by
//! HRW on machines not used yet. A PUT is answered once every copy is in place; a copy
//! that cannot be made fails the PUT and takes the new version away again.

use std::sync::atomic::{AtomicU64, Ordering};

use http::{Method, Request, StatusCode};

use super::replica::{push_copy, replica_url};
use super::TargetContext;
use crate::cluster::bprops::Redundancy;
use crate::cluster::placement;
use crate::cluster::{Smap, Snode};
use crate::http::forward::no_body;
use crate::wire::ApiError;

/// Objects placed with two pieces on one machine because the map has too few machines
/// (logged once per process; counted in `copy_shared_machine_count`).
static SHARED_DOMAINS: AtomicU64 = AtomicU64::new(0);

impl TargetContext {
    /// What `bucket`'s properties ask for.
    pub fn redundancy(&self, bucket: &str) -> Redundancy {
        let props = self.bucket_props.read().unwrap_or_else(|p| p.into_inner());
        Redundancy::of(props.get(bucket))
    }
}

/// The targets besides this one that hold (or should hold) a copy of `bucket/object`
/// under the current map; empty for a bucket without copies or a lone target.
pub fn copy_holders(ctx: &TargetContext, bucket: &str, object: &str) -> Vec<Snode> {
    let n = ctx.redundancy(bucket).target_copies();
    let Some(smap) = ctx.cluster.smap().filter(|_| n > 1) else {
        return Vec::new();
    };
    let p = placement::place(&smap, bucket, object, n);
    p.targets
        .into_iter()
        .filter(|t| t.daemon_id != ctx.node.id)
        .cloned()
        .collect()
}

/// Makes the copies `bucket/object` needs on other targets, once its new version is
/// stored here. On failure the new version is removed here and wherever it reached, and
/// the PUT fails with 503 naming the target that could not take it.
pub async fn protect(ctx: &TargetContext, bucket: &str, object: &str) -> Result<(), ApiError> {
    let n = ctx.redundancy(bucket).target_copies();
    if n <= 1 || ctx.config.proxy.is_none() {
        return Ok(());
    }
    let Some(smap) = ctx.cluster.smap() else {
        return Ok(());
    };
    let p = placement::place(&smap, bucket, object, n);
    if p.shares_domains {
        ctx.metrics.copy_shared_machine_count.inc();
    }
    if p.shares_domains && SHARED_DOMAINS.fetch_add(1, Ordering::Relaxed) == 0 {
        tracing::warn!(%bucket, copies = n, machines = placement::domains(&smap), "the cluster has fewer machines than copies: some copies share a machine, whose loss loses them together");
    }
    if p.targets.len() < n {
        return Err(ApiError::Unavailable(format!(
            "ais://{bucket}/{object}: the bucket keeps {n} copies on distinct targets; the cluster has {}",
            p.targets.len()
        )));
    }
    let others: Vec<Snode> = p
        .targets
        .iter()
        .filter(|t| t.daemon_id != ctx.node.id)
        .map(|t| (*t).clone())
        .collect();
    let version = ctx.store.head(bucket, object).await?.meta.version;
    let pushes = others.iter().map(|to| async move {
        let reader = ctx
            .store
            .open_object(bucket, object)
            .await
            .map_err(|e| e.to_string())?;
        if reader.info.meta.version != version {
            return Ok(()); // overwritten meanwhile: that PUT copies its own version
        }
        push_copy(ctx, to, bucket, object, reader).await.map(|_| ())
    });
    let results = futures_util::future::join_all(pushes).await;
    let failed: Vec<String> = others
        .iter()
        .zip(&results)
        .filter_map(|(t, r)| r.as_ref().err().map(|e| format!("{}: {e}", t.daemon_id)))
        .collect();
    let made = results.iter().filter(|r| r.is_ok()).count();
    ctx.metrics.copy_tx_count.inc_by(made as u64);
    if failed.is_empty() {
        return Ok(());
    }
    ctx.metrics.err_copy_count.inc();
    // Nothing of the new version stays behind: here, and at the targets it reached.
    for (t, r) in others.iter().zip(&results) {
        if r.is_ok() {
            let _ = delete_at(ctx, t, bucket, object).await;
        }
    }
    let _ = ctx.store.remove_if_version(bucket, object, version).await;
    Err(ApiError::Unavailable(format!(
        "ais://{bucket}/{object}: not stored: {n} copies are required and {} could not be made ({})",
        failed.len(),
        failed.join("; ")
    )))
}

/// `DELETE ?ais_replica=del` at `node` (a missing copy is fine).
async fn delete_at(
    ctx: &TargetContext,
    node: &Snode,
    bucket: &str,
    object: &str,
) -> Result<(), String> {
    let resp = ask(ctx, node, Method::DELETE, bucket, object, "del").await?;
    match resp.status() {
        s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
        s => Err(s.to_string()),
    }
}

/// Puts this target's copy of `bucket/object` where the map `smap` wants the `n` copies:
/// kept here and given to the holders that lack it (or hold an older version) when this
/// target is one of them; else given to every holder, then removed here. Returns false
/// when a holder could not be reached (the walk retries).
pub async fn settle(
    ctx: &TargetContext,
    smap: &Smap,
    bucket: &str,
    object: &str,
    n: usize,
) -> bool {
    ctx.store.yield_to_foreground(bucket, object).await;
    let p = placement::place(smap, bucket, object, n);
    let mine = match ctx.store.head(bucket, object).await {
        Ok(info) => info,
        Err(_) => return true, // gone meanwhile
    };
    let stays = p.targets.iter().any(|t| t.daemon_id == ctx.node.id);
    let mut ok = true;
    for to in p.targets.iter().filter(|t| t.daemon_id != ctx.node.id) {
        match state_at(ctx, to, bucket, object).await {
            Ok(Held::Deleted(at)) if at > mine.mtime_ns => {
                // Deleted while this copy was away: it goes, and goes nowhere.
                let _ = ctx
                    .store
                    .remove_if_version(bucket, object, mine.meta.version)
                    .await;
                return true;
            }
            Ok(Held::Copy(theirs)) if theirs >= mine.mtime_ns => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(%bucket, %object, to = %to.daemon_id, error = %e, "heal: holder does not answer");
                ok = false;
                continue;
            }
        }
        let reader = match ctx.store.open_object(bucket, object).await {
            Ok(r) => r,
            Err(_) => return true,
        };
        let size = reader.info.meta.size;
        match push_copy(ctx, to, bucket, object, reader).await {
            Ok(_) => {
                ctx.metrics.copy_tx_count.inc();
                ctx.metrics.reb_tx_count.inc();
                ctx.metrics.reb_tx_size.inc_by(size);
            }
            Err(e) => {
                tracing::warn!(%bucket, %object, to = %to.daemon_id, error = %e, "heal: could not give a copy");
                ok = false;
            }
        }
    }
    if !stays && ok {
        let _ = ctx
            .store
            .remove_if_version(bucket, object, mine.meta.version)
            .await;
    }
    ok
}

/// What a holder has of an object.
enum Held {
    /// A copy, modified at (unix ns).
    Copy(i64),
    /// A deletion, at (unix ns).
    Deleted(i64),
    /// Nothing.
    Nothing,
}

/// What `node` holds of `bucket/object`.
async fn state_at(
    ctx: &TargetContext,
    node: &Snode,
    bucket: &str,
    object: &str,
) -> Result<Held, String> {
    let resp = ask(ctx, node, Method::HEAD, bucket, object, "has").await?;
    let when = || {
        resp.headers()
            .get(&super::replica::REPLICA_MTIME)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    match resp.status() {
        StatusCode::NOT_FOUND => Ok(Held::Nothing),
        StatusCode::GONE => Ok(Held::Deleted(when())),
        StatusCode::OK => Ok(Held::Copy(when())),
        s => Err(s.to_string()),
    }
}

/// One bodiless replica call (`?ais_replica=kind`) to `node`, answered within 5 s.
async fn ask(
    ctx: &TargetContext,
    node: &Snode,
    method: Method,
    bucket: &str,
    object: &str,
    kind: &str,
) -> Result<http::Response<hyper::body::Incoming>, String> {
    let req = Request::builder()
        .method(method)
        .uri(replica_url(node, bucket, object, kind))
        .body(no_body())
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(std::time::Duration::from_secs(5), ctx.data.send(req))
        .await
        .map_err(|_| "no answer within 5 s".to_string())?
        .map_err(|e| e.to_string())
}
