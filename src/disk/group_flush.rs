//! Group commit: callers that ask for a flush while one is running share the next one.
//!
//! A caller's flush must start after it asked (what it wrote before asking is then
//! covered). The first caller finding no flush running runs one for everybody who asked
//! so far; those who ask meanwhile wait for it to end and the next caller runs one for
//! all of them. A lone caller waits for exactly one flush; under load one flush serves
//! as many callers as arrived during the previous one, so the flushes per second stay
//! bounded by the device while the callers per flush grow with the load.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

#[derive(Debug, Default)]
struct State {
    /// Tickets handed out (callers that asked).
    asked: u64,
    /// Every ticket up to this one is covered by a finished flush.
    covered: u64,
    running: bool,
}

/// One flush shared by every caller that asked before it started.
#[derive(Debug, Default)]
pub struct GroupFlush {
    state: Mutex<State>,
    done: Notify,
    /// Flushes run (not callers served).
    flushes: std::sync::atomic::AtomicU64,
}

impl GroupFlush {
    /// Returns once a run of `flush` that started after this call has succeeded; runs it
    /// (on a blocking thread) when no other is running. A failed flush fails the caller
    /// that ran it; the others covered by it try again (and so meet the error themselves).
    pub async fn flush<F>(&self, flush: F) -> io::Result<()>
    where
        F: FnOnce() -> io::Result<()> + Send + 'static,
    {
        let ticket = {
            let mut s = self.lock();
            s.asked += 1;
            s.asked
        };
        let mut flush = Some(flush);
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            // Registered before the state is read, so an end signalled after the read
            // is not missed.
            notified.as_mut().enable();
            let cover = {
                let mut s = self.lock();
                if s.covered >= ticket {
                    return Ok(());
                }
                if s.running {
                    None
                } else {
                    s.running = true;
                    Some(s.asked)
                }
            };
            let Some(cover) = cover else {
                notified.await;
                continue;
            };
            // Ends the run even if this caller is dropped while the flush runs.
            let mut run = Running {
                group: self,
                covered: None,
            };
            let Some(f) = flush.take() else {
                // Only a caller whose own flush failed gets here again; it returned then.
                return Err(io::Error::other("group flush: no flush to run"));
            };
            self.flushes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let res = tokio::task::spawn_blocking(f)
                .await
                .unwrap_or_else(|e| Err(io::Error::other(format!("flush thread: {e}"))));
            if res.is_ok() {
                run.covered = Some(cover);
            }
            return res;
        }
    }

    /// How many flushes ran (each may have served many callers).
    pub fn flushes(&self) -> u64 {
        self.flushes.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The end of one flush: records what it covered and wakes the waiters.
struct Running<'a> {
    group: &'a GroupFlush,
    covered: Option<u64>,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        {
            let mut s = self.group.lock();
            s.running = false;
            if let Some(c) = self.covered {
                s.covered = s.covered.max(c);
            }
        }
        self.group.done.notify_waiters();
    }
}

/// A group flush per directory: fsyncs of one directory are shared, distinct directories
/// are flushed concurrently. Entries live while someone uses them.
#[derive(Debug, Default)]
pub struct DirFlushes {
    dirs: Mutex<HashMap<PathBuf, Arc<GroupFlush>>>,
}

impl DirFlushes {
    /// Makes `dir`'s entries (renames, creations into it) durable: an fsync of `dir` that
    /// started after this call.
    pub async fn sync(&self, dir: &Path) -> io::Result<()> {
        let group = self.lock().entry(dir.to_path_buf()).or_default().clone();
        let path = dir.to_path_buf();
        let res = group
            .flush(move || std::fs::File::open(&path)?.sync_all())
            .await;
        let mut dirs = self.lock();
        // Only the map and this caller hold it: nobody else is waiting on this directory.
        if Arc::strong_count(&group) == 2 {
            dirs.remove(dir);
        }
        res
    }

    /// Directories with a flush running or waited for.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no directory flush is running or waited for.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PathBuf, Arc<GroupFlush>>> {
        self.dirs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lone_caller_runs_one_flush() {
        let g = GroupFlush::default();
        g.flush(|| Ok(())).await.unwrap();
        g.flush(|| Ok(())).await.unwrap();
        assert_eq!(g.flushes(), 2);
    }

    /// Callers arriving while a flush runs share the next one; each caller's flush
    /// started after it asked.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_during_a_flush_share_the_next() {
        let g = Arc::new(GroupFlush::default());
        let started = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (g, started) = (g.clone(), started.clone());
            tasks.push(tokio::spawn(async move {
                let asked_at = started.load(Ordering::SeqCst);
                let s = started.clone();
                g.flush(move || {
                    s.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    Ok(())
                })
                .await
                .unwrap();
                // A flush that started after we asked has ended.
                assert!(started.load(Ordering::SeqCst) > asked_at);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(g.flushes() < 64, "{} flushes for 64 callers", g.flushes());
        assert!(g.flushes() >= 1);
    }

    /// A failed flush fails its caller; a caller covered by it runs its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_flush_covers_nobody() {
        let g = Arc::new(GroupFlush::default());
        let g2 = g.clone();
        let slow = tokio::spawn(async move {
            g2.flush(|| {
                std::thread::sleep(Duration::from_millis(50));
                Err(io::Error::other("EIO"))
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let ok = g.flush(|| Ok(())).await;
        assert!(slow.await.unwrap().is_err());
        assert!(ok.is_ok());
        assert_eq!(g.flushes(), 2);
    }

    /// A caller dropped while it runs the flush does not leave the group stuck.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_leader_does_not_wedge_the_group() {
        let g = Arc::new(GroupFlush::default());
        let g2 = g.clone();
        let leader = tokio::spawn(async move {
            g2.flush(|| {
                std::thread::sleep(Duration::from_millis(100));
                Ok(())
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        leader.abort();
        let _ = leader.await;
        tokio::time::timeout(Duration::from_secs(5), g.flush(|| Ok(())))
            .await
            .expect("the group is not wedged")
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn directory_entries_are_forgotten_when_unused() {
        let dir = tempfile::tempdir().unwrap();
        let d = DirFlushes::default();
        d.sync(dir.path()).await.unwrap();
        assert!(d.is_empty());
        assert!(d.sync(&dir.path().join("missing")).await.is_err());
        assert!(d.is_empty());
    }
}
