//! Covenant's wire and storage messages and their ids.
//!
//! The messages are protobuf (`proto/covenant/v1/*.proto`, compiled at build time by protox, so
//! no system `protoc` is needed). Anything signed or hashed travels as the exact bytes that
//! were signed or hashed: a [`Transaction`] carries its payload as bytes, a [`Block`] its
//! header, transactions, results and read/write sets as bytes. Ids are the chain suite's hash
//! of those bytes: the tx id of the payload, the block hash of the header.

#![forbid(unsafe_code)]

/// Generated protobuf messages.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/covenant.v1.rs"));
}

pub mod block;
pub mod config;
mod error;
pub mod genesis;
pub mod names;
pub mod policy;
pub mod tx;

pub use error::TypesError;
pub use pb::{
    Block, BlockHeader, BlockLimits, ChainConfig, CommitCertificate, ConsensusConfig,
    ConsensusNode, ContractInfo, Dag, DagNode, Endorsement, Event, MethodPolicy, Org, Policy,
    PolicyEntry, RangeRead, ReadEntry, RwSet, Sender, Transaction, TxPayload, TxResult, Version,
    WriteEntry,
};

/// Result code of a successful transaction.
pub const CODE_OK: &str = "OK";
