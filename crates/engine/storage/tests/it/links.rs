//! The ledger held to the chain most consensus nodes hold: a block rewritten and re-hashed on
//! this node's disk (its index entry too, so every local check passes) is found by walking
//! down from a hash the majority reports, refused, replaced only by the chain's block, and the
//! indexes and state derived again; an index entry alone changed is corrected.

use covenant_storage::{Store, VerifyMode, segment::Segments};
use redb::{Database, ReadableTable, TableDefinition};

use crate::{
    blocks::{SUITE, block_after, put},
    state_map,
};

const BLOCK_INDEX: TableDefinition<u64, &[u8]> = TableDefinition::new("block_index");

/// The same 41 blocks committed to `node` and `peer`; with `forged_at`, also another block
/// for that height (what an attacker with the node's disk would write instead: well formed,
/// with its own hash), returned encoded.
fn chain(node: &Store, peer: &Store, forged_at: Option<u64>) -> Option<Vec<u8>> {
    let mut forged = None;
    for h in 0..=40u64 {
        let b = block_after(
            node,
            "main",
            &[put(&format!("k{}", h % 5), &format!("v{h}"))],
        );
        if Some(h) == forged_at {
            forged = Some(block_after(node, "main", &[put("k0", "forged")]).encode());
        }
        node.commit(&b).unwrap();
        peer.commit(&b).unwrap();
    }
    forged
}

/// Point node `dir`'s index entry at `height` to a record of `bytes` appended to its segments.
fn swap_in(dir: &std::path::Path, height: u64, bytes: &[u8]) {
    let block = covenant_types::block::DecodedBlock::decode(SUITE, bytes, usize::MAX).unwrap();
    let mut segments = Segments::open(&dir.join("blocks")).unwrap();
    let loc = segments.append(height, bytes).unwrap();
    drop(segments);
    let db = Database::create(dir.join("state.redb")).unwrap();
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table(BLOCK_INDEX).unwrap();
        let mut entry = loc.encode().to_vec();
        entry.extend_from_slice(block.hash.as_bytes());
        t.insert(height, entry.as_slice()).unwrap();
    }
    w.commit().unwrap();
}

fn set_index_hash(dir: &std::path::Path, height: u64, hash: &[u8]) {
    let db = Database::create(dir.join("state.redb")).unwrap();
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table(BLOCK_INDEX).unwrap();
        let mut entry = t.get(height).unwrap().unwrap().value().to_vec();
        entry.truncate(16);
        entry.extend_from_slice(hash);
        t.insert(height, entry.as_slice()).unwrap();
    }
    w.commit().unwrap();
}

#[test]
fn a_block_rewritten_on_disk_is_found_from_the_majoritys_hash_and_replaced() {
    let peer_dir = tempfile::tempdir().unwrap();
    let peer = Store::open(peer_dir.path(), SUITE).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let forged = {
        let store = Store::open(dir.path(), SUITE).unwrap();
        chain(&store, &peer, Some(12)).unwrap()
    };
    swap_in(dir.path(), 12, &forged);
    let store = Store::open(dir.path(), SUITE).unwrap();
    // Every local read agrees with the forged index: nothing but the chain above can tell.
    assert_eq!(store.block_bytes(12).unwrap().unwrap(), forged);

    // Without an anchor the walk does nothing; with the majority's hash at 40 it goes down.
    assert_eq!(store.verify_links(100).unwrap().checked, 0);
    store.set_anchor(40, peer.indexed_hash(40).unwrap().unwrap());
    let first = store.verify_links(10).unwrap();
    assert_eq!((first.checked, first.divergent), (10, 0));
    let found = store.verify_links(100).unwrap();
    assert_eq!(found.divergent, 1, "{found:?}");
    assert_eq!(
        store.divergent(),
        vec![(12, peer.indexed_hash(12).unwrap().unwrap())]
    );
    assert_eq!(store.block(12).unwrap_err().code(), "BLOCK_DAMAGED");
    // The walk waits at the block under repair.
    assert_eq!(store.verify_links(100).unwrap().checked, 0);

    // Its own copy is not the chain's; the peer's is.
    assert_eq!(
        store.repair_block(12, &forged).unwrap_err().code(),
        "BLOCK_NOT_THIS_LEDGERS"
    );
    store
        .repair_block(12, &peer.block_bytes(12).unwrap().unwrap())
        .unwrap();
    assert!(store.divergent().is_empty());
    assert!(store.needs_rebuild());
    assert!(store.rebuild_after_divergence().unwrap());
    assert_eq!(state_map(&store), state_map(&peer));
    let rest = store.verify_links(100).unwrap();
    assert!(rest.pass_complete && rest.divergent == 0, "{rest:?}");
    assert_eq!(store.verify(VerifyMode::All).unwrap(), 41);
    for h in 0..=40 {
        assert_eq!(store.block_bytes(h).unwrap(), peer.block_bytes(h).unwrap());
    }
}

#[test]
fn an_index_entry_naming_another_hash_is_corrected() {
    let peer_dir = tempfile::tempdir().unwrap();
    let peer = Store::open(peer_dir.path(), SUITE).unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), SUITE).unwrap();
        chain(&store, &peer, None);
    }
    set_index_hash(dir.path(), 20, &[7u8; 32]);
    let store = Store::open(dir.path(), SUITE).unwrap();
    assert_eq!(store.block(20).unwrap_err().code(), "BLOCK_DAMAGED");
    // Marked damaged by that read, the block would wait for a copy with the hash its entry
    // names, which no peer has; the walk says which hash the repair must bring.
    store.set_anchor(40, peer.indexed_hash(40).unwrap().unwrap());
    let walk = store.verify_links(100).unwrap();
    assert_eq!((walk.checked, walk.divergent), (21, 1), "{walk:?}");
    store
        .repair_block(20, &peer.block_bytes(20).unwrap().unwrap())
        .unwrap();
    assert!(store.rebuild_after_divergence().unwrap());
    assert_eq!(
        store.indexed_hash(20).unwrap(),
        peer.indexed_hash(20).unwrap()
    );
    assert!(store.verify_links(100).unwrap().pass_complete);
    drop(store);
    set_index_hash(dir.path(), 25, &[7u8; 32]);
    // On a fresh open nothing is marked yet: the walk reads the block, finds it the chain's
    // and corrects the entry.
    let store = Store::open(dir.path(), SUITE).unwrap();
    store.set_anchor(40, peer.indexed_hash(40).unwrap().unwrap());
    let walk = store.verify_links(100).unwrap();
    assert_eq!(walk.corrected, 1, "{walk:?}");
    assert!(walk.pass_complete);
    assert_eq!(
        store.indexed_hash(25).unwrap(),
        peer.indexed_hash(25).unwrap()
    );
    assert!(store.indexes_damaged().is_some());
    assert!(store.rebuild_indexes().unwrap());
    assert_eq!(
        store.block_bytes(25).unwrap(),
        peer.block_bytes(25).unwrap()
    );
}
