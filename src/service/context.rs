//! The target's shared state: what every request handler of either front end (native
//! AIStore API, S3) needs, and the per-request work they share (who owns an object).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::cluster::Snode;
use crate::config::TargetConfig;
use crate::metrics::TargetMetrics;
use crate::store::ObjectStore;

/// This node as the cluster sees it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Node ID.
    pub id: String,
    /// URL clients reach it at.
    pub public_url: String,
    /// URL other nodes reach it at.
    pub intra_url: String,
    /// Host part of `public_url`.
    pub hostname: String,
    /// Port part of `public_url`.
    pub port: u16,
}

/// Everything a request handler needs.
pub struct TargetContext {
    /// The object store.
    pub store: ObjectStore,
    /// Counters.
    pub metrics: TargetMetrics,
    /// Who we are.
    pub node: NodeInfo,
    /// Effective configuration.
    pub config: TargetConfig,
    /// The cluster map, when registered with a proxy.
    pub cluster: crate::cluster::MapView,
    /// False once shutdown starts (readiness turns 503).
    pub ready: AtomicBool,
    /// Start time, for uptime headers.
    pub started: Instant,
    /// Streams object data to and from other nodes (S3 forwarding, copies).
    pub data: crate::http::DataClient,
    /// Asked to shut down by the proxy (`shutdown-node`, end of a decommission).
    pub stop: tokio::sync::Notify,
    /// Moving objects to their owners after map changes.
    pub rebalance: super::rebalance::Rebalance,
    /// Erasure coding's state (rebuilds in progress).
    pub ec: super::ec::EcState,
    /// The resilver job (objects moving between this target's mountpaths).
    pub resilver: super::resilver::Resilver,
    /// The scrub job (bitrot check of a bucket).
    pub scrub: super::scrub::Scrub,
    /// Bucket summary jobs (a lone target's own).
    /// Jobs started here (summaries, copies, deletes by list), for their pollers.
    pub jobs: crate::jobs::Jobs,
    /// Bucket properties: from the proxy's bucket list, or set on a lone target (kept in
    /// memory only).
    pub bucket_props: std::sync::RwLock<std::collections::BTreeMap<String, serde_json::Value>>,
    /// Control requests to the proxy (registration, keepalives), signed with the cluster key.
    pub control: crate::http::ControlClient,
    /// GetBatch requests this target may assemble at once (see [`super::get_batch`]).
    pub get_batch_slots: std::sync::Arc<tokio::sync::Semaphore>,
    /// The node's multi-threaded runtime: long work that would otherwise hold the serving
    /// thread that took the request (a GetBatch's gathering from other targets) runs here.
    pub background: tokio::runtime::Handle,
    /// Where the members of plain TAR shards sit (see [`super::shard_index`]).
    pub shard_indexes: super::shard_index::ShardIndexes,
}

impl TargetContext {
    /// Whether the node accepts new work.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Whether any mountpath is available to store objects.
    pub fn has_storage(&self) -> bool {
        !self.store.mountpaths().current().available.is_empty()
    }

    /// Whether the map flags this target for maintenance or decommission.
    pub fn in_maintenance(&self) -> bool {
        self.cluster
            .smap()
            .and_then(|s| s.tmap.get(&self.node.id).map(|t| !t.is_active()))
            .unwrap_or(false)
    }

    /// The key that signs intra-cluster requests and redirects, if any.
    pub fn cluster_key(&self) -> Option<&crate::cluster::ClusterKey> {
        self.config.intra.key.as_ref()
    }

    /// This target as the cluster map carries it.
    pub fn snode(&self) -> Snode {
        Snode::new(&self.node.id, "target", &self.node.public_url)
            .with_intra_url(&self.node.intra_url)
            .on_node(&self.config.node_name)
    }

    /// The target that owns `bucket/object` by the map we hold, when it is not us.
    pub fn other_owner(&self, bucket: &str, object: &str) -> Option<Snode> {
        self.cluster.other_owner(&self.node.id, bucket, object)
    }
}
