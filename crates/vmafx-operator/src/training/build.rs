//! What the training reconciler derives from a spec, purely: the trainer URL it polls, and the
//! trainer's Deployment and Service.

#[allow(unused_imports)]
use super::*;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, HTTPGetAction, KeyToPath,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    SecretVolumeSource, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;
use std::collections::BTreeMap;

use crate::node::{restricted_container_security_context, restricted_pod_security_context};

/// Where the trainer's data volume is mounted (`--data-dir`).
pub const DATA_DIR: &str = "/data";
/// The callers file, from `spec.tokenSecret` (`--auth-token-file`).
pub const AUTH_TOKEN_FILE: &str = "/etc/vmafx/trainer-auth/tokens";
/// The docker config, from `spec.registrySecret` (`--registry-config`).
pub const REGISTRY_CONFIG: &str = "/etc/vmafx/registry/config.json";
/// The private CA's certificates, from `spec.registryCaSecret` (`--registry-ca`).
pub const REGISTRY_CA_FILE: &str = "/etc/vmafx/registry-ca/ca.crt";
/// The controller token, from `spec.dataSource.controllerTokenSecret`
/// (`--controller-token-file`).
pub const CONTROLLER_TOKEN_FILE: &str = "/etc/vmafx/controller-token/token";
/// The key of a `kubernetes.io/dockerconfigjson` Secret.
pub const DOCKER_CONFIG_KEY: &str = ".dockerconfigjson";
/// CPU and memory the trainer requests; it computes features of posted samples, a few frames at
/// a time, and keeps a replay buffer of 10,000 samples.
pub const TRAINER_REQUESTS: [(&str, &str); 2] = [("cpu", "500m"), ("memory", "512Mi")];
/// The memory a trainer may use at most.
pub const TRAINER_MEMORY_LIMIT: &str = "2Gi";
/// The most the emptyDir data volume (and the `/tmp` one) may hold.
pub const TRAINER_SCRATCH_SIZE: &str = "10Gi";

/// The trainer's base URL: `spec.trainerEndpoint`, else its Service's,
/// `http://<name>-trainer.<ns>.svc:8080`.
pub fn trainer_endpoint(run: &VmafxModelTraining) -> String {
    match run.spec.trainer_endpoint.as_deref().map(str::trim) {
        Some(endpoint) if !endpoint.is_empty() => endpoint.trim_end_matches('/').to_owned(),
        _ => format!(
            "http://{}.{}.svc:{TRAINER_PORT}",
            trainer_name(run),
            run.namespace().unwrap_or_default()
        ),
    }
}

/// The name of the trainer's Deployment and Service.
pub fn trainer_name(run: &VmafxModelTraining) -> String {
    format!("{}-trainer", run.name_any())
}

pub(crate) fn selector_labels(run: &VmafxModelTraining) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_owned(),
            "vmafx-trainer".to_owned(),
        ),
        ("app.kubernetes.io/instance".to_owned(), run.name_any()),
    ])
}

pub(crate) fn object_labels(run: &VmafxModelTraining) -> BTreeMap<String, String> {
    let mut labels = selector_labels(run);
    labels.insert(
        crate::node::MANAGED_BY.0.to_owned(),
        crate::node::MANAGED_BY.1.to_owned(),
    );
    labels
}

fn owned_meta(run: &VmafxModelTraining) -> Result<ObjectMeta, TrainingError> {
    let mut owner = run
        .controller_owner_ref(&())
        .filter(|o| !o.uid.is_empty())
        .ok_or_else(|| TrainingError::NoOwnerReference(runner::object_key(run)))?;
    // A foreground deletion of the run waits until its trainer is gone.
    owner.block_owner_deletion = Some(true);
    Ok(ObjectMeta {
        name: Some(trainer_name(run)),
        namespace: run.namespace(),
        labels: Some(object_labels(run)),
        owner_references: Some(vec![owner]),
        ..Default::default()
    })
}

/// `vmafx trainer`'s arguments for a run whose spec passed [`validate`](super::validate):
/// everything the spec says, the mounted files, and the operator's controller when the run
/// pulls feedback.
pub fn trainer_args(run: &VmafxModelTraining, controller_grpc: &str) -> Vec<String> {
    let spec = &run.spec;
    let mut args: Vec<String> = [
        "trainer",
        "--listen",
        &format!("0.0.0.0:{TRAINER_PORT}"),
        "--data-dir",
        DATA_DIR,
        "--run",
        &run.name_any(),
        "--base-model",
        spec.base_model.trim(),
        "--output-registry",
        spec.output_registry.as_deref().unwrap_or_default().trim(),
        "--auth-token-file",
        AUTH_TOKEN_FILE,
    ]
    .map(str::to_owned)
    .into();
    if let Some(interval) = &spec.checkpoint.interval {
        args.extend(["--checkpoint-interval".to_owned(), interval.clone()]);
    }
    if let Some(min) = spec.checkpoint.min_samples {
        args.extend(["--min-samples".to_owned(), min.to_string()]);
    }
    if spec.registry_secret.is_some() {
        args.extend(["--registry-config".to_owned(), REGISTRY_CONFIG.to_owned()]);
    }
    if spec.registry_ca_secret.is_some() {
        args.extend(["--registry-ca".to_owned(), REGISTRY_CA_FILE.to_owned()]);
    }
    let selector = &spec.data_source.node_selector;
    if !selector.is_empty() {
        args.extend(["--controller".to_owned(), controller_grpc.to_owned()]);
        if spec.data_source.controller_token_secret.is_some() {
            args.extend([
                "--controller-token-file".to_owned(),
                CONTROLLER_TOKEN_FILE.to_owned(),
            ]);
        }
        for (key, value) in selector {
            args.extend(["--node-selector".to_owned(), format!("{key}={value}")]);
        }
    }
    args
}

/// A volume of one Secret key, mounted read-only as the file `path`.
fn secret_file(name: &str, secret: &str, key: &str, path: &str) -> (Volume, VolumeMount) {
    let (dir, file) = path.rsplit_once('/').unwrap_or(("/", path));
    let volume = Volume {
        name: name.to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_owned()),
            items: Some(vec![KeyToPath {
                key: key.to_owned(),
                path: file.to_owned(),
                // Readable by the trainer's group (fsGroup) only.
                mode: Some(0o440),
                ..Default::default()
            }]),
            optional: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mount = VolumeMount {
        name: name.to_owned(),
        mount_path: dir.to_owned(),
        read_only: Some(true),
        ..Default::default()
    };
    (volume, mount)
}

fn empty_dir(name: &str, path: &str) -> (Volume, VolumeMount) {
    (
        Volume {
            name: name.to_owned(),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: Some(Quantity(TRAINER_SCRATCH_SIZE.to_owned())),
                ..Default::default()
            }),
            ..Default::default()
        },
        VolumeMount {
            name: name.to_owned(),
            mount_path: path.to_owned(),
            ..Default::default()
        },
    )
}

/// The trainer's volumes and their mounts: its data (a claim or an emptyDir), `/tmp`, and the
/// Secrets its arguments name.
fn trainer_volumes(run: &VmafxModelTraining) -> (Vec<Volume>, Vec<VolumeMount>) {
    let spec = &run.spec;
    let data = match &spec.storage.claim_name {
        Some(claim) => (
            Volume {
                name: "data".to_owned(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim.clone(),
                    read_only: Some(false),
                }),
                ..Default::default()
            },
            VolumeMount {
                name: "data".to_owned(),
                mount_path: DATA_DIR.to_owned(),
                ..Default::default()
            },
        ),
        None => empty_dir("data", DATA_DIR),
    };
    let mut pairs = vec![data, empty_dir("tmp", "/tmp")];
    if let Some(secret) = &spec.token_secret {
        pairs.push(secret_file(
            "auth",
            &secret.name,
            &secret.key,
            AUTH_TOKEN_FILE,
        ));
    }
    if let Some(secret) = &spec.registry_secret {
        pairs.push(secret_file(
            "registry",
            secret,
            DOCKER_CONFIG_KEY,
            REGISTRY_CONFIG,
        ));
    }
    if let Some(secret) = &spec.registry_ca_secret {
        pairs.push(secret_file(
            "registry-ca",
            &secret.name,
            &secret.key,
            REGISTRY_CA_FILE,
        ));
    }
    if let Some(secret) = spec
        .data_source
        .controller_token_secret
        .as_ref()
        .filter(|_| !spec.data_source.node_selector.is_empty())
    {
        pairs.push(secret_file(
            "controller-token",
            &secret.name,
            &secret.key,
            CONTROLLER_TOKEN_FILE,
        ));
    }
    pairs.into_iter().unzip()
}

fn probe(period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/healthz".to_owned()),
            port: IntOrString::String("http".to_owned()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Default::default()
    }
}

/// The trainer Deployment: one Pod of `image` running `vmafx trainer` with
/// [`trainer_args`], under the restricted security contexts, with no ServiceAccount token.
pub fn desired_deployment(
    run: &VmafxModelTraining,
    image: &str,
    controller_grpc: &str,
) -> Result<Deployment, TrainingError> {
    let (volumes, mounts) = trainer_volumes(run);
    let requests = TRAINER_REQUESTS
        .iter()
        .map(|(name, value)| ((*name).to_owned(), Quantity((*value).to_owned())))
        .collect();
    let container = Container {
        name: "trainer".to_owned(),
        image: Some(image.to_owned()),
        command: Some(vec!["vmafx".to_owned()]),
        args: Some(trainer_args(run, controller_grpc)),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_owned()),
            container_port: i32::from(TRAINER_PORT),
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        liveness_probe: Some(probe(10, 3)),
        readiness_probe: Some(probe(5, 1)),
        resources: Some(ResourceRequirements {
            limits: Some(BTreeMap::from([(
                "memory".to_owned(),
                Quantity(TRAINER_MEMORY_LIMIT.to_owned()),
            )])),
            requests: Some(requests),
            ..Default::default()
        }),
        security_context: Some(restricted_container_security_context()),
        volume_mounts: Some(mounts),
        ..Default::default()
    };
    Ok(Deployment {
        metadata: owned_meta(run)?,
        spec: DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(selector_labels(run)),
                ..Default::default()
            },
            // Two trainers must never share one data folder: the old Pod stops before the new
            // one starts.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".to_owned()),
                ..Default::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(object_labels(run)),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    // The trainer never calls the Kubernetes API.
                    automount_service_account_token: Some(false),
                    security_context: Some(restricted_pod_security_context()),
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        ..Default::default()
    })
}

/// The Service in front of the trainer's port: samples are posted to it and the operator polls
/// its `/status`.
pub fn desired_service(run: &VmafxModelTraining) -> Result<Service, TrainingError> {
    Ok(Service {
        metadata: owned_meta(run)?,
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(run)),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: i32::from(TRAINER_PORT),
                target_port: Some(IntOrString::String("http".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    })
}
