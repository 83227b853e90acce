//! The queue's data model: jobs, their specs and results, nodes, and the replies of the store.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Where a job is in its life. Completed, Failed and Cancelled are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JobState {
    /// Waiting to be claimed by a node (possibly not before `not_before_ms`).
    Pending,
    /// Claimed by a node that holds its lease.
    Running,
    /// Finished with a result.
    Completed,
    /// Finished without a result, after its last attempt or a non-retryable error.
    Failed,
    /// Cancelled by a client.
    Cancelled,
}

impl JobState {
    /// Every state, in life-cycle order.
    pub const ALL: [JobState; 5] = [
        JobState::Pending,
        JobState::Running,
        JobState::Completed,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// The wire and storage name: "PENDING", "RUNNING", "COMPLETED", "FAILED" or "CANCELLED".
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "PENDING",
            JobState::Running => "RUNNING",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Cancelled => "CANCELLED",
        }
    }

    /// Whether the job can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Failed | JobState::Cancelled
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = Error;

    /// Accepts the upper-case names, and lower case for hand-typed filters.
    fn from_str(s: &str) -> Result<Self, Error> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::Parse {
                what: "job state",
                value: s.to_owned(),
            })
    }
}

/// The compute backend a job needs; a non-cpu job runs only on a node that offers it. Stored
/// by its lowercase name.
pub use vmafx_contract::Backend;

/// What a client asks to have scored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// URI of the reference video.
    pub reference: String,
    /// URI of the distorted video.
    pub distorted: String,
    /// Model specs in the CLI's `-m` syntax, e.g. "version=vmaf_v0.6.1"; empty means the default.
    #[serde(default)]
    pub models: Vec<String>,
    /// The backend the job must run on.
    pub backend: Backend,
    /// Higher runs first.
    #[serde(default)]
    pub priority: i32,
    /// Extra features in the CLI's `--feature` syntax.
    #[serde(default)]
    pub features: Vec<String>,
    /// A client-chosen key: submitting the same key again returns the first job.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Attempts before the job is FAILED; `None` takes the queue's default.
    #[serde(default)]
    pub max_attempts: Option<u32>,
}

impl JobSpec {
    /// A cpu job with the default model, priority 0 and no key.
    pub fn new(reference: impl Into<String>, distorted: impl Into<String>) -> Self {
        JobSpec {
            reference: reference.into(),
            distorted: distorted.into(),
            models: Vec::new(),
            backend: Backend::Cpu,
            priority: 0,
            features: Vec::new(),
            idempotency_key: None,
            max_attempts: None,
        }
    }
}

/// Pooled scores of one model over a whole job.
///
/// The store accepts only finite values; a `null` read back from a row written before that rule
/// (JSON has no NaN, so a NaN was stored as `null`) decodes as NaN rather than failing the read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelScore {
    /// The model's name as it appears in reports, e.g. "vmaf".
    pub model: String,
    /// Arithmetic mean over frames.
    #[serde(deserialize_with = "null_as_nan")]
    pub mean: f64,
    /// Lowest frame score.
    #[serde(deserialize_with = "null_as_nan")]
    pub min: f64,
    /// Highest frame score.
    #[serde(deserialize_with = "null_as_nan")]
    pub max: f64,
    /// Harmonic mean over frames.
    #[serde(deserialize_with = "null_as_nan")]
    pub harmonic_mean: f64,
}

impl ModelScore {
    /// The first statistic that is NaN or infinite, by name, with its value.
    pub fn first_non_finite(&self) -> Option<(&'static str, f64)> {
        [
            ("mean", self.mean),
            ("min", self.min),
            ("max", self.max),
            ("harmonic_mean", self.harmonic_mean),
        ]
        .into_iter()
        .find(|(_, value)| !value.is_finite())
    }
}

/// Reads a score, taking JSON `null` (how serde_json writes NaN and infinities) as NaN.
fn null_as_nan<'de, D>(deserializer: D) -> Result<f64, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

/// Pooled statistics of one metric a job's `features` produced (`psnr_y`, `float_ssim`, ...).
///
/// Unlike a model score, a metric may be infinite (a PSNR of identical frames without a cap);
/// JSON has no such number, so a non-finite statistic is stored as `null` and reads back as NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricScore {
    /// The metric's name as the per-frame document names it.
    pub name: String,
    /// Arithmetic mean over frames.
    #[serde(deserialize_with = "null_as_nan")]
    pub mean: f64,
    /// Lowest frame value.
    #[serde(deserialize_with = "null_as_nan")]
    pub min: f64,
    /// Highest frame value.
    #[serde(deserialize_with = "null_as_nan")]
    pub max: f64,
    /// libvmaf's shifted harmonic mean over frames.
    #[serde(deserialize_with = "null_as_nan")]
    pub harmonic_mean: f64,
}

/// Most metrics one summary may carry, and the longest metric name: a node reports what its
/// extractors wrote, a few per requested feature, so these bound only a misbehaving node.
pub const MAX_SUMMARY_METRICS: usize = 512;
/// See [`MAX_SUMMARY_METRICS`].
pub const MAX_METRIC_NAME_BYTES: usize = 256;

/// The pooled result of a completed job; the per-frame document is stored apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    /// Frames scored.
    pub frames: u64,
    /// One entry per model, in the order of the spec.
    pub models: Vec<ModelScore>,
    /// One entry per metric the spec's `features` produced (absent from rows written before
    /// metrics were reported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricScore>,
}

/// A job as the store holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Time-ordered unique id (UUID v7).
    pub id: String,
    /// What was submitted.
    pub spec: JobSpec,
    /// Current state.
    pub state: JobState,
    /// Claims so far.
    pub attempts: u32,
    /// Claims allowed before the job is FAILED.
    pub max_attempts: u32,
    /// The node running it, or that ran its last attempt.
    pub node_id: Option<String>,
    /// Frames scored so far, as last reported.
    pub frames_done: u64,
    /// Frames in the input, once the node knows.
    pub frames_total: Option<u64>,
    /// The last error, kept across retries.
    pub error: Option<String>,
    /// Submission time (ms since the Unix epoch, as passed in by the caller).
    pub created_ms: i64,
    /// When its latest attempt started.
    pub started_ms: Option<i64>,
    /// When it reached a terminal state.
    pub finished_ms: Option<i64>,
    /// A pending job is not claimed before this time (retry backoff).
    pub not_before_ms: i64,
    /// When the running attempt's lease runs out unless renewed.
    pub lease_expires_ms: Option<i64>,
    /// A client asked to cancel it while it was running.
    pub cancel_requested: bool,
    /// The pooled result, once completed.
    pub summary: Option<JobSummary>,
}

/// What a node tells the controller about itself when it registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Unique, stable name (e.g. the host or pod name); registering it again starts a new
    /// incarnation with a new id and ends the attempts of the previous one.
    pub name: String,
    /// GPU vendor, or "cpu".
    pub vendor: String,
    /// Backends it can run.
    pub backends: Vec<Backend>,
    /// Human-readable device description.
    pub device: String,
    /// Jobs it runs at once.
    pub capacity: u32,
    /// The node's vmafx version.
    pub version: String,
    /// Its HTTP health URL, if it serves one.
    #[serde(default)]
    pub address: Option<String>,
}

/// A registered node: one incarnation of a node name.
///
/// Each registration of a name makes a new incarnation with a new id; the previous one is
/// superseded (its attempts are requeued and its id is refused by every node call), and is kept
/// only as history until [`purge`](crate::JobStore::purge) forgets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Time-ordered unique id (UUID v7) of this incarnation.
    pub id: String,
    /// What it said about itself when it last registered.
    pub info: NodeInfo,
    /// When this incarnation registered.
    pub registered_ms: i64,
    /// When it was last heard from.
    pub last_heartbeat_ms: i64,
    /// False once silent longer than the node timeout, until it heartbeats or registers again.
    pub healthy: bool,
    /// Jobs it is running now.
    pub running: u32,
}

/// The reply to a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// The new incarnation.
    pub node: Node,
    /// Jobs whose running attempts on the previous incarnation of the same name were ended by
    /// this registration, as a lost lease would end them: most are PENDING again (after their
    /// backoff), a job on its last attempt is FAILED and one a client had cancelled is CANCELLED.
    pub requeued: Vec<String>,
}

/// Which nodes to list: live incarnations, oldest first, 100 a page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFilter {
    /// Page size; 0 means the default (100), and it is capped at 1000.
    #[serde(default)]
    pub limit: u32,
    /// The `next_page_token` of the previous page.
    #[serde(default)]
    pub page_token: Option<String>,
}

/// One page of a node listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodePage {
    /// Oldest registration first.
    pub nodes: Vec<Node>,
    /// Present when more nodes follow.
    pub next_page_token: Option<String>,
}

/// What one `purge` pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purged {
    /// Finished jobs deleted, with their per-frame documents.
    pub jobs: u64,
    /// Dead nodes (and superseded incarnations) forgotten.
    pub nodes: u64,
}

/// The reply to a submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    /// The job, new or found by its idempotency key.
    pub job: Job,
    /// False when the idempotency key named an existing job.
    pub created: bool,
}

/// Which jobs to list. The default lists every state, newest first, 50 a page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFilter {
    /// Only these states; empty means all.
    #[serde(default)]
    pub states: Vec<JobState>,
    /// Only jobs whose (last) node is this one.
    #[serde(default)]
    pub node_id: Option<String>,
    /// Page size; 0 means the default (50), and it is capped at 1000.
    #[serde(default)]
    pub limit: u32,
    /// The `next_page_token` of the previous page.
    #[serde(default)]
    pub page_token: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPage {
    /// Newest first.
    pub jobs: Vec<Job>,
    /// Present when more jobs follow.
    pub next_page_token: Option<String>,
}

/// An attempt a node says it holds, named by its job and lease token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldAttempt {
    /// The job.
    pub job_id: String,
    /// The token its lease was granted with.
    pub token: u64,
}

/// The reply to a heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAck {
    /// Ids of this node's running jobs that clients have cancelled: the node should stop them and
    /// call `fail`.
    pub cancel: Vec<String>,
    /// Ids of listed attempts that are not this node's any more (expired, requeued, finished):
    /// the node should stop them and drop their results.
    pub lost: Vec<String>,
}

/// A claimed job and the lease that lets the node report on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    /// The job, now RUNNING on the claiming node.
    pub job: Job,
    /// Proof of the claim: progress, complete and fail must present it.
    pub token: u64,
    /// When the lease runs out unless renewed by heartbeat or progress.
    pub expires_ms: i64,
}

/// The reply to a progress report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressAck {
    /// A client cancelled the job: the node should stop and call `fail`.
    pub cancel: bool,
}

/// What one `reap` pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaped {
    /// Jobs put back to PENDING (their node went silent or their lease ran out).
    pub requeued: Vec<String>,
    /// Jobs FAILED because that was their last attempt.
    pub failed: Vec<String>,
    /// Running jobs a client had cancelled, now CANCELLED since their node is gone.
    pub cancelled: Vec<String>,
    /// Nodes newly marked unhealthy.
    pub unhealthy_nodes: Vec<String>,
}

/// Jobs per state, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    /// PENDING jobs.
    pub pending: u64,
    /// RUNNING jobs.
    pub running: u64,
    /// COMPLETED jobs.
    pub completed: u64,
    /// FAILED jobs.
    pub failed: u64,
    /// CANCELLED jobs.
    pub cancelled: u64,
}

impl JobCounts {
    /// The count for one state.
    pub fn get(&self, state: JobState) -> u64 {
        match state {
            JobState::Pending => self.pending,
            JobState::Running => self.running,
            JobState::Completed => self.completed,
            JobState::Failed => self.failed,
            JobState::Cancelled => self.cancelled,
        }
    }

    pub(crate) fn slot(&mut self, state: JobState) -> &mut u64 {
        match state {
            JobState::Pending => &mut self.pending,
            JobState::Running => &mut self.running,
            JobState::Completed => &mut self.completed,
            JobState::Failed => &mut self.failed,
            JobState::Cancelled => &mut self.cancelled,
        }
    }

    /// All jobs.
    pub fn total(&self) -> u64 {
        self.pending + self.running + self.completed + self.failed + self.cancelled
    }
}

/// The lowest feedback target accepted: VMAF's scale.
pub const MIN_FEEDBACK_TARGET: f64 = 0.0;

/// The highest feedback target accepted: VMAF's scale.
pub const MAX_FEEDBACK_TARGET: f64 = 100.0;

/// A subjective score a user gave a completed job, for training a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    /// Position in the feedback log: later feedback has a larger one (a job's feedback given
    /// again moves to the end), so a reader resumes after the last it saw.
    pub seq: i64,
    /// The job.
    pub job_id: String,
    /// The score, within [`MIN_FEEDBACK_TARGET`]..=[`MAX_FEEDBACK_TARGET`].
    pub target: f64,
    /// The node (incarnation) that scored the job.
    pub node_id: Option<String>,
    /// When the feedback was given (ms since the Unix epoch).
    pub created_ms: i64,
}

/// Which feedback [`JobStore::list_feedback`](crate::JobStore::list_feedback) returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedbackFilter {
    /// Only feedback with a larger `seq` (0: from the start).
    pub after_seq: i64,
    /// At most this many (0: the default page, 100; at most 1,000).
    pub limit: u32,
}

/// Checks a feedback target: a finite score on VMAF's 0–100 scale.
pub fn check_feedback_target(target: f64) -> Result<(), crate::Error> {
    if target.is_finite() && (MIN_FEEDBACK_TARGET..=MAX_FEEDBACK_TARGET).contains(&target) {
        Ok(())
    } else {
        Err(crate::Error::InvalidSpec {
            field: "target",
            reason: format!(
                "is {target}; a target is a finite score from {MIN_FEEDBACK_TARGET} to \
                 {MAX_FEEDBACK_TARGET}"
            ),
        })
    }
}
