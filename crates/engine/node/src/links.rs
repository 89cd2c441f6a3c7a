//! How a chain's engine reaches the network: the chain as block sync and gossip see it
//! ([`NetChain`]), the network as the consensus drivers see it ([`ChainNet`]), and the router
//! that hands each frame of a chain to its handler:
//!
//! | kind | payload | handler |
//! |---|---|---|
//! | 1 consensus | `ConsensusMessage` (TBFT proposals and votes) | the TBFT driver |
//! | 2 transactions | `TxBatch` | gossip: checked into the pool |
//! | 3 status | `ChainStatus` | sync: peers' heights |
//! | 4 blocks | `BlockRequest` → `BlockBatch` | sync: served from the store |
//! | 5 raft | opaque Raft RPCs | the Raft driver |

use std::{sync::Arc, time::Duration};

use covenant_chain::{Admitted, Chain, ChainError, CommittedBlock, TxError};
use covenant_consensus::{
    CommitMode,
    raft::{RaftNet, RaftRequest},
    tbft::TbftNet,
};
use covenant_crypto::Suite;
use covenant_net::{
    ChainLink, Inbound, Ledger, Network, PeerId, PeerTarget, PeerTx, SyncRejection, kind,
    sync::SyncState,
};
use covenant_types::block::DecodedBlock;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::{debug, warn};

/// The chain as block sync and transaction gossip see it.
#[derive(Clone)]
pub struct NetChain {
    pub chain: Chain,
    /// This node's certificate (DER), to tell whether it votes.
    pub certificate: Arc<Vec<u8>>,
}

impl Ledger for NetChain {
    type Commit = Arc<CommittedBlock>;

    fn chain_id(&self) -> &str {
        self.chain.id()
    }

    fn suite(&self) -> Suite {
        self.chain.suite()
    }

    fn tip(&self) -> (u64, Vec<u8>) {
        let tip = self.chain.store().tip();
        (tip.height.unwrap_or(0), tip.hash)
    }

    fn block_bytes(&self, height: u64) -> Result<Option<Vec<u8>>, String> {
        let block = self
            .chain
            .block(height)
            .map(|b| b.map(|b| b.encode()))
            .map_err(|e| e.to_string())?;
        #[cfg(feature = "misbehave")]
        let block =
            block.map(|b| covenant_consensus::misbehave::Misbehave::global().served_block(b));
        Ok(block)
    }

    fn commit_synced(&self, block: &[u8]) -> Result<bool, SyncRejection> {
        let block = DecodedBlock::decode(
            self.chain.suite(),
            block,
            covenant_net::sync::MAX_BATCH_BYTES,
        )
        .map_err(|e| SyncRejection {
            detail: format!("{e} ({})", e.code()),
            invalid: true,
        })?;
        self.chain
            .commit_block(block, None, CommitMode::Decided)
            .map(|c| c.is_some())
            .map_err(|e| SyncRejection {
                detail: format!("{e} ({})", e.code()),
                invalid: matches!(e, ChainError::InvalidBlock { .. } | ChainError::Types(_)),
            })
    }

    fn damaged(&self) -> Vec<u64> {
        self.chain
            .store()
            .damaged()
            .into_iter()
            .map(|(h, _)| h)
            .collect()
    }

    fn repair_block(&self, height: u64, block: &[u8]) -> Result<(), SyncRejection> {
        self.chain
            .store()
            .repair_block(height, block)
            .map_err(|e| SyncRejection {
                detail: format!("{e} ({})", e.code()),
                // A block that fails its own checks is the peer's doing; one that is sound but
                // not the block this ledger indexes may be this node's index at fault.
                invalid: matches!(e, covenant_storage::StorageError::BadBlock(_)),
            })
    }

    fn is_validator(&self) -> bool {
        is_validator(&self.chain, &self.certificate)
    }

    fn validators(&self) -> usize {
        self.chain
            .config()
            .consensus
            .as_ref()
            .map_or(0, |c| c.nodes.len())
    }

    fn state_digests(&self) -> std::collections::BTreeMap<u64, Vec<u8>> {
        self.chain
            .store()
            .state_digests()
            .into_iter()
            .map(|(h, d)| (h, d.to_vec()))
            .collect()
    }

    fn rebuild_state(&self) -> Result<bool, String> {
        self.chain
            .store()
            .rebuild_state()
            .map_err(|e| format!("{e} ({})", e.code()))
    }

    fn block_hash_at(&self, height: u64) -> Option<Vec<u8>> {
        self.chain.store().indexed_hash(height).ok().flatten()
    }

    fn anchor(&self, height: u64, hash: Vec<u8>) {
        self.chain.store().set_anchor(height, hash);
    }

    fn subscribe_commits(&self) -> broadcast::Receiver<Arc<CommittedBlock>> {
        self.chain.subscribe()
    }

    fn subscribe_accepted(&self) -> broadcast::Receiver<Admitted> {
        self.chain.subscribe_accepted()
    }

    fn submit_from_peer(&self, tx: Vec<u8>) -> PeerTx {
        match self.chain.submit_from_peer(tx) {
            Ok(_) => PeerTx::Taken,
            Err(TxError::DuplicateOnLedger { height, .. }) => PeerTx::OnLedger(height),
            Err(_) => PeerTx::Refused,
        }
    }
}

/// Whether the node holding `certificate` votes on `chain` under its current config.
pub fn is_validator(chain: &Chain, certificate: &[u8]) -> bool {
    chain
        .config()
        .consensus
        .as_ref()
        .is_some_and(|c| c.nodes.iter().any(|n| n.certificate == certificate))
}

/// The network as a chain's consensus drivers see it.
#[derive(Clone)]
pub struct ChainNet {
    pub net: Network,
    pub chain_id: String,
    pub sync: Arc<SyncState>,
    /// The chain, for its committed height.
    pub chain: Chain,
}

impl ChainNet {
    fn peer_ids(&self) -> Vec<String> {
        self.net
            .peers(Some(&self.chain_id))
            .iter()
            .map(|p| p.id.to_string())
            .collect()
    }
}

impl TbftNet for ChainNet {
    fn broadcast(&self, message: Vec<u8>) {
        self.sync.in_order(|| {
            // A height committed already (by sync, while the message was made) is over; and
            // peers, having perhaps heard this node report it, would take the message for a
            // replay.
            let committed = self.chain.store().height().unwrap_or(0);
            if covenant_consensus::tbft::wire_height(&message).is_some_and(|h| h <= committed) {
                return;
            }
            #[cfg(feature = "misbehave")]
            {
                let orders = covenant_consensus::misbehave::Misbehave::global();
                if orders.foreign_chain() {
                    self.net.broadcast_unchecked(
                        covenant_consensus::misbehave::FOREIGN_CHAIN,
                        kind::CONSENSUS,
                        &message,
                    );
                }
                for _ in 0..orders.flood_copies() {
                    self.net
                        .broadcast(&self.chain_id, kind::CONSENSUS, &message);
                }
                if let Some(old) = orders.replayed_message(&message) {
                    self.net.broadcast(&self.chain_id, kind::CONSENSUS, &old);
                }
            }
            self.net
                .broadcast(&self.chain_id, kind::CONSENSUS, &message);
        });
    }

    fn request_sync(&self) {
        self.sync.poke();
    }

    fn peers(&self) -> Vec<String> {
        self.peer_ids()
    }
}

impl RaftNet for ChainNet {
    fn call(
        &self,
        certificate: Vec<u8>,
        request: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, String>> + Send {
        let net = self.net.clone();
        let chain = self.chain_id.clone();
        async move {
            // Replication and votes have their own time limits in the engine; a snapshot may
            // take as long as installing it takes.
            net.request(
                &PeerId::of(&certificate),
                &chain,
                kind::RAFT,
                request,
                Duration::from_secs(600),
            )
            .await
            .map_err(|e| e.to_string())
        }
    }

    fn request_sync(&self) {
        self.sync.poke();
    }

    fn peers(&self) -> Vec<String> {
        self.peer_ids()
    }
}

/// The peers a chain's config names: its consensus nodes and sync nodes.
pub fn peer_targets(chain: &Chain) -> Vec<PeerTarget> {
    let config = chain.config();
    config
        .consensus
        .iter()
        .flat_map(|c| c.nodes.iter().chain(c.sync_nodes.iter()))
        .map(|n| PeerTarget {
            certificate: n.certificate.clone(),
            address: n.address.clone(),
        })
        .collect()
}

/// Consensus messages a peer may send per second, sustained. An honest validator sends a
/// proposal and two votes per round plus a resend of its current ones each second: tens per
/// second at the fastest block rates; more is a flood, and the excess is dropped.
const CONSENSUS_PER_SECOND: f64 = 400.0;
/// Messages a peer may send at once above the sustained rate.
const CONSENSUS_BURST: f64 = 800.0;
/// A flooding peer is named in the log at most this often (every dropped message is counted).
const FLOOD_WARN_EVERY: Duration = Duration::from_secs(30);

/// One peer's token bucket of consensus messages.
struct Bucket {
    tokens: f64,
    /// When the bucket was last filled.
    filled: std::time::Instant,
    /// When the peer was last named for flooding.
    warned: Option<std::time::Instant>,
}

/// Each peer's allowance of consensus messages.
#[derive(Default)]
struct Allowance {
    peers: std::collections::HashMap<PeerId, Bucket>,
}

impl Allowance {
    /// Whether a consensus message from `peer` may go on; `false` counts and names a flood.
    fn take(&mut self, chain: &str, peer: PeerId, certificate: &[u8]) -> bool {
        let now = std::time::Instant::now();
        let bucket = self.peers.entry(peer).or_insert(Bucket {
            tokens: CONSENSUS_BURST,
            filled: now,
            warned: None,
        });
        bucket.tokens = (bucket.tokens
            + now.duration_since(bucket.filled).as_secs_f64() * CONSENSUS_PER_SECOND)
            .min(CONSENSUS_BURST);
        bucket.filled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return true;
        }
        metrics::counter!(
            "covenant_peer_misbehaviour_total",
            "chain" => chain.to_string(),
            "peer" => peer.to_hex(),
            "kind" => "consensus flood",
        )
        .increment(1);
        if bucket
            .warned
            .is_none_or(|w| now.duration_since(w) >= FLOOD_WARN_EVERY)
        {
            bucket.warned = Some(now);
            warn!(
                chain,
                %peer,
                name = %covenant_net::peer_name(certificate),
                kind = "consensus flood",
                limit_per_second = CONSENSUS_PER_SECOND,
                "a peer floods consensus messages; the excess is dropped"
            );
        }
        false
    }
}

/// A replaying peer is named in the log at most this often (every replay is counted).
const REPLAY_WARN_EVERY: Duration = Duration::from_secs(30);

/// Consensus messages peers send about heights they reported committed before: replays.
///
/// An honest node queues its status and its consensus messages under one lock
/// ([`SyncState::in_order`]) and sends a message only about a height above the one it has
/// committed, so on one connection a message about a height at or below one the peer already
/// reported is never honest. A peer that reconnects (restarted, perhaps wiped) starts afresh.
#[derive(Default)]
struct Replays {
    warned: std::collections::HashMap<PeerId, std::time::Instant>,
}

impl Replays {
    /// Whether `msg` (a consensus message) is a replay; a replay is counted, named and dropped.
    fn is_replay(&mut self, chain: &str, sync: &SyncState, msg: &Inbound) -> bool {
        let Some(reported) = sync.reported_height(&msg.peer, msg.session) else {
            return false;
        };
        let Some(height) = covenant_consensus::tbft::wire_height(&msg.payload) else {
            return false;
        };
        if height > reported {
            return false;
        }
        metrics::counter!(
            "covenant_peer_misbehaviour_total",
            "chain" => chain.to_string(),
            "peer" => msg.peer.to_hex(),
            "kind" => "replayed consensus message",
        )
        .increment(1);
        let now = std::time::Instant::now();
        if self
            .warned
            .get(&msg.peer)
            .is_none_or(|w| now.duration_since(*w) >= REPLAY_WARN_EVERY)
        {
            self.warned.insert(msg.peer, now);
            warn!(
                chain,
                peer = %msg.peer,
                name = %covenant_net::peer_name(&msg.certificate),
                kind = "replayed consensus message",
                height,
                reported,
                "a peer sent a consensus message about a height it had reported committed (further ones within 30 s are only counted)"
            );
        }
        true
    }
}

/// Hand each frame of a chain to its handler until `stop`.
pub async fn route(
    link: ChainLink<NetChain>,
    mut inbound: mpsc::Receiver<Inbound>,
    consensus: Option<mpsc::Sender<Vec<u8>>>,
    raft: Option<mpsc::Sender<RaftRequest>>,
    mut stop: watch::Receiver<bool>,
) {
    let gossip = covenant_net::gossip::receiver(link.clone());
    let chain = link.ledger.chain_id().to_string();
    let mut allowance = Allowance::default();
    let mut replays = Replays::default();
    loop {
        let msg = tokio::select! {
            m = inbound.recv() => match m { Some(m) => m, None => return },
            _ = stop.changed() => return,
        };
        match msg.kind {
            kind::CONSENSUS => {
                if !allowance.take(&chain, msg.peer, &msg.certificate) {
                    continue;
                }
                if replays.is_replay(&chain, &link.sync, &msg) {
                    continue;
                }
                if let Some(tx) = &consensus
                    && tx.try_send(msg.payload).is_err()
                {
                    debug!(chain, "consensus queue full; message dropped");
                }
            }
            kind::RAFT => {
                let Some(reply) = msg.reply else {
                    continue;
                };
                let Some(tx) = &raft else {
                    reply.fail("this chain does not run raft here");
                    continue;
                };
                let (answer_tx, answer_rx) = oneshot::channel();
                let request = RaftRequest {
                    payload: msg.payload,
                    reply: answer_tx,
                };
                if tx.try_send(request).is_err() {
                    reply.fail("raft is busy");
                    continue;
                }
                tokio::spawn(async move {
                    match answer_rx.await {
                        Ok(Ok(answer)) => {
                            reply.send(answer);
                        }
                        Ok(Err(e)) => {
                            reply.fail(e);
                        }
                        Err(_) => {
                            reply.fail("raft stopped");
                        }
                    }
                });
            }
            kind::TXS => {
                if gossip.try_send((msg.peer, msg.payload)).is_err() {
                    debug!(chain, "transaction gossip queue full; batch dropped");
                }
            }
            kind::STATUS => link.sync.on_status(msg.peer, msg.session, &msg.payload),
            kind::BLOCKS => covenant_net::sync::serve(&link, msg),
            other => debug!(chain, kind = other, "frame of unknown kind dropped"),
        }
    }
}

/// A test build told to `replay` (feature `misbehave`): after each commit, pass the
/// transactions of the block [`REPLAY_DEPTH`](covenant_consensus::misbehave::REPLAY_DEPTH)
/// heights before on to peers again, in a batch that gives this node's height as honest
/// gossip does.
#[cfg(feature = "misbehave")]
pub async fn replay_transactions(link: ChainLink<NetChain>) {
    use covenant_consensus::misbehave::REPLAY_DEPTH;
    use prost::Message as _;
    let mut commits = link.ledger.subscribe_commits();
    let mut stop = link.stop.clone();
    loop {
        let committed = tokio::select! {
            r = commits.recv() => match r {
                Ok(c) => c,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = stop.changed() => return,
        };
        let height = committed.block.height();
        let Some(old) = height.checked_sub(REPLAY_DEPTH).filter(|h| *h > 0) else {
            continue;
        };
        let Ok(Some(block)) = link.ledger.chain.block(old) else {
            continue;
        };
        if block.block.transactions.is_empty() {
            continue;
        }
        let batch = covenant_types::pb::TxBatch {
            transactions: block.block.transactions.clone(),
            height,
        };
        link.net
            .broadcast(link.ledger.chain_id(), kind::TXS, &batch.encode_to_vec());
    }
}
