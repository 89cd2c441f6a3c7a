//! The Rust client SDK of Covenant.

#![forbid(unsafe_code)]

pub mod contract_build;
