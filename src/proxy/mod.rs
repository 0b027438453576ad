//! The proxy (gateway): owns the cluster map and bucket list, takes target registration
//! and keepalives, removes silent targets, and answers every object request with a 307
//! redirect to the target HRW picks. Only S3 object requests pass through it, streamed to
//! their target (module `s3`), because S3 clients do not follow redirects.

mod admin;
mod bucket_admin;
mod buckets;
mod fanout;
mod gate;
mod get_batch;
mod lifeline;
mod list;
mod membership;
mod multi_object;
mod primary;
mod raft_net;
mod redirect;
mod routes;
mod s3;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::net::TcpListener;

use crate::cluster::intra_auth::Signer;
use crate::cluster::Snode;
use crate::config::ProxyConfig;
pub use crate::fs::write_atomic;
use crate::http::ControlClient;
use crate::http::Listeners;
use crate::metrics::ProxyMetrics;
pub use state::ClusterState;

/// Why a proxy could not start.
#[derive(Debug, Error)]
pub enum ProxyStartError {
    /// The state directory is unusable.
    #[error("state directory {0}: {1}")]
    StateDir(std::path::PathBuf, std::io::Error),
    /// The listening socket could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    /// No secret given, and nowhere to keep a generated one.
    #[error("no cluster secret: give one (AIS_CLUSTER_SECRET or --cluster-secret-file), or a --state-dir to keep a generated one in, or --no-cluster-secret to run the intra-cluster port open")]
    NoSecret,
}

/// Everything a proxy request handler needs.
pub struct ProxyContext {
    /// Cluster map and bucket list.
    pub state: ClusterState,
    /// This proxy in the map.
    pub me: Snode,
    /// Effective configuration.
    pub config: ProxyConfig,
    /// Counters.
    pub metrics: ProxyMetrics,
    /// Client for talking to targets (signed with the cluster key, replies bounded).
    pub client: ControlClient,
    /// Streams S3 object requests to their targets.
    pub data: crate::http::DataClient,
    /// False once shutdown starts.
    pub ready: AtomicBool,
    /// Start time.
    pub started: Instant,
    /// Bucket summary jobs.
    /// Jobs started here (summaries, copies, deletes by list), for their pollers.
    pub jobs: crate::jobs::Jobs,
    /// Asked to shut down by the primary (`shutdown-node`, end of a decommission).
    pub stop: tokio::sync::Notify,
}

/// Runs a proxy until `shutdown` resolves.
pub async fn run(
    mut cfg: ProxyConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProxyStartError> {
    if let Some(dir) = &cfg.state_dir {
        std::fs::create_dir_all(dir).map_err(|e| ProxyStartError::StateDir(dir.clone(), e))?;
    } else {
        tracing::warn!("no --state-dir: the cluster map will not survive a proxy restart");
    }
    if cfg.intra.key.is_none() && !cfg.intra.open {
        let dir = cfg.state_dir.clone().ok_or(ProxyStartError::NoSecret)?;
        let (key, file, made) = crate::cluster::secret::load_or_generate(&dir)
            .map_err(|e| ProxyStartError::StateDir(dir.clone(), e))?;
        tracing::warn!(
            file = %file.display(),
            "no cluster secret given: {} the one generated in this file; targets join only with it (--cluster-secret-file {} or its content in AIS_CLUSTER_SECRET)",
            if made { "made and using" } else { "using" },
            file.display()
        );
        cfg.intra.set_key(key);
    }
    let id = proxy_id(cfg.state_dir.as_deref(), cfg.id.as_deref())
        .map_err(|e| ProxyStartError::StateDir(cfg.state_dir.clone().unwrap_or_default(), e))?;
    let (listener, local) = bind(SocketAddr::new(cfg.host, cfg.port)).await?;
    let (intra_listener, intra_local) =
        bind(SocketAddr::new(cfg.intra.host, cfg.intra.port)).await?;
    let url = crate::http::advertised_url(cfg.public_url.as_deref(), local).await;
    let intra_url = crate::http::advertised_url(cfg.intra.url.as_deref(), intra_local).await;
    let mut me = Snode::new(&id, "proxy", &url).with_intra_url(&intra_url);
    if cfg.non_electable {
        me.flags |= crate::cluster::FLAG_NON_ELECTABLE;
    }
    let signer = cfg.intra.key.clone().map(|key| Signer {
        key,
        caller: id.clone(),
    });
    let timeout = Duration::from_millis(cfg.settings.control_timeout_ms);
    let client = ControlClient::new(timeout)
        .signed_by(signer.clone())
        .max_reply(cfg.settings.max_node_reply);
    let state = primary::start(&cfg, &me, client.clone())
        .await
        .map_err(|e| ProxyStartError::StateDir(cfg.state_dir.clone().unwrap_or_default(), e))?;
    let ctx = Arc::new(ProxyContext {
        state,
        me,
        metrics: ProxyMetrics::new(&id),
        client,
        data: crate::http::DataClient::new(timeout).signed_by(signer),
        ready: AtomicBool::new(true),
        started: Instant::now(),
        jobs: Default::default(),
        stop: tokio::sync::Notify::new(),
        config: cfg,
    });
    tracing::info!(id = %id, url = %url, listen = %local, %intra_url, intra_listen = %intra_local, targets = ctx.state.smap().tmap.len(), "proxy started");
    ctx.config.intra.warn_if_open();
    println!("aisnode proxy {id} listening on {url}");
    if ctx.config.s3_credentials.is_none() {
        tracing::warn!("no S3 keys configured (AIS_S3_ACCESS_KEY/AIS_S3_SECRET_KEY): S3 requests are accepted without checking signatures");
    }

    let pusher = tokio::spawn(membership::push_loop(ctx.clone()));
    let checker = tokio::spawn(membership::health_loop(ctx.clone()));
    let lifelines = tokio::spawn(lifeline::watch_all(ctx.clone()));
    let leadership = tokio::spawn(primary::watch_leadership(ctx.clone()));
    tokio::spawn(primary::bootstrap_or_join(ctx.clone()));

    let listeners = Listeners {
        public: listener,
        intra: intra_listener,
    };
    let handler_ctx = ctx.clone();
    let handler = move |plane, req| routes::handle(handler_ctx.clone(), plane, req);
    let rejected = ctx.metrics.guard.conn_rejected_count.clone();
    let serve_cfg = ctx.config.serve_config();
    let asked = ctx.clone();
    let shutdown = async move {
        tokio::select! {
            () = shutdown => {}
            () = asked.stop.notified() => tracing::warn!("the primary asked this proxy to shut down"),
        }
    };
    crate::http::serve_node(
        listeners, handler, serve_cfg, rejected, &ctx.ready, shutdown,
    )
    .await;
    pusher.abort();
    checker.abort();
    lifelines.abort();
    leadership.abort();
    if let Err(e) = ctx.state.raft.shutdown().await {
        tracing::warn!(error = %e, "Raft did not stop cleanly");
    }
    Ok(())
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ProxyStartError> {
    crate::http::bind(addr)
        .await
        .map_err(|e| ProxyStartError::Bind(addr, e))
}

/// The flag's ID, else the saved one, else a new one; saved for next time.
fn proxy_id(state_dir: Option<&Path>, flag: Option<&str>) -> std::io::Result<String> {
    let file = state_dir.map(|d| d.join(".ais.proxy_id"));
    let saved = file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .map(|s| s.trim().to_string());
    let id = match (flag, saved) {
        (Some(id), _) => id.to_string(),
        (None, Some(id)) if !id.is_empty() => id,
        _ => format!("p{}", crate::wire::lso::new_uuid()),
    };
    if let Some(f) = file {
        write_atomic(&f, id.as_bytes())?;
    }
    Ok(id)
}
