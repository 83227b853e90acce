//! The pure half of `execution: pod`: the `batch/v1` Job that runs one `VmafxJob` in a Pod of
//! its own. No client in here, so all of it is unit-tested.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{
    Job, JobSpec, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvFromSource, EnvVar, LocalObjectReference, PodSpec,
    PodTemplateSpec, ResourceRequirements, SecretEnvSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource, ResourceExt};

use crate::crd::{GpuVendor, VmafxJob};
use crate::node::{
    restricted_container_security_context, restricted_pod_security_context, MANAGED_BY,
};

/// The scoring container's name.
pub const CONTAINER: &str = "score";
/// Where the container writes its pooled result; the kubelet makes it the termination message.
pub const TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";
/// `vmafx score`'s exit status for a failure another attempt may not have (storage that did not
/// answer); anything else non-zero from `vmafx` itself means the job cannot succeed.
pub const EXIT_TRANSIENT: i32 = 75;
/// `vmafx score`'s exit status for a job that cannot succeed (a bad input, a bad option).
pub const EXIT_FAILED: i32 = 1;
/// Attempts of an `execution: pod` job whose spec names no `maxAttempts`.
pub const DEFAULT_ATTEMPTS: i32 = 3;
/// Label naming the `VmafxJob` a batch Job and its Pods belong to.
pub const JOB_LABEL: &str = "vmafx.dev/job";
/// The `app.kubernetes.io/name` of everything `execution: pod` creates.
pub const APP_NAME: &str = "vmafx-job";
/// Kubernetes puts a Job's name into a label of its Pods, so it is at most this long.
const MAX_NAME: usize = 63;

/// The batch Job's name: `<name>-score`, or, when that is too long for a label, the name cut
/// short and the start of the object's UID (unique, and stable across reconciles).
pub fn batch_job_name(job: &VmafxJob) -> String {
    let name = job.name_any();
    let full = format!("{name}-score");
    if full.len() <= MAX_NAME {
        return full;
    }
    let uid = job.uid().unwrap_or_default();
    let uid: String = uid
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect();
    let keep = MAX_NAME - uid.len() - 1;
    // Object names are ASCII, so any byte index is a character boundary.
    let cut = name[..keep.min(name.len())].trim_end_matches(['-', '.']);
    format!("{cut}-{uid}")
}

/// Labels of the batch Job and its Pods.
pub fn labels(job: &VmafxJob) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), APP_NAME.to_owned()),
        (JOB_LABEL.to_owned(), job.name_any()),
        (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
    ])
}

/// The label selector of the Pods of `job`.
pub fn pod_selector(job: &VmafxJob) -> String {
    format!(
        "app.kubernetes.io/name={APP_NAME},{JOB_LABEL}={}",
        job.name_any()
    )
}

/// The GPU resource a Pod of `backend` asks one of; `None` for the CPU.
pub fn gpu_resource(backend: &str) -> Option<&'static str> {
    let vendor = match backend {
        "cuda" => GpuVendor::Nvidia,
        "hip" => GpuVendor::Amd,
        "sycl" => GpuVendor::Intel,
        _ => GpuVendor::Cpu,
    };
    vendor.gpu_resource()
}

/// The arguments of `vmafx` in the Pod: `score` with the job's inputs, models and features, the
/// per-frame JSON to `spec.output` when given, and the pooled result to the termination message.
pub fn score_args(job: &VmafxJob) -> Vec<String> {
    let spec = &job.spec;
    let submitted = super::super::desired::job_spec(spec);
    let mut args: Vec<String> = vec![
        "score".into(),
        "--reference".into(),
        spec.reference.clone(),
        "--distorted".into(),
        spec.distorted.clone(),
    ];
    for model in submitted.models {
        args.push("--model".into());
        args.push(model);
    }
    for feature in &spec.features {
        args.push("--feature".into());
        args.push(feature.clone());
    }
    if let Some(output) = &spec.output {
        args.extend(["--json".into(), "--output".into(), output.clone()]);
    }
    args.extend([
        "--termination-message".into(),
        TERMINATION_MESSAGE_PATH.into(),
        "--quiet".into(),
    ]);
    args
}

/// The batch Job for `job`, running `image`: one Pod at a time, retried up to the spec's
/// attempts for failures another attempt may not have (eviction, OOM kill, storage that did not
/// answer), and failed at once when `vmafx score` says the job cannot succeed. `None` when the
/// object has no UID yet (it cannot be owned).
pub fn desired_batch_job(job: &VmafxJob, image: &str) -> Option<Job> {
    let owner = job
        .controller_owner_ref(&())
        .filter(|o| !o.uid.is_empty())?;
    let spec = &job.spec;
    let attempts = spec.max_attempts.unwrap_or(DEFAULT_ATTEMPTS).max(1);
    let mut resources = spec.resources.clone().unwrap_or_default();
    if let Some(gpu) = gpu_resource(&spec.backend) {
        resources
            .limits
            .get_or_insert_with(BTreeMap::new)
            .entry(gpu.to_owned())
            .or_insert_with(|| Quantity("1".to_owned()));
    }
    let resources = (resources != ResourceRequirements::default()).then_some(resources);
    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(image.to_owned()),
        command: Some(vec!["vmafx".to_owned()]),
        args: Some(score_args(job)),
        env: Some(vec![
            EnvVar {
                name: "VMAFX_BACKEND".to_owned(),
                value: Some(spec.backend.clone()),
                ..Default::default()
            },
            // Downloads go to the scratch volume; the root file system is read-only.
            EnvVar {
                name: "TMPDIR".to_owned(),
                value: Some("/scratch".to_owned()),
                ..Default::default()
            },
        ]),
        env_from: spec.storage_secret.as_ref().map(|name| {
            vec![EnvFromSource {
                secret_ref: Some(SecretEnvSource {
                    name: name.clone(),
                    optional: Some(false),
                }),
                ..Default::default()
            }]
        }),
        resources,
        volume_mounts: Some(vec![VolumeMount {
            name: "scratch".to_owned(),
            mount_path: "/scratch".to_owned(),
            ..Default::default()
        }]),
        termination_message_path: Some(TERMINATION_MESSAGE_PATH.to_owned()),
        termination_message_policy: Some("File".to_owned()),
        security_context: Some(restricted_container_security_context()),
        ..Default::default()
    };
    let pod = PodSpec {
        containers: vec![container],
        restart_policy: Some("Never".to_owned()),
        // The Pod reads storage, never the Kubernetes API.
        automount_service_account_token: Some(false),
        security_context: Some(restricted_pod_security_context()),
        node_selector: (!spec.node_selector.is_empty()).then(|| spec.node_selector.clone()),
        tolerations: (!spec.tolerations.is_empty()).then(|| spec.tolerations.clone()),
        image_pull_secrets: spec
            .image_pull_secret
            .as_ref()
            .map(|name| vec![LocalObjectReference { name: name.clone() }]),
        volumes: Some(vec![Volume {
            name: "scratch".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    Some(Job {
        metadata: ObjectMeta {
            name: Some(batch_job_name(job)),
            namespace: job.namespace(),
            labels: Some(labels(job)),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(attempts - 1),
            parallelism: Some(1),
            completions: Some(1),
            pod_failure_policy: Some(PodFailurePolicy {
                rules: vec![PodFailurePolicyRule {
                    action: "FailJob".to_owned(),
                    on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                        container_name: Some(CONTAINER.to_owned()),
                        operator: "In".to_owned(),
                        values: vec![EXIT_FAILED],
                    }),
                    on_pod_conditions: None,
                }],
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(job)),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        }),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{Execution, VmafxJobSpec};
    use k8s_openapi::api::core::v1::Toleration;

    pub(crate) fn pod_job(name: &str) -> VmafxJob {
        let mut spec = VmafxJobSpec::new("s3://clips/ref.y4m", "s3://clips/dist.mp4");
        spec.execution = Execution::Pod;
        let mut job = VmafxJob::new(name, spec);
        job.metadata.namespace = Some("ns1".into());
        job.metadata.uid = Some("0a1b2c3d-4e5f-6789-abcd-ef0123456789".into());
        job
    }

    #[test]
    fn the_job_runs_vmafx_score_on_the_uris() {
        let mut job = pod_job("clip-7");
        job.spec.additional_models = vec!["vmaf_v0.6.1neg".into()];
        job.spec.features = vec!["psnr".into()];
        job.spec.output = Some("s3://results/clip-7.json".into());
        let batch = desired_batch_job(&job, "registry.local/vmafx:1").unwrap();
        assert_eq!(batch.metadata.name.as_deref(), Some("clip-7-score"));
        let owner = &batch.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.kind, "VmafxJob");
        assert_eq!(owner.controller, Some(true));
        let spec = batch.spec.unwrap();
        assert_eq!(spec.backoff_limit, Some(DEFAULT_ATTEMPTS - 1));
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.automount_service_account_token, Some(false));
        let c = &pod.containers[0];
        assert_eq!(c.image.as_deref(), Some("registry.local/vmafx:1"));
        assert_eq!(
            c.args.as_ref().unwrap().join(" "),
            "score --reference s3://clips/ref.y4m --distorted s3://clips/dist.mp4 \
             --model version=vmaf_v0.6.1 --model version=vmaf_v0.6.1neg:name=vmaf_v0.6.1neg \
             --feature psnr --json --output s3://results/clip-7.json \
             --termination-message /dev/termination-log --quiet"
        );
        assert_eq!(c.termination_message_policy.as_deref(), Some("File"));
        let security = c.security_context.as_ref().unwrap();
        assert_eq!(security.read_only_root_filesystem, Some(true));
        assert_eq!(security.allow_privilege_escalation, Some(false));
        assert!(c.resources.is_none(), "a cpu job asks for no GPU");
        let rule = &spec.pod_failure_policy.unwrap().rules[0];
        assert_eq!(rule.action, "FailJob");
        assert_eq!(
            rule.on_exit_codes.as_ref().unwrap().values,
            vec![EXIT_FAILED]
        );
    }

    #[test]
    fn placement_credentials_and_gpu_come_from_the_spec() {
        let mut job = pod_job("gpu");
        job.spec.backend = "cuda".into();
        job.spec.max_attempts = Some(5);
        job.spec.node_selector = BTreeMap::from([("gpu".into(), "a100".into())]);
        job.spec.tolerations = vec![Toleration {
            key: Some("nvidia.com/gpu".into()),
            operator: Some("Exists".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        }];
        job.spec.image_pull_secret = Some("regcred".into());
        job.spec.storage_secret = Some("s3-creds".into());
        let spec = desired_batch_job(&job, "img").unwrap().spec.unwrap();
        assert_eq!(spec.backoff_limit, Some(4));
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.node_selector.unwrap()["gpu"], "a100");
        assert_eq!(
            pod.tolerations.unwrap()[0].key.as_deref(),
            Some("nvidia.com/gpu")
        );
        assert_eq!(pod.image_pull_secrets.unwrap()[0].name, "regcred");
        let c = &pod.containers[0];
        let from = &c.env_from.as_ref().unwrap()[0];
        assert_eq!(from.secret_ref.as_ref().unwrap().name, "s3-creds");
        let limits = c.resources.as_ref().unwrap().limits.as_ref().unwrap();
        assert_eq!(limits["nvidia.com/gpu"], Quantity("1".into()));
        let env = c.env.as_ref().unwrap();
        assert!(env
            .iter()
            .any(|e| e.name == "VMAFX_BACKEND" && e.value.as_deref() == Some("cuda")));
        for (backend, resource) in [
            ("hip", Some("amd.com/gpu")),
            ("sycl", Some("gpu.intel.com/i915")),
            ("cpu", None),
        ] {
            assert_eq!(gpu_resource(backend), resource);
        }
    }

    #[test]
    fn the_spec_resources_reach_the_container_with_the_gpu_added() {
        let mut job = pod_job("sized");
        let quantity = |q: &str| Quantity(q.to_owned());
        job.spec.resources = Some(ResourceRequirements {
            requests: Some(BTreeMap::from([("cpu".into(), quantity("500m"))])),
            limits: Some(BTreeMap::from([("memory".into(), quantity("2Gi"))])),
            ..Default::default()
        });
        let pod_of = |job: &VmafxJob| {
            desired_batch_job(job, "img")
                .unwrap()
                .spec
                .unwrap()
                .template
                .spec
                .unwrap()
        };
        let resources = pod_of(&job).containers[0].resources.clone().unwrap();
        assert_eq!(resources, job.spec.resources.clone().unwrap());
        job.spec.backend = "cuda".into();
        let limits = pod_of(&job).containers[0]
            .resources
            .clone()
            .unwrap()
            .limits
            .unwrap();
        assert_eq!(limits["memory"], quantity("2Gi"));
        assert_eq!(limits["nvidia.com/gpu"], quantity("1"));
        // Two GPUs asked for stay two.
        job.spec
            .resources
            .as_mut()
            .unwrap()
            .limits
            .as_mut()
            .unwrap()
            .insert("nvidia.com/gpu".into(), quantity("2"));
        let limits = pod_of(&job).containers[0]
            .resources
            .clone()
            .unwrap()
            .limits
            .unwrap();
        assert_eq!(limits["nvidia.com/gpu"], quantity("2"));
    }

    #[test]
    fn long_names_are_cut_to_a_label_and_stay_unique() {
        let name = format!("{}-x", "a".repeat(70));
        let job = pod_job(&name);
        let batch = batch_job_name(&job);
        assert!(batch.len() <= 63, "{batch}");
        assert!(batch.ends_with("-0a1b2c3d"), "{batch}");
        assert_eq!(batch_job_name(&pod_job("short")), "short-score");
    }

    #[test]
    fn an_object_without_uid_gets_no_job() {
        let mut job = pod_job("x");
        job.metadata.uid = None;
        assert!(desired_batch_job(&job, "img").is_none());
    }
}
