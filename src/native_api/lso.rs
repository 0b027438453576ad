//! List objects on the wire: `LsoMsg` in, `LsoRes` out, in msgpack for clients that ask
//! for it (the Python SDK requires it) and JSON otherwise. Shared by the target, which
//! lists its disks, and the proxy, which merges the targets' pages.

use super::{ApiError, TargetContext};
use crate::http::Body;
use crate::store::{ListEntry, ListRequest, Props};
use crate::wire::lso::{
    make_member_token, member_token, new_uuid, page_response, LsoEntry, LsoMsg, LsoPage,
    ENTRY_IN_ARCH, ENTRY_IS_CACHED, ENTRY_IS_DIR,
};
use http::Response;

/// Request flag: names only.
const FLAG_NAME_ONLY: u64 = 16;
/// `LsArchDir`: archives' members listed after them.
const FLAG_ARCH_DIR: u64 = 1 << 3;
/// `LsNoRecursion`: one level below the prefix, with directory entries. AIStore's targets
/// list those entries of an `ais://` bucket even with `LsNoDirs` (which only filters
/// remote buckets' listings), and so do we: `LsNoDirs` is accepted and has no effect here.
const FLAG_NO_RECURSION: u64 = 1 << 11;
/// Request flag: names and sizes only.
const FLAG_NAME_SIZE: u64 = 32;

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
    let resume = member_token(msg.after())
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
            flags: ENTRY_IN_ARCH,
            ..LsoEntry::default()
        };
        let mut cut = None;
        if let Some((shard, skip)) = &resume {
            let room = page_size + 1;
            let got = super::arch::members(ctx, bucket, shard, *skip, room).await;
            if got.len() == room {
                cut = Some(make_member_token(shard, skip + page_size));
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
                cut = Some(make_member_token(&e.name, room));
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
    // A property not asked for stays empty (and out of the msgpack the SDK reads).
    let asked = |on: bool, value: &dyn Fn() -> String| if on { value() } else { String::new() };
    LsoEntry {
        name: e.name.clone(),
        checksum: asked(props.checksum, &|| e.checksum.clone()),
        atime: asked(props.atime, &|| fmt_atime(e.atime_ns)),
        version: asked(props.version, &|| e.version.clone()),
        location: asked(props.location, &|| {
            format!("t[{}]:{}", ctx.node.id, e.location)
        }),
        size: asked(props.size, &|| e.size.to_string()),
        etag: asked(props.etag, &|| e.etag.clone()),
        mtime: asked(props.etag, &|| e.mtime_ns.to_string()),
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
