//! Deploying a Covenant consortium, for the command line (`covenant up`, `status`, `down`) and
//! the platform alike.
//!
//! - [`Driver`]: how a consortium's nodes come to exist and run; [`LocalDriver`] runs them as
//!   processes on this machine (Kubernetes will sit behind the same trait).
//! - [`up`](up::up): create or resume a consortium, start its nodes, wait until its chains
//!   commit, install the example contracts — and stop what it started if any step fails.
//! - [`contract_build`]: build a Rust contract crate to WebAssembly, installing the target the
//!   first time it is missing.
//! - [`process`]: node processes on this machine (start, find, stop), for the local driver
//!   and the platform.
//! - [`chain_config`]: the config of a new chain with the defaults; [`node_config`]: the
//!   `node.toml` a driver writes.

#![forbid(unsafe_code)]

pub mod chain_config;
pub mod consortium;
pub mod contract_build;
mod driver;
mod error;
pub mod local;
pub mod node_config;
pub mod process;
pub mod up;

pub use consortium::{Consortium, NodeEntry, NodeProcess, OrgEntry, Plan, Started, Stopped};
pub use driver::{Driver, Progress};
pub use error::DeployError;
pub use local::LocalDriver;
