//! Objects follow the map. When the set of active targets changes (and once after start,
//! which finishes a rebalance a crash interrupted), every target walks its buckets and
//! streams each object it holds but no longer owns to its owner, with its metadata; the
//! owner checks the data against the carried checksum, keeps a newer version if it has
//! one, and only then does the sender remove its copy (if it is still the version sent).
//! Meanwhile an owner asked for an object it does not have fetches it from the targets
//! that owned it by the kept maps ([`super::locate`]), so no client sees a 404 for an
//! object that exists, and sees 503 when a possible holder does not answer. Each object
//! moves as [`super::replica`] says.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use http::{Method, Request};
use serde::Serialize;

use super::replica::{push_copy, replica_url, Verdict, REPLICA_MTIME};
use super::TargetContext;
use crate::cluster::Snode;
use crate::http::forward::no_body;
use crate::jobs::Progress;
use crate::store::{self, ListRequest};

/// Objects moved at once by one target.
const MOVES_IN_FLIGHT: usize = 4;
/// Names read per listing page while walking.
const WALK_PAGE: usize = 1000;

/// What `GET /v1/daemon?what=rebalance` shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RebalanceState {
    /// Map version the walk follows.
    pub smap_version: u64,
    /// Whether a walk is running.
    pub running: bool,
    /// Objects sent to their owners.
    pub objects_moved: u64,
    /// Their bytes.
    pub bytes_moved: u64,
    /// Objects the owner already had in a version at least as new.
    pub objects_kept_newer: u64,
    /// Objects that could not be moved (retried by the next walk).
    pub errors: u64,
    /// How long the last finished walk took, ms.
    pub last_walk_ms: u64,
}

/// The target's rebalance: at most one walk at a time, a newer map restarting it.
#[derive(Default)]
pub struct Rebalance {
    job: super::walk_job::WalkJob,
    state: Mutex<RebalanceState>,
}

impl Rebalance {
    /// The current state.
    pub fn state(&self) -> RebalanceState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut RebalanceState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Stops a running walk (get-from-neighbor goes on; the next change or start walks
    /// again).
    pub fn stop(&self) {
        if self.job.stop("rebalance: stopped by the admin") {
            tracing::info!("rebalance: stopped by the admin");
        }
        self.update(|s| s.running = false);
    }

    /// Starts a walk for the current map, stopping one that runs for an older map.
    pub fn start(ctx: &Arc<TargetContext>) {
        ctx.cluster.mark_moved();
        let version = ctx.cluster.smap_version();
        ctx.rebalance.update(|s| {
            s.smap_version = version;
            s.running = true;
        });
        tracing::info!(
            smap_version = version,
            "rebalance: walking the mountpaths for objects another target owns"
        );
        let c = ctx.clone();
        ctx.rebalance
            .job
            .restart(&ctx.jobs, "rebalance", "", |progress| walk(c, progress));
    }
}

/// Whether the set of active targets differs between two maps.
pub fn targets_changed(old: Option<&crate::cluster::Smap>, new: &crate::cluster::Smap) -> bool {
    let ids = |m: &crate::cluster::Smap| {
        m.active_targets()
            .map(|t| t.daemon_id.clone())
            .collect::<Vec<_>>()
    };
    old.is_none_or(|o| ids(o) != ids(new))
}

/// Walks until a pass moves everything it should (a failed move, e.g. to an owner that
/// has not created the bucket yet, is retried by the next pass, with a growing pause).
async fn walk(ctx: Arc<TargetContext>, progress: Progress) -> Result<(), String> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(500);
    loop {
        let failed = pass(&ctx, &progress).await;
        if progress.aborted() {
            ctx.rebalance.update(|s| s.running = false);
            tracing::info!("rebalance: stopped (job stop)");
            return Err("rebalance: stopped".into());
        }
        if failed == 0 {
            break;
        }
        tracing::info!(failed, retry_in = ?pause, "rebalance: some objects did not move; walking again");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(30));
    }
    let ms = started.elapsed().as_millis() as u64;
    ctx.rebalance.update(|s| {
        s.running = false;
        s.last_walk_ms = ms;
    });
    let s = ctx.rebalance.state();
    tracing::info!(
        moved = s.objects_moved,
        bytes = s.bytes_moved,
        kept_newer = s.objects_kept_newer,
        errors = s.errors,
        took_ms = ms,
        "rebalance: walk done"
    );
    Ok(())
}

/// One pass over every bucket; returns how many moves failed.
async fn pass(ctx: &Arc<TargetContext>, progress: &Progress) -> u64 {
    let Some(smap) = ctx.cluster.smap() else {
        return 0;
    };
    let me = ctx.node.id.clone();
    let failed = std::sync::atomic::AtomicU64::new(0);
    for (bucket, _) in ctx.store.list_buckets() {
        let mut after = String::new();
        loop {
            let req = ListRequest {
                after: after.clone(),
                page_size: WALK_PAGE,
                ..ListRequest::default()
            };
            let page = match ctx.store.list(&bucket, req).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(%bucket, error = %e, "rebalance: cannot list");
                    break;
                }
            };
            if ctx.redundancy(&bucket).ec.is_some() {
                // Objects with pieces on other targets: each holder settles its own.
                let names = page.entries.into_iter().map(|e| e.name);
                futures_util::stream::iter(names)
                    .for_each_concurrent(MOVES_IN_FLIGHT, |name| {
                        let (bucket, failed, smap) = (bucket.clone(), &failed, &smap);
                        async move {
                            if !super::redundancy::settle(ctx, smap, &bucket, &name).await {
                                failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                    })
                    .await;
                if page.next_after.is_empty() || progress.aborted() {
                    break;
                }
                after = page.next_after;
                continue;
            }
            let moves: Vec<(Snode, String)> = page
                .entries
                .into_iter()
                .filter_map(|e| {
                    let owner = smap.owner(&bucket, &e.name)?;
                    (owner.daemon_id != me).then(|| (owner.clone(), e.name))
                })
                .collect();
            futures_util::stream::iter(moves)
                .for_each_concurrent(MOVES_IN_FLIGHT, |(owner, name)| {
                    let (bucket, failed) = (bucket.clone(), &failed);
                    async move {
                        if !move_one(ctx, &owner, &bucket, &name).await {
                            failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                })
                .await;
            if page.next_after.is_empty() || progress.aborted() {
                break;
            }
            after = page.next_after;
        }
        failed.fetch_add(
            settle_slices(ctx, &smap, &bucket, progress).await,
            std::sync::atomic::Ordering::Relaxed,
        );
        failed.fetch_add(
            carry_tombstones(ctx, &smap, &bucket).await,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    failed.into_inner()
}

/// Settles every erasure-coded slice this target holds of `bucket`'s objects; returns
/// how many could not be settled.
async fn settle_slices(
    ctx: &TargetContext,
    smap: &crate::cluster::Smap,
    bucket: &str,
    progress: &Progress,
) -> u64 {
    let failed = std::sync::atomic::AtomicU64::new(0);
    let mut after = String::new();
    loop {
        let names = match ctx.store.slices(bucket, &after, WALK_PAGE).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(%bucket, error = %e, "heal: cannot list slices");
                return 1;
            }
        };
        let last = names.last().cloned();
        let full = names.len() == WALK_PAGE;
        futures_util::stream::iter(names)
            .for_each_concurrent(MOVES_IN_FLIGHT, |name| {
                let failed = &failed;
                async move {
                    if !super::redundancy::settle_slice(ctx, smap, bucket, &name).await {
                        failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
            .await;
        match last {
            Some(l) if full && !progress.aborted() => after = l,
            _ => return failed.into_inner(),
        }
    }
}

/// Sends each deletion remembered here for an object another target owns to that
/// owner (kept here too, until it expires); returns how many could not be sent.
async fn carry_tombstones(ctx: &TargetContext, smap: &crate::cluster::Smap, bucket: &str) -> u64 {
    let mut failed = 0;
    let mut after = String::new();
    loop {
        let page = match ctx.store.tombstones(bucket, &after, WALK_PAGE).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(%bucket, error = %e, "rebalance: cannot read tombstones");
                return failed + 1;
            }
        };
        for (name, when) in &page {
            let Some(owner) = smap.owner(bucket, name) else {
                continue;
            };
            if owner.daemon_id == ctx.node.id {
                continue;
            }
            let req = Request::builder()
                .method(Method::PUT)
                .uri(replica_url(owner, bucket, name, "tomb"))
                .header(REPLICA_MTIME, *when)
                .body(no_body());
            let Ok(req) = req else { continue };
            match ctx.data.send(req).await {
                Ok(r) if r.status().is_success() => {}
                other => {
                    tracing::debug!(%bucket, object = %name, to = %owner.daemon_id, status = ?other.map(|r| r.status()), "rebalance: deletion not carried");
                    failed += 1;
                }
            }
        }
        match page.last() {
            Some((last, _)) if page.len() == WALK_PAGE => after = last.clone(),
            _ => return failed,
        }
    }
}

/// Moves one object; false if it failed.
async fn move_one(ctx: &TargetContext, owner: &Snode, bucket: &str, name: &str) -> bool {
    ctx.store.yield_to_foreground(bucket, name).await;
    match send(ctx, owner, bucket, name).await {
        Ok(Some((size, kept_newer))) => {
            ctx.metrics.reb_tx_count.inc();
            ctx.metrics.reb_tx_size.inc_by(size);
            ctx.rebalance.update(|s| {
                if kept_newer {
                    s.objects_kept_newer += 1;
                } else {
                    s.objects_moved += 1;
                    s.bytes_moved += size;
                }
            });
            true
        }
        Ok(None) => true,
        Err(e) => {
            ctx.metrics.err_reb_count.inc();
            ctx.rebalance.update(|s| s.errors += 1);
            tracing::warn!(%bucket, object = %name, to = %owner.daemon_id, error = %e, "rebalance: could not move object");
            false
        }
    }
}

/// Sends one object to `owner`; on success removes it here (if unchanged). Returns its
/// size and whether the owner kept a newer version, or `None` if it is gone already.
async fn send(
    ctx: &TargetContext,
    owner: &Snode,
    bucket: &str,
    name: &str,
) -> Result<Option<(u64, bool)>, String> {
    let reader = match ctx.store.open_object(bucket, name).await {
        Ok(r) => r,
        Err(store::Error::ObjectNotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let (size, version) = (reader.info.meta.size, reader.info.meta.version);
    let kept_newer = push_copy(ctx, owner, bucket, name, reader).await? == Verdict::KeptNewer;
    ctx.store
        .remove_if_version(bucket, name, version)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some((size, kept_newer)))
}
