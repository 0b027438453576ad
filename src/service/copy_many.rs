//! Copying many objects as one job: a bucket (`copy-bck`, with a prefix) or a list or
//! template of names (`copy-listrange`) into another bucket, names optionally prefixed
//! (`prepend`). A lone target runs the whole job; in a cluster the proxy hands each
//! target the names it owns as `copy-listrange` and sums what the targets' jobs report.
//! Each object goes through [`copy_one`]: read here (or fetched from a previous owner),
//! stored at the destination's owner with its metadata.

use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::Value;

use super::copy::copy_one;
use super::TargetContext;
use crate::jobs::{Counts, Progress};
use crate::store::ListRequest;
use crate::wire::specs::{CopySpec, Selection};
use crate::wire::ApiError;

/// Copies in flight at once within one job.
const PARALLEL: usize = 4;
/// Names read per step of a bucket walk.
const WALK_PAGE: usize = 1000;

/// `POST /v1/buckets/SRC` `copy-bck` or `copy-listrange` on a target: starts the job and
/// answers its ID.
pub async fn start(
    ctx: &Arc<TargetContext>,
    bucket: &str,
    kind: &str,
    spec: CopySpec,
    selection: Selection,
) -> Result<String, ApiError> {
    ctx.store.require_bucket(bucket)?;
    if matches!(selection, Selection::Prefix(_)) && spec.to == bucket {
        // A walk would meet its own copies.
        return Err(ApiError::BadRequest(format!(
            "ais://{bucket}: cannot copy a bucket onto itself"
        )));
    }
    if ctx.store.require_bucket(&spec.to).is_err() {
        if ctx.config.proxy.is_some() {
            // In a cluster the proxy creates the destination everywhere first.
            return Err(ApiError::NoBucket(spec.to.clone()));
        }
        ctx.store.create_bucket(&spec.to).await?;
        tracing::info!(bucket = %spec.to, "destination bucket of a copy created");
    }
    let (ctx2, src) = (ctx.clone(), bucket.to_string());
    let id = ctx.jobs.start(kind, bucket, Some(&spec.to.clone()), move |p| async move {
        let counts = match selection {
            Selection::Names(names) => copy_names(&ctx2, &src, names, &spec, &p).await?,
            Selection::Prefix(prefix) => copy_prefix(&ctx2, &src, &prefix, &spec, &p).await?,
        };
        tracing::info!(%src, to = %spec.to, objects = counts.objects, bytes = counts.bytes, aborted = p.aborted(), "copy job done");
        Ok(Value::Null)
    });
    Ok(id)
}

/// Copies `names` of `src`; what was copied (also added to `progress` as it goes).
async fn copy_names(
    ctx: &Arc<TargetContext>,
    src: &str,
    names: Vec<String>,
    spec: &CopySpec,
    progress: &Progress,
) -> Result<Counts, String> {
    let me = ctx.node.id.clone();
    let mut total = Counts::default();
    let mut first_error = None;
    let mut copies = futures_util::stream::iter(names.into_iter().map(|name| async move {
        if progress.aborted() {
            return Ok(None);
        }
        let dst = spec.dst_name(&name).map_err(|e| e.to_string())?;
        if spec.dry_run {
            return Ok(Some(0));
        }
        copy_one(ctx, src, &name, &spec.to, &dst)
            .await
            .map(Some)
            .map_err(|e| format!("{src}/{name}: {e}"))
    }))
    .buffer_unordered(PARALLEL);
    while let Some(outcome) = copies.next().await {
        match outcome {
            Ok(Some(size)) => {
                let c = Counts {
                    objects: 1,
                    bytes: size,
                    ..Default::default()
                };
                total.add(&c);
                progress.add(&me, c);
            }
            Ok(None) => {}
            Err(e) if spec.continue_on_error => {
                tracing::warn!(error = %e, "copy: object skipped (continue on error)");
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// Copies every object of `src` under `prefix` held here, a page of names at a time.
async fn copy_prefix(
    ctx: &Arc<TargetContext>,
    src: &str,
    prefix: &str,
    spec: &CopySpec,
    progress: &Progress,
) -> Result<Counts, String> {
    let mut total = Counts::default();
    let mut after = String::new();
    loop {
        let page = ctx
            .store
            .list(
                src,
                ListRequest {
                    prefix: prefix.to_string(),
                    after: after.clone(),
                    page_size: WALK_PAGE,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        let names: Vec<String> = page.entries.into_iter().map(|e| e.name).collect();
        total.add(&copy_names(ctx, src, names, spec, progress).await?);
        if page.next_after.is_empty() || progress.aborted() {
            return Ok(total);
        }
        after = page.next_after;
    }
}
