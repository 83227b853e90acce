//! The pure half of the node reconciler: names, the worker StatefulSet and its Service, and the
//! restricted security contexts every generated Pod gets.

#[allow(unused_imports)]
use super::*;

/// The name the worker registers with the controller under: its Pod's name and namespace
/// (`<name>-worker-0.<namespace>`), which is also the identity the controller gives the Pod's
/// ServiceAccount token; unique across namespaces, since namespaces contain no dots.
pub fn registry_name(node: &VmafxNode) -> String {
    format!(
        "{}-0.{}",
        worker_name(node),
        node.namespace().unwrap_or_default()
    )
}

/// The name of the worker's StatefulSet and Service.
pub fn worker_name(node: &VmafxNode) -> String {
    format!("{}-worker", node.name_any())
}

/// The URL the operator probes: `spec.healthEndpoint` (its `/healthz` appended unless it names a
/// path already), else the worker's Service.
pub fn health_url(node: &VmafxNode) -> String {
    match node.spec.health_endpoint.as_deref().map(str::trim) {
        Some(endpoint) if !endpoint.is_empty() => {
            let endpoint = endpoint.trim_end_matches('/');
            let has_path = endpoint
                .split_once("://")
                .map_or(endpoint, |(_, rest)| rest)
                .contains('/');
            if has_path {
                endpoint.to_owned()
            } else {
                format!("{endpoint}/healthz")
            }
        }
        _ => format!(
            "http://{}.{}.svc:{HEALTH_PORT}/healthz",
            worker_name(node),
            node.namespace().unwrap_or_default()
        ),
    }
}

/// The security context every generated Pod gets: it passes the `restricted` Pod Security
/// Standard (non-root as the image's user, the runtime's default seccomp profile).
pub fn restricted_pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS_USER),
        run_as_group: Some(RUN_AS_USER),
        fs_group: Some(RUN_AS_USER),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The security context every generated container gets: no privilege escalation, no
/// capabilities, a read-only root file system.
pub fn restricted_container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Default::default()
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(crate) fn selector_labels(node: &VmafxNode) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "vmafx-node".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), node.name_any()),
    ])
}

pub(crate) fn object_labels(node: &VmafxNode) -> BTreeMap<String, String> {
    let mut labels = selector_labels(node);
    labels.insert(MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned());
    labels
}

pub(crate) fn owned_meta(node: &VmafxNode) -> Result<ObjectMeta, NodeError> {
    let owner = node
        .controller_owner_ref(&())
        .filter(|o| !o.uid.is_empty())
        .ok_or_else(|| NodeError::NoOwnerReference(runner::object_key(node)))?;
    Ok(ObjectMeta {
        name: Some(worker_name(node)),
        namespace: node.namespace(),
        labels: Some(object_labels(node)),
        owner_references: Some(vec![owner]),
        ..Default::default()
    })
}

pub(crate) fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.into()),
        ..Default::default()
    }
}

pub(crate) fn http_probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("health".to_owned()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Default::default()
    }
}

/// The worker's environment: where the controller is, the name to register under (its Pod's,
/// see [`registry_name`]), what it offers, and how it authenticates.
pub(crate) fn worker_env(
    node: &VmafxNode,
    vendor: GpuVendor,
    controller_grpc: &str,
) -> Vec<EnvVar> {
    let mut vars = vec![
        env("VMAFX_CONTROLLER", controller_grpc),
        env("VMAFX_NODE_NAME", registry_name(node)),
        env("VMAFX_NODE_VENDOR", vendor.as_str()),
        env("VMAFX_NODE_BACKENDS", vendor.backends().join(",")),
        env("VMAFX_NODE_HTTP_ADDR", format!("0.0.0.0:{HEALTH_PORT}")),
        env("VMAFX_SCRATCH_DIR", SCRATCH_DIR),
        env("TMPDIR", SCRATCH_DIR),
    ];
    if node.spec.service_account_name.is_some() {
        vars.push(env("VMAFX_TOKEN_FILE", SERVICE_ACCOUNT_TOKEN));
    } else if let Some(secret) = &node.spec.token_secret {
        vars.push(EnvVar {
            name: "VMAFX_TOKEN".to_owned(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.name.clone(),
                    key: secret.key.clone(),
                    optional: Some(false),
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    vars
}

/// The worker StatefulSet: one Pod of `spec.image` running `vmafx node`, pointed at the
/// controller with the node's credentials, probed on its health port, and asking for one GPU of
/// the node's vendor.
pub fn desired_worker(
    node: &VmafxNode,
    vendor: GpuVendor,
    controller_grpc: &str,
) -> Result<StatefulSet, NodeError> {
    let mut limits = BTreeMap::from([(
        "memory".to_owned(),
        Quantity(WORKER_MEMORY_LIMIT.to_owned()),
    )]);
    if let Some(resource) = vendor.gpu_resource() {
        limits.insert(resource.to_owned(), Quantity("1".to_owned()));
    }
    let requests = WORKER_REQUESTS
        .iter()
        .map(|(name, value)| ((*name).to_owned(), Quantity((*value).to_owned())))
        .collect();
    let container = Container {
        name: "node".to_owned(),
        image: Some(node.spec.image.clone()),
        command: Some(vec!["vmafx".to_owned()]),
        args: Some(vec![
            "node".to_owned(),
            "--capacity".to_owned(),
            node.spec.capacity.to_string(),
        ]),
        env: Some(worker_env(node, vendor, controller_grpc)),
        ports: Some(vec![ContainerPort {
            name: Some("health".to_owned()),
            container_port: HEALTH_PORT,
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        liveness_probe: Some(http_probe("/healthz", 10, 3)),
        readiness_probe: Some(http_probe("/ready", 5, 1)),
        resources: Some(ResourceRequirements {
            limits: Some(limits),
            requests: Some(requests),
            ..Default::default()
        }),
        security_context: Some(restricted_container_security_context()),
        volume_mounts: Some(vec![VolumeMount {
            name: "scratch".to_owned(),
            mount_path: SCRATCH_DIR.to_owned(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    // Only a worker that authenticates with its Pod's token gets one mounted.
    let account = node.spec.service_account_name.clone();
    Ok(StatefulSet {
        metadata: owned_meta(node)?,
        spec: StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(worker_name(node)),
            selector: LabelSelector {
                match_labels: Some(selector_labels(node)),
                ..Default::default()
            },
            // A rolling update of a one-Pod StatefulSet stops the old Pod before starting the
            // new one, so no second GPU is needed; the worker's jobs are leased and go back to
            // the queue when it stops, so stopping first loses nothing.
            pod_management_policy: Some("Parallel".to_owned()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(object_labels(node)),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    // The token proves to the controller which Pod this is; the worker never
                    // calls the API server. Without a ServiceAccount there is nothing to mount.
                    automount_service_account_token: Some(account.is_some()),
                    service_account_name: account,
                    security_context: Some(restricted_pod_security_context()),
                    volumes: Some(vec![Volume {
                        name: "scratch".to_owned(),
                        empty_dir: Some(EmptyDirVolumeSource {
                            size_limit: Some(Quantity(SCRATCH_SIZE.to_owned())),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        ..Default::default()
    })
}

/// The Service in front of the worker's health port, which the operator probes.
pub fn desired_service(node: &VmafxNode) -> Result<Service, NodeError> {
    Ok(Service {
        metadata: owned_meta(node)?,
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(node)),
            ports: Some(vec![ServicePort {
                name: Some("health".to_owned()),
                port: HEALTH_PORT,
                target_port: Some(IntOrString::String("health".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    })
}
