//! A node's certificate renewed while its chain keeps committing: four TBFT (or Raft) nodes the
//! platform runs; one node's certificate is renewed (its key certified again), a `chain.renew_node`
//! proposal (approved with the org admin's renewed certificate, which chains take without any
//! change) puts the new certificate in the chain's config, and the platform restarts the node
//! with it. The chain commits throughout, and with another node stopped afterwards (three of
//! four needed) it still commits, so the renewed node votes with its new identity.

use serde_json::{Value, json};

use crate::platform::{Platform, deploy_chain, http, register, wait_proposal};

#[test]
fn a_tbft_nodes_certificate_is_renewed_while_its_chain_keeps_committing() {
    renew_a_node("tbft");
}

#[test]
fn a_raft_nodes_certificate_is_renewed_while_its_chain_keeps_committing() {
    renew_a_node("raft");
}

fn renew_a_node(consensus: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let platform = Platform::start(dir, None, covenant_test_utils::free_ports(30));
    let base = platform.url.clone();
    let a = register(&rt, &base, "bank-a", false);
    let chain = deploy_chain(&rt, &a, "ledger", consensus, 4);
    let nodes = chain["nodes"].as_array().unwrap().clone();
    assert_eq!(nodes.len(), 4, "{chain}");
    let (node_id, node_name) = (
        nodes[0]["node_id"].as_str().unwrap().to_string(),
        nodes[0]["name"].as_str().unwrap().to_string(),
    );

    // Something to commit: the platform's admin certificate registered on the chain.
    let admin = a.get(&rt, "/api/v1/org/certificates?kind=admin")["items"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let admin_pem = a.get(&rt, &format!("/api/v1/org/certificates/{admin}"))["certificate"]
        .as_str()
        .unwrap()
        .to_string();
    let commit = || {
        let r = a.post(
            &rt,
            "/api/v1/chains/ledger/contracts/sys.certs/invoke",
            json!({"method": "register", "args": {"cert": admin_pem}}),
        );
        assert_eq!(r["result"]["code"], "OK", "{r}");
        r["result"]["height"].as_u64().unwrap_or_default()
    };
    commit();
    // The admin's certificate renewed first: chains verify admins by the org's root, so the
    // renewed one signs at once — it is the one that approves the node's renewal below.
    let (status, admin_renewed) = http(
        &rt,
        &base,
        Some(&a.token),
        "POST",
        &format!("/api/v1/org/certificates/{admin}/renew"),
        Some(json!({"days": 400})),
    );
    assert_eq!(status, 200, "{admin_renewed}");
    let admin_fp = admin_renewed["fingerprint"].as_str().unwrap().to_string();
    assert_ne!(admin_fp, admin);

    let node_certs = |a: &crate::platform::Org| -> Vec<Value> {
        a.get(&rt, "/api/v1/org/certificates?kind=node")["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"] == node_name.as_str())
            .cloned()
            .collect()
    };
    let old = node_certs(&a);
    assert_eq!(old.len(), 1, "{old:?}");
    let old_fp = old[0]["fingerprint"].as_str().unwrap().to_string();
    let call = |method: &str, path: &str, body: Value| {
        http(&rt, &base, Some(&a.token), method, path, Some(body))
    };
    let (status, renewed) = call(
        "POST",
        &format!("/api/v1/org/certificates/{old_fp}/renew"),
        json!({"days": 400}),
    );
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(renewed["kind"], "node", "{renewed}");
    let new_fp = renewed["fingerprint"].as_str().unwrap().to_string();
    assert_ne!(new_fp, old_fp);
    // While the chain votes, the node has both and runs with the old one; a second renewal
    // waits for the first.
    assert_eq!(node_certs(&a).len(), 2);
    let (status, again) = call(
        "POST",
        &format!("/api/v1/org/certificates/{old_fp}/renew"),
        json!({}),
    );
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("NODE_RENEWING")),
        "{again}"
    );

    let events = a.get(&rt, "/api/v1/events?limit=50");
    let event = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "cert.renewed" && e["data"]["node"] == node_id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("no node renewal event: {events}"));
    assert_eq!(event["data"]["proposals"].as_array().unwrap().len(), 1);
    let proposal = event["data"]["proposals"][0]["proposal_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{event}"))
        .to_string();
    let executed = wait_proposal(&rt, &a, &proposal, "executed", 120);
    assert_eq!(
        executed["outcome"]["renewal"]["switched"], true,
        "{executed}"
    );
    assert_eq!(
        executed["votes"][0]["certificate_fingerprint"],
        admin_fp.as_str(),
        "{executed}"
    );

    // The chain's config names the node with its new certificate, and the platform knows the
    // node by it alone.
    let now = node_certs(&a);
    assert_eq!(
        now.iter()
            .map(|c| c["fingerprint"].clone())
            .collect::<Vec<_>>(),
        [json!(new_fp)],
        "{now:?}"
    );
    let node_api = nodes[1]["api_url"].as_str().unwrap();
    let (status, config) = http(&rt, node_api, None, "GET", "/v1/chains/ledger/config", None);
    assert_eq!(status, 200, "{config}");
    let listed = config["consensus"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node_id"] == node_name.as_str())
        .unwrap_or_else(|| panic!("{config}"));
    assert_eq!(
        covenant_pki::Certificate::from_pem(listed["certificate"].as_str().unwrap(), "listed")
            .unwrap()
            .fingerprint(),
        new_fp
    );
    let switched = events_of(&rt, &a, "node.renewed");
    assert!(
        switched
            .iter()
            .any(|e| e["data"]["node"] == node_name.as_str()),
        "{switched:?}"
    );

    if consensus == "raft" {
        // Raft's membership follows the config: the leader makes the renewed node (a new Raft
        // id, from its new certificate) a voter in place of the old id.
        let renewed_api = nodes[0]["api_url"].as_str().unwrap();
        let mut me = String::new();
        crate::wait_for("the renewed node to serve", 60, || {
            let info = try_get(&rt, &format!("{renewed_api}/v1/chains/ledger"));
            me = info["engine"]["raft_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            !me.is_empty()
        });
        let mut last = Value::Null;
        crate::wait_for("the renewed node to be a Raft voter", 120, || {
            last =
                try_get(&rt, &format!("{node_api}/v1/chains/ledger"))["engine"]["voters"].clone();
            let voters: Vec<&str> = last
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            voters.len() == 4 && voters.contains(&me.as_str())
        });
    }
    // The chain kept committing; with another node stopped, three of four must vote (TBFT) or
    // three of four must hold the log (Raft), the renewed one among them.
    commit();
    let other = nodes[3]["node_id"].as_str().unwrap();
    let (status, stopped) = call("POST", &format!("/api/v1/nodes/{other}/stop"), json!({}));
    assert_eq!(status, 200, "{stopped}");
    for _ in 0..3 {
        commit();
    }
    let renewed_node = a.get(&rt, &format!("/api/v1/nodes/{node_id}"));
    assert_eq!(renewed_node["state"], "running", "{renewed_node}");
}

fn events_of(rt: &tokio::runtime::Runtime, a: &crate::platform::Org, kind: &str) -> Vec<Value> {
    a.get(rt, "/api/v1/events?limit=100")["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

/// A node's answer, or null while it does not answer (it may be restarting).
fn try_get(rt: &tokio::runtime::Runtime, url: &str) -> Value {
    rt.block_on(async {
        match reqwest::get(url).await {
            Ok(r) => r.json::<Value>().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    })
}
