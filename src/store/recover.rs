//! Start-up after a crash. While a target runs, each mountpath carries a marker file,
//! touched every few seconds and removed on a clean stop. A marker found at start means
//! the last run did not stop cleanly (kill -9, power cut, kernel panic): objects changed
//! shortly before it (by ctime, which rename and xattr writes set and nothing can fake)
//! may have lost data or metadata the kernel had not written yet. Each is checked whole
//! (metadata present and matching the file, data matching its checksum) before the
//! target serves, and a damaged one is moved aside, so no request meets it.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::checksum::Checksummer;
use super::get::{open_blocking, OpenFail};
use super::quarantine::{file_id, Damaged};
use super::ObjectStore;
use crate::fs::layout;

const MARKER: &str = ".ais.running";
/// How often the marker is touched while running.
pub const TOUCH_EVERY: Duration = Duration::from_secs(5);
/// Objects changed this long before the marker's last touch are checked too: the kernel
/// writes dirty data back within ~30 s (`dirty_expire_centisecs`), plus the touch period.
const AT_RISK: Duration = Duration::from_secs(60);

/// What the start-up check found on one mountpath.
#[derive(Debug, Default, Clone, Copy)]
pub struct CrashCheck {
    /// Objects changed shortly before the crash, checked whole.
    pub checked: u64,
    /// Of them, damaged and moved aside.
    pub damaged: u64,
    /// Objects skipped (changed earlier).
    pub skipped: u64,
}

impl ObjectStore {
    /// Checks the objects at risk on every mountpath whose last run did not stop
    /// cleanly, then marks each mountpath as running. Blocking: run it before serving.
    pub fn recover_after_crash(&self) -> CrashCheck {
        let mut total = CrashCheck::default();
        for mp in self.mountpaths.available() {
            let marker = mp.path.join(MARKER);
            if let Ok(last) = std::fs::metadata(&marker).and_then(|m| m.modified()) {
                let since = last.checked_sub(AT_RISK).unwrap_or(SystemTime::UNIX_EPOCH);
                tracing::warn!(mountpath = %mp.path.display(), "the last run did not stop cleanly: checking the objects written shortly before it ended");
                let started = std::time::Instant::now();
                let found = self.check_changed_since(&mp.path, since);
                tracing::warn!(mountpath = %mp.path.display(), checked = found.checked, damaged = found.damaged, took = ?started.elapsed(), "crash check done");
                total.checked += found.checked;
                total.damaged += found.damaged;
                total.skipped += found.skipped;
            }
            // Durable at once: a power cut soon after start must still find it.
            let written = std::fs::write(&marker, b"")
                .and_then(|()| std::fs::File::open(&marker)?.sync_all())
                .and_then(|()| std::fs::File::open(&mp.path)?.sync_all());
            if let Err(e) = written {
                tracing::warn!(mountpath = %mp.path.display(), error = %e, "cannot write the running marker");
            }
        }
        total
    }

    /// Refreshes the running markers (call every [`TOUCH_EVERY`]).
    pub fn touch_running(&self) {
        for mp in self.mountpaths.available() {
            let marker = mp.path.join(MARKER);
            let touched = std::fs::File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&marker)
                .and_then(|f| f.set_modified(SystemTime::now()));
            if let Err(e) = touched {
                tracing::debug!(mountpath = %mp.path.display(), error = %e, "cannot touch the running marker");
            }
        }
    }

    /// Removes the running markers: this run stopped cleanly.
    pub fn stopped_cleanly(&self) {
        for mp in self.mountpaths.current().every() {
            let _ = std::fs::remove_file(mp.path.join(MARKER));
        }
    }

    fn check_changed_since(&self, mp: &Path, since: SystemTime) -> CrashCheck {
        let since_ns = super::unix_ns(Ok(since));
        let mut found = CrashCheck::default();
        for (bucket, _) in self.list_buckets() {
            let root = layout::objects_dir(mp, &bucket);
            let mut stack = vec![root.clone()];
            while let Some(dir) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for e in entries.flatten() {
                    let Ok(meta) = e.metadata() else { continue };
                    if meta.is_dir() {
                        stack.push(e.path());
                        continue;
                    }
                    let ctime_ns = meta.ctime() * 1_000_000_000 + meta.ctime_nsec();
                    if ctime_ns < since_ns {
                        found.skipped += 1;
                        continue;
                    }
                    found.checked += 1;
                    let path = e.path();
                    let Ok(rel) = path.strip_prefix(&root) else {
                        continue;
                    };
                    let object = rel.to_string_lossy().into_owned();
                    if let Some(reason) = damage_of(&path) {
                        let d = Damaged {
                            mountpath: mp.to_path_buf(),
                            bucket: bucket.clone(),
                            object,
                            id: file_id(&meta),
                            reason,
                        };
                        match self.quarantine.move_now(&d) {
                            Ok(true) => found.damaged += 1,
                            Ok(false) => {}
                            Err(e) => {
                                tracing::warn!(path = %path.display(), error = %e, "cannot move damaged object aside")
                            }
                        }
                    }
                }
            }
        }
        found
    }
}

/// What is wrong with the object file at `path`, if anything.
pub(super) fn damage_of(path: &Path) -> Option<String> {
    let o = match open_blocking(path, false, false, None) {
        Ok(Ok(o)) => o,
        Ok(Err(OpenFail::Missing)) => return None,
        Ok(Err(OpenFail::BadMeta(_, reason))) => return Some(reason),
        Err(e) => return Some(format!("cannot open: {e}")),
    };
    let mut sum = Checksummer::new(&o.meta.cksum_type)?;
    if matches!(sum, Checksummer::None) {
        return None;
    }
    use std::io::Read as _;
    let mut file = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => sum.update(&buf[..n]),
            Err(e) => return Some(format!("read: {e}")),
        }
    }
    let actual = sum.finish();
    (actual != o.meta.cksum_value).then(|| {
        format!(
            "{} checksum {actual}, stored {}",
            o.meta.cksum_type, o.meta.cksum_value
        )
    })
}
