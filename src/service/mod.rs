//! Target services, below both front ends (`native_api`, `s3_api`): the context every
//! request shares, locating objects (get-from-neighbor) and cluster-wide deletes,
//! copies, archives, promotion, mountpath changes, the rebalance and resilver walks,
//! scrubs and the disk health checker. They return their own results; each front end
//! maps errors to its dialect once.

pub mod archive_job;
pub mod archive_read;
pub mod body;
pub mod cleanup;
mod context;
pub mod copy;
pub mod copy_many;
pub mod ec;
pub mod fshc;
pub mod get_batch;
pub mod locate;
pub mod membership;
pub mod mountpaths;
pub mod promote;
pub mod rebalance;
pub mod redundancy;
pub mod redundancy_job;
pub mod replica;
pub mod resilver;
pub mod scrub;
pub mod shard_index;
pub mod walk_job;

pub use context::{NodeInfo, TargetContext};

use crate::store;

/// The configured buffer budget in bytes, or (0) one sized for the disks and memory.
pub fn buffer_budget(mib: u64, mountpaths: usize) -> usize {
    let bytes = if mib == 0 {
        let auto = store::auto_buffer_budget(mountpaths, store::memory_limit());
        tracing::info!(
            mib = auto >> 20,
            mountpaths,
            "buffer budget sized for the disks and memory"
        );
        auto
    } else {
        mib << 20
    };
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

/// Sizes the automatic buffer budget for the mountpaths attached now (available, leaving
/// or disabled), as it was sized at the start; a configured budget stays as it is.
pub fn size_buffer_budget(ctx: &TargetContext) {
    if ctx.config.settings.buffer_budget_mib == 0 {
        let set = ctx.store.mountpaths().current();
        let disks = set.available.len() + set.leaving.len() + set.disabled.len();
        ctx.store.set_buffer_budget(buffer_budget(0, disks.max(1)));
    }
}
