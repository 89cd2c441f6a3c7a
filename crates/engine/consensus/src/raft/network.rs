//! openraft's network traits on top of a [`RaftTransport`]: each RPC is encoded as one
//! [`Request`], sent with [`RaftTransport::call`], and its reply decoded as a [`Reply`].
//!
//! A failed call is reported to openraft as the peer being unreachable, so replication to it
//! backs off for a moment before retrying.

use std::{future::Future, sync::Arc, time::Duration};

use openraft::{
    AnyError, EmptyNode, RaftNetwork, RaftNetworkFactory, Snapshot, Vote,
    error::{
        Fatal, NetworkError, RPCError, RaftError as OpenRaftError, ReplicationClosed,
        StreamingError, Unreachable,
    },
    network::{Backoff, RPCOption},
    raft::{
        AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
    },
};

use super::{
    RaftId, RaftTransport, TypeConfig,
    wire::{self, Reply, Request},
};

/// Creates a [`Peer`] client for every node openraft replicates to.
pub(crate) struct Network<T> {
    transport: Arc<T>,
    backoff: Duration,
}

impl<T> Network<T> {
    /// The network over `transport`; an unreachable peer is retried after `backoff`.
    pub(crate) fn new(transport: Arc<T>, backoff: Duration) -> Self {
        Network { transport, backoff }
    }
}

impl<T: RaftTransport> RaftNetworkFactory<TypeConfig> for Network<T> {
    type Network = Peer<T>;

    async fn new_client(&mut self, target: RaftId, _node: &EmptyNode) -> Self::Network {
        Peer {
            target,
            transport: Arc::clone(&self.transport),
            backoff: self.backoff,
        }
    }
}

/// The client side of the connection to one peer.
pub(crate) struct Peer<T> {
    target: RaftId,
    transport: Arc<T>,
    backoff: Duration,
}

/// Why one call failed.
enum CallError {
    /// The request could not be encoded (a local fault).
    Encode(String),
    /// The transport failed.
    Transport(String),
    /// The reply is malformed or of the wrong kind.
    Reply(String),
}

impl<T: RaftTransport> Peer<T> {
    fn call(
        &self,
        request: &Request,
    ) -> impl Future<Output = Result<Reply, CallError>> + Send + use<T> {
        let encoded = wire::encode(request).map_err(CallError::Encode);
        let transport = Arc::clone(&self.transport);
        let target = self.target;
        async move {
            let bytes = transport
                .call(target, encoded?)
                .await
                .map_err(CallError::Transport)?;
            wire::decode(&bytes).map_err(CallError::Reply)
        }
    }

    fn unexpected(&self, reply: &Reply) -> CallError {
        CallError::Reply(format!(
            "node {} sent a reply of the wrong kind: {reply:?}",
            self.target
        ))
    }
}

fn rpc_error(e: CallError) -> RPCError<RaftId, EmptyNode, OpenRaftError<RaftId>> {
    match e {
        CallError::Transport(e) => RPCError::Unreachable(Unreachable::new(&AnyError::error(e))),
        CallError::Encode(e) | CallError::Reply(e) => {
            RPCError::Network(NetworkError::new(&AnyError::error(e)))
        }
    }
}

impl<T: RaftTransport> RaftNetwork<TypeConfig> for Peer<T> {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<RaftId>, RPCError<RaftId, EmptyNode, OpenRaftError<RaftId>>>
    {
        match self.call(&Request::Append(rpc)).await.map_err(rpc_error)? {
            Reply::Append(r) => Ok(r),
            other => Err(rpc_error(self.unexpected(&other))),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<RaftId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<RaftId>, RPCError<RaftId, EmptyNode, OpenRaftError<RaftId>>> {
        match self.call(&Request::Vote(rpc)).await.map_err(rpc_error)? {
            Reply::Vote(r) => Ok(r),
            other => Err(rpc_error(self.unexpected(&other))),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<RaftId>,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<RaftId>, StreamingError<TypeConfig, Fatal<RaftId>>> {
        let request = Request::Snapshot {
            vote,
            meta: snapshot.meta,
            data: *snapshot.snapshot,
        };
        let reply = tokio::select! {
            reply = self.call(&request) => reply,
            closed = cancel => return Err(StreamingError::Closed(closed)),
        };
        let streaming = |e: CallError| match e {
            CallError::Transport(e) => {
                StreamingError::Unreachable(Unreachable::new(&AnyError::error(e)))
            }
            CallError::Encode(e) | CallError::Reply(e) => {
                StreamingError::Network(NetworkError::new(&AnyError::error(e)))
            }
        };
        match reply.map_err(streaming)? {
            Reply::Snapshot(r) => Ok(r),
            other => Err(streaming(self.unexpected(&other))),
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(std::iter::repeat(self.backoff))
    }
}
