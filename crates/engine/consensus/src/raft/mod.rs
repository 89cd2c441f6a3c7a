//! Raft: crash-fault-tolerant ordering of a chain's blocks by an elected leader.
//!
//! The engine runs on [openraft](https://docs.rs/openraft/0.9) and is generic over two things the
//! embedding node supplies:
//!
//! - a [`RaftTransport`] that carries one opaque request to a peer and brings its reply back (the
//!   peer hands the request to its own [`RaftNode::handle`]);
//! - a [`RaftApplier`], the application state the committed log drives: for a chain, every
//!   application entry is an encoded block.
//!
//! Modules:
//!
//! - `node`: [`RaftNode`], the running engine and its API.
//! - `log_store`: the durable Raft log, vote and log pointers in a redb database.
//! - `state_machine`: applying committed entries through the applier, and snapshots.
//! - `network`: openraft's network traits on top of a [`RaftTransport`].
//! - `wire`: the versioned binary encoding of RPCs and stored records.
//! - `error`: [`RaftError`] and its stable codes.
//! - [`certificate`]: the commit certificates of Raft blocks, and their check.
//! - [`driver`]: a chain's Raft driver: blocks applied from the log, the leader's producer,
//!   voters that follow the chain config.
//!
//! Everything lives in one redb file, `raft.redb`, inside [`RaftOptions::dir`].

use std::{future::Future, path::PathBuf};

pub mod certificate;
mod db;
pub mod driver;
mod error;
mod log_store;
mod network;
mod node;
mod state_machine;
mod wire;

pub use driver::{RaftNet, RaftRequest, raft_id};
pub use error::RaftError;
pub use node::RaftNode;

/// Decode and check a peer's Raft request exactly as [`RaftNode::handle`] does before it acts
/// on one, and a peer's reply as the transport does: what a peer's bytes can reach without a
/// running node (the fuzzer drives it).
pub fn check_peer_bytes(bytes: &[u8]) -> (Result<(), RaftError>, Result<(), RaftError>) {
    let request = wire::decode::<wire::Request>(bytes)
        .and_then(|r| wire::check_request(&r))
        .map_err(RaftError::Decode);
    let reply = wire::decode::<wire::Reply>(bytes)
        .map(drop)
        .map_err(RaftError::Decode);
    (request, reply)
}

/// The identity of a Raft node. Callers derive it from the node certificate's hash, so it is the
/// same across restarts.
pub type RaftId = u64;

/// How a [`RaftNode`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftOptions {
    /// This node's id.
    pub id: RaftId,
    /// Where the durable Raft state lives (log, vote, log pointers, applied state, snapshot).
    /// Created if missing.
    pub dir: PathBuf,
    /// How often the leader sends heartbeats, in milliseconds. It is also the time limit of one
    /// replication RPC.
    pub heartbeat_ms: u64,
    /// The shortest election timeout, in milliseconds; must be above `heartbeat_ms`.
    pub election_min_ms: u64,
    /// The longest election timeout, in milliseconds; must be above `election_min_ms`.
    pub election_max_ms: u64,
    /// A snapshot is built once this many entries were applied since the last one; the log up to
    /// the snapshot is then purged, except for the most recent `snapshot_after_logs` entries,
    /// kept so that a slightly lagging follower catches up from the log instead of a snapshot.
    pub snapshot_after_logs: u64,
}

impl RaftOptions {
    /// The defaults for node `id` storing its state in `dir`.
    pub fn new(id: RaftId, dir: impl Into<PathBuf>) -> Self {
        RaftOptions {
            id,
            dir: dir.into(),
            ..RaftOptions::default()
        }
    }
}

impl Default for RaftOptions {
    /// Node 0 in `raft/`, 150 ms heartbeats, 600–1200 ms election timeouts and a snapshot every
    /// 1000 entries.
    fn default() -> Self {
        RaftOptions {
            id: 0,
            dir: PathBuf::from("raft"),
            heartbeat_ms: 150,
            election_min_ms: 600,
            election_max_ms: 1200,
            snapshot_after_logs: 1000,
        }
    }
}

/// Sends one Raft RPC (opaque request bytes) to a peer and returns its reply bytes.
///
/// The peer passes the request to [`RaftNode::handle`] and sends back what it returns; when
/// `handle` fails, the call should fail too (`Err`). Any failure (peer unknown, unreachable,
/// connection lost, error reply) is reported as `Err` with a description; the engine retries.
///
/// Calls may run concurrently, to different peers and to the same peer. Replication and vote
/// calls are abandoned by the engine after their own time limit (about a heartbeat and an
/// election timeout respectively); a snapshot call lasts as long as the receiving applier takes
/// to [install](RaftApplier::install) it, so the transport should not cut it short.
pub trait RaftTransport: Send + Sync + 'static {
    /// Sends `request` to node `to` and returns its reply.
    fn call(
        &self,
        to: RaftId,
        request: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, String>> + Send;
}

/// The application state the log drives (a blockchain: each entry is an encoded block).
pub trait RaftApplier: Send + Sync + 'static {
    /// Apply one committed application entry. Called in log order, exactly the same sequence on
    /// every node. May be called again for an entry already applied before a crash: must be
    /// idempotent and deterministic.
    ///
    /// The entry's effect should be durable when the call returns: the node records the entry
    /// as applied right after, and does not offer it again once that record is on disk.
    ///
    /// `Err` says the entry could not be applied *on this node, now* (its storage failed: a
    /// full disk): the node stops, as after a crash, without recording the entry as applied;
    /// started again it offers the entry again. An entry that is wrong in itself is not an
    /// error: it is skipped (deterministically, as every node skips it).
    fn apply(
        &self,
        index: u64,
        term: u64,
        data: Vec<u8>,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Opaque description of the applied state for a snapshot (e.g. chain height + block hash).
    ///
    /// It is taken while no entry is being applied, so it describes exactly the entries applied
    /// so far.
    fn snapshot(&self) -> impl Future<Output = Vec<u8>> + Send;

    /// Bring the local application state up to a snapshot made by another node (e.g. by fetching
    /// blocks from peers); return when done.
    ///
    /// An error stops the Raft node (openraft treats state machine failures as fatal); a
    /// restarted node receives the snapshot again. Retry transient failures here instead.
    fn install(&self, snapshot: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send;
}

openraft::declare_raft_types!(
    /// The openraft type configuration of the engine: `u64` node ids, no node addresses (the
    /// transport resolves ids), opaque byte payloads and in-memory snapshot data.
    pub(crate) TypeConfig:
        D = wire::Payload,
        R = (),
        NodeId = RaftId,
        Node = openraft::EmptyNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Vec<u8>,
        AsyncRuntime = openraft::TokioRuntime,
        Responder = openraft::impls::OneshotResponder<TypeConfig>,
);

/// A log id of this engine.
pub(crate) type LogId = openraft::LogId<RaftId>;
/// The membership of this engine, with the log id that set it.
pub(crate) type StoredMembership = openraft::StoredMembership<RaftId, openraft::EmptyNode>;
/// Snapshot metadata of this engine.
pub(crate) type SnapshotMeta = openraft::SnapshotMeta<RaftId, openraft::EmptyNode>;
/// A storage failure as openraft reports it.
pub(crate) type StorageError = openraft::StorageError<RaftId>;
