//! Smap and BMD in AIStore's JSON shapes (`tmap`, `pmap`, `proxy_si`, `version` as a string).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hrw;

/// Node flag: a proxy that never becomes primary.
pub const FLAG_NON_ELECTABLE: u64 = 1 << 0;
/// Node flag: in maintenance (HRW skips it).
pub const FLAG_MAINTENANCE: u64 = 1 << 2;
/// Node flag: being decommissioned (HRW skips it).
pub const FLAG_DECOMMISSION: u64 = 1 << 3;

/// One network endpoint of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NetInfo {
    /// Host name or IP clients use.
    pub node_hostname: String,
    /// Port, as a string (AIStore's wire type).
    pub daemon_port: String,
    /// `http://host:port`.
    pub direct_url: String,
}

/// A node (AIStore's `Snode`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snode {
    /// Node ID.
    pub daemon_id: String,
    /// `proxy` or `target`.
    pub daemon_type: String,
    /// Where clients reach it.
    pub public_net: NetInfo,
    /// Control-plane endpoint (same as public here).
    #[serde(default)]
    pub intra_control_net: NetInfo,
    /// Data-plane endpoint (same as public here).
    #[serde(default)]
    pub intra_data_net: NetInfo,
    /// Maintenance and decommission bits.
    #[serde(default)]
    pub flags: u64,
    /// `XXH64(daemon_id, hrw::SEED)`.
    #[serde(default)]
    pub id_digest: u64,
    /// The machine (Kubernetes node) it runs on: its failure domain. Copies and slices
    /// of one object go to distinct ones first (empty: a domain of its own).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_name: String,
}

impl Snode {
    /// A node of `kind` reachable at `url` (`http://host:port`).
    pub fn new(id: &str, kind: &str, url: &str) -> Snode {
        let authority = url.trim_start_matches("http://").trim_end_matches('/');
        let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "80"));
        let net = NetInfo {
            node_hostname: host.to_string(),
            daemon_port: port.to_string(),
            direct_url: url.trim_end_matches('/').to_string(),
        };
        Snode {
            daemon_id: id.to_string(),
            daemon_type: kind.to_string(),
            intra_control_net: net.clone(),
            intra_data_net: net.clone(),
            public_net: net,
            flags: 0,
            id_digest: hrw::digest(id.as_bytes()),
            node_name: String::new(),
        }
    }

    /// Names the machine it runs on.
    pub fn on_node(mut self, node_name: &str) -> Snode {
        self.node_name = node_name.to_string();
        self
    }

    /// Its failure domain: the machine it runs on, or itself when that is not known.
    pub fn failure_domain(&self) -> &str {
        if self.node_name.is_empty() {
            &self.daemon_id
        } else {
            &self.node_name
        }
    }

    /// Sets the address other nodes use (control and data), when it differs from the
    /// client-facing one (an external load balancer, a published port).
    pub fn with_intra_url(mut self, url: &str) -> Snode {
        let net = Snode::new(&self.daemon_id, &self.daemon_type, url).public_net;
        self.intra_control_net = net.clone();
        self.intra_data_net = net;
        self
    }

    /// The URL clients are sent to.
    pub fn url(&self) -> &str {
        &self.public_net.direct_url
    }

    /// The URL other nodes use for control traffic (falls back to the public one).
    pub fn control_url(&self) -> &str {
        if self.intra_control_net.direct_url.is_empty() {
            self.url()
        } else {
            &self.intra_control_net.direct_url
        }
    }

    /// Whether HRW may place objects on it.
    pub fn is_active(&self) -> bool {
        self.flags & (FLAG_MAINTENANCE | FLAG_DECOMMISSION) == 0
    }
}

/// The cluster map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Smap {
    /// Targets by ID.
    pub tmap: BTreeMap<String, Snode>,
    /// Proxies by ID.
    pub pmap: BTreeMap<String, Snode>,
    /// The primary proxy.
    pub proxy_si: Snode,
    /// Cluster UUID.
    pub uuid: String,
    /// When the cluster was created (RFC 3339).
    #[serde(default)]
    pub creation_time: String,
    /// Bumped on every change.
    #[serde(with = "crate::cluster::u64_string")]
    pub version: u64,
}

impl Smap {
    /// A map holding only the primary proxy.
    pub fn new(proxy: Snode, uuid: String, creation_time: String) -> Smap {
        Smap {
            tmap: BTreeMap::new(),
            pmap: [(proxy.daemon_id.clone(), proxy.clone())].into(),
            proxy_si: proxy,
            uuid,
            creation_time,
            version: 1,
        }
    }

    /// The target HRW picks for `ais://bucket/object`, skipping inactive targets.
    pub fn owner(&self, bucket: &str, object: &str) -> Option<&Snode> {
        let digest = hrw::object_digest(bucket, object);
        let best = hrw::select(digest, self.active_targets().map(|t| t.id_digest))?;
        self.active_targets().nth(best)
    }

    /// Active targets.
    pub fn active_targets(&self) -> impl Iterator<Item = &Snode> {
        self.tmap.values().filter(|t| t.is_active())
    }
}

/// The bucket list every target follows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bmd {
    /// Bucket names with creation time (unix ns).
    pub buckets: BTreeMap<String, i64>,
    /// Properties of buckets that were given any (see [`crate::cluster::bprops`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub props: BTreeMap<String, serde_json::Value>,
    /// Bumped on every change.
    #[serde(with = "crate::cluster::u64_string")]
    pub version: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map of one proxy and no targets.
    fn with_proxy(id: &str, url: &str) -> Smap {
        Smap::new(Snode::new(id, "proxy", url), "u".into(), "t".into())
    }

    #[test]
    fn json_shape_matches_aistore() {
        let mut smap = with_proxy("p1", "http://10.0.0.1:8080");
        smap.tmap.insert(
            "t1".into(),
            Snode::new("t1", "target", "http://10.0.0.2:8081"),
        );
        let v: serde_json::Value = serde_json::to_value(&smap).unwrap();
        assert_eq!(v["version"], "1");
        assert_eq!(v["tmap"]["t1"]["public_net"]["daemon_port"], "8081");
        assert_eq!(v["proxy_si"]["daemon_type"], "proxy");
        assert_eq!(v["tmap"]["t1"]["id_digest"], hrw::digest(b"t1"));
        let back: Smap = serde_json::from_value(v).unwrap();
        assert_eq!(back, smap);
    }

    #[test]
    fn owner_skips_maintenance() {
        let mut smap = with_proxy("p", "http://h:1");
        for id in ["t1abcd", "XyZ12345", "target-2"] {
            smap.tmap
                .insert(id.into(), Snode::new(id, "target", "http://h:2"));
        }
        // Vector from the Python SDK (see hrw.rs): "dir/x.jpg" in bucket "bench" → "XyZ12345".
        assert_eq!(
            smap.owner("bench", "dir/x.jpg").unwrap().daemon_id,
            "XyZ12345"
        );
        smap.tmap.get_mut("XyZ12345").unwrap().flags = FLAG_MAINTENANCE;
        assert_ne!(
            smap.owner("bench", "dir/x.jpg").unwrap().daemon_id,
            "XyZ12345"
        );
    }
}
