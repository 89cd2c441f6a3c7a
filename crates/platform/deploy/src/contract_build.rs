//! Build a Rust contract crate to WebAssembly (`wasm32-unknown-unknown`, release profile).
//!
//! The builder the CLI (`covenant contract build`, `covenant up`) and the platform share. It
//! installs the `wasm32-unknown-unknown` standard library with rustup the first time it is
//! missing, so a machine with only rustup and cargo can build contracts.

use std::{
    io::Write as _,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use thiserror::Error;

/// Why a contract did not build.
#[derive(Debug, Error)]
pub enum BuildError {
    #[error("{0}: no Cargo.toml here; give the path of a contract crate")]
    NotACrate(PathBuf),
    #[error("cannot run cargo: {0}")]
    Cargo(std::io::Error),
    #[error("the contract did not compile:\n{0}")]
    Compile(String),
    #[error("cargo built no .wasm for {0}; is it a `cdylib` crate?")]
    NoWasm(PathBuf),
    #[error(
        "the Rust target {TARGET} is not installed and could not be installed ({0}); \
         install it with `rustup target add {TARGET}`"
    )]
    TargetMissing(String),
}

impl BuildError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            BuildError::NotACrate(_) => "CONTRACT_NOT_A_CRATE",
            BuildError::Cargo(_) => "CARGO_UNAVAILABLE",
            BuildError::Compile(_) => "CONTRACT_BUILD_FAILED",
            BuildError::NoWasm(_) => "CONTRACT_NO_WASM",
            BuildError::TargetMissing(_) => "WASM_TARGET_MISSING",
        }
    }
}

/// The target triple contracts compile to.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// Stack of a contract: 128 KiB (the toolchain's default is 1 MiB). The stack sits first in
/// linear memory, so overflowing it traps (the call fails) instead of corrupting data.
pub const CONTRACT_STACK_BYTES: u32 = 128 * 1024;

/// Build the contract crate at `crate_dir` in release mode for wasm32 and return the path of
/// its `.wasm`. `target_dir` overrides cargo's target directory. Compiler messages go to
/// standard error as they come.
pub fn build(crate_dir: &Path, target_dir: Option<&Path>) -> Result<PathBuf, BuildError> {
    let manifest = crate_dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NotACrate(crate_dir.to_path_buf()));
    }
    let manifest = manifest.canonicalize().map_err(BuildError::Cargo)?;
    ensure_target(crate_dir)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&manifest)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = target_dir {
        cmd.env("CARGO_TARGET_DIR", t);
    }
    // Flags meant for the host build (coverage, sanitizers) must not leak into the contract.
    // The contract's own: a smaller shadow stack than the toolchain's 1 MiB default, since
    // every call instantiates the module and zeroes its initial memory (stack included).
    cmd.env_remove("RUSTFLAGS").env(
        "CARGO_ENCODED_RUSTFLAGS",
        format!("-Clink-arg=-zstack-size={CONTRACT_STACK_BYTES}"),
    );
    let mut child = cmd.spawn().map_err(BuildError::Cargo)?;
    let stderr = child.stderr.take();
    let err_thread = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(s) = stderr {
            for line in BufReader::new(s).lines().map_while(Result::ok) {
                let _ = writeln!(std::io::stderr(), "{line}");
                text.push_str(&line);
                text.push('\n');
            }
        }
        text
    });
    let mut wasm = None;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if msg["reason"] != "compiler-artifact" {
                continue;
            }
            let same_manifest = msg["manifest_path"]
                .as_str()
                .map(|p| Path::new(p) == manifest)
                .unwrap_or(false);
            if !same_manifest {
                continue;
            }
            if let Some(files) = msg["filenames"].as_array() {
                for f in files.iter().filter_map(|f| f.as_str()) {
                    if f.ends_with(".wasm") {
                        wasm = Some(PathBuf::from(f));
                    }
                }
            }
        }
    }
    let status = child.wait().map_err(BuildError::Cargo)?;
    let errors = err_thread.join().unwrap_or_default();
    if !status.success() {
        return Err(BuildError::Compile(errors));
    }
    wasm.ok_or_else(|| BuildError::NoWasm(crate_dir.to_path_buf()))
}

/// Whether the toolchain that builds in `dir` has the standard library for [`TARGET`].
pub fn target_installed(dir: &Path) -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .current_dir(dir)
        .stderr(Stdio::null())
        .output()
    else {
        return false;
    };
    if !out.status.success() {
        return false;
    }
    let libdir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    std::fs::read_dir(&libdir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("libcore-") && n.ends_with(".rlib"))
        })
    })
}

/// Make sure [`TARGET`] is installed for the toolchain that builds in `dir`, installing it with
/// `rustup target add` (announced on standard error) when it is missing.
pub fn ensure_target(dir: &Path) -> Result<(), BuildError> {
    if target_installed(dir) {
        return Ok(());
    }
    let _ = writeln!(
        std::io::stderr(),
        "installing the Rust target {TARGET} (once; contracts compile to it) ..."
    );
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| BuildError::TargetMissing(format!("cannot run rustup: {e}")))?;
    if !status.success() {
        return Err(BuildError::TargetMissing(format!(
            "rustup exited with {status}"
        )));
    }
    if !target_installed(dir) {
        return Err(BuildError::TargetMissing(
            "rustup installed it, but the toolchain still lacks it".into(),
        ));
    }
    Ok(())
}
