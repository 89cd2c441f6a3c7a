//! What a consensus driver needs of the chain it orders.
//!
//! The drivers (Solo's producer, TBFT, Raft) are written against [`ChainPort`], not against
//! the chain's pipeline itself: `covenant-chain` implements it for a real chain, and the
//! seeded simulation implements it with in-memory ledgers, so the simulation runs the same
//! driver code as a node.

use std::{sync::Arc, time::Duration};

use covenant_crypto::{Hash, PrivateKey, Suite};
use covenant_types::{ChainConfig, block::DecodedBlock};

/// How a decided block reaches the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitMode {
    /// Decided by a quorum (TBFT, Solo) or fetched by sync: a block this node has not executed
    /// is validated in full, its time included against this node's clock.
    Decided,
    /// The next entry of a log every node applies in the same order (Raft): every check is a
    /// function of the block and the ledger only (no clock), so all nodes take or skip it
    /// alike.
    Ordered,
}

/// A block that reached the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub height: u64,
    pub hash: Hash,
    pub txs: usize,
}

/// Why the chain refused or failed a driver's request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The block or request is wrong (an invalid proposal, a block that does not follow).
    #[error("{0}")]
    Rejected(String),
    /// The block's time is ahead of this node's clock: refused for now, but no proof against
    /// its proposer (this node's clock may be the wrong one).
    #[error("{0}")]
    AheadOfClock(String),
    /// The chain can no longer work correctly (it halted; the node must stop).
    #[error("the chain halted: {0}")]
    Halted(String),
    /// This node's storage failed (a full disk): nothing was judged; the same call can
    /// succeed once the store has recovered.
    #[error("this node's storage failed: {0}")]
    Unavailable(String),
}

/// This node's identity on a chain, for drivers that sign.
#[derive(Clone)]
pub struct NodeKeys {
    /// The suite hash of the node certificate: the node's id on the chain.
    pub id: Hash,
    /// The node certificate (DER).
    pub certificate: Arc<Vec<u8>>,
    pub key: PrivateKey,
}

impl std::fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKeys").field("id", &self.id).finish()
    }
}

/// Block limits a driver paces itself by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// A block is made as soon as this many transactions wait.
    pub max_txs: usize,
    /// Otherwise, one interval after the first one arrived.
    pub interval: Duration,
}

/// The chain side of a consensus driver.
pub trait ChainPort: Clone + Send + Sync + 'static {
    /// This node's execution of a block it built or checked, reused when the block commits.
    type Output: Send + 'static;

    fn chain_id(&self) -> &str;
    fn suite(&self) -> Suite;
    /// The current chain config (membership, consensus nodes, limits).
    fn config(&self) -> Arc<ChainConfig>;
    /// The config in the genesis block (Raft's initial voters).
    fn genesis_config(&self) -> Result<ChainConfig, PortError>;
    /// The height of the next block.
    fn next_height(&self) -> u64;
    /// The committed block at `height`.
    fn block(&self, height: u64) -> Result<Option<DecodedBlock>, PortError>;
    /// Transactions waiting to be ordered.
    fn pending(&self) -> usize;
    /// The block size and interval of the current config.
    fn pace(&self) -> Pace;
    /// Block until a full block waits or `timeout` passes; whether anything waits.
    fn wait_for_work(&self, timeout: Duration) -> bool;
    /// Build the next block from the waiting transactions, executed and signed by this node
    /// as proposer. `None` when nothing waits, unless `allow_empty`.
    fn build(&self, allow_empty: bool) -> Result<Option<(DecodedBlock, Self::Output)>, PortError>;
    /// Check another node's proposal for the next height (all but its certificate).
    fn check(&self, block: &DecodedBlock) -> Result<Self::Output, PortError>;
    /// Commit a block with its certificate. `output` is this node's execution of it against
    /// the current tip (from [`build`](ChainPort::build) or [`check`](ChainPort::check));
    /// without it the block is validated in full. A block already on the ledger is
    /// recognised (`Ok(None)`) or, if another block holds its height, refused.
    fn commit(
        &self,
        block: DecodedBlock,
        output: Option<Self::Output>,
        mode: CommitMode,
    ) -> Result<Option<Committed>, PortError>;
    /// Drop waiting transactions that expired; how many.
    fn evict_expired(&self) -> usize;
    /// Record what the driver reports about itself (role, round, leader, peers).
    fn set_engine_status(&self, status: serde_json::Value);
    /// Stop the node: the chain cannot go on correctly (`reason` says why).
    fn halt(&self, reason: String);
}
