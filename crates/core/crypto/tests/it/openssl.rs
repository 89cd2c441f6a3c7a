//! Sign with one side, verify with the other, for every algorithm, both ways.

use std::path::{Path, PathBuf};

use covenant_crypto::{KeyAlgorithm, PrivateKey, PublicKey, SM2_DEFAULT_DISTID};

use covenant_test_utils::openssl::openssl;

fn openssl_ok(dir: &Path, args: &[&str]) {
    covenant_test_utils::openssl::openssl_ok(dir, args);
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

const DISTID_OPT: &str = "distid:1234567812345678";

/// OpenSSL arguments that verify `msg` against `sig` under `pub.pem` for each algorithm.
fn openssl_verify_args(alg: KeyAlgorithm) -> Vec<&'static str> {
    match alg {
        KeyAlgorithm::Sm2 => vec![
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg",
            "-sigfile", "sig", "-digest", "sm3", "-pkeyopt", DISTID_OPT,
        ],
        KeyAlgorithm::EcdsaP256 => vec![
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "sig",
            "msg",
        ],
        KeyAlgorithm::Ed25519 => vec![
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg",
            "-sigfile", "sig",
        ],
    }
}

fn openssl_sign_args(alg: KeyAlgorithm) -> Vec<&'static str> {
    match alg {
        KeyAlgorithm::Sm2 => vec![
            "pkeyutl", "-sign", "-inkey", "key.pem", "-rawin", "-in", "msg", "-out", "sig",
            "-digest", "sm3", "-pkeyopt", DISTID_OPT,
        ],
        KeyAlgorithm::EcdsaP256 => {
            vec!["dgst", "-sha256", "-sign", "key.pem", "-out", "sig", "msg"]
        }
        KeyAlgorithm::Ed25519 => vec![
            "pkeyutl", "-sign", "-inkey", "key.pem", "-rawin", "-in", "msg", "-out", "sig",
        ],
    }
}

fn openssl_genkey_args(alg: KeyAlgorithm) -> Vec<&'static str> {
    match alg {
        KeyAlgorithm::Sm2 => vec!["genpkey", "-algorithm", "SM2", "-out", "key.pem"],
        KeyAlgorithm::EcdsaP256 => vec![
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "key.pem",
        ],
        KeyAlgorithm::Ed25519 => vec!["genpkey", "-algorithm", "ED25519", "-out", "key.pem"],
    }
}

/// Covenant signs; OpenSSL verifies the signature with our SPKI public key, and reads our
/// PKCS#8 private key.
#[test]
fn covenant_signs_openssl_verifies() {
    for alg in KeyAlgorithm::ALL {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let key = PrivateKey::generate(alg).unwrap();
        let msg = format!("covenant transaction payload for {alg}");
        write(d, "msg", msg.as_bytes());
        write(
            d,
            "pub.pem",
            key.public_key().to_spki_pem().unwrap().as_bytes(),
        );
        write(d, "key.pem", key.to_pkcs8_pem().unwrap().as_bytes());
        for round in 0..5 {
            write(d, "sig", &key.sign(msg.as_bytes()).unwrap());
            openssl_ok(d, &openssl_verify_args(alg));
            if round == 0 {
                // A changed message must fail on OpenSSL's side too.
                write(d, "msg", b"something else");
                assert!(!openssl(d, &openssl_verify_args(alg)).status.success());
                write(d, "msg", msg.as_bytes());
            }
        }
        // OpenSSL parses our private key and derives the same public key.
        openssl_ok(
            d,
            &["pkey", "-in", "key.pem", "-pubout", "-out", "derived.pem"],
        );
        let derived = std::fs::read_to_string(d.join("derived.pem")).unwrap();
        assert_eq!(
            &PublicKey::from_spki_pem(&derived).unwrap(),
            key.public_key()
        );
    }
}

/// OpenSSL generates the key and signs; Covenant loads the PKCS#8 key and SPKI public key and
/// verifies.
#[test]
fn openssl_signs_covenant_verifies() {
    for alg in KeyAlgorithm::ALL {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl_ok(d, &openssl_genkey_args(alg));
        openssl_ok(d, &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"]);
        let key = PrivateKey::from_pkcs8_pem(&std::fs::read_to_string(d.join("key.pem")).unwrap())
            .unwrap();
        assert_eq!(key.algorithm(), alg);
        let public =
            PublicKey::from_spki_pem(&std::fs::read_to_string(d.join("pub.pem")).unwrap()).unwrap();
        assert_eq!(&public, key.public_key());
        for i in 0..5 {
            let msg = format!("message {i} signed by openssl");
            write(d, "msg", msg.as_bytes());
            openssl_ok(d, &openssl_sign_args(alg));
            let sig = std::fs::read(d.join("sig")).unwrap();
            public.verify(msg.as_bytes(), &sig).unwrap();
            assert!(public.verify(b"tampered", &sig).is_err());
            // And our signature with OpenSSL's key verifies on OpenSSL's side.
            write(d, "sig", &key.sign(msg.as_bytes()).unwrap());
            openssl_ok(d, &openssl_verify_args(alg));
        }
    }
}

/// An SM2 signature under a different distinguishing ID must not verify: the default ID is
/// part of what is checked.
#[test]
fn sm2_distid_matters() {
    assert_eq!(SM2_DEFAULT_DISTID, "1234567812345678");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl_ok(d, &openssl_genkey_args(KeyAlgorithm::Sm2));
    openssl_ok(d, &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"]);
    let public =
        PublicKey::from_spki_pem(&std::fs::read_to_string(d.join("pub.pem")).unwrap()).unwrap();
    write(d, "msg", b"distid check");
    openssl_ok(
        d,
        &[
            "pkeyutl",
            "-sign",
            "-inkey",
            "key.pem",
            "-rawin",
            "-in",
            "msg",
            "-out",
            "sig",
            "-digest",
            "sm3",
            "-pkeyopt",
            "distid:ALICE123@YAHOO.COM",
        ],
    );
    let sig = std::fs::read(d.join("sig")).unwrap();
    assert!(public.verify(b"distid check", &sig).is_err());
}
