//! The event centre pushes new events live (server-sent events) and resumes after a gap.

use serde_json::json;

use crate::{
    both,
    harness::{Backend, start},
};

async fn events_are_pushed_live_and_resume(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let bb = t.org("bank-b").await;
    let token = bb.root.token.clone().unwrap();
    let http = reqwest::Client::new();
    let mut resp = http
        .get(format!("{}/api/v1/events/stream", t.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    // A invites B: B's stream carries the invitation.
    let cons = a
        .root
        .post("/api/v1/consortia", json!({"name": "live"}))
        .await
        .ok();
    let cid = cons["id"].as_str().unwrap();
    a.root
        .post(
            &format!("/api/v1/consortia/{cid}/invitations"),
            json!({"org_id": "bank-b"}),
        )
        .await
        .ok();
    let mut seen = String::new();
    let got = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(chunk) = resp.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: invitation.received") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(got, "no live event: {seen}");
    assert!(
        !seen.contains("bank-a\",\"kind"),
        "another org's event on B's stream: {seen}"
    );
    // A client that reconnects with Last-Event-ID gets what it missed.
    let resp = http
        .get(format!("{}/api/v1/events/stream", t.base))
        .bearer_auth(&token)
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap();
    drop(resp);
    let list = bb.root.get("/api/v1/events").await.ok();
    let first = list["items"][0]["id"].as_i64().unwrap();
    let mut resp = http
        .get(format!("{}/api/v1/events/stream", t.base))
        .bearer_auth(&token)
        .header("last-event-id", (first - 1).to_string())
        .send()
        .await
        .unwrap();
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), resp.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&chunk).contains(&format!("id: {first}")));
    // Without the permission, no stream.
    let (clerk, _) = t.sub_account(&bb, "b-clerk", &[]).await;
    clerk
        .get("/api/v1/events/stream")
        .await
        .refused(403, "PERMISSION_DENIED");
}
both!(events_are_pushed_live_and_resume);
