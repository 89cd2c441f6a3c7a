//! The multi-chain host: every chain of the config with isolated storage, pool and consensus,
//! and (for chains with peers) the node's network.

use std::{
    collections::BTreeMap,
    sync::{Arc, OnceLock},
    thread::JoinHandle,
    time::Duration,
};

use covenant_chain::{Chain, ChainOptions, Executor, txpool::PoolLimits};
use covenant_consensus::{
    Consensus, Solo,
    raft::RaftCertificates,
    tbft::{TbftCertificates, Timeouts},
};
use covenant_crypto::{Hash, PrivateKey};
use covenant_net::{NetConfig, Network, NodeIdentity};
use covenant_pki::Certificate;
use covenant_storage::VerifyMode;
use covenant_types::block::DecodedBlock;
use covenant_vm::Vm;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::{
    NodeError,
    config::NodeConfig,
    engine::{self, ChainContext, admission::ChainAdmission},
};

/// The chains this node hosts.
pub struct Node {
    pub config: NodeConfig,
    chains: BTreeMap<String, Chain>,
    kinds: BTreeMap<String, String>,
    certificate: Certificate,
    key: PrivateKey,
    producers: parking_lot::Mutex<Vec<JoinHandle<()>>>,
    network: OnceLock<Network>,
    stop: watch::Sender<bool>,
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
        let mut kinds = BTreeMap::new();
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
            let listed = |nodes: &[covenant_types::ConsensusNode]| {
                nodes.iter().any(|n| n.certificate == cert.der())
            };
            match kind.as_str() {
                "solo" => {
                    if !gconfig
                        .consensus
                        .as_ref()
                        .is_some_and(|c| listed(&c.nodes) || listed(&c.sync_nodes))
                    {
                        return Err(NodeError::Config(format!(
                            "this node's certificate is not a node of solo chain {}",
                            section.id
                        )));
                    }
                }
                "tbft" | "raft" => {}
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
            let engine_key = key.clone();
            let engine_kind = kind.clone();
            let chain = Chain::open(
                &data.join("chains").join(&section.id),
                options,
                Executor::new(vm.clone()),
                move |suite, _| -> Box<dyn Consensus> {
                    match engine_kind.as_str() {
                        "tbft" => Box::new(TbftCertificates::new(suite)),
                        "raft" => Box::new(RaftCertificates::new(suite)),
                        _ => Box::new(Solo::new(suite, engine_key, node_id)),
                    }
                },
            )?;
            info!(chain = %section.id, consensus = %kind, height = ?chain.store().height(), "chain open");
            chains.insert(section.id.clone(), chain);
            kinds.insert(section.id.clone(), kind);
        }
        let (stop, _) = watch::channel(false);
        Ok(Arc::new(Node {
            config,
            chains,
            kinds,
            certificate: cert,
            key,
            producers: parking_lot::Mutex::new(Vec::new()),
            network: OnceLock::new(),
            stop,
        }))
    }

    /// Whether any chain needs the node-to-node network.
    fn needs_network(&self) -> bool {
        self.config.node.peer_listen.is_some()
            || self.kinds.values().any(|k| k != "solo")
            || self
                .chains
                .values()
                .any(|c| engine::peer_targets(c).len() > 1)
    }

    /// Start each chain's consensus (and the network, if a chain has peers).
    pub async fn start(self: &Arc<Self>) -> Result<(), NodeError> {
        if !self.needs_network() {
            let mut p = self.producers.lock();
            for chain in self.chains.values() {
                p.push(chain.start());
            }
            return Ok(());
        }
        let identity = NodeIdentity::new(self.certificate.clone(), self.key.clone())
            .map_err(|e| NodeError::Config(e.to_string()))?;
        let net_config = NetConfig {
            listen: self.config.node.peer_listen.clone(),
            advertise: self.config.node.peer_advertise.clone(),
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
        for (id, rx) in inbound {
            let Some(chain) = self.chains.get(&id).cloned() else {
                continue;
            };
            let kind = self.kinds.get(&id).cloned().unwrap_or_default();
            let suite = chain.suite();
            let ctx = ChainContext {
                chain: chain.clone(),
                net: net.clone(),
                node_id: suite.hash(self.certificate.der()),
                node_cert: Arc::new(self.certificate.der().to_vec()),
                key: self.key.clone(),
                stop: self.stop.subscribe(),
                sync: engine::sync::state(),
            };
            if !ctx.is_validator()
                && !chain.config().consensus.as_ref().is_some_and(|c| {
                    c.sync_nodes
                        .iter()
                        .any(|n| n.certificate == self.certificate.der())
                })
            {
                warn!(chain = %id, "this node is not in the chain's config yet: peers will refuse it until a config update adds it");
            }
            let (consensus, raft) = match kind.as_str() {
                "tbft" => {
                    let (tx, crx) = mpsc::channel(16_384);
                    let journal = data.join("chains").join(&id).join("tbft.wal");
                    tokio::spawn(engine::tbft::run(ctx.clone(), crx, journal, timeouts));
                    (Some(tx), None)
                }
                "raft" => {
                    let (tx, rrx) = mpsc::channel(16_384);
                    let dir = data.join("chains").join(&id).join("raft");
                    tokio::spawn(engine::raft::run(ctx.clone(), rrx, dir));
                    (None, Some(tx))
                }
                _ => {
                    // Solo: the producer thread orders; peers are sync nodes.
                    if ctx.is_validator() {
                        self.producers.lock().push(chain.start());
                    }
                    (None, None)
                }
            };
            tokio::spawn(engine::route(ctx.clone(), rx, consensus, raft));
            tokio::spawn(engine::gossip::send(ctx.clone()));
            tokio::spawn(engine::sync::announce(ctx.clone()));
            tokio::spawn(engine::sync::follow(ctx.clone()));
            tokio::spawn(watch_membership(ctx.clone()));
            net.set_peers(&id, &engine::peer_targets(&chain));
        }
        Ok(())
    }

    /// Stop producing and wait for the producers to finish their current block.
    pub fn stop(&self) {
        self.stop.send_replace(true);
        for chain in self.chains.values() {
            chain.stop();
        }
        for h in self.producers.lock().drain(..) {
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
async fn watch_membership(ctx: ChainContext) {
    let mut blocks = ctx.chain.subscribe();
    let mut stop = ctx.stop.clone();
    let mut current = ctx.chain.membership();
    loop {
        tokio::select! {
            r = blocks.recv() => {
                if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            _ = stop.changed() => return,
        }
        let m = ctx.chain.membership();
        if !Arc::ptr_eq(&m, &current) {
            current = m;
            info!(
                chain = ctx.chain.id(),
                version = current.config().version,
                "membership changed: re-checking peers"
            );
            ctx.net
                .set_peers(ctx.chain.id(), &engine::peer_targets(&ctx.chain));
            ctx.net.readmit(ctx.chain.id());
        }
    }
}
