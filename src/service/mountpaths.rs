//! Opening a mountpath for service (at start-up and on `attach-mp`): its lock, its disk
//! worker, its byte counters.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::disk::{DiskHandle, Engine, EngineChoice, WorkerConfig};
use crate::fs::{FsError, GroupSync, IoCounters, Mountpath, MountpathLock};
use crate::metrics::TargetMetrics;

/// Starts the disk worker of `path` (already checked and locked) and wires its counters.
pub fn open(
    path: PathBuf,
    lock: MountpathLock,
    worker: WorkerConfig,
    group_sync: GroupSync,
    metrics: &TargetMetrics,
) -> Result<Mountpath, FsError> {
    // Thread names stay unique across attaches and detaches.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let disk = DiskHandle::start(&format!("mp{n}"), worker)
        .map_err(|e| FsError::Worker(path.clone(), e))?;
    let label = path.display().to_string();
    if disk.engine() == Engine::Psync && worker.engine == EngineChoice::Auto {
        tracing::warn!(mountpath = %label, "io_uring is not available here (kernel setting or seccomp profile): falling back to positional read/write");
    }
    tracing::info!(mountpath = %label, engine = %disk.engine(), "mountpath ready");
    let counters = IoCounters {
        read: metrics.disk_read_bytes.with_label_values(&[label.as_str()]),
        cache_read: metrics
            .cache_read_bytes
            .with_label_values(&[label.as_str()]),
        write: metrics
            .disk_write_bytes
            .with_label_values(&[label.as_str()]),
    };
    Ok(Mountpath::new(path, disk, counters, Some(lock), group_sync))
}

/// A mountpath action of AIStore's API (`PUT|POST|DELETE /v1/daemon/mountpaths`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MpAction {
    /// `attach-mp`: add a new disk.
    Attach,
    /// `enable-mp`: take a disabled one back.
    Enable,
    /// `disable-mp`: stop using one, its objects moved off first.
    Disable,
    /// `detach-mp`: forget one, its objects moved off first.
    Detach,
}

impl MpAction {
    /// The action named `name`, if it is one.
    pub fn parse(name: &str) -> Option<MpAction> {
        Some(match name {
            "attach-mp" => MpAction::Attach,
            "enable-mp" => MpAction::Enable,
            "disable-mp" => MpAction::Disable,
            "detach-mp" => MpAction::Detach,
            _ => return None,
        })
    }
}

/// Why a mountpath action failed.
#[derive(Debug, thiserror::Error)]
pub enum MpActError {
    /// The new mountpath is refused (missing, shared, nested, foreign, locked...).
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The store refused the change.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// The mountpath belongs to another cluster.
    #[error("mountpath {path} belongs to cluster {theirs}, this target to {ours}")]
    OtherCluster {
        /// The mountpath.
        path: String,
        /// Its mark.
        theirs: String,
        /// Ours.
        ours: String,
    },
}

/// Applies a mountpath action; unless `dont_resilver`, objects then move to where HRW
/// places them now (a disabled or detached mountpath leaves only after that).
pub async fn act(
    ctx: &std::sync::Arc<super::TargetContext>,
    action: MpAction,
    raw: &std::path::Path,
    dont_resilver: bool,
) -> Result<(), MpActError> {
    use crate::fs::Leaving;
    // Known mountpaths are canonical; a path that does not resolve is matched as given.
    let path = raw.canonicalize().unwrap_or_else(|_| raw.to_path_buf());
    let mps = ctx.store.mountpaths();
    let changed = match action {
        MpAction::Attach => {
            attach(ctx, raw).await?;
            true
        }
        MpAction::Enable => ctx.store.enable_mountpath(&path).await?,
        MpAction::Disable | MpAction::Detach if dont_resilver => {
            if action == MpAction::Disable {
                mps.disable_now(&path).map_err(crate::store::Error::from)?
            } else {
                mps.detach_now(&path).map_err(crate::store::Error::from)?;
                true
            }
        }
        MpAction::Disable => {
            let set = mps.current();
            if set.disabled.iter().any(|m| m.path == path) {
                false
            } else {
                mps.start_leaving(&path, Leaving::Disable)
                    .map_err(crate::store::Error::from)?;
                true
            }
        }
        MpAction::Detach => {
            let set = mps.current();
            if set.disabled.iter().any(|m| m.path == path) {
                mps.detach_now(&path).map_err(crate::store::Error::from)?;
            } else {
                mps.start_leaving(&path, Leaving::Detach)
                    .map_err(crate::store::Error::from)?;
            }
            true
        }
    };
    tracing::info!(?action, mountpath = %path.display(), changed, dont_resilver, "mountpath action");
    if changed {
        super::size_buffer_budget(ctx);
    }
    if changed && !dont_resilver {
        super::resilver::Resilver::start(ctx);
    }
    Ok(())
}

async fn attach(
    ctx: &std::sync::Arc<super::TargetContext>,
    raw: &std::path::Path,
) -> Result<(), MpActError> {
    let cfg = &ctx.config;
    let path = ctx.store.mountpaths().check_new(raw, cfg.allow_shared_fs)?;
    let lock = crate::fs::lock_mountpath(&path)?;
    let one = [path.clone()];
    crate::fs::resolve_node_id(&one, Some(&ctx.node.id))?;
    if let (Some(theirs), Some(ours)) = (crate::fs::read_cluster_uuid(&one), ctx.cluster.uuid()) {
        if theirs != ours {
            return Err(MpActError::OtherCluster {
                path: path.display().to_string(),
                theirs,
                ours,
            });
        }
    }
    if let Some(uuid) = ctx.cluster.uuid() {
        crate::fs::mark_cluster_uuid(&one, &uuid)?;
    }
    let worker = WorkerConfig {
        engine: cfg.io_engine,
        queue_depth: cfg.settings.disk_queue_depth,
    };
    let mp = open(
        path.clone(),
        lock,
        worker,
        cfg.settings.group_sync,
        &ctx.metrics,
    )?;
    let faults = mp.disk.faults().clone();
    ctx.store.attach_mountpath(mp).await?;
    super::fshc::watch(ctx, path, faults);
    Ok(())
}
