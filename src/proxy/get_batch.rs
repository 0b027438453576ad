//! `GET /v1/ml/moss[/<bucket>]` (GetBatch) on the proxy: the request checked once, every
//! bucket it names checked to exist and to be readable by the client, then a 307 to the
//! designated target (at random, or with `coloc` the one owning most items), which
//! assembles the answer. The client sends its body again there, as AIStore's do.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use http::{header, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::ProxyContext;
use crate::cluster::{Smap, Snode};
use crate::http::{empty, Body};
use crate::wire::moss::{self, Batch, MOSS_PATH};
use crate::wire::msg::{check_provider, decode, read_body_within};
use crate::wire::ApiError;

pub(super) async fn redirect(
    ctx: &Arc<ProxyContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::GET {
        return Err(ApiError::MethodNotAllowed(req.method().clone()));
    }
    let rest = req.uri().path()[MOSS_PATH.len()..].trim_matches('/');
    if rest.contains('/') {
        return Err(ApiError::NotFound(format!(
            "no such endpoint: {} (expecting {MOSS_PATH}[/<bucket>])",
            req.uri().path()
        )));
    }
    let bucket = (!rest.is_empty()).then(|| decode(rest)).transpose()?;
    check_provider(&req)?;
    if let Some(b) = &bucket {
        crate::names::validate_bucket(b)?;
        if !ctx.state.has_bucket(b) {
            return Err(ApiError::NoBucket(b.clone()));
        }
    }
    let who = crate::client_auth::principal(&req);
    let (parts, body) = req.into_parts();
    let body = read_body_within(
        Request::from_parts(parts.clone(), body),
        moss::MAX_REQUEST_BODY,
    )
    .await?;
    let batch = moss::parse(&body, bucket.as_deref())?;
    let buckets: BTreeSet<&str> = batch.items.iter().map(|i| i.bucket.as_str()).collect();
    for b in buckets {
        if !ctx.state.has_bucket(b) {
            return Err(ApiError::NoBucket(b.to_string()));
        }
        super::buckets::may(ctx, &who, b, crate::auth::ace::GET, "GetBatch")?;
    }
    let smap = ctx.state.smap();
    let dt = designated(&smap, &batch).ok_or_else(|| {
        ApiError::Unavailable("no target in the cluster map: start a target with --proxy".into())
    })?;
    let location = super::redirect::signed_location(ctx, &parts.method, &parts.uri, dt);
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    if let Ok(v) = header::HeaderValue::try_from(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// The target that assembles the batch: with a colocation hint the one that owns most
/// of its items (the fewest bytes cross the network), else any at random.
fn designated<'a>(smap: &'a Smap, batch: &Batch) -> Option<&'a Snode> {
    let active: Vec<&Snode> = smap.active_targets().collect();
    if active.is_empty() {
        return None;
    }
    if batch.coloc == 0 {
        return Some(active[rand::random::<usize>() % active.len()]);
    }
    let mut owned: HashMap<&str, usize> = HashMap::new();
    for i in &batch.items {
        if let Some(o) = smap.owner(&i.bucket, &i.objname) {
            *owned.entry(o.daemon_id.as_str()).or_default() += 1;
        }
    }
    active
        .into_iter()
        .max_by_key(|t| owned.get(t.daemon_id.as_str()).copied().unwrap_or(0))
}
