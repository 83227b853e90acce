//! Checking an `execution: pod` spec before anything is created: the job contract's rules (the
//! webhook's, applied again since the webhook may not run) and the operator's image policy.

use crate::config::OperatorConfig;
use crate::crd::VmafxJobSpec;
use crate::webhook::validate::{describe, validate_job, validate_job_policy};

/// The image to run when `spec` is valid; otherwise every broken rule, in one line.
pub fn validate(spec: &VmafxJobSpec, config: &OperatorConfig) -> Result<String, String> {
    let mut errors = validate_job(spec);
    errors.extend(validate_job_policy(
        spec,
        &config.job_image,
        &config.allowed_images,
    ));
    if errors.is_empty() {
        Ok(spec
            .image
            .clone()
            .unwrap_or_else(|| config.job_image.clone()))
    } else {
        Err(describe(&errors))
    }
}
