//! Archiving on real processes: one node of four moves its old block bodies into an archive
//! while the chain keeps committing, serves them through the archive (and a clear code while
//! the archive is offline), refuses to archive while a consensus node is unaccounted for, and
//! restores every block exactly.

use std::path::PathBuf;

use serde_json::Value;

use crate::{cluster::Cluster, covenant, devnode::http_get};

fn blocks_bytes(c: &Cluster, i: usize) -> u64 {
    std::fs::read_dir(c.node_dir(i).join("data/chains/main/blocks"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

/// Node `i`'s answer for block `h` with its raw bytes.
fn block_raw(c: &Cluster, i: usize, h: u64) -> (u16, Value) {
    let (status, body) =
        http_get(&format!("{}/v1/chains/main/blocks/{h}?raw=true", c.apis[i])).unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn node_cmd(c: &Cluster, args: &[&str]) -> crate::Run {
    let dir = c.node_dir(0);
    let mut all = vec!["node"];
    all.extend_from_slice(args);
    all.extend([
        "--dir",
        dir.to_str().unwrap(),
        "--chain",
        "main",
        "-o",
        "json",
    ]);
    covenant(c.root.path(), &all)
}

/// A run that failed with `code`, reported as JSON.
#[track_caller]
fn failed(run: crate::Run, code: &str) -> Value {
    assert_ne!(run.code, 0, "expected failure\nstdout: {}", run.stdout);
    let body = run.json();
    assert_eq!(body["error"]["code"], code, "{body}");
    body
}

#[test]
fn a_node_archives_old_blocks_serves_them_through_the_archive_and_restores_them() {
    let c = Cluster::up("tbft", "sm", 4);
    c.deploy_kv();
    let mut txs = Vec::new();
    for i in 0..24 {
        txs.push(c.put(i % 4, &format!("old-{i}"), 30_000).tx_id);
    }

    // By default only blocks older than 7 days are archived: none is.
    let status = node_cmd(&c, &["archive"]).ok().json();
    assert!(status["limits"]["archivable_below"].is_null(), "{status}");
    assert!(
        status["limits"]["reason"]
            .as_str()
            .unwrap()
            .contains("min_age_secs"),
        "{status}"
    );
    failed(
        node_cmd(&c, &["archive", "--below", "3"]),
        "ARCHIVE_REFUSED",
    );

    // The operator allows any age and restarts the node.
    c.kill9(0);
    let toml = c.node_dir(0).join("node.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str("\n[archive]\nmin_age_secs = 0\n");
    std::fs::write(&toml, text).unwrap();
    c.resume();
    let tip = c.height(1).unwrap();
    c.wait_height(&[0], tip, 60);
    let mut below = 0;
    crate::wait_for("every consensus node's height to be known", 60, || {
        let s = node_cmd(&c, &["archive"]).ok().json();
        below = s["limits"]["archivable_below"].as_u64().unwrap_or(0);
        below >= tip
    });
    let before: Vec<Value> = (0..below).map(|h| block_raw(&c, 0, h).1).collect();
    let bytes_before = blocks_bytes(&c, 0);

    // A node whose peer is down refuses: that peer may need the blocks.
    c.kill9(3);
    crate::wait_for("node 3's report to go stale", 60, || {
        let s = node_cmd(&c, &["archive"]).ok().json();
        s["limits"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("of the chain's 4 consensus nodes"))
    });
    let refused = failed(
        node_cmd(&c, &["archive", "--below", &below.to_string()]),
        "ARCHIVE_REFUSED",
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("consensus nodes"),
        "{refused}"
    );
    c.resume();
    crate::wait_for("node 3 to report again", 60, || {
        node_cmd(&c, &["archive"]).ok().json()["limits"]["archivable_below"]
            .as_u64()
            .is_some_and(|b| b >= below)
    });

    // Archived while the chain keeps committing.
    let report = node_cmd(&c, &["archive", "--below", &below.to_string()])
        .ok()
        .json();
    assert!(report["blocks"].as_u64().unwrap() >= below - 3, "{report}");
    let file = PathBuf::from(report["file"].as_str().unwrap());
    assert!(
        file.starts_with(c.node_dir(0).join("data/archive/main")),
        "{report}"
    );
    assert!(file.exists());
    assert!(
        blocks_bytes(&c, 0) < bytes_before,
        "the block files did not shrink: {report}"
    );
    assert_eq!(c.put_waiting(0, "after-archive", 30_000), "committed");
    let status = node_cmd(&c, &["archive"]).ok().json();
    assert_eq!(status["archived_blocks"], report["blocks"], "{status}");
    assert_eq!(status["files"][0]["online"], true, "{status}");

    // Read through the archive: the same blocks, the same transactions.
    for (h, b) in before.iter().enumerate() {
        let (status, now) = block_raw(&c, 0, h as u64);
        assert_eq!(status, 200, "block {h}: {now}");
        assert_eq!(&now, b, "block {h} reads differently through the archive");
    }
    for id in &txs {
        let (status, body) = http_get(&format!("{}/v1/chains/main/txs/{id}", c.apis[0])).unwrap();
        assert_eq!(status, 200, "{body}");
    }

    // The archive offline: a clear code and a retry hint, never wrong bytes; other nodes
    // still serve the block and this node still commits.
    let dir = file.parent().unwrap().to_path_buf();
    let away = dir.with_extension("unmounted");
    std::fs::rename(&dir, &away).unwrap();
    let (status, body) = block_raw(&c, 0, 2);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "ARCHIVE_OFFLINE", "{body}");
    // (Another node's copy carries its own commit certificate: the same block, by its hash.)
    let (status, other) = block_raw(&c, 1, 2);
    assert_eq!(status, 200, "{other}");
    assert_eq!(other["hash"], before[2]["hash"]);
    assert_eq!(c.put_waiting(0, "while-offline", 30_000), "committed");
    let status = node_cmd(&c, &["archive"]).ok().json();
    assert_eq!(status["files"][0]["online"], false, "{status}");
    failed(node_cmd(&c, &["restore"]), "ARCHIVE_OFFLINE");
    std::fs::rename(&away, &dir).unwrap();
    assert_eq!(block_raw(&c, 0, 2).1, before[2]);

    // Restored: every block back in the block files, exactly; the archive no longer needed.
    let restored = node_cmd(&c, &["restore"]).ok().json();
    assert_eq!(restored["blocks"], report["blocks"], "{restored}");
    std::fs::rename(&dir, &away).unwrap();
    for (h, b) in before.iter().enumerate() {
        assert_eq!(
            &block_raw(&c, 0, h as u64).1,
            b,
            "block {h} after the restore"
        );
    }
    assert_eq!(node_cmd(&c, &["archive"]).ok().json()["archived_blocks"], 0);
    assert_eq!(c.put_waiting(0, "after-restore", 30_000), "committed");
    c.assert_same_ledger(&[0, 1, 2, 3]);
}
