//! `VmafxModelTraining`: an online SGD-EMA training run, mirrored from its trainer's `/status`.

// Every `printcolumn(…)` in `#[kube(…)]` repeats `type_ = "string"`; clippy reads that as a
// duplicated attribute.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::node::{dns_subdomain, SecretKeyRef};

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
    /// Defaults to `http://<name>-trainer.<namespace>.svc:8080`, the Service of the trainer the
    /// operator runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trainer_endpoint: Option<String>,
    /// Image running `vmafx trainer`; defaults to the operator's `VMAFX_OPERATOR_JOB_IMAGE`, and
    /// must start with one of `VMAFX_OPERATOR_ALLOWED_IMAGES`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The trainer's callers file (`TOKEN,NAME,ROLE` lines, the controller's `--auth-token-file`
    /// format): posting samples needs a submitter token, `/metrics` a viewer's. Required for the
    /// operator to run the trainer, which listens on the Pod network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret: Option<SecretKeyRef>,
    /// A `kubernetes.io/dockerconfigjson` Secret holding push credentials for `outputRegistry`;
    /// without it the trainer pushes anonymously.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_secret: Option<String>,
    /// A Secret key holding the PEM certificates of a private CA that `outputRegistry`'s TLS
    /// certificate chains to (`--registry-ca`); the system's CAs are trusted as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_ca_secret: Option<SecretKeyRef>,
    /// Where the trainer keeps its samples, optimiser state and unpushed checkpoints.
    #[serde(default)]
    pub storage: TrainingStorage,
}

/// The trainer's data volume.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrainingStorage {
    /// A PersistentVolumeClaim in the run's namespace to keep the data on, so it survives the
    /// Pod; without it an emptyDir is used, and a rescheduled trainer starts over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_name: Option<String>,
}

fn default_algorithm() -> String {
    "online-sgd-ema".to_owned()
}

/// Selects the worker nodes whose results are training samples.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSource {
    /// What a node must match for its jobs' feedback to be a sample: keys `name`, `vendor`,
    /// `device`, `version` or `backend` (the worker's registration with the controller). When
    /// set, the trainer pulls feedback from the operator's controller.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// The token the trainer reads feedback from the controller with (the viewer role suffices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_token_secret: Option<SecretKeyRef>,
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

/// The keys a `dataSource.nodeSelector` may use: what a worker registers with the controller
/// (the trainer's `--node-selector`).
pub const NODE_SELECTOR_KEYS: [&str; 5] = ["name", "vendor", "device", "version", "backend"];

/// The one algorithm `vmafx trainer` implements.
pub const ALGORITHM: &str = "online-sgd-ema";

/// `text` as the trainer's `--checkpoint-interval` reads it: a whole number and one unit of
/// s, m, h or d, more than zero; the seconds it stands for.
pub fn interval_seconds(text: &str) -> Option<u64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    };
    number
        .parse::<u64>()
        .ok()?
        .checked_mul(scale)
        .filter(|&s| s > 0)
}

impl VmafxModelTrainingSpec {
    /// Checks the fields that are given, each as the trainer and Kubernetes will read it: the
    /// field and what is wrong, for every bad field.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        if self.algorithm != ALGORITHM {
            errors.push((
                "spec.algorithm",
                format!(
                    "{:?} is not {ALGORITHM:?}, the one algorithm vmafx trainer implements",
                    self.algorithm
                ),
            ));
        }
        let base = self.base_model.trim();
        if base.is_empty() || base.starts_with('-') || base.contains(char::is_whitespace) {
            errors.push((
                "spec.baseModel",
                format!(
                    "{:?} must name a model, such as vmaf_v0.6.1",
                    self.base_model
                ),
            ));
        }
        if let Some(output) = &self.output_registry {
            if let Err(e) = vmafx_contract::OciReference::parse(&format!("oci://{output}:latest")) {
                errors.push((
                    "spec.outputRegistry",
                    format!("{output:?} is not HOST[:PORT]/REPOSITORY: {e}"),
                ));
            }
        }
        if let Some(interval) = &self.checkpoint.interval {
            if interval_seconds(interval).is_none() {
                errors.push((
                    "spec.checkpoint.interval",
                    format!("{interval:?} must be a whole number and one unit of s, m, h or d, such as 10m"),
                ));
            }
        }
        if let Some(min) = self.checkpoint.min_samples.filter(|&m| m < 1) {
            errors.push((
                "spec.checkpoint.minSamples",
                format!("{min} must be at least 1"),
            ));
        }
        for (key, value) in &self.data_source.node_selector {
            if !NODE_SELECTOR_KEYS.contains(&key.as_str()) {
                errors.push((
                    "spec.dataSource.nodeSelector",
                    format!("unknown key {key:?}: use {}", NODE_SELECTOR_KEYS.join(", ")),
                ));
            } else if value.trim().is_empty() || value.contains([',', '\n']) {
                errors.push((
                    "spec.dataSource.nodeSelector",
                    format!("{key}: {value:?} must be one non-empty value without commas"),
                ));
            }
        }
        for (field, secret) in [
            ("spec.tokenSecret", &self.token_secret),
            ("spec.registryCaSecret", &self.registry_ca_secret),
            (
                "spec.dataSource.controllerTokenSecret",
                &self.data_source.controller_token_secret,
            ),
        ] {
            if let Some(Err(message)) = secret.as_ref().map(SecretKeyRef::check) {
                errors.push((field, message));
            }
        }
        for (field, name) in [
            ("spec.registrySecret", &self.registry_secret),
            ("spec.storage.claimName", &self.storage.claim_name),
        ] {
            if let Some(name) = name.as_ref().filter(|n| !dns_subdomain(n)) {
                errors.push((
                    field,
                    format!("{name:?} is not a lower-case DNS subdomain name"),
                ));
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(value: serde_json::Value) -> VmafxModelTrainingSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn intervals_follow_the_trainer() {
        assert_eq!(interval_seconds("5s"), Some(5));
        assert_eq!(interval_seconds("10m"), Some(600));
        assert_eq!(interval_seconds("2d"), Some(172_800));
        for bad in ["0s", "10", "1h30m", "1.5m", "m", "", "-5s", "never"] {
            assert_eq!(interval_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_full_spec_passes_and_each_bad_field_is_named() {
        let good = spec(serde_json::json!({
            "baseModel": "vmaf_v0.6.1",
            "outputRegistry": "registry.example:5000/vmafx/models",
            "checkpoint": {"interval": "10m", "minSamples": 20},
            "dataSource": {
                "nodeSelector": {"vendor": "nvidia"},
                "controllerTokenSecret": {"name": "viewer", "key": "token"},
            },
            "tokenSecret": {"name": "trainer-callers", "key": "tokens"},
            "registrySecret": "push-creds",
            "storage": {"claimName": "trainer-data"},
        }));
        assert_eq!(good.check(), []);
        let bad = spec(serde_json::json!({
            "baseModel": "--insecure",
            "algorithm": "adam",
            "outputRegistry": "not a registry",
            "checkpoint": {"interval": "1h30m", "minSamples": 0},
            "dataSource": {
                "nodeSelector": {"gpu.vendor": "nvidia", "vendor": "a,b"},
                "controllerTokenSecret": {"name": "Viewer", "key": "token"},
            },
            "tokenSecret": {"name": "callers", "key": "a/b"},
            "registrySecret": "Push_Creds",
            "registryCaSecret": {"name": "ca", "key": ""},
            "storage": {"claimName": "-data"},
        }));
        let fields: Vec<&str> = bad.check().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "spec.algorithm",
                "spec.baseModel",
                "spec.outputRegistry",
                "spec.checkpoint.interval",
                "spec.checkpoint.minSamples",
                "spec.dataSource.nodeSelector",
                "spec.dataSource.nodeSelector",
                "spec.tokenSecret",
                "spec.registryCaSecret",
                "spec.dataSource.controllerTokenSecret",
                "spec.registrySecret",
                "spec.storage.claimName",
            ]
        );
    }
}
