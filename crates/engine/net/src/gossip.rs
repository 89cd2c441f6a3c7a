//! Transaction gossip: transactions this node's clients submit are passed to the chain's
//! peers in small batches, so whichever node proposes next has them. Transactions from peers
//! are checked like any other and never passed on again (every node hears every other
//! directly).

use std::time::Duration;

use covenant_types::pb::TxBatch;
use prost::Message;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tracing::debug;

use crate::chain_link::{ChainLink, Ledger, kind};

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
        let mut batch = TxBatch {
            transactions: vec![(*first).clone()],
        };
        let mut bytes = first.len();
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.transactions.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Ok(t)) => {
                    bytes += t.len();
                    batch.transactions.push((*t).clone());
                }
                Ok(Err(RecvError::Lagged(_))) => continue,
                _ => break,
            }
        }
        link.net
            .broadcast(link.ledger.chain_id(), kind::TXS, &batch.encode_to_vec());
    }
}

/// A queue whose batches are checked into the pool off the async threads.
pub fn receiver<L: Ledger>(link: ChainLink<L>) -> mpsc::Sender<Vec<u8>> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(INBOUND_QUEUE);
    tokio::spawn(async move {
        while let Some(payload) = rx.recv().await {
            let Ok(batch) = TxBatch::decode(payload.as_slice()) else {
                debug!(
                    chain = link.ledger.chain_id(),
                    "undecodable transaction batch dropped"
                );
                continue;
            };
            let ledger = link.ledger.clone();
            let r = tokio::task::spawn_blocking(move || {
                for t in batch.transactions {
                    // Duplicates and transactions the pool refuses are simply not taken.
                    ledger.submit_from_peer(t);
                }
            })
            .await;
            if r.is_err() {
                return;
            }
        }
    });
    tx
}
