//! The audit log: an entry for every call that changes something, successful or not, read
//! per org with filters, exported as JSON Lines with its hash chain; verification finds a
//! changed, removed or reordered entry.

use covenant_platform::audit;
use serde_json::json;

use crate::{
    both,
    harness::{Backend, start},
};

async fn every_change_is_logged_and_the_chain_verifies(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    a.root
        .post("/api/v1/consortia", json!({"name": "logged"}))
        .await
        .ok();
    a.root
        .post("/api/v1/consortia", json!({"name": "logged"}))
        .await
        .refused(409, "CONSORTIUM_EXISTS");
    let log = a
        .root
        .get("/api/v1/audit?action=consortium.create")
        .await
        .ok();
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["result"], "ok 201");
    assert_eq!(items[1]["result"], "error 409 CONSORTIUM_EXISTS");
    assert_eq!(items[0]["account_id"], a.root_account.as_str());
    // The digest is of the exact bytes sent.
    assert_eq!(
        items[0]["params_digest"],
        covenant_platform::time::sha256_hex(json!({"name": "logged"}).to_string().as_bytes())
    );
    // Filters.
    let errors = a.root.get("/api/v1/audit?result=error").await.ok();
    assert!(
        errors["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["result"].as_str().unwrap().starts_with("error"))
    );
    // Export: JSON Lines, every entry with its hashes.
    let export = reqwest::Client::new()
        .get(format!("{}/api/v1/audit/export", t.base))
        .bearer_auth(a.root.token.as_ref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(export.headers()["content-type"], "application/x-ndjson");
    let text = export.text().await.unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 4);
    for l in &lines {
        let e: audit::Entry = serde_json::from_value(l["entry"].clone()).unwrap();
        assert_eq!(e.compute_hash(), e.hash);
    }
    // The whole log verifies; a changed row is found.
    let report = audit::verify(&t.p, |_| async { Ok(true) }).await.unwrap();
    assert!(report.ok(), "{:?}", report.findings);
    sqlx::query("UPDATE audit_log SET target = '/api/v1/other' WHERE seq = 2")
        .execute(t.p.db().pool())
        .await
        .unwrap();
    let report = audit::verify(&t.p, |_| async { Ok(true) }).await.unwrap();
    assert_eq!(report.findings[0].seq, 2);
    // A removed entry too.
    sqlx::query("DELETE FROM audit_log WHERE seq = 4")
        .execute(t.p.db().pool())
        .await
        .unwrap();
    let report = audit::verify(&t.p, |_| async { Ok(true) }).await.unwrap();
    assert!(
        report.findings.iter().any(|f| f.seq == 5),
        "{:?}",
        report.findings
    );
}
both!(every_change_is_logged_and_the_chain_verifies);
