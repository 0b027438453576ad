//! Buckets through the proxy: create and destroy reach every target; list-objects asks
//! every target for its smallest names after the token and merges the sorted pages.

use std::collections::BTreeMap;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use serde_json::json;

use super::ProxyContext;
use crate::auth::ace;
use crate::client_auth::destination_need;
use crate::cluster::{bprops, Snode};
use crate::http::{empty, Body};
use crate::names::validate_bucket;
use crate::store::BucketUsage;
use crate::wire::json_response;
use crate::wire::lso::{new_uuid, page_response, wants_msgpack, LsoEntry, LsoMsg, LsoPage};
use crate::wire::summary;
use crate::wire::{msg::read_act_msg, ApiError};

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

/// Merges the targets' pages of one listing: objects in name order, each followed by its
/// archive members (`LsArchDir`) as its owner listed them, members resumed from the
/// previous page first. Only what every target has listed completely is shown (up to
/// the smallest of their tokens), everything counts against the page, and a page that
/// fills up inside a shard's members ends with a token that resumes there.
fn merge_pages(pages: Vec<LsoPage>, page_size: usize, after: &str) -> (Vec<LsoEntry>, String) {
    use crate::wire::lso::{make_member_token, member_token};
    let in_arch = crate::wire::lso::ENTRY_IN_ARCH;
    let object_of = |t: &str| member_token(t).map_or(t.to_string(), |(s, _)| s.to_string());
    // The smallest token: past it, some target has not listed yet.
    let bound = pages
        .iter()
        .map(|p| p.continuation_token.as_str())
        .filter(|t| !t.is_empty())
        .min_by(|a, b| object_of(a).cmp(&object_of(b)).then(b.len().cmp(&a.len())))
        .map(str::to_string);
    let mut resumed: Vec<LsoEntry> = Vec::new();
    let mut objects: BTreeMap<String, (LsoEntry, Vec<LsoEntry>)> = BTreeMap::new();
    for page in pages {
        let mut current: Option<String> = None;
        for e in page.entries {
            if e.flags & in_arch == 0 {
                current = Some(e.name.clone());
                objects.entry(e.name.clone()).or_insert((e, Vec::new()));
            } else if let Some(o) = &current {
                if let Some((_, members)) = objects.get_mut(o) {
                    members.push(e);
                }
            } else {
                resumed.push(e);
            }
        }
    }
    let (resume_shard, resume_at) = member_token(after).unwrap_or(("", 0));
    let mut out: Vec<LsoEntry> = Vec::new();
    for (j, m) in resumed.into_iter().enumerate() {
        if out.len() == page_size {
            return (out, make_member_token(resume_shard, resume_at + j));
        }
        out.push(m);
    }
    let mut last_object = object_of(after);
    for (name, (entry, members)) in objects {
        if bound.as_ref().is_some_and(|b| name > object_of(b)) {
            break;
        }
        if out.len() == page_size {
            return (out, last_object);
        }
        out.push(entry);
        for (j, m) in members.into_iter().enumerate() {
            if out.len() == page_size {
                return (out, make_member_token(&name, j));
            }
            out.push(m);
        }
        last_object = name;
    }
    (out, bound.unwrap_or_default())
}

/// `/v1/buckets/<bucket>`.
pub(super) async fn dispatch(
    ctx: &std::sync::Arc<ProxyContext>,
    req: Request<Incoming>,
    bucket: String,
) -> Result<Response<Body>, ApiError> {
    validate_bucket(&bucket)?;
    let method = req.method().clone();
    match method {
        Method::POST => {
            let caller = crate::http::caller(&req);
            let who = crate::client_auth::principal(&req);
            let q = crate::http::request::query(&req);
            let msg = read_act_msg(req).await?;
            if msg.action == "move-bck" {
                let to = crate::wire::specs::move_destination(&q, &msg.value)?;
                may(ctx, &who, &bucket, ace::DESTROY_BUCKET, "rename it")?;
                may(
                    ctx,
                    &who,
                    &to,
                    destination_need("move-bck", false),
                    "rename into it",
                )?;
                return rename(ctx, &bucket, &to, &caller).await;
            }
            if matches!(msg.action.as_str(), "copy-bck" | "copy-listrange") {
                let to = crate::wire::specs::CopySpec::parse(&bucket, &q, &msg.value)?.to;
                let need = destination_need(&msg.action, ctx.state.has_bucket(&to));
                may(ctx, &who, &bucket, ace::GET, "copy from it")?;
                may(ctx, &who, &to, need, "copy into it")?;
                return super::multi_object::copy(ctx, &bucket, &q, msg, &caller).await;
            }
            if msg.action != "create-bck" {
                return Err(ApiError::BadRequest(format!(
                    "ais://{bucket}: unsupported bucket action {:?}",
                    msg.action
                )));
            }
            // Properties given at creation are checked before anything is created.
            let props = match &msg.value {
                serde_json::Value::Object(m) if !m.is_empty() => Some(
                    bprops::apply(&bprops::defaults(), &msg.value)
                        .map_err(|e| ApiError::BadRequest(format!("ais://{bucket}: {e}")))?,
                ),
                _ => None,
            };
            let resp = create(ctx, &bucket, &caller).await?;
            if let Some(p) = props {
                ctx.state.set_bucket_props(&bucket, p);
            }
            Ok(resp)
        }
        Method::PATCH | Method::PUT => {
            let who = crate::client_auth::principal(&req);
            let msg = read_act_msg(req).await?;
            if msg.action == "archive" {
                let to = crate::wire::specs::ArchiveSpec::parse(&bucket, &msg.value)?.to;
                may(ctx, &who, &bucket, ace::GET, "archive from it")?;
                may(ctx, &who, &to, ace::PUT, "archive into it")?;
                return super::multi_object::archive(ctx, &bucket, msg).await;
            }
            let bmd = ctx.state.bmd();
            if !bmd.buckets.contains_key(&bucket) {
                return Err(ApiError::NoBucket(bucket));
            }
            let current = bmd
                .props
                .get(&bucket)
                .cloned()
                .unwrap_or_else(bprops::defaults);
            let next = bprops::after_action(&current, &msg.action, &msg.value)
                .map_err(|e| ApiError::BadRequest(format!("ais://{bucket}: {e}")))?;
            ctx.state.set_bucket_props(&bucket, next);
            tracing::info!(%bucket, action = %msg.action, "bucket properties changed");
            Ok(Response::new(empty()))
        }
        Method::DELETE => {
            let caller = crate::http::caller(&req);
            let msg = read_act_msg(req).await?;
            if msg.action == "delete-listrange" {
                return delete_listed(ctx, &bucket, &msg.value).await;
            }
            if msg.action != "destroy-bck" {
                return Err(ApiError::BadRequest(format!(
                    "ais://{bucket}: expecting action \"destroy-bck\", got {:?}",
                    msg.action
                )));
            }
            destroy(ctx, &bucket, &caller).await
        }
        Method::HEAD => {
            let created = *ctx
                .state
                .bmd()
                .buckets
                .get(&bucket)
                .ok_or_else(|| ApiError::NoBucket(bucket.clone()))?;
            let props = bprops::for_head(ctx.state.bmd().props.get(&bucket), created);
            let mut q = crate::http::request::query(&req);
            if let Some(prefix) = crate::wire::msg::path_prefix(&req) {
                q.insert("prefix".into(), prefix);
            }
            let job = cluster_usage_job(ctx, &bucket);
            summary::answer_head(&ctx.jobs, &bucket, &q, props.to_string(), job)
        }
        Method::GET => {
            let msgpack = wants_msgpack(req.headers());
            let msg = read_act_msg(req).await?;
            if msg.action == "summary-bck" {
                if !ctx.state.bmd().buckets.contains_key(&bucket) {
                    return Err(ApiError::NoBucket(bucket));
                }
                let job = cluster_usage_job(ctx, &bucket);
                return summary::answer_get(&ctx.jobs, &bucket, &msg.value, job);
            }
            if !msg.action.is_empty() && msg.action != "list" {
                return Err(ApiError::BadRequest(format!(
                    "ais://{bucket}: unsupported action {:?} on GET",
                    msg.action
                )));
            }
            let lso = LsoMsg::from_value(msg.value)?;
            let page = list_objects(ctx, &bucket, lso).await?;
            ctx.metrics.lst_count.inc();
            page_response(&page, msgpack)
        }
        other => Err(ApiError::MethodNotAllowed(other)),
    }
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

/// How one target answered a bucket action.
enum Outcome {
    /// It did it.
    Done,
    /// It had nothing to do (the bucket was already there, or already gone).
    AlreadySo,
    /// It failed or could not be reached.
    Failed(String),
}

/// Sends one bucket action to each of `targets`; `already` is the status meaning "nothing
/// to do" (409 for create, 404 for destroy).
async fn broadcast(
    ctx: &ProxyContext,
    targets: &[Snode],
    method: Method,
    bucket: &str,
    action: &str,
    already: u16,
) -> Vec<(Snode, Outcome)> {
    let body = serde_json::to_vec(&json!({"action": action, "name": "", "value": null}))
        .unwrap_or_default();
    let calls = targets.iter().map(|t| {
        let url = format!("{}/v1/buckets/{bucket}", t.control_url());
        let (client, body, method) = (ctx.client.clone(), body.clone(), method.clone());
        async move {
            let outcome = match client.send(method, &url, Some(body)).await {
                Ok(r) if r.status.is_success() => Outcome::Done,
                Ok(r) if r.status.as_u16() == already => Outcome::AlreadySo,
                Ok(r) => Outcome::Failed(format!(
                    "{}: {} {}",
                    t.daemon_id,
                    r.status,
                    String::from_utf8_lossy(&r.body)
                )),
                Err(e) => Outcome::Failed(format!("{}: {e}", t.daemon_id)),
            };
            (t.clone(), outcome)
        }
    });
    futures_util::future::join_all(calls).await
}

fn failures(outcomes: &[(Snode, Outcome)]) -> Vec<String> {
    outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            Outcome::Failed(why) => Some(why.clone()),
            _ => None,
        })
        .collect()
}

/// Creates a bucket on every target. If any fails, the create is undone only where it
/// was done by this call: a target that already had the bucket (409) keeps it and its data.
/// Sends one control request to target `t`: its answer's body, or why it did not succeed.
pub(super) async fn ask(
    ctx: &ProxyContext,
    t: &Snode,
    method: Method,
    url: &str,
    body: Vec<u8>,
) -> Result<bytes::Bytes, String> {
    match ctx.client.send(method, url, Some(body)).await {
        Ok(r) if r.status.is_success() => Ok(r.body),
        Ok(r) => Err(format!(
            "{}: {} {}",
            t.daemon_id,
            r.status,
            String::from_utf8_lossy(&r.body)
        )),
        Err(e) => Err(format!("{}: {e}", t.daemon_id)),
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

/// `move-bck`: each target moves each mountpath's tree to the new name with one rename, then walk the objects to where HRW puts them under the new name (reads
/// find them meanwhile); the bucket list then has the new name, with the old one's
/// properties. Answers a job ID, as AIStore does.
/// A rename that failed on some target is moved back everywhere (a target that timed out
/// may have done it anyway; a target takes a repeated move as done), so the bucket stays
/// readable under its old name; what could not be moved back is named, and repeating the
/// rename finishes it.
async fn undo_rename(
    ctx: &ProxyContext,
    targets: &[Snode],
    from: &str,
    to: &str,
    failed: &[String],
) -> ApiError {
    let back = serde_json::to_vec(&json!({"action": "move-bck", "value": {"to": from}}))
        .unwrap_or_default();
    let mut stuck = Vec::new();
    for t in targets {
        let url = format!("{}/v1/buckets/{to}", t.control_url());
        match ask(ctx, t, Method::POST, &url, back.clone()).await {
            Ok(_) => {}
            // Never moved there: nothing to undo.
            Err(why) if why.contains("404") => {}
            Err(why) => stuck.push(why),
        }
    }
    let failed = failed.join("; ");
    if stuck.is_empty() {
        tracing::warn!(%from, %to, %failed, "rename failed and was undone");
        return ApiError::Upstream(format!(
            "rename ais://{from} to ais://{to} failed on {failed}; undone: the bucket is ais://{from} as before"
        ));
    }
    tracing::error!(%from, %to, %failed, stuck = %stuck.join("; "), "rename failed and could not be undone everywhere");
    ApiError::Upstream(format!(
        "rename ais://{from} to ais://{to} failed on {failed}; moving back failed on {}: repeat the rename to finish it",
        stuck.join("; ")
    ))
}

async fn rename(
    ctx: &ProxyContext,
    from: &str,
    to: &str,
    caller: &str,
) -> Result<Response<Body>, ApiError> {
    let bmd = ctx.state.bmd();
    if !bmd.buckets.contains_key(from) {
        return Err(ApiError::NoBucket(from.to_string()));
    }
    if from == to || bmd.buckets.contains_key(to) {
        return Err(ApiError::BucketExists(to.to_string()));
    }
    let targets: Vec<Snode> = ctx.state.smap().tmap.values().cloned().collect();
    let body =
        serde_json::to_vec(&json!({"action": "move-bck", "value": {"to": to}})).unwrap_or_default();
    let mut failed = Vec::new();
    for t in &targets {
        let url = format!("{}/v1/buckets/{from}", t.control_url());
        if let Err(why) = ask(ctx, t, Method::POST, &url, body.clone()).await {
            failed.push(why);
        }
    }
    if !failed.is_empty() {
        return Err(undo_rename(ctx, &targets, from, to, &failed).await);
    }
    if !ctx.state.rename_bucket(from, to) {
        return Err(ApiError::Conflict(format!(
            "rename ais://{from}: the bucket list changed meanwhile"
        )));
    }
    // Every target holds its part under the new name now: walk it to the owners.
    let start = serde_json::to_vec(&json!({"action": "start", "value": {"kind": "rebalance"}}))
        .unwrap_or_default();
    for t in &targets {
        let url = format!("{}/v1/daemon", t.control_url());
        if let Err(e) = ctx
            .client
            .send(Method::PUT, &url, Some(start.clone()))
            .await
        {
            tracing::warn!(target_id = %t.daemon_id, error = %e, "rename: could not start the walk (the next change will)");
        }
    }
    tracing::info!(%from, %to, %caller, "bucket renamed");
    let id = ctx.jobs.record_done("move-bck", from, Some(to), &[]);
    Ok(Response::new(crate::http::full(id)))
}

pub(super) async fn create(
    ctx: &ProxyContext,
    bucket: &str,
    caller: &str,
) -> Result<Response<Body>, ApiError> {
    if ctx.state.has_bucket(bucket) {
        return Err(ApiError::BucketExists(bucket.to_string()));
    }
    let targets: Vec<Snode> = ctx.state.smap().tmap.values().cloned().collect();
    let outcomes = broadcast(ctx, &targets, Method::POST, bucket, "create-bck", 409).await;
    let failed = failures(&outcomes);
    if !failed.is_empty() {
        let created: Vec<Snode> = outcomes
            .into_iter()
            .filter_map(|(t, o)| matches!(o, Outcome::Done).then_some(t))
            .collect();
        tracing::warn!(bucket, %caller, failed = ?failed, undo_on = created.len(), "bucket create failed: undoing it where this call made it");
        let undo = broadcast(ctx, &created, Method::DELETE, bucket, "destroy-bck", 404).await;
        for why in failures(&undo) {
            tracing::warn!(bucket, error = %why, "undo of a failed bucket create failed");
        }
        return Err(ApiError::Upstream(format!(
            "create ais://{bucket} failed on {}",
            failed.join("; ")
        )));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    if !ctx.state.add_bucket(bucket, now) {
        return Err(ApiError::BucketExists(bucket.to_string()));
    }
    tracing::info!(bucket, %caller, "bucket created");
    Ok(Response::new(empty()))
}

pub(super) async fn destroy(
    ctx: &ProxyContext,
    bucket: &str,
    caller: &str,
) -> Result<Response<Body>, ApiError> {
    if !ctx.state.remove_bucket(bucket) {
        return Err(ApiError::NoBucket(bucket.to_string()));
    }
    tracing::info!(bucket, %caller, "destroying bucket");
    let targets: Vec<Snode> = ctx.state.smap().tmap.values().cloned().collect();
    let outcomes = broadcast(ctx, &targets, Method::DELETE, bucket, "destroy-bck", 404).await;
    let failed = failures(&outcomes);
    if !failed.is_empty() {
        return Err(ApiError::Upstream(format!(
            "destroy ais://{bucket} failed on {}",
            failed.join("; ")
        )));
    }
    Ok(Response::new(empty()))
}

/// One merged page: every target returns its smallest `page_size` names after the token;
/// the smallest `page_size` of their union are the page.
pub(super) async fn list_objects(
    ctx: &ProxyContext,
    bucket: &str,
    msg: LsoMsg,
) -> Result<LsoPage, ApiError> {
    if !ctx.state.has_bucket(bucket) {
        return Err(ApiError::NoBucket(bucket.to_string()));
    }
    let page_size = msg.page_size(ctx.config.settings.max_page_size)?;
    let uuid = if msg.uuid.is_empty() {
        new_uuid()
    } else {
        msg.uuid.clone()
    };
    let value = json!({
        "prefix": msg.prefix,
        "props": msg.props,
        "continuation_token": msg.after(),
        "pagesize": page_size,
        "flags": msg.flag_bits()?.to_string(),
        "uuid": uuid,
    });
    let body = serde_json::to_vec(&json!({"action": "list", "name": "", "value": value}))
        .unwrap_or_default();
    let smap = ctx.state.smap();
    let calls = smap.tmap.values().map(|t| {
        let url = format!("{}/v1/buckets/{bucket}", t.control_url());
        let body = body.clone();
        async move {
            let reply = ask(ctx, t, Method::GET, &url, body).await?;
            serde_json::from_slice::<LsoPage>(&reply)
                .map_err(|e| format!("{}: bad list page: {e}", t.daemon_id))
        }
    });
    let mut pages = Vec::new();
    for page in futures_util::future::join_all(calls).await {
        pages.push(page.map_err(|e| ApiError::Upstream(format!("list ais://{bucket}: {e}")))?);
    }
    let (entries, continuation_token) = merge_pages(pages, page_size, msg.after());
    Ok(LsoPage {
        uuid,
        continuation_token,
        entries,
        flags: 0,
    })
}
