//! Noticing a dead target in milliseconds: the proxy holds one endless request open to
//! every target's intra-cluster port (`GET /v1/lifeline`). A killed process's
//! connections are closed by its kernel, so the stream ends at once; the proxy then
//! knocks on the target's health endpoint, and a port that refuses connections takes
//! the target out of the map (and its objects' next owners and copies in). A target
//! that still answers, or that only stopped answering (a cut network, a frozen machine:
//! no connection closes), is left to the keepalive timeout as before.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request};
use http_body_util::BodyExt;

use super::ProxyContext;
use crate::cluster::Snode;
use crate::http::forward::no_body;

/// How often the set of watched targets is compared with the map.
const RESCAN: Duration = Duration::from_secs(1);

/// Watches every target of the map, for as long as the proxy runs (the watches are
/// this task's: aborting it ends them).
pub(super) async fn watch_all(ctx: Arc<ProxyContext>) {
    let mut watches = tokio::task::JoinSet::new();
    let mut watched: HashSet<String> = HashSet::new();
    loop {
        while let Some(done) = watches.try_join_next() {
            if let Ok(id) = done {
                watched.remove(&id);
            }
        }
        let targets: Vec<Snode> = ctx.state.smap_now().tmap.values().cloned().collect();
        for t in targets {
            if watched.insert(t.daemon_id.clone()) {
                let ctx = ctx.clone();
                watches.spawn(async move {
                    watch(&ctx, &t).await;
                    t.daemon_id
                });
            }
        }
        tokio::time::sleep(RESCAN).await;
    }
}

/// Holds `t`'s lifeline until `t` leaves the map (or moves to other URLs, when a new
/// watch starts).
async fn watch(ctx: &ProxyContext, t: &Snode) {
    loop {
        if !still_in_map(ctx, t) {
            return;
        }
        let ended = hold(ctx, t).await;
        if !still_in_map(ctx, t) {
            return;
        }
        if refuses_connections(ctx, t).await {
            if ctx.state.remove(&t.daemon_id) {
                ctx.metrics.target_removed_count.inc();
                tracing::warn!(target_id = %t.daemon_id, url = %t.url(), why = %ended, "target removed from the cluster map: its connection closed and its port refuses new ones");
            }
            return;
        }
        tokio::time::sleep(RESCAN).await;
    }
}

fn still_in_map(ctx: &ProxyContext, t: &Snode) -> bool {
    ctx.state
        .smap_now()
        .tmap
        .get(&t.daemon_id)
        .is_some_and(|now| now.control_url() == t.control_url())
}

/// Reads the lifeline until it ends; says how.
async fn hold(ctx: &ProxyContext, t: &Snode) -> String {
    let url = format!("{}{}", t.control_url(), crate::wire::LIFELINE_PATH);
    let Ok(req) = Request::builder()
        .method(Method::GET)
        .uri(&url)
        .body(no_body())
    else {
        return "bad URL".into();
    };
    let mut body = match ctx.data.send(req).await {
        Ok(resp) if resp.status().is_success() => resp.into_body(),
        Ok(resp) => return format!("lifeline refused: {}", resp.status()),
        Err(e) => return format!("lifeline not opened: {e}"),
    };
    loop {
        match body.frame().await {
            Some(Ok(_)) => {}
            Some(Err(e)) => return format!("lifeline broke: {e}"),
            None => return "lifeline ended".into(),
        }
    }
}

/// Whether `t`'s intra-cluster port refuses a connection (the process is gone).
async fn refuses_connections(ctx: &ProxyContext, t: &Snode) -> bool {
    let url = format!("{}/v1/health", t.control_url());
    matches!(
        ctx.client.send(Method::GET, &url, None).await,
        Err(crate::http::ClientError::Transport(..))
    )
}
