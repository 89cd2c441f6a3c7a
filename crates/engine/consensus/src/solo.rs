//! Solo: the chain's one consensus node decides every block by signing its header.
//!
//! [`run`] is the producer: it waits until a full block of transactions waits, or one block
//! interval after the first one arrived, then builds, signs and commits blocks until the pool
//! is drained. It runs on its own thread (building and committing block, not async work).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use covenant_crypto::Suite;
use covenant_types::{ChainConfig, block::DecodedBlock};
use tracing::{debug, error, warn};

use crate::{
    ConsensusError,
    certificate::{check_header_signature, sign_header},
    port::{ChainPort, CommitMode, NodeKeys, PortError},
};

/// Check a Solo certificate: the signature of the chain's (first) consensus node.
pub fn check(
    suite: Suite,
    block: &DecodedBlock,
    config: &ChainConfig,
) -> Result<(), ConsensusError> {
    check_header_signature(suite, block, config, "solo node", |i, _| i == 0)
}

/// Decide a block this node built: sign its header as the chain's one node.
pub fn decide(mut block: DecodedBlock, node: &NodeKeys) -> Result<DecodedBlock, ConsensusError> {
    block.block.certificate = Some(sign_header(&block, 0, node.id, &node.key)?);
    Ok(block)
}

/// How long the producer waits before trying again after a failed block.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// How often expired transactions are dropped from the pool.
const EVICT_EVERY: Duration = Duration::from_secs(10);

/// Build, decide and commit one block from the waiting transactions, if any.
pub fn produce_one<C: ChainPort>(chain: &C, node: &NodeKeys) -> Result<Option<u64>, PortError> {
    let Some((block, output)) = chain.build(false)? else {
        return Ok(None);
    };
    let height = block.height();
    let block = decide(block, node).map_err(|e| PortError::Rejected(e.to_string()))?;
    Ok(chain
        .commit(block, Some(output), CommitMode::Decided)?
        .map(|c| c.height)
        .or(Some(height)))
}

/// The Solo producer of a chain, on its own thread, until `stop` is set.
pub fn start<C: ChainPort>(
    chain: C,
    node: NodeKeys,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("solo-{}", chain.chain_id()))
        .spawn(move || run(chain, node, stop))
}

fn run<C: ChainPort>(chain: C, node: NodeKeys, stop: Arc<AtomicBool>) {
    let mut last_evict = Instant::now();
    chain.set_engine_status(serde_json::json!({
        "kind": "solo",
        "node": node.id.to_hex(),
        "validator": true,
    }));
    while !stop.load(Ordering::Relaxed) {
        let pace = chain.pace();
        if !chain.wait_for_work(pace.interval) || stop.load(Ordering::Relaxed) {
            continue;
        }
        // Give a partly filled block one interval to fill up.
        if chain.pending() < pace.max_txs {
            chain.wait_for_work(pace.interval);
        }
        loop {
            let started = Instant::now();
            match produce_one(&chain, &node) {
                Ok(Some(height)) => {
                    debug!(
                        chain = chain.chain_id(),
                        height,
                        ms = started.elapsed().as_millis() as u64,
                        "block committed"
                    );
                    if chain.pending() >= pace.max_txs && !stop.load(Ordering::Relaxed) {
                        continue;
                    }
                    break;
                }
                Ok(None) => break,
                Err(PortError::Halted(reason)) => {
                    error!(chain = chain.chain_id(), %reason, "the chain halted; the producer stops");
                    return;
                }
                Err(e) => {
                    error!(chain = chain.chain_id(), error = %e, "block production failed; retrying");
                    std::thread::sleep(RETRY_AFTER);
                    break;
                }
            }
        }
        if last_evict.elapsed() > EVICT_EVERY {
            let n = chain.evict_expired();
            if n > 0 {
                warn!(
                    chain = chain.chain_id(),
                    evicted = n,
                    "expired transactions left the pool"
                );
            }
            last_evict = Instant::now();
        }
    }
}
