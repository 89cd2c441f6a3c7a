//! The example contracts of `contracts/` (kv, token, evidence), built to WebAssembly once per
//! test process with the same builder the CLI and the platform use.

use std::{collections::HashMap, path::PathBuf, sync::Mutex};

use covenant_deploy::contract_build;

/// The example contracts.
pub const EXAMPLES: [&str; 3] = ["kv", "token", "evidence"];

/// The `.wasm` of example contract `name`, built (once per process) into
/// `<target>/contracts`.
pub fn example_wasm(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(p) = built.get(name) {
        return p.clone();
    }
    let dir = crate::repo_root().join("contracts").join(name);
    let target = crate::target_dir().join("contracts");
    let wasm = contract_build::build(&dir, Some(&target))
        .unwrap_or_else(|e| panic!("building example contract {name}: {e}"));
    built.insert(name.to_string(), wasm.clone());
    wasm
}

/// The bytes of example contract `name`.
pub fn example_bytes(name: &str) -> Vec<u8> {
    std::fs::read(example_wasm(name)).expect("the built contract")
}
