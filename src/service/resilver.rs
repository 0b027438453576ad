//! The target's resilver job: at most one at a time, a newer mountpath change restarting
//! it. Passes repeat (with a growing pause) until every object sits on the mountpath HRW
//! picks; then mountpaths that were being disabled or detached finish leaving.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::TargetContext;
use crate::jobs::Progress;
use crate::store::ResilverCounters;

/// What `GET /v1/daemon?what=resilver` shows.
#[derive(Debug, Serialize)]
pub struct ResilverState {
    /// Whether a resilver is running.
    pub running: bool,
    /// Objects moved to their HRW mountpath (since start).
    pub objects_moved: u64,
    /// Their bytes.
    pub bytes_moved: u64,
    /// Moves that failed (retried by the next pass).
    pub errors: u64,
    /// Resilvers finished since start.
    pub finished: u64,
    /// How long the last finished one took, ms.
    pub last_ms: u64,
}

/// One target's resilver.
#[derive(Default)]
pub struct Resilver {
    job: super::walk_job::WalkJob,
    counters: Arc<ResilverCounters>,
    running: AtomicBool,
    finished: AtomicU64,
    last_ms: AtomicU64,
}

impl Resilver {
    /// The current state.
    pub fn state(&self) -> ResilverState {
        ResilverState {
            running: self.running.load(Ordering::Acquire),
            objects_moved: self.counters.objects.load(Ordering::Relaxed),
            bytes_moved: self.counters.bytes.load(Ordering::Relaxed),
            errors: self.counters.errors.load(Ordering::Relaxed),
            finished: self.finished.load(Ordering::Relaxed),
            last_ms: self.last_ms.load(Ordering::Relaxed),
        }
    }

    /// Starts a resilver, stopping one that runs.
    pub fn start(ctx: &Arc<TargetContext>) {
        ctx.resilver.running.store(true, Ordering::Release);
        tracing::info!("resilver: moving objects to the mountpaths HRW picks now");
        let c = ctx.clone();
        ctx.resilver
            .job
            .restart(&ctx.jobs, "resilver", "", |progress| run(c, progress));
    }
}

async fn run(ctx: Arc<TargetContext>, progress: Progress) -> Result<(), String> {
    let started = Instant::now();
    let me = &ctx.resilver;
    let mut pause = Duration::from_millis(500);
    let mps = ctx.store.mountpaths();
    let walked = loop {
        // Only mountpaths that were leaving when a clean pass began have been emptied.
        let leaving: Vec<_> = mps
            .current()
            .leaving
            .iter()
            .map(|(m, w)| (m.path.clone(), *w))
            .collect();
        // Ownership by the map as it is now (a lone target owns everything).
        let smap = ctx.cluster.smap();
        let me_id = ctx.node.id.clone();
        let c = ctx.clone();
        let ours = move |bucket: &str, name: &str| {
            let owned = smap
                .as_ref()
                .and_then(|m| m.owner(bucket, name))
                .is_none_or(|o| o.daemon_id == me_id);
            if owned {
                c.redundancy(bucket).mirror_copies.max(1)
            } else {
                0
            }
        };
        let failed = ctx.store.resilver_pass(&me.counters, &ours).await;
        if progress.aborted() {
            me.running.store(false, Ordering::Release);
            return Err("resilver: stopped".into());
        }
        if failed == 0 {
            break leaving;
        }
        tracing::info!(failed, retry_in = ?pause, "resilver: some objects did not move; walking again");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(30));
    };
    let left = !walked.is_empty();
    for (path, why) in walked {
        match mps.finish_leaving(&path) {
            Ok(_) => {
                tracing::info!(mountpath = %path.display(), ?why, "resilver: objects moved off; mountpath left")
            }
            Err(e) => {
                tracing::debug!(mountpath = %path.display(), error = %e, "resilver: mountpath no longer leaving")
            }
        }
    }
    if left {
        super::size_buffer_budget(&ctx); // detached ones are gone now
    }
    let ms = started.elapsed().as_millis() as u64;
    me.last_ms.store(ms, Ordering::Relaxed);
    me.finished.fetch_add(1, Ordering::Relaxed);
    me.running.store(false, Ordering::Release);
    let s = me.state();
    tracing::info!(
        moved = s.objects_moved,
        bytes = s.bytes_moved,
        errors = s.errors,
        took_ms = ms,
        "resilver: done"
    );
    Ok(())
}
