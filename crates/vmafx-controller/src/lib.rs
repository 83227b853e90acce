//! The vmafx controller: owns the durable job queue and the node registry, and serves them over
//! gRPC (`JobService` for clients, `NodeService` for worker nodes) and HTTP (health, Prometheus
//! metrics, a JSON REST mirror of the API, its OpenAPI description and a web page).
//!
//! Every front end goes through [`Controller`], the shared context: it validates requests, calls
//! the store on a blocking thread, publishes job changes to watchers and counts metrics. Callers
//! are authenticated by the front ends ([`auth`]) and authorised by the controller.

pub mod auth;
mod controller;
mod convert;
mod events;
mod grpc;
mod http;
pub mod kubernetes;
mod metrics;
mod server;

pub use auth::{Authenticator, Identity, Role};
pub use controller::{
    Controller, ControllerConfig, ControllerError, DEFAULT_FORGET_NODES_AFTER,
    DEFAULT_MAX_WATCH_STREAMS, DEFAULT_RETAIN_FINISHED,
};
pub use http::require_bearer;
pub use server::{serve, Bound, ServeOptions};
