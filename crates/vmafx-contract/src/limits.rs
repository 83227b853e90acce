//! Bounds on what one job may ask for, and the whole-job check every component runs.

use crate::feature::FeatureSpec;
use crate::model::ModelSpec;
use crate::node::Backend;
use crate::policy::InputPolicy;
use crate::uri::JobUri;
use crate::FieldError;

/// The most models one job may score.
pub const MAX_MODELS: usize = 8;
/// The most extra features one job may ask for.
pub const MAX_FEATURES: usize = 16;
/// The lowest priority.
pub const MIN_PRIORITY: i32 = -1000;
/// The highest priority.
pub const MAX_PRIORITY: i32 = 1000;
/// The most attempts a job may ask for.
pub const MAX_ATTEMPTS: u32 = 100;

/// A job as submitted, before any check.
#[derive(Debug, Clone, Copy)]
pub struct JobDraft<'a> {
    /// Reference video URI.
    pub reference: &'a str,
    /// Distorted video URI.
    pub distorted: &'a str,
    /// Model specs.
    pub models: &'a [String],
    /// Feature specs.
    pub features: &'a [String],
    /// Backend name; empty means cpu.
    pub backend: &'a str,
    /// Priority.
    pub priority: i32,
    /// Attempts; 0 means the queue's default.
    pub max_attempts: u32,
}

/// A job that passed every check, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidJob {
    /// Reference video.
    pub reference: JobUri,
    /// Distorted video.
    pub distorted: JobUri,
    /// Models.
    pub models: Vec<ModelSpec>,
    /// Extra features.
    pub features: Vec<FeatureSpec>,
    /// Backend.
    pub backend: Backend,
}

/// Checks a whole job against the grammar, the limits and `policy`, returning the first error,
/// which names its field (`reference`, `models[2]`, …).
pub fn validate_job(job: &JobDraft<'_>, policy: &InputPolicy) -> Result<ValidJob, FieldError> {
    let uri = |field: &str, text: &str| -> Result<JobUri, FieldError> {
        let parsed = JobUri::parse_field(field, text)?;
        policy.check_uri(&parsed).map_err(|reason| {
            FieldError::new(
                field,
                format!("{} is not allowed: {reason}", crate::quote(text)),
            )
        })?;
        Ok(parsed)
    };
    let reference = uri("reference", job.reference)?;
    let distorted = uri("distorted", job.distorted)?;
    if job.models.len() > MAX_MODELS {
        return Err(FieldError::new(
            "models",
            format!("{} models, more than {MAX_MODELS}", job.models.len()),
        ));
    }
    let models = job
        .models
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let field = format!("models[{i}]");
            let spec = ModelSpec::parse_field(&field, text)?;
            policy
                .check_model(&spec)
                .map_err(|reason| FieldError::new(&field, reason))?;
            Ok(spec)
        })
        .collect::<Result<Vec<_>, FieldError>>()?;
    if job.features.len() > MAX_FEATURES {
        return Err(FieldError::new(
            "features",
            format!("{} features, more than {MAX_FEATURES}", job.features.len()),
        ));
    }
    let features = job
        .features
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let field = format!("features[{i}]");
            let spec = FeatureSpec::parse_field(&field, text)?;
            spec.check_for_job(&field)?;
            Ok(spec)
        })
        .collect::<Result<Vec<_>, FieldError>>()?;
    let backend = Backend::parse_field("backend", job.backend)?;
    if !(MIN_PRIORITY..=MAX_PRIORITY).contains(&job.priority) {
        return Err(FieldError::new(
            "priority",
            format!(
                "{} is outside {MIN_PRIORITY}..={MAX_PRIORITY}",
                job.priority
            ),
        ));
    }
    if job.max_attempts > MAX_ATTEMPTS {
        return Err(FieldError::new(
            "max_attempts",
            format!("{} is more than {MAX_ATTEMPTS}", job.max_attempts),
        ));
    }
    Ok(ValidJob {
        reference,
        distorted,
        models,
        features,
        backend,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft<'a>(models: &'a [String], features: &'a [String]) -> JobDraft<'a> {
        JobDraft {
            reference: "s3://b/ref.y4m",
            distorted: "s3://b/dis.y4m",
            models,
            features,
            backend: "cuda",
            priority: 0,
            max_attempts: 0,
        }
    }

    #[test]
    fn the_first_bad_field_is_named() {
        let p = InputPolicy::default();
        let models = vec!["version=vmaf_v0.6.1".to_string(); 3];
        let features = vec!["psnr".to_string()];
        let ok = validate_job(&draft(&models, &features), &p).unwrap();
        assert_eq!(ok.backend, Backend::Cuda);

        let mut bad = models.clone();
        bad[2] = "path=/dev/zero".into();
        let err = validate_job(&draft(&bad, &features), &p).unwrap_err();
        assert_eq!(err.field, "models[2]");
        let nine = vec!["version=vmaf_v0.6.1".to_string(); 9];
        assert_eq!(
            validate_job(&draft(&nine, &features), &p)
                .unwrap_err()
                .field,
            "models"
        );
        let many = vec!["psnr".to_string(); 17];
        assert_eq!(
            validate_job(&draft(&models, &many), &p).unwrap_err().field,
            "features"
        );
        let mut job = draft(&models, &features);
        job.priority = 1001;
        assert_eq!(validate_job(&job, &p).unwrap_err().field, "priority");
        job.priority = -1000;
        job.max_attempts = 101;
        assert_eq!(validate_job(&job, &p).unwrap_err().field, "max_attempts");
        job.max_attempts = 100;
        job.reference = "file:///etc/passwd";
        let err = validate_job(&job, &p).unwrap_err().to_string();
        assert_eq!(
            err,
            "reference: \"file:///etc/passwd\" is not allowed: file:// inputs are not allowed on this controller (see --allow-file-root)"
        );
    }
}
