//! Compile the node's gRPC API (`proto/covenant/api/v1/api.proto`) with protox (pure Rust;
//! no system `protoc`). The messages it shares with the chain (package `covenant.v1`:
//! transactions, blocks, results, the chain config) are covenant-types' own.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../../proto");
    let api = "covenant/api/v1/api.proto";
    for f in [api, "covenant/v1/types.proto", "covenant/v1/config.proto"] {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile([api], [&root])?;
    let mut config = prost_build::Config::new();
    config.extern_path(".covenant.v1", "::covenant_types::pb");
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(false)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}
