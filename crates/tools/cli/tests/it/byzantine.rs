//! Byzantine nodes on real processes. The test build of the node misbehaves on command
//! (`COVENANT_MISBEHAVE`; the `misbehave` feature of the consensus, net and node crates, which
//! only these tests enable). One node of four is restarted misbehaving; the other three must keep the
//! chain safe and live and name that node — and only it — in their logs and metrics.

use std::{
    collections::BTreeSet,
    fs::OpenOptions,
    process::{Command, Stdio},
};

use crate::cluster::{Cluster, Load, full_logs};

/// `(first label, kind)` of every `metric{...}` sample in node `i`'s metrics, where the first
/// label is `node` (consensus) or `peer` (the network).
fn reported(c: &Cluster, i: usize, metric: &str, who: &str) -> BTreeSet<(String, String)> {
    let Some((_, body)) = crate::devnode::http_get(&format!("{}/metrics", c.apis[i])) else {
        return BTreeSet::new();
    };
    body.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .filter_map(|l| {
            let label = |name: &str| {
                let start = l.find(&format!("{name}=\""))? + name.len() + 2;
                let len = l[start..].find('"')?;
                Some(l[start..start + len].to_string())
            };
            Some((label(who)?, label("kind")?))
        })
        .collect()
}

/// Every write acknowledged under load is on node `i`, at the height acknowledged (once).
fn assert_acked_in_place(c: &Cluster, i: usize, acked: &[(String, u64)]) {
    let client = c.client(i);
    for (id, height) in acked {
        let tx = c.rt.block_on(client.tx(id)).unwrap();
        assert_eq!(tx.height, *height, "node {i}: {id}");
    }
}

/// Node `i` named no peer but node 3 (`peer3`, its short peer id).
fn assert_names_only(c: &Cluster, i: usize, peer3: &str) {
    let named = reported(c, i, PEER, "peer");
    assert!(
        named.iter().all(|(peer, _)| peer.starts_with(peer3)),
        "node {i} named an honest peer: {named:?}"
    );
}

/// Node 3's peer id in the short form the status shows: the peer node 0 sees and node 3 not.
fn peer_id_of_node3(c: &Cluster) -> String {
    let peers = |i: usize| -> BTreeSet<String> {
        c.engine(i)["peers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    crate::wait_for("every node to see the other three", 60, || {
        (0..4).all(|i| peers(i).len() == 3)
    });
    let only: Vec<String> = peers(0).difference(&peers(3)).cloned().collect();
    assert_eq!(only.len(), 1, "{:?} {:?}", peers(0), peers(3));
    only[0].clone()
}

/// A four-node TBFT consortium with the kv contract whose node 3 runs with
/// `COVENANT_MISBEHAVE=orders`; with node 3's peer id (short form) and its id on the chain.
fn with_misbehaving_node3(orders: &str) -> (Cluster, String, String) {
    let c = Cluster::up("tbft", "sm", 4);
    c.deploy_kv();
    let node = c.engine(3)["node"].as_str().unwrap().to_string();
    let peer = peer_id_of_node3(&c);
    c.kill9(3);
    restart_misbehaving(&c, orders);
    (c, peer, node)
}

/// Restart node 3 (stopped) with `COVENANT_MISBEHAVE=orders`.
fn restart_misbehaving(c: &Cluster, orders: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_covenant"))
        .args(["up", "--dir", c.dir.to_str().unwrap(), "--no-contracts"])
        .args(["-o", "json"])
        .current_dir(c.root.path())
        .env("COVENANT_MISBEHAVE", orders)
        .env_remove("COVENANT_OUTPUT")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_misbehaving_validator_is_named_and_the_chain_goes_on() {
    // Node 3 runs as a validator that signs a conflicting vote before each of its votes, a
    // conflicting proposal (another valid block) before each of its proposals, proposes
    // blocks whose header claims a state root execution does not give, and sends each
    // consensus message again about a chain it does not host.
    let (c, peer3, byzantine) = with_misbehaving_node3(
        "equivocate-votes,equivocate-proposals,invalid-blocks,foreign-chain",
    );
    let start = c.height(0).unwrap();
    let load = Load::start(&c, c.apis[..3].to_vec(), 3);
    let kinds = [
        "equivocating vote",
        "equivocating proposal",
        "invalid block",
    ];
    crate::wait_for(
        "every honest node to report every misbehaviour of node 3",
        180,
        || {
            (0..3).all(|i| {
                let seen = reported(&c, i, TBFT, "node");
                let foreign = reported(&c, i, PEER, "peer");
                kinds
                    .iter()
                    .all(|k| seen.contains(&(byzantine.clone(), k.to_string())))
                    && foreign.iter().any(|(peer, kind)| {
                        peer.starts_with(&peer3) && kind == "frame for a chain it does not host"
                    })
            })
        },
    );
    for i in 0..3 {
        println!(
            "node {i} reports {:?} {:?}",
            reported(&c, i, TBFT, "node"),
            reported(&c, i, PEER, "peer")
        );
    }
    // Liveness: the chain commits on, with the misbehaving validator among the four.
    let before = load.committed();
    crate::wait_for("the chain to commit on", 120, || {
        load.committed() >= before + 20
    });
    let (committed, _, acked) = load.stop_with_acks();
    assert!(committed > 0);
    c.wait_height(&[0, 1, 2, 3], c.height(0).unwrap(), 60);
    assert!(c.height(0).unwrap() > start);
    // Safety: one ledger, the misbehaving node's included; every acknowledged write in it.
    c.assert_same_ledger(&[0, 1, 2, 3]);
    for i in 0..3 {
        assert_acked_in_place(&c, i, &acked);
        // No honest node is named by another.
        let seen = reported(&c, i, TBFT, "node");
        assert!(
            seen.iter().all(|(node, _)| *node == byzantine),
            "node {i} named an honest node: {seen:?}"
        );
        assert_names_only(&c, i, &peer3);
    }
    // The logs name it too.
    let all = full_logs(&c.dir);
    for (what, who) in [
        (
            "a validator signed two conflicting messages (equivocation)",
            &byzantine,
        ),
        (
            "a validator proposed a block that fails the checks",
            &byzantine,
        ),
        ("a peer sent a frame about a chain it does not host", &peer3),
    ] {
        // By its id and by its readable name (org/node).
        assert!(
            all.lines().any(|l| l.contains(what)
                && l.contains(who.as_str())
                && l.contains(c.names[3].as_str())),
            "no log line says {what:?} naming {who} ({})",
            c.names[3]
        );
    }
    assert!(all.contains("this node misbehaves on command (a test build)"));
}

const TBFT: &str = "covenant_tbft_misbehaviour_total";
const PEER: &str = "covenant_peer_misbehaviour_total";

/// A node that serves syncing peers blocks with forged commit certificates (altered
/// signatures at even heights, one signature left at odd ones): a node catching up with only
/// that peer to ask applies none of them and names it; once honest peers are back, it catches
/// up from them, and the four ledgers are one.
#[test]
fn a_node_serving_forged_certificates_is_named_and_never_believed() {
    let (c, node3, _) = with_misbehaving_node3("forged-certificates");
    // Node 2 falls behind while the others commit.
    let before = c.height(2).unwrap();
    c.kill9(2);
    let behind = c.height(0).unwrap();
    let load = Load::start(&c, c.apis[..2].to_vec(), 2);
    crate::wait_for("the chain to commit without node 2", 120, || {
        c.height(0).is_some_and(|h| h >= behind + 6)
    });
    load.stop();
    let top = c.height(0).unwrap();
    // Only the forging node is left for node 2 to ask.
    c.kill9(0);
    c.kill9(1);
    let dir = c.node_dir(2);
    let log = OpenOptions::new()
        .append(true)
        .open(dir.join("node.log"))
        .unwrap();
    let mut node2 = Command::new(env!("CARGO_BIN_EXE_covenant"))
        .args([
            "node",
            "start",
            "--dir",
            dir.to_str().unwrap(),
            "--output",
            "json",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    std::fs::write(dir.join("node.pid"), node2.id().to_string()).unwrap();
    crate::wait_for(
        "node 2 to name the node that served forged blocks",
        120,
        || {
            reported(&c, 2, PEER, "peer")
                .iter()
                .any(|(peer, kind)| peer.starts_with(&node3) && kind == "invalid synced block")
        },
    );
    let named = reported(&c, 2, PEER, "peer");
    assert!(
        named.iter().all(|(peer, _)| peer.starts_with(&node3)),
        "node 2 named another peer: {named:?}"
    );
    // Nothing the forging node served was applied (a block in flight at the kill aside).
    let h2 = c.height(2).unwrap();
    assert!(
        h2 <= before + 1 && h2 < top,
        "node 2 applied blocks only the forging node served: at {h2}, was at {before}, the chain at {top}"
    );
    node2.kill().unwrap();
    node2.wait().unwrap();
    // The honest nodes come back: node 2 catches up from them and the chain goes on.
    c.resume();
    c.wait_height(&[0, 1, 2, 3], top, 120);
    let load = Load::start(&c, c.apis[..3].to_vec(), 2);
    crate::wait_for("the chain to commit again", 120, || load.committed() >= 5);
    load.stop();
    c.assert_same_ledger(&[0, 1, 2, 3]);
    assert!(
        full_logs(&c.dir).lines().any(|l| l
            .contains("a peer served a block that fails its checks")
            && l.contains(&node3))
    );
}

/// A validator that sends every consensus message 300 times more: the others drop what is
/// beyond a peer's allowance, name it, and the chain commits on with one ledger.
#[test]
fn a_flooding_validator_is_named_and_the_chain_goes_on() {
    let (c, peer3, _) = with_misbehaving_node3("flood");
    let load = Load::start(&c, c.apis[..3].to_vec(), 3);
    crate::wait_for("every honest node to name the flooding node", 120, || {
        (0..3).all(|i| {
            reported(&c, i, PEER, "peer")
                .iter()
                .any(|(peer, kind)| peer.starts_with(&peer3) && kind == "consensus flood")
        })
    });
    let before = load.committed();
    crate::wait_for("the chain to commit on", 120, || {
        load.committed() >= before + 20
    });
    load.stop();
    let top = c.height(0).unwrap();
    c.wait_height(&[0, 1, 2, 3], top, 60);
    c.assert_same_ledger(&[0, 1, 2, 3]);
    for i in 0..3 {
        assert_names_only(&c, i, &peer3);
    }
    assert!(
        full_logs(&c.dir)
            .lines()
            .any(|l| l.contains("a peer floods consensus messages") && l.contains(&peer3))
    );
}

/// A node that sends old consensus messages of its own again (from five heights back) with
/// each new one, and passes on again the transactions of the block five heights back after
/// each commit: the others name it for both, take nothing twice, and the chain commits on
/// with one ledger.
#[test]
fn a_replaying_node_is_named_and_nothing_is_taken_twice() {
    let (c, peer3, _) = with_misbehaving_node3("replay");
    let load = Load::start(&c, c.apis[..3].to_vec(), 3);
    let kinds = ["replayed consensus message", "replayed transaction"];
    crate::wait_for(
        "every honest node to name the replaying node for both",
        180,
        || {
            (0..3).all(|i| {
                let named = reported(&c, i, PEER, "peer");
                kinds.iter().all(|k| {
                    named
                        .iter()
                        .any(|(peer, kind)| peer.starts_with(&peer3) && kind == k)
                })
            })
        },
    );
    let before = load.committed();
    crate::wait_for("the chain to commit on", 120, || {
        load.committed() >= before + 20
    });
    let (_, _, acked) = load.stop_with_acks();
    let top = c.height(0).unwrap();
    c.wait_height(&[0, 1, 2, 3], top, 60);
    c.assert_same_ledger(&[0, 1, 2, 3]);
    for i in 0..3 {
        // Every acknowledged write once, where it was first committed.
        assert_acked_in_place(&c, i, &acked);
        assert_names_only(&c, i, &peer3);
        assert!(
            reported(&c, i, TBFT, "node").is_empty(),
            "node {i} reported a consensus fault"
        );
    }
    let all = full_logs(&c.dir);
    for what in [
        "a peer sent a consensus message about a height it had reported committed",
        "a peer passed on transactions it already held as committed",
    ] {
        assert!(
            all.lines()
                .any(|l| l.contains(what) && l.contains(&peer3) && l.contains(c.names[3].as_str())),
            "no log line says {what:?} naming {peer3} ({})",
            c.names[3]
        );
    }
}
