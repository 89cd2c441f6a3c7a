//! Members on other machines, across real addresses. The test puts org B's machine in a
//! network namespace joined to this one by a veth pair, so B's node has its own IP address;
//! the platform's nodes (org A's) listen on the host's end of the pair. B registers a node
//! certified from a CSR whose key never leaves B's directory, a proposal makes it a sync node
//! of A and B's TBFT chain, B starts it from the bundle the platform made, it syncs and the
//! platform sees it; promoted to consensus node by vote, it takes part; with B's link cut the
//! chain keeps committing, and once the link is back B's node catches up.
//!
//! Needs `ip netns` (iproute2) and the right to create namespaces; where the machine forbids
//! them the test says so on its output and does nothing else.

use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::{
    covenant,
    platform::{Platform, accept, http, register, wait_proposal},
    wait_for,
};

/// A namespace with a veth pair to this one; removed (with the pair) on drop.
struct Netns {
    name: String,
    host_if: String,
    host_ip: String,
    ns_ip: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    fn create() -> Result<Netns, String> {
        let pid = std::process::id();
        let subnet = 20 + pid % 200;
        let ns = Netns {
            name: format!("cov{pid}"),
            host_if: format!("cvh{}", pid % 1_000_000),
            host_ip: format!("10.231.{subnet}.1"),
            ns_ip: format!("10.231.{subnet}.2"),
        };
        ip(&["netns", "add", &ns.name])?;
        let ns_if = format!("cvn{}", pid % 1_000_000);
        let set_up = || -> Result<(), String> {
            ip(&[
                "link",
                "add",
                &ns.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &ns_if,
            ])?;
            ip(&["link", "set", &ns_if, "netns", &ns.name])?;
            ip(&[
                "addr",
                "add",
                &format!("{}/24", ns.host_ip),
                "dev",
                &ns.host_if,
            ])?;
            ip(&["link", "set", &ns.host_if, "up"])?;
            let inside = |args: &[&str]| {
                let mut all = vec!["netns", "exec", &ns.name, "ip"];
                all.extend_from_slice(args);
                ip(&all)
            };
            inside(&["addr", "add", &format!("{}/24", ns.ns_ip), "dev", &ns_if])?;
            inside(&["link", "set", &ns_if, "up"])?;
            inside(&["link", "set", "lo", "up"])
        };
        // On failure the namespace (and the pair, once moved) goes with `ns`.
        set_up()?;
        Ok(ns)
    }

    fn link(&self, up: bool) {
        ip(&["link", "set", &self.host_if, if up { "up" } else { "down" }]).unwrap();
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_member_runs_its_node_on_its_own_machine_from_a_bundle() {
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(e) => {
            println!(
                "SKIPPED a_member_runs_its_node_on_its_own_machine_from_a_bundle: this machine does not let the test create network namespaces ({e})"
            );
            eprintln!("SKIPPED: network namespaces are not available here: {e}");
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let platform = Platform::start_with(
        dir,
        None,
        covenant_test_utils::free_ports(40),
        &["--node-host", &ns.host_ip],
    );
    let base = platform.url.clone();
    let a = register(&rt, &base, "bank-a", false);
    let b = register(&rt, &base, "bank-b", false);
    let approve = |o: &crate::platform::Org, pid: &str| {
        o.post(
            &rt,
            &format!("/api/v1/proposals/{pid}/votes"),
            json!({"decision": "approve"}),
        );
    };

    // A consortium of A and B; a network of three nodes of A, and a TBFT chain of A and B.
    let cons = a.post(&rt, "/api/v1/consortia", json!({"name": "trade"}));
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
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "network.create", "params": {"name": "net1", "nodes": [{"org_id": "bank-a", "count": 3}]}}),
    );
    // Only the orgs that run its nodes decide a network: A alone here.
    let pid = p["id"].as_str().unwrap().to_string();
    let done = wait_proposal(&rt, &a, &pid, "executed", 30);
    let net = done["outcome"]["network_id"].as_str().unwrap().to_string();
    let p = a.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "chain.create", "params": {"chain_id": "trade", "network_id": net, "orgs": ["bank-a", "bank-b"], "consensus": "tbft"}}),
    );
    let pid = p["id"].as_str().unwrap().to_string();
    approve(&b, &pid);
    wait_proposal(&rt, &a, &pid, "executed", 240);
    let chain = a.get(&rt, "/api/v1/chains/trade");
    assert!(
        chain["nodes"][0]["api_url"]
            .as_str()
            .unwrap()
            .contains(&ns.host_ip),
        "the platform's nodes listen where B's machine reaches them: {chain}"
    );

    // B's machine: a key that never leaves it, and a CSR for its node.
    let bdir = dir.join("bank-b");
    std::fs::create_dir_all(&bdir).unwrap();
    covenant(
        &bdir,
        &[
            "ca",
            "csr",
            "--suite",
            "sm",
            "--name",
            "bank-b-node1",
            "--out",
            "node",
        ],
    )
    .ok();
    let csr = std::fs::read_to_string(bdir.join("node.csr")).unwrap();
    let (api_port, grpc_port, peer_port) = (7100, 7101, 7102);
    let new_node = json!({
        "hosting": "org", "name": "bank-b-node1", "csr": csr, "host": ns.ns_ip,
        "api_port": api_port, "grpc_port": grpc_port, "peer_port": peer_port,
    });
    // Only members add nodes to a network, and a CSR must name the node.
    let z = register(&rt, &base, "bank-z", false);
    let (status, _) = http(
        &rt,
        &base,
        Some(&z.token),
        "POST",
        &format!("/api/v1/networks/{net}/nodes"),
        Some(new_node.clone()),
    );
    assert_eq!(status, 404);
    let mut misnamed = new_node.clone();
    misnamed["name"] = json!("bank-b-other");
    let (status, refused) = http(
        &rt,
        &base,
        Some(&b.token),
        "POST",
        &format!("/api/v1/networks/{net}/nodes"),
        Some(misnamed),
    );
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (400, Some("CSR_INVALID")),
        "{refused}"
    );
    let node = b.post(&rt, &format!("/api/v1/networks/{net}/nodes"), new_node);
    assert_eq!(node["hosting"], "org", "{node}");
    assert_eq!(node["state"], "remote", "{node}");
    assert_eq!(
        node["api_url"],
        format!("http://{}:{api_port}", ns.ns_ip).as_str()
    );
    let node_id = node["id"].as_str().unwrap().to_string();
    let bundle_path = format!("/api/v1/nodes/{node_id}/bundle");
    let (status, refused) = http(&rt, &base, Some(&b.token), "GET", &bundle_path, None);
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("NODE_HAS_NO_CHAINS")),
        "{refused}"
    );

    // A sync node of the chain, by vote of both orgs.
    let p = b.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "chain.add_node", "params": {"chain_id": "trade", "node_id": node_id, "role": "sync"}}),
    );
    let pid = p["id"].as_str().unwrap().to_string();
    approve(&a, &pid);
    wait_proposal(&rt, &b, &pid, "executed", 60);
    let (status, refused) = http(&rt, &base, Some(&a.token), "GET", &bundle_path, None);
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("NODE_NOT_YOURS")),
        "{refused}"
    );
    let bundle = b.get(&rt, &bundle_path);
    assert_eq!(bundle["chains"][0]["id"], "trade", "{bundle}");
    assert!(
        !bundle.to_string().contains("PRIVATE KEY"),
        "a bundle carries no key"
    );
    let bundle_file = bdir.join("bundle.json");
    std::fs::write(&bundle_file, bundle.to_string()).unwrap();

    // B starts it on its machine: it syncs, and the platform sees it there.
    let node_dir = bdir.join("node1");
    let log = std::fs::File::create(bdir.join("node.log")).unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", &ns.name])
        .arg(env!("CARGO_BIN_EXE_covenant"))
        .args(["node", "start", "--bundle"])
        .arg(&bundle_file)
        .arg("--key")
        .arg(bdir.join("node.key"))
        .arg("--dir")
        .arg(&node_dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let _node = Killed(child);
    let b_api = format!("http://{}:{api_port}", ns.ns_ip);
    let b_client = covenant_sdk::Client::new(&b_api, "trade").unwrap();
    let chain_height = || -> u64 {
        a.get(&rt, "/api/v1/chains/trade")["live"]["height"]
            .as_u64()
            .unwrap_or(0)
    };
    let b_height = || rt.block_on(b_client.info()).ok().map(|i| i.height);
    let top = chain_height();
    wait_for("B's node to sync", 120, || {
        b_height().is_some_and(|h| h >= top)
    });
    wait_for("the platform to see B's node up", 90, || {
        let n = b.get(&rt, &format!("/api/v1/nodes/{node_id}"));
        n["status"] == "up" && n["heights"]["trade"].as_u64().is_some()
    });
    let live = a.get(&rt, "/api/v1/chains/trade")["live"].clone();
    assert_eq!(live["sync_nodes"][0]["node_id"], "bank-b-node1", "{live}");
    assert_eq!(
        rt.block_on(b_client.info()).unwrap().engine["validator"],
        false
    );

    // Promoted to consensus node by vote, it takes part.
    let p = b.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "chain.promote_node", "params": {"chain_id": "trade", "node_id": node_id}}),
    );
    let pid = p["id"].as_str().unwrap().to_string();
    approve(&a, &pid);
    wait_proposal(&rt, &b, &pid, "executed", 60);
    let live = a.get(&rt, "/api/v1/chains/trade")["live"].clone();
    assert_eq!(
        live["consensus_nodes"].as_array().unwrap().len(),
        4,
        "{live}"
    );
    wait_for("B's node to vote", 60, || {
        rt.block_on(b_client.info())
            .is_ok_and(|i| i.engine["validator"] == true)
    });
    let chain_view = a.get(&rt, "/api/v1/chains/trade");
    assert!(
        chain_view["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == "bank-b-node1" && n["role"] == "consensus"),
        "{chain_view}"
    );

    // Evidence to commit: a contract installed by proposal (the chain's policy: any member).
    let wasm = std::fs::read(covenant_test_utils::contracts::example_wasm("evidence")).unwrap();
    let code = covenant_api_types::json::b64_encode(&wasm);
    let p = a.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "contract.install", "params": {"chain_id": "trade", "name": "evidence", "code": code}}),
    );
    wait_proposal(&rt, &a, p["id"].as_str().unwrap(), "executed", 90);
    let put = |i: u32| -> Value {
        a.post(
            &rt,
            "/api/v1/chains/trade/contracts/evidence/invoke",
            json!({"method": "put", "args": {"hash": format!("{i:04}ccddeeff00112233"), "meta": "cut"}}),
        )
    };

    // B's link cut: the chain of four keeps committing with three.
    ns.link(false);
    let mut last = 0;
    for i in 0..3 {
        let r = put(i);
        assert_eq!(r["result"]["code"], "OK", "{r}");
        last = r["height"].as_u64().unwrap();
    }
    assert!(
        b_height().is_none(),
        "B's node is reachable through a cut link"
    );

    // Back: B's node catches up and holds the same blocks.
    ns.link(true);
    wait_for("B's node to catch up", 120, || {
        b_height().is_some_and(|h| h >= last)
    });
    let ours = rt
        .block_on(
            covenant_sdk::Client::new(chain_view["nodes"][0]["api_url"].as_str().unwrap(), "trade")
                .unwrap()
                .block(&last.to_string(), false),
        )
        .unwrap();
    let theirs = rt
        .block_on(b_client.block(&last.to_string(), false))
        .unwrap();
    assert_eq!(ours.hash, theirs.hash);
    let r = put(99);
    assert_eq!(r["result"]["code"], "OK", "{r}");
}
