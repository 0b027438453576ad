//! Filesystem health checker. A disk operation that fails with a fault-class error (EIO,
//! EROFS, EUCLEAN, an unexpected ENOSPC...) wakes the checker of its mountpath, which
//! reads the mountpath's root and writes, syncs, reads back and removes a small test
//! file. A failed check disables the mountpath at once (no resilver: the disk is not to
//! be trusted); the target keeps serving from the others, and with none left it stops
//! its keepalives and drops out of the cluster map. A check that finds the disk merely
//! full leaves it in service (PUTs to it answer 507).

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::TargetContext;
use crate::disk::Faults;

/// How long a check may take before the disk counts as failed (a dead disk may hang).
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes written by a check.
const PROBE: usize = 4096;

/// What a check found.
#[derive(Debug)]
pub enum Verdict {
    /// Reads and writes work.
    Healthy,
    /// Reads work, writes find no space.
    Full,
    /// The filesystem does not work.
    Failed(String),
}

/// Starts the checker of one mountpath; it ends when the mountpath is detached.
pub fn watch(ctx: &Arc<TargetContext>, path: PathBuf, faults: Arc<Faults>) {
    let ctx = ctx.clone();
    tokio::spawn(async move {
        loop {
            faults.wait().await;
            let set = ctx.store.mountpaths().current();
            if set.every().all(|m| m.path != path) {
                return; // detached
            }
            if set.disabled.iter().any(|m| m.path == path) {
                continue;
            }
            let verdict = check(&path).await;
            match verdict {
                Verdict::Healthy => {
                    tracing::info!(mountpath = %path.display(), faults = faults.count(), "health check after an I/O error: mountpath is fine")
                }
                Verdict::Full => {
                    tracing::warn!(mountpath = %path.display(), "health check: mountpath is full (PUTs to it answer 507)")
                }
                Verdict::Failed(why) => disable(&ctx, &path, &why),
            }
        }
    });
}

fn disable(ctx: &TargetContext, path: &Path, why: &str) {
    match ctx.store.mountpaths().disable_now(path) {
        Ok(true) => {
            ctx.metrics.err_fshc_count.inc();
            let left = ctx.store.mountpaths().current().available.len();
            tracing::error!(mountpath = %path.display(), reason = %why, available_left = left, "filesystem health check failed: mountpath disabled");
            if left == 0 {
                tracing::error!("no mountpath left: this target stops its keepalives and leaves the cluster map until a mountpath is enabled or attached");
            }
        }
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(mountpath = %path.display(), error = %e, "cannot disable mountpath")
        }
    }
}

/// Checks one mountpath on a blocking thread, within [`CHECK_TIMEOUT`].
pub async fn check(path: &Path) -> Verdict {
    let p = path.to_path_buf();
    let run = tokio::task::spawn_blocking(move || probe(&p));
    match tokio::time::timeout(CHECK_TIMEOUT, run).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => Verdict::Failed(format!("check panicked: {e}")),
        Err(_) => Verdict::Failed(format!("no answer within {CHECK_TIMEOUT:?}")),
    }
}

fn probe(root: &Path) -> Verdict {
    if let Err(e) = std::fs::read_dir(root).and_then(|mut d| d.next().transpose()) {
        return Verdict::Failed(format!("reading {}: {e}", root.display()));
    }
    let file = root.join(format!(".ais.fshc.{}", std::process::id()));
    let data: Vec<u8> = (0..PROBE).map(|i| (i * 31 % 251) as u8).collect();
    let written = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(&file)
        .and_then(|mut f| {
            f.write_all(&data)?;
            f.sync_all()
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&file);
        return if e.raw_os_error() == Some(libc::ENOSPC) {
            Verdict::Full
        } else {
            Verdict::Failed(format!("writing {}: {e}", file.display()))
        };
    }
    let mut back = Vec::with_capacity(PROBE);
    let read = std::fs::File::open(&file).and_then(|mut f| f.read_to_end(&mut back));
    let removed = std::fs::remove_file(&file);
    match (read, removed) {
        (Err(e), _) => Verdict::Failed(format!("reading {} back: {e}", file.display())),
        (_, Err(e)) => Verdict::Failed(format!("removing {}: {e}", file.display())),
        _ if back != data => {
            Verdict::Failed(format!("{} read back different bytes", file.display()))
        }
        _ => Verdict::Healthy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn healthy_directory_passes_and_missing_one_fails() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(check(dir.path()).await, Verdict::Healthy));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "probe file removed"
        );
        let gone = dir.path().join("gone");
        assert!(matches!(check(&gone).await, Verdict::Failed(_)));
    }
}
