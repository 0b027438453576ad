//! List objects (`LsoMsg` in, `LsoRes` out), in msgpack for clients that ask for it (the
//! Python SDK requires it) and JSON otherwise.

use serde::{Deserialize, Serialize};

use super::buckets::json_response;
use super::{set_header, ApiError, TargetContext};
use crate::http::{full, Body};
use crate::store::{ListEntry, ListRequest, Props};
use http::Response;

/// Entry flag: the object is present on this cluster (AIStore's `EntryIsCached`).
const ENTRY_IS_CACHED: u16 = 1 << 6;
/// Request flag: names only.
const FLAG_NAME_ONLY: u64 = 16;
/// Request flag: names and sizes only.
const FLAG_NAME_SIZE: u64 = 32;

/// The `value` of a list request.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LsoMsg {
    uuid: String,
    props: String,
    prefix: String,
    start_after: String,
    continuation_token: String,
    pagesize: serde_json::Value,
    flags: serde_json::Value,
}

/// msgpack entry, with AIStore's short keys.
#[derive(Serialize)]
struct PackedEntry<'a> {
    n: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    cs: &'a str,
    #[serde(skip_serializing_if = "String::is_empty")]
    a: String,
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

pub(super) async fn list_objects(
    ctx: &TargetContext,
    bucket: &str,
    value: serde_json::Value,
    msgpack: bool,
) -> Result<Response<Body>, ApiError> {
    let msg: LsoMsg = if value.is_null() {
        LsoMsg::default()
    } else {
        serde_json::from_value(value)
            .map_err(|e| ApiError::BadRequest(format!("list-objects message: {e}")))?
    };
    let flags = number(&msg.flags, "flags")?;
    let max = ctx.config.settings.max_page_size;
    let page_size = match number(&msg.pagesize, "pagesize")? as usize {
        0 => max,
        n => n.min(max),
    };
    let props = parse_props(&msg.props, flags);
    let after = if msg.continuation_token.is_empty() {
        msg.start_after.clone()
    } else {
        msg.continuation_token.clone()
    };
    let page = ctx
        .store
        .list(
            bucket,
            ListRequest {
                prefix: msg.prefix.clone(),
                after,
                page_size,
                props,
            },
        )
        .await?;
    let uuid = if msg.uuid.is_empty() {
        new_uuid()
    } else {
        msg.uuid.clone()
    };
    if msgpack {
        let packed = PackedPage {
            uuid: &uuid,
            token: &page.next_after,
            flags: 0,
            entries: page.entries.iter().map(|e| pack(e, props)).collect(),
        };
        let bytes = rmp_serde::to_vec_named(&packed)
            .map_err(|e| ApiError::BadRequest(format!("encoding list page: {e}")))?;
        let mut resp = Response::new(full(bytes));
        set_header(&mut resp, "Content-Type", "application/msgpack");
        return Ok(resp);
    }
    let entries: Vec<serde_json::Value> = page
        .entries
        .iter()
        .map(|e| {
            let mut j = serde_json::json!({"name": e.name, "flags": ENTRY_IS_CACHED});
            if props.size {
                j["size"] = e.size.to_string().into();
            }
            if props.checksum {
                j["checksum"] = e.checksum.clone().into();
            }
            if props.atime {
                j["atime"] = fmt_atime(e.atime_ns).into();
            }
            if props.version {
                j["version"] = e.version.clone().into();
            }
            if props.location {
                j["location"] = e.location.clone().into();
            }
            j
        })
        .collect();
    Ok(json_response(&serde_json::json!({
        "uuid": uuid,
        "continuation_token": page.next_after,
        "entries": entries,
        "flags": 0,
    })))
}

fn pack(e: &ListEntry, props: Props) -> PackedEntry<'_> {
    PackedEntry {
        n: &e.name,
        cs: if props.checksum { &e.checksum } else { "" },
        a: if props.atime {
            fmt_atime(e.atime_ns)
        } else {
            String::new()
        },
        v: if props.version { &e.version } else { "" },
        t: if props.location { &e.location } else { "" },
        s: e.size,
        c: 1,
        f: ENTRY_IS_CACHED,
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

fn new_uuid() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..10)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}
