//! The API is not a way to stop the chain: a node whose REST port is flooded with more
//! half-sent requests than it has descriptors keeps committing blocks, serves its other
//! clients, never runs out of descriptors for its own files, and answers again once the
//! flood is over.

use std::{
    io::Write,
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use covenant_api_types::pb::{SubmitTxRequest, chain_client::ChainClient};
use prost::Message;
use serde_json::json;

use crate::{
    devnode::{DevNode, http_get},
    node::signed_tx,
    wait_for,
};

/// The node runs with this many descriptors (`ulimit -n`).
const NODE_DESCRIPTORS: u64 = 512;

/// Raise this process's soft descriptor limit to its hard limit; the soft limit after.
fn raise_own_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let l = getrlimit(Resource::Nofile);
    if let Some(max) = l.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(max),
                maximum: Some(max),
            },
        );
    }
    getrlimit(Resource::Nofile).current.unwrap_or(1024)
}

#[test]
fn a_flooded_api_does_not_stop_the_chain() {
    let ours = raise_own_limit();
    // Well beyond what the node could hold if it accepted them all.
    let flood = ours.saturating_sub(200).min(1_500) as usize;
    assert!(
        flood as u64 > NODE_DESCRIPTORS + 100,
        "this test needs more than {} descriptors (has {ours})",
        NODE_DESCRIPTORS + 300
    );
    let mut node = DevNode::init(&["--suite", "intl", "--key-algorithm", "ed25519"]);
    node.start_with(&[], Some(NODE_DESCRIPTORS))
        .expect("node starts");
    node.deploy("kv", "kv", &[]);

    // The flood: connections that send half a request and then nothing.
    let addr: SocketAddr = format!("127.0.0.1:{}", node.api_port).parse().unwrap();
    let mut held = Vec::new();
    let mut refused = 0;
    while held.len() < flood && refused < 3 {
        // Past the node's limit and the kernel's backlog, connecting times out: the flood is
        // as large as it gets.
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(mut s) => {
                let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nhost: node\r\n");
                held.push(s);
            }
            Err(_) => refused += 1,
        }
    }
    // More clients than the node serves at once: the rest wait in the kernel's backlog (and
    // past it, connecting times out), costing the node no descriptor. A node that accepted
    // them all would run out (seen with the limit removed).
    let budget = covenant_http::connection_budget(1024, 2, Some(NODE_DESCRIPTORS));
    assert!(
        held.len() > budget,
        "only {} connections made, the node serves {budget}",
        held.len()
    );

    // Meanwhile the chain goes on: transactions through the gRPC API commit one after another.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let committed = rt.block_on(async {
        let channel =
            tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{}", node.grpc_port))
                .unwrap()
                .connect()
                .await
                .unwrap();
        let mut c = ChainClient::new(channel);
        let mut heights = Vec::new();
        for i in 0..10 {
            let tx = signed_tx(
                &node,
                "client",
                "kv",
                "put",
                json!({"key": format!("f{i}"), "value": "x"}),
            );
            let r = c
                .submit_tx(SubmitTxRequest {
                    chain_id: "main".into(),
                    transaction: Some(covenant_types::Transaction::decode(tx.as_slice()).unwrap()),
                    wait: true,
                    timeout_ms: 20_000,
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                r.status, "committed",
                "transaction {i} did not commit during the flood"
            );
            heights.push(r.height);
        }
        heights
    });
    assert!(committed.windows(2).all(|w| w[1] > w[0]), "{committed:?}");
    let log = node.log();
    assert!(
        !log.contains("Too many open files"),
        "the node ran out of descriptors:\n{log}"
    );

    // The flood ends: the REST API answers again.
    drop(held);
    wait_for("the REST API to answer after the flood", 60, || {
        http_get(&format!("{}/healthz", node.api)).is_some_and(|(s, _)| s == 200)
    });
}

/// Descriptors the process `pid` holds.
fn descriptors(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Peers that connect and stall — opening the TCP connection and never starting TLS — hold
/// at most the node's handshake slots; the rest are closed at accept. The chain commits
/// throughout, with the flooded node among its four validators, and its descriptors stay
/// bounded.
#[test]
fn stalled_peer_connections_hold_a_bounded_number_of_descriptors() {
    let ours = raise_own_limit();
    let flood = ours.saturating_sub(300).min(1_500) as usize;
    assert!(
        flood > 600,
        "this test needs more than 900 descriptors (has {ours})"
    );
    let c = crate::cluster::Cluster::up("tbft", "sm", 4);
    c.deploy_kv();
    let pid = c.pid(0).expect("node pid");
    let toml = std::fs::read_to_string(c.node_dir(0).join("node.toml")).unwrap();
    let peer = toml
        .lines()
        .find_map(|l| l.trim().strip_prefix("peer_listen = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("a peer address in node.toml");
    let addr: SocketAddr = peer.parse().unwrap();
    let before = descriptors(pid);

    let mut held = Vec::new();
    let mut refused = 0;
    while held.len() < flood && refused < 3 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(_) => refused += 1,
        }
    }
    assert!(held.len() > 600, "only {} connections made", held.len());
    // The node took at most its handshake slots (128) of them.
    let during = descriptors(pid);
    assert!(
        during <= before + 128 + 32,
        "{during} descriptors with {} stalled peers open (was {before})",
        held.len()
    );
    // With node 3 stopped, node 0 must vote for anything to commit: it does.
    c.kill9(3);
    for i in 0..5 {
        assert_eq!(
            c.put_waiting(0, &format!("stall-{i}"), 30_000),
            "committed",
            "transaction {i} did not commit during the flood"
        );
    }
    drop(held);
    wait_for("the node's descriptors to settle", 30, || {
        descriptors(pid) <= before + 16
    });
}

/// Resident memory of the process `pid`, in KiB.
fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// One round of client churn: `n` clients, 32 at a time, each on its own connection, of four
/// kinds in turn — a REST read, a read-only contract call, a WebSocket subscription dropped
/// after its first block, and a connection closed without a word. Every answer is checked.
fn churn(rt: &tokio::runtime::Runtime, api_port: u16, n: usize) {
    use futures::{StreamExt, stream};
    let base = format!("http://127.0.0.1:{api_port}/v1/chains/main");
    let ws =
        format!("ws://127.0.0.1:{api_port}/v1/chains/main/subscribe?kind=blocks&from_height=1");
    let addr: SocketAddr = format!("127.0.0.1:{api_port}").parse().unwrap();
    rt.block_on(async {
        let failures: Vec<String> = stream::iter(0..n)
            .map(|i| {
                let (base, ws) = (base.clone(), ws.clone());
                async move {
                    match i % 4 {
                        0 => {
                            // A new client is a new connection.
                            let r = reqwest::Client::new().get(&base).send().await;
                            match r {
                                Ok(r) if r.status() == 200 => None,
                                other => Some(format!("GET {base}: {other:?}")),
                            }
                        }
                        1 => {
                            let r = reqwest::Client::new()
                                .post(format!("{base}/query"))
                                .json(&json!({"contract": "kv", "method": "get", "args": {"key": "k"}}))
                                .send()
                                .await;
                            match r {
                                Ok(r) if r.status() == 200 => None,
                                other => Some(format!("query: {other:?}")),
                            }
                        }
                        2 => {
                            use futures::StreamExt as _;
                            match tokio_tungstenite::connect_async(&ws).await {
                                Ok((mut s, _)) => match tokio::time::timeout(
                                    Duration::from_secs(10),
                                    s.next(),
                                )
                                .await
                                {
                                    Ok(Some(Ok(_))) => None,
                                    other => Some(format!("subscription: {other:?}")),
                                },
                                Err(e) => Some(format!("subscribe: {e}")),
                            }
                        }
                        _ => match tokio::net::TcpStream::connect(addr).await {
                            Ok(s) => {
                                drop(s);
                                None
                            }
                            Err(e) => Some(format!("connect: {e}")),
                        },
                    }
                }
            })
            .buffer_unordered(32)
            .filter_map(|f| async move { f })
            .collect()
            .await;
        assert!(
            failures.is_empty(),
            "{} of {n} clients failed, first: {}",
            failures.len(),
            failures[0]
        );
    });
}

/// Thousands of clients that connect, ask and go — REST reads, contract queries, WebSocket
/// subscriptions dropped mid-stream, connections closed unused — leave the node as they
/// found it: its descriptors return to their level after each round, and a further 6,000
/// clients after the first 2,000 (which warm its caches and allocator) cost it almost no
/// resident memory. It commits throughout.
#[test]
fn client_churn_leaves_descriptors_and_memory_bounded() {
    raise_own_limit();
    let mut node = DevNode::init(&["--suite", "intl", "--key-algorithm", "ed25519"]);
    node.start_with(&[], Some(NODE_DESCRIPTORS))
        .expect("node starts");
    node.deploy("kv", "kv", &[]);
    let pid = node.pid().expect("the node runs");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let put = |i: usize| {
        node.cli(&[
            "contract",
            "invoke",
            "kv",
            "put",
            "--args",
            &format!(r#"{{"key":"churn-{i}","value":"v"}}"#),
        ])
        .ok();
    };
    let before = descriptors(pid);

    churn(&rt, node.api_port, 2_000);
    put(0);
    wait_for("the node's descriptors to settle", 30, || {
        descriptors(pid) <= before + 16
    });
    let warm = rss_kib(pid);

    for round in 1..=3 {
        churn(&rt, node.api_port, 2_000);
        put(round);
        wait_for("the node's descriptors to settle", 30, || {
            descriptors(pid) <= before + 16
        });
    }
    let after = rss_kib(pid);
    println!(
        "descriptors {before} before, {} after; resident memory {warm} KiB after 2,000 clients, {after} KiB after 8,000",
        descriptors(pid)
    );
    // A leak of even 2 KiB per client would show as 12 MiB here.
    assert!(
        after <= warm + 8 * 1024,
        "resident memory grew from {warm} KiB to {after} KiB over 6,000 more clients"
    );
    assert!(
        !node.log().contains("Too many open files"),
        "the node ran out of descriptors"
    );
}
