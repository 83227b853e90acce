//! Compiles the API's .proto with protox (pure Rust), so building needs no `protoc` install.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/vmafx/v1/vmafx.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
