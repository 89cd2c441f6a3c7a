//! The node's configuration file (TOML).
//!
//! ```toml
//! [node]
//! name = "node1"
//! data_dir = "data"                 # relative paths are relative to this file
//! api_listen = "127.0.0.1:7070"     # REST/JSON, WebSocket, /metrics, /healthz, /openapi.json
//! grpc_listen = "127.0.0.1:7071"    # optional
//! cert = "node/cert.pem"            # the node's certificate (role node)
//! key = "node/key.pem"
//! peer_listen = "127.0.0.1:7051"    # node-to-node TLS; needed for raft/tbft chains
//! peer_advertise = "10.0.0.5:7051"  # optional: the address peers dial, if not peer_listen
//! peer_source = "10.0.0.5"          # optional: the local address connections to peers leave from
//!
//! [api]                             # optional: client connection bounds (defaults shown)
//! max_connections = 1024            # per listener, never above its share of descriptors
//! header_read_ms = 10000            # time a client has to send a request's headers
//! idle_ms = 30000                   # an idle client connection is closed after this
//!
//! [tbft]                            # optional: round timeouts (defaults shown)
//! propose_ms = 3000
//! vote_ms = 1000
//! per_round_ms = 500
//!
//! [archive]                       # optional: where old block bodies go (defaults shown)
//! dir = "data/archive"              # local or any mounted storage; one folder per chain
//! min_age_secs = 604800             # only blocks older than this are archived (7 days)
//!
//! [[chains]]
//! id = "main"
//! genesis = "genesis.block"
//! verify_blocks = 100               # blocks checked at start-up; 0 = all
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::NodeError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    pub name: String,
    pub data_dir: PathBuf,
    pub api_listen: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_listen: Option<String>,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Where to accept connections from other nodes (TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_listen: Option<String>,
    /// The address other nodes should dial, if not `peer_listen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_advertise: Option<String>,
    /// The local address connections to other nodes leave from (default: the system's
    /// choice for the route), for hosts with several addresses whose peers allow one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_source: Option<std::net::IpAddr>,
    /// The log filter when RUST_LOG is not set (`info` by default; `debug`,
    /// `info,covenant_consensus=debug`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// Bounds on the API's client connections (see `covenant_api::server`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    #[serde(default = "default_header_read_ms")]
    pub header_read_ms: u64,
    #[serde(default = "default_idle_ms")]
    pub idle_ms: u64,
}

fn default_max_connections() -> usize {
    1024
}

fn default_header_read_ms() -> u64 {
    10_000
}

fn default_idle_ms() -> u64 {
    30_000
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            max_connections: default_max_connections(),
            header_read_ms: default_header_read_ms(),
            idle_ms: default_idle_ms(),
        }
    }
}

/// TBFT round timeouts. They do not affect safety, only how fast a round without progress
/// is given up; every validator should use similar values.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TbftSection {
    /// Wait for the round's proposal.
    #[serde(default = "default_propose_ms")]
    pub propose_ms: u64,
    /// Wait for more votes once a quorum voted, before voting nil.
    #[serde(default = "default_vote_ms")]
    pub vote_ms: u64,
    /// Added to every timeout per round without a decision.
    #[serde(default = "default_per_round_ms")]
    pub per_round_ms: u64,
}

fn default_propose_ms() -> u64 {
    3000
}

fn default_vote_ms() -> u64 {
    1000
}

fn default_per_round_ms() -> u64 {
    500
}

impl Default for TbftSection {
    fn default() -> Self {
        TbftSection {
            propose_ms: default_propose_ms(),
            vote_ms: default_vote_ms(),
            per_round_ms: default_per_round_ms(),
        }
    }
}

/// Archiving old block bodies (`covenant node archive`): where to and how old they must be.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveSection {
    /// The archive directory (default: `archive` in the data directory); each chain's files
    /// go to a folder of its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Blocks younger than this are never archived.
    #[serde(default = "default_min_age_secs")]
    pub min_age_secs: u64,
}

fn default_min_age_secs() -> u64 {
    7 * 24 * 3600
}

impl Default for ArchiveSection {
    fn default() -> Self {
        ArchiveSection {
            dir: None,
            min_age_secs: default_min_age_secs(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSection {
    pub id: String,
    pub genesis: PathBuf,
    /// Recent blocks verified at start-up (0: all).
    #[serde(default = "default_verify")]
    pub verify_blocks: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_max_txs: Option<usize>,
}

fn default_verify() -> u64 {
    100
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub node: NodeSection,
    #[serde(default)]
    pub chains: Vec<ChainSection>,
    #[serde(default)]
    pub tbft: TbftSection,
    #[serde(default)]
    pub api: ApiSection,
    #[serde(default)]
    pub archive: ArchiveSection,
    /// Directory the relative paths are relative to (the config file's).
    #[serde(skip)]
    pub base: PathBuf,
}

impl NodeConfig {
    /// Read and check a config file.
    pub fn load(path: &Path) -> Result<Self, NodeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| NodeError::Config(format!("{}: {e}", path.display())))?;
        let mut config: NodeConfig = toml::from_str(&text)
            .map_err(|e| NodeError::Config(format!("{}: {e}", path.display())))?;
        config.base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), NodeError> {
        if self.chains.is_empty() {
            return Err(NodeError::Config(
                "the node hosts no chain ([[chains]] is empty)".into(),
            ));
        }
        let mut ids = std::collections::BTreeSet::new();
        for c in &self.chains {
            covenant_types::names::validate_chain_id(&c.id)
                .map_err(|e| NodeError::Config(e.to_string()))?;
            if !ids.insert(&c.id) {
                return Err(NodeError::Config(format!("chain {} is listed twice", c.id)));
            }
        }
        if self.api.max_connections == 0 || self.api.header_read_ms == 0 || self.api.idle_ms == 0 {
            return Err(NodeError::Config(
                "[api] max_connections, header_read_ms and idle_ms must be positive".into(),
            ));
        }
        Ok(())
    }

    /// A path from the config, made absolute against the config's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// Where chain `chain`'s archive files go.
    pub fn archive_dir(&self, chain: &str) -> PathBuf {
        match &self.archive.dir {
            Some(d) => self.resolve(d),
            None => self.resolve(&self.node.data_dir).join("archive"),
        }
        .join(chain)
    }

    /// The node's admin socket (`covenant node archive`, `restore`), in its data directory.
    pub fn admin_socket(&self) -> PathBuf {
        self.resolve(&self.node.data_dir).join(crate::admin::SOCKET)
    }

    /// Write the config as TOML.
    pub fn to_toml(&self) -> Result<String, NodeError> {
        toml::to_string_pretty(self).map_err(|e| NodeError::Config(e.to_string()))
    }
}
