//! Block sync: nodes tell each other their heights; a node behind fetches the missing blocks
//! from a peer ahead and applies them only if their commit certificates check out against
//! its own copy of the chain config (it never takes the sender's word for a block). Sync
//! nodes follow a chain this way without voting; consensus nodes catch up this way after a
//! restart or a partition.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use covenant_net::{Inbound, PeerId};
use covenant_types::{
    block::DecodedBlock,
    pb::{BlockBatch, BlockRequest, ChainStatus},
};
use parking_lot::Mutex;
use prost::Message;
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use super::{ChainContext, KIND_BLOCKS, KIND_STATUS};

/// Blocks per request.
const BATCH: u32 = 32;
/// Most bytes of blocks in one answer.
const MAX_BATCH_BYTES: usize = 16 << 20;
/// How long a peer that served a bad block is not asked again.
const PENALTY: Duration = Duration::from_secs(10);

/// What this node knows of its peers' progress on a chain.
#[derive(Debug, Default)]
pub struct SyncState {
    heights: Mutex<HashMap<PeerId, (u64, Instant)>>,
    penalised: Mutex<HashMap<PeerId, Instant>>,
    wake: Notify,
}

impl SyncState {
    /// A peer said how far it is.
    pub fn on_status(&self, peer: PeerId, payload: &[u8]) {
        let Ok(s) = ChainStatus::decode(payload) else {
            debug!(%peer, "undecodable status dropped");
            return;
        };
        self.heights.lock().insert(peer, (s.height, Instant::now()));
        self.wake.notify_one();
    }

    /// Ask the sync loop to look now (e.g. consensus saw a quorum decide a block it lacks).
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// The highest height a peer reported recently.
    pub fn best_peer_height(&self) -> Option<u64> {
        self.heights.lock().values().map(|(h, _)| *h).max()
    }

    /// Peers (fresh reports, not penalised) at or above `height`, highest first.
    fn peers_at(&self, height: u64) -> Vec<PeerId> {
        let now = Instant::now();
        let penalised = self.penalised.lock();
        let mut v: Vec<(u64, PeerId)> = self
            .heights
            .lock()
            .iter()
            .filter(|(p, (h, at))| {
                *h >= height
                    && now.duration_since(*at) < Duration::from_secs(30)
                    && penalised
                        .get(*p)
                        .is_none_or(|t| now.duration_since(*t) > PENALTY)
            })
            .map(|(p, (h, _))| (*h, *p))
            .collect();
        v.sort_by(|a, b| b.cmp(a));
        v.into_iter().map(|(_, p)| p).collect()
    }

    fn penalise(&self, peer: PeerId) {
        self.penalised.lock().insert(peer, Instant::now());
    }
}

fn status(ctx: &ChainContext) -> Vec<u8> {
    let tip = ctx.chain.store().tip();
    ChainStatus {
        height: tip.height.unwrap_or(0),
        block_hash: tip.hash,
        validator: ctx.is_validator(),
    }
    .encode_to_vec()
}

/// Tell peers this node's height every second and after every commit.
pub async fn announce(ctx: ChainContext) {
    let mut blocks = ctx.chain.subscribe();
    let mut stop = ctx.stop.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            r = blocks.recv() => {
                if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            _ = stop.changed() => return,
        }
        ctx.net
            .broadcast(ctx.chain.id(), KIND_STATUS, &status(&ctx));
    }
}

/// Answer a peer's block request from the store.
pub fn serve(ctx: &ChainContext, msg: Inbound) {
    let Some(reply) = msg.reply else {
        return;
    };
    let Ok(req) = BlockRequest::decode(msg.payload.as_slice()) else {
        reply.fail("undecodable block request");
        return;
    };
    let chain = ctx.chain.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = BlockBatch::default();
        let mut bytes = 0;
        let count = req.count.clamp(1, BATCH * 2) as u64;
        for h in req.from_height..req.from_height.saturating_add(count) {
            match chain.block(h) {
                Ok(Some(b)) => {
                    let enc = b.encode();
                    if bytes + enc.len() > MAX_BATCH_BYTES && !out.blocks.is_empty() {
                        break;
                    }
                    bytes += enc.len();
                    out.blocks.push(enc);
                }
                Ok(None) => break,
                Err(e) => {
                    reply.fail(format!("cannot read block {h}: {e}"));
                    return;
                }
            }
        }
        reply.send(out.encode_to_vec());
    });
}

/// Fetch and apply blocks while a peer is ahead.
pub async fn follow(ctx: ChainContext) {
    let mut stop = ctx.stop.clone();
    loop {
        tokio::select! {
            _ = ctx.sync.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
        while catch_up_once(&ctx).await {
            if *ctx.stop.borrow() {
                return;
            }
        }
    }
}

/// One request to the best peer; true if blocks were applied (try again).
async fn catch_up_once(ctx: &ChainContext) -> bool {
    let next = ctx.chain.store().height().map_or(0, |h| h + 1);
    let peers = ctx.sync.peers_at(next);
    let Some(peer) = peers.first().copied() else {
        return false;
    };
    let req = BlockRequest {
        from_height: next,
        count: BATCH,
    }
    .encode_to_vec();
    let answer = match ctx
        .net
        .request(
            &peer,
            ctx.chain.id(),
            KIND_BLOCKS,
            req,
            Duration::from_secs(20),
        )
        .await
    {
        Ok(a) => a,
        Err(e) => {
            debug!(%peer, error = %e, "block request failed");
            ctx.sync.penalise(peer);
            return false;
        }
    };
    let Ok(batch) = BlockBatch::decode(answer.as_slice()) else {
        warn!(%peer, "undecodable block batch");
        ctx.sync.penalise(peer);
        return false;
    };
    if batch.blocks.is_empty() {
        return false;
    }
    let chain = ctx.chain.clone();
    let suite = chain.suite();
    let applied = tokio::task::spawn_blocking(move || {
        let mut applied = 0u64;
        for bytes in batch.blocks {
            let block = match DecodedBlock::decode(suite, &bytes, MAX_BATCH_BYTES) {
                Ok(b) => b,
                Err(e) => return (applied, Some(e.to_string())),
            };
            // Checks the certificate and re-executes the block; a block consensus committed
            // meanwhile is recognised (same hash) and skipped.
            match chain.commit_decided(block, None) {
                Ok(Some(_)) => applied += 1,
                Ok(None) => {}
                Err(e) => return (applied, Some(e.to_string())),
            }
        }
        (applied, None)
    })
    .await;
    match applied {
        Ok((n, err)) => {
            if n > 0 {
                info!(chain = ctx.chain.id(), %peer, blocks = n, height = ?ctx.chain.store().height(), "caught up from a peer");
            }
            if let Some(e) = err {
                warn!(chain = ctx.chain.id(), %peer, error = %e, "a synced block was rejected; asking another peer");
                ctx.sync.penalise(peer);
            }
            n > 0
        }
        Err(_) => false,
    }
}

/// A shared state for a chain.
pub fn state() -> Arc<SyncState> {
    Arc::new(SyncState::default())
}
