//! The proxies' replicated control-plane state through Raft (the `openraft` crate): the
//! commands and the state they change ([`command`]), the log and vote on disk
//! ([`log_store`]) and the applied state with its snapshots ([`state_machine`]). The
//! network between proxies and who proposes what live in `proxy/` (they speak HTTP,
//! which sits below this module's users, not below this module).

pub mod command;
pub mod log_store;
pub mod state_machine;

pub use command::{Command, MetaState, Outcome, Proposal};

use std::io::Cursor;

openraft::declare_raft_types!(
    /// The Raft types of the proxies' log.
    pub TypeConfig:
        D = Proposal,
        R = Outcome,
);

/// A proxy's Raft ID: the HRW digest of its daemon ID (as in the map's `id_digest`).
pub type NodeId = u64;
/// One log entry.
pub type Entry = openraft::Entry<TypeConfig>;
/// The Raft handle.
pub type Raft = openraft::Raft<TypeConfig>;

/// A proxy's Raft ID from its daemon ID.
pub fn node_id(daemon_id: &str) -> NodeId {
    crate::hrw::digest(daemon_id.as_bytes())
}
