use std::path::{Path, PathBuf};

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

pub use covenant_test_utils::openssl::{openssl, openssl_ok};
