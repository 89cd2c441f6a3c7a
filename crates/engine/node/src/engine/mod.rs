//! What runs a chain across nodes: the consensus drivers, block sync, transaction gossip and
//! peer admission, over the node's [`Network`](covenant_net::Network).
//!
//! Per chain, one router task takes the chain's frames from the network and hands each kind
//! to its handler:
//!
//! | kind | payload | handler |
//! |---|---|---|
//! | 1 consensus | `ConsensusMessage` (TBFT proposals and votes) | [`tbft`] driver |
//! | 2 transactions | `TxBatch` | [`gossip`]: checked into the pool |
//! | 3 status | `ChainStatus` | [`sync`]: peers' heights |
//! | 4 blocks | `BlockRequest` → `BlockBatch` | [`sync`]: served from the store |
//! | 5 raft | opaque Raft RPCs | the Raft driver |

pub mod admission;
pub mod gossip;
pub mod raft;
pub mod sync;
pub mod tbft;

use std::sync::Arc;

use covenant_chain::Chain;
use covenant_crypto::{Hash, PrivateKey};
use covenant_net::{Inbound, Network, PeerTarget};
use tokio::sync::{mpsc, watch};
use tracing::debug;

/// Channel kinds on a chain.
pub const KIND_CONSENSUS: u32 = 1;
pub const KIND_TXS: u32 = 2;
pub const KIND_STATUS: u32 = 3;
pub const KIND_BLOCKS: u32 = 4;
pub const KIND_RAFT: u32 = 5;

/// What a chain's tasks share.
#[derive(Clone)]
pub struct ChainContext {
    pub chain: Chain,
    pub net: Network,
    /// This node's id on the chain (the suite hash of its node certificate).
    pub node_id: Hash,
    pub node_cert: Arc<Vec<u8>>,
    pub key: PrivateKey,
    pub stop: watch::Receiver<bool>,
    pub sync: Arc<sync::SyncState>,
}

impl std::fmt::Debug for ChainContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainContext")
            .field("chain", &self.chain.id())
            .finish()
    }
}

impl ChainContext {
    /// The peers admitted on this chain, for status reports.
    pub fn peer_report(&self) -> serde_json::Value {
        let peers: Vec<String> = self
            .net
            .peers(Some(self.chain.id()))
            .iter()
            .map(|p| p.id.to_string())
            .collect();
        serde_json::json!(peers)
    }

    /// Whether this node votes on the chain under its current config.
    pub fn is_validator(&self) -> bool {
        let config = self.chain.config();
        config
            .consensus
            .as_ref()
            .is_some_and(|c| c.nodes.iter().any(|n| n.certificate == *self.node_cert))
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

/// Hand each frame of a chain to its handler.
pub async fn route(
    ctx: ChainContext,
    mut inbound: mpsc::Receiver<Inbound>,
    consensus: Option<mpsc::Sender<Inbound>>,
    raft: Option<mpsc::Sender<Inbound>>,
) {
    let gossip = gossip::receiver(ctx.clone());
    let mut stop = ctx.stop.clone();
    loop {
        let msg = tokio::select! {
            m = inbound.recv() => match m { Some(m) => m, None => return },
            _ = stop.changed() => return,
        };
        match msg.kind {
            KIND_CONSENSUS => {
                if let Some(tx) = &consensus
                    && tx.try_send(msg).is_err()
                {
                    debug!(
                        chain = ctx.chain.id(),
                        "consensus queue full; message dropped"
                    );
                }
            }
            KIND_RAFT => match &raft {
                Some(tx) => {
                    if let Err(e) = tx.try_send(msg) {
                        let m = match e {
                            mpsc::error::TrySendError::Full(m)
                            | mpsc::error::TrySendError::Closed(m) => m,
                        };
                        if let Some(r) = m.reply {
                            r.fail("raft is busy");
                        }
                    }
                }
                None => {
                    if let Some(r) = msg.reply {
                        r.fail("this chain does not run raft here");
                    }
                }
            },
            KIND_TXS => {
                if gossip.try_send(msg.payload).is_err() {
                    debug!(
                        chain = ctx.chain.id(),
                        "transaction gossip queue full; batch dropped"
                    );
                }
            }
            KIND_STATUS => ctx.sync.on_status(msg.peer, &msg.payload),
            KIND_BLOCKS => sync::serve(&ctx, msg),
            other => debug!(
                chain = ctx.chain.id(),
                kind = other,
                "frame of unknown kind dropped"
            ),
        }
    }
}
