//! The control-plane state the proxies replicate (cluster map and bucket list) and the
//! commands that change it. Applying a command is a pure function of the state, so
//! every proxy that applies the same log holds the same map, versions included.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::cluster::{Bmd, Smap, Snode};

/// Commands remembered with their outcome, so a proposal resent after its leader died
/// (same `op_id`) is answered, not applied twice.
const REMEMBERED: usize = 1024;

/// One change, as it travels in the Raft log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Unique per change; a resend carries the same one.
    pub op_id: String,
    /// The change.
    pub cmd: Command,
}

/// A change to the cluster map or the bucket list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", content = "arg", rename_all = "snake_case")]
pub enum Command {
    /// The first state of a new cluster (ignored once there is one).
    Init {
        /// Its map (UUID, creation time, the first proxy).
        smap: Box<Smap>,
        /// Its bucket list (empty, or one carried over from a single-proxy state dir).
        bmd: Bmd,
    },
    /// A target joins or moves; its maintenance flags are kept.
    JoinTarget(Box<Snode>),
    /// Sets or clears flags on a target.
    SetFlags {
        /// Target ID.
        id: String,
        /// Bits.
        flags: u64,
        /// Set (true) or clear.
        on: bool,
    },
    /// A target leaves the map.
    RemoveTarget(String),
    /// A proxy joins or moves.
    AddProxy(Box<Snode>),
    /// A proxy leaves the map.
    RemoveProxy(String),
    /// The Raft leader names itself primary.
    SetPrimary(String),
    /// A bucket is created.
    AddBucket {
        /// Name.
        name: String,
        /// Creation time, unix ns.
        created_ns: i64,
    },
    /// A bucket's properties are replaced.
    SetProps {
        /// Bucket.
        name: String,
        /// Properties.
        props: serde_json::Value,
    },
    /// A bucket is renamed.
    RenameBucket {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// A bucket is forgotten.
    RemoveBucket(String),
}

/// What applying a command did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The change was made (false: refused by the state, e.g. a bucket that exists).
    pub done: bool,
    /// Map version after it.
    pub smap_version: u64,
    /// Bucket-list version after it.
    pub bmd_version: u64,
}

/// The replicated state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaState {
    /// The cluster map (empty UUID until `Init`).
    pub smap: Smap,
    /// The bucket list.
    pub bmd: Bmd,
    /// Outcomes of the latest commands, by `op_id`.
    #[serde(default)]
    pub recent: VecDeque<(String, Outcome)>,
}

impl Default for MetaState {
    fn default() -> Self {
        let mut smap = Smap::new(
            Snode::new("", "proxy", "http://unset:0"),
            String::new(),
            String::new(),
        );
        smap.pmap.clear();
        smap.version = 0;
        MetaState {
            smap,
            bmd: Bmd::default(),
            recent: VecDeque::new(),
        }
    }
}

impl MetaState {
    /// Whether `Init` has been applied.
    pub fn initialized(&self) -> bool {
        !self.smap.uuid.is_empty()
    }

    /// Applies `p` (once per `op_id`) and says what it did.
    pub fn apply(&mut self, p: &Proposal) -> Outcome {
        if let Some((_, out)) = self.recent.iter().find(|(id, _)| *id == p.op_id) {
            return out.clone();
        }
        let (map, buckets) = self.change(&p.cmd);
        if map {
            self.smap.version += 1;
        }
        if buckets {
            self.bmd.version += 1;
        }
        let out = Outcome {
            done: map || buckets,
            smap_version: self.smap.version,
            bmd_version: self.bmd.version,
        };
        self.recent.push_back((p.op_id.clone(), out.clone()));
        while self.recent.len() > REMEMBERED {
            self.recent.pop_front();
        }
        out
    }

    /// Makes the change; says whether the map and the bucket list changed.
    fn change(&mut self, cmd: &Command) -> (bool, bool) {
        let (smap, bmd) = (&mut self.smap, &mut self.bmd);
        match cmd {
            Command::Init { smap: s, bmd: b } => {
                if !smap.uuid.is_empty() {
                    return (false, false);
                }
                *smap = (**s).clone();
                *bmd = b.clone();
                // Versions continue from the carried-over ones (targets hold them).
                smap.version = smap.version.saturating_sub(1);
                bmd.version = bmd.version.saturating_sub(1);
                (true, true)
            }
            Command::JoinTarget(node) => {
                let mut node = (**node).clone();
                if let Some(old) = smap.tmap.get(&node.daemon_id) {
                    node.flags = old.flags;
                }
                if smap.tmap.get(&node.daemon_id) == Some(&node) {
                    return (false, false);
                }
                smap.tmap.insert(node.daemon_id.clone(), node);
                (true, false)
            }
            Command::SetFlags { id, flags, on } => {
                let Some(node) = smap.tmap.get_mut(id) else {
                    return (false, false);
                };
                let before = node.flags;
                if *on {
                    node.flags |= flags;
                } else {
                    node.flags &= !flags;
                }
                (node.flags != before, false)
            }
            Command::RemoveTarget(id) => (smap.tmap.remove(id).is_some(), false),
            Command::AddProxy(node) => {
                if smap.pmap.get(&node.daemon_id) == Some(&**node) {
                    return (false, false);
                }
                if smap.proxy_si.daemon_id == node.daemon_id {
                    smap.proxy_si = (**node).clone();
                }
                smap.pmap.insert(node.daemon_id.clone(), (**node).clone());
                (true, false)
            }
            Command::RemoveProxy(id) => {
                // The primary stays until another names itself.
                if smap.proxy_si.daemon_id == *id {
                    return (false, false);
                }
                (smap.pmap.remove(id).is_some(), false)
            }
            Command::SetPrimary(id) => match smap.pmap.get(id) {
                Some(p) if smap.proxy_si != *p => {
                    smap.proxy_si = p.clone();
                    (true, false)
                }
                _ => (false, false),
            },
            Command::AddBucket { name, created_ns } => {
                if bmd.buckets.contains_key(name) {
                    return (false, false);
                }
                bmd.buckets.insert(name.clone(), *created_ns);
                (false, true)
            }
            Command::SetProps { name, props } => {
                if !bmd.buckets.contains_key(name) {
                    return (false, false);
                }
                bmd.props.insert(name.clone(), props.clone());
                (false, true)
            }
            Command::RenameBucket { from, to } => {
                if bmd.buckets.contains_key(to) {
                    return (false, false);
                }
                let Some(created) = bmd.buckets.remove(from) else {
                    return (false, false);
                };
                bmd.buckets.insert(to.clone(), created);
                if let Some(p) = bmd.props.remove(from) {
                    bmd.props.insert(to.clone(), p);
                }
                (false, true)
            }
            Command::RemoveBucket(name) => {
                if bmd.buckets.remove(name).is_none() {
                    return (false, false);
                }
                bmd.props.remove(name);
                (false, true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(op: &str, cmd: Command) -> Proposal {
        Proposal {
            op_id: op.into(),
            cmd,
        }
    }

    fn started() -> MetaState {
        let mut s = MetaState::default();
        let first = Snode::new("p1", "proxy", "http://h:1");
        let smap = Smap::new(first, "uuid-1".into(), "now".into());
        s.apply(&p(
            "init",
            Command::Init {
                smap: Box::new(smap),
                bmd: Bmd::default(),
            },
        ));
        s
    }

    #[test]
    fn init_once_then_versions_move_only_on_change() {
        let mut s = started();
        assert!(s.initialized());
        assert_eq!((s.smap.version, s.bmd.version), (1, 1));
        let again = Smap::new(
            Snode::new("p9", "proxy", "http://h:9"),
            "uuid-2".into(),
            String::new(),
        );
        let out = s.apply(&p(
            "i2",
            Command::Init {
                smap: Box::new(again),
                bmd: Bmd::default(),
            },
        ));
        assert!(!out.done);
        assert_eq!(s.smap.uuid, "uuid-1");
        // (command, map changed, list changed)
        let t1 = Snode::new("t1", "target", "http://h:2");
        let cases: Vec<(Command, bool, bool)> = vec![
            (Command::JoinTarget(Box::new(t1.clone())), true, false),
            (Command::JoinTarget(Box::new(t1.clone())), false, false),
            (
                Command::SetFlags {
                    id: "t1".into(),
                    flags: 4,
                    on: true,
                },
                true,
                false,
            ),
            (
                Command::SetFlags {
                    id: "t1".into(),
                    flags: 4,
                    on: true,
                },
                false,
                false,
            ),
            (
                Command::SetFlags {
                    id: "nope".into(),
                    flags: 4,
                    on: true,
                },
                false,
                false,
            ),
            (
                Command::AddBucket {
                    name: "b".into(),
                    created_ns: 7,
                },
                false,
                true,
            ),
            (
                Command::AddBucket {
                    name: "b".into(),
                    created_ns: 8,
                },
                false,
                false,
            ),
            (
                Command::SetProps {
                    name: "b".into(),
                    props: serde_json::json!({"x": 1}),
                },
                false,
                true,
            ),
            (
                Command::SetProps {
                    name: "zz".into(),
                    props: serde_json::json!({}),
                },
                false,
                false,
            ),
            (
                Command::RenameBucket {
                    from: "b".into(),
                    to: "c".into(),
                },
                false,
                true,
            ),
            (
                Command::RenameBucket {
                    from: "b".into(),
                    to: "c".into(),
                },
                false,
                false,
            ),
            (
                Command::AddProxy(Box::new(Snode::new("p2", "proxy", "http://h:3"))),
                true,
                false,
            ),
            (Command::SetPrimary("p2".into()), true, false),
            (Command::SetPrimary("p2".into()), false, false),
            (Command::SetPrimary("ghost".into()), false, false),
            (Command::RemoveProxy("p2".into()), false, false),
            (Command::RemoveProxy("p1".into()), true, false),
            (Command::RemoveBucket("c".into()), false, true),
            (Command::RemoveBucket("c".into()), false, false),
            (Command::RemoveTarget("t1".into()), true, false),
            (Command::RemoveTarget("t1".into()), false, false),
        ];
        for (i, (cmd, map, list)) in cases.into_iter().enumerate() {
            let before = (s.smap.version, s.bmd.version);
            let out = s.apply(&p(&format!("op{i}"), cmd.clone()));
            let after = (s.smap.version, s.bmd.version);
            assert_eq!(after.0 - before.0, u64::from(map), "{i}: {cmd:?}");
            assert_eq!(after.1 - before.1, u64::from(list), "{i}: {cmd:?}");
            assert_eq!(out.done, map || list, "{i}: {cmd:?}");
        }
        assert_eq!(s.smap.proxy_si.daemon_id, "p2");
        assert!(s.smap.pmap.contains_key("p2") && !s.smap.pmap.contains_key("p1"));
    }

    #[test]
    fn a_resent_proposal_is_answered_not_applied_twice() {
        let mut s = started();
        let add = p(
            "same",
            Command::AddBucket {
                name: "b".into(),
                created_ns: 1,
            },
        );
        let first = s.apply(&add);
        let again = s.apply(&add);
        assert!(first.done);
        assert_eq!(first, again);
        assert_eq!(s.bmd.version, 2);
    }

    #[test]
    fn a_join_keeps_flags_set_by_the_cluster() {
        let mut s = started();
        let t = Snode::new("t1", "target", "http://h:2");
        s.apply(&p("a", Command::JoinTarget(Box::new(t.clone()))));
        s.apply(&p(
            "b",
            Command::SetFlags {
                id: "t1".into(),
                flags: 4,
                on: true,
            },
        ));
        let moved = Snode::new("t1", "target", "http://h:5");
        s.apply(&p("c", Command::JoinTarget(Box::new(moved))));
        assert_eq!(s.smap.tmap["t1"].flags, 4);
        assert_eq!(s.smap.tmap["t1"].url(), "http://h:5");
    }
}
