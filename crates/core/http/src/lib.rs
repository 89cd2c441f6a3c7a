//! Covenant's HTTP listeners: what the node's API and the platform share so that no client can
//! exhaust the process serving it.
//!
//! [`serve_rest`] serves an axum router (REST, WebSocket, server-sent events) and, with the
//! `grpc` feature, [`serve_grpc`] a tonic service, each within [`Limits`]: a connection limit
//! kept below the process's descriptor limit ([`raise_descriptor_limit`],
//! [`connection_budget`]), a header-read timeout and an idle timeout.

#![forbid(unsafe_code)]

mod listener;

#[cfg(feature = "grpc")]
pub use listener::serve_grpc;
pub use listener::{
    ClientIo, FD_RESERVE, Limits, RemoteAddr, connection_budget, raise_descriptor_limit, serve_rest,
};
