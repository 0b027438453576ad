//! Placement at scales this machine cannot run, over the real placement code and no I/O:
//! where an object's pieces (the whole object on its owner and its D+P EC slices) go in a
//! cluster of M machines x T targets, and how many move when a machine joins or leaves.
//!
//! `cargo bench --bench placement [-- OBJECTS]` (default 1,000,000 objects; 300 when
//! `cargo test` runs it) prints, per
//! layout: pieces per target (max / mean), objects with two pieces on one machine (with
//! node names: must be 0), the share of pieces that move when a machine joins and when
//! one leaves (plain HRW moves about 1/M), and, without node names (every target its own
//! failure domain, as AIStore places slices), how many objects one machine's loss leaves
//! without their whole copy and with fewer than D slices: unreadable.

use std::collections::{HashMap, HashSet};

use aisnode::cluster::placement::Placer;
use aisnode::cluster::Snode;
use aisnode::hrw;

fn targets(machines: std::ops::Range<usize>, per: usize, named: bool) -> Vec<Snode> {
    let mut out = Vec::new();
    for m in machines {
        for t in 0..per {
            let id = format!("m{m}t{t}");
            let node = Snode::new(&id, "target", "http://h:1");
            out.push(if named {
                node.on_node(&format!("m{m}"))
            } else {
                node
            });
        }
    }
    // The map's order (a BTreeMap by ID), which placement ties follow.
    out.sort_by(|a, b| a.daemon_id.cmp(&b.daemon_id));
    out
}

fn machine(id: &str) -> &str {
    &id[..id.find('t').unwrap_or(id.len())]
}

/// Pieces of each object: target IDs in piece order.
fn layout(ts: &[Snode], objects: usize, pieces: usize) -> Vec<Vec<String>> {
    let placer = Placer::new(ts.iter().collect());
    (0..objects)
        .map(|i| {
            let digest = hrw::object_digest("bench", &format!("obj-{i}"));
            placer
                .place(digest, pieces)
                .targets
                .iter()
                .map(|t| t.daemon_id.clone())
                .collect()
        })
        .collect()
}

/// Share of (object, target) pieces of `after` that were not there in `before`.
fn moved(before: &[Vec<String>], after: &[Vec<String>]) -> f64 {
    let (mut moved, mut total) = (0usize, 0usize);
    for (b, a) in before.iter().zip(after) {
        let was: HashSet<&String> = b.iter().collect();
        total += a.len();
        moved += a.iter().filter(|t| !was.contains(t)).count();
    }
    moved as f64 / total.max(1) as f64
}

fn report(machines: usize, per: usize, data: usize, parity: usize, objects: usize, sliced: bool) {
    // Sliced (an object at or above the size limit): the whole object on its owner, then
    // D+P slices. Else P+1 whole copies, any one of which serves.
    let pieces = if sliced {
        data + parity + 1
    } else {
        parity + 1
    };
    let started = std::time::Instant::now();
    let ts = targets(0..machines, per, true);
    let base = layout(&ts, objects, pieces);
    let mut load: HashMap<&str, usize> = HashMap::new();
    let shares = |l: &[Vec<String>]| {
        l.iter()
            .filter(|o| {
                let mut seen = HashSet::new();
                !o.iter().all(|t| seen.insert(machine(t)))
            })
            .count()
    };
    let shared = shares(&base);
    for obj in &base {
        for t in obj {
            *load.entry(t.as_str()).or_default() += 1;
        }
    }
    let max = load.values().copied().max().unwrap_or(0);
    let mean = (objects * pieces) as f64 / ts.len() as f64;
    let joined = layout(&targets(0..machines + 1, per, true), objects, pieces);
    let left = layout(&targets(1..machines, per, true), objects, pieces);
    // Without node names: objects that lose their whole copy and keep fewer than D slices
    // when machine 0 goes.
    let blind = layout(&targets(0..machines, per, false), objects, pieces);
    let lost = |l: &[Vec<String>]| {
        l.iter()
            .filter(|o| {
                let left = o.iter().filter(|t| machine(t) != "m0").count();
                let whole_lost = o.first().is_some_and(|t| machine(t) == "m0");
                let slices_left = o.iter().skip(1).filter(|t| machine(t) != "m0").count();
                if sliced {
                    whole_lost && slices_left < data
                } else {
                    left == 0
                }
            })
            .count()
    };
    let what = if sliced {
        format!("EC {data}+{parity} sliced ({pieces} pieces)")
    } else {
        format!("EC {data}+{parity} replicated ({pieces} copies)")
    };
    println!(
        "{machines:>3} machines x {per} targets, {what}, {objects} objects: pieces/target max {max} mean {mean:.1} ({:.3}x); \
         objects with 2 pieces on one machine: {shared} ({} without node names); moved on a join {:.4} (1/M = {:.4}), on a leave {:.4}; \
         unreadable after machine m0 is lost: {} with node names, {} ({:.3}%) without; {:.1} s",
        max as f64 / mean,
        shares(&blind),
        moved(&base, &joined),
        1.0 / (machines + 1) as f64,
        moved(&base, &left),
        lost(&base),
        lost(&blind),
        100.0 * lost(&blind) as f64 / objects as f64,
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this too, without it:
    // then a quick pass over 300 objects, so the tests check it still runs.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let objects: usize =
        args.iter()
            .find_map(|a| a.parse().ok())
            .unwrap_or(if full { 1_000_000 } else { 300 });
    report(100, 8, 4, 2, objects, true);
    report(3, 2, 1, 1, objects, false);
    report(3, 2, 1, 1, objects, true);
    report(3, 2, 2, 1, objects, true);
}
