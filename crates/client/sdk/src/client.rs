//! The node's REST API from Rust.

use std::time::Duration;

use covenant_api_types::json::{
    BatchSubmitRequest, BatchSubmitResponse, BlockView, ChainInfo, ErrorBody, QueryRequest,
    SubmitRequest, SubmitResponse, TxResultView, TxView, b64_encode,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use thiserror::Error;

/// Why a call failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The node answered with an error.
    #[error("{message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        retry_after_ms: Option<u64>,
    },
    /// The node could not be reached or the answer did not arrive.
    #[error("cannot reach the node at {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    /// The answer was not what the API promises.
    #[error("unexpected answer from the node: {0}")]
    Decode(String),
}

impl ClientError {
    /// The stable code: the node's, or `NODE_UNREACHABLE` / `BAD_RESPONSE`.
    pub fn code(&self) -> &str {
        match self {
            ClientError::Api { code, .. } => code,
            ClientError::Unreachable { .. } => "NODE_UNREACHABLE",
            ClientError::Decode(_) => "BAD_RESPONSE",
        }
    }
}

/// A client of one node and chain.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    chain: String,
}

impl Client {
    /// A client of `endpoint` (e.g. `http://127.0.0.1:7070`) for chain `chain`.
    pub fn new(endpoint: &str, chain: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(180))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| ClientError::Unreachable {
                endpoint: endpoint.into(),
                detail: e.to_string(),
            })?;
        Ok(Client {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            chain: chain.to_string(),
        })
    }

    /// A client of `endpoint` for chain `chain` over `http` (share one connection pool, with
    /// its own timeouts, between many clients: a service polling many nodes).
    pub fn with_http(http: reqwest::Client, endpoint: &str, chain: &str) -> Self {
        Client {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            chain: chain.to_string(),
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn chain(&self) -> &str {
        &self.chain
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1/chains/{}{path}", self.endpoint, self.chain)
    }

    async fn answer<T: DeserializeOwned>(
        &self,
        r: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<T, ClientError> {
        let r = r.map_err(|e| ClientError::Unreachable {
            endpoint: self.endpoint.clone(),
            detail: e.to_string(),
        })?;
        let status = r.status();
        let bytes = r.bytes().await.map_err(|e| ClientError::Unreachable {
            endpoint: self.endpoint.clone(),
            detail: e.to_string(),
        })?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(b) => ClientError::Api {
                    status: status.as_u16(),
                    code: b.error.code,
                    message: b.error.message,
                    retry_after_ms: b.error.retry_after_ms,
                },
                Err(_) => ClientError::Decode(format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&bytes)
                )),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// Submit an encoded transaction; with `wait`, return once it is committed.
    pub async fn submit(&self, tx: &[u8], wait: bool) -> Result<SubmitResponse, ClientError> {
        let body = SubmitRequest {
            tx: b64_encode(tx),
            wait,
            timeout_ms: None,
        };
        let r = self.http.post(self.url("/txs")).json(&body).send().await;
        self.answer(r).await
    }

    /// Submit and wait at most `timeout` for the commit; the answer's `status` is
    /// `committed`, or `pending` when the transaction did not commit in that time.
    pub async fn submit_and_wait(
        &self,
        tx: &[u8],
        timeout: std::time::Duration,
    ) -> Result<SubmitResponse, ClientError> {
        let body = SubmitRequest {
            tx: b64_encode(tx),
            wait: true,
            timeout_ms: Some(timeout.as_millis() as u64),
        };
        let r = self.http.post(self.url("/txs")).json(&body).send().await;
        self.answer(r).await
    }

    /// Submit an encoded transaction as raw protobuf (no base64, no JSON).
    pub async fn submit_raw(&self, tx: Vec<u8>, wait: bool) -> Result<SubmitResponse, ClientError> {
        let r = self
            .http
            .post(format!("{}?wait={wait}", self.url("/txs")))
            .header("content-type", "application/x-protobuf")
            .body(tx)
            .send()
            .await;
        self.answer(r).await
    }

    /// Submit many encoded transactions at once.
    pub async fn submit_batch(&self, txs: &[Vec<u8>]) -> Result<BatchSubmitResponse, ClientError> {
        let body = BatchSubmitRequest {
            txs: txs.iter().map(|t| b64_encode(t)).collect(),
        };
        let r = self
            .http
            .post(self.url("/txs/batch"))
            .json(&body)
            .send()
            .await;
        self.answer(r).await
    }

    /// A read-only call; `caller_pem` is the certificate whose identity the contract sees.
    pub async fn query(
        &self,
        contract: &str,
        method: &str,
        args: Value,
        caller_pem: Option<String>,
    ) -> Result<TxResultView, ClientError> {
        let body = QueryRequest {
            contract: contract.into(),
            method: method.into(),
            args,
            caller_cert: caller_pem,
        };
        let r = self.http.post(self.url("/query")).json(&body).send().await;
        self.answer(r).await
    }

    /// Chain info.
    pub async fn info(&self) -> Result<ChainInfo, ClientError> {
        let r = self.http.get(self.url("")).send().await;
        self.answer(r).await
    }

    /// The chain config.
    pub async fn config(&self) -> Result<Value, ClientError> {
        let r = self.http.get(self.url("/config")).send().await;
        self.answer(r).await
    }

    /// A block by height, hash or `latest`.
    pub async fn block(&self, at: &str, raw: bool) -> Result<BlockView, ClientError> {
        let r = self
            .http
            .get(self.url(&format!("/blocks/{at}?raw={raw}")))
            .send()
            .await;
        self.answer(r).await
    }

    /// A committed transaction with its proof.
    pub async fn tx(&self, id: &str) -> Result<TxView, ClientError> {
        let r = self.http.get(self.url(&format!("/txs/{id}"))).send().await;
        self.answer(r).await
    }

    /// A committed transaction's self-contained proof (the `covenant-proof/1` file as JSON),
    /// which anyone checks offline against the chain's genesis block.
    pub async fn tx_proof(&self, id: &str) -> Result<Value, ClientError> {
        let r = self
            .http
            .get(self.url(&format!("/txs/{id}/proof")))
            .send()
            .await;
        self.answer(r).await
    }

    /// Contracts and their status.
    pub async fn contracts(&self) -> Result<Value, ClientError> {
        let r = self.http.get(self.url("/contracts")).send().await;
        self.answer(r).await
    }
}
