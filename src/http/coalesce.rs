//! Fewer, larger writes for streams of many small pieces (GetBatch sends a header, a few
//! KiB of data and some padding per item): pieces that are ready at once go out joined.
//! Nothing waits for more: when the inner stream has nothing ready, what is held goes
//! out, so a lone item is not delayed; a piece at least `max` long passes untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;

/// Joined pieces stop growing past this many bytes.
pub const COALESCE_MAX: usize = 64 << 10;

/// See the module comment.
pub struct Coalesce<S> {
    inner: S,
    max: usize,
    held: BytesMut,
    /// A large piece (or an error, or the end) met while pieces were held: next.
    next: Option<Option<io::Result<Bytes>>>,
}

/// Joins the ready pieces of `inner`, up to `max` bytes at a time.
pub fn coalesce<S>(inner: S, max: usize) -> Coalesce<S> {
    Coalesce {
        inner,
        max,
        held: BytesMut::new(),
        next: None,
    }
}

impl<S> Coalesce<S> {
    fn take_held(&mut self) -> Poll<Option<io::Result<Bytes>>> {
        Poll::Ready(Some(Ok(self.held.split().freeze())))
    }
}

impl<S: Stream<Item = io::Result<Bytes>> + Unpin> Stream for Coalesce<S> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(next) = this.next.take() {
            return Poll::Ready(next);
        }
        loop {
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(piece))) => {
                    if piece.len() >= this.max {
                        if this.held.is_empty() {
                            return Poll::Ready(Some(Ok(piece)));
                        }
                        this.next = Some(Some(Ok(piece)));
                        return this.take_held();
                    }
                    this.held.extend_from_slice(&piece);
                    if this.held.len() >= this.max {
                        return this.take_held();
                    }
                }
                other => {
                    if this.held.is_empty() {
                        return other;
                    }
                    if let Poll::Ready(end) = other {
                        this.next = Some(end);
                    }
                    return this.take_held();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{stream, StreamExt};

    fn pieces(sizes: &[usize]) -> Vec<io::Result<Bytes>> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, n)| Ok(Bytes::from(vec![i as u8; *n])))
            .collect()
    }

    #[tokio::test]
    async fn joins_ready_pieces_and_keeps_order_and_bytes() {
        for sizes in [
            vec![],
            vec![5],
            vec![512, 4096, 512, 512, 4096, 512],
            vec![10, 100, 1000, 100, 10],
            vec![3, 200, 1, 7, 200, 200],
        ] {
            let want: Vec<u8> = pieces(&sizes)
                .into_iter()
                .flat_map(|p| p.unwrap().to_vec())
                .collect();
            let out: Vec<Bytes> = coalesce(stream::iter(pieces(&sizes)), 256)
                .map(|p| p.unwrap())
                .collect()
                .await;
            assert_eq!(out.concat(), want, "{sizes:?}");
            // Every piece but a large one or the last is joined up to the limit.
            for (i, p) in out.iter().enumerate() {
                assert!(!p.is_empty());
                if i + 1 < out.len() && p.len() < 256 {
                    assert!(p.len() + out[i + 1].len() >= 256, "{sizes:?}: {out:?}");
                }
            }
        }
    }

    #[tokio::test]
    async fn large_pieces_pass_whole_and_errors_arrive_after_held_bytes() {
        let mut s = pieces(&[10, 1000, 20]);
        s.push(Err(io::Error::other("cut")));
        let out: Vec<io::Result<Bytes>> = coalesce(stream::iter(s), 256).collect().await;
        let lens: Vec<Option<usize>> = out
            .iter()
            .map(|p| p.as_ref().ok().map(Bytes::len))
            .collect();
        assert_eq!(lens, [Some(10), Some(1000), Some(20), None]);
    }

    #[tokio::test]
    async fn nothing_ready_sends_what_is_held() {
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
        let rx = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|p| (p, rx)) });
        let mut s = coalesce(Box::pin(rx), 1 << 20);
        tx.send(Ok(Bytes::from_static(b"ab"))).await.unwrap();
        tx.send(Ok(Bytes::from_static(b"cd"))).await.unwrap();
        // The channel is empty now: the two pieces go out without waiting for more.
        assert_eq!(
            s.next().await.unwrap().unwrap(),
            Bytes::from_static(b"abcd")
        );
        drop(tx);
        assert!(s.next().await.is_none());
    }
}
