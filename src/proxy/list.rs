//! list-objects through the proxy: every target's smallest names after the token, merged
//! into one sorted page (archive members paged with their own tokens).

use std::collections::BTreeMap;

use http::Method;
use serde_json::json;

use super::fanout::ask;
use super::ProxyContext;
use crate::wire::lso::{new_uuid, LsoEntry, LsoMsg, LsoPage};
use crate::wire::ApiError;

/// Merges the targets' pages of one listing: objects in name order, each followed by its
/// archive members (`LsArchDir`) as its owner listed them, members resumed from the
/// previous page first. Only what every target has listed completely is shown (up to
/// the smallest of their tokens), everything counts against the page, and a page that
/// fills up inside a shard's members ends with a token that resumes there.
pub(super) fn merge_pages(
    pages: Vec<LsoPage>,
    page_size: usize,
    after: &str,
) -> (Vec<LsoEntry>, String) {
    use crate::wire::lso::{make_member_token, member_token};
    let in_arch = crate::wire::lso::ENTRY_IN_ARCH;
    let object_of = |t: &str| member_token(t).map_or(t.to_string(), |(s, _)| s.to_string());
    // The smallest token: past it, some target has not listed yet.
    let bound = pages
        .iter()
        .map(|p| p.continuation_token.as_str())
        .filter(|t| !t.is_empty())
        .min_by(|a, b| object_of(a).cmp(&object_of(b)).then(b.len().cmp(&a.len())))
        .map(str::to_string);
    let mut resumed: Vec<LsoEntry> = Vec::new();
    let mut objects: BTreeMap<String, (LsoEntry, Vec<LsoEntry>)> = BTreeMap::new();
    for page in pages {
        let mut current: Option<String> = None;
        for e in page.entries {
            if e.flags & in_arch == 0 {
                current = Some(e.name.clone());
                objects.entry(e.name.clone()).or_insert((e, Vec::new()));
            } else if let Some(o) = &current {
                if let Some((_, members)) = objects.get_mut(o) {
                    members.push(e);
                }
            } else {
                resumed.push(e);
            }
        }
    }
    let (resume_shard, resume_at) = member_token(after).unwrap_or(("", 0));
    let mut out: Vec<LsoEntry> = Vec::new();
    for (j, m) in resumed.into_iter().enumerate() {
        if out.len() == page_size {
            return (out, make_member_token(resume_shard, resume_at + j));
        }
        out.push(m);
    }
    let mut last_object = object_of(after);
    for (name, (entry, members)) in objects {
        if bound.as_ref().is_some_and(|b| name > object_of(b)) {
            break;
        }
        if out.len() == page_size {
            return (out, last_object);
        }
        out.push(entry);
        for (j, m) in members.into_iter().enumerate() {
            if out.len() == page_size {
                return (out, make_member_token(&name, j));
            }
            out.push(m);
        }
        last_object = name;
    }
    (out, bound.unwrap_or_default())
}

/// One merged page: every target returns its smallest `page_size` names after the token;
/// the smallest `page_size` of their union are the page.
pub(super) async fn list_objects(
    ctx: &ProxyContext,
    bucket: &str,
    msg: LsoMsg,
) -> Result<LsoPage, ApiError> {
    if !ctx.state.has_bucket(bucket) {
        return Err(ApiError::NoBucket(bucket.to_string()));
    }
    let page_size = msg.page_size(ctx.config.settings.max_page_size)?;
    let uuid = if msg.uuid.is_empty() {
        new_uuid()
    } else {
        msg.uuid.clone()
    };
    let value = json!({
        "prefix": msg.prefix,
        "props": msg.props,
        "continuation_token": msg.after(),
        "pagesize": page_size,
        "flags": msg.flag_bits()?.to_string(),
        "uuid": uuid,
    });
    let body = serde_json::to_vec(&json!({"action": "list", "name": "", "value": value}))
        .unwrap_or_default();
    let smap = ctx.state.smap();
    let calls = smap.tmap.values().map(|t| {
        let url = format!("{}/v1/buckets/{bucket}", t.control_url());
        let body = body.clone();
        async move {
            let reply = ask(ctx, t, Method::GET, &url, body).await?;
            serde_json::from_slice::<LsoPage>(&reply)
                .map_err(|e| format!("{}: bad list page: {e}", t.daemon_id))
        }
    });
    let mut pages = Vec::new();
    for page in futures_util::future::join_all(calls).await {
        pages.push(page.map_err(|e| ApiError::Upstream(format!("list ais://{bucket}: {e}")))?);
    }
    let (entries, continuation_token) = merge_pages(pages, page_size, msg.after());
    Ok(LsoPage {
        uuid,
        continuation_token,
        entries,
        flags: 0,
    })
}
