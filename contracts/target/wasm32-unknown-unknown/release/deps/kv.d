/work/main/contracts/target/wasm32-unknown-unknown/release/deps/kv.d: kv/src/lib.rs

/work/main/contracts/target/wasm32-unknown-unknown/release/deps/kv.wasm: kv/src/lib.rs

/work/main/contracts/target/wasm32-unknown-unknown/release/deps/libkv.rlib: kv/src/lib.rs

kv/src/lib.rs:
