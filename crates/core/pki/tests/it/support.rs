use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use covenant_crypto::Suite;
use covenant_pki::{
    Certificate, CertificateAuthority, Role,
    authority::{InitOptions, IssueOptions},
};

pub fn init_ca(dir: &Path, org: &str, suite: Suite, intermediate: bool) -> CertificateAuthority {
    CertificateAuthority::init(
        dir,
        &InitOptions {
            org: org.into(),
            suite,
            key_algorithm: None,
            intermediate,
            days: 3650,
            force: false,
        },
    )
    .unwrap();
    CertificateAuthority::open(dir).unwrap()
}

pub fn issue(ca: &mut CertificateAuthority, role: Role, name: &str) -> (PathBuf, PathBuf, String) {
    let out = ca
        .issue(&IssueOptions {
            role,
            name: name.into(),
            hosts: vec![],
            days: 30,
            key_algorithm: None,
            out: None,
            force: false,
        })
        .unwrap();
    (out.cert, out.key, out.serial)
}

pub fn load_chain(path: &Path) -> Vec<Certificate> {
    Certificate::load_chain(path).unwrap()
}

pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command line must be installed (see .ci/run)")
}

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
