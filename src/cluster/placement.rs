//! Where the pieces of one object go (its replicas, or its erasure-coded slices): the
//! HRW owner first, then the next targets by HRW weight, each on a failure domain (a
//! machine, `Snode::node_name`) not used yet, so losing one machine loses at most one
//! piece. Only when the map has fewer machines than pieces do the rest share machines,
//! by weight again, and the placement says so. Pure: every node computes the same
//! answer from the same map.

use std::collections::{HashMap, HashSet};

use super::smap::{Smap, Snode};
use crate::hrw;

/// The targets of an object's pieces, in piece order (the first is the HRW owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement<'a> {
    /// One target per piece; fewer than asked when the map has fewer active targets.
    pub targets: Vec<&'a Snode>,
    /// Some pieces share a machine: the map has fewer machines than pieces.
    pub shares_domains: bool,
}

/// The targets of `n` pieces of `bucket/object` under `smap`.
pub fn place<'a>(smap: &'a Smap, bucket: &str, object: &str, n: usize) -> Placement<'a> {
    Placer::new(smap.active_targets().collect()).place(hrw::object_digest(bucket, object), n)
}

/// How many machines the active targets of `smap` run on.
pub fn domains(smap: &Smap) -> usize {
    let names: HashSet<&str> = smap.active_targets().map(|t| t.failure_domain()).collect();
    names.len()
}

/// A map's active targets, ready to place many objects (what depends only on the map is
/// worked out once).
pub struct Placer<'a> {
    targets: Vec<&'a Snode>,
    /// Each target's machine, numbered.
    domain: Vec<u32>,
    /// The most targets any one machine runs.
    per_domain: usize,
}

impl<'a> Placer<'a> {
    /// `active` in map order, as `hrw::select` sees them.
    pub fn new(active: Vec<&'a Snode>) -> Placer<'a> {
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let mut count: Vec<usize> = Vec::new();
        let domain = active
            .iter()
            .map(|t| {
                let next = ids.len() as u32;
                let d = *ids.entry(t.failure_domain()).or_insert(next);
                if d as usize == count.len() {
                    count.push(0);
                }
                count[d as usize] += 1;
                d
            })
            .collect();
        Placer {
            per_domain: count.into_iter().max().unwrap_or(1),
            targets: active,
            domain,
        }
    }

    /// The targets of `n` pieces of the object with digest `digest`.
    pub fn place(&self, digest: u64, n: usize) -> Placement<'a> {
        let n = n.min(self.targets.len());
        if n == 0 {
            return Placement {
                targets: Vec::new(),
                shares_domains: false,
            };
        }
        // Heaviest first; on equal weight the later target wins, as in `hrw::select`.
        let mut ranked: Vec<(u64, usize)> = self
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| (hrw::mix(t.id_digest ^ digest), i))
            .collect();
        let heavier = |a: &(u64, usize), b: &(u64, usize)| b.cmp(a);
        // Only the heaviest few can be chosen: n pieces over at most `per_domain` targets
        // a machine need no more than n * per_domain candidates (selecting them is O(map),
        // instead of sorting the whole map for every object).
        let keep = n.saturating_mul(self.per_domain).min(ranked.len());
        if keep < ranked.len() {
            ranked.select_nth_unstable_by(keep - 1, heavier);
            ranked.truncate(keep);
        }
        ranked.sort_unstable_by(heavier);
        let mut targets = Vec::with_capacity(n);
        let mut taken = vec![false; ranked.len()];
        let mut used: Vec<u32> = Vec::with_capacity(n);
        for (k, &(_, i)) in ranked.iter().enumerate() {
            if targets.len() == n {
                break;
            }
            if !used.contains(&self.domain[i]) {
                used.push(self.domain[i]);
                targets.push(self.targets[i]);
                taken[k] = true;
            }
        }
        let shares_domains = targets.len() < n;
        for (k, &(_, i)) in ranked.iter().enumerate() {
            if targets.len() == n {
                break;
            }
            if !taken[k] {
                targets.push(self.targets[i]);
            }
        }
        Placement {
            targets,
            shares_domains,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map of `machines` x `per` targets, target `m{i}t{j}` on machine `n{i}`.
    fn map(machines: usize, per: usize) -> Smap {
        let mut smap = Smap::new(
            Snode::new("p", "proxy", "http://h:1"),
            "u".into(),
            "t".into(),
        );
        for i in 0..machines {
            for j in 0..per {
                let id = format!("m{i}t{j}");
                let node = Snode::new(&id, "target", "http://h:2").on_node(&format!("n{i}"));
                smap.tmap.insert(id, node);
            }
        }
        smap
    }

    #[test]
    fn owner_first_then_distinct_machines() {
        let smap = map(3, 2);
        for k in 0..2000 {
            let name = format!("obj-{k}");
            let p = place(&smap, "b", &name, 3);
            assert_eq!(p.targets.len(), 3);
            assert!(!p.shares_domains);
            assert_eq!(
                p.targets[0].daemon_id,
                smap.owner("b", &name).unwrap().daemon_id
            );
            let machines: HashSet<&str> = p.targets.iter().map(|t| t.node_name.as_str()).collect();
            assert_eq!(machines.len(), 3, "{name}: {:?}", p.targets);
        }
    }

    #[test]
    fn more_pieces_than_machines_share_and_say_so() {
        let smap = map(2, 3);
        let p = place(&smap, "b", "o", 4);
        assert_eq!(p.targets.len(), 4);
        assert!(p.shares_domains);
        let ids: HashSet<&str> = p.targets.iter().map(|t| t.daemon_id.as_str()).collect();
        assert_eq!(ids.len(), 4, "distinct targets still");
        // The first two are on distinct machines.
        assert_ne!(p.targets[0].node_name, p.targets[1].node_name);
        // Asking for more than there are targets gives every target once.
        assert_eq!(place(&smap, "b", "o", 9).targets.len(), 6);
        assert!(place(&map(0, 0), "b", "o", 2).targets.is_empty());
    }

    #[test]
    fn without_machine_names_every_target_is_its_own_domain() {
        let mut smap = map(1, 4);
        for t in smap.tmap.values_mut() {
            t.node_name.clear();
        }
        let p = place(&smap, "b", "o", 3);
        assert!(!p.shares_domains);
        assert_eq!(p.targets.len(), 3);
        assert_eq!(domains(&smap), 4);
    }

    #[test]
    fn a_lost_machine_keeps_the_other_pieces_in_place() {
        // Pieces on surviving machines stay where they were: HRW order among the rest
        // is unchanged, so a reader finds them where the writer put them.
        let full = map(4, 2);
        let mut less = full.clone();
        less.tmap.retain(|_, t| t.node_name != "n0");
        let (mut kept, mut total) = (0, 0);
        for k in 0..3000 {
            let name = format!("o{k}");
            let before = place(&full, "b", &name, 2);
            let after = place(&less, "b", &name, 2);
            for t in before.targets.iter().filter(|t| t.node_name != "n0") {
                total += 1;
                kept += usize::from(after.targets.iter().any(|a| a.daemon_id == t.daemon_id));
            }
        }
        assert_eq!(
            kept, total,
            "every surviving piece is still placed where it is"
        );
    }
}
