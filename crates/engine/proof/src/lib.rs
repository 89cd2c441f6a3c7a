//! Self-contained proofs that a transaction is on a chain, checked offline.
//!
//! A proof file ([`ProofFile`]) holds a transaction and its result exactly as their block
//! carries them, their Merkle paths to the block header's `tx_root` and `results_root`, the
//! header with its commit certificate, and every config change from genesis up to that block:
//! each change's header, commit certificate and read/write sets, one of which wrote the new
//! config. [`verify`] needs nothing but the chain's genesis block: starting from the genesis
//! config it checks each change's certificate against the consensus nodes of the config before
//! it, takes the config the change wrote, and so justifies the signers of the transaction's
//! block from genesis. No node is asked anything and no network is used.
//!
//! Every byte of a file matters: hashes are lowercase hex, bytes canonical base64, unknown
//! fields are refused, and every field is checked, so a file changed anywhere fails, with the
//! reason ([`ProofError`] and its stable [`code`](ProofError::code)).
//!
//! - [`file`]: the file's format.
//! - [`export`]: building a proof from a node's blocks.
//! - [`check`]: verifying one.

#![forbid(unsafe_code)]

pub mod check;
pub mod export;
pub mod file;

pub use check::{Sender, Verified, verify};
pub use export::{config_heights, export};
pub use file::{CertifiedHeader, ConfigStep, FORMAT, ProofFile, TxProof};

/// Why a proof could not be made or does not hold.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The file is not a proof of this format (bad JSON, a field missing or unknown, bytes
    /// that do not decode).
    #[error("not a proof file: {0}")]
    Malformed(String),
    /// The proof is for another chain than the genesis given, or the genesis is not one.
    #[error("the proof does not belong to this genesis: {0}")]
    Genesis(String),
    /// A config change does not follow from the config before it.
    #[error("config change at height {height}: {detail}")]
    ConfigChange { height: u64, detail: String },
    /// The transaction's block was not decided by the consensus nodes of its config.
    #[error("block {height}: {detail}")]
    Certificate { height: u64, detail: String },
    /// The transaction or its result is not in the block the proof names.
    #[error("inclusion: {0}")]
    Inclusion(String),
    /// A proof cannot be built from what was given.
    #[error("cannot build the proof: {0}")]
    Export(String),
}

impl ProofError {
    /// The stable code of the failure.
    pub fn code(&self) -> &'static str {
        match self {
            ProofError::Malformed(_) => "PROOF_MALFORMED",
            ProofError::Genesis(_) => "PROOF_GENESIS_MISMATCH",
            ProofError::ConfigChange { .. } => "PROOF_CONFIG_CHANGE_INVALID",
            ProofError::Certificate { .. } => "PROOF_CERTIFICATE_INVALID",
            ProofError::Inclusion(_) => "PROOF_INCLUSION_INVALID",
            ProofError::Export(_) => "PROOF_EXPORT_FAILED",
        }
    }
}
