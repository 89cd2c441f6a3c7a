//! What a deployed consortium is made of, as its driver records it (`consortium.json` for the
//! local driver).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// An org of the consortium and where its CA lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgEntry {
    pub name: String,
    pub ca: PathBuf,
}

/// A node: its org, role, directory and ports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeEntry {
    pub name: String,
    pub org: String,
    /// `consensus` or `sync`.
    pub role: String,
    pub dir: PathBuf,
    pub api_port: u16,
    pub grpc_port: u16,
    pub peer_port: u16,
    /// The loopback address the node's peer port listens on and its connections to peers
    /// leave from, when the node has one of its own (`127.0.0.1` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_host: Option<std::net::Ipv4Addr>,
}

impl NodeEntry {
    /// The node's REST API.
    pub fn api(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// The node's gRPC API.
    pub fn grpc(&self) -> String {
        format!("127.0.0.1:{}", self.grpc_port)
    }

    /// Where peers reach the node.
    pub fn peer(&self) -> String {
        let host = self.peer_host.unwrap_or(std::net::Ipv4Addr::LOCALHOST);
        format!("{host}:{}", self.peer_port)
    }
}

/// A consortium: orgs, nodes, chains, and the files a client needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consortium {
    pub version: u32,
    /// The first chain (the profile's).
    pub chain: String,
    /// Every chain the nodes host.
    #[serde(default)]
    pub chains: Vec<String>,
    pub suite: String,
    pub consensus: String,
    pub orgs: Vec<OrgEntry>,
    pub nodes: Vec<NodeEntry>,
    /// The client profile (relative to the consortium's directory).
    pub profile: PathBuf,
    /// The first chain's genesis block (relative to the consortium's directory).
    pub genesis: PathBuf,
}

/// What a new consortium is to be.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Member orgs, each with one node (1..=16).
    pub orgs: u32,
    /// `tbft`, `raft` or `solo`.
    pub consensus: String,
    /// `sm` or `intl`.
    pub suite: String,
    /// For `intl`: `p256` (default) or `ed25519`.
    pub key_algorithm: Option<String>,
    /// Chain ids (the first is the profile's), 1..=8.
    pub chains: Vec<String>,
    /// The first port; node k takes `base_port + 10k` (API), `+1` (gRPC), `+2` (peers).
    pub base_port: u16,
    /// At most this many transactions per block (`None`: the chain default).
    pub block_txs: Option<u32>,
    /// Give node k a loopback address of its own, `127.0.1.(k+1)`, for its peer port and its
    /// connections to peers, so that packet filters can tell the nodes apart.
    pub own_addresses: bool,
}

/// A node's process as the driver sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeProcess {
    pub name: String,
    pub pid: Option<u32>,
}

/// A node the driver stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    pub name: String,
    pub pid: u32,
    /// It did not stop in time and was killed.
    pub killed: bool,
}

/// What [`Driver::start`](crate::Driver::start) did.
#[derive(Debug, Clone, Default)]
pub struct Started {
    /// Every node's pid.
    pub pids: std::collections::BTreeMap<String, u32>,
    /// The nodes this call started (the others were running already).
    pub started: Vec<String>,
}
