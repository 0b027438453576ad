//! Reading inside archive objects (shards): one member by its path, or a TAR of the
//! members a pattern matches, read on a blocking thread and handed over through a
//! channel of a few pieces, so a read holds at most ~4 x 64 KiB whatever the members'
//! sizes; it stops when the reader goes and at [`ARCHIVE_DEADLINE`]. Serves the native
//! GET (`archpath`, `archregx`) and GetBatch.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::TargetContext;
use crate::archive::{self, ArchiveError, Matcher, Piece};
use crate::wire::ApiError;

/// How long one read inside an archive may take.
pub const ARCHIVE_DEADLINE: Duration = Duration::from_secs(60);

/// What to read inside the archive.
pub enum Selection {
    /// One member, by its path.
    Member(String),
    /// A TAR of the members matching (`archmode`, `archregx`).
    Matching { mode: String, pattern: String },
}

/// The bytes read: the member's size when one member was asked for, and the stream.
pub struct ArchiveRead {
    pub size: Option<u64>,
    pub stream: BoxStream<'static, std::io::Result<Bytes>>,
}

fn api_error(bucket: &str, object: &str, e: ArchiveError) -> ApiError {
    match e {
        ArchiveError::Io(e) => ApiError::Store(Box::new(crate::store::Error::io(
            format!("{bucket}/{object}: read archive"),
            e,
        ))),
        ArchiveError::Deadline => ApiError::Unavailable(format!("ais://{bucket}/{object}: {e}")),
        other => ApiError::BadRequest(format!("ais://{bucket}/{object}: {other}")),
    }
}

/// Opens `bucket/object` (here, or fetched from a previous owner) and starts reading
/// `what` inside it; a 404 when the member (or any match) is not there.
pub async fn read(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    what: Selection,
) -> Result<ArchiveRead, ApiError> {
    let r = super::locate::open_here_or_fetch(ctx, bucket, object).await?;
    if let Selection::Member(path) = &what {
        if let Some(read) = indexed_member(ctx, bucket, object, r, path).await? {
            return Ok(read);
        }
    }
    let (file, _) = ctx.store.open_plain(bucket, object).await?;
    let o = object.to_string();
    let single = matches!(what, Selection::Member(_));
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
    let (first_tx, first_rx) = oneshot::channel::<Result<Option<u64>, ArchiveError>>();
    let deadline = Instant::now() + ARCHIVE_DEADLINE;
    let sent = ctx.metrics.get_bytes.clone();
    let asked = match &what {
        Selection::Member(p) => format!("no member {p:?}"),
        Selection::Matching { .. } => "no member matches".to_string(),
    };
    tokio::task::spawn_blocking(move || {
        let mut first = Some(first_tx);
        let outcome = {
            let mut sink = |p: Piece<'_>| match p {
                Piece::Start(size) => first.take().is_some_and(|f| f.send(Ok(Some(size))).is_ok()),
                Piece::Data(d) => {
                    sent.inc_by(d.len() as u64);
                    tx.blocking_send(Ok(Bytes::copy_from_slice(d))).is_ok()
                }
                Piece::Alive => !tx.is_closed(),
            };
            let mut file = file;
            archive::detect(&mut file, &o)
                .and_then(|f| f.ok_or(ArchiveError::NotArchive))
                .and_then(|fmt| match what {
                    Selection::Member(path) => {
                        archive::stream_member(file, fmt, &path, deadline, &mut sink)
                    }
                    Selection::Matching { mode, pattern } => {
                        let m = Matcher::new(&mode, &pattern)?;
                        let sel = archive::stream_selected_tar(file, fmt, &m, deadline, &mut sink)?;
                        if sel.unsafe_names > 0 {
                            tracing::warn!(object = %o, skipped = sel.unsafe_names, "archive members with names outside the archive (../ or absolute) skipped");
                        }
                        Ok(sel.members > 0)
                    }
                })
        };
        match (outcome, first.take()) {
            (Ok(_), Some(f)) => drop(f.send(Ok(None))),
            (Err(e), Some(f)) => drop(f.send(Err(e))),
            (Err(ArchiveError::Stopped), None) | (Ok(_), None) => {}
            // Mid-stream: the reader sees the stream cut short.
            (Err(e), None) => drop(tx.blocking_send(Err(std::io::Error::other(e.to_string())))),
        }
    });
    let size = match first_rx.await {
        Ok(Ok(Some(size))) => size,
        Ok(Ok(None)) => {
            return Err(ApiError::NotFound(format!(
                "ais://{bucket}/{object}: {asked} in the archive"
            )));
        }
        Ok(Err(e)) => return Err(api_error(bucket, object, e)),
        Err(_) => return Err(ApiError::Upstream("archive read ended unexpectedly".into())),
    };
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed();
    Ok(ArchiveRead {
        size: single.then_some(size),
        stream,
    })
}

/// Member `path` of a plain TAR through the shard's index: one ranged read of the object
/// (None: not a plain TAR, read it the slow way).
async fn indexed_member(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    r: crate::store::ObjectReader,
    path: &str,
) -> Result<Option<ArchiveRead>, ApiError> {
    let learn = || async {
        let (file, _) = ctx.store.open_plain(bucket, object).await.ok()?;
        let deadline = Instant::now() + ARCHIVE_DEADLINE;
        super::shard_index::learn(file, object.to_string(), deadline).await
    };
    let meta = &r.info.meta;
    let Some(index) = ctx.shard_indexes.get(bucket, object, meta, learn).await else {
        return Ok(None);
    };
    match index.get(path) {
        Some((off, size)) if off + size <= meta.size => {
            ctx.metrics.get_bytes.inc_by(size);
            Ok(Some(ArchiveRead {
                size: Some(size),
                stream: r.stream(off, size).boxed(),
            }))
        }
        Some(_) => Ok(None),
        None => Err(ApiError::NotFound(format!(
            "ais://{bucket}/{object}: no member {path:?} in the archive"
        ))),
    }
}

/// Members `skip..skip+limit` of shard `object` with sizes (none when it is not an
/// archive or cannot be read); a shard of any size costs one page of names.
pub async fn members(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    skip: usize,
    limit: usize,
) -> Vec<archive::Member> {
    if !archive::looks_like_archive(object) || limit == 0 {
        return Vec::new();
    }
    let Ok((file, _)) = ctx.store.open_plain(bucket, object).await else {
        return Vec::new();
    };
    let o = object.to_string();
    let deadline = Instant::now() + ARCHIVE_DEADLINE;
    let listed =
        tokio::task::spawn_blocking(move || -> Result<Vec<archive::Member>, ArchiveError> {
            let mut file = file;
            match archive::detect(&mut file, &o)? {
                Some(fmt) => archive::list(file, fmt, skip, limit, deadline),
                None => Ok(Vec::new()),
            }
        })
        .await;
    match listed {
        Ok(Ok(m)) => m,
        _ => Vec::new(),
    }
}
