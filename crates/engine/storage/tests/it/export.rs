//! Ledger exports: a chain written to one file restores byte for byte into a new store, and
//! a damaged or foreign file is refused without leaving a half-restored store behind.

use covenant_storage::{Store, export};

use crate::{
    blocks::{block_after, put},
    state_map,
};

fn chain(dir: &std::path::Path, id: &str, blocks: usize) -> Store {
    let store = Store::open(dir, crate::blocks::SUITE).unwrap();
    store.commit(&block_after(&store, id, &[])).unwrap();
    for i in 0..blocks {
        let b = block_after(
            &store,
            id,
            &[
                put(&format!("k{i}"), &format!("v{i}")),
                put("last", &i.to_string()),
            ],
        );
        store.commit(&b).unwrap();
    }
    store
}

#[test]
fn an_export_restores_every_block_and_the_state() {
    let tmp = tempfile::tempdir().unwrap();
    let store = chain(&tmp.path().join("a"), "ledger", 40);
    let file = tmp.path().join("ledger.export");
    let mut seen = Vec::new();
    let summary = export::export(&store, &[0, 7], &file, &mut |h| seen.push(h)).unwrap();
    assert_eq!(seen, (0..=40).collect::<Vec<_>>());
    assert_eq!(summary.blocks, 41);
    assert_eq!(summary.chain_id, "ledger");
    assert_eq!(summary.config_heights, vec![0, 7]);
    assert_eq!(export::summary(&file).unwrap(), summary);
    assert!(!tmp.path().join("ledger.partial").exists());

    let restored_dir = tmp.path().join("b");
    let genesis = store.block(0).unwrap().unwrap();
    let got = export::import(&file, &restored_dir, Some(&genesis), &mut |_| {}).unwrap();
    assert_eq!(got, summary);
    let restored = Store::open(&restored_dir, crate::blocks::SUITE).unwrap();
    assert_eq!(restored.tip(), store.tip());
    for h in 0..=40 {
        assert_eq!(
            restored.block_bytes(h).unwrap(),
            store.block_bytes(h).unwrap(),
            "block {h}"
        );
    }
    assert_eq!(state_map(&restored), state_map(&store));

    // A second restore into the same place is refused and leaves it as it was.
    drop(restored);
    let again = export::import(&file, &restored_dir, None, &mut |_| {}).unwrap_err();
    assert_eq!(again.code(), "LEDGER_EXPORT_INVALID", "{again}");
    let restored = Store::open(&restored_dir, crate::blocks::SUITE).unwrap();
    assert_eq!(restored.height(), Some(40));
}

#[test]
fn a_damaged_or_foreign_export_is_refused_and_nothing_is_left() {
    let tmp = tempfile::tempdir().unwrap();
    let store = chain(&tmp.path().join("a"), "ledger", 5);
    let file = tmp.path().join("ledger.export");
    export::export(&store, &[0], &file, &mut |_| {}).unwrap();
    let good = std::fs::read(&file).unwrap();

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("one byte changed in the last block", {
            let mut b = good.clone();
            let i = b.len() - 60;
            b[i] ^= 1;
            b
        }),
        ("cut short", good[..good.len() - 10].to_vec()),
        ("cut inside a block", good[..good.len() / 2].to_vec()),
        ("extra bytes", {
            let mut b = good.clone();
            b.push(0);
            b
        }),
        ("not an export", b"hello world, not a ledger".to_vec()),
        ("empty", Vec::new()),
    ];
    for (what, bytes) in cases {
        let bad = tmp.path().join("bad.export");
        std::fs::write(&bad, &bytes).unwrap();
        let dir = tmp.path().join("restore");
        let e = export::import(&bad, &dir, None, &mut |_| {}).unwrap_err();
        assert!(
            matches!(e.code(), "LEDGER_EXPORT_INVALID" | "BAD_BLOCK"),
            "{what}: {e}"
        );
        assert!(!dir.exists(), "{what}: a partial restore was left behind");
    }

    // A node configured for another chain's genesis refuses the export.
    let other = chain(&tmp.path().join("other"), "audit", 1);
    let foreign_genesis = other.block(0).unwrap().unwrap();
    let e = export::import(
        &file,
        &tmp.path().join("x"),
        Some(&foreign_genesis),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(e.code(), "WRONG_CHAIN", "{e}");
}
