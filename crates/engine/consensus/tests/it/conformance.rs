#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The TBFT journal's on-disk encoding, held to a pinned fixture: a validator restarted with
//! a newer build must read every vote it journaled (or it could sign twice).

use covenant_consensus::tbft::{Entry, FileJournal, Journal, VoteKind};
use covenant_crypto::Hash;
use covenant_test_utils::fixtures::{check_bytes, read_bytes};

fn entries() -> Vec<Entry> {
    vec![
        Entry::Proposed {
            height: 7,
            round: 1,
            pol_round: Some(0),
            value: b"a proposed block".to_vec(),
        },
        Entry::Voted {
            height: 7,
            round: 1,
            kind: VoteKind::Prevote,
            value: Some(Hash([5; 32])),
        },
        Entry::Voted {
            height: 7,
            round: 1,
            kind: VoteKind::Precommit,
            value: None,
        },
        Entry::Locked {
            height: 7,
            round: 1,
            value: b"a locked block".to_vec(),
        },
        Entry::Valid {
            height: 7,
            round: 1,
            value: b"a valid block".to_vec(),
        },
    ]
}

#[test]
fn journal_entries_encode_as_pinned_and_pinned_journals_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tbft.wal");
    let mut journal = FileJournal::open(&path).unwrap();
    for e in entries() {
        journal.append(e).unwrap();
    }
    drop(journal);
    check_bytes(
        "tbft-journal.hex",
        "a TBFT journal: a proposal, a prevote, a nil precommit, a lock and a valid value",
        &std::fs::read(&path).unwrap(),
    );
    let pinned = dir.path().join("pinned.wal");
    std::fs::write(&pinned, read_bytes("tbft-journal.hex")).unwrap();
    let journal = FileJournal::open(&pinned).unwrap();
    assert_eq!(journal.entries(7), entries());
}
