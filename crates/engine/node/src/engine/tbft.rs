//! The TBFT driver of one chain: runs the [`Machine`] with real blocks, keys, timers and the
//! network.
//!
//! - A proposer builds its block from the pool (waiting up to the block interval for it to
//!   fill), executes it, and proposes it; the others re-execute it before prevoting for it.
//! - Every proposal and vote is verified against the chain config's consensus nodes before
//!   the machine sees it; the machine journals every vote before it is signed.
//! - A decided block is committed with the 2f+1 precommits as its certificate.
//! - A height starts when this node has transactions to order or hears from a validator that
//!   works on it, so an idle chain makes no empty blocks.
//! - When blocks arrive by sync (this node fell behind), the machine moves to the new height.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use covenant_chain::BlockOutput;
use covenant_consensus::{
    node_key,
    tbft::{
        Action, FileJournal, Input, Machine, Message, ProposalBody, SignedProposal, SignedVote,
        Signer, TimeoutKind, Timeouts, Validators, Value, VoteBody, certificate,
    },
};
use covenant_crypto::{Hash, PrivateKey, PublicKey, Suite};
use covenant_net::Inbound;
use covenant_types::{
    block::DecodedBlock,
    pb::{ConsensusMessage, TbftProposal, TbftVote, consensus_message::Body},
};
use prost::Message as _;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use super::{ChainContext, KIND_CONSENSUS};

/// The largest proposed block decoded (the network's frame limit is lower still).
const MAX_BLOCK_BYTES: usize = 256 << 20;
/// Heights ahead of this node's next one whose messages are verified and kept (a node further
/// behind catches up by block sync).
const FUTURE_HEIGHTS: u64 = 2;

/// A proposed block as the machine's value.
#[derive(Clone)]
pub struct BlockValue {
    pub block: Arc<DecodedBlock>,
    suite: Suite,
}

impl std::fmt::Debug for BlockValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "block {} at {}", self.block.hash, self.block.height())
    }
}

impl Value for BlockValue {
    fn id(&self) -> Hash {
        self.block.hash
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![match self.suite {
            Suite::Sm => 1,
            Suite::Intl => 2,
        }];
        out.extend_from_slice(&self.block.encode());
        out
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (tag, rest) = bytes.split_first()?;
        let suite = match tag {
            1 => Suite::Sm,
            2 => Suite::Intl,
            _ => return None,
        };
        let block = DecodedBlock::decode(suite, rest, MAX_BLOCK_BYTES).ok()?;
        Some(BlockValue {
            block: Arc::new(block),
            suite,
        })
    }
}

/// Signs votes and proposals with the node key.
pub struct NodeSigner {
    id: Hash,
    key: PrivateKey,
}

impl Signer for NodeSigner {
    fn id(&self) -> Hash {
        self.id
    }

    fn sign(&self, body: &[u8]) -> Vec<u8> {
        match self.key.sign(body) {
            Ok(s) => s,
            Err(e) => {
                // An empty signature never verifies: the vote is lost, not forged.
                error!(error = %e, "cannot sign a consensus message");
                Vec::new()
            }
        }
    }
}

enum Event {
    Timeout {
        height: u64,
        round: u32,
        kind: TimeoutKind,
    },
    Built {
        height: u64,
        round: u32,
        result: Result<Option<Box<(DecodedBlock, BlockOutput)>>, String>,
    },
    Checked {
        id: Hash,
        result: Result<BlockOutput, String>,
    },
}

type TbftMachine = Machine<BlockValue, FileJournal, NodeSigner>;

struct Driver {
    ctx: ChainContext,
    suite: Suite,
    machine: TbftMachine,
    timeouts: Timeouts,
    /// The height the machine works on, if it started one that is not decided yet.
    working: Option<u64>,
    /// This node's executions of proposed blocks, by block hash (for the commit).
    outputs: HashMap<Hash, BlockOutput>,
    /// Validators' keys under the current config.
    keys: HashMap<Hash, PublicKey>,
    keys_version: Option<u64>,
    events_tx: mpsc::Sender<Event>,
    /// A decision waiting to be committed (by the async loop).
    decided: Option<(u64, u32, BlockValue, Vec<SignedVote>)>,
}

/// Start the TBFT driver of a chain. `journal` is the write-ahead journal's path.
pub async fn run(
    ctx: ChainContext,
    inbound: mpsc::Receiver<Inbound>,
    journal: PathBuf,
    timeouts: Timeouts,
) {
    let journal = match FileJournal::open(&journal) {
        Ok(j) => j,
        Err(e) => {
            error!(chain = ctx.chain.id(), path = %journal.display(), error = %e,
                "cannot open the consensus journal; this node will not vote (it still follows the chain)");
            return;
        }
    };
    let signer = NodeSigner {
        id: ctx.node_id,
        key: ctx.key.clone(),
    };
    let (events_tx, events) = mpsc::channel(1024);
    let machine = Machine::new(ctx.chain.id(), signer, journal, timeouts);
    let mut d = Driver {
        suite: ctx.chain.suite(),
        ctx,
        machine,
        timeouts,
        working: None,
        outputs: HashMap::new(),
        keys: HashMap::new(),
        keys_version: None,
        events_tx,
        decided: None,
    };
    d.run(inbound, events).await;
}

impl Driver {
    async fn run(
        &mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut events: mpsc::Receiver<Event>,
    ) {
        let mut stop = self.ctx.stop.clone();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut last_resend = Instant::now();
        self.report();
        loop {
            tokio::select! {
                m = inbound.recv() => match m {
                    Some(m) => self.on_inbound(m),
                    None => return,
                },
                e = events.recv() => match e {
                    Some(e) => self.on_event(e).await,
                    None => return,
                },
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if let Some((height, round, value, precommits)) = self.decided.take() {
                self.commit(height, round, value, precommits).await;
            }
            self.maybe_start();
            if last_resend.elapsed() > Duration::from_secs(1) {
                last_resend = Instant::now();
                self.report();
                if self.working.is_some() {
                    for m in self.machine.own_messages() {
                        self.broadcast(&m);
                    }
                }
            }
        }
    }

    fn report(&self) {
        let validators = self
            .ctx
            .chain
            .config()
            .consensus
            .as_ref()
            .map_or(0, |c| c.nodes.len());
        self.ctx.chain.set_engine_status(serde_json::json!({
            "kind": "tbft",
            "node": self.ctx.node_id.to_hex(),
            "validator": self.ctx.is_validator(),
            "working_height": self.working,
            "round": self.working.map(|_| self.machine.round()),
            "validators": validators,
            "quorum": certificate::quorum(validators),
            "peers": self.ctx.peer_report(),
        }));
    }

    fn next_height(&self) -> u64 {
        self.ctx.chain.store().height().map_or(0, |h| h + 1)
    }

    fn refresh_keys(&mut self) -> Validators {
        let config = self.ctx.chain.config();
        let nodes = config
            .consensus
            .as_ref()
            .map(|c| c.nodes.clone())
            .unwrap_or_default();
        if self.keys_version != Some(config.version) {
            self.keys.clear();
            for n in &nodes {
                match node_key(&n.certificate) {
                    Ok(k) => {
                        self.keys.insert(self.suite.hash(&n.certificate), k);
                    }
                    Err(e) => {
                        warn!(node = %n.node_id, error = %e, "unusable consensus node certificate")
                    }
                }
            }
            self.keys_version = Some(config.version);
        }
        Validators::new(
            nodes
                .iter()
                .map(|n| self.suite.hash(&n.certificate))
                .collect(),
        )
    }

    /// Start the next height if this node votes on it and there is a reason to.
    fn maybe_start(&mut self) {
        let next = self.next_height();
        if let Some(h) = self.working {
            if h >= next {
                return;
            }
            // Blocks arrived by sync: the height in progress is over.
            debug!(
                chain = self.ctx.chain.id(),
                height = h,
                "height committed elsewhere"
            );
            self.working = None;
        }
        let validators = self.refresh_keys();
        if !validators.contains(&self.ctx.node_id) {
            return;
        }
        let reason = self.ctx.chain.pool_len() > 0 || self.machine.has_future(next);
        if !reason {
            return;
        }
        self.outputs.clear();
        self.working = Some(next);
        debug!(
            chain = self.ctx.chain.id(),
            height = next,
            validators = validators.len(),
            "starting height"
        );
        let actions = self.machine.start_height(next, validators);
        self.apply(actions);
    }

    fn on_inbound(&mut self, m: Inbound) {
        let Ok(msg) = ConsensusMessage::decode(m.payload.as_slice()) else {
            debug!(peer = %m.peer, "undecodable consensus message");
            return;
        };
        let next = self.next_height();
        let message = match msg.body {
            Some(Body::Vote(v)) => self.verify_vote(v, next).map(Message::Vote),
            Some(Body::Proposal(p)) => self.verify_proposal(p, next).map(Message::Proposal),
            None => None,
        };
        if let Some(message) = message {
            let actions = self.machine.handle(Input::Message(message));
            self.apply(actions);
        }
    }

    fn signer_key(&mut self, id: &[u8]) -> Option<(Hash, PublicKey)> {
        self.refresh_keys();
        let id = Hash::from_slice(id).ok()?;
        self.keys.get(&id).map(|k| (id, k.clone()))
    }

    fn verify_vote(&mut self, v: TbftVote, next: u64) -> Option<SignedVote> {
        let body = VoteBody::decode(&v.body)?;
        if body.chain_id != self.ctx.chain.id()
            || body.height < next
            || body.height > next + FUTURE_HEIGHTS
        {
            return None;
        }
        let (voter, key) = self.signer_key(&v.voter)?;
        key.verify(&v.body, &v.signature).ok()?;
        SignedVote::parse(v.body, voter, v.signature)
    }

    fn verify_proposal(
        &mut self,
        p: TbftProposal,
        next: u64,
    ) -> Option<SignedProposal<BlockValue>> {
        let body = ProposalBody::decode(&p.body)?;
        if body.chain_id != self.ctx.chain.id()
            || body.height < next
            || body.height > next + FUTURE_HEIGHTS
        {
            return None;
        }
        let (proposer, key) = self.signer_key(&p.proposer)?;
        key.verify(&p.body, &p.signature).ok()?;
        let block = DecodedBlock::decode(self.suite, &p.block, MAX_BLOCK_BYTES).ok()?;
        if block.hash != body.value
            || block.height() != body.height
            || block.header.proposer != proposer.as_bytes().as_slice()
        {
            warn!(
                chain = self.ctx.chain.id(),
                height = body.height,
                "a proposal's block does not match it"
            );
            return None;
        }
        Some(SignedProposal {
            body: p.body,
            proposal: body,
            value: BlockValue {
                block: Arc::new(block),
                suite: self.suite,
            },
            proposer,
            signature: p.signature,
        })
    }

    fn broadcast(&self, m: &Message<BlockValue>) {
        let body = match m {
            Message::Vote(v) => Body::Vote(TbftVote {
                body: v.body.clone(),
                signature: v.signature.clone(),
                voter: v.voter.as_bytes().to_vec(),
            }),
            Message::Proposal(p) => Body::Proposal(TbftProposal {
                body: p.body.clone(),
                signature: p.signature.clone(),
                proposer: p.proposer.as_bytes().to_vec(),
                block: p.value.block.encode(),
            }),
        };
        let bytes = ConsensusMessage { body: Some(body) }.encode_to_vec();
        self.ctx
            .net
            .broadcast(self.ctx.chain.id(), KIND_CONSENSUS, &bytes);
    }

    fn apply(&mut self, actions: Vec<Action<BlockValue>>) {
        let mut queue = std::collections::VecDeque::from(actions);
        while let Some(a) = queue.pop_front() {
            match a {
                Action::Broadcast(m) => self.broadcast(&m),
                Action::Schedule {
                    height,
                    round,
                    kind,
                    after,
                } => {
                    let tx = self.events_tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let _ = tx
                            .send(Event::Timeout {
                                height,
                                round,
                                kind,
                            })
                            .await;
                    });
                }
                Action::Build { height, round } => self.build(height, round),
                Action::Check { value, .. } => {
                    let id = value.id();
                    if self.outputs.contains_key(&id) {
                        queue.extend(self.machine.handle(Input::Checked { id, valid: true }));
                        continue;
                    }
                    let chain = self.ctx.chain.clone();
                    let tx = self.events_tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let result = chain
                            .check_proposal(&value.block)
                            .map_err(|e| e.to_string());
                        let _ = tx.blocking_send(Event::Checked { id, result });
                    });
                }
                Action::Fetch { height, .. } => {
                    debug!(
                        chain = self.ctx.chain.id(),
                        height, "a quorum decided a block this node lacks; syncing"
                    );
                    self.ctx.sync.poke();
                }
                Action::Decide {
                    height,
                    round,
                    value,
                    precommits,
                } => {
                    self.working = None;
                    self.decided = Some((height, round, value, precommits));
                }
            }
        }
    }

    fn build(&self, height: u64, round: u32) {
        let chain = self.ctx.chain.clone();
        let tx = self.events_tx.clone();
        // Give the block up to one interval (at most half the propose timeout) to fill.
        let (max_txs, _, interval) = chain.limits();
        let wait = Duration::from_millis(interval).min(self.timeouts.propose / 2);
        tokio::spawn(async move {
            let deadline = Instant::now() + wait;
            while Instant::now() < deadline && chain.pool_len() < max_txs {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let result = tokio::task::spawn_blocking(move || {
                chain
                    .build_block(true)
                    .map(|b| b.map(Box::new))
                    .map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            let _ = tx
                .send(Event::Built {
                    height,
                    round,
                    result,
                })
                .await;
        });
    }

    async fn on_event(&mut self, e: Event) {
        let actions = match e {
            Event::Timeout {
                height,
                round,
                kind,
            } => self.machine.handle(Input::Timeout {
                height,
                round,
                kind,
            }),
            Event::Built {
                height,
                round,
                result,
            } => match result {
                Ok(Some(built)) if built.0.height() == height => {
                    let (block, out) = *built;
                    let value = BlockValue {
                        block: Arc::new(block),
                        suite: self.suite,
                    };
                    self.outputs.insert(value.id(), out);
                    self.machine.handle(Input::Built {
                        height,
                        round,
                        value,
                    })
                }
                Ok(_) => Vec::new(),
                Err(e) => {
                    warn!(chain = self.ctx.chain.id(), height, error = %e, "cannot build a block");
                    Vec::new()
                }
            },
            Event::Checked { id, result } => match result {
                Ok(out) => {
                    self.outputs.insert(id, out);
                    self.machine.handle(Input::Checked { id, valid: true })
                }
                Err(e) => {
                    warn!(chain = self.ctx.chain.id(), block = %id, error = %e, "a proposed block is invalid");
                    self.machine.handle(Input::Checked { id, valid: false })
                }
            },
        };
        self.apply(actions);
    }

    /// Commit a decided block with its certificate. The driver waits for it (one group
    /// commit) so the next height builds on it.
    async fn commit(
        &mut self,
        height: u64,
        round: u32,
        value: BlockValue,
        precommits: Vec<SignedVote>,
    ) {
        let mut block = (*value.block).clone();
        block.block.certificate = Some(certificate::certificate(round, &precommits));
        let output = self.outputs.remove(&value.id());
        self.outputs.clear();
        let chain = self.ctx.chain.clone();
        let result = tokio::task::spawn_blocking(move || chain.commit_decided(block, output))
            .await
            .unwrap_or_else(|e| Err(covenant_chain::ChainError::Other(e.to_string())));
        match result {
            Ok(Some(c)) => info!(
                chain = self.ctx.chain.id(),
                height,
                round,
                txs = c.results.len(),
                hash = %c.block.hash,
                "block committed"
            ),
            Ok(None) => debug!(
                chain = self.ctx.chain.id(),
                height, "block already committed by sync"
            ),
            Err(e) => {
                error!(chain = self.ctx.chain.id(), height, error = %e, "cannot commit a decided block; syncing it instead");
                self.ctx.sync.poke();
            }
        }
    }
}
