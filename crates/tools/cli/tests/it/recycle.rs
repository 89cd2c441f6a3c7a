//! The recycle bin end to end: a real platform and the node it deploys. A network about to
//! expire is announced to its consortium; once expired it goes to the recycle bin — its node
//! stopped, its data kept, not startable by hand; renewed by proposal, its node runs again on
//! the ledger it kept.

use serde_json::{Value, json};

use crate::{
    platform::{Platform, deploy_solo_chain, http, register, sql, wait_proposal},
    wait_for,
};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn an_expired_network_goes_to_the_recycle_bin_and_comes_back_renewed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let platform = Platform::start(tmp.path(), None, covenant_test_utils::free_ports(30));
    let a = register(&rt, &platform.url, "bank-a", false);
    let node_api = deploy_solo_chain(&rt, &a, "ledger");
    let nets = a.get(&rt, "/api/v1/networks");
    let net = nets["items"][0].clone();
    let id = net["id"].as_str().unwrap().to_string();
    let cid = net["consortium_id"].as_str().unwrap().to_string();
    let node_id = net["nodes"][0]["id"].as_str().unwrap().to_string();
    let height = |a: &crate::platform::Org| -> Option<u64> {
        a.get(&rt, "/api/v1/chains/ledger")["live"]["height"].as_u64()
    };
    let before = height(&a).unwrap();
    let db = platform.database_url();
    let events = |a: &crate::platform::Org, kind: &str| -> Vec<Value> {
        a.get(&rt, "/api/v1/events?limit=200")["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == kind)
            .cloned()
            .collect()
    };

    // An hour left: the consortium is told, once.
    rt.block_on(sql(
        &db,
        &format!(
            "UPDATE networks SET expires_at = {} WHERE id = '{id}'",
            now_ms() + 3_600_000
        ),
    ));
    wait_for("the expiry warning", 30, || {
        !events(&a, "network.expiring").is_empty()
    });
    assert!(
        events(&a, "network.expiring")[0]["title"]
            .as_str()
            .unwrap()
            .contains("within 1 day")
    );

    // Expired: the recycle bin.
    rt.block_on(sql(
        &db,
        &format!(
            "UPDATE networks SET expires_at = {} WHERE id = '{id}'",
            now_ms() - 1000
        ),
    ));
    let mut got = Value::Null;
    wait_for("the network to be recycled", 60, || {
        got = a.get(&rt, &format!("/api/v1/networks/{id}"));
        got["state"] == "recycled"
    });
    assert!(got["recycled_at"].as_i64().is_some(), "{got}");
    assert_eq!(got["nodes"][0]["state"], "stopped", "{got}");
    assert_eq!(events(&a, "network.expiring").len(), 1, "warned once");
    assert_eq!(events(&a, "network.recycled").len(), 1);
    let down = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{node_api}/healthz"))
            .timeout(std::time::Duration::from_secs(5))
            .send()
            .await
    });
    assert!(down.is_err(), "the node still answers");
    let (status, refused) = http(
        &rt,
        &platform.url,
        Some(&a.token),
        "POST",
        &format!("/api/v1/nodes/{node_id}/start"),
        Some(json!({})),
    );
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("NETWORK_RECYCLED")),
        "{refused}"
    );

    // Renewed by proposal: the node runs again on the ledger it kept.
    let p = a.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "network.renew", "params": {"network_id": id, "days": 30}}),
    );
    wait_proposal(&rt, &a, p["id"].as_str().unwrap(), "executed", 120);
    let back = a.get(&rt, &format!("/api/v1/networks/{id}"));
    assert_eq!(back["state"], "running", "{back}");
    assert!(back["recycled_at"].is_null());
    assert!(back["expires_at"].as_i64().unwrap() > now_ms() + 29 * 86_400_000);
    wait_for("the chain to serve again", 60, || {
        height(&a).is_some_and(|h| h >= before)
    });
    wait_for("the node to be seen up", 60, || {
        a.get(&rt, &format!("/api/v1/nodes/{node_id}"))["status"] == "up"
    });
    assert_eq!(events(&a, "network.restored").len(), 1);
}
