//! Wiring of a target: config → mountpaths → disk workers → store → native API → HTTP,
//! plus membership in a cluster when a proxy is given.

mod gate;

use crate::service::{buffer_budget, fshc, membership, mountpaths, NodeInfo, TargetContext};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::net::TcpListener;

use crate::cluster::intra_auth::Signer;
use crate::config::TargetConfig;
use crate::disk::WorkerConfig;
use crate::fs::{
    check_mountpaths, lock_mountpaths, read_cluster_uuid, resolve_node_id, FsError, Mountpaths,
};
use crate::http::{Listeners, Plane};
use crate::metrics::TargetMetrics;
use crate::native_api;
use crate::store::{self, ObjectStore, StoreConfig};

/// Why a target could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// Mountpath checks failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The store could not open.
    #[error(transparent)]
    Store(Box<store::Error>),
    /// The listening socket could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    /// The public URL is not `http://host:port`.
    #[error("public URL {0:?} must look like http://HOST:PORT")]
    PublicUrl(String),
    /// Joining a cluster without its secret.
    #[error("a target joins a cluster only with its secret: give AIS_CLUSTER_SECRET or --cluster-secret-file (a proxy started without one made it in <state-dir>/cluster.secret), or --no-cluster-secret on every node to run the intra-cluster port open")]
    NoClusterSecret,
}

/// Runs a target until `shutdown` resolves, then drains in-flight requests and removes
/// any work file left behind.
pub async fn run(cfg: TargetConfig, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
    let (public, _) = bind(SocketAddr::new(cfg.host, cfg.port)).await?;
    let (intra, _) = bind(SocketAddr::new(cfg.intra.host, cfg.intra.port)).await?;
    run_on(Listeners { public, intra }, cfg, shutdown).await
}

/// Runs a target on listeners already bound: what tests use to start a target in-process,
/// knowing its ports before it runs.
pub async fn run_on(
    listeners: Listeners,
    cfg: TargetConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    if cfg.intra.key.is_none() && !cfg.intra.open && cfg.proxy.is_some() {
        return Err(StartError::NoClusterSecret);
    }
    let Disks {
        id,
        store,
        metrics,
        joined_uuid,
        mark_paths,
    } = open_disks(&cfg)?;

    let addr_of = |l: &TcpListener, configured: SocketAddr| {
        l.local_addr().map_err(|e| StartError::Bind(configured, e))
    };
    let local = addr_of(&listeners.public, SocketAddr::new(cfg.host, cfg.port))?;
    let intra_local = addr_of(
        &listeners.intra,
        SocketAddr::new(cfg.intra.host, cfg.intra.port),
    )?;
    let url = crate::http::advertised_url(cfg.public_url.as_deref(), local).await;
    let node = node_info(&id, &url)?;
    let intra_url = crate::http::advertised_url(cfg.intra.url.as_deref(), intra_local).await;
    let node = NodeInfo { intra_url, ..node };
    tracing::info!(id = %id, url = %node.public_url, listen = %local, intra_url = %node.intra_url, intra_listen = %intra_local, "target started");
    cfg.intra.warn_if_open();
    // One machine-readable line for scripts and tests that start us with --port 0.
    println!("aisnode target {} listening on {}", id, node.public_url);

    let serve_cfg = cfg.serve_config();
    let signer = cfg.intra.key.clone().map(|key| Signer {
        key,
        caller: id.clone(),
    });
    let ctx = Arc::new(TargetContext {
        store,
        metrics,
        node,
        config: cfg,
        cluster: crate::cluster::MapView::new(joined_uuid, mark_paths),
        ready: AtomicBool::new(true),
        started: Instant::now(),
        data: crate::http::DataClient::default().signed_by(signer.clone()),
        rebalance: Default::default(),
        ec: Default::default(),
        resilver: Default::default(),
        scrub: Default::default(),
        jobs: Default::default(),
        get_batch_slots: crate::service::get_batch::slots(),
        background: tokio::runtime::Handle::current(),
        shard_indexes: Default::default(),
        bucket_props: Default::default(),
        stop: tokio::sync::Notify::new(),
        control: crate::http::ControlClient::new(Duration::from_secs(5)).signed_by(signer),
    });
    if ctx.config.s3_credentials.is_none() {
        tracing::warn!("no S3 keys configured (AIS_S3_ACCESS_KEY/AIS_S3_SECRET_KEY): S3 requests are accepted without checking signatures");
    }
    let background = start_background(&ctx);
    let asked_ctx = ctx.clone();
    let shutdown = async move {
        tokio::select! {
            () = shutdown => {}
            () = asked_ctx.stop.notified() => tracing::info!("the proxy asked this target to shut down"),
        }
    };
    let handler_ctx = ctx.clone();
    let handler = move |plane, req| route(handler_ctx.clone(), plane, req);
    let rejected = ctx.metrics.guard.conn_rejected_count.clone();
    crate::http::serve_node(
        listeners, handler, serve_cfg, rejected, &ctx.ready, shutdown,
    )
    .await;
    for task in background {
        task.abort();
    }
    let removed = ctx.store.sweep_work_files();
    ctx.store.stopped_cleanly();
    tracing::info!(removed_work_files = removed, "target stopped");
    Ok(())
}

/// What a target's disks give it at start-up.
struct Disks {
    id: String,
    store: ObjectStore,
    metrics: TargetMetrics,
    /// The cluster these disks last belonged to, if any.
    joined_uuid: Option<String>,
    mark_paths: Vec<std::path::PathBuf>,
}

/// Checks, locks and opens the mountpaths, then the store over them, recovered from an
/// unclean stop before anything is served.
fn open_disks(cfg: &TargetConfig) -> Result<Disks, StartError> {
    let configured = present_mountpaths(&cfg.mountpaths, cfg.start_with_lost_mountpath)?;
    let paths = check_mountpaths(&configured, cfg.allow_shared_fs)?;
    // Before anything reads or changes the disks: a second process is refused here.
    let locks = lock_mountpaths(&paths)?;
    let id = resolve_node_id(&paths, cfg.id.as_deref())?;
    let joined_uuid = read_cluster_uuid(&paths);
    let mark_paths = paths.clone();
    let metrics = TargetMetrics::new(&id);
    let worker = WorkerConfig {
        engine: cfg.io_engine,
        queue_depth: cfg.settings.disk_queue_depth,
    };
    let mut mountpaths = Vec::with_capacity(paths.len());
    for (path, lock) in paths.into_iter().zip(locks) {
        mountpaths.push(mountpaths::open(
            path,
            lock,
            worker,
            cfg.settings.group_sync,
            &metrics,
        )?);
    }
    let store_cfg = StoreConfig {
        durability: cfg.settings.durability,
        validate_on_get: cfg.settings.validate_checksum_on_get,
        validate_cold_get: cfg.settings.validate_cold_get,
        chunk_size: cfg.settings.chunk_size,
        max_object_size: cfg.settings.max_object_size,
        direct_io: cfg.settings.direct_io,
        inline_cache_hits: cfg.settings.inline_cache_hits,
        buffer_budget: buffer_budget(cfg.settings.buffer_budget_mib, mountpaths.len()),
        buffer_wait: Duration::from_millis(cfg.settings.buffer_wait_ms.max(1)),
        list_cache_bytes: (cfg.settings.list_cache_mib as usize) << 20,
        hot_content_bytes: (cfg.settings.hot_content_mib as usize) << 20,
    };
    let quarantine = store::Quarantine::new(metrics.quarantined_count.clone());
    let store = ObjectStore::open(Mountpaths::new(mountpaths), store_cfg, quarantine)
        .map_err(|e| StartError::Store(Box::new(e)))?;
    // Before serving: nothing a crash damaged may be met by a request.
    let crash = store.recover_after_crash();
    if crash.damaged > 0 {
        tracing::error!(
            damaged = crash.damaged,
            checked = crash.checked,
            "objects damaged by an unclean stop were moved aside"
        );
    }

    Ok(Disks {
        id,
        store,
        metrics,
        joined_uuid,
        mark_paths,
    })
}

/// The target's background tasks: disk health checks, sweeps, the crash marker's touch,
/// and membership in the cluster; aborted at shutdown.
fn start_background(ctx: &Arc<TargetContext>) -> Vec<tokio::task::JoinHandle<()>> {
    for mp in ctx.store.mountpaths().available() {
        fshc::watch(ctx, mp.path.clone(), mp.disk.faults().clone());
    }
    let mut tasks = vec![
        tokio::spawn(crate::service::cleanup::every_hour(ctx.clone())),
        tokio::spawn(crate::service::redundancy::remirror_loop(ctx.clone())),
    ];
    tasks.push({
        let ctx = ctx.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(store::TOUCH_EVERY).await;
                let c = ctx.clone();
                let _ = tokio::task::spawn_blocking(move || c.store.touch_running()).await;
            }
        })
    });
    let member = ctx
        .config
        .proxy
        .clone()
        .map(|proxy| tokio::spawn(membership::run(ctx.clone(), proxy)));
    tasks.extend(member);
    tasks
}

/// The configured mountpaths that exist. A missing one stops the start with a clear
/// error, unless `skip_lost` (then it is reported and left out; at least one must remain).
fn present_mountpaths(
    all: &[std::path::PathBuf],
    skip_lost: bool,
) -> Result<Vec<std::path::PathBuf>, FsError> {
    let mut present = Vec::with_capacity(all.len());
    for p in all {
        match std::fs::metadata(p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && skip_lost => {
                tracing::error!(mountpath = %p.display(), "configured mountpath is missing: starting without it (--start-with-lost-mountpath)");
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FsError::Lost(p.clone()))
            }
            _ => present.push(p.clone()),
        }
    }
    if present.is_empty() && !all.is_empty() {
        return Err(FsError::AllLost);
    }
    Ok(present)
}

/// The target's two front ends: S3 under `/s3` (or when a proxy marked the request as
/// S3), AIStore's native API everywhere else; first the gate of the listener it came on.
async fn route(
    ctx: Arc<TargetContext>,
    plane: Plane,
    mut req: http::Request<hyper::body::Incoming>,
) -> http::Response<crate::http::Body> {
    if let Some(refused) = gate::refusal(&ctx, plane, &mut req) {
        return refused;
    }
    if let Some(refused) = wait_for_map(&ctx, &req).await {
        return refused;
    }
    let req = match crate::intra_api::handle(&ctx, req).await {
        Ok(served) => return served,
        Err(req) => req,
    };
    let path = req.uri().path();
    let is_s3 =
        path == "/s3" || path.starts_with("/s3/") || req.headers().contains_key(&crate::s3::STYLE);
    if is_s3 {
        Box::pin(crate::s3_api::handle_target(ctx, req)).await
    } else {
        native_api::handle(ctx, req).await
    }
}

/// A clustered target serves data only once it has a map (and the buckets in it): a
/// request that comes before its registration reply waits for it, up to 5 s, then 503.
async fn wait_for_map(
    ctx: &TargetContext,
    req: &http::Request<hyper::body::Incoming>,
) -> Option<http::Response<crate::http::Body>> {
    let path = req.uri().path();
    let data = path.starts_with("/v1/objects/")
        || path.starts_with("/v1/buckets")
        || path.starts_with("/s3");
    if ctx.config.proxy.is_none() || !data || ctx.cluster.wait_joined(Duration::from_secs(5)).await
    {
        return None;
    }
    let err = crate::wire::ApiError::Unavailable(
        "this target has not joined its cluster yet; retry".into(),
    );
    if path.starts_with("/s3") {
        return Some(crate::s3::refusal(&err.into(), req.method(), path));
    }
    Some(crate::wire::error::error_response(
        &err,
        req.method(),
        path,
        &format!("t[{}]", ctx.node.id),
    ))
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    crate::http::bind(addr)
        .await
        .map_err(|e| StartError::Bind(addr, e))
}

/// Splits the advertised URL into the parts the cluster map carries.
fn node_info(id: &str, url: &str) -> Result<NodeInfo, StartError> {
    let url = url.to_string();
    let authority = url
        .strip_prefix("http://")
        .ok_or_else(|| StartError::PublicUrl(url.clone()))?;
    let (host, port) = authority
        .rsplit_once(':')
        .and_then(|(h, p)| p.parse::<u16>().ok().map(|p| (h.to_string(), p)))
        .ok_or_else(|| StartError::PublicUrl(url.clone()))?;
    Ok(NodeInfo {
        id: id.to_string(),
        intra_url: url.clone(),
        public_url: url,
        hostname: host,
        port,
    })
}
