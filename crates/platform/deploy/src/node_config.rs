//! The `node.toml` a driver writes for each node it deploys: the node's documented config
//! file format (see `covenant node start --help`), written here without depending on the node
//! itself — a deploy driver reaches nodes through their files and their API only. A test of
//! the command-line crate reads what this writes with the node's own parser.

use std::path::PathBuf;

use serde::Serialize;

/// `[node]`.
#[derive(Debug, Clone, Serialize)]
pub struct NodeSection {
    pub name: String,
    pub data_dir: PathBuf,
    pub api_listen: String,
    pub grpc_listen: Option<String>,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub peer_listen: Option<String>,
    /// The local address connections to peers leave from (the system's choice if `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_source: Option<String>,
    /// The log filter when RUST_LOG is not set (`info`, `debug`, `covenant_tbft=debug`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// `[tbft]`.
#[derive(Debug, Clone, Serialize)]
pub struct TbftSection {
    pub propose_ms: u64,
    pub vote_ms: u64,
    pub per_round_ms: u64,
}

/// `[[chains]]`.
#[derive(Debug, Clone, Serialize)]
pub struct ChainSection {
    pub id: String,
    pub genesis: PathBuf,
    pub verify_blocks: u64,
    /// Most transactions the chain's pool holds (the node's default unless given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_max_txs: Option<usize>,
}

/// A whole `node.toml`.
#[derive(Debug, Clone, Serialize)]
pub struct NodeToml {
    pub node: NodeSection,
    pub chains: Vec<ChainSection>,
    pub tbft: Option<TbftSection>,
}

impl NodeToml {
    /// The file's text.
    pub fn to_toml(&self) -> Result<String, crate::DeployError> {
        toml::to_string_pretty(self).map_err(|e| crate::DeployError::Other(e.to_string()))
    }
}
