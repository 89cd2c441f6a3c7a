//! Self-repair on real processes. One node of four has its block files damaged — a changed
//! byte in an old block while it runs, in its newest block while it is down, the end of its
//! block file cut off — and each time it names the height and what failed, never serves the
//! damaged bytes (a clear code, no 5xx), and repairs itself from its peers while the chain
//! keeps committing.

use std::{
    fs::OpenOptions,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
};

use crate::{
    cluster::{Cluster, Load, full_logs},
    devnode::http_get,
};

/// `(height, offset of the block bytes, their length)` of each record in a block segment
/// (`"CVB1" | height u64 | length u32 | crc32 u32 | bytes`, big-endian).
fn records(segment: &Path) -> Vec<(u64, u64, u64)> {
    let bytes = std::fs::read(segment).unwrap();
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 20 <= bytes.len() && &bytes[at..at + 4] == b"CVB1" {
        let height = u64::from_be_bytes(bytes[at + 4..at + 12].try_into().unwrap());
        let len = u32::from_be_bytes(bytes[at + 12..at + 16].try_into().unwrap()) as usize;
        if at + 20 + len > bytes.len() {
            break;
        }
        out.push((height, (at + 20) as u64, len as u64));
        at += 20 + len;
    }
    out
}

fn segment_of(c: &Cluster, i: usize) -> PathBuf {
    c.node_dir(i)
        .join("data/chains/main/blocks/seg-00000000.blk")
}

/// Flip one byte in the middle of block `height`'s bytes in node `i`'s segment, in place
/// (the node may be appending to the same file).
fn flip_block_byte(c: &Cluster, i: usize, height: u64) {
    let path = segment_of(c, i);
    let (_, offset, len) = *records(&path)
        .iter()
        .rfind(|(h, _, _)| *h == height)
        .expect("the block's record");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let at = offset + len / 2;
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, at).unwrap();
    file.write_all_at(&[byte[0] ^ 0x5a], at).unwrap();
    file.sync_all().unwrap();
}

/// Node `i`'s answer for block `height`: `(status, body)`.
fn block_answer(c: &Cluster, i: usize, height: u64) -> (u16, String) {
    http_get(&format!("{}/v1/chains/main/blocks/{height}", c.apis[i])).unwrap()
}

/// Wait until node 3 serves block `height` as node 0 does; every answer meanwhile is the
/// block or `BLOCK_DAMAGED`, never anything else.
fn wait_repaired(c: &Cluster, height: u64) {
    let good = c.block_hash(0, height).unwrap();
    crate::wait_for(&format!("node 3 to repair block {height}"), 120, || {
        let (status, body) = block_answer(c, 3, height);
        match status {
            200 => {
                assert!(
                    body.contains(&good),
                    "node 3 served another block {height}: {body}"
                );
                true
            }
            409 => {
                assert!(body.contains("BLOCK_DAMAGED"), "{body}");
                false
            }
            other => panic!("node 3 answered {other} for block {height}: {body}"),
        }
    });
}

fn logged(c: &Cluster, what: &str, height: u64) -> bool {
    full_logs(&c.dir).lines().any(|l| {
        l.contains(what)
            && (l.contains(&format!("\"height\":{height}"))
                || l.contains(&format!("height={height}")))
    })
}

#[test]
fn a_node_repairs_damaged_blocks_from_its_peers_while_the_chain_goes_on() {
    let c = Cluster::up("tbft", "sm", 4);
    c.deploy_kv();
    let load = Load::start(&c, c.apis[..3].to_vec(), 2);
    crate::wait_for("a few blocks", 120, || c.height(0).is_some_and(|h| h >= 8));

    // An old block, changed under the running node: the first read finds it.
    flip_block_byte(&c, 3, 2);
    let (status, body) = block_answer(&c, 3, 2);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("BLOCK_DAMAGED"), "{body}");
    wait_repaired(&c, 2);
    assert!(logged(&c, "a stored block failed its check", 2));
    assert!(logged(&c, "repaired a damaged block with a peer's copy", 2));

    // The newest block, changed while the node is down: it starts all the same.
    c.kill9(3);
    let newest = records(&segment_of(&c, 3))
        .iter()
        .map(|r| r.0)
        .max()
        .unwrap();
    flip_block_byte(&c, 3, newest);
    c.resume();
    wait_repaired(&c, newest);
    assert!(logged(&c, "a stored block failed its check", newest));

    // The end of the block file cut off while the node is down (its newest block half gone).
    c.kill9(3);
    let path = segment_of(&c, 3);
    let (cut, offset, len) = *records(&path).last().unwrap();
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(offset + len / 2).unwrap();
    file.sync_all().unwrap();
    drop(file);
    c.resume();
    wait_repaired(&c, cut);

    // The chain kept committing, with node 3 among the four.
    let before = load.committed();
    crate::wait_for("the chain to commit on", 120, || {
        load.committed() >= before + 10
    });
    load.stop();
    let top = c.height(0).unwrap();
    c.wait_height(&[0, 1, 2, 3], top, 60);
    c.assert_same_ledger(&[0, 1, 2, 3]);
    for h in [2, newest, cut] {
        assert_eq!(c.block_hash(3, h), c.block_hash(0, h), "block {h}");
    }
    let (_, metrics) = http_get(&format!("{}/metrics", c.apis[3])).unwrap();
    assert!(
        metrics.contains("covenant_storage_damaged_blocks{chain=\"main\"} 0"),
        "{metrics}"
    );
}
