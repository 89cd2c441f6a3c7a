//! The Tendermint state machine (arXiv 1807.04938, Algorithm 1) for one chain.
//!
//! Pure and deterministic: [`Machine::handle`] takes an [`Input`] (an authenticated message, a
//! timeout, a built or checked value) and returns [`Action`]s (broadcast, schedule a timeout,
//! build or check a value, decide). The driver owns the network, the clock and block execution.
//!
//! Rules, with the paper's line numbers:
//! - L11 `start_round`: the round's proposer proposes its valid value or a new one; others wait
//!   for the proposal with a timeout that grows with the round.
//! - L22/L28: on the round's proposal, prevote it if valid and not conflicting with a lock (or
//!   re-proposed with a polka from a round at least as recent as the lock); else prevote nil.
//! - L34/L47: a quorum of prevotes (precommits) of any kind starts the prevote (precommit) timeout.
//! - L36: a polka (quorum of prevotes) for the valid proposal locks it and precommits it.
//! - L44: a polka for nil precommits nil.
//! - L49: a quorum of precommits for a valid proposal decides it, with those precommits as the
//!   commit certificate.
//! - L55: f+1 validators in a later round move this one there.
//!
//! Safety across restarts: every vote and proposal is written to the [`Journal`] (synced)
//! before it is signed; after a restart the journal's votes are reused, so a validator never
//! signs two different votes for one height, round and kind. Locks are journaled too.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fmt::Debug,
    time::Duration,
};

use covenant_crypto::Hash;

use super::message::{
    Message, NodeId, ProposalBody, SignedProposal, SignedVote, VoteBody, VoteKind,
};

/// A value the validators agree on (a block).
pub trait Value: Clone + Debug {
    /// The value's id (the block hash).
    fn id(&self) -> Hash;
    fn to_bytes(&self) -> Vec<u8>;
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
}

/// Signs as this validator.
pub trait Signer {
    fn id(&self) -> NodeId;
    fn sign(&self, body: &[u8]) -> Vec<u8>;
}

/// A journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Voted {
        height: u64,
        round: u32,
        kind: VoteKind,
        value: Option<Hash>,
    },
    Proposed {
        height: u64,
        round: u32,
        pol_round: Option<u32>,
        value: Vec<u8>,
    },
    Locked {
        height: u64,
        round: u32,
        value: Vec<u8>,
    },
    Valid {
        height: u64,
        round: u32,
        value: Vec<u8>,
    },
}

impl Entry {
    pub fn height(&self) -> u64 {
        match self {
            Entry::Voted { height, .. }
            | Entry::Proposed { height, .. }
            | Entry::Locked { height, .. }
            | Entry::Valid { height, .. } => *height,
        }
    }
}

/// Durable record of what this validator signed (the write-ahead log).
pub trait Journal {
    /// Entries recorded for `height`, in order.
    fn entries(&self, height: u64) -> Vec<Entry>;
    /// Record an entry durably before acting on it.
    fn append(&mut self, entry: Entry) -> std::io::Result<()>;
    /// Forget heights below `height`.
    fn prune_below(&mut self, height: u64);
}

/// The validator set of a height: equal weights, fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    members: Vec<NodeId>,
}

impl Validators {
    pub fn new(members: Vec<NodeId>) -> Self {
        Validators { members }
    }

    pub fn members(&self) -> &[NodeId] {
        &self.members
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn contains(&self, id: &NodeId) -> bool {
        self.members.contains(id)
    }

    /// Votes needed for a quorum: more than two thirds.
    pub fn quorum(&self) -> usize {
        self.members.len() * 2 / 3 + 1
    }

    /// Validators that surely include an honest one (f + 1).
    pub fn one_honest(&self) -> usize {
        self.members.len() - self.quorum() + 1
    }

    /// Proposer of `(height, round)`: round robin.
    pub fn proposer(&self, height: u64, round: u32) -> NodeId {
        let n = self.members.len().max(1) as u64;
        self.members[((height + round as u64) % n) as usize]
    }
}

/// Which timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimeoutKind {
    Propose,
    Prevote,
    Precommit,
}

/// Timeouts: a base plus an increase per round.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub propose: Duration,
    pub prevote: Duration,
    pub precommit: Duration,
    pub per_round: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            propose: Duration::from_millis(3000),
            prevote: Duration::from_millis(1000),
            precommit: Duration::from_millis(1000),
            per_round: Duration::from_millis(500),
        }
    }
}

impl Timeouts {
    pub fn of(&self, kind: TimeoutKind, round: u32) -> Duration {
        let base = match kind {
            TimeoutKind::Propose => self.propose,
            TimeoutKind::Prevote => self.prevote,
            TimeoutKind::Precommit => self.precommit,
        };
        base + self.per_round * round.min(100)
    }
}

/// What the machine is told.
#[derive(Debug, Clone)]
pub enum Input<V> {
    /// A message whose signature and sender the driver checked.
    Message(Message<V>),
    Timeout {
        height: u64,
        round: u32,
        kind: TimeoutKind,
    },
    /// The value this validator built for its proposal.
    Built { height: u64, round: u32, value: V },
    /// The outcome of checking a proposed value.
    Checked { id: Hash, valid: bool },
    /// A value decided by a quorum, learned with its certificate (catch-up); the driver checked
    /// the certificate and the value.
    Committed {
        height: u64,
        round: u32,
        value: V,
        precommits: Vec<SignedVote>,
    },
}

/// What the machine asks for.
#[derive(Debug, Clone)]
pub enum Action<V> {
    Broadcast(Message<V>),
    Schedule {
        height: u64,
        round: u32,
        kind: TimeoutKind,
        after: Duration,
    },
    /// Build a value to propose; answer with [`Input::Built`].
    Build {
        height: u64,
        round: u32,
    },
    /// Check a proposed value; answer with [`Input::Checked`].
    Check {
        height: u64,
        round: u32,
        value: V,
    },
    /// A quorum precommitted a value we do not have: fetch it (or its block) from peers.
    Fetch {
        height: u64,
        round: u32,
        id: Hash,
    },
    /// `value` is decided at `height`; `precommits` form its commit certificate. The driver
    /// commits it and calls [`Machine::start_height`] for the next height.
    Decide {
        height: u64,
        round: u32,
        value: V,
        precommits: Vec<SignedVote>,
    },
    /// `node` signed two conflicting messages (`what`: `vote` or `proposal`) for one height,
    /// round and kind: proof that it is faulty. Reported once per conflicting message.
    Misbehaviour {
        height: u64,
        round: u32,
        node: NodeId,
        what: &'static str,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Propose,
    Prevote,
    Precommit,
}

/// Votes kept per voter, round and kind (only an equivocator has more than one).
const MAX_VOTES_PER_VOTER: usize = 64;
/// Votes kept per voter and height, whatever the rounds: a Byzantine validator signing votes
/// for countless rounds cannot grow this node's memory without bound.
const MAX_VOTES_PER_VOTER_HEIGHT: usize = 4096;
/// How far ahead of the current height messages are kept for later.
const FUTURE_HEIGHTS: u64 = 2;
/// Proposals (they carry blocks) kept for later heights.
const FUTURE_PROPOSALS: usize = 64;
/// How far ahead of the current round a proposal is kept (its proposer sends it again).
const PROPOSAL_ROUNDS_AHEAD: u32 = 2;

/// Messages for later heights kept until this node gets there.
const FUTURE_LIMIT: usize = 10_000;

/// The state machine of one validator for one chain.
pub struct Machine<V: Value, J: Journal, S: Signer> {
    chain_id: String,
    signer: S,
    journal: J,
    timeouts: Timeouts,
    validators: Validators,
    height: u64,
    round: u32,
    step: Step,
    locked: Option<(u32, V)>,
    valid: Option<(u32, V)>,
    proposals: BTreeMap<u32, SignedProposal<V>>,
    values: HashMap<Hash, V>,
    validity: HashMap<Hash, bool>,
    check_requested: BTreeSet<Hash>,
    /// Votes by round, kind and voter. A voter that equivocates may have two (kept, both
    /// signed by it: counting each toward its own value is as safe as if it had sent each to a
    /// different peer, and lets honest nodes that saw different halves agree on a polka).
    votes: BTreeMap<(u32, VoteKind), BTreeMap<NodeId, Vec<SignedVote>>>,
    round_senders: BTreeMap<u32, BTreeSet<NodeId>>,
    /// Rounds with messages from at least f+1 validators (kept as they arrive, so a flood of
    /// rounds costs nothing per message).
    skip_rounds: BTreeSet<u32>,
    /// Distinct voters precommitting each (round, value), and the pairs that reached a quorum.
    precommit_tally: HashMap<(u32, Hash), usize>,
    decidable: BTreeSet<(u32, Hash)>,
    prevote_timeout: BTreeSet<u32>,
    precommit_timeout: BTreeSet<u32>,
    locked_in_round: BTreeSet<u32>,
    fetch_requested: BTreeSet<(u32, Hash)>,
    prior_votes: HashMap<(u32, VoteKind), Option<Hash>>,
    /// Votes stored per voter at this height.
    stored: HashMap<NodeId, usize>,
    prior_proposals: HashMap<u32, (Option<u32>, V)>,
    decided: bool,
    started: bool,
    future: Vec<Message<V>>,
    out: Vec<Action<V>>,
    /// Messages of other validators that conflict with their earlier ones (equivocation).
    pub equivocations: u64,
}

impl<V: Value, J: Journal, S: Signer> Machine<V, J, S> {
    pub fn new(chain_id: &str, signer: S, journal: J, timeouts: Timeouts) -> Self {
        Machine {
            chain_id: chain_id.to_string(),
            signer,
            journal,
            timeouts,
            validators: Validators::new(vec![]),
            height: 0,
            round: 0,
            step: Step::Propose,
            locked: None,
            valid: None,
            proposals: BTreeMap::new(),
            values: HashMap::new(),
            validity: HashMap::new(),
            check_requested: BTreeSet::new(),
            votes: BTreeMap::new(),
            round_senders: BTreeMap::new(),
            skip_rounds: BTreeSet::new(),
            precommit_tally: HashMap::new(),
            decidable: BTreeSet::new(),
            prevote_timeout: BTreeSet::new(),
            precommit_timeout: BTreeSet::new(),
            locked_in_round: BTreeSet::new(),
            fetch_requested: BTreeSet::new(),
            prior_votes: HashMap::new(),
            stored: HashMap::new(),
            prior_proposals: HashMap::new(),
            decided: false,
            started: false,
            future: Vec::new(),
            out: Vec::new(),
            equivocations: 0,
        }
    }

    pub fn height(&self) -> u64 {
        self.height
    }

    pub fn round(&self) -> u32 {
        self.round
    }

    pub fn id(&self) -> NodeId {
        self.signer.id()
    }

    pub fn validators(&self) -> &Validators {
        &self.validators
    }

    pub fn decided(&self) -> bool {
        self.decided
    }

    /// Whether messages for `height` wait (received before this machine got there).
    pub fn has_future(&self, height: u64) -> bool {
        self.future.iter().any(|m| m.height() == height)
    }

    /// Votes stored for the current height, and messages kept for later heights (diagnostics).
    pub fn stored(&self) -> (usize, usize) {
        (
            self.votes
                .values()
                .flat_map(|m| m.values())
                .map(Vec::len)
                .sum(),
            self.future.len(),
        )
    }

    /// Whether the machine has started a height (or still waits for its first).
    pub fn started(&self) -> bool {
        self.started
    }

    /// A one-line description of the machine's state (diagnostics).
    pub fn describe(&self) -> String {
        let short = |h: &Hash| h.to_string().chars().take(8).collect::<String>();
        let votes: Vec<String> = self
            .votes
            .iter()
            .filter(|((r, _), _)| *r + 2 >= self.round)
            .map(|((r, k), m)| {
                let vs: Vec<String> = m
                    .values()
                    .flatten()
                    .map(|v| v.vote.value.as_ref().map_or("nil".to_string(), short))
                    .collect();
                format!("r{r}/{k:?}=[{}]", vs.join(","))
            })
            .collect();
        format!(
            "h{} r{} {:?} locked={:?} valid={:?} proposal={:?} {}",
            self.height,
            self.round,
            self.step,
            self.locked.as_ref().map(|(r, v)| (r, short(&v.id()))),
            self.valid.as_ref().map(|(r, v)| (r, short(&v.id()))),
            self.proposals
                .get(&self.round)
                .map(|p| (p.proposal.pol_round, short(&p.proposal.value))),
            votes.join(" ")
        )
    }

    /// The journal back (a simulated crash keeps it, as a disk would).
    pub fn into_journal(self) -> J {
        self.journal
    }

    /// This validator's own signed messages of the current round and its votes of the round
    /// before (to send again), with the prevotes that justify a re-proposed value.
    pub fn own_messages(&self) -> Vec<Message<V>> {
        let me = self.signer.id();
        let mut out = Vec::new();
        if let Some(p) = self.proposals.get(&self.round)
            && p.proposer == me
        {
            out.push(Message::Proposal(p.clone()));
            if let Some(vr) = p.proposal.pol_round {
                out.extend(
                    self.quorum_votes(vr, VoteKind::Prevote, p.proposal.value)
                        .into_iter()
                        .map(Message::Vote),
                );
            }
        }
        // The round before too: peers still in it may lack this validator's votes there (a
        // lost message) to move on — and it moved on only because a quorum, its own vote
        // among them, was there to see.
        let rounds: BTreeSet<u32> = [self.round.saturating_sub(1), self.round].into();
        for round in rounds {
            for kind in [VoteKind::Prevote, VoteKind::Precommit] {
                if let Some(v) = self
                    .votes
                    .get(&(round, kind))
                    .and_then(|m| m.get(&me))
                    .and_then(|vs| vs.first())
                {
                    out.push(Message::Vote(v.clone()));
                }
            }
        }
        out
    }

    /// Begin `height` with `validators`, restoring what the journal holds for it.
    pub fn start_height(&mut self, height: u64, validators: Validators) -> Vec<Action<V>> {
        self.height = height;
        self.validators = validators;
        self.round = 0;
        self.step = Step::Propose;
        self.locked = None;
        self.valid = None;
        self.proposals.clear();
        self.values.clear();
        self.validity.clear();
        self.check_requested.clear();
        self.votes.clear();
        self.round_senders.clear();
        self.skip_rounds.clear();
        self.precommit_tally.clear();
        self.decidable.clear();
        self.prevote_timeout.clear();
        self.precommit_timeout.clear();
        self.locked_in_round.clear();
        self.fetch_requested.clear();
        self.prior_votes.clear();
        self.stored.clear();
        self.prior_proposals.clear();
        self.decided = false;
        self.started = true;
        self.journal.prune_below(height);
        let mut start_round = 0;
        for e in self.journal.entries(height) {
            match e {
                Entry::Voted {
                    round, kind, value, ..
                } => {
                    self.prior_votes.insert((round, kind), value);
                    start_round = start_round.max(round);
                }
                Entry::Proposed {
                    round,
                    pol_round,
                    value,
                    ..
                } => {
                    if let Some(v) = V::from_bytes(&value) {
                        self.prior_proposals.insert(round, (pol_round, v));
                    }
                    start_round = start_round.max(round);
                }
                Entry::Locked { round, value, .. } => {
                    if let Some(v) = V::from_bytes(&value) {
                        self.locked = Some((round, v));
                    }
                }
                Entry::Valid { round, value, .. } => {
                    if let Some(v) = V::from_bytes(&value) {
                        self.valid = Some((round, v));
                    }
                }
            }
        }
        self.start_round(start_round);
        let future = std::mem::take(&mut self.future);
        for m in future {
            if m.height() == height {
                self.on_message(m);
            } else if m.height() > height {
                self.future.push(m);
            }
        }
        self.evaluate();
        std::mem::take(&mut self.out)
    }

    /// Feed one input.
    pub fn handle(&mut self, input: Input<V>) -> Vec<Action<V>> {
        if !self.started {
            if let Input::Message(m) = input {
                self.keep_for_later(m);
            }
            return Vec::new();
        }
        match input {
            Input::Message(m) => self.on_message(m),
            Input::Timeout {
                height,
                round,
                kind,
            } => self.on_timeout(height, round, kind),
            Input::Built {
                height,
                round,
                value,
            } => {
                if height == self.height
                    && round == self.round
                    && self.step == Step::Propose
                    && !self.decided
                    && self.validators.proposer(height, round) == self.signer.id()
                    && !self.proposals.contains_key(&round)
                {
                    self.propose(value, None);
                }
            }
            Input::Checked { id, valid } => {
                self.validity.insert(id, valid);
            }
            Input::Committed {
                height,
                round,
                value,
                precommits,
            } => {
                if height == self.height && !self.decided {
                    self.decided = true;
                    self.out.push(Action::Decide {
                        height,
                        round,
                        value,
                        precommits,
                    });
                }
            }
        }
        self.evaluate();
        std::mem::take(&mut self.out)
    }

    fn start_round(&mut self, round: u32) {
        self.round = round;
        self.step = Step::Propose;
        let me = self.signer.id();
        if self.validators.proposer(self.height, round) == me {
            if let Some((pol, v)) = self.prior_proposals.get(&round).cloned() {
                self.propose(v, pol);
            } else if let Some((vr, v)) = self.valid.clone() {
                self.propose(v, Some(vr));
            } else {
                self.out.push(Action::Build {
                    height: self.height,
                    round,
                });
            }
        } else {
            self.schedule(TimeoutKind::Propose, round);
        }
    }

    fn schedule(&mut self, kind: TimeoutKind, round: u32) {
        self.out.push(Action::Schedule {
            height: self.height,
            round,
            kind,
            after: self.timeouts.of(kind, round),
        });
    }

    fn propose(&mut self, value: V, pol_round: Option<u32>) {
        let round = self.round;
        let entry = Entry::Proposed {
            height: self.height,
            round,
            pol_round,
            value: value.to_bytes(),
        };
        if !self.prior_proposals.contains_key(&round) && self.journal.append(entry).is_err() {
            // Without a durable record we must not sign.
            return;
        }
        self.prior_proposals
            .insert(round, (pol_round, value.clone()));
        let body = ProposalBody {
            chain_id: self.chain_id.clone(),
            height: self.height,
            round,
            pol_round,
            value: value.id(),
        }
        .encode();
        let signature = self.signer.sign(&body);
        let value_id = value.id();
        let proposal = SignedProposal {
            proposal: ProposalBody {
                chain_id: self.chain_id.clone(),
                height: self.height,
                round,
                pol_round,
                value: value.id(),
            },
            body,
            value: value.clone(),
            proposer: self.signer.id(),
            signature,
        };
        self.validity.insert(value.id(), true);
        self.values.insert(value.id(), value);
        self.proposals.insert(round, proposal.clone());
        self.out
            .push(Action::Broadcast(Message::Proposal(proposal)));
        // A re-proposed value travels with the polka that justifies it: peers that missed
        // some of those prevotes could otherwise never accept it.
        if let Some(vr) = pol_round {
            for v in self.quorum_votes(vr, VoteKind::Prevote, value_id) {
                self.out.push(Action::Broadcast(Message::Vote(v)));
            }
        }
    }

    fn cast(&mut self, kind: VoteKind, value: Option<Hash>) {
        let round = self.round;
        let value = match self.prior_votes.get(&(round, kind)) {
            // Never sign a second, different vote for the same round and kind.
            Some(prior) => *prior,
            None => {
                let entry = Entry::Voted {
                    height: self.height,
                    round,
                    kind,
                    value,
                };
                if self.journal.append(entry).is_err() {
                    return;
                }
                self.prior_votes.insert((round, kind), value);
                value
            }
        };
        let body = VoteBody {
            chain_id: self.chain_id.clone(),
            height: self.height,
            round,
            kind,
            value,
        };
        let bytes = body.encode();
        let signature = self.signer.sign(&bytes);
        let vote = SignedVote {
            body: bytes,
            vote: body,
            voter: self.signer.id(),
            signature,
        };
        self.add_vote(vote.clone());
        self.out.push(Action::Broadcast(Message::Vote(vote)));
    }

    fn add_vote(&mut self, v: SignedVote) {
        let key = (v.vote.round, v.vote.kind);
        let mine = self
            .votes
            .entry(key)
            .or_default()
            .entry(v.voter)
            .or_default();
        if mine.iter().any(|p| p.vote.value == v.vote.value) {
            return;
        }
        if !mine.is_empty() {
            self.equivocations += 1;
            self.out.push(Action::Misbehaviour {
                height: self.height,
                round: v.vote.round,
                node: v.voter,
                what: "vote",
            });
        }
        // Two conflicting votes prove the equivocation. Beyond that only votes for nil or for a
        // value that was proposed can matter (a polka or commit needs a proposed value), and
        // those are bounded by the rounds; anything else is noise from a Byzantine voter.
        let relevant = v.vote.value.is_none_or(|h| self.values.contains_key(&h));
        let stored = self.stored.entry(v.voter).or_default();
        if *stored >= MAX_VOTES_PER_VOTER_HEIGHT {
            return;
        }
        if mine.len() < 2 || (relevant && mine.len() < MAX_VOTES_PER_VOTER) {
            *stored += 1;
            mine.push(v.clone());
            if v.vote.kind == VoteKind::Precommit
                && let Some(value) = v.vote.value
            {
                let tally = self
                    .precommit_tally
                    .entry((v.vote.round, value))
                    .or_default();
                *tally += 1;
                if *tally >= self.validators.quorum() {
                    self.decidable.insert((v.vote.round, value));
                }
            }
            self.note_sender(v.vote.round, v.voter);
        }
    }

    fn note_sender(&mut self, round: u32, sender: NodeId) {
        let senders = self.round_senders.entry(round).or_default();
        senders.insert(sender);
        if senders.len() >= self.validators.one_honest() {
            self.skip_rounds.insert(round);
        }
    }

    fn keep_for_later(&mut self, m: Message<V>) {
        let proposals = || {
            self.future
                .iter()
                .filter(|f| matches!(f, Message::Proposal(_)))
                .count()
        };
        if self.future.len() < FUTURE_LIMIT
            && (matches!(m, Message::Vote(_)) || proposals() < FUTURE_PROPOSALS)
        {
            self.future.push(m);
        }
    }

    fn on_message(&mut self, m: Message<V>) {
        if m.height() > self.height {
            if m.height() <= self.height + FUTURE_HEIGHTS {
                self.keep_for_later(m);
            }
            return;
        }
        if m.height() < self.height || !self.validators.contains(&m.sender()) {
            return;
        }
        match m {
            Message::Vote(v) => {
                if v.vote.chain_id == self.chain_id {
                    self.add_vote(v);
                }
            }
            Message::Proposal(p) => {
                let round = p.proposal.round;
                if round > self.round.saturating_add(PROPOSAL_ROUNDS_AHEAD)
                    || p.proposal.chain_id != self.chain_id
                    || p.proposer != self.validators.proposer(self.height, round)
                    || p.value.id() != p.proposal.value
                    || p.proposal.pol_round.is_some_and(|vr| vr >= round)
                {
                    return;
                }
                if let Some(existing) = self.proposals.get(&round) {
                    if existing.proposal.value != p.proposal.value {
                        self.equivocations += 1;
                        self.out.push(Action::Misbehaviour {
                            height: self.height,
                            round,
                            node: p.proposer,
                            what: "proposal",
                        });
                    }
                    return;
                }
                let id = p.value.id();
                self.note_sender(round, p.proposer);
                self.values.insert(id, p.value.clone());
                if !self.validity.contains_key(&id) && self.check_requested.insert(id) {
                    self.out.push(Action::Check {
                        height: self.height,
                        round,
                        value: p.value.clone(),
                    });
                }
                self.proposals.insert(round, p);
            }
        }
    }

    fn on_timeout(&mut self, height: u64, round: u32, kind: TimeoutKind) {
        if height != self.height || self.decided {
            return;
        }
        // Send this round's own messages again: lost messages must not stall the chain.
        for m in self.own_messages() {
            self.out.push(Action::Broadcast(m));
        }
        match kind {
            TimeoutKind::Propose if round == self.round && self.step == Step::Propose => {
                self.cast(VoteKind::Prevote, None);
                self.step = Step::Prevote;
            }
            TimeoutKind::Prevote if round == self.round && self.step == Step::Prevote => {
                self.cast(VoteKind::Precommit, None);
                self.step = Step::Precommit;
            }
            TimeoutKind::Precommit if round == self.round => {
                self.start_round(round + 1);
            }
            _ => {}
        }
    }

    fn count(&self, round: u32, kind: VoteKind, value: Option<Hash>) -> usize {
        self.votes.get(&(round, kind)).map_or(0, |m| {
            m.values()
                .filter(|vs| vs.iter().any(|v| v.vote.value == value))
                .count()
        })
    }

    fn total(&self, round: u32, kind: VoteKind) -> usize {
        self.votes.get(&(round, kind)).map_or(0, BTreeMap::len)
    }

    fn quorum_votes(&self, round: u32, kind: VoteKind, value: Hash) -> Vec<SignedVote> {
        self.votes
            .get(&(round, kind))
            .map(|m| {
                m.values()
                    .filter_map(|vs| vs.iter().find(|v| v.vote.value == Some(value)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Apply every rule that holds, until none does.
    fn evaluate(&mut self) {
        let q = self.validators.quorum();
        loop {
            if self.decided || self.validators.is_empty() {
                return;
            }
            let r = self.round;
            let mut changed = false;

            // L22 / L28: the round's proposal, while in the propose step.
            if self.step == Step::Propose
                && let Some(p) = self.proposals.get(&r).cloned()
            {
                let id = p.value.id();
                if let Some(&valid) = self.validity.get(&id) {
                    match p.proposal.pol_round {
                        None => {
                            let ok =
                                valid && self.locked.as_ref().is_none_or(|(_, lv)| lv.id() == id);
                            self.cast(VoteKind::Prevote, ok.then_some(id));
                            self.step = Step::Prevote;
                            changed = true;
                        }
                        Some(vr) if self.count(vr, VoteKind::Prevote, Some(id)) >= q => {
                            let ok = valid
                                && self
                                    .locked
                                    .as_ref()
                                    .is_none_or(|(lr, lv)| *lr <= vr || lv.id() == id);
                            self.cast(VoteKind::Prevote, ok.then_some(id));
                            self.step = Step::Prevote;
                            changed = true;
                        }
                        Some(_) => {}
                    }
                }
            }

            // L34: any quorum of prevotes starts the prevote timeout.
            if self.step == Step::Prevote
                && self.total(r, VoteKind::Prevote) >= q
                && self.prevote_timeout.insert(r)
            {
                self.schedule(TimeoutKind::Prevote, r);
            }

            // L36: a polka for the valid proposal locks it.
            if self.step >= Step::Prevote
                && !self.locked_in_round.contains(&r)
                && let Some(p) = self.proposals.get(&r).cloned()
            {
                let id = p.value.id();
                if self.validity.get(&id) == Some(&true)
                    && self.count(r, VoteKind::Prevote, Some(id)) >= q
                {
                    self.locked_in_round.insert(r);
                    if self.step == Step::Prevote {
                        let lock = Entry::Locked {
                            height: self.height,
                            round: r,
                            value: p.value.to_bytes(),
                        };
                        // A lock that is not durable must not be acted on: without it a
                        // restarted validator could prevote against its own precommit.
                        if self.journal.append(lock).is_err() {
                            return;
                        }
                        self.locked = Some((r, p.value.clone()));
                        self.cast(VoteKind::Precommit, Some(id));
                        self.step = Step::Precommit;
                    }
                    let valid = Entry::Valid {
                        height: self.height,
                        round: r,
                        value: p.value.to_bytes(),
                    };
                    if self.journal.append(valid).is_ok() {
                        self.valid = Some((r, p.value.clone()));
                    }
                    changed = true;
                }
            }

            // L44: a polka for nil.
            if self.step == Step::Prevote && self.count(r, VoteKind::Prevote, None) >= q {
                self.cast(VoteKind::Precommit, None);
                self.step = Step::Precommit;
                changed = true;
            }

            // L47: any quorum of precommits starts the precommit timeout.
            if self.total(r, VoteKind::Precommit) >= q && self.precommit_timeout.insert(r) {
                self.schedule(TimeoutKind::Precommit, r);
            }

            // L49: a quorum of precommits for a value decides it, in any round.
            let decidable: Vec<(u32, Hash)> = self.decidable.iter().copied().collect();
            for (round, id) in decidable {
                match self.values.get(&id).cloned() {
                    Some(v) => match self.validity.get(&id) {
                        Some(true) => {
                            let precommits = self.quorum_votes(round, VoteKind::Precommit, id);
                            self.decided = true;
                            self.out.push(Action::Decide {
                                height: self.height,
                                round,
                                value: v,
                                precommits,
                            });
                            return;
                        }
                        Some(false) => {}
                        None => {
                            if self.check_requested.insert(id) {
                                self.out.push(Action::Check {
                                    height: self.height,
                                    round,
                                    value: v,
                                });
                            }
                        }
                    },
                    None => {
                        if self.fetch_requested.insert((round, id)) {
                            self.out.push(Action::Fetch {
                                height: self.height,
                                round,
                                id,
                            });
                        }
                    }
                }
            }

            // L55: f+1 validators are in a later round.
            let skip_to = self
                .skip_rounds
                .range((std::ops::Bound::Excluded(r), std::ops::Bound::Unbounded))
                .next_back()
                .copied();
            if let Some(target) = skip_to {
                self.start_round(target);
                changed = true;
            }

            if !changed {
                return;
            }
        }
    }
}

/// An in-memory journal (simulations; it survives simulated crashes as a disk would).
#[derive(Debug, Clone, Default)]
pub struct MemJournal {
    pub entries: Vec<Entry>,
}

impl Journal for MemJournal {
    fn entries(&self, height: u64) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|e| e.height() == height)
            .cloned()
            .collect()
    }

    fn append(&mut self, entry: Entry) -> std::io::Result<()> {
        self.entries.push(entry);
        Ok(())
    }

    fn prune_below(&mut self, height: u64) {
        self.entries.retain(|e| e.height() >= height);
    }
}
