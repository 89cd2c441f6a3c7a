//! A chain's traffic over the network besides consensus: block sync and transaction gossip.
//!
//! Both work against [`Ledger`], what they need of the chain (the node implements it over its
//! chain pipeline; tests over anything). Frames of a chain carry a kind ([`kind`]); the node's
//! router hands each to its handler.

use std::sync::Arc;

use covenant_crypto::Suite;
use tokio::sync::{broadcast, watch};

use crate::Network;

/// Kinds of frames on a chain's channel.
pub mod kind {
    /// TBFT proposals and votes (`ConsensusMessage`).
    pub const CONSENSUS: u32 = 1;
    /// Transactions a node passes on (`TxBatch`).
    pub const TXS: u32 = 2;
    /// A node's height (`ChainStatus`).
    pub const STATUS: u32 = 3;
    /// Block requests (`BlockRequest` → `BlockBatch`).
    pub const BLOCKS: u32 = 4;
    /// Raft RPCs (opaque).
    pub const RAFT: u32 = 5;
}

/// Why a block fetched from a peer was not applied.
#[derive(Debug, Clone)]
pub struct SyncRejection {
    /// What failed, with its stable code.
    pub detail: String,
    /// The block itself is wrong (its encoding, its certificate, its contents): the peer that
    /// served it did what no honest node does. `false` when this node could not take it (its
    /// storage failed, the chain halted).
    pub invalid: bool,
}

/// What became of a transaction a peer passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerTx {
    /// Checked into the pool.
    Taken,
    /// Already committed, at this height.
    OnLedger(u64),
    /// Refused for another reason (already pooled, expired, unauthorised, the pool full).
    Refused,
}

/// What block sync and gossip need of a chain.
pub trait Ledger: Clone + Send + Sync + 'static {
    /// What the ledger announces after each commit.
    type Commit: Clone + Send + 'static;
    fn chain_id(&self) -> &str;
    fn suite(&self) -> Suite;
    /// The height of the last committed block and its hash.
    fn tip(&self) -> (u64, Vec<u8>);
    /// The encoded block at `height`, if committed.
    fn block_bytes(&self, height: u64) -> Result<Option<Vec<u8>>, String>;
    /// Commit a block fetched from a peer: its certificate is checked against this node's own
    /// copy of the chain config and it is re-executed. `Ok(true)` if it was applied,
    /// `Ok(false)` if the ledger already holds it.
    fn commit_synced(&self, block: &[u8]) -> Result<bool, SyncRejection>;
    /// Heights of blocks whose stored copy failed its check, to fetch again from peers.
    fn damaged(&self) -> Vec<u64>;
    /// Put `block` (fetched from a peer) in place of this node's damaged copy at `height`,
    /// if it is the block this ledger holds there.
    fn repair_block(&self, height: u64, block: &[u8]) -> Result<(), SyncRejection>;
    /// Whether this node votes on the chain.
    fn is_validator(&self) -> bool;
    /// How many nodes vote on the chain under its current config.
    fn validators(&self) -> usize;
    /// Digests of this node's state at its recent checkpoints, by height.
    fn state_digests(&self) -> std::collections::BTreeMap<u64, Vec<u8>>;
    /// Derive the state again from the blocks (it differs from the one most consensus nodes
    /// hold); `Ok(false)` while a damaged block waits for its repair.
    fn rebuild_state(&self) -> Result<bool, String>;
    /// The hash this node's ledger holds at `height`, if it has that block.
    fn block_hash_at(&self, _height: u64) -> Option<Vec<u8>> {
        None
    }
    /// Most of the chain's consensus nodes hold block `hash` at `height`: hold the ledger to it.
    fn anchor(&self, _height: u64, _hash: Vec<u8>) {}
    /// Committed blocks as they come.
    fn subscribe_commits(&self) -> broadcast::Receiver<Self::Commit>;
    /// Transactions this node admitted from its own clients, to pass on, each with the
    /// ledger's height read before it was found absent from the ledger.
    fn subscribe_accepted(&self) -> broadcast::Receiver<(Arc<Vec<u8>>, u64)>;
    /// Check a transaction a peer passed on into the pool.
    fn submit_from_peer(&self, tx: Vec<u8>) -> PeerTx;
}

/// A chain on the network: what the sync and gossip tasks share.
#[derive(Clone)]
pub struct ChainLink<L: Ledger> {
    pub ledger: L,
    pub net: Network,
    pub sync: Arc<crate::sync::SyncState>,
    pub stop: watch::Receiver<bool>,
}

impl<L: Ledger> std::fmt::Debug for ChainLink<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainLink")
            .field("chain", &self.ledger.chain_id())
            .finish()
    }
}

impl<L: Ledger> ChainLink<L> {
    /// The ids of the peers admitted on this chain.
    pub fn peer_ids(&self) -> Vec<String> {
        self.net
            .peers(Some(self.ledger.chain_id()))
            .iter()
            .map(|p| p.id.to_string())
            .collect()
    }
}
