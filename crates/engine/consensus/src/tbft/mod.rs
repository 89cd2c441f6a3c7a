//! TBFT: Byzantine-fault-tolerant consensus after Tendermint (arXiv 1807.04938).
//!
//! - [`certificate`]: commit certificates of 2f+1 precommits, and their check.
//! - [`message`]: signed proposals and votes, parsed from the exact bytes that were signed.
//! - [`machine`]: the pure state machine of one validator (rounds, locks, timeouts).
//! - [`wal`]: the write-ahead journal that keeps a restarted validator from signing twice.
//! - [`sim`]: a deterministic, seeded simulation of many validators with faults.

pub mod certificate;
pub mod machine;
pub mod message;
pub mod sim;
pub mod wal;

pub use certificate::TbftCertificates;
pub use machine::{
    Action, Entry, Input, Journal, Machine, MemJournal, Signer, TimeoutKind, Timeouts, Validators,
    Value,
};
pub use message::{Message, NodeId, ProposalBody, SignedProposal, SignedVote, VoteBody, VoteKind};
pub use wal::FileJournal;
