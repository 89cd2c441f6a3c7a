//! Consensus: how a chain's nodes agree on the next block, and the drivers that run it.
//!
//! The chain's pipeline builds and executes a proposal; a consensus driver orders it and
//! commits what is decided. A decided block carries a
//! [`CommitCertificate`](covenant_types::CommitCertificate): the signatures of the nodes that
//! agreed, checked by anyone who receives the block later (sync, audit).
//!
//! - [`Engine`]: the consensus kinds a chain config names, and how each checks a certificate.
//! - [`port`]: [`ChainPort`], what a driver needs of the chain it orders (build, check and
//!   commit a block); `covenant-chain` implements it, the simulation has its own.
//! - [`solo`]: one node decides every block (development chains).
//! - [`tbft`]: Byzantine-fault-tolerant Tendermint: the state machine, its journal, the
//!   production driver (sans I/O, run on tokio by [`tbft::runtime`]) and seeded simulations of
//!   both the machine and the driver.
//! - [`raft`]: crash-fault-tolerant ordering by an elected leader (openraft) and its driver.
//! - [`certificate`]: what the engines' certificates share.
//! - `misbehave` (feature `misbehave`, test builds only): a node that breaks the protocol on
//!   command, for tests of honest nodes on real processes.

#![forbid(unsafe_code)]

pub mod certificate;
#[cfg(feature = "misbehave")]
pub mod misbehave;
pub mod port;
pub mod raft;
pub mod solo;
pub mod tbft;

use std::fmt;

use covenant_crypto::{PublicKey, Suite};
use covenant_types::{ChainConfig, block::DecodedBlock};
use thiserror::Error;

pub use port::{ChainPort, CommitMode, Committed, NodeKeys, PortError};

/// Errors of consensus engines.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConsensusError {
    #[error("bad commit certificate: {0}")]
    BadCertificate(String),
    #[error("signing failed: {0}")]
    Signing(String),
    #[error("unknown consensus kind {0:?} (expected solo, raft or tbft)")]
    UnknownKind(String),
}

impl ConsensusError {
    pub fn code(&self) -> &'static str {
        match self {
            ConsensusError::BadCertificate(_) => "BAD_COMMIT_CERTIFICATE",
            ConsensusError::Signing(_) => "SIGNING_FAILED",
            ConsensusError::UnknownKind(_) => "CONSENSUS_UNKNOWN",
        }
    }
}

/// A consensus kind, as chain configs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// The one consensus node decides every block by signing it.
    Solo,
    /// The elected leader orders blocks; crash-fault tolerant.
    Raft,
    /// Tendermint: 2f+1 of 3f+1 validators precommit; Byzantine-fault tolerant.
    Tbft,
}

impl Engine {
    /// The engine a chain config names.
    pub fn of(config: &ChainConfig) -> Result<Engine, ConsensusError> {
        let kind = config
            .consensus
            .as_ref()
            .map(|c| c.kind.as_str())
            .unwrap_or_default();
        kind.parse()
    }

    /// The name chain configs use.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Solo => "solo",
            Engine::Raft => "raft",
            Engine::Tbft => "tbft",
        }
    }

    /// Check the commit certificate of a block decided under `config`.
    pub fn check_certificate(
        self,
        suite: Suite,
        block: &DecodedBlock,
        config: &ChainConfig,
    ) -> Result<(), ConsensusError> {
        match self {
            Engine::Solo => solo::check(suite, block, config),
            Engine::Raft => raft::certificate::check(suite, block, config),
            Engine::Tbft => tbft::certificate::check(suite, block, config),
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Engine {
    type Err = ConsensusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "solo" => Ok(Engine::Solo),
            "raft" => Ok(Engine::Raft),
            "tbft" => Ok(Engine::Tbft),
            other => Err(ConsensusError::UnknownKind(other.to_string())),
        }
    }
}

/// The public key in a node certificate (DER).
pub fn node_key(cert_der: &[u8]) -> Result<PublicKey, String> {
    covenant_pki::Certificate::from_der(cert_der.to_vec(), "node certificate")
        .and_then(|c| c.public_key())
        .map_err(|e| e.to_string())
}
