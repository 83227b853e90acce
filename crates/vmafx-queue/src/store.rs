//! The storage trait the controller programs against.

use crate::error::Result;
use crate::model::{
    Feedback, FeedbackFilter, HeartbeatAck, HeldAttempt, Job, JobCounts, JobFilter, JobPage,
    JobSpec, JobSummary, Lease, Node, NodeFilter, NodeInfo, NodePage, ProgressAck, Purged, Reaped,
    Registered, Submitted,
};

/// A durable job queue and node registry.
///
/// Every call is synchronous and returns once its change is durable. Time is passed in as
/// `now_ms` (ms since the Unix epoch) so that callers and tests control the clock.
///
/// Node calls take the id of one incarnation (see [`Node`]): an id that a later registration of
/// the same name superseded fails with [`Error::NodeSuperseded`](crate::Error::NodeSuperseded),
/// an unknown (or purged) one with [`Error::NodeNotFound`](crate::Error::NodeNotFound).
///
/// Once the store has seen a failed fsync, every call fails with
/// [`Error::Fatal`](crate::Error::Fatal) and [`failure`](JobStore::failure) says why.
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

    /// Registers a node as a new incarnation with a new id. A live incarnation of the same name
    /// is superseded: its running attempts end at once as if their lease were lost (retryable,
    /// attempt counted), and their job ids come back in [`Registered::requeued`]. A capacity above
    /// [`QueueConfig::max_node_capacity`](crate::QueueConfig::max_node_capacity) is refused.
    fn register_node(&self, info: NodeInfo, now_ms: i64) -> Result<Registered>;

    /// Records that a node is alive and renews the leases it lists in `held` (and only those:
    /// a lease the node does not know it holds, say because the reply to its claim was lost,
    /// expires and requeues). Tells it which of its running jobs were cancelled and which listed
    /// attempts are no longer its own. More than
    /// [`QueueConfig::max_node_capacity`](crate::QueueConfig::max_node_capacity) entries are
    /// refused ([`Error::InvalidSpec`](crate::Error::InvalidSpec) on field `held`).
    fn heartbeat(&self, node_id: &str, held: &[HeldAttempt], now_ms: i64) -> Result<HeartbeatAck>;

    /// Gives a healthy node up to `max` pending jobs it can run (backend offered, within its free
    /// capacity, itself capped by `max_node_capacity`), highest priority first, then oldest
    /// first.
    fn claim(&self, node_id: &str, max: u32, now_ms: i64) -> Result<Vec<Lease>>;

    /// Records progress on a claimed job and renews its lease.
    ///
    /// With `holder` set to a node id, the job's current attempt must belong to that live node,
    /// else [`Error::NotLeaseHolder`](crate::Error::NotLeaseHolder) (checked before the token);
    /// `None` trusts the token alone. `complete` and `fail` check `holder` the same way.
    fn progress(
        &self,
        job_id: &str,
        token: u64,
        holder: Option<&str>,
        frames_done: u64,
        frames_total: Option<u64>,
        now_ms: i64,
    ) -> Result<ProgressAck>;

    /// Records a claimed job's result; only the current lease holder can, so a result is
    /// recorded once. A summary holding NaN or an infinity is refused
    /// ([`Error::InvalidSpec`](crate::Error::InvalidSpec) on field `summary`).
    fn complete(
        &self,
        job_id: &str,
        token: u64,
        holder: Option<&str>,
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
        holder: Option<&str>,
        error: &str,
        retryable: bool,
        now_ms: i64,
    ) -> Result<Job>;

    /// Marks silent nodes unhealthy and reclaims the jobs of those nodes and every expired lease.
    fn reap(&self, now_ms: i64) -> Result<Reaped>;

    /// Stores a subjective score for a COMPLETED job (replacing one given before), durably. An
    /// unknown job, a job in another state, or a target that is not a finite 0–100 score is
    /// refused ([`Error::InvalidSpec`](crate::Error::InvalidSpec)) and nothing is stored.
    fn add_feedback(&self, job_id: &str, target: f64, now_ms: i64) -> Result<Feedback>;

    /// Feedback in the order given, after `filter.after_seq`, one page at a time.
    fn list_feedback(&self, filter: &FeedbackFilter) -> Result<Vec<Feedback>>;

    /// The per-frame document a completed job stored.
    fn frames(&self, job_id: &str) -> Result<Option<Vec<u8>>>;

    /// Live incarnations (one per node name), oldest first, at most
    /// [`MAX_NODES_LISTED`](crate::sqlite::MAX_NODES_LISTED) of them: for metrics. Their number
    /// stays small because dead nodes are purged; use [`list_nodes`](JobStore::list_nodes) to page
    /// through all of them.
    fn nodes(&self) -> Result<Vec<Node>>;

    /// Live incarnations (one per node name), oldest first, one page at a time.
    fn list_nodes(&self, filter: &NodeFilter) -> Result<NodePage>;

    /// One node incarnation, live or superseded, or `None` when no node has this id (or it was
    /// purged).
    fn node(&self, id: &str) -> Result<Option<Node>>;

    /// Jobs per state.
    fn counts(&self) -> Result<JobCounts>;

    /// Deletes, oldest first and a bounded amount per call so the writer never stalls, terminal
    /// jobs that finished before `finished_before_ms` (with their per-frame documents, freeing
    /// their idempotency keys) and nodes that are unhealthy (or superseded), silent since before
    /// `dead_nodes_before_ms` and run no job. `None` skips that kind. One call deletes at most
    /// [`PURGE_BATCH`](crate::sqlite::PURGE_BATCH) jobs (fewer when their per-frame documents are
    /// large) and as many nodes: call it again while it deletes anything.
    fn purge(
        &self,
        finished_before_ms: Option<i64>,
        dead_nodes_before_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<Purged>;

    /// Makes a small durable write (committed and fsynced like a submission): fails while the
    /// database cannot be written, e.g. on a full disk or a read-only volume. For readiness.
    fn check_writable(&self) -> Result<()>;

    /// Why the store has stopped for good (a failed fsync), or `None` while it works. A store
    /// that reports a failure never recovers: the process should exit and restart.
    fn failure(&self) -> Option<String>;
}
