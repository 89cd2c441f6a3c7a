/work/main/contracts/target/wasm32-unknown-unknown/release/deps/covenant_contract-06b58360359dbb50.d: /work/main/crates/covenant-contract/src/lib.rs /work/main/crates/covenant-contract/src/abi.rs /work/main/crates/covenant-contract/src/host.rs /work/main/crates/covenant-contract/src/json.rs /work/main/crates/covenant-contract/src/runtime.rs

/work/main/contracts/target/wasm32-unknown-unknown/release/deps/libcovenant_contract-06b58360359dbb50.rlib: /work/main/crates/covenant-contract/src/lib.rs /work/main/crates/covenant-contract/src/abi.rs /work/main/crates/covenant-contract/src/host.rs /work/main/crates/covenant-contract/src/json.rs /work/main/crates/covenant-contract/src/runtime.rs

/work/main/contracts/target/wasm32-unknown-unknown/release/deps/libcovenant_contract-06b58360359dbb50.rmeta: /work/main/crates/covenant-contract/src/lib.rs /work/main/crates/covenant-contract/src/abi.rs /work/main/crates/covenant-contract/src/host.rs /work/main/crates/covenant-contract/src/json.rs /work/main/crates/covenant-contract/src/runtime.rs

/work/main/crates/covenant-contract/src/lib.rs:
/work/main/crates/covenant-contract/src/abi.rs:
/work/main/crates/covenant-contract/src/host.rs:
/work/main/crates/covenant-contract/src/json.rs:
/work/main/crates/covenant-contract/src/runtime.rs:
