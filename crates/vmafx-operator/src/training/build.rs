//! What the training reconciler derives from a spec: the trainer URL it polls.

#[allow(unused_imports)]
use super::*;

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
