//! The proxy's view of the cluster state: the map and bucket list as the Raft log has
//! them (read without a lock), changes proposed through Raft (answered once a majority
//! of proxies has them; sent to the primary when this proxy is not it), and what only
//! the primary keeps for itself: when each target was last heard from.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ServerState};
use tokio::sync::Notify;

use crate::cluster::raft::state_machine::Shared;
use crate::cluster::raft::{node_id, Command, NodeId, Outcome, Proposal, Raft};
use crate::cluster::{Bmd, Smap, Snode};
use crate::http::ControlClient;

/// Path of a proposal sent to the primary.
pub const PROPOSE_PATH: &str = "/v1/raft/propose";
/// Path that answers the index of the last change applied.
const APPLIED_PATH: &str = "/v1/raft/applied";
/// How long a proxy asks the primary how far it is before serving from what it has.
const CATCH_UP_ASK: Duration = Duration::from_millis(300);

/// How long a change waits for a primary (an election, a resend after the primary died)
/// before it is refused.
const PROPOSE_WAIT: Duration = Duration::from_secs(6);

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// No primary with a majority behind it could take it.
    #[error("cluster metadata cannot change now: {0}")]
    NoQuorum(String),
}

impl From<StateError> for crate::wire::ApiError {
    fn from(e: StateError) -> Self {
        crate::wire::ApiError::Unavailable(e.to_string())
    }
}

/// How recent a leader's last acknowledgement by a majority must be.
pub struct QuorumWindows {
    /// For readiness.
    pub ready: Duration,
    /// For a change without a confirming heartbeat round first.
    pub fresh_ack: Duration,
    /// The bound of that round.
    pub confirm_within: Duration,
}

/// Shared, replicated cluster state.
pub struct ClusterState {
    shared: Arc<Shared>,
    /// The Raft node of this proxy.
    pub raft: Raft,
    my_id: NodeId,
    me: String,
    client: ControlClient,
    last_seen: Mutex<HashMap<String, Instant>>,
    /// A leader that has not heard from a majority for this long says it is not ready.
    quorum_window: Duration,
    /// A leader whose last majority acknowledgement is older than this confirms its
    /// leadership (a heartbeat round, bounded by `confirm_within`) before a change.
    fresh_ack: Duration,
    confirm_within: Duration,
    /// Set while the primary hands over to another proxy: it takes no change (its
    /// appends would renew the other proxies' leases and deny the election).
    pub handing_over: std::sync::atomic::AtomicBool,
    /// Changes being written here now: a hand-over waits for them (each must reach the
    /// new primary before it stands).
    pub writing: std::sync::atomic::AtomicUsize,
}

impl ClusterState {
    /// Wraps a started Raft node and its state machine.
    pub fn new(
        raft: Raft,
        shared: Arc<Shared>,
        me: &Snode,
        client: ControlClient,
        windows: QuorumWindows,
    ) -> ClusterState {
        ClusterState {
            shared,
            raft,
            my_id: node_id(&me.daemon_id),
            me: me.daemon_id.clone(),
            client,
            last_seen: Mutex::new(HashMap::new()),
            quorum_window: windows.ready,
            fresh_ack: windows.fresh_ack,
            confirm_within: windows.confirm_within,
            handing_over: Default::default(),
            writing: Default::default(),
        }
    }

    fn seen(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.last_seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Woken after every applied change.
    pub fn changed(&self) -> &Notify {
        &self.shared.changed
    }

    /// The current map (cheap: a shared snapshot).
    pub fn smap(&self) -> Arc<Smap> {
        self.shared.smap().load_full()
    }

    /// The current map for the length of one request, without touching its reference
    /// count (which every serving thread would otherwise bounce between cores).
    pub fn smap_now(&self) -> arc_swap::Guard<Arc<Smap>> {
        self.shared.smap().load()
    }

    /// The current bucket list.
    pub fn bmd(&self) -> Bmd {
        Bmd::clone(&self.shared.bmd().load())
    }

    /// Whether a bucket exists.
    pub fn has_bucket(&self, name: &str) -> bool {
        self.shared.bmd().load().buckets.contains_key(name)
    }

    /// Whether the cluster's first state is in (a joining proxy waits for it).
    pub fn initialized(&self) -> bool {
        self.shared.initialized()
    }

    /// The Raft leader as this proxy knows it: its ID and intra-cluster URL.
    pub fn leader(&self) -> Option<(NodeId, String)> {
        let m = self.raft.metrics().borrow().clone();
        let id = m.current_leader?;
        let node = m.membership_config.membership().get_node(&id)?.clone();
        Some((id, node.addr))
    }

    /// Whether this proxy leads and has heard from a majority lately.
    pub fn leads_with_quorum(&self) -> bool {
        let m = self.raft.metrics().borrow().clone();
        if m.state != ServerState::Leader || m.current_leader != Some(self.my_id) {
            return false;
        }
        self.acked_within(self.quorum_window)
    }

    /// Whether this proxy, as leader, heard from a majority within `window` (or is alone).
    fn acked_within(&self, window: Duration) -> bool {
        let m = self.raft.metrics().borrow().clone();
        let voters = m.membership_config.membership().voter_ids().count();
        voters <= 1
            || m.millis_since_quorum_ack
                .is_some_and(|ms| Duration::from_millis(ms) <= window)
    }

    /// Whether this proxy is the primary: it leads with a majority and the map says so.
    pub fn is_primary(&self) -> bool {
        self.leads_with_quorum() && self.smap_now().proxy_si.daemon_id == self.me
    }

    /// Whether the map names the current Raft leader as primary (this proxy has caught
    /// up with the latest change of primary): its readiness.
    pub fn current(&self) -> bool {
        let Some((leader, _)) = self.leader() else {
            return false;
        };
        if leader == self.my_id && !self.leads_with_quorum() {
            // Cut off from the other proxies: its map may be stale.
            return false;
        }
        let smap = self.smap_now();
        self.initialized() && node_id(&smap.proxy_si.daemon_id) == leader
    }

    /// On a proxy that is not the primary: waits (briefly) until it has applied every
    /// change the primary has, so a request that follows a change made through another
    /// proxy sees it (the primary answers a change only once it has applied it).
    pub async fn catch_up(&self) {
        if self.leads_with_quorum() {
            return;
        }
        let Some((_, addr)) = self.leader() else {
            return;
        };
        let url = format!("{}{APPLIED_PATH}", addr.trim_end_matches('/'));
        // Bounded: a primary out of reach must not hold every request here.
        let asked = tokio::time::timeout(CATCH_UP_ASK, self.client.send(Method::POST, &url, None));
        let Ok(Ok(r)) = asked.await else {
            return;
        };
        let Ok(index) = String::from_utf8_lossy(&r.body).trim().parse::<u64>() else {
            return;
        };
        let _ = self
            .raft
            .wait(Some(Duration::from_secs(2)))
            .applied_index_at_least(Some(index), "catch up with the primary")
            .await;
    }

    /// The index of the last change applied here (`POST /v1/raft/applied`).
    pub fn applied_index(&self) -> u64 {
        self.raft
            .metrics()
            .borrow()
            .last_applied
            .map_or(0, |l| l.index)
    }

    /// Whether a change may be tried now: refuses on a proxy that leads but cannot show a
    /// majority behind it within an election timeout (cut off from the other proxies,
    /// which may have elected another primary already) or knows no primary, before any
    /// target is asked to do its part.
    pub async fn check_writable(&self) -> Result<(), StateError> {
        match self.leader() {
            Some((id, _)) if id == self.my_id => {
                if self.acked_within(self.fresh_ack) {
                    return Ok(());
                }
                match tokio::time::timeout(self.confirm_within, self.raft.get_read_log_id()).await {
                    Ok(Ok(_)) => Ok(()),
                    _ => Err(StateError::NoQuorum(format!(
                        "proxy {} cannot reach a majority of the proxies (cut off from them?): changes go through the primary of the majority",
                        self.me
                    ))),
                }
            }
            Some(_) => Ok(()),
            None => Err(StateError::NoQuorum(
                "no primary: an election is under way, or this proxy cannot reach a majority of the proxies".into(),
            )),
        }
    }

    /// Proposes `cmd`; answers once a majority of proxies has it and it is applied here.
    pub async fn propose(&self, cmd: Command) -> Result<Outcome, StateError> {
        let p = Proposal {
            op_id: crate::wire::lso::new_uuid(),
            cmd,
        };
        let deadline = Instant::now() + PROPOSE_WAIT;
        let mut why;
        loop {
            why = match self.leader() {
                Some((id, _)) if id == self.my_id => match self.propose_here(&p).await {
                    Ok(out) => return Ok(out),
                    Err(why) => why,
                },
                Some((_, addr)) => match self.forward(&addr, &p).await {
                    Ok(out) => {
                        self.wait_applied(&out).await;
                        return Ok(out);
                    }
                    Err(why) => why,
                },
                None => "no primary: an election is under way, or this proxy cannot reach a majority of the proxies".to_string(),
            };
            if Instant::now() >= deadline {
                return Err(StateError::NoQuorum(why));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Proposes on this node, which must lead with a majority.
    pub async fn propose_here(&self, p: &Proposal) -> Result<Outcome, String> {
        use std::sync::atomic::Ordering::SeqCst;
        // Counted before the hand-over flag is read, so a hand-over that sets the flag and
        // then sees no change being written cannot miss this one.
        self.writing.fetch_add(1, SeqCst);
        let _done = Decrement(&self.writing);
        if self.handing_over.load(SeqCst) {
            return Err(format!("proxy {} is handing the primary over", self.me));
        }
        if !self.leads_with_quorum() {
            return Err(format!(
                "proxy {} is not the primary, or has not heard from a majority of the proxies for {:?}",
                self.me, self.quorum_window
            ));
        }
        match tokio::time::timeout(PROPOSE_WAIT, self.raft.client_write(p.clone())).await {
            Ok(Ok(r)) => Ok(r.data),
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_)))) => {
                Err(format!("proxy {} is no longer the primary", self.me))
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "a majority of the proxies did not take the change within {PROPOSE_WAIT:?}"
            )),
        }
    }

    async fn forward(&self, addr: &str, p: &Proposal) -> Result<Outcome, String> {
        let url = format!("{}{PROPOSE_PATH}", addr.trim_end_matches('/'));
        let body = serde_json::to_vec(p).map_err(|e| e.to_string())?;
        match self.client.send(Method::POST, &url, Some(body)).await {
            Ok(r) if r.status == StatusCode::OK => {
                serde_json::from_slice(&r.body).map_err(|e| format!("{url}: {e}"))
            }
            Ok(r) => Err(format!(
                "the primary at {addr} answered {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            )),
            Err(e) => Err(format!("the primary at {addr} is not reachable: {e}")),
        }
    }

    /// After a change made elsewhere: waits (briefly) until this proxy has applied it,
    /// so a read that follows the answer sees it.
    async fn wait_applied(&self, out: &Outcome) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let (s, b) = (self.smap_now().version, self.shared.bmd().load().version);
            if s >= out.smap_version && b >= out.bmd_version {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Adds or updates a target; returns the map and bucket list it should start from.
    pub async fn join(&self, node: Snode) -> Result<(Smap, Bmd), StateError> {
        let id = node.daemon_id.clone();
        self.propose(Command::JoinTarget(Box::new(node))).await?;
        self.touch(&id);
        Ok(((*self.smap()).clone(), self.bmd()))
    }

    /// Records a keepalive; returns the map and bucket-list versions, or `None` if the
    /// target is not in the map (it must register again).
    pub fn keepalive(&self, id: &str) -> Option<(u64, u64)> {
        let smap = self.smap_now();
        if !smap.tmap.contains_key(id) {
            return None;
        }
        self.touch(id);
        Some((smap.version, self.shared.bmd().load().version))
    }

    /// Targets not heard from for longer than `timeout`.
    pub fn silent_targets(&self, timeout: Duration) -> Vec<Snode> {
        let seen = self.seen();
        self.smap_now()
            .tmap
            .values()
            .filter(|t| seen.get(&t.daemon_id).is_none_or(|s| s.elapsed() > timeout))
            .cloned()
            .collect()
    }

    /// Marks a target as heard from.
    pub fn touch(&self, id: &str) {
        self.seen().insert(id.to_string(), Instant::now());
    }

    /// Gives every target of the map a fresh timeout (a new primary, or a restart).
    pub fn touch_all(&self) {
        let now = Instant::now();
        let mut seen = self.seen();
        for id in self.smap_now().tmap.keys() {
            seen.insert(id.clone(), now);
        }
    }

    /// Sets or clears `flags` on target `id`; returns the new map version, or `None` if
    /// the target is not in the map.
    pub async fn set_flags(
        &self,
        id: &str,
        flags: u64,
        on: bool,
    ) -> Result<Option<u64>, StateError> {
        if !self.smap_now().tmap.contains_key(id) {
            return Ok(None);
        }
        let cmd = Command::SetFlags {
            id: id.to_string(),
            flags,
            on,
        };
        let out = self.propose(cmd).await?;
        Ok(self
            .smap_now()
            .tmap
            .contains_key(id)
            .then_some(out.smap_version))
    }

    /// Removes a target from the map.
    pub async fn remove(&self, id: &str) -> Result<bool, StateError> {
        self.seen().remove(id);
        Ok(self
            .propose(Command::RemoveTarget(id.to_string()))
            .await?
            .done)
    }

    /// Records a new bucket; false if it already exists.
    pub async fn add_bucket(&self, name: &str, created_ns: i64) -> Result<bool, StateError> {
        let cmd = Command::AddBucket {
            name: name.to_string(),
            created_ns,
        };
        Ok(self.propose(cmd).await?.done)
    }

    /// Sets a bucket's properties; false if the bucket does not exist.
    pub async fn set_bucket_props(
        &self,
        name: &str,
        props: serde_json::Value,
    ) -> Result<bool, StateError> {
        let cmd = Command::SetProps {
            name: name.to_string(),
            props,
        };
        Ok(self.propose(cmd).await?.done)
    }

    /// Renames a bucket (creation time and properties kept); false if `from` is missing
    /// or `to` exists.
    pub async fn rename_bucket(&self, from: &str, to: &str) -> Result<bool, StateError> {
        let cmd = Command::RenameBucket {
            from: from.to_string(),
            to: to.to_string(),
        };
        Ok(self.propose(cmd).await?.done)
    }

    /// Forgets a bucket; false if it did not exist.
    pub async fn remove_bucket(&self, name: &str) -> Result<bool, StateError> {
        Ok(self
            .propose(Command::RemoveBucket(name.to_string()))
            .await?
            .done)
    }

    /// This proxy's Raft membership entry.
    pub fn raft_node(me: &Snode) -> (NodeId, BasicNode) {
        (
            node_id(&me.daemon_id),
            BasicNode {
                addr: me.control_url().to_string(),
            },
        )
    }
}

/// Takes one off a counter when dropped.
struct Decrement<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}
