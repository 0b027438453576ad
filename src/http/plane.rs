//! Which listener a request came in on, and the gate of the intra-cluster one: with a
//! cluster key, every request there must be signed by a node of the cluster (probes of
//! `/v1/health` excepted). The verified signature rides in the request's extensions, so
//! the handler that reads a control body can check it against the signed digest.

use http::Request;

use crate::cluster::intra_auth::{now_secs, IntraAuthError};
use crate::cluster::ClusterKey;

/// The listener a request arrived on (kept in the request's extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    /// Clients: the public port.
    Public,
    /// Other nodes: the intra-cluster port.
    Intra,
}

impl Plane {
    /// The plane recorded on `req` (public when none was).
    pub fn of<B>(req: &Request<B>) -> Plane {
        req.extensions()
            .get::<Plane>()
            .copied()
            .unwrap_or(Plane::Public)
    }
}

/// Marks `req` as public.
pub fn admit_public<B>(req: &mut Request<B>) {
    req.extensions_mut().insert(Plane::Public);
}

/// Admits `req` on the intra-cluster listener: without a key anyone may call (the node
/// warned at start-up); with one, the signature must verify.
pub fn admit_intra<B>(
    key: Option<&ClusterKey>,
    req: &mut Request<B>,
) -> Result<(), IntraAuthError> {
    req.extensions_mut().insert(Plane::Intra);
    let Some(key) = key else { return Ok(()) };
    if req.uri().path() == "/v1/health" {
        return Ok(());
    }
    verify_signed(key, req)
}

/// Verifies a signed request wherever it arrived, and keeps the signature for the body check.
pub fn verify_signed<B>(key: &ClusterKey, req: &mut Request<B>) -> Result<(), IntraAuthError> {
    let path_q = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let signed = key.verify(req.method(), &path_q, req.headers(), now_secs())?;
    req.extensions_mut().insert(signed);
    Ok(())
}
