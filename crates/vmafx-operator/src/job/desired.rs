//! The pure half of the job reconciler: what to submit for a spec, which phase a controller state
//! means, and the status (and transition event) a controller job implies. No client in here, so
//! all of it is unit-tested.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use vmafx_api::v1;

use crate::conditions::set_condition;
use crate::crd::{JobPhase, VmafxJobSpec, VmafxJobStatus};

/// Condition type: the controller accepted the job.
pub const SUBMITTED: &str = "Submitted";
/// Condition type: the job has its score.
pub const READY: &str = "Ready";
/// Condition type: the job gave up.
pub const FAILED: &str = "Failed";

/// The score name the engine gives a model that names none; the first model keeps it, so its
/// score is the one `vmafx score` prints.
const DEFAULT_SCORE_NAME: &str = "vmaf";

/// The `vmaf -m` argument for one spec model.
///
/// A spec may name a model the short way (`vmaf_v0.6.1`, `/models/custom.json`) or in the full
/// `key=value:…` syntax, which passes through untouched. Every model after the first gets a
/// `name=` of its own (unless it has one), because the engine refuses two models scored under the
/// same name and names an unnamed model `vmaf`.
pub fn model_arg(model: &str, index: usize, taken: &mut Vec<String>) -> String {
    if model.contains('=') {
        return model.to_owned();
    }
    let is_path = model.contains('/') || model.ends_with(".json");
    let mut arg = if is_path {
        format!("path={model}")
    } else {
        format!("version={model}")
    };
    if index > 0 {
        let stem = if is_path {
            std::path::Path::new(model)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            model.to_owned()
        };
        // `:` and `=` delimit the argument itself.
        let mut name: String = stem
            .chars()
            .map(|c| if matches!(c, ':' | '=') { '_' } else { c })
            .collect();
        if name.is_empty() || name == DEFAULT_SCORE_NAME || taken.contains(&name) {
            name = format!("{name}_{index}");
        }
        taken.push(name.clone());
        arg.push_str(":name=");
        arg.push_str(&name);
    }
    arg
}

/// The controller job spec for a `VmafxJob` spec.
pub fn job_spec(spec: &VmafxJobSpec) -> v1::JobSpec {
    let mut taken = Vec::new();
    let models = spec
        .models()
        .iter()
        .enumerate()
        .map(|(i, m)| model_arg(m, i, &mut taken))
        .collect();
    v1::JobSpec {
        reference: spec.reference.clone(),
        distorted: spec.distorted.clone(),
        models,
        backend: spec.backend.clone(),
        priority: spec.priority,
        features: spec.features.clone(),
        // 0 leaves the controller's default in force.
        max_attempts: spec.max_attempts.map_or(0, |n| n.max(0) as u32),
    }
}

/// The phase a controller job state maps to; `None` for a state this operator does not know.
pub fn phase_for(state: i32) -> Option<JobPhase> {
    match v1::JobState::try_from(state) {
        Ok(v1::JobState::Pending) => Some(JobPhase::Pending),
        Ok(v1::JobState::Running) => Some(JobPhase::Running),
        Ok(v1::JobState::Completed) => Some(JobPhase::Succeeded),
        Ok(v1::JobState::Failed | v1::JobState::Cancelled) => Some(JobPhase::Failed),
        Ok(v1::JobState::Unspecified) | Err(_) => None,
    }
}

fn time_from_ms(ms: i64) -> Option<Time> {
    if ms <= 0 {
        return None;
    }
    Timestamp::from_millisecond(ms).ok().map(Time)
}

/// Why a controller job failed, in words.
pub fn failure_reason(job: &v1::Job) -> String {
    let error = job.error.trim();
    match v1::JobState::try_from(job.state) {
        Ok(v1::JobState::Cancelled) if error.is_empty() => {
            "the job was cancelled on the controller".to_owned()
        }
        Ok(v1::JobState::Cancelled) => format!("the job was cancelled on the controller: {error}"),
        _ if error.is_empty() => "the controller reported the job failed without a reason".into(),
        _ => error.to_owned(),
    }
}

/// Whether `after` differs from `before` in the frame count done and nothing else: a progress
/// update, which may wait (the phase, node, scores and conditions never do).
pub fn only_progress_changed(before: &VmafxJobStatus, after: &VmafxJobStatus) -> bool {
    if before.frames_done == after.frames_done {
        return false;
    }
    let mut same_progress = after.clone();
    same_progress.frames_done = before.frames_done;
    same_progress == *before
}

/// The status `previous` becomes once the controller reports `job`.
///
/// `node_name` is the name of the node running it (the id when the name is unknown); `models` are
/// the spec's models, in the order the controller scores them.
pub fn status_from_job(
    previous: &VmafxJobStatus,
    job: &v1::Job,
    node_name: Option<String>,
    models: &[String],
    generation: Option<i64>,
) -> VmafxJobStatus {
    let mut status = previous.clone();
    status.controller_job_id = Some(job.id.clone());
    status.observed_generation = generation;
    let phase = phase_for(job.state).unwrap_or(JobPhase::Pending);
    status.phase = Some(phase);
    if node_name.is_some() {
        status.node = node_name;
    }
    if job.frames_total > 0 || job.frames_done > 0 {
        status.frames_done = Some(job.frames_done);
    }
    if job.frames_total > 0 {
        status.frames_total = Some(job.frames_total);
    }
    if let Some(started) = time_from_ms(job.started_ms) {
        status.start_time = Some(started);
    }
    if phase.is_terminal() {
        status.completion_time = time_from_ms(job.finished_ms).or(status.completion_time);
    }

    set_condition(
        &mut status.conditions,
        SUBMITTED,
        true,
        "Submitted",
        &format!("controller job {}", job.id),
        generation,
    );
    match phase {
        JobPhase::Pending => {
            let message = if job.error.trim().is_empty() {
                "waiting in the controller's queue".to_owned()
            } else {
                format!(
                    "waiting in the controller's queue to retry after: {}",
                    job.error.trim()
                )
            };
            set_outcome(
                &mut status,
                (false, "Pending", &message),
                (false, "Pending", ""),
                generation,
            );
        }
        JobPhase::Running => {
            let message = match &status.node {
                Some(node) => format!("scoring on node {node}"),
                None => "scoring".to_owned(),
            };
            set_outcome(
                &mut status,
                (false, "Running", &message),
                (false, "Running", ""),
                generation,
            );
        }
        JobPhase::Succeeded => {
            let summary = job.summary.clone().unwrap_or_default();
            let model_means: Vec<f64> = summary.models.iter().map(|m| m.mean).collect();
            let metrics = summary.metrics.iter().map(|m| (m.name.clone(), m.mean));
            // Progress reports are throttled; the summary has the final count.
            let frames = (summary.frames > 0).then_some(summary.frames);
            set_succeeded(
                &mut status,
                models,
                &model_means,
                metrics,
                frames,
                generation,
            );
        }
        JobPhase::Failed => {
            let reason = failure_reason(job);
            set_outcome(
                &mut status,
                (false, "Failed", &reason),
                (true, "Failed", &reason),
                generation,
            );
            status.reason = Some(reason);
        }
    }
    status
}

/// Marks `status` Succeeded with its scores: each model's pooled mean under the spec's model
/// name (`models`, in order), then each metric's, unless a model has its name or the mean is not
/// finite (a PSNR of identical frames has no JSON number to show); `frames` when known.
pub(crate) fn set_succeeded(
    status: &mut VmafxJobStatus,
    models: &[String],
    model_means: &[f64],
    metrics: impl IntoIterator<Item = (String, f64)>,
    frames: Option<u64>,
    generation: Option<i64>,
) {
    status.phase = Some(JobPhase::Succeeded);
    status.scores = models
        .iter()
        .cloned()
        .zip(model_means.iter().copied())
        .collect();
    for (name, mean) in metrics.into_iter().filter(|(_, mean)| mean.is_finite()) {
        status.scores.entry(name).or_insert(mean);
    }
    status.score = model_means.first().copied();
    if let Some(frames) = frames {
        status.frames_total = Some(frames);
        status.frames_done = Some(frames);
    }
    let message = match status.score {
        Some(score) => format!("pooled VMAF {score:.6}"),
        None => "scored".to_owned(),
    };
    set_outcome(
        status,
        (true, "Succeeded", &message),
        (false, "Succeeded", ""),
        generation,
    );
}

/// Sets the Ready and Failed conditions together, as every phase decides both: each is
/// (status, reason, message).
pub(crate) fn set_outcome(
    status: &mut VmafxJobStatus,
    ready: (bool, &str, &str),
    failed: (bool, &str, &str),
    generation: Option<i64>,
) {
    let (is_ready, reason, message) = ready;
    set_condition(
        &mut status.conditions,
        READY,
        is_ready,
        reason,
        message,
        generation,
    );
    let (has_failed, reason, message) = failed;
    set_condition(
        &mut status.conditions,
        FAILED,
        has_failed,
        reason,
        message,
        generation,
    );
}

/// The status of a job the controller refused outright (an invalid spec): Failed, never submitted.
pub fn rejected_status(
    previous: &VmafxJobStatus,
    reason: &str,
    generation: Option<i64>,
) -> VmafxJobStatus {
    let mut status = failed_status(previous, "Rejected", reason, generation);
    set_condition(
        &mut status.conditions,
        SUBMITTED,
        false,
        "Rejected",
        reason,
        generation,
    );
    status
}

/// The status of a job that ended without the controller saying so (`why` is the condition
/// reason, e.g. `Lost` when the controller no longer knows the job).
pub fn failed_status(
    previous: &VmafxJobStatus,
    why: &str,
    reason: &str,
    generation: Option<i64>,
) -> VmafxJobStatus {
    let mut status = previous.clone();
    status.phase = Some(JobPhase::Failed);
    status.observed_generation = generation;
    status.reason = Some(reason.to_owned());
    status.completion_time = Some(Time(Timestamp::now()));
    set_outcome(
        &mut status,
        (false, "Failed", reason),
        (true, why, reason),
        generation,
    );
    status
}

/// The status of a job whose submission has not gone through yet (the controller is unreachable,
/// say): Pending, with the error in the Submitted condition.
pub fn unsubmitted_status(
    previous: &VmafxJobStatus,
    error: &str,
    generation: Option<i64>,
) -> VmafxJobStatus {
    let mut status = previous.clone();
    status.phase = Some(JobPhase::Pending);
    status.observed_generation = generation;
    set_condition(
        &mut status.conditions,
        SUBMITTED,
        false,
        "SubmitFailed",
        error,
        generation,
    );
    set_condition(
        &mut status.conditions,
        READY,
        false,
        "Pending",
        "not yet accepted by the controller",
        generation,
    );
    status
}

/// The Kubernetes event a phase change is recorded with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// Event reason: Submitted, Running, Requeued, Succeeded or Failed.
    pub reason: &'static str,
    /// Human-readable note.
    pub note: String,
    /// A Warning event rather than a Normal one.
    pub warning: bool,
}

/// The event for moving from `before` to `after`'s phase, or `None` when the phase stayed.
///
/// Entering Pending from nothing makes no event here: the submission itself is recorded (as
/// `Submitted`) where it happens, so that a failed submission does not read as one.
pub fn transition(before: Option<JobPhase>, after: &VmafxJobStatus) -> Option<Transition> {
    let phase = after.phase?;
    if before == Some(phase) {
        return None;
    }
    let id = after.controller_job_id.as_deref().unwrap_or("?");
    let transition = match phase {
        JobPhase::Pending if before.is_none() => return None,
        JobPhase::Pending => Transition {
            reason: "Requeued",
            note: format!("controller job {id} is back in the queue"),
            warning: false,
        },
        JobPhase::Running => Transition {
            reason: "Running",
            note: match &after.node {
                Some(node) => format!("controller job {id} is scoring on node {node}"),
                None => format!("controller job {id} is scoring"),
            },
            warning: false,
        },
        JobPhase::Succeeded => Transition {
            reason: "Succeeded",
            note: match after.score {
                Some(score) => format!("pooled VMAF {score:.6}"),
                None => "scored".to_owned(),
            },
            warning: false,
        },
        JobPhase::Failed => Transition {
            reason: "Failed",
            note: after.reason.clone().unwrap_or_else(|| "failed".to_owned()),
            warning: true,
        },
    };
    Some(transition)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_alone_is_told_apart_from_other_changes() {
        let models = vec![crate::crd::DEFAULT_MODEL.to_owned()];
        let mut job = v1::Job {
            id: "j1".into(),
            state: v1::JobState::Running as i32,
            node_id: "n1".into(),
            frames_done: 10,
            frames_total: 100,
            started_ms: 1_700_000_000_000,
            ..Default::default()
        };
        let running = status_from_job(&VmafxJobStatus::default(), &job, None, &models, Some(1));
        job.frames_done = 20;
        let further = status_from_job(&running, &job, None, &models, Some(1));
        assert!(only_progress_changed(&running, &further));
        assert!(!only_progress_changed(&running, &running));
        job.state = v1::JobState::Completed as i32;
        job.finished_ms = 1_700_000_001_000;
        job.frames_done = 100;
        let done = status_from_job(&running, &job, None, &models, Some(1));
        assert!(!only_progress_changed(&running, &done));
    }
    use crate::conditions::{find, is_true};

    fn spec() -> VmafxJobSpec {
        VmafxJobSpec {
            reference: "file:///clips/ref.y4m".into(),
            distorted: "s3://bucket/dist.y4m".into(),
            model: "vmaf_v0.6.1".into(),
            additional_models: vec![
                "vmaf_v0.6.1neg".into(),
                "/models/my model.json".into(),
                "version=vmaf_4k_v0.6.1:name=fourk".into(),
                "vmaf_v0.6.1".into(),
            ],
            backend: "cuda".into(),
            priority: 7,
            features: vec!["psnr".into()],
            ..VmafxJobSpec::new("", "")
        }
    }

    #[test]
    fn spec_maps_to_a_controller_job_spec() {
        let got = job_spec(&spec());
        assert_eq!(got.reference, "file:///clips/ref.y4m");
        assert_eq!(got.distorted, "s3://bucket/dist.y4m");
        assert_eq!(got.backend, "cuda");
        assert_eq!(got.priority, 7);
        assert_eq!(got.features, vec!["psnr".to_owned()]);
        assert_eq!(got.max_attempts, 0);
        // The duplicate of `model` is dropped by `models()`; the first model keeps the default
        // score name so its score is the one `vmafx score` prints.
        assert_eq!(
            got.models,
            vec![
                "version=vmaf_v0.6.1".to_owned(),
                "version=vmaf_v0.6.1neg:name=vmaf_v0.6.1neg".to_owned(),
                "path=/models/my model.json:name=my model".to_owned(),
                "version=vmaf_4k_v0.6.1:name=fourk".to_owned(),
            ]
        );
    }

    #[test]
    fn extra_model_names_never_collide() {
        let mut taken = Vec::new();
        assert_eq!(
            model_arg("/a/vmaf.json", 1, &mut taken),
            "path=/a/vmaf.json:name=vmaf_1"
        );
        assert_eq!(
            model_arg("/b/x.json", 2, &mut taken),
            "path=/b/x.json:name=x"
        );
        assert_eq!(
            model_arg("/c/x.json", 3, &mut taken),
            "path=/c/x.json:name=x_3"
        );
        assert_eq!(
            model_arg("models/v.json", 0, &mut taken),
            "path=models/v.json"
        );
    }

    #[test]
    fn states_map_to_phases() {
        use v1::JobState as S;
        assert_eq!(phase_for(S::Pending as i32), Some(JobPhase::Pending));
        assert_eq!(phase_for(S::Running as i32), Some(JobPhase::Running));
        assert_eq!(phase_for(S::Completed as i32), Some(JobPhase::Succeeded));
        assert_eq!(phase_for(S::Failed as i32), Some(JobPhase::Failed));
        assert_eq!(phase_for(S::Cancelled as i32), Some(JobPhase::Failed));
        assert_eq!(phase_for(S::Unspecified as i32), None);
        assert_eq!(phase_for(99), None);
    }

    fn job(state: v1::JobState) -> v1::Job {
        v1::Job {
            id: "j-1".into(),
            state: state as i32,
            node_id: "n-1".into(),
            frames_done: 10,
            frames_total: 48,
            created_ms: 1_700_000_000_000,
            started_ms: 1_700_000_001_000,
            ..Default::default()
        }
    }

    #[test]
    fn running_status_has_node_progress_and_start_time() {
        let status = status_from_job(
            &VmafxJobStatus::default(),
            &job(v1::JobState::Running),
            Some("worker-a".into()),
            &["vmaf_v0.6.1".into()],
            Some(3),
        );
        assert_eq!(status.phase, Some(JobPhase::Running));
        assert_eq!(status.controller_job_id.as_deref(), Some("j-1"));
        assert_eq!(status.node.as_deref(), Some("worker-a"));
        assert_eq!(
            (status.frames_done, status.frames_total),
            (Some(10), Some(48))
        );
        assert_eq!(
            status.start_time.as_ref().map(|t| t.0.as_millisecond()),
            Some(1_700_000_001_000)
        );
        assert_eq!(status.completion_time, None);
        assert_eq!(status.score, None);
        assert_eq!(status.observed_generation, Some(3));
        assert!(is_true(&status.conditions, SUBMITTED));
        assert!(!is_true(&status.conditions, READY));
        assert_eq!(find(&status.conditions, READY).unwrap().reason, "Running");
    }

    #[test]
    fn succeeded_status_has_every_models_score() {
        let mut done = job(v1::JobState::Completed);
        done.frames_done = 48;
        done.finished_ms = 1_700_000_005_000;
        done.summary = Some(v1::JobSummary {
            frames: 48,
            models: vec![
                v1::ModelScore {
                    model: "vmaf".into(),
                    mean: 76.5,
                    ..Default::default()
                },
                v1::ModelScore {
                    model: "vmaf_v0.6.1neg".into(),
                    mean: 70.25,
                    ..Default::default()
                },
            ],
            metrics: vec![
                v1::MetricScore {
                    name: "float_ssim".into(),
                    mean: 0.975,
                    ..Default::default()
                },
                v1::MetricScore {
                    name: "psnr_y".into(),
                    mean: f64::INFINITY,
                    ..Default::default()
                },
                v1::MetricScore {
                    name: "vmaf_v0.6.1".into(),
                    mean: 1.0,
                    ..Default::default()
                },
            ],
        });
        let running = status_from_job(
            &VmafxJobStatus::default(),
            &job(v1::JobState::Running),
            Some("worker-a".into()),
            &[],
            Some(1),
        );
        let models = vec!["vmaf_v0.6.1".to_owned(), "vmaf_v0.6.1neg".to_owned()];
        let status = status_from_job(&running, &done, None, &models, Some(1));
        assert_eq!(status.phase, Some(JobPhase::Succeeded));
        assert_eq!(status.score, Some(76.5));
        assert_eq!(status.scores.get("vmaf_v0.6.1"), Some(&76.5));
        assert_eq!(status.scores.get("vmaf_v0.6.1neg"), Some(&70.25));
        // Metrics sit beside the models; infinities are left out, model names win.
        assert_eq!(status.scores.get("float_ssim"), Some(&0.975));
        assert_eq!(status.scores.get("psnr_y"), None);
        assert_eq!(status.scores.len(), 3);
        // The node a finished job ran on stays, even when the name lookup came back empty.
        assert_eq!(status.node.as_deref(), Some("worker-a"));
        assert_eq!(
            status
                .completion_time
                .as_ref()
                .map(|t| t.0.as_millisecond()),
            Some(1_700_000_005_000)
        );
        assert!(is_true(&status.conditions, READY));
        assert!(!is_true(&status.conditions, FAILED));
        assert_eq!(status.reason, None);
    }

    #[test]
    fn failed_and_cancelled_jobs_carry_the_controllers_reason() {
        let mut failed = job(v1::JobState::Failed);
        failed.error = "failed to read /clips/missing.y4m: No such file or directory".into();
        let status = status_from_job(&VmafxJobStatus::default(), &failed, None, &[], None);
        assert_eq!(status.phase, Some(JobPhase::Failed));
        assert_eq!(status.reason.as_deref(), Some(failed.error.as_str()));
        assert!(is_true(&status.conditions, FAILED));
        assert!(!is_true(&status.conditions, READY));

        let cancelled = job(v1::JobState::Cancelled);
        let status = status_from_job(&VmafxJobStatus::default(), &cancelled, None, &[], None);
        assert_eq!(status.phase, Some(JobPhase::Failed));
        assert_eq!(
            status.reason.as_deref(),
            Some("the job was cancelled on the controller")
        );
    }

    #[test]
    fn rejected_and_unsubmitted_statuses() {
        let status = rejected_status(&VmafxJobStatus::default(), "backend: unknown", Some(1));
        assert_eq!(status.phase, Some(JobPhase::Failed));
        assert_eq!(status.reason.as_deref(), Some("backend: unknown"));
        assert!(!is_true(&status.conditions, SUBMITTED));
        assert!(is_true(&status.conditions, FAILED));
        assert!(status.completion_time.is_some());

        let status = unsubmitted_status(&VmafxJobStatus::default(), "connection refused", None);
        assert_eq!(status.phase, Some(JobPhase::Pending));
        assert_eq!(
            find(&status.conditions, SUBMITTED).unwrap().message,
            "connection refused"
        );
    }

    #[test]
    fn only_phase_changes_make_events() {
        let mut status = VmafxJobStatus {
            phase: Some(JobPhase::Pending),
            controller_job_id: Some("j-1".into()),
            ..Default::default()
        };
        assert_eq!(transition(None, &status), None);
        assert_eq!(transition(Some(JobPhase::Pending), &status), None);
        assert_eq!(
            transition(Some(JobPhase::Running), &status).unwrap().reason,
            "Requeued"
        );
        status.phase = Some(JobPhase::Running);
        status.node = Some("worker-a".into());
        let running = transition(Some(JobPhase::Pending), &status).unwrap();
        assert_eq!(running.reason, "Running");
        assert!(running.note.contains("worker-a"));
        status.phase = Some(JobPhase::Failed);
        status.reason = Some("bad input".into());
        let failed = transition(Some(JobPhase::Running), &status).unwrap();
        assert_eq!((failed.reason, failed.warning), ("Failed", true));
        assert_eq!(failed.note, "bad input");
        status.phase = None;
        assert_eq!(transition(None, &status), None);
    }
}
