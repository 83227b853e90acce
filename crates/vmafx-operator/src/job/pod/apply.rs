//! The I/O of `execution: pod`: creates the batch Job, reads it and its Pods back, writes the
//! status, and deletes both when the `VmafxJob` goes.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::build::{self, DEFAULT_ATTEMPTS};
use super::status::{self, RETRIED};
use super::validate::validate;
use crate::conditions::find;
use crate::context::Context;
use crate::crd::{JobPhase, VmafxJob, VmafxJobStatus};
use crate::job::desired::{self, Transition};
use crate::job::{JobError, POLL_INTERVAL};
use crate::runner::object_key;

fn kube_error<'a>(key: &'a str, action: &'static str) -> impl FnOnce(kube::Error) -> JobError + 'a {
    move |source| JobError::Kube {
        key: key.to_owned(),
        action,
        source,
    }
}

fn is_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}

/// One reconcile of a pod-mode job that is not being deleted.
pub async fn reconcile(
    obj: &VmafxJob,
    api: &Api<VmafxJob>,
    ctx: &Context,
) -> Result<Action, JobError> {
    let key = object_key(obj);
    let previous = obj.status.clone().unwrap_or_default();
    if previous.phase.is_some_and(JobPhase::is_terminal) {
        return Ok(Action::await_change());
    }
    let generation = obj.metadata.generation;
    let namespace = obj
        .namespace()
        .ok_or_else(|| JobError::Incomplete(key.clone()))?;
    let image = match validate(&obj.spec, &ctx.config) {
        Ok(image) => image,
        Err(reason) => {
            let new = desired::rejected_status(&previous, &reason, generation);
            write(obj, api, ctx, &previous, &new).await?;
            return Ok(Action::await_change());
        }
    };
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = build::batch_job_name(obj);
    let batch = match jobs
        .get_opt(&name)
        .await
        .map_err(kube_error(&key, "read the batch Job of"))?
    {
        Some(batch) => batch,
        None => {
            let desired = build::desired_batch_job(obj, &image)
                .ok_or_else(|| JobError::Incomplete(key.clone()))?;
            match jobs.create(&PostParams::default(), &desired).await {
                Ok(created) => {
                    let note = format!("created batch Job {name} running {image}");
                    tracing::info!(object = %key, job = %name, "created batch Job");
                    ctx.publish(obj, false, "Created", &note).await;
                    created
                }
                // Created by an earlier reconcile whose answer was lost: read it.
                Err(error) if is_status(&error, 409) => jobs
                    .get(&name)
                    .await
                    .map_err(kube_error(&key, "read the batch Job of"))?,
                Err(error) if is_status(&error, 422) || is_status(&error, 400) => {
                    let reason = format!("Kubernetes refused the batch Job: {error}");
                    let new = desired::rejected_status(&previous, &reason, generation);
                    write(obj, api, ctx, &previous, &new).await?;
                    return Ok(Action::await_change());
                }
                Err(error) => return Err(kube_error(&key, "create the batch Job of")(error)),
            }
        }
    };
    let uid = obj.uid().unwrap_or_default();
    if !batch
        .owner_references()
        .iter()
        .any(|o| o.uid == uid && o.controller == Some(true))
    {
        let reason =
            format!("a batch Job named {name} already exists and this VmafxJob does not own it");
        let new = desired::failed_status(&previous, "NameTaken", &reason, generation);
        write(obj, api, ctx, &previous, &new).await?;
        return Ok(Action::await_change());
    }
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let batch_uid = batch.uid().unwrap_or_default();
    let pods: Vec<Pod> = pods_api
        .list(&ListParams::default().labels(&build::pod_selector(obj)))
        .await
        .map_err(kube_error(&key, "list the Pods of"))?
        .items
        .into_iter()
        .filter(|p| p.owner_references().iter().any(|o| o.uid == batch_uid))
        .collect();
    let max_attempts = obj.spec.max_attempts.unwrap_or(DEFAULT_ATTEMPTS);
    let new = status::status_from_batch(
        &previous,
        &batch,
        &pods,
        &obj.spec.models(),
        max_attempts,
        generation,
    );
    write(obj, api, ctx, &previous, &new).await?;
    if new.phase.is_some_and(JobPhase::is_terminal) {
        Ok(Action::await_change())
    } else {
        Ok(Action::requeue(POLL_INTERVAL))
    }
}

/// Writes `new` when it differs from `previous`, with an event per phase change and per retry.
async fn write(
    obj: &VmafxJob,
    api: &Api<VmafxJob>,
    ctx: &Context,
    previous: &VmafxJobStatus,
    new: &VmafxJobStatus,
) -> Result<(), JobError> {
    if new == previous {
        return Ok(());
    }
    let key = object_key(obj);
    let patch = serde_json::json!({ "status": new });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(|source| JobError::Status {
        key: key.clone(),
        source,
    })?;
    let retried = |s: &VmafxJobStatus| find(&s.conditions, RETRIED).map(|c| c.message.clone());
    if let Some(message) = retried(new).filter(|m| Some(m) != retried(previous).as_ref()) {
        ctx.publish(obj, true, "Retried", &message).await;
    }
    if let Some(Transition {
        reason,
        note,
        warning,
    }) = desired::transition(previous.phase, new)
    {
        tracing::info!(object = %key, phase = reason, "{note}");
        ctx.publish(obj, warning, reason, &note).await;
    }
    Ok(())
}

/// The object is being deleted: delete its batch Job and its Pods now (not only through the
/// garbage collector), so a running Pod stops and frees its GPU at once.
pub async fn cleanup(obj: &VmafxJob, ctx: &Context) -> Result<Action, JobError> {
    let key = object_key(obj);
    let Some(namespace) = obj.namespace() else {
        return Ok(Action::await_change());
    };
    let name = build::batch_job_name(obj);
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
    let background = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    let uid = obj.uid().unwrap_or_default();
    let ours = match jobs
        .get_opt(&name)
        .await
        .map_err(kube_error(&key, "read the batch Job of"))?
    {
        Some(batch) => batch.owner_references().iter().any(|o| o.uid == uid),
        None => false,
    };
    if ours {
        match jobs.delete(&name, &background).await {
            Ok(_) => {}
            Err(error) if is_status(&error, 404) => {}
            Err(error) => return Err(kube_error(&key, "delete the batch Job of")(error)),
        }
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let listed = pods
        .list(&ListParams::default().labels(&build::pod_selector(obj)))
        .await
        .map_err(kube_error(&key, "list the Pods of"))?;
    let mut deleted = Vec::new();
    for pod in listed.items {
        let pod_name = pod.name_any();
        match pods.delete(&pod_name, &DeleteParams::default()).await {
            Ok(_) => deleted.push(pod_name),
            Err(error) if is_status(&error, 404) => {}
            Err(error) => return Err(kube_error(&key, "delete the Pods of")(error)),
        }
    }
    if ours || !deleted.is_empty() {
        let note = format!("deleted batch Job {name} and Pods [{}]", deleted.join(", "));
        tracing::info!(object = %key, "{note}");
        ctx.publish(obj, false, "Deleted", &note).await;
    }
    Ok(Action::await_change())
}

/// Whether `obj` runs in a Pod; pod-mode objects are reconciled here rather than through the
/// controller's queue.
pub fn is_pod_mode(obj: &VmafxJob) -> bool {
    obj.spec.execution == crate::crd::Execution::Pod
}

/// The `VmafxJob` a Pod or batch Job of pod mode belongs to, from its labels.
pub fn owner_of<K: Resource>(object: &K) -> Option<kube::runtime::reflector::ObjectRef<VmafxJob>> {
    let name = object.meta().labels.as_ref()?.get(build::JOB_LABEL)?;
    let namespace = object.meta().namespace.as_deref()?;
    Some(kube::runtime::reflector::ObjectRef::new(name).within(namespace))
}
