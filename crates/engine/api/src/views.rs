//! Chain objects as the JSON views of the API.

use covenant_api_types::json::{
    BlockView, EventView, ProofView, SubscriptionMessage, TxResultView, TxSummary, TxView,
    b64_encode, json_or_base64,
};
use covenant_chain::{CommittedBlock, TxRecord};
use covenant_crypto::Suite;
use covenant_types::{Event, Transaction, TxPayload, TxResult, block::DecodedBlock, pb::sender};
use prost::Message;

pub fn event(e: &Event) -> EventView {
    EventView {
        contract: e.contract.clone(),
        topic: e.topic.clone(),
        data: json_or_base64(&e.data),
    }
}

pub fn result(r: &TxResult) -> TxResultView {
    TxResultView {
        code: r.code.clone(),
        message: r.message.clone(),
        result: json_or_base64(&r.return_data),
        events: r.events.iter().map(event).collect(),
        gas_used: r.gas_used,
    }
}

/// Hex hash of the sender's certificate (or the hash it was named by).
pub fn sender_id(suite: Suite, tx: &Transaction) -> String {
    match tx.sender.as_ref().and_then(|s| s.id.as_ref()) {
        Some(sender::Id::Certificate(der)) => suite.hash(der).to_hex(),
        Some(sender::Id::CertificateHash(h)) => hex::encode(h),
        None => String::new(),
    }
}

fn summary(suite: Suite, tx_bytes: &[u8], r: Option<&TxResult>) -> TxSummary {
    let tx = Transaction::decode(tx_bytes).unwrap_or_default();
    let payload = TxPayload::decode(tx.payload.as_slice()).unwrap_or_default();
    TxSummary {
        tx_id: suite.hash(&tx.payload).to_hex(),
        contract: payload.contract,
        method: payload.method,
        sender: sender_id(suite, &tx),
        code: r.map(|r| r.code.clone()).unwrap_or_default(),
        gas_used: r.map_or(0, |r| r.gas_used),
    }
}

pub fn block(suite: Suite, b: &DecodedBlock, raw: bool) -> BlockView {
    let results: Vec<TxResult> = b
        .block
        .results
        .iter()
        .map(|r| TxResult::decode(r.as_slice()).unwrap_or_default())
        .collect();
    let h = &b.header;
    BlockView {
        chain_id: h.chain_id.clone(),
        height: h.height,
        hash: b.hash.to_hex(),
        prev_hash: hex::encode(&h.prev_hash),
        timestamp_ms: h.timestamp_ms,
        proposer: hex::encode(&h.proposer),
        tx_root: hex::encode(&h.tx_root),
        results_root: hex::encode(&h.results_root),
        rwset_root: hex::encode(&h.rwset_root),
        dag_hash: hex::encode(&h.dag_hash),
        state_root: hex::encode(&h.state_root),
        config_version: h.config_version,
        tx_count: h.tx_count,
        txs: b
            .block
            .transactions
            .iter()
            .enumerate()
            .map(|(i, t)| summary(suite, t, results.get(i)))
            .collect(),
        dag: b
            .dag()
            .map(|d| d.nodes.into_iter().map(|n| n.deps).collect())
            .unwrap_or_default(),
        committed_by: b
            .block
            .certificate
            .as_ref()
            .map(|c| {
                c.signatures
                    .iter()
                    .map(|s| match s.signer.as_ref().and_then(|x| x.id.as_ref()) {
                        Some(sender::Id::CertificateHash(h)) => hex::encode(h),
                        Some(sender::Id::Certificate(der)) => suite.hash(der).to_hex(),
                        None => String::new(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        raw: raw.then(|| b64_encode(&b.encode())),
    }
}

pub fn tx(suite: Suite, chain_id: &str, rec: &TxRecord, tx_root: &[u8]) -> TxView {
    let tx = Transaction::decode(rec.transaction.as_slice()).unwrap_or_default();
    let payload = TxPayload::decode(tx.payload.as_slice()).unwrap_or_default();
    TxView {
        tx_id: suite.hash(&tx.payload).to_hex(),
        chain_id: chain_id.to_string(),
        height: rec.committed.height,
        index: rec.committed.index,
        block_hash: rec.committed.block_hash.to_hex(),
        contract: payload.contract,
        method: payload.method,
        args: json_or_base64(&payload.args),
        timestamp_ms: payload.timestamp_ms,
        sender: sender_id(suite, &tx),
        endorsements: tx.endorsements.len(),
        result: result(&rec.committed.result),
        proof: ProofView {
            leaf_index: rec.proof.leaf_index,
            tree_size: rec.proof.tree_size,
            path: rec.proof.path.iter().map(|h| h.to_hex()).collect(),
        },
        tx_root: hex::encode(tx_root),
        raw: b64_encode(&rec.transaction),
        rwset: rwset(&rec.rwset),
    }
}

/// A state key as `contract/key`: the contract's namespace, then the key as text when it is
/// printable UTF-8, else `0x` and hex.
fn state_key(key: &[u8]) -> String {
    let (ns, k) = match key.iter().position(|b| *b == 0) {
        Some(i) => (&key[..i], &key[i + 1..]),
        None => (&key[..0], key),
    };
    let text = |b: &[u8]| match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => format!("0x{}", hex::encode(b)),
    };
    if ns.is_empty() {
        text(k)
    } else {
        format!("{}/{}", text(ns), text(k))
    }
}

/// A state value: its JSON when it is JSON, `{"text"}` when it is printable UTF-8, else
/// `{"base64"}`.
fn state_value(v: &[u8]) -> serde_json::Value {
    if let Ok(j) = serde_json::from_slice::<serde_json::Value>(v) {
        return j;
    }
    match std::str::from_utf8(v) {
        Ok(s) if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
            serde_json::json!({"text": s})
        }
        _ => json_or_base64(v),
    }
}

/// The read/write set as JSON (`null` when the block carries none for the transaction).
fn rwset(encoded: &[u8]) -> serde_json::Value {
    use serde_json::json;
    if encoded.is_empty() {
        return serde_json::Value::Null;
    }
    let Ok(set) = covenant_types::RwSet::decode(encoded) else {
        return serde_json::Value::Null;
    };
    json!({
        "reads": set.reads.iter().map(|r| {
            let v = r.version.unwrap_or_default();
            json!({"key": state_key(&r.key), "version": {"height": v.height, "index": v.index, "present": v.present}})
        }).collect::<Vec<_>>(),
        "ranges": set.ranges.iter().map(|r| json!({"start": state_key(&r.start), "end": state_key(&r.end)})).collect::<Vec<_>>(),
        "writes": set.writes.iter().map(|w| json!({"key": state_key(&w.key), "value": state_value(&w.value), "delete": w.delete})).collect::<Vec<_>>(),
    })
}

/// The subscription messages a committed block produces.
pub fn messages(
    suite: Suite,
    c: &CommittedBlock,
    events: bool,
    contract: Option<&str>,
) -> Vec<SubscriptionMessage> {
    let b = &c.block;
    if !events {
        return vec![SubscriptionMessage::Block {
            height: b.header.height,
            hash: b.hash.to_hex(),
            tx_count: b.header.tx_count,
            timestamp_ms: b.header.timestamp_ms,
            txs: b
                .block
                .transactions
                .iter()
                .enumerate()
                .map(|(i, t)| summary(suite, t, c.results.get(i)))
                .collect(),
        }];
    }
    let mut out = Vec::new();
    for r in &c.results {
        for e in &r.events {
            if contract.is_some_and(|want| want != e.contract) {
                continue;
            }
            out.push(SubscriptionMessage::Event {
                height: b.header.height,
                tx_id: hex::encode(&r.tx_id),
                contract: e.contract.clone(),
                topic: e.topic.clone(),
                data: json_or_base64(&e.data),
            });
        }
    }
    out
}

#[cfg(test)]
mod rwset_tests {
    use super::*;

    #[test]
    fn keys_and_values_read_as_text_where_they_are() {
        assert_eq!(state_key(b"kv\0invoice-7"), "kv/invoice-7");
        assert_eq!(state_key(b"kv\0\x01\x02"), "kv/0x0102");
        assert_eq!(state_key(b"no-namespace"), "no-namespace");
        assert_eq!(state_value(b"{\"a\":1}"), serde_json::json!({"a": 1}));
        assert_eq!(
            state_value(b"released"),
            serde_json::json!({"text": "released"})
        );
        assert!(state_value(&[0xff, 0x00]).get("base64").is_some());
        let set = covenant_types::RwSet {
            reads: vec![covenant_types::ReadEntry {
                key: b"kv\0a".to_vec(),
                version: Some(covenant_types::Version {
                    height: 3,
                    index: 1,
                    present: true,
                }),
            }],
            ranges: vec![],
            writes: vec![covenant_types::WriteEntry {
                key: b"kv\0a".to_vec(),
                value: b"1".to_vec(),
                delete: false,
            }],
        };
        let j = rwset(&set.encode_to_vec());
        assert_eq!(j["reads"][0]["key"], "kv/a");
        assert_eq!(j["reads"][0]["version"]["height"], 3);
        assert_eq!(j["writes"][0]["value"], 1);
        assert!(rwset(b"").is_null());
        assert!(rwset(b"\xff\xff\xff").is_null());
    }
}
