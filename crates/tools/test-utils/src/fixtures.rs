//! Conformance fixtures: pinned bytes and hashes that every encoding must keep producing.
//!
//! A fixture is a file under `crates/core/types/fixtures/`: bytes as hex (`.hex`, `#` lines
//! are comments) or a JSON document (`.json`). A test that builds the bytes again compares
//! them with the pinned ones, so changing any encoding — of a transaction, a block, a result,
//! a chain config, a journal entry, a segment record, or what an execution yields — fails a
//! test. A deliberate change is made by running the tests with `COVENANT_UPDATE_FIXTURES=1`,
//! which writes the new fixtures, and committing them with the change that needs them.

use std::path::PathBuf;

use covenant_crypto::PrivateKey;

/// Set to `1` to write fixtures instead of checking them.
pub const UPDATE_ENV: &str = "COVENANT_UPDATE_FIXTURES";

/// The fixtures directory.
pub fn dir() -> PathBuf {
    crate::repo_root().join("crates/core/types/fixtures")
}

/// Whether this run writes fixtures.
pub fn updating() -> bool {
    std::env::var(UPDATE_ENV).is_ok_and(|v| v == "1")
}

fn path(name: &str) -> PathBuf {
    dir().join(name)
}

/// The bytes of hex fixture `name`.
#[track_caller]
pub fn read_bytes(name: &str) -> Vec<u8> {
    let p = path(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "fixture {} is missing ({e}); create it with {UPDATE_ENV}=1",
            p.display()
        )
    });
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    hex::decode(hex).unwrap_or_else(|e| panic!("fixture {} is not hex: {e}", p.display()))
}

/// Compare `actual` with hex fixture `name` (or write it, when updating).
#[track_caller]
pub fn check_bytes(name: &str, description: &str, actual: &[u8]) {
    if updating() {
        let mut text = format!("# {description}\n# {} bytes\n", actual.len());
        for chunk in hex::encode(actual).as_bytes().chunks(64) {
            text.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            text.push('\n');
        }
        write(name, &text);
        return;
    }
    let pinned = read_bytes(name);
    if pinned != actual {
        let at = pinned
            .iter()
            .zip(actual)
            .position(|(a, b)| a != b)
            .unwrap_or(pinned.len().min(actual.len()));
        panic!(
            "the encoding of {description} changed (fixture {name}): {} bytes pinned, {} now, \
             first difference at byte {at}.\nIf the change is deliberate, run the tests with \
             {UPDATE_ENV}=1 and commit the new fixture with it.",
            pinned.len(),
            actual.len()
        );
    }
}

/// The JSON of fixture `name`.
#[track_caller]
pub fn read_json(name: &str) -> serde_json::Value {
    let p = path(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "fixture {} is missing ({e}); create it with {UPDATE_ENV}=1",
            p.display()
        )
    });
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("fixture {} is not JSON: {e}", p.display()))
}

/// Compare `actual` with JSON fixture `name` (or write it, when updating).
#[track_caller]
pub fn check_json(name: &str, actual: &serde_json::Value) {
    if updating() {
        let text = serde_json::to_string_pretty(actual).unwrap_or_default() + "\n";
        write(name, &text);
        return;
    }
    let pinned = read_json(name);
    assert_eq!(
        &pinned, actual,
        "fixture {name} changed; if deliberate, run the tests with {UPDATE_ENV}=1 and commit it"
    );
}

fn write(name: &str, text: &str) {
    let p = path(name);
    std::fs::create_dir_all(dir()).expect("the fixtures directory");
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
}

/// A fixed Ed25519 key (its 32-byte seed is `seed` repeated): signatures made with it are
/// deterministic, so what they sign can be pinned.
pub fn ed25519_key(seed: u8) -> PrivateKey {
    // PKCS#8 v1 for Ed25519: a fixed prefix, then the 32-byte seed.
    let mut der = hex::decode("302e020100300506032b657004220420").unwrap_or_default();
    der.extend_from_slice(&[seed; 32]);
    PrivateKey::from_pkcs8_der(&der).expect("an Ed25519 key from a seed")
}
