//! The Covenant node's API.
//!
//! One definition of the operations ([`ops::Api`]) over the chains a node hosts ([`Host`]),
//! served three ways:
//!
//! - [`rest`]: REST/JSON under `/v1` (with `/healthz`, `/metrics` and `/openapi.json`), every
//!   error `{"error": {"code", "message"}}` with a stable code — axum's own rejections (a bad
//!   query string, a wrong method, a body over the limit) included;
//! - [`ws`]: WebSocket subscriptions to blocks or contract events, resumable from any height;
//! - [`grpc`]: the `covenant.api.v1.Chain` service, the same thirteen operations.
//!
//! [`openapi`] describes every route, status code and content type of the REST API.
//! The node serves them on `covenant-http`'s bounded listeners (header-read and idle timeouts,
//! a connection limit kept below the process's descriptor limit).

#![forbid(unsafe_code)]
// The OpenAPI document is one large `json!` literal.
#![recursion_limit = "512"]

pub mod grpc;
pub mod openapi;
pub mod ops;
pub mod rest;
mod views;
pub mod ws;

use covenant_chain::Chain;

pub use ops::{Api, Failure, FailureKind};

/// What the API needs of the node that serves it.
pub trait Host: Send + Sync + 'static {
    /// The node's name (for `/healthz`).
    fn node_name(&self) -> String;
    /// The chain with this id, if hosted.
    fn chain(&self, id: &str) -> Option<Chain>;
    /// Every hosted chain.
    fn chains(&self) -> Vec<Chain>;
    /// The node's metrics in the Prometheus text format.
    fn metrics(&self) -> String;
    /// `count` transactions were admitted to `chain` through the API.
    fn admitted(&self, chain: &str, count: usize);
}
