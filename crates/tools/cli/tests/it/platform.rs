//! The platform end to end: a real `covenant platform serve` process and the node processes
//! it deploys, driven through the HTTP API, on SQLite and on PostgreSQL.
//!
//! Org A founds a consortium and invites B and C (whose admin key stays offline); a network
//! and a TBFT chain of A, B and C are proposed, approved and deployed; org D is admitted to
//! the consortium and to the chain by MAJORITY with one offline signature (C's, made with
//! `covenant proposal sign`); a transaction by D's client commits. A vote forged in the
//! database, or missing, is refused by the nodes themselves. The audit log verifies, and no
//! longer does once a row is changed in the database.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use covenant_test_utils::{free_ports, postgres};
use serde_json::{Value, json};
use sqlx::Row;

use crate::{covenant, wait_for};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub(crate) struct Platform {
    child: Option<Child>,
    dir: PathBuf,
    db: Option<String>,
    node_base: u16,
    pub(crate) url: String,
    /// More arguments for `platform serve`.
    extra: Vec<String>,
}

impl Platform {
    pub(crate) fn start(dir: &Path, db: Option<&str>, node_base: u16) -> Platform {
        Platform::start_with(dir, db, node_base, &[])
    }

    /// Started with more arguments for `platform serve`.
    pub(crate) fn start_with(
        dir: &Path,
        db: Option<&str>,
        node_base: u16,
        extra: &[&str],
    ) -> Platform {
        let mut p = Platform {
            child: None,
            dir: dir.to_path_buf(),
            db: db.map(str::to_string),
            node_base,
            url: String::new(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        p.spawn();
        p
    }

    fn spawn(&mut self) {
        let ready = self.dir.join("ready");
        let _ = std::fs::remove_file(&ready);
        // Started again, it listens where it did before.
        let listen = if self.url.is_empty() {
            "127.0.0.1:0".to_string()
        } else {
            self.url.trim_start_matches("http://").to_string()
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_covenant"));
        cmd.args([
            "platform",
            "serve",
            "--open-registration",
            // The tests' webhook receivers and SMTP sinks listen on loopback.
            "--allow-private-alert-targets",
            "--listen",
            &listen,
        ])
        .arg("--dir")
        .arg(self.dir.join("platform"))
        .arg("--ready-file")
        .arg(&ready)
        .arg("--node-base-port")
        .arg(self.node_base.to_string())
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join("platform.log"))
                .unwrap(),
        );
        if let Some(db) = &self.db {
            cmd.arg("--db").arg(db);
        }
        cmd.args(&self.extra);
        // Contracts built from source share the example contracts' build of their dependencies.
        cmd.env(
            "COVENANT_CONTRACT_TARGET_DIR",
            covenant_test_utils::target_dir().join("contracts"),
        );
        self.child = Some(cmd.spawn().unwrap());
        wait_for("the platform to serve", 60, || ready.exists());
        self.url = std::fs::read_to_string(&ready).unwrap();
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }

    pub(crate) fn database_url(&self) -> String {
        self.db.clone().unwrap_or_else(|| {
            format!("sqlite:{}", self.dir.join("platform/platform.db").display())
        })
    }

    /// Stop every node it deployed.
    fn stop_nodes(&self) {
        let mut nodes = Vec::new();
        let nets = self.dir.join("platform/networks");
        for net in std::fs::read_dir(&nets).into_iter().flatten().flatten() {
            for n in std::fs::read_dir(net.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if n.path().join("node.toml").exists() {
                    nodes.push((n.file_name().to_string_lossy().into_owned(), n.path()));
                }
            }
        }
        covenant_deploy::process::stop_nodes(&nodes, Duration::from_secs(20), &|_| {});
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.stop();
        self.stop_nodes();
    }
}

/// A client of the platform's API with an org's root token.
#[derive(Clone)]
pub(crate) struct Org {
    pub(crate) id: String,
    base: String,
    pub(crate) token: String,
}

pub(crate) fn http(
    rt: &tokio::runtime::Runtime,
    base: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap();
        let mut r = client.request(method.parse().unwrap(), format!("{base}{path}"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    })
}

impl Org {
    fn call(
        &self,
        rt: &tokio::runtime::Runtime,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, v) = http(rt, &self.base, Some(&self.token), method, path, body);
        assert!(
            (200..300).contains(&status),
            "{} {method} {path}: {status} {v}",
            self.id
        );
        v
    }

    pub(crate) fn get(&self, rt: &tokio::runtime::Runtime, path: &str) -> Value {
        self.call(rt, "GET", path, None)
    }

    pub(crate) fn post(&self, rt: &tokio::runtime::Runtime, path: &str, body: Value) -> Value {
        self.call(rt, "POST", path, Some(body))
    }
}

pub(crate) fn register(rt: &tokio::runtime::Runtime, base: &str, id: &str, offline: bool) -> Org {
    let (s, v) = http(
        rt,
        base,
        None,
        "POST",
        "/api/v1/orgs",
        Some(
            json!({"id": id, "name": id, "root_username": format!("{id}-root"), "root_password": PASSWORD, "admin_key": if offline { "offline" } else { "platform" }}),
        ),
    );
    assert_eq!(s, 201, "{v}");
    // Sign in, make a token.
    let client = reqwest::Client::new();
    let token = rt.block_on(async {
        let r = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": format!("{id}-root"), "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let csrf = r.json::<Value>().await.unwrap()["csrf_token"]
            .as_str()
            .unwrap()
            .to_string();
        let t = client
            .post(format!("{base}/api/v1/me/tokens"))
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
            .json(&json!({"name": "e2e", "scopes": ["*"], "days": 1}))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        t["token"].as_str().unwrap().to_string()
    });
    Org {
        id: id.into(),
        base: base.into(),
        token,
    }
}

/// A consortium of `a` alone, a network of one node and a solo chain `chain` on it; returns
/// the node's API URL.
pub(crate) fn deploy_solo_chain(rt: &tokio::runtime::Runtime, a: &Org, chain: &str) -> String {
    let c = deploy_chain(rt, a, chain, "solo", 1);
    c["nodes"][0]["api_url"].as_str().unwrap().to_string()
}

/// A consortium of `a` alone, a network of `nodes` nodes of `a` and a chain `chain` ordered by
/// `consensus` on all of them; returns the chain as the platform shows it.
pub(crate) fn deploy_chain(
    rt: &tokio::runtime::Runtime,
    a: &Org,
    chain: &str,
    consensus: &str,
    nodes: u32,
) -> Value {
    let cons = a.post(
        rt,
        "/api/v1/consortia",
        json!({"name": format!("{chain}-consortium")}),
    );
    let cid = cons["id"].as_str().unwrap().to_string();
    let p = a.post(
        rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "network.create", "params": {"name": "net1", "nodes": [{"org_id": a.id, "count": nodes}]}}),
    );
    let done = wait_proposal(rt, a, p["id"].as_str().unwrap(), "executed", 60);
    let net = done["outcome"]["network_id"].as_str().unwrap().to_string();
    let p = a.post(
        rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "chain.create", "params": {"chain_id": chain, "network_id": net, "orgs": [a.id], "consensus": consensus}}),
    );
    wait_proposal(rt, a, p["id"].as_str().unwrap(), "executed", 180);
    a.get(rt, &format!("/api/v1/chains/{chain}"))
}

pub(crate) fn wait_proposal(
    rt: &tokio::runtime::Runtime,
    o: &Org,
    id: &str,
    state: &str,
    secs: u64,
) -> Value {
    let mut last = Value::Null;
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        last = o.get(rt, &format!("/api/v1/proposals/{id}"));
        if last["state"] == state {
            return last;
        }
        if ["failed", "rejected", "expired", "executed"]
            .contains(&last["state"].as_str().unwrap_or(""))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("proposal {id} did not reach {state}: {last}");
}

pub(crate) fn accept(rt: &tokio::runtime::Runtime, o: &Org, consortium: &str) {
    let mut found = None;
    wait_for("the invitation", 30, || {
        let inv = o.get(rt, "/api/v1/invitations?state=pending");
        found = inv["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["consortium_id"] == consortium)
            .map(|i| i["id"].as_str().unwrap().to_string());
        found.is_some()
    });
    o.post(
        rt,
        &format!("/api/v1/invitations/{}/accept", found.unwrap()),
        json!({}),
    );
}

/// C's offline admin: a key made with `covenant ca csr`, certified by the platform from the
/// CSR, in a profile `covenant proposal sign` can use.
fn offline_admin(rt: &tokio::runtime::Runtime, dir: &Path, c: &Org) -> PathBuf {
    covenant(
        dir,
        &[
            "ca", "csr", "--suite", "sm", "--name", "c-admin", "--out", "c-admin",
        ],
    )
    .ok();
    let csr = std::fs::read_to_string(dir.join("c-admin.csr")).unwrap();
    let ident = c.post(
        rt,
        "/api/v1/org/identities",
        json!({"name": "c-admin", "role": "admin", "csr": csr}),
    );
    assert_eq!(ident["custodial"], false);
    std::fs::write(
        dir.join("c-admin.crt"),
        ident["certificate"].as_str().unwrap(),
    )
    .unwrap();
    let profile = dir.join("c-profile.json");
    std::fs::write(
        &profile,
        json!({
            "endpoint": "http://127.0.0.1:1", "chain_id": "none", "identity": "admin",
            "identities": {"admin": {"cert": "c-admin.crt", "key": "c-admin.key"}}
        })
        .to_string(),
    )
    .unwrap();
    profile
}

/// C signs proposal `id` offline and uploads the signature.
fn sign_offline(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    profile: &Path,
    c: &Org,
    id: &str,
) -> Value {
    let req = c.get(rt, &format!("/api/v1/proposals/{id}/signing-request"));
    let file = dir.join(format!("{id}.json"));
    std::fs::write(&file, serde_json::to_string_pretty(&req).unwrap()).unwrap();
    covenant(
        dir,
        &[
            "proposal",
            "sign",
            file.to_str().unwrap(),
            "--profile",
            profile.to_str().unwrap(),
        ],
    )
    .ok();
    let signed: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let sig = signed["signatures"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    c.post(
        rt,
        &format!("/api/v1/proposals/{id}/signatures"),
        json!({"decision": "approve", "certificate": sig["cert"], "signature": sig["signature"]}),
    )
}

pub(crate) async fn sql(url: &str, statement: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::query(statement).execute(&pool).await.unwrap();
    pool.close().await;
}

async fn sql_one(url: &str, query: &str) -> String {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let row = sqlx::query(query).fetch_one(&pool).await.unwrap();
    let v: String = row.try_get(0).unwrap();
    pool.close().await;
    v
}

fn end_to_end(db: Option<&str>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut platform = Platform::start(dir, db, free_ports(60));
    let base = platform.url.clone();

    let a = register(&rt, &base, "bank-a", false);
    let b = register(&rt, &base, "bank-b", false);
    let c = register(&rt, &base, "bank-c", true);
    let c_profile = offline_admin(&rt, dir, &c);

    // A founds the consortium; B and C are invited and accept.
    let cons = a.post(
        &rt,
        "/api/v1/consortia",
        json!({"name": "trade", "description": "trade finance"}),
    );
    let cid = cons["id"].as_str().unwrap().to_string();
    let p = a.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/invitations"),
        json!({"org_id": "bank-b"}),
    );
    wait_proposal(&rt, &a, p["id"].as_str().unwrap(), "executed", 30);
    accept(&rt, &b, &cid);
    let p = a.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/invitations"),
        json!({"org_id": "bank-c"}),
    );
    let pid = p["id"].as_str().unwrap().to_string();
    b.post(
        &rt,
        &format!("/api/v1/proposals/{pid}/votes"),
        json!({"decision": "approve"}),
    );
    wait_proposal(&rt, &a, &pid, "executed", 30);
    accept(&rt, &c, &cid);

    // A network of one node per org, then a TBFT chain of the three: every org must agree.
    let p = a.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "network.create", "params": {"name": "net1", "nodes": [{"org_id": "bank-a"}, {"org_id": "bank-b"}, {"org_id": "bank-c"}]}}),
    );
    let pid = p["id"].as_str().unwrap().to_string();
    b.post(
        &rt,
        &format!("/api/v1/proposals/{pid}/votes"),
        json!({"decision": "approve"}),
    );
    sign_offline(&rt, dir, &c_profile, &c, &pid);
    let done = wait_proposal(&rt, &a, &pid, "executed", 30);
    let net = done["outcome"]["network_id"].as_str().unwrap().to_string();
    let p = a.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "chain.create", "params": {"chain_id": "trade", "network_id": net, "orgs": ["bank-a", "bank-b", "bank-c"], "consensus": "tbft"}}),
    );
    let pid = p["id"].as_str().unwrap().to_string();
    b.post(
        &rt,
        &format!("/api/v1/proposals/{pid}/votes"),
        json!({"decision": "approve"}),
    );
    let voted = sign_offline(&rt, dir, &c_profile, &c, &pid);
    // Deploying is an operation to poll.
    let mut op = Value::Null;
    wait_for("the deploy operation", 30, || {
        op = a.get(&rt, &format!("/api/v1/proposals/{pid}"));
        op["operation_id"].is_string()
    });
    let op_id = op["operation_id"].as_str().unwrap().to_string();
    let _ = voted;
    wait_proposal(&rt, &a, &pid, "executed", 180);
    let op = a.get(&rt, &format!("/api/v1/operations/{op_id}"));
    assert_eq!(op["state"], "succeeded", "{op}");
    assert_eq!(op["step"], op["steps"]);
    // What the chain is comes from the chain.
    let chain = a.get(&rt, "/api/v1/chains/trade");
    assert_eq!(
        chain["live"]["members"],
        json!(["bank-a", "bank-b", "bank-c"]),
        "{chain}"
    );
    assert_eq!(
        chain["live"]["consensus_nodes"].as_array().unwrap().len(),
        3
    );
    let node_api = chain["nodes"][0]["api_url"].as_str().unwrap().to_string();

    // D joins the consortium by MAJORITY: A's kept key and C's offline signature.
    let d = register(&rt, &base, "bank-d", false);
    let p = a.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/invitations"),
        json!({"org_id": "bank-d"}),
    );
    let pid = p["id"].as_str().unwrap().to_string();
    sign_offline(&rt, dir, &c_profile, &c, &pid);
    wait_proposal(&rt, &a, &pid, "executed", 30);
    accept(&rt, &d, &cid);

    // ... and the chain by the chain's own MAJORITY: the transaction carries A's signature and
    // C's (made offline over the exact payload), and the nodes check them.
    let p = a.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "chain.admit_org", "params": {"chain_id": "trade", "org_id": "bank-d"}}),
    );
    let pid = p["id"].as_str().unwrap().to_string();
    assert!(p["tx_id"].is_string());
    assert_eq!(p["policy"]["rule"], "MAJORITY");
    sign_offline(&rt, dir, &c_profile, &c, &pid);
    let done = wait_proposal(&rt, &a, &pid, "executed", 60);
    assert_eq!(done["outcome"]["tx_id"], p["tx_id"]);
    let chain = a.get(&rt, "/api/v1/chains/trade");
    assert_eq!(
        chain["live"]["members"].as_array().unwrap().len(),
        4,
        "{chain}"
    );

    // D's client (its key made with `covenant ca csr`, certified from the CSR) commits a
    // transaction.
    covenant(
        dir,
        &[
            "ca", "csr", "--suite", "sm", "--name", "d-client", "--out", "d-client",
        ],
    )
    .ok();
    let csr = std::fs::read_to_string(dir.join("d-client.csr")).unwrap();
    let ident = d.post(
        &rt,
        "/api/v1/org/identities",
        json!({"name": "d-client", "role": "client", "csr": csr}),
    );
    std::fs::write(
        dir.join("d-client.crt"),
        ident["certificate"].as_str().unwrap(),
    )
    .unwrap();
    let d_profile = dir.join("d-profile.json");
    std::fs::write(
        &d_profile,
        json!({"endpoint": node_api, "chain_id": "trade", "identity": "client",
               "identities": {"client": {"cert": "d-client.crt", "key": "d-client.key"}}})
        .to_string(),
    )
    .unwrap();
    let args = json!({"cert": ident["certificate"]}).to_string();
    let r = covenant(
        dir,
        &[
            "--output",
            "json",
            "contract",
            "invoke",
            "sys.certs",
            "register",
            "--args",
            &args,
            "--profile",
            d_profile.to_str().unwrap(),
        ],
    )
    .ok();
    let r = r.json();
    assert_eq!(r["code"], "OK", "{r}");
    assert!(r["height"].as_u64().unwrap() > 0);

    // A contract is installed by proposal too (the chain's policy: ANY member's admin).
    let wasm = std::fs::read(covenant_test_utils::contracts::example_wasm("evidence")).unwrap();
    let code = covenant_api_types::json::b64_encode(&wasm);
    let p = a.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "contract.install", "params": {"chain_id": "trade", "name": "evidence", "code": code}}),
    );
    let done = wait_proposal(&rt, &a, p["id"].as_str().unwrap(), "executed", 60);
    assert!(done["outcome"]["height"].as_u64().is_some(), "{done}");
    let chain = a.get(&rt, "/api/v1/chains/trade");
    assert_eq!(chain["live"]["contracts"][0]["name"], "evidence", "{chain}");
    // Its history: the code's hash, who proposed it, the votes, the block.
    let versions = b.get(&rt, "/api/v1/chains/trade/contracts/evidence/versions");
    let v = &versions["items"][0];
    assert_eq!(versions["items"].as_array().unwrap().len(), 1, "{versions}");
    assert_eq!(v["state"], "executed");
    assert_eq!(v["proposer_org"], "bank-a");
    assert_eq!(v["size"], wasm.len());
    assert_eq!(
        v["code_sha256"].as_str().unwrap(),
        covenant_crypto::HashAlgorithm::Sha256
            .digest(&wasm)
            .to_hex()
    );
    assert_eq!(v["votes"][0]["org_id"], "bank-a");
    assert_eq!(v["height"], done["outcome"]["height"]);

    // A vote forged in the database, or a policy loosened there, gets past the platform but
    // not the nodes.
    let e = register(&rt, &base, "bank-e", false);
    let _ = e;
    let p = a.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "chain.admit_org", "params": {"chain_id": "trade", "org_id": "bank-e"}}),
    );
    let forged = p["id"].as_str().unwrap().to_string();
    let p = a.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "chain.admit_org", "params": {"chain_id": "trade", "org_id": "bank-e"}, "title": "missing vote"}),
    );
    let missing = p["id"].as_str().unwrap().to_string();
    platform.stop();
    let url = platform.database_url();
    rt.block_on(async {
        // B's certificate with a signature B never made (A's, over the same payload).
        let b_cert = sql_one(&url, "SELECT cert_pem FROM identities WHERE org_id = 'bank-b' AND name = 'admin'").await;
        let a_sig = sql_one(&url, &format!("SELECT signature FROM votes WHERE proposal_id = '{forged}'")).await;
        sql(
            &url,
            &format!(
                "INSERT INTO votes (proposal_id, org_id, decision, identity_id, cert_pem, signature, offline, created_at) VALUES ('{forged}', 'bank-b', 'approve', 'x', '{b_cert}', '{a_sig}', 0, 9999999999999)"
            ),
        )
        .await;
        sql(&url, &format!("UPDATE proposals SET state = 'approved' WHERE id = '{forged}'")).await;
        // One approval where the chain needs a majority.
        sql(&url, &format!("UPDATE proposals SET state = 'approved', policy = '{{\"rule\":\"ANY\"}}' WHERE id = '{missing}'")).await;
    });
    // At start the platform carries out approved proposals; from now on it also anchors the
    // audit log's head on the chain every second.
    platform.extra = [
        "--anchor-chain",
        "trade",
        "--anchor-org",
        "bank-a",
        "--anchor-interval",
        "1",
    ]
    .map(String::from)
    .to_vec();
    platform.spawn();
    let f = wait_proposal(&rt, &a, &forged, "failed", 60);
    assert_eq!(f["outcome"]["code"], "CHAIN_REJECTED", "{f}");
    let m = wait_proposal(&rt, &a, &missing, "failed", 60);
    assert_eq!(m["outcome"]["code"], "CHAIN_REJECTED", "{m}");
    assert!(
        m["outcome"]["message"]
            .as_str()
            .unwrap()
            .contains("POLICY_NOT_MET"),
        "{m}"
    );
    let chain = a.get(&rt, "/api/v1/chains/trade");
    assert_eq!(
        chain["live"]["members"].as_array().unwrap().len(),
        4,
        "E was not admitted: {chain}"
    );

    // The audit log verifies, anchors included; a changed row is found.
    wait_for("an anchor of the audit log", 60, || {
        let export = rt.block_on(async {
            reqwest::Client::new()
                .get(format!("{base}/api/v1/audit/export"))
                .bearer_auth(&a.token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        export.lines().any(|l| l.contains("\"type\":\"anchor\""))
    });
    platform.stop();
    let mut args = vec![
        "--output", "json", "platform", "audit", "verify", "--dir", "platform",
    ];
    if let Some(db) = db {
        args.extend(["--db", db]);
    }
    let report = covenant(dir, &args).ok().json();
    assert!(report["entries"].as_i64().unwrap() > 20, "{report}");
    assert_eq!(report["findings"], json!([]));
    rt.block_on(sql(
        &url,
        "UPDATE audit_log SET result = 'ok 200' WHERE seq = 3",
    ));
    let r = covenant(dir, &args);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let report = r.json();
    assert_eq!(report["findings"][0]["seq"], 3, "{report}");
}

#[test]
fn end_to_end_on_sqlite() {
    end_to_end(None);
}

#[test]
fn end_to_end_on_postgres() {
    let Some(db) = postgres::throwaway() else {
        return;
    };
    end_to_end(Some(&db.url));
}
