//! The Rust client SDK of Covenant.
//!
//! - [`Profile`]: a node endpoint, a chain and named identities (certificate + key files), as
//!   written by `covenant node init` / `covenant up`.
//! - [`Signer`]: an identity that builds and signs transactions (and endorsements).
//! - [`Client`]: the node's REST API — submit (and wait), query, blocks, transactions with
//!   proofs, chain info.
//! - [`contract_build`]: build a Rust contract crate to WebAssembly.

#![forbid(unsafe_code)]

mod client;
pub mod contract_build;
mod profile;
mod signer;

pub use client::{Client, ClientError};
pub use profile::{IdentityFiles, Profile, ProfileError};
pub use signer::Signer;
