//! One chain on this node, in the stages a transaction goes through:
//!
//! - [`admission`]: a transaction from a client or a peer is checked into the pool;
//! - [`proposer`]: this node builds the next block from the pool and executes it;
//! - [`validator`]: a block another node made is checked and re-executed;
//! - [`committer`]: a decided block is written (one path for every engine), membership
//!   reloaded, waiters and subscribers told;
//! - [`reads`]: committed transactions with proofs, blocks, queries;
//! - [`port`]: the chain as a consensus driver sees it
//!   ([`ChainPort`](covenant_consensus::ChainPort)).

mod admission;
mod committer;
mod port;
mod proposer;
mod reads;
mod validator;

use std::{
    collections::HashMap,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use covenant_consensus::Engine;
use covenant_crypto::{Hash, PrivateKey, Suite};
use covenant_storage::{Store, VerifyMode};
use covenant_types::{ChainConfig, TxResult, block::DecodedBlock};
use parking_lot::{Condvar, Mutex, RwLock};
use tokio::sync::{broadcast, oneshot, watch};
use tracing::info;

use crate::{
    ChainError, Executor, TxError, genesis,
    identity::Membership,
    state::StateRead,
    txpool::{PoolLimits, TxPool, VerifiedCache},
};

/// The longest a transaction with an explicit expiry may wait for a block: 7 days.
pub const MAX_TX_LIFETIME_MS: u64 = 7 * 86_400_000;

/// A transaction this node admitted from one of its clients, with the ledger's height read
/// before the transaction was found absent from it: the transaction is committed, if ever,
/// above that height. Peers hear of both (a peer that later sends a transaction committed at
/// or below the height it gave is replaying it).
pub type Admitted = (Arc<Vec<u8>>, u64);

/// How a chain is opened on this node.
#[derive(Debug)]
pub struct ChainOptions {
    /// The genesis block (required the first time; checked against the stored one after).
    pub genesis: Option<DecodedBlock>,
    /// How much of the ledger to verify at start-up.
    pub verify: VerifyMode,
    /// This node's signing key and the suite hash of its certificate.
    pub node_key: PrivateKey,
    pub node_id: Vec<u8>,
    pub pool: PoolLimits,
}

/// A committed block with its decoded results, as subscribers receive it.
#[derive(Debug, Clone)]
pub struct CommittedBlock {
    pub block: DecodedBlock,
    pub results: Vec<TxResult>,
}

/// Where and how a transaction was committed.
#[derive(Debug, Clone)]
pub struct TxCommitted {
    pub height: u64,
    pub index: u32,
    pub block_hash: Hash,
    pub result: TxResult,
}

/// A committed transaction with its proof.
#[derive(Debug, Clone)]
pub struct TxRecord {
    pub transaction: Vec<u8>,
    pub committed: TxCommitted,
    /// Inclusion of `transaction` under the block header's `tx_root`.
    pub proof: covenant_crypto::merkle::InclusionProof,
    /// What the transaction read and wrote (the encoded `RwSet` the block carries).
    pub rwset: Vec<u8>,
}

/// Counters a node reports.
#[derive(Debug, Clone, Default)]
pub struct ChainStats {
    pub height: Option<u64>,
    pub pool_size: usize,
    pub txs_committed: u64,
    pub last_commit_ms: u64,
    /// Callers waiting for a transaction to commit.
    pub waiters: usize,
}

struct Inner {
    store: Store,
    suite: Suite,
    chain_id: String,
    engine: Engine,
    executor: Executor,
    pool: TxPool,
    verified: VerifiedCache,
    membership: RwLock<Arc<Membership>>,
    node_key: PrivateKey,
    node_id: Vec<u8>,
    blocks: broadcast::Sender<Arc<CommittedBlock>>,
    /// Transactions this node admitted from its own clients (for gossip to peers).
    accepted: broadcast::Sender<Admitted>,
    waiters: Mutex<HashMap<Hash, Vec<oneshot::Sender<TxCommitted>>>>,
    /// Set when a full block waits (or the chain stops), for the Solo producer.
    work: (Mutex<bool>, Condvar),
    stopping: AtomicBool,
    /// Why the chain halted, once it did: the node must stop.
    halted: watch::Sender<Option<String>>,
    /// Serializes block production and commit.
    commit_lock: Mutex<()>,
    /// What the consensus driver reports about itself (for the API).
    engine_status: Mutex<serde_json::Value>,
    stats: Mutex<ChainStats>,
}

/// One chain hosted by this node. Cheap to clone.
#[derive(Clone)]
pub struct Chain {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("id", &self.inner.chain_id)
            .finish()
    }
}

impl Chain {
    /// Open the chain stored in `dir` (creating it from `options.genesis` the first time),
    /// verify the ledger per `options.verify`, and load the membership. The consensus engine
    /// is the one the genesis config names.
    pub fn open(dir: &Path, options: ChainOptions, executor: Executor) -> Result<Self, ChainError> {
        let genesis_config = match &options.genesis {
            Some(g) => Some(genesis::config_of(g)?),
            None => None,
        };
        let suite = match &genesis_config {
            Some(c) => covenant_types::config::ChainConfigExt::suite(c)?,
            None => {
                let suite_file = dir.join("suite");
                std::fs::read_to_string(&suite_file)
                    .map_err(|_| {
                        ChainError::BadGenesis(format!(
                            "{} holds no chain and no genesis was given",
                            dir.display()
                        ))
                    })?
                    .trim()
                    .parse()
                    .map_err(|_| {
                        ChainError::BadGenesis("unknown suite in the data directory".into())
                    })?
            }
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| ChainError::Other(format!("{}: {e}", dir.display())))?;
        std::fs::write(dir.join("suite"), suite.name())
            .map_err(|e| ChainError::Other(format!("{}: {e}", dir.display())))?;
        let store = Store::open(dir, suite)?;
        match (store.height(), &options.genesis) {
            (None, Some(g)) => {
                store.commit(g)?;
                info!(chain = %g.header.chain_id, hash = %g.hash, "created the chain from its genesis block");
            }
            (None, None) => {
                return Err(ChainError::BadGenesis(
                    "the chain is empty and no genesis block was given".into(),
                ));
            }
            (Some(_), Some(g)) => {
                let stored = match store.block(0) {
                    // The genesis block given is the one to put back, if it is this chain's.
                    Err(covenant_storage::StorageError::Damaged { .. }) => {
                        store
                            .repair_block(0, &g.encode())
                            .map_err(|e| ChainError::BadGenesis(format!(
                                "the stored genesis block is damaged and the one given does not replace it: {e}"
                            )))?;
                        store.block(0)?
                    }
                    other => other?,
                }
                .ok_or_else(|| ChainError::BadGenesis("genesis missing".into()))?;
                if stored.hash != g.hash {
                    return Err(ChainError::BadGenesis(format!(
                        "the data directory holds chain genesis {}, not {}",
                        stored.hash, g.hash
                    )));
                }
            }
            (Some(_), None) => {}
        }
        // A damaged block does not keep the node down: it is marked (reads of it refused) and
        // repaired from peers once the node runs.
        let checked = store.scrub(options.verify)?;
        let rec = store.recovery().clone();
        let damaged = store.damaged().len();
        info!(blocks_checked = checked, damaged, replayed = rec.replayed, truncated = rec.truncated_bytes, height = ?store.height(), "ledger verified");
        let genesis_block = store
            .block(0)?
            .ok_or_else(|| ChainError::BadGenesis("genesis missing".into()))?;
        let engine = Engine::of(&genesis::config_of(&genesis_block)?)
            .map_err(|e| ChainError::BadGenesis(e.to_string()))?;
        let membership = Arc::new(Membership::load(&store.snapshot()?)?);
        let chain_id = membership.config().chain_id.clone();
        let (blocks, _) = broadcast::channel(1024);
        let (accepted, _) = broadcast::channel(65_536);
        let (halted, _) = watch::channel(None);
        let stats = ChainStats {
            height: store.height(),
            ..Default::default()
        };
        Ok(Chain {
            inner: Arc::new(Inner {
                store,
                suite,
                chain_id,
                engine,
                executor,
                pool: TxPool::new(options.pool),
                verified: VerifiedCache::default(),
                membership: RwLock::new(membership),
                node_key: options.node_key,
                node_id: options.node_id,
                blocks,
                accepted,
                waiters: Mutex::new(HashMap::new()),
                work: (Mutex::new(false), Condvar::new()),
                stopping: AtomicBool::new(false),
                halted,
                commit_lock: Mutex::new(()),
                engine_status: Mutex::new(serde_json::Value::Null),
                stats: Mutex::new(stats),
            }),
        })
    }

    pub fn id(&self) -> &str {
        &self.inner.chain_id
    }

    pub fn suite(&self) -> Suite {
        self.inner.suite
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The consensus engine the chain runs.
    pub fn engine(&self) -> Engine {
        self.inner.engine
    }

    /// The consensus engine's name.
    pub fn consensus_kind(&self) -> &'static str {
        self.inner.engine.name()
    }

    /// The current chain config.
    pub fn config(&self) -> Arc<ChainConfig> {
        self.inner.membership.read().config().clone()
    }

    /// The current membership.
    pub fn membership(&self) -> Arc<Membership> {
        self.inner.membership.read().clone()
    }

    /// Counters.
    pub fn stats(&self) -> ChainStats {
        let mut s = self.inner.stats.lock().clone();
        s.pool_size = self.inner.pool.len();
        s.height = self.inner.store.height();
        s.waiters = self.inner.waiters.lock().values().map(Vec::len).sum();
        s
    }

    /// Subscribe to committed blocks.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CommittedBlock>> {
        self.inner.blocks.subscribe()
    }

    /// Subscribe to the transactions this node admits from its own clients (not those that
    /// came from peers), to pass them on.
    pub fn subscribe_accepted(&self) -> broadcast::Receiver<Admitted> {
        self.inner.accepted.subscribe()
    }

    /// Record what the consensus driver reports about itself (role, round, leader, peers).
    pub fn set_engine_status(&self, status: serde_json::Value) {
        *self.inner.engine_status.lock() = status;
    }

    /// The consensus driver's last report (`null` before the first).
    pub fn engine_status(&self) -> serde_json::Value {
        self.inner.engine_status.lock().clone()
    }

    /// Transactions waiting in the pool.
    pub fn pool_len(&self) -> usize {
        self.inner.pool.len()
    }

    /// The block limits of the current config: (max txs, max bytes, interval ms).
    pub fn limits(&self) -> (usize, usize, u64) {
        let config = self.config();
        let b = config
            .block
            .unwrap_or_else(covenant_types::config::default_block_limits);
        (b.max_txs as usize, b.max_bytes as usize, b.interval_ms)
    }

    fn snapshot(&self) -> Result<Arc<dyn StateRead>, TxError> {
        self.inner
            .store
            .snapshot()
            .map(|s| Arc::new(s) as Arc<dyn StateRead>)
            .map_err(|e| match e {
                covenant_storage::StorageError::Unavailable(why) => TxError::Unavailable(why),
                e => TxError::Internal(e.to_string()),
            })
    }

    /// Wake whoever waits for work (the Solo producer).
    fn signal_work(&self) {
        let (lock, cv) = &self.inner.work;
        *lock.lock() = true;
        cv.notify_all();
    }

    /// Block until a full block waits, the chain stops, or `timeout` passes; whether any
    /// transaction waits.
    pub fn wait_for_work(&self, timeout: Duration) -> bool {
        if self.inner.stopping.load(Ordering::Relaxed) {
            return false;
        }
        {
            let (lock, cv) = &self.inner.work;
            let mut signalled = lock.lock();
            if !*signalled {
                cv.wait_for(&mut signalled, timeout);
            }
            *signalled = false;
        }
        !self.inner.stopping.load(Ordering::Relaxed) && !self.inner.pool.is_empty()
    }

    /// Tell whoever waits for work (the Solo producer) that the chain stops.
    pub fn stop(&self) {
        self.inner.stopping.store(true, Ordering::Relaxed);
        self.signal_work();
    }

    /// Halt the chain: it cannot go on correctly (`reason` says why). The node watching
    /// [`Chain::halted`] stops; nothing more is committed.
    pub fn halt(&self, reason: String) {
        tracing::error!(chain = self.id(), %reason, "the chain halted");
        self.inner.halted.send_if_modified(|h| {
            if h.is_none() {
                *h = Some(reason);
                true
            } else {
                false
            }
        });
        self.stop();
    }

    /// Why the chain halted, once it did.
    pub fn halted(&self) -> watch::Receiver<Option<String>> {
        self.inner.halted.subscribe()
    }

    fn halt_reason(&self) -> Option<String> {
        self.inner.halted.borrow().clone()
    }
}
