//! One chain on this node: admission, block production, validation, commit and reads.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use covenant_consensus::Consensus;
use covenant_crypto::{Hash, PrivateKey, Suite, merkle::MerkleTree};
use covenant_storage::{Store, VerifyMode};
use covenant_types::{
    ChainConfig, TxResult,
    block::{BlockParts, DecodedBlock, assemble},
    config::ChainConfigExt,
    names,
    tx::{DecodedTx, now_ms},
};
use parking_lot::{Condvar, Mutex, RwLock};
use prost::Message;
use rayon::prelude::*;
use tokio::sync::{broadcast, oneshot};
use tracing::{debug, error, info, warn};

use crate::{
    ChainError, TxError,
    executor::{BlockEnv, BlockOutput, Executor, method_allowed},
    genesis,
    identity::{Identity, Membership, time_of_ms},
    state::StateRead,
    system::contracts as registry,
    txpool::{PoolLimits, PooledTx, TxPool, VerifiedCache},
};

/// The longest a transaction with an explicit expiry may wait for a block: 7 days.
pub const MAX_TX_LIFETIME_MS: u64 = 7 * 86_400_000;

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
}

/// Counters a node reports.
#[derive(Debug, Clone, Default)]
pub struct ChainStats {
    pub height: Option<u64>,
    pub pool_size: usize,
    pub txs_committed: u64,
    pub last_commit_ms: u64,
}

struct Inner {
    store: Store,
    suite: Suite,
    chain_id: String,
    executor: Executor,
    consensus: Box<dyn Consensus>,
    pool: TxPool,
    verified: VerifiedCache,
    membership: RwLock<Arc<Membership>>,
    node_key: PrivateKey,
    node_id: Vec<u8>,
    blocks: broadcast::Sender<Arc<CommittedBlock>>,
    /// Transactions this node admitted from its own clients (for gossip to peers).
    accepted: broadcast::Sender<Arc<Vec<u8>>>,
    waiters: Mutex<HashMap<Hash, Vec<oneshot::Sender<TxCommitted>>>>,
    wake: (Mutex<bool>, Condvar),
    stop: AtomicBool,
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
    /// verify the ledger per `options.verify`, and load the membership.
    pub fn open(
        dir: &Path,
        options: ChainOptions,
        executor: Executor,
        make_consensus: impl FnOnce(Suite, &ChainConfig) -> Box<dyn Consensus>,
    ) -> Result<Self, ChainError> {
        let genesis_config = match &options.genesis {
            Some(g) => Some(genesis::config_of(g)?),
            None => None,
        };
        let suite = match &genesis_config {
            Some(c) => c.suite()?,
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
                let stored = store
                    .block(0)?
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
        let checked = store.verify(options.verify)?;
        let rec = store.recovery().clone();
        info!(blocks_checked = checked, replayed = rec.replayed, truncated = rec.truncated_bytes, height = ?store.height(), "ledger verified");
        let membership = Arc::new(Membership::load(&store.snapshot()?)?);
        let chain_id = membership.config().chain_id.clone();
        let consensus = make_consensus(suite, membership.config());
        let (blocks, _) = broadcast::channel(1024);
        let (accepted, _) = broadcast::channel(65_536);
        let stats = ChainStats {
            height: store.height(),
            ..Default::default()
        };
        Ok(Chain {
            inner: Arc::new(Inner {
                store,
                suite,
                chain_id,
                executor,
                consensus,
                pool: TxPool::new(options.pool),
                verified: VerifiedCache::default(),
                membership: RwLock::new(membership),
                node_key: options.node_key,
                node_id: options.node_id,
                blocks,
                accepted,
                waiters: Mutex::new(HashMap::new()),
                wake: (Mutex::new(false), Condvar::new()),
                stop: AtomicBool::new(false),
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

    /// The current chain config.
    pub fn config(&self) -> Arc<ChainConfig> {
        self.inner.membership.read().config().clone()
    }

    /// The current membership.
    pub fn membership(&self) -> Arc<Membership> {
        self.inner.membership.read().clone()
    }

    /// The consensus engine's name.
    pub fn consensus_kind(&self) -> &'static str {
        self.inner.consensus.kind()
    }

    /// Counters.
    pub fn stats(&self) -> ChainStats {
        let mut s = self.inner.stats.lock().clone();
        s.pool_size = self.inner.pool.len();
        s.height = self.inner.store.height();
        s
    }

    /// Subscribe to committed blocks.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CommittedBlock>> {
        self.inner.blocks.subscribe()
    }

    /// Subscribe to the transactions this node admits from its own clients (not those that
    /// came from peers), to pass them on.
    pub fn subscribe_accepted(&self) -> broadcast::Receiver<Arc<Vec<u8>>> {
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
        self.block_limits()
    }

    fn snapshot(&self) -> Result<Arc<dyn StateRead>, TxError> {
        self.inner
            .store
            .snapshot()
            .map(|s| Arc::new(s) as Arc<dyn StateRead>)
            .map_err(|e| TxError::Internal(e.to_string()))
    }

    /// Check a transaction from a client of this node and add it to the pool (peers hear of
    /// it through [`Chain::subscribe_accepted`]). Returns its id.
    pub fn submit(&self, bytes: Vec<u8>) -> Result<Hash, TxError> {
        self.admit(bytes, true)
    }

    /// Check a transaction a peer passed on and add it to the pool (not passed on again).
    pub fn submit_from_peer(&self, bytes: Vec<u8>) -> Result<Hash, TxError> {
        self.admit(bytes, false)
    }

    fn admit(&self, bytes: Vec<u8>, local: bool) -> Result<Hash, TxError> {
        let membership = self.membership();
        let config = membership.config().clone();
        let limit = config.max_tx_bytes as usize;
        if bytes.len() > limit {
            return Err(TxError::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        self.inner.pool.check_room(bytes.len())?;
        let tx = DecodedTx::decode(self.inner.suite, &bytes, limit)
            .map_err(|e| TxError::Malformed(e.to_string()))?;
        if tx.payload.chain_id != self.inner.chain_id {
            return Err(TxError::WrongChain {
                expected: self.inner.chain_id.clone(),
                got: tx.payload.chain_id.clone(),
            });
        }
        let now = now_ms();
        let window = config.tx_expiry_window_ms;
        let ts = tx.payload.timestamp_ms;
        if ts > now + window {
            return Err(TxError::BadTimestamp(format!(
                "timestamp {ts} is more than {window} ms ahead of this node's clock ({now})"
            )));
        }
        let expiry = if tx.payload.expiry_ms > 0 {
            // An explicit expiry (e.g. a proposal signed offline over hours) bounds the
            // transaction's life instead of its timestamp.
            if tx.payload.expiry_ms > now + MAX_TX_LIFETIME_MS {
                return Err(TxError::BadTimestamp(format!(
                    "expiry {} is more than {} days away",
                    tx.payload.expiry_ms,
                    MAX_TX_LIFETIME_MS / 86_400_000
                )));
            }
            tx.payload.expiry_ms
        } else {
            if ts + window < now {
                return Err(TxError::BadTimestamp(format!(
                    "timestamp {ts} is more than {window} ms behind this node's clock ({now}); set an expiry for long-lived transactions"
                )));
            }
            ts + window
        };
        if expiry < now {
            return Err(TxError::Expired {
                expiry_ms: expiry,
                now_ms: now,
            });
        }
        if names::is_system(&tx.payload.contract) && tx.payload.method == genesis::GENESIS_METHOD {
            return Err(TxError::Malformed(
                "the genesis method cannot be called".into(),
            ));
        }
        let id = tx.id;
        if self.inner.pool.contains(&id) {
            return Err(TxError::DuplicateInPool(id.to_hex()));
        }
        if self
            .inner
            .store
            .tx_location(id.as_bytes())
            .map_err(|e| TxError::Internal(e.to_string()))?
            .is_some()
        {
            return Err(TxError::DuplicateOnLedger(id.to_hex()));
        }
        let view = self.snapshot()?;
        let signers = membership.verify_signatures(&tx, &*view, time_of_ms(now))?;
        self.check_callable(&tx, &signers[0], &*view)?;
        let envelope = self.inner.suite.hash(&bytes);
        let bytes = Arc::new(bytes);
        self.inner.pool.insert(PooledTx {
            tx: Arc::new(tx),
            bytes: bytes.clone(),
            received: Instant::now(),
        })?;
        self.inner.verified.insert(envelope);
        if local {
            // Nobody listening (a single node) is fine.
            let _ = self.inner.accepted.send(bytes);
        }
        if self.inner.pool.len() >= self.block_limits().0 {
            self.wake_producer();
        }
        debug!(tx = %id, "admitted");
        Ok(id)
    }

    /// Whether the sender may call the target (contract exists, is active, method allowed).
    fn check_callable(
        &self,
        tx: &DecodedTx,
        sender: &Identity,
        view: &dyn StateRead,
    ) -> Result<(), TxError> {
        let contract = &tx.payload.contract;
        if names::is_system(contract) {
            if !crate::system::exists(contract) {
                return Err(TxError::UnknownContract(contract.clone()));
            }
            return Ok(());
        }
        let info = view
            .get(&registry::info_key(contract))
            .map_err(TxError::Internal)?
            .ok_or_else(|| TxError::UnknownContract(contract.clone()))?;
        let info = covenant_types::ContractInfo::decode(info.1.as_slice())
            .map_err(|e| TxError::Internal(e.to_string()))?;
        if info.status != registry::STATUS_ACTIVE {
            return Err(TxError::ContractUnavailable {
                name: contract.clone(),
                status: info.status,
            });
        }
        if !method_allowed(&info, &tx.payload.method, &sender.org, sender.role.name()) {
            return Err(TxError::MethodNotAllowed {
                org: sender.org.clone(),
                role: sender.role.name().into(),
                contract: contract.clone(),
                method: tx.payload.method.clone(),
            });
        }
        Ok(())
    }

    /// A receiver that fires when `id` commits (at once if it already has).
    pub fn watch(&self, id: Hash) -> oneshot::Receiver<TxCommitted> {
        let (tx, rx) = oneshot::channel();
        let mut waiters = self.inner.waiters.lock();
        match self.committed(&id) {
            Ok(Some(c)) => {
                let _ = tx.send(c);
            }
            _ => waiters.entry(id).or_default().push(tx),
        }
        rx
    }

    /// Where `id` was committed, with its result.
    pub fn committed(&self, id: &Hash) -> Result<Option<TxCommitted>, ChainError> {
        let Some((height, index)) = self.inner.store.tx_location(id.as_bytes())? else {
            return Ok(None);
        };
        let block = self
            .inner
            .store
            .block(height)?
            .ok_or_else(|| ChainError::Other(format!("block {height} is missing")))?;
        let result = block
            .block
            .results
            .get(index as usize)
            .map(|r| TxResult::decode(r.as_slice()))
            .transpose()
            .map_err(|e| ChainError::Other(e.to_string()))?
            .unwrap_or_default();
        Ok(Some(TxCommitted {
            height,
            index,
            block_hash: block.hash,
            result,
        }))
    }

    /// A committed transaction with its proof of inclusion.
    pub fn transaction(&self, id: &Hash) -> Result<Option<TxRecord>, ChainError> {
        let Some(committed) = self.committed(id)? else {
            return Ok(None);
        };
        let block = self
            .inner
            .store
            .block(committed.height)?
            .ok_or_else(|| ChainError::Other("block missing".into()))?;
        let tree =
            MerkleTree::from_leaves(self.inner.suite.hash_algorithm(), &block.block.transactions);
        let proof = tree
            .prove(committed.index as usize)
            .ok_or_else(|| ChainError::Other("index out of range".into()))?;
        Ok(Some(TxRecord {
            transaction: block.block.transactions[committed.index as usize].clone(),
            committed,
            proof,
        }))
    }

    /// Run a read-only call on the latest state. `caller` is a certificate (DER) whose
    /// identity the contract sees; it must belong to a member org.
    pub fn query(
        &self,
        contract: &str,
        method: &str,
        args: &[u8],
        caller: Option<&[u8]>,
    ) -> Result<crate::executor::TxOutcome, TxError> {
        let membership = self.membership();
        let now = now_ms();
        let identity = caller
            .map(|der| membership.identify(der, time_of_ms(now)))
            .transpose()?;
        let view = self.snapshot()?;
        let height = self.inner.store.height().map_or(0, |h| h + 1);
        Ok(self.inner.executor.query(
            &membership,
            view,
            BlockEnv {
                height,
                time_ms: now,
            },
            crate::executor::Query {
                caller: identity,
                contract,
                method,
                args,
            },
        ))
    }

    fn block_limits(&self) -> (usize, usize, u64) {
        let config = self.config();
        let b = config
            .block
            .unwrap_or_else(covenant_types::config::default_block_limits);
        (b.max_txs as usize, b.max_bytes as usize, b.interval_ms)
    }

    fn wake_producer(&self) {
        let (lock, cv) = &self.inner.wake;
        *lock.lock() = true;
        cv.notify_one();
    }

    /// Build, order and commit one block from the pool, if it holds anything (the solo
    /// engine).
    pub fn produce_block(&self) -> Result<Option<Arc<CommittedBlock>>, ChainError> {
        let _guard = self.inner.commit_lock.lock();
        let height = self.inner.store.tip().height.map_or(0, |h| h + 1);
        if !self.inner.consensus.is_proposer(height) {
            return Ok(None);
        }
        let Some((block, out)) = self.build_block(false)? else {
            return Ok(None);
        };
        let started = Instant::now();
        let block = self
            .inner
            .consensus
            .order(block)
            .map_err(|e| ChainError::Other(e.to_string()))?;
        let committed = self.commit(block, out)?;
        debug!(
            height,
            txs = committed.results.len(),
            ms = started.elapsed().as_millis() as u64,
            "block committed"
        );
        Ok(Some(committed))
    }

    /// Build the next block from the pool, executed and signed by this node as proposer, but
    /// neither ordered nor committed. `None` when the pool is empty, unless `allow_empty`.
    pub fn build_block(
        &self,
        allow_empty: bool,
    ) -> Result<Option<(DecodedBlock, BlockOutput)>, ChainError> {
        let (max_txs, max_bytes, _) = self.block_limits();
        let mut batch = self.inner.pool.peek(max_txs, max_bytes);
        if batch.is_empty() && !allow_empty {
            return Ok(None);
        }
        let tip = self.inner.store.tip();
        let height = tip.height.map_or(0, |h| h + 1);
        // A transaction committed meanwhile (a race with admission) must not go in again.
        let mut stale = Vec::new();
        batch.retain(|t| match self.inner.store.tx_location(t.tx.id.as_bytes()) {
            Ok(None) => true,
            _ => {
                stale.push(t.tx.id);
                false
            }
        });
        self.inner.pool.remove(&stale);
        if batch.is_empty() && !allow_empty {
            return Ok(None);
        }
        let prev_time = match tip.height {
            Some(h) => self
                .inner
                .store
                .block(h)?
                .map_or(0, |b| b.header.timestamp_ms),
            None => 0,
        };
        let env = BlockEnv {
            height,
            time_ms: now_ms().max(prev_time + 1),
        };
        let membership = self.membership();
        let base: Arc<dyn StateRead> = Arc::new(self.inner.store.snapshot()?);
        let txs: Vec<Arc<DecodedTx>> = batch.iter().map(|t| t.tx.clone()).collect();
        let out = self
            .inner
            .executor
            .execute_batch(&membership, base, env, &txs);
        let parts = BlockParts {
            chain_id: self.inner.chain_id.clone(),
            height,
            prev_hash: tip.hash.clone(),
            prev_state_root: tip.state_root.clone(),
            timestamp_ms: env.time_ms,
            proposer: self.inner.node_id.clone(),
            config_version: membership.config().version,
            transactions: batch.iter().map(|t| (*t.bytes).clone()).collect(),
            results: out
                .outcomes
                .iter()
                .map(|o| o.result.encode_to_vec())
                .collect(),
            rwsets: out
                .outcomes
                .iter()
                .map(|o| o.effects.rwset.encode_to_vec())
                .collect(),
            dag: out.dag.clone(),
        };
        let block = assemble(self.inner.suite, parts, Some(&self.inner.node_key))?;
        Ok(Some((block, out)))
    }

    /// Check a block another node proposes for the next height, before it is decided: all of
    /// [`Chain::validate`] except the commit certificate, which it cannot have yet.
    pub fn check_proposal(&self, block: &DecodedBlock) -> Result<BlockOutput, ChainError> {
        self.validate_block(block, false, true)
    }

    /// Commit the next block of a log every node applies in the same order (Raft): every
    /// check is a function of the block and this node's ledger only (no clock), so all nodes
    /// reach the same verdict. A block for a height already committed is recognised (same
    /// hash: `Ok(None)`) or refused; so is one that does not follow the tip.
    pub fn commit_ordered(
        &self,
        block: DecodedBlock,
        output: Option<BlockOutput>,
    ) -> Result<Option<Arc<CommittedBlock>>, ChainError> {
        let _guard = self.inner.commit_lock.lock();
        let h = block.height();
        let tip = self.inner.store.tip();
        if tip.height.is_some_and(|t| t >= h) {
            return match self.inner.store.block(h)? {
                Some(b) if b.hash == block.hash => Ok(None),
                Some(b) => Err(Self::invalid(
                    h,
                    format!("{} is committed at this height, not {}", b.hash, block.hash),
                )),
                None => Err(Self::invalid(h, "missing from the store")),
            };
        }
        let out = match output {
            Some(out) if tip.height.map_or(0, |t| t + 1) == h => {
                let config = self.config();
                self.inner
                    .consensus
                    .check_certificate(&block, &config)
                    .map_err(|e| Self::invalid(h, e.to_string()))?;
                block.check_link(self.inner.suite, &tip.hash, &tip.state_root)?;
                out
            }
            _ => self.validate_block(&block, true, false)?,
        };
        self.commit(block, out).map(Some)
    }

    /// Commit a block the consensus engine decided, with its certificate. `output` is this
    /// node's execution of it from [`Chain::build_block`] or [`Chain::check_proposal`]
    /// against the same tip; without it the block is validated again. A block already
    /// committed (e.g. by block sync meanwhile) is reported as it was committed.
    pub fn commit_decided(
        &self,
        block: DecodedBlock,
        output: Option<BlockOutput>,
    ) -> Result<Option<Arc<CommittedBlock>>, ChainError> {
        let _guard = self.inner.commit_lock.lock();
        let h = block.height();
        let tip = self.inner.store.tip();
        if tip.height.is_some_and(|t| t >= h) {
            let stored = self.inner.store.block(h)?;
            return match stored {
                Some(b) if b.hash == block.hash => Ok(None),
                Some(b) => Err(Self::invalid(
                    h,
                    format!(
                        "decided {} but {} is committed at this height",
                        block.hash, b.hash
                    ),
                )),
                None => Err(Self::invalid(h, "missing from the store")),
            };
        }
        let out = match output {
            Some(out) if tip.height.map_or(0, |t| t + 1) == h => {
                let config = self.config();
                self.inner
                    .consensus
                    .check_certificate(&block, &config)
                    .map_err(|e| Self::invalid(h, e.to_string()))?;
                out
            }
            _ => self.validate_block(&block, true, true)?,
        };
        self.commit(block, out).map(Some)
    }

    /// The committed block at `height` (decoded).
    pub fn block(&self, height: u64) -> Result<Option<DecodedBlock>, ChainError> {
        Ok(self.inner.store.block(height)?)
    }

    /// Validate a block decided elsewhere (re-executing it along its DAG) and commit it.
    pub fn apply_block(&self, block: DecodedBlock) -> Result<Arc<CommittedBlock>, ChainError> {
        let _guard = self.inner.commit_lock.lock();
        let out = self.validate_block(&block, true, true)?;
        self.commit(block, out)
    }

    fn invalid(height: u64, detail: impl Into<String>) -> ChainError {
        ChainError::InvalidBlock {
            height,
            detail: detail.into(),
        }
    }

    /// Check a block from elsewhere without committing it; returns its execution.
    pub fn validate(&self, block: &DecodedBlock) -> Result<BlockOutput, ChainError> {
        self.validate_block(block, true, true)
    }

    /// Check a block against this node's ledger; `with_certificate` checks its commit
    /// certificate, `with_clock` that its time is not ahead of this node's clock.
    fn validate_block(
        &self,
        block: &DecodedBlock,
        with_certificate: bool,
        with_clock: bool,
    ) -> Result<BlockOutput, ChainError> {
        let h = block.height();
        let bad = |d: String| Self::invalid(h, d);
        let tip = self.inner.store.tip();
        if Some(h) != tip.height.map(|t| t + 1) {
            return Err(bad(format!(
                "expected height {}",
                tip.height.map_or(0, |t| t + 1)
            )));
        }
        if block.header.chain_id != self.inner.chain_id {
            return Err(bad("wrong chain".into()));
        }
        block.check_body(self.inner.suite)?;
        block.check_link(self.inner.suite, &tip.hash, &tip.state_root)?;
        let membership = self.membership();
        let config = membership.config();
        if block.header.config_version != config.version {
            return Err(bad(format!(
                "config version {} is not {}",
                block.header.config_version, config.version
            )));
        }
        // The proposer must be a consensus node, and its signature must verify.
        let proposer = config
            .consensus
            .as_ref()
            .and_then(|c| {
                c.nodes.iter().find(|n| {
                    self.inner.suite.hash(&n.certificate).as_bytes().as_slice()
                        == block.header.proposer
                })
            })
            .ok_or_else(|| bad("the proposer is not a consensus node".into()))?;
        let key = covenant_consensus::node_key(&proposer.certificate).map_err(bad)?;
        key.verify(&block.block.header, &block.block.proposer_signature)
            .map_err(|_| bad("the proposer's signature does not verify".into()))?;
        if with_certificate {
            self.inner
                .consensus
                .check_certificate(block, config)
                .map_err(|e| bad(e.to_string()))?;
        }
        let prev_time = match tip.height {
            Some(t) => self
                .inner
                .store
                .block(t)?
                .map_or(0, |b| b.header.timestamp_ms),
            None => 0,
        };
        if block.header.timestamp_ms <= prev_time {
            return Err(bad("the timestamp does not move forward".into()));
        }
        if with_clock && block.header.timestamp_ms > now_ms() + 60_000 {
            return Err(bad(
                "the timestamp is more than a minute ahead of this node's clock".into(),
            ));
        }
        let env = BlockEnv {
            height: h,
            time_ms: block.header.timestamp_ms,
        };
        let base: Arc<dyn StateRead> = Arc::new(self.inner.store.snapshot()?);
        let limit = config.max_tx_bytes as usize;
        let txs: Vec<Arc<DecodedTx>> = block
            .block
            .transactions
            .iter()
            .map(|b| DecodedTx::decode(self.inner.suite, b, limit).map(Arc::new))
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let mut seen = HashSet::new();
        for tx in &txs {
            if tx.payload.chain_id != self.inner.chain_id {
                return Err(bad(format!("tx {} is for another chain", tx.id)));
            }
            if !seen.insert(tx.id) || self.inner.store.tx_location(tx.id.as_bytes())?.is_some() {
                return Err(bad(format!("tx {} is a duplicate", tx.id)));
            }
        }
        // Signatures this node has not checked yet, on all cores.
        let at = time_of_ms(env.time_ms);
        block
            .block
            .transactions
            .par_iter()
            .zip(txs.par_iter())
            .try_for_each(|(bytes, tx)| {
                let envelope = self.inner.suite.hash(bytes);
                if self.inner.verified.contains(&envelope) {
                    return Ok(());
                }
                // Identity problems become failed results during execution; only bad
                // signatures make the block invalid.
                for (i, sig) in std::iter::once((tx.tx.sender.as_ref(), &tx.tx.signature))
                    .chain(
                        tx.tx
                            .endorsements
                            .iter()
                            .map(|e| (e.signer.as_ref(), &e.signature)),
                    )
                    .enumerate()
                {
                    if let Ok(who) = membership.resolve(sig.0, &*base, at)
                        && who.public_key.verify(&tx.tx.payload, sig.1).is_err()
                    {
                        return Err(bad(format!("tx {}: signature {i} does not verify", tx.id)));
                    }
                }
                self.inner.verified.insert(envelope);
                Ok(())
            })?;
        let dag = block.dag()?;
        let out = self
            .inner
            .executor
            .execute_with_dag(&membership, base, env, &txs, &dag);
        for (i, (o, (r, w))) in out
            .outcomes
            .iter()
            .zip(block.block.results.iter().zip(&block.block.rwsets))
            .enumerate()
        {
            if o.result.encode_to_vec() != *r {
                let theirs = TxResult::decode(r.as_slice()).unwrap_or_default();
                return Err(bad(format!(
                    "tx {i}: the result differs from this node's execution (block: {} gas {} {:?}; here: {} gas {} {:?})",
                    theirs.code,
                    theirs.gas_used,
                    String::from_utf8_lossy(&theirs.return_data),
                    o.result.code,
                    o.result.gas_used,
                    String::from_utf8_lossy(&o.result.return_data),
                )));
            }
            if o.effects.rwset.encode_to_vec() != *w {
                return Err(bad(format!(
                    "tx {i}: the read/write set differs from this node's execution"
                )));
            }
        }
        if out.dag != dag {
            return Err(bad(
                "the DAG is not the one the read/write sets imply".into()
            ));
        }
        Ok(out)
    }

    fn commit(
        &self,
        block: DecodedBlock,
        out: BlockOutput,
    ) -> Result<Arc<CommittedBlock>, ChainError> {
        let started = Instant::now();
        self.inner.store.commit(&block)?;
        let height = block.height();
        let membership_changed = out.outcomes.iter().any(|o| {
            o.effects
                .writes
                .iter()
                .any(|(k, _)| Membership::affects_membership(k))
        });
        if membership_changed {
            match self
                .inner
                .store
                .snapshot()
                .map_err(ChainError::from)
                .and_then(|s| Membership::load(&s))
            {
                Ok(m) => {
                    info!(height, version = m.config().version, "membership changed");
                    *self.inner.membership.write() = Arc::new(m);
                }
                Err(e) => error!(height, error = %e, "cannot reload the membership"),
            }
        }
        let results: Vec<TxResult> = out.outcomes.into_iter().map(|o| o.result).collect();
        let ids: Vec<Hash> = block
            .block
            .transactions
            .iter()
            .map(|b| {
                covenant_types::Transaction::decode(b.as_slice())
                    .map(|t| self.inner.suite.hash(&t.payload))
                    .unwrap_or_default()
            })
            .collect();
        self.inner.pool.remove(&ids);
        {
            let mut waiters = self.inner.waiters.lock();
            for (i, (id, r)) in ids.iter().zip(&results).enumerate() {
                if let Some(list) = waiters.remove(id) {
                    for w in list {
                        let _ = w.send(TxCommitted {
                            height,
                            index: i as u32,
                            block_hash: block.hash,
                            result: r.clone(),
                        });
                    }
                }
            }
        }
        {
            let mut s = self.inner.stats.lock();
            s.txs_committed += ids.len() as u64;
            s.last_commit_ms = started.elapsed().as_millis() as u64;
        }
        let committed = Arc::new(CommittedBlock { block, results });
        let _ = self.inner.blocks.send(committed.clone());
        Ok(committed)
    }

    /// Drop pooled transactions that expired.
    pub fn evict_expired(&self) -> usize {
        let now = now_ms();
        let window = self.config().tx_expiry_window_ms;
        self.inner
            .pool
            .evict(|t| {
                let expiry = if t.payload.expiry_ms > 0 {
                    t.payload.expiry_ms
                } else {
                    t.payload.timestamp_ms + window
                };
                expiry < now
            })
            .len()
    }

    /// Start producing blocks in the background (the solo proposer loop). Blocks are made
    /// when the pool holds a full block, or one interval after the first waiting transaction.
    pub fn start(&self) -> JoinHandle<()> {
        let chain = self.clone();
        std::thread::Builder::new()
            .name(format!("producer-{}", self.inner.chain_id))
            .spawn(move || chain.producer_loop())
            .unwrap_or_else(|e| {
                error!(error = %e, "cannot start the block producer");
                std::thread::spawn(|| {})
            })
    }

    fn producer_loop(&self) {
        let mut last_evict = Instant::now();
        while !self.inner.stop.load(Ordering::Relaxed) {
            let (max_txs, _, interval) = self.block_limits();
            let interval = Duration::from_millis(interval);
            {
                let (lock, cv) = &self.inner.wake;
                let mut woken = lock.lock();
                if !*woken {
                    cv.wait_for(&mut woken, interval);
                }
                *woken = false;
            }
            if self.inner.stop.load(Ordering::Relaxed) {
                break;
            }
            if self.inner.pool.is_empty() {
                continue;
            }
            // Give a partly filled block one interval to fill up.
            if self.inner.pool.len() < max_txs {
                let (lock, cv) = &self.inner.wake;
                let mut woken = lock.lock();
                if !*woken {
                    cv.wait_for(&mut woken, interval);
                }
                *woken = false;
            }
            loop {
                match self.produce_block() {
                    Ok(Some(_)) if self.inner.pool.len() >= max_txs => continue,
                    Ok(_) => break,
                    Err(e) => {
                        error!(error = %e, "block production failed; retrying");
                        std::thread::sleep(Duration::from_millis(500));
                        break;
                    }
                }
            }
            if last_evict.elapsed() > Duration::from_secs(10) {
                let n = self.evict_expired();
                if n > 0 {
                    warn!(evicted = n, "expired transactions left the pool");
                }
                last_evict = Instant::now();
            }
        }
    }

    /// Ask the producer to stop.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        self.wake_producer();
    }
}
