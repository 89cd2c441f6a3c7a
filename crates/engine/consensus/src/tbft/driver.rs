//! The TBFT driver of one chain: runs the [`Machine`] with real blocks, keys and messages.
//!
//! The driver does no I/O itself. Every input is a method call ([`TbftDriver::on_message`],
//! [`on_timer`](TbftDriver::on_timer), [`on_built`](TbftDriver::on_built),
//! [`on_checked`](TbftDriver::on_checked), [`on_committed`](TbftDriver::on_committed),
//! [`tick`](TbftDriver::tick)) that returns [`Effect`]s for the runtime to carry out: send
//! bytes, arm a timer, build, check or commit a block, ask block sync to look. A node runs it
//! on tokio ([`super::runtime`]); the seeded simulation ([`super::sim_driver`]) runs the very
//! same code on simulated time and a simulated network.
//!
//! - A proposer builds its block from the pool (the runtime waits up to the block interval for
//!   it to fill), executes it and proposes it; the others re-execute it before prevoting for
//!   it.
//! - Every proposal and vote is verified against the chain config's consensus nodes before
//!   the machine sees it; the machine journals every vote before it is signed.
//! - A decided block is committed with its 2f+1 precommits as the certificate; no new height
//!   starts until that commit is done.
//! - A height starts when this node has transactions to order or hears from a validator that
//!   works on it, so an idle chain makes no empty blocks.
//! - When blocks arrive by sync (this node fell behind), the machine moves to the new height.

use std::{collections::HashMap, sync::Arc, time::Duration};

use covenant_crypto::{Hash, PrivateKey, PublicKey, Suite};
use covenant_types::{
    block::DecodedBlock,
    pb::{ConsensusMessage, TbftProposal, TbftVote, consensus_message::Body},
};
use prost::Message as _;
use tracing::{debug, error, info, warn};

use super::{
    certificate,
    machine::{Action, Input, Journal, Machine, Signer, TimeoutKind, Timeouts, Validators, Value},
    message::{Message, ProposalBody, SignedProposal, SignedVote, VoteBody},
};
use crate::{
    node_key,
    port::{ChainPort, CommitMode, Committed, NodeKeys, PortError},
};

/// The largest proposed block decoded (the network's frame limit is lower still).
pub const MAX_BLOCK_BYTES: usize = 256 << 20;
/// Heights ahead of this node's next one whose messages are verified and kept (a node further
/// behind catches up by block sync).
const FUTURE_HEIGHTS: u64 = 2;
/// How often a working validator sends its current messages again (the network may lose
/// them) and reports its status.
const RESEND_EVERY_MS: u64 = 1_000;

/// A proposed block as the machine's value.
#[derive(Clone)]
pub struct BlockValue {
    pub block: Arc<DecodedBlock>,
    suite: Suite,
}

impl BlockValue {
    pub fn new(block: DecodedBlock, suite: Suite) -> Self {
        BlockValue {
            block: Arc::new(block),
            suite,
        }
    }
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
        Some(BlockValue::new(block, suite))
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

/// A timer the driver armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    pub height: u64,
    pub round: u32,
    pub kind: TimeoutKind,
}

/// What the driver asks its runtime to do.
#[derive(Debug)]
pub enum Effect<O> {
    /// Send an encoded `ConsensusMessage` to every peer of the chain.
    Broadcast(Vec<u8>),
    /// Call [`TbftDriver::on_timer`] with `timer` after `after`.
    Timer { after: Duration, timer: Timer },
    /// Build this node's proposal (waiting up to `fill_wait` for `max_txs` transactions), then
    /// call [`TbftDriver::on_built`].
    Build {
        height: u64,
        round: u32,
        fill_wait: Duration,
        max_txs: usize,
    },
    /// Check a proposed block, then call [`TbftDriver::on_checked`].
    Check { id: Hash, block: Arc<DecodedBlock> },
    /// Commit a decided block with its certificate (the runtime waits for it), then call
    /// [`TbftDriver::on_committed`].
    Commit {
        height: u64,
        round: u32,
        block: Box<DecodedBlock>,
        output: Option<O>,
    },
    /// A quorum decided a block this node lacks: ask block sync to look now.
    Sync,
}

/// The TBFT driver of one chain on one node.
pub struct TbftDriver<C: ChainPort, J: Journal> {
    chain: C,
    node: NodeKeys,
    suite: Suite,
    machine: Machine<BlockValue, J, NodeSigner>,
    timeouts: Timeouts,
    /// The height the machine works on, if it started one that is not decided yet.
    working: Option<u64>,
    /// A decided block is being committed: nothing new starts until it is done.
    committing: bool,
    /// This node's executions of proposed blocks, by block hash (for the commit).
    outputs: HashMap<Hash, C::Output>,
    /// Validators' keys under the current config.
    keys: HashMap<Hash, PublicKey>,
    /// Validators' readable names (`org/node`) under the current config, for log lines.
    names: HashMap<Hash, String>,
    validators: Validators,
    keys_version: Option<u64>,
    last_resend_ms: Option<u64>,
    /// Peers the runtime reports, for the status.
    peers: Vec<String>,
    /// Proposed blocks being checked, with their proposers (to name one whose block fails)
    /// and heights.
    checking: HashMap<Hash, (Hash, u64)>,
}

impl<C: ChainPort, J: Journal> TbftDriver<C, J> {
    /// A driver for `chain`, signing as `node`, journaling to `journal`.
    pub fn new(chain: C, node: NodeKeys, journal: J, timeouts: Timeouts) -> Self {
        let signer = NodeSigner {
            id: node.id,
            key: node.key.clone(),
        };
        let machine = Machine::new(chain.chain_id(), signer, journal, timeouts);
        TbftDriver {
            suite: chain.suite(),
            chain,
            node,
            machine,
            timeouts,
            working: None,
            committing: false,
            outputs: HashMap::new(),
            keys: HashMap::new(),
            names: HashMap::new(),
            validators: Validators::new(Vec::new()),
            keys_version: None,
            last_resend_ms: None,
            peers: Vec::new(),
            checking: HashMap::new(),
        }
    }

    /// The journal back (the simulation keeps it across a crash, as a disk would).
    pub fn into_journal(self) -> J {
        self.machine.into_journal()
    }

    /// `(height, round)` the machine works on, if any.
    pub fn position(&self) -> Option<(u64, u32)> {
        self.working.map(|h| (h, self.machine.round()))
    }

    /// Tell the driver which peers the network has (reported in the status).
    pub fn set_peers(&mut self, peers: Vec<String>) {
        self.peers = peers;
    }

    /// Whether this node votes on the chain under its current config.
    pub fn is_validator(&self) -> bool {
        self.chain.config().consensus.as_ref().is_some_and(|c| {
            c.nodes
                .iter()
                .any(|n| n.certificate == *self.node.certificate)
        })
    }

    /// Called often (every few tens of milliseconds) with the runtime's clock: starts a height
    /// when there is a reason to, and now and then sends this node's messages again and
    /// reports its status.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Effect<C::Output>> {
        let mut out = Vec::new();
        if self.committing {
            return out;
        }
        self.maybe_start(&mut out);
        if self
            .last_resend_ms
            .is_none_or(|t| now_ms >= t + RESEND_EVERY_MS)
        {
            self.last_resend_ms = Some(now_ms);
            self.report();
            if self.working.is_some() {
                for m in self.machine.own_messages() {
                    out.push(Effect::Broadcast(self.encode(&m)));
                }
            }
        }
        out
    }

    /// A consensus message from a peer (undecodable or unverifiable ones are dropped).
    pub fn on_message(&mut self, payload: &[u8]) -> Vec<Effect<C::Output>> {
        let mut out = Vec::new();
        let Ok(msg) = ConsensusMessage::decode(payload) else {
            debug!(
                chain = self.chain.chain_id(),
                "undecodable consensus message"
            );
            return out;
        };
        let next = self.chain.next_height();
        let message = match msg.body {
            Some(Body::Vote(v)) => self.verify_vote(v, next).map(Message::Vote),
            Some(Body::Proposal(p)) => self.verify_proposal(p, next).map(Message::Proposal),
            None => None,
        };
        if let Some(message) = message {
            let actions = self.machine.handle(Input::Message(message));
            self.apply(actions, &mut out);
        }
        out
    }

    /// A timer fired.
    pub fn on_timer(&mut self, t: Timer) -> Vec<Effect<C::Output>> {
        let mut out = Vec::new();
        let actions = self.machine.handle(Input::Timeout {
            height: t.height,
            round: t.round,
            kind: t.kind,
        });
        self.apply(actions, &mut out);
        out
    }

    /// This node's proposal was built (or could not be).
    pub fn on_built(
        &mut self,
        height: u64,
        round: u32,
        result: Result<Option<(DecodedBlock, C::Output)>, PortError>,
    ) -> Vec<Effect<C::Output>> {
        let mut out = Vec::new();
        match result {
            Ok(Some((block, output))) if block.height() == height => {
                #[cfg(feature = "misbehave")]
                let block = crate::misbehave::Misbehave::global()
                    .proposed_block(block, &self.node, self.suite);
                let value = BlockValue::new(block, self.suite);
                self.outputs.insert(value.id(), output);
                let actions = self.machine.handle(Input::Built {
                    height,
                    round,
                    value,
                });
                self.apply(actions, &mut out);
            }
            Ok(_) => {}
            Err(PortError::Halted(reason)) => {
                error!(chain = self.chain.chain_id(), %reason, "the chain halted");
            }
            Err(e) => {
                warn!(chain = self.chain.chain_id(), height, error = %e, "cannot build a block");
            }
        }
        out
    }

    /// A proposed block was checked.
    pub fn on_checked(
        &mut self,
        id: Hash,
        result: Result<C::Output, PortError>,
    ) -> Vec<Effect<C::Output>> {
        let mut out = Vec::new();
        let proposer = self.checking.remove(&id);
        let valid = match result {
            Ok(output) => {
                self.outputs.insert(id, output);
                true
            }
            Err(e) if proposer.is_some_and(|(_, h)| h < self.chain.next_height()) => {
                // This node committed the height meanwhile (by sync): the check failed against
                // a ledger that had moved on, which judges nothing of the block.
                debug!(chain = self.chain.chain_id(), block = %id, error = %e, "a proposed block was checked after its height was committed");
                false
            }
            Err(e) => {
                warn!(chain = self.chain.chain_id(), block = %id, error = %e, "a proposed block is invalid");
                // A block the proposer signed that fails the checks is its doing (a storage
                // fault of this node judges nothing).
                if let (Some((node, height)), PortError::Rejected(_)) = (proposer, &e) {
                    let round = self.machine.round();
                    self.report_misbehaviour(
                        height,
                        round,
                        node,
                        "invalid block",
                        "a validator proposed a block that fails the checks",
                    );
                }
                false
            }
        };
        let actions = self.machine.handle(Input::Checked { id, valid });
        self.apply(actions, &mut out);
        out
    }

    /// The decided block of `height` was committed (or not).
    pub fn on_committed(
        &mut self,
        height: u64,
        round: u32,
        result: Result<Option<Committed>, PortError>,
    ) -> Vec<Effect<C::Output>> {
        let mut out = Vec::new();
        self.committing = false;
        match result {
            Ok(Some(c)) => info!(
                chain = self.chain.chain_id(),
                height,
                round,
                txs = c.txs,
                hash = %c.hash,
                "block committed"
            ),
            Ok(None) => debug!(
                chain = self.chain.chain_id(),
                height, "block already committed by sync"
            ),
            Err(PortError::Halted(reason)) => {
                error!(chain = self.chain.chain_id(), height, %reason, "the chain halted");
                return out;
            }
            Err(e) => {
                error!(chain = self.chain.chain_id(), height, error = %e, "cannot commit a decided block; syncing it instead");
                out.push(Effect::Sync);
            }
        }
        self.maybe_start(&mut out);
        out
    }

    fn report(&self) {
        let validators = self
            .chain
            .config()
            .consensus
            .as_ref()
            .map_or(0, |c| c.nodes.len());
        self.chain.set_engine_status(serde_json::json!({
            "kind": "tbft",
            "node": self.node.id.to_hex(),
            "validator": self.is_validator(),
            "working_height": self.working,
            "round": self.working.map(|_| self.machine.round()),
            "validators": validators,
            "quorum": certificate::quorum(validators),
            "peers": self.peers,
        }));
    }

    /// The validators and their keys under the current config (worked out again only when the
    /// config changes: this runs for every message).
    fn refresh_keys(&mut self) -> Validators {
        let config = self.chain.config();
        if self.keys_version != Some(config.version) {
            let nodes = config
                .consensus
                .as_ref()
                .map(|c| c.nodes.as_slice())
                .unwrap_or_default();
            self.keys.clear();
            self.names.clear();
            let mut ids = Vec::with_capacity(nodes.len());
            for n in nodes {
                let id = self.suite.hash(&n.certificate);
                ids.push(id);
                self.names.insert(id, format!("{}/{}", n.org_id, n.node_id));
                match node_key(&n.certificate) {
                    Ok(k) => {
                        self.keys.insert(id, k);
                    }
                    Err(e) => {
                        warn!(node = %n.node_id, error = %e, "unusable consensus node certificate")
                    }
                }
            }
            self.validators = Validators::new(ids);
            self.keys_version = Some(config.version);
        }
        self.validators.clone()
    }

    /// Start the next height if this node votes on it and there is a reason to.
    fn maybe_start(&mut self, out: &mut Vec<Effect<C::Output>>) {
        if self.committing {
            return;
        }
        let next = self.chain.next_height();
        if let Some(h) = self.working {
            if h >= next {
                return;
            }
            // Blocks arrived by sync: the height in progress is over.
            debug!(
                chain = self.chain.chain_id(),
                height = h,
                "height committed elsewhere"
            );
            self.working = None;
        }
        let validators = self.refresh_keys();
        if !validators.contains(&self.node.id) {
            return;
        }
        let reason = self.chain.pending() > 0 || self.machine.has_future(next);
        if !reason {
            return;
        }
        self.outputs.clear();
        self.checking.clear();
        self.working = Some(next);
        debug!(
            chain = self.chain.chain_id(),
            height = next,
            validators = validators.len(),
            "starting height"
        );
        let actions = self.machine.start_height(next, validators);
        self.apply(actions, out);
    }

    fn signer_key(&mut self, id: &[u8]) -> Option<(Hash, PublicKey)> {
        self.refresh_keys();
        let id = Hash::from_slice(id).ok()?;
        self.keys.get(&id).map(|k| (id, k.clone()))
    }

    fn verify_vote(&mut self, v: TbftVote, next: u64) -> Option<SignedVote> {
        let body = VoteBody::decode(&v.body)?;
        if body.chain_id != self.chain.chain_id()
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
        if body.chain_id != self.chain.chain_id()
            || body.height < next
            || body.height > next + FUTURE_HEIGHTS
        {
            return None;
        }
        let (proposer, key) = self.signer_key(&p.proposer)?;
        key.verify(&p.body, &p.signature).ok()?;
        let block = DecodedBlock::decode(self.suite, &p.block, MAX_BLOCK_BYTES).ok()?;
        // A fresh value is the proposer's own block; a value re-proposed from an earlier
        // round (it has a POL round) may be one another validator built and signed — the
        // check of the block verifies that validator's signature.
        if block.hash != body.value
            || block.height() != body.height
            || (body.pol_round.is_none() && block.header.proposer != proposer.as_bytes().as_slice())
        {
            self.report_misbehaviour(
                body.height,
                body.round,
                proposer,
                "mismatched proposal",
                "a validator signed a proposal whose block does not match it",
            );
            return None;
        }
        Some(SignedProposal {
            body: p.body,
            proposal: body,
            value: BlockValue::new(block, self.suite),
            proposer,
            signature: p.signature,
        })
    }

    /// Name a validator that broke the protocol: a warning and
    /// `covenant_tbft_misbehaviour_total{chain,node,kind}`.
    fn report_misbehaviour(
        &self,
        height: u64,
        round: u32,
        node: Hash,
        kind: &'static str,
        what: &str,
    ) {
        warn!(
            chain = self.chain.chain_id(),
            height,
            round,
            node = %node.to_hex(),
            name = self.names.get(&node).map_or("unknown", String::as_str),
            kind,
            "{what}"
        );
        metrics::counter!(
            "covenant_tbft_misbehaviour_total",
            "chain" => self.chain.chain_id().to_string(),
            "node" => node.to_hex(),
            "kind" => kind,
        )
        .increment(1);
    }

    /// A consensus message as the wire carries it.
    pub fn encode(&self, m: &Message<BlockValue>) -> Vec<u8> {
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
        ConsensusMessage { body: Some(body) }.encode_to_vec()
    }

    fn apply(&mut self, actions: Vec<Action<BlockValue>>, out: &mut Vec<Effect<C::Output>>) {
        let mut queue = std::collections::VecDeque::from(actions);
        while let Some(a) = queue.pop_front() {
            match a {
                Action::Broadcast(m) => {
                    // A height this node already committed (by sync, while a timer or a
                    // message for it was on its way) is over: nothing about it goes out, so
                    // peers never hear of a height below the one this node last reported.
                    if m.height() < self.chain.next_height() {
                        continue;
                    }
                    #[cfg(feature = "misbehave")]
                    if let Some(other) = crate::misbehave::Misbehave::global()
                        .conflicting(&m, &self.node, self.suite)
                    {
                        out.push(Effect::Broadcast(other));
                    }
                    out.push(Effect::Broadcast(self.encode(&m)))
                }
                Action::Schedule {
                    height,
                    round,
                    kind,
                    after,
                } => out.push(Effect::Timer {
                    after,
                    timer: Timer {
                        height,
                        round,
                        kind,
                    },
                }),
                Action::Build { height, round } => {
                    // Give the block up to one interval (at most half the propose timeout)
                    // to fill.
                    let pace = self.chain.pace();
                    out.push(Effect::Build {
                        height,
                        round,
                        fill_wait: pace.interval.min(self.timeouts.propose / 2),
                        max_txs: pace.max_txs,
                    });
                }
                Action::Check {
                    height,
                    round,
                    value,
                } => {
                    let id = value.id();
                    if self.outputs.contains_key(&id) {
                        queue.extend(self.machine.handle(Input::Checked { id, valid: true }));
                        continue;
                    }
                    // Whoever proposed it in that round answers for it: its builder when it
                    // proposed its own block, the proposer that re-proposed it otherwise (an
                    // honest one re-proposes only a block a quorum found valid).
                    self.checking.insert(
                        id,
                        (self.machine.validators().proposer(height, round), height),
                    );
                    out.push(Effect::Check {
                        id,
                        block: value.block.clone(),
                    });
                }
                Action::Misbehaviour {
                    height,
                    round,
                    node,
                    what,
                } => self.report_misbehaviour(
                    height,
                    round,
                    node,
                    if what == "vote" {
                        "equivocating vote"
                    } else {
                        "equivocating proposal"
                    },
                    "a validator signed two conflicting messages (equivocation)",
                ),
                Action::Fetch { height, .. } => {
                    debug!(
                        chain = self.chain.chain_id(),
                        height, "a quorum decided a block this node lacks; syncing"
                    );
                    out.push(Effect::Sync);
                }
                Action::Decide {
                    height,
                    round,
                    value,
                    precommits,
                } => {
                    self.working = None;
                    self.committing = true;
                    let mut block = (*value.block).clone();
                    block.block.certificate = Some(certificate::certificate(round, &precommits));
                    let output = self.outputs.remove(&value.id());
                    self.outputs.clear();
                    out.push(Effect::Commit {
                        height,
                        round,
                        block: Box::new(block),
                        output,
                    });
                }
            }
        }
    }
}

/// Carry out a [`Effect::Commit`] on the chain (the runtimes share this).
pub fn commit<C: ChainPort>(
    chain: &C,
    block: DecodedBlock,
    output: Option<C::Output>,
) -> Result<Option<Committed>, PortError> {
    chain.commit(block, output, CommitMode::Decided)
}
