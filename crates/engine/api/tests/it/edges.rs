//! What the framework would answer by itself is answered as coded JSON too.

use axum::{
    body::{Body, to_bytes},
    http::{Method, Request, StatusCode, header},
};
use covenant_api::rest::{MAX_BODY_BYTES, router};
use serde_json::Value;
use tower::ServiceExt;

use crate::api;

async fn call(
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder().method(method.clone()).uri(uri);
    if let Some(t) = content_type {
        req = req.header(header::CONTENT_TYPE, t);
    }
    let resp = router(api())
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{method} {uri}: the body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, headers, json)
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn every_refusal_is_coded_json() {
    // An unknown route.
    let (s, _, v) = call(Method::GET, "/v2/nowhere", None, vec![]).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    // A wrong method: 405 with Allow.
    let (s, h, v) = call(Method::DELETE, "/v1/chains", None, vec![]).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
    );
    let allow = h
        .get(header::ALLOW)
        .expect("an Allow header")
        .to_str()
        .unwrap();
    assert!(allow.contains("GET"), "{allow}");
    // A bad query string.
    let (s, _, v) = call(
        Method::POST,
        "/v1/chains/main/txs?timeout_ms=soon",
        Some("application/json"),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("query string"),
        "{v}"
    );
    // A wait longer than allowed.
    let (s, _, v) = call(
        Method::POST,
        "/v1/chains/main/txs?timeout_ms=999999",
        Some("application/json"),
        br#"{"tx":"AA=="}"#.to_vec(),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
    // Bad JSON, and JSON of the wrong shape.
    let (s, _, v) = call(
        Method::POST,
        "/v1/chains/main/txs",
        Some("application/json"),
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
    let (s, _, v) = call(
        Method::POST,
        "/v1/chains/main/query",
        Some("application/json"),
        br#"{"contract": 7}"#.to_vec(),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
    // Another content type.
    let (s, _, v) = call(
        Method::POST,
        "/v1/chains/main/query",
        Some("text/plain"),
        b"hello".to_vec(),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
    );
    // A body over the limit.
    let big = vec![b'x'; MAX_BODY_BYTES + 1];
    let (s, _, v) = call(
        Method::POST,
        "/v1/chains/main/txs/batch",
        Some("application/json"),
        big,
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE")
    );
    // A bad path parameter.
    let (s, _, v) = call(Method::GET, "/v1/chains/main/txs/not-a-hash", None, vec![]).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
    let (s, _, v) = call(Method::GET, "/v1/chains/main/blocks/-1", None, vec![]).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
    // A WebSocket route without the upgrade; a bad kind is named first.
    let (s, _, v) = call(
        Method::GET,
        "/v1/chains/main/subscribe?kind=blocks",
        None,
        vec![],
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "NOT_FOUND"),
        "no chain main here: {v}"
    );
    let (s, _, v) = call(
        Method::GET,
        "/v1/chains/main/subscribe?kind=gossip",
        None,
        vec![],
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
    let (s, _, v) = call(
        Method::GET,
        "/v1/chains/main/subscribe?from_height=-3",
        None,
        vec![],
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
    // An unknown chain.
    let (s, _, v) = call(Method::GET, "/v1/chains/elsewhere", None, vec![]).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
}

#[tokio::test]
async fn the_openapi_document_covers_every_route_and_status() {
    let (s, _, doc) = call(Method::GET, "/openapi.json", None, vec![]).await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/v1/chains",
        "/v1/chains/{chain}",
        "/v1/chains/{chain}/config",
        "/v1/chains/{chain}/txs",
        "/v1/chains/{chain}/txs/batch",
        "/v1/chains/{chain}/txs/{id}",
        "/v1/chains/{chain}/query",
        "/v1/chains/{chain}/blocks/{at}",
        "/v1/chains/{chain}/contracts",
        "/v1/chains/{chain}/contracts/{name}",
        "/v1/chains/{chain}/subscribe",
    ] {
        assert!(paths.contains_key(p), "{p} is not in the document");
    }
    // Every error a route documents has the error schema, and every schema referenced exists.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    for r in text.split("#/components/schemas/").skip(1) {
        let name: String = r.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(
            schemas.contains_key(&name),
            "schema {name} is referenced but missing"
        );
    }
    for (p, ops) in paths {
        for (m, op) in ops.as_object().unwrap() {
            for (status, resp) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        resp["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Error",
                        "{m} {p} {status}"
                    );
                }
            }
        }
    }
}
