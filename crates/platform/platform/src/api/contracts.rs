//! Contract routes beside the governed lifecycle: checking a module before proposing it.

use axum::{
    http::{Method, StatusCode},
    response::Response,
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    Ctx, JsonBody, JsonPath, reply,
    routes::{Route, St},
    schema,
};
use crate::{action, contract, error::Result};

pub(super) fn routes() -> Vec<Route> {
    let act = super::Access::Action;
    vec![
        Route::new(Method::POST, "/api/v1/contracts/check", "checkContract", "Contracts", "Check a WASM module before proposing it: every finding with its severity, rule and location (decoding, imports outside the host API, floating point, SIMD, threads, memory and table limits, exports, start function, the engine's own verdict). A finding of severity error blocks proposing its install or upgrade", act(action::CONTRACT_MANAGE), post(check))
            .body(schema::object(&["code"], json!({"code": {"type": "string", "minLength": 1, "description": "The WASM module, base64"}})))
            .ok(200, schema::r("ContractCheck")),
        Route::new(Method::POST, "/api/v1/contracts/source-check", "checkContractSource", "Contracts", "Check a Rust contract's source (its src/lib.rs) before proposing it: the contract rules (forbidden macros, state writes without a caller check, unbounded state ranges, panics in methods), then the platform builds it with the CLI's builder, runs clippy and checks the module. Every finding has a severity, a rule and its line; with no error the built module comes back to propose as it is", act(action::CONTRACT_MANAGE), post(check_source))
            .body(schema::object(&["source"], json!({"source": {"type": "string", "minLength": 1, "maxLength": 262144, "description": "The contract's src/lib.rs"}})))
            .ok(200, schema::r("ContractSourceCheck"))
            .errors(&[400, 503]),
        Route::new(Method::GET, "/api/v1/chains/{id}/contracts/{name}/versions", "contractVersions", "Contracts", "Every version of a contract proposed on a chain, oldest first: its code's SHA-256 and size, who proposed it, each vote, and the block that installed it", act(action::CHAIN_READ), get(versions))
            .ok(200, json!({"type": "object", "properties": {"items": {"type": "array", "items": schema::r("ContractVersion")}}}))
            .errors(&[404]),
    ]
}

async fn versions(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath((chain, name)): JsonPath<(String, String)>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let items = contract::versions(&p, c.org(), &chain, &name).await?;
    reply(StatusCode::OK, json!({"items": items}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckReq {
    code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceReq {
    source: String,
}

async fn check_source(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<SourceReq>,
) -> Result<Response> {
    ctx.caller()?;
    reply(
        StatusCode::OK,
        crate::contract_source::check(&p, &r.source).await?,
    )
}

async fn check(
    axum::extract::State(_p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<CheckReq>,
) -> Result<Response> {
    ctx.caller()?;
    let code = contract::decode(&r.code)?;
    let report = tokio::task::spawn_blocking(move || contract::check(&code))
        .await
        .map_err(|e| crate::Error::internal(format!("the check did not finish: {e}")))??;
    reply(StatusCode::OK, report)
}
