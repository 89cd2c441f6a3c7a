//! The REST/JSON and WebSocket API.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/healthz` | liveness and each chain's height |
//! | GET | `/metrics` | Prometheus metrics |
//! | GET | `/openapi.json` | the OpenAPI 3 document of this API |
//! | GET | `/v1/chains` | chains hosted |
//! | GET | `/v1/chains/{chain}` | chain info |
//! | GET | `/v1/chains/{chain}/config` | the chain config |
//! | POST | `/v1/chains/{chain}/txs` | submit a transaction (optionally wait for commit) |
//! | POST | `/v1/chains/{chain}/txs/batch` | submit many transactions |
//! | GET | `/v1/chains/{chain}/txs/{id}` | a committed transaction with result and proof |
//! | POST | `/v1/chains/{chain}/query` | read-only contract call |
//! | GET | `/v1/chains/{chain}/blocks/{height or hash}` | a block |
//! | GET | `/v1/chains/{chain}/contracts` and `/{name}` | contracts and their status |
//! | GET (WebSocket) | `/v1/chains/{chain}/subscribe?kind=blocks\|events&from_height=N&contract=C` | live blocks or events, resumable |
//!
//! Every error is `{"error": {"code", "message"}}` with a stable code; bad input never panics.

pub mod views;
mod ws;

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use covenant_chain::{Chain, ChainError, TxError};
use covenant_crypto::Hash;
use covenant_types::api::{
    ApiError, BatchItem, BatchSubmitRequest, BatchSubmitResponse, ChainInfo, ErrorBody,
    QueryRequest, SubmitRequest, SubmitResponse, b64_decode,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Node, metrics::Metrics};

/// Shared state of the API.
#[derive(Clone)]
pub struct AppState {
    pub node: Arc<Node>,
    pub metrics: Arc<Metrics>,
}

/// An API failure: HTTP status and the JSON error body.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    body: ApiError,
}

impl Failure {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Failure {
            status,
            body: ApiError {
                code: code.into(),
                message: message.into(),
                retry_after_ms: None,
            },
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", what)
    }

    pub fn api_error(&self) -> ApiError {
        self.body.clone()
    }
}

impl From<TxError> for Failure {
    fn from(e: TxError) -> Self {
        let status = match &e {
            TxError::PoolFull { .. } => StatusCode::SERVICE_UNAVAILABLE,
            TxError::DuplicateInPool(_) | TxError::DuplicateOnLedger(_) => StatusCode::CONFLICT,
            TxError::UntrustedSender(_)
            | TxError::FrozenSender(_)
            | TxError::RevokedSender(_)
            | TxError::ExpiredSender(_) => StatusCode::FORBIDDEN,
            TxError::MethodNotAllowed { .. } => StatusCode::FORBIDDEN,
            TxError::UnknownContract(_) => StatusCode::NOT_FOUND,
            TxError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        Failure {
            status,
            body: ApiError {
                code: e.code().into(),
                message: e.to_string(),
                retry_after_ms: e.retry_after_ms(),
            },
        }
    }
}

impl From<ChainError> for Failure {
    fn from(e: ChainError) -> Self {
        Failure::new(StatusCode::INTERNAL_SERVER_ERROR, e.code(), e.to_string())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(ms) = self.body.retry_after_ms
            && let Ok(v) = (ms.div_ceil(1000).max(1)).to_string().parse()
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        (self.status, headers, Json(ErrorBody { error: self.body })).into_response()
    }
}

type ApiResult<T> = Result<T, Failure>;

fn chain<'a>(state: &'a AppState, id: &str) -> ApiResult<&'a Chain> {
    state
        .node
        .chain(id)
        .ok_or_else(|| Failure::not_found(format!("this node hosts no chain named {id:?}")))
}

/// Parse a JSON body, answering bad JSON with a coded error (not a plain-text rejection).
fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| Failure::bad_request(format!("invalid JSON body: {e}")))
}

fn parse_hash(text: &str, what: &str) -> ApiResult<Hash> {
    text.parse::<Hash>()
        .map_err(|_| Failure::bad_request(format!("{what} must be 64 hex digits")))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string()))
}

/// The router of the whole API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/chains", get(list_chains))
        .route("/v1/chains/{chain}", get(chain_info))
        .route("/v1/chains/{chain}/config", get(chain_config))
        .route("/v1/chains/{chain}/txs", post(submit))
        .route("/v1/chains/{chain}/txs/batch", post(submit_batch))
        .route("/v1/chains/{chain}/txs/{id}", get(get_tx))
        .route("/v1/chains/{chain}/query", post(query))
        .route("/v1/chains/{chain}/blocks/{at}", get(get_block))
        .route("/v1/chains/{chain}/contracts", get(list_contracts))
        .route("/v1/chains/{chain}/contracts/{name}", get(get_contract))
        .route("/v1/chains/{chain}/subscribe", get(ws::subscribe))
        .fallback(|| async { Failure::not_found("no such endpoint; see /openapi.json") })
        .layer(DefaultBodyLimit::max(32 * 1024 * 1024))
        .with_state(state)
}

async fn healthz(State(s): State<AppState>) -> Json<Value> {
    let chains: serde_json::Map<String, Value> = s
        .node
        .chains()
        .map(|(id, c)| (id.clone(), json!(c.store().height())))
        .collect();
    Json(json!({"status": "ok", "node": s.node.config.node.name, "chains": chains}))
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    s.metrics.refresh(&s.node);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

async fn list_chains(State(s): State<AppState>) -> Json<Value> {
    Json(Value::Array(
        s.node
            .chains()
            .map(|(id, c)| json!({"chain_id": id, "height": c.store().height(), "suite": c.suite().name()}))
            .collect(),
    ))
}

pub(crate) fn info_of(c: &Chain) -> ApiResult<ChainInfo> {
    let tip = c.store().tip();
    let genesis = c
        .store()
        .block(0)
        .map_err(ChainError::from)?
        .map(|b| b.hash.to_hex())
        .unwrap_or_default();
    Ok(ChainInfo {
        chain_id: c.id().to_string(),
        height: tip.height.unwrap_or(0),
        last_hash: hex::encode(&tip.hash),
        state_root: hex::encode(&tip.state_root),
        suite: c.suite().name().into(),
        consensus: c.consensus_kind().into(),
        config_version: c.config().version,
        txpool_size: c.stats().pool_size,
        genesis_hash: genesis,
        engine: c.engine_status(),
    })
}

async fn chain_info(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ChainInfo>> {
    Ok(Json(info_of(chain(&s, &id)?)?))
}

async fn chain_config(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let c = chain(&s, &id)?;
    Ok(Json(covenant_chain::system::config::to_json(&c.config())))
}

#[derive(Debug, Deserialize)]
struct SubmitParams {
    #[serde(default)]
    wait: Option<bool>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

const DEFAULT_WAIT_MS: u64 = 30_000;
const MAX_WAIT_MS: u64 = 120_000;

/// Submit one transaction: JSON `{"tx": base64}` or the raw protobuf
/// (`Content-Type: application/x-protobuf`).
async fn submit(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<SubmitParams>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let c = chain(&s, &id)?.clone();
    let protobuf = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("application/x-protobuf") || v.starts_with("application/octet-stream")
        });
    let (bytes, wait, timeout) = if protobuf {
        (
            body.to_vec(),
            params.wait.unwrap_or(false),
            params.timeout_ms,
        )
    } else {
        let req: SubmitRequest = parse(&body)?;
        let bytes =
            b64_decode(&req.tx).ok_or_else(|| Failure::bad_request("`tx` must be base64"))?;
        (
            bytes,
            req.wait || params.wait.unwrap_or(false),
            req.timeout_ms.or(params.timeout_ms),
        )
    };
    let c2 = c.clone();
    let tx_id = blocking(move || c2.submit(bytes)).await??;
    s.metrics.admitted(c.id());
    if !wait {
        return Ok((
            StatusCode::ACCEPTED,
            Json(SubmitResponse {
                tx_id: tx_id.to_hex(),
                status: "pending".into(),
                height: None,
                index: None,
                block_hash: None,
                result: None,
            }),
        )
            .into_response());
    }
    let rx = c.watch(tx_id);
    let timeout = Duration::from_millis(timeout.unwrap_or(DEFAULT_WAIT_MS).min(MAX_WAIT_MS));
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(done)) => Ok((
            StatusCode::OK,
            Json(SubmitResponse {
                tx_id: tx_id.to_hex(),
                status: "committed".into(),
                height: Some(done.height),
                index: Some(done.index),
                block_hash: Some(done.block_hash.to_hex()),
                result: Some(views::result(&done.result)),
            }),
        )
            .into_response()),
        _ => Ok((
            StatusCode::ACCEPTED,
            Json(SubmitResponse {
                tx_id: tx_id.to_hex(),
                status: "pending".into(),
                height: None,
                index: None,
                block_hash: None,
                result: None,
            }),
        )
            .into_response()),
    }
}

async fn submit_batch(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<BatchSubmitResponse>> {
    let c = chain(&s, &id)?.clone();
    let req: BatchSubmitRequest = parse(&body)?;
    if req.txs.len() > 10_000 {
        return Err(Failure::bad_request("at most 10000 transactions per batch"));
    }
    let results = blocking(move || {
        use rayon_lite::par_map;
        par_map(req.txs, |t| match b64_decode(&t) {
            None => BatchItem {
                tx_id: None,
                error: Some(Failure::bad_request("not base64").api_error()),
            },
            Some(bytes) => match c.submit(bytes) {
                Ok(id) => BatchItem {
                    tx_id: Some(id.to_hex()),
                    error: None,
                },
                Err(e) => BatchItem {
                    tx_id: None,
                    error: Some(Failure::from(e).api_error()),
                },
            },
        })
    })
    .await?;
    for r in &results {
        if r.tx_id.is_some() {
            s.metrics.admitted(&id);
        }
    }
    Ok(Json(BatchSubmitResponse { results }))
}

/// Spread work over the cores without another dependency on the API's side.
mod rayon_lite {
    pub fn par_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = items.len().div_ceil(threads).max(1);
        let mut chunks: Vec<Vec<T>> = Vec::new();
        let mut it = items.into_iter().peekable();
        while it.peek().is_some() {
            chunks.push(it.by_ref().take(chunk).collect());
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|c| s.spawn(|| c.into_iter().map(&f).collect::<Vec<R>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    }
}

async fn get_tx(
    State(s): State<AppState>,
    Path((id, tx)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let c = chain(&s, &id)?.clone();
    let hash = parse_hash(&tx, "the transaction id")?;
    let rec = blocking(move || c.transaction(&hash).map(|r| (c, r))).await??;
    let (c, rec) = rec;
    let rec = rec.ok_or_else(|| Failure::not_found(format!("no committed transaction {tx}")))?;
    let root = c
        .store()
        .block(rec.committed.height)
        .map_err(ChainError::from)?
        .map(|b| b.header.tx_root)
        .unwrap_or_default();
    Ok(Json(
        serde_json::to_value(views::tx(c.suite(), c.id(), &rec, &root)).unwrap_or(Value::Null),
    ))
}

async fn query(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let c = chain(&s, &id)?.clone();
    let req: QueryRequest = parse(&body)?;
    let caller = match &req.caller_cert {
        Some(pem) => Some(
            covenant_pki::Certificate::from_pem(pem, "caller_cert")
                .map_err(|e| Failure::bad_request(e.to_string()))?
                .der()
                .to_vec(),
        ),
        None => None,
    };
    let args = if req.args.is_null() {
        b"{}".to_vec()
    } else {
        req.args.to_string().into_bytes()
    };
    let outcome =
        blocking(move || c.query(&req.contract, &req.method, &args, caller.as_deref())).await??;
    Ok(Json(
        serde_json::to_value(views::result(&outcome.result)).unwrap_or(Value::Null),
    ))
}

#[derive(Debug, Deserialize)]
struct BlockParams {
    #[serde(default)]
    raw: Option<bool>,
}

async fn get_block(
    State(s): State<AppState>,
    Path((id, at)): Path<(String, String)>,
    Query(p): Query<BlockParams>,
) -> ApiResult<Json<Value>> {
    let c = chain(&s, &id)?.clone();
    let height = if at.len() == 64 {
        let h = parse_hash(&at, "the block hash")?;
        c.store()
            .height_of(h.as_bytes())
            .map_err(ChainError::from)?
            .ok_or_else(|| Failure::not_found(format!("no block {at}")))?
    } else if at == "latest" {
        c.store().height().unwrap_or(0)
    } else {
        at.parse::<u64>()
            .map_err(|_| Failure::bad_request("give a height, `latest` or a 64-digit block hash"))?
    };
    let c2 = c.clone();
    let block = blocking(move || c2.store().block(height))
        .await?
        .map_err(ChainError::from)?;
    let block = block.ok_or_else(|| Failure::not_found(format!("no block at height {height}")))?;
    Ok(Json(
        serde_json::to_value(views::block(c.suite(), &block, p.raw.unwrap_or(false)))
            .unwrap_or(Value::Null),
    ))
}

fn system_query(c: &Chain, contract: &str, method: &str, args: Value) -> ApiResult<Value> {
    let out = c.query(contract, method, args.to_string().as_bytes(), None)?;
    if out.result.code != "OK" {
        let status = if out.result.code == "CONTRACT_NOT_FOUND" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_REQUEST
        };
        return Err(Failure::new(status, &out.result.code, out.result.message));
    }
    Ok(serde_json::from_slice(&out.result.return_data).unwrap_or(Value::Null))
}

async fn list_contracts(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let c = chain(&s, &id)?.clone();
    Ok(Json(
        blocking(move || system_query(&c, "sys.contracts", "list", json!({}))).await??,
    ))
}

async fn get_contract(
    State(s): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let c = chain(&s, &id)?.clone();
    Ok(Json(
        blocking(move || system_query(&c, "sys.contracts", "get", json!({"name": name}))).await??,
    ))
}
