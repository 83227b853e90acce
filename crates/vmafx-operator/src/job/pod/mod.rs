//! `execution: pod`: one `VmafxJob` run in a Pod of its own. The operator creates a `batch/v1`
//! Job owned by the object, whose single Pod runs `vmafx score` on the URIs and leaves its pooled
//! result in its termination message; the status is read back from the Job and its Pods.
//!
//! Each reconcile is [`validate`] → [`build`] (pure) → [`apply`] (create the Job, read it and its
//! Pods) → [`status`] (pure) and the status write.

pub mod apply;
pub mod build;
pub mod status;
pub mod validate;
