//! A target's membership: register with the proxy (retrying until it answers), send
//! keepalives to the proxy's intra-cluster port (learned from the map), re-register when
//! the proxy has dropped us or stopped answering there, and apply map pushes that pass
//! the map rules ([`crate::cluster::MapView`]).

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde::Deserialize;

use super::TargetContext;
use crate::cluster::{Bmd, MapRefusal, Smap, Snode};

#[derive(Deserialize)]
struct ClusterMeta {
    smap: Smap,
    bmd: Bmd,
}

#[derive(Deserialize)]
struct KeepaliveReply {
    smap_version: String,
    bmd_version: String,
}

/// Why a pushed map was not applied.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The body does not parse.
    #[error("malformed cluster metadata: {0}")]
    Malformed(String),
    /// The map breaks a map rule.
    #[error(transparent)]
    Refused(#[from] MapRefusal),
}

/// Applies a pushed map and bucket list (`PUT /v1/metasync` body) from `from` (the
/// verified sender, when the push was signed).
pub async fn apply_meta(
    ctx: &Arc<TargetContext>,
    body: &[u8],
    from: Option<&str>,
) -> Result<(), MetaError> {
    let meta: ClusterMeta =
        serde_json::from_slice(body).map_err(|e| MetaError::Malformed(e.to_string()))?;
    apply(ctx, meta, from).await.map_err(MetaError::from)
}

async fn apply(
    ctx: &Arc<TargetContext>,
    meta: ClusterMeta,
    from: Option<&str>,
) -> Result<(), MapRefusal> {
    let version = meta.smap.version;
    let before = ctx.cluster.smap();
    let moved = super::rebalance::targets_changed(before.as_deref(), &meta.smap);
    // Buckets first: once the map is in, requests for them come (and objects moved here).
    if ctx.cluster.check(&meta.smap, from).is_ok() {
        apply_bmd(ctx, &meta.bmd).await;
    }
    match ctx.cluster.offer(meta.smap, from) {
        Ok(true) => {
            tracing::info!(version, "new cluster map");
            if moved {
                super::rebalance::Rebalance::start(ctx);
            }
        }
        Ok(false) => {}
        Err(e) => {
            ctx.metrics.err_integrity_count.inc();
            tracing::error!(error = %e, "cluster map refused");
            return Err(e);
        }
    }
    Ok(())
}

async fn apply_bmd(ctx: &Arc<TargetContext>, bmd: &Bmd) {
    if bmd.version > ctx.cluster.bmd_version() {
        // Buckets created while we were away; never destroy on absence (that takes an
        // explicit destroy-bck), so a stale list cannot lose data.
        for name in bmd.buckets.keys() {
            if ctx.store.bucket_info(name).is_err() {
                match ctx.store.create_bucket(name).await {
                    Ok(()) => {
                        tracing::info!(bucket = %name, "bucket created from the cluster's bucket list")
                    }
                    Err(e) => {
                        tracing::warn!(bucket = %name, error = %e, "cannot create bucket from the bucket list")
                    }
                }
            }
        }
        // The first list after start is no change: the start's rebalance walk settles
        // what the props ask for (a second walk of every bucket would repeat it).
        let after_start = ctx.cluster.bmd_version() == 0;
        let old = std::mem::replace(
            &mut *ctx.bucket_props.write().unwrap_or_else(|p| p.into_inner()),
            bmd.props.clone(),
        );
        ctx.cluster.set_bmd_version(bmd.version);
        if !after_start {
            super::redundancy_job::start_on_change(ctx, &old, &bmd.props);
        }
    }
}

/// Keepalives that may fail in a row before the target registers again (through the
/// URL it was given: the proxy may have restarted on another intra-cluster port).
const KEEPALIVE_FAILURES: u32 = 3;

/// Registers with `proxy`, then keeps alive until the process ends.
pub async fn run(ctx: Arc<TargetContext>, proxy: String) {
    let interval = Duration::from_millis(ctx.config.settings.keepalive_interval_ms.max(100));
    let me = ctx.snode();
    // A node shutting down (or decommissioned) never registers again.
    while ctx.is_ready() {
        // With no mountpath left the target holds no data it can serve: it stays out of
        // the map (its keepalives stop) until a mountpath is enabled or attached.
        while !ctx.has_storage() && ctx.is_ready() {
            tokio::time::sleep(interval).await;
        }
        register(&ctx, &proxy, &me, interval).await;
        keepalive(&ctx, interval).await;
        if ctx.is_ready() && ctx.has_storage() {
            tracing::warn!(%proxy, "lost the proxy (it dropped this target or stopped answering): registering again");
        }
    }
}

/// The proxy's intra-cluster URL, if known.
fn proxy_control_url(ctx: &TargetContext) -> Option<String> {
    ctx.cluster.primary_url()
}

/// Names the proxy's intra-cluster URL on a join refused at its public port.
const INTRA_URL: http::HeaderName = http::HeaderName::from_static("ais-intra-url");

async fn register(ctx: &Arc<TargetContext>, public: &str, me: &Snode, interval: Duration) {
    let body = serde_json::to_vec(&serde_json::json!({ "si": me })).unwrap_or_default();
    let mut attempt = 0u32;
    // The proxy's intra-cluster URL as its public port named it when refusing a join there.
    let mut told: Option<String> = None;
    'join: while ctx.is_ready() {
        // The intra-cluster port (joins are taken there only), else the URL the operator
        // gave, which answers with the intra-cluster URL.
        let mut bases: Vec<String> = proxy_control_url(ctx).into_iter().collect();
        bases.extend(told.clone());
        bases.push(public.to_string());
        // Any proxy of the map takes a join (it passes it to the primary).
        bases.extend(other_proxies(ctx, ""));
        let mut seen = std::collections::HashSet::new();
        bases.retain(|b| seen.insert(b.clone()));
        for base in &bases {
            let url = format!("{base}/v1/cluster/autoreg");
            match ctx
                .control
                .send(Method::POST, &url, Some(body.clone()))
                .await
            {
                Ok(r) if r.status.is_success() => {
                    match serde_json::from_slice::<ClusterMeta>(&r.body) {
                        Ok(meta) => {
                            if apply(ctx, meta, None).await.is_ok() {
                                tracing::info!(proxy = %base, "registered with the proxy");
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(proxy = %base, error = %e, "unreadable registration reply")
                        }
                    }
                }
                Ok(r)
                    if r.status == http::StatusCode::FORBIDDEN
                        && r.headers.contains_key(INTRA_URL)
                        && told.is_none() =>
                {
                    told = r
                        .headers
                        .get(INTRA_URL)
                        .and_then(|v| v.to_str().ok())
                        .filter(|u| u.starts_with("http://"))
                        .map(str::to_string);
                    tracing::info!(proxy = %base, intra = ?told, "joining through the proxy's intra-cluster port");
                    continue 'join;
                }
                Ok(r) if attempt % 10 == 0 => {
                    tracing::warn!(proxy = %base, status = %r.status, body = %String::from_utf8_lossy(&r.body), "registration refused")
                }
                Err(e) if attempt % 10 == 0 => {
                    tracing::info!(proxy = %base, error = %e, "proxy not reachable yet, retrying")
                }
                _ => {}
            }
        }
        attempt += 1;
        tokio::time::sleep(interval.min(Duration::from_secs(1))).await;
    }
}

/// The intra-cluster URLs of the map's proxies other than `but`.
fn other_proxies(ctx: &TargetContext, but: &str) -> Vec<String> {
    ctx.cluster
        .smap()
        .map(|s| {
            s.pmap
                .values()
                .map(|p| p.control_url().to_string())
                .filter(|u| u != but)
                .collect()
        })
        .unwrap_or_default()
}

/// After the primary failed to answer: asks the map's other proxies for their map and
/// takes a newer one (the proxies may have elected another primary whose push was
/// missed). Returns whether the primary changed.
async fn find_primary(ctx: &Arc<TargetContext>, failed: &str) -> bool {
    for base in other_proxies(ctx, failed) {
        if pull(ctx, &base).await && proxy_control_url(ctx).is_some_and(|p| p != failed) {
            tracing::warn!(old = %failed, new = ?proxy_control_url(ctx), "the proxies have a new primary");
            return true;
        }
    }
    false
}

/// Fetches the map and bucket list from the proxy at `base` and applies them; whether
/// both came.
async fn pull(ctx: &Arc<TargetContext>, base: &str) -> bool {
    let smap = ctx
        .control
        .send(Method::GET, &format!("{base}/v1/cluster?what=smap"), None)
        .await;
    let bmd = ctx
        .control
        .send(Method::GET, &format!("{base}/v1/cluster?what=bmd"), None)
        .await;
    match (smap, bmd) {
        (Ok(s), Ok(b)) if s.status.is_success() && b.status.is_success() => {
            match (
                serde_json::from_slice(&s.body),
                serde_json::from_slice(&b.body),
            ) {
                (Ok(smap), Ok(bmd)) => apply(ctx, ClusterMeta { smap, bmd }, None).await.is_ok(),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Sends keepalives to the proxy's intra-cluster port; returns when the proxy says it
/// does not know us, or after [`KEEPALIVE_FAILURES`] failures in a row.
async fn keepalive(ctx: &Arc<TargetContext>, interval: Duration) {
    let mut failures = 0;
    while ctx.is_ready() {
        tokio::time::sleep(interval).await;
        let Some(proxy) = proxy_control_url(ctx) else {
            return;
        };
        if !ctx.has_storage() {
            tracing::error!(
                "no mountpath available: leaving the cluster map until one is enabled or attached"
            );
            let url = format!("{proxy}/v1/cluster/daemon/{}", ctx.node.id);
            if let Err(e) = ctx.control.send(Method::DELETE, &url, None).await {
                tracing::warn!(error = %e, "could not tell the proxy; it drops this target when the keepalives stay away");
            }
            return;
        }
        let url = format!("{proxy}/v1/cluster/keepalive/{}", ctx.node.id);
        let reply = match ctx
            .control
            .send(Method::POST, &url, Some(b"{}".to_vec()))
            .await
        {
            Ok(r) if r.status.is_success() || r.status == http::StatusCode::NOT_FOUND => r,
            Ok(r) => {
                failures += 1;
                tracing::warn!(%proxy, status = %r.status, body = %String::from_utf8_lossy(&r.body), "keepalive refused");
                if find_primary(ctx, &proxy).await {
                    failures = 0;
                    continue;
                }
                if failures >= KEEPALIVE_FAILURES {
                    return;
                }
                continue;
            }
            Err(e) => {
                failures += 1;
                tracing::debug!(%proxy, error = %e, "keepalive failed");
                if find_primary(ctx, &proxy).await {
                    failures = 0;
                    continue;
                }
                if failures >= KEEPALIVE_FAILURES {
                    return;
                }
                continue;
            }
        };
        failures = 0;
        if reply.status == http::StatusCode::NOT_FOUND {
            return;
        }
        let Ok(versions) = serde_json::from_slice::<KeepaliveReply>(&reply.body) else {
            continue;
        };
        let smap_v: u64 = versions.smap_version.parse().unwrap_or(0);
        let bmd_v: u64 = versions.bmd_version.parse().unwrap_or(0);
        if smap_v > ctx.cluster.smap_version() || bmd_v > ctx.cluster.bmd_version() {
            // A push was missed (partition, restart): pull the current state.
            pull(ctx, &proxy).await;
        }
    }
}
