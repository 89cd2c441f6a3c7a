//! A node whose clock is minutes off, on a four-node TBFT chain (`libfaketime` from Debian
//! shifts one node process's wall clock; its monotonic clock, which timers use, stays true).
//! Five minutes ahead, its proposals are refused (a block may be at most a minute ahead of
//! a validator's clock) and the others' rounds go on; it follows their blocks. Five minutes
//! behind, it refuses the others' blocks as from its future and stops advancing, while the
//! chain goes on without it. With its clock corrected it catches up, and every node holds the
//! same ledger: no fork at any point. The rule is in `docs/RELIABILITY.md`.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::cluster::{Cluster, full_logs, logs};

/// Debian's libfaketime, if installed.
fn faketime() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .chain(std::iter::once(PathBuf::from(
            "/usr/lib/faketime/libfaketime.so.1",
        )))
        .find(|p| p.exists())
}

/// Start node `i` of `c` with its wall clock shifted by `offset` (libfaketime syntax, e.g.
/// `+5m`), logging where its log goes.
fn start_skewed(c: &Cluster, i: usize, lib: &PathBuf, offset: &str) -> Child {
    let dir = c.node_dir(i);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("node.log"))
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_covenant"))
        .args(["node", "start", "--dir", dir.to_str().unwrap()])
        .env("LD_PRELOAD", lib)
        .env("FAKETIME", offset)
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}

#[test]
fn a_node_with_a_skewed_clock_neither_forks_nor_stops_the_chain() {
    let Some(lib) = faketime() else {
        println!(
            "SKIPPED: libfaketime is not installed (Debian: apt-get install libfaketime); .ci/run installs it"
        );
        return;
    };
    let c = Cluster::up("tbft", "sm", 4);
    c.deploy_kv();

    // Five minutes ahead.
    c.kill9(3);
    let mut ahead = start_skewed(&c, 3, &lib, "+5m");
    let from = c.height(0).unwrap();
    for k in 0..8 {
        assert_eq!(c.put_waiting(0, &format!("ahead-{k}"), 30_000), "committed");
    }
    let top = c.height(0).unwrap();
    // No block from the node's future was taken.
    let client = c.client(0);
    for h in from + 1..=top {
        let b = c.rt.block_on(client.block(&h.to_string(), false)).unwrap();
        assert!(
            b.timestamp_ms <= now_ms() + 60_000,
            "block {h} is from the future: {} (now {})",
            b.timestamp_ms,
            now_ms()
        );
    }
    // Its proposals were refused for their time (it proposes in turn with the others).
    let all = logs(&c.dir);
    assert!(
        all.contains("more than a minute ahead"),
        "no proposal of the node ahead was refused for its time\nlogs:\n{all}"
    );
    // It follows the others' blocks: they are in its past.
    c.wait_height(&[3], top, 60);
    stop(&mut ahead);

    // Five minutes behind: the chain goes on without it.
    let mut behind = start_skewed(&c, 3, &lib, "-5m");
    let held = c.height(3);
    for k in 0..8 {
        assert_eq!(
            c.put_waiting(0, &format!("behind-{k}"), 30_000),
            "committed"
        );
    }
    let top = c.height(0).unwrap();
    let lagging = c.height(3);
    assert!(
        lagging.is_none_or(|h| h < top),
        "a node five minutes behind took blocks from its future (at {lagging:?}, chain at {top}, was at {held:?})\nlogs:\n{}",
        logs(&c.dir)
    );
    stop(&mut behind);

    // Corrected: it catches up, and no node holds another block at any height.
    c.resume();
    c.wait_height(&[3], top, 60);
    c.assert_same_ledger(&[0, 1, 2, 3]);
    // A block refused for its time is no proof against its proposer (the refusing node's clock
    // may be the wrong one): neither the node ahead nor the honest proposers the node behind
    // refused are named as misbehaving, though both kinds of refusal happened.
    let all = full_logs(&c.dir);
    assert!(
        all.contains("BLOCK_AHEAD_OF_CLOCK"),
        "logs:\n{}",
        logs(&c.dir)
    );
    for line in all.lines() {
        assert!(
            !line.contains("a validator proposed a block that fails the checks")
                && !line.contains("a peer served a block that fails its checks"),
            "a refusal for the time was reported as misbehaviour: {line}"
        );
    }
}
