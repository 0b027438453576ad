//! `/v1/buckets[/<bucket>]`: create, destroy, HEAD, list buckets, list objects.

use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use serde_json::json;

use super::{lso, not_allowed, ApiError, TargetContext};
use crate::cluster::bprops;
use crate::http::{empty, full, Body};
use crate::service::{archive_job, copy_many};
use crate::wire::bucket_op::{Asked, BucketOp};
use crate::wire::json_response;
use crate::wire::specs::{listed_names, move_destination};
use crate::wire::specs::{ArchiveSpec, CopySpec, Selection};
use crate::wire::summary;
use crate::wire::ActMsg;

/// `/v1/buckets`: list buckets.
pub(super) async fn dispatch_all(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::GET {
        return Err(not_allowed(req.method()));
    }
    let list: Vec<_> = ctx
        .store
        .list_buckets()
        .into_iter()
        .map(|(name, _)| json!({"name": name, "provider": "ais", "namespace": {"uuid": "", "name": ""}}))
        .collect();
    Ok(json_response(&serde_json::Value::Array(list)))
}

/// `/v1/buckets/<bucket>`: parsed once into a [`BucketOp`], then served by its handler.
pub(super) async fn dispatch(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
    bucket: String,
) -> Result<Response<Body>, ApiError> {
    let (op, asked, msg) = crate::wire::bucket_op::read(req, &bucket).await?;
    match op {
        BucketOp::Create => {
            ctx.store.create_bucket(&bucket).await?;
            tracing::info!(bucket = %bucket, caller = %asked.caller, "bucket created");
            Ok(Response::new(empty()))
        }
        BucketOp::Rename => rename(ctx, &bucket, &msg, &asked).await,
        BucketOp::Copy { listed } => copy(ctx, &bucket, msg, listed, &asked).await,
        BucketOp::Archive => {
            let names = listed_names(&msg.value)?;
            let spec = ArchiveSpec::parse(&bucket, &msg.value)?;
            let what = "archive into it";
            super::may(ctx, &asked.who, Some(&spec.to), crate::auth::ace::PUT, what)?;
            let id = archive_job::start(ctx, &bucket, names, spec).await?;
            Ok(Response::new(full(id)))
        }
        BucketOp::SetProps => {
            // A lone target keeps bucket properties itself (a clustered one gets them
            // from the proxy: the gate sends such changes there).
            ctx.store.require_bucket(&bucket)?;
            let mut all = ctx.bucket_props.write().unwrap_or_else(|p| p.into_inner());
            let current = all.get(&bucket).cloned().unwrap_or_else(bprops::defaults);
            let next = bprops::after_action(&current, &msg.action, &msg.value)
                .map_err(|e| ApiError::BadRequest(format!("ais://{bucket}: {e}")))?;
            all.insert(bucket, next);
            Ok(Response::new(empty()))
        }
        BucketOp::DeleteListed => delete_listed(ctx, &bucket, &msg, &asked).await,
        BucketOp::Destroy => {
            ctx.store.destroy_bucket(&bucket).await?;
            ctx.bucket_props
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&bucket);
            tracing::info!(bucket = %bucket, caller = %asked.caller, "bucket destroyed");
            Ok(Response::new(empty()))
        }
        BucketOp::Head => head(ctx, &bucket, &asked),
        BucketOp::Summary => summary(ctx, &bucket, &msg, &asked).await,
        BucketOp::List => {
            let res = match crate::wire::lso::LsoMsg::from_value(msg.value) {
                Ok(m) => lso::list_objects(ctx, &bucket, m, asked.msgpack).await,
                Err(e) => Err(e),
            };
            if res.is_ok() {
                ctx.metrics.lst_count.inc()
            } else {
                ctx.metrics.err_lst_count.inc()
            }
            res
        }
    }
}

/// `move-bck`: renames the bucket here (idempotent: a repeat finds it done).
async fn rename(
    ctx: &Arc<TargetContext>,
    bucket: &str,
    msg: &ActMsg,
    asked: &Asked,
) -> Result<Response<Body>, ApiError> {
    let to = move_destination(&asked.query, &msg.value)?;
    let need = crate::client_auth::destination_need("move-bck", false);
    super::may(ctx, &asked.who, Some(&to), need, "rename into it")?;
    if !ctx.store.move_bucket(bucket, &to).await? {
        // A repeat (the proxy retrying, or undoing, a rename that timed out here after it
        // happened, or one still arriving late): nothing left to move.
        tracing::info!(from = %bucket, %to, "bucket already renamed here");
        let id = ctx.jobs.record_done("move-bck", bucket, Some(&to), &[]);
        return Ok(Response::new(full(id)));
    }
    {
        let mut props = ctx.bucket_props.write().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = props.remove(bucket) {
            props.insert(to.clone(), p);
        }
    }
    tracing::info!(from = %bucket, %to, caller = %asked.caller, "bucket renamed: moving its objects to their new places");
    if ctx.config.proxy.is_some() {
        // The proxy starts the walks once every target has moved.
        ctx.cluster.mark_renamed(&to);
    }
    crate::service::resilver::Resilver::start(ctx);
    let id = ctx.jobs.record_done("move-bck", bucket, Some(&to), &[]);
    Ok(Response::new(full(id)))
}

/// `copy-bck` (a prefix) or `copy-listrange` (names or a template): starts the job.
async fn copy(
    ctx: &Arc<TargetContext>,
    bucket: &str,
    msg: ActMsg,
    listed: bool,
    asked: &Asked,
) -> Result<Response<Body>, ApiError> {
    let spec = CopySpec::parse(bucket, &asked.query, &msg.value)?;
    let exists = ctx.store.require_bucket(&spec.to).is_ok();
    let need = crate::client_auth::destination_need(&msg.action, exists);
    super::may(ctx, &asked.who, Some(&spec.to), need, "copy into it")?;
    let selection = if listed {
        Selection::Names(listed_names(&msg.value)?)
    } else {
        let prefix = msg.value.get("prefix").and_then(|p| p.as_str());
        Selection::Prefix(prefix.unwrap_or_default().to_string())
    };
    let id = copy_many::start(ctx, bucket, &msg.action, spec, selection).await?;
    Ok(Response::new(full(id)))
}

/// `delete-listrange`: deletes the listed objects (everywhere they may still be).
async fn delete_listed(
    ctx: &Arc<TargetContext>,
    bucket: &str,
    msg: &ActMsg,
    asked: &Asked,
) -> Result<Response<Body>, ApiError> {
    let names = listed_names(&msg.value)?;
    ctx.store.require_bucket(bucket)?;
    let mut deleted = 0u64;
    for name in &names {
        match crate::service::locate::delete_everywhere(ctx, bucket, name).await {
            Ok(()) => deleted += 1,
            Err(ApiError::Store(e)) if matches!(*e, crate::store::Error::ObjectNotFound { .. }) => {
            }
            Err(e) => return Err(e),
        }
    }
    tracing::info!(%bucket, listed = names.len(), deleted, caller = %asked.caller, "objects deleted by list or range");
    let counts = crate::jobs::Counts {
        objects: deleted,
        ..Default::default()
    };
    let here = [(ctx.node.id.clone(), counts)];
    let id = ctx
        .jobs
        .record_done("delete-listrange", bucket, None, &here);
    Ok(Response::new(full(id)))
}

/// `HEAD /v1/buckets/<bucket>`: properties, or a summary job's state.
fn head(ctx: &Arc<TargetContext>, bucket: &str, asked: &Asked) -> Result<Response<Body>, ApiError> {
    let info = ctx.store.bucket_info(bucket)?;
    let props = {
        let stored = ctx.bucket_props.read().unwrap_or_else(|p| p.into_inner());
        bprops::for_head(stored.get(bucket), info.created_ns)
    };
    let mut q = asked.query.clone();
    if let Some(prefix) = &asked.path_prefix {
        q.insert("prefix".into(), prefix.clone());
    }
    let (c, b) = (ctx.clone(), bucket.to_string());
    summary::answer_head(
        &ctx.jobs,
        bucket,
        &q,
        props.to_string(),
        move |prefix| async move {
            c.store
                .bucket_usage(&b, &prefix)
                .await
                .map_err(|e| e.to_string())
        },
    )
}

/// `GET summary-bck`: a summary job here, or this target's share of a proxy's.
async fn summary(
    ctx: &Arc<TargetContext>,
    bucket: &str,
    msg: &ActMsg,
    asked: &Asked,
) -> Result<Response<Body>, ApiError> {
    let (_, prefix) = summary::ctrl_msg(&msg.value);
    // A proxy's summary job asks each target for its share (intra-cluster port).
    if asked.intra && asked.query.get("ais_local").is_some_and(|v| v == "summary") {
        return Ok(json_response(
            &ctx.store.bucket_usage(bucket, &prefix).await?,
        ));
    }
    ctx.store.require_bucket(bucket)?;
    let (c, b) = (ctx.clone(), bucket.to_string());
    summary::answer_get(&ctx.jobs, bucket, &msg.value, move |prefix| async move {
        c.store
            .bucket_usage(&b, &prefix)
            .await
            .map_err(|e| e.to_string())
    })
}
