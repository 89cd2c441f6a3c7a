//! Every route is authorised, endpoint by endpoint from the route table: without credentials
//! a 401; without the route's permission a 403; and an account of another org (holding every
//! permission of its own org) can neither read nor change this org's private resources — it
//! gets a 404 or 403, and nothing changes.

use covenant_platform::{
    api::{Access, routes},
    network,
    proposal::kind::ChainCreate,
};
use serde_json::{Value, json};

use crate::{
    both,
    harness::{Answer, Api, Backend, start},
};

/// `path` with each `{param}` replaced from `ids` (or `x`).
fn fill(path: &str, ids: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                out.push_str(ids.iter().find(|(n, _)| *n == name).map_or("x", |(_, v)| v))
            }
            None => out.push_str(seg),
        }
    }
    out
}

async fn call(api: &Api, method: &str, path: &str) -> Answer {
    let body = if method == "GET" || method == "DELETE" {
        None
    } else {
        Some(b"{}".to_vec())
    };
    api.send(method, path, body, &[]).await
}

async fn every_route_is_authorised(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let outsider = t.org("bank-b").await;
    let c = t.org("bank-c").await;
    let (nobody, _) = t.sub_account(&a, "a-clerk", &[]).await;

    // A's private resources.
    let (_, acc) = t.sub_account(&a, "a-teller", &["account.read"]).await;
    let grp = a
        .root
        .post("/api/v1/groups", json!({"name": "g"}))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    a.root
        .post(
            &format!("/api/v1/groups/{grp}/members"),
            json!({"account_id": acc}),
        )
        .await
        .ok();
    let cons = a
        .root
        .post("/api/v1/consortia", json!({"name": "a-only"}))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let prop = a
        .root
        .post(
            &format!("/api/v1/consortia/{cons}/proposals"),
            json!({"kind": "network.create", "params": {"name": "n1", "nodes": [{"org_id": "bank-a"}]}}),
        )
        .await
        .ok();
    let prop_id = prop["id"].as_str().unwrap().to_string();
    let mut net = Value::Null;
    for _ in 0..200 {
        net = a
            .root
            .get(&format!("/api/v1/proposals/{prop_id}"))
            .await
            .ok();
        if net["state"] == "executed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let net_id = net["outcome"]["network_id"].as_str().unwrap().to_string();
    // A chain whose deploy fails (no node binary here) still leaves a chain and an operation.
    let op = network::create_chain(
        &t.p,
        &cons,
        &ChainCreate {
            chain_id: "a-chain".into(),
            network_id: net_id.clone(),
            orgs: vec!["bank-a".into()],
            consensus: "solo".into(),
            nodes: vec![],
            policies: vec![],
        },
        "bank-a",
    )
    .await
    .unwrap();
    // An invitation to A (from C's consortium).
    let c_cons = c
        .root
        .post("/api/v1/consortia", json!({"name": "c-only"}))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.root
        .post(
            &format!("/api/v1/consortia/{c_cons}/invitations"),
            json!({"org_id": "bank-a"}),
        )
        .await
        .ok();
    let mut inv_id = String::new();
    for _ in 0..200 {
        let inv = a.root.get("/api/v1/invitations").await.ok();
        if let Some(i) = inv["items"].as_array().unwrap().first() {
            inv_id = i["id"].as_str().unwrap().to_string();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!inv_id.is_empty());
    let event = a.root.get("/api/v1/events").await.ok()["items"][0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let token = a.root.get("/api/v1/me/tokens").await.ok()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A certificate, a revocation and a certificate request of A's.
    let cert = a
        .root
        .post(
            "/api/v1/org/identities",
            json!({"name": "a-teller-key", "role": "client"}),
        )
        .await
        .ok()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = a
        .root
        .post(
            "/api/v1/org/identities",
            json!({"name": "a-gone", "role": "client"}),
        )
        .await
        .ok()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let revocation = a
        .root
        .post(
            &format!("/api/v1/org/certificates/{revoked}/revoke"),
            json!({}),
        )
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cert_request = a
        .root
        .post(
            "/api/v1/org/certificate-requests",
            json!({"name": "a-new", "role": "client"}),
        )
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // An alert channel and rule of A's.
    let channel = a
        .root
        .post(
            "/api/v1/alert-channels",
            json!({"name": "a hook", "kind": "webhook", "url": "http://127.0.0.1:9/a"}),
        )
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rule = a
        .root
        .post(
            "/api/v1/alert-rules",
            json!({"name": "a rule", "metric": "node_down", "channels": [channel]}),
        )
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids = [
        ("id", ""),
        ("account", acc.as_str()),
        ("fingerprint", cert.as_str()),
    ];
    let id_for = |path: &str| -> String {
        let id = if path.starts_with("/api/v1/accounts/") {
            acc.clone()
        } else if path.starts_with("/api/v1/groups/") {
            grp.clone()
        } else if path.starts_with("/api/v1/consortia/") {
            cons.clone()
        } else if path.starts_with("/api/v1/proposals/") {
            prop_id.clone()
        } else if path.starts_with("/api/v1/invitations/") {
            inv_id.clone()
        } else if path.starts_with("/api/v1/events/") {
            event.clone()
        } else if path.starts_with("/api/v1/networks/") {
            net_id.clone()
        } else if path.starts_with("/api/v1/chains/") {
            "a-chain".to_string()
        } else if path.starts_with("/api/v1/operations/") {
            op.clone()
        } else if path.starts_with("/api/v1/me/tokens/") {
            token.clone()
        } else if path.starts_with("/api/v1/alert-channels/") {
            channel.clone()
        } else if path.starts_with("/api/v1/alert-rules/") {
            rule.clone()
        } else if path.starts_with("/api/v1/org/revocations/") {
            revocation.clone()
        } else if path.starts_with("/api/v1/org/certificate-requests/") {
            cert_request.clone()
        } else {
            "x".to_string()
        };
        let mut ids = ids.to_vec();
        ids[0].1 = &id;
        fill(path, &ids)
    };
    let anonymous = t.api();
    let mut checked = 0;
    for r in routes::table() {
        let method = r.method.as_str();
        match r.access {
            Access::Public => continue,
            Access::SignedIn | Access::Action(_) => {
                let path = id_for(r.path);
                let ans = call(&anonymous, method, &path).await;
                assert_eq!(
                    ans.status, 401,
                    "{method} {} without credentials: {}",
                    r.path, ans.body
                );
            }
        }
        if let Access::Action(action) = r.access {
            // A sub-account without the permission.
            let path = id_for(r.path);
            let ans = call(&nobody, method, &path).await;
            assert_eq!(
                (ans.status, ans.code()),
                (403, "PERMISSION_DENIED"),
                "{method} {} without {action}: {}",
                r.path,
                ans.body
            );
        }
        // Another org's root, on A's resources: never a success.
        if r.path.contains('{') && !r.path.starts_with("/api/v1/orgs/") {
            let path = id_for(r.path);
            let ans = call(&outsider.root, method, &path).await;
            assert!(
                ans.status == 404 || ans.status == 403 || ans.status == 400,
                "{method} {path} by another org: {} {}",
                ans.status,
                ans.body
            );
            assert_ne!(ans.status / 100, 2);
        }
        checked += 1;
    }
    assert!(checked > 40, "only {checked} routes checked");

    // Nothing changed.
    let account = a.root.get(&format!("/api/v1/accounts/{acc}")).await.ok();
    assert_eq!(account["disabled"], false);
    assert_eq!(account["version"], 1);
    let group = a.root.get(&format!("/api/v1/groups/{grp}")).await.ok();
    assert_eq!(group["members"], json!([acc]));
    let inv = a.root.get("/api/v1/invitations").await.ok();
    assert_eq!(inv["items"][0]["state"], "pending");
    let cons_now = a.root.get(&format!("/api/v1/consortia/{cons}")).await.ok();
    assert_eq!(cons_now["members"].as_array().unwrap().len(), 1);
    a.root.get("/api/v1/me/tokens").await.ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .for_each(|t| assert_eq!(t["revoked"], false));
    let kept = a
        .root
        .get(&format!("/api/v1/org/certificates/{cert}"))
        .await
        .ok();
    assert_eq!(kept["status"], "valid");
    let req = a
        .root
        .get(&format!("/api/v1/org/certificate-requests/{cert_request}"))
        .await
        .ok();
    assert_eq!(req["state"], "pending");
    a.root
        .get(&format!("/api/v1/alert-channels/{channel}"))
        .await
        .ok();
    assert_eq!(
        a.root
            .get(&format!("/api/v1/alert-rules/{rule}"))
            .await
            .ok()["version"],
        1
    );

    // And B's own lists show nothing of A's.
    for list in [
        "/api/v1/accounts",
        "/api/v1/groups",
        "/api/v1/org/identities",
        "/api/v1/consortia",
        "/api/v1/proposals",
        "/api/v1/events",
        "/api/v1/networks",
        "/api/v1/chains",
        "/api/v1/operations",
        "/api/v1/invitations",
        "/api/v1/me/tokens",
        "/api/v1/org/certificates",
        "/api/v1/org/revocations",
        "/api/v1/org/certificate-requests",
        "/api/v1/alert-channels",
        "/api/v1/alert-rules",
        "/api/v1/alerts",
        "/api/v1/alert-deliveries",
    ] {
        let body = outsider.root.get(list).await.ok().to_string();
        for secret in [
            &acc,
            &grp,
            &cons,
            &prop_id,
            &net_id,
            &op,
            &inv_id,
            &token,
            &cert,
            &revocation,
            &cert_request,
            &channel,
            &rule,
        ] {
            assert!(
                !body.contains(secret.as_str()),
                "{list} shows {secret} to another org: {body}"
            );
        }
        assert!(!body.contains("a-chain"), "{list}: {body}");
        assert!(!body.contains("bank-a"), "{list} mentions bank-a: {body}");
    }
    // B's audit log holds B's own calls (its attempts above included), nobody else's.
    let log = outsider.root.get("/api/v1/audit?limit=1000").await.ok();
    let items = log["items"].as_array().unwrap();
    assert!(items.len() > 10, "{log}");
    assert!(items.iter().all(|e| e["org_id"] == "bank-b"), "{log}");
    assert!(
        items
            .iter()
            .any(|e| e["result"].as_str().unwrap().starts_with("error 404"))
    );
}
both!(every_route_is_authorised);
