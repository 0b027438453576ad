//! The proxy's copy of the replicated state: commands applied in log order, the map and
//! bucket list published as snapshots for request handlers to read without a lock, and
//! Raft snapshots kept in the state directory (`raft/snapshot`), from which a restarted
//! proxy starts before the log's newer entries are applied again.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::command::{MetaState, Outcome};
use super::{Entry, NodeId, TypeConfig};
use crate::cluster::{Bmd, Smap};

const SNAPSHOT: &str = "snapshot";

type Membership = StoredMembership<NodeId, openraft::BasicNode>;
type Meta = SnapshotMeta<NodeId, openraft::BasicNode>;
type Res<T> = Result<T, StorageError<NodeId>>;

#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    meta: Meta,
    state: MetaState,
}

struct Applied {
    state: MetaState,
    last: Option<LogId<NodeId>>,
    membership: Membership,
}

/// What request handlers read, and Raft applies to.
pub struct Shared {
    applied: Mutex<Applied>,
    smap: ArcSwap<Smap>,
    bmd: ArcSwap<Bmd>,
    snapshot: Mutex<Option<(Meta, Vec<u8>)>>,
    dir: Option<PathBuf>,
    seq: AtomicU64,
    /// Woken after every applied change of the map or the bucket list.
    pub changed: Notify,
}

impl Shared {
    /// The current map.
    pub fn smap(&self) -> &ArcSwap<Smap> {
        &self.smap
    }

    /// The current bucket list.
    pub fn bmd(&self) -> &ArcSwap<Bmd> {
        &self.bmd
    }

    /// Whether the first state of the cluster is in.
    pub fn initialized(&self) -> bool {
        !self.smap.load().uuid.is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Applied> {
        self.applied.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, state: &MetaState) {
        if self.smap.load().version != state.smap.version || **self.smap.load() != state.smap {
            self.smap.store(Arc::new(state.smap.clone()));
        }
        if **self.bmd.load() != state.bmd {
            self.bmd.store(Arc::new(state.bmd.clone()));
        }
        self.changed.notify_waiters();
        self.changed.notify_one();
    }

    #[allow(clippy::result_large_err)] // Raft's own error type, returned as its traits do.
    fn keep_snapshot(&self, meta: &Meta, state: &MetaState) -> Res<Vec<u8>> {
        let data =
            serde_json::to_vec(state).map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        if let Some(dir) = &self.dir {
            let file = SnapshotFile {
                meta: meta.clone(),
                state: state.clone(),
            };
            let bytes =
                serde_json::to_vec(&file).map_err(|e| StorageIOError::write_snapshot(None, &e))?;
            crate::fs::write_atomic(&dir.join(SNAPSHOT), &bytes)
                .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        }
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((meta.clone(), data.clone()));
        Ok(data)
    }
}

/// The state machine Raft drives (cheap to clone).
#[derive(Clone)]
pub struct StateMachine {
    shared: Arc<Shared>,
}

impl StateMachine {
    /// Starts from the snapshot kept in `dir`, if any.
    pub fn open(dir: Option<&Path>) -> std::io::Result<StateMachine> {
        let mut applied = Applied {
            state: MetaState::default(),
            last: None,
            membership: Membership::default(),
        };
        let mut snapshot = None;
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir)?;
            match std::fs::read(dir.join(SNAPSHOT)) {
                Ok(bytes) => {
                    let file: SnapshotFile =
                        serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
                    applied.last = file.meta.last_log_id;
                    applied.membership = file.meta.last_membership.clone();
                    let data = serde_json::to_vec(&file.state)?;
                    applied.state = file.state;
                    snapshot = Some((file.meta, data));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let shared = Shared {
            smap: ArcSwap::from_pointee(applied.state.smap.clone()),
            bmd: ArcSwap::from_pointee(applied.state.bmd.clone()),
            applied: Mutex::new(applied),
            snapshot: Mutex::new(snapshot),
            dir: dir.map(Path::to_path_buf),
            seq: AtomicU64::new(0),
            changed: Notify::new(),
        };
        Ok(StateMachine {
            shared: Arc::new(shared),
        })
    }

    /// What handlers read.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Res<Snapshot<TypeConfig>> {
        let (state, last, membership) = {
            let a = self.shared.lock();
            (a.state.clone(), a.last, a.membership.clone())
        };
        let seq = self.shared.seq.fetch_add(1, Ordering::Relaxed);
        let meta = Meta {
            last_log_id: last,
            last_membership: membership,
            snapshot_id: format!(
                "{}-{seq}",
                last.map(|l| l.index.to_string()).unwrap_or_default()
            ),
        };
        let data = self.shared.keep_snapshot(&meta, &state)?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Res<(Option<LogId<NodeId>>, Membership)> {
        let a = self.shared.lock();
        Ok((a.last, a.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Res<Vec<Outcome>>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut out = Vec::new();
        let mut a = self.shared.lock();
        let before = (a.state.smap.version, a.state.bmd.version);
        for entry in entries {
            a.last = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => out.push(Outcome::default()),
                EntryPayload::Normal(p) => {
                    let o = a.state.apply(&p);
                    out.push(o);
                }
                EntryPayload::Membership(m) => {
                    a.membership = Membership::new(Some(entry.log_id), m);
                    out.push(Outcome::default());
                }
            }
        }
        if (a.state.smap.version, a.state.bmd.version) != before {
            self.shared.publish(&a.state);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Res<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(&mut self, meta: &Meta, snapshot: Box<Cursor<Vec<u8>>>) -> Res<()> {
        let state: MetaState = serde_json::from_slice(snapshot.get_ref())
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        self.shared.keep_snapshot(meta, &state)?;
        let mut a = self.shared.lock();
        a.last = meta.last_log_id;
        a.membership = meta.last_membership.clone();
        a.state = state;
        self.shared.publish(&a.state);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Res<Option<Snapshot<TypeConfig>>> {
        let kept = self
            .shared
            .snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Ok(kept.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}
