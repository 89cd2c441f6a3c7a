//! Concurrency: a hundred voters voting on one proposal at once are each counted once and
//! the proposal executes once; two admins racing to change one account cannot both win.

use serde_json::json;

use crate::{
    both,
    harness::{Backend, Org, start},
};

async fn a_hundred_voters_at_once(b: Backend) {
    let Some(t) = start(b).await else { return };
    // 101 orgs: a founder admits everyone (ANY), then all but the target vote on removing it
    // (ALL of the other 100).
    let founder = t.org("org-000").await;
    let cons = founder
        .root
        .post(
            "/api/v1/consortia",
            json!({"name": "crowd", "policies": {"consortium.admit_org": {"rule": "ANY"}, "consortium.remove_org": {"rule": "ALL"}}}),
        )
        .await
        .ok();
    let cid = cons["id"].as_str().unwrap().to_string();
    let mut orgs: Vec<Org> = vec![founder.clone()];
    for i in 1..=100 {
        let o = t.org(&format!("org-{i:03}")).await;
        founder
            .root
            .post(
                &format!("/api/v1/consortia/{cid}/invitations"),
                json!({"org_id": o.id}),
            )
            .await
            .ok();
        let mut inv = String::new();
        for _ in 0..200 {
            let list = o.root.get("/api/v1/invitations").await.ok();
            if let Some(i) = list["items"].as_array().unwrap().first() {
                inv = i["id"].as_str().unwrap().to_string();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        o.root
            .post(&format!("/api/v1/invitations/{inv}/accept"), json!({}))
            .await
            .ok();
        orgs.push(o);
    }
    // Proposed with a token that may not vote, so nobody has voted yet.
    let session = t
        .api()
        .login("org-000-root", crate::harness::PASSWORD)
        .await;
    let token = session
        .post(
            "/api/v1/me/tokens",
            json!({"name": "propose", "scopes": ["consortium.remove_member"]}),
        )
        .await
        .ok();
    let proposer = t.api().with_token(token["token"].as_str().unwrap());
    let p = proposer
        .post(
            &format!("/api/v1/consortia/{cid}/proposals"),
            json!({"kind": "consortium.remove_org", "params": {"org_id": "org-100"}}),
        )
        .await
        .ok();
    let pid = p["id"].as_str().unwrap().to_string();
    assert_eq!(p["voters"].as_array().unwrap().len(), 100);
    assert_eq!(p["votes"].as_array().unwrap().len(), 0);
    // Every voter twice, all at once.
    let mut tasks = Vec::new();
    for o in orgs.iter().take(100) {
        for _ in 0..2 {
            let api = o.root.clone();
            let path = format!("/api/v1/proposals/{pid}/votes");
            tasks.push(tokio::spawn(async move {
                api.post(&path, json!({"decision": "approve"})).await
            }));
        }
    }
    let mut ok = 0;
    let mut again = 0;
    for task in tasks {
        let a = task.await.unwrap();
        match (a.status, a.code()) {
            (200, _) => ok += 1,
            (409, "ALREADY_VOTED") | (409, "PROPOSAL_CLOSED") => again += 1,
            other => panic!("unexpected answer {other:?}: {}", a.body),
        }
    }
    assert_eq!(ok, 100, "each voter counted once");
    assert_eq!(again, 100);
    let mut v = serde_json::Value::Null;
    for _ in 0..400 {
        v = founder
            .root
            .get(&format!("/api/v1/proposals/{pid}"))
            .await
            .ok();
        if v["state"] == "executed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(v["state"], "executed", "{v}");
    assert_eq!(v["votes"].as_array().unwrap().len(), 100);
    assert_eq!(v["tally"]["approve_weight"], 100);
    // Executed once: one audit entry of its execution, one removal.
    let log = founder
        .root
        .get("/api/v1/audit?action=proposal.execute:consortium.remove_org")
        .await
        .ok();
    assert_eq!(log["items"].as_array().unwrap().len(), 1, "{log}");
    let cons = founder
        .root
        .get(&format!("/api/v1/consortia/{cid}"))
        .await
        .ok();
    assert_eq!(cons["members"].as_array().unwrap().len(), 100);
}
both!(a_hundred_voters_at_once);

async fn racing_admins_cannot_both_win(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let (_, acc) = t.sub_account(&a, "clerk", &[]).await;
    // The root and a second admin token of the same root change the same version at once.
    for round in 0..5 {
        let current = a.root.get(&format!("/api/v1/accounts/{acc}")).await.ok();
        let version = current["version"].clone();
        let mut tasks = Vec::new();
        for name in ["first", "second"] {
            let api = a.root.clone();
            let path = format!("/api/v1/accounts/{acc}");
            let body = json!({"version": version, "display_name": format!("{name} {round}")});
            tasks.push(tokio::spawn(
                async move { api.call("PATCH", &path, body).await },
            ));
        }
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap().status);
        }
        statuses.sort_unstable();
        assert_eq!(statuses, vec![200, 412], "round {round}");
    }
}
both!(racing_admins_cannot_both_win);
