//! The canonical execution: a pinned genesis and a pinned block's worth of transactions (a
//! governed contract install, contract calls that succeed, fail, run out of gas, system calls
//! with bad arguments, an unmet policy, an unknown sender) must execute, on every build and
//! every machine, to the pinned results, read/write sets and DAG, so to the same
//! `results_root`. Gas, error texts, JSON output and encodings all feed it: a dependency
//! upgrade that changes any of them makes this test fail before it can split a consortium.
//!
//! Everything is built from fixed Ed25519 keys, serials and times (`intl` suite), so running
//! the tests with `COVENANT_UPDATE_FIXTURES=1` regenerates the same fixtures unless something
//! really changed (the example `kv` contract is compiled then, and its bytes are pinned inside
//! the install transaction).

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::Engine as _;
use covenant_chain::{BlockEnv, Executor, state::StateRead};
use covenant_crypto::{PrivateKey, Suite};
use covenant_pki::{
    Certificate, CertificateSpec, Issuer, Role, issue_certificate, key_identifier, subject_name,
};
use covenant_test_utils::fixtures::{
    self, check_bytes, check_json, ed25519_key, read_bytes, read_json,
};
use covenant_types::{
    ChainConfig, ConsensusConfig, ConsensusNode, Org, TxResult,
    block::merkle_root,
    config::{default_block_limits, default_policies},
    tx::{DecodedTx, TxBuilder, endorse, sender_by_certificate, sign},
};
use covenant_vm::Vm;
use prost::Message;
use serde_json::{Value, json};

use crate::support::open_with;

const CHAIN: &str = "canon";
/// 2026-01-01T00:00:00Z.
const GENESIS_MS: u64 = 1_767_225_600_000;
/// The block's time: a day after genesis.
const BLOCK_MS: u64 = GENESIS_MS + 86_400_000;

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

struct Who {
    cert: Certificate,
    key: PrivateKey,
}

/// A root CA and identities under it, from fixed keys, serials and validity.
fn org(name: &str, seed: u8) -> (Who, Vec<Who>) {
    let root_key = ed25519_key(seed);
    let subject = subject_name(name, Role::Ca, &format!("{name} Root CA")).unwrap();
    let kid = key_identifier(root_key.public_key());
    let spec = |subject, key: &PrivateKey, role| CertificateSpec {
        subject,
        public_key: key.public_key().clone(),
        role,
        hosts: vec![],
        not_before: at(GENESIS_MS - 86_400_000),
        not_after: at(GENESIS_MS + 100 * 365 * 86_400_000),
        path_len: None,
    };
    let root = issue_certificate(
        &spec(subject.clone(), &root_key, Role::Ca),
        &[0x40, seed],
        Issuer {
            name: &subject,
            key: &root_key,
            key_id: Some(&kid),
        },
    )
    .unwrap();
    let members = [
        (Role::Admin, "admin"),
        (Role::Client, "client"),
        (Role::Node, "node"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (role, cn))| {
        let key = ed25519_key(seed + 1 + i as u8);
        let cert = issue_certificate(
            &spec(subject_name(name, *role, cn).unwrap(), &key, *role),
            &[0x40, seed, i as u8 + 1],
            Issuer {
                name: root.subject(),
                key: &root_key,
                key_id: root.subject_key_id().as_deref(),
            },
        )
        .unwrap();
        Who { cert, key }
    })
    .collect();
    (
        Who {
            cert: root,
            key: root_key,
        },
        members,
    )
}

fn tx(who: &Who, builder: TxBuilder, endorsers: &[&Who], n: u32) -> Vec<u8> {
    let payload = builder
        .nonce(format!("canon-{n}").into_bytes())
        .timestamp_ms(BLOCK_MS - 1_000)
        .build()
        .unwrap();
    let mut t = sign(
        payload.clone(),
        sender_by_certificate(who.cert.der().to_vec()),
        &who.key,
    )
    .unwrap();
    for e in endorsers {
        t.endorsements.push(
            endorse(
                &payload,
                sender_by_certificate(e.cert.der().to_vec()),
                &e.key,
            )
            .unwrap(),
        );
    }
    t.encode_to_vec()
}

/// Write the genesis and the transactions (update mode only).
fn generate() {
    let (root1, org1) = org("org1", 10);
    let (root2, org2) = org("org2", 20);
    let (_, outsider) = org("org3", 30);
    let config = ChainConfig {
        chain_id: CHAIN.into(),
        suite: "intl".into(),
        orgs: vec![
            Org {
                org_id: "org1".into(),
                trust_roots: vec![root1.cert.der().to_vec()],
            },
            Org {
                org_id: "org2".into(),
                trust_roots: vec![root2.cert.der().to_vec()],
            },
        ],
        consensus: Some(ConsensusConfig {
            kind: "solo".into(),
            nodes: vec![ConsensusNode {
                org_id: "org1".into(),
                node_id: "org1-node".into(),
                certificate: org1[2].cert.der().to_vec(),
                address: String::new(),
            }],
            sync_nodes: vec![],
        }),
        policies: default_policies(),
        block: Some(default_block_limits()),
        tx_expiry_window_ms: 600_000,
        max_gas_per_tx: 10_000_000,
        max_tx_bytes: 4 << 20,
        version: 0,
        max_endorsements: 0,
    };
    let genesis = covenant_chain::genesis::genesis_block(&config, GENESIS_MS).unwrap();
    check_bytes(
        "canon-genesis.hex",
        "the genesis block of the canonical execution",
        &genesis.encode(),
    );
    let b = |contract: &str, method: &str, args: Value| {
        TxBuilder::new(CHAIN, contract, method).args_json(&args)
    };
    let kv = covenant_test_utils::contracts::example_bytes("kv");
    let code = base64::engine::general_purpose::STANDARD.encode(&kv);
    let (admin1, client1, admin2) = (&org1[0], &org1[1], &org2[0]);
    let txs = [
        // Governed: both orgs' admins sign the install.
        tx(
            admin1,
            b(
                "sys.contracts",
                "install",
                json!({"name": "kv", "version": "1.0", "code": code}),
            ),
            &[admin2],
            0,
        ),
        tx(
            client1,
            b("kv", "put", json!({"key": "a", "value": "1"})),
            &[],
            1,
        ),
        tx(client1, b("kv", "get", json!({"key": "a"})), &[], 2),
        tx(client1, b("kv", "put", json!({"key": "b"})), &[], 3),
        tx(
            client1,
            b("kv", "put", json!({"key": "c", "value": "3"})).gas_limit(1_000),
            &[],
            4,
        ),
        tx(client1, b("nowhere", "put", json!({})), &[], 5),
        tx(
            client1,
            b("sys.config", "update", json!({})).args(b"{not json".to_vec()),
            &[],
            6,
        ),
        tx(
            client1,
            b("sys.config", "update", json!({"set_block": "big"})),
            &[],
            7,
        ),
        tx(
            admin1,
            b(
                "sys.config",
                "update",
                json!({"set_block": {"max_txs": 10}}),
            ),
            &[],
            8,
        ),
        tx(
            &outsider[1],
            b("kv", "put", json!({"key": "x", "value": "x"})),
            &[],
            9,
        ),
        tx(client1, b("kv", "delete", json!({"key": "a"})), &[], 10),
        tx(client1, b("kv", "list", json!({"prefix": ""})), &[], 11),
    ];
    let hex: Vec<String> = txs.iter().map(hex::encode).collect();
    check_json("canon-txs.json", &json!({"transactions": hex}));
}

#[test]
fn the_canonical_execution_yields_the_pinned_results_root() {
    if fixtures::updating() {
        generate();
    }
    let suite = Suite::Intl;
    let genesis = covenant_chain::genesis::decode(&read_bytes("canon-genesis.hex")).unwrap();
    let txs: Vec<Arc<DecodedTx>> = read_json("canon-txs.json")["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let bytes = hex::decode(h.as_str().unwrap()).unwrap();
            Arc::new(DecodedTx::decode(suite, &bytes, 8 << 20).unwrap())
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let node = crate::support::Id {
        cert: Certificate::from_der(
            covenant_chain::genesis::config_of(&genesis)
                .unwrap()
                .consensus
                .unwrap()
                .nodes[0]
                .certificate
                .clone(),
            "node",
        )
        .unwrap(),
        key: ed25519_key(13),
    };
    let chain = open_with(dir.path(), &genesis, &node, suite, Default::default());
    let membership = chain.membership();
    let base: Arc<dyn StateRead> = Arc::new(chain.store().snapshot().unwrap());
    let env = BlockEnv {
        height: 1,
        time_ms: BLOCK_MS,
    };
    let executor = Executor::new(Vm::new().unwrap());
    let proposer = executor.execute_batch(&membership, base.clone(), env, &txs);
    // A validator following the DAG reproduces the proposer's execution exactly.
    let validator = executor.execute_with_dag(&membership, base, env, &txs, &proposer.dag);
    let encode = |o: &covenant_chain::BlockOutput| -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        (
            o.outcomes
                .iter()
                .map(|x| x.result.encode_to_vec())
                .collect(),
            o.outcomes
                .iter()
                .map(|x| x.effects.rwset.encode_to_vec())
                .collect(),
        )
    };
    let (results, rwsets) = encode(&proposer);
    assert_eq!((results.clone(), rwsets.clone()), encode(&validator));
    assert_eq!(proposer.dag, validator.dag);
    // Each result readably, then the roots.
    let readable: Vec<Value> = results
        .iter()
        .map(|r| {
            let r = TxResult::decode(r.as_slice()).unwrap();
            json!({
                "code": r.code,
                "message": r.message,
                "gas_used": r.gas_used,
                "return_data": String::from_utf8_lossy(&r.return_data),
                "events": r.events.iter().map(|e| json!({
                    "contract": e.contract,
                    "topic": e.topic,
                    "data": String::from_utf8_lossy(&e.data),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    check_json("canon-results.json", &json!(readable));
    check_json(
        "canon-roots.json",
        &json!({
            "results_root": merkle_root(suite, &results).to_hex(),
            "rwset_root": merkle_root(suite, &rwsets).to_hex(),
            "dag_hash": suite.hash(&proposer.dag.encode_to_vec()).to_hex(),
        }),
    );
    // The run covers what it claims to: success, contract failure, out of gas, unknown
    // contract, bad arguments, an unmet policy and an untrusted sender.
    let codes: Vec<&str> = readable
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    for code in [
        "OK",
        "CONTRACT_ERROR",
        "OUT_OF_GAS",
        "CONTRACT_NOT_FOUND",
        "INVALID_ARGS",
        "POLICY_NOT_MET",
        "SENDER_INVALID",
    ] {
        assert!(codes.contains(&code), "no {code} among {codes:?}");
    }
}
