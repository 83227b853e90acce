//! The vmafx gRPC API, generated from `proto/vmafx/v1/vmafx.proto`: the messages, the
//! `JobService` (clients, scripts, the operator) and the `NodeService` (worker nodes).

#![allow(missing_docs)]

/// Version 1 of the API (`package vmafx.v1`).
pub mod v1 {
    tonic::include_proto!("vmafx.v1");
}

pub mod client;
pub mod tls;
pub mod view;

/// The largest message either side accepts; per-frame result documents of long clips run to tens
/// of megabytes, well past tonic's 4 MiB default.
pub const MAX_MESSAGE_BYTES: usize = 512 << 20;
