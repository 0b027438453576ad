//! A bucket's redundancy changed (its props came with a new bucket list): every target
//! walks the bucket and brings what it holds to the new props, as AIStore's jobs do
//! (`make-n-copies` for `mirror`, `ec-encode` for `ec`, listed under those kinds):
//! mirror copies made or removed on its own mountpaths, copies and slices given to (or
//! taken back from) other targets, slices of a bucket no longer coded removed.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::TargetContext;
use crate::cluster::bprops::Redundancy;
use crate::jobs::{Counts, Progress};
use crate::store::ListRequest;

/// Names read per listing page.
const PAGE: usize = 1000;

/// Starts a walk for each bucket whose redundancy differs between `old` and `new`.
pub fn start_on_change(
    ctx: &Arc<TargetContext>,
    old: &BTreeMap<String, Value>,
    new: &BTreeMap<String, Value>,
) {
    for (bucket, props) in new {
        let (was, now) = (Redundancy::of(old.get(bucket)), Redundancy::of(Some(props)));
        let mirror = was.mirror_copies != now.mirror_copies;
        let ec = was.ec != now.ec;
        if !mirror && !ec {
            continue;
        }
        let kind = if ec { "ec-encode" } else { "make-n-copies" };
        let (c, b) = (ctx.clone(), bucket.clone());
        let id = ctx.jobs.start(kind, bucket, None, move |p| async move {
            walk(&c, &b, mirror.then_some(now.mirror_copies), ec, &p).await?;
            Ok(Value::Null)
        });
        tracing::info!(%bucket, kind, job = %id, "bucket redundancy changed: walking its objects");
    }
}

async fn walk(
    ctx: &Arc<TargetContext>,
    bucket: &str,
    copies: Option<usize>,
    ec: bool,
    p: &Progress,
) -> Result<(), String> {
    let smap = ctx.cluster.smap();
    let me = ctx.node.id.clone();
    let mut failed = 0u64;
    let mut after = String::new();
    loop {
        let req = ListRequest {
            after: after.clone(),
            page_size: PAGE,
            ..ListRequest::default()
        };
        let page = ctx
            .store
            .list(bucket, req)
            .await
            .map_err(|e| e.to_string())?;
        for e in &page.entries {
            if p.aborted() {
                return Err("stopped".into());
            }
            let owned = smap
                .as_deref()
                .and_then(|m| m.owner(bucket, &e.name))
                .is_none_or(|o| o.daemon_id == me);
            let mut done = false;
            if let (Some(n), true) = (copies, owned) {
                ctx.store.yield_to_foreground(bucket, &e.name).await;
                match ctx.store.mirror(bucket, &e.name, n).await {
                    Ok(_) => done = true,
                    Err(err) => {
                        tracing::warn!(%bucket, object = %e.name, error = %err, "make-n-copies: object not mirrored");
                        failed += 1;
                    }
                }
            }
            if let (true, Some(smap)) = (ec, smap.as_deref()) {
                if super::redundancy::settle(ctx, smap, bucket, &e.name).await {
                    done = true;
                } else {
                    failed += 1;
                }
            }
            if done {
                p.add(
                    &me,
                    Counts {
                        objects: 1,
                        ..Counts::default()
                    },
                );
            }
        }
        if page.next_after.is_empty() {
            break;
        }
        after = page.next_after;
    }
    if let (true, Some(smap)) = (ec, smap.as_deref()) {
        let mut after = String::new();
        loop {
            let names = ctx
                .store
                .slices(bucket, &after, PAGE)
                .await
                .map_err(|e| e.to_string())?;
            for name in &names {
                if !super::redundancy::settle_slice(ctx, smap, bucket, name).await {
                    failed += 1;
                }
            }
            match names.last() {
                Some(last) if names.len() == PAGE => after = last.clone(),
                _ => break,
            }
        }
    }
    if failed > 0 {
        return Err(format!(
            "{failed} objects of ais://{bucket} not brought to its redundancy (the next map change retries)"
        ));
    }
    Ok(())
}
