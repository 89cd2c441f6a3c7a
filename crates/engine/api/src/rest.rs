//! The REST/JSON API.
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
//! | GET | `/v1/chains/{chain}/txs/{id}/proof` | its self-contained proof, checkable offline |
//! | POST | `/v1/chains/{chain}/query` | read-only contract call |
//! | GET | `/v1/chains/{chain}/blocks/{height or hash}` | a block |
//! | GET | `/v1/chains/{chain}/contracts` and `/{name}` | contracts and their status |
//! | GET (WebSocket) | `/v1/chains/{chain}/subscribe?kind=blocks\|events&from_height=N&contract=C` | live blocks or events, resumable |
//!
//! Every answer that is not a success is `{"error": {"code", "message"}}` with a stable code,
//! including what the framework would answer by itself: an unknown route (404), a wrong method
//! (405, with `Allow`), a bad path or query string (400), a body over the limit (413), a body
//! of another content type (415), a WebSocket route called without upgrading (426).

use axum::{
    Json, Router,
    body::Bytes,
    extract::{
        DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State,
        rejection::{BytesRejection, PathRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use covenant_api_types::json::{
    BatchItem, BatchSubmitRequest, BatchSubmitResponse, ErrorBody, QueryRequest, SubmitRequest,
    SubmitResponse, b64_decode,
};
use covenant_crypto::Hash;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};

use crate::{
    Api,
    ops::{BlockAt, Failure, FailureKind, Submitted},
    views,
};

/// The largest request body: 32 MiB (a batch of many transactions).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The HTTP status of a failure kind.
pub fn status_of(kind: FailureKind) -> StatusCode {
    match kind {
        FailureKind::BadRequest => StatusCode::BAD_REQUEST,
        FailureKind::Forbidden => StatusCode::FORBIDDEN,
        FailureKind::NotFound => StatusCode::NOT_FOUND,
        FailureKind::Conflict | FailureKind::Damaged => StatusCode::CONFLICT,
        FailureKind::Busy => StatusCode::TOO_MANY_REQUESTS,
        FailureKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        FailureKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        FailureKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        FailureKind::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
        FailureKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        FailureKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(ms) = self.retry_after_ms
            && let Ok(v) = HeaderValue::from_str(&ms.div_ceil(1000).max(1).to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        (
            status_of(self.kind),
            headers,
            Json(ErrorBody {
                error: self.api_error(),
            }),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<T, Failure>;

/// Path parameters; a bad one is a coded 400, not the framework's plain text.
pub struct JsonPath<T>(pub T);

impl<T, S> FromRequestParts<S> for JsonPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| JsonPath(v))
            .map_err(|e: PathRejection| {
                Failure::bad_request(format!("bad path: {}", e.body_text()))
            })
    }
}

/// The query string; a bad one is a coded 400.
pub struct JsonQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for JsonQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| JsonQuery(v))
            .map_err(|e: QueryRejection| {
                Failure::bad_request(format!("bad query string: {}", e.body_text()))
            })
    }
}

/// A request body (within [`MAX_BODY_BYTES`]) with its content type.
pub struct Body {
    pub bytes: Bytes,
    pub content_type: Option<String>,
}

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Failure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.to_ascii_lowercase());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Failure::new(
                        FailureKind::TooLarge,
                        "BODY_TOO_LARGE",
                        format!("the body is over the limit of {MAX_BODY_BYTES} bytes"),
                    )
                } else {
                    Failure::bad_request(format!("cannot read the body: {}", e.body_text()))
                }
            })?;
        Ok(Body {
            bytes,
            content_type,
        })
    }
}

impl Body {
    fn is(&self, media: &str) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|t| t.split(';').next().is_some_and(|m| m.trim() == media))
    }

    /// The body as JSON (a request without a content type counts as JSON).
    fn json<T: DeserializeOwned>(&self) -> ApiResult<T> {
        if self.content_type.is_some() && !self.is("application/json") {
            return Err(Failure::new(
                FailureKind::UnsupportedMediaType,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the body as application/json",
            ));
        }
        serde_json::from_slice(&self.bytes)
            .map_err(|e| Failure::bad_request(format!("invalid JSON body: {e}")))
    }
}

fn parse_hash(text: &str, what: &str) -> ApiResult<Hash> {
    text.parse::<Hash>()
        .map_err(|_| Failure::bad_request(format!("{what} must be 64 hex digits")))
}

fn to_value<T: serde::Serialize>(v: &T) -> ApiResult<Value> {
    serde_json::to_value(v).map_err(|e| Failure::internal(format!("cannot encode the answer: {e}")))
}

/// The router of the whole REST and WebSocket API.
pub fn router(api: Api) -> Router {
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
        .route("/v1/chains/{chain}/txs/{id}/proof", get(get_tx_proof))
        .route("/v1/chains/{chain}/query", post(query))
        .route("/v1/chains/{chain}/blocks/{at}", get(get_block))
        .route("/v1/chains/{chain}/contracts", get(list_contracts))
        .route("/v1/chains/{chain}/contracts/{name}", get(get_contract))
        .route("/v1/chains/{chain}/subscribe", get(crate::ws::subscribe))
        .fallback(|| async { Failure::not_found("no such endpoint; see /openapi.json") })
        .method_not_allowed_fallback(|| async {
            Failure::new(
                FailureKind::MethodNotAllowed,
                "METHOD_NOT_ALLOWED",
                "this endpoint does not take that method; see /openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(access_log))
        .with_state(api)
}

/// One debug line per request: method, path (never the query), status and time taken.
async fn access_log(req: Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    tracing::debug!(
        %method,
        path,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}

async fn healthz(State(api): State<Api>) -> Json<Value> {
    let h = api.health();
    Json(json!({"status": "ok", "node": h.node, "chains": h.heights}))
}

async fn metrics(State(api): State<Api>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        api.metrics(),
    )
}

async fn openapi(State(api): State<Api>) -> Json<Value> {
    let chains: Vec<String> = api.list_chains().into_iter().map(|c| c.chain_id).collect();
    Json(crate::openapi::document(&chains))
}

async fn list_chains(State(api): State<Api>) -> Json<Value> {
    Json(Value::Array(
        api.list_chains()
            .into_iter()
            .map(|c| json!({"chain_id": c.chain_id, "height": c.height, "suite": c.suite}))
            .collect(),
    ))
}

async fn chain_info(
    State(api): State<Api>,
    JsonPath(id): JsonPath<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(to_value(&api.chain_info(&id)?)?))
}

async fn chain_config(
    State(api): State<Api>,
    JsonPath(id): JsonPath<String>,
) -> ApiResult<Json<Value>> {
    let config = api.chain_config(&id)?;
    Ok(Json(covenant_chain::system::config::to_json(&config)))
}

#[derive(Debug, Deserialize)]
struct SubmitParams {
    #[serde(default)]
    wait: Option<bool>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

fn submitted(s: Submitted) -> Response {
    match s.committed {
        Some(done) => (
            StatusCode::OK,
            Json(SubmitResponse {
                tx_id: s.tx_id.to_hex(),
                status: "committed".into(),
                height: Some(done.height),
                index: Some(done.index),
                block_hash: Some(done.block_hash.to_hex()),
                result: Some(views::result(&done.result)),
            }),
        )
            .into_response(),
        None => (
            StatusCode::ACCEPTED,
            Json(SubmitResponse {
                tx_id: s.tx_id.to_hex(),
                status: "pending".into(),
                height: None,
                index: None,
                block_hash: None,
                result: None,
            }),
        )
            .into_response(),
    }
}

/// Submit one transaction: JSON `{"tx": base64}` or the raw protobuf
/// (`Content-Type: application/x-protobuf`).
async fn submit(
    State(api): State<Api>,
    JsonPath(id): JsonPath<String>,
    JsonQuery(params): JsonQuery<SubmitParams>,
    body: Body,
) -> ApiResult<Response> {
    let (bytes, wait, timeout) =
        if body.is("application/x-protobuf") || body.is("application/octet-stream") {
            (
                body.bytes.to_vec(),
                params.wait.unwrap_or(false),
                params.timeout_ms,
            )
        } else {
            let req: SubmitRequest = body.json()?;
            let bytes =
                b64_decode(&req.tx).ok_or_else(|| Failure::bad_request("`tx` must be base64"))?;
            (
                bytes,
                req.wait || params.wait.unwrap_or(false),
                req.timeout_ms.or(params.timeout_ms),
            )
        };
    let wait = Api::wait_of(wait, timeout)?;
    Ok(submitted(api.submit(&id, bytes, wait).await?))
}

async fn submit_batch(
    State(api): State<Api>,
    JsonPath(id): JsonPath<String>,
    body: Body,
) -> ApiResult<Json<BatchSubmitResponse>> {
    let req: BatchSubmitRequest = body.json()?;
    let items = req
        .txs
        .iter()
        .map(|t| b64_decode(t).ok_or_else(|| Failure::bad_request("not base64")))
        .collect();
    let results = api
        .submit_batch(&id, items)
        .await?
        .into_iter()
        .map(|r| match r {
            Ok(tx) => BatchItem {
                tx_id: Some(tx.to_hex()),
                error: None,
            },
            Err(e) => BatchItem {
                tx_id: None,
                error: Some(e.api_error()),
            },
        })
        .collect();
    Ok(Json(BatchSubmitResponse { results }))
}

async fn get_tx(
    State(api): State<Api>,
    JsonPath((id, tx)): JsonPath<(String, String)>,
) -> ApiResult<Json<Value>> {
    let hash = parse_hash(&tx, "the transaction id")?;
    let c = api.chain(&id)?;
    let found = api.get_tx(&id, hash).await?;
    Ok(Json(to_value(&views::tx(
        c.suite(),
        c.id(),
        &found.record,
        &found.tx_root,
    ))?))
}

async fn get_tx_proof(
    State(api): State<Api>,
    JsonPath((id, tx)): JsonPath<(String, String)>,
) -> ApiResult<Json<covenant_proof::ProofFile>> {
    let hash = parse_hash(&tx, "the transaction id")?;
    Ok(Json(api.tx_proof(&id, hash).await?))
}

async fn query(
    State(api): State<Api>,
    JsonPath(id): JsonPath<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let req: QueryRequest = body.json()?;
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
    let result = api
        .query(&id, req.contract, req.method, args, caller)
        .await?;
    Ok(Json(to_value(&views::result(&result))?))
}

#[derive(Debug, Deserialize)]
struct BlockParams {
    #[serde(default)]
    raw: Option<bool>,
}

/// Where a block is: a height, `latest`, or a 64-digit hash.
pub fn block_at(at: &str) -> ApiResult<BlockAt> {
    if at == "latest" {
        return Ok(BlockAt::Latest);
    }
    if at.len() == 64 {
        return Ok(BlockAt::Hash(parse_hash(at, "the block hash")?));
    }
    at.parse::<u64>()
        .map(BlockAt::Height)
        .map_err(|_| Failure::bad_request("give a height, `latest` or a 64-digit block hash"))
}

async fn get_block(
    State(api): State<Api>,
    JsonPath((id, at)): JsonPath<(String, String)>,
    JsonQuery(p): JsonQuery<BlockParams>,
) -> ApiResult<Json<Value>> {
    let at = block_at(&at)?;
    let c = api.chain(&id)?;
    let block = api.get_block(&id, at).await?;
    Ok(Json(to_value(&views::block(
        c.suite(),
        &block,
        p.raw.unwrap_or(false),
    ))?))
}

async fn list_contracts(
    State(api): State<Api>,
    JsonPath(id): JsonPath<String>,
) -> ApiResult<Json<Value>> {
    let list = api.contracts(&id).await?;
    Ok(Json(Value::Array(
        list.iter()
            .map(covenant_chain::system::contracts::to_json)
            .collect(),
    )))
}

async fn get_contract(
    State(api): State<Api>,
    JsonPath((id, name)): JsonPath<(String, String)>,
) -> ApiResult<Json<Value>> {
    let info = api.contract(&id, name).await?;
    Ok(Json(covenant_chain::system::contracts::to_json(&info)))
}
