//! Errors the command line reports: a stable code and a one-line message.

use std::fmt;

use covenant_crypto::CryptoError;
use covenant_deploy::contract_build::BuildError;
use covenant_pki::PkiError;
use covenant_sdk::{ClientError, ProfileError};

/// An error raised by the command line itself, with its stable code.
#[derive(Debug)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The stable code of the first coded error in `err`'s chain, or `INTERNAL`.
pub fn code_of(err: &anyhow::Error) -> String {
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return f.code.to_string();
        }
        if let Some(e) = cause.downcast_ref::<PkiError>() {
            return e.code().to_string();
        }
        if let Some(e) = cause.downcast_ref::<CryptoError>() {
            return e.code().to_string();
        }
        if let Some(e) = cause.downcast_ref::<ClientError>() {
            return e.code().to_string();
        }
        if let Some(e) = cause.downcast_ref::<ProfileError>() {
            return e.code().to_string();
        }
        if let Some(e) = cause.downcast_ref::<covenant_bench::BenchError>() {
            return e.code().to_string();
        }
        if let Some(e) = cause.downcast_ref::<covenant_deploy::DeployError>() {
            return e.code().to_string();
        }
        if let Some(e) = cause.downcast_ref::<BuildError>() {
            return e.code().to_string();
        }
        if let Some(e) = cause.downcast_ref::<covenant_node::NodeError>() {
            return e.code().to_string();
        }
        if let Some(e) = cause.downcast_ref::<covenant_chain::ChainError>() {
            return e.code().to_string();
        }
        if let Some(e) = cause.downcast_ref::<covenant_storage::StorageError>() {
            return e.code().to_string();
        }
        if let Some(e) = cause.downcast_ref::<covenant_types::TypesError>() {
            return e.code().to_string();
        }
        if let Some(e) = cause.downcast_ref::<covenant_platform::Error>() {
            return e.code().to_string();
        }
    }
    "INTERNAL".to_string()
}

/// The whole chain of messages on one line: `context: cause: cause`.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string().replace('\n', " ");
        if parts.last().is_none_or(|last| !last.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}
