//! A target's view of the cluster: the newest map it has seen (pushed by the proxy or
//! fetched after a keepalive said it is stale).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::{Smap, Snode};

/// The newest cluster map a target knows, if it is registered.
#[derive(Default)]
pub struct MapView {
    smap: RwLock<Option<Arc<Smap>>>,
    bmd_version: AtomicU64,
}

impl MapView {
    /// The current map, if any.
    pub fn smap(&self) -> Option<Arc<Smap>> {
        self.smap.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Installs `smap` if it is newer than the one held; returns whether it was.
    pub fn offer(&self, smap: Smap) -> bool {
        let mut cur = self.smap.write().unwrap_or_else(|p| p.into_inner());
        if cur
            .as_ref()
            .is_some_and(|c| c.version >= smap.version && c.uuid == smap.uuid)
        {
            return false;
        }
        *cur = Some(Arc::new(smap));
        true
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
