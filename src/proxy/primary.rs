//! Who is primary. Starts this proxy's Raft node (a new cluster, a join through another
//! proxy, or a restart on its saved state), names the Raft leader primary in the map,
//! admits new proxies into the Raft membership, and moves the primary on request
//! (AIStore's `setprimary`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, Response, StatusCode};
use openraft::{ChangeMembers, ServerState, SnapshotPolicy};

use super::raft_net::Network;
use super::state::QuorumWindows;
use super::{ClusterState, ProxyContext};
use crate::cluster::raft::log_store::LogStore;
use crate::cluster::raft::state_machine::StateMachine;
use crate::cluster::raft::{node_id, Command, NodeId, Proposal, Raft};
use crate::cluster::ClusterMeta;
use crate::cluster::{Bmd, Smap, Snode, FLAG_NON_ELECTABLE};
use crate::config::ProxyConfig;
use crate::http::{Body, ControlClient};
use crate::wire::ApiError;

/// Starts this proxy's Raft node on its saved state (or none).
pub(super) async fn start(
    cfg: &ProxyConfig,
    me: &Snode,
    client: ControlClient,
) -> std::io::Result<ClusterState> {
    let dir = cfg.state_dir.as_ref().map(|d| d.join("raft"));
    let log = LogStore::open(dir.as_deref())?;
    let sm = StateMachine::open(dir.as_deref())?;
    let shared = sm.shared();
    let s = &cfg.settings;
    let config = openraft::Config {
        cluster_name: "aisnode".into(),
        heartbeat_interval: s.raft_heartbeat_ms,
        election_timeout_min: s.election_timeout_ms,
        election_timeout_max: 2 * s.election_timeout_ms,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(500),
        max_in_snapshot_log_to_keep: 100,
        // Chunks and batches that stay under the control body limit as JSON.
        snapshot_max_chunk_size: 128 << 10,
        max_payload_entries: 64,
        enable_elect: !cfg.non_electable,
        ..Default::default()
    }
    .validate()
    .map_err(std::io::Error::other)?;
    let raft = Raft::new(
        node_id(&me.daemon_id),
        Arc::new(config),
        Network {
            client: client.clone(),
        },
        log,
        sm,
    )
    .await
    .map_err(std::io::Error::other)?;
    // Heartbeats come every `raft_heartbeat_ms`: three missed ones make a change confirm
    // leadership first, within the shortest time another proxy could be elected.
    let windows = QuorumWindows {
        ready: Duration::from_millis(2 * s.election_timeout_ms),
        fresh_ack: Duration::from_millis(3 * s.raft_heartbeat_ms),
        confirm_within: Duration::from_millis(s.election_timeout_ms),
    };
    Ok(ClusterState::new(raft, shared, me, client, windows))
}

/// The proxy to join through, unless it is this one.
fn join_url(cfg: &ProxyConfig, me: &Snode) -> Option<String> {
    cfg.primary_url
        .clone()
        .filter(|u| u != me.url() && u != me.control_url())
}

/// A new proxy with no saved state starts the cluster or joins it; a restarted one
/// just follows (its Raft membership is in its log).
pub(super) async fn bootstrap_or_join(ctx: Arc<ProxyContext>) {
    let raft = &ctx.state.raft;
    if raft.is_initialized().await.unwrap_or(false) {
        tracing::info!("restarted on saved Raft state: following the cluster's primary");
        let known = ctx.state.smap().pmap.get(&ctx.me.daemon_id).cloned();
        if known.is_some_and(|k| k != ctx.me) {
            // Back at other URLs (a new pod IP, another port): the peers must learn them
            // before Raft can reach this proxy.
            let peers: Vec<String> = ctx
                .state
                .smap()
                .pmap
                .values()
                .filter(|p| p.daemon_id != ctx.me.daemon_id)
                .map(|p| p.control_url().to_string())
                .collect();
            tracing::warn!(url = %ctx.me.url(), intra = %ctx.me.control_url(), "restarted at new URLs: telling the other proxies");
            announce(&ctx, &peers).await;
        }
        return;
    }
    let url = match join_url(&ctx.config, &ctx.me) {
        // The URL may name this proxy by another name (a Service, a DNS alias).
        Some(url) if !is_me(&ctx, &url).await => Some(url),
        _ => None,
    };
    match url {
        None => {
            let (id, node) = ClusterState::raft_node(&ctx.me);
            match raft.initialize(BTreeMap::from([(id, node)])).await {
                Ok(()) => tracing::info!("starting a new cluster: this proxy is its first primary"),
                Err(e) => tracing::error!(error = %e, "cannot start a new cluster"),
            }
        }
        Some(url) => join(&ctx, &url).await,
    }
}

/// Sends this proxy's registration to each of `peers` in turn until one takes it.
async fn announce(ctx: &ProxyContext, peers: &[String]) {
    let body = serde_json::to_vec(&serde_json::json!({ "si": ctx.me })).unwrap_or_default();
    while ctx.ready.load(std::sync::atomic::Ordering::Acquire) {
        for base in peers {
            let url = format!("{base}/v1/cluster/join");
            if let Ok(r) = ctx
                .client
                .send(Method::POST, &url, Some(body.clone()))
                .await
            {
                if r.status.is_success() {
                    tracing::info!(through = %base, "the proxies know this proxy's new URLs");
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Whether the proxy at `url` is this one (asked until something answers).
async fn is_me(ctx: &ProxyContext, url: &str) -> bool {
    loop {
        match ctx
            .client
            .send(Method::GET, &format!("{url}/v1/daemon?what=snode"), None)
            .await
        {
            Ok(r) if r.status.is_success() => {
                return serde_json::from_slice::<Snode>(&r.body)
                    .is_ok_and(|s| s.daemon_id == ctx.me.daemon_id)
            }
            _ => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

/// Asks the cluster at `url` to admit this proxy, until it does.
async fn join(ctx: &ProxyContext, url: &str) {
    let body = serde_json::to_vec(&serde_json::json!({ "si": ctx.me })).unwrap_or_default();
    let mut base = url.to_string();
    let mut attempt = 0u32;
    // Until this proxy is in the map it holds: a join whose answer timed out may have made
    // it a learner (its state is initialized) without making it a voter and a map member.
    let joined = || ctx.state.smap().pmap.contains_key(&ctx.me.daemon_id);
    while ctx.ready.load(std::sync::atomic::Ordering::Acquire) && !joined() {
        let r = ctx
            .client
            .send(
                Method::POST,
                &format!("{base}/v1/cluster/join"),
                Some(body.clone()),
            )
            .await;
        match r {
            Ok(r) if r.status.is_success() => {
                tracing::info!(through = %base, "joined the cluster's proxies");
                return;
            }
            Ok(r) if r.status == StatusCode::FORBIDDEN => {
                if let Some(intra) = r
                    .headers
                    .get(crate::wire::headers::AIS_INTRA_URL)
                    .and_then(|v| v.to_str().ok())
                {
                    base = intra.to_string();
                    continue;
                }
                tracing::warn!(through = %base, body = %String::from_utf8_lossy(&r.body), "join refused");
            }
            Ok(r) if attempt % 10 == 0 => {
                tracing::warn!(through = %base, status = %r.status, body = %String::from_utf8_lossy(&r.body), "join refused, retrying")
            }
            Err(e) if attempt % 10 == 0 => {
                tracing::info!(through = %base, error = %e, "cluster not reachable yet, retrying")
            }
            _ => {}
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `POST /v1/cluster/join` of a proxy: at the primary, adds it to the Raft membership
/// (a voter, or a learner when it is non-electable) and to the map; elsewhere, passes
/// the request to the primary.
pub(super) async fn admit_proxy(
    ctx: &ProxyContext,
    si: Snode,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    if !ctx.state.is_primary() {
        return to_primary(ctx, Method::POST, "/v1/cluster/join", Some(body.to_vec())).await;
    }
    let (id, node) = ClusterState::raft_node(&si);
    let raft = &ctx.state.raft;
    let unavailable = |e: &dyn std::fmt::Display| {
        ApiError::Unavailable(format!("adding proxy {}: {e}", si.daemon_id))
    };
    let members = current_membership(raft);
    match members.get_node(&id) {
        None => {
            raft.add_learner(id, node, true)
                .await
                .map_err(|e| unavailable(&e))?;
        }
        // A member back at another address (restarted elsewhere).
        Some(n) if n.addr != node.addr => {
            raft.change_membership(ChangeMembers::SetNodes(BTreeMap::from([(id, node)])), false)
                .await
                .map_err(|e| unavailable(&e))?;
        }
        Some(_) => {}
    }
    let voter = members.voter_ids().any(|v| v == id);
    if si.flags & FLAG_NON_ELECTABLE == 0 && !voter {
        raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(|e| unavailable(&e))?;
    }
    ctx.state
        .propose(Command::AddProxy(Box::new(si.clone())))
        .await?;
    tracing::info!(proxy_id = %si.daemon_id, url = %si.url(), electable = si.flags & FLAG_NON_ELECTABLE == 0, "proxy joined");
    Ok(crate::wire::json_response(&ClusterMeta {
        smap: (*ctx.state.smap()).clone(),
        bmd: ctx.state.bmd(),
    }))
}

/// Passes a request to the primary's intra-cluster port and relays its answer.
pub(super) async fn to_primary(
    ctx: &ProxyContext,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<Response<Body>, ApiError> {
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        if let Some((id, addr)) = ctx
            .state
            .leader()
            .filter(|(id, _)| *id != node_id(&ctx.me.daemon_id) || ctx.state.is_primary())
        {
            let _ = id;
            match ctx
                .client
                .send(method.clone(), &format!("{addr}{path}"), body.clone())
                .await
            {
                Ok(r) => {
                    let mut resp = Response::new(crate::http::full(r.body));
                    *resp.status_mut() = r.status;
                    if let Some(ct) = r.headers.get(http::header::CONTENT_TYPE) {
                        resp.headers_mut()
                            .insert(http::header::CONTENT_TYPE, ct.clone());
                    }
                    return Ok(resp);
                }
                Err(e) if Instant::now() >= deadline => {
                    return Err(ApiError::Unavailable(format!(
                        "the primary at {addr} is not reachable: {e}"
                    )))
                }
                Err(_) => {}
            }
        } else if Instant::now() >= deadline {
            return Err(ApiError::Unavailable(
                "no primary: an election is under way, or this proxy cannot reach a majority of the proxies".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Names this proxy primary whenever it leads (and starts the cluster's state on the
/// first lead of a new cluster); gives every target a fresh keepalive timeout when
/// leadership comes here.
pub(super) async fn watch_leadership(ctx: Arc<ProxyContext>) {
    let mut metrics = ctx.state.raft.metrics();
    let me = node_id(&ctx.me.daemon_id);
    let mut leading = false;
    loop {
        let (now_leading, term) = {
            let m = metrics.borrow();
            (
                m.state == ServerState::Leader && m.current_leader == Some(me),
                m.current_term,
            )
        };
        if now_leading && !leading {
            ctx.state.touch_all();
            tracing::info!(
                term,
                "this proxy leads the Raft group: naming itself primary"
            );
        }
        leading = now_leading;
        if leading && ctx.state.leads_with_quorum() {
            claim(&ctx).await;
        }
        tokio::select! {
            r = metrics.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Makes the map say what the leader is: the cluster started, this proxy in it at its
/// current URLs, and primary.
async fn claim(ctx: &ProxyContext) {
    let propose = |cmd| Proposal {
        op_id: crate::wire::lso::new_uuid(),
        cmd,
    };
    if !ctx.state.initialized() {
        let (smap, bmd) = first_state(ctx);
        if let Err(e) = ctx
            .state
            .propose_here(&propose(Command::Init {
                smap: Box::new(smap),
                bmd,
            }))
            .await
        {
            tracing::warn!(error = %e, "cannot start the cluster's state yet");
            return;
        }
        tracing::info!(uuid = %ctx.state.smap().uuid, "new cluster");
    }
    let smap = ctx.state.smap();
    if smap.pmap.get(&ctx.me.daemon_id) != Some(&ctx.me) {
        let _ = ctx
            .state
            .propose_here(&propose(Command::AddProxy(Box::new(ctx.me.clone()))))
            .await;
    }
    if ctx.state.smap().proxy_si.daemon_id != ctx.me.daemon_id {
        let version = ctx
            .state
            .propose_here(&propose(Command::SetPrimary(ctx.me.daemon_id.clone())))
            .await;
        if let Ok(out) = version {
            tracing::warn!(
                smap_version = out.smap_version,
                "this proxy is now the primary"
            );
        }
    }
}

/// A new cluster's first map and bucket list: those a single-proxy state directory
/// kept (`.ais.smap`, `.ais.bmd`, from before the proxies replicated them), else new.
fn first_state(ctx: &ProxyContext) -> (Smap, Bmd) {
    let dir = ctx.config.state_dir.as_deref();
    let read = |name: &str| dir.and_then(|d| std::fs::read(d.join(name)).ok());
    let old_smap: Option<Smap> = read(".ais.smap").and_then(|b| serde_json::from_slice(&b).ok());
    let bmd: Bmd = read(".ais.bmd")
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let me = ctx.me.clone();
    let smap = match old_smap {
        Some(mut s) => {
            tracing::info!(
                version = s.version,
                targets = s.tmap.len(),
                "carrying over the map this proxy kept before"
            );
            s.version += 1;
            s.pmap = [(me.daemon_id.clone(), me.clone())].into();
            s.proxy_si = me;
            s
        }
        None => Smap::new(
            me,
            crate::wire::lso::new_uuid(),
            httpdate::fmt_http_date(std::time::SystemTime::now()),
        ),
    };
    (smap, bmd)
}

/// `POST /v1/raft/propose` from another proxy: made here if this proxy is primary.
pub(super) async fn propose_from_peer(
    ctx: &ProxyContext,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let p: Proposal = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("malformed proposal: {e}")))?;
    match ctx.state.propose_here(&p).await {
        Ok(out) => Ok(crate::wire::json_response(&out)),
        Err(why) => Err(ApiError::Unavailable(why)),
    }
}

/// `PUT /v1/cluster/proxy/<id>` (AIStore's setprimary): moves the primary to proxy `id`.
/// The primary stops its heartbeats and holds the other proxies' elections while `id`
/// asks for votes, so `id` is the one elected.
pub(super) async fn set_primary(
    ctx: &Arc<ProxyContext>,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let smap = ctx.state.smap();
    let node = smap
        .pmap
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("proxy {id:?} is not in the cluster map")))?;
    if node.flags & FLAG_NON_ELECTABLE != 0 {
        return Err(ApiError::BadRequest(format!(
            "proxy {id:?} is non-electable"
        )));
    }
    if smap.proxy_si.daemon_id == id && ctx.state.leader().is_some_and(|(l, _)| l == node_id(id)) {
        return Ok(Response::new(crate::http::empty()));
    }
    if !ctx.state.is_primary() {
        return to_primary(ctx, Method::PUT, &format!("/v1/cluster/proxy/{id}"), None).await;
    }
    let hold_ms = 6 * ctx.config.settings.election_timeout_ms;
    for p in smap
        .pmap
        .values()
        .filter(|p| p.daemon_id != id && p.daemon_id != ctx.me.daemon_id)
    {
        let url = format!("{}/v1/raft/hold?ms={hold_ms}", p.control_url());
        let _ = ctx.client.send(Method::POST, &url, None).await;
    }
    let raft = &ctx.state.raft;
    let handing = &ctx.state.handing_over;
    handing.store(true, std::sync::atomic::Ordering::SeqCst);
    // No new change is taken now; the new primary must hold every one taken so far, or no
    // proxy would vote for it (Raft elects only a proxy with the whole log): first the
    // changes being written finish, then the new primary's log reaches the end of ours.
    let writes_done = Instant::now() + Duration::from_millis(hold_ms / 2);
    while ctx.state.writing.load(std::sync::atomic::Ordering::SeqCst) > 0
        && Instant::now() < writes_done
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let to = node_id(id);
    let caught_up = raft
        .wait(Some(Duration::from_millis(hold_ms / 2)))
        .metrics(
            |m| {
                let last = m.last_log_index;
                m.replication.as_ref().is_some_and(|r| {
                    r.get(&to)
                        .is_some_and(|matched| matched.map(|l| l.index) >= last)
                })
            },
            "the new primary holds every change",
        )
        .await;
    if caught_up.is_err() {
        handing.store(false, std::sync::atomic::Ordering::Release);
        return Err(ApiError::Unavailable(format!(
            "proxy {id} has not caught up with the primary's changes; the primary stays: retry"
        )));
    }
    raft.runtime_config().heartbeat(false);
    raft.runtime_config().elect(false);
    let url = format!("{}/v1/raft/elect", node.control_url());
    let res = ctx.client.send(Method::POST, &url, None).await;
    raft.runtime_config().heartbeat(true);
    raft.runtime_config().elect(!ctx.config.non_electable);
    handing.store(false, std::sync::atomic::Ordering::Release);
    match res {
        Ok(r) if r.status.is_success() => {
            tracing::warn!(new_primary = %id, "primary moved on request");
            Ok(Response::new(crate::http::empty()))
        }
        Ok(r) => Err(ApiError::Unavailable(format!(
            "proxy {id} did not become primary: {}",
            String::from_utf8_lossy(&r.body)
        ))),
        Err(e) => Err(ApiError::Unavailable(format!("proxy {id}: {e}"))),
    }
}

/// `POST /v1/raft/hold?ms=N`: no election from this proxy for N ms (a primary is being
/// moved elsewhere).
pub(super) fn hold(ctx: &Arc<ProxyContext>, ms: u64) -> Response<Body> {
    ctx.state.raft.runtime_config().elect(false);
    let ctx = ctx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(ms.min(60_000))).await;
        ctx.state
            .raft
            .runtime_config()
            .elect(!ctx.config.non_electable);
    });
    Response::new(crate::http::empty())
}

/// `POST /v1/raft/elect`: asks for votes until this proxy is primary (or gives up).
pub(super) async fn elect(ctx: &ProxyContext) -> Result<Response<Body>, ApiError> {
    let deadline =
        Instant::now() + Duration::from_millis(10 * ctx.config.settings.election_timeout_ms);
    while Instant::now() < deadline {
        if ctx.state.is_primary() {
            return Ok(Response::new(crate::http::empty()));
        }
        if ctx
            .state
            .leader()
            .is_none_or(|(l, _)| l != node_id(&ctx.me.daemon_id))
        {
            let _ = ctx.state.raft.trigger().elect().await;
        }
        tokio::time::sleep(Duration::from_millis(ctx.config.settings.raft_heartbeat_ms)).await;
    }
    Err(ApiError::Unavailable("not elected in time".into()))
}

/// `decommission-node` of a proxy: at the primary, takes it out of the Raft membership
/// (the others then count the majority without it), out of the map, and tells it to
/// stop. The primary itself must hand over first (`setprimary`).
pub(super) async fn decommission_proxy(ctx: &ProxyContext, id: &str) -> Result<(), ApiError> {
    if !ctx.state.is_primary() {
        let msg = serde_json::json!({"action": "decommission-node", "value": {"sid": id}});
        let body = serde_json::to_vec(&msg).unwrap_or_default();
        let r = to_primary(ctx, Method::PUT, "/v1/cluster", Some(body)).await?;
        return match r.status() {
            s if s.is_success() => Ok(()),
            s => Err(ApiError::Upstream(format!("the primary answered {s}"))),
        };
    }
    if id == ctx.me.daemon_id {
        return Err(ApiError::BadRequest(format!(
            "proxy {id} is the primary: move the primary first (PUT /v1/cluster/proxy/<another proxy ID>)"
        )));
    }
    let node = ctx
        .state
        .smap()
        .pmap
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("proxy {id:?} is not in the cluster map")))?;
    let raft_id = node_id(id);
    let raft = &ctx.state.raft;
    let unavailable =
        |e: &dyn std::fmt::Display| ApiError::Unavailable(format!("removing proxy {id}: {e}"));
    let members = current_membership(raft);
    if members.voter_ids().any(|v| v == raft_id) {
        raft.change_membership(
            ChangeMembers::RemoveVoters(BTreeSet::from([raft_id])),
            false,
        )
        .await
        .map_err(|e| unavailable(&e))?;
    } else if members.get_node(&raft_id).is_some() {
        raft.change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([raft_id])), false)
            .await
            .map_err(|e| unavailable(&e))?;
    }
    ctx.state
        .propose(Command::RemoveProxy(id.to_string()))
        .await?;
    let url = format!("{}/v1/daemon", node.control_url());
    let body =
        serde_json::to_vec(&serde_json::json!({"action": "shutdown-node"})).unwrap_or_default();
    if let Err(e) = ctx.client.send(Method::PUT, &url, Some(body)).await {
        tracing::warn!(proxy_id = %id, error = %e, "decommissioned proxy not told to stop (it is out of the cluster anyway)");
    }
    tracing::warn!(proxy_id = %id, "proxy decommissioned: out of the Raft membership and the map");
    Ok(())
}

/// The membership the Raft node knows now (voters, learners and their addresses).
fn current_membership(raft: &Raft) -> openraft::Membership<NodeId, openraft::BasicNode> {
    raft.metrics()
        .borrow()
        .membership_config
        .membership()
        .clone()
}
