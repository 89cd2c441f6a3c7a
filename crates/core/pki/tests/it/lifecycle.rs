use std::fs;

#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;

use covenant_crypto::{KeyAlgorithm, PrivateKey, Suite};
use covenant_pki::{
    Certificate, CertificateAuthority, Crl, Csr, Host, RevocationReason, Role, TrustStore,
    VerifyOptions,
    authority::{InitOptions, IssueOptions, SignOptions, import_trust_root, trust_roots_in},
};

use crate::support::{init_ca, issue, load_chain};

fn store_for(ca: &CertificateAuthority) -> TrustStore {
    let mut store = TrustStore::new();
    store.add_anchor(ca.root().clone());
    store
}

/// The issue's acceptance path, through the library: node cert valid, then revoked via CRL.
#[test]
fn node_cert_valid_then_revoked_for_both_suites_with_and_without_intermediate() {
    for suite in Suite::ALL {
        for intermediate in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut ca = init_ca(dir.path(), "Org1", suite, intermediate);
            let out = ca
                .issue(&IssueOptions {
                    role: Role::Node,
                    name: "node1".into(),
                    hosts: vec![
                        "node1.org1.example".parse().unwrap(),
                        "127.0.0.1".parse().unwrap(),
                    ],
                    days: 30,
                    key_algorithm: None,
                    out: None,
                    force: false,
                })
                .unwrap();
            let chain = load_chain(&out.cert);
            assert_eq!(chain.len(), if intermediate { 2 } else { 1 });
            let leaf = &chain[0];
            assert_eq!(leaf.role(), Some(Role::Node));
            assert_eq!(leaf.hosts(), vec!["node1.org1.example", "127.0.0.1"]);
            assert_eq!(leaf.serial_hex(), out.serial);

            let opts = VerifyOptions {
                role: Some(Role::Node),
                ..Default::default()
            };
            let store = store_for(&ca);
            let verified = store.verify(leaf, &chain[1..], &opts).unwrap();
            assert_eq!(verified.role, Some(Role::Node));
            assert_eq!(
                verified.certificates.len(),
                if intermediate { 3 } else { 2 }
            );

            ca.revoke(&out.serial, RevocationReason::KeyCompromise)
                .unwrap();
            let crl_out = ca.write_crl(7).unwrap();
            assert_eq!(crl_out.revoked, 1);
            let crl = Crl::load(&crl_out.crl).unwrap();
            assert_eq!(crl.number(), Some(1));
            assert!(crl.revocation_of(leaf.serial_bytes()).is_some());
            // The issuer as carried (it keys the CRL on chain) is the issuing CA's subject,
            // and its rendering is Covenant's own.
            let issuing_ca = if chain.len() > 1 {
                &chain[1]
            } else {
                ca.root()
            };
            let subject_der = der::Encode::to_der(issuing_ca.subject()).unwrap();
            assert_eq!(crl.issuer_der(), subject_der.as_slice());
            assert_eq!(
                crl.issuer_text(),
                covenant_pki::describe_name(issuing_ca.subject())
            );
            assert!(
                crl.issuer_text().contains(",OU=ca,CN="),
                "{}",
                crl.issuer_text()
            );

            let mut store = store_for(&ca);
            store.add_crl(crl);
            store.check_crls(&chain[1..]).unwrap();
            let err = store.verify(leaf, &chain[1..], &opts).unwrap_err();
            assert_eq!(
                err.reason(),
                "revoked",
                "{suite} intermediate={intermediate}: {err}"
            );
        }
    }
}

#[test]
fn init_refuses_existing_ca_and_force_archives_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = init_ca(dir.path(), "Org1", Suite::Sm, false);
    let (cert, _, _) = issue(&mut ca, Role::Admin, "admin");
    let root_before = fs::read(dir.path().join("root.crt")).unwrap();
    drop(ca);
    let opts = InitOptions {
        org: "Org1".into(),
        suite: Suite::Sm,
        key_algorithm: None,
        intermediate: false,
        days: 365,
        force: false,
    };
    let err = CertificateAuthority::init(dir.path(), &opts).unwrap_err();
    assert_eq!(err.code(), "CA_EXISTS");
    assert_eq!(fs::read(dir.path().join("root.crt")).unwrap(), root_before);
    assert!(cert.exists());

    let out = CertificateAuthority::init(
        dir.path(),
        &InitOptions {
            force: true,
            ..opts
        },
    )
    .unwrap();
    let archived = out.archived.unwrap();
    assert_eq!(fs::read(archived.join("root.crt")).unwrap(), root_before);
    assert!(archived.join("identities/admin/key.pem").exists());
    assert_ne!(fs::read(dir.path().join("root.crt")).unwrap(), root_before);
    assert!(
        CertificateAuthority::open(dir.path())
            .unwrap()
            .list()
            .is_empty()
    );
}

#[cfg(unix)]
#[test]
fn private_keys_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = init_ca(dir.path(), "Org1", Suite::Intl, true);
    let (_, key, _) = issue(&mut ca, Role::Client, "app");
    for p in [
        dir.path().join("root.key"),
        dir.path().join("intermediate.key"),
        key,
    ] {
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
}

#[test]
fn reissuing_a_name_needs_force_and_keeps_the_old_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = init_ca(dir.path(), "Org1", Suite::Sm, false);
    let (cert, key, serial) = issue(&mut ca, Role::Client, "alice");
    let old_key = fs::read(&key).unwrap();
    let opts = IssueOptions {
        role: Role::Client,
        name: "alice".into(),
        hosts: vec![],
        days: 30,
        key_algorithm: None,
        out: None,
        force: false,
    };
    let err = ca.issue(&opts).unwrap_err();
    assert_eq!(err.code(), "NAME_EXISTS");
    assert_eq!(fs::read(&key).unwrap(), old_key);

    let again = ca
        .issue(&IssueOptions {
            force: true,
            ..opts
        })
        .unwrap();
    assert_ne!(again.serial, serial);
    assert_eq!(again.cert, cert);
    // The old identity moved aside, the old certificate copy stays indexed.
    let retired = fs::read_dir(dir.path().join("identities/.retired"))
        .unwrap()
        .count();
    assert_eq!(retired, 1);
    assert!(dir.path().join(format!("certs/{serial}.crt")).exists());
    assert_eq!(ca.list().len(), 2);
}

#[test]
fn bad_issue_arguments_have_codes_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = init_ca(dir.path(), "Org1", Suite::Sm, false);
    let index_before = fs::read(dir.path().join("index.json")).unwrap();
    let base = IssueOptions {
        role: Role::Client,
        name: "bob".into(),
        hosts: vec![],
        days: 30,
        key_algorithm: None,
        out: None,
        force: false,
    };
    let cases = [
        (
            IssueOptions {
                name: "../evil".into(),
                ..base.clone()
            },
            "NAME_INVALID",
        ),
        (
            IssueOptions {
                days: 0,
                ..base.clone()
            },
            "INVALID_ARGUMENT",
        ),
        (
            IssueOptions {
                hosts: vec![Host::Dns("x".into())],
                ..base.clone()
            },
            "INVALID_ARGUMENT",
        ),
        (
            IssueOptions {
                key_algorithm: Some(KeyAlgorithm::Ed25519),
                ..base.clone()
            },
            "KEY_SUITE_MISMATCH",
        ),
        (
            IssueOptions {
                role: Role::Ca,
                ..base.clone()
            },
            "ROLE_UNKNOWN",
        ),
    ];
    for (opts, code) in cases {
        assert_eq!(ca.issue(&opts).unwrap_err().code(), code);
    }
    assert_eq!(
        fs::read(dir.path().join("index.json")).unwrap(),
        index_before
    );
    assert_eq!(fs::read_dir(dir.path().join("certs")).unwrap().count(), 0);
}

#[test]
fn csr_flow_keeps_the_key_with_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = init_ca(dir.path(), "Org2", Suite::Intl, false);
    let member_key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let csr = Csr::create(&member_key, "peer7", &["peer7.org2".parse().unwrap()]).unwrap();
    let out_path = dir.path().join("peer7.crt");
    let out = ca
        .sign_csr(
            &csr,
            &SignOptions {
                role: Role::Node,
                hosts: vec!["10.0.0.7".parse().unwrap()],
                days: 10,
                out: out_path.clone(),
                force: false,
            },
        )
        .unwrap();
    let cert = Certificate::load(&out.cert).unwrap();
    assert_eq!(&cert.public_key().unwrap(), member_key.public_key());
    assert_eq!(cert.common_name().as_deref(), Some("peer7"));
    assert_eq!(cert.organization().as_deref(), Some("Org2"));
    assert_eq!(cert.role(), Some(Role::Node));
    assert_eq!(cert.hosts(), vec!["peer7.org2", "10.0.0.7"]);
    store_for(&ca)
        .verify(&cert, &[], &VerifyOptions::default())
        .unwrap();
    assert_eq!(ca.list()[0].source, "csr");

    // Signing again to the same file is refused.
    let again = SignOptions {
        role: Role::Node,
        hosts: vec![],
        days: 10,
        out: out_path,
        force: false,
    };
    assert_eq!(ca.sign_csr(&csr, &again).unwrap_err().code(), "FILE_EXISTS");

    // A CSR with a key of the other suite is refused.
    let sm_key = PrivateKey::generate(KeyAlgorithm::Sm2).unwrap();
    let sm_csr = Csr::create(&sm_key, "wrong", &[]).unwrap();
    let opts = SignOptions {
        out: dir.path().join("wrong.crt"),
        ..again
    };
    assert_eq!(
        ca.sign_csr(&sm_csr, &opts).unwrap_err().code(),
        "KEY_SUITE_MISMATCH"
    );
    assert!(!dir.path().join("wrong.crt").exists());
}

#[test]
fn revoke_unknown_and_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = init_ca(dir.path(), "Org1", Suite::Sm, false);
    let (_, _, serial) = issue(&mut ca, Role::Client, "c1");
    assert_eq!(
        ca.revoke("DEADBEEF", RevocationReason::Unspecified)
            .unwrap_err()
            .code(),
        "SERIAL_UNKNOWN"
    );
    assert_eq!(
        ca.revoke("nothex", RevocationReason::Unspecified)
            .unwrap_err()
            .code(),
        "SERIAL_INVALID"
    );
    ca.revoke(&serial.to_lowercase(), RevocationReason::Superseded)
        .unwrap();
    assert_eq!(
        ca.revoke(&serial, RevocationReason::Superseded)
            .unwrap_err()
            .code(),
        "ALREADY_REVOKED"
    );
    let crl1 = ca.write_crl(7).unwrap();
    let crl2 = ca.write_crl(7).unwrap();
    assert_eq!((crl1.crl_number, crl2.crl_number), (1, 2));
}

#[test]
fn corrupt_ca_directories_are_reported_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    drop(init_ca(dir.path(), "Org1", Suite::Sm, false));
    // A key of the wrong suite in place of the root key.
    let foreign = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let root_key = dir.path().join("root.key");
    let original = fs::read(&root_key).unwrap();
    fs::write(&root_key, foreign.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    assert_eq!(
        CertificateAuthority::open(dir.path()).unwrap_err().code(),
        "KEY_SUITE_MISMATCH"
    );
    // A different SM2 key: does not match the certificate.
    let other = PrivateKey::generate(KeyAlgorithm::Sm2).unwrap();
    fs::write(&root_key, other.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    assert_eq!(
        CertificateAuthority::open(dir.path()).unwrap_err().code(),
        "CA_CORRUPT"
    );
    fs::write(&root_key, &original).unwrap();
    // A certificate file that is not one.
    let root_cert = dir.path().join("root.crt");
    let cert_bytes = fs::read(&root_cert).unwrap();
    fs::write(
        &root_cert,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    assert_eq!(
        CertificateAuthority::open(dir.path()).unwrap_err().code(),
        "NOT_A_CERTIFICATE"
    );
    fs::write(&root_cert, cert_bytes).unwrap();
    fs::write(dir.path().join("index.json"), "{ not json").unwrap();
    assert_eq!(
        CertificateAuthority::open(dir.path()).unwrap_err().code(),
        "CA_CORRUPT"
    );
    // Not a CA directory at all.
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(
        CertificateAuthority::open(empty.path()).unwrap_err().code(),
        "CA_NOT_FOUND"
    );
    assert_eq!(
        CertificateAuthority::open(&empty.path().join("missing"))
            .unwrap_err()
            .code(),
        "FILE_NOT_FOUND"
    );
}

#[test]
fn import_external_root_and_list_trust_roots() {
    let ext_dir = tempfile::tempdir().unwrap();
    let ext = init_ca(ext_dir.path(), "External CA", Suite::Sm, false);
    let trust_dir = tempfile::tempdir().unwrap();
    let out = import_trust_root(trust_dir.path(), &ext_dir.path().join("root.crt")).unwrap();
    assert!(out.trust_root.starts_with(trust_dir.path().join("trusted")));
    let roots = trust_roots_in(trust_dir.path()).unwrap();
    assert_eq!(roots, vec![ext.root().clone()]);

    // A leaf cannot be imported as a trust root.
    let mut ext = ext;
    let (leaf, _, _) = issue(&mut ext, Role::Client, "c");
    let err = import_trust_root(trust_dir.path(), &leaf).unwrap_err();
    assert_eq!(err.code(), "NOT_A_TRUST_ROOT");
    // Nor can a file that is not a certificate.
    let err = import_trust_root(trust_dir.path(), &ext_dir.path().join("root.key")).unwrap_err();
    assert_eq!(err.code(), "NOT_A_CERTIFICATE");
}
