//! The Raft driver of one chain: the elected leader builds blocks from its pool and appends
//! them to the Raft log; every node applies the committed log in order, re-executing each
//! block (the leader reuses its own execution) and committing it to its ledger.
//!
//! Applying is deterministic: a block is committed only if it follows this node's tip, carries
//! its leader's certificate and re-executes to the same results; anything else (e.g. a block a
//! deposed leader appended for a height already filled) is skipped, the same way everywhere.
//! The Raft membership follows the chain config: after a block changes the consensus nodes,
//! the leader adds the new ones (as learners first, until they caught up) and removes the old.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use covenant_chain::{BlockOutput, Chain};
use covenant_consensus::raft::{
    RaftApplier, RaftError, RaftId, RaftNode, RaftOptions, RaftTransport, certificate,
};
use covenant_crypto::Hash;
use covenant_net::{Inbound, Network, PeerId};
use covenant_types::block::DecodedBlock;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use super::{ChainContext, KIND_RAFT, sync::SyncState};

/// The largest block in a Raft entry.
const MAX_BLOCK_BYTES: usize = 256 << 20;

/// A Raft id from a node's chain id (the suite hash of its certificate).
pub fn raft_id(node: &Hash) -> RaftId {
    let b = node.as_bytes();
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// The Raft ids of a chain config's consensus nodes.
fn voters(chain: &Chain) -> BTreeSet<RaftId> {
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

/// Carries Raft RPCs over the chain's channel on the node network.
#[derive(Clone)]
pub struct NetTransport {
    net: Network,
    chain: Chain,
    /// Raft id → network peer, rebuilt when the config changes.
    peers: Arc<Mutex<(u64, HashMap<RaftId, PeerId>)>>,
}

impl NetTransport {
    fn peer(&self, to: RaftId) -> Option<PeerId> {
        let config = self.chain.config();
        let mut cache = self.peers.lock();
        if cache.0 != config.version || cache.1.is_empty() {
            let suite = self.chain.suite();
            cache.1 = config
                .consensus
                .iter()
                .flat_map(|c| c.nodes.iter().chain(&c.sync_nodes))
                .map(|n| {
                    (
                        raft_id(&suite.hash(&n.certificate)),
                        PeerId::of(&n.certificate),
                    )
                })
                .collect();
            cache.0 = config.version;
        }
        cache.1.get(&to).copied()
    }
}

impl RaftTransport for NetTransport {
    fn call(
        &self,
        to: RaftId,
        request: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, String>> + Send {
        let peer = self.peer(to);
        let net = self.net.clone();
        let chain = self.chain.id().to_string();
        async move {
            let peer =
                peer.ok_or_else(|| format!("raft node {to:016x} is not in the chain config"))?;
            // Replication and votes have their own time limits in the engine; a snapshot may
            // take as long as installing it takes.
            net.request(&peer, &chain, KIND_RAFT, request, Duration::from_secs(600))
                .await
                .map_err(|e| e.to_string())
        }
    }
}

/// Applies committed Raft entries (blocks) to the chain.
#[derive(Clone)]
pub struct ChainApplier {
    chain: Chain,
    /// The leader's executions of the blocks it proposed, by hash.
    outputs: Arc<Mutex<HashMap<Hash, BlockOutput>>>,
    sync: Arc<SyncState>,
}

impl RaftApplier for ChainApplier {
    fn apply(&self, index: u64, term: u64, data: Vec<u8>) -> impl Future<Output = ()> + Send {
        let chain = self.chain.clone();
        let outputs = self.outputs.clone();
        async move {
            let joined = tokio::task::spawn_blocking(move || {
                let block = match DecodedBlock::decode(chain.suite(), &data, MAX_BLOCK_BYTES) {
                    Ok(b) => b,
                    Err(e) => {
                        warn!(chain = chain.id(), index, error = %e, "undecodable raft entry skipped");
                        return;
                    }
                };
                let height = block.height();
                let output = outputs.lock().remove(&block.hash);
                match chain.commit_ordered(block, output) {
                    Ok(Some(c)) => info!(
                        chain = chain.id(),
                        height,
                        term,
                        txs = c.results.len(),
                        hash = %c.block.hash,
                        "block committed"
                    ),
                    Ok(None) => debug!(chain = chain.id(), height, "raft entry already on the ledger"),
                    Err(e) => {
                        warn!(chain = chain.id(), index, height, error = %e, "raft entry skipped")
                    }
                }
            })
            .await;
            if let Err(e) = joined {
                error!(error = %e, "applying a raft entry failed");
            }
        }
    }

    fn snapshot(&self) -> impl Future<Output = Vec<u8>> + Send {
        let tip = self.chain.store().tip();
        async move {
            let mut out = tip.height.unwrap_or(0).to_be_bytes().to_vec();
            out.extend_from_slice(&tip.hash);
            out
        }
    }

    fn install(&self, snapshot: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send {
        let chain = self.chain.clone();
        let sync = self.sync.clone();
        async move {
            if snapshot.len() < 8 {
                return Err("malformed snapshot".into());
            }
            let (h, hash) = snapshot.split_at(8);
            let height = u64::from_be_bytes(h.try_into().map_err(|_| "malformed snapshot")?);
            info!(
                chain = chain.id(),
                height, "raft snapshot: fetching blocks from peers"
            );
            // The blocks come by block sync, each checked against its certificate.
            loop {
                if chain.store().height().is_some_and(|t| t >= height) {
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
                sync.poke();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

type Node = RaftNode<NetTransport, ChainApplier>;

/// Start the Raft driver of a chain: the engine, its RPC server and the leader's producer.
pub async fn run(ctx: ChainContext, mut inbound: mpsc::Receiver<Inbound>, dir: std::path::PathBuf) {
    let chain = ctx.chain.clone();
    let genesis_voters = match chain
        .block(0)
        .ok()
        .flatten()
        .and_then(|g| covenant_chain::genesis::config_of(&g).ok())
    {
        Some(config) => {
            let suite = chain.suite();
            config
                .consensus
                .iter()
                .flat_map(|c| c.nodes.iter())
                .map(|n| raft_id(&suite.hash(&n.certificate)))
                .collect::<BTreeSet<_>>()
        }
        None => {
            error!(
                chain = chain.id(),
                "cannot read the genesis config; raft not started"
            );
            return;
        }
    };
    let outputs = Arc::new(Mutex::new(HashMap::new()));
    let transport = NetTransport {
        net: ctx.net.clone(),
        chain: chain.clone(),
        peers: Arc::new(Mutex::new((0, HashMap::new()))),
    };
    let applier = ChainApplier {
        chain: chain.clone(),
        outputs: outputs.clone(),
        sync: ctx.sync.clone(),
    };
    let id = raft_id(&ctx.node_id);
    let node = match RaftNode::start(
        RaftOptions::new(id, dir),
        genesis_voters,
        transport,
        applier,
    )
    .await
    {
        Ok(n) => n,
        Err(e) => {
            error!(chain = chain.id(), error = %e, code = e.code(), "raft did not start; this node only follows the chain");
            return;
        }
    };
    info!(
        chain = chain.id(),
        raft_id = format!("{id:016x}"),
        "raft started"
    );
    let server = node.clone();
    let mut stop = ctx.stop.clone();
    tokio::spawn(async move {
        loop {
            let m = tokio::select! {
                m = inbound.recv() => match m { Some(m) => m, None => return },
                _ = stop.changed() => return,
            };
            let node = server.clone();
            tokio::spawn(async move {
                let Some(reply) = m.reply else {
                    return;
                };
                match node.handle(&m.payload).await {
                    Ok(answer) => {
                        reply.send(answer);
                    }
                    Err(e) => {
                        reply.fail(e.to_string());
                    }
                }
            });
        }
    });
    lead(ctx.clone(), node.clone(), outputs).await;
    if let Err(e) = node.shutdown().await {
        warn!(error = %e, "raft shutdown");
    }
}

/// While this node leads: keep the Raft voters equal to the chain's consensus nodes, and turn
/// the pool into blocks.
async fn lead(ctx: ChainContext, node: Node, outputs: Arc<Mutex<HashMap<Hash, BlockOutput>>>) {
    let chain = ctx.chain.clone();
    let stop = ctx.stop.clone();
    let mut reconcile_after = Instant::now();
    let mut last_report: Option<Instant> = None;
    while !*stop.borrow() {
        if last_report.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            last_report = Some(Instant::now());
            let hex = |id: RaftId| format!("{id:016x}");
            chain.set_engine_status(serde_json::json!({
                "kind": "raft",
                "node": ctx.node_id.to_hex(),
                "raft_id": hex(node.id()),
                "leader": node.leader().map(hex),
                "is_leader": node.is_leader(),
                "term": node.term(),
                "voters": node.voters().into_iter().map(hex).collect::<Vec<_>>(),
                "last_applied": node.last_applied(),
                "peers": ctx.peer_report(),
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
                chain = chain.id(),
                voters = want.len(),
                "changing the raft voters to the chain's consensus nodes"
            );
            match tokio::time::timeout(Duration::from_secs(60), node.set_voters(want)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    warn!(chain = chain.id(), error = %e, "raft membership change failed; retrying");
                    reconcile_after = Instant::now() + Duration::from_secs(1);
                }
                Err(_) => {
                    warn!(
                        chain = chain.id(),
                        "raft membership change still waiting for new nodes to catch up"
                    );
                    reconcile_after = Instant::now() + Duration::from_secs(1);
                }
            }
            continue;
        }
        if chain.pool_len() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let (max_txs, _, interval) = chain.limits();
        let deadline = Instant::now() + Duration::from_millis(interval);
        while Instant::now() < deadline && chain.pool_len() < max_txs {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let term = node.term();
        let c = chain.clone();
        let key = ctx.key.clone();
        let leader = ctx.node_id;
        let built = tokio::task::spawn_blocking(move || {
            let Some((mut block, out)) = c.build_block(false).map_err(|e| e.to_string())? else {
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
                warn!(chain = chain.id(), error = %e, "cannot build a block");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let hash = block.hash;
        let height = block.height();
        outputs.lock().insert(hash, out);
        match tokio::time::timeout(Duration::from_secs(15), node.propose(block.encode())).await {
            Ok(Ok((index, _))) => debug!(chain = chain.id(), height, index, "block appended"),
            Ok(Err(RaftError::NotLeader { leader })) => {
                debug!(
                    chain = chain.id(),
                    height,
                    ?leader,
                    "lost the lead before appending"
                );
            }
            Ok(Err(e)) => warn!(chain = chain.id(), height, error = %e, "cannot append a block"),
            Err(_) => warn!(
                chain = chain.id(),
                height, "a block was not committed in time (no majority?)"
            ),
        }
        outputs.lock().remove(&hash);
    }
}
