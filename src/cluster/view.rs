//! A target's view of the cluster: the newest map it has seen (pushed by the proxy or
//! fetched after a keepalive said it is stale), and the rules a map must pass first. A
//! target that has joined a cluster keeps its UUID (marked on its mountpaths, so it holds
//! across restarts) and takes maps only of that cluster, only from the primary it knows,
//! and only newer than the one it holds.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use thiserror::Error;

use super::{Smap, Snode};

/// Why a map was not taken.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MapRefusal {
    /// The map is of another cluster.
    #[error("cluster integrity error: this target belongs to cluster {ours:?}, the map is of cluster {theirs:?}")]
    OtherCluster {
        /// The UUID we joined.
        ours: String,
        /// The map's UUID.
        theirs: String,
    },
    /// The map or its sender is not the primary this target knows.
    #[error("cluster integrity error: map from {from:?}, but the primary is {primary:?}")]
    NotPrimary {
        /// The primary we know.
        primary: String,
        /// Who sent or is named primary in the map.
        from: String,
    },
}

/// Maps kept before the current one (for finding objects at their previous owners).
const KEPT_MAPS: usize = 8;

/// The newest cluster map a target knows, if it is registered, and the ones before it.
#[derive(Default)]
pub struct MapView {
    smap: RwLock<Option<Arc<Smap>>>,
    previous: RwLock<std::collections::VecDeque<Arc<Smap>>>,
    bmd_version: AtomicU64,
    uuid: Mutex<Option<String>>,
    /// When the set of active targets last changed (as this target saw it).
    moved_at: Mutex<Option<std::time::Instant>>,
    /// Buckets renamed lately, by new name: their objects may be on any target until
    /// the walks have moved them.
    renamed: Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// Where the joined UUID and the primary's URL are marked.
    mark_paths: Vec<PathBuf>,
}

impl MapView {
    /// A view of a target that joined cluster `uuid` before (or none), marking the UUID
    /// on `mark_paths` when it first joins.
    pub fn new(uuid: Option<String>, mark_paths: Vec<PathBuf>) -> MapView {
        MapView {
            uuid: Mutex::new(uuid),
            mark_paths,
            ..MapView::default()
        }
    }

    /// The current map, if any.
    pub fn smap(&self) -> Option<Arc<Smap>> {
        self.smap.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The primary's intra-cluster URL: from the map held, else the one noted on the
    /// mountpaths by an earlier run.
    pub fn primary_url(&self) -> Option<String> {
        match self.smap() {
            Some(s) => Some(s.proxy_si.control_url().to_string()),
            None => crate::fs::read_primary_url(&self.mark_paths),
        }
    }

    /// The UUID of the cluster this target joined.
    pub fn uuid(&self) -> Option<String> {
        self.uuid.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether `smap` would pass the rules (without installing it).
    pub fn check(&self, smap: &Smap, from: Option<&str>) -> Result<(), MapRefusal> {
        same_cluster(self.uuid().as_deref(), smap)?;
        match self.smap() {
            Some(held) => from_primary(&held, smap, from),
            None => Ok(()),
        }
    }

    /// Waits up to `limit` for a first map (a target that has just registered may be
    /// sent requests a moment before its registration reply is in).
    pub async fn wait_joined(&self, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.smap().is_none() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        true
    }

    /// Installs `smap` if it passes the rules and is newer than the one held; `from` is
    /// the verified sender, when the request was signed. Returns whether it was installed.
    pub fn offer(&self, smap: Smap, from: Option<&str>) -> Result<bool, MapRefusal> {
        let mut cur = self.smap.write().unwrap_or_else(|p| p.into_inner());
        {
            let mut uuid = self.uuid.lock().unwrap_or_else(|p| p.into_inner());
            same_cluster(uuid.as_deref(), &smap)?;
            if uuid.is_none() {
                if let Err(e) = crate::fs::mark_cluster_uuid(&self.mark_paths, &smap.uuid) {
                    tracing::warn!(error = %e, "cannot mark the cluster UUID on the mountpaths");
                }
                tracing::info!(uuid = %smap.uuid, "joined cluster");
                *uuid = Some(smap.uuid.clone());
            }
        }
        if let Some(held) = cur.as_ref() {
            from_primary(held, &smap, from)?;
            if held.version >= smap.version {
                return Ok(false);
            }
        }
        let primary = smap.proxy_si.control_url().to_string();
        if cur
            .as_ref()
            .is_none_or(|c| c.proxy_si.control_url() != primary)
        {
            if let Err(e) = crate::fs::mark_primary_url(&self.mark_paths, &primary) {
                tracing::warn!(error = %e, "cannot note the primary's URL on the mountpaths");
            }
        }
        if let Some(old) = cur.replace(Arc::new(smap)) {
            let mut prev = self.previous.write().unwrap_or_else(|p| p.into_inner());
            prev.push_front(old);
            prev.truncate(KEPT_MAPS);
        }
        Ok(true)
    }

    /// The maps before the current one, newest first.
    pub fn previous(&self) -> Vec<Arc<Smap>> {
        self.previous
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Whether target `id` left the map on purpose: not in `current`, and flagged for
    /// decommission in the newest kept map that has it (its objects were moved off before it
    /// went, so it holds nothing to wait for).
    fn left_on_purpose(current: Option<&Smap>, previous: &[Arc<Smap>], id: &str) -> bool {
        if current.is_some_and(|c| c.tmap.contains_key(id)) {
            return false;
        }
        previous
            .iter()
            .find_map(|m| m.tmap.get(id))
            .is_some_and(|t| t.flags & super::FLAG_DECOMMISSION != 0)
    }

    /// Other targets that may hold `bucket/object` now or held it before: its owner in
    /// each kept map, and its owner were `me` not in the current map (where it was
    /// before `me` joined). Newest first, no duplicates, never `me`.
    pub fn previous_owners(&self, me: &str, bucket: &str, object: &str) -> Vec<Snode> {
        let cur = self.smap();
        let previous = self.previous();
        let mut out: Vec<Snode> = Vec::new();
        let mut add = |t: &Snode| {
            if t.daemon_id != me
                && !out.iter().any(|o| o.daemon_id == t.daemon_id)
                && !Self::left_on_purpose(cur.as_deref(), &previous, &t.daemon_id)
            {
                // Its URLs as the current map has them (it may have restarted elsewhere).
                let now = cur.as_ref().and_then(|c| c.tmap.get(&t.daemon_id));
                out.push(now.unwrap_or(t).clone());
            }
        };
        if let Some(cur) = cur.as_ref() {
            let mut without_me = (**cur).clone();
            without_me.tmap.remove(me);
            if let Some(t) = without_me.owner(bucket, object) {
                add(t);
            }
        }
        for m in &previous {
            if let Some(t) = m.owner(bucket, object) {
                add(t);
            }
        }
        out
    }

    /// Targets that may hold `bucket/object` (see [`MapView::previous_owners`]); for a
    /// bucket renamed within the last 10 minutes, every other active target.
    pub fn holders(&self, me: &str, bucket: &str, object: &str) -> Vec<Snode> {
        let mut out = self.previous_owners(me, bucket, object);
        let renamed = self
            .renamed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(bucket)
            .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(600));
        if let (true, Some(cur)) = (renamed, self.smap()) {
            for t in cur.active_targets() {
                if t.daemon_id != me && !out.iter().any(|o| o.daemon_id == t.daemon_id) {
                    out.push(t.clone());
                }
            }
        }
        out
    }

    /// Notes that `bucket` is a new name of a bucket whose objects are still moving.
    pub fn mark_renamed(&self, bucket: &str) {
        self.renamed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(bucket.to_string(), std::time::Instant::now());
        self.mark_moved();
    }

    /// Notes that the set of active targets just changed.
    pub fn mark_moved(&self) {
        *self.moved_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(std::time::Instant::now());
    }

    /// Whether the set of active targets changed within `window`.
    pub fn moved_within(&self, window: std::time::Duration) -> bool {
        self.moved_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|t| t.elapsed() < window)
    }

    /// Map version held (0 = none).
    pub fn smap_version(&self) -> u64 {
        self.smap().map_or(0, |s| s.version)
    }

    /// Bucket-list version applied.
    pub fn bmd_version(&self) -> u64 {
        self.bmd_version.load(Ordering::Acquire)
    }

    /// Records the applied bucket-list version.
    pub fn set_bmd_version(&self, v: u64) {
        self.bmd_version.fetch_max(v, Ordering::AcqRel);
    }

    /// The target that owns `ais://bucket/object`, when it is another node than `me`.
    pub fn other_owner(&self, me: &str, bucket: &str, object: &str) -> Option<Snode> {
        let smap = self.smap()?;
        let owner = smap.owner(bucket, object)?;
        (owner.daemon_id != me).then(|| owner.clone())
    }
}

/// A map of the cluster this target joined (any, before it joined).
fn same_cluster(ours: Option<&str>, smap: &Smap) -> Result<(), MapRefusal> {
    match ours {
        Some(ours) if ours != smap.uuid => Err(MapRefusal::OtherCluster {
            ours: ours.to_string(),
            theirs: smap.uuid.clone(),
        }),
        _ => Ok(()),
    }
}

/// A map that names the primary of `held` and, when the sender is known, comes from it.
fn from_primary(held: &Smap, smap: &Smap, from: Option<&str>) -> Result<(), MapRefusal> {
    let primary = &held.proxy_si.daemon_id;
    let named = &smap.proxy_si.daemon_id;
    let sender = from.unwrap_or(named);
    // A map comes from the primary it names. Another primary than the one held (the
    // proxies elected a new one) is taken when it signed the push itself (it holds the
    // cluster's key) or is a proxy of the map held.
    let known = named == primary || from.is_some() || held.pmap.contains_key(named);
    if sender != named || !known {
        return Err(MapRefusal::NotPrimary {
            primary: primary.clone(),
            from: if sender != primary { sender } else { named }.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(uuid: &str, primary: &str, version: u64) -> Smap {
        let mut s = Smap::new(
            Snode::new(primary, "proxy", "http://h:1"),
            uuid.into(),
            String::new(),
        );
        s.version = version;
        s
    }

    #[test]
    fn keeps_its_cluster_and_primary_and_only_moves_forward() {
        let dir = tempfile::tempdir().unwrap();
        let v = MapView::new(None, vec![dir.path().to_path_buf()]);
        assert_eq!(v.offer(map("U", "p1", 3), None), Ok(true));
        assert_eq!(
            crate::fs::read_cluster_uuid(&[dir.path().to_path_buf()]).as_deref(),
            Some("U")
        );
        assert_eq!(v.offer(map("U", "p1", 3), Some("p1")), Ok(false));
        assert_eq!(v.offer(map("U", "p1", 2), Some("p1")), Ok(false));
        assert!(matches!(
            v.offer(map("X", "p1", 0), None),
            Err(MapRefusal::OtherCluster { .. })
        ));
        assert!(matches!(
            v.offer(map("U", "p2", u64::MAX), None),
            Err(MapRefusal::NotPrimary { .. })
        ));
        assert!(matches!(
            v.offer(map("U", "p1", u64::MAX), Some("t9")),
            Err(MapRefusal::NotPrimary { .. })
        ));
        assert_eq!(v.smap_version(), 3);
        assert_eq!(v.offer(map("U", "p1", 4), Some("p1")), Ok(true));
        // A newly elected primary: its own signed push, or an unsigned map naming a
        // proxy of the held map.
        assert_eq!(v.offer(map("U", "p2", 5), Some("p2")), Ok(true));
        let mut with_p3 = map("U", "p2", 6);
        with_p3
            .pmap
            .insert("p3".into(), Snode::new("p3", "proxy", "http://h:3"));
        assert_eq!(v.offer(with_p3, Some("p2")), Ok(true));
        assert_eq!(v.offer(map("U", "p3", 7), None), Ok(true));
        assert!(matches!(
            v.offer(map("U", "p2", 8), Some("p3")),
            Err(MapRefusal::NotPrimary { .. })
        ));
        // After a restart the mark still binds it to cluster U.
        let again = MapView::new(
            crate::fs::read_cluster_uuid(&[dir.path().to_path_buf()]),
            vec![],
        );
        assert!(matches!(
            again.offer(map("X", "p1", 1), None),
            Err(MapRefusal::OtherCluster { .. })
        ));
    }
}
