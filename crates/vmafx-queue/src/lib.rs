//! The vmafx controller's durable job queue and node registry.
//!
//! [`JobStore`] is the storage trait the controller programs against; [`SqliteStore`] implements
//! it on a SQLite file in WAL mode. Writes from many callers are group-committed by one writer
//! thread; a syncer thread fsyncs the WAL behind it, and submissions, results, failures,
//! cancellations and registrations are acknowledged only once that flush covers them (the
//! guarantee of `synchronous=FULL`, pipelined). Lease bookkeeping (claim, heartbeat, progress,
//! reap) is acknowledged at commit: it survives a killed process, and a power loss can only roll
//! back leases, which the lease protocol already tolerates. A failed fsync is fatal: the store
//! then refuses every call ([`Error::Fatal`]) so that the process restarts and SQLite recovers
//! from the WAL, as PostgreSQL does.
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
    check_feedback_target, Backend, Feedback, FeedbackFilter, HeartbeatAck, HeldAttempt, Job,
    JobCounts, JobFilter, JobPage, JobSpec, JobState, JobSummary, Lease, MetricScore, ModelScore,
    Node, NodeFilter, NodeInfo, NodePage, ProgressAck, Purged, Reaped, Registered, Submitted,
    MAX_FEEDBACK_TARGET, MAX_METRIC_NAME_BYTES, MAX_SUMMARY_METRICS, MIN_FEEDBACK_TARGET,
};
pub use sqlite::{SqliteStore, MAX_NODES_LISTED, PURGE_BATCH};
pub use store::JobStore;
