//! The Rust client SDK of Covenant.
//!
//! - [`Profile`]: a node endpoint, a chain and named identities (certificate + key files), as
//!   written by `covenant node init` / `covenant up`.
//! - [`Signer`]: an identity that builds and signs transactions (and endorsements).
//! - [`Client`]: the node's REST API — submit (and wait), query, blocks, transactions with
//!   proofs, chain info.

#![forbid(unsafe_code)]

mod client;
mod profile;
mod signer;

pub use client::{Client, ClientError};
pub use profile::{IdentityFiles, Profile, ProfileError};
pub use signer::Signer;
