//! A deterministic simulation of TBFT validators: a seeded scheduler over simulated time, a
//! network with delays, loss and partitions, crashes and restarts (journals survive), and
//! Byzantine validators that equivocate, propose invalid values or stay silent.
//!
//! The same seed always gives the same run. [`run`] reports every node's decisions and
//! checks safety as it goes: no two honest validators decide different values at one height,
//! and no honest validator ever signs two different votes for one height, round and kind.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap},
    time::Duration,
};

use covenant_crypto::{Hash, HashAlgorithm};

use super::{
    machine::{
        Action, Input, Machine, MemJournal, Signer, TimeoutKind, Timeouts, Validators, Value,
    },
    message::{Message, NodeId, ProposalBody, SignedProposal, SignedVote, VoteBody, VoteKind},
};

/// A small deterministic random number generator (splitmix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `[lo, hi]`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.next_u64() % (hi - lo + 1)
        }
    }
    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.next_u64() % 1000 < per_mille as u64
    }
}

/// A simulated block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimValue {
    pub height: u64,
    pub round: u32,
    pub proposer: u32,
    pub salt: u64,
    pub valid: bool,
}

impl Value for SimValue {
    fn id(&self) -> Hash {
        HashAlgorithm::Sha256.digest(&self.to_bytes())
    }
    fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(25);
        b.extend_from_slice(&self.height.to_be_bytes());
        b.extend_from_slice(&self.round.to_be_bytes());
        b.extend_from_slice(&self.proposer.to_be_bytes());
        b.extend_from_slice(&self.salt.to_be_bytes());
        b.push(self.valid as u8);
        b
    }
    fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != 25 {
            return None;
        }
        Some(SimValue {
            height: u64::from_be_bytes(b[0..8].try_into().ok()?),
            round: u32::from_be_bytes(b[8..12].try_into().ok()?),
            proposer: u32::from_be_bytes(b[12..16].try_into().ok()?),
            salt: u64::from_be_bytes(b[16..24].try_into().ok()?),
            valid: b[24] == 1,
        })
    }
}

/// A simulated signature: the hash of the signer and the body (checked by the simulator).
#[derive(Debug, Clone)]
pub struct SimSigner(pub NodeId);

fn sim_sign(id: &NodeId, body: &[u8]) -> Vec<u8> {
    let mut h = HashAlgorithm::Sha256.hasher();
    h.update(id.as_bytes());
    h.update(body);
    h.finalize().0.to_vec()
}

impl Signer for SimSigner {
    fn id(&self) -> NodeId {
        self.0
    }
    fn sign(&self, body: &[u8]) -> Vec<u8> {
        sim_sign(&self.0, body)
    }
}

/// How a Byzantine validator misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Byzantine {
    /// Sends conflicting proposals and votes to different halves of the network.
    Equivocate,
    /// Proposes values that do not check out.
    InvalidProposals,
    /// Sends nothing.
    Silent,
}

/// A network partition over a time window.
#[derive(Debug, Clone)]
pub struct Partition {
    pub from_ms: u64,
    pub to_ms: u64,
    /// Nodes in different groups cannot talk.
    pub groups: Vec<Vec<usize>>,
}

/// A crash, and optionally a restart.
#[derive(Debug, Clone)]
pub struct Crash {
    pub node: usize,
    pub at_ms: u64,
    pub restart_at_ms: Option<u64>,
}

/// A scenario.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub validators: usize,
    pub seed: u64,
    /// Stop once every honest, running node decided this many heights.
    pub heights: u64,
    /// Simulated time budget.
    pub max_time_ms: u64,
    /// Message delay range.
    pub delay_ms: (u64, u64),
    /// Message loss, per mille.
    pub drop_per_mille: u32,
    pub partitions: Vec<Partition>,
    pub crashes: Vec<Crash>,
    pub byzantine: Vec<(usize, Byzantine)>,
    pub timeouts: Timeouts,
    /// How often a node sends its current-round messages again (the network loses messages;
    /// a real node's gossip does the same).
    pub resend_ms: u64,
    /// Windows `[from, to)` in which no new height may be decided because no quorum can talk.
    /// Start a window a round's timeouts after the fault: votes cast just before it can still
    /// complete a quorum with votes cast after it on one side.
    pub quiet: Vec<(u64, u64)>,
}

impl SimConfig {
    /// `validators` honest validators on a clean network.
    pub fn new(validators: usize, seed: u64) -> Self {
        SimConfig {
            validators,
            seed,
            heights: 10,
            max_time_ms: 600_000,
            delay_ms: (5, 50),
            drop_per_mille: 0,
            partitions: vec![],
            crashes: vec![],
            byzantine: vec![],
            resend_ms: 1_000,
            quiet: vec![],
            timeouts: Timeouts {
                propose: Duration::from_millis(300),
                prevote: Duration::from_millis(200),
                precommit: Duration::from_millis(200),
                per_round: Duration::from_millis(100),
            },
        }
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct SimReport {
    /// Per node: decided height → value id.
    pub decisions: Vec<BTreeMap<u64, Hash>>,
    /// Per node: decided height → simulated time of the decision (ms).
    pub decided_at: Vec<BTreeMap<u64, u64>>,
    /// Per node at the end: its machine's state, `None` if crashed.
    pub states: Vec<Option<String>>,
    /// Per node at the end: `(height, round)` it was working on, `None` if crashed.
    pub positions: Vec<Option<(u64, u32)>>,
    /// Lowest height decided by all honest nodes running at the end.
    pub min_honest_height: u64,
    /// Highest height any honest node decided.
    pub max_height: u64,
    pub time_ms: u64,
    pub messages: u64,
    /// Safety violations found (empty when safe).
    pub violations: Vec<String>,
    /// Conflicting messages honest nodes received from Byzantine ones.
    pub equivocations_seen: u64,
    /// The nodes honest nodes reported as misbehaving (by index).
    pub reported: BTreeSet<usize>,
}

#[derive(Debug, Clone)]
enum Net {
    Consensus(Message<SimValue>),
    CommitRequest {
        height: u64,
    },
    Commit {
        height: u64,
        round: u32,
        value: SimValue,
        precommits: Vec<SignedVote>,
    },
}

#[derive(Debug, Clone)]
enum Event {
    Deliver {
        to: usize,
        from: usize,
        msg: Net,
    },
    Timeout {
        node: usize,
        epoch: u32,
        height: u64,
        round: u32,
        kind: TimeoutKind,
    },
    Built {
        node: usize,
        epoch: u32,
        height: u64,
        round: u32,
        value: SimValue,
    },
    Checked {
        node: usize,
        epoch: u32,
        id: Hash,
        valid: bool,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
    Resend {
        node: usize,
        epoch: u32,
    },
}

type SimMachine = Machine<SimValue, MemJournal, SimSigner>;

struct Node {
    machine: Option<SimMachine>,
    journal: MemJournal,
    epoch: u32,
    decided: BTreeMap<u64, (SimValue, u32, Vec<SignedVote>)>,
    decided_at: BTreeMap<u64, u64>,
    byzantine: Option<Byzantine>,
    last_request: HashMap<u64, u64>,
}

struct Sim {
    cfg: SimConfig,
    rng: Rng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    events: HashMap<usize, Event>,
    nodes: Vec<Node>,
    ids: Vec<NodeId>,
    validators: Validators,
    chosen: BTreeMap<u64, Hash>,
    /// Every vote an honest node signed: (node, height, round, kind) → value.
    signed: HashMap<(usize, u64, u32, VoteKind), Option<Hash>>,
    violations: Vec<String>,
    messages: u64,
    /// Nodes that honest nodes reported as misbehaving.
    reported: BTreeSet<usize>,
}

fn node_id(i: usize) -> NodeId {
    HashAlgorithm::Sha256.digest(format!("validator-{i}").as_bytes())
}

impl Sim {
    fn push(&mut self, at: u64, e: Event) {
        self.seq += 1;
        let key = self.seq as usize;
        self.events.insert(key, e);
        self.queue.push(Reverse((at, self.seq, key)));
    }

    fn partitioned(&self, a: usize, b: usize) -> bool {
        self.cfg.partitions.iter().any(|p| {
            self.now >= p.from_ms
                && self.now < p.to_ms
                && p.groups.iter().position(|g| g.contains(&a))
                    != p.groups.iter().position(|g| g.contains(&b))
        })
    }

    fn send(&mut self, from: usize, to: usize, msg: Net) {
        if from == to || self.partitioned(from, to) || self.rng.chance(self.cfg.drop_per_mille) {
            return;
        }
        let d = self.rng.range(self.cfg.delay_ms.0, self.cfg.delay_ms.1);
        self.messages += 1;
        self.push(self.now + d, Event::Deliver { to, from, msg });
    }

    fn new_machine(&self, i: usize, journal: MemJournal) -> SimMachine {
        Machine::new("sim", SimSigner(self.ids[i]), journal, self.cfg.timeouts)
    }

    fn start_next(&mut self, i: usize) {
        let next = self.nodes[i]
            .decided
            .keys()
            .next_back()
            .map_or(1, |h| h + 1);
        let validators = self.validators.clone();
        let actions = match self.nodes[i].machine.as_mut() {
            Some(m) => m.start_height(next, validators),
            None => return,
        };
        self.apply(i, actions);
    }

    fn honest(&self, i: usize) -> bool {
        self.nodes[i].byzantine.is_none()
    }

    /// Conflicting copies of a message for the other half of the network.
    fn twin(&mut self, i: usize, m: &Message<SimValue>) -> Option<Message<SimValue>> {
        let id = self.ids[i];
        match m {
            Message::Proposal(p) => {
                let mut v = p.value.clone();
                v.salt = self.rng.next_u64();
                let body = ProposalBody {
                    value: v.id(),
                    ..p.proposal.clone()
                };
                let bytes = body.encode();
                Some(Message::Proposal(SignedProposal {
                    signature: sim_sign(&id, &bytes),
                    body: bytes,
                    proposal: body,
                    value: v,
                    proposer: id,
                }))
            }
            Message::Vote(v) => {
                let body = VoteBody {
                    value: Some(Hash(
                        self.rng
                            .next_u64()
                            .to_be_bytes()
                            .repeat(4)
                            .try_into()
                            .unwrap_or([0; 32]),
                    )),
                    ..v.vote.clone()
                };
                let bytes = body.encode();
                Some(Message::Vote(SignedVote {
                    signature: sim_sign(&id, &bytes),
                    body: bytes,
                    vote: body,
                    voter: id,
                }))
            }
        }
    }

    fn broadcast(&mut self, i: usize, m: Message<SimValue>) {
        let n = self.nodes.len();
        match self.nodes[i].byzantine {
            Some(Byzantine::Silent) => return,
            Some(Byzantine::Equivocate) => {
                let twin = self.twin(i, &m);
                // Half the network sees one version, the other half the other; every third
                // node sees both (and should notice).
                for j in 0..n {
                    let msg = if j % 2 == 0 {
                        m.clone()
                    } else {
                        twin.clone().unwrap_or_else(|| m.clone())
                    };
                    self.send(i, j, Net::Consensus(msg));
                    if j % 3 == 0
                        && let Some(t) = &twin
                    {
                        let other = if j % 2 == 0 { t.clone() } else { m.clone() };
                        self.send(i, j, Net::Consensus(other));
                    }
                }
                return;
            }
            _ => {}
        }
        if let Message::Vote(v) = &m
            && self.honest(i)
            && v.voter == self.ids[i]
        {
            let key = (i, v.vote.height, v.vote.round, v.vote.kind);
            if let Some(prev) = self.signed.get(&key)
                && *prev != v.vote.value
            {
                self.violations.push(format!(
                    "node {i} signed two {:?} votes at height {} round {}",
                    v.vote.kind, v.vote.height, v.vote.round
                ));
            }
            self.signed.insert(key, v.vote.value);
        }
        for j in 0..n {
            self.send(i, j, Net::Consensus(m.clone()));
        }
    }

    fn apply(&mut self, i: usize, actions: Vec<Action<SimValue>>) {
        let epoch = self.nodes[i].epoch;
        for a in actions {
            match a {
                Action::Broadcast(m) => self.broadcast(i, m),
                Action::Schedule {
                    height,
                    round,
                    kind,
                    after,
                } => {
                    self.push(
                        self.now + after.as_millis() as u64,
                        Event::Timeout {
                            node: i,
                            epoch,
                            height,
                            round,
                            kind,
                        },
                    );
                }
                Action::Build { height, round } => {
                    let value = SimValue {
                        height,
                        round,
                        proposer: i as u32,
                        salt: self.rng.next_u64(),
                        valid: self.nodes[i].byzantine != Some(Byzantine::InvalidProposals),
                    };
                    self.push(
                        self.now + 3,
                        Event::Built {
                            node: i,
                            epoch,
                            height,
                            round,
                            value,
                        },
                    );
                }
                Action::Check { value, .. } => {
                    let valid = value.valid;
                    self.push(
                        self.now + 3,
                        Event::Checked {
                            node: i,
                            epoch,
                            id: value.id(),
                            valid,
                        },
                    );
                }
                Action::Misbehaviour { node, .. } => {
                    if self.honest(i)
                        && let Some(j) = (0..self.nodes.len()).find(|j| node_id(*j) == node)
                    {
                        self.reported.insert(j);
                    }
                }
                Action::Fetch { height, .. } => {
                    for j in 0..self.nodes.len() {
                        self.send(i, j, Net::CommitRequest { height });
                    }
                }
                Action::Decide {
                    height,
                    round,
                    value,
                    precommits,
                } => {
                    let id = value.id();
                    if self.honest(i) {
                        match self.chosen.get(&height) {
                            Some(c) if *c != id => self.violations.push(format!(
                                "height {height}: node {i} decided {id}, another honest node {c}"
                            )),
                            _ => {
                                self.chosen.insert(height, id);
                            }
                        }
                        if !value.valid {
                            self.violations.push(format!(
                                "height {height}: node {i} decided an invalid value"
                            ));
                        }
                    }
                    self.nodes[i]
                        .decided
                        .insert(height, (value, round, precommits));
                    self.nodes[i].decided_at.insert(height, self.now);
                    self.start_next(i);
                }
            }
        }
    }

    fn quorum_certificate(
        &self,
        height: u64,
        round: u32,
        value: &SimValue,
        precommits: &[SignedVote],
    ) -> bool {
        let id = value.id();
        let mut voters: Vec<NodeId> = precommits
            .iter()
            .filter(|v| {
                v.vote.height == height
                    && v.vote.round == round
                    && v.vote.kind == VoteKind::Precommit
                    && v.vote.value == Some(id)
                    && self.validators.contains(&v.voter)
                    && v.signature == sim_sign(&v.voter, &v.body)
            })
            .map(|v| v.voter)
            .collect();
        voters.sort();
        voters.dedup();
        voters.len() >= self.validators.quorum()
    }

    fn deliver(&mut self, to: usize, from: usize, msg: Net) {
        // A partition also cuts what was in flight.
        if self.nodes[to].machine.is_none() || self.partitioned(from, to) {
            return;
        }
        let my_height = self.nodes[to].machine.as_ref().map_or(0, |m| m.height());
        match msg {
            Net::Consensus(m) => {
                // Authenticate: a proposal comes from its proposer; a vote may be relayed, so
                // only its signature counts.
                let ok = match &m {
                    Message::Proposal(p) => {
                        p.proposer == self.ids[from]
                            && p.signature == sim_sign(&p.proposer, &p.body)
                    }
                    Message::Vote(v) => v.signature == sim_sign(&v.voter, &v.body),
                };
                if !ok {
                    return;
                }
                let h = m.height();
                if h < my_height {
                    // A lagging peer: hand it the decided value.
                    if let Some((value, round, pc)) = self.nodes[to].decided.get(&h).cloned() {
                        self.send(
                            to,
                            from,
                            Net::Commit {
                                height: h,
                                round,
                                value,
                                precommits: pc,
                            },
                        );
                    }
                    return;
                }
                if h > my_height {
                    let last = self.nodes[to].last_request.get(&my_height).copied();
                    if last.is_none_or(|t| self.now >= t + 200) {
                        self.nodes[to].last_request.insert(my_height, self.now);
                        self.send(to, from, Net::CommitRequest { height: my_height });
                    }
                }
                let actions = self.nodes[to]
                    .machine
                    .as_mut()
                    .map(|mm| mm.handle(Input::Message(m)))
                    .unwrap_or_default();
                self.apply(to, actions);
            }
            Net::CommitRequest { height } => {
                if let Some((value, round, pc)) = self.nodes[to].decided.get(&height).cloned() {
                    self.send(
                        to,
                        from,
                        Net::Commit {
                            height,
                            round,
                            value,
                            precommits: pc,
                        },
                    );
                }
            }
            Net::Commit {
                height,
                round,
                value,
                precommits,
            } => {
                if height == my_height
                    && value.valid
                    && self.quorum_certificate(height, round, &value, &precommits)
                {
                    let actions = self.nodes[to]
                        .machine
                        .as_mut()
                        .map(|m| {
                            m.handle(Input::Committed {
                                height,
                                round,
                                value,
                                precommits,
                            })
                        })
                        .unwrap_or_default();
                    self.apply(to, actions);
                }
            }
        }
    }

    fn done(&self) -> bool {
        (0..self.nodes.len())
            .filter(|&i| self.honest(i) && self.nodes[i].machine.is_some())
            .all(|i| self.nodes[i].decided.len() as u64 >= self.cfg.heights)
    }

    fn run(&mut self) {
        for i in 0..self.nodes.len() {
            let m = self.new_machine(i, MemJournal::default());
            self.nodes[i].machine = Some(m);
            self.start_next(i);
            self.push(self.cfg.resend_ms, Event::Resend { node: i, epoch: 0 });
        }
        for c in self.cfg.crashes.clone() {
            self.push(c.at_ms, Event::Crash { node: c.node });
            if let Some(r) = c.restart_at_ms {
                self.push(r, Event::Restart { node: c.node });
            }
        }
        while let Some(Reverse((at, _, key))) = self.queue.pop() {
            if at > self.cfg.max_time_ms {
                break;
            }
            self.now = at;
            let Some(e) = self.events.remove(&key) else {
                continue;
            };
            match e {
                Event::Deliver { to, from, msg } => self.deliver(to, from, msg),
                Event::Timeout {
                    node,
                    epoch,
                    height,
                    round,
                    kind,
                } => {
                    if self.nodes[node].epoch == epoch {
                        let a = self.nodes[node]
                            .machine
                            .as_mut()
                            .map(|m| {
                                m.handle(Input::Timeout {
                                    height,
                                    round,
                                    kind,
                                })
                            })
                            .unwrap_or_default();
                        self.apply(node, a);
                    }
                }
                Event::Built {
                    node,
                    epoch,
                    height,
                    round,
                    value,
                } => {
                    if self.nodes[node].epoch == epoch {
                        let a = self.nodes[node]
                            .machine
                            .as_mut()
                            .map(|m| {
                                m.handle(Input::Built {
                                    height,
                                    round,
                                    value,
                                })
                            })
                            .unwrap_or_default();
                        self.apply(node, a);
                    }
                }
                Event::Checked {
                    node,
                    epoch,
                    id,
                    valid,
                } => {
                    if self.nodes[node].epoch == epoch {
                        let a = self.nodes[node]
                            .machine
                            .as_mut()
                            .map(|m| m.handle(Input::Checked { id, valid }))
                            .unwrap_or_default();
                        self.apply(node, a);
                    }
                }
                Event::Crash { node } => {
                    if let Some(m) = self.nodes[node].machine.take() {
                        self.nodes[node].journal = m.into_journal();
                    }
                    self.nodes[node].epoch += 1;
                }
                Event::Restart { node } => {
                    if self.nodes[node].machine.is_none() {
                        let j = std::mem::take(&mut self.nodes[node].journal);
                        let m = self.new_machine(node, j);
                        self.nodes[node].machine = Some(m);
                        self.start_next(node);
                        let epoch = self.nodes[node].epoch;
                        self.push(self.now + self.cfg.resend_ms, Event::Resend { node, epoch });
                    }
                }
                Event::Resend { node, epoch } => {
                    if self.nodes[node].epoch == epoch {
                        let own = self.nodes[node]
                            .machine
                            .as_ref()
                            .map(|m| m.own_messages())
                            .unwrap_or_default();
                        for m in own {
                            self.broadcast(node, m);
                        }
                        self.push(self.now + self.cfg.resend_ms, Event::Resend { node, epoch });
                    }
                }
            }
            if self.done() {
                break;
            }
        }
    }
}

/// Run a scenario.
pub fn run(cfg: SimConfig) -> SimReport {
    let n = cfg.validators;
    let ids: Vec<NodeId> = (0..n).map(node_id).collect();
    let nodes = (0..n)
        .map(|i| Node {
            machine: None,
            journal: MemJournal::default(),
            epoch: 0,
            decided: BTreeMap::new(),
            decided_at: BTreeMap::new(),
            byzantine: cfg.byzantine.iter().find(|(b, _)| *b == i).map(|(_, k)| *k),
            last_request: HashMap::new(),
        })
        .collect();
    let mut sim = Sim {
        rng: Rng::new(cfg.seed),
        validators: Validators::new(ids.clone()),
        ids,
        cfg,
        now: 0,
        seq: 0,
        queue: BinaryHeap::new(),
        events: HashMap::new(),
        nodes,
        chosen: BTreeMap::new(),
        signed: HashMap::new(),
        violations: Vec::new(),
        reported: BTreeSet::new(),
        messages: 0,
    };
    sim.run();
    let decisions: Vec<BTreeMap<u64, Hash>> = sim
        .nodes
        .iter()
        .map(|n| {
            n.decided
                .iter()
                .map(|(h, (v, _, _))| (*h, v.id()))
                .collect()
        })
        .collect();
    let honest_running: Vec<usize> = (0..n)
        .filter(|&i| sim.nodes[i].byzantine.is_none() && sim.nodes[i].machine.is_some())
        .collect();
    let min_honest_height = honest_running
        .iter()
        .map(|&i| {
            sim.nodes[i]
                .decided
                .keys()
                .next_back()
                .copied()
                .unwrap_or(0)
        })
        .min()
        .unwrap_or(0);
    let max_height = (0..n)
        .filter(|&i| sim.nodes[i].byzantine.is_none())
        .map(|i| {
            sim.nodes[i]
                .decided
                .keys()
                .next_back()
                .copied()
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0);
    let equivocations_seen = sim
        .nodes
        .iter()
        .filter_map(|n| n.machine.as_ref())
        .map(|m| m.equivocations)
        .sum();
    let decided_at = sim.nodes.iter().map(|n| n.decided_at.clone()).collect();
    let positions = sim
        .nodes
        .iter()
        .map(|n| n.machine.as_ref().map(|m| (m.height(), m.round())))
        .collect();
    let states = sim
        .nodes
        .iter()
        .map(|n| n.machine.as_ref().map(|m| m.describe()))
        .collect();
    SimReport {
        decisions,
        decided_at,
        positions,
        states,
        min_honest_height,
        max_height,
        time_ms: sim.now,
        messages: sim.messages,
        violations: sim.violations,
        equivocations_seen,
        reported: sim.reported,
    }
}

/// Check a run: safety (no violations, honest nodes agree at every height), liveness (every
/// honest running node reached `cfg.heights`), and the quiet windows.
pub fn check(cfg: &SimConfig, r: &SimReport) -> Result<(), String> {
    if !r.violations.is_empty() {
        return Err(format!("safety violations: {:?}", r.violations));
    }
    let honest: Vec<usize> = (0..cfg.validators)
        .filter(|i| !cfg.byzantine.iter().any(|(b, _)| b == i))
        .collect();
    for h in 1..=r.max_height {
        let ids: Vec<&Hash> = honest
            .iter()
            .filter_map(|&i| r.decisions[i].get(&h))
            .collect();
        if ids.windows(2).any(|w| w[0] != w[1]) {
            return Err(format!("height {h} decided differently: {ids:?}"));
        }
    }
    // A height first decided inside a quiet window means some quorum agreed while none could
    // talk. (Nodes may still learn, inside the window, a height decided before it.)
    let mut first: BTreeMap<u64, (u64, usize)> = BTreeMap::new();
    for &i in &honest {
        for (h, t) in &r.decided_at[i] {
            let e = first.entry(*h).or_insert((*t, i));
            if *t < e.0 {
                *e = (*t, i);
            }
        }
    }
    for &(from, to) in &cfg.quiet {
        if let Some((h, (t, i))) = first.iter().find(|(_, (t, _))| *t > from && *t < to) {
            return Err(format!(
                "height {h} was first decided at {t} ms (node {i}) while no quorum could talk \
                 ({from}..{to} ms)"
            ));
        }
    }
    if r.min_honest_height < cfg.heights {
        return Err(format!(
            "no progress: reached height {} of {} in {} ms; nodes at {:?}",
            r.min_honest_height, cfg.heights, r.time_ms, r.positions
        ));
    }
    Ok(())
}

/// The standard fault scenarios, each under `seed`.
pub fn scenarios(seed: u64) -> Vec<(&'static str, SimConfig)> {
    let base = |n: usize| SimConfig::new(n, seed);
    let mut out = Vec::new();
    out.push(("4 honest", base(4)));
    let mut c = base(4);
    c.drop_per_mille = 200;
    c.delay_ms = (5, 400);
    out.push(("lossy slow network", c));
    let mut c = base(4);
    c.heights = 30;
    c.partitions = vec![Partition {
        from_ms: 1_000,
        to_ms: 20_000,
        groups: vec![vec![0, 1], vec![2, 3]],
    }];
    c.quiet = vec![(3_000, 20_000)];
    out.push(("2|2 partition heals", c));
    let mut c = base(4);
    c.partitions = vec![Partition {
        from_ms: 0,
        to_ms: 15_000,
        groups: vec![vec![0, 1, 2], vec![3]],
    }];
    out.push(("3|1 partition", c));
    let mut c = base(4);
    c.heights = 60;
    c.crashes = vec![Crash {
        node: 2,
        at_ms: 500,
        restart_at_ms: Some(8_000),
    }];
    out.push(("1 of 4 crashes and restarts", c));
    let mut c = base(4);
    c.heights = 8;
    c.crashes = vec![
        Crash {
            node: 1,
            at_ms: 1_000,
            restart_at_ms: Some(15_000),
        },
        Crash {
            node: 3,
            at_ms: 1_000,
            restart_at_ms: Some(16_000),
        },
    ];
    c.quiet = vec![(3_000, 15_000)];
    out.push(("2 of 4 crash: halt, then resume", c));
    let mut c = base(4);
    c.drop_per_mille = 50;
    c.crashes = (0..8u64)
        .map(|k| Crash {
            node: (k % 4) as usize,
            at_ms: 400 + k * 1_300,
            restart_at_ms: Some(400 + k * 1_300 + 250),
        })
        .collect();
    out.push(("repeated crashes", c));
    let mut c = base(4);
    c.byzantine = vec![(1, Byzantine::Equivocate)];
    out.push(("equivocator", c));
    let mut c = base(4);
    c.byzantine = vec![(0, Byzantine::InvalidProposals)];
    out.push(("invalid proposer", c));
    let mut c = base(4);
    c.byzantine = vec![(3, Byzantine::Silent)];
    out.push(("silent validator", c));
    let mut c = base(7);
    c.byzantine = vec![(2, Byzantine::Equivocate), (5, Byzantine::InvalidProposals)];
    c.drop_per_mille = 50;
    out.push(("7 with 2 Byzantine and loss", c));
    let mut c = base(7);
    c.byzantine = vec![(0, Byzantine::Equivocate)];
    c.partitions = vec![Partition {
        from_ms: 2_000,
        to_ms: 12_000,
        groups: vec![vec![0, 1, 2, 3], vec![4, 5, 6]],
    }];
    c.crashes = vec![Crash {
        node: 5,
        at_ms: 5_000,
        restart_at_ms: Some(14_000),
    }];
    c.quiet = vec![(4_000, 12_000)];
    out.push(("7 with an equivocator, a partition and a crash", c));
    out
}
