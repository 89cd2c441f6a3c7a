//! End-to-end tests of the `covenant` binary: real processes, real files, OpenSSL on PATH.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bench;
mod ca;
mod cluster;
mod consortium;
mod crash;
mod devnode;
mod node;
mod sim;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
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

pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command line must be installed (see .ci/run)")
}

/// Every file under `dir` with its bytes, to prove a failed command changed nothing.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != ".lock") {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}
