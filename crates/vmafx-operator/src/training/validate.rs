//! Checking a `VmafxModelTraining` spec against what the trainer needs and the operator's policy.

#[allow(unused_imports)]
use super::*;

pub use crate::node::Invalid;

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

/// Checks that the operator can run a trainer for the spec: its fields are well formed
/// ([`VmafxModelTrainingSpec::check`](crate::crd::VmafxModelTrainingSpec::check)), it names
/// where checkpoints go and the callers file the trainer authenticates with, and the trainer's
/// name fits a Service name.
pub fn validate(run: &VmafxModelTraining) -> Result<(), Invalid> {
    let errors = run.spec.check();
    if !errors.is_empty() {
        return Err(Invalid {
            reason: "InvalidSpec",
            message: errors
                .iter()
                .map(|(field, message)| format!("{field}: {message}"))
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    if run
        .spec
        .output_registry
        .as_deref()
        .is_none_or(|o| o.trim().is_empty())
    {
        return Err(Invalid {
            reason: "MissingOutputRegistry",
            message: "spec.outputRegistry must name the HOST/REPOSITORY checkpoints are pushed to"
                .to_owned(),
        });
    }
    if run.spec.token_secret.is_none() {
        return Err(Invalid {
            reason: "MissingTokenSecret",
            message: "spec.tokenSecret must name the Secret key holding the trainer's callers \
                      file (TOKEN,NAME,ROLE lines): the trainer listens on the Pod network and \
                      authenticates every sample"
                .to_owned(),
        });
    }
    let name = trainer_name(run);
    let label = name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !label {
        return Err(Invalid {
            reason: "InvalidName",
            message: format!(
                "the trainer Service name {name:?} must be a DNS label of at most 63 characters \
                 starting with a letter; shorten metadata.name or drop its dots"
            ),
        });
    }
    Ok(())
}

/// The image the trainer runs: `spec.image`, else `default_image`; it must start with one of
/// `allowed_images` (`VMAFX_OPERATOR_ALLOWED_IMAGES`), as the webhook also checks.
pub fn trainer_image(
    run: &VmafxModelTraining,
    default_image: &str,
    allowed_images: &[String],
) -> Result<String, Invalid> {
    let image = run.spec.image.as_deref().unwrap_or(default_image).trim();
    crate::policy::check_image(image, allowed_images)
        .map(|()| image.to_owned())
        .map_err(|message| Invalid {
            reason: "ImageNotAllowed",
            message: format!("spec.image: {message}"),
        })
}
