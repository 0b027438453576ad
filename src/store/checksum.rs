//! Streaming checksums over object data, in AIStore's formats (lowercase hex).

use md5::Digest as _;
use xxhash_rust::xxh64::Xxh64;

/// The bucket's default checksum type.
pub const DEFAULT_TYPE: &str = "xxhash";

/// An incremental checksum of one of the supported types.
pub enum Checksummer {
    /// XXH64, seed 0, 16 hex characters.
    Xxhash(Box<Xxh64>),
    /// MD5, 32 hex characters.
    Md5(md5::Md5),
    /// No checksum.
    None,
}

impl Checksummer {
    /// A checksummer for `kind`, or `None` if the type is not supported.
    pub fn new(kind: &str) -> Option<Checksummer> {
        match kind {
            "xxhash" | "xxhash64" => Some(Checksummer::Xxhash(Box::new(Xxh64::new(0)))),
            "md5" => Some(Checksummer::Md5(md5::Md5::new())),
            "none" | "" => Some(Checksummer::None),
            _ => None,
        }
    }

    /// Feeds data.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Checksummer::Xxhash(h) => h.update(data),
            Checksummer::Md5(h) => h.update(data),
            Checksummer::None => {}
        }
    }

    /// The type's name as AIStore spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Checksummer::Xxhash(_) => "xxhash",
            Checksummer::Md5(_) => "md5",
            Checksummer::None => "none",
        }
    }

    /// The final value in lowercase hex ("" for `none`).
    pub fn finish(self) -> String {
        match self {
            Checksummer::Xxhash(h) => format!("{:016x}", h.digest()),
            Checksummer::Md5(h) => hex::encode(h.finalize()),
            Checksummer::None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let mut x = Checksummer::new("xxhash").unwrap();
        x.update(b"hello ");
        x.update(b"world");
        // XXH64("hello world", seed 0)
        assert_eq!(x.finish(), "45ab6734b21e6968");
        let mut m = Checksummer::new("md5").unwrap();
        m.update(b"hello world");
        assert_eq!(m.finish(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert!(Checksummer::new("sha7").is_none());
    }
}
