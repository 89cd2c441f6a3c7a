//! What Covenant's tests share.
//!
//! - [`ports`]: ranges of free loopback ports, claimed across the parallel test processes.
//! - [`poll`]: wait for a condition to hold (never sleep-then-assert).
//! - [`contracts`]: the example contracts of `contracts/`, built once per test process.
//! - [`openssl`]: run the `openssl` command line for interoperability checks.
//! - [`files`]: every file under a directory with its bytes (to prove a failure changed
//!   nothing).
//! - [`fixtures`]: the conformance fixtures (pinned encodings) and fixed keys to build them.
//! - [`identity`]: org roots and certificates by role.
//! - [`mail`]: a real SMTP sink (`aiosmtpd`) that keeps what it accepts.
//! - [`webhook`]: a real HTTP receiver that keeps what it is sent.
//! - [`state_file`]: a chain's state database edited as someone with the files would.
//!
//! Helpers panic with a clear message: they are for tests only.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod contracts;
pub mod files;
pub mod fixtures;
pub mod identity;
pub mod mail;
pub mod openssl;
pub mod poll;
pub mod ports;
pub mod postgres;
pub mod state_file;
pub mod webhook;

pub use poll::{wait_for, wait_for_async, wait_value, wait_value_async};
pub use ports::{free_port, free_ports};

use std::path::PathBuf;

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// The cargo target directory tests build into (`CARGO_TARGET_DIR`, else `<repo>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}
