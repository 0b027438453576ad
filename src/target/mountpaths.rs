//! Opening a mountpath for service (at start-up and on `attach-mp`): its lock, its disk
//! worker, its byte counters.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::disk::{DiskHandle, Engine, EngineChoice, WorkerConfig};
use crate::fs::{FsError, IoCounters, Mountpath, MountpathLock};
use crate::metrics::TargetMetrics;

/// Starts the disk worker of `path` (already checked and locked) and wires its counters.
pub fn open(
    path: PathBuf,
    lock: MountpathLock,
    worker: WorkerConfig,
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
    Ok(Mountpath::new(path, disk, counters, Some(lock)))
}
