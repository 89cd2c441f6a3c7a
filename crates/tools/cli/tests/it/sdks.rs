//! The TypeScript and Python SDKs against real node processes: each SDK's own test suite (its
//! shared-vector tests, then invoke, query, proofs, a governed call, typed errors and
//! subscriptions across a node restart, on an `sm` and an `intl` chain) run with this build's
//! `covenant` binary and example `kv` contract. `scripts/test` installs what they need
//! (`scripts/sdk-typescript`: the npm packages; `scripts/sdk-python`: a Python with the
//! package and its test tools, exported as `COVENANT_TEST_SDK_PYTHON`);
//! `COVENANT_SKIP_SDKS=1` leaves these tests out on a machine without Node.js or Python.

use std::{path::Path, process::Command};

use covenant_test_utils::{contracts::example_wasm, repo_root};

fn skipped() -> bool {
    if std::env::var_os("COVENANT_SKIP_SDKS").is_some() {
        eprintln!("COVENANT_SKIP_SDKS is set: the SDKs' tests are left out on this machine");
        return true;
    }
    false
}

/// Run `program args` in `dir` with the binary and contract the SDK tests use; the output.
fn run_suite(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("COVENANT_BIN", env!("CARGO_BIN_EXE_covenant"))
        .env("COVENANT_KV_WASM", example_wasm("kv"))
        .env_remove("COVENANT_WRITE_VECTORS")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{program} {args:?} in {} failed:\n{text}",
        dir.display()
    );
    text
}

/// The number after `label` in a test runner's summary line.
fn count(text: &str, label: &str) -> u32 {
    text.lines()
        .filter_map(|l| l.trim().trim_start_matches('ℹ').trim().strip_prefix(label))
        .filter_map(|rest| rest.trim().parse().ok())
        .next_back()
        .unwrap_or_else(|| panic!("no {label:?} count in:\n{text}"))
}

#[test]
fn the_typescript_sdk_works_against_real_sm_and_intl_nodes() {
    if skipped() {
        return;
    }
    let dir = repo_root().join("sdk/typescript");
    assert!(
        dir.join("node_modules/typescript").exists(),
        "the TypeScript SDK's npm packages are not installed: run the tests through scripts/test \
         (or bash scripts/sdk-typescript), or set COVENANT_SKIP_SDKS=1 to leave them out"
    );
    let out = run_suite(&dir, "npm", &["test", "--silent"]);
    assert_eq!(count(&out, "fail"), 0, "{out}");
    assert_eq!(count(&out, "skipped"), 0, "nothing left out:\n{out}");
    assert!(count(&out, "pass") >= 18, "{out}");
    assert!(
        out.contains("against a real sm node") && out.contains("against a real intl node"),
        "{out}"
    );
}

#[test]
fn the_python_sdk_works_against_real_sm_and_intl_nodes() {
    if skipped() {
        return;
    }
    let python = std::env::var("COVENANT_TEST_SDK_PYTHON").unwrap_or_else(|_| {
        panic!(
            "the Python SDK's tests need a Python with the package and pytest: run them through \
             scripts/test (which sets COVENANT_TEST_SDK_PYTHON, see scripts/sdk-python), or set \
             COVENANT_SKIP_SDKS=1 to leave them out"
        )
    });
    let dir = repo_root().join("sdk/python");
    run_suite(&dir, &python, &["-m", "mypy", "--strict", "src", "tests"]);
    let out = run_suite(
        &dir,
        &python,
        &["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"],
    );
    assert!(!out.contains(" skipped"), "nothing left out:\n{out}");
    assert!(out.contains(" passed"), "{out}");
}
