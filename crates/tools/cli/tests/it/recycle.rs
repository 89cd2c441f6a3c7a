//! The recycle bin end to end: a real platform and the node it deploys. A network about to
//! expire is announced to its consortium; once expired it goes to the recycle bin — its node
//! stopped, its data kept, not startable by hand; renewed by proposal, its node runs again on
//! the ledger it kept. Expired once more, it is purged only after the grace period and an
//! export of its chain's ledger, and the export restores into a new node with every block
//! hash as it was.

use std::process::{Command, Stdio};

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
fn a_network_goes_through_the_recycle_bin_on_sqlite() {
    recycle_bin(None);
}

#[test]
fn a_network_goes_through_the_recycle_bin_on_postgres() {
    let Some(db) = covenant_test_utils::postgres::throwaway() else {
        return;
    };
    recycle_bin(Some(&db.url));
}

fn recycle_bin(db: Option<&str>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let platform = Platform::start(tmp.path(), db, covenant_test_utils::free_ports(30));
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

    export_purge_and_restore(&rt, &platform, &a, tmp.path(), &id, &cid, &node_api);
}

/// Continue the life of the network above: history worth keeping, expiry again, export,
/// purge, and a restore into a new node.
fn export_purge_and_restore(
    rt: &tokio::runtime::Runtime,
    platform: &Platform,
    a: &crate::platform::Org,
    tmp: &std::path::Path,
    net_id: &str,
    cid: &str,
    node_api: &str,
) {
    let db = platform.database_url();
    let call = |o: &crate::platform::Org, method: &str, path: &str| -> (u16, Value) {
        http(
            rt,
            &platform.url,
            Some(&o.token),
            method,
            path,
            (method == "POST").then(|| json!({})),
        )
    };

    // History worth keeping: a contract installed by proposal, evidence recorded.
    let wasm = std::fs::read(covenant_test_utils::contracts::example_wasm("evidence")).unwrap();
    let code = covenant_api_types::json::b64_encode(&wasm);
    let p = a.post(
        rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "contract.install", "params": {"chain_id": "ledger", "name": "evidence", "code": code}}),
    );
    wait_proposal(rt, a, p["id"].as_str().unwrap(), "executed", 60);
    for i in 0..3 {
        let r = a.post(
            rt,
            "/api/v1/chains/ledger/contracts/evidence/invoke",
            json!({"method": "put", "args": {"hash": format!("{i:02}aabbccddeeff0011"), "meta": "kept"}}),
        );
        assert_eq!(r["result"]["code"], "OK", "{r}");
    }
    let client = covenant_sdk::Client::new(node_api, "ledger").unwrap();
    let tip = rt.block_on(client.info()).unwrap().height;
    assert!(tip >= 4, "tip {tip}");
    let hashes: Vec<String> = (0..=tip)
        .map(|h| {
            rt.block_on(client.block(&h.to_string(), false))
                .unwrap()
                .hash
        })
        .collect();

    // A running network's ledger is not exported from under its nodes.
    let (status, refused) = call(a, "POST", &format!("/api/v1/networks/{net_id}/exports"));
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("NETWORK_NOT_RECYCLED")),
        "{refused}"
    );

    // Expired again: the recycle bin.
    rt.block_on(sql(
        &db,
        &format!(
            "UPDATE networks SET expires_at = {} WHERE id = '{net_id}'",
            now_ms() - 1000
        ),
    ));
    wait_for("the network to be recycled again", 60, || {
        a.get(rt, &format!("/api/v1/networks/{net_id}"))["state"] == "recycled"
    });

    // Purged neither within the grace period nor before every chain is exported.
    let (status, refused) = call(a, "POST", &format!("/api/v1/networks/{net_id}/purge"));
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("PURGE_TOO_EARLY")),
        "{refused}"
    );
    rt.block_on(sql(
        &db,
        &format!(
            "UPDATE networks SET recycled_at = {} WHERE id = '{net_id}'",
            now_ms() - 31 * 86_400_000
        ),
    ));
    let (status, refused) = call(a, "POST", &format!("/api/v1/networks/{net_id}/purge"));
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("EXPORT_REQUIRED")),
        "{refused}"
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ledger")
    );

    // An org outside the consortium sees none of it.
    let z = register(rt, &platform.url, "bank-z", false);
    for (method, path) in [
        ("GET", format!("/api/v1/networks/{net_id}/exports")),
        ("GET", format!("/api/v1/networks/{net_id}/exports/ledger")),
        ("POST", format!("/api/v1/networks/{net_id}/exports")),
        ("POST", format!("/api/v1/networks/{net_id}/purge")),
    ] {
        let (status, body) = call(&z, method, &path);
        assert_eq!(status, 404, "{method} {path}: {body}");
    }

    // The export: an operation, then one file per chain.
    let (status, started) = call(a, "POST", &format!("/api/v1/networks/{net_id}/exports"));
    assert_eq!(status, 202, "{started}");
    let op = started["operation_id"].as_str().unwrap().to_string();
    let mut done = Value::Null;
    wait_for("the export", 120, || {
        done = a.get(rt, &format!("/api/v1/operations/{op}"));
        done["state"] != "running"
    });
    assert_eq!(done["state"], "succeeded", "{done}");
    let exports = a.get(rt, &format!("/api/v1/networks/{net_id}/exports"));
    let e = &exports["items"][0];
    assert_eq!(e["chain_id"], "ledger", "{exports}");
    assert_eq!(e["blocks"], tip + 1, "{exports}");
    assert_eq!(e["genesis_hash"], hashes[0].as_str());
    assert_eq!(e["tip_hash"], hashes[tip as usize].as_str());
    assert_eq!(
        e["config_heights"][0], 0,
        "the genesis set the first config"
    );
    let file = tmp.join("ledger.export");
    let bytes = rt.block_on(async {
        let r = reqwest::Client::new()
            .get(format!(
                "{}/api/v1/networks/{net_id}/exports/ledger",
                platform.url
            ))
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap()
    });
    assert_eq!(bytes.len() as i64, e["bytes"].as_i64().unwrap());
    std::fs::write(&file, &bytes).unwrap();

    // The node's identity, kept by its org, serves the restored ledger later.
    let net = a.get(rt, &format!("/api/v1/networks/{net_id}"));
    let node_id = net["nodes"][0]["id"].as_str().unwrap().to_string();
    let node_dir = tmp
        .join("platform/networks")
        .join(net_id)
        .join(net["nodes"][0]["name"].as_str().unwrap());
    let cert = std::fs::read(node_dir.join("cert.pem")).unwrap();
    let key = std::fs::read(node_dir.join("key.pem")).unwrap();

    // Purged: the nodes' data is gone, the records and the export remain.
    let purged = a.post(rt, &format!("/api/v1/networks/{net_id}/purge"), json!({}));
    assert_eq!(purged["state"], "purged", "{purged}");
    assert!(purged["purged_at"].as_i64().is_some());
    assert!(!node_dir.exists(), "the node's directory is still there");
    let (status, refused) = call(a, "POST", &format!("/api/v1/nodes/{node_id}/start"));
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("NETWORK_PURGED")),
        "{refused}"
    );
    let (status, _) = call(
        a,
        "GET",
        &format!("/api/v1/networks/{net_id}/exports/ledger"),
    );
    assert_eq!(status, 200);
    let events = a.get(rt, "/api/v1/events?limit=200");
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "network.purged"),
        "{events}"
    );

    // Restored into a new node: every block hash as it was.
    let restored = tmp.join("restored");
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::write(restored.join("cert.pem"), cert).unwrap();
    std::fs::write(restored.join("key.pem"), key).unwrap();
    let api = covenant_test_utils::free_port();
    std::fs::write(
        restored.join("node.toml"),
        format!(
            "[node]\nname = \"restored\"\ndata_dir = \"data\"\napi_listen = \"127.0.0.1:{api}\"\n\
cert = \"cert.pem\"\nkey = \"key.pem\"\n\n[[chains]]\nid = \"ledger\"\ngenesis = \"genesis/ledger.block\"\n"
        ),
    )
    .unwrap();
    let file_arg = file.to_str().unwrap();
    let head = crate::covenant(
        tmp,
        &["node", "export", "--inspect", file_arg, "-o", "json"],
    )
    .ok()
    .json();
    assert_eq!(head["blocks"], tip + 1, "{head}");
    let dir_arg = restored.to_str().unwrap();
    let r = crate::covenant(
        tmp,
        &[
            "node", "import", "--dir", dir_arg, "--file", file_arg, "-o", "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(r["blocks"], tip + 1, "{r}");
    assert!(r["genesis_written"].as_str().is_some(), "{r}");
    // Once is enough: a second restore over it is refused and changes nothing.
    crate::covenant(
        tmp,
        &["node", "import", "--dir", dir_arg, "--file", file_arg],
    )
    .fails_with("LEDGER_EXPORT_INVALID");
    let log = std::fs::File::create(tmp.join("restored.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_covenant"))
        .args(["node", "start", "--verify-all", "--dir", dir_arg])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let restored_api = format!("http://127.0.0.1:{api}");
    let client = covenant_sdk::Client::new(&restored_api, "ledger").unwrap();
    wait_for("the restored node to serve", 60, || {
        rt.block_on(client.info()).is_ok_and(|i| i.height == tip)
    });
    for (h, hash) in hashes.iter().enumerate() {
        let got = rt.block_on(client.block(&h.to_string(), false)).unwrap();
        assert_eq!(&got.hash, hash, "block {h}");
    }
    let evidence = rt
        .block_on(client.query(
            "evidence",
            "get",
            json!({"hash": "01aabbccddeeff0011"}),
            None,
        ))
        .unwrap();
    assert_eq!(evidence.result["meta"], "kept", "{evidence:?}");
    let _ = child.kill();
    let _ = child.wait();
}
