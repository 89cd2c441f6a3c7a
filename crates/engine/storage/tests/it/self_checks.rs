//! State entries checked on read and against their blocks (a changed byte, an entry
//! rewritten with a matching digest, an entry put back at an older version, a store from
//! before entries had digests), and the indexes checked on lookup and by their scrub, then
//! rebuilt from the blocks.

use covenant_storage::{CHECKPOINT_EVERY, Store, Version};
use covenant_test_utils::state_file;
use covenant_types::names::state_key;
use redb::{Database, ReadableTable, TableDefinition};

use crate::blocks::{SUITE, block_after, put};

const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// A store at height 3 where kv/a was written twice (heights 1 and 3) and kv/b once.
fn store_with_state(dir: &std::path::Path) {
    let store = Store::open(dir, SUITE).unwrap();
    for txs in [
        vec![],
        vec![put("a", "1"), put("b", "2")],
        vec![put("c", "3")],
        vec![put("a", "4")],
    ] {
        let b = block_after(&store, "main", &txs);
        store.commit(&b).unwrap();
    }
}

/// Change the stored bytes of `key` with `f`, with the store closed.
fn edit_entry(dir: &std::path::Path, key: &[u8], f: impl FnOnce(&mut Vec<u8>)) {
    state_file::edit_entry(&dir.join("state.redb"), state_file::STATE, key, |old| {
        let mut bytes = old.expect("an entry");
        f(&mut bytes);
        Some(bytes)
    });
}

fn forged_entry(key: &[u8], version: Version, value: &[u8]) -> Vec<u8> {
    state_file::forge_entry(SUITE, key, version.height, version.index, value)
}

fn value_of(store: &Store, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
    store
        .snapshot()
        .unwrap()
        .get(key)
        .map(|e| e.map(|(_, v)| v))
        .map_err(|e| e.code().to_string())
}

#[test]
fn a_changed_value_byte_is_refused_on_read_and_repaired_from_its_block() {
    let dir = tempfile::tempdir().unwrap();
    store_with_state(dir.path());
    let a = state_key("kv", b"a");
    edit_entry(dir.path(), &a, |b| {
        let last = b.len() - 1;
        b[last] ^= 0x01;
    });
    let store = Store::open(dir.path(), SUITE).unwrap();
    assert_eq!(value_of(&store, &a), Err("STATE_DAMAGED".into()));
    // A range over it is refused whole, never answered without it or with its bytes.
    let err = store
        .snapshot()
        .unwrap()
        .range(&state_key("kv", b""), b"", 10)
        .unwrap_err();
    assert_eq!(err.code(), "STATE_DAMAGED");
    assert_eq!(store.damaged_state().len(), 1);
    // Other keys read as before.
    assert_eq!(
        value_of(&store, &state_key("kv", b"b")),
        Ok(Some(b"2".to_vec()))
    );

    assert_eq!(store.repair_state().unwrap(), 1);
    assert!(store.damaged_state().is_empty());
    let (version, value) = store.snapshot().unwrap().get(&a).unwrap().unwrap();
    assert_eq!(
        (version.height, version.index, value.as_slice()),
        (3, 0, &b"4"[..])
    );
    // The repair is durable.
    drop(store);
    let store = Store::open(dir.path(), SUITE).unwrap();
    assert_eq!(value_of(&store, &a), Ok(Some(b"4".to_vec())));
}

#[test]
fn the_scrub_catches_entries_rewritten_with_matching_digests() {
    let dir = tempfile::tempdir().unwrap();
    store_with_state(dir.path());
    let (a, b, c) = (
        state_key("kv", b"a"),
        state_key("kv", b"b"),
        state_key("kv", b"c"),
    );
    // A value changed by someone who knows the format: the digest matches.
    edit_entry(dir.path(), &b, |bytes| {
        *bytes = forged_entry(
            &b,
            Version {
                height: 1,
                index: 1,
            },
            b"200",
        );
    });
    // An older value of kv/a put back with its own (then valid) version.
    edit_entry(dir.path(), &a, |bytes| {
        *bytes = forged_entry(
            &a,
            Version {
                height: 1,
                index: 0,
            },
            b"1",
        );
    });
    let store = Store::open(dir.path(), SUITE).unwrap();
    // Reads cannot tell; the scrub can.
    assert_eq!(value_of(&store, &b), Ok(Some(b"200".to_vec())));
    let mut found = 0;
    loop {
        let s = store.scrub_state(1).unwrap();
        found += s.damaged;
        if s.pass_complete {
            break;
        }
    }
    assert_eq!(found, 2);
    let damaged: Vec<Vec<u8>> = store.damaged_state().into_iter().map(|(k, _)| k).collect();
    assert_eq!(damaged, vec![a.clone(), b.clone()]);
    assert_eq!(value_of(&store, &b), Err("STATE_DAMAGED".into()));
    assert_eq!(store.repair_state().unwrap(), 2);
    assert_eq!(value_of(&store, &a), Ok(Some(b"4".to_vec())));
    assert_eq!(value_of(&store, &b), Ok(Some(b"2".to_vec())));
    assert_eq!(value_of(&store, &c), Ok(Some(b"3".to_vec())));
    // A clean pass after the repair.
    let s = store.scrub_state(100).unwrap();
    assert_eq!((s.checked, s.damaged, s.pass_complete), (3, 0, true));
}

#[test]
fn an_entry_for_a_key_no_block_wrote_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    store_with_state(dir.path());
    let planted = state_key("kv", b"planted");
    state_file::edit_entry(
        &dir.path().join("state.redb"),
        state_file::STATE,
        &planted,
        |old| {
            assert!(old.is_none());
            Some(forged_entry(
                &planted,
                Version {
                    height: 2,
                    index: 0,
                },
                b"x",
            ))
        },
    );
    let store = Store::open(dir.path(), SUITE).unwrap();
    let s = store.scrub_state(100).unwrap();
    assert_eq!(s.damaged, 1);
    assert_eq!(store.repair_state().unwrap(), 1);
    assert_eq!(value_of(&store, &planted), Ok(None));
}

#[test]
fn a_store_from_before_digests_is_upgraded_on_open() {
    let dir = tempfile::tempdir().unwrap();
    store_with_state(dir.path());
    // Rewrite every entry as it was stored before digests (version, value).
    {
        let db = Database::open(dir.path().join("state.redb")).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table(STATE).unwrap();
            let entries: Vec<(Vec<u8>, Vec<u8>)> = t
                .iter()
                .unwrap()
                .map(|e| {
                    let (k, v) = e.unwrap();
                    let v = v.value();
                    let mut old = v[..12].to_vec();
                    old.extend_from_slice(&v[44..]);
                    (k.value().to_vec(), old)
                })
                .collect();
            for (k, v) in entries {
                t.insert(k.as_slice(), v.as_slice()).unwrap();
            }
            w.open_table(META).unwrap().remove("state_format").unwrap();
        }
        w.commit().unwrap();
    }
    let store = Store::open(dir.path(), SUITE).unwrap();
    assert_eq!(
        value_of(&store, &state_key("kv", b"a")),
        Ok(Some(b"4".to_vec()))
    );
    let s = store.scrub_state(100).unwrap();
    assert_eq!((s.checked, s.damaged), (3, 0));
}

/// The ids of block `h`'s transactions.
fn tx_ids(store: &Store, h: u64) -> Vec<Vec<u8>> {
    store
        .block(h)
        .unwrap()
        .unwrap()
        .block
        .transactions
        .iter()
        .map(|t| {
            covenant_types::tx::DecodedTx::decode(SUITE, t, usize::MAX)
                .unwrap()
                .id
                .as_bytes()
                .to_vec()
        })
        .collect()
}

#[test]
fn a_tx_index_entry_pointing_elsewhere_is_refused_and_the_indexes_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    store_with_state(dir.path());
    let (id, other) = {
        let store = Store::open(dir.path(), SUITE).unwrap();
        (tx_ids(&store, 1)[0].clone(), tx_ids(&store, 1)[1].clone())
    };
    // Point the first transaction of block 1 at the second's place.
    state_file::edit_entry(&dir.path().join("state.redb"), state_file::TXS, &id, |_| {
        let mut at = 1u64.to_be_bytes().to_vec();
        at.extend_from_slice(&1u32.to_be_bytes());
        Some(at)
    });
    let store = Store::open(dir.path(), SUITE).unwrap();
    assert_eq!(store.find_tx(&id).unwrap_err().code(), "INDEX_DAMAGED");
    // Until the rebuild, every lookup through the indexes is refused.
    assert_eq!(store.find_tx(&other).unwrap_err().code(), "INDEX_DAMAGED");
    let hash = store.block(2).unwrap().unwrap().hash;
    assert_eq!(
        store.height_of(hash.as_bytes()).unwrap_err().code(),
        "INDEX_DAMAGED"
    );
    assert!(store.indexes_damaged().is_some());

    assert!(store.rebuild_indexes().unwrap());
    assert_eq!(store.indexes_damaged(), None);
    let (block, index) = store.find_tx(&id).unwrap().unwrap();
    assert_eq!((block.height(), index), (1, 0));
    assert_eq!(store.height_of(hash.as_bytes()).unwrap(), Some(2));
    let history = store.key_history(&state_key("kv", b"a"), 10).unwrap();
    assert_eq!(
        history.iter().map(|(h, i, _)| (*h, *i)).collect::<Vec<_>>(),
        vec![(1, 0), (3, 0)]
    );
    assert_eq!(store.contract_events("kv", 0, 10).unwrap().len(), 4);
}

#[test]
fn a_missing_tx_index_entry_is_found_by_the_scrub() {
    let dir = tempfile::tempdir().unwrap();
    store_with_state(dir.path());
    let id = {
        let store = Store::open(dir.path(), SUITE).unwrap();
        tx_ids(&store, 2)[0].clone()
    };
    state_file::edit_entry(
        &dir.path().join("state.redb"),
        state_file::TXS,
        &id,
        |old| {
            assert!(old.is_some());
            None
        },
    );
    let store = Store::open(dir.path(), SUITE).unwrap();
    // A lookup cannot tell a removed entry from a transaction never committed; the scrub can.
    assert!(store.find_tx(&id).unwrap().is_none());
    let mut checked = 0;
    while store.indexes_damaged().is_none() && checked < 10 {
        checked += store.scrub_indexes(1).unwrap().max(1);
    }
    assert!(store.indexes_damaged().is_some());
    assert!(store.rebuild_indexes().unwrap());
    assert_eq!(
        store.find_tx(&id).unwrap().map(|(b, i)| (b.height(), i)),
        Some((2, 0))
    );
    // A clean pass afterwards.
    assert_eq!(store.scrub_indexes(100).unwrap(), 4);
    assert_eq!(store.indexes_damaged(), None);
}

/// Run `store`'s digest pass to its end: the checkpoint's height and digest.
fn finish_digest(store: &Store) -> (u64, [u8; 32]) {
    loop {
        if let Some(d) = store.digest_state(3).unwrap() {
            return d;
        }
    }
}

#[test]
fn checkpoint_digests_agree_across_stores_and_show_a_removed_entry_until_the_state_is_rebuilt() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Store::open(da.path(), SUITE).unwrap();
    let mut b = Store::open(db.path(), SUITE).unwrap();
    // The same blocks into both, up to the checkpoint after genesis.
    let commit_both = |a: &Store, b: &Store, to: u64| {
        while a.height().is_none_or(|h| h < to) {
            let n = a.height().map_or(0, |h| h + 1);
            let txs = if n == 0 {
                vec![]
            } else {
                vec![put(&format!("k{n}"), &n.to_string())]
            };
            let block = block_after(a, "main", &txs);
            a.commit(&block).unwrap();
            b.commit(&block).unwrap();
        }
    };
    commit_both(&a, &b, CHECKPOINT_EVERY);
    // Height 0 and CHECKPOINT_EVERY are checkpoints; a pass runs one at a time.
    assert_eq!(finish_digest(&a).0, 0);
    assert_eq!(finish_digest(&b).0, 0);
    commit_both(&a, &b, 2 * CHECKPOINT_EVERY - 1);
    // Remove an entry from b's state while it is closed: every entry left passes its checks.
    drop(b);
    state_file::edit_entry(
        &db.path().join("state.redb"),
        state_file::STATE,
        &state_key("kv", b"k5"),
        |old| {
            assert!(old.is_some());
            None
        },
    );
    b = Store::open(db.path(), SUITE).unwrap();
    let s = b.scrub_state(usize::MAX).unwrap();
    assert_eq!(s.damaged, 0, "each remaining entry is sound");
    commit_both(&a, &b, 2 * CHECKPOINT_EVERY);
    let (ha, good) = finish_digest(&a);
    let (hb, bad) = finish_digest(&b);
    assert_eq!((ha, hb), (2 * CHECKPOINT_EVERY, 2 * CHECKPOINT_EVERY));
    assert_ne!(good, bad, "the removed entry changes b's digest");
    assert_eq!(b.state_digests().get(&hb), Some(&bad));

    assert!(b.rebuild_state().unwrap());
    assert!(b.state_digests().is_empty());
    assert_eq!(
        value_of(&b, &state_key("kv", b"k5")),
        Ok(Some(b"5".to_vec()))
    );
    commit_both(&a, &b, 3 * CHECKPOINT_EVERY);
    assert_eq!(finish_digest(&a), finish_digest(&b));
}
