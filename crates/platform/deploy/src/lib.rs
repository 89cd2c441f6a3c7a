//! Deploying a Covenant consortium.
//!
//! - [`contract_build`]: build a Rust contract crate to WebAssembly, installing the target the
//!   first time it is missing; the CLI and the platform build contracts with it.

#![forbid(unsafe_code)]

pub mod contract_build;
