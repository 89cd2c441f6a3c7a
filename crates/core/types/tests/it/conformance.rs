//! Conformance fixtures of the messages every node hashes and signs: a transaction (both
//! suites), a transaction result, a chain config and a block. Each is built from fixed fields
//! with fixed keys (Ed25519 signs deterministically) and must encode to the pinned bytes; the
//! pinned bytes must decode to the same fields, ids and hashes. The `sm` transaction carries
//! an SM2 signature (randomised), so its bytes are pinned once and checked by decoding and
//! verifying.

use covenant_crypto::{Hash, Suite};
use covenant_test_utils::fixtures::{self, check_bytes, check_json, ed25519_key, read_bytes};
use covenant_types::{
    ChainConfig, CommitCertificate, ConsensusConfig, ConsensusNode, Dag, DagNode, Endorsement,
    Event, Org, ReadEntry, RwSet, Transaction, TxResult, Version, WriteEntry,
    block::{BlockParts, DecodedBlock, assemble},
    config::{default_block_limits, default_policies},
    names::state_key,
    tx::{DecodedTx, TxBuilder, endorse, sender_by_certificate, sender_by_hash, sign},
};
use prost::Message;
use serde_json::json;

const CHAIN: &str = "conformance";

/// A fixed payload: every field set, nothing from the clock or the random generator.
fn payload() -> Vec<u8> {
    TxBuilder::new(CHAIN, "kv", "put")
        .args_json(&json!({"key": "a", "value": "1"}))
        .nonce(b"nonce-0001".to_vec())
        .timestamp_ms(1_767_225_600_000)
        .expiry_ms(1_767_229_200_000)
        .gas_limit(5_000_000)
        .build()
        .unwrap()
}

fn intl_tx() -> Transaction {
    let client = ed25519_key(1);
    let admin = ed25519_key(2);
    let payload = payload();
    let mut tx = sign(
        payload.clone(),
        sender_by_certificate(b"client certificate DER".to_vec()),
        &client,
    )
    .unwrap();
    tx.endorsements
        .push(endorse(&payload, sender_by_hash(Hash([7; 32])), &admin).unwrap());
    tx
}

#[test]
fn a_transaction_encodes_and_identifies_as_pinned() {
    let tx = intl_tx();
    let bytes = tx.encode_to_vec();
    check_bytes(
        "tx-intl.hex",
        "an Ed25519-signed transaction with one endorsement",
        &bytes,
    );
    let pinned = read_bytes("tx-intl.hex");
    let decoded = DecodedTx::decode(Suite::Intl, &pinned, 1 << 20).unwrap();
    assert_eq!(decoded.tx, tx);
    check_json(
        "tx-intl-id.json",
        &json!({"suite": "intl", "tx_id": decoded.id.to_hex()}),
    );
    // The id is the suite hash of the payload bytes as carried.
    assert_eq!(decoded.id, Suite::Intl.hash(&tx.payload));
    ed25519_key(1)
        .public_key()
        .verify(&decoded.tx.payload, &decoded.tx.signature)
        .unwrap();
}

#[test]
fn an_sm2_transaction_decodes_verifies_and_identifies_as_pinned() {
    let key = covenant_crypto::PrivateKey::from_pkcs8_pem(SM2_KEY).unwrap();
    if fixtures::updating() {
        let tx = sign(
            payload(),
            sender_by_certificate(b"client certificate DER".to_vec()),
            &key,
        )
        .unwrap();
        check_bytes(
            "tx-sm.hex",
            "an SM2-signed transaction (SM3 ids)",
            &tx.encode_to_vec(),
        );
    }
    let pinned = read_bytes("tx-sm.hex");
    let decoded = DecodedTx::decode(Suite::Sm, &pinned, 1 << 20).unwrap();
    assert_eq!(
        decoded.tx.payload,
        payload(),
        "the payload encoding changed"
    );
    key.public_key()
        .verify(&decoded.tx.payload, &decoded.tx.signature)
        .unwrap();
    check_json(
        "tx-sm-id.json",
        &json!({"suite": "sm", "tx_id": decoded.id.to_hex()}),
    );
}

fn result() -> TxResult {
    TxResult {
        tx_id: vec![9; 32],
        code: "CONTRACT_ERROR".into(),
        message: "balance too low".into(),
        return_data: br#"{"ok":false}"#.to_vec(),
        events: vec![Event {
            contract: "token".into(),
            topic: "transfer".into(),
            data: br#"{"amount":5}"#.to_vec(),
        }],
        gas_used: 12_345,
    }
}

#[test]
fn a_transaction_result_encodes_as_pinned() {
    let bytes = result().encode_to_vec();
    check_bytes(
        "tx-result.hex",
        "a failed transaction's result with an event",
        &bytes,
    );
    assert_eq!(
        TxResult::decode(read_bytes("tx-result.hex").as_slice()).unwrap(),
        result()
    );
}

fn config() -> ChainConfig {
    ChainConfig {
        chain_id: CHAIN.into(),
        suite: "intl".into(),
        orgs: vec![
            Org {
                org_id: "org1".into(),
                trust_roots: vec![b"org1 root DER".to_vec()],
            },
            Org {
                org_id: "org2".into(),
                trust_roots: vec![b"org2 root DER".to_vec(), b"org2 second root".to_vec()],
            },
        ],
        consensus: Some(ConsensusConfig {
            kind: "tbft".into(),
            nodes: vec![ConsensusNode {
                org_id: "org1".into(),
                node_id: "org1-node".into(),
                certificate: b"node certificate DER".to_vec(),
                address: "127.0.0.1:7051".into(),
            }],
            sync_nodes: vec![],
        }),
        policies: default_policies(),
        block: Some(default_block_limits()),
        tx_expiry_window_ms: 600_000,
        max_gas_per_tx: 10_000_000,
        max_tx_bytes: 4 << 20,
        version: 3,
        max_endorsements: 0,
    }
}

#[test]
fn a_chain_config_encodes_as_pinned() {
    let bytes = config().encode_to_vec();
    check_bytes(
        "chain-config.hex",
        "a chain config with two orgs, TBFT and the default policies",
        &bytes,
    );
    assert_eq!(
        ChainConfig::decode(read_bytes("chain-config.hex").as_slice()).unwrap(),
        config()
    );
}

fn block() -> DecodedBlock {
    let tx = intl_tx().encode_to_vec();
    let rwset = RwSet {
        reads: vec![ReadEntry {
            key: state_key("kv", b"a"),
            version: Some(Version {
                height: 1,
                index: 0,
                present: true,
            }),
        }],
        ranges: vec![],
        writes: vec![WriteEntry {
            key: state_key("kv", b"a"),
            value: b"1".to_vec(),
            delete: false,
        }],
    };
    let mut block = assemble(
        Suite::Intl,
        BlockParts {
            chain_id: CHAIN.into(),
            height: 2,
            prev_hash: vec![1; 32],
            prev_state_root: vec![2; 32],
            timestamp_ms: 1_767_225_601_000,
            proposer: vec![3; 32],
            config_version: 3,
            transactions: vec![tx],
            results: vec![result().encode_to_vec()],
            rwsets: vec![rwset.encode_to_vec()],
            dag: Dag {
                nodes: vec![DagNode { deps: vec![] }],
            },
        },
        Some(&ed25519_key(3)),
    )
    .unwrap();
    let header = block.block.header.clone();
    block.block.certificate = Some(CommitCertificate {
        round: 1,
        signatures: vec![Endorsement {
            signer: Some(sender_by_hash(Hash([3; 32]))),
            signature: ed25519_key(3).sign(&header).unwrap(),
        }],
        votes: vec![b"a signed vote".to_vec()],
    });
    block
}

#[test]
fn a_block_encodes_and_hashes_as_pinned() {
    let b = block();
    check_bytes(
        "block-intl.hex",
        "a block of one transaction with a commit certificate",
        &b.encode(),
    );
    let pinned = read_bytes("block-intl.hex");
    let decoded = DecodedBlock::decode(Suite::Intl, &pinned, 1 << 20).unwrap();
    assert_eq!(decoded.hash, b.hash);
    assert_eq!(decoded.header, b.header);
    decoded.check_body(Suite::Intl).unwrap();
    check_json(
        "block-intl-hash.json",
        &json!({
            "hash": b.hash.to_hex(),
            "tx_root": hex::encode(&b.header.tx_root),
            "results_root": hex::encode(&b.header.results_root),
            "rwset_root": hex::encode(&b.header.rwset_root),
            "state_root": hex::encode(&b.header.state_root),
            "dag_hash": hex::encode(&b.header.dag_hash),
        }),
    );
}

/// The SM2 key of the pinned `sm` transaction (a test key, used for nothing else).
const SM2_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQgsDgHVwInJst+5/Iq
hvmB4u/GueWosmNRmjsvgTuxCWKhRANCAARTeqbMlGqRMiKz4kxDLJR4eqx4cR0z
cm4KXrmQ/HzaIjRSXNYWX3qGXtl95eViqSPBn9e5kCas7qrm7cjc7Boo
-----END PRIVATE KEY-----
";
