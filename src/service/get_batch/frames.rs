//! How a sending target hands its items of a GetBatch to the designated target: one
//! HTTP response per sender, carrying each item as a frame, in request order: a fixed
//! header (the item's index, a status, its size, the length of an error message), the
//! message, then `size` bytes of data. The reader takes frames off a byte stream cut
//! anywhere.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

/// Header bytes before the message.
const FIXED: usize = 4 + 2 + 8 + 4;
/// The longest error message carried.
const MAX_MSG: usize = 4096;

/// One item's frame header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameHead {
    /// Position of the item in the request.
    pub index: u32,
    /// 200, or the HTTP status of why the item is missing (its data is then empty).
    pub status: u16,
    /// Bytes of data that follow.
    pub size: u64,
    /// Why it is missing.
    pub msg: String,
}

impl FrameHead {
    pub fn encode(&self) -> Bytes {
        let msg = &self.msg.as_bytes()[..self.msg.len().min(MAX_MSG)];
        let mut b = BytesMut::with_capacity(FIXED + msg.len());
        b.put_u32_le(self.index);
        b.put_u16_le(self.status);
        b.put_u64_le(self.size);
        b.put_u32_le(msg.len() as u32);
        b.put_slice(msg);
        b.freeze()
    }
}

/// Takes frames off a sender's byte stream.
pub struct FrameReader {
    input: BoxStream<'static, Result<Bytes, String>>,
    buf: BytesMut,
    /// Data bytes of the current item not handed out yet.
    left: u64,
}

impl FrameReader {
    pub fn new(input: BoxStream<'static, Result<Bytes, String>>) -> FrameReader {
        FrameReader {
            input,
            buf: BytesMut::new(),
            left: 0,
        }
    }

    async fn fill(&mut self, want: usize) -> Result<(), String> {
        while self.buf.len() < want {
            match self.input.next().await {
                Some(Ok(b)) => self.buf.extend_from_slice(&b),
                Some(Err(e)) => return Err(e),
                None => return Err("the sending target's stream ended early".into()),
            }
        }
        Ok(())
    }

    /// The next item's header (the previous item's data must have been taken).
    pub async fn head(&mut self) -> Result<FrameHead, String> {
        debug_assert_eq!(self.left, 0);
        self.fill(FIXED).await?;
        let mut fixed = &self.buf[..FIXED];
        let index = fixed.get_u32_le();
        let status = fixed.get_u16_le();
        let size = fixed.get_u64_le();
        let msg_len = fixed.get_u32_le() as usize;
        if msg_len > MAX_MSG {
            return Err(format!(
                "bad frame from the sending target: message of {msg_len} bytes"
            ));
        }
        self.fill(FIXED + msg_len).await?;
        self.buf.advance(FIXED);
        let msg = String::from_utf8_lossy(&self.buf.split_to(msg_len)).into_owned();
        self.left = size;
        Ok(FrameHead {
            index,
            status,
            size,
            msg,
        })
    }

    /// The next piece of the current item's data; `None` once it is all taken.
    pub async fn data(&mut self) -> Result<Option<Bytes>, String> {
        if self.left == 0 {
            return Ok(None);
        }
        if self.buf.is_empty() {
            self.fill(1).await?;
        }
        let n = (self.buf.len() as u64).min(self.left) as usize;
        self.left -= n as u64;
        Ok(Some(self.buf.split_to(n).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_survive_any_cut() {
        let items = [
            (
                FrameHead {
                    index: 0,
                    status: 200,
                    size: 5,
                    msg: String::new(),
                },
                b"hello".to_vec(),
            ),
            (
                FrameHead {
                    index: 3,
                    status: 404,
                    size: 0,
                    msg: "ais://b/x does not exist".into(),
                },
                vec![],
            ),
            (
                FrameHead {
                    index: 7,
                    status: 200,
                    size: 3000,
                    msg: String::new(),
                },
                vec![7u8; 3000],
            ),
        ];
        let mut wire = Vec::new();
        for (h, d) in &items {
            wire.extend_from_slice(&h.encode());
            wire.extend_from_slice(d);
        }
        for cut in [1, 7, 18, 19, 512, wire.len()] {
            let pieces: Vec<Result<Bytes, String>> = wire
                .chunks(cut)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let mut r = FrameReader::new(futures_util::stream::iter(pieces).boxed());
            for (h, d) in &items {
                assert_eq!(&r.head().await.unwrap(), h, "cut {cut}");
                let mut got = Vec::new();
                while let Some(b) = r.data().await.unwrap() {
                    got.extend_from_slice(&b);
                }
                assert_eq!(&got, d, "cut {cut}");
            }
            assert!(r.head().await.unwrap_err().contains("ended early"));
        }
    }
}
