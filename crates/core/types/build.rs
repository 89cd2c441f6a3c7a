//! Compile `proto/covenant/v1/*.proto` with protox (pure Rust; no system `protoc`).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../../proto");
    let files = [
        "covenant/v1/types.proto",
        "covenant/v1/config.proto",
        "covenant/v1/api.proto",
        "covenant/v1/net.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile(files, [&root])?;
    let config = prost_build::Config::new();
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(false)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}
