//! The OpenAPI 3 document served at `/openapi.json`: every route with every status code and
//! content type it can answer, and the schema of every body. A schemathesis run over it
//! (`.ci/run`) checks the node against it.

use serde_json::{Value, json};

fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_body(description: &str, s: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": s}}})
}

/// The error answers a route can give, by status.
fn errors(statuses: &[u16]) -> Vec<(String, Value)> {
    statuses
        .iter()
        .map(|s| {
            let why = match s {
                400 => "Bad input: a malformed path, query string or body, or a transaction the node refuses (the code says which check)",
                403 => "The signer may not do this (untrusted, frozen, revoked or expired certificate, or a method policy)",
                404 => "No such chain, transaction, block or contract",
                409 => "A conflict with what the node holds: the transaction is already in the pool or on the ledger (TX_DUPLICATE_IN_POOL, TX_DUPLICATE_ON_LEDGER), or this node's copy of what was asked failed its check and is being repaired — a block from peers (BLOCK_DAMAGED), a state entry from the block that wrote it (STATE_DAMAGED), the indexes from the blocks (INDEX_DAMAGED): retry after `retry_after_ms`, here or at another node",
                413 => "The body is over the 32 MiB limit, or a transaction over the chain's size limit",
                415 => "The body's content type is not one this route takes",
                426 => "This route is a WebSocket: open it with an upgrade",
                429 => "Busy (the transaction pool is full): retry after `retry_after_ms` (also in Retry-After)",
                503 => "The node's storage is recovering from a failed write (a full disk), or a call needed state this node is repairing (code STORAGE_UNAVAILABLE), or the block asked for is archived where this node cannot read it now (code ARCHIVE_OFFLINE): retry after `retry_after_ms`, here or at another node",
                _ => "The node failed (storage or an internal task); the error says why",
            };
            (s.to_string(), json_body(why, schema("Error")))
        })
        .collect()
}

fn responses(ok: Vec<(&str, Value)>, error_statuses: &[u16]) -> Value {
    let mut m = serde_json::Map::new();
    for (s, v) in ok {
        m.insert(s.to_string(), v);
    }
    // Whatever can fail inside the node can also find its storage recovering.
    let mut statuses = error_statuses.to_vec();
    if statuses.contains(&500) {
        statuses.push(503);
    }
    for (s, v) in errors(&statuses) {
        m.insert(s, v);
    }
    Value::Object(m)
}

/// The document, with `chains` (the chains this node hosts) as the example chain ids.
pub fn document(chains: &[String]) -> Value {
    let mut chain = json!({"name": "chain", "in": "path", "required": true, "schema": {"type": "string"}, "description": "Chain id (one this node hosts: GET /v1/chains)"});
    if let Some(first) = chains.first() {
        chain["example"] = json!(first);
    }
    let chain_param = || chain.clone();
    // A height as a query parameter: what the node's 64-bit heights hold.
    let height = json!({"type": "integer", "minimum": 0, "maximum": u64::MAX});
    let hex = json!({"type": "string", "pattern": "^[0-9a-f]{64}$"});
    let int = json!({"type": "integer", "minimum": 0});
    let any = json!({});
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Covenant node API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Submit signed transactions, run read-only queries, read blocks and transactions with Merkle proofs, and subscribe to blocks and events (WebSocket). The same operations are served over gRPC (covenant.api.v1.Chain). Every error is {\"error\": {\"code\", \"message\"}} with a stable code; an unknown route answers 404 and a wrong method 405 (with Allow), both the same way."
        },
        "paths": {
            "/healthz": {"get": {
                "operationId": "health",
                "summary": "Liveness and each chain's height",
                "responses": responses(vec![("200", json_body("The node answers", schema("Health")))], &[500])
            }},
            "/metrics": {"get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "The Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}
            }},
            "/openapi.json": {"get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": json_body("The OpenAPI document", json!({"type": "object"}))}
            }},
            "/v1/chains": {"get": {
                "operationId": "listChains",
                "summary": "Chains hosted by this node",
                "responses": responses(vec![("200", json_body("The chains", json!({"type": "array", "items": schema("ChainSummary")})))], &[500])
            }},
            "/v1/chains/{chain}": {"get": {
                "operationId": "chainInfo",
                "summary": "Chain info",
                "parameters": [chain_param()],
                "responses": responses(vec![("200", json_body("The chain", schema("ChainInfo")))], &[400, 404, 500])
            }},
            "/v1/chains/{chain}/config": {"get": {
                "operationId": "chainConfig",
                "summary": "The chain config",
                "parameters": [chain_param()],
                "responses": responses(vec![("200", json_body("The config", schema("ChainConfig")))], &[400, 404, 500])
            }},
            "/v1/chains/{chain}/txs": {"post": {
                "operationId": "submitTx",
                "summary": "Submit a signed transaction",
                "description": "Body: JSON {\"tx\": base64 of an encoded covenant.v1.Transaction}, or the raw protobuf with Content-Type application/x-protobuf. With wait=true the answer comes once the transaction is committed (200) or the timeout passes (202, pending).",
                "parameters": [chain_param(),
                    {"name": "wait", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "timeout_ms", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 120000}}],
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": schema("SubmitRequest")},
                    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": responses(vec![
                    ("200", json_body("Committed", schema("SubmitResponse"))),
                    ("202", json_body("Admitted, not committed yet", schema("SubmitResponse")))],
                    &[400, 403, 404, 409, 413, 415, 429, 500])
            }},
            "/v1/chains/{chain}/txs/batch": {"post": {
                "operationId": "submitBatch",
                "summary": "Submit many signed transactions (signatures checked on all cores)",
                "description": "One answer per transaction, in the order given: its id, or its error.",
                "parameters": [chain_param()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": schema("BatchSubmitRequest")}}},
                "responses": responses(vec![("200", json_body("One answer per transaction", schema("BatchSubmitResponse")))], &[400, 404, 413, 415, 500])
            }},
            "/v1/chains/{chain}/txs/{id}": {"get": {
                "operationId": "getTx",
                "summary": "A committed transaction with its result and Merkle proof",
                "parameters": [chain_param(), {"name": "id", "in": "path", "required": true, "schema": hex}],
                "responses": responses(vec![("200", json_body("The transaction", schema("Tx")))], &[400, 404, 409, 500])
            }},
            "/v1/chains/{chain}/txs/{id}/proof": {"get": {
                "operationId": "getTxProof",
                "summary": "A committed transaction's self-contained proof, checkable offline",
                "description": "The transaction and its result as carried, their Merkle paths, the block's header and commit certificate, and every config change since genesis. `covenant proof verify FILE --genesis GENESIS` checks it with no node.",
                "parameters": [chain_param(), {"name": "id", "in": "path", "required": true, "schema": hex}],
                "responses": responses(vec![("200", json_body("The proof file", schema("TxProof")))], &[400, 404, 409, 500])
            }},
            "/v1/chains/{chain}/query": {"post": {
                "operationId": "query",
                "summary": "Read-only contract call",
                "description": "The answer's code says how the call went (OK, or the contract's or the runtime's failure).",
                "parameters": [chain_param()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": schema("QueryRequest")}}},
                "responses": responses(vec![("200", json_body("The call's result", schema("TxResult")))], &[400, 403, 404, 413, 415, 500])
            }},
            "/v1/chains/{chain}/blocks/{at}": {"get": {
                "operationId": "getBlock",
                "summary": "A block by height, hash, or `latest`",
                "parameters": [chain_param(),
                    {"name": "at", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^(latest|[0-9]{1,19}|[0-9a-f]{64})$"}},
                    {"name": "raw", "in": "query", "schema": {"type": "boolean"}, "description": "Include the encoded block (base64)"}],
                "responses": responses(vec![("200", json_body("The block", schema("Block")))], &[400, 404, 409, 500])
            }},
            "/v1/chains/{chain}/contracts": {"get": {
                "operationId": "listContracts",
                "summary": "Contracts and their status",
                "parameters": [chain_param()],
                "responses": responses(vec![("200", json_body("The contracts", json!({"type": "array", "items": schema("Contract")})))], &[400, 404, 409, 500])
            }},
            "/v1/chains/{chain}/contracts/{name}": {"get": {
                "operationId": "getContract",
                "summary": "One contract",
                "parameters": [chain_param(), {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": responses(vec![("200", json_body("The contract", schema("Contract")))], &[400, 404, 409, 500])
            }},
            "/v1/chains/{chain}/subscribe": {"get": {
                "operationId": "subscribe",
                "summary": "WebSocket: live blocks or contract events, resumable from a height",
                "description": "Open as a WebSocket. Stored blocks from from_height come first, then live ones, with no gap and no duplicate; each text message is a SubscriptionMessage. The server pings an idle subscriber every 30 s.",
                "parameters": [chain_param(),
                    {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["blocks", "events"]}},
                    {"name": "from_height", "in": "query", "schema": height},
                    {"name": "contract", "in": "query", "schema": {"type": "string"}}],
                "responses": responses(vec![("101", json!({"description": "Switching to WebSocket"}))], &[400, 404, 426, 500])
            }}
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": schema("ErrorDetail")}},
            "ErrorDetail": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string", "description": "Stable code"}, "message": {"type": "string"}, "retry_after_ms": int}},
            "Health": {"type": "object", "required": ["status", "node", "chains"], "properties": {
                "status": {"type": "string", "enum": ["ok"]}, "node": {"type": "string"},
                "chains": {"type": "object", "additionalProperties": int, "description": "Height of each chain"}}},
            "ChainSummary": {"type": "object", "required": ["chain_id", "height", "suite"], "properties": {
                "chain_id": {"type": "string"}, "height": int, "suite": {"type": "string", "enum": ["sm", "intl"]}}},
            "ChainInfo": {"type": "object", "required": ["chain_id", "height", "last_hash", "state_root", "suite", "consensus", "config_version", "txpool_size", "genesis_hash"], "properties": {
                "chain_id": {"type": "string"}, "height": int, "last_hash": hex, "state_root": hex, "suite": {"type": "string", "enum": ["sm", "intl"]},
                "consensus": {"type": "string", "enum": ["solo", "raft", "tbft"]}, "config_version": int, "txpool_size": int, "genesis_hash": hex,
                "engine": {"description": "What the consensus driver reports (role, round or term, leader, peers)"}}},
            "ChainConfig": {"type": "object", "required": ["chain_id", "suite", "version", "orgs"], "properties": {
                "chain_id": {"type": "string"}, "suite": {"type": "string"}, "version": int,
                "orgs": {"type": "array", "items": {"type": "object"}}, "consensus": {"type": "object", "nullable": true},
                "policies": {"type": "array", "items": {"type": "object"}}, "block": {"type": "object", "nullable": true},
                "tx_expiry_window_ms": int, "max_gas_per_tx": int, "max_tx_bytes": int, "max_endorsements": int}},
            "SubmitRequest": {"type": "object", "required": ["tx"], "properties": {
                "tx": {"type": "string", "format": "byte", "description": "An encoded covenant.v1.Transaction, base64"},
                "wait": {"type": "boolean"}, "timeout_ms": {"type": "integer", "minimum": 0, "maximum": 120000}}},
            "SubmitResponse": {"type": "object", "required": ["tx_id", "status"], "properties": {
                "tx_id": hex, "status": {"type": "string", "enum": ["pending", "committed"]}, "height": int, "index": int,
                "block_hash": hex, "result": schema("TxResult")}},
            "BatchSubmitRequest": {"type": "object", "required": ["txs"], "properties": {
                "txs": {"type": "array", "maxItems": 10000, "items": {"type": "string", "format": "byte"}}}},
            "BatchSubmitResponse": {"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": {"type": "object", "properties": {
                "tx_id": hex, "error": schema("ErrorDetail")}}}}},
            "Event": {"type": "object", "required": ["contract", "topic"], "properties": {"contract": {"type": "string"}, "topic": {"type": "string"}, "data": any}},
            "TxResult": {"type": "object", "required": ["code"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "result": any, "gas_used": int,
                "events": {"type": "array", "items": schema("Event")}}},
            "QueryRequest": {"type": "object", "required": ["contract", "method"], "properties": {
                "contract": {"type": "string"}, "method": {"type": "string"}, "args": any,
                "caller_cert": {"type": "string", "nullable": true, "description": "A PEM certificate whose identity the contract sees as the caller"}}},
            "TxSummary": {"type": "object", "required": ["tx_id", "contract", "method", "sender", "code", "gas_used"], "properties": {
                "tx_id": hex, "contract": {"type": "string"}, "method": {"type": "string"}, "sender": {"type": "string"},
                "code": {"type": "string"}, "gas_used": int}},
            "Block": {"type": "object", "required": ["chain_id", "height", "hash", "prev_hash", "timestamp_ms", "proposer", "tx_root", "results_root", "rwset_root", "dag_hash", "state_root", "config_version", "tx_count", "txs", "dag", "committed_by"], "properties": {
                "chain_id": {"type": "string"}, "height": int, "hash": hex, "prev_hash": {"type": "string", "description": "Empty for the genesis block"},
                "timestamp_ms": int, "proposer": {"type": "string"}, "tx_root": hex, "results_root": hex, "rwset_root": hex, "dag_hash": hex, "state_root": hex,
                "config_version": int, "tx_count": int,
                "txs": {"type": "array", "items": schema("TxSummary")}, "dag": {"type": "array", "items": {"type": "array", "items": int}},
                "committed_by": {"type": "array", "items": {"type": "string"}}, "raw": {"type": "string", "format": "byte"}}},
            "TxProof": {"type": "object", "additionalProperties": false, "required": ["format", "chain_id", "genesis_hash", "tx", "block", "config_changes"], "properties": {
                "format": {"type": "string", "enum": ["covenant-proof/1"]}, "chain_id": {"type": "string"}, "genesis_hash": hex,
                "tx": {"type": "object", "additionalProperties": false, "required": ["id", "index", "transaction", "result", "tx_path", "result_path"], "properties": {
                    "id": hex, "index": int, "transaction": {"type": "string", "format": "byte"}, "result": {"type": "string", "format": "byte"},
                    "tx_path": {"type": "array", "items": hex}, "result_path": {"type": "array", "items": hex}}},
                "block": {"type": "object", "additionalProperties": false, "required": ["header", "certificate"], "properties": {
                    "header": {"type": "string", "format": "byte"}, "certificate": {"type": "string", "format": "byte"}}},
                "config_changes": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["header", "certificate", "rwsets"], "properties": {
                    "header": {"type": "string", "format": "byte"}, "certificate": {"type": "string", "format": "byte"},
                    "rwsets": {"type": "array", "items": {"type": "string", "format": "byte"}}}}}}},
            "Tx": {"type": "object", "required": ["tx_id", "chain_id", "height", "index", "block_hash", "contract", "method", "timestamp_ms", "sender", "endorsements", "result", "proof", "tx_root", "raw"], "properties": {
                "tx_id": hex, "chain_id": {"type": "string"}, "height": int, "index": int, "block_hash": hex,
                "contract": {"type": "string"}, "method": {"type": "string"}, "args": any, "timestamp_ms": int, "sender": {"type": "string"},
                "endorsements": int, "result": schema("TxResult"),
                "proof": {"type": "object", "required": ["leaf_index", "tree_size", "path"], "properties": {"leaf_index": int, "tree_size": int, "path": {"type": "array", "items": hex}}},
                "tx_root": hex, "raw": {"type": "string", "format": "byte"},
                "rwset": {"type": "object", "description": "What it read and wrote: reads (key, version), ranges (start, end), writes (key, value, delete); keys as contract/key"}}},
            "Contract": {"type": "object", "required": ["name", "version", "runtime", "code_hash", "status", "methods"], "properties": {
                "name": {"type": "string"}, "version": {"type": "string"}, "runtime": {"type": "string"}, "code_hash": {"type": "string"},
                "status": {"type": "string", "enum": ["active", "frozen", "revoked"]},
                "methods": {"type": "array", "items": {"type": "object", "properties": {"method": {"type": "string"}, "org_ids": {"type": "array", "items": {"type": "string"}}, "roles": {"type": "array", "items": {"type": "string"}}}}},
                "creator_org": {"type": "string"}, "installed_height": int, "updated_height": int}},
            "SubscriptionMessage": {"type": "object", "required": ["type", "height"], "properties": {
                "type": {"type": "string", "enum": ["block", "event"]}, "height": int, "hash": hex, "tx_count": int, "timestamp_ms": int,
                "txs": {"type": "array", "items": schema("TxSummary")}, "tx_id": hex, "contract": {"type": "string"}, "topic": {"type": "string"}, "data": any}}
        }}
    })
}
