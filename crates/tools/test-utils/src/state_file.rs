//! A chain's state database edited as someone with the files would: a changed value byte, an
//! entry rewritten in the documented format with a matching digest, an entry planted, an
//! index entry moved or removed. The node must be stopped (the database is locked while it
//! runs).

use std::path::Path;

use covenant_crypto::Suite;
use redb::{Database, ReadableTable, TableDefinition};

/// The state table: key → version, digest, value.
pub const STATE: &str = "state";
/// The transaction index: tx id → height (8 bytes) and index (4), big-endian.
pub const TXS: &str = "txs";

/// Change the stored bytes of `key` in table `table` (a byte-keyed, byte-valued table such
/// as [`STATE`] or [`TXS`]) of `db` (a `state.redb`) with `f`: it gets the bytes (`None`
/// when there is no entry) and returns the new ones (`None` removes the entry).
pub fn edit_entry(
    db: &Path,
    table: &str,
    key: &[u8],
    f: impl FnOnce(Option<Vec<u8>>) -> Option<Vec<u8>>,
) {
    let db = Database::open(db).unwrap_or_else(|e| panic!("{}: {e}", db.display()));
    let w = db.begin_write().unwrap();
    {
        let mut t = w
            .open_table(TableDefinition::<&[u8], &[u8]>::new(table))
            .unwrap();
        let old = t.get(key).unwrap().map(|v| v.value().to_vec());
        match f(old) {
            Some(new) => {
                t.insert(key, new.as_slice()).unwrap();
            }
            None => {
                t.remove(key).unwrap();
            }
        }
    }
    w.commit().unwrap();
}

/// A state entry in the stored format — version (height, tx index), digest (the suite hash
/// of the domain tag, the key with its length, the version and the value), value — as
/// someone who knows the format would write it.
pub fn forge_entry(suite: Suite, key: &[u8], height: u64, index: u32, value: &[u8]) -> Vec<u8> {
    let mut v = height.to_be_bytes().to_vec();
    v.extend_from_slice(&index.to_be_bytes());
    let mut h = suite.hasher();
    h.update(b"covenant/state-entry/1\0");
    h.update(&(key.len() as u64).to_be_bytes());
    h.update(key);
    h.update(&v);
    h.update(value);
    let mut out = v;
    out.extend_from_slice(h.finalize().as_bytes());
    out.extend_from_slice(value);
    out
}

/// Point the block-index entry of `height` in `db` (a `state.redb`) at `location` (a block
/// segment location, 16 bytes) with block hash `hash`, as someone rewriting a block and its
/// index entry together would.
pub fn point_block_index(db: &Path, height: u64, location: [u8; 16], hash: &[u8]) {
    let db = Database::open(db).unwrap_or_else(|e| panic!("{}: {e}", db.display()));
    let w = db.begin_write().unwrap();
    {
        let mut t = w
            .open_table(TableDefinition::<u64, &[u8]>::new("block_index"))
            .unwrap();
        let mut entry = location.to_vec();
        entry.extend_from_slice(hash);
        t.insert(height, entry.as_slice()).unwrap();
    }
    w.commit().unwrap();
}
