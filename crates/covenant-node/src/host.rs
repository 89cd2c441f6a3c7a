//! The multi-chain host: every chain of the config with isolated storage, pool and producer.

use std::{collections::BTreeMap, sync::Arc, thread::JoinHandle};

use covenant_chain::{Chain, ChainOptions, Executor, txpool::PoolLimits};
use covenant_consensus::Solo;
use covenant_crypto::PrivateKey;
use covenant_pki::Certificate;
use covenant_storage::VerifyMode;
use covenant_types::block::DecodedBlock;
use covenant_vm::Vm;
use tracing::info;

use crate::{NodeError, config::NodeConfig};

/// The chains this node hosts.
pub struct Node {
    pub config: NodeConfig,
    chains: BTreeMap<String, Chain>,
    producers: parking_lot::Mutex<Vec<JoinHandle<()>>>,
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
            if kind != "solo" {
                return Err(NodeError::Config(format!(
                    "chain {} uses {kind} consensus, which this node does not run yet",
                    section.id
                )));
            }
            let suite = covenant_types::config::ChainConfigExt::suite(&gconfig)?;
            suite
                .check_key_algorithm(key.algorithm())
                .map_err(|e| NodeError::Config(format!("chain {}: node key: {e}", section.id)))?;
            let node_id = suite.hash(cert.der()).0.to_vec();
            let listed = gconfig
                .consensus
                .as_ref()
                .is_some_and(|c| c.nodes.iter().any(|n| n.certificate == cert.der()));
            if !listed {
                return Err(NodeError::Config(format!(
                    "this node's certificate is not a consensus node of chain {}",
                    section.id
                )));
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
            let solo_key = key.clone();
            let chain = Chain::open(
                &data.join("chains").join(&section.id),
                options,
                Executor::new(vm.clone()),
                move |suite, _| Box::new(Solo::new(suite, solo_key, node_id)),
            )?;
            info!(chain = %section.id, height = ?chain.store().height(), "chain open");
            chains.insert(section.id.clone(), chain);
        }
        Ok(Arc::new(Node {
            config,
            chains,
            producers: parking_lot::Mutex::new(Vec::new()),
        }))
    }

    /// Start each chain's block producer.
    pub fn start(&self) {
        let mut p = self.producers.lock();
        for chain in self.chains.values() {
            p.push(chain.start());
        }
    }

    /// Stop producing and wait for the producers to finish their current block.
    pub fn stop(&self) {
        for chain in self.chains.values() {
            chain.stop();
        }
        for h in self.producers.lock().drain(..) {
            let _ = h.join();
        }
    }

    pub fn chain(&self, id: &str) -> Option<&Chain> {
        self.chains.get(id)
    }

    pub fn chains(&self) -> impl Iterator<Item = (&String, &Chain)> {
        self.chains.iter()
    }
}
