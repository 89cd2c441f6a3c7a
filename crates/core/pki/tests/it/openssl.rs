use std::{fs, path::Path};

use covenant_crypto::{KeyAlgorithm, Suite};
use covenant_pki::{
    Certificate, CertificateAuthority, Csr, RevocationReason, Role, TrustStore, VerifyOptions,
    authority::{InitOptions, IssueOptions, SignOptions, import_trust_root, trust_roots_in},
};

use crate::support::{openssl, openssl_ok};

fn init(dir: &Path, suite: Suite, alg: KeyAlgorithm, intermediate: bool) -> CertificateAuthority {
    CertificateAuthority::init(
        dir,
        &InitOptions {
            org: "Org1".into(),
            suite,
            key_algorithm: Some(alg),
            intermediate,
            days: 365,
            force: false,
        },
    )
    .unwrap();
    CertificateAuthority::open(dir).unwrap()
}

fn issue_node(ca: &mut CertificateAuthority) -> covenant_pki::authority::IssueOutcome {
    ca.issue(&IssueOptions {
        role: Role::Node,
        name: "node1".into(),
        hosts: vec!["node1.org1".parse().unwrap(), "127.0.0.1".parse().unwrap()],
        days: 30,
        key_algorithm: None,
        out: None,
        force: false,
    })
    .unwrap()
}

fn signature_name(alg: KeyAlgorithm) -> &'static str {
    match alg {
        KeyAlgorithm::Sm2 => "SM2-with-SM3",
        KeyAlgorithm::EcdsaP256 => "ecdsa-with-SHA256",
        KeyAlgorithm::Ed25519 => "ED25519",
    }
}

const CASES: [(Suite, KeyAlgorithm); 3] = [
    (Suite::Sm, KeyAlgorithm::Sm2),
    (Suite::Intl, KeyAlgorithm::EcdsaP256),
    (Suite::Intl, KeyAlgorithm::Ed25519),
];

/// OpenSSL parses our certificates, keys and CRLs of every algorithm; the SM2 signature value
/// is DER (r, s), which OpenSSL requires.
#[test]
fn openssl_parses_our_certificates_keys_and_crls() {
    for (suite, alg) in CASES {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut ca = init(d, suite, alg, true);
        let out = issue_node(&mut ca);
        ca.revoke(&out.serial, RevocationReason::KeyCompromise)
            .unwrap();
        let crl = ca.write_crl(7).unwrap();

        let text = openssl_ok(
            d,
            &["x509", "-in", out.cert.to_str().unwrap(), "-noout", "-text"],
        );
        assert!(text.contains(signature_name(alg)), "{text}");
        assert!(
            text.contains("OU = node") || text.contains("OU=node"),
            "{text}"
        );
        assert!(
            text.contains("DNS:node1.org1") && text.contains("IP Address:127.0.0.1"),
            "{text}"
        );
        assert!(text.contains("TLS Web Server Authentication"), "{text}");
        let root_text = openssl_ok(d, &["x509", "-in", "root.crt", "-noout", "-text"]);
        assert!(root_text.contains("CA:TRUE"), "{root_text}");

        openssl_ok(d, &["pkey", "-in", out.key.to_str().unwrap(), "-noout"]);
        openssl_ok(d, &["pkey", "-in", "root.key", "-noout"]);
        let crl_text = openssl_ok(d, &["crl", "-in", "crl.pem", "-noout", "-text"]);
        assert!(crl_text.contains(&out.serial), "{crl_text}");
        assert!(crl_text.contains("Key Compromise"), "{crl_text}");
        let _ = crl;
    }
}

/// `openssl verify` accepts our international chains, with and without an intermediate, and
/// rejects the leaf as revoked once our CRL lists it.
#[test]
fn openssl_verifies_intl_chains_and_honours_our_crl() {
    for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519] {
        for intermediate in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let mut ca = init(d, Suite::Intl, alg, intermediate);
            let out = issue_node(&mut ca);
            let leaf = out.cert.to_str().unwrap();
            let mut args = vec!["verify", "-CAfile", "root.crt"];
            if intermediate {
                args.extend(["-untrusted", "intermediate.crt"]);
            }
            args.push(leaf);
            let ok = openssl_ok(d, &args);
            assert!(ok.contains("OK"), "{ok}");

            ca.revoke(&out.serial, RevocationReason::Superseded)
                .unwrap();
            ca.write_crl(7).unwrap();
            let mut args = vec![
                "verify",
                "-crl_check",
                "-CAfile",
                "root.crt",
                "-CRLfile",
                "crl.pem",
            ];
            if intermediate {
                args.extend(["-untrusted", "intermediate.crt"]);
            }
            args.push(leaf);
            let res = openssl(d, &args);
            assert!(!res.status.success());
            let msg = format!(
                "{}{}",
                String::from_utf8_lossy(&res.stdout),
                String::from_utf8_lossy(&res.stderr)
            );
            assert!(msg.contains("revoked"), "{msg}");
        }
    }
}

/// OpenSSL verifies our SM2 chain when told the standard distinguishing ID.
#[test]
fn openssl_verifies_our_sm2_chain_with_the_standard_distid() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut ca = init(d, Suite::Sm, KeyAlgorithm::Sm2, false);
    let out = issue_node(&mut ca);
    let ok = openssl_ok(
        d,
        &[
            "verify",
            "-vfyopt",
            "distid:1234567812345678",
            "-CAfile",
            "root.crt",
            out.cert.to_str().unwrap(),
        ],
    );
    assert!(ok.contains("OK"), "{ok}");
}

/// An external, CFCA-style SM2 root made by OpenSSL (`openssl req -x509 -newkey sm2`) is
/// imported as a trust root, and a certificate it issued verifies in Covenant, role included.
#[test]
fn openssl_made_sm2_root_is_imported_and_its_certificates_verify() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl_ok(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "sm2",
            "-nodes",
            "-keyout",
            "ext.key",
            "-out",
            "ext.crt",
            "-days",
            "30",
            "-subj",
            "/C=CN/O=CFCA TEST/CN=CFCA TEST SM2 OCA1",
        ],
    );
    openssl_ok(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "sm2",
            "-nodes",
            "-keyout",
            "teller.key",
            "-out",
            "teller.csr",
            "-subj",
            "/O=Bank/OU=client/CN=teller",
        ],
    );
    openssl_ok(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "teller.csr",
            "-CA",
            "ext.crt",
            "-CAkey",
            "ext.key",
            "-CAcreateserial",
            "-out",
            "teller.crt",
            "-days",
            "10",
        ],
    );
    let trust_dir = d.join("trust");
    let imported = import_trust_root(&trust_dir, &d.join("ext.crt")).unwrap();
    assert!(imported.subject.contains("CFCA TEST SM2 OCA1"));
    let mut store = TrustStore::new();
    for root in trust_roots_in(&trust_dir).unwrap() {
        store.add_anchor(root);
    }
    let teller = Certificate::load(&d.join("teller.crt")).unwrap();
    let chain = store
        .verify(
            &teller,
            &[],
            &VerifyOptions {
                role: Some(Role::Client),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(chain.role, Some(Role::Client));
    assert_eq!(teller.signature_algorithm(), Some(KeyAlgorithm::Sm2));

    // The same leaf under a different root fails as unknown issuer; a tampered copy fails
    // its signature.
    assert_eq!(
        TrustStore::new()
            .verify(&teller, &[], &VerifyOptions::default())
            .unwrap_err()
            .reason(),
        "unknown_issuer"
    );
    let mut der_bytes = teller.der().to_vec();
    let pos = der_bytes.windows(6).position(|w| w == b"teller").unwrap();
    der_bytes[pos] = b'T';
    let tampered = Certificate::from_der(der_bytes, "t").unwrap();
    assert_eq!(
        store
            .verify(&tampered, &[], &VerifyOptions::default())
            .unwrap_err()
            .reason(),
        "bad_signature"
    );
}

/// CSRs cross both ways: OpenSSL's CSR signed by our CA verifies in OpenSSL; our CSR passes
/// OpenSSL's self-signature check.
#[test]
fn csrs_interoperate_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut ca = init(d, Suite::Intl, KeyAlgorithm::EcdsaP256, false);
    openssl_ok(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "m.key",
            "-out",
            "m.csr",
            "-subj",
            "/CN=member-app",
        ],
    );
    let csr = Csr::load(&d.join("m.csr")).unwrap();
    let out = ca
        .sign_csr(
            &csr,
            &SignOptions {
                role: Role::Client,
                hosts: vec![],
                days: 5,
                out: d.join("m.crt"),
                force: false,
            },
        )
        .unwrap();
    assert_eq!(out.name, "member-app");
    let ok = openssl_ok(d, &["verify", "-CAfile", "root.crt", "m.crt"]);
    assert!(ok.contains("OK"));
    // The certificate holds the key OpenSSL generated.
    let from_key = openssl_ok(d, &["pkey", "-in", "m.key", "-pubout"]);
    let from_cert = openssl_ok(d, &["x509", "-in", "m.crt", "-noout", "-pubkey"]);
    assert_eq!(from_key, from_cert);

    for alg in [
        KeyAlgorithm::Sm2,
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::Ed25519,
    ] {
        let key = covenant_crypto::PrivateKey::generate(alg).unwrap();
        let ours = Csr::create(&key, "ours", &["ours.example".parse().unwrap()]).unwrap();
        fs::write(d.join("ours.csr"), ours.to_pem().unwrap()).unwrap();
        let mut args = vec!["req", "-in", "ours.csr", "-verify", "-noout"];
        if alg == KeyAlgorithm::Sm2 {
            args.extend(["-vfyopt", "distid:1234567812345678"]);
        }
        let res = openssl(d, &args);
        let msg = format!(
            "{}{}",
            String::from_utf8_lossy(&res.stdout),
            String::from_utf8_lossy(&res.stderr)
        );
        assert!(
            res.status.success() && msg.contains("verify OK"),
            "{alg}: {msg}"
        );
    }
}
