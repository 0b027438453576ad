//! Copies of an object on other targets, for buckets whose properties ask for them (EC:
//! P+1 whole copies on as many machines, see [`crate::cluster::bprops::Redundancy`]).
//! Where they go is [`crate::cluster::placement`]: the owner, then the next targets by
//! HRW on machines not used yet. A PUT is answered once every copy is in place; a copy
//! that cannot be made fails the PUT and takes the new version away again.

use std::sync::atomic::{AtomicU64, Ordering};

use http::{Method, StatusCode};

use super::ec::{ask, ask_within};
use super::replica::{push_copy, Verdict};
use super::TargetContext;
use crate::cluster::bprops::Redundancy;
use crate::cluster::placement;
use crate::cluster::{Smap, Snode};
use crate::wire::ApiError;

/// Objects placed with two pieces on one machine because the map has too few machines
/// (logged once per process; counted in `copy_shared_machine_count`).
/// How long a slice holder waits for the owner to rebuild an object.
const REBUILD_WITHIN: std::time::Duration = std::time::Duration::from_secs(600);

static SHARED_DOMAINS: AtomicU64 = AtomicU64::new(0);

impl TargetContext {
    /// What `bucket`'s properties ask for.
    pub fn redundancy(&self, bucket: &str) -> Redundancy {
        let props = self.bucket_props.read().unwrap_or_else(|p| p.into_inner());
        Redundancy::of(props.get(bucket))
    }
}

/// The targets besides this one that may hold a piece (a copy or a slice) of
/// `bucket/object` under the current map; empty for a bucket without copies or a lone
/// target.
pub fn copy_holders(ctx: &TargetContext, bucket: &str, object: &str) -> Vec<Snode> {
    let n = ctx.redundancy(bucket).holders();
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

/// Makes the pieces `bucket/object` needs on other targets (P copies, or D+P slices for
/// an object at or above `ec.objsize_limit`), once its new version is stored here. On
/// failure the new version is removed here and wherever it reached, and the PUT fails
/// with 503 naming the target that could not take it.
pub async fn protect(ctx: &TargetContext, bucket: &str, object: &str) -> Result<(), ApiError> {
    let r = ctx.redundancy(bucket);
    if r.mirror_copies > 1 {
        mirror_here(ctx, bucket, object, r.mirror_copies).await?;
    }
    if r.ec.is_none() || ctx.config.proxy.is_none() {
        return Ok(());
    }
    let Some(smap) = ctx.cluster.smap() else {
        return Ok(());
    };
    let info = ctx.store.head(bucket, object).await?;
    let sliced = r.slices_for(info.meta.size);
    let n = sliced.map_or(r.target_copies(), |e| e.data + e.parity + 1);
    let p = placement::place(&smap, bucket, object, n);
    if p.shares_domains {
        ctx.metrics.copy_shared_machine_count.inc();
    }
    if p.shares_domains && SHARED_DOMAINS.fetch_add(1, Ordering::Relaxed) == 0 {
        tracing::warn!(%bucket, pieces = n, machines = placement::domains(&smap), "the cluster has fewer machines than pieces of an object: some share a machine, whose loss loses them together");
    }
    if p.targets.len() < n {
        return Err(ApiError::Unavailable(format!(
            "ais://{bucket}/{object}: the bucket keeps {n} pieces of it on distinct targets; the cluster has {}",
            p.targets.len()
        )));
    }
    let version = info.meta.version;
    let (to, results) = match sliced {
        Some(scheme) => {
            let to: Vec<(usize, Snode)> = p
                .targets
                .iter()
                .skip(1)
                .enumerate()
                .map(|(i, t)| (i, (*t).clone()))
                .collect();
            let reader = ctx.store.open_object(bucket, object).await?;
            if reader.info.meta.version != version {
                return Ok(()); // overwritten meanwhile: that PUT protects its own version
            }
            let results = super::ec::send_slices(ctx, bucket, object, reader, scheme, &to).await;
            ctx.metrics
                .ec_slice_tx_count
                .inc_by(results.iter().filter(|r| r.is_ok()).count() as u64);
            (to.into_iter().map(|(_, t)| t).collect::<Vec<_>>(), results)
        }
        None => {
            let others: Vec<Snode> = p
                .targets
                .iter()
                .filter(|t| t.daemon_id != ctx.node.id)
                .map(|t| (*t).clone())
                .collect();
            let results = push_copies(ctx, bucket, object, version, &others).await;
            ctx.metrics
                .copy_tx_count
                .inc_by(results.iter().filter(|r| r.is_ok()).count() as u64);
            (others, results)
        }
    };
    let failed: Vec<String> = to
        .iter()
        .zip(&results)
        .filter_map(|(t, r)| r.as_ref().err().map(|e| format!("{}: {e}", t.daemon_id)))
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    ctx.metrics.err_copy_count.inc();
    // Nothing of the new version stays behind: here, and at the targets it reached.
    for (t, r) in to.iter().zip(&results) {
        if r.is_ok() {
            let _ = delete_at(ctx, t, bucket, object).await;
        }
    }
    let _ = ctx.store.remove_if_version(bucket, object, version).await;
    Err(ApiError::Unavailable(format!(
        "ais://{bucket}/{object}: not stored: {n} pieces are required and {} could not be made ({})",
        failed.len(),
        failed.join("; ")
    )))
}

/// Objects with fewer mirror copies than asked because the target has fewer mountpaths
/// (logged once per process).
static SHORT_MIRROR: AtomicU64 = AtomicU64::new(0);

/// The `n` mirror copies of `bucket/object` on this target's mountpaths; when one cannot
/// be made, the new version goes (from every mountpath) and the PUT fails.
async fn mirror_here(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    n: usize,
) -> Result<(), ApiError> {
    let version = ctx.store.head(bucket, object).await?.meta.version;
    match ctx.store.mirror(bucket, object, n).await {
        Ok(made) => {
            ctx.metrics
                .mirror_copy_count
                .inc_by(made.saturating_sub(1) as u64);
            if made < n && SHORT_MIRROR.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!(%bucket, copies = n, made, "mirror: fewer mountpaths than copies: each object has one copy per mountpath");
            }
            Ok(())
        }
        Err(e) => {
            ctx.metrics.err_copy_count.inc();
            let _ = ctx.store.remove_if_version(bucket, object, version).await;
            Err(ApiError::Unavailable(format!(
                "ais://{bucket}/{object}: not stored: {n} mirror copies are required and one could not be made: {e}"
            )))
        }
    }
}

/// Most objects remembered for [`remirror_loop`]; more are left to the resilver walk.
const SHORT_MAX: usize = 10_000;

/// A read of `bucket/object` was served from a mirror copy off its main mountpath (the
/// main copy missing or damaged): its copies are re-made soon, off the read's path.
pub fn note_short(ctx: &TargetContext, bucket: &str, object: &str) {
    let mut short = ctx.ec.short.lock().unwrap_or_else(|p| p.into_inner());
    if short.len() < SHORT_MAX {
        short.insert((bucket.to_string(), object.to_string()));
    }
}

/// Re-makes the mirror copies of objects [`note_short`] remembered, once a second.
pub async fn remirror_loop(ctx: std::sync::Arc<TargetContext>) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let batch = std::mem::take(&mut *ctx.ec.short.lock().unwrap_or_else(|p| p.into_inner()));
        for (bucket, object) in batch {
            let n = ctx.redundancy(&bucket).mirror_copies;
            match ctx.store.mirror(&bucket, &object, n).await {
                Ok(made) => {
                    tracing::info!(%bucket, %object, copies = made, "mirror: copies re-made")
                }
                Err(e) => {
                    tracing::warn!(%bucket, %object, error = %e, "mirror: copies not re-made")
                }
            }
        }
    }
}

/// Whole copies of this target's `bucket/object` (at `version`) to each of `to`.
async fn push_copies(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    version: u64,
    to: &[Snode],
) -> Vec<Result<Verdict, String>> {
    let pushes = to.iter().map(|t| async move {
        let reader = ctx
            .store
            .open_object(bucket, object)
            .await
            .map_err(|e| e.to_string())?;
        if reader.info.meta.version != version {
            return Ok(Verdict::KeptNewer); // overwritten meanwhile: that PUT copies its own
        }
        push_copy(ctx, t, bucket, object, reader).await
    });
    futures_util::future::join_all(pushes).await
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

/// Puts this target's whole copy of `bucket/object` where the map `smap` wants its
/// pieces: a replicated object's copy is kept here and given to the holders that lack it
/// (or hold an older version) when this target is one of them, else given to every
/// holder; a sliced object's goes to the owner, and every slice holder gets its slice.
/// The copy here is then removed unless this target is a holder of a whole copy. Returns
/// false when a holder could not be reached (the walk retries).
pub async fn settle(ctx: &TargetContext, smap: &Smap, bucket: &str, object: &str) -> bool {
    ctx.store.yield_to_foreground(bucket, object).await;
    let Ok(mine) = ctx.store.head(bucket, object).await else {
        return true; // gone meanwhile
    };
    let r = ctx.redundancy(bucket);
    let sliced = r.slices_for(mine.meta.size);
    let n = sliced.map_or(r.target_copies(), |e| e.data + e.parity + 1);
    let p = placement::place(smap, bucket, object, n);
    let whole = if sliced.is_some() { 1 } else { n };
    let me = ctx.node.id.as_str();
    let stays = p.targets.iter().take(whole).any(|t| t.daemon_id == me);
    let mut ok = true;
    for to in p.targets.iter().take(whole).filter(|t| t.daemon_id != me) {
        match give_copy(ctx, to, bucket, object, mine.mtime_ns).await {
            Given::Deleted => {
                // Deleted while this copy was away: it goes, and goes nowhere.
                let _ = ctx
                    .store
                    .remove_if_version(bucket, object, mine.meta.version)
                    .await;
                return true;
            }
            Given::Failed => ok = false,
            Given::Has => {}
        }
    }
    if let Some(scheme) = sliced {
        ok &= super::ec::ensure_slices(ctx, smap, bucket, object, scheme).await;
    }
    if !stays && ok {
        let _ = ctx
            .store
            .remove_if_version(bucket, object, mine.meta.version)
            .await;
    }
    ok
}

/// What giving a whole copy to a holder came to.
enum Given {
    /// It has this version or a newer one now.
    Has,
    /// It deleted the object after this copy was written.
    Deleted,
    /// It did not answer or could not take it.
    Failed,
}

/// Gives this target's copy of `bucket/object` (modified at `mtime_ns`) to `to` unless
/// it has one at least as new.
async fn give_copy(
    ctx: &TargetContext,
    to: &Snode,
    bucket: &str,
    object: &str,
    mtime_ns: i64,
) -> Given {
    match state_at(ctx, to, bucket, object).await {
        Ok(Held::Deleted(at)) if at > mtime_ns => return Given::Deleted,
        Ok(Held::Copy(theirs)) if theirs >= mtime_ns => return Given::Has,
        Ok(_) => {}
        Err(e) => {
            tracing::debug!(%bucket, %object, to = %to.daemon_id, error = %e, "heal: holder does not answer");
            return Given::Failed;
        }
    }
    let Ok(reader) = ctx.store.open_object(bucket, object).await else {
        return Given::Has; // gone meanwhile
    };
    let size = reader.info.meta.size;
    match push_copy(ctx, to, bucket, object, reader).await {
        Ok(_) => {
            ctx.metrics.heal_degraded_count.inc();
            ctx.metrics.copy_tx_count.inc();
            ctx.metrics.reb_tx_count.inc();
            ctx.metrics.reb_tx_size.inc_by(size);
            Given::Has
        }
        Err(e) => {
            tracing::warn!(%bucket, %object, to = %to.daemon_id, error = %e, "heal: could not give a copy");
            Given::Failed
        }
    }
}

/// Settles this target's slice of `bucket/object` under `smap` (the heal walk over
/// `%ec`). Stale slices (the object deleted or overwritten since, EC turned off) go. When
/// the owner lacks the object it is asked to rebuild it (or, when this target is the
/// owner, it is rebuilt here) and to give out its slices again. A slice of a target no
/// longer among the holders goes once its rightful holder has it.
pub async fn settle_slice(ctx: &TargetContext, smap: &Smap, bucket: &str, object: &str) -> bool {
    ctx.store.yield_to_foreground(bucket, object).await;
    let Ok(Some(mine)) = ctx.store.slice_info(bucket, object).await else {
        return true;
    };
    let drop_mine = || async {
        let _ = ctx
            .store
            .remove_slice(bucket, object, Some(mine.object.version))
            .await;
        true
    };
    let Some(ec) = ctx.redundancy(bucket).slices_for(mine.object.size) else {
        return drop_mine().await;
    };
    let p = placement::place(smap, bucket, object, ec.data + ec.parity + 1);
    let Some(owner) = p.targets.first() else {
        return true;
    };
    let me = ctx.node.id.as_str();
    if owner.daemon_id == me {
        match ctx.store.head(bucket, object).await {
            Ok(whole) if whole.mtime_ns >= mine.mtime_ns => {}
            _ => match super::ec::rebuild(ctx, bucket, object).await {
                Ok(true) => {}
                Ok(false) => return true, // fewer than D slices anywhere
                Err(_) => return false,
            },
        }
        if !super::ec::ensure_slices(ctx, smap, bucket, object, ec).await {
            return false;
        }
        return drop_mine().await;
    }
    match state_at(ctx, owner, bucket, object).await {
        Ok(Held::Deleted(at)) if at >= mine.mtime_ns => drop_mine().await,
        Ok(Held::Copy(m)) if m > mine.mtime_ns => drop_mine().await,
        Ok(Held::Copy(_)) => {
            if p.targets.iter().any(|t| t.daemon_id == me) {
                return true; // a holder still: the owner gives it the right slice
            }
            let Some(rightful) = p.targets.get(1 + mine.index as usize) else {
                return true;
            };
            match super::ec::slice_at(ctx, rightful, bucket, object).await {
                Ok(Some(s))
                    if (s.mtime_ns, s.object.version, s.index)
                        == (mine.mtime_ns, mine.object.version, mine.index) =>
                {
                    drop_mine().await
                }
                _ => true, // kept until a later walk finds it given
            }
        }
        // A rebuild reads D slices of the whole object: minutes for the largest.
        Ok(_) => match ask_within(
            ctx,
            owner,
            (Method::POST, "restore"),
            bucket,
            object,
            REBUILD_WITHIN,
        )
        .await
        {
            Ok(r) => r.status().is_success() || r.status() == StatusCode::NOT_FOUND,
            Err(_) => false,
        },
        Err(_) => false,
    }
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
