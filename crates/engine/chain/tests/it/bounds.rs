//! What one transaction or one caller can cost a node is bounded, and a chain that can no
//! longer work correctly stops instead of going on silently.

use std::{sync::Arc, time::Duration};

use covenant_chain::{BlockOutput, ChainError, TxOutcome, host::Effects, identity::keys};
use covenant_consensus::{CommitMode, NodeKeys, solo};
use covenant_crypto::Suite;
use covenant_types::{
    RwSet, TxResult, WriteEntry,
    block::{BlockParts, assemble},
    tx::{TxBuilder, endorse, now_ms, sender_by_certificate, sign},
};
use prost::Message;
use serde_json::json;

use crate::support::{TestChain, TestOrg, config, ok};

#[test]
fn a_transaction_with_too_many_endorsements_is_refused_before_any_signature_is_checked() {
    let org = TestOrg::new("org1", Suite::Intl);
    let tc = TestChain::new(config("main", Suite::Intl, &[&org]), &org.node);
    let payload = TxBuilder::new("main", "sys.config", "get").build().unwrap();
    let mut tx = sign(
        payload.clone(),
        sender_by_certificate(org.client.cert.der().to_vec()),
        &org.client.key,
    )
    .unwrap();
    // 65 endorsements (the default limit is 64), the last with garbage for a signature:
    // refused for the count, not for the signature.
    for _ in 0..64 {
        tx.endorsements.push(
            endorse(
                &payload,
                sender_by_certificate(org.admin.cert.der().to_vec()),
                &org.admin.key,
            )
            .unwrap(),
        );
    }
    let mut bad = tx.endorsements[0].clone();
    bad.signature = vec![0; 64];
    tx.endorsements.push(bad);
    let err = tc.chain.submit(tx.encode_to_vec()).unwrap_err();
    assert_eq!(err.code(), "TX_TOO_MANY_ENDORSEMENTS", "{err}");

    // The limit is the chain's: raised by a governed config update, 65 pass the count and
    // fail on the bad signature.
    ok(&tc.call(
        &org.admin,
        "sys.config",
        "update",
        json!({"max_endorsements": 100}),
    ));
    let err = tc.chain.submit(tx.encode_to_vec()).unwrap_err();
    assert_eq!(err.code(), "TX_BAD_SIGNATURE", "{err}");

    // A proposer cannot slip one into a block either: validators refuse the block.
    ok(&tc.call(
        &org.admin,
        "sys.config",
        "update",
        json!({"max_endorsements": 2}),
    ));
    let mut three = tx.clone();
    three.endorsements.truncate(3);
    let tip = tc.chain.store().tip();
    let block = assemble(
        tc.suite,
        BlockParts {
            chain_id: "main".into(),
            height: tip.height.unwrap() + 1,
            prev_hash: tip.hash.clone(),
            prev_state_root: tip.state_root.clone(),
            timestamp_ms: now_ms(),
            proposer: tc.suite.hash(org.node.cert.der()).0.to_vec(),
            config_version: tc.chain.config().version,
            transactions: vec![three.encode_to_vec()],
            results: vec![TxResult::default().encode_to_vec()],
            rwsets: vec![RwSet::default().encode_to_vec()],
            dag: covenant_types::Dag {
                nodes: vec![covenant_types::DagNode { deps: vec![] }],
            },
        },
        Some(&org.node.key),
    )
    .unwrap();
    let err = tc.chain.check_proposal(&block).unwrap_err();
    assert!(err.to_string().contains("endorsements"), "{err}");
}

#[test]
fn callers_waiting_for_an_expired_transaction_are_let_go() {
    let org = TestOrg::new("org1", Suite::Intl);
    let tc = TestChain::new(config("main", Suite::Intl, &[&org]), &org.node);
    let tx = tc.tx_with(
        TxBuilder::new("main", "sys.config", "get").expiry_ms(now_ms() + 300),
        &org.client,
        &[],
    );
    let id = tc.chain.submit(tx).unwrap();
    let mut waiter = tc.chain.watch(id);
    assert_eq!(tc.chain.stats().waiters, 1);
    // Once it expired, eviction drops it and its waiter: the caller hears, nothing leaks.
    covenant_test_utils::wait_for("the transaction to expire", Duration::from_secs(10), || {
        tc.chain.evict_expired() == 1
    });
    assert_eq!(tc.chain.stats().waiters, 0);
    assert_eq!(tc.chain.pool_len(), 0);
    assert!(waiter.try_recv().is_err());
}

#[test]
fn a_chain_that_cannot_reload_its_membership_halts() {
    let org = TestOrg::new("org1", Suite::Intl);
    let tc = TestChain::new(config("main", Suite::Intl, &[&org]), &org.node);
    let mut halted = tc.chain.halted();
    assert!(halted.borrow().is_none());
    // A decided block whose execution (handed in as this node's own) overwrites the chain
    // config with bytes that do not decode: the block commits, the membership cannot be
    // reloaded, and the chain must stop rather than go on with the old membership.
    let garbage = b"not a chain config".to_vec();
    let rwset = RwSet {
        reads: vec![],
        ranges: vec![],
        writes: vec![WriteEntry {
            key: keys::config(),
            value: garbage.clone(),
            delete: false,
        }],
    };
    let tx = tc.tx(&org.client, "sys.config", "get", &json!({}), &[]);
    let tip = tc.chain.store().tip();
    let result = TxResult {
        code: "OK".into(),
        ..Default::default()
    };
    let block = assemble(
        tc.suite,
        BlockParts {
            chain_id: "main".into(),
            height: tip.height.unwrap() + 1,
            prev_hash: tip.hash.clone(),
            prev_state_root: tip.state_root.clone(),
            timestamp_ms: now_ms(),
            proposer: tc.suite.hash(org.node.cert.der()).0.to_vec(),
            config_version: tc.chain.config().version,
            transactions: vec![tx],
            results: vec![result.encode_to_vec()],
            rwsets: vec![rwset.encode_to_vec()],
            dag: covenant_types::Dag {
                nodes: vec![covenant_types::DagNode { deps: vec![] }],
            },
        },
        Some(&org.node.key),
    )
    .unwrap();
    let node = NodeKeys {
        id: tc.suite.hash(org.node.cert.der()),
        certificate: Arc::new(org.node.cert.der().to_vec()),
        key: org.node.key.clone(),
    };
    let block = solo::decide(block, &node).unwrap();
    let output = BlockOutput {
        outcomes: vec![TxOutcome {
            result,
            effects: Effects {
                rwset: rwset.clone(),
                events: vec![],
                writes: vec![(keys::config(), Some(garbage))],
                fault: false,
            },
        }],
        dag: covenant_types::Dag {
            nodes: vec![covenant_types::DagNode { deps: vec![] }],
        },
    };
    let err = tc
        .chain
        .commit_block(block, Some(output), CommitMode::Decided)
        .unwrap_err();
    assert_eq!(err.code(), "CHAIN_HALTED", "{err}");
    let reason = halted.borrow_and_update().clone().expect("a halt reason");
    assert!(reason.contains("cannot reload the membership"), "{reason}");
    // Nothing more is built or committed.
    let next = tc.tx(&org.client, "sys.config", "get", &json!({}), &[]);
    let _ = tc.chain.submit(next);
    assert!(matches!(
        tc.chain.build_block(true),
        Err(ChainError::Halted(_))
    ));
}
