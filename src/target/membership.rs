//! A target's membership: register with the proxy (retrying until it answers), send
//! keepalives, re-register when the proxy has dropped us, and apply map pushes.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde::Deserialize;

use super::TargetContext;
use crate::cluster::{Bmd, Smap, Snode};
use crate::http::ControlClient;

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

/// Applies a pushed or fetched map and bucket list (`PUT /v1/metasync` body).
pub async fn apply_meta(ctx: &TargetContext, body: &[u8]) -> Result<(), String> {
    let meta: ClusterMeta =
        serde_json::from_slice(body).map_err(|e| format!("malformed cluster metadata: {e}"))?;
    apply(ctx, meta).await;
    Ok(())
}

async fn apply(ctx: &TargetContext, meta: ClusterMeta) {
    let version = meta.smap.version;
    if ctx.cluster.offer(meta.smap) {
        tracing::info!(version, "new cluster map");
    }
    if meta.bmd.version > ctx.cluster.bmd_version() {
        // Buckets created while we were away; never destroy on absence (that takes an
        // explicit destroy-bck), so a stale list cannot lose data.
        for name in meta.bmd.buckets.keys() {
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
        ctx.cluster.set_bmd_version(meta.bmd.version);
    }
}

/// Registers with `proxy`, then keeps alive until the process ends.
pub async fn run(ctx: Arc<TargetContext>, proxy: String) {
    let interval = Duration::from_millis(ctx.config.settings.keepalive_interval_ms.max(100));
    let client = ControlClient::new(Duration::from_secs(5));
    let me = Snode::new(&ctx.node.id, "target", &ctx.node.public_url)
        .with_intra_url(&ctx.node.intra_url);
    loop {
        register(&ctx, &client, &proxy, &me, interval).await;
        keepalive(&ctx, &client, &proxy, interval).await;
        tracing::warn!(%proxy, "proxy no longer knows this target: registering again");
    }
}

async fn register(
    ctx: &TargetContext,
    client: &ControlClient,
    proxy: &str,
    me: &Snode,
    interval: Duration,
) {
    let body = serde_json::to_vec(&serde_json::json!({ "si": me })).unwrap_or_default();
    let url = format!("{proxy}/v1/cluster/autoreg");
    let mut attempt = 0u32;
    loop {
        match client.send(Method::POST, &url, Some(body.clone())).await {
            Ok(r) if r.status.is_success() => {
                match serde_json::from_slice::<ClusterMeta>(&r.body) {
                    Ok(meta) => {
                        apply(ctx, meta).await;
                        tracing::info!(%proxy, "registered with the proxy");
                        return;
                    }
                    Err(e) => tracing::warn!(%proxy, error = %e, "unreadable registration reply"),
                }
            }
            Ok(r) => {
                tracing::warn!(%proxy, status = %r.status, body = %String::from_utf8_lossy(&r.body), "registration refused")
            }
            Err(e) if attempt % 10 == 0 => {
                tracing::info!(%proxy, error = %e, "proxy not reachable yet, retrying")
            }
            Err(_) => {}
        }
        attempt += 1;
        tokio::time::sleep(interval.min(Duration::from_secs(1))).await;
    }
}

/// Sends keepalives; returns when the proxy says it does not know us.
async fn keepalive(ctx: &TargetContext, client: &ControlClient, proxy: &str, interval: Duration) {
    let url = format!("{proxy}/v1/cluster/keepalive/{}", ctx.node.id);
    loop {
        tokio::time::sleep(interval).await;
        let reply = match client.send(Method::POST, &url, Some(b"{}".to_vec())).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(%proxy, error = %e, "keepalive failed");
                continue;
            }
        };
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
            let smap = client
                .send(Method::GET, &format!("{proxy}/v1/cluster?what=smap"), None)
                .await;
            let bmd = client
                .send(Method::GET, &format!("{proxy}/v1/cluster?what=bmd"), None)
                .await;
            if let (Ok(s), Ok(b)) = (smap, bmd) {
                if let (Ok(smap), Ok(bmd)) = (
                    serde_json::from_slice(&s.body),
                    serde_json::from_slice(&b.body),
                ) {
                    apply(ctx, ClusterMeta { smap, bmd }).await;
                }
            }
        }
    }
}
