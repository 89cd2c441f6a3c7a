//! The shared test vectors of `sdk/vectors/`: what every SDK must reproduce byte for byte.
//!
//! The Rust code is the reference. `COVENANT_WRITE_VECTORS=1 cargo nextest run -p
//! covenant-sdk vectors` writes the files afresh (new signatures; new keys only when
//! `identities.json` is missing); without it the
//! test recomputes every deterministic value from the files' inputs and checks every signature,
//! so a change of encoding on the Rust side that the files do not follow fails here, and one the
//! other SDKs miss fails their tests. The transactions the TypeScript and Python SDKs sign
//! (`signed-typescript.json`, `signed-python.json`, written by their tests) are checked here as
//! the node would check them.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use covenant_api_types::json::{ApiError, ErrorBody};
use covenant_crypto::{
    HashAlgorithm, KeyAlgorithm, PrivateKey, Suite,
    merkle::{InclusionProof, MerkleTree},
};
use covenant_pki::{Certificate, Role};
use covenant_sdk::Profile;
use covenant_test_utils::{identity, repo_root};
use covenant_types::{
    Endorsement, Sender, Transaction, TxPayload,
    pb::sender,
    tx::{sender_by_certificate, sender_by_hash},
};
use prost::Message;
use serde_json::{Value, json};

fn dir() -> PathBuf {
    repo_root().join("sdk/vectors")
}

fn writing() -> bool {
    std::env::var_os("COVENANT_WRITE_VECTORS").is_some_and(|v| v == "1")
}

fn read_json(name: &str) -> Value {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (write the vectors with COVENANT_WRITE_VECTORS=1)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write_json(name: &str, v: &Value) {
    let mut text = serde_json::to_string_pretty(v).unwrap();
    text.push('\n');
    std::fs::write(dir().join(name), text).unwrap();
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("a hex string")).expect("hex")
}

fn u64_of(v: &Value) -> u64 {
    v.as_str()
        .expect("a u64 as a decimal string")
        .parse()
        .expect("a u64")
}

/// The identities of the vectors: name, algorithm, org.
const IDENTITIES: [(&str, KeyAlgorithm, &str); 5] = [
    ("sm2-a", KeyAlgorithm::Sm2, "org1"),
    ("sm2-b", KeyAlgorithm::Sm2, "org2"),
    ("p256-a", KeyAlgorithm::EcdsaP256, "org1"),
    ("p256-b", KeyAlgorithm::EcdsaP256, "org2"),
    ("ed25519-a", KeyAlgorithm::Ed25519, "org3"),
];

struct Identity {
    cert: Certificate,
    key: PrivateKey,
}

fn write_identities() -> BTreeMap<String, Identity> {
    let ids = dir().join("identities");
    std::fs::create_dir_all(&ids).unwrap();
    // Valid for a century: the vectors are about bytes, not about time.
    let not_after = SystemTime::now() + Duration::from_secs(100 * 365 * 24 * 3600);
    let mut out = BTreeMap::new();
    let mut profile_ids = serde_json::Map::new();
    let mut listing = Vec::new();
    for (name, alg, org) in IDENTITIES {
        let root = identity::root(org, alg, not_after);
        let id = identity::issue(&root, org, Role::Client, name, not_after);
        std::fs::write(ids.join(format!("{name}.crt")), id.cert.to_pem()).unwrap();
        std::fs::write(
            ids.join(format!("{name}.key")),
            id.key.to_pkcs8_pem().unwrap().as_bytes(),
        )
        .unwrap();
        profile_ids.insert(
            name.to_string(),
            json!({"cert": format!("identities/{name}.crt"), "key": format!("identities/{name}.key")}),
        );
        listing.push(identity_entry(name, &id.cert, &id.key));
        out.insert(
            name.to_string(),
            Identity {
                cert: id.cert,
                key: id.key,
            },
        );
    }
    write_json(
        "profile.json",
        &json!({
            "endpoint": "http://127.0.0.1:7070",
            "chain_id": "main",
            "identity": "sm2-a",
            "identities": profile_ids,
        }),
    );
    write_json("identities.json", &Value::Array(listing));
    out
}

fn identity_entry(name: &str, cert: &Certificate, key: &PrivateKey) -> Value {
    let alg = key.algorithm();
    json!({
        "name": name,
        "algorithm": alg.name(),
        "suite": alg.suite().name(),
        "public_key": hex::encode(key.public_key().to_bytes()),
        "certificate_der": hex::encode(cert.der()),
        "account": alg.suite().hash(cert.der()).to_hex(),
    })
}

/// The identities through the profile, as the SDKs load them.
fn load_identities() -> BTreeMap<String, Identity> {
    let profile = Profile::load(&dir().join("profile.json")).expect("the vectors' profile");
    let listing = read_json("identities.json");
    let mut out = BTreeMap::new();
    for entry in listing.as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let s = profile.signer(Some(name)).expect("identity loads");
        assert_eq!(identity_entry(name, &s.cert, &s.key), *entry, "{name}");
        out.insert(
            name.to_string(),
            Identity {
                cert: s.cert,
                key: s.key,
            },
        );
    }
    assert_eq!(out.len(), IDENTITIES.len());
    out
}

/// A transaction case: its name, sender, how the sender is named, endorsers, payload.
struct Case {
    name: &'static str,
    sender: &'static str,
    by_hash: bool,
    endorsers: Vec<&'static str>,
    payload: TxPayload,
}

fn cases() -> Vec<Case> {
    let base = TxPayload {
        chain_id: "main".into(),
        nonce: (0u8..16).collect(),
        timestamp_ms: 1_764_547_200_123,
        expiry_ms: 0,
        contract: "kv".into(),
        method: "put".into(),
        args: br#"{"key":"a","value":"1"}"#.to_vec(),
        gas_limit: 0,
    };
    let every_field = TxPayload {
        chain_id: "supply-chain.2".into(),
        nonce: vec![0xff; 32],
        timestamp_ms: u64::MAX - 1,
        expiry_ms: u64::MAX,
        contract: "token".into(),
        method: "transfer".into(),
        args: "{\"to\":\"d4f1\",\"amount\":300,\"memo\":\"货款 – März\"}"
            .as_bytes()
            .to_vec(),
        gas_limit: 5_000_000,
    };
    let binary_args = TxPayload {
        args: (0u8..=255).collect(),
        gas_limit: 127,
        expiry_ms: 128,
        ..base.clone()
    };
    let governed = TxPayload {
        contract: "sys.contracts".into(),
        method: "freeze".into(),
        args: br#"{"name":"kv"}"#.to_vec(),
        ..base.clone()
    };
    let case = |name, sender, by_hash, endorsers: &[&'static str], payload: &TxPayload| Case {
        name,
        sender,
        by_hash,
        endorsers: endorsers.to_vec(),
        payload: payload.clone(),
    };
    vec![
        case("sm2 defaults", "sm2-a", false, &[], &base),
        case("sm2 every field", "sm2-b", false, &[], &every_field),
        case(
            "sm2 empty payload",
            "sm2-a",
            false,
            &[],
            &TxPayload::default(),
        ),
        case("sm2 sender by certificate hash", "sm2-a", true, &[], &base),
        case("sm2 endorsed", "sm2-a", false, &["sm2-b"], &governed),
        case("p256 defaults", "p256-a", false, &[], &base),
        case("p256 binary arguments", "p256-b", false, &[], &binary_args),
        case(
            "p256 endorsed",
            "p256-a",
            false,
            &["p256-b", "ed25519-a"],
            &governed,
        ),
        case("ed25519 every field", "ed25519-a", false, &[], &every_field),
        case(
            "ed25519 sender by certificate hash",
            "ed25519-a",
            true,
            &[],
            &base,
        ),
    ]
}

fn payload_json(p: &TxPayload) -> Value {
    json!({
        "chain_id": p.chain_id,
        "nonce": hex::encode(&p.nonce),
        "timestamp_ms": p.timestamp_ms.to_string(),
        "expiry_ms": p.expiry_ms.to_string(),
        "contract": p.contract,
        "method": p.method,
        "args": hex::encode(&p.args),
        "gas_limit": p.gas_limit.to_string(),
    })
}

fn payload_from_json(v: &Value) -> TxPayload {
    TxPayload {
        chain_id: v["chain_id"].as_str().unwrap().into(),
        nonce: unhex(&v["nonce"]),
        timestamp_ms: u64_of(&v["timestamp_ms"]),
        expiry_ms: u64_of(&v["expiry_ms"]),
        contract: v["contract"].as_str().unwrap().into(),
        method: v["method"].as_str().unwrap().into(),
        args: unhex(&v["args"]),
        gas_limit: u64_of(&v["gas_limit"]),
    }
}

fn sender_of(id: &Identity, by_hash: bool) -> Sender {
    if by_hash {
        sender_by_hash(id.key.algorithm().suite().hash(id.cert.der()))
    } else {
        sender_by_certificate(id.cert.der().to_vec())
    }
}

fn by_name(by_hash: bool) -> &'static str {
    if by_hash {
        "certificate_hash"
    } else {
        "certificate"
    }
}

fn write_transactions(ids: &BTreeMap<String, Identity>) {
    let mut out = Vec::new();
    for c in cases() {
        let sender = &ids[c.sender];
        let suite = sender.key.algorithm().suite();
        let payload = c.payload.encode_to_vec();
        let signature = sender.key.sign(&payload).unwrap();
        let endorsements: Vec<Endorsement> = c
            .endorsers
            .iter()
            .map(|e| Endorsement {
                signer: Some(sender_of(&ids[*e], false)),
                signature: ids[*e].key.sign(&payload).unwrap(),
            })
            .collect();
        let tx = Transaction {
            payload: payload.clone(),
            sender: Some(sender_of(sender, c.by_hash)),
            signature: signature.clone(),
            endorsements: endorsements.clone(),
        };
        out.push(json!({
            "name": c.name,
            "suite": suite.name(),
            "payload": payload_json(&c.payload),
            "payload_hex": hex::encode(&payload),
            "tx_id": suite.hash(&payload).to_hex(),
            "sender": {"identity": c.sender, "by": by_name(c.by_hash)},
            "signature": hex::encode(&signature),
            "endorsements": c.endorsers.iter().zip(&endorsements).map(|(name, e)| json!({
                "identity": name,
                "by": "certificate",
                "signature": hex::encode(&e.signature),
            })).collect::<Vec<_>>(),
            "tx_hex": hex::encode(tx.encode_to_vec()),
        }));
    }
    write_json("transactions.json", &Value::Array(out));
}

fn suite_of(name: &str) -> Suite {
    match name {
        "sm" => Suite::Sm,
        "intl" => Suite::Intl,
        other => panic!("unknown suite {other:?}"),
    }
}

fn check_transactions(ids: &BTreeMap<String, Identity>) {
    let cases = read_json("transactions.json");
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), self::cases().len(), "one entry per case");
    for (c, want) in cases.iter().zip(self::cases()) {
        let name = c["name"].as_str().unwrap();
        assert_eq!(name, want.name);
        let suite = suite_of(c["suite"].as_str().unwrap());
        let fields = payload_from_json(&c["payload"]);
        assert_eq!(fields, want.payload, "{name}: the inputs");
        let payload = fields.encode_to_vec();
        assert_eq!(
            hex::encode(&payload),
            c["payload_hex"],
            "{name}: payload encoding"
        );
        assert_eq!(suite.hash(&payload).to_hex(), c["tx_id"], "{name}: tx id");
        let sender = &ids[c["sender"]["identity"].as_str().unwrap()];
        let by_hash = c["sender"]["by"] == "certificate_hash";
        let signature = unhex(&c["signature"]);
        sender
            .key
            .public_key()
            .verify(&payload, &signature)
            .unwrap_or_else(|e| panic!("{name}: the sender's signature: {e}"));
        let mut endorsements = Vec::new();
        for e in c["endorsements"].as_array().unwrap() {
            let id = &ids[e["identity"].as_str().unwrap()];
            let sig = unhex(&e["signature"]);
            id.key
                .public_key()
                .verify(&payload, &sig)
                .unwrap_or_else(|err| panic!("{name}: an endorsement: {err}"));
            endorsements.push(Endorsement {
                signer: Some(sender_of(id, e["by"] == "certificate_hash")),
                signature: sig,
            });
        }
        let tx = Transaction {
            payload,
            sender: Some(sender_of(sender, by_hash)),
            signature,
            endorsements,
        };
        assert_eq!(
            hex::encode(tx.encode_to_vec()),
            c["tx_hex"],
            "{name}: transaction encoding"
        );
    }
}

fn write_hashes() {
    let inputs: [(HashAlgorithm, &[u8]); 6] = [
        (HashAlgorithm::Sm3, b"abc"),
        (HashAlgorithm::Sm3, &[b'a', b'b', b'c', b'd'].repeat(16)),
        (HashAlgorithm::Sm3, b""),
        (HashAlgorithm::Sha256, b"abc"),
        (HashAlgorithm::Sha256, b""),
        (HashAlgorithm::Sha256, &[0x5a; 1000]),
    ];
    let out: Vec<Value> = inputs
        .iter()
        .map(|(alg, data)| {
            json!({"algorithm": alg.name(), "input": hex::encode(data), "digest": alg.digest(data).to_hex()})
        })
        .collect();
    write_json("hashes.json", &Value::Array(out));
}

fn hash_algorithm(name: &str) -> HashAlgorithm {
    match name {
        "sm3" => HashAlgorithm::Sm3,
        "sha256" => HashAlgorithm::Sha256,
        other => panic!("unknown hash {other:?}"),
    }
}

fn check_hashes() {
    let v = read_json("hashes.json");
    let all = v.as_array().unwrap();
    // The standards' own vectors are among them (GB/T 32905-2016 appendix A, FIPS 180-2).
    let known = [
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ];
    for k in known {
        assert!(all.iter().any(|h| h["digest"] == k), "{k} among the hashes");
    }
    for h in all {
        let alg = hash_algorithm(h["algorithm"].as_str().unwrap());
        assert_eq!(alg.digest(&unhex(&h["input"])).to_hex(), h["digest"]);
    }
}

fn merkle_leaves(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("tx-{i}").into_bytes()).collect()
}

fn proof_json(p: &InclusionProof) -> Value {
    json!({
        "leaf_index": p.leaf_index,
        "tree_size": p.tree_size,
        "path": p.path.iter().map(|h| h.to_hex()).collect::<Vec<_>>(),
    })
}

/// Trees of 1 to 7 leaves under each hash: the root and every leaf's proof; then proofs that
/// must fail, each with why.
fn merkle_vectors() -> Value {
    let mut trees = Vec::new();
    let mut invalid = Vec::new();
    for alg in [HashAlgorithm::Sm3, HashAlgorithm::Sha256] {
        for n in 1..=7 {
            let leaves = merkle_leaves(n);
            let tree = MerkleTree::from_leaves(alg, &leaves);
            let proofs: Vec<Value> = (0..n)
                .map(|i| proof_json(&tree.prove(i).unwrap()))
                .collect();
            trees.push(json!({
                "algorithm": alg.name(),
                "leaves": leaves.iter().map(hex::encode).collect::<Vec<_>>(),
                "root": tree.root().to_hex(),
                "proofs": proofs,
            }));
        }
        let leaves = merkle_leaves(5);
        let tree = MerkleTree::from_leaves(alg, &leaves);
        let good = tree.prove(2).unwrap();
        let root = tree.root().to_hex();
        let mut bad = |why: &str, leaf: &[u8], p: InclusionProof| {
            assert!(!p.verify(alg, &tree.root(), leaf), "{why}");
            invalid.push(json!({
                "why": why,
                "algorithm": alg.name(),
                "root": root,
                "leaf": hex::encode(leaf),
                "proof": proof_json(&p),
            }));
        };
        bad("another leaf", b"tx-3", good.clone());
        bad(
            "another index",
            b"tx-2",
            InclusionProof {
                leaf_index: 3,
                ..good.clone()
            },
        );
        bad(
            "index past the tree",
            b"tx-2",
            InclusionProof {
                leaf_index: 5,
                ..good.clone()
            },
        );
        let mut long = good.clone();
        long.path.push(tree.root());
        bad("a path one hash too long", b"tx-2", long);
        let mut short = good.clone();
        short.path.pop();
        bad("a path one hash too short", b"tx-2", short);
        bad(
            "a smaller tree size",
            b"tx-2",
            InclusionProof {
                tree_size: 4,
                ..good
            },
        );
    }
    json!({"trees": trees, "invalid": invalid})
}

fn check_merkle() {
    assert_eq!(read_json("merkle.json"), merkle_vectors());
}

/// Error bodies as the node sends them, and the code each SDK must raise.
fn error_vectors() -> Value {
    let body = |code: &str, message: &str, retry: Option<u64>| {
        serde_json::to_string(&ErrorBody {
            error: ApiError {
                code: code.into(),
                message: message.into(),
                retry_after_ms: retry,
            },
        })
        .unwrap()
    };
    json!([
        {"status": 400, "body": body("TX_BAD_SIGNATURE", "the signature does not verify", None),
         "code": "TX_BAD_SIGNATURE", "retry_after_ms": null, "retry": false},
        {"status": 404, "body": body("NOT_FOUND", "no transaction 9f…", None),
         "code": "NOT_FOUND", "retry_after_ms": null, "retry": false},
        {"status": 409, "body": body("BLOCK_DAMAGED", "block 7 failed its check; repairing", Some(2000)),
         "code": "BLOCK_DAMAGED", "retry_after_ms": 2000, "retry": true},
        {"status": 429, "body": body("TXPOOL_FULL", "the transaction pool is full", Some(250)),
         "code": "TXPOOL_FULL", "retry_after_ms": 250, "retry": true},
        {"status": 503, "body": body("STORAGE_UNAVAILABLE", "the node cannot read its storage just now", Some(1000)),
         "code": "STORAGE_UNAVAILABLE", "retry_after_ms": 1000, "retry": true},
        {"status": 502, "body": "<html>bad gateway</html>",
         "code": "BAD_RESPONSE", "retry_after_ms": null, "retry": false},
    ])
}

fn check_errors() {
    assert_eq!(read_json("errors.json"), error_vectors());
}

/// Signature examples published with the standards (the same ones the crypto crate's tests
/// use): every SDK must verify each, and refuse it for another message.
fn standard_vectors() -> Value {
    // GM/T 0003.5-2012 (GB/T 32918.5-2017) Annex A: the recommended curve's example, ID
    // "1234567812345678", message "message digest".
    let sm2_r =
        hex::decode("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3").unwrap();
    let sm2_s =
        hex::decode("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA").unwrap();
    // RFC 6979 A.2.5: P-256, SHA-256, message "sample".
    let p256_r =
        hex::decode("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716").unwrap();
    let p256_s =
        hex::decode("F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8").unwrap();
    // SEQUENCE { INTEGER r, INTEGER s }, each a positive minimal integer.
    let der = |r: &[u8], s: &[u8]| {
        let int = |v: &[u8]| {
            let v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
            let pad = v.first().is_some_and(|b| b & 0x80 != 0);
            let mut out = vec![0x02, (v.len() + usize::from(pad)) as u8];
            if pad {
                out.push(0);
            }
            out.extend(v);
            out
        };
        let body = [int(r), int(s)].concat();
        hex::encode([vec![0x30, body.len() as u8], body].concat())
    };
    json!([
        {
            "source": "GM/T 0003.5-2012 (GB/T 32918.5-2017) Annex A",
            "algorithm": "sm2",
            "public_key": "0409f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13",
            "message": hex::encode(b"message digest"),
            "signature": der(&sm2_r, &sm2_s),
        },
        {
            "source": "RFC 6979 A.2.5 (P-256, SHA-256, \"sample\")",
            "algorithm": "p256",
            "public_key": "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
            "message": hex::encode(b"sample"),
            "signature": der(&p256_r, &p256_s),
        },
        {
            "source": "RFC 8032 7.1 TEST 1",
            "algorithm": "ed25519",
            "public_key": "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "message": "",
            "signature": "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        },
        {
            "source": "RFC 8032 7.1 TEST 2",
            "algorithm": "ed25519",
            "public_key": "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "message": "72",
            "signature": "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        },
    ])
}

fn check_standards() {
    let v = read_json("standards.json");
    assert_eq!(v, standard_vectors());
    for case in v.as_array().unwrap() {
        let alg: KeyAlgorithm = case["algorithm"].as_str().unwrap().parse().unwrap();
        let key = covenant_crypto::PublicKey::from_bytes(alg, &unhex(&case["public_key"])).unwrap();
        let message = unhex(&case["message"]);
        let signature = unhex(&case["signature"]);
        key.verify(&message, &signature)
            .unwrap_or_else(|e| panic!("{}: {e}", case["source"]));
        assert!(
            key.verify(&[message.as_slice(), b"!"].concat(), &signature)
                .is_err(),
            "{}: another message",
            case["source"]
        );
    }
}

#[test]
fn the_shared_vectors_are_what_the_rust_code_computes() {
    if writing() {
        std::fs::create_dir_all(dir()).unwrap();
        // Keys stay as they are once written, so what the other SDKs signed stays valid;
        // delete identities.json to draw new ones.
        let ids = if dir().join("identities.json").exists() {
            load_identities()
        } else {
            write_identities()
        };
        write_transactions(&ids);
        write_hashes();
        write_json("merkle.json", &merkle_vectors());
        write_json("errors.json", &error_vectors());
        write_json("standards.json", &standard_vectors());
    }
    let ids = load_identities();
    check_transactions(&ids);
    check_hashes();
    check_merkle();
    check_errors();
    check_standards();
}

/// What the other SDKs signed: every transaction decodes, its id is its payload's hash, and
/// every signature verifies against the certificate it names, as a node checks them.
fn check_signed_by(file: &str, ids: &BTreeMap<String, Identity>) {
    let v = read_json(file);
    let entries = v.as_array().unwrap();
    let by_hash: BTreeMap<Vec<u8>, &Identity> = ids
        .values()
        .map(|i| (i.key.algorithm().suite().hash(i.cert.der()).0.to_vec(), i))
        .collect();
    let resolve = |s: &Option<Sender>| -> Certificate {
        match s.as_ref().and_then(|s| s.id.as_ref()) {
            Some(sender::Id::Certificate(der)) => {
                Certificate::from_der(der.clone(), "sender").expect("a certificate")
            }
            Some(sender::Id::CertificateHash(h)) => by_hash
                .get(h)
                .map(|i| i.cert.clone())
                .expect("a known certificate hash"),
            None => panic!("a transaction without a sender"),
        }
    };
    let mut algorithms = std::collections::BTreeSet::new();
    for e in entries {
        let name = e["name"].as_str().unwrap();
        let suite = suite_of(e["suite"].as_str().unwrap());
        let tx = Transaction::decode(unhex(&e["tx_hex"]).as_slice())
            .unwrap_or_else(|err| panic!("{file} {name}: {err}"));
        let payload = TxPayload::decode(tx.payload.as_slice())
            .unwrap_or_else(|err| panic!("{file} {name}: the payload: {err}"));
        assert_eq!(
            hex::encode(payload.encode_to_vec()),
            hex::encode(&tx.payload),
            "{file} {name}: the payload is in canonical encoding"
        );
        assert_eq!(
            suite.hash(&tx.payload).to_hex(),
            e["tx_id"],
            "{file} {name}: tx id"
        );
        let cert = resolve(&tx.sender);
        let key = cert.public_key().unwrap();
        algorithms.insert(key.algorithm().name());
        key.verify(&tx.payload, &tx.signature)
            .unwrap_or_else(|err| panic!("{file} {name}: the sender's signature: {err}"));
        for en in &tx.endorsements {
            let cert = resolve(&en.signer);
            cert.public_key()
                .unwrap()
                .verify(&tx.payload, &en.signature)
                .unwrap_or_else(|err| panic!("{file} {name}: an endorsement: {err}"));
        }
    }
    assert_eq!(
        algorithms.len(),
        3,
        "{file}: signed with every algorithm (sm2, p256, ed25519)"
    );
}

#[test]
fn what_the_typescript_and_python_sdks_signed_verifies() {
    let ids = load_identities();
    for file in ["signed-typescript.json", "signed-python.json"] {
        assert!(
            Path::new(&dir().join(file)).exists(),
            "{file}: the SDK's tests write it (see sdk/vectors/README.md)"
        );
        check_signed_by(file, &ids);
    }
}
