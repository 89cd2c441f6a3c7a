//! The node's operations, defined once: REST, WebSocket and gRPC are views of these.
//!
//! Every operation answers with a value or a [`Failure`]: a kind (what went wrong, which
//! each transport turns into its own status), a stable code and a message.

use std::{collections::BTreeMap, panic::AssertUnwindSafe, sync::Arc, time::Duration};

use covenant_api_types::json::ChainInfo;
use covenant_chain::{Chain, ChainError, CommittedBlock, TxCommitted, TxError, TxRecord};
use covenant_crypto::Hash;
use covenant_types::{ChainConfig, ContractInfo, TxResult, block::DecodedBlock};
use prost::Message;
use rayon::prelude::*;
use tokio::sync::{Semaphore, broadcast::error::RecvError, mpsc};

use crate::Host;

/// How long a submission waits for its commit unless told otherwise, and at most.
pub const DEFAULT_WAIT_MS: u64 = 30_000;
pub const MAX_WAIT_MS: u64 = 120_000;
/// Most transactions in one batch submission.
pub const MAX_BATCH: usize = 10_000;
/// Blocks a subscription keeps buffered for a slow reader before it waits.
const FEED_BUFFER: usize = 64;

/// What kind of failure, whatever the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The request is malformed or refused as invalid.
    BadRequest,
    /// The signer may not do this.
    Forbidden,
    /// No such chain, block, transaction or contract.
    NotFound,
    /// Already there (a duplicate transaction).
    Conflict,
    /// Busy: retry after `retry_after_ms`.
    Busy,
    /// The body is over the size limit.
    TooLarge,
    /// The route exists, the method does not.
    MethodNotAllowed,
    /// The body's content type is not one the route takes.
    UnsupportedMediaType,
    /// A WebSocket route was called without upgrading.
    UpgradeRequired,
    /// The node failed (storage, a task); the message says why.
    Internal,
    /// The node cannot answer just now (its storage is recovering); retry, here later or
    /// at another node.
    Unavailable,
    /// This node's copy of what was asked for failed its check and is being repaired from
    /// peers; retry, here later or at another node.
    Damaged,
}

/// A failed operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// Stable code, e.g. `TX_BAD_SIGNATURE`, `TXPOOL_FULL`, `NOT_FOUND`.
    pub code: String,
    pub message: String,
    pub retry_after_ms: Option<u64>,
}

impl Failure {
    pub fn new(kind: FailureKind, code: &str, message: impl Into<String>) -> Self {
        Failure {
            kind,
            code: code.to_string(),
            message: message.into(),
            retry_after_ms: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(FailureKind::BadRequest, "BAD_REQUEST", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(FailureKind::NotFound, "NOT_FOUND", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Internal, "INTERNAL", message)
    }

    /// As the JSON error body carries it.
    pub fn api_error(&self) -> covenant_api_types::json::ApiError {
        covenant_api_types::json::ApiError {
            code: self.code.clone(),
            message: self.message.clone(),
            retry_after_ms: self.retry_after_ms,
        }
    }
}

impl From<TxError> for Failure {
    fn from(e: TxError) -> Self {
        let kind = match &e {
            TxError::PoolFull { .. } => FailureKind::Busy,
            TxError::DuplicateInPool(_) | TxError::DuplicateOnLedger { .. } => {
                FailureKind::Conflict
            }
            TxError::UntrustedSender(_)
            | TxError::FrozenSender(_)
            | TxError::RevokedSender(_)
            | TxError::ExpiredSender(_)
            | TxError::MethodNotAllowed { .. } => FailureKind::Forbidden,
            TxError::UnknownContract(_) => FailureKind::NotFound,
            TxError::TooLarge { .. } => FailureKind::TooLarge,
            TxError::Internal(_) => FailureKind::Internal,
            TxError::Unavailable(_) => FailureKind::Unavailable,
            _ => FailureKind::BadRequest,
        };
        Failure {
            kind,
            code: e.code().into(),
            message: e.to_string(),
            retry_after_ms: e.retry_after_ms(),
        }
    }
}

impl From<ChainError> for Failure {
    fn from(e: ChainError) -> Self {
        if e.code() == "STORAGE_UNAVAILABLE" {
            Failure {
                kind: FailureKind::Unavailable,
                code: e.code().into(),
                message: e.to_string(),
                retry_after_ms: Some(1000),
            }
        } else if e.code() == "ARCHIVE_OFFLINE" {
            Failure {
                kind: FailureKind::Unavailable,
                code: e.code().into(),
                message: format!(
                    "{e}; another node may still hold the block, or ask this node's operator to bring the archive back"
                ),
                retry_after_ms: Some(5000),
            }
        } else if matches!(
            e.code(),
            "BLOCK_DAMAGED" | "STATE_DAMAGED" | "INDEX_DAMAGED"
        ) {
            Failure {
                kind: FailureKind::Damaged,
                code: e.code().into(),
                message: e.to_string(),
                retry_after_ms: Some(2000),
            }
        } else {
            Failure::new(FailureKind::Internal, e.code(), e.to_string())
        }
    }
}

/// The node's health: its name and each chain's height.
#[derive(Debug, Clone)]
pub struct Health {
    pub node: String,
    pub heights: BTreeMap<String, u64>,
}

/// A hosted chain in a listing.
#[derive(Debug, Clone)]
pub struct ChainSummary {
    pub chain_id: String,
    pub height: u64,
    pub suite: String,
}

/// The outcome of a submission: admitted, and committed if the caller waited long enough.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub tx_id: Hash,
    pub committed: Option<TxCommitted>,
}

/// Where a block is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockAt {
    Height(u64),
    Hash(Hash),
    Latest,
}

/// A committed transaction with its proof and the root the proof leads to.
#[derive(Debug, Clone)]
pub struct TxFound {
    pub record: TxRecord,
    pub tx_root: Vec<u8>,
}

/// The operations over a node's chains. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    host: Arc<dyn Host>,
    /// Batch submissions checked at once: each uses every core.
    batches: Arc<Semaphore>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Api")
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Failure::internal(format!("a worker failed: {e}")))
}

impl Api {
    pub fn new(host: Arc<dyn Host>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Api {
            host,
            batches: Arc::new(Semaphore::new(cores)),
        }
    }

    /// The chain with this id.
    pub fn chain(&self, id: &str) -> Result<Chain, Failure> {
        self.host
            .chain(id)
            .ok_or_else(|| Failure::not_found(format!("this node hosts no chain named {id:?}")))
    }

    pub fn health(&self) -> Health {
        Health {
            node: self.host.node_name(),
            heights: self
                .host
                .chains()
                .iter()
                .map(|c| (c.id().to_string(), c.store().height().unwrap_or(0)))
                .collect(),
        }
    }

    pub fn metrics(&self) -> String {
        self.host.metrics()
    }

    pub fn list_chains(&self) -> Vec<ChainSummary> {
        self.host
            .chains()
            .iter()
            .map(|c| ChainSummary {
                chain_id: c.id().to_string(),
                height: c.store().height().unwrap_or(0),
                suite: c.suite().name().to_string(),
            })
            .collect()
    }

    pub fn chain_info(&self, id: &str) -> Result<ChainInfo, Failure> {
        let c = self.chain(id)?;
        let tip = c.store().tip();
        let genesis = c
            .store()
            .block(0)
            .map_err(ChainError::from)?
            .map(|b| b.hash.to_hex())
            .unwrap_or_default();
        Ok(ChainInfo {
            chain_id: c.id().to_string(),
            height: tip.height.unwrap_or(0),
            last_hash: hex::encode(&tip.hash),
            state_root: hex::encode(&tip.state_root),
            suite: c.suite().name().into(),
            consensus: c.consensus_kind().into(),
            config_version: c.config().version,
            txpool_size: c.stats().pool_size,
            genesis_hash: genesis,
            engine: c.engine_status(),
        })
    }

    pub fn chain_config(&self, id: &str) -> Result<Arc<ChainConfig>, Failure> {
        Ok(self.chain(id)?.config())
    }

    /// Check a transaction into the pool; with `wait`, wait up to that long for its commit.
    pub async fn submit(
        &self,
        id: &str,
        bytes: Vec<u8>,
        wait: Option<Duration>,
    ) -> Result<Submitted, Failure> {
        let c = self.chain(id)?;
        let c2 = c.clone();
        let tx_id = blocking(move || c2.submit(bytes)).await??;
        self.host.admitted(c.id(), 1);
        let Some(wait) = wait else {
            return Ok(Submitted {
                tx_id,
                committed: None,
            });
        };
        let committed = tokio::time::timeout(wait, c.watch(tx_id))
            .await
            .ok()
            .and_then(Result::ok);
        Ok(Submitted { tx_id, committed })
    }

    /// How long to wait for a commit, from what a caller asked (`None`: no waiting).
    pub fn wait_of(wait: bool, timeout_ms: Option<u64>) -> Result<Option<Duration>, Failure> {
        if let Some(t) = timeout_ms
            && t > MAX_WAIT_MS
        {
            return Err(Failure::bad_request(format!(
                "timeout_ms is at most {MAX_WAIT_MS}"
            )));
        }
        Ok(wait.then(|| Duration::from_millis(timeout_ms.unwrap_or(DEFAULT_WAIT_MS))))
    }

    /// Check many transactions, each on its own, using every core; one answer per item, in
    /// the order given, whatever happens to any of them.
    pub async fn submit_batch(
        &self,
        id: &str,
        items: Vec<Result<Vec<u8>, Failure>>,
    ) -> Result<Vec<Result<Hash, Failure>>, Failure> {
        if items.len() > MAX_BATCH {
            return Err(Failure::new(
                FailureKind::TooLarge,
                "BATCH_TOO_LARGE",
                format!("at most {MAX_BATCH} transactions per batch"),
            ));
        }
        let c = self.chain(id)?;
        let _permit = self
            .batches
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Failure::internal("the batch pool closed"))?;
        let c2 = c.clone();
        let results = blocking(move || {
            items
                .into_par_iter()
                .map(|item| {
                    let bytes = item?;
                    let chain = &c2;
                    match std::panic::catch_unwind(AssertUnwindSafe(|| chain.submit(bytes))) {
                        Ok(r) => r.map_err(Failure::from),
                        Err(_) => Err(Failure::internal("checking this transaction failed")),
                    }
                })
                .collect::<Vec<_>>()
        })
        .await?;
        let admitted = results.iter().filter(|r| r.is_ok()).count();
        self.host.admitted(c.id(), admitted);
        Ok(results)
    }

    pub async fn get_tx(&self, id: &str, tx: Hash) -> Result<TxFound, Failure> {
        let c = self.chain(id)?;
        blocking(move || {
            let record = c
                .transaction(&tx)?
                .ok_or_else(|| Failure::not_found(format!("no committed transaction {tx}")))?;
            let tx_root = c
                .store()
                .block(record.committed.height)
                .map_err(ChainError::from)?
                .map(|b| b.header.tx_root)
                .unwrap_or_default();
            Ok(TxFound { record, tx_root })
        })
        .await?
    }

    /// The self-contained proof of a committed transaction (see `covenant-proof`): its
    /// block's certified header and every config change before it, read from this node's
    /// store. Anyone checks it against the genesis block alone.
    pub async fn tx_proof(&self, id: &str, tx: Hash) -> Result<covenant_proof::ProofFile, Failure> {
        let c = self.chain(id)?;
        blocking(move || {
            let record = c
                .transaction(&tx)?
                .ok_or_else(|| Failure::not_found(format!("no committed transaction {tx}")))?;
            let store = c.store();
            let read = |h: u64| -> Result<DecodedBlock, Failure> {
                store.block(h).map_err(ChainError::from)?.ok_or_else(|| {
                    Failure::internal(format!("block {h} is missing from this node"))
                })
            };
            let block = read(record.committed.height)?;
            let genesis = read(0)?;
            let mut found = std::collections::BTreeMap::new();
            let heights = covenant_proof::config_heights(block.header.config_version, |h| {
                let b = read(h).map_err(|e| covenant_proof::ProofError::Export(e.message))?;
                let next = b.header.config_version;
                found.insert(h, b);
                Ok(next)
            })
            .map_err(|e| Failure::internal(e.to_string()))?;
            let config_blocks: Vec<DecodedBlock> = heights
                .iter()
                .rev()
                .filter_map(|h| found.remove(h))
                .collect();
            covenant_proof::export(
                c.suite(),
                &genesis.hash,
                &block,
                record.committed.index as usize,
                &config_blocks,
            )
            .map_err(|e| Failure::internal(e.to_string()))
        })
        .await?
    }

    /// A read-only call; `caller` is a DER certificate whose identity the contract sees.
    pub async fn query(
        &self,
        id: &str,
        contract: String,
        method: String,
        args: Vec<u8>,
        caller: Option<Vec<u8>>,
    ) -> Result<TxResult, Failure> {
        let c = self.chain(id)?;
        let outcome =
            blocking(move || c.query(&contract, &method, &args, caller.as_deref())).await??;
        Ok(outcome.result)
    }

    pub async fn get_block(&self, id: &str, at: BlockAt) -> Result<DecodedBlock, Failure> {
        let c = self.chain(id)?;
        blocking(move || {
            let height = match at {
                BlockAt::Height(h) => h,
                BlockAt::Latest => c.store().height().unwrap_or(0),
                BlockAt::Hash(h) => c
                    .store()
                    .height_of(h.as_bytes())
                    .map_err(ChainError::from)?
                    .ok_or_else(|| Failure::not_found(format!("no block {h}")))?,
            };
            c.store()
                .block(height)
                .map_err(ChainError::from)?
                .ok_or_else(|| Failure::not_found(format!("no block at height {height}")))
        })
        .await?
    }

    pub async fn contracts(&self, id: &str) -> Result<Vec<ContractInfo>, Failure> {
        let c = self.chain(id)?;
        Ok(blocking(move || c.contracts()).await??)
    }

    pub async fn contract(&self, id: &str, name: String) -> Result<ContractInfo, Failure> {
        let c = self.chain(id)?;
        blocking(move || {
            c.contract(&name)?.ok_or_else(|| {
                Failure::new(
                    FailureKind::NotFound,
                    "CONTRACT_NOT_FOUND",
                    format!("no contract named {name:?}"),
                )
            })
        })
        .await?
    }

    /// Committed blocks from `from` (default: the next one), stored ones first, then live
    /// ones, with no gap and no duplicate; a reader that falls behind the live feed is caught
    /// up from storage. The feed ends when the receiver is dropped.
    pub fn follow(
        &self,
        id: &str,
        from: Option<u64>,
    ) -> Result<mpsc::Receiver<Arc<CommittedBlock>>, Failure> {
        let c = self.chain(id)?;
        let (tx, rx) = mpsc::channel(FEED_BUFFER);
        // Subscribe before reading the tip: a block committed in between is in the live feed.
        let mut live = c.subscribe();
        let mut next = from.unwrap_or_else(|| c.store().height().map_or(0, |h| h + 1));
        tokio::spawn(async move {
            loop {
                // Stored blocks up to the tip.
                while c.store().height().is_some_and(|tip| next <= tip) {
                    let cc = c.clone();
                    let h = next;
                    let Ok(Some(b)) = tokio::task::spawn_blocking(move || stored(&cc, h)).await
                    else {
                        return;
                    };
                    if tx.send(Arc::new(b)).await.is_err() {
                        return;
                    }
                    next += 1;
                }
                tokio::select! {
                    got = live.recv() => match got {
                        Ok(b) if b.block.height() == next => {
                            if tx.send(b).await.is_err() {
                                return;
                            }
                            next += 1;
                        }
                        // Older ones were sent; newer ones come from storage above.
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return,
                    },
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(rx)
    }
}

/// A stored block with its decoded results.
fn stored(c: &Chain, height: u64) -> Option<CommittedBlock> {
    let block = c.store().block(height).ok()??;
    let results = block
        .block
        .results
        .iter()
        .map(|r| TxResult::decode(r.as_slice()).unwrap_or_default())
        .collect();
    Some(CommittedBlock { block, results })
}
