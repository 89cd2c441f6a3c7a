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

/// One compiler or clippy message about a contract's own source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// `error` or `warning`.
    pub level: String,
    /// Who said it: `rustc` or `clippy`.
    pub tool: &'static str,
    /// The lint or error code (`E0308`, `unused_variables`, `clippy::unwrap_used`), if any.
    pub code: Option<String>,
    pub message: String,
    /// The primary span: file (relative to the crate), line and column (1-based).
    pub file: Option<String>,
    pub line: Option<u64>,
    pub column: Option<u64>,
    /// The message as the compiler renders it.
    pub rendered: String,
}

/// What building and linting a contract found.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    /// The module, when it compiled.
    pub wasm: Option<PathBuf>,
    pub diagnostics: Vec<Diagnostic>,
    /// Whether clippy ran (it is a rustup component that may be missing).
    pub linted: bool,
}

/// Run one cargo command on the contract at `manifest`, quietly; the messages about the
/// contract's own source and the `.wasm` it produced.
fn run_quiet(
    subcommand: &str,
    manifest: &Path,
    target_dir: Option<&Path>,
    tool: &'static str,
) -> Result<(bool, Vec<Diagnostic>, Option<PathBuf>, String), BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg(subcommand)
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--message-format=json")
        .arg("--manifest-path")
        .arg(manifest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = target_dir {
        cmd.env("CARGO_TARGET_DIR", t);
    }
    cmd.env_remove("RUSTFLAGS").env(
        "CARGO_ENCODED_RUSTFLAGS",
        format!("-Clink-arg=-zstack-size={CONTRACT_STACK_BYTES}"),
    );
    let out = cmd.output().map_err(BuildError::Cargo)?;
    let mut diagnostics = Vec::new();
    let mut wasm = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let ours = msg["manifest_path"]
            .as_str()
            .is_some_and(|p| Path::new(p) == manifest);
        if !ours {
            continue;
        }
        match msg["reason"].as_str() {
            Some("compiler-artifact") => {
                for f in msg["filenames"].as_array().into_iter().flatten() {
                    if let Some(f) = f.as_str().filter(|f| f.ends_with(".wasm")) {
                        wasm = Some(PathBuf::from(f));
                    }
                }
            }
            Some("compiler-message") => {
                if let Some(d) = diagnostic(&msg["message"], tool) {
                    diagnostics.push(d);
                }
            }
            _ => {}
        }
    }
    Ok((
        out.status.success(),
        diagnostics,
        wasm,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// A compiler message as a diagnostic; `None` for the summaries ("aborting due to ...").
fn diagnostic(m: &serde_json::Value, tool: &'static str) -> Option<Diagnostic> {
    let level = m["level"].as_str()?;
    let level = match level {
        "error" | "error: internal compiler error" => "error",
        "warning" => "warning",
        _ => return None,
    };
    let spans = m["spans"].as_array().cloned().unwrap_or_default();
    let code = m["code"]["code"].as_str().map(str::to_string);
    if spans.is_empty() && code.is_none() {
        return None;
    }
    let primary = spans
        .iter()
        .find(|s| s["is_primary"] == true)
        .or(spans.first());
    let tool = if code.as_deref().is_some_and(|c| c.starts_with("clippy::")) {
        "clippy"
    } else {
        tool
    };
    Some(Diagnostic {
        level: level.to_string(),
        tool,
        code,
        message: m["message"].as_str().unwrap_or_default().to_string(),
        file: primary.and_then(|s| s["file_name"].as_str().map(str::to_string)),
        line: primary.and_then(|s| s["line_start"].as_u64()),
        column: primary.and_then(|s| s["column_start"].as_u64()),
        rendered: m["rendered"].as_str().unwrap_or_default().to_string(),
    })
}

/// Build the contract at `crate_dir` as [`build`] does, but quietly, collecting the
/// compiler's messages about its source; when it compiles and `lint` is set, run clippy on it
/// too. A source that does not compile is a report with errors, not an error.
pub fn build_checked(
    crate_dir: &Path,
    target_dir: Option<&Path>,
    lint: bool,
) -> Result<BuildReport, BuildError> {
    let manifest = crate_dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NotACrate(crate_dir.to_path_buf()));
    }
    let manifest = manifest.canonicalize().map_err(BuildError::Cargo)?;
    ensure_target(crate_dir)?;
    let (ok, mut diagnostics, wasm, stderr) = run_quiet("build", &manifest, target_dir, "rustc")?;
    if !ok {
        if diagnostics.iter().all(|d| d.level != "error") {
            // Failed before compiling the contract (a dependency, the registry): say why.
            return Err(BuildError::Compile(stderr));
        }
        return Ok(BuildReport {
            wasm: None,
            diagnostics,
            linted: false,
        });
    }
    let mut linted = false;
    if lint {
        // Clippy sees the same source; its own lints only (rustc's warnings came above).
        if let Ok((_, found, _, _)) = run_quiet("clippy", &manifest, target_dir, "clippy") {
            linted = found.iter().any(|d| d.tool == "clippy") || clippy_available(crate_dir);
            diagnostics.extend(found.into_iter().filter(|d| d.tool == "clippy"));
        }
    }
    Ok(BuildReport {
        wasm,
        diagnostics,
        linted,
    })
}

fn clippy_available(dir: &Path) -> bool {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .args(["clippy", "--version"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The contract SDK's source, carried in this binary so a platform builds contracts with no
/// checkout of the project beside it.
const SDK_FILES: [(&str, &str); 6] = [
    (
        "src/lib.rs",
        include_str!("../../../contract-sdk/contract/src/lib.rs"),
    ),
    (
        "src/abi.rs",
        include_str!("../../../contract-sdk/contract/src/abi.rs"),
    ),
    (
        "src/host.rs",
        include_str!("../../../contract-sdk/contract/src/host.rs"),
    ),
    (
        "src/json.rs",
        include_str!("../../../contract-sdk/contract/src/json.rs"),
    ),
    (
        "src/runtime.rs",
        include_str!("../../../contract-sdk/contract/src/runtime.rs"),
    ),
    (
        "src/testing.rs",
        include_str!("../../../contract-sdk/contract/src/testing.rs"),
    ),
];

const SDK_MANIFEST: &str = r#"[package]
name = "covenant-contract"
version = "0.1.0"
edition = "2024"
license = "Apache-2.0"
publish = false

[dependencies]
serde = { version = "1", default-features = false, features = ["derive", "alloc"] }

[lints.rust]
unsafe_code = "deny"
unused_must_use = "deny"
"#;

/// Write a contract crate for `source` (its `src/lib.rs`) in `dir`, depending on the SDK
/// written beside it (`dir/../covenant-contract`), with the example contracts' release profile
/// and lints a contract should heed. Returns the crate's directory.
pub fn write_source_crate(dir: &Path, source: &str) -> std::io::Result<PathBuf> {
    let sdk = dir.join("covenant-contract");
    for (file, text) in SDK_FILES {
        write_if_changed(&sdk.join(file), text)?;
    }
    write_if_changed(&sdk.join("Cargo.toml"), SDK_MANIFEST)?;
    let krate = dir.join("contract");
    write_if_changed(
        &krate.join("Cargo.toml"),
        r#"[package]
name = "contract"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]
path = "src/lib.rs"

[dependencies]
covenant-contract = { path = "../covenant-contract" }
serde = { version = "1", default-features = false, features = ["derive", "alloc"] }

[profile.release]
opt-level = "z"
lto = true
codegen-units = 1
panic = "abort"
strip = true

[lints.clippy]
unwrap_used = "warn"
expect_used = "warn"
panic = "warn"
indexing_slicing = "warn"
arithmetic_side_effects = "warn"
float_arithmetic = "warn"
dbg_macro = "warn"
todo = "warn"

[workspace]
"#,
    )?;
    write_if_changed(&krate.join("src/lib.rs"), source)?;
    Ok(krate)
}

fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}
