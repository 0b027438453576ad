//! The target's S3 front end: object operations served from this target's store (or
//! forwarded to the owner), bucket operations forwarded to the proxy or, on a lone
//! target, served from the local store. The dialect itself is [`crate::s3`].

mod body;
mod copy;
mod headers;
mod local;
mod multipart;
mod object;

use std::sync::Arc;

use http::{HeaderName, HeaderValue, Request, Response};
use hyper::body::Incoming;

use crate::http::Body;
use crate::s3::error::{self, S3Error};
use crate::s3::{
    access, bucket, finish, op, request_id, style_header, style_of, FORWARDED, MAX_XML_BODY,
};
use crate::service::TargetContext;

/// Serves an S3 request on a target; never fails (errors become S3 XML).
pub async fn handle_target(ctx: Arc<TargetContext>, req: Request<Incoming>) -> Response<Body> {
    let rid = request_id();
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let resp = match route_target(&ctx, req).await {
        Ok(r) => r,
        Err(e) => {
            let (code, status) = e.code();
            if status.is_server_error() {
                tracing::warn!(%method, %path, code, error = %e, "S3 request failed");
            } else {
                tracing::debug!(%method, %path, code, error = %e, "S3 request refused");
            }
            error::error_response(&e, &method, &path, &rid)
        }
    };
    finish(resp, &rid)
}

async fn route_target(
    ctx: &Arc<TargetContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, S3Error> {
    let (rel, style) = style_of(req.uri().path(), req.headers());
    let (bucket, key) = op::resource(&rel, &style)?;
    let query = crate::http::request::query(&req);
    let parsed = op::parse(req.method(), bucket, key, query, req.headers())?;
    let forwarded = req.headers().contains_key(&FORWARDED);
    let uuid = ctx
        .cluster
        .smap()
        .map(|s| s.uuid.clone())
        .unwrap_or_default();
    let mut extra: Vec<(HeaderName, HeaderValue)> =
        vec![(FORWARDED, HeaderValue::from_static("1"))];
    extra.extend(style_header(&style));
    if parsed.is_object_op() {
        if !forwarded {
            if let Some(owner) = ctx.other_owner(&parsed.bucket, &parsed.key) {
                return ctx
                    .data
                    .forward(req, owner.control_url(), &extra)
                    .await
                    .map_err(|e| S3Error::Upstream(e.to_string()));
            }
        }
        let verified = access::verify(client_keys(ctx, &uuid), &req, &style, &parsed)?;
        return object::serve(ctx, req, parsed, verified).await;
    }
    if let (Some(proxy), false) = (&ctx.config.proxy, forwarded) {
        // Bucket operations need the whole cluster's view: the proxy has it.
        return ctx
            .data
            .forward(req, proxy, &extra)
            .await
            .map_err(|e| S3Error::Upstream(e.to_string()));
    }
    access::verify(client_keys(ctx, &uuid), &req, &style, &parsed)?;
    let body = crate::http::request::read_limited_within(
        req.into_body(),
        MAX_XML_BODY,
        crate::s3::XML_BODY_TIMEOUT,
    )
    .await
    .map_err(|e| S3Error::Invalid("InvalidRequest", format!("request body: {e}")))?;
    bucket::serve(&local::LocalBuckets(ctx), &parsed, body).await
}

/// The client credentials of a target, for [`access::verify`].
fn client_keys<'a>(ctx: &'a TargetContext, uuid: &'a str) -> access::ClientKeys<'a> {
    access::ClientKeys {
        s3: ctx.config.s3_credentials.as_ref(),
        token: ctx.config.intra.auth.as_ref(),
        uuid,
    }
}
