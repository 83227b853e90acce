//! The vmafx controller: owns the durable job queue and the node registry, and serves them over
//! gRPC (`JobService` for clients, `NodeService` for worker nodes) and HTTP (health, Prometheus
//! metrics, a JSON REST mirror of the API, its OpenAPI description and a web page).
//!
//! Every front end goes through [`Controller`], the shared context: it validates requests, calls
//! the store on a blocking thread, publishes job changes to watchers and counts metrics.

mod controller;
mod convert;
mod events;
mod grpc;
mod http;
mod metrics;
mod server;

pub use controller::{Controller, ControllerConfig, ControllerError};
pub use server::{serve, Bound, ServeOptions};
