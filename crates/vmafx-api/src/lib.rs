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

/// The largest request the controller decodes from clients (`JobService`) unless configured
/// otherwise: jobs are small, and every byte of a message is buffered before it is checked.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 << 20;

/// The largest message carrying per-frame results (`CompleteJob`, `GetJobFrames`) unless
/// configured otherwise. Per-frame documents of feature-length clips run to tens of megabytes,
/// and losing a finished job to a size limit costs its whole scoring time, so this bound is
/// larger; the controller decodes such messages only from authenticated nodes.
pub const DEFAULT_MAX_RESULT_BYTES: usize = 256 << 20;
