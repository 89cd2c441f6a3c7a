/work/main/contracts/target/wasm32-unknown-unknown/release/deps/evidence.d: evidence/src/lib.rs

/work/main/contracts/target/wasm32-unknown-unknown/release/deps/evidence.wasm: evidence/src/lib.rs

/work/main/contracts/target/wasm32-unknown-unknown/release/deps/libevidence.rlib: evidence/src/lib.rs

evidence/src/lib.rs:
