//! Consensus: how a chain's nodes agree on the next block.
//!
//! The chain's pipeline builds and executes a proposal, hands it to the [`Consensus`] engine to
//! order, and commits what the engine decides. A decided block carries a
//! [`CommitCertificate`](covenant_types::CommitCertificate): the signatures of the nodes that
//! agreed, checked by anyone who receives the block later (sync, audit).
//!
//! [`Solo`] is the single-node engine: the node's own signature decides.

#![forbid(unsafe_code)]

pub mod raft;
pub mod tbft;

use std::fmt;

use covenant_crypto::{PrivateKey, PublicKey, Suite};
use covenant_types::{
    ChainConfig, CommitCertificate, Endorsement, block::DecodedBlock, tx::sender_by_hash,
};
use thiserror::Error;

/// Errors of consensus engines.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConsensusError {
    #[error("this node is not the proposer of height {0}")]
    NotProposer(u64),
    #[error("bad commit certificate: {0}")]
    BadCertificate(String),
    #[error("signing failed: {0}")]
    Signing(String),
}

impl ConsensusError {
    pub fn code(&self) -> &'static str {
        match self {
            ConsensusError::NotProposer(_) => "NOT_PROPOSER",
            ConsensusError::BadCertificate(_) => "BAD_COMMIT_CERTIFICATE",
            ConsensusError::Signing(_) => "SIGNING_FAILED",
        }
    }
}

/// A consensus engine for one chain.
pub trait Consensus: Send + Sync + fmt::Debug {
    /// The engine's name as chain configs spell it (`solo`, `raft`, `tbft`).
    fn kind(&self) -> &'static str;
    /// Whether this node should propose the block at `height` now.
    fn is_proposer(&self, height: u64) -> bool;
    /// Order a block this node proposed; returns it decided, with its commit certificate.
    fn order(&self, block: DecodedBlock) -> Result<DecodedBlock, ConsensusError>;
    /// Check the commit certificate of a block decided elsewhere against the chain config.
    fn check_certificate(
        &self,
        block: &DecodedBlock,
        config: &ChainConfig,
    ) -> Result<(), ConsensusError>;
}

/// Single-node consensus: the one consensus node decides every block by signing it.
pub struct Solo {
    suite: Suite,
    key: PrivateKey,
    /// Suite hash of this node's certificate.
    node_id: Vec<u8>,
}

impl fmt::Debug for Solo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Solo")
            .field("node", &hex_short(&self.node_id))
            .finish()
    }
}

fn hex_short(b: &[u8]) -> String {
    b.iter().take(6).map(|x| format!("{x:02x}")).collect()
}

impl Solo {
    /// The engine of the node holding `key`, whose certificate hashes to `node_id`.
    pub fn new(suite: Suite, key: PrivateKey, node_id: Vec<u8>) -> Self {
        Solo {
            suite,
            key,
            node_id,
        }
    }
}

impl Consensus for Solo {
    fn kind(&self) -> &'static str {
        "solo"
    }

    fn is_proposer(&self, _height: u64) -> bool {
        true
    }

    fn order(&self, mut block: DecodedBlock) -> Result<DecodedBlock, ConsensusError> {
        let signature = self
            .key
            .sign(&block.block.header)
            .map_err(|e| ConsensusError::Signing(e.to_string()))?;
        let hash = covenant_crypto::Hash::from_slice(&self.node_id)
            .map_err(|e| ConsensusError::Signing(e.to_string()))?;
        block.block.certificate = Some(CommitCertificate {
            round: 0,
            signatures: vec![Endorsement {
                signer: Some(sender_by_hash(hash)),
                signature,
            }],
            votes: vec![],
        });
        Ok(block)
    }

    fn check_certificate(
        &self,
        block: &DecodedBlock,
        config: &ChainConfig,
    ) -> Result<(), ConsensusError> {
        let bad = |s: &str| ConsensusError::BadCertificate(s.to_string());
        let cert = block
            .block
            .certificate
            .as_ref()
            .ok_or_else(|| bad("the block has none"))?;
        let node = config
            .consensus
            .as_ref()
            .and_then(|c| c.nodes.first())
            .ok_or_else(|| bad("the chain names no consensus node"))?;
        let [sig] = cert.signatures.as_slice() else {
            return Err(bad("a solo certificate has exactly one signature"));
        };
        let key = node_key(&node.certificate).map_err(|e| bad(&e))?;
        let expected = self.suite.hash(&node.certificate);
        let named = match sig.signer.as_ref().and_then(|s| s.id.as_ref()) {
            Some(covenant_types::pb::sender::Id::CertificateHash(h)) => {
                h.as_slice() == expected.as_bytes()
            }
            _ => false,
        };
        if !named {
            return Err(bad(
                "signed by a node that is not the chain's consensus node",
            ));
        }
        key.verify(&block.block.header, &sig.signature)
            .map_err(|_| bad("the signature does not verify"))
    }
}

/// The public key in a node certificate (DER).
pub fn node_key(cert_der: &[u8]) -> Result<PublicKey, String> {
    covenant_pki::Certificate::from_der(cert_der.to_vec(), "node certificate")
        .and_then(|c| c.public_key())
        .map_err(|e| e.to_string())
}
