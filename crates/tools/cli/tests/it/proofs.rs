//! Evidence anyone can check without a node: on a four-org TBFT chain, a document hash is
//! stored, the chain's config changes twice (a block limit, then a validator leaves), another
//! hash is stored, and each record's proof is exported. With every node stopped, `covenant
//! proof verify` checks the proofs against the genesis block alone; a changed file, a proof
//! without its config changes and another file passed as genesis are all refused with the
//! reason.

use serde_json::{Value, json};

use crate::{cluster::Cluster, covenant};

fn store(c: &Cluster, hash: &str) -> String {
    let out = c
        .cli(&[
            "contract",
            "invoke",
            "evidence",
            "put",
            "--args",
            &json!({"hash": hash, "meta": "contract no. 2026-001"}).to_string(),
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(out["code"], "OK", "{out}");
    out["tx_id"].as_str().unwrap().to_string()
}

#[test]
fn an_evidence_record_is_proven_offline_from_the_genesis_alone() {
    let c = Cluster::up("tbft", "sm", 4);
    c.deploy("evidence");
    let first = store(&c, &"a1".repeat(32));
    c.config_update(json!({"set_block": {"max_txs": 5000}}));
    c.config_update(json!({"remove_node": "org4-node"}));
    let second = store(&c, &"b2".repeat(32));

    let export = |tx: &str, file: &str| {
        c.cli(&["proof", "export", tx, "--out", file, "-o", "json"])
            .ok()
            .json()
    };
    let e1 = export(&first, "first.proof");
    let e2 = export(&second, "second.proof");
    assert_eq!(e1["tx_id"], first.as_str());
    // The first record predates both changes; the second needs them (and the contract's
    // install, which changed no config, is not among them).
    assert_eq!(e1["config_changes"], 0, "{e1}");
    assert_eq!(e2["config_changes"], 2, "{e2}");
    let g = c
        .cli(&["chain", "genesis", "--out", "main.genesis", "-o", "json"])
        .ok()
        .json();
    let dir = c.root.path();
    let genesis = std::fs::read(dir.join("main.genesis")).unwrap();
    assert_eq!(g["bytes"], genesis.len());
    // It is the genesis the nodes started from.
    let kept = std::fs::read(c.dir.join("genesis").join("main.block")).unwrap();
    assert_eq!(genesis, kept);

    // Reading needs no profile; signing does.
    let api = c.apis[1].clone();
    let read = covenant(
        dir,
        &[
            "tx",
            "get",
            &first,
            "--endpoint",
            &api,
            "--chain",
            "main",
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(read["proof_valid"], true, "{read}");
    covenant(
        dir,
        &[
            "contract",
            "invoke",
            "evidence",
            "put",
            "--args",
            "{}",
            "--endpoint",
            &api,
            "--chain",
            "main",
        ],
    )
    .fails_with("PROFILE_REQUIRED");

    // No node from here on.
    c.down();
    let verify = |file: &str, genesis: &str| {
        covenant(
            dir,
            &["proof", "verify", file, "--genesis", genesis, "-o", "json"],
        )
    };
    let v1 = verify("first.proof", "main.genesis").ok().json();
    assert_eq!(v1["valid"], true, "{v1}");
    assert_eq!(
        (v1["contract"].as_str(), v1["method"].as_str()),
        (Some("evidence"), Some("put"))
    );
    assert!(
        v1["args"].as_str().unwrap().contains(&"a1".repeat(32)),
        "{v1}"
    );
    assert_eq!(v1["sender"]["org"], "org1");
    assert_eq!(v1["sender"]["signature_checked"], true);
    assert_eq!(v1["code"], "OK");
    assert_eq!(v1["consensus_nodes"].as_array().unwrap().len(), 4, "{v1}");
    let v2 = verify("second.proof", "main.genesis").ok().json();
    assert_eq!(v2["valid"], true, "{v2}");
    assert_eq!(v2["tx_id"], second.as_str());
    assert_eq!(v2["config_changes"], 2);
    assert_eq!(v2["consensus"], "tbft");
    // Decided by the three validators left.
    assert_eq!(v2["consensus_nodes"].as_array().unwrap().len(), 3, "{v2}");
    let text = covenant(
        dir,
        &[
            "proof",
            "verify",
            "second.proof",
            "--genesis",
            "main.genesis",
        ],
    )
    .ok()
    .stdout;
    assert!(text.starts_with("proof valid: tx "), "{text}");

    // A changed byte anywhere, here in the stored arguments of the transaction.
    let original = std::fs::read_to_string(dir.join("second.proof")).unwrap();
    let mut proof: Value = serde_json::from_str(&original).unwrap();
    let tx = proof["tx"]["transaction"].as_str().unwrap().to_string();
    let mut bytes = tx.into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    proof["tx"]["transaction"] = json!(String::from_utf8(bytes).unwrap());
    std::fs::write(dir.join("changed.proof"), proof.to_string()).unwrap();
    let bad = verify("changed.proof", "main.genesis");
    assert_eq!(bad.code, 3, "{}", bad.stdout);
    let bad = bad.json();
    assert_eq!(bad["valid"], false);
    assert!(
        ["PROOF_INCLUSION_INVALID", "PROOF_MALFORMED"].contains(&bad["code"].as_str().unwrap()),
        "{bad}"
    );
    // Without its config changes the block's signers are not the genesis validators'.
    let mut proof: Value = serde_json::from_str(&original).unwrap();
    proof["config_changes"] = json!([]);
    std::fs::write(dir.join("short.proof"), proof.to_string()).unwrap();
    let bad = verify("short.proof", "main.genesis");
    assert_eq!(bad.code, 3);
    assert_eq!(bad.json()["code"], "PROOF_CERTIFICATE_INVALID");
    // Something else passed as the genesis.
    let bad = verify("second.proof", "first.proof");
    assert_eq!(bad.code, 3);
    assert_eq!(bad.json()["code"], "PROOF_GENESIS_MISMATCH");
    // Text output gives the reason on one line.
    let bad = covenant(
        dir,
        &[
            "proof",
            "verify",
            "short.proof",
            "--genesis",
            "main.genesis",
        ],
    );
    assert_eq!(bad.code, 3);
    assert!(
        bad.stdout
            .starts_with("proof INVALID [PROOF_CERTIFICATE_INVALID]"),
        "{}",
        bad.stdout
    );
    // Files that are not there.
    covenant(
        dir,
        &[
            "proof",
            "verify",
            "missing.proof",
            "--genesis",
            "main.genesis",
        ],
    )
    .fails_with("FILE_UNREADABLE");
}
