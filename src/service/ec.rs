//! Erasure coding across targets. An object at or above its bucket's `ec.objsize_limit`
//! stays whole on its owner and is cut into D data and P parity slices
//! ([`crate::erasure`]), slice `i` on the placement's target `1 + i` (distinct machines
//! first, [`crate::cluster::placement`]). Any D slices rebuild it: a read that finds
//! neither the object nor a whole copy rebuilds it here, streamed stripe by stripe and
//! checked against the object's checksum; the heal walk gives every slice holder its
//! slice again after the map changed.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::mpsc;

use super::replica::{body_of, replica_url, Push, Verdict};
use super::TargetContext;
use crate::cluster::bprops::EcScheme;
use crate::cluster::{placement, Smap, Snode};
use crate::erasure::{Decoder, Encoder, Layout};
use crate::http::forward::{no_body, ReqBody};
use crate::store::{self, ObjectReader, SliceInfo};

/// The slice's description ([`SliceInfo`], base64) on slice transfers.
pub const EC_SLICE: HeaderName = HeaderName::from_static("ais-ec-slice");

/// Stripes queued per slice between the coder and the network.
const STRIPES_IN_FLIGHT: usize = 2;

/// Longest a slice transfer may take to accept or deliver one shard (at most 256 KiB):
/// a peer that stops reading or sending fails the PUT or the rebuild instead of holding
/// it forever.
const SHARD_STALL: Duration = Duration::from_secs(30);

/// Redundancy work in flight on this target.
#[derive(Default)]
pub struct EcState {
    /// Objects being rebuilt here now (a second request for one waits for the first).
    rebuilding: Mutex<HashSet<(String, String)>>,
    /// Objects a read found short of mirror copies, re-made in the background.
    pub(super) short: Mutex<std::collections::BTreeSet<(String, String)>>,
}

pub fn slice_header(info: &SliceInfo) -> Option<HeaderValue> {
    HeaderValue::from_str(&B64.encode(info.encode())).ok()
}

pub fn parse_slice_header(h: &HeaderMap) -> Result<SliceInfo, String> {
    let raw = h
        .get(&EC_SLICE)
        .and_then(|v| B64.decode(v.as_bytes()).ok())
        .ok_or("missing or malformed ais-ec-slice")?;
    SliceInfo::decode(&raw)
}

/// Encodes the object `reader` reads and sends slice `i` to each `(i, target)` of `to`,
/// all at once, one pass over the object. Returns each transfer's outcome, in order.
pub async fn send_slices(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    reader: ObjectReader,
    scheme: EcScheme,
    to: &[(usize, Snode)],
) -> Vec<Result<Verdict, String>> {
    let layout = Layout::new(scheme.data, scheme.parity, reader.info.meta.size);
    let base = SliceInfo {
        index: 0,
        data: layout.data as u32,
        parity: layout.parity as u32,
        shard: layout.shard as u32,
        object: reader.info.meta.clone(),
        mtime_ns: reader.info.mtime_ns,
    };
    let mut senders = Vec::with_capacity(to.len());
    let mut pushes = Vec::with_capacity(to.len());
    for (index, node) in to {
        let (tx, rx) = mpsc::channel::<Result<Bytes, String>>(STRIPES_IN_FLIGHT);
        senders.push((*index, tx));
        let info = SliceInfo {
            index: *index as u32,
            ..base.clone()
        };
        pushes.push(push_slice(ctx, node, bucket, object, info, rx));
    }
    let (encoded, results) = tokio::join!(
        encode_into(reader, layout, senders),
        futures_util::future::join_all(pushes)
    );
    match encoded {
        Ok(()) => results,
        Err(e) => results
            .into_iter()
            .map(|r| r.and_then(|_| Err(e.clone())))
            .collect(),
    }
}

/// Streams one slice from `rx` to `to`.
async fn push_slice(
    ctx: &TargetContext,
    to: &Snode,
    bucket: &str,
    object: &str,
    info: SliceInfo,
    rx: mpsc::Receiver<Result<Bytes, String>>,
) -> Result<Verdict, String> {
    let header = slice_header(&info).ok_or("slice description is not a header value")?;
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let body: ReqBody =
        http_body_util::StreamBody::new(frames.map_ok(hyper::body::Frame::data).map_err(|e| {
            Box::new(std::io::Error::other(e)) as Box<dyn std::error::Error + Send + Sync>
        }))
        .boxed_unsync();
    let push = Push {
        to,
        bucket,
        name: object,
        kind: "slice",
        version: info.object.version,
        size: info.layout().slice_size(),
    };
    push.send(ctx, vec![(EC_SLICE, header)], body).await
}

/// Reads the object stripe by stripe and hands each wanted shard to its slice's sender.
/// On failure every transfer is cut short (its receiver sees an error, not a short
/// slice).
async fn encode_into(
    reader: ObjectReader,
    layout: Layout,
    senders: Vec<(usize, mpsc::Sender<Result<Bytes, String>>)>,
) -> Result<(), String> {
    let size = reader.info.meta.size;
    let result = async {
        let mut coder = Encoder::new(layout).map_err(|e| e.to_string())?;
        let mut body = std::pin::pin!(reader.stream(0, size));
        let mut carry = Bytes::new();
        let mut stripe = Vec::with_capacity(layout.stripe_bytes());
        for k in 0..layout.stripes() {
            let want = layout.bytes_in_stripe(k);
            while stripe.len() < want {
                if carry.is_empty() {
                    carry = match body.next().await {
                        Some(Ok(b)) => b,
                        Some(Err(e)) => return Err(e.to_string()),
                        None => return Err("object shorter than its metadata".to_string()),
                    };
                }
                let n = (want - stripe.len()).min(carry.len());
                stripe.extend_from_slice(&carry.split_to(n));
            }
            let mut shards = coder.encode(&stripe).map_err(|e| e.to_string())?;
            stripe.clear();
            for (i, tx) in &senders {
                let shard = std::mem::take(&mut shards[*i]);
                match tokio::time::timeout(SHARD_STALL, tx.send(Ok(Bytes::from(shard)))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Err("a slice transfer ended early".to_string()),
                    Err(_) => {
                        return Err(format!(
                            "slice {i}: its target took no data for {SHARD_STALL:?}"
                        ))
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = &result {
        for (_, tx) in &senders {
            let _ = tx.try_send(Err(e.clone()));
        }
    }
    result
}

/// Rebuilds `bucket/object` here from D slices of one version held by other targets
/// (those the placement names first, then any other). `Ok(false)`: no D slices of one
/// version exist; an error when too few answered and some targets were silent.
pub async fn rebuild(ctx: &TargetContext, bucket: &str, object: &str) -> Result<bool, String> {
    let r = ctx.redundancy(bucket);
    let (Some(ec), Some(smap)) = (r.ec, ctx.cluster.smap()) else {
        return Ok(false);
    };
    let key = (bucket.to_string(), object.to_string());
    if !lock(&ctx.ec.rebuilding).insert(key.clone()) {
        // Another request rebuilds it now: wait for that one.
        while lock(&ctx.ec.rebuilding).contains(&key) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        return Ok(ctx.store.head(bucket, object).await.is_ok());
    }
    let outcome = rebuild_from(ctx, &smap, bucket, object, ec.data).await;
    lock(&ctx.ec.rebuilding).remove(&key);
    if matches!(outcome, Ok(true)) {
        ctx.metrics.ec_rebuilt_count.inc();
    }
    outcome
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn rebuild_from(
    ctx: &TargetContext,
    smap: &Smap,
    bucket: &str,
    object: &str,
    data: usize,
) -> Result<bool, String> {
    let me = ctx.node.id.as_str();
    let holders = ctx.redundancy(bucket).holders();
    let first: Vec<Snode> = placement::place(smap, bucket, object, holders)
        .targets
        .into_iter()
        .filter(|t| t.daemon_id != me)
        .cloned()
        .collect();
    let mut silent = Vec::new();
    let mut found = open_slices(ctx, &first, bucket, object, &mut silent).await;
    // This target's own slice counts too (it may be the owner now).
    if let Ok((reader, info)) = ctx.store.open_slice(bucket, object).await {
        let size = reader.info.meta.size;
        let bytes = reader.stream(0, size).map_err(|e| e.to_string()).boxed();
        found.push((info, bytes));
    }
    if newest_complete(&found, data).is_none() {
        let rest: Vec<Snode> = smap
            .active_targets()
            .filter(|t| t.daemon_id != me && !first.iter().any(|f| f.daemon_id == t.daemon_id))
            .cloned()
            .collect();
        found.extend(open_slices(ctx, &rest, bucket, object, &mut silent).await);
    }
    let Some(chosen) = choose(&mut found, data) else {
        if !found.is_empty() && silent.is_empty() {
            ctx.metrics.ec_lost_count.inc();
            tracing::error!(%bucket, %object, slices = found.len(), data, "EC: too few slices left to rebuild the object");
        }
        tracing::debug!(%bucket, %object, found = found.len(), silent = silent.len(), "EC: too few slices to rebuild");
        if silent.is_empty() {
            return Ok(false);
        }
        return Err(format!(
            "fewer than {data} slices answered, and target(s) {} did not",
            silent.join(", ")
        ));
    };
    decode_here(ctx, bucket, object, chosen).await?;
    Ok(true)
}

/// A slice to read: its description and its bytes (from another target or this one).
type Incoming_ = (
    SliceInfo,
    futures_util::stream::BoxStream<'static, store::BodyResult>,
);

/// `GET ?ais_replica=slice` at each of `nodes`, at once; the silent ones go to `silent`.
async fn open_slices(
    ctx: &TargetContext,
    nodes: &[Snode],
    bucket: &str,
    object: &str,
    silent: &mut Vec<String>,
) -> Vec<Incoming_> {
    let asks = nodes.iter().map(|n| async move {
        let resp = ask(ctx, n, Method::GET, bucket, object, "slice").await?;
        match resp.status() {
            StatusCode::OK => {
                let info = parse_slice_header(resp.headers())?;
                Ok(Some((info, body_of(resp.into_body()).boxed())))
            }
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(s.to_string()),
        }
    });
    let mut out = Vec::new();
    for (n, r) in nodes.iter().zip(futures_util::future::join_all(asks).await) {
        match r {
            Ok(Some(s)) => out.push(s),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(%bucket, %object, node = %n.daemon_id, error = %e, "EC: slice not read");
                silent.push(n.daemon_id.clone());
            }
        }
    }
    out
}

/// The newest (modification time, version) of which `found` has D distinct slices.
fn newest_complete(found: &[Incoming_], data: usize) -> Option<(i64, u64)> {
    let mut versions: Vec<(i64, u64)> = found
        .iter()
        .map(|(i, _)| (i.mtime_ns, i.object.version))
        .collect();
    versions.sort_unstable_by(|a, b| b.cmp(a));
    versions.dedup();
    versions.into_iter().find(|v| {
        let idx: HashSet<u32> = found
            .iter()
            .filter(|(i, _)| (i.mtime_ns, i.object.version) == *v)
            .map(|(i, _)| i.index)
            .collect();
        idx.len() >= data
    })
}

/// D slices of the newest version that has D distinct ones, data slices first (they
/// need no decoding); taken out of `found`.
fn choose(found: &mut Vec<Incoming_>, data: usize) -> Option<Vec<Incoming_>> {
    let pick = newest_complete(found, data)?;
    let mut chosen: Vec<Incoming_> = Vec::new();
    let mut rest = Vec::new();
    found.sort_by_key(|(i, _)| i.index);
    for s in found.drain(..) {
        let fits = (s.0.mtime_ns, s.0.object.version) == pick
            && chosen.len() < data
            && !chosen.iter().any(|c| c.0.index == s.0.index);
        if fits {
            chosen.push(s);
        } else {
            rest.push(s);
        }
    }
    *found = rest;
    Some(chosen)
}

/// Decodes the chosen slices stripe by stripe into the store (as the object, with its
/// metadata and time; the store checks the carried checksum before it commits).
async fn decode_here(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    chosen: Vec<Incoming_>,
) -> Result<(), String> {
    let info = chosen[0].0.clone();
    let layout = info.layout();
    let mut readers: Vec<(usize, ShardReader<_>)> = chosen
        .into_iter()
        .map(|(i, body)| (i.index as usize, ShardReader::new(body)))
        .collect();
    let (tx, rx) = mpsc::channel::<Result<Bytes, String>>(STRIPES_IN_FLIGHT);
    let decode = async move {
        let result = async {
            let mut dec = Decoder::new(layout).map_err(|e| e.to_string())?;
            for k in 0..layout.stripes() {
                let mut shards = Vec::with_capacity(readers.len());
                for (i, r) in readers.iter_mut() {
                    shards.push((*i, r.next(layout.shard).await?));
                }
                let refs: Vec<(usize, &[u8])> = shards.iter().map(|(i, b)| (*i, &b[..])).collect();
                let data = dec.decode(k, &refs).map_err(|e| e.to_string())?;
                if tx.send(Ok(Bytes::from(data))).await.is_err() {
                    return Err("the store stopped reading".to_string());
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = &result {
            let _ = tx.send(Err(e.clone())).await;
        }
        result
    };
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed();
    let store = ctx
        .store
        .put_replica(bucket, object, body, info.object.clone(), info.mtime_ns);
    let (decoded, stored) = tokio::join!(decode, store);
    decoded?;
    match stored {
        Ok(_) | Err(store::Error::NotNewer { .. }) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Whole shards out of a body stream.
struct ShardReader<S> {
    body: S,
    buf: BytesMut,
}

impl<S: Stream<Item = store::BodyResult> + Unpin> ShardReader<S> {
    fn new(body: S) -> Self {
        ShardReader {
            body,
            buf: BytesMut::new(),
        }
    }

    async fn next(&mut self, n: usize) -> Result<Bytes, String> {
        while self.buf.len() < n {
            let next = tokio::time::timeout(SHARD_STALL, self.body.next())
                .await
                .map_err(|_| format!("a slice's target sent nothing for {SHARD_STALL:?}"))?;
            match next {
                Some(Ok(b)) => self.buf.extend_from_slice(&b),
                Some(Err(e)) => return Err(e),
                None => return Err("slice shorter than its layout".into()),
            }
        }
        Ok(self.buf.split_to(n).freeze())
    }
}

/// Gives every slice holder `smap` names for `bucket/object` its slice of the copy here,
/// where it lacks it or holds another version's or index's. Returns false when a holder
/// could not be asked or given its slice (the walk retries).
pub async fn ensure_slices(
    ctx: &TargetContext,
    smap: &Smap,
    bucket: &str,
    object: &str,
    scheme: EcScheme,
) -> bool {
    let Ok(mine) = ctx.store.head(bucket, object).await else {
        return true;
    };
    let p = placement::place(smap, bucket, object, scheme.data + scheme.parity + 1);
    let mut ok = true;
    let mut missing = Vec::new();
    for (i, t) in p.targets.iter().skip(1).enumerate() {
        match slice_at(ctx, t, bucket, object).await {
            Ok(Some(s)) if s.mtime_ns > mine.mtime_ns => {} // a later PUT's
            Ok(Some(s))
                if s.index as usize == i
                    && (s.mtime_ns, s.object.version) == (mine.mtime_ns, mine.meta.version) => {}
            Ok(_) => missing.push((i, (*t).clone())),
            Err(e) => {
                tracing::debug!(%bucket, %object, to = %t.daemon_id, error = %e, "EC heal: holder does not answer");
                ok = false;
            }
        }
    }
    if missing.is_empty() {
        return ok;
    }
    ctx.metrics.heal_degraded_count.inc();
    let Ok(reader) = ctx.store.open_object(bucket, object).await else {
        return ok;
    };
    if reader.info.meta.version != mine.meta.version {
        return ok; // overwritten meanwhile: that PUT made its own slices
    }
    let results = send_slices(ctx, bucket, object, reader, scheme, &missing).await;
    for ((_, t), r) in missing.iter().zip(results) {
        match r {
            Ok(_) => ctx.metrics.ec_slices_repaired_count.inc(),
            Err(e) => {
                tracing::warn!(%bucket, %object, to = %t.daemon_id, error = %e, "EC heal: slice not given");
                ok = false;
            }
        }
    }
    ok
}

/// The slice `node` holds of `bucket/object`, if any.
pub(super) async fn slice_at(
    ctx: &TargetContext,
    node: &Snode,
    bucket: &str,
    object: &str,
) -> Result<Option<SliceInfo>, String> {
    let resp = ask(ctx, node, Method::HEAD, bucket, object, "slice").await?;
    match resp.status() {
        StatusCode::OK => parse_slice_header(resp.headers()).map(Some),
        StatusCode::NOT_FOUND => Ok(None),
        s => Err(s.to_string()),
    }
}

/// One bodiless replica call (`?ais_replica=kind`) to `node`, its headers within 5 s.
pub(super) async fn ask(
    ctx: &TargetContext,
    node: &Snode,
    method: Method,
    bucket: &str,
    object: &str,
    kind: &str,
) -> Result<http::Response<Incoming>, String> {
    ask_within(
        ctx,
        node,
        (method, kind),
        bucket,
        object,
        Duration::from_secs(5),
    )
    .await
}

/// [`ask`] with its own time limit.
pub(super) async fn ask_within(
    ctx: &TargetContext,
    node: &Snode,
    (method, kind): (Method, &str),
    bucket: &str,
    object: &str,
    within: Duration,
) -> Result<http::Response<Incoming>, String> {
    let req = Request::builder()
        .method(method)
        .uri(replica_url(node, bucket, object, kind))
        .body(no_body())
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(within, ctx.data.send(req))
        .await
        .map_err(|_| format!("no answer within {within:?}"))?
        .map_err(|e| e.to_string())
}
