//! Jobs over many objects through the proxy. Bucket copy (`copy-bck`) and multi-object
//! copy (`copy-listrange`): one job here that hands each target, a batch at a time, the
//! source names it owns (as a `copy-listrange` job on that target), waits for those jobs
//! and sums their counts. A bucket copy takes its names from the cluster-wide listing, so
//! an object still on its previous owner (rebalance in flight) is copied once, by its new
//! owner. Multi-object archive (`archive`): the shard's owner writes it, reading each
//! member from wherever it is.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Response};
use serde_json::{json, Value};

use super::ProxyContext;
use crate::cluster::Snode;
use crate::http::Body;
use crate::jobs::{Counts, Progress};
use crate::wire::lso::LsoMsg;
use crate::wire::specs::ArchiveSpec;
use crate::wire::specs::CopySpec;
use crate::wire::ActMsg;
use crate::wire::ApiError;

/// Names handed out per step.
const BATCH: usize = 1000;
/// How often a target's job is asked whether it is done.
const POLL: Duration = Duration::from_millis(100);

/// `POST /v1/buckets/SRC` with `copy-bck` or `copy-listrange`: answers the job's ID.
pub(super) async fn copy(
    ctx: &Arc<ProxyContext>,
    src: &str,
    q: &HashMap<String, String>,
    msg: ActMsg,
    caller: &str,
) -> Result<Response<Body>, ApiError> {
    if !ctx.state.has_bucket(src) {
        return Err(ApiError::NoBucket(src.to_string()));
    }
    let spec = CopySpec::parse(src, q, &msg.value)?;
    let walk = msg.action == "copy-bck";
    if walk && spec.to == src {
        return Err(ApiError::BadRequest(format!(
            "ais://{src}: cannot copy a bucket onto itself"
        )));
    }
    let names = if walk {
        None
    } else {
        Some(crate::wire::specs::listed_names(&msg.value)?)
    };
    if !ctx.state.has_bucket(&spec.to) {
        super::bucket_admin::create(ctx, &spec.to, caller).await?;
    }
    let prefix = msg.value["prefix"].as_str().unwrap_or_default().to_string();
    let (ctx2, src2) = (ctx.clone(), src.to_string());
    let id = ctx.jobs.start(
        &msg.action,
        src,
        Some(&spec.to.clone()),
        move |p| async move {
            match names {
                Some(names) => {
                    for batch in names.chunks(BATCH) {
                        if p.aborted() {
                            break;
                        }
                        copy_batch(&ctx2, &src2, batch, &spec, &p).await?;
                    }
                }
                None => walk_bucket(&ctx2, &src2, &prefix, &spec, &p).await?,
            }
            Ok(Value::Null)
        },
    );
    tracing::info!(%src, action = %msg.action, job = %id, %caller, "copy job started");
    Ok(Response::new(crate::http::full(id)))
}

/// `PUT /v1/buckets/SRC` with `archive`: the shard's owner runs the job; answers this
/// proxy's job ID, which follows that target's.
pub(super) async fn archive(
    ctx: &Arc<ProxyContext>,
    src: &str,
    msg: ActMsg,
) -> Result<Response<Body>, ApiError> {
    let bmd = ctx.state.bmd();
    if !bmd.buckets.contains_key(src) {
        return Err(ApiError::NoBucket(src.to_string()));
    }
    crate::wire::specs::listed_names(&msg.value)?;
    let spec = ArchiveSpec::parse(src, &msg.value)?;
    if !bmd.buckets.contains_key(&spec.to) {
        return Err(ApiError::NoBucket(spec.to.clone()));
    }
    let owner = ctx
        .state
        .smap()
        .owner(&spec.to, &spec.msg.name)
        .cloned()
        .ok_or_else(|| ApiError::Unavailable("no target in the cluster map".into()))?;
    let url = format!("{}/v1/buckets/{src}", owner.control_url());
    let body = serde_json::to_vec(&msg).unwrap_or_default();
    let reply = super::fanout::ask(ctx, &owner, Method::PUT, &url, body)
        .await
        .map_err(ApiError::Upstream)?;
    let target_job = String::from_utf8_lossy(&reply).trim().to_string();
    let ctx2 = ctx.clone();
    let id = ctx.jobs.start(
        "archive",
        src,
        Some(&spec.to.clone()),
        move |p| async move {
            let counts = wait_for(&ctx2, &owner, &target_job).await?;
            p.add(&owner.daemon_id, counts);
            Ok(Value::Null)
        },
    );
    Ok(Response::new(crate::http::full(id)))
}

/// Copies every object of `src` under `prefix`, a listing page at a time.
async fn walk_bucket(
    ctx: &Arc<ProxyContext>,
    src: &str,
    prefix: &str,
    spec: &CopySpec,
    p: &Progress,
) -> Result<(), String> {
    let mut token = String::new();
    loop {
        let lso = LsoMsg {
            prefix: prefix.to_string(),
            props: "name".into(),
            continuation_token: token.clone(),
            pagesize: json!(BATCH),
            ..Default::default()
        };
        let page = super::list::list_objects(ctx, src, lso)
            .await
            .map_err(|e| e.to_string())?;
        let names: Vec<String> = page.entries.into_iter().map(|e| e.name).collect();
        copy_batch(ctx, src, &names, spec, p).await?;
        if page.continuation_token.is_empty() || p.aborted() {
            return Ok(());
        }
        token = page.continuation_token;
    }
}

/// Hands each owner its share of `names` and waits for their jobs.
async fn copy_batch(
    ctx: &ProxyContext,
    src: &str,
    names: &[String],
    spec: &CopySpec,
    p: &Progress,
) -> Result<(), String> {
    let smap = ctx.state.smap();
    let mut by_owner: BTreeMap<String, (Snode, Vec<&String>)> = BTreeMap::new();
    for name in names {
        let owner = smap
            .owner(src, name)
            .cloned()
            .ok_or("no target in the cluster map")?;
        by_owner
            .entry(owner.daemon_id.clone())
            .or_insert_with(|| (owner, Vec::new()))
            .1
            .push(name);
    }
    let jobs = by_owner.into_values().map(|(t, names)| async move {
        let body = json!({"action": "copy-listrange", "value": {
            "objnames": names,
            "tobck": {"name": spec.to, "provider": "ais"},
            "prepend": spec.prepend,
            "ext": spec.ext,
            "dry_run": spec.dry_run,
            "coer": spec.continue_on_error,
        }});
        let url = format!("{}/v1/buckets/{src}", t.control_url());
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let reply = super::fanout::ask(ctx, &t, Method::POST, &url, body).await?;
        let id = String::from_utf8_lossy(&reply).trim().to_string();
        let counts = wait_for(ctx, &t, &id).await?;
        p.add(&t.daemon_id, counts);
        Ok::<(), String>(())
    });
    for outcome in futures_util::future::join_all(jobs).await {
        outcome?;
    }
    Ok(())
}

/// Polls target `t`'s job `id` until it ends; its counts, or why it failed.
async fn wait_for(ctx: &ProxyContext, t: &Snode, id: &str) -> Result<Counts, String> {
    let url = format!("{}/v1/cluster?what=qryxstats", t.control_url());
    let body = serde_json::to_vec(&json!({"ID": id})).unwrap_or_default();
    loop {
        let reply = ctx
            .client
            .send(Method::GET, &url, Some(body.clone()))
            .await
            .map_err(|e| format!("{}: {e}", t.daemon_id))?;
        if !reply.status.is_success() {
            return Err(format!("{}: job {id}: {}", t.daemon_id, reply.status));
        }
        let snaps: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        let snap = &snaps[t.daemon_id.as_str()][0];
        if snap["end-time"]
            .as_str()
            .is_some_and(|e| !e.starts_with("0001-"))
        {
            if let Some(e) = snap["abort-err"].as_str().filter(|e| !e.is_empty()) {
                return Err(format!("{}: {e}", t.daemon_id));
            }
            let n = |k: &str| snap["stats"][k].as_u64().unwrap_or(0);
            return Ok(Counts {
                objects: n("loc-objs"),
                bytes: n("loc-bytes"),
                ..Default::default()
            });
        }
        tokio::time::sleep(POLL).await;
    }
}
