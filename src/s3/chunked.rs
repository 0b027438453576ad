//! `aws-chunked` request bodies (`Content-Encoding: aws-chunked`, `x-amz-content-sha256:
//! STREAMING-...`): `<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n`... then a zero-size
//! chunk and optional trailers (`x-amz-checksum-crc32:<b64>`). Decoded incrementally: data
//! is passed on as it arrives (a chunk is never held whole, whatever its size), hashed on
//! the way when the request was signed with chunk signatures, and the signature checked
//! at the chunk's end; a wrong one fails the body, so the PUT stores nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use super::auth::ChunkSigner;

/// Largest chunk accepted (S3 clients send 64 KiB to 8 MiB).
const MAX_CHUNK: usize = 16 << 20;
/// Largest chunk header or trailer section.
const MAX_HEADER: usize = 8 << 10;

/// Trailers seen at the end of the body, by lowercase name.
pub type Trailers = Arc<Mutex<BTreeMap<String, String>>>;

enum State {
    Header,
    Data {
        size: usize,
        left: usize,
        signature: Option<String>,
        hash: Sha256,
    },
    Trailers,
    Done,
}

/// The incremental decoder.
pub struct Decoder {
    buf: BytesMut,
    state: State,
    signer: Option<ChunkSigner>,
    trailers: Trailers,
}

impl Decoder {
    /// A decoder that checks chunk signatures with `signer`, if given, and stores trailers in
    /// `trailers`.
    pub fn new(signer: Option<ChunkSigner>, trailers: Trailers) -> Decoder {
        Decoder {
            buf: BytesMut::new(),
            state: State::Header,
            signer,
            trailers,
        }
    }

    /// Feeds raw bytes; returns the decoded data available so far.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<Bytes>) -> Result<(), String> {
        self.buf.extend_from_slice(input);
        loop {
            match &mut self.state {
                State::Done => {
                    if self.buf.iter().any(|b| !b.is_ascii_whitespace()) {
                        return Err("data after the final aws-chunked chunk".into());
                    }
                    self.buf.clear();
                    return Ok(());
                }
                State::Header => {
                    let Some(line) = self.take_line()? else {
                        return Ok(());
                    };
                    let (size, ext) = match line.split_once(';') {
                        Some((s, e)) => (s, Some(e)),
                        None => (line.as_str(), None),
                    };
                    let size = usize::from_str_radix(size.trim(), 16)
                        .map_err(|_| format!("bad aws-chunked size {size:?}"))?;
                    if size > MAX_CHUNK {
                        return Err(format!("aws-chunked chunk of {size} bytes is too large"));
                    }
                    let signature = ext
                        .and_then(|e| e.trim().strip_prefix("chunk-signature="))
                        .map(str::to_string);
                    if self.signer.is_some() && signature.is_none() {
                        return Err("aws-chunked chunk without a chunk-signature".into());
                    }
                    self.state = State::Data {
                        size,
                        left: size,
                        signature,
                        hash: Sha256::new(),
                    };
                }
                State::Data {
                    size,
                    left,
                    signature,
                    hash,
                } => {
                    if *size == 0 {
                        // The last chunk: no data and no CRLF of its own; trailers (or
                        // the final empty line) follow.
                        if let (Some(signer), Some(sig)) =
                            (self.signer.as_mut(), signature.as_deref())
                        {
                            if !signer.verify_chunk(b"", sig) {
                                return Err(
                                    "SignatureDoesNotMatch: a chunk signature is wrong".into()
                                );
                            }
                        }
                        self.state = State::Trailers;
                        continue;
                    }
                    let take = (*left).min(self.buf.len());
                    if take > 0 {
                        let data = self.buf.split_to(take).freeze();
                        if self.signer.is_some() {
                            hash.update(&data);
                        }
                        *left -= take;
                        out.push(data);
                    }
                    if *left > 0 || self.buf.len() < 2 {
                        return Ok(());
                    }
                    if &self.buf[..2] != b"\r\n" {
                        return Err("aws-chunked chunk not followed by CRLF".into());
                    }
                    self.buf.advance(2);
                    if let (Some(signer), Some(sig)) = (self.signer.as_mut(), signature.as_deref())
                    {
                        let digest = hex::encode(std::mem::take(hash).finalize());
                        if !signer.verify_chunk_digest(&digest, sig) {
                            return Err("SignatureDoesNotMatch: a chunk signature is wrong".into());
                        }
                    }
                    self.state = State::Header;
                }
                State::Trailers => {
                    let Some(line) = self.take_line()? else {
                        return Ok(());
                    };
                    if line.is_empty() {
                        self.state = State::Done;
                        continue;
                    }
                    let (k, v) = line
                        .split_once(':')
                        .ok_or_else(|| format!("bad aws-chunked trailer {line:?}"))?;
                    let mut t = self.trailers.lock().unwrap_or_else(|p| p.into_inner());
                    t.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
        }
    }

    /// Whether the final chunk was seen (trailers may be cut short: clients end without
    /// the last empty line).
    pub fn finished(&self) -> bool {
        matches!(self.state, State::Done | State::Trailers)
    }

    fn take_line(&mut self) -> Result<Option<String>, String> {
        let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") else {
            if self.buf.len() > MAX_HEADER {
                return Err("aws-chunked header line too long".into());
            }
            return Ok(None);
        };
        let line = self.buf.split_to(pos);
        self.buf.advance(2);
        String::from_utf8(line.to_vec())
            .map(Some)
            .map_err(|_| "aws-chunked header is not UTF-8".into())
    }
}

/// Decodes an aws-chunked body stream.
pub fn decode<S>(
    inner: S,
    signer: Option<ChunkSigner>,
    trailers: Trailers,
) -> impl Stream<Item = Result<Bytes, String>> + Send + Unpin
where
    S: Stream<Item = Result<Bytes, String>> + Send + Unpin,
{
    let decoder = Decoder::new(signer, trailers);
    Box::pin(futures_util::stream::unfold(
        (inner, decoder, std::collections::VecDeque::new(), false),
        |(mut inner, mut dec, mut ready, mut ended)| async move {
            loop {
                if let Some(b) = ready.pop_front() {
                    return Some((Ok(b), (inner, dec, ready, ended)));
                }
                if ended {
                    return None;
                }
                match inner.next().await {
                    Some(Ok(raw)) => {
                        let mut out = Vec::new();
                        if let Err(e) = dec.feed(&raw, &mut out) {
                            ended = true;
                            return Some((Err(e), (inner, dec, ready, ended)));
                        }
                        ready.extend(out);
                    }
                    Some(Err(e)) => {
                        ended = true;
                        return Some((Err(e), (inner, dec, ready, ended)));
                    }
                    None => {
                        ended = true;
                        if !dec.finished() {
                            return Some((
                                Err("aws-chunked body ended before its final chunk".into()),
                                (inner, dec, ready, ended),
                            ));
                        }
                    }
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], split: usize) -> Result<(Vec<u8>, BTreeMap<String, String>), String> {
        let trailers: Trailers = Default::default();
        let mut d = Decoder::new(None, trailers.clone());
        let mut out = Vec::new();
        for piece in input.chunks(split) {
            d.feed(piece, &mut out)?;
        }
        if !d.finished() {
            return Err("unfinished".into());
        }
        let t = trailers.lock().unwrap().clone();
        Ok((out.concat(), t))
    }

    #[test]
    fn decodes_in_any_split() {
        let body = b"5\r\nhello\r\n6;chunk-signature=ab\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        for split in [1, 2, 3, 7, 100] {
            let (data, t) = run(body, split).unwrap();
            assert_eq!(data, b"hello world");
            assert_eq!(t.get("x-amz-checksum-crc32").unwrap(), "DUoRhQ==");
        }
        assert!(run(b"5\r\nhel", 3).is_err());
        assert!(run(b"zz\r\nhello\r\n", 3).is_err());
        assert!(run(b"5\r\nhelloXX0\r\n\r\n", 3).is_err());
        assert_eq!(run(b"0\r\n\r\n", 1).unwrap().0, b"");
    }

    #[test]
    fn a_large_chunk_is_passed_on_as_it_arrives() {
        let trailers: Trailers = Default::default();
        let mut d = Decoder::new(None, trailers);
        let mut out = Vec::new();
        d.feed(format!("{:x}\r\n", 8 << 20).as_bytes(), &mut out)
            .unwrap();
        for _ in 0..128 {
            d.feed(&[7u8; 64 << 10], &mut out).unwrap();
            // Nothing kept beyond what was just fed.
            assert!(d.buf.len() < 64 << 10);
        }
        assert_eq!(out.iter().map(Bytes::len).sum::<usize>(), 8 << 20);
        d.feed(b"\r\n0\r\n\r\n", &mut out).unwrap();
        assert!(d.finished());
    }
}
