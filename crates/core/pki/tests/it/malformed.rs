//! Hostile bytes: every single-byte change and every truncation of valid DER objects is
//! rejected cleanly — decoders never panic, and no altered certificate ever verifies.

use std::time::{Duration, SystemTime};

use covenant_crypto::{KeyAlgorithm, PrivateKey, PublicKey};
use covenant_pki::{
    Certificate, CertificateSpec, Crl, Csr, Issuer, RevocationReason, RevokedEntry, Role,
    TrustStore, VerifyOptions, issue_certificate, key_identifier, random_serial, subject_name,
};

fn fixtures(alg: KeyAlgorithm) -> (Certificate, Certificate, Csr, Crl, PrivateKey) {
    let key = PrivateKey::generate(alg).unwrap();
    let name = subject_name("Org", Role::Ca, "Root").unwrap();
    let kid = key_identifier(key.public_key());
    let now = SystemTime::now();
    let hour = Duration::from_secs(3600);
    let root = issue_certificate(
        &CertificateSpec {
            subject: name.clone(),
            public_key: key.public_key().clone(),
            role: Role::Ca,
            hosts: vec![],
            not_before: now - hour,
            not_after: now + hour,
            path_len: None,
        },
        &random_serial().unwrap(),
        Issuer {
            name: &name,
            key: &key,
            key_id: Some(&kid),
        },
    )
    .unwrap();
    let leaf_key = PrivateKey::generate(alg).unwrap();
    let leaf = issue_certificate(
        &CertificateSpec {
            subject: subject_name("Org", Role::Node, "n1").unwrap(),
            public_key: leaf_key.public_key().clone(),
            role: Role::Node,
            hosts: vec!["n1.example".parse().unwrap()],
            not_before: now - hour,
            not_after: now + hour,
            path_len: None,
        },
        &random_serial().unwrap(),
        Issuer {
            name: root.subject(),
            key: &key,
            key_id: Some(&kid),
        },
    )
    .unwrap();
    let csr = Csr::create(&leaf_key, "n1", &["n1.example".parse().unwrap()]).unwrap();
    let crl = Crl::issue(
        &root,
        &key,
        1,
        now,
        now + hour,
        &[RevokedEntry {
            serial: vec![1, 2, 3],
            revoked_at: now,
            reason: RevocationReason::Superseded,
        }],
    )
    .unwrap();
    (root, leaf, csr, crl, leaf_key)
}

#[test]
fn every_single_byte_change_is_rejected() {
    for alg in KeyAlgorithm::ALL {
        let (root, leaf, _, _, _) = fixtures(alg);
        let mut store = TrustStore::new();
        store.add_anchor(root.clone());
        let opts = VerifyOptions::default();
        store.verify(&leaf, &[], &opts).unwrap();
        let original = leaf.der().to_vec();
        let mut parsed = 0;
        for i in 0..original.len() {
            for flip in [0x01u8, 0x80] {
                let mut bytes = original.clone();
                bytes[i] ^= flip;
                if let Ok(cert) = Certificate::from_der(bytes, "mutant") {
                    parsed += 1;
                    // Exercise every accessor on the mutant.
                    let _ = (cert.role(), cert.hosts(), cert.public_key(), cert.is_ca());
                    let _ = (cert.subject_string(), cert.serial_hex(), cert.not_after());
                    assert!(
                        store.verify(&cert, &[], &opts).is_err(),
                        "{alg}: flipping bit {flip:#x} of byte {i} still verifies"
                    );
                }
            }
        }
        assert!(parsed > 0, "no mutant parsed, the test checks nothing");
    }
}

#[test]
fn truncations_and_mutations_of_every_decoder_never_panic() {
    for alg in KeyAlgorithm::ALL {
        let (_, leaf, csr, crl, leaf_key) = fixtures(alg);
        let inputs: Vec<Vec<u8>> = vec![
            leaf.der().to_vec(),
            der_of_pem(&csr.to_pem().unwrap()),
            crl.der().to_vec(),
            leaf_key.public_key().to_spki_der().unwrap(),
            leaf_key.to_pkcs8_der().unwrap().to_vec(),
        ];
        for input in &inputs {
            for len in 0..input.len() {
                feed(&input[..len], &leaf_key);
            }
            for i in 0..input.len() {
                let mut bytes = input.clone();
                bytes[i] = bytes[i].wrapping_add(0x5b);
                feed(&bytes, &leaf_key);
            }
        }
    }
}

fn der_of_pem(pem: &str) -> Vec<u8> {
    der::pem::decode_vec(pem.as_bytes()).unwrap().1
}

fn feed(bytes: &[u8], key: &PrivateKey) {
    if let Ok(c) = Certificate::from_der(bytes.to_vec(), "x") {
        let _ = (
            c.role(),
            c.hosts(),
            c.public_key(),
            c.basic_constraints(),
            c.extended_key_usage(),
        );
    }
    if let Ok(c) = Csr::from_der(bytes.to_vec(), "x") {
        let _ = (c.verify(), c.hosts(), c.common_name());
    }
    if let Ok(c) = Crl::from_der(bytes.to_vec(), "x") {
        let _ = (c.number(), c.revoked_serials(), c.next_update());
    }
    let _ = PublicKey::from_spki_der(bytes);
    let _ = PrivateKey::from_pkcs8_der(bytes);
    let _ = key.public_key().verify(b"message", bytes);
}
