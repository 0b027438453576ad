//! Objects follow the map. When the set of active targets changes (and once after start,
//! which finishes a rebalance a crash interrupted), every target walks its buckets and
//! streams each object it holds but no longer owns to its owner, with its metadata; the
//! owner checks the data against the carried checksum, keeps a newer version if it has
//! one, and only then does the sender remove its copy (if it is still the version sent).
//! Meanwhile an owner asked for an object it does not have fetches it from the targets
//! that owned it by the kept maps (get-from-neighbor), so no client sees a 404 for an
//! object that exists, and sees 503 when a possible holder does not answer.
//!
//! Both directions use the intra-cluster port: `PUT|GET /v1/objects/B/O?ais_replica=put|get`
//! with the metadata in `ais-replica-meta` (the stored record, base64) and
//! `ais-replica-mtime`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use futures_util::{StreamExt, TryStreamExt};
use http::{header, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Serialize;

use super::TargetContext;
use crate::cluster::intra_auth::Receipt;
use crate::cluster::Snode;
use crate::http::forward::{no_body, ReqBody};
use crate::http::{stream, Body};
use crate::store::{self, ListRequest, ObjectMeta, ObjectReader};
use crate::wire::ApiError;

/// Query parameter of replica transfers.
pub const REPLICA_QUERY: &str = "ais_replica";
/// The stored metadata record, base64.
pub const REPLICA_META: HeaderName = HeaderName::from_static("ais-replica-meta");
/// Modification time, unix ns.
pub const REPLICA_MTIME: HeaderName = HeaderName::from_static("ais-replica-mtime");
/// The receiver's verdict: `stored` or `kept-newer`.
pub const REPLICA_RESULT: HeaderName = HeaderName::from_static("ais-replica");
/// The receiver's proof of the verdict, made with the cluster key.
pub const REPLICA_RECEIPT: HeaderName = HeaderName::from_static("ais-replica-receipt");

/// Objects moved at once by one target.
const MOVES_IN_FLIGHT: usize = 4;
/// Names read per listing page while walking.
const WALK_PAGE: usize = 1000;

/// What `GET /v1/daemon?what=rebalance` shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RebalanceState {
    /// Map version the walk follows.
    pub smap_version: u64,
    /// Whether a walk is running.
    pub running: bool,
    /// Objects sent to their owners.
    pub objects_moved: u64,
    /// Their bytes.
    pub bytes_moved: u64,
    /// Objects the owner already had in a version at least as new.
    pub objects_kept_newer: u64,
    /// Objects that could not be moved (retried by the next walk).
    pub errors: u64,
    /// How long the last finished walk took, ms.
    pub last_walk_ms: u64,
}

/// The target's rebalance: at most one walk at a time, a newer map restarting it.
#[derive(Default)]
pub struct Rebalance {
    job: Mutex<Option<tokio::task::JoinHandle<()>>>,
    state: Mutex<RebalanceState>,
}

impl Rebalance {
    /// The current state.
    pub fn state(&self) -> RebalanceState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut RebalanceState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Stops a running walk (get-from-neighbor goes on; the next change or start walks
    /// again).
    pub fn stop(&self) {
        if let Some(job) = self.job.lock().unwrap_or_else(|p| p.into_inner()).take() {
            job.abort();
            tracing::info!("rebalance: stopped by the admin");
        }
        self.update(|s| s.running = false);
    }

    /// Starts a walk for the current map, stopping one that runs for an older map.
    pub fn start(ctx: &Arc<TargetContext>) {
        ctx.cluster.mark_moved();
        let version = ctx.cluster.smap_version();
        let mut job = ctx.rebalance.job.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = job.take() {
            old.abort();
        }
        ctx.rebalance.update(|s| {
            s.smap_version = version;
            s.running = true;
        });
        tracing::info!(
            smap_version = version,
            "rebalance: walking the mountpaths for objects another target owns"
        );
        *job = Some(tokio::spawn(walk(ctx.clone())));
    }
}

/// Whether the set of active targets differs between two maps.
pub fn targets_changed(old: Option<&crate::cluster::Smap>, new: &crate::cluster::Smap) -> bool {
    let ids = |m: &crate::cluster::Smap| {
        m.active_targets()
            .map(|t| t.daemon_id.clone())
            .collect::<Vec<_>>()
    };
    old.is_none_or(|o| ids(o) != ids(new))
}

/// Walks until a pass moves everything it should (a failed move, e.g. to an owner that
/// has not created the bucket yet, is retried by the next pass, with a growing pause).
async fn walk(ctx: Arc<TargetContext>) {
    let started = Instant::now();
    let mut pause = Duration::from_millis(500);
    loop {
        let failed = pass(&ctx).await;
        if failed == 0 {
            break;
        }
        tracing::info!(failed, retry_in = ?pause, "rebalance: some objects did not move; walking again");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(30));
    }
    let ms = started.elapsed().as_millis() as u64;
    ctx.rebalance.update(|s| {
        s.running = false;
        s.last_walk_ms = ms;
    });
    let s = ctx.rebalance.state();
    tracing::info!(
        moved = s.objects_moved,
        bytes = s.bytes_moved,
        kept_newer = s.objects_kept_newer,
        errors = s.errors,
        took_ms = ms,
        "rebalance: walk done"
    );
}

/// One pass over every bucket; returns how many moves failed.
async fn pass(ctx: &Arc<TargetContext>) -> u64 {
    let Some(smap) = ctx.cluster.smap() else {
        return 0;
    };
    let me = ctx.node.id.clone();
    let failed = std::sync::atomic::AtomicU64::new(0);
    for (bucket, _) in ctx.store.list_buckets() {
        let mut after = String::new();
        loop {
            let req = ListRequest {
                after: after.clone(),
                page_size: WALK_PAGE,
                ..ListRequest::default()
            };
            let page = match ctx.store.list(&bucket, req).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(%bucket, error = %e, "rebalance: cannot list");
                    break;
                }
            };
            let moves: Vec<(Snode, String)> = page
                .entries
                .into_iter()
                .filter_map(|e| {
                    let owner = smap.owner(&bucket, &e.name)?;
                    (owner.daemon_id != me).then(|| (owner.clone(), e.name))
                })
                .collect();
            futures_util::stream::iter(moves)
                .for_each_concurrent(MOVES_IN_FLIGHT, |(owner, name)| {
                    let (bucket, failed) = (bucket.clone(), &failed);
                    async move {
                        if !move_one(ctx, &owner, &bucket, &name).await {
                            failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                })
                .await;
            if page.next_after.is_empty() {
                break;
            }
            after = page.next_after;
        }
        failed.fetch_add(
            carry_tombstones(ctx, &smap, &bucket).await,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    failed.into_inner()
}

/// Sends each deletion remembered here for an object another target owns to that
/// owner (kept here too, until it expires); returns how many could not be sent.
async fn carry_tombstones(ctx: &TargetContext, smap: &crate::cluster::Smap, bucket: &str) -> u64 {
    let mut failed = 0;
    let mut after = String::new();
    loop {
        let page = match ctx.store.tombstones(bucket, &after, WALK_PAGE).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(%bucket, error = %e, "rebalance: cannot read tombstones");
                return failed + 1;
            }
        };
        for (name, when) in &page {
            let Some(owner) = smap.owner(bucket, name) else {
                continue;
            };
            if owner.daemon_id == ctx.node.id {
                continue;
            }
            let req = Request::builder()
                .method(Method::PUT)
                .uri(replica_url(owner, bucket, name, "tomb"))
                .header(REPLICA_MTIME, *when)
                .body(no_body());
            let Ok(req) = req else { continue };
            match ctx.data.send(req).await {
                Ok(r) if r.status().is_success() => {}
                other => {
                    tracing::debug!(%bucket, object = %name, to = %owner.daemon_id, status = ?other.map(|r| r.status()), "rebalance: deletion not carried");
                    failed += 1;
                }
            }
        }
        match page.last() {
            Some((last, _)) if page.len() == WALK_PAGE => after = last.clone(),
            _ => return failed,
        }
    }
}

/// Moves one object; false if it failed.
async fn move_one(ctx: &TargetContext, owner: &Snode, bucket: &str, name: &str) -> bool {
    ctx.store.yield_to_foreground(bucket, name).await;
    match send(ctx, owner, bucket, name).await {
        Ok(Some((size, kept_newer))) => {
            ctx.metrics.reb_tx_count.inc();
            ctx.metrics.reb_tx_size.inc_by(size);
            ctx.rebalance.update(|s| {
                if kept_newer {
                    s.objects_kept_newer += 1;
                } else {
                    s.objects_moved += 1;
                    s.bytes_moved += size;
                }
            });
            true
        }
        Ok(None) => true,
        Err(e) => {
            ctx.metrics.err_reb_count.inc();
            ctx.rebalance.update(|s| s.errors += 1);
            tracing::warn!(%bucket, object = %name, to = %owner.daemon_id, error = %e, "rebalance: could not move object");
            false
        }
    }
}

/// Sends one object to `owner`; on success removes it here (if unchanged). Returns its
/// size and whether the owner kept a newer version, or `None` if it is gone already.
async fn send(
    ctx: &TargetContext,
    owner: &Snode,
    bucket: &str,
    name: &str,
) -> Result<Option<(u64, bool)>, String> {
    let reader = match ctx.store.open_object(bucket, name).await {
        Ok(r) => r,
        Err(store::Error::ObjectNotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let meta = reader.info.meta.clone();
    let size = meta.size;
    let headers = replica_headers(&reader);
    let body: ReqBody = http_body_util::StreamBody::new(
        reader
            .stream(0, size)
            .map_ok(hyper::body::Frame::data)
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
    )
    .boxed_unsync();
    let mut req = Request::builder()
        .method(Method::PUT)
        .uri(replica_url(owner, bucket, name, "put"))
        .header(header::CONTENT_LENGTH, size);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let req = req.body(body).map_err(|e| e.to_string())?;
    let resp = ctx.data.send(req).await.map_err(|e| e.to_string())?;
    let (status, verdict) = (resp.status(), resp.headers().get(&REPLICA_RESULT).cloned());
    let receipt = resp.headers().get(&REPLICA_RECEIPT).cloned();
    let text = crate::http::request::read_limited(resp.into_body(), 64 << 10)
        .await
        .unwrap_or_default();
    let kept_newer = match (status, verdict.as_ref().map(HeaderValue::as_bytes)) {
        (StatusCode::OK, Some(b"stored")) => false,
        (StatusCode::OK, Some(b"kept-newer")) => true,
        _ => {
            return Err(format!(
                "{}: {status} {}",
                owner.daemon_id,
                String::from_utf8_lossy(&text)
            ))
        }
    };
    // Our copy goes only on a receipt made with the cluster key by the node we sent to.
    let verdict = if kept_newer { "kept-newer" } else { "stored" };
    let version = meta.version.to_string();
    let vouched = Receipt {
        node: &owner.daemon_id,
        bucket,
        object: name,
        version: &version,
        verdict,
    };
    let verified = match (ctx.cluster_key(), &receipt) {
        (Some(key), Some(r)) => key.verify_receipt(r.as_bytes(), &vouched),
        _ => false,
    };
    if !verified {
        return Err(format!(
            "{}: no valid receipt for the copy it says it {verdict}; keeping ours",
            owner.daemon_id
        ));
    }
    ctx.store
        .remove_if_version(bucket, name, meta.version)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some((size, kept_newer)))
}

fn replica_headers(reader: &ObjectReader) -> Vec<(HeaderName, HeaderValue)> {
    let meta = B64.encode(reader.info.meta.encode());
    let mut out = Vec::with_capacity(2);
    if let Ok(v) = HeaderValue::from_str(&meta) {
        out.push((REPLICA_META, v));
    }
    out.push((REPLICA_MTIME, HeaderValue::from(reader.info.mtime_ns)));
    out
}

/// `<intra URL>/v1/objects/<bucket>/<object>?ais_replica=<kind>`, names percent-encoded.
pub(super) fn replica_url(node: &Snode, bucket: &str, object: &str, kind: &str) -> String {
    format!(
        "{}?{REPLICA_QUERY}={kind}",
        object_url(node, bucket, object)
    )
}

/// `bucket/object` on `node`'s intra-cluster port.
pub(super) fn object_url(node: &Snode, bucket: &str, object: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
    const SEGMENT: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'?')
        .add(b'<')
        .add(b'>')
        .add(b'`')
        .add(b'{')
        .add(b'}')
        .add(b'+')
        .add(b'&');
    format!(
        "{}/v1/objects/{}/{}",
        node.control_url(),
        utf8_percent_encode(bucket, SEGMENT),
        utf8_percent_encode(object, SEGMENT)
    )
}

/// The carried metadata record alone (a copy takes no modification time).
pub(super) fn parse_meta_only(h: &http::HeaderMap) -> Result<ObjectMeta, String> {
    let raw = h
        .get(&REPLICA_META)
        .and_then(|v| B64.decode(v.as_bytes()).ok())
        .ok_or("missing or malformed ais-replica-meta")?;
    ObjectMeta::decode(&raw)
}

fn parse_meta(h: &http::HeaderMap) -> Result<(ObjectMeta, i64), String> {
    let raw = h
        .get(&REPLICA_META)
        .and_then(|v| B64.decode(v.as_bytes()).ok())
        .ok_or("missing or malformed ais-replica-meta")?;
    let meta = ObjectMeta::decode(&raw)?;
    let mtime = h
        .get(&REPLICA_MTIME)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or("missing or malformed ais-replica-mtime")?;
    Ok((meta, mtime))
}

/// A response body as the store's body stream.
pub(super) fn body_of(
    body: Incoming,
) -> impl futures_util::Stream<Item = store::BodyResult> + Unpin {
    http_body_util::BodyStream::new(body)
        .try_filter_map(|f| std::future::ready(Ok(f.into_data().ok())))
        .map_err(|e| e.to_string())
}

/// `PUT ?ais_replica=put` (intra-cluster port): stores an object moved here.
pub async fn receive(
    ctx: &TargetContext,
    req: Request<Incoming>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let (meta, mtime) = parse_meta(req.headers()).map_err(ApiError::BadRequest)?;
    let (size, version) = (meta.size, meta.version);
    let outcome = ctx
        .store
        .put_replica(bucket, object, body_of(req.into_body()), meta, mtime)
        .await;
    let verdict = match outcome {
        Ok(_) => {
            ctx.metrics.reb_rx_count.inc();
            ctx.metrics.reb_rx_size.inc_by(size);
            "stored"
        }
        Err(store::Error::NotNewer { .. }) => "kept-newer",
        Err(e) => return Err(e.into()),
    };
    let mut resp = Response::new(crate::http::empty());
    resp.headers_mut()
        .insert(REPLICA_RESULT, HeaderValue::from_static(verdict));
    if let Some(key) = ctx.cluster_key() {
        let version = version.to_string();
        let receipt = key.receipt(&Receipt {
            node: &ctx.node.id,
            bucket,
            object,
            version: &version,
            verdict,
        });
        if let Ok(v) = HeaderValue::from_str(&receipt) {
            resp.headers_mut().insert(REPLICA_RECEIPT, v);
        }
    }
    Ok(resp)
}

/// `PUT ?ais_replica=tomb` (intra-cluster port): a deletion made at another target
/// (`ais-replica-mtime` = when): a copy here written before then goes.
pub async fn receive_tombstone(
    ctx: &TargetContext,
    req: &Request<Incoming>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let when: i64 = req
        .headers()
        .get(&REPLICA_MTIME)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ApiError::BadRequest("missing or malformed ais-replica-mtime".into()))?;
    let removed = ctx.store.apply_tombstone(bucket, object, when).await?;
    if removed {
        tracing::info!(%bucket, %object, "a copy deleted elsewhere while this target held it was removed");
    }
    Ok(Response::new(crate::http::empty()))
}

/// `GET ?ais_replica=get` (intra-cluster port): hands over an object with its metadata,
/// whoever owns it.
pub async fn hand_over(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let reader = ctx.store.open_object(bucket, object).await?;
    let size = reader.info.meta.size;
    let headers = replica_headers(&reader);
    let mut resp = Response::new(stream(reader.stream(0, size)));
    for (k, v) in headers {
        resp.headers_mut().insert(k, v);
    }
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(resp)
}

/// Opens `bucket/object` here, or, when this target does not have it, fetches it from
/// the targets that owned it before (and keeps it). A holder that does not answer makes
/// the object 503 (it may exist there), never 404.
pub async fn open_here_or_fetch(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
) -> Result<ObjectReader, ApiError> {
    match ctx.store.open_object(bucket, object).await {
        Err(store::Error::ObjectNotFound { .. }) if ctx.config.proxy.is_some() => {}
        other => return other.map_err(ApiError::from),
    }
    // Boxed: inline, this rare path's future would be copied into every GET's.
    Box::pin(fetch_from_holders(ctx, bucket, object)).await
}

/// The object is not here: not at all if it was deleted through this owner, else from a
/// previous holder (get-from-neighbor).
async fn fetch_from_holders(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
) -> Result<ObjectReader, ApiError> {
    if ctx.store.tombstone(bucket, object).await?.is_some() {
        // Deleted through this owner: a copy elsewhere is stale.
        return Err(store::Error::ObjectNotFound {
            bucket: bucket.into(),
            object: object.into(),
        }
        .into());
    }
    let mut silent = Vec::new();
    for holder in ctx.cluster.holders(&ctx.node.id, bucket, object) {
        match fetch(ctx, &holder, bucket, object).await {
            Ok(true) => {
                ctx.metrics.gfn_count.inc();
                return ctx
                    .store
                    .open_object(bucket, object)
                    .await
                    .map_err(ApiError::from);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::debug!(%bucket, %object, holder = %holder.daemon_id, error = %e, "get-from-neighbor failed");
                silent.push(holder.daemon_id);
            }
        }
    }
    // A holder may have pushed it here (and dropped its copy) while we asked around.
    match ctx.store.open_object(bucket, object).await {
        Err(store::Error::ObjectNotFound { .. }) => {}
        other => return other.map_err(ApiError::from),
    }
    if silent.is_empty() {
        return Err(store::Error::ObjectNotFound {
            bucket: bucket.into(),
            object: object.into(),
        }
        .into());
    }
    Err(ApiError::Unavailable(format!(
        "ais://{bucket}/{object}: not on this target, and target(s) {} that may hold it do not answer; retry",
        silent.join(", ")
    )))
}

/// How long after a change of the set of targets a DELETE also removes copies at the
/// previous owners (a walk may not have moved them yet).
const DELETE_EVERYWHERE_FOR: Duration = Duration::from_secs(600);

/// DELETE: removes the object here and, for a while after the set of targets changed,
/// wherever a previous owner still holds a copy, so a delete during rebalance is not
/// undone by a copy moved afterwards.
pub async fn delete_everywhere(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
) -> Result<(), ApiError> {
    if ctx.config.proxy.is_none() {
        return ctx
            .store
            .delete(bucket, object)
            .await
            .map_err(ApiError::from);
    }
    // Remembered before anything is deleted, so neither a copy on a target that is away
    // nor one arriving while this runs can bring it back (an arriving copy checks for
    // the mark after it lands).
    let now = crate::store::unix_now_ns();
    let marked = ctx.store.add_tombstone(bucket, object, now).await;
    if let Err(e) = &marked {
        tracing::warn!(%bucket, %object, error = %e, "cannot record the deletion");
    }
    let here = ctx.store.delete(bucket, object).await;
    let outcome = delete_at_holders(ctx, bucket, object, here).await;
    let nothing_deleted = outcome
        .as_ref()
        .is_err_and(|e| e.status() == StatusCode::NOT_FOUND);
    if !(marked.is_ok() && nothing_deleted) {
        return outcome;
    }
    // A previous owner may have moved its copy here meanwhile (and dropped its own): the
    // mark stopped that copy, so the object was there and is deleted.
    if ctx.store.stopped_a_copy(bucket, object, now).await? {
        return Ok(());
    }
    let _ = ctx.store.forget_tombstone(bucket, object, now).await;
    outcome
}

async fn delete_at_holders(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    here: store::Result<()>,
) -> Result<(), ApiError> {
    if !ctx.cluster.moved_within(DELETE_EVERYWHERE_FOR) {
        return here.map_err(ApiError::from);
    }
    let mut found = match here {
        Ok(()) => true,
        Err(store::Error::ObjectNotFound { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    let mut silent = Vec::new();
    for holder in ctx.cluster.holders(&ctx.node.id, bucket, object) {
        let req = Request::builder()
            .method(Method::DELETE)
            .uri(replica_url(&holder, bucket, object, "del"))
            .body(no_body());
        let Ok(req) = req else { continue };
        match tokio::time::timeout(Duration::from_secs(5), ctx.data.send(req)).await {
            Ok(Ok(r)) if r.status() == StatusCode::OK => found = true,
            Ok(Ok(r)) if r.status() == StatusCode::NOT_FOUND => {}
            _ => silent.push(holder.daemon_id),
        }
    }
    match (found, silent.is_empty()) {
        (true, _) => Ok(()),
        (false, true) => Err(store::Error::ObjectNotFound {
            bucket: bucket.into(),
            object: object.into(),
        }
        .into()),
        (false, false) => Err(ApiError::Unavailable(format!(
            "ais://{bucket}/{object}: not on this target, and target(s) {} that may hold it do not answer; retry",
            silent.join(", ")
        ))),
    }
}

/// Fetches one object from `holder`; `Ok(false)` when it does not have it.
async fn fetch(
    ctx: &TargetContext,
    holder: &Snode,
    bucket: &str,
    object: &str,
) -> Result<bool, String> {
    let req = Request::builder()
        .method(Method::GET)
        .uri(replica_url(holder, bucket, object, "get"))
        .body(no_body())
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(5), ctx.data.send(req))
        .await
        .map_err(|_| "no answer within 5 s".to_string())?
        .map_err(|e| e.to_string())?;
    match resp.status() {
        StatusCode::OK => {}
        StatusCode::NOT_FOUND => return Ok(false),
        s => return Err(format!("{s}")),
    }
    let (meta, mtime) = parse_meta(resp.headers())?;
    match ctx
        .store
        .put_replica(bucket, object, body_of(resp.into_body()), meta, mtime)
        .await
    {
        Ok(_) | Err(store::Error::NotNewer { .. }) => Ok(true),
        Err(e) => Err(e.to_string()),
    }
}

/// The `ais_replica` kind of a request that came on the intra-cluster port, if any.
pub fn replica_kind<B>(req: &Request<B>) -> Option<String> {
    if crate::http::Plane::of(req) != crate::http::Plane::Intra {
        return None;
    }
    let q = req.uri().query()?;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == REPLICA_QUERY)
        .map(|(_, v)| v.into_owned())
}
