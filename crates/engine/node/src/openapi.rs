//! The OpenAPI 3 document served at `/openapi.json`.

use serde_json::{Value, json};

fn error_responses() -> Value {
    json!({
        "400": {"description": "Bad input", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "403": {"description": "Sender not allowed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "404": {"description": "Not found", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "409": {"description": "Duplicate", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "503": {"description": "Busy: retry after `retry_after_ms`", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    })
}

fn ok(schema: &str) -> Value {
    json!({"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn chain_param() -> Value {
    json!({"name": "chain", "in": "path", "required": true, "schema": {"type": "string"}, "description": "Chain id"})
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Some(b)) = (a.as_object_mut(), b.as_object()) {
        for (k, v) in b {
            a.insert(k.clone(), v.clone());
        }
    }
    a
}

/// The document.
pub fn document() -> Value {
    let hex = json!({"type": "string", "pattern": "^[0-9a-f]{64}$"});
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Covenant node API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Submit signed transactions, run read-only queries, read blocks and transactions with Merkle proofs, and subscribe to blocks and events (WebSocket). Every error is {\"error\": {\"code\", \"message\"}} with a stable code."
        },
        "paths": {
            "/healthz": {"get": {"summary": "Liveness and each chain's height", "responses": {"200": {"description": "OK"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {}}}}}},
            "/v1/chains": {"get": {"summary": "Chains hosted by this node", "responses": {"200": {"description": "OK"}}}},
            "/v1/chains/{chain}": {"get": {"summary": "Chain info", "parameters": [chain_param()], "responses": merge(json!({"200": ok("ChainInfo")}), error_responses())}},
            "/v1/chains/{chain}/config": {"get": {"summary": "The chain config", "parameters": [chain_param()], "responses": merge(json!({"200": {"description": "OK"}}), error_responses())}},
            "/v1/chains/{chain}/txs": {"post": {
                "summary": "Submit a signed transaction",
                "description": "Body: JSON {\"tx\": base64 of an encoded covenant.v1.Transaction}, or the raw protobuf with Content-Type application/x-protobuf. With wait=true the answer comes once the transaction is committed (200) or the timeout passes (202, pending).",
                "parameters": [chain_param(),
                    {"name": "wait", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "timeout_ms", "in": "query", "schema": {"type": "integer"}}],
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/SubmitRequest"}},
                    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": merge(json!({"200": ok("SubmitResponse"), "202": ok("SubmitResponse")}), error_responses())
            }},
            "/v1/chains/{chain}/txs/batch": {"post": {
                "summary": "Submit many signed transactions (signatures checked on all cores)",
                "parameters": [chain_param()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchSubmitRequest"}}}},
                "responses": merge(json!({"200": ok("BatchSubmitResponse")}), error_responses())
            }},
            "/v1/chains/{chain}/txs/{id}": {"get": {
                "summary": "A committed transaction with its result and Merkle proof",
                "parameters": [chain_param(), {"name": "id", "in": "path", "required": true, "schema": hex}],
                "responses": merge(json!({"200": ok("Tx")}), error_responses())
            }},
            "/v1/chains/{chain}/query": {"post": {
                "summary": "Read-only contract call",
                "parameters": [chain_param()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/QueryRequest"}}}},
                "responses": merge(json!({"200": ok("TxResult")}), error_responses())
            }},
            "/v1/chains/{chain}/blocks/{at}": {"get": {
                "summary": "A block by height, hash, or `latest`",
                "parameters": [chain_param(),
                    {"name": "at", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "raw", "in": "query", "schema": {"type": "boolean"}, "description": "Include the encoded block (base64)"}],
                "responses": merge(json!({"200": ok("Block")}), error_responses())
            }},
            "/v1/chains/{chain}/contracts": {"get": {"summary": "Contracts and their status", "parameters": [chain_param()], "responses": merge(json!({"200": {"description": "OK"}}), error_responses())}},
            "/v1/chains/{chain}/contracts/{name}": {"get": {"summary": "One contract", "parameters": [chain_param(), {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": merge(json!({"200": {"description": "OK"}}), error_responses())}},
            "/v1/chains/{chain}/subscribe": {"get": {
                "summary": "WebSocket: live blocks or contract events, resumable from a height",
                "parameters": [chain_param(),
                    {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["blocks", "events"]}},
                    {"name": "from_height", "in": "query", "schema": {"type": "integer"}},
                    {"name": "contract", "in": "query", "schema": {"type": "string"}}],
                "responses": {"101": {"description": "Switching to WebSocket; each message is a SubscriptionMessage"}}
            }}
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "retry_after_ms": {"type": "integer"}}}}},
            "SubmitRequest": {"type": "object", "required": ["tx"], "properties": {"tx": {"type": "string", "format": "byte"}, "wait": {"type": "boolean"}, "timeout_ms": {"type": "integer"}}},
            "SubmitResponse": {"type": "object", "required": ["tx_id", "status"], "properties": {
                "tx_id": hex, "status": {"type": "string", "enum": ["pending", "committed"]}, "height": {"type": "integer"}, "index": {"type": "integer"},
                "block_hash": hex, "result": {"$ref": "#/components/schemas/TxResult"}}},
            "BatchSubmitRequest": {"type": "object", "required": ["txs"], "properties": {"txs": {"type": "array", "items": {"type": "string", "format": "byte"}}}},
            "BatchSubmitResponse": {"type": "object", "properties": {"results": {"type": "array", "items": {"type": "object", "properties": {
                "tx_id": hex, "error": {"type": "object"}}}}}},
            "TxResult": {"type": "object", "required": ["code"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "result": {}, "gas_used": {"type": "integer"},
                "events": {"type": "array", "items": {"type": "object", "properties": {"contract": {"type": "string"}, "topic": {"type": "string"}, "data": {}}}}}},
            "QueryRequest": {"type": "object", "required": ["contract", "method"], "properties": {
                "contract": {"type": "string"}, "method": {"type": "string"}, "args": {}, "caller_cert": {"type": "string", "description": "PEM"}}},
            "ChainInfo": {"type": "object", "properties": {
                "chain_id": {"type": "string"}, "height": {"type": "integer"}, "last_hash": hex, "state_root": hex, "suite": {"type": "string"},
                "consensus": {"type": "string"}, "config_version": {"type": "integer"}, "txpool_size": {"type": "integer"}, "genesis_hash": hex}},
            "Block": {"type": "object", "properties": {
                "chain_id": {"type": "string"}, "height": {"type": "integer"}, "hash": hex, "prev_hash": {"type": "string"}, "timestamp_ms": {"type": "integer"},
                "proposer": {"type": "string"}, "tx_root": hex, "results_root": hex, "rwset_root": hex, "dag_hash": hex, "state_root": hex,
                "config_version": {"type": "integer"}, "tx_count": {"type": "integer"},
                "txs": {"type": "array", "items": {"type": "object"}}, "dag": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
                "committed_by": {"type": "array", "items": {"type": "string"}}, "raw": {"type": "string", "format": "byte"}}},
            "Tx": {"type": "object", "properties": {
                "tx_id": hex, "chain_id": {"type": "string"}, "height": {"type": "integer"}, "index": {"type": "integer"}, "block_hash": hex,
                "contract": {"type": "string"}, "method": {"type": "string"}, "args": {}, "timestamp_ms": {"type": "integer"}, "sender": hex,
                "endorsements": {"type": "integer"}, "result": {"$ref": "#/components/schemas/TxResult"},
                "proof": {"type": "object", "properties": {"leaf_index": {"type": "integer"}, "tree_size": {"type": "integer"}, "path": {"type": "array", "items": hex}}},
                "tx_root": hex, "raw": {"type": "string", "format": "byte"}}}
        }}
    })
}
