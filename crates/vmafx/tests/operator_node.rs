//! VmafxNode against a real control plane: the operator's worker StatefulSet and Service for each
//! vendor (restricted Pods), an invalid vendor, a foreign image and an outside health endpoint
//! refused, and health decided from a real `vmafx node` (its probe and its heartbeat through a
//! real controller), including a heartbeat that goes stale. The operator runs outside the
//! cluster, so the Service names of the health endpoints resolve to loopback through
//! VMAFX_OPERATOR_RESOLVE.

#[macro_use]
mod k8s;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use vmafx_operator::crd::{VmafxNode, VmafxNodeSpec};

/// A tiny HTTP server answering 200 to every request, standing in for a worker's health port.
fn always_ok_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let _ = (&stream)
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    port
}

async fn create_node(
    api: &Api<VmafxNode>,
    name: &str,
    vendor: &str,
    health: Option<String>,
) -> VmafxNode {
    let node = VmafxNode::new(
        name,
        VmafxNodeSpec {
            gpu_vendor: vendor.into(),
            capacity: 2,
            image: format!("registry.example/vmafx:{vendor}"),
            health_endpoint: health,
            service_account_name: None,
            token_secret: None,
        },
    );
    api.create(&PostParams::default(), &node).await.unwrap()
}

fn condition(node: &VmafxNode, type_: &str) -> Option<(String, String, String)> {
    node.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

async fn events(client: &Client, ns: &str, object: &str, reason: &str) -> Vec<Event> {
    k8s::events_about(client, ns, "VmafxNode", object)
        .await
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect()
}

async fn check_workers(client: &Client, ns: &str, controller_grpc: &str) {
    let nodes: Api<VmafxNode> = Api::namespaced(client.clone(), ns);
    let workers: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    for (vendor, resource) in [
        ("nvidia", Some("nvidia.com/gpu")),
        ("amd", Some("amd.com/gpu")),
        ("intel", Some("gpu.intel.com/i915")),
        ("cpu", None),
    ] {
        let name = format!("w-{vendor}");
        let node = create_node(&nodes, &name, vendor, None).await;
        let uid = node.metadata.uid.clone().unwrap();
        let worker = format!("{name}-worker");
        let stateful_set = poll_until!(Duration::from_secs(30), "worker StatefulSet", {
            workers.get_opt(&worker).await.unwrap()
        });
        let owner = &stateful_set.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("VmafxNode", name.as_str(), uid.as_str())
        );
        assert_eq!(owner.controller, Some(true));
        let managers: Vec<_> = stateful_set
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .filter(|f| f.operation.as_deref() == Some("Apply"))
            .filter_map(|f| f.manager.clone())
            .collect();
        assert_eq!(managers, ["vmafx-operator"]);
        let spec = stateful_set.spec;
        assert_eq!(spec.replicas, Some(1));
        assert_eq!(spec.service_name.as_deref(), Some(worker.as_str()));
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.automount_service_account_token, Some(false));
        let pod_security = pod.security_context.clone().unwrap();
        assert_eq!(
            (pod_security.run_as_non_root, pod_security.run_as_user),
            (Some(true), Some(65532))
        );
        assert_eq!(
            pod_security.seccomp_profile.unwrap().type_,
            "RuntimeDefault"
        );
        let c = &pod.containers[0];
        assert_eq!(
            c.image.as_deref(),
            Some(format!("registry.example/vmafx:{vendor}").as_str())
        );
        assert_eq!(c.args.as_deref().unwrap(), ["node", "--capacity", "2"]);
        let env: std::collections::BTreeMap<_, _> = c
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.as_str(), e.value.clone().unwrap_or_default()))
            .collect();
        assert_eq!(env["VMAFX_CONTROLLER"], controller_grpc);
        // The name of the StatefulSet's one Pod: the identity its token would carry.
        assert_eq!(env["VMAFX_NODE_NAME"], format!("{worker}-0.{ns}"));
        assert_eq!(env["VMAFX_NODE_VENDOR"], vendor);
        assert_eq!(env["VMAFX_NODE_HTTP_ADDR"], "0.0.0.0:8090");
        let limits = c
            .resources
            .as_ref()
            .and_then(|r| r.limits.clone())
            .unwrap_or_default();
        assert_eq!(limits["memory"].0, "4Gi");
        match resource {
            Some(r) => {
                assert_eq!(limits.len(), 2, "{vendor}: {limits:?}");
                assert_eq!(limits[r].0, "1");
            }
            None => assert_eq!(limits.len(), 1, "{vendor}: {limits:?}"),
        }
        let requests = c.resources.as_ref().and_then(|r| r.requests.clone());
        assert!(
            requests.is_some_and(|r| r.contains_key("cpu") && r.contains_key("memory")),
            "{vendor}"
        );
        let security = c.security_context.clone().unwrap();
        assert_eq!(security.allow_privilege_escalation, Some(false));
        assert_eq!(
            security.capabilities.unwrap().drop.unwrap(),
            ["ALL".to_owned()]
        );
        let live = c.liveness_probe.as_ref().unwrap().http_get.clone().unwrap();
        let ready = c
            .readiness_probe
            .as_ref()
            .unwrap()
            .http_get
            .clone()
            .unwrap();
        assert_eq!(
            (live.path.as_deref(), ready.path.as_deref()),
            (Some("/healthz"), Some("/ready"))
        );
        // The reconciler applies the StatefulSet, then the Service: the Service may lag.
        let service = poll_until!(Duration::from_secs(30), "worker Service", {
            services.get_opt(&worker).await.unwrap()
        });
        assert_eq!(service.spec.unwrap().ports.unwrap()[0].port, 8090);
        assert_eq!(service.metadata.owner_references.unwrap()[0].uid, uid);

        // Nothing answers the in-cluster Service here, so the probe fails and says where.
        let node = poll_until!(Duration::from_secs(30), "Available and a failed probe", {
            let n = nodes.get(&name).await.unwrap();
            let available = condition(&n, "Available").is_some_and(|c| c.0 == "True");
            let probe_failed = condition(&n, "Healthy").is_some_and(|c| c.1 == "ProbeFailed");
            (available && probe_failed).then_some(n)
        });
        assert!(!node.status.as_ref().unwrap().healthy);
        assert!(condition(&node, "Healthy")
            .unwrap()
            .2
            .contains(&format!("http://{worker}.{ns}.svc:8090/healthz")));
    }

    let bad = create_node(&nodes, "w-tpu", "tpu", None).await;
    let (status, reason, message) = poll_until!(Duration::from_secs(30), "InvalidGpuVendor", {
        condition(&nodes.get("w-tpu").await.unwrap(), "Available")
    });
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "InvalidGpuVendor")
    );
    assert!(message.contains("\"tpu\""), "{message}");
    assert!(workers.get_opt("w-tpu-worker").await.unwrap().is_none());
    let warned = poll_until!(Duration::from_secs(10), "an InvalidGpuVendor event", {
        let found = events(client, ns, "w-tpu", "InvalidGpuVendor").await;
        (!found.is_empty()).then_some(found)
    });
    assert_eq!(warned[0].type_.as_deref(), Some("Warning"));
    let _ = bad;

    // With the webhooks off, the reconciler refuses what the policy forbids, naming the field.
    let foreign = VmafxNode::new(
        "w-foreign",
        VmafxNodeSpec {
            gpu_vendor: "cpu".into(),
            capacity: 1,
            image: "docker.io/evil/miner:1".into(),
            health_endpoint: None,
            service_account_name: None,
            token_secret: None,
        },
    );
    nodes
        .create(&PostParams::default(), &foreign)
        .await
        .unwrap();
    let outside = create_node(
        &nodes,
        "w-outside",
        "cpu",
        Some("http://169.254.169.254/latest/meta-data".into()),
    )
    .await;
    for (name, reason, field) in [
        ("w-foreign", "ImageNotAllowed", "spec.image"),
        ("w-outside", "InvalidHealthEndpoint", "spec.healthEndpoint"),
    ] {
        let (status, got, message) = poll_until!(Duration::from_secs(30), reason, {
            condition(&nodes.get(name).await.unwrap(), "Available")
        });
        assert_eq!((status.as_str(), got.as_str()), ("False", reason));
        assert!(message.starts_with(field), "{message}");
        let worker = format!("{name}-worker");
        assert!(workers.get_opt(&worker).await.unwrap().is_none());
    }
    let _ = outside;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_worker_and_health() {
    let (env, client) = k8s::cluster().await;
    let ns = k8s::namespace(&client, "vmnode").await;
    let dir = tempfile::tempdir().unwrap();
    let (grpc_port, http_port) = (support::free_port(), support::free_port());
    let controller = support::start_controller(
        dir.path(),
        &dir.path().join("data"),
        grpc_port,
        http_port,
        &[],
    );
    let kubeconfig = k8s::operator_kubeconfig(env, &client, &ns, dir.path()).await;
    let resolve = format!("live-probe.{ns}.svc=127.0.0.1,stand-in.{ns}.svc=127.0.0.1");
    let (operator, _, _) = k8s::start_operator(
        dir.path(),
        "operator",
        &kubeconfig,
        &ns,
        &controller.grpc,
        &format!("http://127.0.0.1:{http_port}"),
        &[
            ("VMAFX_OPERATOR_ALLOWED_IMAGES", "registry.example/vmafx:"),
            ("VMAFX_OPERATOR_RESOLVE", &resolve),
        ],
    );

    check_workers(&client, &ns, &controller.grpc).await;

    // A real worker registered under the name the operator would give it.
    let nodes: Api<VmafxNode> = Api::namespaced(client.clone(), &ns);
    let health_port = support::free_port();
    let health_addr = format!("127.0.0.1:{health_port}");
    let registered = format!("live-worker-0.{ns}");
    let scratch = dir.path().join("scratch").display().to_string();
    let worker = support::spawn(
        dir.path(),
        "node-live",
        &[
            "node",
            "--controller",
            &controller.grpc,
            "--name",
            &registered,
            "--vendor",
            "cpu",
            "--http-addr",
            &health_addr,
            "--heartbeat-secs",
            "1",
            "--scratch-dir",
            &scratch,
        ],
        &[],
    );
    support::wait_for(Duration::from_secs(30), || {
        matches!(support::http_get(health_port, "/healthz"), Some((200, _)))
    })
    .unwrap_or_else(|| panic!("the worker never served /healthz:\n{}", worker.log()));
    create_node(
        &nodes,
        "live",
        "cpu",
        Some(format!("http://live-probe.{ns}.svc:{health_port}")),
    )
    .await;
    let node = poll_until!(
        Duration::from_secs(40),
        "a healthy VmafxNode",
        {
            let n = nodes.get("live").await.unwrap();
            n.status.as_ref().is_some_and(|s| s.healthy).then_some(n)
        },
        operator.log()
    );
    let status = node.status.clone().unwrap();
    assert!(status.node_id.as_deref().is_some_and(|id| !id.is_empty()));
    assert!(
        status.device.as_deref().is_some_and(|d| !d.is_empty()),
        "{status:?}"
    );
    assert_eq!(status.jobs, 0);
    assert!(status.last_heartbeat.is_some() && status.last_probe_time.is_some());
    assert_eq!(condition(&node, "Healthy").unwrap().1, "Healthy");
    let listed = support::run_cli(&["nodes", "--controller", &controller.grpc, "--json"]);
    assert!(
        listed.1.contains(status.node_id.as_deref().unwrap()),
        "{listed:?}"
    );

    let table = k8s::kubectl(env.kubeconfig_path(), &["get", "vmnode", "-n", &ns]);
    let mut lines = table.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NAME", "VENDOR", "HEALTHY", "JOBS", "DEVICE", "AGE"]
    );
    let live_row: Vec<&str> = lines
        .find(|l| l.starts_with("live "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(&live_row[..4], ["live", "cpu", "true", "0"]);

    // Only the heartbeat goes stale: the probe now reaches a server that always answers, and the
    // worker is frozen so it stops heartbeating.
    let stand_in = always_ok_server();
    nodes
        .patch(
            "live",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"healthEndpoint": format!("http://stand-in.{ns}.svc:{stand_in}")}})),
        )
        .await
        .unwrap();
    let pid = worker.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let frozen = Instant::now();
    let node = poll_until!(
        Duration::from_secs(80),
        "an unhealthy VmafxNode",
        {
            let n = nodes.get("live").await.unwrap();
            n.status.as_ref().is_some_and(|s| !s.healthy).then_some(n)
        },
        operator.log()
    );
    let took = frozen.elapsed();
    let (_, reason, message) = condition(&node, "Healthy").unwrap();
    assert_eq!(reason, "HeartbeatStale", "{message}");
    assert!(message.contains("stale heartbeat"), "{message}");
    assert!(
        took >= Duration::from_secs(55) && took <= Duration::from_secs(75),
        "flipped after {took:?}"
    );
    let flips = poll_until!(Duration::from_secs(10), "a NodeUnhealthy event", {
        let found = events(&client, &ns, "live", "NodeUnhealthy").await;
        found
            .iter()
            .any(|e| {
                e.note
                    .as_deref()
                    .is_some_and(|n| n.contains("stale heartbeat"))
            })
            .then_some(found)
    });
    assert!(!flips.is_empty());
    assert!(!events(&client, &ns, "live", "NodeHealthy").await.is_empty());
    let _ = Command::new("kill").args(["-CONT", &pid]).status();
    drop(worker);
}
