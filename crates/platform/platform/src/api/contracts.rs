//! Contract routes beside the governed lifecycle: checking a module before proposing it.

use axum::{
    http::{Method, StatusCode},
    response::Response,
    routing::post,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    Ctx, JsonBody, reply,
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
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckReq {
    code: String,
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
