//! `VmafxModelTraining`: an online SGD-EMA training run, mirrored from its trainer's `/status`.

// Every `printcolumn(…)` in `#[kube(…)]` repeats `type_ = "string"`; clippy reads that as a
// duplicated attribute.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One online training run of a VMAF model.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "vmafx.dev",
    version = "v1",
    kind = "VmafxModelTraining",
    namespaced,
    shortname = "vmtrain",
    category = "vmafx",
    status = "VmafxModelTrainingStatus",
    doc = "An online SGD-EMA model training run",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Samples", type_ = "integer", json_path = ".status.samples"),
    printcolumn(
        name = "ModelVersion",
        type_ = "string",
        json_path = ".status.modelVersion"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct VmafxModelTrainingSpec {
    /// The model training starts from, for example `vmaf_v0.6.1`.
    pub base_model: String,
    /// Training algorithm; `online-sgd-ema` is the one the trainer implements.
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    /// OCI repository checkpoints are pushed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_registry: Option<String>,
    /// Which nodes' scores feed the training.
    #[serde(default)]
    pub data_source: DataSource,
    /// When the trainer writes a checkpoint.
    #[serde(default)]
    pub checkpoint: CheckpointPolicy,
    /// Base URL of the trainer whose `GET /status` the operator polls (see docs/TRAINER_STATUS.md).
    /// Defaults to `http://<name>-trainer.<namespace>.svc:8080`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trainer_endpoint: Option<String>,
}

fn default_algorithm() -> String {
    "online-sgd-ema".to_owned()
}

/// Selects the worker nodes whose results are training samples.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSource {
    /// Labels a node must carry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
}

/// Checkpoint cadence.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointPolicy {
    /// Time between checkpoints, as a Go-style duration such as `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Samples needed before the first checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_samples: Option<i64>,
}

/// Where a training run stands.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum TrainingPhase {
    /// Created; the trainer has not reported yet.
    Initializing,
    /// The trainer is taking samples.
    Training,
    /// The trainer finished the run.
    Completed,
    /// The trainer gave up.
    Failed,
}

impl TrainingPhase {
    /// The phase's name as it appears in the status.
    pub fn as_str(self) -> &'static str {
        match self {
            TrainingPhase::Initializing => "Initializing",
            TrainingPhase::Training => "Training",
            TrainingPhase::Completed => "Completed",
            TrainingPhase::Failed => "Failed",
        }
    }
}

/// What the operator last read from the trainer.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmafxModelTrainingStatus {
    /// Initializing, Training, Completed or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<TrainingPhase>,
    /// Training samples taken so far.
    #[serde(default)]
    pub samples: i64,
    /// Version of the newest checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// When the newest checkpoint was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checkpoint_time: Option<Time>,
    /// When the operator last reached the trainer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll_time: Option<Time>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `TrainerReachable` and `Ready`, in the Kubernetes condition format.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "super::conditions_schema")]
    pub conditions: Vec<Condition>,
}
