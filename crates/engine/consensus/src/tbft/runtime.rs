//! Runs a [`TbftDriver`] on tokio: real timers, blocks built, checked and committed on the
//! blocking pool, messages to and from the network.

use std::time::{Duration, Instant};

use covenant_crypto::Hash;
use covenant_types::block::DecodedBlock;
use tokio::sync::{mpsc, watch};

use super::{
    driver::{Effect, TbftDriver, Timer, commit},
    machine::Journal,
};
use crate::port::{ChainPort, PortError};

/// What the driver needs of the node's network.
pub trait TbftNet: Send + Sync + 'static {
    /// Send an encoded consensus message to every peer admitted on the chain.
    fn broadcast(&self, message: Vec<u8>);
    /// Ask block sync to look for blocks now.
    fn request_sync(&self);
    /// The peers admitted on the chain, for the status report.
    fn peers(&self) -> Vec<String>;
}

/// How often the driver's [`tick`](TbftDriver::tick) runs.
const TICK: Duration = Duration::from_millis(20);
/// How often a proposer waiting for its block to fill looks at the pool.
const FILL_POLL: Duration = Duration::from_millis(5);

enum Event<O> {
    Timer(Timer),
    Built {
        height: u64,
        round: u32,
        result: Result<Option<Box<(DecodedBlock, O)>>, PortError>,
    },
    Checked {
        id: Hash,
        result: Result<O, PortError>,
    },
}

/// Drive `driver` until `stop` turns true or the inbound channel closes. `inbound` carries the
/// payloads of the chain's consensus frames.
pub async fn run<C, J, N>(
    mut driver: TbftDriver<C, J>,
    chain: C,
    net: N,
    mut inbound: mpsc::Receiver<Vec<u8>>,
    mut stop: watch::Receiver<bool>,
) where
    C: ChainPort,
    J: Journal + Send,
    N: TbftNet,
{
    let (events_tx, mut events) = mpsc::channel::<Event<C::Output>>(1024);
    let started = Instant::now();
    let mut tick = tokio::time::interval(TICK);
    loop {
        let effects = tokio::select! {
            m = inbound.recv() => match m {
                Some(m) => driver.on_message(&m),
                None => return,
            },
            e = events.recv() => match e {
                Some(Event::Timer(t)) => driver.on_timer(t),
                Some(Event::Built { height, round, result }) => {
                    driver.on_built(height, round, result.map(|b| b.map(|b| *b)))
                }
                Some(Event::Checked { id, result }) => driver.on_checked(id, result),
                None => return,
            },
            _ = tick.tick() => {
                driver.set_peers(net.peers());
                driver.tick(started.elapsed().as_millis() as u64)
            }
            _ = stop.changed() => return,
        };
        let mut pending = std::collections::VecDeque::from(effects);
        while let Some(effect) = pending.pop_front() {
            match effect {
                Effect::Broadcast(bytes) => net.broadcast(bytes),
                Effect::Sync => net.request_sync(),
                Effect::Timer { after, timer } => {
                    let tx = events_tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let _ = tx.send(Event::Timer(timer)).await;
                    });
                }
                Effect::Build {
                    height,
                    round,
                    fill_wait,
                    max_txs,
                } => {
                    let tx = events_tx.clone();
                    let chain = chain.clone();
                    tokio::spawn(async move {
                        let deadline = tokio::time::Instant::now() + fill_wait;
                        while tokio::time::Instant::now() < deadline && chain.pending() < max_txs {
                            tokio::time::sleep(FILL_POLL).await;
                        }
                        let result = tokio::task::spawn_blocking(move || {
                            chain.build(true).map(|b| b.map(Box::new))
                        })
                        .await
                        .unwrap_or_else(|e| Err(PortError::Rejected(e.to_string())));
                        let _ = tx
                            .send(Event::Built {
                                height,
                                round,
                                result,
                            })
                            .await;
                    });
                }
                Effect::Check { id, block } => {
                    let tx = events_tx.clone();
                    let chain = chain.clone();
                    tokio::task::spawn_blocking(move || {
                        let result = chain.check(&block);
                        let _ = tx.blocking_send(Event::Checked { id, result });
                    });
                }
                Effect::Commit {
                    height,
                    round,
                    block,
                    output,
                } => {
                    // The driver waits for the commit: the next height builds on it.
                    let c = chain.clone();
                    let result = tokio::task::spawn_blocking(move || commit(&c, *block, output))
                        .await
                        .unwrap_or_else(|e| Err(PortError::Rejected(e.to_string())));
                    pending.extend(driver.on_committed(height, round, result));
                }
            }
        }
    }
}
