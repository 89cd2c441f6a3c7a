//! A deterministic simulation of the production TBFT driver: the same [`TbftDriver`] a node
//! runs, with real blocks, Ed25519 keys and certificates, signed and verified messages and
//! the real commit-certificate check, on simulated time and a simulated network (delays,
//! loss, partitions), with crashes and restarts (journals and ledgers survive), silent and
//! invalid-block validators, and block sync between nodes.
//!
//! Where [`super::sim`] checks the state machine alone over thousands of seeds, this one checks
//! what wraps it: message encoding and verification, the future-height window, when heights
//! start, building and checking blocks, committing with certificates, and catching up by sync.
//! Each run checks safety as it goes (no two honest nodes commit different blocks at a height,
//! no honest validator signs two different votes for a height, round and kind, every decided
//! block commits) and liveness at the end (every honest running node reaches the target).

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap, HashMap},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, UNIX_EPOCH},
};

use covenant_crypto::{Hash, PrivateKey, Suite};
use covenant_pki::{CertificateSpec, Issuer, Role, issue_certificate, subject_name};
use covenant_types::{
    ChainConfig, ConsensusConfig, ConsensusNode, Dag, Org,
    block::{BlockParts, DecodedBlock, assemble},
    config::{default_block_limits, default_policies},
    pb::{ConsensusMessage, consensus_message::Body},
};
use parking_lot::Mutex;
use prost::Message as _;

use super::{
    driver::{Effect, TbftDriver, Timer, commit},
    machine::{MemJournal, Timeouts},
    message::{VoteBody, VoteKind},
    sim::{Partition, Rng},
};
use crate::{
    node_key,
    port::{ChainPort, CommitMode, Committed, NodeKeys, Pace, PortError},
};

const CHAIN: &str = "sim";
const SUITE: Suite = Suite::Intl;
/// Simulated wall clock at time 0 (ms since the epoch), for block timestamps.
const EPOCH_MS: u64 = 1_767_225_600_000;
/// How often each driver ticks, and how often each node looks for blocks to sync.
const TICK_MS: u64 = 20;
const SYNC_EVERY_MS: u64 = 500;
/// Most blocks one sync answer carries.
const SYNC_BATCH: usize = 32;

/// How a faulty validator behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Sends nothing (its driver runs, its messages are dropped).
    Silent,
    /// Builds blocks that do not follow the chain (a wrong previous hash).
    InvalidBlocks,
}

/// A scenario for the driver.
#[derive(Debug, Clone)]
pub struct DriverSimConfig {
    pub validators: usize,
    pub seed: u64,
    /// Stop once every honest running node committed this many blocks.
    pub heights: u64,
    pub max_time_ms: u64,
    pub delay_ms: (u64, u64),
    pub drop_per_mille: u32,
    pub partitions: Vec<Partition>,
    /// `(node, crash at, restart at)`.
    pub crashes: Vec<(usize, u64, Option<u64>)>,
    pub faulty: Vec<(usize, Fault)>,
    pub timeouts: Timeouts,
    /// Windows `[from, to)` in which no height may be first committed: no quorum can talk.
    pub quiet: Vec<(u64, u64)>,
}

impl DriverSimConfig {
    pub fn new(validators: usize, seed: u64) -> Self {
        DriverSimConfig {
            validators,
            seed,
            heights: 8,
            max_time_ms: 300_000,
            delay_ms: (5, 50),
            drop_per_mille: 0,
            partitions: vec![],
            crashes: vec![],
            faulty: vec![],
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
pub struct DriverSimReport {
    /// Per node: its ledger's block hashes by height (genesis excluded).
    pub ledgers: Vec<Vec<Hash>>,
    pub time_ms: u64,
    pub messages: u64,
    /// Blocks nodes took from peers by sync.
    pub synced: u64,
    /// When each height was first committed by an honest node (simulated ms).
    pub first_committed: BTreeMap<u64, u64>,
    pub violations: Vec<String>,
}

/// A fixed Ed25519 key from a seed byte.
fn fixed_key(seed: u8) -> PrivateKey {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[seed; 32]);
    // A 32-byte seed is always a valid Ed25519 key.
    PrivateKey::from_pkcs8_der(&der).unwrap_or_else(|_| unreachable!("a fixed Ed25519 seed"))
}

/// The validators' keys and a chain config naming them as TBFT consensus nodes.
fn validators(n: usize) -> Result<(Vec<NodeKeys>, ChainConfig), String> {
    let mut keys = Vec::new();
    let mut nodes = Vec::new();
    for i in 0..n {
        let key = fixed_key(i as u8 + 1);
        let name = format!("validator-{i}");
        let subject = subject_name("sim", Role::Node, &name).map_err(|e| e.to_string())?;
        let cert = issue_certificate(
            &CertificateSpec {
                subject: subject.clone(),
                public_key: key.public_key().clone(),
                role: Role::Node,
                hosts: vec![],
                not_before: UNIX_EPOCH,
                not_after: UNIX_EPOCH + Duration::from_secs(4_000_000_000),
                path_len: None,
            },
            &[0x40, i as u8 + 1],
            Issuer {
                name: &subject,
                key: &key,
                key_id: None,
            },
        )
        .map_err(|e| e.to_string())?;
        let der = cert.der().to_vec();
        keys.push(NodeKeys {
            id: SUITE.hash(&der),
            certificate: Arc::new(der.clone()),
            key,
        });
        nodes.push(ConsensusNode {
            org_id: "sim".into(),
            node_id: name,
            certificate: der,
            address: String::new(),
        });
    }
    let config = ChainConfig {
        chain_id: CHAIN.into(),
        suite: SUITE.name().into(),
        orgs: vec![Org {
            org_id: "sim".into(),
            trust_roots: vec![],
        }],
        consensus: Some(ConsensusConfig {
            kind: "tbft".into(),
            nodes,
            sync_nodes: vec![],
        }),
        policies: default_policies(),
        block: Some(default_block_limits()),
        tx_expiry_window_ms: 600_000,
        max_gas_per_tx: 1_000_000,
        max_tx_bytes: 1 << 20,
        version: 0,
        max_endorsements: 0,
    };
    Ok((keys, config))
}

fn genesis() -> Result<DecodedBlock, String> {
    assemble(SUITE, parts(0, vec![], vec![], EPOCH_MS, vec![]), None).map_err(|e| e.to_string())
}

fn parts(
    height: u64,
    prev_hash: Vec<u8>,
    prev_state_root: Vec<u8>,
    timestamp_ms: u64,
    proposer: Vec<u8>,
) -> BlockParts {
    BlockParts {
        chain_id: CHAIN.into(),
        height,
        prev_hash,
        prev_state_root,
        timestamp_ms,
        proposer,
        config_version: 0,
        transactions: vec![],
        results: vec![],
        rwsets: vec![],
        dag: Dag { nodes: vec![] },
    }
}

struct SimChainInner {
    config: Arc<ChainConfig>,
    node: NodeKeys,
    invalid_blocks: bool,
    ledger: Mutex<Vec<DecodedBlock>>,
    /// The simulation's clock (ms), for block times.
    clock: Arc<AtomicU64>,
}

/// A node's ledger in memory, as a [`ChainPort`]: blocks are empty (the simulation orders,
/// it does not execute), linked, signed by their proposer, and committed only with a valid
/// TBFT certificate. It always has work waiting, so validators keep deciding heights.
#[derive(Clone)]
pub struct SimChain {
    inner: Arc<SimChainInner>,
}

impl SimChain {
    fn tip(&self) -> (u64, Hash, Vec<u8>, u64) {
        let ledger = self.inner.ledger.lock();
        let last = &ledger[ledger.len() - 1];
        (
            ledger.len() as u64,
            last.hash,
            last.header.state_root.clone(),
            last.header.timestamp_ms,
        )
    }

    fn hashes(&self) -> Vec<Hash> {
        self.inner
            .ledger
            .lock()
            .iter()
            .skip(1)
            .map(|b| b.hash)
            .collect()
    }

    /// What a block's proposer, link and signature must satisfy to follow this ledger.
    fn follows(&self, block: &DecodedBlock) -> Result<(), PortError> {
        let bad = |s: &str| PortError::Rejected(s.to_string());
        let (next, tip, state_root, time) = self.tip();
        if block.height() != next {
            return Err(bad("not the next height"));
        }
        block
            .check_link(SUITE, tip.as_bytes(), &state_root)
            .map_err(|e| PortError::Rejected(e.to_string()))?;
        if block.header.timestamp_ms <= time {
            return Err(bad("the time does not move forward"));
        }
        let proposer = self
            .inner
            .config
            .consensus
            .iter()
            .flat_map(|c| c.nodes.iter())
            .find(|n| SUITE.hash(&n.certificate).as_bytes().as_slice() == block.header.proposer)
            .ok_or_else(|| bad("the proposer is not a validator"))?;
        let key = node_key(&proposer.certificate).map_err(PortError::Rejected)?;
        key.verify(&block.block.header, &block.block.proposer_signature)
            .map_err(|_| bad("the proposer's signature does not verify"))
    }
}

impl ChainPort for SimChain {
    type Output = ();

    fn chain_id(&self) -> &str {
        CHAIN
    }
    fn suite(&self) -> Suite {
        SUITE
    }
    fn config(&self) -> Arc<ChainConfig> {
        self.inner.config.clone()
    }
    fn genesis_config(&self) -> Result<ChainConfig, PortError> {
        Ok((*self.inner.config).clone())
    }
    fn next_height(&self) -> u64 {
        self.inner.ledger.lock().len() as u64
    }
    fn block(&self, height: u64) -> Result<Option<DecodedBlock>, PortError> {
        Ok(self.inner.ledger.lock().get(height as usize).cloned())
    }
    fn pending(&self) -> usize {
        1
    }
    fn pace(&self) -> Pace {
        Pace {
            max_txs: 1,
            interval: Duration::ZERO,
        }
    }
    fn wait_for_work(&self, _timeout: Duration) -> bool {
        true
    }
    fn build(&self, _allow_empty: bool) -> Result<Option<(DecodedBlock, ())>, PortError> {
        let (next, tip, state_root, time) = self.tip();
        let now = EPOCH_MS + self.inner.clock.load(Ordering::Relaxed);
        let prev = if self.inner.invalid_blocks {
            vec![0xee; 32]
        } else {
            tip.as_bytes().to_vec()
        };
        let block = assemble(
            SUITE,
            parts(
                next,
                prev,
                state_root,
                now.max(time + 1),
                self.inner.node.id.as_bytes().to_vec(),
            ),
            Some(&self.inner.node.key),
        )
        .map_err(|e| PortError::Rejected(e.to_string()))?;
        Ok(Some((block, ())))
    }
    fn check(&self, block: &DecodedBlock) -> Result<(), PortError> {
        self.follows(block)
    }
    fn commit(
        &self,
        block: DecodedBlock,
        _output: Option<()>,
        _mode: CommitMode,
    ) -> Result<Option<Committed>, PortError> {
        let h = block.height() as usize;
        {
            let ledger = self.inner.ledger.lock();
            if h < ledger.len() {
                return if ledger[h].hash == block.hash {
                    Ok(None)
                } else {
                    Err(PortError::Rejected(format!(
                        "another block is committed at height {h}"
                    )))
                };
            }
        }
        self.follows(&block)?;
        super::certificate::check(SUITE, &block, &self.inner.config)
            .map_err(|e| PortError::Rejected(e.to_string()))?;
        let c = Committed {
            height: block.height(),
            hash: block.hash,
            txs: 0,
        };
        self.inner.ledger.lock().push(block);
        Ok(Some(c))
    }
    fn evict_expired(&self) -> usize {
        0
    }
    fn set_engine_status(&self, _status: serde_json::Value) {}
    fn halt(&self, _reason: String) {}
}

type Driver = TbftDriver<SimChain, MemJournal>;

enum Ev {
    Deliver {
        to: usize,
        from: usize,
        bytes: Vec<u8>,
    },
    Timer {
        node: usize,
        epoch: u32,
        timer: Timer,
    },
    Built {
        node: usize,
        epoch: u32,
        height: u64,
        round: u32,
        result: Result<Option<Box<DecodedBlock>>, PortError>,
    },
    Checked {
        node: usize,
        epoch: u32,
        id: Hash,
        result: Result<(), PortError>,
    },
    Tick {
        node: usize,
        epoch: u32,
    },
    SyncTick {
        node: usize,
        epoch: u32,
    },
    SyncBlocks {
        to: usize,
        from: usize,
        blocks: Vec<DecodedBlock>,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
}

struct SimNode {
    chain: SimChain,
    keys: NodeKeys,
    driver: Option<Driver>,
    journal: MemJournal,
    epoch: u32,
    fault: Option<Fault>,
}

struct Sim {
    cfg: DriverSimConfig,
    rng: Rng,
    clock: Arc<AtomicU64>,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    events: HashMap<u64, Ev>,
    nodes: Vec<SimNode>,
    /// Every vote an honest node signed: (node, height, round, kind) → value.
    signed: HashMap<(usize, u64, u32, VoteKind), Option<Hash>>,
    /// The first block an honest node committed at each height, and when.
    chosen: BTreeMap<u64, Hash>,
    first_committed: BTreeMap<u64, u64>,
    violations: Vec<String>,
    messages: u64,
    synced: u64,
}

impl Sim {
    fn now(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }

    fn push(&mut self, at: u64, e: Ev) {
        self.seq += 1;
        self.events.insert(self.seq, e);
        self.queue.push(Reverse((at, self.seq)));
    }

    fn partitioned(&self, a: usize, b: usize) -> bool {
        let now = self.now();
        self.cfg.partitions.iter().any(|p| {
            now >= p.from_ms
                && now < p.to_ms
                && p.groups.iter().position(|g| g.contains(&a))
                    != p.groups.iter().position(|g| g.contains(&b))
        })
    }

    fn honest(&self, i: usize) -> bool {
        self.nodes[i].fault.is_none()
    }

    fn new_driver(&self, i: usize, journal: MemJournal) -> Driver {
        let n = &self.nodes[i];
        TbftDriver::new(n.chain.clone(), n.keys.clone(), journal, self.cfg.timeouts)
    }

    fn start_node(&mut self, i: usize) {
        let journal = std::mem::take(&mut self.nodes[i].journal);
        let driver = self.new_driver(i, journal);
        self.nodes[i].driver = Some(driver);
        let epoch = self.nodes[i].epoch;
        let now = self.now();
        self.push(now, Ev::Tick { node: i, epoch });
        self.push(now + SYNC_EVERY_MS, Ev::SyncTick { node: i, epoch });
    }

    fn broadcast(&mut self, from: usize, bytes: Vec<u8>) {
        if self.nodes[from].fault == Some(Fault::Silent) {
            return;
        }
        if self.honest(from) {
            self.record_vote(from, &bytes);
        }
        for to in 0..self.nodes.len() {
            if to == from || self.partitioned(from, to) || self.rng.chance(self.cfg.drop_per_mille)
            {
                continue;
            }
            let d = self.rng.range(self.cfg.delay_ms.0, self.cfg.delay_ms.1);
            self.messages += 1;
            let at = self.now() + d;
            self.push(
                at,
                Ev::Deliver {
                    to,
                    from,
                    bytes: bytes.clone(),
                },
            );
        }
    }

    /// Catch an honest validator signing two different votes for one height, round and kind.
    fn record_vote(&mut self, i: usize, bytes: &[u8]) {
        let Ok(ConsensusMessage {
            body: Some(Body::Vote(v)),
        }) = ConsensusMessage::decode(bytes)
        else {
            return;
        };
        if v.voter.as_slice() != self.nodes[i].keys.id.as_bytes().as_slice() {
            return;
        }
        let Some(body) = VoteBody::decode(&v.body) else {
            return;
        };
        let key = (i, body.height, body.round, body.kind);
        if let Some(prev) = self.signed.get(&key)
            && *prev != body.value
        {
            self.violations.push(format!(
                "node {i} signed two {:?} votes at height {} round {}",
                body.kind, body.height, body.round
            ));
        }
        self.signed.insert(key, body.value);
    }

    fn committed(&mut self, i: usize, c: &Committed) {
        if !self.honest(i) {
            return;
        }
        match self.chosen.get(&c.height) {
            Some(h) if *h != c.hash => self.violations.push(format!(
                "height {}: node {i} committed {}, another honest node {h}",
                c.height, c.hash
            )),
            _ => {
                self.chosen.insert(c.height, c.hash);
                let now = self.now();
                self.first_committed.entry(c.height).or_insert(now);
            }
        }
    }

    fn apply(&mut self, i: usize, effects: Vec<Effect<()>>) {
        let epoch = self.nodes[i].epoch;
        let mut queue = std::collections::VecDeque::from(effects);
        while let Some(effect) = queue.pop_front() {
            let now = self.now();
            match effect {
                Effect::Broadcast(bytes) => self.broadcast(i, bytes),
                Effect::Timer { after, timer } => self.push(
                    now + after.as_millis() as u64,
                    Ev::Timer {
                        node: i,
                        epoch,
                        timer,
                    },
                ),
                Effect::Build { height, round, .. } => {
                    let result = self.nodes[i]
                        .chain
                        .build(true)
                        .map(|b| b.map(|(block, ())| Box::new(block)));
                    self.push(
                        now + 2,
                        Ev::Built {
                            node: i,
                            epoch,
                            height,
                            round,
                            result,
                        },
                    );
                }
                Effect::Check { id, block } => {
                    let result = self.nodes[i].chain.check(&block);
                    self.push(
                        now + 2,
                        Ev::Checked {
                            node: i,
                            epoch,
                            id,
                            result,
                        },
                    );
                }
                Effect::Commit {
                    height,
                    round,
                    block,
                    output,
                } => {
                    let result = commit(&self.nodes[i].chain, *block, output);
                    match &result {
                        Ok(Some(c)) => self.committed(i, c),
                        Ok(None) => {}
                        Err(e) => {
                            if self.honest(i) {
                                self.violations.push(format!(
                                    "node {i} decided a block at height {height} that does not commit: {e}"
                                ));
                            }
                        }
                    }
                    if let Some(d) = self.nodes[i].driver.as_mut() {
                        queue.extend(d.on_committed(height, round, result));
                    }
                }
                Effect::Sync => self.sync(i),
            }
        }
    }

    /// Block sync: a reachable running peer further ahead sends its next blocks.
    fn sync(&mut self, i: usize) {
        let mine = self.nodes[i].chain.next_height() as usize;
        let Some(from) = (0..self.nodes.len())
            .filter(|&j| j != i && self.nodes[j].driver.is_some() && !self.partitioned(i, j))
            .max_by_key(|&j| self.nodes[j].chain.next_height())
        else {
            return;
        };
        let theirs = self.nodes[from].chain.inner.ledger.lock().clone();
        if theirs.len() <= mine {
            return;
        }
        let blocks: Vec<DecodedBlock> = theirs[mine..].iter().take(SYNC_BATCH).cloned().collect();
        let d = self.rng.range(self.cfg.delay_ms.0, self.cfg.delay_ms.1);
        let at = self.now() + d;
        self.push(
            at,
            Ev::SyncBlocks {
                to: i,
                from,
                blocks,
            },
        );
    }

    fn on_sync_blocks(&mut self, to: usize, from: usize, blocks: Vec<DecodedBlock>) {
        if self.nodes[to].driver.is_none() {
            return;
        }
        for block in blocks {
            // The certificate is checked against this node's own config: a peer is never
            // trusted.
            match self.nodes[to]
                .chain
                .commit(block, None, CommitMode::Decided)
            {
                Ok(Some(c)) => {
                    self.synced += 1;
                    self.committed(to, &c);
                }
                Ok(None) => {}
                Err(e) => {
                    if self.honest(from) {
                        self.violations.push(format!(
                            "node {to} refused a synced block from honest node {from}: {e}"
                        ));
                    }
                    return;
                }
            }
        }
    }

    fn done(&self) -> bool {
        // Nodes still due to come back must catch up too.
        let last_restart = self
            .cfg
            .crashes
            .iter()
            .filter_map(|(_, _, r)| *r)
            .max()
            .unwrap_or(0);
        self.now() >= last_restart
            && (0..self.nodes.len())
                .filter(|&i| self.honest(i) && self.nodes[i].driver.is_some())
                .all(|i| self.nodes[i].chain.next_height() > self.cfg.heights)
    }

    fn run(&mut self) {
        for i in 0..self.nodes.len() {
            self.start_node(i);
        }
        for (node, at, restart) in self.cfg.crashes.clone() {
            self.push(at, Ev::Crash { node });
            if let Some(r) = restart {
                self.push(r, Ev::Restart { node });
            }
        }
        while let Some(Reverse((at, key))) = self.queue.pop() {
            if at > self.cfg.max_time_ms {
                break;
            }
            self.clock.store(at, Ordering::Relaxed);
            let Some(e) = self.events.remove(&key) else {
                continue;
            };
            self.step(e);
            if self.done() {
                break;
            }
        }
    }

    fn live(&self, node: usize, epoch: u32) -> bool {
        self.nodes[node].epoch == epoch && self.nodes[node].driver.is_some()
    }

    fn step(&mut self, e: Ev) {
        match e {
            Ev::Deliver { to, from, bytes } => {
                // A partition also cuts what was in flight.
                if self.nodes[to].driver.is_none() || self.partitioned(from, to) {
                    return;
                }
                let fx = self.nodes[to].driver.as_mut().map(|d| d.on_message(&bytes));
                self.apply(to, fx.unwrap_or_default());
            }
            Ev::Timer { node, epoch, timer } => {
                if self.live(node, epoch) {
                    let fx = self.nodes[node].driver.as_mut().map(|d| d.on_timer(timer));
                    self.apply(node, fx.unwrap_or_default());
                }
            }
            Ev::Built {
                node,
                epoch,
                height,
                round,
                result,
            } => {
                if self.live(node, epoch) {
                    let fx = self.nodes[node]
                        .driver
                        .as_mut()
                        .map(|d| d.on_built(height, round, result.map(|b| b.map(|b| (*b, ())))));
                    self.apply(node, fx.unwrap_or_default());
                }
            }
            Ev::Checked {
                node,
                epoch,
                id,
                result,
            } => {
                if self.live(node, epoch) {
                    let fx = self.nodes[node]
                        .driver
                        .as_mut()
                        .map(|d| d.on_checked(id, result));
                    self.apply(node, fx.unwrap_or_default());
                }
            }
            Ev::Tick { node, epoch } => {
                if self.live(node, epoch) {
                    let now = self.now();
                    let fx = self.nodes[node].driver.as_mut().map(|d| d.tick(now));
                    self.apply(node, fx.unwrap_or_default());
                    self.push(now + TICK_MS, Ev::Tick { node, epoch });
                }
            }
            Ev::SyncTick { node, epoch } => {
                if self.live(node, epoch) {
                    self.sync(node);
                    let now = self.now();
                    self.push(now + SYNC_EVERY_MS, Ev::SyncTick { node, epoch });
                }
            }
            Ev::SyncBlocks { to, from, blocks } => self.on_sync_blocks(to, from, blocks),
            Ev::Crash { node } => {
                if let Some(d) = self.nodes[node].driver.take() {
                    self.nodes[node].journal = d.into_journal();
                }
                self.nodes[node].epoch += 1;
            }
            Ev::Restart { node } => {
                if self.nodes[node].driver.is_none() {
                    self.start_node(node);
                }
            }
        }
    }
}

/// Run a scenario.
pub fn run(cfg: DriverSimConfig) -> Result<DriverSimReport, String> {
    let (keys, config) = validators(cfg.validators)?;
    let config = Arc::new(config);
    let genesis = genesis()?;
    let clock = Arc::new(AtomicU64::new(0));
    let nodes = keys
        .into_iter()
        .enumerate()
        .map(|(i, keys)| {
            let fault = cfg.faulty.iter().find(|(n, _)| *n == i).map(|(_, f)| *f);
            SimNode {
                chain: SimChain {
                    inner: Arc::new(SimChainInner {
                        config: config.clone(),
                        node: keys.clone(),
                        invalid_blocks: fault == Some(Fault::InvalidBlocks),
                        ledger: Mutex::new(vec![genesis.clone()]),
                        clock: clock.clone(),
                    }),
                },
                keys,
                driver: None,
                journal: MemJournal::default(),
                epoch: 0,
                fault,
            }
        })
        .collect();
    let mut sim = Sim {
        rng: Rng::new(cfg.seed),
        cfg,
        clock,
        seq: 0,
        queue: BinaryHeap::new(),
        events: HashMap::new(),
        nodes,
        signed: HashMap::new(),
        chosen: BTreeMap::new(),
        first_committed: BTreeMap::new(),
        violations: Vec::new(),
        messages: 0,
        synced: 0,
    };
    sim.run();
    Ok(DriverSimReport {
        ledgers: sim.nodes.iter().map(|n| n.chain.hashes()).collect(),
        time_ms: sim.now(),
        messages: sim.messages,
        synced: sim.synced,
        first_committed: sim.first_committed,
        violations: sim.violations,
    })
}

/// Check a run: no violations, honest ledgers agree at every height, and every honest node
/// running at the end reached the target height (`running` lists them).
pub fn check(cfg: &DriverSimConfig, r: &DriverSimReport) -> Result<(), String> {
    if !r.violations.is_empty() {
        return Err(format!("safety violations: {:?}", r.violations));
    }
    let honest: Vec<usize> = (0..cfg.validators)
        .filter(|i| !cfg.faulty.iter().any(|(n, _)| n == i))
        .collect();
    let longest = honest
        .iter()
        .map(|&i| r.ledgers[i].len())
        .max()
        .unwrap_or(0);
    for h in 0..longest {
        let mut at: Vec<&Hash> = honest.iter().filter_map(|&i| r.ledgers[i].get(h)).collect();
        at.dedup();
        if at.len() > 1 {
            return Err(format!(
                "height {} differs between honest nodes: {at:?}",
                h + 1
            ));
        }
    }
    for &(from, to) in &cfg.quiet {
        if let Some((h, t)) = r
            .first_committed
            .iter()
            .find(|(_, t)| **t > from && **t < to)
        {
            return Err(format!(
                "height {h} was first committed at {t} ms while no quorum could talk \
                 ({from}..{to} ms)"
            ));
        }
    }
    let down_at_end: Vec<usize> = cfg
        .crashes
        .iter()
        .filter(|(_, _, restart)| restart.is_none())
        .map(|(n, _, _)| *n)
        .collect();
    for &i in &honest {
        if down_at_end.contains(&i) {
            continue;
        }
        if (r.ledgers[i].len() as u64) < cfg.heights {
            return Err(format!(
                "no progress: node {i} reached height {} of {} in {} ms",
                r.ledgers[i].len(),
                cfg.heights,
                r.time_ms
            ));
        }
    }
    Ok(())
}

/// The standard scenarios of the driver, each under `seed`.
pub fn scenarios(seed: u64) -> Vec<(&'static str, DriverSimConfig)> {
    let base = |n: usize| DriverSimConfig::new(n, seed);
    let mut out = Vec::new();
    out.push(("4 honest", base(4)));
    let mut c = base(4);
    c.drop_per_mille = 150;
    c.delay_ms = (5, 300);
    out.push(("lossy slow network", c));
    let mut c = base(4);
    c.heights = 60;
    c.partitions = vec![Partition {
        from_ms: 1_000,
        to_ms: 12_000,
        groups: vec![vec![0, 1], vec![2, 3]],
    }];
    // A round's timeouts after the cut, votes from before it can no longer complete.
    c.quiet = vec![(3_000, 12_000)];
    out.push(("2|2 partition heals", c));
    let mut c = base(4);
    c.partitions = vec![Partition {
        from_ms: 0,
        to_ms: 10_000,
        groups: vec![vec![0, 1, 2], vec![3]],
    }];
    out.push(("3|1 partition, the one catches up by sync", c));
    let mut c = base(4);
    c.heights = 20;
    c.crashes = vec![(2, 500, Some(6_000))];
    out.push(("1 of 4 crashes and restarts", c));
    let mut c = base(4);
    c.heights = 30;
    c.crashes = vec![(1, 1_000, Some(9_000)), (3, 1_000, Some(10_000))];
    c.quiet = vec![(3_000, 9_000)];
    out.push(("2 of 4 crash: halt, then resume", c));
    let mut c = base(4);
    c.heights = 20;
    c.drop_per_mille = 150;
    c.crashes = vec![(1, 1_500, None)];
    // Validators locked on the crashed one's block must take it re-proposed by another.
    out.push(("1 of 4 crashes for good on a lossy network", c));
    let mut c = base(4);
    c.faulty = vec![(3, Fault::Silent)];
    out.push(("silent validator", c));
    let mut c = base(4);
    c.faulty = vec![(0, Fault::InvalidBlocks)];
    out.push(("validator proposing invalid blocks", c));
    let mut c = base(7);
    c.faulty = vec![(2, Fault::Silent), (5, Fault::InvalidBlocks)];
    c.drop_per_mille = 50;
    out.push(("7 with 2 faulty and loss", c));
    out
}
