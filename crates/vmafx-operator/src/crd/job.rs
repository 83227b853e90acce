//! `VmafxJob`: one reference/distorted scoring job, submitted to the vmafx controller.

// Every `printcolumn(…)` in `#[kube(…)]` repeats `type_ = "string"`; clippy reads that as a
// duplicated attribute.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The model a job is scored with when its spec names none.
pub const DEFAULT_MODEL: &str = "vmaf_v0.6.1";

/// What to score and how. Immutable in practice: the controller job is submitted once, keyed by
/// the object's UID.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "vmafx.dev",
    version = "v1",
    kind = "VmafxJob",
    namespaced,
    shortname = "vmjob",
    category = "vmafx",
    status = "VmafxJobStatus",
    doc = "One reference/distorted video-quality scoring job",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Score", type_ = "number", json_path = ".status.score"),
    printcolumn(name = "Node", type_ = "string", json_path = ".status.node"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct VmafxJobSpec {
    /// URI of the reference video: file://, s3://, gs://, azure://, http(s)://, rclone:// or any
    /// other `scheme://` an rclone remote serves.
    pub reference: String,
    /// URI of the distorted video, in the same forms as `reference`.
    pub distorted: String,
    /// VMAF model to score with (a built-in name such as `vmaf_v0.6.1`, or a path on the node).
    #[serde(default = "default_model")]
    pub model: String,
    /// Further models whose pooled scores are reported next to `model`'s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_models: Vec<String>,
    /// Compute backend: cpu, cuda, hip, sycl or vulkan. A non-cpu job runs only on a node that
    /// offers that backend.
    #[serde(default = "default_backend")]
    pub backend: String,
    /// Higher runs first; equal priorities run first-in, first-out.
    #[serde(default)]
    pub priority: i32,
    /// Extra features to compute besides the model's own (for example `psnr`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// Where the job runs: `queue` (the default) sends it to the vmafx controller's queue for a
    /// worker node; `pod` runs it in a Pod of its own (a `batch/v1` Job owned by this object),
    /// which takes its GPU only while scoring and needs no controller.
    #[serde(default)]
    pub execution: Execution,
    /// Attempts before the job fails, 1 to 10: a Pod evicted, OOM-killed or unable to reach its
    /// storage is run again until then; a bad input fails at once. Default: the controller's
    /// setting in `queue` mode, 3 in `pod` mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<i32>,
    /// `pod` mode: the URI the per-frame results (libvmaf's JSON document) are written to:
    /// `s3://`, `gs://`, `azure://`, `rclone://` or an rclone remote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// `pod` mode: the image to run (it must hold `vmafx`); default: the operator's
    /// `VMAFX_OPERATOR_JOB_IMAGE`. It must match `VMAFX_OPERATOR_ALLOWED_IMAGES`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `pod` mode: the labels a node must have to run the Pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// `pod` mode: the taints the Pod tolerates (GPU nodes are often tainted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// `pod` mode: a `kubernetes.io/dockerconfigjson` Secret to pull the image with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secret: Option<String>,
    /// `pod` mode: a Secret whose keys become the Pod's environment: storage credentials and
    /// endpoints (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL`, `RCLONE_CONFIG_<REMOTE>_TYPE`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_secret: Option<String>,
    /// `pod` mode: the scoring container's CPU and memory requests and limits. The GPU of
    /// `spec.backend` is added to the limits unless they name it already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// Where a `VmafxJob` runs.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Execution {
    /// Through the vmafx controller's queue, on a worker node.
    #[default]
    Queue,
    /// In a Pod of its own.
    Pod,
}

fn default_model() -> String {
    DEFAULT_MODEL.to_owned()
}

fn default_backend() -> String {
    "cpu".to_owned()
}

impl VmafxJobSpec {
    /// A job scoring `distorted` against `reference` with every other field at its default.
    pub fn new(reference: impl Into<String>, distorted: impl Into<String>) -> VmafxJobSpec {
        VmafxJobSpec {
            reference: reference.into(),
            distorted: distorted.into(),
            model: default_model(),
            additional_models: Vec::new(),
            backend: default_backend(),
            priority: 0,
            features: Vec::new(),
            execution: Execution::Queue,
            max_attempts: None,
            output: None,
            image: None,
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            image_pull_secret: None,
            storage_secret: None,
            resources: None,
        }
    }

    /// Every model the job is scored with, `model` first.
    pub fn models(&self) -> Vec<String> {
        let mut models = vec![self.model.clone()];
        for extra in &self.additional_models {
            if !models.contains(extra) {
                models.push(extra.clone());
            }
        }
        models
    }
}

/// Where a job stands, as `kubectl get vmjob` shows it.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum JobPhase {
    /// Accepted; waiting in the controller's queue (or not yet submitted).
    Pending,
    /// A node is scoring it.
    Running,
    /// Scored; `status.score` holds the result.
    Succeeded,
    /// Gave up; `status.reason` says why.
    Failed,
}

impl JobPhase {
    /// The phase's name as it appears in the status.
    pub fn as_str(self) -> &'static str {
        match self {
            JobPhase::Pending => "Pending",
            JobPhase::Running => "Running",
            JobPhase::Succeeded => "Succeeded",
            JobPhase::Failed => "Failed",
        }
    }

    /// True for Succeeded and Failed, after which nothing changes.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobPhase::Succeeded | JobPhase::Failed)
    }
}

/// What the operator last saw of the job.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmafxJobStatus {
    /// Pending, Running, Succeeded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<JobPhase>,
    /// The controller's id for this job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_job_id: Option<String>,
    /// The worker node scoring (or that scored) the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Pooled mean VMAF of `spec.model`, once Succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Pooled mean of every model the job was scored with, by model name, and of every metric
    /// its `features` produced (for example `psnr_y`, `float_ssim`, `ciede2000`, `cambi`), by
    /// metric name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scores: BTreeMap<String, f64>,
    /// Frames scored so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::count_schema")]
    pub frames_done: Option<u64>,
    /// Frames in the pair, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::count_schema")]
    pub frames_total: Option<u64>,
    /// `pod` mode: the Pod that ran (or runs) the job's latest attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// `pod` mode: attempts started so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i32>,
    /// Why the job failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When a node started scoring it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When it reached Succeeded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Submitted`, `Ready` and `Failed`, in the Kubernetes condition format.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "super::conditions_schema")]
    pub conditions: Vec<Condition>,
}
