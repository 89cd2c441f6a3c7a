//! Org roots and certificates by role for tests, issued as of now with an hour of slack
//! before, so clocks a little apart still accept them.

use std::time::{Duration, SystemTime};

use covenant_crypto::{KeyAlgorithm, PrivateKey};
use covenant_pki::{
    Certificate, CertificateSpec, Issuer, Role, issue_certificate, key_identifier, random_serial,
    subject_name,
};

const HOUR: Duration = Duration::from_secs(3600);

/// A signer: a certificate and its key.
#[derive(Clone)]
pub struct Id {
    pub cert: Certificate,
    pub key: PrivateKey,
}

/// A new org root ("`org` Root CA") with a fresh `alg` key, valid until `not_after`.
pub fn root(org: &str, alg: KeyAlgorithm, not_after: SystemTime) -> Id {
    let key = PrivateKey::generate(alg).unwrap();
    let subject = subject_name(org, Role::Ca, &format!("{org} Root CA")).unwrap();
    let kid = key_identifier(key.public_key());
    let cert = issue_certificate(
        &CertificateSpec {
            subject: subject.clone(),
            public_key: key.public_key().clone(),
            role: Role::Ca,
            hosts: vec![],
            not_before: SystemTime::now() - HOUR,
            not_after,
            path_len: None,
        },
        &random_serial().unwrap(),
        Issuer {
            name: &subject,
            key: &key,
            key_id: Some(&kid),
        },
    )
    .unwrap();
    Id { cert, key }
}

/// A certificate of `org` with `role` and common name `name` for a fresh key of the root's
/// algorithm, issued by `root`, valid until `not_after`.
pub fn issue(root: &Id, org: &str, role: Role, name: &str, not_after: SystemTime) -> Id {
    let key = PrivateKey::generate(root.key.algorithm()).unwrap();
    let cert = issue_certificate(
        &CertificateSpec {
            subject: subject_name(org, role, name).unwrap(),
            public_key: key.public_key().clone(),
            role,
            hosts: vec![],
            not_before: SystemTime::now() - HOUR,
            not_after,
            path_len: None,
        },
        &random_serial().unwrap(),
        Issuer {
            name: root.cert.subject(),
            key: &root.key,
            key_id: root.cert.subject_key_id().as_deref(),
        },
    )
    .unwrap();
    Id { cert, key }
}
