//! Parallel execution: independent transactions run side by side, a hot key still applies
//! every transaction in order, and a second node reproduces each block along its DAG —
//! rejecting blocks whose results or DAG were tampered with.

use covenant_chain::txpool::PoolLimits;
use covenant_crypto::Suite;
use covenant_types::{
    Dag, TxResult,
    block::{BlockParts, DecodedBlock, assemble},
};
use prost::Message;
use serde_json::json;

use crate::support::{TestChain, TestOrg, config, ok, open_with};

#[test]
fn hot_key_transfers_all_apply_in_order() {
    let org = TestOrg::new("org1", Suite::Intl);
    let tc = TestChain::new(config("main", Suite::Intl, &[&org]), &org.node);
    ok(&tc.install(&org.admin, "token", "token", json!([])));
    ok(&tc.call(&org.admin, "token", "mint", json!({"amount": 1_000_000})));
    let n = 200u64;
    let mut ids = Vec::new();
    for i in 0..n {
        let to = format!("acct{}", i % 10);
        ids.push(
            tc.chain
                .submit(tc.tx(
                    &org.admin,
                    "token",
                    "transfer",
                    &json!({"to": to, "amount": i + 1}),
                    &[],
                ))
                .unwrap(),
        );
    }
    let block = tc.chain.produce_block().unwrap().unwrap();
    assert_eq!(block.results.len(), n as usize);
    assert!(
        block.results.iter().all(|r| r.code == "OK"),
        "all transfers apply"
    );
    // Every transfer debits the same account: the DAG is a chain.
    let dag = block.block.dag().unwrap();
    for (i, node) in dag.nodes.iter().enumerate().skip(1) {
        assert!(
            node.deps.contains(&(i as u32 - 1)),
            "tx {i} must follow tx {}",
            i - 1
        );
    }
    // The return value of each transfer is the balance left: strictly decreasing in order.
    let left: Vec<u128> = block
        .results
        .iter()
        .map(|r| serde_json::from_slice::<u128>(&r.return_data).unwrap())
        .collect();
    let total: u64 = (1..=n).sum();
    assert_eq!(*left.last().unwrap(), 1_000_000 - total as u128);
    assert!(left.windows(2).all(|w| w[0] > w[1]));
    let bal = tc.query("token", "balance", json!({"owner": "acct3"}), None);
    let expected: u64 = (0..n).filter(|i| i % 10 == 3).map(|i| i + 1).sum();
    assert_eq!(bal.result.return_data, expected.to_string().into_bytes());
}

#[test]
fn independent_transactions_share_no_edges() {
    let org = TestOrg::new("org1", Suite::Sm);
    let tc = TestChain::new(config("main", Suite::Sm, &[&org]), &org.node);
    ok(&tc.install(&org.admin, "kv", "kv", json!([])));
    for i in 0..100 {
        tc.chain
            .submit(tc.tx(
                &org.client,
                "kv",
                "put",
                &json!({"key": format!("k{i}"), "value": "v"}),
                &[],
            ))
            .unwrap();
    }
    let block = tc.chain.produce_block().unwrap().unwrap();
    let dag = block.block.dag().unwrap();
    assert_eq!(dag.nodes.len(), 100);
    assert!(dag.nodes.iter().all(|n| n.deps.is_empty()));
}

/// Rebuild `block` with its parts changed by `edit`, re-signed by the proposer.
fn tampered(
    tc: &TestChain,
    block: &DecodedBlock,
    prev: &DecodedBlock,
    edit: impl FnOnce(&mut BlockParts),
) -> DecodedBlock {
    let mut parts = BlockParts {
        chain_id: block.header.chain_id.clone(),
        height: block.header.height,
        prev_hash: block.header.prev_hash.clone(),
        prev_state_root: prev.header.state_root.clone(),
        timestamp_ms: block.header.timestamp_ms,
        proposer: block.header.proposer.clone(),
        config_version: block.header.config_version,
        transactions: block.block.transactions.clone(),
        results: block.block.results.clone(),
        rwsets: block.block.rwsets.clone(),
        dag: block.dag().unwrap(),
    };
    edit(&mut parts);
    let b = assemble(tc.suite, parts, Some(&tc.node.key)).unwrap();
    let node = covenant_consensus::NodeKeys {
        id: tc.suite.hash(tc.node.cert.der()),
        certificate: std::sync::Arc::new(tc.node.cert.der().to_vec()),
        key: tc.node.key.clone(),
    };
    covenant_consensus::solo::decide(b, &node).unwrap()
}

#[test]
fn a_second_node_replays_every_block_and_rejects_tampering() {
    let org = TestOrg::new("org1", Suite::Sm);
    let tc = TestChain::new(config("main", Suite::Sm, &[&org]), &org.node);
    ok(&tc.install(&org.admin, "token", "token", json!([])));
    ok(&tc.install(&org.admin, "kv", "kv", json!([])));
    ok(&tc.call(&org.admin, "token", "mint", json!({"amount": 10_000})));
    // A block mixing a hot key, independent keys, a range scan and a failure.
    for i in 0..30 {
        tc.chain
            .submit(tc.tx(
                &org.admin,
                "token",
                "transfer",
                &json!({"to": format!("a{}", i % 4), "amount": 7}),
                &[],
            ))
            .unwrap();
        tc.chain
            .submit(tc.tx(
                &org.client,
                "kv",
                "put",
                &json!({"key": format!("p{i}"), "value": "v"}),
                &[],
            ))
            .unwrap();
    }
    tc.chain
        .submit(tc.tx(&org.client, "kv", "list", &json!({"prefix": "p"}), &[]))
        .unwrap();
    tc.chain
        .submit(tc.tx(
            &org.client,
            "token",
            "transfer",
            &json!({"to": "x", "amount": 1}),
            &[],
        ))
        .unwrap();
    tc.chain.produce_block().unwrap().unwrap();
    let top = tc.chain.store().height().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let replica = open_with(
        dir.path(),
        &tc.genesis,
        &org.node,
        Suite::Sm,
        PoolLimits::default(),
    );
    for h in 1..top {
        let b = tc.chain.store().block(h).unwrap().unwrap();
        replica.apply_block(b).unwrap();
    }
    let last = tc.chain.store().block(top).unwrap().unwrap();
    let prev = tc.chain.store().block(top - 1).unwrap().unwrap();

    // A changed result, a DAG with a missing edge, a forged proposer: all refused.
    let bad_result = tampered(&tc, &last, &prev, |p| {
        let mut r = TxResult::decode(p.results[0].as_slice()).unwrap();
        r.return_data = b"999".to_vec();
        p.results[0] = r.encode_to_vec();
    });
    let err = replica.apply_block(bad_result).unwrap_err();
    assert_eq!(err.code(), "INVALID_BLOCK");
    assert!(err.to_string().contains("result differs"), "{err}");
    let no_edges = tampered(&tc, &last, &prev, |p| {
        p.dag = Dag {
            nodes: p.dag.nodes.iter().map(|_| Default::default()).collect(),
        };
    });
    let err = replica.apply_block(no_edges).unwrap_err();
    assert_eq!(err.code(), "INVALID_BLOCK", "{err}");
    let mut forged = last.clone();
    forged.block.proposer_signature = org.admin.key.sign(&forged.block.header).unwrap();
    assert!(replica.apply_block(forged).is_err());

    // The genuine block is accepted, and both nodes agree on hash and state root.
    replica.apply_block(last).unwrap();
    assert_eq!(replica.store().tip(), tc.chain.store().tip());
    let q = |c: &covenant_chain::Chain| {
        c.query("token", "balance", b"{\"owner\":\"a1\"}", None)
            .unwrap()
            .result
            .return_data
    };
    assert_eq!(q(&replica), q(&tc.chain));
}
