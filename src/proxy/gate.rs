//! What a request to the proxy must show, by the listener it came on: on the
//! intra-cluster port a node's signature (with a cluster key); on the public port never
//! a keepalive, a map push or a join, and with client credentials configured, one of
//! them (see [`crate::client_auth`]).

use http::Request;
use hyper::body::Incoming;

use super::ProxyContext;
use crate::http::plane::{admit_intra, admit_public};
use crate::http::Plane;
use crate::wire::ApiError;

/// Registration paths.
pub(super) fn is_join(path: &str) -> bool {
    path == "/v1/cluster/autoreg" || path == "/v1/cluster/join"
}

/// Admits `req` or says why not.
pub(super) fn admit(
    ctx: &ProxyContext,
    plane: Plane,
    req: &mut Request<Incoming>,
) -> Result<(), ApiError> {
    let key = ctx.config.intra.key.as_ref();
    if plane == Plane::Intra {
        return admit_intra(key, req)
            .map_err(|e| ApiError::Forbidden(format!("intra-cluster port: {e}")));
    }
    admit_public(req);
    req.headers_mut().remove(&crate::s3::FORWARDED);
    req.headers_mut().remove(&crate::s3::STYLE);
    let path = req.uri().path();
    if path.starts_with("/v1/cluster/keepalive/") || path == "/v1/metasync" {
        return Err(ApiError::Forbidden(format!(
            "{path} is an intra-cluster endpoint, served on the intra-cluster port only"
        )));
    }
    if is_join(path) {
        // Never on the public port, signed or not: the caller is told the intra URL
        // (`Ais-Intra-Url`, set by the router) and joins there with the cluster's key.
        return Err(ApiError::Forbidden(format!(
            "{path}: nodes join on the intra-cluster port only ({})",
            ctx.me.control_url()
        )));
    }
    let any_creds = ctx.config.intra.auth.is_some() || ctx.config.s3_credentials.is_some();
    if any_creds && crate::client_auth::covers(path) {
        let creds = crate::client_auth::ClientCredentials {
            token: ctx.config.intra.auth.as_ref(),
            s3: ctx.config.s3_credentials.as_ref(),
            public_metrics: ctx.config.intra.public_metrics,
        };
        let who = crate::client_auth::check(
            creds,
            req.method(),
            req.uri(),
            req.headers(),
            &ctx.state.smap().uuid,
        )
        .map_err(ApiError::from)?;
        // Only a token's user has less than every right (see the target's gate).
        if let crate::client_auth::Principal::Token(_) = who {
            req.extensions_mut().insert(who);
        }
    }
    Ok(())
}
