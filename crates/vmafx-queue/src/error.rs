//! The queue's error type: every message says what failed and names the job, node or file.

use std::path::PathBuf;

/// Everything the queue can refuse or fail at.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database file could not be opened, created or migrated.
    #[error("failed to open queue database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The directory for the database could not be created.
    #[error("failed to create queue database directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is a SQLite database, but not one this crate wrote.
    #[error("failed to open queue database {path}: {detail}")]
    NotVmafx {
        /// The database file.
        path: PathBuf,
        /// Why it was rejected.
        detail: String,
    },
    /// The database was written by a newer vmafx.
    #[error(
        "failed to open queue database {path}: its schema version {found} is newer than this \
         build supports ({supported})"
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA user_version` in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A statement failed on an open database.
    #[error("failed to access queue database {path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// A batch of changes could not be committed; none of it took effect.
    #[error("failed to commit to queue database {path}: {detail}")]
    Commit {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// A stored value could not be decoded: the file was altered outside vmafx.
    #[error("failed to decode {what} stored in queue database {path}: {detail}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// Which value.
        what: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The store has shut down (its writer thread is gone).
    #[error("failed to reach the writer of queue database {path}: the store is shut down")]
    Closed {
        /// The database file.
        path: PathBuf,
    },
    /// A name that should be a job state or backend is not one.
    #[error("failed to parse {what} {value:?}")]
    Parse {
        /// What was being parsed ("job state").
        what: &'static str,
        /// The rejected text.
        value: String,
    },
    /// A submitted job spec, node registration or result is unusable.
    #[error("field `{field}` {reason}")]
    InvalidSpec {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The idempotency key is already taken by a job with a different spec.
    #[error(
        "failed to submit job: idempotency key {key:?} already names job {job_id} with a \
         different spec"
    )]
    IdempotencyConflict {
        /// The key.
        key: String,
        /// The job it names.
        job_id: String,
    },
    /// No job has this id.
    #[error("failed to find job {0}")]
    JobNotFound(String),
    /// No node has this id.
    #[error("failed to find node {0}; it must register first")]
    NodeNotFound(String),
    /// The node was marked unhealthy and may not claim until it heartbeats or registers again.
    #[error(
        "failed to claim jobs for node {0}: it is marked unhealthy; heartbeat or register again"
    )]
    NodeUnhealthy(String),
    /// The caller's lease is no longer the job's current one: the job was requeued, cancelled or
    /// finished meanwhile, and this report is dropped.
    #[error("failed to update job {job_id}: lease token {token} is no longer held")]
    LeaseLost {
        /// The job.
        job_id: String,
        /// The stale token.
        token: u64,
    },
    /// A `page_token` that no listing produced.
    #[error("failed to list: invalid page_token {0:?}")]
    InvalidPageToken(String),
    /// The node id names an incarnation that a later registration of the same name replaced;
    /// the process that held it must register again.
    #[error(
        "failed to use node {node_id}: node {name} registered again since, so this id is no \
         longer live; register again"
    )]
    NodeSuperseded {
        /// The superseded id.
        node_id: String,
        /// The node's name.
        name: String,
    },
    /// A node reported on a job whose current attempt belongs to another node.
    #[error("failed to update job {job_id}: node {node_id} does not hold its lease")]
    NotLeaseHolder {
        /// The job.
        job_id: String,
        /// The node that reported.
        node_id: String,
    },
    /// An fsync of the database failed, so what was written may not be on disk: the store
    /// acknowledges nothing any more and the process must restart, recovering from the WAL.
    #[error(
        "queue database refuses every call after a failed fsync; restart the process to \
         recover from the WAL: {0}"
    )]
    Fatal(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
