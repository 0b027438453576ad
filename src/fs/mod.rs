//! Mountpaths: start-up checks, the node-ID mark, HRW placement and the on-disk layout.
//!
//! A mountpath is one filesystem (one disk) owned by exactly one target. Knows paths and
//! filesystems; knows nothing of HTTP.

pub mod layout;
mod lock;
mod mountpath;
mod node_id;

pub use lock::{lock_mountpaths, MountpathLocks};
pub use mountpath::{check_mountpaths, FsError, IoCounters, Mountpath, Mountpaths};
pub use node_id::{
    mark_cluster_uuid, mark_primary_url, read_cluster_uuid, read_primary_url, resolve_node_id,
};
