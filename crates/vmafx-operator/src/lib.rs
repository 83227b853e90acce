//! The vmafx Kubernetes operator.
//!
//! It reconciles three custom resources of group `vmafx.dev/v1` against the vmafx controller:
//! [`crd::VmafxJob`] (a scoring job submitted over gRPC and followed to its score),
//! [`crd::VmafxNode`] (a worker Deployment and its health) and [`crd::VmafxModelTraining`] (an
//! online training run mirrored from its trainer). Each reconciler is a validate → build → apply →
//! update-status pipeline; status is expressed as conditions.
//!
//! Configuration comes only from environment variables ([`config`]). The operator serves
//! controller-runtime-compatible metrics, health probes and, when enabled, validating admission
//! webhooks, and runs leader election on a Lease so that only one replica reconciles.

#![warn(missing_docs)]

pub mod conditions;
pub mod config;
pub mod context;
pub mod counted;
pub mod crd;
pub mod job;
pub mod leader;
pub mod manager;
pub mod metrics;
pub mod node;
pub mod policy;
pub mod probes;
pub mod runner;
pub mod training;
pub mod webhook;

pub use config::OperatorConfig;
pub use manager::{run, OperatorError};
