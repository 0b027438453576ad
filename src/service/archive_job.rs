//! Multi-object archive (`PUT /v1/buckets/SRC` `{"action":"archive"}`, the SDK's
//! `ObjectGroup.archive`): listed objects written as one TAR (or TGZ) shard. The target
//! that owns the shard's name runs it: each member is read here or streamed from its
//! owner, framed by [`crate::tar_writer`] and fed to an ordinary PUT of the shard, so the
//! shard appears whole or not at all and no member is held in memory.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Stream, StreamExt, TryStreamExt};
use http::{Method, Request, StatusCode};
use serde_json::Value;

use super::TargetContext;
use crate::jobs::{Counts, Progress};
use crate::store::{BodyResult, PutOptions};
use crate::tar_writer::{self, Sink};
use crate::wire::specs::ArchiveSpec;
use crate::wire::ApiError;

/// Starts the archive job here and answers its ID.
pub async fn start(
    ctx: &Arc<TargetContext>,
    src: &str,
    names: Vec<String>,
    spec: ArchiveSpec,
) -> Result<String, ApiError> {
    ctx.store.require_bucket(src)?;
    ctx.store.require_bucket(&spec.to)?;
    let (ctx2, src2) = (ctx.clone(), src.to_string());
    let id = ctx.jobs.start(
        "archive",
        src,
        Some(&spec.to.clone()),
        move |p| async move {
            write_shard(&ctx2, &src2, names, &spec, &p).await?;
            Ok(Value::Null)
        },
    );
    Ok(id)
}

type Member = Pin<Box<dyn Stream<Item = BodyResult> + Send>>;

/// A member's size, modification time (unix seconds) and bytes: here, or from its owner.
async fn open_member(
    ctx: &TargetContext,
    bucket: &str,
    name: &str,
) -> Result<(u64, u64, Member), String> {
    let owner = ctx
        .cluster
        .smap()
        .and_then(|s| s.owner(bucket, name).cloned())
        .filter(|o| o.daemon_id != ctx.node.id);
    let Some(owner) = owner else {
        let r = super::locate::open_here_or_fetch(ctx, bucket, name)
            .await
            .map_err(|e| e.to_string())?;
        let (size, mtime) = (r.info.meta.size, (r.info.mtime_ns / 1_000_000_000) as u64);
        return Ok((
            size,
            mtime,
            Box::pin(r.stream(0, size).map_err(|e| e.to_string())),
        ));
    };
    let req = Request::builder()
        .method(Method::GET)
        .uri(super::replica::object_url(&owner, bucket, name))
        .body(crate::http::forward::no_body())
        .map_err(|e| e.to_string())?;
    let resp = ctx
        .data
        .send(req)
        .await
        .map_err(|e| format!("{}: {e}", owner.daemon_id))?;
    if resp.status() != StatusCode::OK {
        return Err(format!("{}: {}", owner.daemon_id, resp.status()));
    }
    let h = resp.headers();
    let size = h
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .ok_or("no Content-Length")?;
    let mtime = h
        .get(http::header::LAST_MODIFIED)
        .and_then(|v| httpdate::parse_http_date(v.to_str().ok()?).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    Ok((
        size,
        mtime,
        Box::pin(super::replica::body_of(resp.into_body())),
    ))
}

/// Streams the members into a PUT of the shard.
async fn write_shard(
    ctx: &Arc<TargetContext>,
    src: &str,
    names: Vec<String>,
    spec: &ArchiveSpec,
    progress: &Progress,
) -> Result<(), String> {
    let (tx, rx) = tokio::sync::mpsc::channel::<BodyResult>(8);
    let producer = async {
        let outcome = produce(ctx, src, &names, spec, progress, &tx).await;
        if let Err(e) = &outcome {
            // Fails the PUT: no partial shard is kept.
            let _ = tx.send(Err(e.clone())).await;
        }
        drop(tx);
        outcome
    };
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let put = ctx.store.put(
        &spec.to,
        &spec.msg.name,
        Box::pin(body),
        PutOptions::default(),
    );
    let (produced, stored) = tokio::join!(producer, put);
    produced?;
    let info = stored.map_err(|e| e.to_string())?;
    super::redundancy::protect(ctx, &spec.to, &spec.msg.name)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(%src, shard = %format!("{}/{}", spec.to, spec.msg.name), members = names.len(), size = info.meta.size, "shard written");
    Ok(())
}

async fn produce(
    ctx: &TargetContext,
    src: &str,
    names: &[String],
    spec: &ArchiveSpec,
    progress: &Progress,
    tx: &tokio::sync::mpsc::Sender<BodyResult>,
) -> Result<(), String> {
    let mut sink = Sink::new(spec.gzip);
    let send = |bytes: Vec<u8>| async move {
        if bytes.is_empty() {
            return Ok(());
        }
        tx.send(Ok(bytes.into()))
            .await
            .map_err(|_| "the shard's PUT stopped".to_string())
    };
    for name in names {
        if progress.aborted() {
            return Err("aborted".into());
        }
        let (size, mtime, mut data) = match open_member(ctx, src, name).await {
            Ok(m) => m,
            Err(e) if spec.msg.continue_on_error => {
                tracing::warn!(%src, %name, error = %e, "archive: member skipped (continue on error)");
                continue;
            }
            Err(e) => return Err(format!("{src}/{name}: {e}")),
        };
        let member = if spec.msg.include_bucket_name {
            format!("{src}/{name}")
        } else {
            name.clone()
        };
        send(
            sink.push(&tar_writer::member_header(&member, size, mtime))
                .map_err(|e| e.to_string())?,
        )
        .await?;
        let mut seen = 0u64;
        while let Some(chunk) = data.next().await {
            let chunk = chunk.map_err(|e| format!("{src}/{name}: {e}"))?;
            seen += chunk.len() as u64;
            if seen > size {
                break;
            }
            send(sink.push(&chunk).map_err(|e| e.to_string())?).await?;
        }
        if seen != size {
            return Err(format!("{src}/{name}: read {seen} of {size} bytes"));
        }
        send(
            sink.push(&tar_writer::padding(size))
                .map_err(|e| e.to_string())?,
        )
        .await?;
        progress.add(
            &ctx.node.id,
            Counts {
                objects: 1,
                bytes: size,
                ..Default::default()
            },
        );
    }
    send(
        sink.push(&tar_writer::trailer())
            .map_err(|e| e.to_string())?,
    )
    .await?;
    send(sink.finish().map_err(|e| e.to_string())?).await
}
