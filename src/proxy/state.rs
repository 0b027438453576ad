//! The proxy's cluster state: the map of targets, the bucket list, and when each target
//! was last heard from. Every change bumps a version, is saved to the state directory
//! (write to a temp file, then rename), and wakes the pusher that sends the new map to
//! every target.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::Notify;

use crate::cluster::{Bmd, Smap, Snode};

const SMAP_FILE: &str = ".ais.smap";
const BMD_FILE: &str = ".ais.bmd";

struct Inner {
    smap: Smap,
    bmd: Bmd,
    last_seen: HashMap<String, Instant>,
}

/// Shared, versioned cluster state.
pub struct ClusterState {
    inner: Mutex<Inner>,
    /// Snapshots of `inner`'s map and bucket list for the request path: read without a
    /// lock (every redirect reads both), replaced whole on each commit.
    smap_cache: ArcSwap<Smap>,
    bmd_cache: ArcSwap<Bmd>,
    state_dir: Option<PathBuf>,
    /// Woken on every change; the pusher sends the latest map.
    pub changed: Notify,
}

impl ClusterState {
    /// Loads the saved map and bucket list from `state_dir`, or starts a new cluster.
    /// Targets from a saved map get one timeout's grace to send a keepalive.
    pub fn load_or_new(state_dir: Option<PathBuf>, me: Snode) -> ClusterState {
        let saved_smap: Option<Smap> = state_dir
            .as_deref()
            .and_then(|d| read_json(&d.join(SMAP_FILE)));
        let bmd: Bmd = state_dir
            .as_deref()
            .and_then(|d| read_json(&d.join(BMD_FILE)))
            .unwrap_or_default();
        let mut smap = match saved_smap {
            Some(mut s) => {
                s.version += 1;
                s
            }
            None => Smap::new(me.clone(), crate::wire::lso::new_uuid(), now_rfc3339()),
        };
        smap.pmap = [(me.daemon_id.clone(), me.clone())].into();
        smap.proxy_si = me;
        let now = Instant::now();
        let last_seen = smap.tmap.keys().map(|id| (id.clone(), now)).collect();
        let state = ClusterState {
            smap_cache: ArcSwap::from_pointee(smap.clone()),
            bmd_cache: ArcSwap::from_pointee(bmd.clone()),
            inner: Mutex::new(Inner {
                smap,
                bmd,
                last_seen,
            }),
            state_dir,
            changed: Notify::new(),
        };
        state.save(&state.lock());
        state
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current map (cheap: a shared snapshot).
    pub fn smap(&self) -> Arc<Smap> {
        self.smap_cache.load_full()
    }

    /// The current map for the length of one request, without touching its reference
    /// count (which every serving thread would otherwise bounce between cores).
    pub fn smap_now(&self) -> arc_swap::Guard<Arc<Smap>> {
        self.smap_cache.load()
    }

    /// The current bucket list.
    pub fn bmd(&self) -> Bmd {
        Bmd::clone(&self.bmd_cache.load())
    }

    /// Adds or updates a target; returns the map and bucket list it should start from.
    pub fn join(&self, mut node: Snode) -> (Smap, Bmd) {
        let mut inner = self.lock();
        if let Some(old) = inner.smap.tmap.get(&node.daemon_id) {
            // Maintenance and decommission are the proxy's to set and clear.
            node.flags = old.flags;
        }
        inner
            .last_seen
            .insert(node.daemon_id.clone(), Instant::now());
        if inner.smap.tmap.get(&node.daemon_id) != Some(&node) {
            tracing::info!(target_id = %node.daemon_id, url = %node.url(), "target joined");
            inner.smap.tmap.insert(node.daemon_id.clone(), node);
            self.commit_smap(&mut inner);
        }
        (inner.smap.clone(), inner.bmd.clone())
    }

    /// Records a keepalive; returns the map and bucket-list versions, or `None` if the
    /// target is not in the map (it must register again).
    pub fn keepalive(&self, id: &str) -> Option<(u64, u64)> {
        let mut inner = self.lock();
        if !inner.smap.tmap.contains_key(id) {
            return None;
        }
        inner.last_seen.insert(id.to_string(), Instant::now());
        Some((inner.smap.version, inner.bmd.version))
    }

    /// Targets not heard from for longer than `timeout`.
    pub fn silent_targets(&self, timeout: Duration) -> Vec<Snode> {
        let inner = self.lock();
        inner
            .smap
            .tmap
            .values()
            .filter(|t| {
                inner
                    .last_seen
                    .get(&t.daemon_id)
                    .is_none_or(|seen| seen.elapsed() > timeout)
            })
            .cloned()
            .collect()
    }

    /// Marks a target as heard from (it answered a health check).
    pub fn touch(&self, id: &str) {
        self.lock().last_seen.insert(id.to_string(), Instant::now());
    }

    /// Sets or clears `flags` on target `id`; returns the new map version, or `None` if the
    /// target is not in the map.
    pub fn set_flags(&self, id: &str, flags: u64, on: bool) -> Option<u64> {
        let mut inner = self.lock();
        let node = inner.smap.tmap.get_mut(id)?;
        let before = node.flags;
        if on {
            node.flags |= flags;
        } else {
            node.flags &= !flags;
        }
        if node.flags != before {
            self.commit_smap(&mut inner);
        }
        Some(inner.smap.version)
    }

    /// Removes a target from the map.
    pub fn remove(&self, id: &str) -> bool {
        let mut inner = self.lock();
        inner.last_seen.remove(id);
        if inner.smap.tmap.remove(id).is_some() {
            self.commit_smap(&mut inner);
            true
        } else {
            false
        }
    }

    /// Records a new bucket; false if it already exists.
    pub fn add_bucket(&self, name: &str, created_ns: i64) -> bool {
        let mut inner = self.lock();
        if inner.bmd.buckets.contains_key(name) {
            return false;
        }
        inner.bmd.buckets.insert(name.to_string(), created_ns);
        self.commit_bmd(&mut inner);
        true
    }

    /// Sets a bucket's properties; false if the bucket does not exist.
    pub fn set_bucket_props(&self, name: &str, props: serde_json::Value) -> bool {
        let mut inner = self.lock();
        if !inner.bmd.buckets.contains_key(name) {
            return false;
        }
        inner.bmd.props.insert(name.to_string(), props);
        self.commit_bmd(&mut inner);
        true
    }

    /// Renames a bucket in the list (creation time and properties kept); false if `from`
    /// is missing or `to` exists.
    pub fn rename_bucket(&self, from: &str, to: &str) -> bool {
        let mut inner = self.lock();
        if inner.bmd.buckets.contains_key(to) {
            return false;
        }
        let Some(created) = inner.bmd.buckets.remove(from) else {
            return false;
        };
        inner.bmd.buckets.insert(to.to_string(), created);
        if let Some(p) = inner.bmd.props.remove(from) {
            inner.bmd.props.insert(to.to_string(), p);
        }
        self.commit_bmd(&mut inner);
        true
    }

    /// Forgets a bucket; false if it did not exist.
    pub fn remove_bucket(&self, name: &str) -> bool {
        let mut inner = self.lock();
        if inner.bmd.buckets.remove(name).is_none() {
            return false;
        }
        inner.bmd.props.remove(name);
        self.commit_bmd(&mut inner);
        true
    }

    /// Whether a bucket exists.
    pub fn has_bucket(&self, name: &str) -> bool {
        self.bmd_cache.load().buckets.contains_key(name)
    }

    fn commit_smap(&self, inner: &mut Inner) {
        inner.smap.version += 1;
        self.smap_cache.store(Arc::new(inner.smap.clone()));
        self.save(inner);
        self.changed.notify_one();
    }

    fn commit_bmd(&self, inner: &mut Inner) {
        inner.bmd.version += 1;
        self.bmd_cache.store(Arc::new(inner.bmd.clone()));
        self.save(inner);
        self.changed.notify_one();
    }

    fn save(&self, inner: &Inner) {
        let Some(dir) = &self.state_dir else { return };
        for (file, value) in [
            (SMAP_FILE, serde_json::to_vec_pretty(&inner.smap)),
            (BMD_FILE, serde_json::to_vec_pretty(&inner.bmd)),
        ] {
            let res = value
                .map_err(std::io::Error::other)
                .and_then(|bytes| write_atomic(&dir.join(file), &bytes));
            if let Err(e) = res {
                tracing::error!(dir = %dir.display(), file, error = %e, "cannot save cluster state");
            }
        }
    }
}

/// Writes `bytes` to `path` through a temp file of its own and a rename, then fsyncs the
/// directory, so a crash leaves the old or the new file, never a torn one, and the rename
/// itself survives a power cut. Each call's temp name is distinct (two files written side
/// by side never share one).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(
        "{name}.tmp.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable state file");
            None
        }
    }
}

fn now_rfc3339() -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now())
}
