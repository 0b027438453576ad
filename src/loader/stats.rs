//! Counters and latency histograms per operation, the per-interval lines in aisloader's
//! layout, and the final table (or JSON).

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// An operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Object PUT.
    Put,
    /// Object GET.
    Get,
}

impl Op {
    /// Upper-case name, as aisloader prints it.
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "PUT",
            Op::Get => "GET",
        }
    }
}

/// Counts and latencies of one operation over some period.
#[derive(Debug, Clone)]
pub struct OpStats {
    /// Successful operations.
    pub count: u64,
    /// Failed operations.
    pub errors: u64,
    /// Bytes moved by successful operations.
    pub bytes: u64,
    /// Items read by successful operations (a GetBatch reads many in one).
    pub items: u64,
    hist: Histogram<u64>,
}

impl Default for OpStats {
    fn default() -> Self {
        OpStats {
            count: 0,
            errors: 0,
            bytes: 0,
            items: 0,
            // Microseconds from 1 µs to 10 minutes, 3 significant digits.
            hist: Histogram::new_with_bounds(1, 600_000_000, 3)
                .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!())),
        }
    }
}

impl OpStats {
    /// Records one success.
    pub fn record(&mut self, latency: Duration, bytes: u64) {
        self.record_items(latency, bytes, 1);
    }

    /// Records one success that read `items` items.
    pub fn record_items(&mut self, latency: Duration, bytes: u64, items: u64) {
        self.count += 1;
        self.bytes += bytes;
        self.items += items;
        let us = (latency.as_micros() as u64).clamp(1, 600_000_000);
        let _ = self.hist.record(us);
    }

    /// Records one failure.
    pub fn error(&mut self) {
        self.errors += 1;
    }

    /// Adds another period's numbers.
    pub fn merge(&mut self, other: &OpStats) {
        self.count += other.count;
        self.errors += other.errors;
        self.bytes += other.bytes;
        self.items += other.items;
        let _ = self.hist.add(&other.hist);
    }

    /// Latency at a percentile (0..=100), microseconds.
    pub fn percentile_us(&self, p: f64) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.hist.value_at_percentile(p)
        }
    }

    /// Summary over `secs` seconds.
    pub fn summary(&self, op: Op, secs: f64) -> Summary {
        let secs = secs.max(1e-9);
        let empty = self.count == 0;
        Summary {
            op,
            count: self.count,
            errors: self.errors,
            bytes: self.bytes,
            seconds: secs,
            mib_per_sec: self.bytes as f64 / (1 << 20) as f64 / secs,
            ops_per_sec: self.count as f64 / secs,
            items: self.items,
            items_per_sec: self.items as f64 / secs,
            latency_us: Latency {
                min: if empty { 0 } else { self.hist.min() },
                avg: if empty { 0.0 } else { self.hist.mean() },
                p50: self.percentile_us(50.0),
                p90: self.percentile_us(90.0),
                p99: self.percentile_us(99.0),
                p999: self.percentile_us(99.9),
                max: if empty { 0 } else { self.hist.max() },
            },
        }
    }
}

/// Latency figures, microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    /// Smallest.
    pub min: u64,
    /// Mean.
    pub avg: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

/// One operation's results.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Operation.
    pub op: Op,
    /// Successes.
    pub count: u64,
    /// Failures.
    pub errors: u64,
    /// Bytes.
    pub bytes: u64,
    /// Period length.
    pub seconds: f64,
    /// Throughput, MiB/s.
    pub mib_per_sec: f64,
    /// Operations per second.
    pub ops_per_sec: f64,
    /// Items read (more than `count` with GetBatch).
    pub items: u64,
    /// Items per second.
    pub items_per_sec: f64,
    /// Latencies.
    pub latency_us: Latency,
}

fn fmt_us(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{:.2}s", us / 1e6)
    } else if us >= 1000.0 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{us:.0}µs")
    }
}

fn fmt_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.2}{}", UNITS[u])
}

/// The header of the per-interval lines.
pub fn interval_header() -> String {
    format!(
        "{:<10} {:<4} {:>10} {:>22} {:>34} {:>20} {:>15}",
        "Time",
        "OP",
        "Count",
        "Size (Total)",
        "Latency (min, avg, max)",
        "Throughput (Avg)",
        "Errors (Total)"
    )
}

/// One per-interval line: this interval's numbers with running totals in parentheses.
pub fn interval_line(
    elapsed: Duration,
    op: Op,
    interval: &OpStats,
    total: &OpStats,
    total_secs: f64,
) -> String {
    let s = interval.summary(op, 1.0);
    let t = total.summary(op, total_secs);
    format!(
        "{:<10} {:<4} {:>10} {:>22} {:>34} {:>20} {:>15}",
        format!("{:.0}s", elapsed.as_secs_f64()),
        op.name(),
        format!("{} ({})", interval.count, total.count),
        format!(
            "{} ({})",
            fmt_bytes(interval.bytes as f64),
            fmt_bytes(total.bytes as f64)
        ),
        format!(
            "{}, {}, {}",
            fmt_us(s.latency_us.min as f64),
            fmt_us(s.latency_us.avg),
            fmt_us(s.latency_us.max as f64)
        ),
        format!("{}/s", fmt_bytes(t.mib_per_sec * (1 << 20) as f64)),
        format!("{} ({})", interval.errors, total.errors),
    )
}

/// The final table: one row per operation that ran.
pub fn final_table(rows: &[Summary]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<4} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "OP", "Count", "Errors", "MiB/s", "ops/s", "p50", "p90", "p99", "p99.9", "max"
    );
    for r in rows {
        let l = &r.latency_us;
        let _ = writeln!(
            out,
            "{:<4} {:>10} {:>8} {:>10.1} {:>10.1} {:>10} {:>10} {:>10} {:>10} {:>10}",
            r.op.name(),
            r.count,
            r.errors,
            r.mib_per_sec,
            r.ops_per_sec,
            fmt_us(l.p50 as f64),
            fmt_us(l.p90 as f64),
            fmt_us(l.p99 as f64),
            fmt_us(l.p999 as f64),
            fmt_us(l.max as f64)
        );
        if r.items != r.count {
            let _ = writeln!(
                out,
                "{:<4} {} items in {} batches: {:.1} items/s",
                r.op.name(),
                r.items,
                r.count,
                r.items_per_sec
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_known_samples() {
        let mut s = OpStats::default();
        for ms in 1..=1000u64 {
            s.record(Duration::from_micros(ms * 1000), 1 << 20);
        }
        s.error();
        let sum = s.summary(Op::Get, 10.0);
        assert_eq!(sum.count, 1000);
        assert_eq!(sum.errors, 1);
        assert!((sum.mib_per_sec - 100.0).abs() < 1e-9);
        assert!((sum.ops_per_sec - 100.0).abs() < 1e-9);
        let within = |got: u64, want: u64| (got as f64 - want as f64).abs() / want as f64 <= 0.001;
        assert!(
            within(sum.latency_us.p50, 500_000),
            "{}",
            sum.latency_us.p50
        );
        assert!(
            within(sum.latency_us.p90, 900_000),
            "{}",
            sum.latency_us.p90
        );
        assert!(
            within(sum.latency_us.p99, 990_000),
            "{}",
            sum.latency_us.p99
        );
        // 99.9% of 1000 samples is 999.0000000000001 in floating point: the 999th or 1000th.
        assert!(
            within(sum.latency_us.p999, 999_000) || within(sum.latency_us.p999, 1_000_000),
            "{}",
            sum.latency_us.p999
        );
        assert!(within(sum.latency_us.max, 1_000_000));
        assert!(within(sum.latency_us.min, 1000));
        assert!((sum.latency_us.avg - 500_500.0).abs() / 500_500.0 < 0.001);
    }

    #[test]
    fn merge_adds_up() {
        let (mut a, mut b) = (OpStats::default(), OpStats::default());
        a.record(Duration::from_millis(1), 10);
        b.record(Duration::from_millis(3), 30);
        b.error();
        a.merge(&b);
        assert_eq!((a.count, a.bytes, a.errors), (2, 40, 1));
        assert_eq!(a.summary(Op::Put, 1.0).latency_us.max / 1000, 3);
    }

    #[test]
    fn output_layout() {
        let mut s = OpStats::default();
        s.record(Duration::from_micros(1500), 2 << 20);
        let line = interval_line(Duration::from_secs(10), Op::Put, &s, &s, 10.0);
        assert!(line.starts_with("10s"), "{line}");
        assert!(
            line.contains("PUT") && line.contains("1 (1)") && line.contains("2.00MiB (2.00MiB)"),
            "{line}"
        );
        assert!(line.contains("1.50ms, 1.50ms, 1.50ms"), "{line}");
        assert!(line.contains("0 (0)"), "{line}");
        assert_eq!(interval_header().split_whitespace().next(), Some("Time"));
        let table = final_table(&[s.summary(Op::Put, 1.0)]);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].contains("MiB/s") && rows[0].contains("p99.9"));
        assert!(
            rows[1].starts_with("PUT") && rows[1].contains("2.0"),
            "{table}"
        );
    }
}
