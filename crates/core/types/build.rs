//! Compile the chain's messages (`proto/covenant/v1/{types,config,net}.proto`) with protox
//! (pure Rust; no system `protoc`). The node's gRPC API is covenant-api-types'.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../../proto");
    let files = [
        "covenant/v1/types.proto",
        "covenant/v1/config.proto",
        "covenant/v1/net.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile(files, [&root])?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
