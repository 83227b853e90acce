//! The storage trait the controller programs against.

use crate::error::Result;
use crate::model::{
    HeartbeatAck, Job, JobCounts, JobFilter, JobPage, JobSpec, JobSummary, Lease, Node, NodeInfo,
    ProgressAck, Reaped, Submitted,
};

/// A durable job queue and node registry.
///
/// Every call is synchronous and returns once its change is durable. Time is passed in as
/// `now_ms` (ms since the Unix epoch) so that callers and tests control the clock.
pub trait JobStore: Send + Sync {
    /// Queues a job. A spec whose idempotency key is taken returns that job with
    /// `created == false`; the same key with a different spec is an error.
    fn submit(&self, spec: JobSpec, now_ms: i64) -> Result<Submitted>;

    /// One job, or `None` when no job has this id.
    fn get(&self, id: &str) -> Result<Option<Job>>;

    /// Jobs newest first, one page at a time.
    fn list(&self, filter: &JobFilter) -> Result<JobPage>;

    /// Cancels a job: a pending one at once; a running one is flagged and stays RUNNING until
    /// its node reports; a finished one is returned unchanged.
    fn cancel(&self, id: &str, now_ms: i64) -> Result<Job>;

    /// Registers a node, or re-registers one of the same name (keeping its id), marking it
    /// healthy.
    fn register_node(&self, info: NodeInfo, now_ms: i64) -> Result<Node>;

    /// Records that a node is alive, renews the leases of its running jobs and tells it which of
    /// them were cancelled.
    fn heartbeat(&self, node_id: &str, now_ms: i64) -> Result<HeartbeatAck>;

    /// Gives a healthy node up to `max` pending jobs it can run (backend offered, within its free
    /// capacity), highest priority first, then oldest first.
    fn claim(&self, node_id: &str, max: u32, now_ms: i64) -> Result<Vec<Lease>>;

    /// Records progress on a claimed job and renews its lease.
    fn progress(
        &self,
        job_id: &str,
        token: u64,
        frames_done: u64,
        frames_total: Option<u64>,
        now_ms: i64,
    ) -> Result<ProgressAck>;

    /// Records a claimed job's result; only the current lease holder can, so a result is
    /// recorded once.
    fn complete(
        &self,
        job_id: &str,
        token: u64,
        summary: JobSummary,
        frames_document: Vec<u8>,
        now_ms: i64,
    ) -> Result<Job>;

    /// Records a failed attempt: the job is retried later when `retryable` and attempts remain,
    /// cancelled if a client asked so, and FAILED otherwise.
    fn fail(
        &self,
        job_id: &str,
        token: u64,
        error: &str,
        retryable: bool,
        now_ms: i64,
    ) -> Result<Job>;

    /// Marks silent nodes unhealthy and reclaims the jobs of those nodes and every expired lease.
    fn reap(&self, now_ms: i64) -> Result<Reaped>;

    /// The per-frame document a completed job stored.
    fn frames(&self, job_id: &str) -> Result<Option<Vec<u8>>>;

    /// Every registered node, oldest first.
    fn nodes(&self) -> Result<Vec<Node>>;

    /// One node, or `None` when no node has this id.
    fn node(&self, id: &str) -> Result<Option<Node>>;

    /// Jobs per state.
    fn counts(&self) -> Result<JobCounts>;
}
