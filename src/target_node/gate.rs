//! What a request must show before a handler sees it, by the listener it came on.
//!
//! Intra-cluster port: with a cluster key, a valid node signature (see
//! [`crate::http::plane`]). Public port: never the cluster's own endpoints (map pushes,
//! bucket changes of a clustered target, the S3 forwarding markers); with signing on,
//! object requests only through a proxy's signed redirect (AIStore answers direct access
//! 403 the same way); with AuthN on, a token unless the proxy already checked it.

use http::{Method, Request, Response};
use hyper::body::Incoming;

use super::TargetContext;
use crate::cluster::intra_auth::now_secs;
use crate::http::plane::{admit_intra, admit_public};
use crate::http::{Body, Plane};
use crate::wire::{error, ApiError};

/// Admits `req` (`None`) or returns the refusal to send.
pub(super) fn refusal(
    ctx: &TargetContext,
    plane: Plane,
    req: &mut Request<Incoming>,
) -> Option<Response<Body>> {
    let outcome = match plane {
        Plane::Intra => admit_intra(ctx.config.intra.key.as_ref(), req)
            .map_err(|e| ApiError::Forbidden(format!("intra-cluster port: {e}"))),
        Plane::Public => {
            admit_public(req);
            // Markers only a node may set (the proxy sets them on the intra port).
            req.headers_mut().remove(&crate::s3::FORWARDED);
            req.headers_mut().remove(&crate::s3::STYLE);
            check_public(ctx, req).map(|who| {
                // Only a token's user has less than every right: kept for the handlers'
                // checks of other buckets (nothing is stored for the others).
                if let Some(who @ crate::client_auth::Principal::Token(_)) = who {
                    req.extensions_mut().insert(who);
                }
            })
        }
    };
    outcome.err().map(|e| {
        let guard = &ctx.metrics.guard;
        match e {
            ApiError::Unauthorized(_) => guard.err_auth_count.inc(),
            ApiError::Forbidden(_) if ctx.config.intra.auth.is_some() => {
                guard.err_auth_count.inc()
            }
            _ => guard.err_forbidden_count.inc(),
        }
        tracing::info!(?plane, method = %req.method(), path = %req.uri().path(), error = %e, "request refused at the gate");
        let (method, path) = (req.method(), req.uri().path());
        if path == "/s3" || path.starts_with("/s3/") {
            // An S3 client hears it in S3's words.
            return crate::s3::refusal(&e.into(), method, path);
        }
        error::error_response(&e, method, path, &format!("t[{}]", ctx.node.id))
    })
}

/// Checks a public request; the principal it was admitted as, when it was checked here.
fn check_public(
    ctx: &TargetContext,
    req: &Request<Incoming>,
) -> Result<Option<crate::client_auth::Principal>, ApiError> {
    let path = req.uri().path();
    let method = req.method();
    if path == "/v1/metasync" || path.starts_with("/v1/metasync/") {
        return Err(ApiError::Forbidden(
            "/v1/metasync is an intra-cluster endpoint, served on the intra-cluster port only"
                .into(),
        ));
    }
    if (path == "/v1/daemon" || path.starts_with("/v1/daemon/")) && *method != Method::GET {
        return Err(ApiError::Forbidden(
            "node actions are taken on the intra-cluster port only (through the proxy)".into(),
        ));
    }
    let clustered = ctx.config.proxy.is_some();
    if clustered && path == "/v1/cluster" && *method != Method::GET {
        return Err(ApiError::Forbidden(format!(
            "{method} {path}: cluster actions go through the proxy"
        )));
    }
    if clustered
        && path.starts_with("/v1/buckets/")
        && !matches!(*method, Method::GET | Method::HEAD)
    {
        return Err(ApiError::Forbidden(format!(
            "{method} {path}: bucket changes go through the proxy; a target takes them only from the proxy, on its intra-cluster port"
        )));
    }
    let batch = path.starts_with(crate::wire::moss::MOSS_PATH);
    let native = path.starts_with("/v1/objects/") || path.starts_with("/v1/buckets") || batch;
    let redirected = match (ctx.cluster_key(), clustered && native) {
        (Some(key), true) => {
            let path_q = req.uri().path_and_query().map_or(path, |p| p.as_str());
            Some(key.verify_redirect(method, path_q, &ctx.node.id, now_secs()))
        }
        _ => None,
    };
    // A request the proxy redirected was checked there; any other shows its credentials
    // first (a stranger learns 401, not which paths a redirect would open).
    let mut who = None;
    let any_creds = ctx.config.intra.auth.is_some() || ctx.config.s3_credentials.is_some();
    if any_creds && crate::client_auth::covers(path) && !matches!(redirected, Some(Ok(()))) {
        let uuid = ctx
            .cluster
            .smap()
            .map(|s| s.uuid.clone())
            .unwrap_or_default();
        let creds = crate::client_auth::ClientCredentials {
            token: ctx.config.intra.auth.as_ref(),
            s3: ctx.config.s3_credentials.as_ref(),
            public_metrics: ctx.config.intra.public_metrics,
        };
        who = Some(
            crate::client_auth::check(creds, method, req.uri(), req.headers(), &uuid)
                .map_err(ApiError::from)?,
        );
    }
    if path.starts_with("/v1/objects/") || batch {
        if let Some(Err(e)) = &redirected {
            return Err(ApiError::Forbidden(e.to_string()));
        }
    }
    Ok(who)
}
