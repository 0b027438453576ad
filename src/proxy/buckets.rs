//! Bucket requests through the proxy: the native API's `/v1/buckets` dispatched by method
//! and action, each bucket checked against the caller's rights; create, destroy and rename
//! are in [`super::bucket_admin`], listing in [`super::list`].

use std::collections::BTreeMap;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use serde_json::json;

use super::bucket_admin::{create, destroy, rename};
use super::fanout::ask;
use super::list::list_objects;
use super::ProxyContext;
use crate::auth::ace;
use crate::client_auth::destination_need;
use crate::cluster::{bprops, Snode};
use crate::http::{empty, Body};
use crate::names::validate_bucket;
use crate::store::BucketUsage;
use crate::wire::bucket_op::BucketOp;
use crate::wire::json_response;
use crate::wire::lso::{page_response, LsoMsg};
use crate::wire::summary;
use crate::wire::ActMsg;
use crate::wire::ApiError;

/// `GET /v1/buckets`.
pub(super) fn list_buckets(
    ctx: &ProxyContext,
    req: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::GET {
        return Err(ApiError::MethodNotAllowed(req.method().clone()));
    }
    let list: Vec<_> = ctx
        .state
        .bmd()
        .buckets
        .keys()
        .map(|name| json!({"name": name, "provider": "ais", "namespace": {"uuid": "", "name": ""}}))
        .collect();
    Ok(json_response(&list))
}

/// Refuses unless the client (if it came through the public gate) has `need` on `bucket`.
pub(super) fn may(
    ctx: &ProxyContext,
    who: &Option<crate::client_auth::Principal>,
    bucket: &str,
    need: u64,
    what: &str,
) -> Result<(), ApiError> {
    let uuid = ctx.state.smap().uuid.clone();
    crate::client_auth::authorize(who.as_ref(), &uuid, Some(bucket), need, what)
        .map_err(ApiError::from)
}

/// `/v1/buckets/<bucket>`: parsed once into a [`BucketOp`], each bucket it touches checked
/// against the caller's rights, then served across the cluster.
pub(super) async fn dispatch(
    ctx: &std::sync::Arc<ProxyContext>,
    req: Request<Incoming>,
    bucket: String,
) -> Result<Response<Body>, ApiError> {
    validate_bucket(&bucket)?;
    let (op, asked, msg) = crate::wire::bucket_op::read(req, &bucket).await?;
    let (who, q) = (&asked.who, &asked.query);
    match op {
        BucketOp::Create => create_with_props(ctx, &bucket, &msg, &asked.caller).await,
        BucketOp::Rename => {
            let to = crate::wire::specs::move_destination(q, &msg.value)?;
            may(ctx, who, &bucket, ace::DESTROY_BUCKET, "rename it")?;
            let need = destination_need("move-bck", false);
            may(ctx, who, &to, need, "rename into it")?;
            rename(ctx, &bucket, &to, &asked.caller).await
        }
        BucketOp::Copy { .. } => {
            let to = crate::wire::specs::CopySpec::parse(&bucket, q, &msg.value)?.to;
            let need = destination_need(&msg.action, ctx.state.has_bucket(&to));
            may(ctx, who, &bucket, ace::GET, "copy from it")?;
            may(ctx, who, &to, need, "copy into it")?;
            super::multi_object::copy(ctx, &bucket, q, msg, &asked.caller).await
        }
        BucketOp::Archive => {
            let to = crate::wire::specs::ArchiveSpec::parse(&bucket, &msg.value)?.to;
            may(ctx, who, &bucket, ace::GET, "archive from it")?;
            may(ctx, who, &to, ace::PUT, "archive into it")?;
            super::multi_object::archive(ctx, &bucket, msg).await
        }
        BucketOp::SetProps => set_props(ctx, &bucket, &msg, &asked.query).await,
        BucketOp::DeleteListed => delete_listed(ctx, &bucket, &msg.value).await,
        BucketOp::Destroy => destroy(ctx, &bucket, &asked.caller).await,
        BucketOp::Head => {
            let created = *ctx
                .state
                .bmd()
                .buckets
                .get(&bucket)
                .ok_or_else(|| ApiError::NoBucket(bucket.clone()))?;
            let props = bprops::for_head(ctx.state.bmd().props.get(&bucket), created);
            let mut q = q.clone();
            if let Some(prefix) = &asked.path_prefix {
                q.insert("prefix".into(), prefix.clone());
            }
            let job = cluster_usage_job(ctx, &bucket);
            summary::answer_head(&ctx.jobs, &bucket, &q, props.to_string(), job)
        }
        BucketOp::Summary => {
            if !ctx.state.bmd().buckets.contains_key(&bucket) {
                return Err(ApiError::NoBucket(bucket));
            }
            let job = cluster_usage_job(ctx, &bucket);
            summary::answer_get(&ctx.jobs, &bucket, &msg.value, job)
        }
        BucketOp::List => {
            let lso = LsoMsg::from_value(msg.value)?;
            let page = list_objects(ctx, &bucket, lso).await?;
            ctx.metrics.lst_count.inc();
            page_response(&page, asked.msgpack)
        }
    }
}

/// `create-bck`: properties given at creation are checked before anything is created.
async fn create_with_props(
    ctx: &ProxyContext,
    bucket: &str,
    msg: &ActMsg,
    caller: &str,
) -> Result<Response<Body>, ApiError> {
    let props = match &msg.value {
        serde_json::Value::Object(m) if !m.is_empty() => Some(
            bprops::apply(&bprops::defaults(), &msg.value)
                .and_then(|p| {
                    let targets = ctx.state.smap_now().active_targets().count();
                    bprops::check_redundancy_change(&bprops::defaults(), &p, targets, false)?;
                    Ok(p)
                })
                .map_err(|e| ApiError::BadRequest(format!("ais://{bucket}: {e}")))?,
        ),
        _ => None,
    };
    let resp = create(ctx, bucket, caller).await?;
    if let Some(p) = props {
        ctx.state.set_bucket_props(bucket, p).await?;
    }
    Ok(resp)
}

/// Bucket properties: kept in the proxy's bucket list, which reaches every target.
async fn set_props(
    ctx: &ProxyContext,
    bucket: &str,
    msg: &ActMsg,
    query: &std::collections::HashMap<String, String>,
) -> Result<Response<Body>, ApiError> {
    ctx.state.check_writable().await?;
    let bmd = ctx.state.bmd();
    if !bmd.buckets.contains_key(bucket) {
        return Err(ApiError::NoBucket(bucket.to_string()));
    }
    let current = bmd
        .props
        .get(bucket)
        .cloned()
        .unwrap_or_else(bprops::defaults);
    let next = bprops::after_action(&current, &msg.action, &msg.value)
        .and_then(|next| {
            let targets = ctx.state.smap_now().active_targets().count();
            let force = query.get("force").is_some_and(|f| f == "true");
            bprops::check_redundancy_change(&current, &next, targets, force)?;
            Ok(next)
        })
        .map_err(|e| ApiError::BadRequest(format!("ais://{bucket}: {e}")))?;
    ctx.state.set_bucket_props(bucket, next).await?;
    tracing::info!(%bucket, action = %msg.action, "bucket properties changed");
    Ok(Response::new(empty()))
}

/// A summary job over the cluster: every target's usage of `bucket`, summed.
fn cluster_usage_job(
    ctx: &ProxyContext,
    bucket: &str,
) -> impl FnOnce(String) -> futures_util::future::BoxFuture<'static, Result<BucketUsage, String>> {
    let (client, targets) = (
        ctx.client.clone(),
        ctx.state.smap().tmap.values().cloned().collect::<Vec<_>>(),
    );
    let bucket = bucket.to_string();
    move |prefix| {
        Box::pin(async move {
            let body =
                serde_json::to_vec(&json!({"action": "summary-bck", "value": {"prefix": prefix}}))
                    .unwrap_or_default();
            let asks = targets.iter().map(|t| {
                // Bucket names are validated: nothing to encode.
                let url = format!("{}/v1/buckets/{bucket}?ais_local=summary", t.control_url());
                let (client, body) = (client.clone(), body.clone());
                async move {
                    let r = client
                        .send(Method::GET, &url, Some(body))
                        .await
                        .map_err(|e| format!("{}: {e}", t.daemon_id))?;
                    if !r.status.is_success() {
                        return Err(format!("{}: {}", t.daemon_id, r.status));
                    }
                    serde_json::from_slice::<BucketUsage>(&r.body)
                        .map_err(|e| format!("{}: {e}", t.daemon_id))
                }
            });
            let mut total = BucketUsage::default();
            for part in futures_util::future::join_all(asks).await {
                total.merge(&part?);
            }
            Ok(total)
        })
    }
}

/// `delete-listrange`: each listed (or templated) object deleted at its owner, which also
/// removes copies a previous owner still holds. Answers a job ID, as AIStore does; the
/// work is done when the answer comes.
async fn delete_listed(
    ctx: &ProxyContext,
    bucket: &str,
    value: &serde_json::Value,
) -> Result<Response<Body>, ApiError> {
    if !ctx.state.bmd().buckets.contains_key(bucket) {
        return Err(ApiError::NoBucket(bucket.to_string()));
    }
    let names = crate::wire::specs::listed_names(value)?;
    let smap = ctx.state.smap();
    let mut by_owner: BTreeMap<String, (Snode, Vec<String>)> = BTreeMap::new();
    for name in names {
        let owner = smap
            .owner(bucket, &name)
            .cloned()
            .ok_or_else(|| ApiError::Unavailable("no target in the cluster map".into()))?;
        by_owner
            .entry(owner.daemon_id.clone())
            .or_insert_with(|| (owner, Vec::new()))
            .1
            .push(name);
    }
    let mut failed = Vec::new();
    let mut counts = Vec::new();
    for (t, names) in by_owner.into_values() {
        counts.push((
            t.daemon_id.clone(),
            crate::jobs::Counts {
                objects: names.len() as u64,
                ..Default::default()
            },
        ));
        let body = serde_json::to_vec(
            &json!({"action": "delete-listrange", "value": {"objnames": names}}),
        )
        .unwrap_or_default();
        let url = format!("{}/v1/buckets/{bucket}", t.control_url());
        if let Err(why) = ask(ctx, &t, Method::DELETE, &url, body).await {
            failed.push(why);
        }
    }
    if !failed.is_empty() {
        return Err(ApiError::Upstream(format!(
            "delete in ais://{bucket} failed on {}",
            failed.join("; ")
        )));
    }
    let id = ctx
        .jobs
        .record_done("delete-listrange", bucket, None, &counts);
    Ok(Response::new(crate::http::full(id)))
}
