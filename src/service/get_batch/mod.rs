//! GetBatch (AIStore's `x-moss`) on the designated target: the items of one request
//! gathered from their owners and sent as one archive, in request order.
//!
//! Each owner (this target included) reads its own items in order, a few ahead
//! ([`items::LOOKAHEAD`]), and streams them here as frames over one intra-cluster
//! response ([`SEND_PATH`]); this target takes the next frame from the owner of the next
//! item and writes it into the archive. Backpressure does the rest: an owner whose items
//! are not wanted yet waits on its socket, so memory is a few buffers per owner however
//! many items there are. Streaming answers (`strm`) go out as they are assembled; buffered
//! ones (metadata first) wait in a [`spool::Spool`]. At most [`MAX_AT_ONCE`] requests are
//! assembled here at once; the next is told 429.

mod frames;
mod items;
mod output;
mod spool;

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use http::{header, HeaderValue, Method, Response, StatusCode};
use tokio::sync::mpsc;

use self::frames::{FrameHead, FrameReader};
use self::items::{framed, read_in_order};
use self::output::ArchiveOut;
use super::TargetContext;
use crate::cluster::Snode;
use crate::http::coalesce::{coalesce, COALESCE_MAX};
use crate::http::{stream, Body};
use crate::wire::moss::{self, Batch, Item, MossOut, MossResp};
use crate::wire::ApiError;

/// Intra-cluster path an owner is asked for its items on (`POST`, signed JSON body).
pub const SEND_PATH: &str = "/v1/ml/moss-send";
/// Requests assembled at once on one target.
pub const MAX_AT_ONCE: usize = 64;
/// Archive pieces queued for the client.
const OUT_QUEUE: usize = 8;
/// Small archive pieces are joined up to this many bytes before they are queued.
const HOLD_MAX: usize = crate::http::coalesce::COALESCE_MAX;
/// Only pieces shorter than this are joined: a large item's data (which arrives from its
/// owner in socket-sized pieces) goes out as it came, without one more copy.
const HOLD_BELOW: usize = 16 << 10;

/// The slots GetBatch requests take on this target.
pub fn slots() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(MAX_AT_ONCE))
}

/// `POST` [`SEND_PATH`]: this target's items of a batch, as frames.
pub fn send(ctx: Arc<TargetContext>, body: &[u8]) -> Result<Response<Body>, ApiError> {
    let items: Vec<(u32, Item)> = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("GetBatch items: {e}")))?;
    let frames = framed(read_in_order(ctx, items));
    Ok(Response::new(stream(coalesce(frames, COALESCE_MAX))))
}

/// Where the next item's frame comes from.
enum Source {
    Here {
        reads: BoxStream<'static, (u32, items::ItemRead)>,
        body: Option<BoxStream<'static, io::Result<Bytes>>>,
    },
    Owner {
        id: String,
        frames: FrameReader,
    },
}

impl Source {
    async fn head(&mut self) -> Result<FrameHead, String> {
        match self {
            Source::Here { reads, body } => {
                let (index, r) = reads.next().await.ok_or("no more items here")?;
                *body = Some(r.body);
                Ok(FrameHead {
                    index,
                    status: r.status,
                    size: r.size,
                    msg: r.msg,
                })
            }
            Source::Owner { id, frames } => {
                frames.head().await.map_err(|e| format!("target {id}: {e}"))
            }
        }
    }

    async fn data(&mut self) -> Result<Option<Bytes>, String> {
        match self {
            Source::Here { body, .. } => match body.as_mut() {
                None => Ok(None),
                Some(b) => b.next().await.transpose().map_err(|e| e.to_string()),
            },
            Source::Owner { id, frames } => {
                frames.data().await.map_err(|e| format!("target {id}: {e}"))
            }
        }
    }
}

/// Asks `owner` for its items (in order).
async fn open_owner(
    ctx: &TargetContext,
    owner: &Snode,
    items: &[(u32, Item)],
) -> Result<Source, ApiError> {
    let body = serde_json::to_vec(items).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let url = format!("{}{SEND_PATH}", owner.control_url());
    let resp = ctx
        .data
        .send_signed(Method::POST, &url, Bytes::from(body))
        .await
        .map_err(|e| ApiError::Unavailable(format!("GetBatch: target {}: {e}", owner.daemon_id)))?;
    if resp.status() != StatusCode::OK {
        return Err(ApiError::Upstream(format!(
            "GetBatch: target {} answered {}",
            owner.daemon_id,
            resp.status()
        )));
    }
    let stream = super::replica::body_of(resp.into_body()).boxed();
    Ok(Source::Owner {
        id: owner.daemon_id.clone(),
        frames: FrameReader::new(stream),
    })
}

/// Serves a checked GetBatch request on this (the designated) target.
pub async fn serve(ctx: &Arc<TargetContext>, batch: Batch) -> Result<Response<Body>, ApiError> {
    let permit = ctx
        .get_batch_slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::TooManyRequests(format!(
                "GetBatch: target {} is assembling {MAX_AT_ONCE} batches already; retry",
                ctx.node.id
            ))
        })?;
    // Items by owner, each owner's in request order.
    let smap = ctx.cluster.smap();
    // Group 0 is this target's own items.
    let mut groups: Vec<Group> = vec![(None, Vec::new())];
    let mut group_of: HashMap<String, usize> = HashMap::new();
    let mut owner_of = Vec::with_capacity(batch.items.len());
    for (i, item) in batch.items.iter().enumerate() {
        let owner = smap
            .as_deref()
            .and_then(|s| s.owner(&item.bucket, &item.objname))
            .filter(|o| o.daemon_id != ctx.node.id);
        let g = match owner {
            None => 0,
            Some(o) => *group_of.entry(o.daemon_id.clone()).or_insert_with(|| {
                groups.push((Some(o.clone()), Vec::new()));
                groups.len() - 1
            }),
        };
        groups[g].1.push((i as u32, item.clone()));
        owner_of.push(g);
    }
    // Opened on the multi-threaded runtime: the connections to the owners (and their
    // socket reads) run there, beside the serving thread that writes to the client.
    let background = &ctx.background;
    let opened = futures_util::future::join_all(groups.into_iter().map(|(owner, items)| {
        let ctx = ctx.clone();
        let open = async move {
            match owner {
                Some(o) => open_owner(&ctx, &o, &items).await,
                None => Ok(Source::Here {
                    reads: read_in_order(ctx.clone(), items),
                    body: None,
                }),
            }
        };
        let task = background.spawn(open);
        async move {
            task.await
                .unwrap_or_else(|e| Err(ApiError::Upstream(format!("GetBatch: {e}"))))
        }
    }))
    .await;
    let mut sources = opened.into_iter().collect::<Result<Vec<_>, _>>()?;
    // The first item decides the status line: a strict batch missing it is a clean error.
    let first = sources[owner_of[0]]
        .head()
        .await
        .map_err(ApiError::Upstream)?;
    if first.status != 200 && !batch.coer {
        return Err(item_error(&first));
    }
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(OUT_QUEUE);
    let batch = Arc::new(batch);
    let strm = batch.strm;
    let assembly = {
        let batch = batch.clone();
        ctx.background.spawn(async move {
            let _permit = permit;
            let outcome = assemble(&batch, sources, owner_of, first, &tx).await;
            if let Err(e) = &outcome {
                // A streaming answer is cut short, so the client cannot take it as whole.
                let _ = tx.send(Err(io::Error::other(e.1.clone()))).await;
            }
            outcome
        })
    };
    let pieces =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|p| (p, rx)) });
    if strm {
        let mut resp = Response::new(stream(pieces));
        set(&mut resp, header::CONTENT_TYPE, batch.format.content_type());
        return Ok(resp);
    }
    buffered(ctx, &batch, pieces.boxed(), assembly).await
}

fn item_error(h: &FrameHead) -> ApiError {
    let msg = h.msg.clone();
    match h.status {
        404 => ApiError::NotFound(msg),
        416 => ApiError::BadRequest(msg),
        429 => ApiError::TooManyRequests(msg),
        503 => ApiError::Unavailable(msg),
        s if s < 500 => ApiError::BadRequest(msg),
        _ => ApiError::Upstream(msg),
    }
}

type Failure = (Option<FrameHead>, String);
/// An owner (`None`: this target) and its items with their positions.
type Group = (Option<Snode>, Vec<(u32, Item)>);

/// Writes every item into the archive, in request order; the outcomes, in order.
async fn assemble(
    batch: &Batch,
    mut sources: Vec<Source>,
    owner_of: Vec<usize>,
    first: FrameHead,
    tx: &mpsc::Sender<io::Result<Bytes>>,
) -> Result<Vec<MossOut>, Failure> {
    let fail = |m: String| (None, m);
    // Small pieces (a header, a small item, its padding) are held and go out together once
    // they add up or the client side has taken everything sent so far (nothing waits).
    let mut held = BytesMut::new();
    let flush = |held: &mut BytesMut, force: bool| {
        let due = !held.is_empty()
            && (force || held.len() >= HOLD_MAX || tx.capacity() == tx.max_capacity());
        let b = if due {
            held.split().freeze()
        } else {
            Bytes::new()
        };
        async move {
            if b.is_empty() {
                return Ok(());
            }
            tx.send(Ok(b))
                .await
                .map_err(|_| (None, "the client went away".to_string()))
        }
    };
    let mut out = ArchiveOut::new(batch.format);
    let mut outcomes = Vec::with_capacity(if batch.strm { 0 } else { batch.items.len() });
    let mut first = Some(first);
    for (i, item) in batch.items.iter().enumerate() {
        let src = &mut sources[owner_of[i]];
        let head = match first.take() {
            Some(h) => h,
            None => src.head().await.map_err(fail)?,
        };
        if head.index as usize != i {
            return Err(fail(format!(
                "GetBatch: item {} arrived where item {i} was due",
                head.index
            )));
        }
        let missing = head.status != 200;
        if missing && !batch.coer {
            let m = head.msg.clone();
            return Err((Some(head), m));
        }
        let name = moss::name_in_archive(item, batch.onob, missing);
        held.extend_from_slice(
            &out.begin(&name, head.size)
                .map_err(|e| fail(e.to_string()))?,
        );
        let mut got = 0u64;
        while let Some(piece) = src.data().await.map_err(fail)? {
            got += piece.len() as u64;
            let piece = out.data(piece).map_err(|e| fail(e.to_string()))?;
            if piece.len() >= HOLD_BELOW {
                flush(&mut held, true).await?;
                tx.send(Ok(piece))
                    .await
                    .map_err(|_| (None, "the client went away".to_string()))?;
            } else {
                held.extend_from_slice(&piece);
                flush(&mut held, false).await?;
            }
        }
        if got != head.size {
            return Err(fail(format!(
                "GetBatch: {name}: {got} bytes of {} arrived",
                head.size
            )));
        }
        held.extend_from_slice(&out.end(head.size).map_err(|e| fail(e.to_string()))?);
        flush(&mut held, false).await?;
        if !batch.strm {
            outcomes.push(MossOut {
                objname: item.objname.clone(),
                archpath: item.archpath.clone(),
                bucket: item.bucket.clone(),
                provider: "ais".into(),
                err_msg: head.msg,
                opaque: batch.opaque[i].clone(),
                size: head.size,
            });
        }
    }
    held.extend_from_slice(&out.finish().map_err(|e| fail(e.to_string()))?);
    flush(&mut held, true).await?;
    Ok(outcomes)
}

/// A buffered answer: `multipart/form-data` with the outcomes (`metadata`), then the
/// archive (`archive`), once every item is in.
async fn buffered(
    ctx: &TargetContext,
    batch: &Batch,
    mut pieces: BoxStream<'static, io::Result<Bytes>>,
    assembly: tokio::task::JoinHandle<Result<Vec<MossOut>, Failure>>,
) -> Result<Response<Body>, ApiError> {
    let dir = ctx
        .store
        .mountpaths()
        .available()
        .first()
        .map(|mp| crate::fs::layout::work_dir(&mp.path, &batch.items[0].bucket))
        .ok_or_else(|| ApiError::Unavailable("GetBatch: no mountpath to spool on".into()))?;
    let mut spool = spool::Spool::new(dir);
    while let Some(piece) = pieces.next().await {
        match piece {
            Ok(b) => spool.push(b).await.map_err(|e| {
                ApiError::Unavailable(format!("GetBatch: cannot spool the archive: {e}"))
            })?,
            Err(_) => break, // the assembly's own error follows
        }
    }
    let outcomes = match assembly.await {
        Ok(Ok(o)) => o,
        Ok(Err((Some(head), _))) => return Err(item_error(&head)),
        Ok(Err((None, m))) => return Err(ApiError::Upstream(m)),
        Err(e) => return Err(ApiError::Upstream(format!("GetBatch: {e}"))),
    };
    let meta = serde_json::to_vec(&MossResp {
        uuid: format!("{:016x}", rand::random::<u64>()),
        out: outcomes,
    })
    .map_err(|e| ApiError::Upstream(e.to_string()))?;
    let boundary = format!("{:032x}", rand::random::<u128>());
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\nContent-Type: application/json\r\n\r\n",
        moss::META_PART
    );
    let mid = format!(
        "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\nContent-Type: {}\r\n\r\n",
        moss::DATA_PART,
        batch.format.content_type()
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let len = (head.len() + meta.len() + mid.len() + tail.len()) as u64 + spool.len;
    let archive = spool
        .into_stream()
        .await
        .map_err(|e| ApiError::Unavailable(format!("GetBatch: cannot read the spool: {e}")))?;
    let parts = futures_util::stream::iter([
        Ok(Bytes::from(head)),
        Ok(Bytes::from(meta)),
        Ok(Bytes::from(mid)),
    ])
    .chain(archive)
    .chain(futures_util::stream::once(
        async move { Ok(Bytes::from(tail)) },
    ));
    let mut resp = Response::new(stream(parts));
    set(
        &mut resp,
        header::CONTENT_TYPE,
        &format!("multipart/form-data; boundary={boundary}"),
    );
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    Ok(resp)
}

fn set(resp: &mut Response<Body>, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}
