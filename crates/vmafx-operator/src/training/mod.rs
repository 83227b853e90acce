//! Reconciler for `VmafxModelTraining`: runs `vmafx trainer` for the run as a one-Pod Deployment
//! with a Service in front (both owned by the run, so deleting it removes them), mirrors the
//! trainer's `GET /status` (the contract in docs/TRAINER_STATUS.md) into the status and
//! announces each new checkpoint with one `CheckpointWritten` event.
//!
//! Pipeline, one file each: [`validate`] the spec, the image and the trainer endpoint →
//! [`build`] the Deployment, the Service and the URL to poll (pure) → [`apply`] them (server-side
//! apply), mark a new run Initializing, poll the trainer → [`status`]: decide the new status
//! and the checkpoints not yet announced ([`mirror`], [`new_checkpoints`], pure) → write the
//! status and emit the events. Which checkpoints are new is decided from what the status records, so a restarted
//! operator announces nothing twice.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::ResourceExt;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::conditions::{self, set_condition};
use crate::context::{Context, MANAGER};
use crate::crd::{TrainingPhase, VmafxModelTraining, VmafxModelTrainingStatus};
use crate::runner;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;

/// The controller's name in metrics and logs.
pub const NAME: &str = "vmafxmodeltraining";
/// How often the trainer is polled while nothing else happens.
pub const POLL_INTERVAL: Duration = Duration::from_secs(60);
/// How soon the trainer is polled again after a failed poll: a trainer just created or
/// restarted answers within seconds, and the run should not show it missing for a minute.
pub const RETRY_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// When to poll next, after a poll that did or did not get a valid answer.
pub fn next_poll(reachable: bool) -> Duration {
    if reachable {
        POLL_INTERVAL
    } else {
        RETRY_POLL_INTERVAL
    }
}
/// Condition: the last poll got a valid answer.
pub const TRAINER_REACHABLE: &str = "TrainerReachable";
/// Condition: the trainer is training or has finished.
pub const READY: &str = "Ready";
/// Reason of the event announcing a checkpoint.
pub const CHECKPOINT_WRITTEN: &str = "CheckpointWritten";
/// The port the trainer listens on, in its container and on its Service.
pub const TRAINER_PORT: u16 = 8080;
/// Condition: the trainer's Deployment and Service are applied.
pub const AVAILABLE: &str = "Available";

/// Why a reconcile failed; it is retried.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// The object lacks what an owner reference needs (it was not read from the API server).
    #[error("failed to reference {0} as owner: it has no uid")]
    NoOwnerReference(String),
    /// The trainer's Deployment or Service could not be applied.
    #[error("failed to apply {kind} {name}: {source}")]
    Apply {
        /// Deployment or Service.
        kind: String,
        /// Its name.
        name: String,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
    /// The status could not be written (a conflict means the cached object was stale).
    #[error("failed to update the status of {name}: {source}")]
    Status {
        /// `namespace/name` of the run.
        name: String,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
}

/// The trainer's `GET /status` answer (docs/TRAINER_STATUS.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainerStatus {
    /// Where the run stands.
    pub phase: TrainingPhase,
    /// Samples taken so far.
    pub samples: i64,
    /// Version of the newest checkpoint; absent before the first.
    #[serde(default)]
    pub model_version: Option<String>,
    /// Checkpoints written so far, oldest first (a trainer may drop old ones).
    #[serde(default)]
    pub checkpoints: Vec<Checkpoint>,
}

/// One checkpoint the trainer wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Unique version of the checkpoint.
    pub version: String,
    /// Samples the checkpoint was trained on.
    pub samples: i64,
    /// When it was written (RFC 3339).
    pub written_at: Time,
    /// Content digest, e.g. `sha256:…`.
    #[serde(default)]
    pub digest: Option<String>,
}

pub mod apply;
pub mod build;
pub mod status;
pub mod validate;

use crate::runner::apply_owned as apply;
use apply::{poll, publish, write_status};
pub use build::*;
pub use status::*;
pub use validate::*;

impl From<runner::ApplyFailure> for TrainingError {
    fn from(f: runner::ApplyFailure) -> Self {
        TrainingError::Apply {
            kind: f.kind,
            name: f.name,
            source: f.source,
        }
    }
}

/// Runs the reconciler until `shutdown` fires.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let client = ctx.client.clone();
    let owned = kube::runtime::watcher::Config::default().labels(&format!(
        "{}={}",
        crate::node::MANAGED_BY.0,
        crate::node::MANAGED_BY.1
    ));
    let controller = runner::watched(Api::<VmafxModelTraining>::all(client.clone()), &ctx, NAME)
        .owns(Api::<Deployment>::all(client.clone()), owned.clone())
        .owns(Api::<Service>::all(client), owned);
    runner::run(NAME, controller, ctx, reconcile, shutdown).await;
}

/// Why a poll gave no usable status.
#[derive(Debug)]
enum PollError {
    Unreachable(String),
    Invalid(String),
    /// `spec.trainerEndpoint` is not a Service the policy lets the operator poll.
    Refused(String),
}

async fn reconcile(
    run: Arc<VmafxModelTraining>,
    ctx: Arc<Context>,
) -> Result<Action, TrainingError> {
    let generation = run.metadata.generation;
    let mut prev = run.status.clone().unwrap_or_default();
    let mut resource_version = run.resource_version();

    if prev.phase.is_none() {
        prev.phase = Some(TrainingPhase::Initializing);
        prev.observed_generation = generation;
        set_condition(
            &mut prev.conditions,
            READY,
            false,
            TrainingPhase::Initializing.as_str(),
            "waiting for the trainer's first status",
            generation,
        );
        resource_version = write_status(&ctx, &run, resource_version, &prev).await?;
    }

    let deployed = run_trainer(&ctx, &run).await?;

    let url = format!("{}/status", trainer_endpoint(&run));
    let polled = match check_trainer_endpoint(&run) {
        Ok(()) => poll(&ctx, &url).await,
        Err(why) => Err(PollError::Refused(why)),
    };
    let now = Timestamp::now();
    let was_reachable =
        conditions::find(&prev.conditions, TRAINER_REACHABLE).map(|c| c.status == "True");
    let (mut next, fresh) = match &polled {
        Ok(trainer) => mirror(&prev, trainer),
        Err(_) => (prev.clone(), Vec::new()),
    };
    next.observed_generation = generation;
    let deploy_changed = match &deployed {
        Ok(()) => set_condition(
            &mut next.conditions,
            AVAILABLE,
            true,
            "TrainerApplied",
            &format!("Deployment and Service {} are applied", trainer_name(&run)),
            generation,
        ),
        Err(invalid) => set_condition(
            &mut next.conditions,
            AVAILABLE,
            false,
            invalid.reason,
            &invalid.message,
            generation,
        ),
    };
    match &polled {
        Ok(trainer) => {
            next.last_poll_time = Some(Time(now));
            set_condition(
                &mut next.conditions,
                TRAINER_REACHABLE,
                true,
                "StatusRead",
                &format!("{url} answered"),
                generation,
            );
            let ready = matches!(
                trainer.phase,
                TrainingPhase::Training | TrainingPhase::Completed
            );
            set_condition(
                &mut next.conditions,
                READY,
                ready,
                trainer.phase.as_str(),
                &format!("the trainer reports {} samples", trainer.samples),
                generation,
            );
        }
        Err(PollError::Unreachable(why)) => {
            set_condition(
                &mut next.conditions,
                TRAINER_REACHABLE,
                false,
                "Unreachable",
                why,
                generation,
            );
        }
        Err(PollError::Invalid(why)) => {
            set_condition(
                &mut next.conditions,
                TRAINER_REACHABLE,
                false,
                "InvalidStatus",
                why,
                generation,
            );
        }
        Err(PollError::Refused(why)) => {
            set_condition(
                &mut next.conditions,
                TRAINER_REACHABLE,
                false,
                "InvalidTrainerEndpoint",
                why,
                generation,
            );
        }
    }

    if worth_writing(&prev, &next, now) {
        write_status(&ctx, &run, resource_version, &next).await?;
    }
    if let (true, Err(invalid)) = (deploy_changed, &deployed) {
        publish(
            &ctx,
            &run,
            EventType::Warning,
            invalid.reason,
            invalid.message.clone(),
        )
        .await;
    }
    // Announced only once the status that records them is written: a conflict above means
    // another reconcile decided from fresher state, and a crash here loses an event rather than
    // repeating one.
    for checkpoint in fresh {
        tracing::info!(run = %runner::object_key(run.as_ref()), version = %checkpoint.version, "checkpoint written");
        publish(
            &ctx,
            &run,
            EventType::Normal,
            CHECKPOINT_WRITTEN,
            checkpoint_note(checkpoint),
        )
        .await;
    }
    let reachable = polled.is_ok();
    if was_reachable.is_some_and(|was| was != reachable) {
        match &polled {
            Ok(_) => {
                publish(
                    &ctx,
                    &run,
                    EventType::Normal,
                    "TrainerReachable",
                    format!("{url} answers again"),
                )
                .await
            }
            Err(
                PollError::Unreachable(why) | PollError::Invalid(why) | PollError::Refused(why),
            ) => {
                publish(
                    &ctx,
                    &run,
                    EventType::Warning,
                    "TrainerUnreachable",
                    why.clone(),
                )
                .await
            }
        }
    }
    Ok(Action::requeue(next_poll(reachable)))
}

/// Applies the trainer's Deployment and Service when the spec allows one; what stands in the
/// way otherwise (the run is still polled: `spec.trainerEndpoint` may name a trainer run
/// elsewhere).
async fn run_trainer(
    ctx: &Context,
    run: &VmafxModelTraining,
) -> Result<Result<(), Invalid>, TrainingError> {
    let image = match validate(run)
        .and_then(|()| trainer_image(run, &ctx.config.job_image, &ctx.config.allowed_images))
    {
        Ok(image) => image,
        Err(invalid) => return Ok(Err(invalid)),
    };
    let ns = run.namespace().unwrap_or_default();
    apply(
        ctx,
        &ns,
        &desired_deployment(run, &image, &ctx.config.controller_grpc)?,
    )
    .await?;
    apply(ctx, &ns, &desired_service(run)?).await?;
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(version: &str, secs: i64) -> Checkpoint {
        Checkpoint {
            version: version.to_owned(),
            samples: secs * 10,
            written_at: Time(Timestamp::from_second(1_800_000_000 + secs).unwrap()),
            digest: Some(format!("sha256:{version}")),
        }
    }

    fn versions(list: &[&Checkpoint]) -> Vec<String> {
        list.iter().map(|c| c.version.clone()).collect()
    }

    #[test]
    fn checkpoint_diff() {
        let all = [cp("v2", 2), cp("v1", 1), cp("v3", 3)];
        assert_eq!(
            versions(&new_checkpoints(None, None, &all)),
            ["v1", "v2", "v3"]
        );
        assert_eq!(versions(&new_checkpoints(Some("v2"), None, &all)), ["v3"]);
        assert!(new_checkpoints(Some("v3"), None, &all).is_empty());
        // The recorded version was dropped by the trainer: its time decides.
        let t1 = all[1].written_at.0;
        assert_eq!(
            versions(&new_checkpoints(Some("v0"), Some(t1), &all)),
            ["v2", "v3"]
        );
        assert!(new_checkpoints(Some("gone"), Some(all[2].written_at.0), &all).is_empty());
        assert!(new_checkpoints(Some("v1"), None, &[]).is_empty());
    }

    #[test]
    fn mirrored_status_records_what_was_announced() {
        let trainer = TrainerStatus {
            phase: TrainingPhase::Training,
            samples: 2500,
            model_version: Some("v2".into()),
            checkpoints: vec![cp("v1", 1), cp("v2", 2)],
        };
        let prev = VmafxModelTrainingStatus {
            phase: Some(TrainingPhase::Initializing),
            ..Default::default()
        };
        let (next, fresh) = mirror(&prev, &trainer);
        assert_eq!(versions(&fresh), ["v1", "v2"]);
        assert_eq!(next.phase, Some(TrainingPhase::Training));
        assert_eq!(next.samples, 2500);
        assert_eq!(next.model_version.as_deref(), Some("v2"));
        assert_eq!(next.last_checkpoint_time, Some(cp("v2", 2).written_at));
        // Polling the same answer again announces nothing.
        let (again, fresh) = mirror(&next, &trainer);
        assert!(fresh.is_empty());
        assert_eq!(again, next);
        // A trainer that leaves modelVersion out gets the newest checkpoint's.
        let mut quiet = trainer.clone();
        quiet.model_version = None;
        quiet.checkpoints.push(cp("v3", 3));
        let (next, fresh) = mirror(&next, &quiet);
        assert_eq!(versions(&fresh), ["v3"]);
        assert_eq!(next.model_version.as_deref(), Some("v3"));
    }

    #[test]
    fn contract_example_parses() {
        let doc = include_str!("../../../../docs/TRAINER_STATUS.md");
        let start = doc.find("```json").unwrap() + "```json".len();
        let end = start + doc[start..].find("```").unwrap();
        let status: TrainerStatus = serde_json::from_str(&doc[start..end]).unwrap();
        assert_eq!(status.phase, TrainingPhase::Training);
        assert_eq!(status.checkpoints.len(), 2);
        assert!(
            serde_json::from_str::<TrainerStatus>(r#"{"phase":"Sleeping","samples":1}"#).is_err()
        );
    }

    #[test]
    fn default_endpoint() {
        let mut run = VmafxModelTraining::new(
            "run1",
            serde_json::from_value(serde_json::json!({"baseModel": "vmaf_v0.6.1"})).unwrap(),
        );
        run.metadata.namespace = Some("ns".into());
        assert_eq!(trainer_endpoint(&run), "http://run1-trainer.ns.svc:8080");
        assert_eq!(
            trainer_endpoint(&run),
            format!("http://{}.ns.svc:8080", trainer_name(&run))
        );
        run.spec.trainer_endpoint = Some("http://127.0.0.1:5/".into());
        assert_eq!(trainer_endpoint(&run), "http://127.0.0.1:5");
    }

    #[test]
    fn only_the_poll_time_moving_is_not_written_twice_in_a_row() {
        let now = Timestamp::now();
        let prev = VmafxModelTrainingStatus {
            samples: 1,
            last_poll_time: Some(Time(now)),
            ..Default::default()
        };
        let mut next = prev.clone();
        next.last_poll_time = Some(Time(now + Duration::from_secs(1)));
        assert!(!worth_writing(&prev, &next, now));
        next.samples = 2;
        assert!(worth_writing(&prev, &next, now));
        next.samples = 1;
        assert!(worth_writing(&prev, &next, now + Duration::from_secs(40)));
        // A failed poll leaves the time alone: nothing to write.
        assert!(!worth_writing(&prev, &prev, now + Duration::from_secs(40)));
    }

    fn full_run() -> VmafxModelTraining {
        let mut run = VmafxModelTraining::new(
            "run2",
            serde_json::from_value(serde_json::json!({
                "baseModel": "vmaf_v0.6.1",
                "outputRegistry": "registry.example:5000/vmafx/models",
                "checkpoint": {"interval": "5s", "minSamples": 20},
                "dataSource": {
                    "nodeSelector": {"vendor": "cpu", "backend": "cpu"},
                    "controllerTokenSecret": {"name": "viewer", "key": "token"},
                },
                "tokenSecret": {"name": "callers", "key": "tokens"},
                "registrySecret": "push",
                "registryCaSecret": {"name": "private-ca", "key": "ca.crt"},
            }))
            .unwrap(),
        );
        run.metadata.namespace = Some("ns".into());
        run.metadata.uid = Some("uid-2".into());
        run
    }

    #[test]
    fn a_missing_trainer_is_polled_again_sooner() {
        assert_eq!(next_poll(true), POLL_INTERVAL);
        assert!(next_poll(false) < POLL_INTERVAL / 4);
    }

    #[test]
    fn the_trainer_runs_the_spec() {
        let run = full_run();
        assert_eq!(validate(&run), Ok(()));
        assert_eq!(
            trainer_args(&run, "http://controller:9090"),
            [
                "trainer",
                "--listen",
                "0.0.0.0:8080",
                "--data-dir",
                "/data",
                "--run",
                "run2",
                "--base-model",
                "vmaf_v0.6.1",
                "--output-registry",
                "registry.example:5000/vmafx/models",
                "--auth-token-file",
                AUTH_TOKEN_FILE,
                "--checkpoint-interval",
                "5s",
                "--min-samples",
                "20",
                "--registry-config",
                REGISTRY_CONFIG,
                "--registry-ca",
                REGISTRY_CA_FILE,
                "--controller",
                "http://controller:9090",
                "--controller-token-file",
                CONTROLLER_TOKEN_FILE,
                "--node-selector",
                "backend=cpu",
                "--node-selector",
                "vendor=cpu",
            ]
        );
        let deployment =
            desired_deployment(&run, "ghcr.io/vmafx/vmafx:1", "http://c:9090").unwrap();
        assert_eq!(deployment.metadata.name.as_deref(), Some("run2-trainer"));
        let owner = &deployment.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("VmafxModelTraining", "uid-2")
        );
        assert_eq!(owner.controller, Some(true));
        let spec = deployment.spec;
        assert_eq!(spec.replicas, Some(1));
        assert_eq!(spec.strategy.unwrap().type_.as_deref(), Some("Recreate"));
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.automount_service_account_token, Some(false));
        assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
        let container = &pod.containers[0];
        assert_eq!(container.image.as_deref(), Some("ghcr.io/vmafx/vmafx:1"));
        let security = container.security_context.clone().unwrap();
        assert_eq!(security.read_only_root_filesystem, Some(true));
        assert_eq!(security.allow_privilege_escalation, Some(false));
        let volumes = pod.volumes.unwrap();
        let names: Vec<&str> = volumes.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "data",
                "tmp",
                "auth",
                "registry",
                "registry-ca",
                "controller-token"
            ]
        );
        assert!(volumes[0].empty_dir.is_some());
        let registry = volumes[3].secret.as_ref().unwrap();
        assert_eq!(registry.secret_name.as_deref(), Some("push"));
        assert_eq!(registry.items.as_ref().unwrap()[0].key, DOCKER_CONFIG_KEY);
        let ca = volumes[4].secret.as_ref().unwrap();
        assert_eq!(ca.secret_name.as_deref(), Some("private-ca"));
        assert_eq!(ca.items.as_ref().unwrap()[0].key, "ca.crt");
        let mounts: Vec<&str> = container
            .volume_mounts
            .as_ref()
            .unwrap()
            .iter()
            .map(|m| m.mount_path.as_str())
            .collect();
        assert_eq!(
            mounts,
            [
                "/data",
                "/tmp",
                "/etc/vmafx/trainer-auth",
                "/etc/vmafx/registry",
                "/etc/vmafx/registry-ca",
                "/etc/vmafx/controller-token"
            ]
        );
        let service = desired_service(&run).unwrap();
        assert_eq!(service.spec.unwrap().selector, spec.selector.match_labels);
    }

    #[test]
    fn what_the_trainer_lacks_is_said() {
        let mut run = full_run();
        run.spec.storage.claim_name = Some("trainer-data".into());
        let deployment = desired_deployment(&run, "i", "c").unwrap();
        let volume = &deployment.spec.template.spec.unwrap().volumes.unwrap()[0];
        assert_eq!(
            volume.persistent_volume_claim.as_ref().unwrap().claim_name,
            "trainer-data"
        );
        // Without a node selector no controller is contacted.
        run.spec.data_source.node_selector.clear();
        assert!(!trainer_args(&run, "c").contains(&"--controller".to_owned()));
        run.spec.token_secret = None;
        assert_eq!(validate(&run).unwrap_err().reason, "MissingTokenSecret");
        run.spec.output_registry = None;
        assert_eq!(validate(&run).unwrap_err().reason, "MissingOutputRegistry");
        let mut run = full_run();
        run.metadata.name = Some("a.b".into());
        assert_eq!(validate(&run).unwrap_err().reason, "InvalidName");
        run.spec.algorithm = "adam".into();
        let invalid = validate(&run).unwrap_err();
        assert_eq!(invalid.reason, "InvalidSpec");
        assert!(
            invalid.message.starts_with("spec.algorithm: "),
            "{}",
            invalid.message
        );
        let allowed = ["ghcr.io/vmafx/vmafx:".to_owned()];
        assert_eq!(
            trainer_image(&run, "ghcr.io/vmafx/vmafx:1", &allowed).unwrap(),
            "ghcr.io/vmafx/vmafx:1"
        );
        run.spec.image = Some("docker.io/x/vmafx:1".into());
        assert_eq!(
            trainer_image(&run, "ghcr.io/vmafx/vmafx:1", &allowed)
                .unwrap_err()
                .reason,
            "ImageNotAllowed"
        );
        run.metadata.uid = None;
        assert!(desired_service(&run).is_err());
    }
}
