use std::fs;

#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;

use crate::{covenant, openssl, snapshot};

/// The issue's acceptance path for one suite: an org CA issues a node certificate that
/// `covenant ca verify` accepts; after `revoke` and `crl` it is rejected as revoked.
fn issue_verify_revoke(suite: &str, extra_init: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut init = vec![
        "ca", "init", "--org", "Org1", "--suite", suite, "--dir", "ca", "--output", "json",
    ];
    init.extend_from_slice(extra_init);
    let out = covenant(d, &init).ok().json();
    assert_eq!(out["root_cert"], "ca/root.crt");
    assert_eq!(out["key"], "ca/root.key");
    assert!(d.join("ca/root.crt").is_file() && d.join("ca/root.key").is_file());

    let issued = covenant(
        d,
        &[
            "ca",
            "issue",
            "--dir",
            "ca",
            "--role",
            "node",
            "--name",
            "node1",
            "--host",
            "node1.org1.example",
            "--host",
            "127.0.0.1",
            "--output",
            "json",
        ],
    )
    .ok()
    .json();
    let cert = issued["cert"].as_str().unwrap().to_string();
    let serial = issued["serial"].as_str().unwrap().to_string();
    assert!(d.join(&cert).is_file());
    assert!(d.join(issued["key"].as_str().unwrap()).is_file());

    let v = covenant(
        d,
        &[
            "ca",
            "verify",
            "--trust",
            "ca/root.crt",
            "--role",
            "node",
            &cert,
            "--output",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(v["valid"], true);
    assert_eq!(v["reason"], serde_json::Value::Null);
    assert_eq!(v["role"], "node");
    assert_eq!(v["serial"], serial.as_str());

    let r = covenant(
        d,
        &[
            "ca", "revoke", "--dir", "ca", "--serial", &serial, "--output", "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(r["serial"], serial.as_str());
    let crl = covenant(d, &["ca", "crl", "--dir", "ca", "--output", "json"])
        .ok()
        .json();
    assert_eq!(crl["crl"], "ca/crl.pem");
    assert_eq!(crl["revoked"], 1);

    let rejected = covenant(
        d,
        &[
            "ca",
            "verify",
            "--trust",
            "ca/root.crt",
            "--crl",
            "ca/crl.pem",
            &cert,
            "--output",
            "json",
        ],
    );
    assert_eq!(rejected.code, 3, "{}", rejected.stdout);
    let v = rejected.json();
    assert_eq!(v["valid"], false);
    assert_eq!(v["reason"], "revoked");

    // Text mode says the same, with the reason.
    let text = covenant(
        d,
        &[
            "ca",
            "verify",
            "--trust",
            "ca/root.crt",
            "--crl",
            "ca/crl.pem",
            &cert,
        ],
    );
    assert_eq!(text.code, 3);
    assert!(
        text.stdout.starts_with("invalid (revoked)"),
        "{}",
        text.stdout
    );
    tmp
}

#[test]
fn sm_suite_node_certificate_is_valid_then_revoked() {
    issue_verify_revoke("sm", &[]);
}

#[test]
fn intl_suite_node_certificate_is_valid_then_revoked_and_openssl_verifies_the_chain() {
    for extra in [
        &[][..],
        &["--key-algorithm", "ed25519", "--intermediate"][..],
    ] {
        let tmp = issue_verify_revoke("intl", extra);
        let d = tmp.path();
        // A fresh certificate from the same CA: OpenSSL verifies the intl chain.
        let issued = covenant(
            d,
            &[
                "ca", "issue", "--dir", "ca", "--role", "client", "--name", "app", "-o", "json",
            ],
        )
        .ok()
        .json();
        let cert = issued["cert"].as_str().unwrap();
        let mut args = vec!["verify", "-CAfile", "ca/root.crt"];
        if d.join("ca/intermediate.crt").exists() {
            args.extend(["-untrusted", "ca/intermediate.crt"]);
        }
        args.push(cert);
        let out = openssl(d, &args);
        assert!(
            out.status.success(),
            "openssl verify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // And OpenSSL rejects the revoked node certificate with our CRL.
        let node = "ca/identities/node1/cert.pem";
        let mut args = vec![
            "verify",
            "-crl_check",
            "-CAfile",
            "ca/root.crt",
            "-CRLfile",
            "ca/crl.pem",
        ];
        if d.join("ca/intermediate.crt").exists() {
            args.extend(["-untrusted", "ca/intermediate.crt"]);
        }
        args.push(node);
        let out = openssl(d, &args);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("revoked")
                || String::from_utf8_lossy(&out.stderr).contains("revoked")
        );
    }
}

#[test]
fn csr_and_sign_keep_the_private_key_with_the_member() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    covenant(
        d,
        &[
            "ca", "init", "--org", "Org1", "--suite", "sm", "--dir", "ca",
        ],
    )
    .ok();
    let csr = covenant(
        d,
        &[
            "ca",
            "csr",
            "--suite",
            "sm",
            "--name",
            "alice",
            "--out",
            "member/alice",
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(csr["csr"], "member/alice.csr");
    assert_eq!(csr["key"], "member/alice.key");
    let before = fs::read(d.join("member/alice.key")).unwrap();
    let signed = covenant(
        d,
        &[
            "ca",
            "sign",
            "--dir",
            "ca",
            "--csr",
            "member/alice.csr",
            "--role",
            "admin",
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(signed["cert"], "member/alice.crt");
    assert_eq!(signed["role"], "admin");
    assert!(signed["serial"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(fs::read(d.join("member/alice.key")).unwrap(), before);
    // The CA never saw the key: nothing named alice holds a private key in the CA dir.
    for (path, bytes) in snapshot(&d.join("ca")) {
        if String::from_utf8_lossy(&bytes).contains("PRIVATE KEY") {
            assert!(
                path.ends_with("root.key"),
                "unexpected key {}",
                path.display()
            );
        }
    }
    let v = covenant(
        d,
        &[
            "ca",
            "verify",
            "--trust",
            "ca/root.crt",
            "--role",
            "admin",
            "member/alice.crt",
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(v["valid"], true);
    // The wrong role is a typed rejection.
    let wrong = covenant(
        d,
        &[
            "ca",
            "verify",
            "--trust",
            "ca/root.crt",
            "--role",
            "node",
            "member/alice.crt",
            "-o",
            "json",
        ],
    );
    assert_eq!(wrong.code, 3);
    assert_eq!(wrong.json()["reason"], "wrong_role");

    // A CSR whose key belongs to the other suite is refused, and nothing is written.
    covenant(
        d,
        &[
            "ca",
            "csr",
            "--suite",
            "intl",
            "--name",
            "bob",
            "--out",
            "member/bob",
        ],
    )
    .ok();
    let snap = snapshot(&d.join("ca"));
    covenant(
        d,
        &[
            "ca",
            "sign",
            "--dir",
            "ca",
            "--csr",
            "member/bob.csr",
            "--role",
            "client",
        ],
    )
    .fails_with("KEY_SUITE_MISMATCH");
    assert_eq!(snapshot(&d.join("ca")), snap);
    assert!(!d.join("member/bob.crt").exists());
}

#[test]
fn list_shows_serial_role_expiry_and_revocation() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    covenant(
        d,
        &[
            "ca", "init", "--org", "Org1", "--suite", "intl", "--dir", "ca",
        ],
    )
    .ok();
    let a = covenant(
        d,
        &[
            "ca", "issue", "--dir", "ca", "--role", "admin", "--name", "admin", "-o", "json",
        ],
    )
    .ok()
    .json();
    covenant(
        d,
        &[
            "ca", "issue", "--dir", "ca", "--role", "client", "--name", "app", "--days", "10",
        ],
    )
    .ok();
    covenant(
        d,
        &[
            "ca",
            "revoke",
            "--dir",
            "ca",
            "--serial",
            a["serial"].as_str().unwrap(),
            "--reason",
            "key-compromise",
        ],
    )
    .ok();
    let list = covenant(d, &["ca", "list", "--dir", "ca", "-o", "json"])
        .ok()
        .json();
    let certs = list["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[0]["role"], "admin");
    assert_eq!(certs[0]["revoked"]["reason"], "key-compromise");
    assert_eq!(certs[1]["name"], "app");
    assert!(certs[1]["revoked"].is_null());
    assert!(certs[1]["not_after"].as_str().unwrap().ends_with('Z'));
    let text = covenant(d, &["ca", "list", "--dir", "ca"]).ok().stdout;
    assert!(
        text.contains("SERIAL") && text.contains("revoked") && text.contains("valid"),
        "{text}"
    );
}

#[test]
fn bad_input_gets_a_coded_one_line_error_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    covenant(
        d,
        &[
            "ca", "init", "--org", "Org1", "--suite", "sm", "--dir", "ca",
        ],
    )
    .ok();
    covenant(
        d,
        &[
            "ca", "issue", "--dir", "ca", "--role", "client", "--name", "c1",
        ],
    )
    .ok();
    fs::write(
        d.join("not-a-cert.pem"),
        "-----BEGIN PRIVATE KEY-----\nMC4CAQA=\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    fs::write(d.join("garbage.pem"), "hello").unwrap();
    let snap = snapshot(&d.join("ca"));

    // Re-running init refuses.
    covenant(
        d,
        &[
            "ca", "init", "--org", "Org1", "--suite", "sm", "--dir", "ca",
        ],
    )
    .fails_with("CA_EXISTS");
    covenant(
        d,
        &[
            "ca", "init", "--org", "Other", "--suite", "intl", "--dir", "ca",
        ],
    )
    .fails_with("CA_EXISTS");
    // Unknown role, suite, name, serial, host, algorithm of the wrong suite.
    covenant(
        d,
        &[
            "ca", "issue", "--dir", "ca", "--role", "boss", "--name", "x",
        ],
    )
    .fails_with("ROLE_UNKNOWN");
    covenant(
        d,
        &[
            "ca", "init", "--org", "O", "--suite", "rsa", "--dir", "other",
        ],
    )
    .fails_with("SUITE_UNKNOWN");
    covenant(
        d,
        &[
            "ca", "issue", "--dir", "ca", "--role", "client", "--name", "../x",
        ],
    )
    .fails_with("NAME_INVALID");
    covenant(
        d,
        &[
            "ca", "issue", "--dir", "ca", "--role", "client", "--name", "c1",
        ],
    )
    .fails_with("NAME_EXISTS");
    covenant(
        d,
        &[
            "ca", "issue", "--dir", "ca", "--role", "node", "--name", "n", "--host", "bad host",
        ],
    )
    .fails_with("INVALID_ARGUMENT");
    covenant(
        d,
        &[
            "ca",
            "issue",
            "--dir",
            "ca",
            "--role",
            "client",
            "--name",
            "e",
            "--key-algorithm",
            "ed25519",
        ],
    )
    .fails_with("KEY_SUITE_MISMATCH");
    covenant(d, &["ca", "revoke", "--dir", "ca", "--serial", "zz"]).fails_with("SERIAL_INVALID");
    covenant(d, &["ca", "revoke", "--dir", "ca", "--serial", "01"]).fails_with("SERIAL_UNKNOWN");
    covenant(
        d,
        &[
            "ca", "revoke", "--dir", "ca", "--serial", "01", "--reason", "bored",
        ],
    )
    .fails_with("INVALID_ARGUMENT");
    // Missing files and files that are not what they claim.
    covenant(
        d,
        &[
            "ca", "issue", "--dir", "nowhere", "--role", "client", "--name", "x",
        ],
    )
    .fails_with("FILE_NOT_FOUND");
    covenant(
        d,
        &["ca", "verify", "--trust", "missing.crt", "ca/root.crt"],
    )
    .fails_with("FILE_NOT_FOUND");
    covenant(
        d,
        &["ca", "verify", "--trust", "ca/root.crt", "not-a-cert.pem"],
    )
    .fails_with("NOT_A_CERTIFICATE");
    covenant(
        d,
        &["ca", "verify", "--trust", "garbage.pem", "ca/root.crt"],
    )
    .fails_with("NOT_A_CERTIFICATE");
    covenant(
        d,
        &[
            "ca",
            "verify",
            "--trust",
            "ca/root.crt",
            "--crl",
            "ca/root.crt",
            "ca/root.crt",
        ],
    )
    .fails_with("NOT_A_CRL");
    covenant(
        d,
        &[
            "ca",
            "sign",
            "--dir",
            "ca",
            "--csr",
            "garbage.pem",
            "--role",
            "client",
        ],
    )
    .fails_with("NOT_A_CSR");
    covenant(d, &["ca", "verify", "ca/root.crt"]).fails_with("INVALID_ARGUMENT");
    covenant(
        d,
        &[
            "ca",
            "import",
            "--dir",
            "trust",
            "ca/identities/c1/cert.pem",
        ],
    )
    .fails_with("NOT_A_TRUST_ROOT");
    // Not a CA directory.
    fs::create_dir(d.join("empty")).unwrap();
    covenant(d, &["ca", "list", "--dir", "empty"]).fails_with("CA_NOT_FOUND");
    // Usage errors are coded too.
    covenant(d, &["ca", "issue", "--dir", "ca"]).fails_with_usage();

    assert_eq!(
        snapshot(&d.join("ca")),
        snap,
        "a failed command changed the CA directory"
    );

    // A root key of the wrong suite is detected when the CA is opened. (The CSR goes to a bare
    // file name in the working directory, which must work too.)
    let foreign = covenant(
        d,
        &[
            "ca", "csr", "--suite", "intl", "--name", "k", "--out", "foreign", "-o", "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(foreign["key"], "foreign.key");
    fs::copy(d.join("foreign.key"), d.join("ca/root.key")).unwrap();
    covenant(
        d,
        &[
            "ca", "issue", "--dir", "ca", "--role", "client", "--name", "c2",
        ],
    )
    .fails_with("KEY_SUITE_MISMATCH");
}

trait UsageFailure {
    fn fails_with_usage(self);
}

impl UsageFailure for crate::Run {
    fn fails_with_usage(self) {
        assert_eq!(self.code, 2, "{}", self.stderr);
        assert!(self.stderr.starts_with("error[USAGE]:"), "{}", self.stderr);
    }
}

#[test]
fn errors_are_json_with_output_json() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let run = covenant(d, &["ca", "list", "--dir", "nowhere", "--output", "json"]);
    assert_eq!(run.code, 1);
    let v = run.json();
    assert_eq!(v["error"]["code"], "FILE_NOT_FOUND");
    assert!(v["error"]["message"].as_str().unwrap().contains("nowhere"));
    let usage = covenant(d, &["ca", "issue", "--output", "json"]);
    assert_eq!(usage.code, 2);
    assert_eq!(usage.json()["error"]["code"], "USAGE");
}

#[test]
fn force_init_archives_the_old_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    covenant(d, &["ca", "init", "--org", "Org1", "--dir", "ca"]).ok();
    let old_root = fs::read(d.join("ca/root.crt")).unwrap();
    let out = covenant(
        d,
        &[
            "ca", "init", "--org", "Org1", "--dir", "ca", "--force", "-o", "json",
        ],
    )
    .ok()
    .json();
    let archived = out["archived"].as_str().unwrap();
    assert_eq!(
        fs::read(d.join(archived).join("root.crt")).unwrap(),
        old_root
    );
    assert_ne!(fs::read(d.join("ca/root.crt")).unwrap(), old_root);
}

#[cfg(unix)]
#[test]
fn private_key_files_are_mode_0600() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    covenant(
        d,
        &[
            "ca",
            "init",
            "--org",
            "Org1",
            "--suite",
            "intl",
            "--intermediate",
            "--dir",
            "ca",
        ],
    )
    .ok();
    covenant(
        d,
        &[
            "ca", "issue", "--dir", "ca", "--role", "node", "--name", "n1",
        ],
    )
    .ok();
    covenant(
        d,
        &["ca", "csr", "--suite", "intl", "--name", "m", "--out", "m"],
    )
    .ok();
    for key in [
        "ca/root.key",
        "ca/intermediate.key",
        "ca/identities/n1/key.pem",
        "m.key",
    ] {
        let mode = fs::metadata(d.join(key)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }
}

#[test]
fn external_root_imported_then_its_certificates_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let run = |args: &[&str]| {
        let out = openssl(d, args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "sm2",
        "-nodes",
        "-keyout",
        "cfca.key",
        "-out",
        "cfca.crt",
        "-days",
        "30",
        "-subj",
        "/C=CN/O=CFCA TEST/CN=CFCA TEST SM2 ROOT",
    ]);
    run(&[
        "req",
        "-new",
        "-newkey",
        "sm2",
        "-nodes",
        "-keyout",
        "u.key",
        "-out",
        "u.csr",
        "-subj",
        "/O=Bank/OU=client/CN=user1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "u.csr",
        "-CA",
        "cfca.crt",
        "-CAkey",
        "cfca.key",
        "-CAcreateserial",
        "-out",
        "u.crt",
        "-days",
        "5",
    ]);
    covenant(d, &["ca", "init", "--org", "Bank", "--dir", "bank"]).ok();
    let imp = covenant(
        d,
        &["ca", "import", "--dir", "bank", "cfca.crt", "-o", "json"],
    )
    .ok()
    .json();
    assert!(
        imp["subject"]
            .as_str()
            .unwrap()
            .contains("CFCA TEST SM2 ROOT")
    );
    let v = covenant(
        d,
        &[
            "ca",
            "verify",
            "--trust-dir",
            "bank",
            "--role",
            "client",
            "u.crt",
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(v["valid"], true);
    assert_eq!(v["role"], "client");
    // Without the import, the bank's own root does not vouch for it.
    let no = covenant(
        d,
        &[
            "ca",
            "verify",
            "--trust",
            "bank/root.crt",
            "u.crt",
            "-o",
            "json",
        ],
    );
    assert_eq!(no.code, 3);
    assert_eq!(no.json()["reason"], "unknown_issuer");
}

#[test]
fn verify_at_a_time_reports_expiry_and_not_yet_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    covenant(d, &["ca", "init", "--org", "Org1", "--dir", "ca"]).ok();
    let c = covenant(
        d,
        &[
            "ca", "issue", "--dir", "ca", "--role", "client", "--name", "c", "--days", "2", "-o",
            "json",
        ],
    )
    .ok()
    .json();
    let cert = c["cert"].as_str().unwrap();
    let later = covenant(
        d,
        &[
            "ca",
            "verify",
            "--trust",
            "ca/root.crt",
            "--at",
            "2099-01-01T00:00:00Z",
            cert,
            "-o",
            "json",
        ],
    );
    assert_eq!(later.json()["reason"], "expired");
    let earlier = covenant(
        d,
        &[
            "ca",
            "verify",
            "--trust",
            "ca/root.crt",
            "--at",
            "2001-01-01T00:00:00Z",
            cert,
            "-o",
            "json",
        ],
    );
    assert_eq!(earlier.json()["reason"], "not_yet_valid");
    covenant(
        d,
        &[
            "ca",
            "verify",
            "--trust",
            "ca/root.crt",
            "--at",
            "someday",
            cert,
        ],
    )
    .fails_with("INVALID_ARGUMENT");
}

#[test]
fn every_command_has_help() {
    let tmp = tempfile::tempdir().unwrap();
    let top = covenant(tmp.path(), &["--help"]).ok();
    assert!(top.stdout.contains("ca"), "{}", top.stdout);
    for sub in [
        "init", "issue", "csr", "sign", "revoke", "crl", "verify", "list", "import",
    ] {
        let h = covenant(tmp.path(), &["ca", sub, "--help"]).ok();
        assert!(
            h.stdout.contains("Usage: covenant ca"),
            "{sub}: {}",
            h.stdout
        );
        assert!(
            h.stdout.len() > 300,
            "{sub} help is too thin:\n{}",
            h.stdout
        );
    }
}
