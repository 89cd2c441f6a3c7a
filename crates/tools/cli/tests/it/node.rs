//! The engine end to end: real node processes driven by the CLI, REST, WebSocket and gRPC.

use std::time::Duration;

use covenant_api_types::json::b64_encode;
use covenant_sdk::Profile;
use covenant_types::tx::TxBuilder;
use prost::Message;
use serde_json::{Value, json};

use crate::devnode::{DevNode, http_get, http_post};

#[test]
fn contracts_deploy_invoke_query_through_the_cli() {
    let node = DevNode::new(&["--suite", "sm"]);
    // kv
    let d = node.deploy("kv", "kv", &[]);
    assert_eq!(d["code"], "OK", "{d}");
    let put = node
        .cli(&[
            "contract",
            "invoke",
            "kv",
            "put",
            "--args",
            r#"{"key":"k1","value":"v1"}"#,
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(put["status"], "committed");
    assert_eq!(put["code"], "OK");
    assert_eq!(put["events"][0]["topic"], "put");
    let tx_id = put["tx_id"].as_str().unwrap().to_string();
    let got = node
        .cli(&[
            "contract",
            "query",
            "kv",
            "get",
            "--args",
            r#"{"key":"k1"}"#,
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(got["result"], "v1");
    node.cli(&[
        "contract",
        "invoke",
        "kv",
        "delete",
        "--args",
        r#"{"key":"k1"}"#,
    ])
    .ok();
    let gone = node
        .cli(&[
            "contract",
            "query",
            "kv",
            "get",
            "--args",
            r#"{"key":"k1"}"#,
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(gone["result"], Value::Null);

    // token: mint restricted to admins by method policy.
    assert_eq!(
        node.deploy("token", "token", &["--method-policy", "mint:admin"])["code"],
        "OK"
    );
    let minted = node
        .cli(&[
            "contract",
            "invoke",
            "token",
            "mint",
            "--args",
            r#"{"amount":1000}"#,
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(minted["result"], 1000);
    let refused = node.cli(&[
        "contract",
        "invoke",
        "token",
        "mint",
        "--args",
        r#"{"amount":1}"#,
        "--as",
        "client",
        "-o",
        "json",
    ]);
    assert_ne!(refused.code, 0);
    assert_eq!(refused.json()["error"]["code"], "METHOD_NOT_ALLOWED");
    let moved = node
        .cli(&[
            "contract",
            "invoke",
            "token",
            "transfer",
            "--args",
            r#"{"to":"bob","amount":300}"#,
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(moved["result"], 700);
    let bob = node
        .cli(&[
            "contract",
            "query",
            "token",
            "balance",
            "--args",
            r#"{"owner":"bob"}"#,
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(bob["result"], 300);
    let over = node.cli(&[
        "contract",
        "invoke",
        "token",
        "transfer",
        "--args",
        r#"{"to":"bob","amount":9999}"#,
        "-o",
        "json",
    ]);
    assert_eq!(over.code, 1);
    assert_eq!(over.json()["code"], "CONTRACT_ERROR");

    // evidence
    assert_eq!(node.deploy("evidence", "evidence", &[])["code"], "OK");
    let h = "ef".repeat(32);
    let put = node
        .cli(&[
            "contract",
            "invoke",
            "evidence",
            "put",
            "--args",
            &format!(r#"{{"hash":"{h}","meta":"deed"}}"#),
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(put["result"]["meta"], "deed");
    let got = node
        .cli(&[
            "contract",
            "query",
            "evidence",
            "get",
            "--args",
            &format!(r#"{{"hash":"{h}"}}"#),
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(got["result"]["hash"], h);

    // Lifecycle and listing.
    node.cli(&["contract", "freeze", "kv"]).ok();
    let frozen = node.cli(&[
        "contract",
        "invoke",
        "kv",
        "put",
        "--args",
        r#"{"key":"x","value":"y"}"#,
        "-o",
        "json",
    ]);
    assert_eq!(frozen.json()["error"]["code"], "CONTRACT_FROZEN");
    node.cli(&["contract", "unfreeze", "kv"]).ok();
    let list = node.cli(&["contract", "list", "-o", "json"]).ok().json();
    let names: Vec<&str> = list["contracts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["evidence", "kv", "token"]);
    let wasm = crate::devnode::example_wasm("kv");
    let up = node
        .cli(&[
            "contract",
            "upgrade",
            "kv",
            wasm.to_str().unwrap(),
            "--version",
            "2.0",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(up["result"]["version"], "2.0");
    node.cli(&["contract", "revoke", "kv"]).ok();
    let revoked = node.cli(&[
        "contract",
        "query",
        "kv",
        "get",
        "--args",
        r#"{"key":"k1"}"#,
        "-o",
        "json",
    ]);
    assert_eq!(revoked.json()["code"], "CONTRACT_REVOKED");

    // The ledger: a transaction with its proof, a block, chain info and config.
    let tx = node.cli(&["tx", "get", &tx_id, "-o", "json"]).ok().json();
    assert_eq!(tx["proof_valid"], true);
    assert_eq!(tx["contract"], "kv");
    assert_eq!(tx["args"]["key"], "k1");
    let block = node
        .cli(&["block", "get", &tx["height"].to_string(), "-o", "json"])
        .ok()
        .json();
    assert_eq!(block["txs"][0]["tx_id"], tx_id.as_str());
    let by_hash = node
        .cli(&[
            "block",
            "get",
            block["hash"].as_str().unwrap(),
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(by_hash["height"], block["height"]);
    let info = node.cli(&["chain", "info", "-o", "json"]).ok().json();
    assert_eq!(info["suite"], "sm");
    assert_eq!(info["consensus"], "solo");
    assert!(info["height"].as_u64().unwrap() >= 10);
    let config = node.cli(&["chain", "config", "-o", "json"]).ok().json();
    assert_eq!(config["orgs"][0]["org_id"], "org1");
    assert!(
        config["orgs"][0]["trust_roots"][0]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    assert_eq!(
        node.cli(&["tx", "get", &"0".repeat(64), "-o", "json"])
            .json()["error"]["code"],
        "NOT_FOUND"
    );
    assert_eq!(
        node.cli(&["block", "get", "999999", "-o", "json"]).json()["error"]["code"],
        "NOT_FOUND"
    );
}

#[test]
fn governance_by_proposal_needs_enough_admin_signatures() {
    let node = DevNode::new(&["--suite", "intl", "--orgs", "3"]);
    let file = node.path().join("raise.json");
    let f = file.to_str().unwrap();
    node.cli(&[
        "proposal",
        "create",
        "--contract",
        "sys.config",
        "--method",
        "update",
        "--args",
        r#"{"set_block":{"max_txs":777}}"#,
        "--out",
        f,
    ])
    .ok();
    node.cli(&["proposal", "sign", f, "--as", "org1-admin"])
        .ok();
    // One of three admins: rejected on chain.
    let one = node.cli(&["proposal", "submit", f, "-o", "json"]);
    assert_eq!(one.code, 1);
    assert_eq!(one.json()["code"], "POLICY_NOT_MET");
    // A fresh proposal (the first one's id is spent) with two admins: applied.
    let file2 = node.path().join("raise2.json");
    let f2 = file2.to_str().unwrap();
    node.cli(&[
        "proposal",
        "create",
        "--contract",
        "sys.config",
        "--method",
        "update",
        "--args",
        r#"{"set_block":{"max_txs":777}}"#,
        "--out",
        f2,
    ])
    .ok();
    node.cli(&["proposal", "sign", f2, "--as", "org1-admin"])
        .ok();
    let again = node.cli(&["proposal", "sign", f2, "--as", "org1-admin"]);
    assert_ne!(again.code, 0);
    node.cli(&["proposal", "sign", f2, "--as", "org3-admin"])
        .ok();
    let two = node
        .cli(&["proposal", "submit", f2, "-o", "json"])
        .ok()
        .json();
    assert_eq!(two["code"], "OK");
    let config = node.cli(&["chain", "config", "-o", "json"]).ok().json();
    assert_eq!(config["block"]["max_txs"], 777);
    let list = node.cli(&["proposal", "list", "-o", "json"]).ok().json();
    let rec = &list["proposals"][0];
    assert_eq!(rec["resource"], "config.update");
    let orgs: Vec<&str> = rec["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["org"].as_str().unwrap())
        .collect();
    assert_eq!(orgs, vec!["org1", "org3"]);
    // The same with --endorse-as in one step.
    let direct = node
        .cli(&[
            "contract",
            "invoke",
            "sys.config",
            "update",
            "--args",
            r#"{"tx_expiry_window_ms":300000}"#,
            "--endorse-as",
            "org2-admin",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(direct["code"], "OK");
}

pub fn signed_tx(
    node: &DevNode,
    identity: &str,
    contract: &str,
    method: &str,
    args: Value,
) -> Vec<u8> {
    let profile = Profile::load(&node.path().join("dev/profile.json")).unwrap();
    let signer = profile.signer(Some(identity)).unwrap();
    signer
        .sign(TxBuilder::new("main", contract, method).args_json(&args))
        .unwrap()
}

#[test]
fn rest_api_documents_itself_and_answers_errors_with_codes() {
    let node = DevNode::new(&["--suite", "intl"]);
    node.deploy("kv", "kv", &[]);
    let api = &node.api;
    let (s, doc) = http_get(&format!("{api}/openapi.json")).unwrap();
    assert_eq!(s, 200);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    for p in [
        "/v1/chains/{chain}/txs",
        "/v1/chains/{chain}/query",
        "/v1/chains/{chain}/blocks/{at}",
        "/v1/chains/{chain}/txs/{id}",
        "/v1/chains/{chain}/subscribe",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} missing from the OpenAPI document"
        );
    }
    let (s, health) = http_get(&format!("{api}/healthz")).unwrap();
    assert_eq!(s, 200);
    assert!(health.contains("\"status\":\"ok\""));

    // Submit and wait over REST; then the same transaction again is a duplicate.
    let tx = signed_tx(
        &node,
        "client",
        "kv",
        "put",
        json!({"key": "r", "value": "1"}),
    );
    let body = json!({"tx": b64_encode(&tx), "wait": true}).to_string();
    let (s, r) = http_post(&format!("{api}/v1/chains/main/txs"), &body).unwrap();
    assert_eq!(s, 200, "{r}");
    let r: Value = serde_json::from_str(&r).unwrap();
    assert_eq!(r["status"], "committed");
    assert_eq!(r["result"]["code"], "OK");
    let (s, dup) = http_post(&format!("{api}/v1/chains/main/txs"), &body).unwrap();
    assert_eq!(s, 409);
    assert!(dup.contains("TX_DUPLICATE_ON_LEDGER"), "{dup}");

    // Bad input of every kind gets a JSON error with a stable code.
    let cases = [
        ("garbage", 400, "BAD_REQUEST"),
        (r#"{"tx": "@@@"}"#, 400, "BAD_REQUEST"),
        (r#"{"tx": "AAAA"}"#, 400, "TX_MALFORMED"),
        (r#"{"wait": true}"#, 400, "BAD_REQUEST"),
    ];
    for (body, status, code) in cases {
        let (s, r) = http_post(&format!("{api}/v1/chains/main/txs"), body).unwrap();
        assert_eq!(s, status, "{body}: {r}");
        let r: Value = serde_json::from_str(&r).unwrap();
        assert_eq!(r["error"]["code"], code, "{body}");
    }
    let mut bad = covenant_types::Transaction::decode(
        signed_tx(
            &node,
            "client",
            "kv",
            "put",
            json!({"key": "s", "value": "1"}),
        )
        .as_slice(),
    )
    .unwrap();
    bad.signature[8] ^= 1;
    let (s, r) = http_post(
        &format!("{api}/v1/chains/main/txs"),
        &json!({"tx": b64_encode(&bad.encode_to_vec())}).to_string(),
    )
    .unwrap();
    assert_eq!(s, 400);
    assert!(r.contains("TX_BAD_SIGNATURE"), "{r}");
    let (s, r) = http_get(&format!("{api}/v1/chains/main/blocks/notaheight")).unwrap();
    assert_eq!((s, r.contains("BAD_REQUEST")), (400, true));
    let (s, _) = http_get(&format!("{api}/v1/nowhere")).unwrap();
    assert_eq!(s, 404);

    // A batch: valid ones admitted, the broken one reported in place.
    let batch = json!({"txs": [
        b64_encode(&signed_tx(&node, "client", "kv", "put", json!({"key": "b1", "value": "1"}))),
        "not base64!",
        b64_encode(&signed_tx(&node, "client", "kv", "put", json!({"key": "b2", "value": "2"}))),
    ]});
    let (s, r) = http_post(
        &format!("{api}/v1/chains/main/txs/batch"),
        &batch.to_string(),
    )
    .unwrap();
    assert_eq!(s, 200);
    let r: Value = serde_json::from_str(&r).unwrap();
    assert!(r["results"][0]["tx_id"].is_string());
    assert_eq!(r["results"][1]["error"]["code"], "BAD_REQUEST");
    assert!(r["results"][2]["tx_id"].is_string());

    // Metrics report height, pool size, tx/s and commit latency.
    let names = [
        "covenant_height{chain=\"main\"}",
        "covenant_txpool_size",
        "covenant_tx_per_second",
        "covenant_tx_commit_latency_seconds",
        "covenant_block_commit_seconds",
    ];
    // The gauges are refreshed every second.
    crate::wait_for("the metrics of committed blocks", 30, || {
        let (_, m) = http_get(&format!("{api}/metrics")).unwrap();
        names.iter().all(|name| m.contains(name))
    });
}

#[test]
fn websocket_subscriptions_resume_from_a_height() {
    use futures::StreamExt;
    let node = DevNode::new(&["--suite", "sm"]);
    node.deploy("kv", "kv", &[]);
    for i in 0..3 {
        node.cli(&[
            "contract",
            "invoke",
            "kv",
            "put",
            "--args",
            &format!(r#"{{"key":"w{i}","value":"v"}}"#),
        ])
        .ok();
    }
    let ws = format!(
        "ws://127.0.0.1:{}/v1/chains/main/subscribe?kind=blocks&from_height=1",
        node.api_port
    );
    let events = format!(
        "ws://127.0.0.1:{}/v1/chains/main/subscribe?kind=events&from_height=0&contract=kv",
        node.api_port
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (mut blocks, _) = tokio_tungstenite::connect_async(&ws).await.unwrap();
        let (mut evs, _) = tokio_tungstenite::connect_async(&events).await.unwrap();
        let mut heights = Vec::new();
        while heights.len() < 4 {
            let msg = tokio::time::timeout(Duration::from_secs(10), blocks.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
            assert_eq!(v["type"], "block");
            heights.push(v["height"].as_u64().unwrap());
        }
        assert_eq!(
            heights,
            vec![1, 2, 3, 4],
            "stored blocks from the resume point, in order"
        );
        let mut keys = Vec::new();
        while keys.len() < 3 {
            let msg = tokio::time::timeout(Duration::from_secs(10), evs.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
            assert_eq!(v["type"], "event");
            assert_eq!(v["contract"], "kv");
            keys.push(v["data"].as_str().unwrap().to_string());
        }
        assert_eq!(keys, vec!["w0", "w1", "w2"]);
        // A live block arrives on both.
        let n = node.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_covenant"))
                .args([
                    "contract",
                    "invoke",
                    "kv",
                    "put",
                    "--args",
                    r#"{"key":"live","value":"v"}"#,
                ])
                .env("COVENANT_PROFILE", n.join("dev/profile.json"))
                .output()
                .unwrap();
            assert!(out.status.success());
        })
        .await
        .unwrap();
        let msg = tokio::time::timeout(Duration::from_secs(10), blocks.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        assert_eq!(v["height"], 5);
        let msg = tokio::time::timeout(Duration::from_secs(10), evs.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        assert_eq!(v["data"], "live");
    });
}

#[test]
fn grpc_api_serves_every_operation() {
    use covenant_api_types::pb::{
        ChainInfoRequest, GetBlockRequest, GetConfigRequest, GetContractRequest, GetTxRequest,
        HealthRequest, ListChainsRequest, ListContractsRequest, MetricsRequest, QueryRequest,
        SubmitBatchRequest, SubmitTxRequest, SubscribeRequest, chain_client::ChainClient,
        get_block_request::At,
    };
    let node = DevNode::new(&["--suite", "intl", "--key-algorithm", "ed25519"]);
    node.deploy("kv", "kv", &[]);
    let put = |key: &str| {
        covenant_types::Transaction::decode(
            signed_tx(
                &node,
                "client",
                "kv",
                "put",
                json!({"key": key, "value": "rpc"}),
            )
            .as_slice(),
        )
        .unwrap()
    };
    let tx = put("g");
    let batch = vec![
        put("b1").encode_to_vec(),
        b"not a transaction".to_vec(),
        put("b2").encode_to_vec(),
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let channel =
            tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{}", node.grpc_port))
                .unwrap()
                .connect()
                .await
                .unwrap();
        let mut c = ChainClient::new(channel);
        let main = || "main".to_string();
        // Health, metrics, chains, info, config.
        let health = c.health(HealthRequest {}).await.unwrap().into_inner();
        assert!(
            health.heights.get("main").is_some_and(|h| *h >= 1),
            "{health:?}"
        );
        let metrics = c.metrics(MetricsRequest {}).await.unwrap().into_inner();
        assert!(metrics.text.contains("covenant_height"), "{}", metrics.text);
        let chains = c
            .list_chains(ListChainsRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(chains.chains.len(), 1);
        assert_eq!(chains.chains[0].suite, "intl");
        let info = c
            .chain_info(ChainInfoRequest { chain_id: main() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (info.suite.as_str(), info.consensus.as_str()),
            ("intl", "solo")
        );
        assert_eq!(info.genesis_hash.len(), 32);
        let config = c
            .get_config(GetConfigRequest { chain_id: main() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(config.config.unwrap().chain_id, "main");
        // Contracts.
        let contracts = c
            .list_contracts(ListContractsRequest { chain_id: main() })
            .await
            .unwrap()
            .into_inner();
        assert!(contracts.contracts.iter().any(|k| k.name == "kv"));
        let kv = c
            .get_contract(GetContractRequest {
                chain_id: main(),
                name: "kv".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(kv.contract.unwrap().status, "active");
        let missing = c
            .get_contract(GetContractRequest {
                chain_id: main(),
                name: "nope".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), tonic::Code::NotFound);
        assert_eq!(
            missing.metadata().get("covenant-error-code").unwrap(),
            "CONTRACT_NOT_FOUND"
        );
        // Subscribe, submit, read back.
        let mut stream = c
            .subscribe(SubscribeRequest {
                chain_id: main(),
                kind: "events".into(),
                from_height: 0,
                contract: "kv".into(),
            })
            .await
            .unwrap()
            .into_inner();
        let r = c
            .submit_tx(SubmitTxRequest {
                chain_id: main(),
                transaction: Some(tx),
                wait: true,
                timeout_ms: 20_000,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.status, "committed");
        assert_eq!(r.result.unwrap().code, "OK");
        let got = c
            .get_tx(GetTxRequest {
                chain_id: main(),
                tx_id: r.tx_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.height, r.height);
        assert!(got.proof.is_some());
        let block = c
            .get_block(GetBlockRequest {
                chain_id: main(),
                at: Some(At::Height(r.height)),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(block.hash, r.block_hash);
        let ev = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(ev.events[0].topic, "put");
        let q = c
            .query(QueryRequest {
                chain_id: main(),
                contract: "kv".into(),
                method: "get".into(),
                args: br#"{"key":"g"}"#.to_vec(),
                caller_certificate: vec![],
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (q.code.as_str(), q.return_data.as_slice()),
            ("OK", &br#""rpc""#[..])
        );
        // A batch answers item by item, in order, the broken one in place.
        let answers = c
            .submit_batch(SubmitBatchRequest {
                chain_id: main(),
                transactions: batch,
            })
            .await
            .unwrap()
            .into_inner()
            .results;
        assert_eq!(answers.len(), 3);
        assert_eq!(answers[0].tx_id.len(), 32);
        assert_eq!(answers[1].error.as_ref().unwrap().code, "TX_MALFORMED");
        assert_eq!(answers[2].tx_id.len(), 32);
        // Errors carry the stable code.
        let err = c
            .chain_info(ChainInfoRequest {
                chain_id: "nope".into(),
            })
            .await
            .unwrap_err();
        assert!(err.message().starts_with("NOT_FOUND"), "{}", err.message());
    });
}

#[test]
fn a_changed_byte_in_the_block_files_is_reported_and_never_served() {
    let mut node = DevNode::new(&["--suite", "sm"]);
    node.deploy("kv", "kv", &[]);
    for i in 0..5 {
        node.cli(&[
            "contract",
            "invoke",
            "kv",
            "put",
            "--args",
            &format!(r#"{{"key":"c{i}","value":"{}"}}"#, "x".repeat(50)),
        ])
        .ok();
    }
    let top = node.cli(&["chain", "info", "-o", "json"]).ok().json()["height"]
        .as_u64()
        .unwrap();
    node.stop();
    let seg = node
        .path()
        .join("dev/data/chains/main/blocks/seg-00000000.blk");
    let mut bytes = std::fs::read(&seg).unwrap();
    // Change a byte in the middle of the fourth put's value (well inside some block's body).
    let needle = "x".repeat(50);
    let positions: Vec<usize> = bytes
        .windows(50)
        .enumerate()
        .filter(|(_, w)| *w == needle.as_bytes())
        .map(|(i, _)| i)
        .collect();
    let pos = positions[3] + 25;
    bytes[pos] = b'y';
    std::fs::write(&seg, &bytes).unwrap();
    // The node starts (a lone node has no peer to repair from), names the damaged block, and
    // answers reads of it with a clear code — never a 5xx, never the changed bytes.
    node.start(&["--verify-all"]).unwrap();
    let mut damaged = Vec::new();
    for h in 0..=top {
        let (status, body) = http_get(&format!("{}/v1/chains/main/blocks/{h}", node.api)).unwrap();
        match status {
            200 => {}
            409 => {
                assert!(body.contains("BLOCK_DAMAGED"), "{body}");
                damaged.push(h);
            }
            other => panic!("block {h}: {other} {body}"),
        }
    }
    assert_eq!(damaged.len(), 1, "one block holds the changed byte");
    let log = node.log();
    assert!(
        log.lines()
            .any(|l| l.contains("a stored block failed its check")
                && (l.contains(&format!("\"height\":{}", damaged[0]))
                    || l.contains(&format!("height={}", damaged[0])))),
        "the log names the height: {log}"
    );
    // The chain goes on.
    node.cli(&[
        "contract",
        "invoke",
        "kv",
        "put",
        "--args",
        r#"{"key":"after","value":"1"}"#,
    ])
    .ok();
}

#[test]
fn rebuild_index_rederives_the_same_state() {
    let mut node = DevNode::new(&["--suite", "intl"]);
    node.deploy("kv", "kv", &[]);
    for i in 0..6 {
        node.cli(&[
            "contract",
            "invoke",
            "kv",
            "put",
            "--args",
            &format!(r#"{{"key":"k{}","value":"{i}"}}"#, i % 4),
        ])
        .ok();
    }
    let before = node
        .cli(&[
            "contract", "query", "kv", "list", "--args", "{}", "-o", "json",
        ])
        .ok()
        .json();
    let info = node.cli(&["chain", "info", "-o", "json"]).ok().json();
    // The store is locked while the node runs.
    let busy = node.cli(&["node", "rebuild-index", "--dir", "dev", "-o", "json"]);
    assert_eq!(busy.json()["error"]["code"], "STORAGE_LOCKED");
    node.stop();
    let r = node
        .cli(&["node", "rebuild-index", "--dir", "dev", "-o", "json"])
        .ok()
        .json();
    assert_eq!(
        r["rebuilt"][0]["blocks"],
        info["height"].as_u64().unwrap() + 1
    );
    node.start(&[]).unwrap();
    let after = node
        .cli(&[
            "contract", "query", "kv", "list", "--args", "{}", "-o", "json",
        ])
        .ok()
        .json();
    assert_eq!(after, before);
    assert_eq!(
        node.cli(&["chain", "info", "-o", "json"]).ok().json()["state_root"],
        info["state_root"]
    );
}

#[test]
fn start_errors_are_clear() {
    let mut node = DevNode::new(&[]);
    // The same ports while the first node runs.
    let second = node.cli(&["node", "start", "--dir", "dev"]);
    assert_ne!(second.code, 0);
    assert!(
        second.stderr.contains("error[STORAGE_LOCKED]")
            || second.stderr.contains("error[PORT_IN_USE]"),
        "{}",
        second.stderr
    );
    node.stop();
    let missing = node.cli(&["node", "start", "--dir", "nowhere"]);
    assert!(
        missing.stderr.contains("error[NODE_CONFIG]"),
        "{}",
        missing.stderr
    );
    std::fs::write(node.path().join("bad.toml"), "[node]\nname = 1\n").unwrap();
    let bad = node.cli(&["node", "start", "--config", "bad.toml"]);
    assert!(bad.stderr.contains("error[NODE_CONFIG]"), "{}", bad.stderr);
    // A port taken by another program.
    let taken = std::net::TcpListener::bind(format!("127.0.0.1:{}", node.api_port)).unwrap();
    let blocked = node.cli(&["node", "start", "--dir", "dev"]);
    assert!(
        blocked.stderr.contains("error[PORT_IN_USE]"),
        "{}",
        blocked.stderr
    );
    drop(taken);
    let again = node.cli(&["node", "init", "--dir", "dev"]);
    assert!(
        again.stderr.contains("error[NODE_EXISTS]"),
        "{}",
        again.stderr
    );
}

#[test]
fn one_node_hosts_several_chains_with_isolated_state() {
    let mut node = DevNode::new(&["--suite", "intl"]);
    node.stop();
    let added = node
        .cli(&[
            "node",
            "add-chain",
            "--dir",
            "dev",
            "--chain",
            "audit",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(added["suite"], "intl");
    let again = node.cli(&["node", "add-chain", "--dir", "dev", "--chain", "audit"]);
    assert!(
        again.stderr.contains("error[CHAIN_EXISTS]"),
        "{}",
        again.stderr
    );
    node.start(&[]).unwrap();
    node.deploy("kv", "kv", &[]);
    let wasm = crate::devnode::example_wasm("kv");
    node.cli(&[
        "contract",
        "deploy",
        "kv",
        wasm.to_str().unwrap(),
        "--chain",
        "audit",
    ])
    .ok();
    let on_main = node
        .cli(&[
            "contract",
            "invoke",
            "kv",
            "put",
            "--args",
            r#"{"key":"k","value":"main"}"#,
            "-o",
            "json",
        ])
        .ok()
        .json();
    node.cli(&[
        "contract",
        "invoke",
        "kv",
        "put",
        "--args",
        r#"{"key":"k","value":"audit"}"#,
        "--chain",
        "audit",
    ])
    .ok();
    let main_v = node
        .cli(&[
            "contract",
            "query",
            "kv",
            "get",
            "--args",
            r#"{"key":"k"}"#,
            "-o",
            "json",
        ])
        .ok()
        .json();
    let audit_v = node
        .cli(&[
            "contract",
            "query",
            "kv",
            "get",
            "--args",
            r#"{"key":"k"}"#,
            "--chain",
            "audit",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(
        (main_v["result"].as_str(), audit_v["result"].as_str()),
        (Some("main"), Some("audit"))
    );
    let main_info = node.cli(&["chain", "info", "-o", "json"]).ok().json();
    let audit_info = node
        .cli(&["chain", "info", "--chain", "audit", "-o", "json"])
        .ok()
        .json();
    assert_ne!(main_info["genesis_hash"], audit_info["genesis_hash"]);
    // A transaction of one chain is unknown on the other, and cannot be replayed there.
    let missing = node.cli(&[
        "tx",
        "get",
        on_main["tx_id"].as_str().unwrap(),
        "--chain",
        "audit",
        "-o",
        "json",
    ]);
    assert_eq!(missing.json()["error"]["code"], "NOT_FOUND");
    assert!(
        node.path().join("dev/data/chains/main").is_dir()
            && node.path().join("dev/data/chains/audit").is_dir()
    );
    let chains = http_get(&format!("{}/v1/chains", node.api)).unwrap().1;
    assert!(
        chains.contains("\"audit\"") && chains.contains("\"main\""),
        "{chains}"
    );
}

#[test]
fn start_init_creates_a_dev_node_once_and_resumes_it_after() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let (api, grpc) = (crate::devnode::free_port(), crate::devnode::free_port());
    let start = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_covenant"))
            .args([
                "node",
                "start",
                "--dir",
                "dev",
                "--init",
                "--api-port",
                &api.to_string(),
                "--grpc-port",
                &grpc.to_string(),
                "-o",
                "json",
            ])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let ready: Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(ready["api"], format!("http://127.0.0.1:{api}"));
        let info = http_get(&format!("http://127.0.0.1:{api}/v1/chains/main"))
            .unwrap()
            .1;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().unwrap();
        serde_json::from_str::<Value>(&info).unwrap()["genesis_hash"].clone()
    };
    let first = start();
    assert!(dir.path().join("dev/profile.json").is_file());
    let second = start();
    assert_eq!(first, second, "the second start resumes the same chain");
}
