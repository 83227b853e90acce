//! Checking a `VmafxModelTraining` spec against the operator's policy.

#[allow(unused_imports)]
use super::*;

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
