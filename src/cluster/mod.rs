//! The cluster map (AIStore's Smap) and the bucket list (a minimal BMD), with HRW
//! placement of objects on targets. Shared by the proxy, which owns them, and the
//! targets, which follow them.

pub mod intra_auth;
mod smap;
mod view;

pub use intra_auth::ClusterKey;
pub use smap::{Bmd, NetInfo, Smap, Snode, FLAG_DECOMMISSION, FLAG_MAINTENANCE};
pub use view::{MapRefusal, MapView};
