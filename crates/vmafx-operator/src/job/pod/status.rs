//! The pure half of following an `execution: pod` job: what its batch Job and Pods say about the
//! `VmafxJob` (phase, node, Pod, attempts, scores, conditions). No client in here.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use vmafx_contract::PodResult;

use super::build::{CONTAINER, EXIT_TRANSIENT};
use crate::conditions::set_condition;
use crate::crd::{JobPhase, VmafxJobStatus};
use crate::job::desired::{set_outcome, set_succeeded, SUBMITTED};

/// Condition type: an attempt failed and the Pod was run again (reason: why it failed).
pub const RETRIED: &str = "Retried";

/// Why one Pod attempt failed, as a condition reason (PascalCase) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFailure {
    /// `Evicted`, `OOMKilled`, `StorageUnavailable`, `ScoreFailed`, a disruption's reason, or
    /// `PodFailed`.
    pub reason: String,
    /// What happened, naming the Pod.
    pub message: String,
}

fn terminated(pod: &Pod) -> Option<&ContainerStateTerminated> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let status = statuses.iter().find(|s| s.name == CONTAINER)?;
    status.state.as_ref()?.terminated.as_ref()
}

/// The result the Pod's container left in its termination message, if it left one.
pub fn pod_result(pod: &Pod) -> Option<Result<PodResult, vmafx_contract::result::ResultError>> {
    let message = terminated(pod)?.message.as_deref()?;
    Some(PodResult::parse(message))
}

/// Why `pod` failed.
pub fn pod_failure(pod: &Pod) -> PodFailure {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let status = pod.status.as_ref();
    let failure = |reason: &str, detail: String| PodFailure {
        reason: reason.to_owned(),
        message: format!("Pod {name}: {detail}"),
    };
    if status.and_then(|s| s.reason.as_deref()) == Some("Evicted") {
        let detail = status
            .and_then(|s| s.message.clone())
            .unwrap_or_else(|| "the node evicted it".to_owned());
        return failure("Evicted", detail);
    }
    let disruption = status.and_then(|s| s.conditions.as_ref()).and_then(|c| {
        c.iter()
            .find(|c| c.type_ == "DisruptionTarget" && c.status == "True")
    });
    if let Some(condition) = disruption {
        let reason = condition.reason.as_deref().unwrap_or("Disrupted");
        let detail = condition
            .message
            .clone()
            .unwrap_or_else(|| "Kubernetes stopped it".to_owned());
        // Eviction through the API and by the kubelet both read as an eviction to users.
        let reason = if reason.contains("Eviction") {
            "Evicted"
        } else {
            reason
        };
        return failure(reason, detail);
    }
    let Some(terminated) = terminated(pod) else {
        let detail = status
            .and_then(|s| s.message.clone())
            .unwrap_or_else(|| "it failed before its container ran".to_owned());
        return failure("PodFailed", detail);
    };
    if terminated.reason.as_deref() == Some("OOMKilled") {
        return failure(
            "OOMKilled",
            "the container ran out of memory and was killed".to_owned(),
        );
    }
    if let Some(Ok(PodResult {
        error: Some(error), ..
    })) = pod_result(pod)
    {
        let reason = if terminated.exit_code == EXIT_TRANSIENT {
            "StorageUnavailable"
        } else {
            "ScoreFailed"
        };
        return failure(reason, error);
    }
    let how = terminated.reason.as_deref().unwrap_or("Error");
    failure(
        "PodFailed",
        format!(
            "the container exited with status {} ({how})",
            terminated.exit_code
        ),
    )
}

fn phase_of(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn batch_condition<'a>(batch: &'a Job, type_: &'a str) -> Option<&'a str> {
    let conditions = batch.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
        .map(|c| c.reason.as_deref().unwrap_or(type_))
}

/// Attempts started: the batch Job's count of Pods that ran, and the Pods still here.
fn attempts(batch: &Job, pods: &[Pod]) -> i32 {
    let counted = batch.status.as_ref().map_or(0, |s| {
        s.active.unwrap_or(0) + s.failed.unwrap_or(0) + s.succeeded.unwrap_or(0)
    });
    counted.max(pods.len() as i32)
}

/// The Pods newest first.
fn newest_first(pods: &[Pod]) -> Vec<&Pod> {
    let mut sorted: Vec<&Pod> = pods.iter().collect();
    sorted.sort_by(|a, b| {
        let at = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
        at(b)
            .cmp(&at(a))
            .then_with(|| b.metadata.name.cmp(&a.metadata.name))
    });
    sorted
}

/// The status `previous` becomes given batch Job `batch` and its Pods. `models` are the spec's
/// models (their order is the order of the result's models); `max_attempts` what the spec
/// allows.
pub fn status_from_batch(
    previous: &VmafxJobStatus,
    batch: &Job,
    pods: &[Pod],
    models: &[String],
    max_attempts: i32,
    generation: Option<i64>,
) -> VmafxJobStatus {
    let mut status = previous.clone();
    status.observed_generation = generation;
    let batch_name = batch.metadata.name.clone().unwrap_or_default();
    set_condition(
        &mut status.conditions,
        SUBMITTED,
        true,
        "Created",
        &format!("batch Job {batch_name}"),
        generation,
    );
    let pods_newest = newest_first(pods);
    let attempts = attempts(batch, pods);
    if attempts > 0 {
        status.attempts = Some(attempts);
    }
    if let Some(pod) = pods_newest.first() {
        status.pod = pod.metadata.name.clone();
        if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) {
            status.node = Some(node);
        }
        if let Some(started) = pod.status.as_ref().and_then(|s| s.start_time.clone()) {
            status.start_time.get_or_insert(started);
        }
    }
    // The newest failure still visible; a Pod the Job has already removed keeps the condition
    // it set when it was seen.
    if let Some(failed) = pods_newest.iter().find(|p| phase_of(p) == "Failed") {
        let failure = pod_failure(failed);
        set_condition(
            &mut status.conditions,
            RETRIED,
            true,
            &failure.reason,
            &format!(
                "attempt {attempts} of {max_attempts} after: {}",
                failure.message
            ),
            generation,
        );
    }

    if batch_condition(batch, "Complete").is_some() {
        let finished = batch
            .status
            .as_ref()
            .and_then(|s| s.completion_time.clone());
        let succeeded = pods_newest.iter().find(|p| phase_of(p) == "Succeeded");
        let result = match succeeded.and_then(|p| pod_result(p)) {
            Some(Ok(result)) if result.error.is_none() => Ok(result),
            Some(Ok(result)) => Err(result.error.unwrap_or_default()),
            Some(Err(error)) => Err(format!("its result could not be read: {error}")),
            None => Err("its Pod and result are gone".to_owned()),
        };
        return match result {
            Ok(result) => succeeded_status(status, &result, models, finished, generation),
            Err(why) => ended(
                status,
                "ResultUnreadable",
                &format!("the Pod succeeded but {why}"),
                finished,
                generation,
            ),
        };
    }
    if let Some(batch_reason) = batch_condition(batch, "Failed") {
        let failure = pods_newest
            .iter()
            .find(|p| phase_of(p) == "Failed")
            .map(|p| pod_failure(p));
        let (why, message) = match (&failure, batch_reason) {
            (Some(f), "BackoffLimitExceeded") => (
                f.reason.clone(),
                format!("gave up after {attempts} attempts; the last: {}", f.message),
            ),
            (Some(f), _) => (f.reason.clone(), f.message.clone()),
            (None, reason) => (
                reason.to_owned(),
                format!("the batch Job {batch_name} failed ({reason})"),
            ),
        };
        return ended(status, &why, &message, None, generation);
    }
    let newest = pods_newest.first();
    match newest.map(|p| phase_of(p)) {
        Some("Running") => {
            status.phase = Some(JobPhase::Running);
            let message = match &status.node {
                Some(node) => format!(
                    "scoring in Pod {} on node {node}",
                    status.pod.clone().unwrap_or_default()
                ),
                None => "scoring".to_owned(),
            };
            set_outcome(
                &mut status,
                (false, "Running", &message),
                (false, "Running", ""),
                generation,
            );
        }
        _ => {
            status.phase = Some(JobPhase::Pending);
            let message = match newest.and_then(|p| waiting_reason(p)) {
                Some(waiting) => format!("the Pod is waiting: {waiting}"),
                None => "waiting for the Pod to start".to_owned(),
            };
            set_outcome(
                &mut status,
                (false, "Pending", &message),
                (false, "Pending", ""),
                generation,
            );
        }
    }
    status
}

/// Why a Pod has not started yet (`ImagePullBackOff: …`, `Unschedulable: …`), if it says.
fn waiting_reason(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    let waiting = status
        .container_statuses
        .as_ref()
        .and_then(|s| s.iter().find(|s| s.name == CONTAINER))
        .and_then(|s| s.state.as_ref()?.waiting.as_ref());
    if let Some(waiting) = waiting {
        let reason = waiting.reason.as_deref().unwrap_or("Waiting");
        return Some(match &waiting.message {
            Some(message) => format!("{reason}: {message}"),
            None => reason.to_owned(),
        });
    }
    let unscheduled = status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")?;
    Some(format!(
        "{}: {}",
        unscheduled.reason.as_deref().unwrap_or("Unschedulable"),
        unscheduled
            .message
            .as_deref()
            .unwrap_or("not scheduled yet")
    ))
}

fn succeeded_status(
    mut status: VmafxJobStatus,
    result: &PodResult,
    models: &[String],
    finished: Option<Time>,
    generation: Option<i64>,
) -> VmafxJobStatus {
    let model_means: Vec<f64> = result.models.iter().map(|m| m.mean).collect();
    let metrics = result.metrics.iter().map(|m| (m.name.clone(), m.mean));
    set_succeeded(
        &mut status,
        models,
        &model_means,
        metrics,
        Some(result.frames),
        generation,
    );
    status.reason = None;
    status.completion_time = finished.or_else(|| Some(Time(Timestamp::now())));
    status
}

fn ended(
    mut status: VmafxJobStatus,
    why: &str,
    message: &str,
    finished: Option<Time>,
    generation: Option<i64>,
) -> VmafxJobStatus {
    status.phase = Some(JobPhase::Failed);
    status.reason = Some(message.to_owned());
    status.completion_time = finished.or_else(|| Some(Time(Timestamp::now())));
    set_outcome(
        &mut status,
        (false, "Failed", message),
        (true, why, message),
        generation,
    );
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::{find, is_true};
    use crate::job::desired::{FAILED, READY};
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateWaiting, ContainerStatus, PodCondition, PodSpec, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn batch(conditions: &[(&str, &str)], failed: i32, active: i32) -> Job {
        Job {
            metadata: ObjectMeta {
                name: Some("clip-score".into()),
                ..Default::default()
            },
            status: Some(JobStatus {
                failed: Some(failed),
                active: Some(active),
                conditions: Some(
                    conditions
                        .iter()
                        .map(|(t, r)| JobCondition {
                            type_: (*t).into(),
                            status: "True".into(),
                            reason: Some((*r).into()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pod(name: &str, age: i64, phase: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(Time(
                    Timestamp::from_second(1_800_000_000 + age).unwrap(),
                )),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: Some("node-a".into()),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            }),
        }
    }

    fn with_exit(mut pod: Pod, code: i32, reason: &str, message: Option<String>) -> Pod {
        let status = pod.status.get_or_insert_with(Default::default);
        status.container_statuses = Some(vec![ContainerStatus {
            name: CONTAINER.into(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: code,
                    reason: Some(reason.into()),
                    message,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        pod
    }

    fn models() -> Vec<String> {
        vec!["vmaf_v0.6.1".into(), "vmaf_v0.6.1neg".into()]
    }

    #[test]
    fn a_completed_job_carries_the_pods_scores() {
        let result = r#"{"frames":8,"models":[{"name":"vmaf","mean":91.5},{"name":"vmaf_v0.6.1neg","mean":90.25}],"metrics":[{"name":"psnr_y","mean":40.5}]}"#;
        let done = with_exit(
            pod("clip-score-abc", 0, "Succeeded"),
            0,
            "Completed",
            Some(result.into()),
        );
        let status = status_from_batch(
            &VmafxJobStatus::default(),
            &batch(&[("Complete", "CompletionsReached")], 0, 0),
            &[done],
            &models(),
            3,
            Some(1),
        );
        assert_eq!(status.phase, Some(JobPhase::Succeeded));
        assert_eq!(status.score, Some(91.5));
        assert_eq!(status.scores["vmaf_v0.6.1neg"], 90.25);
        assert_eq!(status.scores["psnr_y"], 40.5);
        assert_eq!(status.frames_total, Some(8));
        assert_eq!(status.pod.as_deref(), Some("clip-score-abc"));
        assert_eq!(status.node.as_deref(), Some("node-a"));
        assert_eq!(status.attempts, Some(1));
        assert!(is_true(&status.conditions, READY));
        assert!(!is_true(&status.conditions, FAILED));
    }

    #[test]
    fn a_bad_input_fails_with_the_pods_reason() {
        let error = r#"{"error":"failed to open s3://clips/missing.y4m: not found (404)"}"#;
        let failed = with_exit(pod("p1", 0, "Failed"), 1, "Error", Some(error.into()));
        let status = status_from_batch(
            &VmafxJobStatus::default(),
            &batch(&[("Failed", "PodFailurePolicy")], 1, 0),
            &[failed],
            &models(),
            3,
            None,
        );
        assert_eq!(status.phase, Some(JobPhase::Failed));
        let reason = status.reason.clone().unwrap();
        assert!(
            reason.contains("s3://clips/missing.y4m: not found"),
            "{reason}"
        );
        let cond = find(&status.conditions, FAILED).unwrap();
        assert_eq!(cond.reason, "ScoreFailed");
    }

    #[test]
    fn an_eviction_is_retried_with_the_reason_in_the_conditions() {
        let mut evicted = pod("p1", 0, "Failed");
        evicted.status.as_mut().unwrap().conditions = Some(vec![PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            reason: Some("EvictionByEvictionAPI".into()),
            message: Some("Eviction API: evicting".into()),
            ..Default::default()
        }]);
        let retry = pod("p2", 5, "Running");
        let status = status_from_batch(
            &VmafxJobStatus::default(),
            &batch(&[], 1, 1),
            &[evicted, retry],
            &models(),
            3,
            None,
        );
        assert_eq!(status.phase, Some(JobPhase::Running));
        assert_eq!(status.pod.as_deref(), Some("p2"));
        assert_eq!(status.attempts, Some(2));
        let retried = find(&status.conditions, RETRIED).unwrap();
        assert_eq!(retried.reason, "Evicted");
        assert!(
            retried.message.starts_with("attempt 2 of 3 after: Pod p1:"),
            "{}",
            retried.message
        );
    }

    #[test]
    fn out_of_memory_and_storage_failures_are_named() {
        let oom = with_exit(pod("p", 0, "Failed"), 137, "OOMKilled", None);
        assert_eq!(pod_failure(&oom).reason, "OOMKilled");
        let storage = with_exit(
            pod("p", 0, "Failed"),
            EXIT_TRANSIENT,
            "Error",
            Some(
                r#"{"error":"failed to reach the storage endpoint for s3://b/k: refused"}"#.into(),
            ),
        );
        assert_eq!(pod_failure(&storage).reason, "StorageUnavailable");
        let mut evicted = pod("p", 0, "Failed");
        evicted.status.as_mut().unwrap().reason = Some("Evicted".into());
        assert_eq!(pod_failure(&evicted).reason, "Evicted");
        let crashed = with_exit(pod("p", 0, "Failed"), 139, "Error", None);
        let failure = pod_failure(&crashed);
        assert_eq!(failure.reason, "PodFailed");
        assert!(failure.message.contains("status 139"));
        // Out of attempts: the last failure is the reason.
        let status = status_from_batch(
            &VmafxJobStatus::default(),
            &batch(&[("Failed", "BackoffLimitExceeded")], 3, 0),
            &[oom],
            &models(),
            3,
            None,
        );
        assert_eq!(status.phase, Some(JobPhase::Failed));
        assert!(status
            .reason
            .unwrap()
            .starts_with("gave up after 3 attempts"));
    }

    #[test]
    fn a_waiting_pod_says_why() {
        let mut waiting = pod("p", 0, "Pending");
        waiting.status.as_mut().unwrap().container_statuses = Some(vec![ContainerStatus {
            name: CONTAINER.into(),
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("ErrImageNeverPull".into()),
                    message: Some("image is not present".into()),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        let status = status_from_batch(
            &VmafxJobStatus::default(),
            &batch(&[], 0, 1),
            &[waiting],
            &models(),
            3,
            None,
        );
        assert_eq!(status.phase, Some(JobPhase::Pending));
        let ready = find(&status.conditions, READY).unwrap();
        assert_eq!(
            ready.message,
            "the Pod is waiting: ErrImageNeverPull: image is not present"
        );
    }

    #[test]
    fn a_success_without_a_readable_result_fails() {
        let done = with_exit(
            pod("p", 0, "Succeeded"),
            0,
            "Completed",
            Some("garbage".into()),
        );
        let status = status_from_batch(
            &VmafxJobStatus::default(),
            &batch(&[("Complete", "CompletionsReached")], 0, 0),
            &[done],
            &models(),
            3,
            None,
        );
        assert_eq!(status.phase, Some(JobPhase::Failed));
        assert_eq!(
            find(&status.conditions, FAILED).unwrap().reason,
            "ResultUnreadable"
        );
    }
}
