//! Proofs built from certified blocks and checked against the genesis: a chain whose solo node
//! is replaced by a config change, proofs before and after it, and every way a proof can lie.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use covenant_consensus::{NodeKeys, solo};
use covenant_crypto::Suite;
use covenant_pki::Role;
use covenant_proof::{ProofError, ProofFile, export, verify};
use covenant_test_utils::identity::{self, Id};
use covenant_types::{
    ChainConfig, ConsensusConfig, ConsensusNode, Dag, DagNode, Org, RwSet, TxResult, WriteEntry,
    block::{BlockParts, DecodedBlock, assemble},
    config::{
        DEFAULT_MAX_GAS_PER_TX, DEFAULT_MAX_TX_BYTES, DEFAULT_TX_EXPIRY_WINDOW_MS,
        default_block_limits, default_policies,
    },
    genesis::{config_key, genesis_block},
    tx::{TxBuilder, sender_by_certificate, sign},
};
use prost::Message;

const SUITE: Suite = Suite::Sm;
const HOUR: Duration = Duration::from_secs(3600);

/// An org's root and what it issues.
struct Ca {
    root: Id,
}

impl Ca {
    fn new(org: &str) -> Ca {
        Ca {
            root: identity::root(
                org,
                SUITE.default_key_algorithm(),
                SystemTime::now() + 100 * HOUR,
            ),
        }
    }

    fn issue(&self, org: &str, role: Role, name: &str) -> Id {
        identity::issue(&self.root, org, role, name, SystemTime::now() + 50 * HOUR)
    }
}

fn config(chain: &str, ca: &Ca, node: &Id) -> ChainConfig {
    ChainConfig {
        chain_id: chain.into(),
        suite: SUITE.name().into(),
        orgs: vec![Org {
            org_id: "org1".into(),
            trust_roots: vec![ca.root.cert.der().to_vec()],
        }],
        consensus: Some(ConsensusConfig {
            kind: "solo".into(),
            nodes: vec![ConsensusNode {
                org_id: "org1".into(),
                node_id: "node".into(),
                certificate: node.cert.der().to_vec(),
                address: "127.0.0.1:0".into(),
            }],
            sync_nodes: vec![],
        }),
        policies: default_policies(),
        block: Some(default_block_limits()),
        tx_expiry_window_ms: DEFAULT_TX_EXPIRY_WINDOW_MS,
        max_gas_per_tx: DEFAULT_MAX_GAS_PER_TX,
        max_tx_bytes: DEFAULT_MAX_TX_BYTES,
        version: 0,
        max_endorsements: 0,
    }
}

/// A chain of certified blocks: genesis; block 1 stores evidence (signed by node A); block 2
/// replaces node A's certificate by node B's (signed by A); block 3 stores more evidence
/// (signed by B).
struct Ledger {
    genesis: DecodedBlock,
    blocks: Vec<DecodedBlock>,
    node_a: Id,
    node_b: Id,
    client: Id,
}

fn keys(node: &Id) -> NodeKeys {
    NodeKeys {
        id: SUITE.hash(node.cert.der()),
        certificate: Arc::new(node.cert.der().to_vec()),
        key: node.key.clone(),
    }
}

/// One block of transactions `(tx, rwset)` decided by `node` under config `version`.
fn block(prev: &DecodedBlock, version: u64, txs: Vec<(Vec<u8>, RwSet)>, node: &Id) -> DecodedBlock {
    let n = txs.len();
    let mut transactions = Vec::new();
    let mut results = Vec::new();
    let mut rwsets = Vec::new();
    for (tx, rw) in txs {
        let payload = covenant_types::Transaction::decode(tx.as_slice())
            .unwrap()
            .payload;
        results.push(
            TxResult {
                tx_id: SUITE.hash(&payload).0.to_vec(),
                code: "OK".into(),
                message: String::new(),
                return_data: b"stored".to_vec(),
                events: vec![],
                gas_used: 7,
            }
            .encode_to_vec(),
        );
        transactions.push(tx);
        rwsets.push(rw.encode_to_vec());
    }
    let b = assemble(
        SUITE,
        BlockParts {
            chain_id: prev.header.chain_id.clone(),
            height: prev.height() + 1,
            prev_hash: prev.hash.0.to_vec(),
            prev_state_root: prev.header.state_root.clone(),
            timestamp_ms: prev.header.timestamp_ms + 1000,
            proposer: SUITE.hash(node.cert.der()).0.to_vec(),
            config_version: version,
            transactions,
            results,
            rwsets,
            dag: Dag {
                nodes: vec![DagNode { deps: vec![] }; n],
            },
        },
        Some(&node.key),
    )
    .unwrap();
    solo::decide(b, &keys(node)).unwrap()
}

fn evidence(client: &Id, chain: &str, hash: &str) -> (Vec<u8>, RwSet) {
    let payload = TxBuilder::new(chain, "evidence", "store")
        .args_json(&serde_json::json!({"hash": hash}))
        .build()
        .unwrap();
    let tx = sign(
        payload,
        sender_by_certificate(client.cert.der().to_vec()),
        &client.key,
    )
    .unwrap();
    let rw = RwSet {
        writes: vec![WriteEntry {
            key: hash.as_bytes().to_vec(),
            value: b"1".to_vec(),
            delete: false,
        }],
        ..Default::default()
    };
    (tx.encode_to_vec(), rw)
}

fn ledger(chain: &str) -> Ledger {
    let ca = Ca::new("org1");
    let node_a = ca.issue("org1", Role::Node, "node-a");
    let node_b = ca.issue("org1", Role::Node, "node-b");
    let admin = ca.issue("org1", Role::Admin, "admin");
    let client = ca.issue("org1", Role::Client, "client");
    let c0 = config(chain, &ca, &node_a);
    let genesis = genesis_block(&c0, covenant_types::tx::now_ms() - 60_000).unwrap();
    let b1 = block(
        &genesis,
        0,
        vec![
            evidence(&client, chain, "h1"),
            evidence(&client, chain, "h2"),
        ],
        &node_a,
    );
    // Block 2: the config with node B in node A's place, as sys.config writes it.
    let mut c2 = c0.clone();
    c2.version = 2;
    c2.consensus.as_mut().unwrap().nodes[0].certificate = node_b.cert.der().to_vec();
    let payload = TxBuilder::new(chain, "sys.config", "update")
        .args_json(&serde_json::json!({"replace_node_certificate": {"node_id": "node"}}))
        .build()
        .unwrap();
    let update = sign(
        payload,
        sender_by_certificate(admin.cert.der().to_vec()),
        &admin.key,
    )
    .unwrap();
    let rw = RwSet {
        writes: vec![WriteEntry {
            key: config_key(),
            value: c2.encode_to_vec(),
            delete: false,
        }],
        ..Default::default()
    };
    let b2 = block(&b1, 0, vec![(update.encode_to_vec(), rw)], &node_a);
    let b3 = block(&b2, 2, vec![evidence(&client, chain, "h3")], &node_b);
    Ledger {
        genesis,
        blocks: vec![b1, b2, b3],
        node_a,
        node_b,
        client,
    }
}

fn genesis_bytes(l: &Ledger) -> Vec<u8> {
    l.genesis.encode()
}

#[test]
fn a_proof_before_any_config_change_verifies_against_the_genesis() {
    let l = ledger("main");
    let proof = export(SUITE, &l.genesis.hash, &l.blocks[0], 1, &[]).unwrap();
    let text = proof.to_json();
    let read = ProofFile::from_json(text.as_bytes()).unwrap();
    assert_eq!(read, proof);
    let v = verify(&read, &genesis_bytes(&l)).unwrap();
    assert_eq!((v.height, v.index, v.config_changes), (1, 1, 0));
    assert_eq!(v.block_hash, l.blocks[0].hash.to_hex());
    assert_eq!(
        (v.contract.as_str(), v.method.as_str()),
        ("evidence", "store")
    );
    assert_eq!(v.args, r#"{"hash":"h2"}"#);
    assert_eq!(v.sender.org.as_deref(), Some("org1"));
    assert_eq!(v.sender.name.as_deref(), Some("client"));
    assert!(v.sender.signature_checked);
    assert_eq!(
        v.sender.certificate_hash,
        SUITE.hash(l.client.cert.der()).to_hex()
    );
    assert_eq!(
        (v.code.as_str(), v.return_data.as_str(), v.gas_used),
        ("OK", "stored", 7)
    );
    assert_eq!(v.consensus_nodes, ["node"]);
}

#[test]
fn a_proof_after_a_validator_change_replays_the_change_from_genesis() {
    let l = ledger("main");
    let proof = export(SUITE, &l.genesis.hash, &l.blocks[2], 0, &l.blocks[1..2]).unwrap();
    let v = verify(&proof, &genesis_bytes(&l)).unwrap();
    assert_eq!((v.height, v.config_version, v.config_changes), (3, 2, 1));
    assert_eq!(v.args, r#"{"hash":"h3"}"#);

    // Without the change, block 3 names a config the genesis does not have.
    let mut skipped = proof.clone();
    skipped.config_changes.clear();
    let e = verify(&skipped, &genesis_bytes(&l)).unwrap_err();
    assert_eq!(e.code(), "PROOF_CERTIFICATE_INVALID", "{e}");
    assert!(e.to_string().contains("config change is missing"), "{e}");
    // Nor will the exporter build one without it.
    let e = export(SUITE, &l.genesis.hash, &l.blocks[2], 0, &[]).unwrap_err();
    assert_eq!(e.code(), "PROOF_EXPORT_FAILED");
    // A block that changes nothing is not a config change.
    let mut padded = proof.clone();
    let extra = export(SUITE, &l.genesis.hash, &l.blocks[0], 0, &[]).unwrap();
    padded.config_changes.insert(
        0,
        covenant_proof::ConfigStep {
            header: extra.block.header,
            certificate: extra.block.certificate,
            rwsets: l.blocks[0]
                .block
                .rwsets
                .iter()
                .map(|r| base64_of(r))
                .collect(),
        },
    );
    let e = verify(&padded, &genesis_bytes(&l)).unwrap_err();
    assert_eq!(e.code(), "PROOF_CONFIG_CHANGE_INVALID", "{e}");
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn a_block_signed_by_the_replaced_node_does_not_verify() {
    let l = ledger("main");
    // Node A, no longer the chain's node after block 2, signs a block 3 of its own.
    let forged = block(
        &l.blocks[1],
        2,
        vec![evidence(&l.client, "main", "forged")],
        &l.node_a,
    );
    let proof = export(SUITE, &l.genesis.hash, &forged, 0, &l.blocks[1..2]).unwrap();
    let e = verify(&proof, &genesis_bytes(&l)).unwrap_err();
    assert_eq!(e.code(), "PROOF_CERTIFICATE_INVALID", "{e}");
    // And node B could not have changed the config at block 2 (A was the node then).
    let b2 = &l.blocks[1].block;
    let b2_by_b = block(
        &l.blocks[0],
        0,
        vec![(
            b2.transactions[0].clone(),
            RwSet::decode(b2.rwsets[0].as_slice()).unwrap(),
        )],
        &l.node_b,
    );
    let proof = export(SUITE, &l.genesis.hash, &l.blocks[2], 0, &[b2_by_b]).unwrap();
    let e = verify(&proof, &genesis_bytes(&l)).unwrap_err();
    assert_eq!(e.code(), "PROOF_CONFIG_CHANGE_INVALID", "{e}");
}

#[test]
fn another_chains_genesis_is_refused() {
    let l = ledger("main");
    let other = ledger("main");
    let proof = export(SUITE, &l.genesis.hash, &l.blocks[0], 0, &[]).unwrap();
    let e = verify(&proof, &genesis_bytes(&other)).unwrap_err();
    assert_eq!(e.code(), "PROOF_GENESIS_MISMATCH", "{e}");
    let e = verify(&proof, b"not a block").unwrap_err();
    assert_eq!(e.code(), "PROOF_GENESIS_MISMATCH", "{e}");
}

#[test]
fn a_change_to_any_byte_of_the_file_is_caught() {
    let l = ledger("main");
    let proof = export(SUITE, &l.genesis.hash, &l.blocks[2], 0, &l.blocks[1..2]).unwrap();
    let text = proof.to_json().into_bytes();
    let genesis = genesis_bytes(&l);
    assert!(verify(&ProofFile::from_json(&text).unwrap(), &genesis).is_ok());
    let mut codes = std::collections::BTreeMap::<&str, usize>::new();
    for i in 0..text.len() {
        let mut t = text.clone();
        t[i] ^= 0x01;
        let outcome: Result<_, ProofError> =
            ProofFile::from_json(&t).and_then(|p| verify(&p, &genesis));
        match outcome {
            Ok(_) => panic!(
                "byte {i} ({:?}) changed and the proof still verifies",
                text[i] as char
            ),
            Err(e) => *codes.entry(e.code()).or_default() += 1,
        }
    }
    // Every kind of check played its part.
    for code in [
        "PROOF_MALFORMED",
        "PROOF_GENESIS_MISMATCH",
        "PROOF_CONFIG_CHANGE_INVALID",
        "PROOF_CERTIFICATE_INVALID",
        "PROOF_INCLUSION_INVALID",
    ] {
        assert!(codes.contains_key(code), "{code} never seen: {codes:?}");
    }
    let _ = (&l.node_a, &l.node_b);
}
