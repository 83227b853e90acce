//! The `VmafxJob` reconciler: submits each job to the vmafx controller once (keyed by the object's
//! UID), follows it to its end through a `WatchJob` stream or `GetJob` polls, mirrors it into the
//! status (phase, node, progress, scores, conditions) with an event per phase change, and cancels
//! the controller job when the object is deleted.
//!
//! Each reconcile is validate → build (the pure functions in [`desired`]) → apply (submit, or read
//! the job) → update status. Reconciles never wait on a stream: [`follow`] keeps the streams in
//! background tasks that fill a cache and request a reconcile of their object.

pub mod desired;
pub mod follow;
pub mod pod;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job as BatchJob;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{self, finalizer, Event};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use vmafx_api::v1;

use crate::context::Context;
use crate::crd::{JobPhase, VmafxJob, VmafxJobStatus};
use crate::runner::{self, object_key};
use desired::Transition;
use follow::{Followers, STREAMS_PER_CONNECTION};

/// The controller's name in logs and metrics.
pub const NAME: &str = "vmafxjob";

/// The finalizer that keeps a deleted object until its controller job is cancelled.
pub const FINALIZER: &str = "vmafx.dev/cancel-job";

/// How often a job that no stream follows is polled with `GetJob`.
pub const POLL_INTERVAL: Duration = Duration::from_secs(10);

/// Progress-only status writes of one object are at least this far apart, so a long job costs
/// the API server one write per interval rather than one per progress report. Phase changes and
/// results are written at once.
pub const PROGRESS_WRITE_INTERVAL: Duration = Duration::from_secs(5);

/// New objects (submission, finalizer, first status) reconciled at once at most. A burst of
/// new objects then queues here instead of at the API server, where it would delay the status
/// writes of jobs that finish meanwhile.
pub const CONCURRENT_ADMISSIONS: usize = 8;

/// Deadline of each unary call to the controller, so an unresponsive controller fails a reconcile
/// (which is retried) instead of stalling it.
pub(crate) const RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a reconcile failed; it is retried.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The object lacks a namespace, name or UID.
    #[error("failed to reconcile {0}: it has no namespace, name or UID")]
    Incomplete(String),
    /// The controller could not be asked to take the job.
    #[error("failed to submit {key} to the controller: {message}")]
    Submit {
        /// `namespace/name` of the object.
        key: String,
        /// What gRPC said.
        message: String,
    },
    /// The controller could not be asked about the job.
    #[error("failed to read controller job {id} of {key}: {message}")]
    Get {
        /// `namespace/name` of the object.
        key: String,
        /// The controller's job id.
        id: String,
        /// What gRPC said.
        message: String,
    },
    /// The controller could not be told to cancel the job; deletion waits.
    #[error("failed to cancel controller job {id} of deleted {key}: {message}")]
    Cancel {
        /// `namespace/name` of the object.
        key: String,
        /// The controller's job id.
        id: String,
        /// What gRPC said.
        message: String,
    },
    /// A Kubernetes call of pod mode failed.
    #[error("failed to {action} {key}: {source}")]
    Kube {
        /// `namespace/name` of the object.
        key: String,
        /// What was being done.
        action: &'static str,
        /// What the API server said.
        #[source]
        source: kube::Error,
    },
    /// The status subresource could not be written.
    #[error("failed to write the status of {key}: {source}")]
    Status {
        /// `namespace/name` of the object.
        key: String,
        /// What the API server said.
        #[source]
        source: kube::Error,
    },
    /// The finalizer could not be added or removed.
    #[error("failed to update the finalizer of {key}: {source}")]
    Finalizer {
        /// `namespace/name` of the object.
        key: String,
        /// What went wrong.
        #[source]
        source: Box<finalizer::Error<JobError>>,
    },
}

/// A gRPC error in one line: its code and message, without tonic's metadata dump.
fn grpc_message(status: &tonic::Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// Runs the reconciler until `shutdown` fires.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let api = Api::<VmafxJob>::all(ctx.client.clone());
    let (trigger, triggered) = futures::channel::mpsc::unbounded();
    let watches = shutdown.child_token();
    let followers = Arc::new(Followers::new(
        &ctx.watch_connections,
        STREAMS_PER_CONNECTION,
        trigger,
        watches.clone(),
    ));
    let admissions = Arc::new(Semaphore::new(CONCURRENT_ADMISSIONS));
    // Pod mode: a change of a batch Job (owned) or of one of its Pods (labelled) is a reason
    // to look again.
    let pod_mode = watcher::Config::default()
        .labels(&format!("app.kubernetes.io/name={}", pod::build::APP_NAME));
    let controller = runner::watched(api, &ctx, NAME)
        .owns(Api::<BatchJob>::all(ctx.client.clone()), pod_mode.clone())
        .watches(Api::<Pod>::all(ctx.client.clone()), pod_mode, |pod| {
            pod::apply::owner_of(&pod)
        })
        .reconcile_on(triggered);
    let reconcile_one = move |obj: Arc<VmafxJob>, ctx: Arc<Context>| {
        let followers = Arc::clone(&followers);
        let admissions = Arc::clone(&admissions);
        async move {
            // Work on objects already submitted (following, deletion) never waits for a permit.
            let _admitted = if is_new(&obj, &followers) {
                admissions.acquire_owned().await.ok()
            } else {
                None
            };
            reconcile(obj, ctx, followers).await
        }
    };
    runner::run(NAME, controller, ctx, reconcile_one, shutdown).await;
    watches.cancel();
}

/// Whether `obj` is yet to be submitted: not being deleted, and with no controller job known.
fn is_new(obj: &VmafxJob, followers: &Followers) -> bool {
    let submitted = obj
        .status
        .as_ref()
        .is_some_and(|status| status.controller_job_id.is_some())
        || obj
            .uid()
            .is_some_and(|uid| followers.submitted_job(&uid).is_some());
    obj.metadata.deletion_timestamp.is_none() && !submitted
}

/// One reconcile of `obj`, with the finalizer handled around it.
pub async fn reconcile(
    obj: Arc<VmafxJob>,
    ctx: Arc<Context>,
    followers: Arc<Followers>,
) -> Result<Action, JobError> {
    let key = object_key(obj.as_ref());
    let namespace = obj
        .namespace()
        .ok_or_else(|| JobError::Incomplete(key.clone()))?;
    let api: Api<VmafxJob> = Api::namespaced(ctx.client.clone(), &namespace);
    let outcome = finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Event::Apply(obj) if pod::apply::is_pod_mode(&obj) => {
                pod::apply::reconcile(&obj, &api, &ctx).await
            }
            Event::Cleanup(obj) if pod::apply::is_pod_mode(&obj) => {
                pod::apply::cleanup(&obj, &ctx).await
            }
            Event::Apply(obj) => apply(&obj, &api, &ctx, &followers).await,
            Event::Cleanup(obj) => cleanup(&obj, &ctx, &followers).await,
        }
    })
    .await;
    outcome.map_err(|error| match error {
        finalizer::Error::ApplyFailed(error) | finalizer::Error::CleanupFailed(error) => error,
        other => JobError::Finalizer {
            key,
            source: Box::new(other),
        },
    })
}

/// What every step of one reconcile needs to know about the object.
struct Target<'a> {
    obj: &'a VmafxJob,
    api: &'a Api<VmafxJob>,
    key: String,
    name: String,
    uid: String,
    generation: Option<i64>,
    status: VmafxJobStatus,
    /// The phase as last written (ours, when the informer lags behind our own write).
    phase: Option<JobPhase>,
}

async fn apply(
    obj: &VmafxJob,
    api: &Api<VmafxJob>,
    ctx: &Context,
    followers: &Arc<Followers>,
) -> Result<Action, JobError> {
    let key = object_key(obj);
    let (Some(name), Some(uid)) = (obj.meta().name.clone(), obj.uid()) else {
        return Err(JobError::Incomplete(key));
    };
    let mut status = obj.status.clone().unwrap_or_default();
    if status.controller_job_id.is_none() {
        status.controller_job_id = followers.submitted_job(&uid);
    }
    let phase = followers.last_phase(&uid).or(status.phase);
    let target = Target {
        obj,
        api,
        key,
        name,
        uid,
        generation: obj.metadata.generation,
        status,
        phase,
    };
    if target.phase.is_some_and(JobPhase::is_terminal) {
        // Finished for good: never resubmit, never poll again.
        if let Some(id) = &target.status.controller_job_id {
            followers.forget(id);
        }
        return Ok(Action::await_change());
    }
    let Some(id) = target.status.controller_job_id.clone() else {
        return submit(&target, ctx, followers).await;
    };

    let object = ObjectRef::from_obj(obj);
    followers.follow(&id, object);
    let job = match followers.current(&id) {
        Some(job) => job,
        None => {
            let mut client = ctx.jobs.clone();
            let mut request = tonic::Request::new(v1::GetJobRequest { id: id.clone() });
            request.set_timeout(RPC_TIMEOUT);
            match client.get_job(request).await {
                Ok(response) => {
                    let job = response.into_inner();
                    followers.record(&job);
                    job
                }
                Err(status) if status.code() == tonic::Code::NotFound => {
                    followers.forget(&id);
                    let reason =
                        format!("the controller no longer knows job {id} (was its store reset?)");
                    let new =
                        desired::failed_status(&target.status, "Lost", &reason, target.generation);
                    write_status(&target, ctx, followers, &new).await?;
                    return Ok(Action::await_change());
                }
                Err(status) => {
                    return Err(JobError::Get {
                        key: target.key.clone(),
                        id,
                        message: grpc_message(&status),
                    })
                }
            }
        }
    };
    observe(&target, ctx, followers, &job).await
}

/// Submits the job; the object's UID makes a repeated submission return the first job.
async fn submit(
    target: &Target<'_>,
    ctx: &Context,
    followers: &Arc<Followers>,
) -> Result<Action, JobError> {
    let spec = desired::job_spec(&target.obj.spec);
    let mut client = ctx.jobs.clone();
    let mut request = tonic::Request::new(v1::SubmitJobRequest {
        spec: Some(spec),
        idempotency_key: target.uid.clone(),
    });
    request.set_timeout(RPC_TIMEOUT);
    match client.submit_job(request).await {
        Ok(response) => {
            let response = response.into_inner();
            let Some(job) = response.job else {
                return Err(JobError::Submit {
                    key: target.key.clone(),
                    message: "the controller answered without a job".to_owned(),
                });
            };
            tracing::info!(object = %target.key, job = %job.id, created = response.created, "submitted");
            followers.set_submitted(&target.uid, &job.id);
            let note = format!("submitted as controller job {}", job.id);
            ctx.publish(target.obj, false, "Submitted", &note).await;
            followers.follow(&job.id, ObjectRef::from_obj(target.obj));
            observe(target, ctx, followers, &job).await
        }
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            // No retry can fix the spec; the object ends here.
            let reason = format!("the controller rejected the job: {}", status.message());
            let new = desired::rejected_status(&target.status, &reason, target.generation);
            write_status(target, ctx, followers, &new).await?;
            Ok(Action::await_change())
        }
        Err(status) => {
            let message = grpc_message(&status);
            let new = desired::unsubmitted_status(&target.status, &message, target.generation);
            if new != target.status {
                ctx.publish(target.obj, true, "SubmitFailed", &message)
                    .await;
                patch_status(target, &new).await?;
            }
            Err(JobError::Submit {
                key: target.key.clone(),
                message,
            })
        }
    }
}

/// Mirrors controller job `job` into the status; follows it further unless it has ended.
async fn observe(
    target: &Target<'_>,
    ctx: &Context,
    followers: &Arc<Followers>,
    job: &v1::Job,
) -> Result<Action, JobError> {
    let node = if job.node_id.is_empty() {
        None
    } else {
        let mut client = ctx.jobs.clone();
        Some(followers.node_name(&mut client, &job.node_id).await)
    };
    let models = target.obj.spec.models();
    let new = desired::status_from_job(&target.status, job, node, &models, target.generation);
    if desired::only_progress_changed(&target.status, &new) {
        if let Some(wait) = followers.progress_wait(&target.uid, PROGRESS_WRITE_INTERVAL) {
            // The stream keeps the newest progress; it is written when the wait is over, or
            // with the next change that cannot wait.
            return Ok(Action::requeue(wait));
        }
    }
    write_status(target, ctx, followers, &new).await?;
    if new.phase.is_some_and(JobPhase::is_terminal) {
        followers.forget(&job.id);
        Ok(Action::await_change())
    } else {
        Ok(Action::requeue(POLL_INTERVAL))
    }
}

/// Writes `new` when it differs from what the object has, and records the phase change.
async fn write_status(
    target: &Target<'_>,
    ctx: &Context,
    followers: &Followers,
    new: &VmafxJobStatus,
) -> Result<(), JobError> {
    if *new != target.status {
        patch_status(target, new).await?;
        followers.wrote_status(&target.uid);
    }
    if let Some(phase) = new.phase {
        followers.set_phase(&target.uid, phase);
    }
    if let Some(Transition {
        reason,
        note,
        warning,
    }) = desired::transition(target.phase, new)
    {
        tracing::info!(object = %target.key, phase = reason, "{note}");
        ctx.publish(target.obj, warning, reason, &note).await;
    }
    Ok(())
}

async fn patch_status(target: &Target<'_>, new: &VmafxJobStatus) -> Result<(), JobError> {
    let patch = serde_json::json!({ "status": new });
    target
        .api
        .patch_status(&target.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| JobError::Status {
            key: target.key.clone(),
            source,
        })?;
    Ok(())
}

/// The object is being deleted: cancel its controller job (unless it has ended), then let the
/// finalizer go. An unreachable controller fails this, so deletion waits and retries rather than
/// leave the job running unowned.
async fn cleanup(obj: &VmafxJob, ctx: &Context, followers: &Followers) -> Result<Action, JobError> {
    let key = object_key(obj);
    let status = obj.status.clone().unwrap_or_default();
    let uid = obj.uid().unwrap_or_default();
    let phase = followers.last_phase(&uid).or(status.phase);
    let Some(id) = status
        .controller_job_id
        .or_else(|| followers.submitted_job(&uid))
    else {
        followers.forget_object(&uid);
        return Ok(Action::await_change());
    };
    followers.forget(&id);
    if !phase.is_some_and(JobPhase::is_terminal) {
        let mut client = ctx.jobs.clone();
        let mut request = tonic::Request::new(v1::CancelJobRequest { id: id.clone() });
        request.set_timeout(RPC_TIMEOUT);
        match client.cancel_job(request).await {
            Ok(_) => {
                tracing::info!(object = %key, job = %id, "cancelled");
                let note = format!("cancelled controller job {id}");
                ctx.publish(obj, false, "Cancelled", &note).await;
            }
            Err(status) if status.code() == tonic::Code::NotFound => {
                tracing::info!(object = %key, job = %id, "controller job already gone");
            }
            Err(status) => {
                let message = grpc_message(&status);
                ctx.publish(obj, true, "CancelFailed", &message).await;
                return Err(JobError::Cancel { key, id, message });
            }
        }
    }
    followers.forget_object(&uid);
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_errors_read_in_one_line() {
        let status = tonic::Status::unavailable("connection refused");
        assert_eq!(grpc_message(&status), "Unavailable: connection refused");
    }
}
