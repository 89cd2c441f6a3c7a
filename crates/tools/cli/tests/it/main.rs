//! End-to-end tests of the `covenant` binary: real processes, real files, OpenSSL on PATH.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod archive;
mod bench;
mod bundle;
mod byzantine;
mod ca;
mod certificates;
mod chaos;
mod clock;
mod cluster;
mod console;
mod consortium;
mod contract_source;
mod crash;
mod devnode;
mod flood;
mod full_disk;
mod grafana;
mod monitoring;
mod node;
mod node_renewal;
mod node_settings;
mod platform;
mod proofs;
mod recycle;
mod sdks;
mod self_repair;
mod sim;
mod trust_roots;

use std::{
    path::Path,
    process::{Command, Output},
};

use serde_json::Value;

/// Result of one `covenant` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn fails_with(self, code: &str) -> Self {
        assert_ne!(self.code, 0, "expected failure\nstdout: {}", self.stdout);
        let line = format!("error[{code}]");
        assert!(
            self.stderr.contains(&line),
            "expected {line} on stderr, got:\nstderr: {}\nstdout: {}",
            self.stderr,
            self.stdout
        );
        assert_eq!(
            self.stderr.trim_end().lines().count(),
            1,
            "errors are one line:\n{}",
            self.stderr
        );
        self
    }

    /// Failed with `code` as its last line (commands that report progress on standard error
    /// before failing).
    #[track_caller]
    pub fn fails_with_code(self, code: &str) -> Self {
        assert_ne!(self.code, 0, "expected failure\nstdout: {}", self.stdout);
        let last = self.stderr.trim_end().lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&format!("error[{code}]")),
            "expected error[{code}] last on stderr, got:\n{}",
            self.stderr
        );
        self
    }
}

pub fn covenant(dir: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_covenant"))
        .args(args)
        .current_dir(dir)
        .env_remove("COVENANT_OUTPUT")
        .output()
        .expect("run covenant");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub use covenant_test_utils::{files::snapshot, openssl::openssl};

/// Poll `cond` until it holds or `secs` pass.
#[track_caller]
pub fn wait_for(what: &str, secs: u64, cond: impl FnMut() -> bool) {
    covenant_test_utils::wait_for(what, std::time::Duration::from_secs(secs), cond);
}
