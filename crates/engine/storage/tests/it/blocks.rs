//! Test blocks for the storage tests and the crash writer: each transaction's results and
//! writes are made up, not executed.

use covenant_crypto::Suite;
use covenant_storage::Store;
use covenant_types::{
    Dag, DagNode, Event, RwSet, TxResult, WriteEntry,
    block::{BlockParts, DecodedBlock, assemble},
    names::state_key,
    tx::{TxBuilder, sender_by_certificate},
};
use prost::Message;

pub const SUITE: Suite = Suite::Sm;

/// One tx of a test block: writes (key, value or delete) and whether it succeeded.
pub struct TestTx {
    pub writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    pub ok: bool,
}

pub fn put(k: &str, v: &str) -> TestTx {
    TestTx {
        writes: vec![(state_key("kv", k.as_bytes()), Some(v.as_bytes().to_vec()))],
        ok: true,
    }
}

pub fn block_after(store: &Store, chain: &str, txs: &[TestTx]) -> DecodedBlock {
    block_under_config(store, chain, txs, 0)
}

/// The next block, decided under the configuration block `config_version` set.
pub fn block_under_config(
    store: &Store,
    chain: &str,
    txs: &[TestTx],
    config_version: u64,
) -> DecodedBlock {
    let tip = store.tip();
    let height = tip.height.map_or(0, |h| h + 1);
    let mut parts = BlockParts {
        chain_id: chain.into(),
        height,
        prev_hash: tip.hash.clone(),
        prev_state_root: tip.state_root.clone(),
        timestamp_ms: 1_700_000_000_000 + height,
        proposer: vec![1; 32],
        config_version,
        transactions: vec![],
        results: vec![],
        rwsets: vec![],
        dag: Dag { nodes: vec![] },
    };
    for (i, t) in txs.iter().enumerate() {
        let payload = TxBuilder::new(chain, "kv", "put")
            .nonce(format!("{height}-{i}").into_bytes())
            .build()
            .unwrap();
        let tx = covenant_types::Transaction {
            payload: payload.clone(),
            sender: Some(sender_by_certificate(vec![1])),
            signature: vec![],
            endorsements: vec![],
        };
        let result = TxResult {
            tx_id: SUITE.hash(&payload).0.to_vec(),
            code: if t.ok {
                "OK".into()
            } else {
                "CONTRACT_ERROR".into()
            },
            message: String::new(),
            return_data: vec![],
            events: if t.ok {
                vec![Event {
                    contract: "kv".into(),
                    topic: "put".into(),
                    data: vec![],
                }]
            } else {
                vec![]
            },
            gas_used: 10,
        };
        let rwset = RwSet {
            reads: vec![],
            ranges: vec![],
            writes: if t.ok {
                t.writes
                    .iter()
                    .map(|(k, v)| WriteEntry {
                        key: k.clone(),
                        value: v.clone().unwrap_or_default(),
                        delete: v.is_none(),
                    })
                    .collect()
            } else {
                vec![]
            },
        };
        parts.transactions.push(tx.encode_to_vec());
        parts.results.push(result.encode_to_vec());
        parts.rwsets.push(rwset.encode_to_vec());
        parts.dag.nodes.push(DagNode { deps: vec![] });
    }
    assemble(SUITE, parts, None).unwrap()
}
