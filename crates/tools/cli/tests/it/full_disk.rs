//! A validator whose disk fills while a four-node TBFT chain commits under load: its data
//! directory is a size-limited tmpfs that the test fills to the last byte. The node stops
//! committing with a clear error (the log names the full disk and the stable code), keeps
//! answering reads, and the chain goes on with the other three. When the space returns it
//! resumes by itself — no restart — and catches up; every node holds the same ledger, and a
//! restart afterwards finds nothing to repair (the start-up block check passes, the state
//! equals a rebuild from its block files).

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
};

use crate::{
    cluster::{Cluster, Load, logs},
    covenant,
};

/// A tmpfs mounted on a directory, unmounted (lazily, so a process still holding files in
/// it does not keep it) when dropped, whatever the test did.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Self, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Whether this process may mount a tmpfs (root, outside a container that forbids it).
fn can_mount() -> Result<(), String> {
    let probe = tempfile::tempdir().map_err(|e| e.to_string())?;
    Tmpfs::mount(probe.path(), "1m").map(drop)
}

/// Write zeros to `path` until the file system refuses: the bytes written.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) => {
                assert_eq!(
                    e.raw_os_error(),
                    Some(28),
                    "filling the disk failed otherwise: {e}"
                );
                break;
            }
        }
    }
    // The last page of a partly written chunk too.
    let _ = f.write(&[0u8; 1]);
    written
}

fn copy_dir(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a {} {}", from.display(), to.display());
}

#[test]
fn a_full_disk_stops_a_tbft_validators_commits_cleanly_and_they_resume_when_space_returns() {
    full_disk("tbft");
}

#[test]
fn a_full_disk_stops_a_raft_nodes_commits_cleanly_and_they_resume_when_space_returns() {
    full_disk("raft");
}

fn full_disk(consensus: &str) {
    if let Err(why) = can_mount() {
        println!("SKIPPED: this machine does not let the test mount a tmpfs ({why})");
        return;
    }
    let c = Cluster::up(consensus, "sm", 4);
    c.deploy_kv();

    // Node 3's data directory moves onto a 96 MiB tmpfs.
    c.kill9(3);
    let data = c.node_dir(3).join("data");
    let stash = c.root.path().join("stash");
    std::fs::rename(&data, &stash).unwrap();
    std::fs::create_dir(&data).unwrap();
    let _disk = Tmpfs::mount(&data, "96m").unwrap();
    copy_dir(&stash, &data);
    c.resume();
    c.wait_height(&[3], c.height(0).unwrap(), 60);

    // Load through the other three, then the disk fills.
    let load = Load::start(&c, c.apis[..3].to_vec(), 3);
    let filler = data.join("filler");
    let filled = fill(&filler);
    // A few more blocks may still fit in the last, partly used page of its files; then it
    // stops: the others commit ten more blocks and it does not move.
    let filled_at = c.height(3).unwrap();
    c.wait_height(&[0, 1, 2], filled_at + 10, 120);
    let held = c.height(3);
    let top_then = c.height(0).unwrap();
    c.wait_height(&[0, 1, 2], top_then + 10, 120);
    assert!(
        held.is_some_and(|h| h < top_then) && c.height(3) == held,
        "node 3 went on committing on a full disk: at {:?}, was at {held:?} ({filled} bytes filled; chain at {})",
        c.height(3),
        c.height(0).unwrap_or(0)
    );
    // It still answers reads, and says why it stopped.
    let info = c.rt.block_on(c.client(3).info()).unwrap();
    assert_eq!(Some(info.height), held);
    let log = std::fs::read_to_string(c.node_dir(3).join("node.log")).unwrap();
    assert!(
        log.contains("No space left on device") && log.contains("STORAGE_IO"),
        "node 3's log does not say its disk is full\nlogs:\n{}",
        logs(&c.dir)
    );

    // Its metrics say its block writes fail, for the alerts.
    let faulted = |want: &str| {
        crate::devnode::http_get(&format!("{}/metrics", c.apis[3])).is_some_and(|(_, body)| {
            body.contains(&format!(
                "covenant_storage_write_failing{{chain=\"main\"}} {want}"
            ))
        })
    };
    assert!(
        faulted("1"),
        "node 3's metrics do not show its block writes failing"
    );

    // Space returns: it resumes without a restart and catches up.
    let pid = c.pid(3);
    std::fs::remove_file(&filler).unwrap();
    let top = c.height(0).unwrap();
    c.wait_height(&[3], top, 90);
    assert_eq!(c.pid(3), pid, "the node was restarted");
    assert!(
        faulted("0"),
        "node 3's metrics still show its block writes failing"
    );
    let log = std::fs::read_to_string(c.node_dir(3).join("node.log")).unwrap();
    assert!(
        log.contains("the store recovered from a failed write"),
        "node 3 caught up without its store recovering in place\nlogs:\n{}",
        logs(&c.dir)
    );
    // What the node said, for whoever reads the test's output.
    for line in log
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .take(12)
    {
        println!("node 3: {line}");
    }
    let (committed, _) = load.stop();
    assert!(committed > 0, "the load committed nothing");
    c.assert_same_ledger(&[0, 1, 2, 3]);
    if consensus == "raft" {
        // Its Raft engine stopped on the failed apply (the entry must not be skipped), said
        // it was its storage, and was started again in the same process.
        assert!(
            log.lines()
                .any(|l| l.contains("raft stopped by itself; starting it again")
                    && l.contains("RAFT_STORAGE")),
            "node 3's raft did not stop on the full disk\nlogs:\n{}",
            logs(&c.dir)
        );
    }
    // It takes part in consensus again: with another node stopped, three of four are needed.
    c.kill9(0);
    assert_eq!(c.put_waiting(1, "after-the-full-disk", 30_000), "committed");
    c.resume();

    // Nothing is corrupt: its start-up check (of its recent blocks) finds no damaged block,
    // and its state rebuilt from its block files answers as another node's.
    c.kill9(3);
    c.resume();
    c.wait_height(&[3], c.height(0).unwrap(), 60);
    assert!(
        !crate::cluster::full_logs(&c.dir).contains("a stored block failed its check"),
        "a block was damaged by the full disk"
    );
    let before = c.rt.block_on(c.client(3).info()).unwrap();
    c.kill9(3);
    let dir = c.node_dir(3);
    covenant(
        c.root.path(),
        &["node", "rebuild-index", "--dir", dir.to_str().unwrap()],
    )
    .ok();
    c.resume();
    c.wait_height(&[3], before.height, 60);
    let list = |i: usize| {
        let r =
            c.rt.block_on(c.client(i).query(
                "kv",
                "list",
                serde_json::json!({"prefix": "t", "limit": 1000}),
                None,
            ))
            .unwrap();
        assert_eq!(r.code, "OK", "{r:?}");
        r.result
    };
    let rebuilt = list(3);
    assert!(
        rebuilt.as_array().is_some_and(|a| !a.is_empty()),
        "{rebuilt}"
    );
    assert_eq!(
        rebuilt,
        list(0),
        "node 3's rebuilt state differs from node 0's"
    );
}
