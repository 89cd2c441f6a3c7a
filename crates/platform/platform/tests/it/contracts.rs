//! Contract checks through the API: a module's findings with their locations, and a module
//! with an error finding that cannot be proposed.

use serde_json::json;

use crate::{
    both,
    harness::{Backend, start},
};

fn b64(bytes: &[u8]) -> String {
    covenant_api_types::json::b64_encode(bytes)
}

async fn a_module_with_an_error_finding_cannot_be_proposed(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let good = covenant_test_utils::contracts::example_bytes("kv");
    let r = a
        .root
        .post("/api/v1/contracts/check", json!({"code": b64(&good)}))
        .await
        .ok();
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        r["exports"].as_array().unwrap().contains(&json!("call")),
        "{r}"
    );
    assert_eq!(r["size"], good.len());

    let float = wat::parse_str(
        r#"(module (memory (export "memory") 1 4)
             (func $mean (export "call") (drop (f32.mul (f32.const 1) (f32.const 2)))))"#,
    )
    .unwrap();
    let r = a
        .root
        .post("/api/v1/contracts/check", json!({"code": b64(&float)}))
        .await
        .ok();
    assert_eq!(r["ok"], false, "{r}");
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "float")
        .unwrap()
        .clone();
    assert_eq!(f["severity"], "error");
    assert!(f["location"].as_str().unwrap().contains("`mean`"), "{f}");
    a.root
        .post("/api/v1/contracts/check", json!({"code": "not base64!"}))
        .await
        .refused(400, "INVALID_ARGUMENT");

    // Proposing it is refused before any chain is asked, with every error said.
    let cons = a
        .root
        .post("/api/v1/consortia", json!({"name": "c"}))
        .await
        .ok();
    let r = a
        .root
        .post(
            &format!("/api/v1/consortia/{}/proposals", cons["id"].as_str().unwrap()),
            json!({"kind": "contract.install", "params": {"chain_id": "any", "name": "mean", "code": b64(&float)}}),
        )
        .await
        .refused(400, "CONTRACT_CHECK_FAILED");
    let message = r["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("float") && message.contains("`mean`"),
        "{message}"
    );
    assert_eq!(
        a.root.get("/api/v1/proposals").await.ok()["items"],
        json!([]),
        "nothing was opened"
    );
}
both!(a_module_with_an_error_finding_cannot_be_proposed);
