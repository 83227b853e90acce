//! JSON views of the API's messages: what `vmafx job get --json` prints and what the REST mirror
//! returns, with states as names rather than protobuf numbers.

use serde::{Deserialize, Serialize};

use crate::v1::{Feedback, Job, JobSpec, JobState, JobSummary, Node};

/// The name of a job state as users see it ("PENDING", …); "UNSPECIFIED" for unknown numbers.
pub fn state_name(state: i32) -> &'static str {
    match JobState::try_from(state) {
        Ok(JobState::Pending) => "PENDING",
        Ok(JobState::Running) => "RUNNING",
        Ok(JobState::Completed) => "COMPLETED",
        Ok(JobState::Failed) => "FAILED",
        Ok(JobState::Cancelled) => "CANCELLED",
        Ok(JobState::Unspecified) | Err(_) => "UNSPECIFIED",
    }
}

/// Parses a state name, case-insensitively.
pub fn parse_state(name: &str) -> Option<JobState> {
    match name.to_ascii_uppercase().as_str() {
        "PENDING" => Some(JobState::Pending),
        "RUNNING" => Some(JobState::Running),
        "COMPLETED" => Some(JobState::Completed),
        "FAILED" => Some(JobState::Failed),
        "CANCELLED" => Some(JobState::Cancelled),
        _ => None,
    }
}

/// Whether a job in this state will never change again.
pub fn is_terminal(state: i32) -> bool {
    matches!(
        JobState::try_from(state),
        Ok(JobState::Completed | JobState::Failed | JobState::Cancelled)
    )
}

/// A job as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    /// Job id.
    pub id: String,
    /// PENDING, RUNNING, COMPLETED, FAILED or CANCELLED.
    pub state: String,
    /// Pooled mean VMAF of the first model, once COMPLETED.
    pub score: Option<f64>,
    /// Last error, if any.
    pub error: Option<String>,
    /// Reference URI.
    pub reference: String,
    /// Distorted URI.
    pub distorted: String,
    /// Models in `-m` syntax (empty: the default model).
    pub models: Vec<String>,
    /// Compute backend.
    pub backend: String,
    /// Scheduling priority (higher first).
    pub priority: i32,
    /// Extra features in `--feature` syntax.
    pub features: Vec<String>,
    /// Attempts made so far.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The node running or last running the job.
    pub node_id: Option<String>,
    /// Frames scored so far.
    pub frames_done: u64,
    /// Frames in the clip, once known.
    pub frames_total: u64,
    /// Unix milliseconds of submission.
    pub created_ms: i64,
    /// Unix milliseconds the last attempt started, if any.
    pub started_ms: Option<i64>,
    /// Unix milliseconds the job reached a terminal state, if it has.
    pub finished_ms: Option<i64>,
    /// Whether a cancellation is on its way to the node.
    pub cancel_requested: bool,
    /// The idempotency key given at submission, if any.
    pub idempotency_key: Option<String>,
    /// Pooled scores of every model, once COMPLETED.
    pub summary: Option<SummaryView>,
}

/// Pooled results of a completed job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryView {
    /// Frames scored.
    pub frames: u64,
    /// One entry per model, in request order.
    pub models: Vec<ModelScoreView>,
    /// One entry per metric the job's `features` produced, in request order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricScoreView>,
}

/// Pooled statistics of one metric; `null` where a statistic is not a finite number (JSON has
/// no infinity), as libvmaf's JSON output writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricScoreView {
    /// Metric name as it appears in the per-frame results, e.g. `psnr_y`.
    pub name: String,
    /// Arithmetic mean.
    pub mean: Option<f64>,
    /// Minimum.
    pub min: Option<f64>,
    /// Maximum.
    pub max: Option<f64>,
    /// Harmonic mean.
    pub harmonic_mean: Option<f64>,
}

/// Pooled score of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelScoreView {
    /// Model name as it appears in the per-frame results.
    pub model: String,
    /// Arithmetic mean.
    pub mean: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
    /// Harmonic mean.
    pub harmonic_mean: f64,
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

fn non_zero(ms: i64) -> Option<i64> {
    (ms != 0).then_some(ms)
}

impl From<&JobSummary> for SummaryView {
    fn from(summary: &JobSummary) -> Self {
        SummaryView {
            frames: summary.frames,
            models: summary
                .models
                .iter()
                .map(|m| ModelScoreView {
                    model: m.model.clone(),
                    mean: m.mean,
                    min: m.min,
                    max: m.max,
                    harmonic_mean: m.harmonic_mean,
                })
                .collect(),
            metrics: summary
                .metrics
                .iter()
                .map(|m| {
                    let finite = |v: f64| v.is_finite().then_some(v);
                    MetricScoreView {
                        name: m.name.clone(),
                        mean: finite(m.mean),
                        min: finite(m.min),
                        max: finite(m.max),
                        harmonic_mean: finite(m.harmonic_mean),
                    }
                })
                .collect(),
        }
    }
}

impl From<&Job> for JobView {
    fn from(job: &Job) -> Self {
        let spec = job.spec.clone().unwrap_or_default();
        let summary = job.summary.as_ref().map(SummaryView::from);
        JobView {
            id: job.id.clone(),
            state: state_name(job.state).to_string(),
            score: summary
                .as_ref()
                .and_then(|s| s.models.first())
                .map(|m| m.mean),
            error: non_empty(&job.error),
            reference: spec.reference,
            distorted: spec.distorted,
            models: spec.models,
            backend: spec.backend,
            priority: spec.priority,
            features: spec.features,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            node_id: non_empty(&job.node_id),
            frames_done: job.frames_done,
            frames_total: job.frames_total,
            created_ms: job.created_ms,
            started_ms: non_zero(job.started_ms),
            finished_ms: non_zero(job.finished_ms),
            cancel_requested: job.cancel_requested,
            idempotency_key: non_empty(&job.idempotency_key),
            summary,
        }
    }
}

/// A worker node as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    /// Node id.
    pub id: String,
    /// Name it registered with.
    pub name: String,
    /// nvidia, amd, intel or cpu.
    pub vendor: String,
    /// Backends it runs.
    pub backends: Vec<String>,
    /// Device description.
    pub device: String,
    /// Jobs it runs at once.
    pub capacity: u32,
    /// Jobs it runs now.
    pub running: u32,
    /// False once its heartbeat is older than the controller's node timeout.
    pub healthy: bool,
    /// Unix milliseconds of its last heartbeat.
    pub last_heartbeat_ms: i64,
    /// Unix milliseconds it registered.
    pub registered_ms: i64,
    /// Its version.
    pub version: String,
    /// Base URL of its health endpoints, if it serves them.
    pub address: Option<String>,
}

impl From<&Node> for NodeView {
    fn from(node: &Node) -> Self {
        let info = node.info.clone().unwrap_or_default();
        NodeView {
            id: node.id.clone(),
            name: info.name,
            vendor: info.vendor,
            backends: info.backends,
            device: info.device,
            capacity: info.capacity,
            running: node.running,
            healthy: node.healthy,
            last_heartbeat_ms: node.last_heartbeat_ms,
            registered_ms: node.registered_ms,
            version: info.version,
            address: non_empty(&info.address),
        }
    }
}

/// The body of a REST submission (`POST /api/v1/jobs`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    /// Reference URI.
    pub reference: String,
    /// Distorted URI.
    pub distorted: String,
    /// Models in `-m` syntax.
    #[serde(default)]
    pub models: Vec<String>,
    /// Compute backend (default cpu).
    #[serde(default)]
    pub backend: String,
    /// Priority (default 0).
    #[serde(default)]
    pub priority: i32,
    /// Extra features.
    #[serde(default)]
    pub features: Vec<String>,
    /// Attempts allowed (default: the controller's).
    #[serde(default)]
    pub max_attempts: u32,
    /// Idempotency key.
    #[serde(default)]
    pub idempotency_key: String,
}

impl SubmitBody {
    /// The protobuf spec this body describes.
    pub fn spec(&self) -> JobSpec {
        JobSpec {
            reference: self.reference.clone(),
            distorted: self.distorted.clone(),
            models: self.models.clone(),
            backend: self.backend.clone(),
            priority: self.priority,
            features: self.features.clone(),
            max_attempts: self.max_attempts,
        }
    }
}

/// The body of `POST /api/v1/jobs/{id}/feedback`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBody {
    /// The score the job should have had, 0 to 100.
    pub target: f64,
}

/// Stored feedback as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackView {
    /// Position in the feedback log.
    pub seq: i64,
    /// The job.
    pub job_id: String,
    /// The target score.
    pub target: f64,
    /// The node that scored the job, if known.
    pub node_id: Option<String>,
    /// Unix milliseconds it was given.
    pub created_ms: i64,
}

impl From<&Feedback> for FeedbackView {
    fn from(feedback: &Feedback) -> Self {
        FeedbackView {
            seq: feedback.seq,
            job_id: feedback.job_id.clone(),
            target: feedback.target,
            node_id: (!feedback.node_id.is_empty()).then(|| feedback.node_id.clone()),
            created_ms: feedback.created_ms,
        }
    }
}
