//! The cluster map (AIStore's Smap) and the bucket list (a minimal BMD), with HRW
//! placement of objects on targets. Shared by the proxy, which owns them, and the
//! targets, which follow them.

pub mod bprops;
pub mod intra_auth;
pub mod placement;
pub mod raft;
pub mod secret;
mod smap;
mod view;

pub use intra_auth::ClusterKey;

/// A `u64` as AIStore writes it in JSON: a decimal string (numbers are read too).
pub mod u64_string {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `v` as a string.
    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    /// Reads a string or a number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum V {
            S(String),
            N(u64),
        }
        match V::deserialize(d)? {
            V::S(s) => s.parse().map_err(serde::de::Error::custom),
            V::N(n) => Ok(n),
        }
    }
}
pub use smap::{
    Bmd, NetInfo, Smap, Snode, FLAG_DECOMMISSION, FLAG_MAINTENANCE, FLAG_NON_ELECTABLE,
};
pub use view::{MapRefusal, MapView};

/// What a target gets back on registration and in every push of the proxy.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ClusterMeta {
    /// Cluster map.
    pub smap: Smap,
    /// Bucket list.
    pub bmd: Bmd,
}
