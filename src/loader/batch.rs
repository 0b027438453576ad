//! `--get-batchsize`: each GET is one GetBatch (`/v1/ml/moss`) of that many items, read
//! as a streamed TAR whose members are counted as they arrive (a batch that holds fewer
//! than it asked for is an error, as in AIStore's aisloader).
//!
//! Items are object names, or members of shards (`--arch.list`) written
//! `<shard>?archpath=<member, percent-encoded>`: the same string is the suffix of a
//! single GET's URL.

use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};

use crate::wire::moss::{MossIn, MossReq};

const MEMBER: &str = "?archpath=";

/// The name a shard's member goes by in the loader's list.
pub fn member_name(shard: &str, member: &str) -> String {
    format!(
        "{shard}{MEMBER}{}",
        utf8_percent_encode(member, NON_ALPHANUMERIC)
    )
}

/// The JSON body of a streamed TAR GetBatch of `names` from `bucket`.
pub fn request_body(bucket: &str, names: &[String]) -> Vec<u8> {
    let items = names
        .iter()
        .map(|n| {
            let (objname, archpath) = match n.split_once(MEMBER) {
                Some((shard, m)) => (shard, percent_decode_str(m).decode_utf8_lossy().into()),
                None => (n.as_str(), String::new()),
            };
            MossIn {
                objname: objname.to_string(),
                bucket: bucket.to_string(),
                archpath,
                ..MossIn::default()
            }
        })
        .collect();
    let req = MossReq {
        mime: ".tar".into(),
        items,
        strm: true,
        ..MossReq::default()
    };
    serde_json::to_vec(&req).unwrap_or_default()
}

/// Counts the files of a TAR stream fed in pieces of any size. Extension headers (GNU
/// long names `L`/`K`, PAX `x`/`g`) are skipped and not counted.
#[derive(Default)]
pub struct TarCount {
    /// Files seen.
    pub files: u64,
    /// Bytes of the current header block gathered so far.
    header: Vec<u8>,
    /// Data (and padding) of the current entry still to skip.
    skip: u64,
    /// Two zero blocks end the archive.
    ended: bool,
}

impl TarCount {
    /// Takes the next piece of the stream.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() && !self.ended {
            if self.skip > 0 {
                let n = (self.skip.min(data.len() as u64)) as usize;
                self.skip -= n as u64;
                data = &data[n..];
                continue;
            }
            let n = (512 - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.header.len() == 512 {
                self.block();
                self.header.clear();
            }
        }
    }

    fn block(&mut self) {
        let h = &self.header;
        if h.iter().all(|&b| b == 0) {
            self.ended = true;
            return;
        }
        let size = octal(&h[124..136]);
        self.skip = size.div_ceil(512) * 512;
        if matches!(h[156], b'0' | 0 | b'7') {
            self.files += 1;
        }
    }
}

fn octal(field: &[u8]) -> u64 {
    field
        .iter()
        .skip_while(|b| **b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(*b))
        .fold(0, |n, b| n * 8 + u64::from(b - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(names: &[&str], size: usize) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for name in names {
            let mut h = tar::Header::new_gnu();
            h.set_size(size as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, &vec![7u8; size][..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn counts_members_in_pieces_of_any_size() {
        let long = "d/".repeat(80) + "long-name-over-100-bytes";
        let tar = archive(&["a", "b/c", &long, "e"], 1000);
        for piece in [1, 7, 511, 512, 513, 4096, tar.len()] {
            let mut c = TarCount::default();
            tar.chunks(piece).for_each(|p| c.feed(p));
            assert_eq!(c.files, 4, "pieces of {piece}");
        }
        let mut empty = TarCount::default();
        empty.feed(&archive(&[], 0));
        assert_eq!(empty.files, 0);
        let mut zero = TarCount::default();
        zero.feed(&archive(&["x", "y"], 0));
        assert_eq!(zero.files, 2);
    }

    #[test]
    fn members_round_trip_through_the_request() {
        let names = vec![
            "plain/obj".to_string(),
            member_name("s.tar", "dir/m 1?.bin"),
        ];
        let req: MossReq = serde_json::from_slice(&request_body("b", &names)).unwrap();
        assert!(req.strm && req.mime == ".tar");
        let got: Vec<(&str, &str, &str)> = req
            .items
            .iter()
            .map(|i| (i.bucket.as_str(), i.objname.as_str(), i.archpath.as_str()))
            .collect();
        assert_eq!(
            got,
            [("b", "plain/obj", ""), ("b", "s.tar", "dir/m 1?.bin")]
        );
    }
}
