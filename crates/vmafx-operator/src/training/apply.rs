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

/// Writes the run's status, guarded by `resource_version`, so two reconciles can never both
/// record (and announce) the same checkpoint; returns the new resourceVersion.
pub(super) async fn write_status(
    ctx: &Context,
    run: &VmafxModelTraining,
    resource_version: Option<String>,
    status: &VmafxModelTrainingStatus,
) -> Result<Option<String>, TrainingError> {
    runner::apply_status(ctx, run, resource_version, status)
        .await
        .map_err(|source| TrainingError::Status {
            name: runner::object_key(run),
            source,
        })
}
