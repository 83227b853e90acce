//! The vmafx controller's durable job queue and node registry.
//!
//! [`JobStore`] is the storage trait the controller programs against; [`SqliteStore`] implements
//! it on a SQLite file in WAL mode, acknowledging every change only once it is committed with
//! `synchronous=FULL`. Writes from many callers are group-committed by one writer thread, so
//! durability costs one fsync per batch rather than per call.
//!
//! The store is synchronous (no async runtime): async callers use `spawn_blocking`. Time is an
//! argument (`now_ms`), which keeps leases, backoff and node timeouts testable.

pub mod config;
pub mod error;
pub mod model;
pub mod sqlite;
pub mod store;

pub use config::QueueConfig;
pub use error::{Error, Result};
pub use model::{
    Backend, HeartbeatAck, Job, JobCounts, JobFilter, JobPage, JobSpec, JobState, JobSummary,
    Lease, ModelScore, Node, NodeInfo, ProgressAck, Reaped, Submitted,
};
pub use sqlite::SqliteStore;
pub use store::JobStore;
