//! Mountpaths: start-up checks, the node-ID mark, HRW placement and the on-disk layout.
//!
//! A mountpath is one filesystem (one disk) owned by exactly one target. Knows paths and
//! filesystems; knows nothing of HTTP.

mod atomic;
pub mod layout;
mod lock;
mod mountpath;
mod node_id;
mod sync;

pub use atomic::write_atomic;
pub use lock::{lock_mountpath, lock_mountpaths, MountpathLock};
pub use mountpath::{
    check_mountpaths, FsError, IoCounters, Leaving, Mountpath, Mountpaths, MpChangeError, MpSet,
};
pub use node_id::{
    mark_cluster_uuid, mark_primary_url, read_cluster_uuid, read_primary_url, resolve_node_id,
};
pub use sync::{Durability, GroupSync, MountpathSync};
