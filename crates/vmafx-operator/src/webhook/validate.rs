//! The admission rules themselves, as pure functions over the specs: no I/O, so every rule is
//! unit-tested without a server or a cluster.

use std::fmt;

use k8s_openapi::api::core::v1::ResourceRequirements;

use crate::crd::{Execution, VmafxJobSpec, VmafxModelTrainingSpec, VmafxNodeSpec};

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

/// Checks a `VmafxJob` spec against the job contract (`vmafx-contract`), the grammar the
/// controller and the node use too: both video URIs, every model (after the short forms are
/// expanded as they will be submitted), every feature and the backend.
pub fn validate_job(spec: &VmafxJobSpec) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = [
        ("spec.reference", spec.reference.as_str()),
        ("spec.distorted", spec.distorted.as_str()),
    ]
    .into_iter()
    .filter_map(|(field, value)| check_uri(field, value).err())
    .collect();
    let submitted = crate::job::desired::job_spec(spec);
    for (i, model) in submitted.models.iter().enumerate() {
        let field = if i == 0 {
            "spec.model"
        } else {
            "spec.additionalModels"
        };
        if let Err(e) = vmafx_contract::ModelSpec::parse_field(field, model) {
            errors.push(FieldError {
                field,
                message: e.message,
            });
        }
    }
    for feature in &spec.features {
        let checked = vmafx_contract::FeatureSpec::parse_field("spec.features", feature)
            .and_then(|f| f.check_for_job("spec.features"));
        if let Err(e) = checked {
            errors.push(FieldError {
                field: "spec.features",
                message: e.message,
            });
        }
    }
    if let Err(e) = vmafx_contract::Backend::parse_field("spec.backend", &spec.backend) {
        errors.push(FieldError {
            field: "spec.backend",
            message: e.message,
        });
    }
    if let Some(n) = spec.max_attempts {
        if !(1..=MAX_ATTEMPTS).contains(&n) {
            errors.push(FieldError {
                field: "spec.maxAttempts",
                message: format!("{n} is not between 1 and {MAX_ATTEMPTS}"),
            });
        }
    }
    match spec.execution {
        Execution::Pod => errors.extend(validate_pod_fields(spec)),
        Execution::Queue => {
            // Refused rather than ignored: a user who sets them expects them to act.
            let pod_only = [
                ("spec.output", spec.output.is_some()),
                ("spec.image", spec.image.is_some()),
                ("spec.nodeSelector", !spec.node_selector.is_empty()),
                ("spec.tolerations", !spec.tolerations.is_empty()),
                ("spec.imagePullSecret", spec.image_pull_secret.is_some()),
                ("spec.storageSecret", spec.storage_secret.is_some()),
                ("spec.resources", spec.resources.is_some()),
            ];
            for (field, set) in pod_only {
                if set {
                    errors.push(FieldError {
                        field,
                        message: "only used with spec.execution: pod".to_owned(),
                    });
                }
            }
        }
    }
    errors
}

/// The most attempts a job may ask for.
pub const MAX_ATTEMPTS: i32 = 10;

/// The `execution: pod` fields: a writable output URI, Secret names, and a backend whose GPU
/// resource is known.
fn validate_pod_fields(spec: &VmafxJobSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(output) = &spec.output {
        match vmafx_contract::JobUri::parse_field("spec.output", output) {
            Err(e) => errors.push(FieldError {
                field: "spec.output",
                message: e.message,
            }),
            Ok(_) => {
                let scheme = output.split("://").next().unwrap_or_default();
                if let Some(why) = match scheme {
                    "http" | "https" => Some("http(s) locations are read-only"),
                    "file" => Some("a file:// path inside the Pod is lost with it"),
                    _ => None,
                } {
                    errors.push(FieldError {
                        field: "spec.output",
                        message: format!(
                            "{why}; use s3://, gs://, azure://, rclone:// or an rclone remote"
                        ),
                    });
                }
            }
        }
    }
    for (field, name) in [
        ("spec.imagePullSecret", &spec.image_pull_secret),
        ("spec.storageSecret", &spec.storage_secret),
    ] {
        if let Some(name) = name {
            if !crate::crd::dns_subdomain(name) {
                errors.push(FieldError {
                    field,
                    message: format!("{name:?} is not a Secret name (a lower-case DNS subdomain)"),
                });
            }
        }
    }
    if let Some(resources) = &spec.resources {
        errors.extend(validate_resources(resources));
    }
    if spec.backend == "vulkan" {
        errors.push(FieldError {
            field: "spec.backend",
            message: "vulkan runs on any vendor's GPU, so a Pod cannot request one; use cuda, hip, sycl or cpu with execution: pod".to_owned(),
        });
    }
    errors
}

/// The most resource names `spec.resources` may list in its requests or its limits.
const MAX_RESOURCE_NAMES: usize = 16;

/// `spec.resources`: quantities Kubernetes will accept, checked here so that a typo is refused
/// when the job is created rather than when its batch Job is. Dynamic resource claims need a
/// claim on the Pod, which a job cannot name, so they are refused.
fn validate_resources(resources: &ResourceRequirements) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if resources.claims.as_ref().is_some_and(|c| !c.is_empty()) {
        errors.push(FieldError {
            field: "spec.resources.claims",
            message: "resource claims are not supported; ask for devices by limits".to_owned(),
        });
    }
    for (field, list) in [
        ("spec.resources.requests", &resources.requests),
        ("spec.resources.limits", &resources.limits),
    ] {
        let Some(list) = list else { continue };
        if list.len() > MAX_RESOURCE_NAMES {
            errors.push(FieldError {
                field,
                message: format!("{} names, at most {MAX_RESOURCE_NAMES}", list.len()),
            });
            continue;
        }
        for (name, quantity) in list {
            if !is_quantity(&quantity.0) {
                errors.push(FieldError {
                    field,
                    message: format!(
                        "{name}: {:?} is not a quantity (e.g. 500m, 2, 4Gi)",
                        quantity.0
                    ),
                });
            } else if quantity.0.starts_with('-') {
                errors.push(FieldError {
                    field,
                    message: format!("{name}: {:?} is negative", quantity.0),
                });
            }
        }
    }
    errors
}

/// Whether `text` is a Kubernetes quantity: a decimal number and an optional binary (`Ki`…`Ei`),
/// decimal (`n`, `u`, `m`, `k`, `M`…`E`) or exponent (`e3`) suffix.
fn is_quantity(text: &str) -> bool {
    const MAX_QUANTITY: usize = 64;
    if text.is_empty() || text.len() > MAX_QUANTITY {
        return false;
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let number_end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let digits = number.chars().filter(char::is_ascii_digit).count();
    if digits == 0 || number.matches('.').count() > 1 {
        return false;
    }
    match suffix {
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        exponent => exponent
            .strip_prefix(['e', 'E'])
            .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
            .is_some_and(|e| {
                !e.is_empty() && e.len() <= 3 && e.chars().all(|c| c.is_ascii_digit())
            }),
    }
}

/// Checks a `VmafxJob` spec against the operator's policy: an `execution: pod` job's image
/// (its own, or the operator's default) must start with one of `allowed_images`.
pub fn validate_job_policy(
    spec: &VmafxJobSpec,
    default_image: &str,
    allowed_images: &[String],
) -> Vec<FieldError> {
    if spec.execution != Execution::Pod {
        return Vec::new();
    }
    let image = spec.image.as_deref().unwrap_or(default_image);
    match crate::policy::check_image(image, allowed_images) {
        Ok(()) => Vec::new(),
        Err(message) => vec![FieldError {
            field: "spec.image",
            message,
        }],
    }
}

/// Checks a `VmafxNode` spec: the GPU vendor must be one of the contract's vendors, and the
/// worker's credentials well formed.
pub fn validate_node(spec: &VmafxNodeSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Err(e) = vmafx_contract::Vendor::parse_field("spec.gpuVendor", &spec.gpu_vendor) {
        errors.push(FieldError {
            field: "spec.gpuVendor",
            message: e.message,
        });
    }
    if let Err((field, message)) = spec.check_credentials() {
        errors.push(FieldError { field, message });
    }
    errors
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

/// Checks a `VmafxModelTraining` spec: each field that is given must be what the trainer and
/// Kubernetes accept ([`VmafxModelTrainingSpec::check`]).
pub fn validate_training(spec: &VmafxModelTrainingSpec) -> Vec<FieldError> {
    spec.check()
        .into_iter()
        .map(|(field, message)| FieldError { field, message })
        .collect()
}

/// Checks a `VmafxModelTraining` spec against the operator's policy: `spec.trainerEndpoint`, when
/// set, must be a Service in `namespace`, and the trainer's image (its own, or the operator's
/// default) must start with one of `allowed_images`.
pub fn validate_training_policy(
    spec: &VmafxModelTrainingSpec,
    namespace: &str,
    default_image: &str,
    allowed_images: &[String],
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(endpoint) = spec
        .trainer_endpoint
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        if let Err(message) = crate::policy::check_service_url(endpoint, namespace) {
            errors.push(FieldError {
                field: "spec.trainerEndpoint",
                message,
            });
        }
    }
    let image = spec.image.as_deref().unwrap_or(default_image);
    if let Err(message) = crate::policy::check_image(image, allowed_images) {
        errors.push(FieldError {
            field: "spec.image",
            message,
        });
    }
    errors
}

/// Checks a video URI with the job contract's grammar ([`vmafx_contract::JobUri`]).
pub fn check_uri(field: &'static str, value: &str) -> Result<(), FieldError> {
    vmafx_contract::JobUri::parse_field(field, value)
        .map(drop)
        .map_err(|e| FieldError {
            field,
            message: e.message,
        })
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
            serde_json::json!({ "gpuVendor": vendor, "image": "vmafx-node:test" }),
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
            "my_remote://x",
            "a.b-c://x/y",
            "S3://UPPER/x",
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
            "s 3://x",
            " s3://x",
            "svn+ssh://host/x",
            "rclone://remote,endpoint='http://x':path",
            "rclone://-x:y",
        ] {
            let err = check_uri("spec.distorted", uri).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("spec.distorted: {uri:?} is invalid: ")),
                "{err}"
            );
        }
        assert!(check_uri("spec.reference", "foo")
            .unwrap_err()
            .to_string()
            .starts_with(r#"spec.reference: "foo" is invalid: expected scheme://"#));
    }

    #[test]
    fn empty_uri_says_so() {
        let err = check_uri("spec.reference", "").unwrap_err();
        assert_eq!(err.field, "spec.reference");
        assert!(err.to_string().contains("empty"), "{err}");
    }

    #[test]
    fn job_reports_each_bad_field() {
        assert!(validate_job(&job("s3://b/r.yuv", "file:///d.yuv")).is_empty());
        let mut writes = job("s3://b/r.yuv", "file:///d.yuv");
        writes.features = vec!["cambi=heatmaps_path=/var/lib".into()];
        let errors = validate_job(&writes);
        assert!(
            errors.len() == 1 && errors[0].message.contains("heatmaps_path"),
            "{errors:?}"
        );
        let errors = validate_job(&job("", "foo"));
        assert_eq!(
            errors.iter().map(|e| e.field).collect::<Vec<_>>(),
            ["spec.reference", "spec.distorted"]
        );
        let message = describe(&errors);
        assert!(
            message.contains("spec.reference: \"\" is invalid"),
            "{message}"
        );
        assert!(
            message.contains(r#"spec.distorted: "foo" is invalid"#),
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

    #[test]
    fn node_credentials_are_one_well_formed_source() {
        let with = |extra: serde_json::Value| -> VmafxNodeSpec {
            let mut spec = serde_json::json!({ "gpuVendor": "cpu", "image": "vmafx-node:test" });
            spec.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            serde_json::from_value(spec).unwrap()
        };
        let secret = serde_json::json!({ "name": "tokens", "key": "node-token" });
        assert!(validate_node(&with(
            serde_json::json!({ "serviceAccountName": "vmafx-node" })
        ))
        .is_empty());
        assert!(validate_node(&with(serde_json::json!({ "tokenSecret": secret }))).is_empty());
        for (extra, field) in [
            (
                serde_json::json!({ "serviceAccountName": "vmafx-node", "tokenSecret": secret }),
                "spec.tokenSecret",
            ),
            (
                serde_json::json!({ "serviceAccountName": "Node_1" }),
                "spec.serviceAccountName",
            ),
            (
                serde_json::json!({ "tokenSecret": { "name": "tokens", "key": "a/b" } }),
                "spec.tokenSecret",
            ),
        ] {
            let errors = validate_node(&with(extra.clone()));
            assert_eq!(errors.len(), 1, "{extra}");
            assert_eq!(errors[0].field, field, "{extra}");
        }
    }

    fn pod_job() -> VmafxJobSpec {
        let mut spec = job("s3://b/r.yuv", "s3://b/d.yuv");
        spec.execution = Execution::Pod;
        spec
    }

    #[test]
    fn pod_mode_fields_are_checked() {
        let mut spec = pod_job();
        spec.output = Some("s3://results/x.json".into());
        spec.storage_secret = Some("s3-creds".into());
        spec.max_attempts = Some(10);
        assert!(validate_job(&spec).is_empty(), "{:?}", validate_job(&spec));
        type Case = (fn(&mut VmafxJobSpec), &'static str, &'static str);
        let cases: Vec<Case> = vec![
            (
                |s| s.output = Some("https://example.com/x.json".into()),
                "spec.output",
                "read-only",
            ),
            (
                |s| s.output = Some("file:///tmp/x.json".into()),
                "spec.output",
                "lost",
            ),
            (|s| s.output = Some("nope".into()), "spec.output", ""),
            (
                |s| s.storage_secret = Some("Bad_Name".into()),
                "spec.storageSecret",
                "Secret name",
            ),
            (
                |s| s.image_pull_secret = Some("".into()),
                "spec.imagePullSecret",
                "Secret name",
            ),
            (|s| s.backend = "vulkan".into(), "spec.backend", "vulkan"),
            (
                |s| s.max_attempts = Some(0),
                "spec.maxAttempts",
                "between 1 and 10",
            ),
            (
                |s| s.max_attempts = Some(11),
                "spec.maxAttempts",
                "between 1 and 10",
            ),
        ];
        for (change, field, words) in cases {
            let mut spec = pod_job();
            change(&mut spec);
            let errors = validate_job(&spec);
            assert_eq!(errors.len(), 1, "{field}: {errors:?}");
            assert_eq!(errors[0].field, field);
            assert!(errors[0].message.contains(words), "{}", errors[0].message);
        }
    }

    #[test]
    fn pod_resources_must_be_quantities() {
        use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
        for good in [
            "1",
            "500m",
            "2Gi",
            "1.5",
            "0.5G",
            "1e3",
            "128974848",
            "+1k",
            ".5",
        ] {
            assert!(is_quantity(good), "{good}");
        }
        for bad in [
            "", "m", "1.2.3", "abc", "1 Gi", "1gi", "1e", "1e1234", "--1", "1ki",
        ] {
            assert!(!is_quantity(bad), "{bad}");
        }
        let mut spec = pod_job();
        let mut resources = ResourceRequirements {
            limits: Some([("cpu".to_owned(), Quantity("two".into()))].into()),
            requests: Some([("memory".to_owned(), Quantity("-1Gi".into()))].into()),
            ..Default::default()
        };
        spec.resources = Some(resources.clone());
        let errors = validate_job(&spec);
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["spec.resources.requests", "spec.resources.limits"]);
        assert!(
            errors[0].message.contains("negative"),
            "{}",
            errors[0].message
        );
        assert!(
            errors[1].message.contains("cpu: \"two\""),
            "{}",
            errors[1].message
        );
        resources.limits = Some([("cpu".to_owned(), Quantity("250m".into()))].into());
        resources.requests = None;
        spec.resources = Some(resources);
        assert!(validate_job(&spec).is_empty());
    }

    #[test]
    fn pod_fields_are_refused_in_queue_mode() {
        let mut spec = job("s3://b/r.yuv", "s3://b/d.yuv");
        spec.output = Some("s3://results/x.json".into());
        spec.node_selector.insert("gpu".into(), "a100".into());
        let errors = validate_job(&spec);
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["spec.output", "spec.nodeSelector"]);
        assert!(errors[0].message.contains("execution: pod"));
    }

    #[test]
    fn pod_images_obey_the_allowed_prefixes() {
        let allowed = vec!["registry.local/".to_owned()];
        let mut spec = pod_job();
        assert!(validate_job_policy(&spec, "registry.local/vmafx:1", &allowed).is_empty());
        let errors = validate_job_policy(&spec, "docker.io/evil:1", &allowed);
        assert_eq!(errors[0].field, "spec.image");
        spec.image = Some("docker.io/evil:1".into());
        assert_eq!(
            validate_job_policy(&spec, "registry.local/vmafx:1", &allowed).len(),
            1
        );
        // Queue-mode jobs run no image of their own.
        spec.execution = Execution::Queue;
        assert!(validate_job_policy(&spec, "docker.io/evil:1", &allowed).is_empty());
    }
}
