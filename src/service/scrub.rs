//! The target's scrub job: one bucket at a time, started through the proxy
//! (`{"action":"start","value":{"kind":"scrub","bucket":"B"}}`), progress and findings in
//! `GET /v1/daemon?what=scrub`.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use super::TargetContext;
use crate::store::ScrubCounters;

/// What `GET /v1/daemon?what=scrub` shows.
#[derive(Debug, Serialize)]
pub struct ScrubState {
    /// The bucket of the last scrub started.
    pub bucket: String,
    /// Whether it runs.
    pub running: bool,
    /// Objects read whole and checked.
    pub checked: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Damaged objects found (moved aside).
    pub damaged: u64,
    /// Objects not on their HRW mountpath.
    pub misplaced: u64,
    /// How long it took (or has run), ms.
    pub elapsed_ms: u64,
    /// Why it stopped early, if it did.
    pub error: String,
}

#[derive(Default)]
struct Run {
    bucket: String,
    counters: Arc<ScrubCounters>,
    started: Option<Instant>,
    finished_ms: Option<u64>,
    error: String,
}

/// One target's scrub.
#[derive(Default)]
pub struct Scrub {
    run: Mutex<Run>,
    job: super::walk_job::WalkJob,
}

impl Scrub {
    /// The current state.
    pub fn state(&self) -> ScrubState {
        let r = self.run.lock().unwrap_or_else(|p| p.into_inner());
        let c = &r.counters;
        ScrubState {
            bucket: r.bucket.clone(),
            running: r.started.is_some() && r.finished_ms.is_none(),
            checked: c.checked.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            damaged: c.damaged.load(Ordering::Relaxed),
            misplaced: c.misplaced.load(Ordering::Relaxed),
            elapsed_ms: r
                .finished_ms
                .unwrap_or_else(|| r.started.map_or(0, |s| s.elapsed().as_millis() as u64)),
            error: r.error.clone(),
        }
    }

    /// Starts scrubbing `bucket`, stopping a scrub that runs.
    pub fn start(ctx: &Arc<TargetContext>, bucket: String) {
        let mut r = ctx.scrub.run.lock().unwrap_or_else(|p| p.into_inner());
        let counters = Arc::new(ScrubCounters::default());
        *r = Run {
            bucket: bucket.clone(),
            counters: counters.clone(),
            started: Some(Instant::now()),
            ..Run::default()
        };
        drop(r);
        let (c, b) = (ctx.clone(), bucket.clone());
        ctx.scrub.job.restart(&ctx.jobs, "scrub", &b, |_| async move {
            tracing::info!(%bucket, "scrub: reading every object and checking it");
            let res = c.store.scrub(&bucket, &counters).await;
            let mut r = c.scrub.run.lock().unwrap_or_else(|p| p.into_inner());
            r.finished_ms = r.started.map(|s| s.elapsed().as_millis() as u64);
            if let Err(e) = &res {
                r.error = e.to_string();
            }
            drop(r);
            let s = c.scrub.state();
            tracing::info!(%bucket, checked = s.checked, bytes = s.bytes, damaged = s.damaged, misplaced = s.misplaced, took_ms = s.elapsed_ms, "scrub: done");
            res.map_err(|e| e.to_string())
        });
    }
}
