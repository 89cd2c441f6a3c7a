//! Byzantine validators on real processes. The test build of the node misbehaves on command
//! (`COVENANT_MISBEHAVE`; the `misbehave` feature of the consensus crate, which only these
//! tests enable): one validator of four is restarted as one that signs a conflicting vote
//! before each of its votes, a conflicting proposal (another valid block) before each of its
//! proposals, and proposes blocks whose header claims a state root execution does not give.
//! The other three must keep committing, hold the same ledger as each other, and name that
//! validator — and only it — in their logs and in `covenant_tbft_misbehaviour_total`.

use std::{collections::BTreeSet, process::Command};

use crate::cluster::{Cluster, Load, logs};

/// `(node, kind)` of every misbehaviour counted in node `i`'s metrics.
fn reported(c: &Cluster, i: usize) -> BTreeSet<(String, String)> {
    let Some((_, body)) = crate::devnode::http_get(&format!("{}/metrics", c.apis[i])) else {
        return BTreeSet::new();
    };
    body.lines()
        .filter(|l| l.starts_with("covenant_tbft_misbehaviour_total{"))
        .filter_map(|l| {
            let label = |name: &str| {
                let start = l.find(&format!("{name}=\""))? + name.len() + 2;
                let len = l[start..].find('"')?;
                Some(l[start..start + len].to_string())
            };
            Some((label("node")?, label("kind")?))
        })
        .collect()
}

#[test]
fn a_misbehaving_validator_is_named_and_the_chain_goes_on() {
    let c = Cluster::up("tbft", "sm", 4);
    c.deploy_kv();
    let byzantine = c.engine(3)["node"].as_str().unwrap().to_string();
    // Node 3 comes back as a validator that misbehaves in every way it is told to.
    c.kill9(3);
    let out = Command::new(env!("CARGO_BIN_EXE_covenant"))
        .args(["up", "--dir", c.dir.to_str().unwrap(), "--no-contracts"])
        .args(["-o", "json"])
        .current_dir(c.root.path())
        .env(
            "COVENANT_MISBEHAVE",
            "equivocate-votes,equivocate-proposals,invalid-blocks",
        )
        .env_remove("COVENANT_OUTPUT")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
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
                let seen = reported(&c, i);
                kinds
                    .iter()
                    .all(|k| seen.contains(&(byzantine.clone(), k.to_string())))
            })
        },
    );
    for i in 0..3 {
        println!("node {i} reports {:?}", reported(&c, i));
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
        let client = c.client(i);
        for (id, height) in &acked {
            let tx = c.rt.block_on(client.tx(id)).unwrap();
            assert_eq!(tx.height, *height, "node {i}: {id}");
        }
        // No honest node is named by another.
        let seen = reported(&c, i);
        assert!(
            seen.iter().all(|(node, _)| *node == byzantine),
            "node {i} named an honest node: {seen:?}"
        );
    }
    // The logs name it too.
    let all = logs(&c.dir);
    for what in [
        "a validator signed two conflicting messages (equivocation)",
        "a validator proposed a block that fails the checks",
    ] {
        assert!(
            all.lines()
                .any(|l| l.contains(what) && l.contains(&byzantine)),
            "no log line says {what:?} naming {byzantine}"
        );
    }
    assert!(all.contains("this validator misbehaves on command (a test build)"));
}
