//! The Raft log and vote of one proxy, kept in its state directory (`raft/`): entries
//! appended as JSON lines to `log` and flushed before Raft is told they are stored,
//! the vote and the committed position in files of their own (written whole, then
//! renamed). Truncation and purging rewrite the log file; the log is short (a snapshot
//! replaces it every few hundred changes). Without a state directory, memory only.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Write;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogId, LogState, RaftLogId, RaftLogReader, StorageError, StorageIOError, Vote};
use tokio::sync::Mutex;

use super::{Entry, NodeId, TypeConfig};

const LOG: &str = "log";
const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const PURGED: &str = "purged";

/// The log store (cheap to clone: one shared inner).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    dir: Option<PathBuf>,
    log: BTreeMap<u64, Entry>,
    last_purged: Option<LogId<NodeId>>,
    vote: Option<Vote<NodeId>>,
    committed: Option<LogId<NodeId>>,
}

type Res<T> = Result<T, StorageError<NodeId>>;

fn write_err(e: std::io::Error) -> StorageError<NodeId> {
    StorageIOError::write_logs(&e).into()
}

impl LogStore {
    /// Opens the log kept in `dir` (created if missing), or a memory-only one. A torn
    /// last line (a crash in the middle of an append) is dropped: its append was never
    /// acknowledged.
    pub fn open(dir: Option<&Path>) -> std::io::Result<LogStore> {
        let mut inner = Inner {
            dir: dir.map(Path::to_path_buf),
            log: BTreeMap::new(),
            last_purged: None,
            vote: None,
            committed: None,
        };
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir)?;
            inner.vote = read_json(&dir.join(VOTE))?;
            inner.committed = read_json(&dir.join(COMMITTED))?;
            inner.last_purged = read_json(&dir.join(PURGED))?;
            let text = match std::fs::read_to_string(dir.join(LOG)) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(e),
            };
            let mut torn = false;
            for line in text.lines().filter(|l| !l.is_empty()) {
                match serde_json::from_str::<Entry>(line) {
                    Ok(e) => {
                        inner.log.insert(e.get_log_id().index, e);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "dropping a torn entry at the end of the Raft log");
                        torn = true;
                        break;
                    }
                }
            }
            if torn {
                inner.rewrite()?;
            }
        }
        Ok(LogStore {
            inner: Arc::new(Mutex::new(inner)),
        })
    }
}

impl Inner {
    fn path(&self, name: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(name))
    }

    /// Writes the whole log anew (after a truncation, a purge or a torn tail).
    fn rewrite(&self) -> std::io::Result<()> {
        let Some(path) = self.path(LOG) else {
            return Ok(());
        };
        let mut bytes = Vec::new();
        for e in self.log.values() {
            serde_json::to_writer(&mut bytes, e)?;
            bytes.push(b'\n');
        }
        crate::fs::write_atomic(&path, &bytes)
    }

    fn save<T: serde::Serialize>(&self, name: &str, value: &T) -> std::io::Result<()> {
        let Some(path) = self.path(name) else {
            return Ok(());
        };
        let bytes = serde_json::to_vec(value)?;
        crate::fs::write_atomic(&path, &bytes)
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> std::io::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Res<Vec<Entry>> {
        let inner = self.inner.lock().await;
        Ok(inner.log.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Res<LogState<TypeConfig>> {
        let inner = self.inner.lock().await;
        let last = inner
            .log
            .values()
            .next_back()
            .map(|e| *e.get_log_id())
            .or(inner.last_purged);
        Ok(LogState {
            last_purged_log_id: inner.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Res<()> {
        let mut inner = self.inner.lock().await;
        inner
            .save(VOTE, vote)
            .map_err(|e| StorageIOError::write_vote(&e))?;
        inner.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Res<Option<Vote<NodeId>>> {
        Ok(self.inner.lock().await.vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> Res<()> {
        let mut inner = self.inner.lock().await;
        inner.save(COMMITTED, &committed).map_err(write_err)?;
        inner.committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Res<Option<LogId<NodeId>>> {
        Ok(self.inner.lock().await.committed)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Res<()>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut inner = self.inner.lock().await;
        let mut bytes = Vec::new();
        let mut added = Vec::new();
        for e in entries {
            serde_json::to_writer(&mut bytes, &e).map_err(|e| write_err(e.into()))?;
            bytes.push(b'\n');
            added.push(e);
        }
        if let Some(path) = inner.path(LOG) {
            // A few hundred bytes per change, flushed before Raft counts it stored.
            let flushed = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| {
                    f.write_all(&bytes)?;
                    f.sync_data()
                });
            if let Err(e) = flushed {
                callback.log_io_completed(Err(std::io::Error::new(e.kind(), e.to_string())));
                return Err(write_err(e));
            }
        }
        for e in added {
            inner.log.insert(e.get_log_id().index, e);
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Res<()> {
        let mut inner = self.inner.lock().await;
        inner.log.retain(|i, _| *i < log_id.index);
        inner.rewrite().map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Res<()> {
        let mut inner = self.inner.lock().await;
        // The purge mark first: a crash between the two leaves entries the mark
        // already covers, which the next purge drops.
        inner.save(PURGED, &Some(log_id)).map_err(write_err)?;
        inner.last_purged = Some(log_id);
        inner.log.retain(|i, _| *i > log_id.index);
        inner.rewrite().map_err(write_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 7), index),
            payload: EntryPayload::Blank,
        }
    }

    #[tokio::test]
    async fn survives_a_restart_and_drops_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = LogStore::open(Some(dir.path())).unwrap();
            let mut inner = s.inner.lock().await;
            for i in 1..=5 {
                inner.log.insert(i, entry(i));
            }
            inner.rewrite().unwrap();
            inner.save(VOTE, &Vote::new(3, 7)).unwrap();
        }
        // A crash in the middle of the next append.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(LOG))
            .unwrap();
        f.write_all(b"{\"log_id\":{\"leader_id\"").unwrap();
        let mut s = LogStore::open(Some(dir.path())).unwrap();
        let st = s.get_log_state().await.unwrap();
        assert_eq!(st.last_log_id.map(|l| l.index), Some(5));
        assert_eq!(s.read_vote().await.unwrap(), Some(Vote::new(3, 7)));
        s.truncate(LogId::new(CommittedLeaderId::new(1, 7), 4))
            .await
            .unwrap();
        s.purge(LogId::new(CommittedLeaderId::new(1, 7), 1))
            .await
            .unwrap();
        let again = LogStore::open(Some(dir.path())).unwrap();
        let inner = again.inner.lock().await;
        assert_eq!(inner.log.keys().copied().collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(inner.last_purged.map(|l| l.index), Some(1));
    }
}
