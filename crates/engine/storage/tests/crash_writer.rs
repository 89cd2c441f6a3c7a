//! The writer process of the storage crash test (not part of the product): opens the store in
//! the directory given as its argument and commits blocks until it is killed, printing each
//! committed height on its own line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "it/blocks.rs"]
mod blocks;

use std::{io::Write, path::PathBuf};

use blocks::{SUITE, TestTx, block_after, put};
use covenant_storage::Store;

fn main() {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .expect("usage: covenant-storage-crash-writer <dir>")
        .into();
    let store = Store::open(&dir, SUITE).unwrap();
    if store.height().is_none() {
        store.commit(&block_after(&store, "main", &[])).unwrap();
    }
    let mut n = store.height().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    loop {
        n += 1;
        // Each block rewrites a rotating set of keys, so the final state depends on every block.
        let txs: Vec<TestTx> = (0..20)
            .map(|i| put(&format!("key{}", (n * 7 + i) % 97), &format!("{n}:{i}")))
            .collect();
        store.commit(&block_after(&store, "main", &txs)).unwrap();
        // The test may stop reading once it has killed this process.
        if writeln!(out, "{n}").and_then(|()| out.flush()).is_err() {
            return;
        }
    }
}
