//! The proxy (gateway): owns the cluster map and bucket list, takes target registration
//! and keepalives, removes silent targets, and answers every object request with a 307
//! redirect to the target HRW picks. Only S3 object requests pass through it, streamed to
//! their target (module `s3`), because S3 clients do not follow redirects.

mod buckets;
mod membership;
mod routes;
mod s3;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::net::TcpListener;

use crate::cluster::Snode;
use crate::config::ProxyConfig;
use crate::http::ControlClient;
use crate::metrics::ProxyMetrics;
pub use state::{write_atomic, ClusterState};

/// Why a proxy could not start.
#[derive(Debug, Error)]
pub enum ProxyStartError {
    /// The state directory is unusable.
    #[error("state directory {0}: {1}")]
    StateDir(std::path::PathBuf, std::io::Error),
    /// The listening socket could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
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
    /// Client for talking to targets.
    pub client: ControlClient,
    /// Streams S3 object requests to their targets.
    pub data: crate::http::DataClient,
    /// False once shutdown starts.
    pub ready: AtomicBool,
    /// Start time.
    pub started: Instant,
}

/// Runs a proxy until `shutdown` resolves.
pub async fn run(
    cfg: ProxyConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProxyStartError> {
    if let Some(dir) = &cfg.state_dir {
        std::fs::create_dir_all(dir).map_err(|e| ProxyStartError::StateDir(dir.clone(), e))?;
    } else {
        tracing::warn!("no --state-dir: the cluster map will not survive a proxy restart");
    }
    let id = proxy_id(cfg.state_dir.as_deref(), cfg.id.as_deref())
        .map_err(|e| ProxyStartError::StateDir(cfg.state_dir.clone().unwrap_or_default(), e))?;
    let bind = SocketAddr::new(cfg.host, cfg.port);
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|e| ProxyStartError::Bind(bind, e))?;
    let local = listener
        .local_addr()
        .map_err(|e| ProxyStartError::Bind(bind, e))?;
    let url = crate::http::advertised_url(cfg.public_url.as_deref(), local).await;
    let me = Snode::new(&id, "proxy", &url);
    let state = ClusterState::load_or_new(cfg.state_dir.clone(), me.clone());
    let ctx = Arc::new(ProxyContext {
        state,
        me,
        metrics: ProxyMetrics::new(&id),
        client: ControlClient::new(Duration::from_millis(cfg.settings.control_timeout_ms)),
        data: crate::http::DataClient::new(Duration::from_millis(cfg.settings.control_timeout_ms)),
        ready: AtomicBool::new(true),
        started: Instant::now(),
        config: cfg,
    });
    tracing::info!(id = %id, url = %url, listen = %local, targets = ctx.state.smap().tmap.len(), "proxy started");
    println!("aisnode proxy {id} listening on {url}");
    if ctx.config.s3_credentials.is_none() {
        tracing::warn!("no S3 keys configured (AIS_S3_ACCESS_KEY/AIS_S3_SECRET_KEY): S3 requests are accepted without checking signatures");
    }

    let pusher = tokio::spawn(membership::push_loop(ctx.clone()));
    let checker = tokio::spawn(membership::health_loop(ctx.clone()));
    // A restarted proxy tells the targets of its map at once.
    ctx.state.changed.notify_one();

    let serve_cfg = crate::http::ServeConfig {
        header_read_timeout: Duration::from_secs(
            ctx.config.settings.header_read_timeout_secs.max(1),
        ),
        drain_timeout: Duration::from_secs(ctx.config.settings.shutdown_timeout_secs),
    };
    let handler_ctx = ctx.clone();
    let stop_ctx = ctx.clone();
    let stopping = async move {
        shutdown.await;
        stop_ctx.ready.store(false, Ordering::Release);
        tracing::info!("proxy shutting down");
    };
    crate::http::serve(
        listener,
        move |req| routes::handle(handler_ctx.clone(), req),
        serve_cfg,
        stopping,
    )
    .await;
    pusher.abort();
    checker.abort();
    Ok(())
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
        _ => format!("p{}", crate::native_api::lso::new_uuid()),
    };
    if let Some(f) = file {
        write_atomic(&f, id.as_bytes())?;
    }
    Ok(id)
}
