//! Store cleanup (AIStore's `cleanup-store` job, shown as "cleanup"): multipart uploads and
//! appends left alone longer than `s3_upload_max_age_secs`, and deletion marks older than
//! `tombstone_ttl_secs`, removed. The target runs it hourly (more often when the age
//! limit is shorter) and on demand, when the proxy starts the job.

use std::sync::Arc;
use std::time::Duration;

use super::TargetContext;
use crate::store::ObjectStore;

/// The job kind, as AIStore names it.
pub const KIND: &str = crate::jobs::CLEANUP_STORE;

/// Runs every sweep once; how many uploads, appends and marks were removed.
pub async fn run(ctx: &Arc<TargetContext>) -> usize {
    let max_age = max_age(ctx);
    let ttl = Duration::from_secs(ctx.config.settings.tombstone_ttl_secs.max(1));
    sweep(
        ctx,
        ObjectStore::sweep_uploads,
        max_age,
        "removed abandoned multipart uploads",
    )
    .await
        + sweep(
            ctx,
            ObjectStore::sweep_appends,
            max_age,
            "removed abandoned appends",
        )
        .await
        + sweep(
            ctx,
            ObjectStore::expire_tombstones,
            ttl,
            "forgot deletions older than tombstone_ttl_secs",
        )
        .await
}

/// Runs [`run`] hourly, or every `s3_upload_max_age_secs` when that is shorter.
pub async fn every_hour(ctx: Arc<TargetContext>) {
    let every = max_age(&ctx).min(Duration::from_secs(3600));
    loop {
        tokio::time::sleep(every).await;
        run(&ctx).await;
    }
}

fn max_age(ctx: &TargetContext) -> Duration {
    Duration::from_secs(ctx.config.settings.s3_upload_max_age_secs.max(1))
}

/// Runs one sweep of the store on a blocking thread and logs what it removed.
async fn sweep(
    ctx: &Arc<TargetContext>,
    sweep: fn(&ObjectStore, Duration) -> usize,
    age: Duration,
    what: &'static str,
) -> usize {
    let c = ctx.clone();
    let removed = tokio::task::spawn_blocking(move || sweep(&c.store, age))
        .await
        .unwrap_or(0);
    if removed > 0 {
        tracing::info!(removed, "{what}");
    }
    removed
}
