//! The shapes of the Covenant node API, shared by the node that serves it, the SDKs that call
//! it and the platform.
//!
//! - [`json`]: the REST/JSON requests, answers and views (`/v1/chains/...`).
//! - [`pb`]: the gRPC messages and the `covenant.api.v1.Chain` service (client and server), built
//!   from `proto/covenant/api/v1/api.proto`; the chain's own messages (package `covenant.v1`:
//!   transactions, blocks, results, the chain config) are covenant-types'.

#![forbid(unsafe_code)]

pub mod json;

/// Generated gRPC messages and the `Chain` service.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/covenant.api.v1.rs"));
}

pub use json::*;

/// The gRPC metadata entry that carries an error's stable code.
pub const ERROR_CODE_METADATA: &str = "covenant-error-code";
