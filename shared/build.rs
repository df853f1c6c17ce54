//! Generates the Rust code of the wire contract from `proto/` with the pure-Rust `protox`
//! compiler, so a fresh machine needs nothing but cargo (no system `protoc`).

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not with `env!`: a build script compiled in one checkout may be reused
    // from a shared target directory by another checkout of the same sources.
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../proto");
    let files = [
        "cdg/observatoire/v1/common.proto",
        "cdg/observatoire/v1/node.proto",
        "cdg/observatoire/v1/coordinator.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile(files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // Kept for gRPC server reflection.
    std::fs::write(out.join("observatoire_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
