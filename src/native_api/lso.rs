//! List objects on the wire: `LsoMsg` in, `LsoRes` out, in msgpack for clients that ask
//! for it (the Python SDK requires it) and JSON otherwise. Shared by the target, which
//! lists its disks, and the proxy, which merges the targets' pages.

use serde::{Deserialize, Serialize};

use super::buckets::json_response;
use super::{set_header, ApiError, TargetContext};
use crate::http::{full, Body};
use crate::store::{ListEntry, ListRequest, Props};
use http::Response;

/// Entry flag: the object is present on this cluster (AIStore's `EntryIsCached`).
pub const ENTRY_IS_CACHED: u16 = 1 << 6;
/// Request flag: names only.
const FLAG_NAME_ONLY: u64 = 16;
/// `LsArchDir`: archives' members listed after them.
const FLAG_ARCH_DIR: u64 = 1 << 3;
/// `LsNoRecursion`: one level below the prefix, with directory entries.
const FLAG_NO_RECURSION: u64 = 1 << 11;
/// `LsNoDirs`: without directory entries.
const FLAG_NO_DIRS: u64 = 1 << 13;
/// Entry flag of a virtual directory (`EntryIsDir`).
pub const ENTRY_IS_DIR: u16 = 1 << 7;
/// Request flag: names and sizes only.
const FLAG_NAME_SIZE: u64 = 32;

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

/// Lists one page of a bucket on this target.
pub(super) async fn list_objects(
    ctx: &TargetContext,
    bucket: &str,
    msg: LsoMsg,
    msgpack: bool,
) -> Result<Response<Body>, ApiError> {
    let page_size = msg.page_size(ctx.config.settings.max_page_size)?;
    let flag_bits = msg.flag_bits()?;
    let props = parse_props(&msg.props, flag_bits);
    let arch_dir = flag_bits & FLAG_ARCH_DIR != 0;
    // A page of LsArchDir may have ended inside a shard's members.
    let resume = super::arch::member_token(msg.after())
        .filter(|_| arch_dir)
        .map(|(s, i)| (s.to_string(), i));
    let after = resume.as_ref().map_or(msg.after(), |(s, _)| s.as_str());
    let page = ctx
        .store
        .list(
            bucket,
            ListRequest {
                prefix: msg.prefix.clone(),
                after: after.to_string(),
                page_size,
                props,
                no_recursion: flag_bits & FLAG_NO_RECURSION != 0,
                no_dirs: flag_bits & FLAG_NO_DIRS != 0,
            },
        )
        .await?;
    let uuid = if msg.uuid.is_empty() {
        new_uuid()
    } else {
        msg.uuid.clone()
    };
    let mut entries = Vec::with_capacity(page.entries.len().min(page_size));
    let mut token = page.next_after;
    if arch_dir {
        // Members count against the page: each shard's follow it, as `<shard>/<member>`,
        // and a page that fills up inside them ends with a token that resumes there.
        let member_entry = |(name, size): (String, u64)| LsoEntry {
            name,
            size: size.to_string(),
            flags: super::arch::ENTRY_IN_ARCH,
            ..LsoEntry::default()
        };
        let mut cut = None;
        if let Some((shard, skip)) = &resume {
            let room = page_size + 1;
            let got = super::arch::members(ctx, bucket, shard, *skip, room).await;
            if got.len() == room {
                cut = Some(super::arch::make_member_token(shard, skip + page_size));
            }
            entries.extend(got.into_iter().take(page_size).map(member_entry));
        }
        // The last object whose members are all in the page: where the next one starts.
        let mut last_object = after.to_string();
        for e in &page.entries {
            if cut.is_some() || entries.len() >= page_size {
                cut.get_or_insert(last_object);
                break;
            }
            last_object = e.name.clone();
            entries.push(to_wire(ctx, e, props));
            if e.is_dir {
                continue;
            }
            let room = page_size - entries.len();
            let got = super::arch::members(ctx, bucket, &e.name, 0, room + 1).await;
            if got.len() > room {
                cut = Some(super::arch::make_member_token(&e.name, room));
            }
            entries.extend(got.into_iter().take(room).map(member_entry));
        }
        if let Some(c) = cut {
            token = c;
        }
    } else {
        entries.extend(page.entries.iter().map(|e| to_wire(ctx, e, props)));
    }
    page_response(
        &LsoPage {
            uuid,
            continuation_token: token,
            entries,
            flags: 0,
        },
        msgpack,
    )
}

fn to_wire(ctx: &TargetContext, e: &ListEntry, props: Props) -> LsoEntry {
    LsoEntry {
        name: e.name.clone(),
        checksum: if props.checksum {
            e.checksum.clone()
        } else {
            String::new()
        },
        atime: if props.atime {
            fmt_atime(e.atime_ns)
        } else {
            String::new()
        },
        version: if props.version {
            e.version.clone()
        } else {
            String::new()
        },
        location: if props.location {
            format!("t[{}]:{}", ctx.node.id, e.location)
        } else {
            String::new()
        },
        size: if props.size {
            e.size.to_string()
        } else {
            String::new()
        },
        etag: if props.etag {
            e.etag.clone()
        } else {
            String::new()
        },
        mtime: if props.etag {
            e.mtime_ns.to_string()
        } else {
            String::new()
        },
        flags: if e.is_dir {
            ENTRY_IS_DIR
        } else {
            ENTRY_IS_CACHED
        },
    }
}

/// Which properties to return: AIStore's default is name, size, checksum and atime.
fn parse_props(props: &str, flags: u64) -> Props {
    if flags & FLAG_NAME_ONLY != 0 {
        return Props::default();
    }
    if flags & FLAG_NAME_SIZE != 0 {
        return Props {
            size: true,
            ..Props::default()
        };
    }
    if props.trim().is_empty() {
        return Props {
            size: true,
            checksum: true,
            atime: true,
            ..Props::default()
        };
    }
    let mut p = Props::default();
    for name in props.split(',').map(str::trim) {
        match name {
            "size" => p.size = true,
            "checksum" => p.checksum = true,
            "atime" => p.atime = true,
            "version" => p.version = true,
            "location" => p.location = true,
            "etag" => p.etag = true,
            _ => {}
        }
    }
    p
}

fn fmt_atime(ns: i64) -> String {
    if ns <= 0 {
        return String::new();
    }
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns as u64))
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
