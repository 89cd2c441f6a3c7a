//! Block sync: nodes tell each other their heights; a node behind fetches the missing blocks
//! from a peer ahead and applies them only if their commit certificates check out against
//! its own copy of the chain config (it never takes the sender's word for a block). Sync
//! nodes follow a chain this way without voting; consensus nodes catch up this way after a
//! restart or a partition.
//!
//! Serving is bounded: a peer has at most [`MAX_SERVING_PER_PEER`] requests answered at once
//! and the node at most [`MAX_SERVING`]; more are refused as busy, so no peer can tie up the
//! node's disk or threads with requests.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use covenant_types::pb::{BlockBatch, BlockRequest, ChainStatus};
use parking_lot::Mutex;
use prost::Message;
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use crate::{
    Inbound, PeerId,
    chain_link::{ChainLink, Ledger, kind},
};

/// Blocks per request.
const BATCH: u32 = 32;
/// Most bytes of blocks in one answer.
pub const MAX_BATCH_BYTES: usize = 16 << 20;
/// How long a peer that served a bad block is not asked again.
const PENALTY: Duration = Duration::from_secs(10);
/// Requests of one peer answered at once.
pub const MAX_SERVING_PER_PEER: usize = 2;
/// Requests answered at once, all peers together.
pub const MAX_SERVING: usize = 8;

/// What this node knows of its peers' progress on a chain.
#[derive(Debug, Default)]
pub struct SyncState {
    /// Each peer's last reported height, when, and on which connection.
    heights: Mutex<HashMap<PeerId, (u64, Instant, u64)>>,
    /// The peers whose last report said they vote on the chain.
    voting: Mutex<HashSet<PeerId>>,
    penalised: Mutex<HashMap<PeerId, Instant>>,
    serving: Mutex<HashMap<PeerId, usize>>,
    wake: Notify,
    /// Held while this node's status or one of its consensus messages is queued to peers.
    order: Mutex<()>,
    /// Each peer's latest checkpoint: height, state digest, whether it votes.
    checkpoints: Mutex<HashMap<PeerId, Checkpoint>>,
    /// Each peer's latest anchor: height, its block hash there, whether it votes.
    anchors: Mutex<HashMap<PeerId, Checkpoint>>,
    /// Anchor heights at which this node's block was found to differ (reported once each).
    diverged_at: Mutex<HashSet<u64>>,
    /// Checkpoints already judged: this node's (`None`) and each peer's.
    judged: Mutex<HashSet<(Option<PeerId>, u64)>>,
}

/// A peer's latest checkpoint: height, state digest, whether it votes on the chain.
pub type Checkpoint = (u64, Vec<u8>, bool);

impl SyncState {
    /// A shared state for a chain.
    pub fn new() -> Arc<Self> {
        Arc::new(SyncState::default())
    }

    /// A peer said how far it is, on connection `session`.
    pub fn on_status(&self, peer: PeerId, session: u64, payload: &[u8]) {
        let Ok(s) = ChainStatus::decode(payload) else {
            debug!(%peer, "undecodable status dropped");
            return;
        };
        self.heights
            .lock()
            .insert(peer, (s.height, Instant::now(), session));
        {
            let mut voting = self.voting.lock();
            if s.validator {
                voting.insert(peer);
            } else {
                voting.remove(&peer);
            }
        }
        if !s.anchor_hash.is_empty() {
            self.anchors
                .lock()
                .insert(peer, (s.anchor_height, s.anchor_hash.clone(), s.validator));
        }
        if !s.state_digest.is_empty() {
            self.checkpoints
                .lock()
                .insert(peer, (s.checkpoint_height, s.state_digest, s.validator));
        }
        self.wake.notify_one();
    }

    /// Every peer's latest checkpoint report.
    pub fn checkpoint_reports(&self) -> Vec<(PeerId, Checkpoint)> {
        self.checkpoints
            .lock()
            .iter()
            .map(|(p, c)| (*p, c.clone()))
            .collect()
    }

    /// Every peer's latest anchor report: height, block hash, whether it votes.
    pub fn anchor_reports(&self) -> Vec<(PeerId, Checkpoint)> {
        self.anchors
            .lock()
            .iter()
            .map(|(p, c)| (*p, c.clone()))
            .collect()
    }

    /// True the first time this node's block at anchor `height` is found to differ.
    pub fn first_divergence(&self, height: u64) -> bool {
        let mut seen = self.diverged_at.lock();
        seen.retain(|h| h.saturating_add(64 * 32) > height);
        seen.insert(height)
    }

    /// True the first time it is asked for `who` (`None`: this node) at `height`: a verdict
    /// on a checkpoint is acted on once.
    pub fn first_verdict(&self, who: Option<PeerId>, height: u64) -> bool {
        let mut judged = self.judged.lock();
        // Old verdicts are forgotten: checkpoints come in order.
        judged.retain(|(_, h)| h.saturating_add(64 * 32) > height);
        judged.insert((who, height))
    }

    /// The height `peer` last reported on connection `session` (none if its last report came
    /// on another connection: it may have restarted since, even with its data wiped).
    pub fn reported_height(&self, peer: &PeerId, session: u64) -> Option<u64> {
        self.heights
            .lock()
            .get(peer)
            .filter(|(_, _, s)| *s == session)
            .map(|(h, _, _)| *h)
    }

    /// Run `send` (queueing this node's status or a consensus message of its own) while no
    /// other such send runs. A status reports the height committed when it is queued; a
    /// consensus message sent under this lock is about a height above the one committed then
    /// (the sender checks), so on one connection a peer never receives a message about a
    /// height at or below one this node reported before it — only a replay does that.
    pub fn in_order<R>(&self, send: impl FnOnce() -> R) -> R {
        let _order = self.order.lock();
        send()
    }

    /// Ask the sync loop to look now (e.g. consensus saw a quorum decide a block it lacks).
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// The heights reported in the last `within` by peers that say they vote on the chain.
    pub fn voting_heights(&self, within: Duration) -> Vec<(PeerId, u64)> {
        let now = Instant::now();
        let voting = self.voting.lock();
        self.heights
            .lock()
            .iter()
            .filter(|(p, (_, at, _))| voting.contains(*p) && now.duration_since(*at) < within)
            .map(|(p, (h, _, _))| (*p, *h))
            .collect()
    }

    /// The highest height a peer reported recently.
    pub fn best_peer_height(&self) -> Option<u64> {
        self.heights.lock().values().map(|(h, _, _)| *h).max()
    }

    /// Peers (fresh reports, not penalised) at or above `height`, highest first.
    fn peers_at(&self, height: u64) -> Vec<PeerId> {
        let now = Instant::now();
        let penalised = self.penalised.lock();
        let mut v: Vec<(u64, PeerId)> = self
            .heights
            .lock()
            .iter()
            .filter(|(p, (h, at, _))| {
                *h >= height
                    && now.duration_since(*at) < Duration::from_secs(30)
                    && penalised
                        .get(*p)
                        .is_none_or(|t| now.duration_since(*t) > PENALTY)
            })
            .map(|(p, (h, _, _))| (*h, *p))
            .collect();
        v.sort_by(|a, b| b.cmp(a));
        v.into_iter().map(|(_, p)| p).collect()
    }

    fn penalise(&self, peer: PeerId) {
        self.penalised.lock().insert(peer, Instant::now());
    }

    /// Take a serving slot for `peer`, if one is free.
    fn start_serving(self: &Arc<Self>, peer: PeerId) -> Option<ServingSlot> {
        let mut serving = self.serving.lock();
        let total: usize = serving.values().sum();
        let mine = serving.entry(peer).or_default();
        if *mine >= MAX_SERVING_PER_PEER || total >= MAX_SERVING {
            return None;
        }
        *mine += 1;
        Some(ServingSlot {
            state: self.clone(),
            peer,
        })
    }
}

/// A request being answered; the slot frees when dropped.
struct ServingSlot {
    state: Arc<SyncState>,
    peer: PeerId,
}

impl Drop for ServingSlot {
    fn drop(&mut self) {
        let mut serving = self.state.serving.lock();
        if let Some(n) = serving.get_mut(&self.peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                serving.remove(&self.peer);
            }
        }
    }
}

fn status<L: Ledger>(link: &ChainLink<L>) -> Vec<u8> {
    let (height, block_hash) = link.ledger.tip();
    let (checkpoint_height, state_digest) =
        link.ledger.state_digests().pop_last().unwrap_or_default();
    let anchor_height = height - height % crate::checkpoint::ANCHOR_EVERY;
    ChainStatus {
        height,
        block_hash,
        validator: link.ledger.is_validator(),
        checkpoint_height,
        state_digest,
        anchor_height,
        anchor_hash: link.ledger.block_hash_at(anchor_height).unwrap_or_default(),
    }
    .encode_to_vec()
}

/// Tell peers this node's height every second and after every commit.
pub async fn announce<L: Ledger>(link: ChainLink<L>) {
    let mut commits = link.ledger.subscribe_commits();
    let mut stop = link.stop.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            r = commits.recv() => {
                if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            _ = stop.changed() => return,
        }
        link.sync.in_order(|| {
            link.net
                .broadcast(link.ledger.chain_id(), kind::STATUS, &status(&link))
        });
    }
}

/// Answer a peer's block request from the ledger (busy when the peer or the node is at its
/// limit of requests being answered).
pub fn serve<L: Ledger>(link: &ChainLink<L>, msg: Inbound) {
    let Some(reply) = msg.reply else {
        return;
    };
    let Ok(req) = BlockRequest::decode(msg.payload.as_slice()) else {
        reply.fail("undecodable block request");
        return;
    };
    let Some(slot) = link.sync.start_serving(msg.peer) else {
        reply.fail("busy: too many block requests at once; retry later");
        return;
    };
    let ledger = link.ledger.clone();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let mut out = BlockBatch::default();
        let mut bytes = 0;
        let count = req.count.clamp(1, BATCH * 2) as u64;
        for h in req.from_height..req.from_height.saturating_add(count) {
            match ledger.block_bytes(h) {
                Ok(Some(enc)) => {
                    if bytes + enc.len() > MAX_BATCH_BYTES && !out.blocks.is_empty() {
                        break;
                    }
                    bytes += enc.len();
                    out.blocks.push(enc);
                }
                Ok(None) => break,
                // The blocks before one this node cannot read are still worth sending.
                Err(_) if !out.blocks.is_empty() => break,
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
pub async fn follow<L: Ledger>(link: ChainLink<L>) {
    let mut stop = link.stop.clone();
    loop {
        tokio::select! {
            _ = link.sync.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
        while catch_up_once(&link).await {
            if *link.stop.borrow() {
                return;
            }
        }
        repair_damaged(&link).await;
        crate::checkpoint::compare(&link).await;
    }
}

/// Fetch each block this node's store found damaged from a peer that has it, until one
/// serves the very block this ledger holds at that height.
async fn repair_damaged<L: Ledger>(link: &ChainLink<L>) {
    let chain = link.ledger.chain_id().to_string();
    for height in link.ledger.damaged() {
        for peer in link.sync.peers_at(height) {
            let req = BlockRequest {
                from_height: height,
                count: 1,
            }
            .encode_to_vec();
            let answer = match link
                .net
                .request(&peer, &chain, kind::BLOCKS, req, Duration::from_secs(20))
                .await
            {
                Ok(a) => a,
                Err(e) => {
                    debug!(%peer, height, error = %e, "block request for a repair failed");
                    continue;
                }
            };
            let Some(bytes) = BlockBatch::decode(answer.as_slice())
                .ok()
                .and_then(|b| b.blocks.into_iter().next())
            else {
                continue;
            };
            let ledger = link.ledger.clone();
            let repaired =
                tokio::task::spawn_blocking(move || ledger.repair_block(height, &bytes)).await;
            match repaired {
                Ok(Ok(())) => {
                    info!(chain, %peer, height, "repaired a damaged block with a peer's copy");
                    break;
                }
                Ok(Err(e)) if e.invalid => name_bad_server(link, peer, &e.detail),
                Ok(Err(e)) => {
                    warn!(chain, %peer, height, error = %e.detail, "a peer's copy of a damaged block could not replace it; asking another peer");
                }
                Err(_) => return,
            }
        }
    }
}

/// Name `peer` for serving a block that fails its own checks (honest nodes serve only
/// committed blocks with their certificates), count it, and ask it again only after a penalty.
fn name_bad_server<L: Ledger>(link: &ChainLink<L>, peer: PeerId, detail: &str) {
    let chain = link.ledger.chain_id();
    warn!(chain, %peer, name = %link.net.peer_name(&peer), error = %detail, "a peer served a block that fails its checks; asking another peer");
    metrics::counter!(
        "covenant_peer_misbehaviour_total",
        "chain" => chain.to_string(),
        "peer" => peer.to_hex(),
        "kind" => "invalid synced block",
    )
    .increment(1);
    link.sync.penalise(peer);
}

/// One request to the best peer; true if blocks were applied (try again).
async fn catch_up_once<L: Ledger>(link: &ChainLink<L>) -> bool {
    let next = link.ledger.tip().0 + 1;
    let peers = link.sync.peers_at(next);
    let Some(peer) = peers.first().copied() else {
        return false;
    };
    let req = BlockRequest {
        from_height: next,
        count: BATCH,
    }
    .encode_to_vec();
    let chain = link.ledger.chain_id().to_string();
    let answer = match link
        .net
        .request(&peer, &chain, kind::BLOCKS, req, Duration::from_secs(20))
        .await
    {
        Ok(a) => a,
        Err(e) => {
            debug!(%peer, error = %e, "block request failed");
            link.sync.penalise(peer);
            return false;
        }
    };
    let Ok(batch) = BlockBatch::decode(answer.as_slice()) else {
        warn!(%peer, "undecodable block batch");
        link.sync.penalise(peer);
        return false;
    };
    if batch.blocks.is_empty() {
        return false;
    }
    let ledger = link.ledger.clone();
    let applied = tokio::task::spawn_blocking(move || {
        let mut applied = 0u64;
        for bytes in batch.blocks {
            // Checks the certificate and re-executes the block; a block consensus committed
            // meanwhile is recognised (same hash) and skipped.
            match ledger.commit_synced(&bytes) {
                Ok(true) => applied += 1,
                Ok(false) => {}
                Err(e) => return (applied, Some(e)),
            }
        }
        (applied, None)
    })
    .await;
    match applied {
        Ok((n, err)) => {
            if n > 0 {
                info!(chain, %peer, blocks = n, height = link.ledger.tip().0, "caught up from a peer");
            }
            if let Some(e) = err {
                if e.invalid {
                    name_bad_server(link, peer, &e.detail);
                } else {
                    warn!(chain, %peer, error = %e.detail, "a synced block could not be applied; asking another peer");
                    link.sync.penalise(peer);
                }
            }
            n > 0
        }
        Err(_) => false,
    }
}
