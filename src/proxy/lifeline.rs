//! Noticing a dead target in milliseconds: the proxy holds one endless request open to
//! every target's intra-cluster port (`GET /v1/lifeline`). A killed process's
//! connections are closed by its kernel, so the stream ends at once; the proxy then
//! knocks on the target's health endpoint, and a port that refuses connections takes
//! the target out of the map (and its objects' next owners and copies in). A target
//! that still answers, or that only stopped answering (a cut network, a frozen machine:
//! no connection closes), is left to the keepalive timeout as before; so is one that said
//! goodbye on its lifeline (a stop on purpose: a restart or a rollout should not move
//! every object it owns).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, Request};
use http_body_util::BodyExt;

use super::ProxyContext;
use crate::cluster::Snode;
use crate::http::forward::no_body;

/// How often the set of watched targets is compared with the map.
const RESCAN: Duration = Duration::from_secs(1);

/// Watches every target of the map, for as long as the proxy runs (the watches are
/// this task's: aborting it ends them). A target that said goodbye is left to the
/// keepalive timeout for that long, so a restart does not take it out of the map.
pub(super) async fn watch_all(ctx: Arc<ProxyContext>) {
    let rest = Duration::from_millis(ctx.config.settings.node_timeout_ms);
    let mut watches = tokio::task::JoinSet::new();
    let mut watched: HashSet<String> = HashSet::new();
    let mut resting: HashMap<String, Instant> = HashMap::new();
    loop {
        while let Some(done) = watches.try_join_next() {
            if let Ok((id, goodbye)) = done {
                watched.remove(&id);
                if goodbye {
                    resting.insert(id, Instant::now());
                }
            }
        }
        resting.retain(|_, since| since.elapsed() < rest);
        let targets: Vec<Snode> = ctx.state.smap_now().tmap.values().cloned().collect();
        for t in targets {
            if resting.contains_key(&t.daemon_id) || !watched.insert(t.daemon_id.clone()) {
                continue;
            }
            let ctx = ctx.clone();
            watches.spawn(async move {
                let goodbye = watch(&ctx, &t).await;
                (t.daemon_id, goodbye)
            });
        }
        tokio::time::sleep(RESCAN).await;
    }
}

/// Holds `t`'s lifeline until `t` leaves the map (or moves to other URLs, when a new
/// watch starts) or says goodbye (then true).
async fn watch(ctx: &ProxyContext, t: &Snode) -> bool {
    loop {
        if !still_in_map(ctx, t) {
            return false;
        }
        let ended = hold(ctx, t).await;
        if !still_in_map(ctx, t) {
            return false;
        }
        if ended == Ended::Goodbye {
            return true;
        }
        if refuses_connections(ctx, t).await {
            if ctx.state.remove(&t.daemon_id).await.unwrap_or(false) {
                ctx.metrics.target_removed_count.inc();
                tracing::warn!(target_id = %t.daemon_id, url = %t.url(), why = ?ended, "target removed from the cluster map: its connection closed and its port refuses new ones");
            }
            return false;
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

/// How a lifeline ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// The target said goodbye: it is stopping on purpose.
    Goodbye,
    /// It could not be opened, or broke, or ended without a word.
    Lost(String),
}

/// Reads the lifeline until it ends; says how.
async fn hold(ctx: &ProxyContext, t: &Snode) -> Ended {
    let url = format!("{}{}", t.control_url(), crate::wire::LIFELINE_PATH);
    let Ok(req) = Request::builder()
        .method(Method::GET)
        .uri(&url)
        .body(no_body())
    else {
        return Ended::Lost("bad URL".into());
    };
    let mut body = match ctx.data.send(req).await {
        Ok(resp) if resp.status().is_success() => resp.into_body(),
        Ok(resp) => return Ended::Lost(format!("lifeline refused: {}", resp.status())),
        Err(e) => return Ended::Lost(format!("lifeline not opened: {e}")),
    };
    loop {
        match body.frame().await {
            Some(Ok(f))
                if f.data_ref()
                    .is_some_and(|d| d.ends_with(crate::wire::LIFELINE_BYE)) =>
            {
                return Ended::Goodbye
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Ended::Lost(format!("lifeline broke: {e}")),
            None => return Ended::Lost("lifeline ended".into()),
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
