//! One Covenant chain's pipeline on a node.
//!
//! ```text
//! submit ─▶ txpool (size, chain id, expiry, dedup, certificate path, freeze/revocation,
//!           signatures, contract status and method policy)
//!   ─▶ proposer: batch executed in parallel, read/write sets recorded, DAG built
//!   ─▶ consensus orders the block (the drivers in covenant-consensus, over `ChainPort`)
//!   ─▶ validators re-execute along the DAG and compare results, read/write sets and DAG
//!   ─▶ committer: one group commit per block, then waiters and subscribers are told
//! ```
//!
//! System contracts (`sys.config`, `sys.certs`, `sys.contracts`, `sys.governance`) run natively
//! and are governed by the chain's policies through multi-signed transactions.

#![forbid(unsafe_code)]

mod chain;
mod error;
pub mod executor;
pub mod genesis;
pub mod host;
pub mod identity;
pub mod state;
pub mod system;
pub mod txpool;

pub use chain::{
    Admitted, Chain, ChainOptions, ChainStats, CommittedBlock, MAX_TX_LIFETIME_MS, TxCommitted,
    TxRecord,
};
pub use error::{ChainError, TxError, result_code};
pub use executor::{BlockEnv, BlockOutput, Executor, TxOutcome};
