//! The target's background walks (rebalance, resilver, scrub): each at most one at a time,
//! a newer change restarting it, and each listed in the node's job table like every other
//! long operation (its kind, its state, `stop`).

use std::future::Future;
use std::sync::Mutex;

use tokio::task::JoinHandle;

use crate::jobs::{Jobs, Progress};

/// The walk of one kind that runs now, if any.
#[derive(Default)]
pub struct WalkJob {
    running: Mutex<Option<(JoinHandle<()>, Progress)>>,
}

impl WalkJob {
    /// Starts `work` as a job of `kind`, ending the one that runs (as superseded).
    pub fn restart<F, Fut>(&self, jobs: &Jobs, kind: &str, bucket: &str, work: F)
    where
        F: FnOnce(Progress) -> Fut,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((old, progress)) = running.take() {
            old.abort();
            // Ends it only if it had not ended by itself (a job ends once).
            progress.end(Err(format!("{kind}: superseded by a newer one")));
        }
        let progress = jobs.begin(kind, bucket);
        let (fut, ender) = (work(progress.clone()), progress.clone());
        let task = tokio::spawn(async move {
            let outcome = fut.await;
            ender.end(outcome.map(|()| serde_json::Value::Null));
        });
        *running = Some((task, progress));
    }

    /// Stops the walk that runs (its job ends with `why`); whether one was running.
    pub fn stop(&self, why: &str) -> bool {
        let taken = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match taken {
            Some((task, progress)) => {
                let was_running = !task.is_finished();
                task.abort();
                progress.end(Err(why.to_string()));
                was_running
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::State;

    #[tokio::test]
    async fn a_restart_ends_the_old_job_and_the_new_one_ends_itself() {
        let (jobs, walk) = (Jobs::default(), WalkJob::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        walk.restart(&jobs, "rebalance", "", |p| async move {
            let _ = tx.send(p.id().to_string());
            std::future::pending::<()>().await;
            Ok(())
        });
        let first = rx.await.expect("first id");
        assert_eq!(jobs.state(&first), Some(State::Running));
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        walk.restart(&jobs, "rebalance", "", |p| async move {
            let _ = tx.send(p.id().to_string());
            Ok(())
        });
        assert!(matches!(jobs.state(&first), Some(State::Done(Err(_)))));
        let second = rx.await.expect("second id");
        for _ in 0..100 {
            if jobs.state(&second) == Some(State::Done(Ok(serde_json::Value::Null))) {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(
            jobs.state(&second),
            Some(State::Done(Ok(serde_json::Value::Null)))
        );
        // Stopping after it ended changes nothing.
        assert!(!walk.stop("stopped"));
        assert_eq!(
            jobs.state(&second),
            Some(State::Done(Ok(serde_json::Value::Null)))
        );
    }
}
