//! A node's status and its log through AIStore's daemon API: `GET /v1/daemon?what=log`
//! (the node's log files, [`crate::node_log`]) and `?what=node_status` (AIStore's
//! `stats.NodeStatus`: the node, its counters as a `tracker`, capacity, memory and CPU),
//! which the proxy's reverse path (`/v1/reverse/daemon` with `Ais-Node-Id`) reaches on
//! any node: the SDK's `get_node_log`, `get_node_log_archive`, `get_performance`.

use std::collections::HashMap;

use http::{header, Response};
use serde_json::{json, Map, Value};

use super::ApiError;
use crate::http::request::set_header;
use crate::http::{full, Body};
use crate::node_log::{self, LogError};

impl From<LogError> for ApiError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::NoLogDir => ApiError::NotFound(e.to_string()),
            LogError::BadSeverity(_) | LogError::BadOffset(_) => {
                ApiError::BadRequest(e.to_string())
            }
            LogError::Io(what, err) => crate::store::Error::io(what, err).into(),
        }
    }
}

/// `what=log`: the current file of `severity` (from `offset`), or with `all=true` a
/// .tar.gz of its current and rotated files.
pub async fn log(q: &HashMap<String, String>) -> Result<Response<Body>, ApiError> {
    let severity = q.get("severity").cloned().unwrap_or_default();
    let all = q.get("all").is_some_and(|v| v == "true");
    let offset = match q.get("offset").filter(|o| !o.is_empty()) {
        Some(o) => Some(o.parse::<u64>().map_err(|_| {
            ApiError::BadRequest(format!("log offset {o:?}: expecting a number of bytes"))
        })?),
        None => None,
    };
    let read = tokio::task::spawn_blocking(move || match all {
        true => node_log::archive(&severity),
        false => node_log::read_current(&severity, offset),
    });
    let bytes = read
        .await
        .map_err(|e| ApiError::Unavailable(format!("reading the log: {e}")))??;
    let mut resp = Response::new(full(bytes));
    let kind = if all {
        "application/gzip"
    } else {
        "text/plain; charset=utf-8"
    };
    set_header(&mut resp, header::CONTENT_TYPE, kind);
    Ok(resp)
}

/// What differs between a proxy's and a target's status.
pub struct NodeFacts {
    /// The node (AIStore's `Snode`).
    pub snode: Value,
    /// Its counters (see `metrics::*::tracker`).
    pub tracker: Map<String, Value>,
    /// A target's mountpaths: (path, used bytes, available bytes).
    pub mountpaths: Vec<(String, u64, u64)>,
    /// The version of the cluster map it holds.
    pub smap_version: u64,
}

/// AIStore's `stats.NodeStatus` of a node.
pub fn node_status(facts: NodeFacts) -> Value {
    let mut status = json!({
        "snode": facts.snode,
        "tracker": facts.tracker,
        "status": "online",
        "deployment": if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() { "K8s" } else { "dev" },
        "ais_version": env!("CARGO_PKG_VERSION"),
        "build_time": "",
        "k8s_pod_name": std::env::var("MY_POD").unwrap_or_default(),
        "cluster": {},
        "sys_info": sys_info(),
        "smap_version": facts.smap_version.to_string(),
    });
    if !facts.mountpaths.is_empty() {
        status["capacity"] = capacity(&facts.mountpaths);
    }
    status
}

/// AIStore's `fs.Tcdf`: per mountpath used, available and percent used, and the totals.
fn capacity(mountpaths: &[(String, u64, u64)]) -> Value {
    let pct = |used: u64, avail: u64| (used * 100).checked_div(used + avail).unwrap_or(0);
    let mut per = Map::new();
    let (mut used, mut avail, mut max) = (0u64, 0u64, 0u64);
    for (path, u, a) in mountpaths {
        per.insert(
            path.clone(),
            json!({"used": u.to_string(), "avail": a.to_string(), "pct_used": pct(*u, *a)}),
        );
        used += u;
        avail += a;
        max = max.max(pct(*u, *a));
    }
    json!({
        "mountpaths": per,
        "cs_err": "",
        "total_used": used.to_string(),
        "total_avail": avail.to_string(),
        "pct_max": max,
    })
}

/// AIStore's `apc.MemCPUInfo` from /proc: memory of the machine, load averages.
fn sys_info() -> Value {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib = |key: &str| -> u64 {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0)
            * 1024
    };
    let (total, avail) = (kib("MemTotal:"), kib("MemAvailable:"));
    let used = total.saturating_sub(avail);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let l: Vec<f64> = load
        .split_whitespace()
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect();
    let at = |i: usize| l.get(i).copied().unwrap_or(0.0);
    json!({
        "mem_used": used,
        "mem_avail": avail,
        "pct_mem_used": if total > 0 { used as f64 * 100.0 / total as f64 } else { 0.0 },
        "pct_cpu_used": 0.0,
        "load_avg": {"one": at(0), "five": at(1), "fifteen": at(2)},
        "cpu_util": 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_sums_mountpaths_and_takes_the_fullest() {
        let c = capacity(&[("/a".into(), 30, 70), ("/b".into(), 90, 10)]);
        assert_eq!(c["mountpaths"]["/a"]["pct_used"], 30);
        assert_eq!(c["total_used"], "120");
        assert_eq!(c["total_avail"], "80");
        assert_eq!(c["pct_max"], 90);
        let s = node_status(NodeFacts {
            snode: json!({"daemon_id": "t1"}),
            tracker: Map::new(),
            mountpaths: vec![],
            smap_version: 7,
        });
        assert_eq!(s["smap_version"], "7");
        assert!(s.get("capacity").is_none());
        assert!(s["sys_info"]["mem_used"].as_u64().is_some());
    }
}
