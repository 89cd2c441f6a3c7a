//! Consortia of real node processes on loopback (`covenant up`): consensus across processes,
//! a crashed node catching up, a chain that halts without a quorum and resumes without a fork,
//! a 5th consensus node added by proposal under load, and a revoked node shut out.

use std::{path::Path, process::Command};

use covenant_test_utils::free_ports;
use serde_json::json;

use crate::{
    cluster::{Cluster, Load, logs},
    covenant, wait_for,
};

/// Crash one node under load; the rest go on and it catches up. Stop two of four; the chain
/// halts, and resumes without a fork when they come back.
fn crash_and_quorum_loss(consensus: &str, suite: &str) {
    let c = Cluster::up(consensus, suite, 4);
    let status = c.status();
    for n in status["nodes"].as_array().unwrap() {
        assert_eq!(n["running"], true, "{status}");
        assert_eq!(n["role"], "consensus");
        assert!(n["pid"].as_u64().is_some());
    }
    c.deploy_kv();
    let load = Load::start(&c, c.apis.clone(), 3);
    let h0 = c.height(0).unwrap();
    c.wait_height(&[0, 1, 2, 3], h0 + 3, 60);

    // One node crashes — under Raft, the leader — and the other three keep committing.
    let victim = if consensus == "raft" {
        let leader = c.engine(0)["leader"].as_str().unwrap().to_string();
        (0..4)
            .find(|i| c.engine(*i)["raft_id"] == leader.as_str())
            .unwrap()
    } else {
        3
    };
    c.kill9(victim);
    let alive: Vec<usize> = (0..4).filter(|i| *i != victim).collect();
    let h1 = c.height(alive[0]).unwrap();
    let before = load.committed();
    c.wait_height(&alive, h1 + 5, 60);
    if consensus == "raft" {
        wait_for("a new leader", 30, || {
            let e = c.engine(alive[0]);
            e["leader"].is_string() && e["leader"] != c.engine(victim)["raft_id"]
        });
    }
    wait_for("clients to commit with a node down", 60, || {
        load.committed() > before + 5
    });
    // It comes back and catches up.
    c.resume();
    let h2 = c.height(alive[0]).unwrap();
    c.wait_height(&[victim], h2, 60);

    // Two of four stop: no quorum, no blocks.
    c.kill9(2);
    c.kill9(3);
    // A transaction sent now is still pending when its wait ends (blocks in flight at the
    // kill land meanwhile); so is the next one, and no height moves while it waits.
    assert_eq!(c.put_waiting(0, "quorum-lost-1", 3_000), "pending");
    let stalled = c.heights(&[0, 1]);
    assert_eq!(c.put_waiting(1, "quorum-lost-2", 5_000), "pending");
    assert_eq!(
        c.heights(&[0, 1]),
        stalled,
        "two of four nodes must not commit alone"
    );
    // They return: the chain resumes.
    c.resume();
    let top = stalled.iter().flatten().max().copied().unwrap();
    c.wait_height(&[0, 1, 2, 3], top + 3, 90);
    let (committed, _) = load.stop();
    assert!(committed > 20, "only {committed} transactions committed");
    c.assert_same_ledger(&[0, 1, 2, 3]);
    let down = c.down();
    assert_eq!(down["stopped"].as_array().unwrap().len(), 4);
    assert!(
        c.status()["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["running"] == false)
    );
}

#[test]
fn tbft_survives_a_crash_and_halts_without_a_quorum() {
    crash_and_quorum_loss("tbft", "sm");
}

struct ExtraNode {
    cert_pem: String,
    api: String,
    peer: String,
    child: std::process::Child,
}

impl Drop for ExtraNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start an extra node of org1 in `c`'s directory, listening on fresh ports.
fn extra_node(c: &Cluster, name: &str) -> ExtraNode {
    let ca = c.dir.join("orgs/org1/ca");
    let issued = covenant(
        c.root.path(),
        &[
            "ca",
            "issue",
            "--dir",
            ca.to_str().unwrap(),
            "--role",
            "node",
            "--name",
            name,
            "--host",
            "127.0.0.1",
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    let cert = Path::new(issued["cert"].as_str().unwrap()).to_path_buf();
    let key = Path::new(issued["key"].as_str().unwrap()).to_path_buf();
    let base = free_ports(5);
    let (api, grpc, peer) = (base, base + 1, base + 2);
    let node_dir = c.dir.join("nodes").join(name);
    std::fs::create_dir_all(&node_dir).unwrap();
    let toml = format!(
        "[node]\nname = \"{name}\"\ndata_dir = \"data\"\napi_listen = \"127.0.0.1:{api}\"\n\
grpc_listen = \"127.0.0.1:{grpc}\"\ncert = \"{}\"\nkey = \"{}\"\npeer_listen = \"127.0.0.1:{peer}\"\n\n\
[[chains]]\nid = \"main\"\ngenesis = \"{}\"\n\n[tbft]\npropose_ms = 1500\nvote_ms = 500\nper_round_ms = 250\n",
        cert.display(),
        key.display(),
        c.dir.join("genesis/main.block").display()
    );
    std::fs::write(node_dir.join("node.toml"), toml).unwrap();
    let log = std::fs::File::create(node_dir.join("node.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_covenant"))
        .args(["node", "start", "--dir", node_dir.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    ExtraNode {
        cert_pem: std::fs::read_to_string(&cert).unwrap(),
        api: format!("http://127.0.0.1:{api}"),
        peer: format!("127.0.0.1:{peer}"),
        child,
    }
}

/// Add a 5th consensus node by proposal while clients keep submitting; it catches up and
/// votes. Revoke another node's certificate: its peers shut it out, and it cannot rejoin.
fn membership_under_load(consensus: &str, suite: &str) {
    let c = Cluster::up(consensus, suite, 4);
    c.deploy_kv();
    let load = Load::start(&c, c.apis.clone(), 3);

    // The new node starts first: its peers refuse it until the chain config lists it.
    let fifth = extra_node(&c, "org1-node2");
    let client5 = covenant_sdk::Client::new(&fifth.api, "main").unwrap();
    let height5 = || c.rt.block_on(client5.info()).ok().map(|i| i.height);
    let node = json!({
        "org_id": "org1",
        "node_id": "org1-node2",
        "certificate": fifth.cert_pem,
        "address": fifth.peer,
    });
    if consensus == "tbft" {
        // First a sync node: it follows the chain without voting...
        c.config_update(json!({ "add_sync_node": node }));
        let top = c.height(0).unwrap();
        wait_for("the sync node to follow", 90, || {
            height5().is_some_and(|h| h >= top)
        });
        let engine5 = c.rt.block_on(client5.info()).unwrap().engine;
        assert_eq!(engine5["validator"], false, "{engine5}");
        assert_eq!(c.engine(0)["validators"], 4);
        // ...then promoted to a consensus node.
        c.config_update(json!({"promote_sync_node": {"node_id": "org1-node2"}}));
    } else {
        c.config_update(json!({ "add_node": node }));
    }
    let config = c.cli(&["chain", "config", "-o", "json"]).ok().json();
    assert_eq!(
        config["consensus"]["nodes"].as_array().unwrap().len(),
        5,
        "{config}"
    );
    let top = c.height(0).unwrap();
    wait_for("the 5th node to catch up", 90, || {
        height5().is_some_and(|h| h >= top)
    });
    if consensus == "raft" {
        // Raft adds it as a learner, then a voter once it caught up with the log.
        wait_for("the raft voters to include the 5th node", 90, || {
            c.engine(0)["voters"]
                .as_array()
                .is_some_and(|v| v.len() == 5)
        });
    } else {
        wait_for("five validators", 30, || c.engine(0)["validators"] == 5);
    }
    // With five voters, TBFT needs four and Raft three: with one (TBFT) or two (Raft) of the
    // first four down, blocks need the new node's votes.
    let (down, up): (&[usize], &[usize]) = if consensus == "tbft" {
        (&[3], &[0, 1, 2])
    } else {
        (&[2, 3], &[0, 1])
    };
    for i in down {
        c.kill9(*i);
    }
    let h = c.height(0).unwrap();
    c.wait_height(up, h + 3, 90);
    wait_for("the 5th node to follow", 60, || {
        height5().is_some_and(|x| x >= h + 3)
    });
    c.resume();

    // org4 revokes its own node's certificate (its admin owns it).
    let org4_node = c.read("orgs/org4/ca/identities/org4-node/cert.pem");
    let out = c
        .cli(&[
            "contract",
            "invoke",
            "sys.certs",
            "revoke",
            "--args",
            &json!({"cert": org4_node, "reason": "key compromise"}).to_string(),
            "--as",
            "org4-admin",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(out["code"], "OK", "{out}");
    let revoked_at = out["height"].as_u64().unwrap();
    // The others go on without it; it stays behind, even after a restart.
    c.kill9(3);
    c.resume();
    let h = c.height(0).unwrap();
    c.wait_height(&[0, 1, 2], h + 5, 90);
    wait_for("the 5th node to follow", 60, || {
        height5().is_some_and(|x| x >= h + 5)
    });
    let h4 = c.height(3).unwrap();
    assert!(
        h4 <= revoked_at + 1,
        "the revoked node kept up: it is at {h4}, revoked at {revoked_at}\n{}",
        logs(&c.dir)
    );
    let metrics = crate::devnode::http_get(&format!("{}/metrics", c.apis[0]))
        .unwrap()
        .1;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("covenant_net_rejections_total") && l.contains("REVOKED")),
        "no REVOKED rejection counted:\n{}",
        metrics
            .lines()
            .filter(|l| l.contains("net"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The revoked node leaves the consensus nodes; the chain goes on with four.
    c.config_update(json!({"remove_node": "org4-node"}));
    let h = c.height(0).unwrap();
    c.wait_height(&[0, 1, 2], h + 3, 90);
    if consensus == "raft" {
        wait_for("the raft voters to drop the removed node", 90, || {
            c.engine(0)["voters"]
                .as_array()
                .is_some_and(|v| v.len() == 4)
        });
    } else {
        wait_for("four validators", 30, || c.engine(0)["validators"] == 4);
    }

    // A new org joins by vote; its client transacts through another org's node; then it is
    // voted out and its client is refused.
    let org5 = c.root.path().join("org5-ca");
    covenant(
        c.root.path(),
        &[
            "ca",
            "init",
            "--org",
            "org5",
            "--suite",
            suite,
            "--dir",
            org5.to_str().unwrap(),
        ],
    )
    .ok();
    let issued = covenant(
        c.root.path(),
        &[
            "ca",
            "issue",
            "--dir",
            org5.to_str().unwrap(),
            "--role",
            "client",
            "--name",
            "client",
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    let signer = covenant_sdk::Signer::load(
        Path::new(issued["cert"].as_str().unwrap()),
        Path::new(issued["key"].as_str().unwrap()),
    )
    .unwrap();
    let put_as_org5 = |key: &str| {
        let tx = signer
            .sign(
                covenant_types::tx::TxBuilder::new("main", "kv", "put")
                    .args_json(&json!({"key": key, "value": "org5"})),
            )
            .unwrap();
        c.rt.block_on(c.client(1).submit(&tx, true))
    };
    let refused = put_as_org5("before").unwrap_err();
    assert_eq!(refused.code(), "SENDER_UNTRUSTED", "{refused}");
    let root = std::fs::read_to_string(org5.join("root.crt")).unwrap();
    let at = c.config_update(json!({"add_org": {"org_id": "org5", "trust_roots": [root]}}));
    // The change holds from the next block, on each node once it committed that block.
    c.wait_height(&[1], at, 30);
    let r = put_as_org5("member").unwrap();
    assert_eq!(r.result.unwrap().code, "OK");
    let at = c.config_update(json!({ "remove_org": "org5" }));
    c.wait_height(&[1], at, 30);
    let refused = put_as_org5("after").unwrap_err();
    assert_eq!(refused.code(), "SENDER_UNTRUSTED", "{refused}");

    let (committed, _) = load.stop();
    assert!(committed > 20, "only {committed} transactions committed");
    c.assert_same_ledger(&[0, 1, 2]);
    let top = c.height(0).unwrap();
    wait_for("the 5th node to be level", 30, || height5() == Some(top));
    let b5 =
        c.rt.block_on(client5.block(&top.to_string(), false))
            .unwrap();
    assert_eq!(Some(b5.hash), c.block_hash(0, top));
}

#[test]
fn tbft_adds_a_fifth_node_under_load_and_shuts_out_a_revoked_one() {
    membership_under_load("tbft", "intl");
}

#[test]
fn raft_survives_a_crash_and_halts_without_a_quorum() {
    crash_and_quorum_loss("raft", "intl");
}

#[test]
fn raft_adds_a_fifth_node_under_load_and_shuts_out_a_revoked_one() {
    membership_under_load("raft", "sm");
}

/// Two chains on the same four node processes: separate ledgers, pools and consensus over the
/// same connections; a crashed node stops neither.
#[test]
fn one_set_of_processes_runs_two_chains_apart() {
    let c = Cluster::up_with("tbft", "sm", 4, &["--chain", "main", "--chain", "audit"]);
    c.deploy_kv();
    let put = |chain: &str, key: &str| {
        c.cli(&[
            "contract",
            "invoke",
            "kv",
            "put",
            "--chain",
            chain,
            "--args",
            &json!({"key": key, "value": chain}).to_string(),
            "-o",
            "json",
        ])
    };
    assert_eq!(put("main", "a").ok().json()["code"], "OK");
    // The audit chain has no kv contract: each chain has its own state.
    let r = put("audit", "a");
    assert_ne!(r.code, 0);
    assert!(
        r.stdout.contains("kv") || r.stderr.contains("kv"),
        "{} {}",
        r.stdout,
        r.stderr
    );
    let register = |chain: &str| {
        let pem = c.read("orgs/org2/ca/identities/client/cert.pem");
        c.cli(&[
            "contract",
            "invoke",
            "sys.certs",
            "register",
            "--chain",
            chain,
            "--args",
            &json!({ "cert": pem }).to_string(),
            "-o",
            "json",
        ])
        .ok()
        .json()
    };
    let audit_before = c.chain_height(0, "audit").unwrap();
    assert_eq!(register("audit")["code"], "OK");
    assert_eq!(c.chain_height(0, "audit"), Some(audit_before + 1));
    // One process dies: both chains go on.
    c.kill9(2);
    let main_before = c.chain_height(0, "main").unwrap();
    assert_eq!(put("main", "b").ok().json()["code"], "OK");
    assert_eq!(register("audit")["code"], "OK");
    wait_for("both chains past the crash", 60, || {
        c.chain_height(1, "main").is_some_and(|h| h > main_before)
            && c.chain_height(1, "audit")
                .is_some_and(|h| h > audit_before + 1)
    });
    c.resume();
    for chain in ["main", "audit"] {
        let top = c.chain_height(0, chain).unwrap();
        wait_for("the restarted node on both chains", 60, || {
            c.chain_height(2, chain).is_some_and(|h| h >= top)
        });
    }
    let engine = c.engine(0);
    assert_eq!(engine["kind"], "tbft", "{engine}");
}

/// What `covenant up` refuses, with stable codes, and what status and down say about a
/// directory without a consortium.
#[test]
fn up_refuses_taken_ports_and_foreign_directories() {
    let root = tempfile::tempdir().unwrap();
    let base = free_ports(50);
    let taken = std::net::TcpListener::bind(("127.0.0.1", base + 12)).unwrap();
    let r = covenant(
        root.path(),
        &[
            "up",
            "--dir",
            "c",
            "--base-port",
            &base.to_string(),
            "--no-contracts",
        ],
    )
    .fails_with("PORT_IN_USE");
    assert!(r.stderr.contains(&(base + 12).to_string()), "{}", r.stderr);
    assert!(!root.path().join("c").exists(), "nothing is left behind");
    drop(taken);

    std::fs::create_dir_all(root.path().join("busy")).unwrap();
    std::fs::write(root.path().join("busy/notes.txt"), "mine").unwrap();
    covenant(root.path(), &["up", "--dir", "busy", "--no-contracts"])
        .fails_with("DIR_INCONSISTENT");
    assert_eq!(
        std::fs::read_to_string(root.path().join("busy/notes.txt")).unwrap(),
        "mine"
    );
    covenant(root.path(), &["status", "--dir", "busy"]).fails_with("NO_CONSORTIUM");
    covenant(root.path(), &["down", "--dir", "busy"]).fails_with("NO_CONSORTIUM");
    covenant(root.path(), &["up", "--dir", "x", "--consensus", "paxos"])
        .fails_with("INVALID_ARGUMENT");
    covenant(root.path(), &["up", "--dir", "x", "--orgs", "0"]).fails_with("INVALID_ARGUMENT");
}

/// A validator whose consensus journal cannot be opened must not run at all (it could sign
/// twice after a restart): `node start` exits with the reason, and `up` says which node.
#[test]
fn a_validator_without_its_journal_refuses_to_start() {
    let c = Cluster::up("tbft", "intl", 1);
    c.down();
    let node = c.node_dir(0);
    let wal = node.join("data/chains/main/tbft.wal");
    assert!(wal.is_file(), "{} is the journal", wal.display());
    std::fs::remove_file(&wal).unwrap();
    std::fs::create_dir(&wal).unwrap();
    let r = covenant(
        c.root.path(),
        &["node", "start", "--dir", node.to_str().unwrap()],
    );
    assert_ne!(r.code, 0, "{}", r.stdout);
    let last = r.stderr.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error[NODE_START_FAILED]")
            && last.contains("cannot open the consensus journal"),
        "{}",
        r.stderr
    );
}

/// A failed `up` stops what it started: here a node's port is taken between runs, so the
/// resumed `up` starts the nodes before it and then fails; none of them is left running.
#[test]
fn a_failed_up_stops_the_nodes_it_started() {
    let c = Cluster::up("raft", "intl", 3);
    c.down();
    let status = c.status();
    let third_api = status["nodes"][2]["api"].as_str().unwrap().to_string();
    let port: u16 = third_api.rsplit(':').next().unwrap().parse().unwrap();
    let taken = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let r = covenant(
        c.root.path(),
        &["up", "--dir", c.dir.to_str().unwrap(), "--no-contracts"],
    )
    .fails_with_code("PORT_IN_USE");
    assert!(r.stderr.contains("started org1-node"), "{}", r.stderr);
    let after = c.status();
    for n in after["nodes"].as_array().unwrap() {
        assert_eq!(n["running"], false, "{after}");
    }
    drop(taken);
    // And the consortium resumes once the port is free.
    c.resume();
}

/// `covenant up` starts the platform beside the nodes with every org, the network and the
/// chain registered, and prints its URL and a login whose password is in a 0600 file;
/// `status` shows it and `down` stops it.
#[test]
fn up_starts_the_platform_with_the_consortium_registered() {
    use std::os::unix::fs::PermissionsExt as _;
    let c = Cluster::up("tbft", "sm", 2);
    let url = c.platform["url"].as_str().unwrap().to_string();
    let login = c.platform["login"].as_str().unwrap().to_string();
    let file = std::path::PathBuf::from(c.platform["password_file"].as_str().unwrap());
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let password = text
        .lines()
        .find(|l| l.starts_with(&format!("{login} ")))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap()
        .to_string();
    let chain = c.rt.block_on(async {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{url}/api/v1/auth/login"))
            .json(&json!({"username": login, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        http.get(format!("{url}/api/v1/chains/main"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    });
    assert_eq!(chain["live"]["members"], json!(["org1", "org2"]), "{chain}");
    assert!(chain["live"]["height"].as_u64().unwrap() >= 1);
    let status = c.status();
    assert_eq!(status["platform"]["running"], true, "{status}");
    let down = c.down();
    assert!(down["platform_stopped"].is_u64(), "{down}");
    assert_eq!(c.status()["platform"]["running"], false);
}
