//! `GET /v1/ml/moss[/<bucket>]` on the target the proxy chose (GetBatch): the request
//! read, checked once ([`crate::wire::moss`]), every bucket it names checked for the
//! client's right to read, then assembled by [`crate::service::get_batch`].

use std::collections::BTreeSet;
use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;

use super::{may, TargetContext};
use crate::http::Body;
use crate::wire::moss::{self, MOSS_PATH};
use crate::wire::msg::{check_provider, decode, read_body_within};
use crate::wire::ApiError;

pub async fn get_batch(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::GET {
        return Err(ApiError::MethodNotAllowed(req.method().clone()));
    }
    let rest = req.uri().path()[MOSS_PATH.len()..].trim_matches('/');
    let bucket = (!rest.is_empty()).then(|| decode(rest)).transpose()?;
    check_provider(&req)?;
    let who = crate::client_auth::principal(&req);
    let body = read_body_within(req, moss::MAX_REQUEST_BODY).await?;
    let batch = moss::parse(&body, bucket.as_deref())?;
    let buckets: BTreeSet<&str> = batch.items.iter().map(|i| i.bucket.as_str()).collect();
    for b in buckets {
        may(ctx, &who, Some(b), crate::auth::ace::GET, "GetBatch")?;
        ctx.store.bucket_info(b)?;
    }
    crate::service::get_batch::serve(ctx, batch).await
}
