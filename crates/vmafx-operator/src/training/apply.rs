//! The training reconciler's I/O: server-side apply of the trainer, polling it, the status write
//! and events.

#[allow(unused_imports)]
use super::*;

pub(super) async fn poll(ctx: &Context, url: &str) -> Result<TrainerStatus, PollError> {
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

pub(super) async fn write_status(
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

pub(super) async fn publish(
    ctx: &Context,
    run: &VmafxModelTraining,
    type_: EventType,
    reason: &str,
    note: String,
) {
    ctx.publish(run, type_ == EventType::Warning, reason, &note)
        .await;
}
