use std::time::{Duration, SystemTime};

use covenant_crypto::{KeyAlgorithm, PrivateKey};
use covenant_pki::{
    Certificate, CertificateSpec, Crl, Issuer, RevocationReason, RevokedEntry, Role, TrustStore,
    VerifyOptions, issue_certificate, key_identifier, random_serial, subject_name,
};

const HOUR: Duration = Duration::from_secs(3600);

struct Ca {
    cert: Certificate,
    key: PrivateKey,
}

fn ca(alg: KeyAlgorithm, org: &str) -> Ca {
    let key = PrivateKey::generate(alg).unwrap();
    let name = subject_name(org, Role::Ca, &format!("{org} Root")).unwrap();
    let kid = key_identifier(key.public_key());
    let now = SystemTime::now();
    let cert = issue_certificate(
        &CertificateSpec {
            subject: name.clone(),
            public_key: key.public_key().clone(),
            role: Role::Ca,
            hosts: vec![],
            not_before: now - HOUR,
            not_after: now + 100 * HOUR,
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
    Ca { cert, key }
}

fn leaf(ca: &Ca, role: Role, from: SystemTime, to: SystemTime) -> (Certificate, PrivateKey) {
    let key = PrivateKey::generate(ca.key.algorithm()).unwrap();
    let kid = ca.cert.subject_key_id();
    let cert = issue_certificate(
        &CertificateSpec {
            subject: subject_name("Org", role, "leaf").unwrap(),
            public_key: key.public_key().clone(),
            role,
            hosts: vec![],
            not_before: from,
            not_after: to,
            path_len: None,
        },
        &random_serial().unwrap(),
        Issuer {
            name: ca.cert.subject(),
            key: &ca.key,
            key_id: kid.as_deref(),
        },
    )
    .unwrap();
    (cert, key)
}

fn store(roots: &[&Ca]) -> TrustStore {
    let mut s = TrustStore::new();
    for r in roots {
        s.add_anchor(r.cert.clone());
    }
    s
}

fn reason(store: &TrustStore, cert: &Certificate, opts: &VerifyOptions) -> &'static str {
    store.verify(cert, &[], opts).unwrap_err().reason()
}

#[test]
fn every_rejection_reason() {
    for alg in KeyAlgorithm::ALL {
        let root = ca(alg, "Org");
        let now = SystemTime::now();
        let (good, good_key) = leaf(&root, Role::Client, now - HOUR, now + HOUR);
        let s = store(&[&root]);
        let opts = VerifyOptions::default();
        s.verify(&good, &[], &opts).unwrap();

        // Unknown issuer: a store without the root, or with another org's root.
        let other = ca(alg, "Other");
        assert_eq!(reason(&store(&[&other]), &good, &opts), "unknown_issuer");
        assert_eq!(reason(&TrustStore::new(), &good, &opts), "unknown_issuer");

        // Bad signature: same issuer name, different key.
        let impostor = ca(alg, "Org");
        let (forged, _) = leaf(&impostor, Role::Client, now - HOUR, now + HOUR);
        assert_eq!(reason(&s, &forged, &opts), "bad_signature");

        // A changed byte inside the signed part.
        let mut der_bytes = good.der().to_vec();
        let pos = der_bytes.windows(4).position(|w| w == b"leaf").unwrap();
        der_bytes[pos] = b'L';
        let tampered = Certificate::from_der(der_bytes, "tampered").unwrap();
        assert_eq!(reason(&s, &tampered, &opts), "bad_signature");

        // Validity period.
        let later = VerifyOptions {
            at: now + 2 * HOUR,
            ..Default::default()
        };
        assert_eq!(reason(&s, &good, &later), "expired");
        let earlier = VerifyOptions {
            at: now - 2 * HOUR,
            ..Default::default()
        };
        assert_eq!(reason(&s, &good, &earlier), "not_yet_valid");

        // Wrong role.
        let want_node = VerifyOptions {
            role: Some(Role::Node),
            ..Default::default()
        };
        let err = s.verify(&good, &[], &want_node).unwrap_err();
        assert_eq!(err.reason(), "wrong_role");
        assert!(err.to_string().contains("client"), "{err}");

        // Not a CA: a leaf used as an issuer.
        let as_ca = Ca {
            cert: good.clone(),
            key: good_key,
        };
        let (child, _) = leaf(&as_ca, Role::Client, now - HOUR, now + HOUR);
        assert_eq!(
            s.verify(&child, std::slice::from_ref(&good), &opts)
                .unwrap_err()
                .reason(),
            "not_a_ca"
        );

        // Revoked through a CRL of the issuer.
        let crl = Crl::issue(
            &root.cert,
            &root.key,
            1,
            now,
            now + HOUR,
            &[RevokedEntry {
                serial: good.serial_bytes().to_vec(),
                revoked_at: now,
                reason: RevocationReason::KeyCompromise,
            }],
        )
        .unwrap();
        let mut with_crl = store(&[&root]);
        with_crl.add_crl(crl.clone());
        with_crl.check_crls(&[]).unwrap();
        assert_eq!(reason(&with_crl, &good, &opts), "revoked");

        // A CRL not signed by a trusted CA is an error up front, and does not revoke.
        let foreign = Crl::issue(&other.cert, &other.key, 1, now, now + HOUR, &[]).unwrap();
        let mut bad_store = store(&[&root]);
        bad_store.add_crl(foreign);
        assert_eq!(
            bad_store.check_crls(&[]).unwrap_err().code(),
            "CRL_UNTRUSTED"
        );
    }
}

#[test]
fn intermediate_chains_and_path_length() {
    let root = ca(KeyAlgorithm::Sm2, "Org");
    let now = SystemTime::now();
    // Intermediate with pathLen 0 below the root.
    let int_key = PrivateKey::generate(KeyAlgorithm::Sm2).unwrap();
    let int_cert = issue_certificate(
        &CertificateSpec {
            subject: subject_name("Org", Role::Ca, "Org Issuing").unwrap(),
            public_key: int_key.public_key().clone(),
            role: Role::Ca,
            hosts: vec![],
            not_before: now - HOUR,
            not_after: now + 10 * HOUR,
            path_len: Some(0),
        },
        &random_serial().unwrap(),
        Issuer {
            name: root.cert.subject(),
            key: &root.key,
            key_id: root.cert.subject_key_id().as_deref(),
        },
    )
    .unwrap();
    let int = Ca {
        cert: int_cert.clone(),
        key: int_key,
    };
    let (l, _) = leaf(&int, Role::Admin, now - HOUR, now + HOUR);
    let s = store(&[&root]);
    let opts = VerifyOptions {
        role: Some(Role::Admin),
        ..Default::default()
    };
    let chain = s
        .verify(&l, std::slice::from_ref(&int_cert), &opts)
        .unwrap();
    assert_eq!(chain.certificates.len(), 3);
    // Without the intermediate the issuer is unknown.
    assert_eq!(
        s.verify(&l, &[], &opts).unwrap_err().reason(),
        "unknown_issuer"
    );

    // A sub-CA below the pathLen-0 intermediate breaks the constraint.
    let sub_key = PrivateKey::generate(KeyAlgorithm::Sm2).unwrap();
    let sub_cert = issue_certificate(
        &CertificateSpec {
            subject: subject_name("Org", Role::Ca, "Org Sub").unwrap(),
            public_key: sub_key.public_key().clone(),
            role: Role::Ca,
            hosts: vec![],
            not_before: now - HOUR,
            not_after: now + 10 * HOUR,
            path_len: None,
        },
        &random_serial().unwrap(),
        Issuer {
            name: int_cert.subject(),
            key: &int.key,
            key_id: int_cert.subject_key_id().as_deref(),
        },
    )
    .unwrap();
    let sub = Ca {
        cert: sub_cert.clone(),
        key: sub_key,
    };
    let (deep, _) = leaf(&sub, Role::Admin, now - HOUR, now + HOUR);
    let err = s.verify(&deep, &[sub_cert, int_cert], &opts).unwrap_err();
    assert_eq!(err.reason(), "path_too_long");
}

#[test]
fn roots_verify_themselves_and_suites_mix_only_by_trust() {
    let sm = ca(KeyAlgorithm::Sm2, "SmOrg");
    let intl = ca(KeyAlgorithm::EcdsaP256, "IntlOrg");
    let s = store(&[&sm, &intl]);
    s.verify(&sm.cert, &[], &VerifyOptions::default()).unwrap();
    assert_eq!(sm.cert.role(), Some(Role::Ca));
    // Trusting both orgs' roots, each org's leaves verify under their own root only.
    let now = SystemTime::now();
    let (sm_leaf, _) = leaf(&sm, Role::Node, now - HOUR, now + HOUR);
    let (intl_leaf, _) = leaf(&intl, Role::Node, now - HOUR, now + HOUR);
    let a = s.verify(&sm_leaf, &[], &VerifyOptions::default()).unwrap();
    let b = s
        .verify(&intl_leaf, &[], &VerifyOptions::default())
        .unwrap();
    assert_eq!(a.certificates[1], sm.cert);
    assert_eq!(b.certificates[1], intl.cert);
    assert_eq!(
        store(&[&sm])
            .verify(&intl_leaf, &[], &VerifyOptions::default())
            .unwrap_err()
            .reason(),
        "unknown_issuer"
    );
}
