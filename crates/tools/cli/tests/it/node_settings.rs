//! A node's settings through the platform: the log filter and the pool limit land in the
//! node.toml the platform writes, the node restarts with them and serves again, and its log
//! then holds debug lines.

use serde_json::json;

use crate::{
    platform::{Platform, deploy_solo_chain, http, register},
    wait_for,
};

#[test]
fn a_nodes_settings_change_with_a_restart() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let platform = Platform::start(tmp.path(), None, covenant_test_utils::free_ports(30));
    let base = platform.url.clone();
    let a = register(&rt, &base, "bank-a", false);
    deploy_solo_chain(&rt, &a, "ledger");
    let net = a.get(&rt, "/api/v1/networks")["items"][0].clone();
    let node = net["nodes"][0].clone();
    let id = node["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/nodes/{id}/settings");
    let s = a.get(&rt, &path);
    assert!(
        s["log_level"].is_null() && s["pool_max_txs"].is_null(),
        "{s}"
    );

    let put = |token: &str, body: serde_json::Value| {
        http(&rt, &base, Some(token), "PUT", &path, Some(body))
    };
    for (body, code) in [
        (json!({"log_level": "loud"}), "LOG_LEVEL_INVALID"),
        (json!({"pool_max_txs": 3}), "POOL_LIMIT_INVALID"),
    ] {
        let (status, refused) = put(&a.token, body.clone());
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}: {refused}"
        );
    }
    let (status, _) = put(&a.token, json!({"colour": "blue"}));
    assert_eq!(status, 400);
    let z = register(&rt, &base, "bank-z", false);
    let (status, _) = put(&z.token, json!({"log_level": "debug"}));
    assert_eq!(status, 404, "another org's node is not there for it");

    let (status, changed) = put(
        &a.token,
        json!({"log_level": "debug", "pool_max_txs": 5000}),
    );
    assert_eq!(status, 200, "{changed}");
    let toml = std::fs::read_to_string(
        tmp.path()
            .join("platform/networks")
            .join(net["id"].as_str().unwrap())
            .join(node["name"].as_str().unwrap())
            .join("node.toml"),
    )
    .unwrap();
    assert!(toml.contains(r#"log = "debug""#), "{toml}");
    assert!(toml.contains("pool_max_txs = 5000"), "{toml}");
    wait_for("the node to serve again", 60, || {
        a.get(&rt, "/api/v1/chains/ledger")["live"]["height"]
            .as_u64()
            .is_some()
    });
    // At debug, the node logs each request to its API (the platform's status checks among them).
    wait_for("debug lines in the node's log", 60, || {
        a.get(&rt, &format!("/api/v1/nodes/{id}/logs?q=DEBUG&lines=20"))["lines"]
            .as_array()
            .is_some_and(|l| {
                l.iter()
                    .any(|x| x.as_str().is_some_and(|x| x.contains("request")))
            })
    });
    assert_eq!(a.get(&rt, &path)["pool_max_txs"], 5000);
}
