//! The multi-chain host: every chain of the config with isolated storage, pool and consensus,
//! and (for chains with peers) the node's network.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use covenant_chain::{Chain, ChainOptions, Executor, txpool::PoolLimits};
use covenant_consensus::{
    Engine, NodeKeys,
    tbft::{FileJournal, TbftDriver, Timeouts},
};
use covenant_crypto::{Hash, PrivateKey};
use covenant_net::{ChainLink, NetConfig, Network, NodeIdentity, sync::SyncState};
use covenant_pki::Certificate;
use covenant_storage::VerifyMode;
use covenant_types::block::DecodedBlock;
use covenant_vm::Vm;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::{
    NodeError,
    admission::ChainAdmission,
    config::NodeConfig,
    links::{self, ChainNet, NetChain},
};

/// How often expired transactions leave every chain's pool.
const EVICT_EVERY: Duration = Duration::from_secs(10);

/// The chains this node hosts.
pub struct Node {
    pub config: NodeConfig,
    chains: BTreeMap<String, Chain>,
    certificate: Certificate,
    key: PrivateKey,
    producers: parking_lot::Mutex<Vec<(Arc<AtomicBool>, JoinHandle<()>)>>,
    network: OnceLock<Network>,
    /// What each networked chain knows of its peers' progress.
    syncs: parking_lot::Mutex<BTreeMap<String, Arc<SyncState>>>,
    stop: watch::Sender<bool>,
    /// Why the node must stop (a chain halted), once it must.
    halted: watch::Sender<Option<String>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("chains", &self.chains.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Read a genesis block file.
pub fn read_genesis(path: &std::path::Path) -> Result<DecodedBlock, NodeError> {
    let bytes =
        std::fs::read(path).map_err(|e| NodeError::Config(format!("{}: {e}", path.display())))?;
    covenant_chain::genesis::decode(&bytes)
        .map_err(|e| NodeError::Config(format!("{}: {e}", path.display())))
}

impl Node {
    /// Open every chain of `config`. `verify_all` checks every block at start-up.
    pub fn open(config: NodeConfig, verify_all: bool) -> Result<Arc<Self>, NodeError> {
        let cert_path = config.resolve(&config.node.cert);
        let key_path = config.resolve(&config.node.key);
        let cert = Certificate::load(&cert_path)
            .map_err(|e| NodeError::Config(format!("node certificate: {e}")))?;
        let key_pem = std::fs::read_to_string(&key_path)
            .map_err(|e| NodeError::Config(format!("{}: {e}", key_path.display())))?;
        let key = PrivateKey::from_pkcs8_pem(&key_pem)
            .map_err(|e| NodeError::Config(format!("{}: {e}", key_path.display())))?;
        let cert_key = cert
            .public_key()
            .map_err(|e| NodeError::Config(format!("node certificate: {e}")))?;
        if &cert_key != key.public_key() {
            return Err(NodeError::Config(format!(
                "{} does not hold the key of {}",
                key_path.display(),
                cert_path.display()
            )));
        }
        let vm = Vm::new().map_err(|e| NodeError::Config(e.to_string()))?;
        let data = config.resolve(&config.node.data_dir);
        let mut chains = BTreeMap::new();
        for section in &config.chains {
            let genesis = read_genesis(&config.resolve(&section.genesis))?;
            if genesis.header.chain_id != section.id {
                return Err(NodeError::Config(format!(
                    "the genesis block of chain {} is for chain {}",
                    section.id, genesis.header.chain_id
                )));
            }
            let gconfig = covenant_chain::genesis::config_of(&genesis)?;
            let kind = gconfig
                .consensus
                .as_ref()
                .map(|c| c.kind.clone())
                .unwrap_or_default();
            let suite = covenant_types::config::ChainConfigExt::suite(&gconfig)?;
            suite
                .check_key_algorithm(key.algorithm())
                .map_err(|e| NodeError::Config(format!("chain {}: node key: {e}", section.id)))?;
            let node_id = suite.hash(cert.der()).0.to_vec();
            match kind.as_str() {
                "solo" | "tbft" | "raft" => {}
                other => {
                    return Err(NodeError::Config(format!(
                        "chain {} uses {other} consensus, which this node does not run",
                        section.id
                    )));
                }
            }
            let options = ChainOptions {
                genesis: Some(genesis),
                verify: if verify_all || section.verify_blocks == 0 {
                    VerifyMode::All
                } else {
                    VerifyMode::Recent(section.verify_blocks)
                },
                node_key: key.clone(),
                node_id: node_id.clone(),
                pool: PoolLimits {
                    max_txs: section
                        .pool_max_txs
                        .unwrap_or(PoolLimits::default().max_txs),
                    ..Default::default()
                },
            };
            let chain = Chain::open(
                &data.join("chains").join(&section.id),
                options,
                Executor::new(vm.clone()),
            )?;
            // A solo chain's one node (or a sync node of it) must be in the chain's config as
            // it stands now: a node whose certificate a config update replaced runs with the
            // new one.
            let listed = |nodes: &[covenant_types::ConsensusNode]| {
                nodes.iter().any(|n| n.certificate == cert.der())
            };
            if kind == "solo"
                && !chain
                    .config()
                    .consensus
                    .as_ref()
                    .is_some_and(|c| listed(&c.nodes) || listed(&c.sync_nodes))
            {
                return Err(NodeError::Config(format!(
                    "this node's certificate is not a node of solo chain {}",
                    section.id
                )));
            }
            // Archives moved to the directory node.toml now names are read from there.
            let archive_dir = config.archive_dir(&section.id);
            match chain.store().adopt_archive_dir(&archive_dir) {
                Ok(Some(was)) => info!(
                    chain = %section.id,
                    from = %was.display(),
                    to = %archive_dir.display(),
                    "the chain's archives are read from the configured directory now"
                ),
                Ok(None) => {}
                Err(e) => warn!(
                    chain = %section.id,
                    error = %e,
                    code = e.code(),
                    "the chain's archives are still read from where they were written; move every archive file to the configured directory to change that"
                ),
            }
            info!(chain = %section.id, consensus = %kind, height = ?chain.store().height(), "chain open");
            chains.insert(section.id.clone(), chain);
        }
        let (stop, _) = watch::channel(false);
        let (halted, _) = watch::channel(None);
        Ok(Arc::new(Node {
            config,
            chains,
            certificate: cert,
            key,
            producers: parking_lot::Mutex::new(Vec::new()),
            network: OnceLock::new(),
            syncs: parking_lot::Mutex::new(BTreeMap::new()),
            stop,
            halted,
        }))
    }

    /// Whether any chain needs the node-to-node network.
    fn needs_network(&self) -> bool {
        self.config.node.peer_listen.is_some()
            || self.chains.values().any(|c| c.engine() != Engine::Solo)
            || self
                .chains
                .values()
                .any(|c| links::peer_targets(c).len() > 1)
    }

    /// This node's identity on `chain`.
    fn keys(&self, chain: &Chain) -> NodeKeys {
        NodeKeys {
            id: self.node_id(chain),
            certificate: Arc::new(self.certificate.der().to_vec()),
            key: self.key.clone(),
        }
    }

    /// Start the Solo producer of `chain` if this node is its Solo node.
    fn start_producer(&self, chain: &Chain) -> Result<(), NodeError> {
        if chain.engine() != Engine::Solo || !links::is_validator(chain, self.certificate.der()) {
            return Ok(());
        }
        let flag = Arc::new(AtomicBool::new(false));
        let handle = covenant_consensus::solo::start(chain.clone(), self.keys(chain), flag.clone())
            .map_err(|e| {
                NodeError::Start(format!(
                    "cannot start the block producer of chain {}: {e}",
                    chain.id()
                ))
            })?;
        self.producers.lock().push((flag, handle));
        Ok(())
    }

    /// Watch every chain for a halt (the node then stops), and drop expired transactions.
    fn start_watchers(self: &Arc<Self>) {
        for chain in self.chains.values() {
            let mut halted = chain.halted();
            let node = self.clone();
            let id = chain.id().to_string();
            tokio::spawn(async move {
                loop {
                    if let Some(reason) = halted.borrow().clone() {
                        node.halted.send_if_modified(|h| {
                            if h.is_none() {
                                *h = Some(format!("chain {id}: {reason}"));
                                true
                            } else {
                                false
                            }
                        });
                        return;
                    }
                    if halted.changed().await.is_err() {
                        return;
                    }
                }
            });
        }
        let chains: Vec<Chain> = self.chains.values().cloned().collect();
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVICT_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                for c in &chains {
                    let c = c.clone();
                    let n = tokio::task::spawn_blocking(move || c.evict_expired())
                        .await
                        .unwrap_or(0);
                    if n > 0 {
                        warn!(evicted = n, "expired transactions left the pool");
                    }
                }
            }
        });
    }

    /// Why the node must stop, once a chain halted.
    pub fn halted(&self) -> watch::Receiver<Option<String>> {
        self.halted.subscribe()
    }

    /// Start each chain's consensus (and the network, if a chain has peers).
    pub async fn start(self: &Arc<Self>) -> Result<(), NodeError> {
        self.start_watchers();
        if !self.needs_network() {
            for chain in self.chains.values() {
                self.start_producer(chain)?;
            }
            return Ok(());
        }
        let identity = NodeIdentity::new(self.certificate.clone(), self.key.clone())
            .map_err(|e| NodeError::Config(e.to_string()))?;
        let net_config = NetConfig {
            listen: self.config.node.peer_listen.clone(),
            advertise: self.config.node.peer_advertise.clone(),
            source: self.config.node.peer_source,
            ..Default::default()
        };
        let admission = Arc::new(ChainAdmission::new(self.chains.clone()));
        let net = Network::start(identity, net_config, admission)
            .await
            .map_err(|e| match e {
                covenant_net::NetError::Listen { address, detail } => NodeError::Bind {
                    addr: address,
                    source: std::io::Error::new(
                        if detail.contains("in use") {
                            std::io::ErrorKind::AddrInUse
                        } else {
                            std::io::ErrorKind::Other
                        },
                        detail,
                    ),
                },
                e => NodeError::Config(e.to_string()),
            })?;
        let _ = self.network.set(net.clone());
        let inbound: BTreeMap<String, _> = self
            .chains
            .keys()
            .map(|id| (id.clone(), net.join(id)))
            .collect();
        let tbft = &self.config.tbft;
        let timeouts = Timeouts {
            propose: Duration::from_millis(tbft.propose_ms),
            prevote: Duration::from_millis(tbft.vote_ms),
            precommit: Duration::from_millis(tbft.vote_ms),
            per_round: Duration::from_millis(tbft.per_round_ms),
        };
        let data = self.config.resolve(&self.config.node.data_dir);
        let certificate = Arc::new(self.certificate.der().to_vec());
        for (id, rx) in inbound {
            let Some(chain) = self.chains.get(&id).cloned() else {
                continue;
            };
            let sync = SyncState::new();
            self.syncs.lock().insert(id.clone(), sync.clone());
            let link = ChainLink {
                ledger: NetChain {
                    chain: chain.clone(),
                    certificate: certificate.clone(),
                },
                net: net.clone(),
                sync: sync.clone(),
                stop: self.stop.subscribe(),
            };
            let chain_net = ChainNet {
                net: net.clone(),
                chain_id: id.clone(),
                sync,
                chain: chain.clone(),
            };
            if !links::is_validator(&chain, &certificate)
                && !chain.config().consensus.as_ref().is_some_and(|c| {
                    c.sync_nodes
                        .iter()
                        .any(|n| n.certificate == self.certificate.der())
                })
            {
                warn!(chain = %id, "this node is not in the chain's config yet: peers will refuse it until a config update adds it");
            }
            let (consensus, raft) = match chain.engine() {
                Engine::Tbft => {
                    let path = data.join("chains").join(&id).join("tbft.wal");
                    // Without its journal a validator could sign twice after a restart: it
                    // does not run at all.
                    let journal = FileJournal::open(&path).map_err(|e| {
                        NodeError::Start(format!(
                            "chain {id}: cannot open the consensus journal {}: {e}",
                            path.display()
                        ))
                    })?;
                    let driver =
                        TbftDriver::new(chain.clone(), self.keys(&chain), journal, timeouts);
                    let (tx, crx) = mpsc::channel(16_384);
                    tokio::spawn(covenant_consensus::tbft::runtime::run(
                        driver,
                        chain.clone(),
                        chain_net.clone(),
                        crx,
                        self.stop.subscribe(),
                    ));
                    (Some(tx), None)
                }
                Engine::Raft => {
                    let (tx, rrx) = mpsc::channel(16_384);
                    let dir = data.join("chains").join(&id).join("raft");
                    tokio::spawn(covenant_consensus::raft::driver::run(
                        chain.clone(),
                        chain_net.clone(),
                        self.keys(&chain),
                        dir,
                        rrx,
                        self.stop.subscribe(),
                    ));
                    (None, Some(tx))
                }
                Engine::Solo => {
                    // The producer thread orders; peers are sync nodes.
                    self.start_producer(&chain)?;
                    (None, None)
                }
            };
            tokio::spawn(links::route(
                link.clone(),
                rx,
                consensus,
                raft,
                self.stop.subscribe(),
            ));
            tokio::spawn(covenant_net::gossip::send(link.clone()));
            #[cfg(feature = "misbehave")]
            if covenant_consensus::misbehave::Misbehave::global().replays() {
                tokio::spawn(links::replay_transactions(link.clone()));
            }
            tokio::spawn(covenant_net::sync::announce(link.clone()));
            tokio::spawn(covenant_net::sync::follow(link.clone()));
            tokio::spawn(watch_membership(link.clone()));
            net.set_peers(&id, &links::peer_targets(&chain));
        }
        Ok(())
    }

    /// Stop producing and wait for the producers to finish their current block.
    pub fn stop(&self) {
        self.stop.send_replace(true);
        for (flag, _) in self.producers.lock().iter() {
            flag.store(true, Ordering::Relaxed);
        }
        for chain in self.chains.values() {
            chain.stop();
        }
        for (_, h) in self.producers.lock().drain(..) {
            let _ = h.join();
        }
        if let Some(n) = self.network.get() {
            n.shutdown();
        }
    }

    pub fn chain(&self, id: &str) -> Option<&Chain> {
        self.chains.get(id)
    }

    pub fn chains(&self) -> impl Iterator<Item = (&String, &Chain)> {
        self.chains.iter()
    }

    /// The node's network, once started (chains with peers).
    /// What chain `id` knows of its peers' progress (none for a chain without peers).
    pub fn sync_state(&self, id: &str) -> Option<Arc<SyncState>> {
        self.syncs.lock().get(id).cloned()
    }

    /// Whether this node votes on `chain` under its current config.
    pub fn votes_on(&self, chain: &Chain) -> bool {
        links::is_validator(chain, self.certificate.der())
    }

    pub fn network(&self) -> Option<&Network> {
        self.network.get()
    }

    /// This node's id on a chain (the chain suite's hash of its node certificate).
    pub fn node_id(&self, chain: &Chain) -> Hash {
        chain.suite().hash(self.certificate.der())
    }
}

/// After a block changes the chain's membership (config, revocations, freezes), tell the
/// network whom to dial and re-check every connected peer.
async fn watch_membership(link: ChainLink<NetChain>) {
    let chain = link.ledger.chain.clone();
    let mut blocks = chain.subscribe();
    let mut stop = link.stop.clone();
    let mut current = chain.membership();
    loop {
        tokio::select! {
            r = blocks.recv() => {
                if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            _ = stop.changed() => return,
        }
        let m = chain.membership();
        if !Arc::ptr_eq(&m, &current) {
            current = m;
            info!(
                chain = chain.id(),
                version = current.config().version,
                "membership changed: re-checking peers"
            );
            link.net.set_peers(chain.id(), &links::peer_targets(&chain));
            link.net.readmit(chain.id());
        }
    }
}
