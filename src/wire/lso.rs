//! Listing on the wire (AIStore's `LsoMsg`, entries and pages, JSON or msgpack) and the
//! tokens that page through an archive's members.

use http::Response;
use serde::{Deserialize, Serialize};

use super::json_response;
use super::ApiError;
use crate::http::request::set_header;
use crate::http::{full, Body};

/// Entry flag: the object is present on this cluster (AIStore's `EntryIsCached`).
pub const ENTRY_IS_CACHED: u16 = 1 << 6;

/// Entry flag of a virtual directory (`EntryIsDir`).
pub const ENTRY_IS_DIR: u16 = 1 << 7;

/// Entry flag of an archive member (`EntryInArch`).
pub const ENTRY_IN_ARCH: u16 = 1 << 8;

/// The `value` of a list request (AIStore's `LsoMsg`).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LsoMsg {
    /// Listing session ID ("" on the first page).
    pub uuid: String,
    /// Comma-separated property names.
    pub props: String,
    /// Name prefix.
    pub prefix: String,
    /// List names after this one (first page only).
    pub start_after: String,
    /// The previous page's token.
    pub continuation_token: String,
    /// Entries per page (number or decimal string; 0 = maximum).
    pub pagesize: serde_json::Value,
    /// Flag bits (number or decimal string).
    pub flags: serde_json::Value,
}

impl LsoMsg {
    /// Parses the `value` of an `ActMsg` (null = defaults).
    pub fn from_value(value: serde_json::Value) -> Result<LsoMsg, ApiError> {
        if value.is_null() {
            return Ok(LsoMsg::default());
        }
        let msg: LsoMsg = serde_json::from_value(value)
            .map_err(|e| ApiError::BadRequest(format!("list-objects message: {e}")))?;
        crate::names::validate_prefix(&msg.prefix)?;
        Ok(msg)
    }

    /// The page size, capped at `max`.
    pub fn page_size(&self, max: usize) -> Result<usize, ApiError> {
        Ok(match number(&self.pagesize, "pagesize")? as usize {
            0 => max,
            n => n.min(max),
        })
    }

    /// Flag bits.
    pub fn flag_bits(&self) -> Result<u64, ApiError> {
        number(&self.flags, "flags")
    }

    /// Where this page starts: after the token, else after `start_after`.
    pub fn after(&self) -> &str {
        if self.continuation_token.is_empty() {
            &self.start_after
        } else {
            &self.continuation_token
        }
    }
}

/// One entry in AIStore's JSON shape (`size` as a string).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LsoEntry {
    /// Object name.
    pub name: String,
    /// Checksum value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub checksum: String,
    /// Access time, HTTP-date.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub atime: String,
    /// Version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Location (`t[ID]:mountpath`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
    /// Size in bytes, as a decimal string.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub size: String,
    /// Entity tag (prop `etag`, an extension the proxy's S3 listing asks for).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
    /// Modification time, unix ns as a decimal string (with prop `etag`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mtime: String,
    /// Entry flags.
    #[serde(default)]
    pub flags: u16,
}

/// One page in AIStore's JSON shape.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LsoPage {
    /// Listing session ID.
    #[serde(default)]
    pub uuid: String,
    /// Last name of this page if more follow, else "".
    #[serde(default)]
    pub continuation_token: String,
    /// Entries, sorted by name.
    #[serde(default)]
    pub entries: Vec<LsoEntry>,
    /// Page flags.
    #[serde(default)]
    pub flags: u64,
}

#[derive(Serialize)]
struct PackedEntry<'a> {
    n: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    cs: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    a: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    v: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    t: &'a str,
    s: u64,
    c: u16,
    f: u16,
}

#[derive(Serialize)]
struct PackedPage<'a> {
    #[serde(rename = "UUID")]
    uuid: &'a str,
    #[serde(rename = "ContinuationToken")]
    token: &'a str,
    #[serde(rename = "Flags")]
    flags: u64,
    #[serde(rename = "Entries")]
    entries: Vec<PackedEntry<'a>>,
}

/// Encodes a page as msgpack (with AIStore's short keys) or JSON.
pub fn page_response(page: &LsoPage, msgpack: bool) -> Result<Response<Body>, ApiError> {
    if !msgpack {
        return Ok(json_response(page));
    }
    let packed = PackedPage {
        uuid: &page.uuid,
        token: &page.continuation_token,
        flags: page.flags,
        entries: page
            .entries
            .iter()
            .map(|e| PackedEntry {
                n: &e.name,
                cs: &e.checksum,
                a: &e.atime,
                v: &e.version,
                t: &e.location,
                s: e.size.parse().unwrap_or(0),
                c: 1,
                f: e.flags,
            })
            .collect(),
    };
    let bytes = rmp_serde::to_vec_named(&packed)
        .map_err(|e| ApiError::BadRequest(format!("encoding list page: {e}")))?;
    let mut resp = Response::new(full(bytes));
    set_header(&mut resp, http::header::CONTENT_TYPE, "application/msgpack");
    Ok(resp)
}

/// Whether the client asked for msgpack.
pub fn wants_msgpack(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.contains("application/msgpack")))
}

/// A number that may come as a JSON number or a decimal string (AIStore sends `flags` as a string).
fn number(v: &serde_json::Value, what: &str) -> Result<u64, ApiError> {
    match v {
        serde_json::Value::Null => Ok(0),
        serde_json::Value::Number(n) => n.as_u64().ok_or_else(|| {
            ApiError::BadRequest(format!("{what}: {n} is not a non-negative integer"))
        }),
        serde_json::Value::String(s) if s.is_empty() => Ok(0),
        serde_json::Value::String(s) => s
            .parse()
            .map_err(|_| ApiError::BadRequest(format!("{what}: {s:?} is not a number"))),
        other => Err(ApiError::BadRequest(format!("{what}: unexpected {other}"))),
    }
}

/// A fresh listing-session ID.
pub fn new_uuid() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..10)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// Separates a shard's name from a member index in a listing's continuation token: a
/// page of `LsArchDir` may end inside a shard's members (NUL is in no object name).
pub const MEMBER_TOKEN_SEP: char = '\0';

/// `(shard, index)` of a token that ends inside a shard's members.
pub fn member_token(token: &str) -> Option<(&str, usize)> {
    let (shard, index) = token.split_once(MEMBER_TOKEN_SEP)?;
    Some((shard, index.parse().ok()?))
}

/// The token that resumes `shard`'s members at `index`.
pub fn make_member_token(shard: &str, index: usize) -> String {
    format!("{shard}{MEMBER_TOKEN_SEP}{index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_tokens() {
        let t = make_member_token("a/s.tar", 42);
        assert_eq!(member_token(&t), Some(("a/s.tar", 42)));
        assert_eq!(member_token("plain/name"), None);
        assert_eq!(member_token("x\0y"), None);
    }
}
