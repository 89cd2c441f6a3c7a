//! Recycle bin routes: export the ledgers of a recycled network, download an export, purge.

use axum::{
    body::Body,
    http::{Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::{
    Ctx, EmptyBody, JsonPath, reply,
    routes::{Route, St},
    schema,
};
use crate::{action, error::Result, recycle};

pub(super) fn routes() -> Vec<Route> {
    use action as a;
    let act = super::Access::Action;
    vec![
        Route::new(Method::POST, "/api/v1/networks/{id}/exports", "exportNetwork", "Networks", "Export the ledger of every chain of a network in the recycle bin (every block with the genesis and every configuration change, in one checked file per chain that `covenant node import` restores); follow the operation", act(a::NETWORK_EXPORT), post(export_network))
            .body(schema::req::empty())
            .ok(202, json!({"type": "object", "properties": {"operation_id": {"type": "string"}}}))
            .errors(&[404, 409]),
        Route::new(Method::GET, "/api/v1/networks/{id}/exports", "listNetworkExports", "Networks", "The ledger exports of a network: per chain, the node read, blocks, size, genesis and tip hashes, the heights that changed the configuration", act(a::NETWORK_READ), get(list_exports))
            .ok(200, json!({"type": "object", "properties": {"items": schema::list("LedgerExport")}}))
            .errors(&[404]),
        Route::new(Method::GET, "/api/v1/networks/{id}/exports/{chain}", "downloadNetworkExport", "Networks", "Download a chain's ledger export (for the chain's member orgs)", act(a::NETWORK_READ), get(download_export))
            .ok(200, json!({"type": "string", "format": "binary"}))
            .content("application/octet-stream")
            .errors(&[404, 503]),
        Route::new(Method::POST, "/api/v1/networks/{id}/purge", "purgeNetwork", "Networks", "Purge a network in the recycle bin once its grace period is over and every chain's ledger is exported: its nodes' data is removed, its records and exports remain", act(a::NETWORK_PURGE), post(purge_network))
            .body(schema::req::empty())
            .ok(200, schema::r("Network"))
            .errors(&[404, 409]),
    ]
}

async fn export_network(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    _: EmptyBody,
) -> Result<Response> {
    let c = ctx.caller()?;
    let op = recycle::export(&p, c.org(), &id).await?;
    reply(StatusCode::ACCEPTED, json!({"operation_id": op}))
}

async fn list_exports(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let items = recycle::list_for(&p, c.org(), &id).await?;
    reply(StatusCode::OK, json!({"items": items}))
}

async fn download_export(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath((id, chain)): JsonPath<(String, String)>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let path = recycle::file_for(&p, c.org(), &id, &chain).await?;
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        crate::error::Error::unavailable("EXPORT_MISSING", format!("cannot open the export: {e}"))
    })?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    // Streamed in chunks: a ledger may be far larger than memory allows.
    let stream = futures::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let mut resp = (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{chain}.ledger\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response();
    if let Some(len) = len
        && let Ok(v) = len.to_string().parse()
    {
        resp.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    Ok(resp)
}

async fn purge_network(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    _: EmptyBody,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(StatusCode::OK, recycle::purge(&p, c.org(), &id).await?)
}
