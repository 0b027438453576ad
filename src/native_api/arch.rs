//! Reading inside archive objects through the native API: `GET ...?archpath=P` serves one
//! member, `GET ...?archregx=R[&archmode=M]` a TAR of the matching members, and listing
//! with `LsArchDir` adds each shard's members as `<shard>/<member>` entries.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderValue, Response};
use tokio::sync::{mpsc, oneshot};

use super::{ApiError, TargetContext};
use crate::archive::{self, ArchiveError, Matcher, Piece};
use crate::http::{stream, Body};

/// How long one read inside an archive may take.
const ARCHIVE_DEADLINE: Duration = Duration::from_secs(60);

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

/// Whether a GET asks for something inside the object.
pub fn wants_archive(q: &HashMap<String, String>) -> bool {
    q.get("archpath").is_some_and(|p| !p.is_empty())
        || q.get("archregx").is_some_and(|p| !p.is_empty())
}

/// `GET` with `archpath` (one member) or `archregx` (a TAR of the matching ones): read on
/// a blocking thread and streamed through a channel of a few pieces, so a request holds
/// at most ~4 x 64 KiB whatever the members' sizes; the read stops when the client goes
/// and at [`ARCHIVE_DEADLINE`].
pub async fn get(
    ctx: &TargetContext,
    q: &HashMap<String, String>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    // Here (or fetched from a previous owner) first.
    drop(crate::service::locate::open_here_or_fetch(ctx, bucket, object).await?);
    let (file, _) = ctx.store.open_plain(bucket, object).await?;
    let o = object.to_string();
    let path = q.get("archpath").cloned().unwrap_or_default();
    let single = !path.is_empty();
    let pattern = q.get("archregx").cloned().unwrap_or_default();
    let mode = q.get("archmode").cloned().unwrap_or_default();
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
    let (first_tx, first_rx) = oneshot::channel::<Result<Option<u64>, ArchiveError>>();
    let deadline = Instant::now() + ARCHIVE_DEADLINE;
    let sent = ctx.metrics.get_bytes.clone();
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
                .and_then(|fmt| {
                    if single {
                        return archive::stream_member(file, fmt, &path, deadline, &mut sink);
                    }
                    let m = Matcher::new(&mode, &pattern)?;
                    let sel = archive::stream_selected_tar(file, fmt, &m, deadline, &mut sink)?;
                    if sel.unsafe_names > 0 {
                        tracing::warn!(object = %o, skipped = sel.unsafe_names, "archive members with names outside the archive (../ or absolute) skipped");
                    }
                    Ok(sel.members > 0)
                })
        };
        match (outcome, first.take()) {
            (Ok(_), Some(f)) => drop(f.send(Ok(None))),
            (Err(e), Some(f)) => drop(f.send(Err(e))),
            (Err(ArchiveError::Stopped), None) | (Ok(_), None) => {}
            // Mid-stream: the client sees the response cut short.
            (Err(e), None) => drop(tx.blocking_send(Err(std::io::Error::other(e.to_string())))),
        }
    });
    let size = match first_rx.await {
        Ok(Ok(Some(size))) => size,
        Ok(Ok(None)) => {
            let what = if single {
                format!(
                    "no member {:?}",
                    q.get("archpath").cloned().unwrap_or_default()
                )
            } else {
                "no member matches".to_string()
            };
            return Err(ApiError::NotFound(format!(
                "ais://{bucket}/{object}: {what} in the archive"
            )));
        }
        Ok(Err(e)) => return Err(api_error(bucket, object, e)),
        Err(_) => return Err(ApiError::Upstream("archive read ended unexpectedly".into())),
    };
    let pieces = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut resp = Response::new(stream(pieces));
    let h = resp.headers_mut();
    if single {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
    } else {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-tar"),
        );
    }
    Ok(resp)
}

/// Members `skip..skip+limit` of shard `object` as listing entries `<object>/<member>`
/// with sizes (none when it is not an archive or cannot be read); a shard of any size
/// costs one page of names.
pub async fn members(
    ctx: &TargetContext,
    bucket: &str,
    object: &str,
    skip: usize,
    limit: usize,
) -> Vec<(String, u64)> {
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
        Ok(Ok(m)) => m
            .into_iter()
            .map(|m| (format!("{object}/{}", m.name), m.size))
            .collect(),
        _ => Vec::new(),
    }
}
