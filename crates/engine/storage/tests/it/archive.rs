//! Archiving block bodies: read-through, an archive taken offline, compaction of the
//! segments, a damaged archive, and a byte-exact restore.

use std::path::Path;

use covenant_storage::{Store, VerifyMode, rebuild};
use covenant_types::tx::DecodedTx;

use crate::{
    blocks::{SUITE, block_under_config, put},
    state_map,
};

/// A chain of 40 blocks whose block 10 changed the configuration (blocks 11 on name it);
/// returns every block's bytes.
fn chain_of_40(store: &Store) -> Vec<Vec<u8>> {
    for h in 0..40u64 {
        let txs: Vec<_> = (0..(h % 4))
            .map(|i| put(&format!("k{}", (h * 7 + i) % 23), &format!("value {h} {i}")))
            .collect();
        let config = if h > 10 { 10 } else { 0 };
        store
            .commit(&block_under_config(store, "main", &txs, config))
            .unwrap();
    }
    (0..40)
        .map(|h| store.block_bytes(h).unwrap().unwrap())
        .collect()
}

fn no_progress(_: u64, _: u64) {}

fn all_read_back(store: &Store, copies: &[Vec<u8>]) {
    for (h, copy) in copies.iter().enumerate() {
        assert_eq!(
            &store.block_bytes(h as u64).unwrap().unwrap(),
            copy,
            "block {h}"
        );
    }
}

#[test]
fn archived_blocks_read_through_go_offline_and_restore_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    let adir = archive_dir.path().join("main");
    let store = Store::open(dir.path(), SUITE).unwrap();
    let copies = chain_of_40(&store);
    let state = state_map(&store);
    let tx_in_5 = DecodedTx::decode(
        SUITE,
        &store.block(5).unwrap().unwrap().block.transactions[0],
        usize::MAX,
    )
    .unwrap()
    .id;

    // The newest block is never archived.
    assert_eq!(
        store
            .archive(40, &adir, &mut no_progress)
            .unwrap_err()
            .code(),
        "ARCHIVE_REFUSED"
    );
    let mut seen = Vec::new();
    let report = store
        .archive(30, &adir, &mut |done, total| seen.push((done, total)))
        .unwrap();
    assert_eq!(seen.last(), Some(&(29, 29)));
    assert_eq!(report.kept, vec![10], "the config block stays");
    assert_eq!(report.blocks, 28);
    assert_eq!((report.first, report.last), (Some(1), Some(29)));
    assert!(report.file.as_ref().unwrap().exists());
    assert!(report.archive_bytes < report.raw_bytes, "{report:?}");
    assert!(
        report.segment_bytes_after + report.raw_bytes
            <= report.segment_bytes_before + report.header_bytes,
        "{report:?}"
    );
    assert!(store.is_archived(5).unwrap());
    assert!(!store.is_archived(10).unwrap());
    assert!(!store.is_archived(0).unwrap());

    // Reads go through to the archive, byte for byte, also after a reopen.
    all_read_back(&store, &copies);
    assert_eq!(
        store
            .find_tx(tx_in_5.as_bytes())
            .unwrap()
            .unwrap()
            .0
            .height(),
        5
    );
    let header = store.block_header(5).unwrap().unwrap();
    assert!(header.block.transactions.is_empty());
    assert_eq!(
        header.hash.as_bytes().to_vec(),
        store.block(5).unwrap().unwrap().hash.as_bytes().to_vec()
    );
    assert_eq!(store.verify(VerifyMode::All).unwrap(), 40);
    // Archiving again finds nothing left below that height.
    let again = store.archive(30, &adir, &mut no_progress).unwrap();
    assert_eq!((again.blocks, again.file), (0, None));
    // Another directory is refused while archives live in this one.
    assert_eq!(
        store
            .archive(35, &archive_dir.path().join("elsewhere"), &mut no_progress)
            .unwrap_err()
            .code(),
        "ARCHIVE_REFUSED"
    );
    drop(store);
    let store = Store::open(dir.path(), SUITE).unwrap();
    all_read_back(&store, &copies);
    store
        .commit(&block_under_config(
            &store,
            "main",
            &[put("after", "1")],
            10,
        ))
        .unwrap();

    // A rebuild from the segments alone would lose the archived blocks: refused.
    drop(store);
    assert_eq!(
        rebuild(dir.path(), SUITE).unwrap_err().code(),
        "ARCHIVE_REFUSED"
    );
    let store = Store::open(dir.path(), SUITE).unwrap();

    // The archive taken offline: a clear code for its blocks, the rest reads, checks go on.
    let moved = archive_dir.path().join("unmounted");
    std::fs::rename(&adir, &moved).unwrap();
    assert_eq!(store.block_bytes(5).unwrap_err().code(), "ARCHIVE_OFFLINE");
    assert_eq!(store.block(12).unwrap_err().code(), "ARCHIVE_OFFLINE");
    assert!(store.block(10).unwrap().is_some());
    assert!(store.block(35).unwrap().is_some());
    assert!(store.damaged().is_empty(), "offline is not damage");
    assert_eq!(store.scrub(VerifyMode::All).unwrap(), 41);
    let status = store.archive_status().unwrap();
    assert_eq!(status.archived_blocks, 28);
    assert!(!status.files[0].online);
    assert_eq!(
        store.restore_archived(&mut no_progress).unwrap_err().code(),
        "ARCHIVE_OFFLINE"
    );
    std::fs::rename(&moved, &adir).unwrap();
    assert!(store.archive_status().unwrap().files[0].online);
    all_read_back(&store, &copies);

    // Restored: every block back in the segments, byte for byte; nothing left archived.
    let restored = store.restore_archived(&mut no_progress).unwrap();
    assert_eq!(restored.blocks, 28);
    assert_eq!(restored.files.len(), 1);
    assert!(!store.is_archived(5).unwrap());
    assert_eq!(store.archive_status().unwrap().files.len(), 0);
    std::fs::rename(&adir, &moved).unwrap();
    all_read_back(&store, &copies);
    assert_eq!(store.verify(VerifyMode::All).unwrap(), 41);
    drop(store);
    let store = Store::open(dir.path(), SUITE).unwrap();
    all_read_back(&store, &copies);
    assert_eq!(store.recovery().replayed, 0);
    drop(store);
    // With nothing archived, a rebuild replays every block to the same state.
    assert_eq!(rebuild(dir.path(), SUITE).unwrap(), 41);
    let store = Store::open(dir.path(), SUITE).unwrap();
    let mut expected = state;
    expected.extend(
        state_map(&store)
            .into_iter()
            .filter(|(k, _)| k.ends_with(b"after")),
    );
    assert_eq!(state_map(&store), expected);
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_damaged_archive_marks_its_blocks_for_repair_from_a_peer() {
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), SUITE).unwrap();
    let copies = chain_of_40(&store);
    let report = store
        .archive(20, archive_dir.path(), &mut no_progress)
        .unwrap();
    let file = report.file.unwrap();
    flip_byte(&file, 30);
    drop(store);
    let store = Store::open(dir.path(), SUITE).unwrap();
    assert_eq!(store.block(3).unwrap_err().code(), "BLOCK_DAMAGED");
    assert_eq!(store.damaged()[0].0, 3);
    assert!(!store.archive_status().unwrap().files[0].online || store.block(4).is_err());
    // A peer's copy repairs it into the segments; the archive is not needed for it any more.
    store.repair_block(3, &copies[3]).unwrap();
    assert_eq!(store.block_bytes(3).unwrap().unwrap(), copies[3]);
    assert!(!store.is_archived(3).unwrap());
    // A restore from the damaged file refuses rather than bring back what fails its checks.
    assert_eq!(
        store.restore_archived(&mut no_progress).unwrap_err().code(),
        "ARCHIVE_DAMAGED"
    );
    assert_eq!(store.block_bytes(25).unwrap().unwrap(), copies[25]);
}

#[test]
fn a_compaction_cut_short_is_finished_on_open_and_a_stray_copy_is_dropped() {
    use redb::{Database, TableDefinition};
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    let copies = {
        let store = Store::open(dir.path(), SUITE).unwrap();
        let copies = chain_of_40(&store);
        store
            .archive(30, archive_dir.path(), &mut no_progress)
            .unwrap();
        copies
    };
    let blocks = dir.path().join("blocks");
    let segment = blocks.join("seg-00000000.blk");
    let copy = blocks.join("seg-00000000.blk.compact");

    // A crash before the index moved to the copy: the copy is dropped, nothing else changes.
    std::fs::write(&copy, b"a copy cut short").unwrap();
    {
        let store = Store::open(dir.path(), SUITE).unwrap();
        assert!(!copy.exists());
        all_read_back(&store, &copies);
    }

    // A crash after the index moved to the copy, before the rename: opening finishes it.
    let compacted = std::fs::read(&segment).unwrap();
    std::fs::write(&copy, &compacted).unwrap();
    std::fs::write(&segment, b"the segment as it was before compaction").unwrap();
    {
        let db = Database::create(dir.path().join("state.redb")).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(META)
            .unwrap()
            .insert("compacting", 0u32.to_be_bytes().as_slice())
            .unwrap();
        w.commit().unwrap();
    }
    let store = Store::open(dir.path(), SUITE).unwrap();
    assert!(!copy.exists());
    assert_eq!(std::fs::read(&segment).unwrap(), compacted);
    all_read_back(&store, &copies);
    assert_eq!(store.verify(VerifyMode::All).unwrap(), 40);
}

#[test]
fn a_range_archived_again_after_a_restore_gets_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), SUITE).unwrap();
    let copies = chain_of_40(&store);
    let first = store
        .archive(20, archive_dir.path(), &mut no_progress)
        .unwrap()
        .file
        .unwrap();
    store.restore_archived(&mut no_progress).unwrap();
    let second = store
        .archive(20, archive_dir.path(), &mut no_progress)
        .unwrap()
        .file
        .unwrap();
    assert_ne!(first, second);
    assert!(first.exists() && second.exists());
    // The node reads the new file only: the old one can go.
    std::fs::remove_file(&first).unwrap();
    all_read_back(&store, &copies);
}

#[test]
fn archives_moved_to_another_directory_are_adopted_only_when_every_file_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let (old, new) = (root.path().join("old"), root.path().join("new"));
    let store = Store::open(dir.path(), SUITE).unwrap();
    let copies = chain_of_40(&store);
    assert_eq!(
        store.archive(30, &old, &mut no_progress).unwrap().blocks,
        28
    );
    // Not there yet: refused, nothing changes.
    assert_eq!(
        store.adopt_archive_dir(&new).unwrap_err().code(),
        "ARCHIVE_REFUSED"
    );
    all_read_back(&store, &copies);
    std::fs::rename(&old, &new).unwrap();
    assert_eq!(store.block_bytes(5).unwrap_err().code(), "ARCHIVE_OFFLINE");
    assert_eq!(store.adopt_archive_dir(&new).unwrap(), Some(old.clone()));
    assert_eq!(store.adopt_archive_dir(&new).unwrap(), None);
    all_read_back(&store, &copies);
    assert_eq!(store.archive_status().unwrap().dir, Some(new.clone()));
    // New archives go there too; the old directory is refused.
    assert_eq!(
        store
            .archive(35, &old, &mut no_progress)
            .unwrap_err()
            .code(),
        "ARCHIVE_REFUSED"
    );
    assert!(store.archive(35, &new, &mut no_progress).unwrap().blocks > 0);
    all_read_back(&store, &copies);
}
