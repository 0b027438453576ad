//! A target's part of a GetBatch: reading the items it owns, a few ahead of the one being
//! sent (small ones whole, large ones as they stream), and handing them over as frames
//! to the designated target, or straight to the designated target's own assembly.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream};
use futures_util::StreamExt;

use super::frames::FrameHead;
use crate::service::archive_read::{self, Selection};
use crate::service::{locate, TargetContext};
use crate::wire::moss::{span, Item};
use crate::wire::ApiError;

/// Items read ahead of the one being sent: each holds at most an open file and a small
/// object's content (or its first chunk), so a sender holds a few MiB at most.
pub const LOOKAHEAD: usize = 16;

/// One item read: its data, or why it is missing.
pub struct ItemRead {
    pub status: u16,
    pub msg: String,
    pub size: u64,
    pub body: BoxStream<'static, io::Result<Bytes>>,
}

impl ItemRead {
    fn missing(e: &ApiError) -> ItemRead {
        ItemRead {
            status: e.status().as_u16(),
            msg: e.to_string(),
            size: 0,
            body: stream::empty().boxed(),
        }
    }
}

/// Reads one item (never fails: a missing item says why).
pub async fn read_item(ctx: &TargetContext, item: &Item) -> ItemRead {
    match open(ctx, item).await {
        Ok((size, body)) => {
            ctx.metrics.get_count.inc();
            ItemRead {
                status: 200,
                msg: String::new(),
                size,
                body,
            }
        }
        Err(e) => {
            ctx.metrics.err_get_count.inc();
            ItemRead::missing(&e)
        }
    }
}

async fn open(
    ctx: &TargetContext,
    item: &Item,
) -> Result<(u64, BoxStream<'static, io::Result<Bytes>>), ApiError> {
    let (b, o) = (&item.bucket, &item.objname);
    let unsatisfiable = |size: u64| ApiError::Range {
        bucket: b.clone(),
        object: o.clone(),
        range: format!("start={},length={}", item.start, item.length),
        size,
    };
    if item.archpath.is_empty() {
        let r = locate::open_here_or_fetch(ctx, b, o).await?;
        let size = r.info.meta.size;
        let (off, len) = span(item, size).ok_or_else(|| unsatisfiable(size))?;
        ctx.metrics.get_bytes.inc_by(len);
        return Ok((len, r.stream(off, len).boxed()));
    }
    let read = archive_read::read(ctx, b, o, Selection::Member(item.archpath.clone())).await?;
    let size = read.size.unwrap_or(0);
    let (off, len) = span(item, size).ok_or_else(|| unsatisfiable(size))?;
    Ok((len, window(read.stream, off, len)))
}

/// Bytes `off..off+len` of a stream.
fn window(
    s: BoxStream<'static, io::Result<Bytes>>,
    off: u64,
    len: u64,
) -> BoxStream<'static, io::Result<Bytes>> {
    stream::unfold((s, off, len), |(mut s, mut skip, mut left)| async move {
        while left > 0 {
            let mut b = match s.next().await? {
                Ok(b) => b,
                Err(e) => return Some((Err(e), (s, 0, 0))),
            };
            if skip >= b.len() as u64 {
                skip -= b.len() as u64;
                continue;
            }
            let _ = b.split_to(skip as usize);
            skip = 0;
            let take = (b.len() as u64).min(left) as usize;
            left -= take as u64;
            return Some((Ok(b.split_to(take)), (s, skip, left)));
        }
        None
    })
    .boxed()
}

/// `items` read in order, [`LOOKAHEAD`] at a time.
pub fn read_in_order(
    ctx: Arc<TargetContext>,
    items: Vec<(u32, Item)>,
) -> BoxStream<'static, (u32, ItemRead)> {
    stream::iter(items)
        .map(move |(i, item)| {
            let ctx = ctx.clone();
            async move { (i, read_item(&ctx, &item).await) }
        })
        .buffered(LOOKAHEAD)
        .boxed()
}

/// The frames a sending target answers the designated target with.
pub fn framed(reads: BoxStream<'static, (u32, ItemRead)>) -> BoxStream<'static, io::Result<Bytes>> {
    reads
        .flat_map(|(index, r)| {
            let head = FrameHead {
                index,
                status: r.status,
                size: r.size,
                msg: r.msg,
            };
            stream::once(async move { Ok(head.encode()) }).chain(r.body)
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn windows_cut_across_pieces() {
        let data: Vec<u8> = (0..100u8).collect();
        for (off, len) in [(0, 100), (0, 1), (5, 20), (33, 67), (99, 1), (10, 0)] {
            let pieces: Vec<io::Result<Bytes>> = data
                .chunks(7)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let got: Vec<u8> = window(stream::iter(pieces).boxed(), off, len)
                .map(|b| b.unwrap().to_vec())
                .concat()
                .await;
            assert_eq!(got, data[off as usize..(off + len) as usize], "{off} {len}");
        }
    }
}
