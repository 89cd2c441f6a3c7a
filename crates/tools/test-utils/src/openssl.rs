//! The `openssl` command line, which the interoperability tests check against.

use std::{
    path::Path,
    process::{Command, Output},
};

/// Run `openssl args…` in `dir`.
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command line must be installed (see .ci/run)")
}

/// Run `openssl args…` in `dir`, panic unless it succeeds, and return its standard output.
#[track_caller]
pub fn openssl_ok(dir: &Path, args: &[&str]) -> String {
    let out = openssl(dir, args);
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
