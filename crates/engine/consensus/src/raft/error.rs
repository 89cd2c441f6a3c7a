//! Errors of the Raft engine.

use openraft::error::{ClientWriteError, Fatal, InitializeError, RaftError as OpenRaftError};
use thiserror::Error;

use super::RaftId;

/// Errors of the Raft engine.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RaftError {
    /// Only the leader may do this; `leader` is the leader this node knows of, if any.
    #[error("this node is not the raft leader (leader: {leader:?})")]
    NotLeader {
        /// The current leader as far as this node knows.
        leader: Option<RaftId>,
    },
    /// The durable Raft state could not be read or written.
    #[error("raft storage: {0}")]
    Storage(String),
    /// A peer could not be reached or answered nonsense.
    #[error("raft network: {0}")]
    Network(String),
    /// Bytes from outside (a request, a stored record) are malformed.
    #[error("undecodable raft message: {0}")]
    Decode(String),
    /// The options are inconsistent (e.g. election timeout not above the heartbeat).
    #[error("bad raft options: {0}")]
    Config(String),
    /// The membership change was refused (e.g. another one is in progress, or no voter left).
    #[error("raft membership change refused: {0}")]
    Membership(String),
    /// The node has stopped (shut down, or halted by a storage or applier failure).
    #[error("raft node stopped: {0}")]
    Fatal(String),
}

impl RaftError {
    /// A stable code for the error kind, for logs and API replies.
    pub fn code(&self) -> &'static str {
        match self {
            RaftError::NotLeader { .. } => "NOT_LEADER",
            RaftError::Storage(_) => "RAFT_STORAGE",
            RaftError::Network(_) => "RAFT_NETWORK",
            RaftError::Decode(_) => "RAFT_DECODE",
            RaftError::Config(_) => "RAFT_CONFIG",
            RaftError::Membership(_) => "RAFT_MEMBERSHIP",
            RaftError::Fatal(_) => "RAFT_STOPPED",
        }
    }
}

impl From<Fatal<RaftId>> for RaftError {
    fn from(e: Fatal<RaftId>) -> Self {
        match e {
            Fatal::StorageError(e) => RaftError::Storage(e.to_string()),
            other => RaftError::Fatal(other.to_string()),
        }
    }
}

impl From<OpenRaftError<RaftId>> for RaftError {
    fn from(e: OpenRaftError<RaftId>) -> Self {
        match e {
            OpenRaftError::APIError(never) => match never {},
            OpenRaftError::Fatal(f) => f.into(),
        }
    }
}

impl From<OpenRaftError<RaftId, ClientWriteError<RaftId, openraft::EmptyNode>>> for RaftError {
    fn from(e: OpenRaftError<RaftId, ClientWriteError<RaftId, openraft::EmptyNode>>) -> Self {
        match e {
            OpenRaftError::APIError(ClientWriteError::ForwardToLeader(f)) => RaftError::NotLeader {
                leader: f.leader_id,
            },
            OpenRaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
                RaftError::Membership(e.to_string())
            }
            OpenRaftError::Fatal(f) => f.into(),
        }
    }
}

impl From<OpenRaftError<RaftId, InitializeError<RaftId, openraft::EmptyNode>>> for RaftError {
    fn from(e: OpenRaftError<RaftId, InitializeError<RaftId, openraft::EmptyNode>>) -> Self {
        match e {
            OpenRaftError::APIError(e) => RaftError::Membership(e.to_string()),
            OpenRaftError::Fatal(f) => f.into(),
        }
    }
}
