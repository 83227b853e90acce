//! Reconciler for `VmafxNode`: runs the worker as a one-Pod StatefulSet with a Service in front
//! of its health port, and keeps the node's health current from two sources: the worker's own
//! `/healthz` and the heartbeat the vmafx controller last received from it. A StatefulSet, not a
//! Deployment, because its Pod has a stable name: the controller's Kubernetes authentication
//! identifies a worker by its Pod (`POD.NAMESPACE`), so the name the worker registers under, and
//! the operator looks it up by, must be known in advance.
//!
//! Pipeline, one file each: [`validate`] the spec → [`build`] the StatefulSet and Service (pure)
//! → [`apply`] them (server-side apply), probe the worker and read the registry → [`status`]:
//! decide health (pure) → write the status and emit an event when health flips.

pub mod apply;
pub mod build;
pub mod status;
pub mod validate;

use crate::runner::apply_owned as apply;
use apply::{probe, read_registry, write_status};
pub use build::*;
pub use status::*;
pub use validate::*;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    HTTPGetAction, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    SeccompProfile, SecretKeySelector, SecurityContext, Service, ServicePort, ServiceSpec, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::conditions::{self, set_condition};
use crate::context::{Context, MANAGER};
use crate::crd::{GpuVendor, VmafxNode, VmafxNodeStatus};
use crate::runner;

/// The controller's name in metrics and logs.
pub const NAME: &str = "vmafxnode";
/// The port the worker serves `/healthz` and `/ready` on, in its container and on its Service.
pub const HEALTH_PORT: i32 = 8090;
/// How often the worker is probed while nothing else happens.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(30);
/// A heartbeat older than this makes the node unhealthy (the controller's own node timeout).
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(60);
/// Condition: the worker's StatefulSet and Service are applied.
pub const AVAILABLE: &str = "Available";
/// Condition: the worker answers its probe and heartbeats.
pub const HEALTHY: &str = "Healthy";
/// Label carried by everything the operator creates, and the selector its watches use.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", MANAGER);

/// The user and group the vmafx image runs as (its `nonroot` user).
pub const RUN_AS_USER: i64 = 65532;
/// CPU and memory each worker requests, and the memory it may use at most (the chart's
/// `nodePoolDefaults`); scoring needs no more than a few frames of each input in memory.
pub const WORKER_REQUESTS: [(&str, &str); 2] = [("cpu", "1"), ("memory", "1Gi")];
/// The memory limit of a worker.
pub const WORKER_MEMORY_LIMIT: &str = "4Gi";
/// Where the worker's scratch emptyDir is mounted (downloads and temporary files).
pub const SCRATCH_DIR: &str = "/scratch";
/// The most the scratch emptyDir may hold.
pub const SCRATCH_SIZE: &str = "20Gi";

/// A StatefulSet's name goes into its Pods' `controller-revision-hash` label with a hash of up
/// to 11 characters after it, and labels hold at most 63: the worker name gets 52.
const MAX_WORKER_NAME: usize = 52;
/// Where Kubernetes mounts a Pod's projected ServiceAccount token.
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// Past the stale moment by this much, so the recheck sees the heartbeat strictly too old.
const STALE_MARGIN: Duration = Duration::from_millis(250);

/// Why a reconcile failed; it is retried.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The object lacks what an owner reference needs (it was not read from the API server).
    #[error("failed to reference {0} as owner: it has no uid")]
    NoOwnerReference(String),
    /// A StatefulSet or Service could not be applied.
    #[error("failed to apply {kind} {name}: {source}")]
    Apply {
        /// StatefulSet or Service.
        kind: String,
        /// Its name.
        name: String,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
    /// The status could not be written.
    #[error("failed to update the status of {name}: {source}")]
    Status {
        /// The node's name.
        name: String,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
}

impl From<runner::ApplyFailure> for NodeError {
    fn from(f: runner::ApplyFailure) -> Self {
        NodeError::Apply {
            kind: f.kind,
            name: f.name,
            source: f.source,
        }
    }
}

/// Runs the reconciler until `shutdown` fires.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let client = ctx.client.clone();
    let owned = watcher::Config::default().labels(&format!("{}={}", MANAGED_BY.0, MANAGED_BY.1));
    let controller = runner::watched(Api::<VmafxNode>::all(client.clone()), &ctx, NAME)
        .owns(Api::<StatefulSet>::all(client.clone()), owned.clone())
        .owns(Api::<Service>::all(client), owned);
    runner::run(NAME, controller, ctx, reconcile, shutdown).await;
}

async fn reconcile(node: Arc<VmafxNode>, ctx: Arc<Context>) -> Result<Action, NodeError> {
    let ns = node.namespace().unwrap_or_default();
    let generation = node.metadata.generation;
    let prev = node.status.clone().unwrap_or_default();
    let mut status = prev.clone();
    status.observed_generation = generation;

    let vendor = match validate(&node)
        .and_then(|vendor| check_policy(&node, &ctx.config.allowed_images).map(|()| vendor))
    {
        Ok(vendor) => vendor,
        Err(invalid) => {
            let mut changed = set_condition(
                &mut status.conditions,
                AVAILABLE,
                false,
                invalid.reason,
                &invalid.message,
                generation,
            );
            changed |= set_condition(
                &mut status.conditions,
                HEALTHY,
                false,
                invalid.reason,
                &invalid.message,
                generation,
            );
            status.healthy = false;
            if changed || status != prev {
                write_status(&ctx, &node, &status).await?;
                ctx.publish(node.as_ref(), true, invalid.reason, &invalid.message)
                    .await;
            }
            return Ok(Action::await_change());
        }
    };

    apply(
        &ctx,
        &ns,
        &desired_worker(&node, vendor, &ctx.config.controller_grpc)?,
    )
    .await?;
    apply(&ctx, &ns, &desired_service(&node)?).await?;
    set_condition(
        &mut status.conditions,
        AVAILABLE,
        true,
        "WorkerApplied",
        &format!("StatefulSet and Service {} are applied", worker_name(&node)),
        generation,
    );

    let url = health_url(&node);
    let name = registry_name(&node);
    let (probed, registry) = tokio::join!(probe(&ctx, &url), read_registry(&ctx, &name));
    let now = Timestamp::now();
    let decision = decide_health(&probed, &registry, now.as_millisecond());

    if let Registry::Found {
        id,
        last_heartbeat_ms,
        running,
        device,
    } = &registry
    {
        status.node_id = Some(id.clone());
        status.last_heartbeat = time_from_ms(*last_heartbeat_ms);
        status.jobs = i32::try_from(*running).unwrap_or(i32::MAX);
        status.device = Some(device.clone()).filter(|d| !d.is_empty());
    } else if matches!(registry, Registry::NotRegistered) {
        status.jobs = 0;
    }
    status.healthy = decision.healthy;
    status.last_probe_time = Some(Time(now));
    let was = conditions::find(&prev.conditions, HEALTHY).map(|c| c.status == "True");
    set_condition(
        &mut status.conditions,
        HEALTHY,
        decision.healthy,
        decision.reason,
        &decision.message,
        generation,
    );

    if worth_writing(&prev, &status, now) {
        write_status(&ctx, &node, &status).await?;
    }
    if was != Some(decision.healthy) {
        tracing::info!(node = %runner::object_key(node.as_ref()), healthy = decision.healthy, reason = decision.reason, "{}", decision.message);
        let (warning, reason) = if decision.healthy {
            (false, "NodeHealthy")
        } else {
            (true, "NodeUnhealthy")
        };
        ctx.publish(node.as_ref(), warning, reason, &decision.message)
            .await;
    }
    Ok(Action::requeue(decision.recheck))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::VmafxNodeSpec;

    fn node(vendor: &str) -> VmafxNode {
        let mut node = VmafxNode::new(
            "gpu-0",
            VmafxNodeSpec {
                gpu_vendor: vendor.to_owned(),
                capacity: 4,
                image: "ghcr.io/vmafx/vmafx:1".to_owned(),
                health_endpoint: None,
                service_account_name: None,
                token_secret: None,
            },
        );
        node.metadata.namespace = Some("ns1".to_owned());
        node.metadata.uid = Some("uid-1".to_owned());
        node
    }

    /// Literal values; a variable from a Secret maps to `secret:NAME/KEY`.
    fn env_of(d: &StatefulSet) -> BTreeMap<String, String> {
        let c = &d.spec.template.spec.as_ref().unwrap().containers[0];
        c.env
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| {
                let value = e.value.clone().unwrap_or_else(|| {
                    let secret = e
                        .value_from
                        .as_ref()
                        .unwrap()
                        .secret_key_ref
                        .as_ref()
                        .unwrap();
                    format!("secret:{}/{}", secret.name, secret.key)
                });
                (e.name.clone(), value)
            })
            .collect()
    }

    #[test]
    fn worker_for_each_vendor() {
        for (vendor, resource) in [
            ("nvidia", Some("nvidia.com/gpu")),
            ("amd", Some("amd.com/gpu")),
            ("intel", Some("gpu.intel.com/i915")),
            ("cpu", None),
        ] {
            let n = node(vendor);
            let v = validate(&n).unwrap();
            let d = desired_worker(&n, v, "http://ctl:9090").unwrap();
            assert_eq!(d.metadata.name.as_deref(), Some("gpu-0-worker"));
            let owner = &d.metadata.owner_references.as_ref().unwrap()[0];
            assert_eq!(
                (owner.kind.as_str(), owner.uid.as_str()),
                ("VmafxNode", "uid-1")
            );
            assert_eq!(owner.controller, Some(true));
            let spec = &d.spec;
            assert_eq!(spec.replicas, Some(1));
            assert_eq!(spec.service_name.as_deref(), Some("gpu-0-worker"));
            let c = &spec.template.spec.as_ref().unwrap().containers[0];
            assert_eq!(c.image.as_deref(), Some("ghcr.io/vmafx/vmafx:1"));
            assert_eq!(c.args.as_ref().unwrap(), &["node", "--capacity", "4"]);
            let env = env_of(&d);
            assert_eq!(env["VMAFX_CONTROLLER"], "http://ctl:9090");
            // The name of the StatefulSet's one Pod, as the controller names its token.
            assert_eq!(env["VMAFX_NODE_NAME"], "gpu-0-worker-0.ns1");
            assert_eq!(registry_name(&n), "gpu-0-worker-0.ns1");
            assert!(!env.contains_key("VMAFX_TOKEN") && !env.contains_key("VMAFX_TOKEN_FILE"));
            assert_eq!(env["VMAFX_NODE_VENDOR"], vendor);
            assert_eq!(env["VMAFX_NODE_HTTP_ADDR"], "0.0.0.0:8090");
            let resources = c.resources.as_ref().unwrap();
            let limits = resources.limits.clone().unwrap();
            assert_eq!(limits["memory"], Quantity("4Gi".into()));
            match resource {
                Some(r) => {
                    assert_eq!(limits.len(), 2);
                    assert_eq!(limits[r], Quantity("1".into()));
                }
                None => assert_eq!(limits.len(), 1, "{vendor}: {limits:?}"),
            }
            let requests = resources.requests.clone().unwrap();
            assert_eq!(requests["cpu"], Quantity("1".into()));
            assert_eq!(requests["memory"], Quantity("1Gi".into()));
            let pod = spec.template.spec.as_ref().unwrap();
            assert_eq!(pod.automount_service_account_token, Some(false));
            assert_eq!(pod.service_account_name, None);
            let pod_security = pod.security_context.as_ref().unwrap();
            assert_eq!(pod_security.run_as_non_root, Some(true));
            assert_eq!(pod_security.run_as_user, Some(65532));
            assert_eq!(
                pod_security.seccomp_profile.as_ref().unwrap().type_,
                "RuntimeDefault"
            );
            let security = c.security_context.as_ref().unwrap();
            assert_eq!(security.allow_privilege_escalation, Some(false));
            assert_eq!(
                security.capabilities.as_ref().unwrap().drop,
                Some(vec!["ALL".to_owned()])
            );
            let live = c
                .liveness_probe
                .as_ref()
                .unwrap()
                .http_get
                .as_ref()
                .unwrap();
            let ready = c
                .readiness_probe
                .as_ref()
                .unwrap()
                .http_get
                .as_ref()
                .unwrap();
            assert_eq!(live.path.as_deref(), Some("/healthz"));
            assert_eq!(ready.path.as_deref(), Some("/ready"));
            let selector = spec.selector.match_labels.as_ref().unwrap();
            let pod_labels = spec
                .template
                .metadata
                .as_ref()
                .unwrap()
                .labels
                .as_ref()
                .unwrap();
            assert!(selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));
        }
    }

    #[test]
    fn worker_credentials_come_from_its_service_account_or_a_secret() {
        let mut n = node("cpu");
        n.spec.service_account_name = Some("vmafx-node".into());
        let d = desired_worker(&n, validate(&n).unwrap(), "http://ctl:9090").unwrap();
        let pod = d.spec.template.spec.clone().unwrap();
        assert_eq!(pod.service_account_name.as_deref(), Some("vmafx-node"));
        assert_eq!(pod.automount_service_account_token, Some(true));
        assert_eq!(env_of(&d)["VMAFX_TOKEN_FILE"], SERVICE_ACCOUNT_TOKEN);

        let mut n = node("cpu");
        n.spec.token_secret = Some(crate::crd::SecretKeyRef {
            name: "vmafx-tokens".into(),
            key: "node-token".into(),
        });
        let d = desired_worker(&n, validate(&n).unwrap(), "http://ctl:9090").unwrap();
        let pod = d.spec.template.spec.clone().unwrap();
        assert_eq!(pod.automount_service_account_token, Some(false));
        let env = env_of(&d);
        assert_eq!(env["VMAFX_TOKEN"], "secret:vmafx-tokens/node-token");
        assert!(!env.contains_key("VMAFX_TOKEN_FILE"));

        // Both at once, or names that are not names, are refused.
        n.spec.service_account_name = Some("vmafx-node".into());
        assert_eq!(validate(&n).unwrap_err().reason, "InvalidCredentials");
        for (account, secret) in [
            (Some("Bad_Name"), None),
            (None, Some(("vmafx-tokens", "bad/key"))),
            (None, Some(("", "node-token"))),
        ] {
            let mut n = node("cpu");
            n.spec.service_account_name = account.map(str::to_owned);
            n.spec.token_secret = secret.map(|(name, key)| crate::crd::SecretKeyRef {
                name: name.into(),
                key: key.into(),
            });
            let err = validate(&n).unwrap_err();
            assert_eq!(err.reason, "InvalidCredentials", "{err:?}");
        }
    }

    #[test]
    fn service_fronts_the_health_port() {
        let n = node("cpu");
        let s = desired_service(&n).unwrap();
        let spec = s.spec.unwrap();
        assert_eq!(spec.ports.unwrap()[0].port, HEALTH_PORT);
        assert_eq!(spec.selector.unwrap(), selector_labels(&n));
        assert_eq!(health_url(&n), "http://gpu-0-worker.ns1.svc:8090/healthz");
    }

    #[test]
    fn health_endpoint_overrides() {
        let mut n = node("cpu");
        n.spec.health_endpoint = Some("http://127.0.0.1:9/".into());
        assert_eq!(health_url(&n), "http://127.0.0.1:9/healthz");
        n.spec.health_endpoint = Some("http://127.0.0.1:9/custom/healthz".into());
        assert_eq!(health_url(&n), "http://127.0.0.1:9/custom/healthz");
    }

    #[test]
    fn invalid_specs_are_named() {
        let err = validate(&node("tpu")).unwrap_err();
        assert_eq!(err.reason, "InvalidGpuVendor");
        assert!(err.message.contains("\"tpu\"") && err.message.contains("nvidia, amd, intel, cpu"));
        let mut n = node("cpu");
        n.spec.capacity = 0;
        assert_eq!(validate(&n).unwrap_err().reason, "InvalidCapacity");
        let mut n = node("cpu");
        // 45 characters plus "-worker" is the most a StatefulSet's revision label allows.
        n.metadata.name = Some("x".repeat(45));
        assert!(validate(&n).is_ok());
        n.metadata.name = Some("x".repeat(46));
        assert_eq!(validate(&n).unwrap_err().reason, "NameTooLong");
    }

    #[test]
    fn policy_refuses_foreign_images_and_outside_endpoints() {
        let allowed = vec!["ghcr.io/vmafx/vmafx:".to_owned()];
        let n = node("cpu");
        assert_eq!(check_policy(&n, &allowed), Ok(()));
        let mut n = node("cpu");
        n.spec.image = "docker.io/evil/miner:1".into();
        let err = check_policy(&n, &allowed).unwrap_err();
        assert_eq!(err.reason, "ImageNotAllowed");
        assert!(err.message.starts_with("spec.image: "), "{}", err.message);
        let mut n = node("cpu");
        n.spec.health_endpoint = Some("http://169.254.169.254/".into());
        let err = check_policy(&n, &allowed).unwrap_err();
        assert_eq!(err.reason, "InvalidHealthEndpoint");
        assert!(
            err.message.starts_with("spec.healthEndpoint: "),
            "{}",
            err.message
        );
        n.spec.health_endpoint = Some("http://stand-in.ns1.svc:9/".into());
        assert_eq!(check_policy(&n, &allowed), Ok(()));
    }

    #[test]
    fn unowned_objects_are_refused() {
        let mut n = node("cpu");
        n.metadata.uid = None;
        assert!(matches!(
            desired_service(&n),
            Err(NodeError::NoOwnerReference(_))
        ));
    }

    fn found(last_heartbeat_ms: i64) -> Registry {
        Registry::Found {
            id: "n1".into(),
            last_heartbeat_ms,
            running: 2,
            device: "cpu".into(),
        }
    }

    #[test]
    fn health_needs_probe_and_fresh_heartbeat() {
        let now = 1_000_000;
        let d = decide_health(&Ok(()), &found(now - 10_000), now);
        assert!(d.healthy);
        assert_eq!(d.reason, "Healthy");
        assert_eq!(d.recheck, PROBE_INTERVAL);

        // The recheck lands just after the heartbeat turns 60 s old.
        let d = decide_health(&Ok(()), &found(now - 45_000), now);
        assert!(d.healthy);
        assert_eq!(d.recheck, Duration::from_millis(15_250));

        let d = decide_health(&Ok(()), &found(now - 61_000), now);
        assert!(!d.healthy);
        assert_eq!(d.reason, "HeartbeatStale");
        assert!(d.message.contains("stale heartbeat"), "{}", d.message);
        assert_eq!(d.recheck, PROBE_INTERVAL);

        let d = decide_health(&Err("refused".into()), &found(now - 1_000), now);
        assert!(!d.healthy);
        assert_eq!(d.reason, "ProbeFailed");
        assert!(d.message.contains("refused"));

        let d = decide_health(&Err("refused".into()), &found(now - 70_000), now);
        assert_eq!(d.reason, "ProbeFailed");
        assert!(d.message.contains("stale heartbeat"));

        assert_eq!(
            decide_health(&Ok(()), &Registry::NotRegistered, now).reason,
            "NotRegistered"
        );
        let d = decide_health(&Ok(()), &Registry::Unreachable("down".into()), now);
        assert_eq!(d.reason, "ControllerUnreachable");
        assert!(!d.healthy);
        // A heartbeat from a clock slightly ahead counts as fresh.
        assert!(decide_health(&Ok(()), &found(now + 500), now).healthy);
    }

    #[test]
    fn newest_registration_wins() {
        use vmafx_api::v1::{Node, NodeInfo};
        let reg = |id: &str, name: &str, hb: i64| Node {
            id: id.into(),
            info: Some(NodeInfo {
                name: name.into(),
                device: format!("dev-{id}"),
                ..Default::default()
            }),
            healthy: true,
            registered_ms: 1,
            last_heartbeat_ms: hb,
            running: 1,
        };
        let nodes = [
            reg("a", "w.ns", 10),
            reg("b", "w.ns", 30),
            reg("c", "other", 99),
        ];
        match find_registration(&nodes, "w.ns") {
            Registry::Found { id, device, .. } => {
                assert_eq!((id.as_str(), device.as_str()), ("b", "dev-b"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(find_registration(&nodes, "nope"), Registry::NotRegistered);
    }

    #[test]
    fn only_the_probe_time_moving_is_not_written_twice_in_a_row() {
        let now = Timestamp::now();
        let prev = VmafxNodeStatus {
            healthy: true,
            last_probe_time: Some(Time(now)),
            ..Default::default()
        };
        let mut next = prev.clone();
        next.last_probe_time = Some(Time(now + Duration::from_secs(1)));
        assert!(!worth_writing(&prev, &next, now));
        next.jobs = 1;
        assert!(worth_writing(&prev, &next, now));
        let later = now + Duration::from_secs(20);
        next.jobs = 0;
        assert!(worth_writing(&prev, &next, later));
    }
}
