//! The Raft driver of one chain: the elected leader builds blocks from its pool and appends
//! them to the Raft log; every node applies the committed log in order, re-executing each
//! block (the leader reuses its own execution) and committing it to its ledger.
//!
//! Applying is deterministic: a block is committed only if it follows this node's tip, carries
//! its leader's certificate and re-executes to the same results; anything else (e.g. a block a
//! deposed leader appended for a height already filled) is skipped, the same way everywhere.
//! The Raft membership follows the chain config: after a block changes the consensus nodes,
//! the leader adds the new ones (as learners first, until they caught up) and removes the old.
//!
//! The driver is generic over the chain ([`ChainPort`]) and the network ([`RaftNet`]); the
//! node supplies both.

use std::{
    collections::{BTreeSet, HashMap},
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use covenant_crypto::Hash;
use covenant_types::block::DecodedBlock;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, error, info, warn};

use super::{RaftApplier, RaftError, RaftId, RaftNode, RaftOptions, RaftTransport, certificate};
use crate::port::{ChainPort, CommitMode, NodeKeys, PortError};

/// The largest block in a Raft entry.
const MAX_BLOCK_BYTES: usize = 256 << 20;

/// What the driver needs of the node's network.
pub trait RaftNet: Clone + Send + Sync + 'static {
    /// Send one Raft request to the node holding `certificate` on this chain; its answer.
    fn call(
        &self,
        certificate: Vec<u8>,
        request: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, String>> + Send;
    /// Ask block sync to look for blocks now.
    fn request_sync(&self);
    /// The peers admitted on the chain, for the status report.
    fn peers(&self) -> Vec<String>;
}

/// A Raft request from a peer, and where its answer goes.
#[derive(Debug)]
pub struct RaftRequest {
    pub payload: Vec<u8>,
    pub reply: oneshot::Sender<Result<Vec<u8>, String>>,
}

/// A Raft id from a node's chain id (the suite hash of its certificate).
pub fn raft_id(node: &Hash) -> RaftId {
    let b = node.as_bytes();
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// The Raft ids of a chain's current consensus nodes.
fn voters<C: ChainPort>(chain: &C) -> BTreeSet<RaftId> {
    let suite = chain.suite();
    chain
        .config()
        .consensus
        .as_ref()
        .map(|c| {
            c.nodes
                .iter()
                .map(|n| raft_id(&suite.hash(&n.certificate)))
                .collect()
        })
        .unwrap_or_default()
}

/// Raft id → node certificate, with the config version it was built from.
type PeerCache = Arc<Mutex<(Option<u64>, HashMap<RaftId, Vec<u8>>)>>;

/// Carries Raft RPCs to the node whose certificate has the Raft id.
#[derive(Clone)]
struct Transport<C, N> {
    net: N,
    chain: C,
    /// Raft id → node certificate, rebuilt when the config changes.
    peers: PeerCache,
}

impl<C: ChainPort, N: RaftNet> Transport<C, N> {
    fn certificate(&self, to: RaftId) -> Option<Vec<u8>> {
        let config = self.chain.config();
        let mut cache = self.peers.lock();
        if cache.0 != Some(config.version) {
            let suite = self.chain.suite();
            cache.1 = config
                .consensus
                .iter()
                .flat_map(|c| c.nodes.iter().chain(&c.sync_nodes))
                .map(|n| (raft_id(&suite.hash(&n.certificate)), n.certificate.clone()))
                .collect();
            cache.0 = Some(config.version);
        }
        cache.1.get(&to).cloned()
    }
}

impl<C: ChainPort, N: RaftNet> RaftTransport for Transport<C, N> {
    fn call(
        &self,
        to: RaftId,
        request: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, String>> + Send {
        let cert = self.certificate(to);
        let net = self.net.clone();
        async move {
            let cert =
                cert.ok_or_else(|| format!("raft node {to:016x} is not in the chain config"))?;
            net.call(cert, request).await
        }
    }
}

/// Applies committed Raft entries (blocks) to the chain.
struct Applier<C: ChainPort, N> {
    chain: C,
    net: N,
    /// The leader's executions of the blocks it proposed, by hash.
    outputs: Arc<Mutex<HashMap<Hash, C::Output>>>,
}

impl<C: ChainPort, N: RaftNet> Clone for Applier<C, N> {
    fn clone(&self) -> Self {
        Applier {
            chain: self.chain.clone(),
            net: self.net.clone(),
            outputs: self.outputs.clone(),
        }
    }
}

impl<C: ChainPort, N: RaftNet> RaftApplier for Applier<C, N> {
    fn apply(
        &self,
        index: u64,
        term: u64,
        data: Vec<u8>,
    ) -> impl Future<Output = Result<(), String>> + Send {
        let chain = self.chain.clone();
        let outputs = self.outputs.clone();
        async move {
            let joined = tokio::task::spawn_blocking(move || {
                let block = match DecodedBlock::decode(chain.suite(), &data, MAX_BLOCK_BYTES) {
                    Ok(b) => b,
                    Err(e) => {
                        warn!(chain = chain.chain_id(), index, error = %e, "undecodable raft entry skipped");
                        return Ok(());
                    }
                };
                let height = block.height();
                let output = outputs.lock().remove(&block.hash);
                match chain.commit(block, output, CommitMode::Ordered) {
                    Ok(Some(c)) => info!(
                        chain = chain.chain_id(),
                        height,
                        term,
                        txs = c.txs,
                        hash = %c.hash,
                        "block committed"
                    ),
                    Ok(None) => {
                        debug!(chain = chain.chain_id(), height, "raft entry already on the ledger")
                    }
                    Err(PortError::Halted(reason)) => {
                        error!(chain = chain.chain_id(), index, height, %reason, "the chain halted")
                    }
                    // Not the entry's fault: it must not be skipped (the other nodes apply
                    // it). Raft stops here and the driver starts it again.
                    Err(PortError::Unavailable(reason)) => {
                        error!(chain = chain.chain_id(), index, height, %reason, "cannot apply a raft entry: this node's storage failed");
                        return Err(reason);
                    }
                    Err(e) => {
                        warn!(chain = chain.chain_id(), index, height, error = %e, "raft entry skipped")
                    }
                }
                Ok(())
            })
            .await;
            joined.unwrap_or_else(|e| Err(format!("applying a raft entry failed: {e}")))
        }
    }

    fn snapshot(&self) -> impl Future<Output = Vec<u8>> + Send {
        let next = self.chain.next_height();
        let tip = next
            .checked_sub(1)
            .and_then(|h| self.chain.block(h).ok().flatten().map(|b| (h, b.hash)));
        async move {
            let (height, hash) = tip.unwrap_or((0, Hash::default()));
            let mut out = height.to_be_bytes().to_vec();
            out.extend_from_slice(hash.as_bytes());
            out
        }
    }

    fn install(&self, snapshot: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send {
        let chain = self.chain.clone();
        let net = self.net.clone();
        async move {
            if snapshot.len() < 8 {
                return Err("malformed snapshot".into());
            }
            let (h, hash) = snapshot.split_at(8);
            let height = u64::from_be_bytes(h.try_into().map_err(|_| "malformed snapshot")?);
            info!(
                chain = chain.chain_id(),
                height, "raft snapshot: fetching blocks from peers"
            );
            // The blocks come by block sync, each checked against its certificate.
            loop {
                if chain.next_height() > height {
                    let stored = chain
                        .block(height)
                        .map_err(|e| e.to_string())?
                        .map(|b| b.hash.as_bytes().to_vec());
                    return if stored.as_deref() == Some(hash) {
                        Ok(())
                    } else {
                        Err(format!(
                            "the ledger holds another block at height {height} than the snapshot"
                        ))
                    };
                }
                net.request_sync();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Run the Raft driver of a chain until `stop`: the engine, its request server and, while
/// this node leads, the block producer. A Raft engine that cannot start halts the chain.
pub async fn run<C: ChainPort, N: RaftNet>(
    chain: C,
    net: N,
    node: NodeKeys,
    dir: std::path::PathBuf,
    mut inbound: mpsc::Receiver<RaftRequest>,
    stop: watch::Receiver<bool>,
) {
    let genesis = match chain.genesis_config() {
        Ok(c) => c,
        Err(e) => {
            chain.halt(format!("cannot read the genesis config for raft: {e}"));
            return;
        }
    };
    let suite = chain.suite();
    let genesis_voters: BTreeSet<RaftId> = genesis
        .consensus
        .iter()
        .flat_map(|c| c.nodes.iter())
        .map(|n| raft_id(&suite.hash(&n.certificate)))
        .collect();
    let outputs = Arc::new(Mutex::new(HashMap::new()));
    let transport = Transport {
        net: net.clone(),
        chain: chain.clone(),
        peers: Arc::new(Mutex::new((None, HashMap::new()))),
    };
    let applier = Applier {
        chain: chain.clone(),
        net: net.clone(),
        outputs: outputs.clone(),
    };
    let id = raft_id(&node.id);
    // The engine now running, for the request server; `None` while it restarts.
    let current: Arc<Mutex<Option<Node<C, N>>>> = Arc::new(Mutex::new(None));
    let server = current.clone();
    let mut server_stop = stop.clone();
    tokio::spawn(async move {
        loop {
            let request = tokio::select! {
                m = inbound.recv() => match m { Some(m) => m, None => return },
                _ = server_stop.changed() => return,
            };
            let Some(raft) = server.lock().clone() else {
                let _ = request
                    .reply
                    .send(Err("raft is restarting on this node".into()));
                continue;
            };
            tokio::spawn(async move {
                let answer = raft
                    .handle(&request.payload)
                    .await
                    .map_err(|e| e.to_string());
                let _ = request.reply.send(answer);
            });
        }
    });
    let mut started_once = false;
    loop {
        let raft = match RaftNode::start(
            RaftOptions::new(id, &dir),
            genesis_voters.clone(),
            transport.clone(),
            applier.clone(),
        )
        .await
        {
            Ok(n) => n,
            Err(e) if !started_once => {
                chain.halt(format!(
                    "raft did not start from {} ({}): {e}",
                    dir.display(),
                    e.code()
                ));
                return;
            }
            Err(e) => {
                warn!(chain = chain.chain_id(), error = %e, code = e.code(), "raft did not restart yet; trying again");
                if wait_or_stop(&stop, RESTART_BACKOFF).await {
                    return;
                }
                continue;
            }
        };
        info!(
            chain = chain.chain_id(),
            raft_id = format!("{id:016x}"),
            restarted = started_once,
            "raft started"
        );
        started_once = true;
        *current.lock() = Some(raft.clone());
        lead(
            chain.clone(),
            net.clone(),
            node.clone(),
            raft.clone(),
            outputs.clone(),
            stop.clone(),
        )
        .await;
        *current.lock() = None;
        let stopping = *stop.borrow();
        let why = raft.stopped_because();
        if let Err(e) = raft.shutdown().await {
            warn!(error = %e, "raft shutdown");
        }
        if stopping {
            return;
        }
        // The engine stopped by itself (its storage failed — a full disk — or one of its tasks
        // panicked). Started again it resumes from what it has on disk, as after a crash.
        match why {
            Some(e) => warn!(
                chain = chain.chain_id(),
                error = %e,
                code = e.code(),
                "raft stopped by itself; starting it again"
            ),
            None => warn!(
                chain = chain.chain_id(),
                "raft stopped by itself; starting it again"
            ),
        }
        if wait_or_stop(&stop, RESTART_BACKOFF).await {
            return;
        }
    }
}

/// How long the driver waits before starting a stopped Raft engine again.
const RESTART_BACKOFF: Duration = Duration::from_secs(1);

/// Wait `d`, or less if `stop` is set meanwhile: whether it was.
async fn wait_or_stop(stop: &watch::Receiver<bool>, d: Duration) -> bool {
    let mut stop = stop.clone();
    if *stop.borrow() {
        return true;
    }
    let _ = tokio::time::timeout(d, stop.wait_for(|s| *s)).await;
    *stop.borrow()
}

type Node<C, N> = RaftNode<Transport<C, N>, Applier<C, N>>;

/// While this node leads: keep the Raft voters equal to the chain's consensus nodes, and turn
/// the pool into blocks.
async fn lead<C: ChainPort, N: RaftNet>(
    chain: C,
    net: N,
    me: NodeKeys,
    node: Node<C, N>,
    outputs: Arc<Mutex<HashMap<Hash, C::Output>>>,
    stop: watch::Receiver<bool>,
) {
    let mut reconcile_after = Instant::now();
    let mut last_report: Option<Instant> = None;
    while !*stop.borrow() && node.is_running() {
        if last_report.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            last_report = Some(Instant::now());
            let hex = |id: RaftId| format!("{id:016x}");
            chain.set_engine_status(serde_json::json!({
                "kind": "raft",
                "node": me.id.to_hex(),
                "raft_id": hex(node.id()),
                "leader": node.leader().map(hex),
                "is_leader": node.is_leader(),
                "term": node.term(),
                "voters": node.voters().into_iter().map(hex).collect::<Vec<_>>(),
                "last_applied": node.last_applied(),
                "peers": net.peers(),
            }));
        }
        if !node.is_leader() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        if !node.wait_ready_leader(Duration::from_secs(2)).await {
            continue;
        }
        let want = voters(&chain);
        if Instant::now() >= reconcile_after && !want.is_empty() && want != node.voters() {
            info!(
                chain = chain.chain_id(),
                voters = want.len(),
                "changing the raft voters to the chain's consensus nodes"
            );
            match tokio::time::timeout(Duration::from_secs(60), node.set_voters(want)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    warn!(chain = chain.chain_id(), error = %e, "raft membership change failed; retrying");
                    reconcile_after = Instant::now() + Duration::from_secs(1);
                }
                Err(_) => {
                    warn!(
                        chain = chain.chain_id(),
                        "raft membership change still waiting for new nodes to catch up"
                    );
                    reconcile_after = Instant::now() + Duration::from_secs(1);
                }
            }
            continue;
        }
        if chain.pending() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let pace = chain.pace();
        let deadline = Instant::now() + pace.interval;
        while Instant::now() < deadline && chain.pending() < pace.max_txs {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let term = node.term();
        let c = chain.clone();
        let key = me.key.clone();
        let leader = me.id;
        let built = tokio::task::spawn_blocking(move || {
            let Some((mut block, out)) = c.build(false).map_err(|e| e.to_string())? else {
                return Ok(None);
            };
            block.block.certificate = Some(
                certificate::certificate(&block, term, leader, &key).map_err(|e| e.to_string())?,
            );
            Ok::<_, String>(Some((block, out)))
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        let (block, out) = match built {
            Ok(Some(b)) => b,
            Ok(None) => continue,
            Err(e) => {
                warn!(chain = chain.chain_id(), error = %e, "cannot build a block");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let hash = block.hash;
        let height = block.height();
        outputs.lock().insert(hash, out);
        match tokio::time::timeout(Duration::from_secs(15), node.propose(block.encode())).await {
            Ok(Ok((index, _))) => debug!(chain = chain.chain_id(), height, index, "block appended"),
            Ok(Err(RaftError::NotLeader { leader })) => {
                debug!(
                    chain = chain.chain_id(),
                    height,
                    ?leader,
                    "lost the lead before appending"
                );
            }
            Ok(Err(e)) => {
                warn!(chain = chain.chain_id(), height, error = %e, "cannot append a block")
            }
            Err(_) => warn!(
                chain = chain.chain_id(),
                height, "a block was not committed in time (no majority?)"
            ),
        }
        outputs.lock().remove(&hash);
    }
}
