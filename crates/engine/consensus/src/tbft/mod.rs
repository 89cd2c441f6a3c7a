//! TBFT: Byzantine-fault-tolerant consensus after Tendermint (arXiv 1807.04938).
//!
//! - [`certificate`]: commit certificates of 2f+1 precommits, and their check.
//! - [`message`]: signed proposals and votes, parsed from the exact bytes that were signed.
//! - [`machine`]: the pure state machine of one validator (rounds, locks, timeouts).
//! - [`wal`]: the write-ahead journal that keeps a restarted validator from signing twice.
//! - [`driver`]: the production driver — the machine with real blocks, keys and messages, as
//!   inputs in and effects out (no I/O of its own).
//! - [`runtime`]: runs the driver on tokio against the node's network.
//! - [`sim`]: a deterministic, seeded simulation of many state machines with faults
//!   (equivocation included).
//! - [`sim_driver`]: a deterministic, seeded simulation of the production driver with real
//!   blocks, signatures, certificates and block sync.

pub mod certificate;
pub mod driver;
pub mod machine;
pub mod message;
pub mod runtime;
pub mod sim;
pub mod sim_driver;
pub mod wal;

pub use driver::{BlockValue, Effect, TbftDriver, Timer};
pub use machine::{
    Action, Entry, Input, Journal, Machine, MemJournal, Signer, TimeoutKind, Timeouts, Validators,
    Value,
};
pub use message::{
    Message, NodeId, ProposalBody, SignedProposal, SignedVote, VoteBody, VoteKind, wire_height,
};
pub use runtime::TbftNet;
pub use wal::FileJournal;
