//! Prometheus metrics with AIStore's names (`ais_target_*`, `ais_proxy_*`), labelled with `node_id`.

use prometheus::{
    Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The target's counters.
#[derive(Clone)]
pub struct TargetMetrics {
    series: Series,
    /// Successful GETs.
    pub get_count: IntCounter,
    /// Successful PUTs.
    pub put_count: IntCounter,
    /// Successful object HEADs.
    pub head_count: IntCounter,
    /// Successful DELETEs.
    pub del_count: IntCounter,
    /// List-objects pages served.
    pub lst_count: IntCounter,
    /// Bytes sent by GETs.
    pub get_bytes: IntCounter,
    /// Bytes stored by PUTs.
    pub put_bytes: IntCounter,
    /// Total GET latency, ns (until the body is handed to the socket).
    pub get_ns_total: IntCounter,
    /// Total PUT latency, ns.
    pub put_ns_total: IntCounter,
    /// Total HEAD latency, ns.
    pub head_ns_total: IntCounter,
    /// Failed GETs.
    pub err_get_count: IntCounter,
    /// Failed PUTs.
    pub err_put_count: IntCounter,
    /// Failed HEADs.
    pub err_head_count: IntCounter,
    /// Failed DELETEs.
    pub err_del_count: IntCounter,
    /// Failed list pages.
    pub err_lst_count: IntCounter,
    /// Checksum mismatches (client-sent or on-read).
    pub err_cksum_count: IntCounter,
    /// Disk read bytes per mountpath.
    pub disk_read_bytes: IntCounterVec,
    /// GET bytes per mountpath copied from the page cache on the request's thread.
    pub cache_read_bytes: IntCounterVec,
    /// Disk write bytes per mountpath.
    pub disk_write_bytes: IntCounterVec,
    /// Disk operations queued or in flight per mountpath (set at scrape time).
    pub disk_queue_depth: IntGaugeVec,
    /// Objects this target sent to their owners (rebalance).
    pub reb_tx_count: IntCounter,
    /// Their bytes.
    pub reb_tx_size: IntCounter,
    /// Objects other targets moved here.
    pub reb_rx_count: IntCounter,
    /// Their bytes.
    pub reb_rx_size: IntCounter,
    /// Objects a rebalance walk could not move.
    pub err_reb_count: IntCounter,
    /// Objects fetched from a previous owner to answer a request (get-from-neighbor).
    pub gfn_count: IntCounter,
    /// Mountpaths disabled by the filesystem health checker.
    pub err_fshc_count: IntCounter,
    /// Copies given to other targets (a PUT's, or healing's), for buckets that keep copies.
    pub copy_tx_count: IntCounter,
    /// PUTs failed because a copy could not be made.
    pub err_copy_count: IntCounter,
    /// Objects placed with two copies on one machine (the map has too few machines).
    pub copy_shared_machine_count: IntCounter,
    /// Mirror copies made on other mountpaths of this target by PUTs.
    pub mirror_copy_count: IntCounter,
    /// Erasure-coded slices given to other targets (a PUT's, or healing's).
    pub ec_slice_tx_count: IntCounter,
    /// Slices given again by healing (missing, or of another version or index).
    pub ec_slices_repaired_count: IntCounter,
    /// Objects rebuilt here from D slices (a read found no whole copy).
    pub ec_rebuilt_count: IntCounter,
    /// Objects healing found short of a copy or slice (and gave it), by the holder that
    /// gave it.
    pub heal_degraded_count: IntCounter,
    /// Objects found with some slices but fewer than D and no whole copy: unreadable.
    pub ec_lost_count: IntCounter,
    /// Objects found damaged on disk (checksum mismatch, truncated, metadata missing)
    /// and moved aside.
    pub quarantined_count: IntCounter,
    /// Mountpaths in service (set at scrape time).
    pub mountpaths_available: IntGauge,
    /// Mountpaths disabled, by the admin or the health checker (set at scrape time).
    pub mountpaths_disabled: IntGauge,
    /// Bytes of chunk buffers requests may hold at once (set at scrape time).
    pub buffer_budget_bytes: IntGauge,
    /// Shared protection counters.
    pub guard: GuardMetrics,
    /// Cluster maps refused for another cluster UUID or a caller that is not the primary.
    pub err_integrity_count: IntCounter,
}

/// Counters of refused requests and connections, on every node.
#[derive(Clone)]
pub struct GuardMetrics {
    /// Connections turned away at the connection limit.
    pub conn_rejected_count: IntCounter,
    /// Requests refused: unsigned or badly signed intra-cluster requests, control
    /// endpoints on a public port, unsigned direct access.
    pub err_forbidden_count: IntCounter,
    /// Requests refused for a missing, invalid or insufficient token.
    pub err_auth_count: IntCounter,
}

impl GuardMetrics {
    fn new(series: &Series) -> GuardMetrics {
        GuardMetrics {
            conn_rejected_count: series.counter(
                "conn_rejected_count",
                "connections turned away at the connection limit",
            ),
            err_forbidden_count: series.counter(
                "err_forbidden_count",
                "requests refused: unsigned intra-cluster calls, control endpoints on the public port, direct access without a signed redirect",
            ),
            err_auth_count: series.counter(
                "err_auth_count",
                "requests refused for a missing, invalid or insufficient token",
            ),
        }
    }
}

impl TargetMetrics {
    /// Registers every series for node `node_id`.
    pub fn new(node_id: &str) -> TargetMetrics {
        let series = Series::new("target", node_id);
        let counter = |name: &str, help: &str| series.counter(name, help);
        TargetMetrics {
            get_count: counter("get_count", "successful object GETs"),
            put_count: counter("put_count", "successful object PUTs"),
            head_count: counter("head_count", "successful object HEADs"),
            del_count: counter("del_count", "successful object DELETEs"),
            lst_count: counter("lst_count", "list-objects pages served"),
            get_bytes: counter("get_bytes", "bytes sent by GETs"),
            put_bytes: counter("put_bytes", "bytes stored by PUTs"),
            get_ns_total: counter("get_ns_total", "total GET latency, nanoseconds"),
            put_ns_total: counter("put_ns_total", "total PUT latency, nanoseconds"),
            head_ns_total: counter("head_ns_total", "total HEAD latency, nanoseconds"),
            err_get_count: counter("err_get_count", "failed GETs"),
            err_put_count: counter("err_put_count", "failed PUTs"),
            err_head_count: counter("err_head_count", "failed HEADs"),
            err_del_count: counter("err_del_count", "failed DELETEs"),
            err_lst_count: counter("err_lst_count", "failed list-objects pages"),
            err_cksum_count: counter("err_cksum_count", "checksum mismatches"),
            err_integrity_count: counter(
                "err_integrity_count",
                "cluster maps refused: another cluster UUID, or not from the primary",
            ),
            reb_tx_count: counter("reb_tx_count", "objects sent to their owners by rebalance"),
            reb_tx_size: counter("reb_tx_size", "bytes sent to their owners by rebalance"),
            reb_rx_count: counter("reb_rx_count", "objects received from other targets"),
            reb_rx_size: counter("reb_rx_size", "bytes received from other targets"),
            err_reb_count: counter("err_reb_count", "objects a rebalance walk could not move"),
            gfn_count: counter(
                "gfn_count",
                "objects fetched from a previous owner to answer a request",
            ),
            err_fshc_count: counter(
                "err_fshc_count",
                "mountpaths disabled by the filesystem health checker",
            ),
            copy_tx_count: counter(
                "copy_tx_count",
                "copies given to other targets by PUTs and healing, for buckets that keep copies",
            ),
            err_copy_count: counter("err_copy_count", "PUTs failed because a copy could not be made"),
            copy_shared_machine_count: counter(
                "copy_shared_machine_count",
                "objects placed with two copies on one machine: the map has fewer machines than copies",
            ),
            mirror_copy_count: counter(
                "mirror_copy_count",
                "mirror copies made on other mountpaths of this target by PUTs",
            ),
            ec_slice_tx_count: counter(
                "ec_slice_tx_count",
                "erasure-coded slices given to other targets by PUTs and healing",
            ),
            ec_slices_repaired_count: counter(
                "ec_slices_repaired_count",
                "slices given again by healing: missing, or of another version or index",
            ),
            ec_rebuilt_count: counter(
                "ec_rebuilt_count",
                "objects rebuilt from erasure-coded slices because no whole copy was found",
            ),
            heal_degraded_count: counter(
                "heal_degraded_count",
                "objects healing found short of a copy or slice, counted by the holder that gave it",
            ),
            ec_lost_count: counter(
                "ec_lost_count",
                "objects found with some slices but fewer than D and no whole copy: unreadable",
            ),
            quarantined_count: counter(
                "quarantined_count",
                "objects found damaged on disk (bitrot, truncated, metadata lost) and moved aside",
            ),
            mountpaths_available: series.gauge("mountpaths_available", "mountpaths in service"),
            mountpaths_disabled: series.gauge(
                "mountpaths_disabled",
                "mountpaths disabled by the admin or the filesystem health checker",
            ),
            buffer_budget_bytes: series.gauge(
                "buffer_budget_bytes",
                "bytes of chunk buffers requests may hold at once (automatic: follows the mountpaths)",
            ),
            guard: GuardMetrics::new(&series),
            disk_read_bytes: series.per_mountpath_counter(
                "disk_read_bytes",
                "GET bytes read by the mountpath's disk threads",
            ),
            cache_read_bytes: series.per_mountpath_counter(
                "cache_read_bytes",
                "GET bytes of the mountpath served from the page cache without its disk threads",
            ),
            disk_write_bytes: series.per_mountpath_counter(
                "disk_write_bytes",
                "bytes written to the mountpath by PUTs",
            ),
            disk_queue_depth: series
                .per_mountpath_gauge("disk_queue_depth", "disk operations queued or in flight"),
            series: series.clone(),
        }
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> Vec<u8> {
        self.series.render()
    }

    /// Every series under AIStore's tracker names (`get.n`, `put.size`, ...).
    pub fn tracker(&self) -> serde_json::Map<String, serde_json::Value> {
        self.series.tracker()
    }
}

/// A node's registry: every series named `ais_<subsystem>_<name>` with label `node_id`.
#[derive(Clone)]
struct Series {
    registry: Registry,
    subsystem: &'static str,
}

impl Series {
    fn new(subsystem: &'static str, node_id: &str) -> Series {
        let labels = [("node_id".to_string(), node_id.to_string())].into();
        let registry = Registry::new_custom(Some("ais".into()), Some(labels)).unwrap_or_default();
        Series {
            registry,
            subsystem,
        }
    }

    fn opts(&self, name: &str, help: &str) -> Opts {
        Opts::new(name, help).subsystem(self.subsystem)
    }

    fn add<C: prometheus::core::Collector + Clone + 'static>(&self, c: C) -> C {
        let _ = self.registry.register(Box::new(c.clone()));
        c
    }

    fn counter(&self, name: &str, help: &str) -> IntCounter {
        self.add(
            IntCounter::with_opts(self.opts(name, help))
                .unwrap_or_else(|_| unreachable_metric(name)),
        )
    }

    fn gauge(&self, name: &str, help: &str) -> IntGauge {
        self.add(
            IntGauge::with_opts(self.opts(name, help)).unwrap_or_else(|_| unreachable_metric(name)),
        )
    }

    fn per_mountpath_counter(&self, name: &str, help: &str) -> IntCounterVec {
        let c = IntCounterVec::new(self.opts(name, help), &["mountpath"]);
        self.add(c.unwrap_or_else(|_| unreachable_metric(name)))
    }

    fn per_mountpath_gauge(&self, name: &str, help: &str) -> IntGaugeVec {
        let g = IntGaugeVec::new(self.opts(name, help), &["mountpath"]);
        self.add(g.unwrap_or_else(|_| unreachable_metric(name)))
    }

    /// AIStore's `tracker` of a node status: `{"get.n": {"v": "12"}, ...}`; a series per
    /// mountpath shows as `<name>.<mountpath>`.
    fn tracker(&self) -> serde_json::Map<String, serde_json::Value> {
        use prometheus::proto::MetricType;
        let prefix = format!("ais_{}_", self.subsystem);
        let mut out = serde_json::Map::new();
        for family in self.registry.gather() {
            let Some(base) = family.name().strip_prefix(&prefix) else {
                continue;
            };
            let name = tracker_name(base);
            for m in family.get_metric() {
                let v = match family.get_field_type() {
                    MetricType::COUNTER => m.get_counter().get_value(),
                    MetricType::GAUGE => m.get_gauge().get_value(),
                    _ => continue,
                };
                let key = match m.get_label().iter().find(|l| l.name() == "mountpath") {
                    Some(l) => format!("{name}.{}", l.value()),
                    None => name.clone(),
                };
                out.insert(key, serde_json::json!({"v": (v as i64).to_string()}));
            }
        }
        out
    }

    fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// `get_count` -> `get.n`, `put_bytes` -> `put.size`, `get_ns_total` -> `get.ns.total`,
/// `reb_tx_size` -> `reb.tx.size`: AIStore's names for the same counters.
fn tracker_name(base: &str) -> String {
    let stem = base
        .strip_suffix("_count")
        .map(|s| format!("{s}.n"))
        .or_else(|| base.strip_suffix("_bytes").map(|s| format!("{s}.size")))
        .unwrap_or_else(|| base.to_string());
    stem.replace('_', ".")
}

fn unreachable_metric(name: &str) -> ! {
    panic!("metric {name}: invalid static definition")
}

/// The proxy's counters (`ais_proxy_*`): requests it redirected or served.
#[derive(Clone)]
pub struct ProxyMetrics {
    series: Series,
    /// GETs redirected to a target.
    pub get_count: IntCounter,
    /// PUTs redirected to a target.
    pub put_count: IntCounter,
    /// Object HEADs redirected to a target.
    pub head_count: IntCounter,
    /// DELETEs redirected to a target.
    pub del_count: IntCounter,
    /// List-objects pages merged and served.
    pub lst_count: IntCounter,
    /// Requests answered with an error.
    pub err_count: IntCounter,
    /// Targets removed from the map for missing keepalives.
    pub target_removed_count: IntCounter,
    /// Cluster map version (set at scrape time).
    pub smap_version: IntGauge,
    /// Targets in the map (set at scrape time).
    pub targets: IntGauge,
    /// Shared protection counters.
    pub guard: GuardMetrics,
}

impl ProxyMetrics {
    /// Counts an object request the proxy sends on (redirect or forward) by its method.
    pub fn count_object_request(&self, method: &http::Method) {
        match *method {
            http::Method::GET => self.get_count.inc(),
            http::Method::PUT => self.put_count.inc(),
            http::Method::HEAD => self.head_count.inc(),
            http::Method::DELETE => self.del_count.inc(),
            _ => {}
        }
    }

    /// Registers every series for proxy `node_id`.
    pub fn new(node_id: &str) -> ProxyMetrics {
        let series = Series::new("proxy", node_id);
        let counter = |name: &str, help: &str| series.counter(name, help);
        let gauge = |name: &str, help: &str| series.gauge(name, help);
        ProxyMetrics {
            get_count: counter("get_count", "GETs redirected to a target"),
            put_count: counter("put_count", "PUTs redirected to a target"),
            head_count: counter("head_count", "object HEADs redirected to a target"),
            del_count: counter("del_count", "DELETEs redirected to a target"),
            lst_count: counter("lst_count", "list-objects pages served"),
            err_count: counter("err_count", "requests answered with an error"),
            target_removed_count: counter(
                "target_removed_count",
                "targets removed for missed keepalives",
            ),
            smap_version: gauge("smap_version", "cluster map version"),
            targets: gauge("targets", "targets in the cluster map"),
            guard: GuardMetrics::new(&series),
            series: series.clone(),
        }
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> Vec<u8> {
        self.series.render()
    }

    /// Every series under AIStore's tracker names (`get.n`, `put.size`, ...).
    pub fn tracker(&self) -> serde_json::Map<String, serde_json::Value> {
        self.series.tracker()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_get_aistore_tracker_names() {
        for (ours, theirs) in [
            ("get_count", "get.n"),
            ("err_get_count", "err.get.n"),
            ("put_bytes", "put.size"),
            ("get_ns_total", "get.ns.total"),
            ("reb_tx_size", "reb.tx.size"),
            ("mountpaths_available", "mountpaths.available"),
        ] {
            assert_eq!(tracker_name(ours), theirs);
        }
        let m = TargetMetrics::new("t1");
        m.get_count.inc_by(3);
        m.disk_read_bytes.with_label_values(&["/mp1"]).inc_by(7);
        let t = m.tracker();
        assert_eq!(t["get.n"]["v"], "3");
        assert_eq!(t["disk.read.size./mp1"]["v"], "7");
    }
}
