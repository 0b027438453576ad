//! What a request to the proxy must show, by the listener it came on: on the
//! intra-cluster port a node's signature (with a cluster key); on the public port never
//! a keepalive, a join only signed (with a key) or as a first join that displaces no one
//! (checked in `membership`), and with AuthN on a token for the native API.

use http::Request;
use hyper::body::Incoming;

use super::ProxyContext;
use crate::http::plane::{admit_intra, admit_public, verify_signed};
use crate::http::Plane;
use crate::native_api::ApiError;

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
        return match key {
            Some(key) => verify_signed(key, req)
                .map_err(|e| ApiError::Forbidden(format!("registration: {e}"))),
            None => Ok(()),
        };
    }
    let native = path.starts_with("/v1/objects/")
        || path.starts_with("/v1/buckets")
        || path.starts_with("/v1/cluster")
        || path.starts_with("/v1/daemon")
        || path.starts_with("/v1/reverse");
    if let (Some(auth), true) = (&ctx.config.intra.auth, native) {
        let (need, bucket) = crate::auth::required(req.method(), path);
        auth.check(
            req.headers(),
            &ctx.state.smap().uuid,
            bucket.as_deref(),
            need,
            &format!("{} {path}", req.method()),
        )
        .map_err(crate::target::token_error)?;
    }
    Ok(())
}
