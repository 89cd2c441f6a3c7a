//! Bad input gets a 4xx with a stable code and stores nothing; retries with an idempotency
//! key get the first answer; the OpenAPI document covers every route; the API page is served.

use covenant_platform::api::routes;
use serde_json::json;

use crate::{
    both,
    harness::{Backend, start},
};

async fn bad_input_is_refused_with_a_code(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let r = &a.root;
    let count = |v: serde_json::Value| v["items"].as_array().unwrap().len();
    let before = count(r.get("/api/v1/consortia").await.ok());
    // Malformed JSON, wrong types, unknown fields, missing fields.
    r.send(
        "POST",
        "/api/v1/consortia",
        Some(b"{\"name\": ".to_vec()),
        &[],
    )
    .await
    .refused(400, "INVALID_JSON");
    r.post("/api/v1/consortia", json!({"name": 7}))
        .await
        .refused(400, "INVALID_ARGUMENT");
    r.post("/api/v1/consortia", json!({"name": "x", "extra": true}))
        .await
        .refused(400, "INVALID_ARGUMENT");
    r.post("/api/v1/consortia", json!({}))
        .await
        .refused(400, "INVALID_ARGUMENT");
    r.post("/api/v1/consortia", json!({"name": "\u{0}bad"}))
        .await
        .refused(400, "NUL_CHARACTER");
    r.post("/api/v1/consortia", json!({"name": "\u{7}bad"}))
        .await
        .refused(400, "INVALID_ARGUMENT");
    r.get("/api/v1/proposals?state=%00")
        .await
        .refused(400, "NUL_CHARACTER");
    r.post(
        "/api/v1/consortia",
        json!({"name": "p", "policies": {"chain.admit_org": {"rule": "ANY"}}}),
    )
    .await
    .refused(400, "POLICY_INVALID");
    r.post(
        "/api/v1/consortia",
        json!({"name": "p", "policies": {"network.create": {"rule": "SOME"}}}),
    )
    .await
    .refused(400, "POLICY_INVALID");
    // Another content type; an oversized body.
    r.send(
        "POST",
        "/api/v1/consortia",
        None,
        &[("content-type", "text/plain")],
    )
    .await
    .refused(415, "UNSUPPORTED_MEDIA_TYPE");
    // An oversized body: the answer is read while the body is still being written, since the
    // platform stops reading at its limit and may close before a client finishes writing.
    let (status, body) = oversized_post(&r.base, "/api/v1/consortia", 17 * 1024 * 1024).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("BODY_TOO_LARGE"), "{body}");
    // Bad ids, bad query strings, unknown routes, wrong methods.
    r.get("/api/v1/consortia/cns_nope")
        .await
        .refused(404, "NOT_FOUND");
    r.get("/api/v1/proposals/../../etc/passwd").await;
    r.get("/api/v1/events?after=minus-one")
        .await
        .refused(400, "INVALID_ARGUMENT");
    r.get("/api/v1/audit?limit=ten")
        .await
        .refused(400, "INVALID_ARGUMENT");
    r.post("/api/v1/events/not-a-number/read", json!({}))
        .await
        .refused(400, "INVALID_ARGUMENT");
    r.get("/api/v1/nothing-here")
        .await
        .refused(404, "NOT_FOUND");
    let wrong = r.call("PUT", "/api/v1/consortia", json!({})).await;
    assert!(wrong.headers.get("allow").is_some());
    wrong.refused(405, "METHOD_NOT_ALLOWED");
    // Proposals of unknown kinds or with wrong parameters.
    let cons = r
        .post("/api/v1/consortia", json!({"name": "c1"}))
        .await
        .ok();
    let cid = cons["id"].as_str().unwrap();
    r.post(
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "chain.destroy", "params": {}}),
    )
    .await
    .refused(400, "PROPOSAL_KIND_UNKNOWN");
    r.post(
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "network.create", "params": {"name": "n"}}),
    )
    .await
    .refused(400, "PROPOSAL_PARAMS_INVALID");
    r.post(
        &format!("/api/v1/consortia/{cid}/invitations"),
        json!({"org_id": "no-such-org"}),
    )
    .await
    .refused(400, "ORG_UNKNOWN");
    // Nothing was stored half-way.
    assert_eq!(count(r.get("/api/v1/consortia").await.ok()), before + 1);
    let proposals = r.get("/api/v1/proposals").await.ok();
    assert_eq!(count(proposals), 0);
    // Registration refuses weak passwords and bad ids, storing nothing.
    let anon = t.api();
    anon.post("/api/v1/orgs", json!({"id": "Bad Id", "name": "x", "root_username": "abc", "root_password": "correct horse battery"}))
        .await
        .refused(400, "ORG_ID_INVALID");
    anon.post(
        "/api/v1/orgs",
        json!({"id": "good-id", "name": "x", "root_username": "abc", "root_password": "short"}),
    )
    .await
    .refused(400, "PASSWORD_TOO_WEAK");
    anon.post("/api/v1/orgs", json!({"id": "bank-a", "name": "x", "root_username": "other", "root_password": "correct horse battery"}))
        .await
        .refused(409, "ORG_EXISTS");
    r.get("/api/v1/orgs/good-id")
        .await
        .refused(404, "NOT_FOUND");
}
both!(bad_input_is_refused_with_a_code);

async fn retries_with_an_idempotency_key_get_the_first_answer(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let body = json!({"name": "once"}).to_string().into_bytes();
    let first = a
        .root
        .send(
            "POST",
            "/api/v1/consortia",
            Some(body.clone()),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = a
        .root
        .send(
            "POST",
            "/api/v1/consortia",
            Some(body),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let other = a
        .root
        .send(
            "POST",
            "/api/v1/consortia",
            Some(json!({"name": "twice"}).to_string().into_bytes()),
            &[("idempotency-key", "k-1")],
        )
        .await;
    other.refused(409, "IDEMPOTENCY_KEY_REUSED");
    let list = a.root.get("/api/v1/consortia").await.ok();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // Without a key, the same body makes a second call (refused here: the name is taken).
    a.root
        .post("/api/v1/consortia", json!({"name": "once"}))
        .await
        .refused(409, "CONSORTIUM_EXISTS");
}
both!(retries_with_an_idempotency_key_get_the_first_answer);

#[tokio::test]
async fn the_openapi_document_covers_every_route_and_the_page_is_served() {
    let Some(t) = start(Backend::Sqlite).await else {
        return;
    };
    let api = t.api();
    let doc = api.get("/api/v1/openapi.json").await.ok();
    assert_eq!(doc["openapi"], "3.0.3");
    let table = routes::table();
    for r in &table {
        let op = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{} {} is not documented", r.method, r.path);
        assert!(op["responses"][r.ok.0.to_string()].is_object());
        if r.path != "/healthz" && !r.path.starts_with("/api/docs") {
            assert!(op["responses"]["405"].is_object());
        }
        if let covenant_platform::api::Access::Action(a) = r.access {
            assert_eq!(op["x-covenant-action"], a);
            assert!(op["responses"]["403"].is_object());
        }
    }
    // Every action is listed.
    let actions = doc["x-covenant-actions"].as_array().unwrap();
    assert_eq!(actions.len(), covenant_platform::action::ACTIONS.len());
    // The page is one self-contained file.
    let page = reqwest::get(format!("{}/api/docs", t.base)).await.unwrap();
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.unwrap();
    assert!(html.contains("/api/v1/openapi.json"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no outside resources"
    );
}

/// POST `len` bytes to `path` over a raw connection, reading the answer while writing; the
/// status and body of the answer.
async fn oversized_post(base: &str, path: &str, len: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            wr.write_all(&chunk[..n]).await?;
            left -= n;
        }
        Ok::<_, std::io::Error>(())
    });
    let mut answer = Vec::new();
    let _ = rd.read_to_end(&mut answer).await;
    writer.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}
