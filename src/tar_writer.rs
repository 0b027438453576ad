//! The bytes of a TAR stream written one member at a time without holding any member in
//! memory: a header before each member's data (with a GNU long-name record first when the
//! name does not fit the header's 100 bytes), zero padding to 512 bytes after it, and two
//! zero blocks at the end. Optionally gzipped as it goes (`.tgz`). The headers come from
//! the `tar` crate; only the framing is here.

use std::io::Write;

use flate2::write::GzEncoder;
use tar::{EntryType, Header};

const BLOCK: usize = 512;

/// The header block(s) of a regular-file member `name` of `size` bytes.
pub fn member_header(name: &str, size: u64, mtime_secs: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 * BLOCK);
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Regular);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(mtime_secs);
    if name.len() >= 100 {
        // GNU long name: a record holding the full name, then the member itself with a
        // truncated name (readers take the record's).
        let mut long = Header::new_gnu();
        long.set_entry_type(EntryType::GNULongName);
        if let Some(gnu) = long.as_gnu_mut() {
            gnu.name[..13].copy_from_slice(b"././@LongLink");
        }
        long.set_size(name.len() as u64 + 1);
        long.set_mode(0o644);
        long.set_cksum();
        out.extend_from_slice(long.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(&padding(name.len() as u64 + 1));
        if let Some(gnu) = h.as_gnu_mut() {
            gnu.name.copy_from_slice(&name.as_bytes()[..100]);
        }
    } else if let Some(gnu) = h.as_gnu_mut() {
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
    }
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out
}

/// The zeros after a member of `size` bytes.
pub fn padding(size: u64) -> Vec<u8> {
    vec![0; (BLOCK - (size as usize % BLOCK)) % BLOCK]
}

/// The end of the archive.
pub fn trailer() -> Vec<u8> {
    vec![0; 2 * BLOCK]
}

/// Where the framed bytes go: as they are (`.tar`) or through gzip (`.tgz`).
pub enum Sink {
    Plain,
    Gzip(Box<GzEncoder<Vec<u8>>>),
}

impl Sink {
    pub fn new(gzip: bool) -> Sink {
        if gzip {
            Sink::Gzip(Box::new(GzEncoder::new(
                Vec::new(),
                flate2::Compression::fast(),
            )))
        } else {
            Sink::Plain
        }
    }

    /// The output bytes for `input` (for gzip: whatever the encoder has produced so far).
    pub fn push(&mut self, input: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Sink::Plain => Ok(input.to_vec()),
            Sink::Gzip(enc) => {
                enc.write_all(input)?;
                Ok(std::mem::take(enc.get_mut()))
            }
        }
    }

    /// The last output bytes.
    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Sink::Plain => Ok(Vec::new()),
            Sink::Gzip(enc) => enc.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn build(members: &[(&str, Vec<u8>)], gzip: bool) -> Vec<u8> {
        let mut sink = Sink::new(gzip);
        let mut out = Vec::new();
        for (name, data) in members {
            out.extend(
                sink.push(&member_header(name, data.len() as u64, 1_700_000_000))
                    .unwrap(),
            );
            // In pieces, as a stream comes.
            for piece in data.chunks(700) {
                out.extend(sink.push(piece).unwrap());
            }
            out.extend(sink.push(&padding(data.len() as u64)).unwrap());
        }
        out.extend(sink.push(&trailer()).unwrap());
        out.extend(sink.finish().unwrap());
        out
    }

    fn read_back(bytes: &[u8], gzip: bool) -> Vec<(String, Vec<u8>, u64)> {
        let input: Box<dyn Read> = if gzip {
            Box::new(flate2::read::GzDecoder::new(bytes))
        } else {
            Box::new(bytes)
        };
        let mut ar = tar::Archive::new(input);
        ar.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = e.path().unwrap().to_string_lossy().into_owned();
                let mtime = e.header().mtime().unwrap();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (name, data, mtime)
            })
            .collect()
    }

    #[test]
    fn members_read_back_with_names_sizes_and_times() {
        let long = format!("{}/x.jpg", "d".repeat(150));
        let members = vec![
            ("a.txt", b"hello".to_vec()),
            ("empty", Vec::new()),
            ("exact", vec![7u8; 512]),
            (long.as_str(), vec![1u8; 1500]),
            ("sub/dir/n.cls", vec![2u8; 513]),
        ];
        for gzip in [false, true] {
            let bytes = build(&members, gzip);
            if !gzip {
                assert_eq!(bytes.len() % BLOCK, 0);
            }
            let got = read_back(&bytes, gzip);
            assert_eq!(got.len(), members.len(), "gzip={gzip}");
            for ((name, data), (gname, gdata, mtime)) in members.iter().zip(&got) {
                assert_eq!(name, gname);
                assert_eq!(data, gdata, "{name}");
                assert_eq!(*mtime, 1_700_000_000);
            }
        }
    }

    #[test]
    fn padding_fills_the_last_block() {
        assert_eq!(padding(0).len(), 0);
        assert_eq!(padding(1).len(), 511);
        assert_eq!(padding(512).len(), 0);
        assert_eq!(padding(1025).len(), 511);
    }
}
