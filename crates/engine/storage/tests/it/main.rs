//! Storage end to end: commits, queries, recovery, self-check, rebuild, and crashes of a real
//! writer process killed with SIGKILL in the middle of heavy writes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod archive;
mod blocks;
mod export;
mod links;
mod self_checks;

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use blocks::{SUITE, TestTx, block_after, put};
use covenant_storage::{Store, VerifyMode, rebuild, segment::Segments};
use covenant_types::{RwSet, TxResult, names::state_key};
use prost::Message;

fn state_map(store: &Store) -> BTreeMap<Vec<u8>, Vec<u8>> {
    store
        .snapshot()
        .unwrap()
        .range(b"", b"", usize::MAX)
        .unwrap()
        .into_iter()
        .map(|e| (e.key, e.value))
        .collect()
}

#[test]
fn commit_and_query() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), SUITE).unwrap();
    assert_eq!(store.height(), None);
    let g = block_after(&store, "main", &[]);
    store.commit(&g).unwrap();
    let b1 = block_after(&store, "main", &[put("a", "1"), put("b", "2")]);
    store.commit(&b1).unwrap();
    let b2 = block_after(
        &store,
        "main",
        &[
            put("a", "3"),
            TestTx {
                writes: vec![(state_key("kv", b"b"), None)],
                ok: true,
            },
            TestTx {
                writes: vec![(state_key("kv", b"zzz"), Some(b"never".to_vec()))],
                ok: false,
            },
        ],
    );
    store.commit(&b2).unwrap();
    assert_eq!(store.height(), Some(2));
    assert_eq!(store.chain_id().unwrap().as_deref(), Some("main"));

    let snap = store.snapshot().unwrap();
    let (ver, val) = snap.get(&state_key("kv", b"a")).unwrap().unwrap();
    assert_eq!((ver.height, ver.index, val.as_slice()), (2, 0, &b"3"[..]));
    assert!(snap.get(&state_key("kv", b"b")).unwrap().is_none());
    assert!(snap.get(&state_key("kv", b"zzz")).unwrap().is_none());
    assert_eq!(snap.range(&state_key("kv", b""), b"", 10).unwrap().len(), 1);

    let decoded =
        covenant_types::tx::DecodedTx::decode(SUITE, &b2.block.transactions[1], usize::MAX)
            .unwrap();
    assert_eq!(
        store.tx_location(decoded.id.as_bytes()).unwrap(),
        Some((2, 1))
    );
    let history = store.key_history(&state_key("kv", b"a"), 10).unwrap();
    assert_eq!(
        history.iter().map(|(h, i, _)| (*h, *i)).collect::<Vec<_>>(),
        vec![(1, 0), (2, 0)]
    );
    let events = store.contract_events("kv", 2, 10).unwrap();
    assert_eq!(events, vec![(2, 0, 0), (2, 1, 0)]);
    assert_eq!(store.height_of(b1.hash.as_bytes()).unwrap(), Some(1));
    assert_eq!(store.block(1).unwrap().unwrap().hash, b1.hash);
    assert!(store.block(3).unwrap().is_none());
    assert_eq!(store.verify(VerifyMode::All).unwrap(), 3);
}

#[test]
fn out_of_order_and_broken_links_are_rejected_without_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), SUITE).unwrap();
    store.commit(&block_after(&store, "main", &[])).unwrap();
    let b1 = block_after(&store, "main", &[put("a", "1")]);
    store.commit(&b1).unwrap();
    // The same block again.
    assert_eq!(store.commit(&b1).unwrap_err().code(), "BLOCK_OUT_OF_ORDER");
    // A block of another chain.
    let other = block_after(&store, "other", &[put("x", "1")]);
    assert_eq!(store.commit(&other).unwrap_err().code(), "WRONG_CHAIN");
    // A block whose body does not match its header.
    let mut bad = block_after(&store, "main", &[put("b", "1")]);
    bad.block.rwsets[0].push(1);
    assert_eq!(store.commit(&bad).unwrap_err().code(), "BAD_BLOCK");
    assert_eq!(store.height(), Some(1));
    assert_eq!(state_map(&store).len(), 1);
    assert_eq!(store.verify(VerifyMode::All).unwrap(), 2);
}

#[test]
fn reopen_keeps_the_tip_and_a_second_opener_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), SUITE).unwrap();
        store.commit(&block_after(&store, "main", &[])).unwrap();
        store
            .commit(&block_after(&store, "main", &[put("k", "v")]))
            .unwrap();
        assert_eq!(
            Store::open(dir.path(), SUITE).unwrap_err().code(),
            "STORAGE_LOCKED"
        );
    }
    let store = Store::open(dir.path(), SUITE).unwrap();
    assert_eq!(store.height(), Some(1));
    assert_eq!(store.recovery().replayed, 0);
    store
        .commit(&block_after(&store, "main", &[put("k", "w")]))
        .unwrap();
}

#[test]
fn blocks_in_the_segments_but_not_in_the_index_are_applied_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let pending;
    {
        let store = Store::open(dir.path(), SUITE).unwrap();
        store.commit(&block_after(&store, "main", &[])).unwrap();
        store
            .commit(&block_after(&store, "main", &[put("a", "1")]))
            .unwrap();
        pending = block_after(&store, "main", &[put("b", "2")]);
    }
    // Simulate a crash after the append but before the index commit.
    let mut segs = Segments::open(&dir.path().join("blocks")).unwrap();
    segs.append(2, &pending.encode()).unwrap();
    // And a torn append after it.
    let seg_file = dir.path().join("blocks/seg-00000000.blk");
    let mut bytes = std::fs::read(&seg_file).unwrap();
    bytes.extend_from_slice(b"CVB1\0\0\0\0\0\0\0\x03\0\0");
    std::fs::write(&seg_file, bytes).unwrap();
    drop(segs);

    let store = Store::open(dir.path(), SUITE).unwrap();
    assert_eq!(store.recovery().replayed, 1);
    assert_eq!(store.recovery().truncated_bytes, 14);
    assert_eq!(store.height(), Some(2));
    assert_eq!(store.tip().hash, pending.hash.as_bytes().to_vec());
    assert_eq!(state_map(&store).len(), 2);
    assert_eq!(store.verify(VerifyMode::All).unwrap(), 3);
}

#[test]
fn a_changed_byte_is_reported_with_its_height() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), SUITE).unwrap();
        store.commit(&block_after(&store, "main", &[])).unwrap();
        for i in 0..5 {
            store
                .commit(&block_after(&store, "main", &[put(&format!("k{i}"), "v")]))
                .unwrap();
        }
    }
    let seg_file = dir.path().join("blocks/seg-00000000.blk");
    let original = std::fs::read(&seg_file).unwrap();
    // Find block 3's record and change one byte of its body.
    let store = Store::open(dir.path(), SUITE).unwrap();
    let b3 = store.block_bytes(3).unwrap().unwrap();
    drop(store);
    let pos = original
        .windows(b3.len())
        .position(|w| w == b3.as_slice())
        .unwrap();
    let mut changed = original.clone();
    changed[pos + b3.len() / 2] ^= 0x01;
    std::fs::write(&seg_file, &changed).unwrap();

    let store = Store::open(dir.path(), SUITE).unwrap();
    let err = store.verify(VerifyMode::All).unwrap_err();
    assert_eq!(err.code(), "STORAGE_CORRUPT");
    assert!(err.to_string().contains("height 3"), "{err}");
    // Recent mode covering only blocks 4 and 5 does not read block 3's body... but 4's link
    // check reads block 3; the damage is found either way.
    assert!(store.verify(VerifyMode::Recent(3)).is_err());
    // Serving the damaged block is refused too.
    assert_eq!(store.block(3).unwrap_err().code(), "BLOCK_DAMAGED");
    assert_eq!(store.block_bytes(3).unwrap_err().code(), "BLOCK_DAMAGED");
    assert!(store.block(2).unwrap().is_some());
}

/// A store with blocks 0..=5 (block 3 and block 5, the tip, changed on disk), and an intact
/// copy of every block's bytes.
fn store_with_damaged_blocks(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut copies = Vec::new();
    {
        let store = Store::open(dir, SUITE).unwrap();
        store.commit(&block_after(&store, "main", &[])).unwrap();
        for i in 0..5 {
            store
                .commit(&block_after(&store, "main", &[put(&format!("k{i}"), "v")]))
                .unwrap();
        }
        for h in 0..=5 {
            copies.push(store.block_bytes(h).unwrap().unwrap());
        }
    }
    let seg_file = dir.join("blocks/seg-00000000.blk");
    let mut bytes = std::fs::read(&seg_file).unwrap();
    for h in [3, 5] {
        let b = &copies[h];
        let pos = bytes
            .windows(b.len())
            .position(|w| w == b.as_slice())
            .unwrap();
        bytes[pos + b.len() / 2] ^= 0x01;
    }
    std::fs::write(&seg_file, &bytes).unwrap();
    copies
}

#[test]
fn a_scrub_marks_damaged_blocks_and_a_peers_copy_repairs_them() {
    let dir = tempfile::tempdir().unwrap();
    let copies = store_with_damaged_blocks(dir.path());
    let store = Store::open(dir.path(), SUITE).unwrap();
    // The scrub goes on past damage and names each damaged block.
    assert_eq!(store.scrub(VerifyMode::All).unwrap(), 6);
    let damaged: Vec<u64> = store.damaged().into_iter().map(|(h, _)| h).collect();
    assert_eq!(damaged, vec![3, 5]);
    assert_eq!(store.block_bytes(5).unwrap_err().code(), "BLOCK_DAMAGED");
    // A sound block that is not the ledger's is refused; a broken one too.
    let err = store.repair_block(3, &copies[4]).unwrap_err();
    assert_eq!(err.code(), "BLOCK_NOT_THIS_LEDGERS");
    let mut broken = copies[3].clone();
    broken[10] ^= 0xff;
    assert!(store.repair_block(3, &broken).is_err());
    assert_eq!(store.damaged().len(), 2);
    // The ledger's own block repairs it, byte for byte.
    store.repair_block(3, &copies[3]).unwrap();
    store.repair_block(5, &copies[5]).unwrap();
    assert!(store.damaged().is_empty());
    for (h, copy) in copies.iter().enumerate() {
        assert_eq!(&store.block_bytes(h as u64).unwrap().unwrap(), copy);
    }
    assert_eq!(store.verify(VerifyMode::All).unwrap(), 6);
    // The chain goes on after the repaired copies, and all of it survives a reopen (the
    // copies sit in the segment after the tip's first record).
    store
        .commit(&block_after(&store, "main", &[put("after", "v")]))
        .unwrap();
    drop(store);
    let store = Store::open(dir.path(), SUITE).unwrap();
    assert_eq!(store.height(), Some(6));
    assert_eq!(store.verify(VerifyMode::All).unwrap(), 7);
    assert_eq!(store.recovery().replayed, 0);
}

#[test]
fn repaired_copies_left_unindexed_by_a_crash_are_skipped_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let copies = store_with_damaged_blocks(dir.path());
    // A crash after a repair's append but before its index write leaves a copy of an old
    // block at the end of the segment: opening skips it and the block is still damaged.
    let mut segments = Segments::open(&dir.path().join("blocks")).unwrap();
    segments.append(3, &copies[3]).unwrap();
    drop(segments);
    let store = Store::open(dir.path(), SUITE).unwrap();
    assert_eq!(store.height(), Some(5));
    assert_eq!(store.scrub(VerifyMode::All).unwrap(), 6);
    assert_eq!(
        store
            .damaged()
            .into_iter()
            .map(|(h, _)| h)
            .collect::<Vec<_>>(),
        vec![3, 5]
    );
    // A block that is not the index's, found there, is still an error.
    drop(store);
    let mut segments = Segments::open(&dir.path().join("blocks")).unwrap();
    segments.append(2, &copies[1]).unwrap();
    drop(segments);
    assert_eq!(
        Store::open(dir.path(), SUITE).unwrap_err().code(),
        "STORAGE_CORRUPT"
    );
}

#[test]
fn rebuild_rederives_the_same_state_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let (before, tip) = {
        let store = Store::open(dir.path(), SUITE).unwrap();
        store.commit(&block_after(&store, "main", &[])).unwrap();
        for i in 0..20 {
            let txs = vec![
                put(&format!("k{}", i % 7), &format!("v{i}")),
                TestTx {
                    writes: vec![(state_key("kv", format!("k{}", i % 3).as_bytes()), None)],
                    ok: i % 2 == 0,
                },
            ];
            store.commit(&block_after(&store, "main", &txs)).unwrap();
        }
        (state_map(&store), store.tip())
    };
    assert_eq!(rebuild(dir.path(), SUITE).unwrap(), 21);
    let store = Store::open(dir.path(), SUITE).unwrap();
    assert_eq!(state_map(&store), before);
    assert_eq!(store.tip(), tip);
    assert!(
        store
            .key_history(&state_key("kv", b"k0"), 100)
            .unwrap()
            .len()
            > 1
    );
}

/// The state the blocks imply, replayed independently of the store's indexes.
fn replay(store: &Store) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut state = BTreeMap::new();
    for h in 0..=store.height().unwrap_or(0) {
        let b = store.block(h).unwrap().unwrap();
        for (r, w) in b.block.results.iter().zip(&b.block.rwsets) {
            let r = TxResult::decode(r.as_slice()).unwrap();
            if r.code != "OK" {
                continue;
            }
            for w in RwSet::decode(w.as_slice()).unwrap().writes {
                if w.delete {
                    state.remove(&w.key);
                } else {
                    state.insert(w.key, w.value);
                }
            }
        }
    }
    state
}

#[test]
fn sigkill_during_heavy_writes_always_recovers_a_consistent_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut last_height = 0;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..20 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_covenant-storage-crash-writer"))
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // The writer prints each height it committed and goes straight on to the next block:
        // killed after a random number of commits, it dies somewhere inside a write.
        let commits = 2 + seed % 30;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in 0..commits {
            let line = lines.next().expect("the writer stopped early").unwrap();
            assert!(line.parse::<u64>().is_ok(), "unexpected output {line:?}");
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let store = Store::open(dir.path(), SUITE).unwrap();
        let h = store.height().unwrap();
        assert!(
            h >= last_height,
            "round {round}: height went back from {last_height} to {h}"
        );
        last_height = h;
        assert_eq!(
            store.verify(VerifyMode::All).unwrap(),
            h + 1,
            "round {round}"
        );
        assert_eq!(
            state_map(&store),
            replay(&store),
            "round {round}: state differs from the blocks"
        );
    }
    assert!(
        last_height > 20,
        "the writer made too little progress to test anything ({last_height} blocks)"
    );
}

/// The segment record of a block, held to a pinned fixture: a node upgraded to a newer build
/// must read the block files it wrote.
#[test]
fn a_segment_record_encodes_as_pinned_and_pinned_segments_read_back() {
    use covenant_storage::segment::Scan;
    use covenant_test_utils::fixtures::{check_bytes, read_bytes};
    let block = b"the bytes of a block, as the chain encodes it".to_vec();
    let dir = tempfile::tempdir().unwrap();
    let mut segments = Segments::open(dir.path()).unwrap();
    segments.append(42, &block).unwrap();
    drop(segments);
    let file = dir.path().join("seg-00000000.blk");
    check_bytes(
        "segment-record.hex",
        "one segment record: magic, height, length, CRC-32 and the block bytes",
        &std::fs::read(&file).unwrap(),
    );
    let pinned = tempfile::tempdir().unwrap();
    std::fs::write(
        pinned.path().join("seg-00000000.blk"),
        read_bytes("segment-record.hex"),
    )
    .unwrap();
    let segments = Segments::open(pinned.path()).unwrap();
    match segments.scan(0, 0).unwrap() {
        Scan::Record(r) => {
            assert_eq!(r.height, 42);
            assert_eq!(r.bytes, block);
        }
        other => panic!("the pinned record does not read back: {other:?}"),
    }
}
