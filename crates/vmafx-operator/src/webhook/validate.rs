//! The admission rules themselves, as pure functions over the specs: no I/O, so every rule is
//! unit-tested without a server or a cluster.

use std::fmt;

use crate::crd::{GpuVendor, VmafxJobSpec, VmafxModelTrainingSpec, VmafxNodeSpec};

/// One rule a spec breaks, naming the field the way `kubectl` users write it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path of the field, e.g. `spec.reference`.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Joins several field errors into the single message a denial carries.
pub fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(FieldError::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks a `VmafxJob` spec: both video URIs must be `scheme://` URIs, as rclone accepts them.
pub fn validate_job(spec: &VmafxJobSpec) -> Vec<FieldError> {
    [
        ("spec.reference", spec.reference.as_str()),
        ("spec.distorted", spec.distorted.as_str()),
    ]
    .into_iter()
    .filter_map(|(field, value)| check_uri(field, value).err())
    .collect()
}

/// Checks a `VmafxNode` spec: the GPU vendor must be one the operator knows how to schedule.
pub fn validate_node(spec: &VmafxNodeSpec) -> Vec<FieldError> {
    if GpuVendor::parse(&spec.gpu_vendor).is_some() {
        return Vec::new();
    }
    let known = GpuVendor::ALL
        .iter()
        .map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    vec![FieldError {
        field: "spec.gpuVendor",
        message: format!("{:?} is not one of {known}", spec.gpu_vendor),
    }]
}

/// Checks a `VmafxNode` spec against the operator's policy: `spec.image` must start with one of
/// `allowed_images`, and `spec.healthEndpoint`, when set, must be a Service in `namespace`.
pub fn validate_node_policy(
    spec: &VmafxNodeSpec,
    namespace: &str,
    allowed_images: &[String],
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Err(message) = crate::policy::check_image(&spec.image, allowed_images) {
        errors.push(FieldError {
            field: "spec.image",
            message,
        });
    }
    let endpoint = spec.health_endpoint.as_deref().map(str::trim);
    if let Some(endpoint) = endpoint.filter(|e| !e.is_empty()) {
        if let Err(message) = crate::policy::check_service_url(endpoint, namespace) {
            errors.push(FieldError {
                field: "spec.healthEndpoint",
                message,
            });
        }
    }
    errors
}

/// Checks a `VmafxModelTraining` spec against the operator's policy: `spec.trainerEndpoint`, when
/// set, must be a Service in `namespace`.
pub fn validate_training_policy(spec: &VmafxModelTrainingSpec, namespace: &str) -> Vec<FieldError> {
    match spec.trainer_endpoint.as_deref().map(str::trim) {
        Some(endpoint) if !endpoint.is_empty() => {
            match crate::policy::check_service_url(endpoint, namespace) {
                Ok(()) => Vec::new(),
                Err(message) => vec![FieldError {
                    field: "spec.trainerEndpoint",
                    message,
                }],
            }
        }
        _ => Vec::new(),
    }
}

/// Accepts `scheme://rest` where the scheme is a letter followed by letters, digits, `+`, `-` or
/// `.` (RFC 3986's scheme grammar) and `rest` is not empty.
pub fn check_uri(field: &'static str, value: &str) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(FieldError {
            field,
            message: "must not be empty (expected a scheme:// URI such as s3://bucket/video.yuv)"
                .into(),
        });
    }
    let valid = value.split_once("://").is_some_and(|(scheme, rest)| {
        let mut chars = scheme.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && !rest.is_empty()
    });
    if valid {
        Ok(())
    } else {
        Err(FieldError {
            field,
            message: format!("{value:?} is not a scheme:// URI"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(reference: &str, distorted: &str) -> VmafxJobSpec {
        serde_json::from_value(serde_json::json!({
            "reference": reference,
            "distorted": distorted,
        }))
        .unwrap()
    }

    fn node(vendor: &str) -> VmafxNodeSpec {
        serde_json::from_value(
            serde_json::json!({ "gpuVendor": vendor, "image": "ghcr.io/vmafx/vmafx:test" }),
        )
        .unwrap()
    }

    #[test]
    fn uris_in_every_rclone_form_are_accepted() {
        for uri in [
            "file:///data/ref.yuv",
            "s3://bucket/ref.yuv",
            "gs://bucket/a/b.y4m",
            "azure://container/x",
            "rclone://remote:path/x",
            "https://example.com/v.mp4",
            "svn+ssh://host/x",
            "a.b-c://x",
            "S3://UPPER",
        ] {
            assert_eq!(check_uri("spec.reference", uri), Ok(()), "{uri}");
        }
    }

    #[test]
    fn malformed_uris_are_denied_naming_field_and_value() {
        for uri in [
            "foo",
            "/data/ref.yuv",
            "s3:/bucket",
            "s3://",
            "://x",
            "3s://x",
            "s 3://x",
            "s_3://x",
            " s3://x",
        ] {
            let err = check_uri("spec.distorted", uri).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("spec.distorted: {uri:?} is not a scheme:// URI")
            );
        }
        assert_eq!(
            check_uri("spec.reference", "foo").unwrap_err().to_string(),
            r#"spec.reference: "foo" is not a scheme:// URI"#
        );
    }

    #[test]
    fn empty_uri_says_so() {
        let err = check_uri("spec.reference", "").unwrap_err();
        assert_eq!(err.field, "spec.reference");
        assert!(err
            .to_string()
            .starts_with("spec.reference: must not be empty"));
    }

    #[test]
    fn job_reports_each_bad_field() {
        assert!(validate_job(&job("s3://b/r.yuv", "file:///d.yuv")).is_empty());
        let errors = validate_job(&job("", "foo"));
        assert_eq!(
            errors.iter().map(|e| e.field).collect::<Vec<_>>(),
            ["spec.reference", "spec.distorted"]
        );
        let message = describe(&errors);
        assert!(
            message.contains("spec.reference: must not be empty"),
            "{message}"
        );
        assert!(
            message.contains(r#"spec.distorted: "foo" is not a scheme:// URI"#),
            "{message}"
        );
        let only_distorted = validate_job(&job("s3://b/r.yuv", "bar"));
        assert_eq!(only_distorted.len(), 1);
        assert_eq!(only_distorted[0].field, "spec.distorted");
    }

    #[test]
    fn node_vendor_must_be_known() {
        for vendor in ["nvidia", "amd", "intel", "cpu"] {
            assert!(validate_node(&node(vendor)).is_empty(), "{vendor}");
        }
        for vendor in ["quantum", "NVIDIA", "", " cpu"] {
            let errors = validate_node(&node(vendor));
            assert_eq!(errors.len(), 1, "{vendor}");
            assert_eq!(
                errors[0].to_string(),
                format!("spec.gpuVendor: {vendor:?} is not one of nvidia, amd, intel, cpu")
            );
        }
    }
}
