//! Reconciler for `VmafxModelTraining`: mirrors the trainer's `GET /status` (the contract in
//! docs/TRAINER_STATUS.md) into the status and announces each new checkpoint with one
//! `CheckpointWritten` event.
//!
//! Pipeline: mark a new run Initializing → poll the trainer → decide the new status and the
//! checkpoints not yet announced ([`mirror`], [`new_checkpoints`], pure) → write the status → emit
//! the events. Which checkpoints are new is decided from what the status records, so a restarted
//! operator announces nothing twice.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::conditions::{self, set_condition};
use crate::context::{Context, MANAGER};
use crate::crd::{TrainingPhase, VmafxModelTraining, VmafxModelTrainingStatus};
use crate::runner;

/// The controller's name in metrics and logs.
pub const NAME: &str = "vmafxmodeltraining";
/// How often the trainer is polled while nothing else happens.
pub const POLL_INTERVAL: Duration = Duration::from_secs(60);
/// Condition: the last poll got a valid answer.
pub const TRAINER_REACHABLE: &str = "TrainerReachable";
/// Condition: the trainer is training or has finished.
pub const READY: &str = "Ready";
/// Reason of the event announcing a checkpoint.
pub const CHECKPOINT_WRITTEN: &str = "CheckpointWritten";
/// The port of the default trainer endpoint.
pub const TRAINER_PORT: u16 = 8080;

/// Why a reconcile failed; it is retried.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
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

/// Runs the reconciler until `shutdown` fires.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let controller = runner::watched(
        Api::<VmafxModelTraining>::all(ctx.client.clone()),
        &ctx,
        NAME,
    );
    runner::run(NAME, controller, ctx, reconcile, shutdown).await;
}

/// The trainer's base URL: `spec.trainerEndpoint`, else `http://<name>-trainer.<ns>.svc:8080`.
pub fn trainer_endpoint(run: &VmafxModelTraining) -> String {
    match run.spec.trainer_endpoint.as_deref().map(str::trim) {
        Some(endpoint) if !endpoint.is_empty() => endpoint.trim_end_matches('/').to_owned(),
        _ => format!(
            "http://{}-trainer.{}.svc:{TRAINER_PORT}",
            run.name_any(),
            run.namespace().unwrap_or_default()
        ),
    }
}

/// The checkpoints in `checkpoints` that a status recording `recorded_version` (and
/// `recorded_time`, the newest announced checkpoint's time) has not announced yet, oldest first.
///
/// Checkpoints after the recorded version are new; when the trainer no longer lists that version,
/// those written after the recorded time are; when nothing is recorded, all are.
pub fn new_checkpoints<'a>(
    recorded_version: Option<&str>,
    recorded_time: Option<Timestamp>,
    checkpoints: &'a [Checkpoint],
) -> Vec<&'a Checkpoint> {
    let mut ordered: Vec<&Checkpoint> = checkpoints.iter().collect();
    ordered.sort_by_key(|c| c.written_at.0);
    if let Some(index) = recorded_version.and_then(|v| ordered.iter().position(|c| c.version == v))
    {
        return ordered.split_off(index + 1);
    }
    match recorded_time {
        Some(time) => ordered
            .into_iter()
            .filter(|c| c.written_at.0 > time)
            .collect(),
        None => ordered,
    }
}

/// The status after a successful poll, and the checkpoints to announce.
pub fn mirror<'a>(
    prev: &VmafxModelTrainingStatus,
    trainer: &'a TrainerStatus,
) -> (VmafxModelTrainingStatus, Vec<&'a Checkpoint>) {
    let fresh = new_checkpoints(
        prev.model_version.as_deref(),
        prev.last_checkpoint_time.as_ref().map(|t| t.0),
        &trainer.checkpoints,
    );
    let mut next = prev.clone();
    next.phase = Some(trainer.phase);
    next.samples = trainer.samples;
    let newest = trainer.checkpoints.iter().max_by_key(|c| c.written_at.0);
    if let Some(version) = trainer
        .model_version
        .clone()
        .or_else(|| newest.map(|c| c.version.clone()))
    {
        next.model_version = Some(version);
    }
    if let Some(newest) = newest {
        next.last_checkpoint_time = Some(newest.written_at.clone());
    }
    (next, fresh)
}

/// Whether `next` differs from `prev` in more than the poll time, which moves on every poll.
fn worth_writing(
    prev: &VmafxModelTrainingStatus,
    next: &VmafxModelTrainingStatus,
    now: Timestamp,
) -> bool {
    let poll_age = prev.last_poll_time.as_ref().map_or(POLL_INTERVAL, |t| {
        Duration::try_from(now.duration_since(t.0)).unwrap_or_default()
    });
    let mut same = next.clone();
    same.last_poll_time = prev.last_poll_time.clone();
    // Each write triggers another reconcile; refreshing only a recent poll time would loop.
    same != *prev || (next.last_poll_time != prev.last_poll_time && poll_age >= POLL_INTERVAL / 2)
}

/// Why a poll gave no usable status.
#[derive(Debug)]
enum PollError {
    Unreachable(String),
    Invalid(String),
    /// `spec.trainerEndpoint` is not a Service the policy lets the operator poll.
    Refused(String),
}

/// Checks `spec.trainerEndpoint`, when set: it must be a Service in the run's own namespace
/// (the policy of [`crate::policy::check_service_url`]).
pub fn check_trainer_endpoint(run: &VmafxModelTraining) -> Result<(), String> {
    match run.spec.trainer_endpoint.as_deref().map(str::trim) {
        Some(endpoint) if !endpoint.is_empty() => {
            crate::policy::check_service_url(endpoint, &run.namespace().unwrap_or_default())
                .map_err(|message| format!("spec.trainerEndpoint: {message}"))
        }
        _ => Ok(()),
    }
}

async fn poll(ctx: &Context, url: &str) -> Result<TrainerStatus, PollError> {
    let response = ctx
        .http
        .get(url)
        .send()
        .await
        .map_err(|e| PollError::Unreachable(format!("GET {url}: {e}")))?;
    if !response.status().is_success() {
        return Err(PollError::Unreachable(format!(
            "GET {url} answered {}",
            response.status()
        )));
    }
    let body = crate::policy::read_limited(response, crate::policy::MAX_RESPONSE_BYTES)
        .await
        .map_err(|e| match e {
            crate::policy::BodyError::TooLarge { .. } => {
                PollError::Invalid(format!("GET {url}: {e}"))
            }
            crate::policy::BodyError::Read(_) => PollError::Unreachable(format!("GET {url}: {e}")),
        })?;
    serde_json::from_slice(&body).map_err(|e| {
        PollError::Invalid(format!(
            "GET {url} answered JSON that breaks the trainer status contract: {e}"
        ))
    })
}

async fn write_status(
    ctx: &Context,
    run: &VmafxModelTraining,
    resource_version: Option<String>,
    status: &VmafxModelTrainingStatus,
) -> Result<Option<String>, TrainingError> {
    let api: Api<VmafxModelTraining> =
        Api::namespaced(ctx.client.clone(), &run.namespace().unwrap_or_default());
    // The resourceVersion makes the write fail when the object we decided from was stale, so
    // two reconciles can never both record (and announce) the same checkpoint.
    let patch = serde_json::json!({
        "apiVersion": "vmafx.dev/v1",
        "kind": "VmafxModelTraining",
        "metadata": { "name": run.name_any(), "resourceVersion": resource_version },
        "status": status,
    });
    api.patch_status(
        &run.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(|updated| updated.resource_version())
    .map_err(|source| TrainingError::Status {
        name: runner::object_key(run),
        source,
    })
}

async fn publish(
    ctx: &Context,
    run: &VmafxModelTraining,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: "Poll".to_owned(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder().publish(&event, &run.object_ref(&())).await {
        tracing::warn!(run = %runner::object_key(run), "failed to publish event {reason}: {error}");
    }
}

fn checkpoint_note(checkpoint: &Checkpoint) -> String {
    let mut note = format!(
        "checkpoint {} written at {} after {} samples",
        checkpoint.version, checkpoint.written_at.0, checkpoint.samples
    );
    if let Some(digest) = &checkpoint.digest {
        note.push_str(&format!(" (digest {digest})"));
    }
    note
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
    Ok(Action::requeue(POLL_INTERVAL))
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
        let doc = include_str!("../../../docs/TRAINER_STATUS.md");
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
}
