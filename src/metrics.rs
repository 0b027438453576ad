//! Prometheus metrics with AIStore's names (`ais_target_*`, `ais_proxy_*`), labelled with `node_id`.

use prometheus::{
    Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The target's counters.
#[derive(Clone)]
pub struct TargetMetrics {
    registry: Registry,
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
    /// Disk write bytes per mountpath.
    pub disk_write_bytes: IntCounterVec,
    /// Disk operations queued or in flight per mountpath (set at scrape time).
    pub disk_queue_depth: IntGaugeVec,
}

impl TargetMetrics {
    /// Registers every series for node `node_id`.
    pub fn new(node_id: &str) -> TargetMetrics {
        let registry = Registry::new_custom(
            Some("ais".into()),
            Some([("node_id".to_string(), node_id.to_string())].into()),
        )
        .unwrap_or_default();
        let counter = |name: &str, help: &str| {
            let c = IntCounter::with_opts(Opts::new(name, help).subsystem("target"))
                .unwrap_or_else(|_| unreachable_metric(name));
            let _ = registry.register(Box::new(c.clone()));
            c
        };
        let per_mountpath = |name: &str, help: &str| {
            let c = IntCounterVec::new(Opts::new(name, help).subsystem("target"), &["mountpath"])
                .unwrap_or_else(|_| unreachable_metric(name));
            let _ = registry.register(Box::new(c.clone()));
            c
        };
        let queue = IntGaugeVec::new(
            Opts::new("disk_queue_depth", "disk operations queued or in flight")
                .subsystem("target"),
            &["mountpath"],
        )
        .unwrap_or_else(|_| unreachable_metric("disk_queue_depth"));
        let _ = registry.register(Box::new(queue.clone()));
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
            disk_read_bytes: per_mountpath(
                "disk_read_bytes",
                "bytes read from the mountpath by GETs",
            ),
            disk_write_bytes: per_mountpath(
                "disk_write_bytes",
                "bytes written to the mountpath by PUTs",
            ),
            disk_queue_depth: queue,
            registry,
        }
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

fn unreachable_metric(name: &str) -> ! {
    panic!("metric {name}: invalid static definition")
}

/// The proxy's counters (`ais_proxy_*`): requests it redirected or served.
#[derive(Clone)]
pub struct ProxyMetrics {
    registry: Registry,
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
}

impl ProxyMetrics {
    /// Registers every series for proxy `node_id`.
    pub fn new(node_id: &str) -> ProxyMetrics {
        let registry = Registry::new_custom(
            Some("ais".into()),
            Some([("node_id".to_string(), node_id.to_string())].into()),
        )
        .unwrap_or_default();
        let counter = |name: &str, help: &str| {
            let c = IntCounter::with_opts(Opts::new(name, help).subsystem("proxy"))
                .unwrap_or_else(|_| unreachable_metric(name));
            let _ = registry.register(Box::new(c.clone()));
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::with_opts(Opts::new(name, help).subsystem("proxy"))
                .unwrap_or_else(|_| unreachable_metric(name));
            let _ = registry.register(Box::new(g.clone()));
            g
        };
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
            registry,
        }
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}
