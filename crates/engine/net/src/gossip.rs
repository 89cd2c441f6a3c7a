//! Transaction gossip: transactions this node's clients submit are passed to the chain's
//! peers in small batches, so whichever node proposes next has them. Transactions from peers
//! are checked like any other and never passed on again (every node hears every other
//! directly).
//!
//! A batch carries the sender's committed height when it admitted the batch's first
//! transaction, read before it found that transaction absent from its ledger: an honest
//! sender's transactions are committed, if ever, above it. A transaction this node holds on
//! its ledger at or below that height is one the sender knew was committed — a replay — and
//! the sender is named (`covenant_peer_misbehaviour_total{kind="replayed transaction"}`).
//! Gossip racing a commit (a transaction committed elsewhere while the batch was on its way)
//! is committed above the height and never counted.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use covenant_types::pb::TxBatch;
use prost::Message;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tracing::{debug, warn};

use crate::{
    PeerId,
    chain_link::{ChainLink, Ledger, PeerTx, kind},
};

/// Most transactions per batch.
const MAX_BATCH: usize = 512;
/// Most bytes per batch.
const MAX_BATCH_BYTES: usize = 4 << 20;
/// How long a batch waits to fill.
const LINGER: Duration = Duration::from_millis(5);
/// Batches from peers waiting to be checked; more are dropped.
const INBOUND_QUEUE: usize = 1024;

/// Pass this node's admitted transactions to its peers.
pub async fn send<L: Ledger>(link: ChainLink<L>) {
    let mut rx = link.ledger.subscribe_accepted();
    let mut stop = link.stop.clone();
    loop {
        let first = tokio::select! {
            r = rx.recv() => r,
            _ = stop.changed() => return,
        };
        let first = match first {
            Ok(t) => t,
            Err(RecvError::Lagged(n)) => {
                debug!(
                    chain = link.ledger.chain_id(),
                    missed = n,
                    "gossip fell behind"
                );
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let (tx, mut height) = first;
        let mut batch = TxBatch {
            transactions: vec![(*tx).clone()],
            height,
        };
        let mut bytes = tx.len();
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.transactions.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Ok((t, h))) => {
                    bytes += t.len();
                    height = height.min(h);
                    batch.transactions.push((*t).clone());
                }
                Ok(Err(RecvError::Lagged(_))) => continue,
                _ => break,
            }
        }
        batch.height = height;
        link.net
            .broadcast(link.ledger.chain_id(), kind::TXS, &batch.encode_to_vec());
    }
}

/// A replaying peer is named in the log at most this often (every replay is counted).
const REPLAY_WARN_EVERY: Duration = Duration::from_secs(30);

/// How many of a batch's transactions were replays: on the ledger at or below the height the
/// sender gave.
pub fn replays(batch_height: u64, outcomes: &[PeerTx]) -> usize {
    outcomes
        .iter()
        .filter(|o| matches!(o, PeerTx::OnLedger(h) if *h <= batch_height))
        .count()
}

/// A queue whose batches, each with the peer that sent it, are checked into the pool off the
/// async threads.
pub fn receiver<L: Ledger>(link: ChainLink<L>) -> mpsc::Sender<(PeerId, Vec<u8>)> {
    let (tx, mut rx) = mpsc::channel::<(PeerId, Vec<u8>)>(INBOUND_QUEUE);
    tokio::spawn(async move {
        let mut warned: HashMap<PeerId, Instant> = HashMap::new();
        while let Some((peer, payload)) = rx.recv().await {
            let chain = link.ledger.chain_id();
            let Ok(batch) = TxBatch::decode(payload.as_slice()) else {
                debug!(chain, %peer, "undecodable transaction batch dropped");
                continue;
            };
            let ledger = link.ledger.clone();
            let height = batch.height;
            let r = tokio::task::spawn_blocking(move || {
                // Transactions the pool refuses are simply not taken.
                let outcomes: Vec<PeerTx> = batch
                    .transactions
                    .into_iter()
                    .map(|t| ledger.submit_from_peer(t))
                    .collect();
                replays(height, &outcomes)
            })
            .await;
            let Ok(replayed) = r else {
                return;
            };
            if replayed == 0 {
                continue;
            }
            metrics::counter!(
                "covenant_peer_misbehaviour_total",
                "chain" => chain.to_string(),
                "peer" => peer.to_hex(),
                "kind" => "replayed transaction",
            )
            .increment(replayed as u64);
            let now = Instant::now();
            if warned
                .get(&peer)
                .is_none_or(|w| now.duration_since(*w) >= REPLAY_WARN_EVERY)
            {
                warned.insert(peer, now);
                warn!(
                    chain,
                    %peer,
                    name = %link.net.peer_name(&peer),
                    kind = "replayed transaction",
                    replayed,
                    batch_height = height,
                    "a peer passed on transactions it already held as committed (further ones within 30 s are only counted)"
                );
            }
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transactions_committed_at_or_below_the_senders_height_are_replays() {
        let outcomes = [
            PeerTx::Taken,
            PeerTx::Refused,
            PeerTx::OnLedger(9),
            PeerTx::OnLedger(10),
            PeerTx::OnLedger(11),
        ];
        // Committed at 11 while a batch admitted at 10 was on its way: a race, not a replay.
        assert_eq!(replays(10, &outcomes), 2);
        assert_eq!(replays(8, &outcomes), 0);
        assert_eq!(replays(11, &outcomes), 3);
    }
}
