//! Raft between proxies over their intra-cluster ports: each RPC is one signed
//! `POST /v1/raft/<append|vote|snapshot>` with a JSON body, answered with Raft's own
//! result as JSON. A refused connection is "unreachable" to Raft (it backs off).

use http::{Method, Response, StatusCode};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::cluster::raft::{NodeId, Raft, TypeConfig};
use crate::http::{Body, ClientError, ControlClient};
use crate::wire::ApiError;

/// Path prefix of the Raft RPCs.
pub const RAFT_PATH: &str = "/v1/raft/";

/// Makes one connection per peer (all share the pooled, signed client).
pub struct Network {
    /// The signed control client.
    pub client: ControlClient,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Peer {
        Peer {
            client: self.client.clone(),
            target,
            base: node.addr.trim_end_matches('/').to_string(),
        }
    }
}

/// One peer proxy.
pub struct Peer {
    client: ControlClient,
    target: NodeId,
    base: String,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

impl Peer {
    async fn call<Req, Resp, E>(
        &self,
        what: &str,
        req: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body = serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let url = format!("{}{RAFT_PATH}{what}", self.base);
        let sent = tokio::time::timeout(
            option.hard_ttl(),
            self.client.send(Method::POST, &url, Some(body)),
        )
        .await;
        let reply = match sent {
            Err(_) => {
                let e = ClientError::Timeout(url, option.hard_ttl());
                return Err(RPCError::Network(NetworkError::new(&e)));
            }
            Ok(Err(e @ ClientError::Transport(..))) => {
                return Err(RPCError::Unreachable(Unreachable::new(&e)))
            }
            Ok(Err(e)) => return Err(RPCError::Network(NetworkError::new(&e))),
            Ok(Ok(r)) => r,
        };
        if !reply.status.is_success() {
            let e = std::io::Error::other(format!(
                "{url}: {} {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            ));
            return Err(RPCError::Network(NetworkError::new(&e)));
        }
        let res: Result<Resp, RaftError<NodeId, E>> = serde_json::from_slice(&reply.body)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        res.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, openraft::error::Infallible> {
        self.call("append", &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.call("snapshot", &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, openraft::error::Infallible> {
        self.call("vote", &rpc, &option).await
    }
}

/// Serves one Raft RPC (`what` = append, vote or snapshot) to the local Raft.
pub async fn serve(raft: &Raft, what: &str, body: &[u8]) -> Result<Response<Body>, ApiError> {
    fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("malformed Raft message: {e}")))
    }
    let json = match what {
        "append" => serde_json::to_vec(&raft.append_entries(parse(body)?).await),
        "vote" => serde_json::to_vec(&raft.vote(parse(body)?).await),
        "snapshot" => serde_json::to_vec(&raft.install_snapshot(parse(body)?).await),
        other => {
            return Err(ApiError::NotFound(format!("no Raft RPC {other:?}")));
        }
    }
    .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let mut resp = Response::new(crate::http::full(json));
    *resp.status_mut() = StatusCode::OK;
    Ok(resp)
}
