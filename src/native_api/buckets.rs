//! `/v1/buckets[/<bucket>]`: create, destroy, HEAD, list buckets, list objects.

use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use serde_json::json;

use super::{lso, not_allowed, query, read_act_msg, ApiError, TargetContext};
use crate::cluster::bprops;
use crate::http::{empty, full, Body};
use crate::wire::json_response;
use crate::wire::lso::wants_msgpack;
use crate::wire::msg::path_prefix;
use crate::wire::specs::{listed_names, move_destination};
use crate::wire::summary;

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

/// `/v1/buckets/<bucket>`.
pub(super) async fn dispatch(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
    bucket: String,
) -> Result<Response<Body>, ApiError> {
    match req.method().clone() {
        Method::POST => {
            let caller = crate::http::caller(&req);
            let who = crate::client_auth::principal(&req);
            let q = query(&req);
            let msg = read_act_msg(req).await?;
            match msg.action.as_str() {
                "create-bck" => {
                    ctx.store.create_bucket(&bucket).await?;
                    tracing::info!(bucket = %bucket, %caller, "bucket created");
                    Ok(Response::new(empty()))
                }
                "move-bck" => {
                    let to = move_destination(&q, &msg.value)?;
                    let need = crate::client_auth::destination_need("move-bck", false);
                    super::may(ctx, &who, Some(&to), need, "rename into it")?;
                    let done = ctx.store.require_bucket(&bucket).is_err()
                        && ctx.store.require_bucket(&to).is_ok();
                    if done {
                        // A repeat (the proxy retrying, or undoing, a rename that timed
                        // out here after it happened): nothing left to move.
                        tracing::info!(from = %bucket, %to, "bucket already renamed here");
                        let id = ctx.jobs.record_done("move-bck", &bucket, Some(&to), &[]);
                        return Ok(Response::new(full(id)));
                    }
                    ctx.store.move_bucket(&bucket, &to).await?;
                    {
                        let mut props = ctx.bucket_props.write().unwrap_or_else(|p| p.into_inner());
                        if let Some(p) = props.remove(&bucket) {
                            props.insert(to.clone(), p);
                        }
                    }
                    tracing::info!(from = %bucket, %to, %caller, "bucket renamed: moving its objects to their new places");
                    if ctx.config.proxy.is_some() {
                        // The proxy starts the walks once every target has moved.
                        ctx.cluster.mark_renamed(&to);
                    }
                    crate::service::resilver::Resilver::start(ctx);
                    let id = ctx.jobs.record_done("move-bck", &bucket, Some(&to), &[]);
                    Ok(Response::new(full(id)))
                }
                "copy-bck" | "copy-listrange" => {
                    use crate::service::copy_many;
                    use crate::wire::specs::{CopySpec, Selection};
                    let spec = CopySpec::parse(&bucket, &q, &msg.value)?;
                    let exists = ctx.store.require_bucket(&spec.to).is_ok();
                    let need = crate::client_auth::destination_need(&msg.action, exists);
                    super::may(ctx, &who, Some(&spec.to), need, "copy into it")?;
                    let selection = if msg.action == "copy-bck" {
                        let prefix = msg.value.get("prefix").and_then(|p| p.as_str());
                        Selection::Prefix(prefix.unwrap_or_default().to_string())
                    } else {
                        Selection::Names(listed_names(&msg.value)?)
                    };
                    copy_many::start(ctx, &bucket, &msg.action, spec, selection).await
                }
                other => Err(ApiError::BadRequest(format!(
                    "ais://{bucket}: unsupported bucket action {other:?}"
                ))),
            }
        }
        Method::DELETE => {
            let caller = crate::http::caller(&req);
            let msg = read_act_msg(req).await?;
            match msg.action.as_str() {
                "delete-listrange" => {
                    let names = listed_names(&msg.value)?;
                    ctx.store.require_bucket(&bucket)?;
                    let mut deleted = 0u64;
                    for name in &names {
                        match crate::service::locate::delete_everywhere(ctx, &bucket, name).await {
                            Ok(()) => deleted += 1,
                            Err(ApiError::Store(e))
                                if matches!(*e, crate::store::Error::ObjectNotFound { .. }) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    tracing::info!(%bucket, listed = names.len(), deleted, %caller, "objects deleted by list or range");
                    let counts = crate::jobs::Counts {
                        objects: deleted,
                        ..Default::default()
                    };
                    let id = ctx.jobs.record_done(
                        "delete-listrange",
                        &bucket,
                        None,
                        &[(ctx.node.id.clone(), counts)],
                    );
                    Ok(Response::new(full(id)))
                }
                "destroy-bck" => {
                    ctx.store.destroy_bucket(&bucket).await?;
                    ctx.bucket_props
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&bucket);
                    tracing::info!(bucket = %bucket, %caller, "bucket destroyed");
                    Ok(Response::new(empty()))
                }
                other => Err(ApiError::BadRequest(format!(
                    "ais://{bucket}: expecting action \"destroy-bck\", got {other:?}"
                ))),
            }
        }
        Method::PATCH | Method::PUT => {
            // A lone target keeps bucket properties itself (a clustered one gets them
            // from the proxy: the gate sends such changes there).
            let who = crate::client_auth::principal(&req);
            let msg = read_act_msg(req).await?;
            if msg.action == "archive" {
                use crate::service::archive_job;
                use crate::wire::specs::ArchiveSpec;
                let names = listed_names(&msg.value)?;
                let spec = ArchiveSpec::parse(&bucket, &msg.value)?;
                let what = "archive into it";
                super::may(ctx, &who, Some(&spec.to), crate::auth::ace::PUT, what)?;
                return archive_job::start(ctx, &bucket, names, spec).await;
            }
            ctx.store.require_bucket(&bucket)?;
            let mut all = ctx.bucket_props.write().unwrap_or_else(|p| p.into_inner());
            let current = all.get(&bucket).cloned().unwrap_or_else(bprops::defaults);
            let next = bprops::after_action(&current, &msg.action, &msg.value)
                .map_err(|e| ApiError::BadRequest(format!("ais://{bucket}: {e}")))?;
            all.insert(bucket, next);
            Ok(Response::new(empty()))
        }
        Method::HEAD => {
            let info = ctx.store.bucket_info(&bucket)?;
            let props = {
                let stored = ctx.bucket_props.read().unwrap_or_else(|p| p.into_inner());
                bprops::for_head(stored.get(&bucket), info.created_ns)
            };
            let mut q = query(&req);
            if let Some(prefix) = path_prefix(&req) {
                q.insert("prefix".into(), prefix);
            }
            let c = ctx.clone();
            let b = bucket.clone();
            summary::answer_head(
                &ctx.jobs,
                &bucket,
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
        Method::GET => {
            let accept_msgpack = wants_msgpack(req.headers());
            let local = crate::http::Plane::of(&req) == crate::http::Plane::Intra
                && query(&req).get("ais_local").is_some_and(|v| v == "summary");
            let msg = read_act_msg(req).await?;
            if msg.action == "summary-bck" {
                let (_, prefix) = summary::ctrl_msg(&msg.value);
                if local {
                    // A proxy's summary job asks each target for its share.
                    return Ok(json_response(
                        &ctx.store.bucket_usage(&bucket, &prefix).await?,
                    ));
                }
                ctx.store.require_bucket(&bucket)?;
                let c = ctx.clone();
                let b = bucket.clone();
                return summary::answer_get(
                    &ctx.jobs,
                    &bucket,
                    &msg.value,
                    move |prefix| async move {
                        c.store
                            .bucket_usage(&b, &prefix)
                            .await
                            .map_err(|e| e.to_string())
                    },
                );
            }
            if !msg.action.is_empty() && msg.action != "list" {
                return Err(ApiError::BadRequest(format!(
                    "ais://{bucket}: unsupported action {:?} on GET",
                    msg.action
                )));
            }
            let res = match crate::wire::lso::LsoMsg::from_value(msg.value) {
                Ok(m) => lso::list_objects(ctx, &bucket, m, accept_msgpack).await,
                Err(e) => Err(e),
            };
            if res.is_ok() {
                ctx.metrics.lst_count.inc()
            } else {
                ctx.metrics.err_lst_count.inc()
            }
            res
        }
        other => Err(not_allowed(&other)),
    }
}
