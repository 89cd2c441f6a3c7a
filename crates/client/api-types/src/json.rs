//! JSON shapes of the node's REST API, shared by the node and the SDKs.
//!
//! Hashes and ids are lowercase hex; binary payloads base64. Contract arguments and results
//! are JSON values (a result that is not JSON comes as `{"base64": "..."}`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every error the API returns: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ApiError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable code, e.g. `TX_BAD_SIGNATURE`, `TXPOOL_FULL`, `NOT_FOUND`.
    pub code: String,
    pub message: String,
    /// For "busy" answers: when to retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// `POST /v1/chains/{chain}/txs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// The encoded `Transaction`, base64.
    pub tx: String,
    /// Answer only once the transaction is committed (or the timeout passes).
    #[serde(default)]
    pub wait: bool,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// The answer to a submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitResponse {
    pub tx_id: String,
    /// `pending` (admitted, not yet committed) or `committed`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<TxResultView>,
}

/// `POST /v1/chains/{chain}/txs/batch`: many transactions at once (verified on all cores).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchSubmitRequest {
    /// Encoded transactions, base64.
    pub txs: Vec<String>,
}

/// One answer per transaction of a batch: an id, or an error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchSubmitResponse {
    pub results: Vec<BatchItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

/// A transaction's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxResultView {
    /// `OK` or the failure's stable code.
    pub code: String,
    #[serde(default)]
    pub message: String,
    /// The contract's return value.
    #[serde(default)]
    pub result: Value,
    #[serde(default)]
    pub events: Vec<EventView>,
    #[serde(default)]
    pub gas_used: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub contract: String,
    pub topic: String,
    pub data: Value,
}

/// `POST /v1/chains/{chain}/query`: a read-only call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryRequest {
    pub contract: String,
    pub method: String,
    #[serde(default)]
    pub args: Value,
    /// PEM certificate whose identity the contract sees as caller.
    #[serde(default)]
    pub caller_cert: Option<String>,
}

/// `GET /v1/chains/{chain}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChainInfo {
    pub chain_id: String,
    pub height: u64,
    pub last_hash: String,
    pub state_root: String,
    pub suite: String,
    pub consensus: String,
    pub config_version: u64,
    pub txpool_size: usize,
    pub genesis_hash: String,
    /// What this node's consensus driver reports: its role, the round or term, the leader, the
    /// voters, connected peers (`null` for a single node).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub engine: serde_json::Value,
}

/// A transaction in a block listing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxSummary {
    pub tx_id: String,
    pub contract: String,
    pub method: String,
    /// Hex hash of the sender's certificate.
    pub sender: String,
    pub code: String,
    pub gas_used: u64,
}

/// `GET /v1/chains/{chain}/blocks/{height|hash}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockView {
    pub chain_id: String,
    pub height: u64,
    pub hash: String,
    pub prev_hash: String,
    pub timestamp_ms: u64,
    pub proposer: String,
    pub tx_root: String,
    pub results_root: String,
    pub rwset_root: String,
    pub dag_hash: String,
    pub state_root: String,
    pub config_version: u64,
    pub tx_count: u32,
    pub txs: Vec<TxSummary>,
    /// Dependencies of each transaction (indexes of earlier ones).
    pub dag: Vec<Vec<u32>>,
    /// Signers (hex certificate hashes) of the commit certificate.
    pub committed_by: Vec<String>,
    /// The encoded block, base64, with `?raw=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

/// A Merkle inclusion proof (hex hashes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProofView {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub path: Vec<String>,
}

/// `GET /v1/chains/{chain}/txs/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxView {
    pub tx_id: String,
    pub chain_id: String,
    pub height: u64,
    pub index: u32,
    pub block_hash: String,
    pub contract: String,
    pub method: String,
    pub args: Value,
    pub timestamp_ms: u64,
    pub sender: String,
    pub endorsements: usize,
    pub result: TxResultView,
    /// Proof of the encoded transaction under the block's `tx_root`.
    pub proof: ProofView,
    pub tx_root: String,
    /// The encoded transaction, base64 (the proof's leaf).
    pub raw: String,
    /// What it read and wrote: `reads` (key, version), `ranges` (start, end) and `writes`
    /// (key, value, delete); keys as `contract/key`, values as JSON, text or base64.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub rwset: Value,
}

/// A message of a subscription (WebSocket `/v1/chains/{chain}/subscribe`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SubscriptionMessage {
    Block {
        height: u64,
        hash: String,
        tx_count: u32,
        timestamp_ms: u64,
        txs: Vec<TxSummary>,
    },
    Event {
        height: u64,
        tx_id: String,
        contract: String,
        topic: String,
        data: Value,
    },
}

/// Interpret bytes as JSON if they are, else wrap them as base64.
pub fn json_or_base64(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| serde_json::json!({ "base64": b64_encode(bytes) }))
}

/// Standard base64, the encoding of the API's binary fields.
pub fn b64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decode standard base64.
pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
}
