//! Object metadata kept in xattr `user.ais.lom` on the object file itself, so content and
//! metadata are published together by one rename.
//!
//! Encoding: `[1B format][8B BE XXH64(payload, hrw::SEED)][msgpack payload]`; the digest
//! catches a torn or foreign xattr. Format 2 appended `md5`, `etag`, `attrs` and
//! `checksums` to format 1's fields; a format-1 value decodes with those empty.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hrw;

/// Name of the metadata xattr.
pub const XATTR: &str = "user.ais.lom";
/// The same name, NUL-terminated for the one-syscall read.
pub const XATTR_C: &std::ffi::CStr = c"user.ais.lom";
/// Room for a typical metadata value: one `fgetxattr` reads it.
pub const XATTR_GUESS: usize = 512;
const FORMAT: u8 = 2;
/// The formats `decode` reads.
const READABLE: [u8; 2] = [1, 2];

/// What a PUT records about an object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Size in bytes.
    pub size: u64,
    /// Checksum type (`xxhash`, `md5` or `none`).
    pub cksum_type: String,
    /// Lowercase hex checksum of the whole object ("" for `none`).
    pub cksum_value: String,
    /// Incremented by every PUT of this name; starts at 1.
    pub version: u64,
    /// User metadata (`Ais-Custom-Md`, S3 `x-amz-meta-*`).
    #[serde(default)]
    pub custom: BTreeMap<String, String>,
    /// Lowercase hex MD5 of the content, when it was computed ("" otherwise).
    #[serde(default)]
    pub md5: String,
    /// Entity tag when it is not the content's MD5 (a multipart upload's
    /// `<md5 of part md5s>-<parts>`), else "".
    #[serde(default)]
    pub etag: String,
    /// Standard HTTP attributes given at upload (`content-type`, `content-disposition`,
    /// `cache-control`, `content-encoding`, `content-language`, `expires`).
    #[serde(default)]
    pub attrs: BTreeMap<String, String>,
    /// Whole-object checksums the client sent and the data matched, by algorithm
    /// (`crc32`, `crc32c`, `crc64nvme`, `sha1`, `sha256`), base64 as S3 spells them.
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    /// Parts a multipart upload joined into this object (0: written whole).
    #[serde(default)]
    pub chunks: u32,
    /// The largest of those parts, bytes.
    #[serde(default)]
    pub max_chunk_size: u64,
}

/// Most bytes of user metadata (keys plus values) an object may carry, and the same
/// again for its HTTP attributes: the whole record must fit the one extended attribute
/// every filesystem takes (ext4 keeps all of a file's xattrs in one 4 KiB block). The
/// limit S3 sets for user metadata.
pub const MAX_USER_METADATA: usize = 2048;

/// Bytes of keys and values in `m`.
pub fn metadata_size(m: &std::collections::BTreeMap<String, String>) -> usize {
    m.iter().map(|(k, v)| k.len() + v.len()).sum()
}

impl ObjectMeta {
    /// The entity tag without quotes: the multipart tag, else the MD5, else the native
    /// checksum (objects written without an MD5).
    pub fn entity_tag(&self) -> &str {
        if !self.etag.is_empty() {
            &self.etag
        } else if !self.md5.is_empty() {
            &self.md5
        } else {
            &self.cksum_value
        }
    }

    /// Serialises for the xattr.
    pub fn encode(&self) -> Vec<u8> {
        // Encoding a plain struct of strings and integers cannot fail.
        let payload = rmp_serde::to_vec(self).unwrap_or_default();
        let mut out = Vec::with_capacity(9 + payload.len());
        out.push(FORMAT);
        out.extend_from_slice(&hrw::digest(&payload).to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// Parses the xattr, checking format and digest.
    pub fn decode(raw: &[u8]) -> Result<ObjectMeta, String> {
        if raw.len() < 9 {
            return Err(format!("{} bytes is too short", raw.len()));
        }
        if !READABLE.contains(&raw[0]) {
            return Err(format!("unknown metadata format {}", raw[0]));
        }
        let mut digest = [0u8; 8];
        digest.copy_from_slice(&raw[1..9]);
        let payload = &raw[9..];
        if u64::from_be_bytes(digest) != hrw::digest(payload) {
            return Err("metadata digest mismatch".into());
        }
        rmp_serde::from_slice(payload).map_err(|e| e.to_string())
    }
}

/// An object's metadata plus what the filesystem knows of it.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    /// Stored metadata.
    pub meta: ObjectMeta,
    /// Last access, unix nanoseconds (file atime).
    pub atime_ns: i64,
    /// Last modification, unix nanoseconds (file mtime).
    pub mtime_ns: i64,
    /// Mountpath holding the object.
    pub mountpath: std::path::PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_corruption() {
        let m = ObjectMeta {
            size: 42,
            cksum_type: "xxhash".into(),
            cksum_value: "0123456789abcdef".into(),
            version: 7,
            custom: [("k".to_string(), "v".to_string())].into(),
            md5: "5eb63bbbe01eeed093cb22bb8f5acdc3".into(),
            etag: String::new(),
            attrs: [("content-type".to_string(), "text/plain".to_string())].into(),
            checksums: BTreeMap::new(),
            chunks: 3,
            max_chunk_size: 10,
        };
        let raw = m.encode();
        assert_eq!(ObjectMeta::decode(&raw).unwrap(), m);
        let mut bad = raw.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(ObjectMeta::decode(&bad).is_err());
        assert!(ObjectMeta::decode(&raw[..5]).is_err());
        assert_eq!(m.entity_tag(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
    }

    /// A value written by format 1 (five fields) still reads, with the new fields empty.
    #[test]
    fn reads_format_1() {
        #[derive(Serialize)]
        struct V1(u64, String, String, u64, BTreeMap<String, String>);
        let payload =
            rmp_serde::to_vec(&V1(3, "xxhash".into(), "ab".into(), 2, BTreeMap::new())).unwrap();
        let mut raw = vec![1u8];
        raw.extend_from_slice(&hrw::digest(&payload).to_be_bytes());
        raw.extend_from_slice(&payload);
        let m = ObjectMeta::decode(&raw).unwrap();
        assert_eq!((m.size, m.version, m.md5.as_str()), (3, 2, ""));
        assert_eq!(m.entity_tag(), "ab");
        raw[0] = 9;
        assert!(ObjectMeta::decode(&raw).is_err());
    }
}
