//! The cluster map (AIStore's Smap) and the bucket list (a minimal BMD), with HRW
//! placement of objects on targets. Shared by the proxy, which owns them, and the
//! targets, which follow them.

mod smap;
mod view;

pub use smap::{Bmd, NetInfo, Smap, Snode, FLAG_DECOMMISSION, FLAG_MAINTENANCE};
pub use view::MapView;
