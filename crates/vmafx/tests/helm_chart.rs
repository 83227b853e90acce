//! The Helm chart in deploy/helm/vmafx: it lints, its values schema and guards refuse bad values
//! naming them, it renders for every GPU vendor into objects a real API server accepts and that
//! agree with what the operator builds, and the command lines it renders really run: a controller
//! and two worker pools started exactly as their Pods would be score a job. Every Pod the chart
//! renders, and the operator's own worker Pod, passes the real API server's PodSecurity admission
//! at `restricted`; the NetworkPolicy and PodDisruptionBudgets render as the values say. Its
//! `trainers` become VmafxModelTrainings the operator accepts, with their data claims.

mod k8s;
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_yaml::Value;
use vmafx_operator::crd::GpuVendor;

const VENDORS: [GpuVendor; 4] = GpuVendor::ALL;

/// Runs helm with `args` on the chart; returns (success, stdout, stderr).
fn helm(args: &[&str]) -> (bool, String, String) {
    let chart = k8s::repo_root().join("deploy/helm/vmafx");
    let out = std::process::Command::new(k8s::helm_path())
        .args(args)
        .arg(&chart)
        .output()
        .expect("failed to run helm");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `helm template vmafx` in namespace vmafx-system with `set` (helm's `--set` syntax), as the
/// non-empty YAML documents it printed.
fn render(set: &str) -> (String, Vec<Value>) {
    let mut args = vec!["template", "vmafx", "--namespace", "vmafx-system"];
    if !set.is_empty() {
        args.extend(["--set", set]);
    }
    let (ok, rendered, err) = helm(&args);
    assert!(ok, "helm template --set {set}:\n{err}");
    let docs = serde_yaml::Deserializer::from_str(&rendered)
        .map(|doc| Value::deserialize(doc).expect("helm renders YAML"))
        .filter(|doc| !doc.is_null())
        .collect();
    (rendered, docs)
}

/// The error helm prints when `set` is refused; fails the test if it is accepted.
fn refusal(set: &str) -> String {
    let (ok, rendered, err) = helm(&["template", "vmafx", "--set", set]);
    assert!(!ok, "--set {set} was accepted:\n{rendered}");
    err
}

fn kinds(docs: &[Value]) -> Vec<(String, String)> {
    docs.iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or_default().to_owned(),
                d["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {:?}", kinds(docs)))
}

fn container(workload: &Value) -> &Value {
    &workload["spec"]["template"]["spec"]["containers"][0]
}

/// A container's literal environment (variables from fieldRefs map to None).
fn env_of(container: &Value) -> BTreeMap<String, Option<String>> {
    container["env"]
        .as_sequence()
        .expect("the container has env")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().expect("env name").to_owned(),
                e["value"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn args_of(container: &Value) -> Vec<String> {
    container["args"]
        .as_sequence()
        .expect("the container has args")
        .iter()
        .map(|a| a.as_str().expect("string args").to_owned())
        .collect()
}

/// Four pools, one per vendor, named after it.
fn every_vendor_pools() -> String {
    VENDORS
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "nodePools[{i}].name={v},nodePools[{i}].vendor={v}",
                v = v.as_str()
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn chart_lints_and_refuses_bad_values_by_name() {
    let (ok, out, err) = helm(&["lint", "--strict"]);
    assert!(ok, "helm lint --strict:\n{out}{err}");
    let (ok, out, err) = helm(&[
        "lint",
        "--strict",
        "--set",
        &format!("operator.enabled=true,{}", every_vendor_pools()),
    ]);
    assert!(ok, "helm lint --strict with every vendor:\n{out}{err}");
    for vendor in VENDORS {
        let (ok, out, err) = helm(&[
            "lint",
            "--strict",
            "--set",
            &format!(
                "gpu.vendor={},workload=Job,job.reference=s3://b/r.y4m,job.distorted=s3://b/d.y4m",
                vendor.as_str()
            ),
        ]);
        assert!(ok, "helm lint --strict, workload Job:\n{out}{err}");
    }
    let (ok, out, err) = helm(&[
        "lint",
        "--strict",
        "--set",
        "workload=Job,job.reference=s3://b/r.y4m,job.distorted=s3://b/d.y4m,\
         pushgateway.enabled=true,pushgateway.persistence.enabled=true",
    ]);
    assert!(
        ok,
        "helm lint --strict, with the chart's own Pushgateway:\n{out}{err}"
    );

    // The schema names the field and what it accepts.
    let err = refusal("nodePools[0].vendor=quantum");
    assert!(
        err.contains("/nodePools/0/vendor") && err.contains("nvidia"),
        "{err}"
    );
    let err = refusal("controller.grpcPort=0");
    assert!(err.contains("/controller/grpcPort"), "{err}");
    let err = refusal("controler.enabled=true");
    assert!(
        err.contains("controler"),
        "a misspelt key is refused: {err}"
    );
    let err = refusal("operator.logLevel=loud");
    assert!(err.contains("/operator/logLevel"), "{err}");
    let err = refusal("pushgateway.enabled=true,pushgateway.persistence.interval=soon");
    assert!(err.contains("/pushgateway/persistence/interval"), "{err}");
    let err = refusal("pushgateway.basicAuthSecret.usernameKey=user");
    assert!(
        err.contains("/pushgateway/basicAuthSecret") && err.contains("name"),
        "{err}"
    );
    // What a schema cannot say, the templates do.
    let err = refusal(
        "nodePools[0].name=cpu,nodePools[0].vendor=cpu,nodePools[1].name=cpu,nodePools[1].vendor=nvidia",
    );
    assert!(err.contains("nodePools[1].name: \"cpu\" is used"), "{err}");
    let err = refusal("operator.enabled=true,operator.replicaCount=2");
    assert!(err.contains("operator.leaderElect"), "{err}");
    let err = refusal("operator.enabled=true,operator.webhook.port=9443");
    assert!(err.contains("operator.webhook.certSecret"), "{err}");
}

#[test]
fn defaults_give_a_controller_on_a_volume_and_one_pool_of_gpu_vendor() {
    let (rendered, docs) = render("");
    assert_eq!(
        kinds(&docs),
        [
            ("NetworkPolicy", "vmafx-controller"),
            ("ServiceAccount", "vmafx-controller"),
            ("ServiceAccount", "vmafx-node"),
            ("ClusterRole", "vmafx-controller-tokenreview"),
            ("ClusterRoleBinding", "vmafx-controller-tokenreview"),
            ("Service", "vmafx-controller"),
            ("Deployment", "vmafx-node-default"),
            ("StatefulSet", "vmafx-controller"),
            ("Pod", "vmafx-test-score"),
        ]
        .map(|(k, n)| (k.to_owned(), n.to_owned())),
        "{rendered}"
    );
    let controller = find(&docs, "StatefulSet", "vmafx-controller");
    assert_eq!(controller["spec"]["replicas"], 1);
    let claim = &controller["spec"]["volumeClaimTemplates"][0];
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "1Gi");
    let pool = container(find(&docs, "Deployment", "vmafx-node-default"));
    assert!(
        pool["resources"]["limits"]
            .as_mapping()
            .is_some_and(|limits| limits.keys().all(|k| k == "memory" || k == "cpu")),
        "a cpu pool asks for no device: {pool:?}"
    );
    let env = env_of(pool);
    assert_eq!(
        env["VMAFX_CONTROLLER"].as_deref(),
        Some("http://vmafx-controller.vmafx-system.svc.cluster.local:9090")
    );

    let (_, docs) = render("controller.persistence.enabled=false");
    let controller = find(&docs, "StatefulSet", "vmafx-controller");
    assert!(controller["spec"]["volumeClaimTemplates"].is_null());
    assert!(controller["spec"]["template"]["spec"]["volumes"][0]["emptyDir"].is_mapping());
}

/// With the operator and a pool per vendor, everything renders into objects the API server
/// accepts; each pool asks for its vendor's device and offers its backends exactly as the
/// operator's own VmafxNode StatefulSets do; the operator's ClusterRole is config/rbac/role.yaml's.
#[tokio::test(flavor = "multi_thread")]
async fn every_vendor_renders_as_the_operator_builds_it_and_is_accepted() {
    let (env, client) = k8s::cluster().await;
    let (rendered, docs) = render(&format!(
        "operator.enabled=true,operator.replicaCount=2,operator.leaderElect=true,\
         operator.webhook.port=9443,operator.webhook.certSecret=vmafx-webhook-tls,\
         nodePools[2].gpusPerWorker=2,{}",
        every_vendor_pools()
    ));

    for vendor in VENDORS {
        let name = format!("vmafx-node-{}", vendor.as_str());
        let pool = container(find(&docs, "Deployment", &name));
        let env = env_of(pool);
        assert_eq!(env["VMAFX_NODE_VENDOR"].as_deref(), Some(vendor.as_str()));
        assert_eq!(
            env["VMAFX_NODE_BACKENDS"].as_deref(),
            Some(vendor.backends().join(",").as_str()),
            "{name}: the operator's backends for {vendor:?}"
        );
        let devices = match vendor.gpu_resource() {
            Some(resource) => pool["resources"]["limits"][resource].as_u64(),
            None => None,
        };
        let expected = match vendor {
            GpuVendor::Cpu => None,
            GpuVendor::Intel => Some(2),
            _ => Some(1),
        };
        assert_eq!(devices, expected, "{name}: {pool:?}");
        // The operator's worker for the same vendor asks for the same resource.
        let operator_node: vmafx_operator::crd::VmafxNode =
            serde_json::from_value(serde_json::json!({
                "apiVersion": "vmafx.dev/v1", "kind": "VmafxNode",
                "metadata": {"name": "n", "namespace": "ns", "uid": "u"},
                "spec": {"gpuVendor": vendor.as_str(), "capacity": 1, "image": "i"}
            }))
            .expect("a VmafxNode");
        let built = vmafx_operator::node::desired_worker(&operator_node, vendor, "c")
            .expect("the operator builds a worker StatefulSet");
        let built = serde_json::to_value(&built).expect("JSON");
        let built_limits =
            &built["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"];
        for resource in VENDORS.iter().filter_map(|v| v.gpu_resource()) {
            assert_eq!(
                built_limits.get(resource).is_some(),
                !pool["resources"]["limits"][resource].is_null(),
                "{name}: {resource} differs from the operator's"
            );
        }
    }

    let operator = container(find(&docs, "Deployment", "vmafx-operator"));
    let operator_env = env_of(operator);
    let controller_service = find(&docs, "Service", "vmafx-controller");
    assert_eq!(controller_service["spec"]["ports"][0]["port"], 9090);
    assert_eq!(
        operator_env["VMAFX_CONTROLLER_GRPC_ADDR"].as_deref(),
        Some("http://vmafx-controller.vmafx-system.svc.cluster.local:9090")
    );
    assert_eq!(
        operator_env["VMAFX_CONTROLLER_HTTP_ADDR"].as_deref(),
        Some("http://vmafx-controller.vmafx-system.svc.cluster.local:8080")
    );
    assert_eq!(
        operator_env["VMAFX_OPERATOR_LEADER_ELECTION"].as_deref(),
        Some("true")
    );
    assert_eq!(
        operator_env["VMAFX_OPERATOR_WEBHOOK_PORT"].as_deref(),
        Some("9443")
    );
    let known = [
        vmafx_operator::config::METRICS_ADDR,
        vmafx_operator::config::HEALTH_PROBE_ADDR,
        vmafx_operator::config::LEADER_ELECTION,
        vmafx_operator::config::LEADER_ELECTION_ID,
        vmafx_operator::config::WEBHOOK_PORT,
        vmafx_operator::config::WEBHOOK_HOST,
        vmafx_operator::config::GRACEFUL_SHUTDOWN,
        vmafx_operator::config::LOG_LEVEL,
        vmafx_operator::config::CONTROLLER_GRPC_ADDR,
        vmafx_operator::config::CONTROLLER_HTTP_ADDR,
        vmafx_operator::config::ALLOWED_IMAGES,
        vmafx_operator::config::JOB_IMAGE,
        vmafx_operator::config::TOKEN_FILE,
        vmafx_operator::config::TOKEN,
        vmafx_operator::config::CA_CERT,
    ];
    for name in operator_env.keys().filter(|n| n.starts_with("VMAFX_")) {
        assert!(
            known.contains(&name.as_str()),
            "the operator never reads {name}"
        );
    }

    let role = find(&docs, "ClusterRole", "vmafx-operator");
    let committed_path = k8s::repo_root().join("config/rbac/role.yaml");
    let committed: Value =
        serde_yaml::from_str(&std::fs::read_to_string(&committed_path).unwrap()).unwrap();
    assert_eq!(
        role["rules"], committed["rules"],
        "the chart's ClusterRole differs from config/rbac/role.yaml"
    );
    // Leases only through the namespaced Role, bound in the release's namespace.
    let lease_role = find(&docs, "Role", "vmafx-operator-leader-election");
    let committed_path = k8s::repo_root().join("config/rbac/leader_election_role.yaml");
    let committed: Value =
        serde_yaml::from_str(&std::fs::read_to_string(&committed_path).unwrap()).unwrap();
    assert_eq!(
        lease_role["rules"], committed["rules"],
        "the chart's leader-election Role differs from config/rbac/leader_election_role.yaml"
    );
    assert_eq!(lease_role["metadata"]["namespace"], "vmafx-system");
    let lease_binding = find(&docs, "RoleBinding", "vmafx-operator-leader-election");
    assert_eq!(lease_binding["roleRef"]["kind"], "Role");
    assert_eq!(lease_binding["subjects"][0]["name"], "vmafx-operator");
    assert_eq!(
        operator_env[vmafx_operator::config::ALLOWED_IMAGES].as_deref(),
        Some("ghcr.io/vmafx/vmafx:,ghcr.io/vmafx/vmafx@"),
        "the operator allows the chart's own image by default"
    );
    let (_, without_election) = render("operator.enabled=true");
    assert!(
        !kinds(&without_election).iter().any(|(k, _)| k == "Role"),
        "no Lease rights without leader election"
    );

    k8s::namespace_named(&client, "vmafx-system").await;
    apply_dry_run(env, &rendered);
}

/// Every VMAFX_* variable the chart sets is one `vmafx SUBCOMMAND` reads: clap lists them in
/// `--help`, and VMAFX_LOG is the log filter every service command reads in main.rs.
fn assert_read_by_binary(container: &Value) {
    let args = args_of(container);
    let (code, help, err) = support::run_cli(&[args[0].as_str(), "--help"]);
    assert_eq!(code, 0, "{err}");
    for name in env_of(container).keys() {
        if name.starts_with("VMAFX_") && name != "VMAFX_LOG" {
            assert!(
                help.contains(&format!("[env: {name}=")),
                "vmafx {} does not read {name}:\n{help}",
                args[0]
            );
        }
    }
}

/// Starts `vmafx` with a rendered container's args and environment, with `local` replacing the
/// values that only make sense inside a Pod (listen addresses, cluster DNS names, volumes).
fn run_container(
    dir: &Path,
    name: &str,
    container: &Value,
    local: &[(&str, String)],
) -> support::Proc {
    let mut env = env_of(container);
    for (key, value) in local {
        assert!(env.contains_key(*key), "the chart no longer sets {key}");
        env.insert((*key).to_owned(), Some(value.clone()));
    }
    let env: Vec<(String, String)> = env
        .into_iter()
        .map(|(k, v)| {
            let v = v
                .unwrap_or_else(|| panic!("{name}: {k} comes from the Pod; give it a local value"));
            (k, v)
        })
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let args = args_of(container);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    support::spawn(dir, name, &args, &env)
}

#[test]
fn rendered_command_lines_run_and_score_a_job() {
    // Outside a cluster there are no ServiceAccount tokens to review, so this run is
    // unauthenticated; tests/security_kubernetes.rs covers the chart's default mode on a real
    // API server.
    let (_, docs) = render(
        "nodePools[0].name=cpu,nodePools[0].vendor=cpu,nodePools[0].capacity=2,\
         nodePools[1].name=gpu,nodePools[1].vendor=nvidia,controller.logLevel=debug,\
         auth.mode=insecure",
    );
    let controller = container(find(&docs, "StatefulSet", "vmafx-controller"));
    let cpu_pool = container(find(&docs, "Deployment", "vmafx-node-cpu"));
    let gpu_pool = container(find(&docs, "Deployment", "vmafx-node-gpu"));
    for c in [controller, cpu_pool, gpu_pool] {
        assert_read_by_binary(c);
    }

    let dir = tempfile::tempdir().unwrap();
    let (grpc_port, http_port) = (support::free_port(), support::free_port());
    let data = dir.path().join("data");
    let controller_proc = run_container(
        dir.path(),
        "controller",
        controller,
        &[
            ("VMAFX_GRPC_ADDR", format!("127.0.0.1:{grpc_port}")),
            ("VMAFX_HTTP_ADDR", format!("127.0.0.1:{http_port}")),
            ("VMAFX_DATA_DIR", data.display().to_string()),
        ],
    );
    support::wait_for(Duration::from_secs(30), || {
        support::http_get(http_port, "/readyz").is_some_and(|(code, _)| code == 200)
    })
    .unwrap_or_else(|| panic!("the controller never got ready:\n{}", controller_proc.log()));

    let grpc = format!("http://127.0.0.1:{grpc_port}");
    let mut workers = Vec::new();
    for (pod, pool) in [
        ("vmafx-node-cpu-0", cpu_pool),
        ("vmafx-node-gpu-0", gpu_pool),
    ] {
        let scratch = dir.path().join(pod);
        std::fs::create_dir_all(&scratch).unwrap();
        let scratch = scratch.display().to_string();
        workers.push(run_container(
            dir.path(),
            pod,
            pool,
            &[
                ("POD_NAME", pod.to_owned()),
                ("POD_NAMESPACE", "default".to_owned()),
                ("VMAFX_NODE_NAME", pod.to_owned()),
                ("VMAFX_CONTROLLER", grpc.clone()),
                ("VMAFX_NODE_HTTP_ADDR", "127.0.0.1:0".to_owned()),
                ("VMAFX_SCRATCH_DIR", scratch.clone()),
                ("TMPDIR", scratch),
            ],
        ));
    }
    let nodes = || {
        let (_, out, _) = support::run_cli(&["nodes", "--controller", &grpc, "--json"]);
        serde_json::from_str::<serde_json::Value>(&out).unwrap_or_default()
    };
    support::wait_for(Duration::from_secs(30), || {
        nodes()["nodes"].as_array().is_some_and(|n| n.len() == 2)
    })
    .unwrap_or_else(|| {
        let logs: Vec<String> = workers.iter().map(support::Proc::log).collect();
        panic!("the workers never registered: {}\n{logs:#?}", nodes())
    });
    let listed = nodes();
    let node = |name: &str| {
        listed["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not registered: {listed}"))
            .clone()
    };
    let cpu = node("vmafx-node-cpu-0");
    assert_eq!(cpu["vendor"], "cpu", "{cpu}");
    assert_eq!(cpu["capacity"], 2, "{cpu}");
    let gpu = node("vmafx-node-gpu-0");
    assert_eq!(gpu["vendor"], "nvidia", "{gpu}");
    assert_eq!(
        gpu["backends"],
        serde_json::json!(["cpu", "cuda", "vulkan"]),
        "{gpu}"
    );

    let (reference, distorted) = support::fixture_pair(dir.path(), "tiny_420_8bit");
    let job = support::submit_and_wait(
        &grpc,
        reference.to_str().unwrap(),
        distorted.to_str().unwrap(),
    );
    assert_eq!(job["state"], "COMPLETED", "{job}");
    assert!(
        controller_proc.log().contains("DEBUG"),
        "controller.logLevel=debug reaches the process:\n{}",
        controller_proc.log()
    );
}

/// Every Pod template among `docs`, as a Pod named after its workload (a StatefulSet's claim
/// templates become the claims its Pods would mount).
fn pods_of(docs: &[Value]) -> Vec<(String, serde_json::Value)> {
    let mut pods = Vec::new();
    for doc in docs {
        let kind = doc["kind"].as_str().unwrap_or_default();
        if kind == "Pod" {
            // The `helm test` hook: applied as rendered, in the test's namespace.
            let mut pod: serde_json::Value = serde_json::to_value(doc).expect("JSON");
            if let Some(meta) = pod["metadata"].as_object_mut() {
                meta.remove("namespace");
                meta.remove("annotations");
            }
            let name = doc["metadata"]["name"].as_str().expect("named").to_owned();
            pods.push((format!("Pod {name}"), pod));
            continue;
        }
        if !matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet" | "Job") {
            continue;
        }
        let name = doc["metadata"]["name"].as_str().expect("named").to_owned();
        let template: serde_json::Value =
            serde_json::to_value(&doc["spec"]["template"]).expect("JSON");
        let mut spec = template["spec"].clone();
        for claim in doc["spec"]["volumeClaimTemplates"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let claim_name = claim["metadata"]["name"].as_str().expect("named");
            let volumes = spec["volumes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .chain([serde_json::json!({
                    "name": claim_name,
                    "persistentVolumeClaim": {"claimName": format!("{claim_name}-{name}-0")},
                })])
                .collect();
            spec["volumes"] = serde_json::Value::Array(volumes);
        }
        let pod = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": format!("{}-{name}", kind.to_ascii_lowercase()),
                "labels": template["metadata"]["labels"],
            },
            "spec": spec,
        });
        pods.push((format!("{kind} {name}"), pod));
    }
    pods
}

/// Applies `pod` (server-side apply, dry run) in `ns`; the API server's refusal, if any.
async fn dry_apply(
    pods: &kube::Api<k8s_openapi::api::core::v1::Pod>,
    pod: &serde_json::Value,
) -> Result<(), String> {
    let name = pod["metadata"]["name"].as_str().expect("named");
    let mut params = kube::api::PatchParams::apply("vmafx-tests").force();
    params.dry_run = true;
    pods.patch(name, &params, &kube::api::Patch::Apply(pod))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Every Pod the chart renders (controller, operator with its webhook, a pool per vendor, an
/// rclone Secret mounted) and the operator's own worker Pod for every vendor pass the API
/// server's PodSecurity admission at `restricted`; a Pod without the security context does not.
#[tokio::test(flavor = "multi_thread")]
async fn every_rendered_pod_passes_pod_security_restricted() {
    use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
    use kube::api::{Api, ObjectMeta, PostParams};

    let (_env, client) = k8s::cluster().await;
    let ns = vmafx_testenv::unique_name("restricted");
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(ns.clone()),
            labels: Some(BTreeMap::from([
                (
                    "pod-security.kubernetes.io/enforce".to_owned(),
                    "restricted".to_owned(),
                ),
                (
                    "pod-security.kubernetes.io/enforce-version".to_owned(),
                    "latest".to_owned(),
                ),
            ])),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("failed to create the restricted namespace");
    // No controller-manager runs to create them; the ServiceAccount admission needs them.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns);
    for account in [
        "default",
        "vmafx-operator",
        "vmafx-controller",
        "vmafx-node",
    ] {
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(account.to_owned()),
                ..Default::default()
            },
            ..Default::default()
        };
        accounts.create(&PostParams::default(), &sa).await.unwrap();
    }

    let (_, docs) = render(&format!(
        "operator.enabled=true,operator.replicaCount=2,operator.leaderElect=true,\
         operator.webhook.port=9443,operator.webhook.certSecret=vmafx-webhook-tls,\
         nodePoolDefaults.rcloneConfigSecret=rclone,pushgateway.enabled=true,\
         pushgateway.persistence.enabled=true,{}",
        every_vendor_pools()
    ));
    let mut pods = pods_of(&docs);
    let names: Vec<String> = pods.iter().map(|(what, _)| what.clone()).collect();
    for expected in [
        "StatefulSet vmafx-controller",
        "Deployment vmafx-operator",
        "Deployment vmafx-pushgateway",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not rendered: {names:?}"
        );
    }
    for vendor in VENDORS {
        let name = format!("Deployment vmafx-node-{}", vendor.as_str());
        assert!(names.contains(&name), "{name} not rendered: {names:?}");

        let node: vmafx_operator::crd::VmafxNode = serde_json::from_value(serde_json::json!({
            "apiVersion": "vmafx.dev/v1", "kind": "VmafxNode",
            "metadata": {"name": format!("op-{}", vendor.as_str()), "namespace": ns, "uid": "u"},
            "spec": {"gpuVendor": vendor.as_str(), "capacity": 1, "image": "ghcr.io/vmafx/vmafx:1"}
        }))
        .unwrap();
        let built = vmafx_operator::node::desired_worker(&node, vendor, "http://c:9090")
            .expect("the operator builds a worker StatefulSet");
        let built: Value = serde_yaml::to_value(&built).expect("YAML");
        pods.extend(
            pods_of(&[built])
                .into_iter()
                .map(|(what, pod)| (format!("operator-built {what}"), pod)),
        );
    }
    let run: vmafx_operator::crd::VmafxModelTraining = serde_json::from_value(serde_json::json!({
        "apiVersion": "vmafx.dev/v1", "kind": "VmafxModelTraining",
        "metadata": {"name": "op-trainer", "namespace": ns, "uid": "u"},
        "spec": {
            "baseModel": "vmaf_v0.6.1", "outputRegistry": "registry.example/models",
            "dataSource": {"nodeSelector": {"vendor": "cpu"},
                           "controllerTokenSecret": {"name": "viewer", "key": "token"}},
            "tokenSecret": {"name": "callers", "key": "tokens"}, "registrySecret": "push",
        }
    }))
    .unwrap();
    let built = vmafx_operator::training::desired_deployment(
        &run,
        "ghcr.io/vmafx/vmafx:1",
        "http://c:9090",
    )
    .expect("the operator builds a trainer Deployment");
    let built: Value = serde_yaml::to_value(&built).expect("YAML");
    pods.extend(
        pods_of(&[built])
            .into_iter()
            .map(|(what, pod)| (format!("operator-built {what}"), pod)),
    );
    // controller + operator + Pushgateway, four pools, the `helm test` Pod, four operator
    // workers, a trainer.
    assert_eq!(pods.len(), 3 + 4 + 1 + 4 + 1, "{names:?}");

    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    for (what, pod) in &pods {
        if let Err(refusal) = dry_apply(&api, pod).await {
            panic!("{what} is refused in a restricted namespace: {refusal}\n{pod:#}");
        }
    }

    // The admission really checks: the same Pod without its security contexts is refused.
    let (what, pod) = &pods[0];
    let mut bare = pod.clone();
    if let Some(spec) = bare["spec"].as_object_mut() {
        spec.remove("securityContext");
    }
    for container in bare["spec"]["containers"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if let Some(container) = container.as_object_mut() {
            container.remove("securityContext");
        }
    }
    let Err(refusal) = dry_apply(&api, &bare).await else {
        panic!("{what} without a securityContext was accepted");
    };
    assert!(
        refusal.contains("violates PodSecurity") && refusal.contains("restricted"),
        "{refusal}"
    );
}

/// The NetworkPolicy admits the controller's ports to the pools, the operator, its workers and
/// labelled clients only; the PodDisruptionBudgets follow their values.
#[test]
fn network_policy_and_disruption_budgets_render_as_configured() {
    let (_, docs) =
        render("operator.enabled=true,operator.replicaCount=2,operator.leaderElect=true");
    let policy = find(&docs, "NetworkPolicy", "vmafx-controller");
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "vmafx-controller"
    );
    let rule = &policy["spec"]["ingress"][0];
    let ports: Vec<u64> = rule["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, [9090, 8080]);
    let from = rule["from"].as_sequence().unwrap();
    let selects = |key: &str, value: &str| {
        from.iter()
            .any(|peer| peer["podSelector"]["matchLabels"][key] == value)
    };
    assert!(selects("app.kubernetes.io/name", "vmafx-node"), "{from:?}");
    assert!(
        selects("app.kubernetes.io/name", "vmafx-operator"),
        "{from:?}"
    );
    assert!(selects("vmafx.dev/client", "true"), "{from:?}");
    assert!(
        selects("app.kubernetes.io/managed-by", "vmafx-operator"),
        "the operator's VmafxNode workers: {from:?}"
    );
    assert!(
        selects("app.kubernetes.io/name", "vmafx-trainer"),
        "the operator's trainers read feedback: {from:?}"
    );
    let operator_pdb = find(&docs, "PodDisruptionBudget", "vmafx-operator");
    assert_eq!(operator_pdb["spec"]["maxUnavailable"], 1);
    assert!(
        !kinds(&docs)
            .iter()
            .any(|(k, n)| k == "PodDisruptionBudget" && n == "vmafx-controller"),
        "the single controller gets no budget unless asked"
    );

    let (_, docs) =
        render("networkPolicy.enabled=false,controller.podDisruptionBudget.enabled=true");
    assert!(!kinds(&docs).iter().any(|(k, _)| k == "NetworkPolicy"));
    let controller_pdb = find(&docs, "PodDisruptionBudget", "vmafx-controller");
    assert_eq!(controller_pdb["spec"]["minAvailable"], 1);

    // With ServiceAccount authentication (the default) the token is the identity of the
    // controller (it reviews tokens), the workers and the operator; without it, Pods that need
    // no API access get no token and the operator keeps its own.
    for (set, mounted) in [
        ("operator.enabled=true", [true, true, true]),
        (
            "operator.enabled=true,auth.mode=insecure",
            [false, false, true],
        ),
    ] {
        let (_, docs) = render(set);
        for ((kind, name), automount) in [
            ("StatefulSet", "vmafx-controller"),
            ("Deployment", "vmafx-node-default"),
            ("Deployment", "vmafx-operator"),
        ]
        .into_iter()
        .zip(mounted)
        {
            let pod = &find(&docs, kind, name)["spec"]["template"]["spec"];
            assert_eq!(
                pod["automountServiceAccountToken"], automount,
                "{set}: {name}"
            );
            assert_eq!(
                pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
                "{name}"
            );
        }
    }
    let err = refusal("operator.allowedImages[0]=ghcr.io/vmafx/vmafx");
    assert!(err.contains("/operator/allowedImages/0"), "{err}");
    let err = refusal("networkPolicy.enabeld=true");
    assert!(err.contains("enabeld"), "{err}");
}

/// `trainers` render as VmafxModelTrainings the operator would run a trainer for and the API
/// server accepts, each with the claim its data goes on when it asks for one; bad entries are
/// refused naming them.
#[tokio::test(flavor = "multi_thread")]
async fn trainers_render_as_training_runs() {
    let (env, client) = k8s::cluster().await;
    let (_, docs) = render("");
    assert!(
        !kinds(&docs).iter().any(|(k, _)| k == "VmafxModelTraining"),
        "no trainers by default"
    );
    let one = "trainers[0].name=online-1,trainers[0].baseModel=vmaf_v0.6.1,\
               trainers[0].outputRegistry=registry.example/vmafx/models,\
               trainers[0].tokenSecret.name=callers,trainers[0].tokenSecret.key=tokens";
    let (rendered, docs) = render(&format!(
        "{one},trainers[0].checkpoint.interval=10m,trainers[0].checkpoint.minSamples=500,\
         trainers[0].dataSource.nodeSelector.vendor=nvidia,trainers[0].registrySecret=push,\
         trainers[0].persistence.size=5Gi,\
         trainers[1].name=scratch,trainers[1].baseModel=vmaf_v0.6.1,\
         trainers[1].outputRegistry=registry.example/vmafx/scratch,\
         trainers[1].tokenSecret.name=callers,trainers[1].tokenSecret.key=tokens"
    ));
    let claim = find(&docs, "PersistentVolumeClaim", "vmafx-trainer-online-1");
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "5Gi");
    for (name, claim) in [
        ("online-1", Some("vmafx-trainer-online-1")),
        ("scratch", None),
    ] {
        let doc = find(&docs, "VmafxModelTraining", name);
        let run: vmafx_operator::crd::VmafxModelTraining =
            serde_json::from_value(serde_json::to_value(doc).unwrap()).expect("a training run");
        assert_eq!(run.spec.storage.claim_name.as_deref(), claim, "{name}");
        assert_eq!(
            vmafx_operator::training::validate(&run),
            Ok(()),
            "{name}: the operator runs a trainer for it"
        );
    }
    let run = find(&docs, "VmafxModelTraining", "online-1");
    assert_eq!(run["spec"]["checkpoint"]["minSamples"], 500);
    assert_eq!(
        run["spec"]["dataSource"]["nodeSelector"]["vendor"],
        "nvidia"
    );
    assert!(run["spec"]["persistence"].is_null() && run["spec"]["name"].is_null());

    k8s::namespace_named(&client, "vmafx-system").await;
    apply_dry_run(env, &rendered);

    let err = refusal(&format!(
        "{one},trainers[0].dataSource.nodeSelector.gpu=nvidia"
    ));
    // helm prints a wrong path for a propertyNames refusal, and not the same one each run
    // (seen: `/trainers/0/dataSource/nodeSelector`, `/imagePullSecrets/httpPort/type/key`);
    // the key and the choices are right.
    assert!(
        err.contains("invalid propertyName 'gpu'") && err.contains("'vendor'"),
        "{err}"
    );
    let err = refusal(&format!("{one},trainers[0].checkpoint.interval=1h30m"));
    assert!(err.contains("/trainers/0/checkpoint/interval"), "{err}");
    let err = refusal("trainers[0].name=x");
    assert!(
        err.contains("/trainers/0") && err.contains("outputRegistry"),
        "{err}"
    );
    let twice = one.replace("trainers[0]", "trainers[1]");
    let err = refusal(&format!("{one},{twice}"));
    assert!(
        err.contains("trainers[1].name: \"online-1\" is used"),
        "{err}"
    );
}

/// The seed chart's interface: for every `gpu.vendor` and both workloads the chart renders
/// objects the API server accepts (server-side dry run), with the vendor's device on the Pods that
/// score and, on the Job, VMAFX_BACKEND for the vendor; a pool without a vendor takes gpu.vendor.
#[tokio::test(flavor = "multi_thread")]
async fn gpu_vendor_and_workload_render_for_every_combination() {
    let (env, client) = k8s::cluster().await;
    k8s::namespace_named(&client, "vmafx-system").await;
    let backend = |vendor: GpuVendor| match vendor {
        GpuVendor::Nvidia => "cuda",
        GpuVendor::Amd => "hip",
        GpuVendor::Intel => "sycl",
        GpuVendor::Cpu => "cpu",
    };
    for vendor in VENDORS {
        let v = vendor.as_str();
        for workload in ["Deployment", "Job", "StatefulSet"] {
            let (rendered, docs) = render(&format!(
                "gpu.vendor={v},workload={workload},job.reference=s3://clips/ref.y4m,\
                 job.distorted=s3://clips/dist.y4m,job.features[0]=psnr,\
                 pushgateway.url=http://pushgateway.monitoring:9091,\
                 mcp.tokenSecret.name=mcp-callers,mcp.tokenSecret.key=tokens"
            ));
            let scorer = match workload {
                "Deployment" => {
                    assert!(!kinds(&docs).iter().any(|(k, _)| k == "Job"), "{v}");
                    let pool = container(find(&docs, "Deployment", "vmafx-node-default"));
                    assert_eq!(
                        env_of(pool)["VMAFX_NODE_VENDOR"].as_deref(),
                        Some(v),
                        "the default pool takes gpu.vendor"
                    );
                    pool
                }
                "StatefulSet" => {
                    assert_eq!(
                        kinds(&docs),
                        [
                            ("Service".to_owned(), "vmafx-mcp".to_owned()),
                            ("StatefulSet".to_owned(), "vmafx-mcp".to_owned()),
                            ("Pod".to_owned(), "vmafx-test-score".to_owned())
                        ],
                        "{v}: workload StatefulSet renders the MCP server alone"
                    );
                    let set = find(&docs, "StatefulSet", "vmafx-mcp");
                    assert_eq!(set["spec"]["serviceName"], "vmafx-mcp");
                    assert!(set["spec"]["volumeClaimTemplates"][0].is_mapping());
                    let mcp = container(set);
                    let mcp_env = env_of(mcp);
                    assert_eq!(mcp_env["VMAFX_BACKEND"].as_deref(), Some(backend(vendor)));
                    assert_eq!(
                        mcp_env["VMAFX_AUTH_TOKEN_FILE"].as_deref(),
                        Some("/etc/vmafx/mcp-auth/tokens")
                    );
                    assert_read_by_binary(mcp);
                    mcp
                }
                _ => {
                    assert_eq!(
                        kinds(&docs),
                        [
                            ("Job".to_owned(), "vmafx-score".to_owned()),
                            ("Pod".to_owned(), "vmafx-test-score".to_owned())
                        ],
                        "{v}: workload Job renders the Job (and the `helm test` Pod) alone"
                    );
                    let job = container(find(&docs, "Job", "vmafx-score"));
                    let job_env = env_of(job);
                    assert_eq!(job_env["VMAFX_BACKEND"].as_deref(), Some(backend(vendor)));
                    assert_eq!(
                        job_env["VMAFX_PUSHGATEWAY_URL"].as_deref(),
                        Some("http://pushgateway.monitoring:9091")
                    );
                    assert_read_by_binary(job);
                    job
                }
            };
            let limits = &scorer["resources"]["limits"];
            for other in VENDORS {
                if let Some(resource) = other.gpu_resource() {
                    assert_eq!(
                        limits[resource].as_u64(),
                        (other == vendor).then_some(1),
                        "{v}/{workload}: {resource}"
                    );
                }
            }
            apply_dry_run(env, &rendered);
        }
    }
    let err = refusal("workload=StatefulSet");
    assert!(err.contains("mcp.tokenSecret"), "{err}");
    let err = refusal("workload=CronJob");
    assert!(err.contains("workload"), "{err}");
    let err = refusal("workload=Job");
    assert!(err.contains("job.reference"), "{err}");
    let err = refusal("gpu.vendor=rocm");
    assert!(
        err.contains("gpu/vendor") || err.contains("gpu.vendor"),
        "{err}"
    );
    let err = refusal("pushgateway.url=gw:9091");
    assert!(err.contains("pushgateway"), "{err}");
}

/// The Job workload's exact command line and environment (the Pod's name standing in for its
/// fieldRef, a scratch folder for its volume) score a pair and push the run's metrics to a real
/// Prometheus Pushgateway (Debian's `prometheus-pushgateway`), where the pooled VMAF equals
/// `vmafx score`'s; the group is the Pod's.
#[test]
fn the_job_workload_scores_and_pushes_to_a_real_pushgateway() {
    let Some(gateway) = pushgateway_or_skip("the Job workload's push to a real Pushgateway") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fixtures = k8s::repo_root().join("test/e2e/fixtures");
    let (reference, distorted) = (
        fixtures.join("tiny-ref.y4m"),
        fixtures.join("tiny-dist.y4m"),
    );
    let port = support::free_port();
    let gw_log = dir.path().join("pushgateway.log");
    let gw = support::Proc {
        child: std::process::Command::new(&gateway)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&gw_log).unwrap())
            .spawn()
            .expect("failed to start prometheus-pushgateway"),
        name: "pushgateway".into(),
        log: gw_log,
    };
    support::wait_for(Duration::from_secs(30), || {
        support::http_get(port, "/-/ready").is_some_and(|(code, _)| code == 200)
    })
    .unwrap_or_else(|| panic!("the pushgateway never became ready:\n{}", gw.log()));

    let (_, docs) = render(&format!(
        "workload=Job,job.reference={},job.distorted={},job.features[0]=psnr,\
         pushgateway.url=http://127.0.0.1:{port},pushgateway.jobName=nightly",
        reference.display(),
        distorted.display()
    ));
    let job = container(find(&docs, "Job", "vmafx-score"));
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let mut run = run_container(
        dir.path(),
        "score-job",
        job,
        &[
            ("VMAFX_PUSHGATEWAY_INSTANCE", "vmafx-score-x7k2p".to_owned()),
            ("TMPDIR", scratch.display().to_string()),
        ],
    );
    let status = run.child.wait().expect("the Job's command ran");
    assert!(status.success(), "the Job's command failed:\n{}", run.log());

    let (code, metrics) = support::http_get(port, "/metrics").expect("the pushgateway answers");
    assert_eq!(code, 200);
    let pushed = |metric: &str| -> f64 {
        let wanted = format!(
            "vmafx_pooled_score{{instance=\"vmafx-score-x7k2p\",job=\"nightly\",metric=\"{metric}\",statistic=\"mean\"}} "
        );
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&wanted))
            .unwrap_or_else(|| panic!("no {wanted} in the pushgateway:\n{metrics}"))
            .trim()
            .parse()
            .expect("a number")
    };
    let out = dir.path().join("expected.json");
    let (code, _, err) = support::run_cli(&[
        "score",
        "-r",
        reference.to_str().unwrap(),
        "-d",
        distorted.to_str().unwrap(),
        "--feature",
        "psnr",
        "--json",
        "-q",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    for metric in ["vmaf", "psnr_y"] {
        let want = expected["pooled_metrics"][metric]["mean"].as_f64().unwrap();
        assert_eq!(
            format!("{:.6}", pushed(metric)),
            format!("{want:.6}"),
            "{metric}"
        );
    }
    assert!(
        metrics.contains("vmafx_frames{instance=\"vmafx-score-x7k2p\",job=\"nightly\"} 8"),
        "{metrics}"
    );
}

/// With `pushgateway.enabled` the chart installs its own Pushgateway (the dependency in
/// charts/pushgateway): the API server accepts it, and its exact command line, run with Debian's
/// `prometheus-pushgateway` and the web config from the rendered Secret, refuses every request
/// without the Secret's credentials; the Job's command line, given those credentials as its Pod
/// would get them, pushes, and the metric reads back with them. A wrong password is refused in
/// one line.
#[tokio::test(flavor = "multi_thread")]
async fn the_charts_own_pushgateway_takes_the_jobs_pushes_behind_basic_auth() {
    use base64::Engine as _;
    let Some(gateway) =
        pushgateway_or_skip("the chart's own Pushgateway run with its rendered arguments")
    else {
        return;
    };
    let fixtures = k8s::repo_root().join("test/e2e/fixtures");
    let (reference, distorted) = (
        fixtures.join("tiny-ref.y4m"),
        fixtures.join("tiny-dist.y4m"),
    );
    let (rendered, docs) = render(&format!(
        "workload=Job,job.reference={},job.distorted={},job.features[0]=psnr,\
         pushgateway.enabled=true,pushgateway.jobName=nightly,pushgateway.persistence.enabled=true",
        reference.display(),
        distorted.display()
    ));
    let (env, client) = k8s::cluster().await;
    k8s::namespace_named(&client, "vmafx-system").await;
    apply_dry_run(env, &rendered);

    let deployment = find(&docs, "Deployment", "vmafx-pushgateway");
    let service = find(&docs, "Service", "vmafx-pushgateway");
    assert_eq!(service["spec"]["ports"][0]["port"].as_u64(), Some(9091));
    find(&docs, "PersistentVolumeClaim", "vmafx-pushgateway");
    let secret = &find(&docs, "Secret", "vmafx-pushgateway-auth")["stringData"];
    let user = secret["username"].as_str().expect("a username").to_owned();
    let password = secret["password"].as_str().expect("a password").to_owned();
    assert!(password.len() >= 32, "a long random password");
    let web_config = secret["web-config.yml"].as_str().expect("a web config");
    assert!(
        !web_config.contains(&password),
        "only a hash is in the web config"
    );

    // The Job pushes to the gateway's Service with the Secret's credentials.
    let job = container(find(&docs, "Job", "vmafx-score"));
    let job_env = env_of(job);
    assert_eq!(
        job_env["VMAFX_PUSHGATEWAY_URL"].as_deref(),
        Some("http://vmafx-pushgateway.vmafx-system.svc.cluster.local:9091")
    );
    let from_secret = job["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "VMAFX_PUSHGATEWAY_USER")
        .expect("the user comes from the Secret");
    assert_eq!(
        from_secret["valueFrom"]["secretKeyRef"]["name"],
        "vmafx-pushgateway-auth"
    );
    let password_path = job_env["VMAFX_PUSHGATEWAY_PASSWORD_FILE"]
        .clone()
        .expect("a password file");
    let job_pod = &find(&docs, "Job", "vmafx-score")["spec"]["template"]["spec"];
    let volume = job_pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["secret"]["secretName"] == "vmafx-pushgateway-auth")
        .expect("the password is mounted from the Secret");
    assert_eq!(volume["secret"]["items"][0]["key"], "password");
    assert!(password_path.starts_with("/etc/vmafx/pushgateway/"));
    assert_read_by_binary(job);

    // The gateway, started with its rendered arguments (its listen address and mount moved here).
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let gw_args = args_of(container(deployment));
    assert_eq!(
        gw_args,
        [
            "--web.listen-address=:9091",
            "--web.config.file=/etc/pushgateway/web-config.yml",
            "--persistence.file=/data/metrics",
            "--persistence.interval=5m",
        ]
    );
    std::fs::write(dir.path().join("web-config.yml"), web_config).unwrap();
    let local_args: Vec<String> = gw_args
        .iter()
        .map(|a| {
            a.replace(":9091", &format!("127.0.0.1:{port}"))
                .replace("/etc/pushgateway", &dir.path().display().to_string())
                .replace("/data", &dir.path().display().to_string())
        })
        .collect();
    let gw_log = dir.path().join("pushgateway.log");
    let gw = support::Proc {
        child: std::process::Command::new(&gateway)
            .args(&local_args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&gw_log).unwrap())
            .spawn()
            .expect("failed to start prometheus-pushgateway"),
        name: "pushgateway".into(),
        log: gw_log,
    };
    let basic = |password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    let authorised = basic(&password);
    let get = |path: &str, auth: Option<&str>| {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        support::http_request(port, "GET", path, &headers, b"")
    };
    support::wait_for(Duration::from_secs(30), || {
        get("/-/ready", Some(authorised.as_str())).is_some_and(|(code, _)| code == 200)
    })
    .unwrap_or_else(|| panic!("the pushgateway never became ready:\n{}", gw.log()));
    for path in ["/metrics", "/-/ready", "/api/v1/metrics"] {
        assert_eq!(
            get(path, None).map(|(c, _)| c),
            Some(401),
            "{path} without credentials"
        );
    }
    assert_eq!(
        get("/metrics", Some(basic("wrong").as_str())).map(|(c, _)| c),
        Some(401)
    );

    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let password_file = dir.path().join("password");
    let local = |password: &str| {
        std::fs::write(&password_file, password).unwrap();
        vec![
            ("VMAFX_PUSHGATEWAY_URL", format!("http://127.0.0.1:{port}")),
            ("VMAFX_PUSHGATEWAY_INSTANCE", "vmafx-score-q4m9z".to_owned()),
            ("VMAFX_PUSHGATEWAY_USER", user.clone()),
            (
                "VMAFX_PUSHGATEWAY_PASSWORD_FILE",
                password_file.display().to_string(),
            ),
            ("TMPDIR", scratch.display().to_string()),
        ]
    };
    let mut refused = run_container(dir.path(), "score-wrong", job, &local("wrong"));
    let status = refused.child.wait().expect("the Job's command ran");
    let log = refused.log();
    assert!(!status.success(), "a wrong password was accepted:\n{log}");
    let line = log
        .lines()
        .find(|l| l.contains("failed to push metrics"))
        .unwrap_or_else(|| panic!("no push error in:\n{log}"));
    assert!(line.contains("401"), "{line}");

    let mut run = run_container(dir.path(), "score-job", job, &local(&password));
    let status = run.child.wait().expect("the Job's command ran");
    assert!(status.success(), "the Job's command failed:\n{}", run.log());
    let (code, metrics) =
        get("/metrics", Some(authorised.as_str())).expect("the pushgateway answers");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("vmafx_frames{instance=\"vmafx-score-q4m9z\",job=\"nightly\"} 8"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "vmafx_pooled_score{instance=\"vmafx-score-q4m9z\",job=\"nightly\",metric=\"vmaf\",statistic=\"mean\"}"
        ),
        "{metrics}"
    );

    // A gateway of one's own with credentials: they come from the named Secret's keys.
    let (_, docs) = render(
        "workload=Job,job.reference=s3://b/r.y4m,job.distorted=s3://b/d.y4m,\
         pushgateway.url=https://gw.example,pushgateway.basicAuthSecret.name=gw-creds,\
         pushgateway.basicAuthSecret.passwordKey=pass",
    );
    let job = find(&docs, "Job", "vmafx-score");
    let env = &container(job)["env"];
    let user = env
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "VMAFX_PUSHGATEWAY_USER")
        .expect("a user");
    assert_eq!(user["valueFrom"]["secretKeyRef"]["name"], "gw-creds");
    assert_eq!(user["valueFrom"]["secretKeyRef"]["key"], "username");
    let volume = job["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["secret"]["secretName"] == "gw-creds")
        .expect("the password is mounted");
    assert_eq!(volume["secret"]["items"][0]["key"], "pass");
    assert!(!kinds(&docs)
        .iter()
        .any(|(_, name)| name == "vmafx-pushgateway"));
}

/// Debian's `prometheus-pushgateway` (scripts/test.sh installs it). Missing, a test fails under
/// CI=true and otherwise prints one SKIPPED line saying `what` was not verified.
fn pushgateway_or_skip(what: &str) -> Option<std::path::PathBuf> {
    let found = find_program("prometheus-pushgateway");
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "prometheus-pushgateway is not on PATH (scripts/test.sh installs Debian's)"
        );
        println!("SKIPPED: {what} (prometheus-pushgateway is not on PATH)");
    }
    found
}

/// `name` on PATH.
fn find_program(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// Pools scale by an HPA (accepted by the API server, and the Deployment then leaves `replicas` to
/// it) or a KEDA ScaledObject on the controller's pending jobs (down to 0); the ServiceMonitor
/// selects the controller's Service and its `http` port; NOTES tell how to reach what was
/// installed; the `helm test` hook's command scores the built-in sample pair here.
#[tokio::test(flavor = "multi_thread")]
async fn autoscaling_monitoring_notes_and_the_test_hook() {
    let (env, client) = k8s::cluster().await;
    k8s::namespace_named(&client, "vmafx-system").await;
    let (rendered, docs) = render(
        "nodePools[0].name=cpu,nodePools[0].autoscaling.mode=hpa,\
         nodePools[0].autoscaling.maxReplicas=6,nodePools[1].name=gpu,nodePools[1].vendor=nvidia,\
         nodePools[1].replicas=0",
    );
    let hpa = find(&docs, "HorizontalPodAutoscaler", "vmafx-node-cpu");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "vmafx-node-cpu");
    assert_eq!(hpa["spec"]["maxReplicas"], 6);
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
    assert!(find(&docs, "Deployment", "vmafx-node-cpu")["spec"]["replicas"].is_null());
    assert_eq!(
        find(&docs, "Deployment", "vmafx-node-gpu")["spec"]["replicas"],
        0
    );
    apply_dry_run(env, &rendered);

    let (_, docs) = render(
        "nodePools[0].name=gpu,nodePools[0].vendor=nvidia,nodePools[0].autoscaling.mode=keda,\
         nodePools[0].autoscaling.minReplicas=0,nodePools[0].autoscaling.maxReplicas=8,\
         nodePools[0].autoscaling.prometheusServerAddress=http://prometheus.monitoring:9090,\
         serviceMonitor.enabled=true,serviceMonitor.bearerTokenSecret.name=scrape,\
         serviceMonitor.bearerTokenSecret.key=token",
    );
    let scaled = find(&docs, "ScaledObject", "vmafx-node-gpu");
    assert_eq!(scaled["spec"]["scaleTargetRef"]["name"], "vmafx-node-gpu");
    assert_eq!(scaled["spec"]["minReplicaCount"], 0);
    assert_eq!(scaled["spec"]["maxReplicaCount"], 8);
    let trigger = &scaled["spec"]["triggers"][0];
    assert_eq!(trigger["type"], "prometheus");
    assert_eq!(
        trigger["metadata"]["query"],
        "sum(vmafx_jobs{state=\"PENDING\"})"
    );
    assert_eq!(trigger["metadata"]["threshold"], "4");
    let monitor = find(&docs, "ServiceMonitor", "vmafx-controller");
    let service = find(&docs, "Service", "vmafx-controller");
    for (key, value) in monitor["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .expect("matchLabels")
    {
        assert_eq!(&service["metadata"]["labels"][key], value, "{key:?}");
    }
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"], "http");
    assert_eq!(endpoint["bearerTokenSecret"]["name"], "scrape");
    assert!(service["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "http"));
    // The queue length KEDA reads is what the controller exports.
    assert!(
        std::fs::read_to_string(k8s::repo_root().join("crates/vmafx-controller/src/metrics.rs"))
            .unwrap()
            .contains("registry.register(\"jobs\""),
        "the controller no longer exports vmafx_jobs"
    );
    let err = refusal("nodePools[0].name=a,nodePools[0].autoscaling.mode=keda");
    assert!(err.contains("prometheusServerAddress"), "{err}");
    let err = refusal("nodePools[0].name=a,nodePools[0].autoscaling.mode=vpa");
    assert!(err.contains("autoscaling"), "{err}");

    // NOTES for each workload.
    let (ok, notes, err) = helm(&["install", "--dry-run=client", "t"]);
    assert!(ok, "{err}");
    assert!(
        notes.contains("port-forward service/t-controller 9090 8080"),
        "{notes}"
    );
    assert!(notes.contains("helm test t"), "{notes}");
    let (ok, notes, err) = helm(&[
        "install",
        "--dry-run=client",
        "t",
        "--set",
        "workload=Job,job.reference=s3://b/r.y4m,job.distorted=s3://b/d.y4m,\
         pushgateway.url=http://gw:9091",
    ]);
    assert!(ok, "{err}");
    assert!(notes.contains("logs job/t-score"), "{notes}");
    assert!(notes.contains("pushed to http://gw:9091"), "{notes}");
    let (ok, notes, err) = helm(&[
        "install",
        "--dry-run=client",
        "t",
        "--set",
        "workload=Job,job.reference=s3://b/r.y4m,job.distorted=s3://b/d.y4m,\
         pushgateway.enabled=true",
    ]);
    assert!(ok, "{err}");
    assert!(
        notes.contains(
            "pushed to http://t-pushgateway.default.svc.cluster.local:9091 (group job=vmafx, \
             instance=<the Pod's name>), with the basic-auth user and password of Secret \
             t-pushgateway-auth"
        ),
        "{notes}"
    );

    // The chart's own Pushgateway is scraped with its credentials, keeping the pushed labels.
    let (_, docs) = render("serviceMonitor.enabled=true,pushgateway.enabled=true");
    let monitor = find(&docs, "ServiceMonitor", "vmafx-pushgateway");
    let service = find(&docs, "Service", "vmafx-pushgateway");
    for (key, value) in monitor["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .expect("labels")
    {
        assert_eq!(&service["metadata"]["labels"][key], value, "{key:?}");
    }
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["honorLabels"], true);
    assert_eq!(endpoint["port"], "http");
    assert_eq!(service["spec"]["ports"][0]["name"], "http");
    assert_eq!(
        endpoint["basicAuth"]["password"]["name"],
        "vmafx-pushgateway-auth"
    );
    find(&docs, "Secret", "vmafx-pushgateway-auth");

    // The test hook runs as rendered and scores.
    let (_, docs) = render("");
    let hook = find(&docs, "Pod", "vmafx-test-score");
    assert_eq!(hook["metadata"]["annotations"]["helm.sh/hook"], "test");
    let args: Vec<String> = args_of(&hook["spec"]["containers"][0]);
    let dir = tempfile::tempdir().unwrap();
    let local: Vec<String> = args
        .iter()
        .map(|a| a.replace("/scratch", dir.path().to_str().expect("UTF-8 temp path")))
        .collect();
    let local: Vec<&str> = local.iter().map(String::as_str).collect();
    let (code, out, err) = support::run_cli(&local);
    assert_eq!(code, 0, "{args:?}: {err}");
    assert!(out.contains("VMAF") || err.contains("VMAF"), "{out}{err}");
    let (_, docs) = render("tests.enabled=false");
    assert!(!kinds(&docs).iter().any(|(k, _)| k == "Pod"));
}

/// The StatefulSet workload's exact command line and environment start `vmafx mcp` over HTTP:
/// healthy, refusing a request without a token and taking one with; rendered for a GPU vendor
/// this build cannot serve, it stops at start with one line naming VMAFX_BACKEND.
#[test]
fn the_statefulset_workload_serves_mcp_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "s3cr3t-viewer-token,assistant,viewer\n").unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let port = support::free_port();
    let (_, docs) =
        render("workload=StatefulSet,mcp.tokenSecret.name=callers,mcp.tokenSecret.key=t");
    let mcp = container(find(&docs, "StatefulSet", "vmafx-mcp"));
    let local = [
        ("VMAFX_MCP_LISTEN", format!("127.0.0.1:{port}")),
        ("VMAFX_AUTH_TOKEN_FILE", tokens.display().to_string()),
        ("VMAFX_SCRATCH_DIR", data.display().to_string()),
        ("TMPDIR", data.display().to_string()),
    ];
    let server = run_container(dir.path(), "mcp", mcp, &local);
    support::wait_for(Duration::from_secs(30), || {
        support::http_get(port, "/healthz").is_some_and(|(code, _)| code == 200)
    })
    .unwrap_or_else(|| panic!("vmafx mcp never answered /healthz:\n{}", server.log()));
    let initialize = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"helm-test","version":"1"}}}"#;
    let headers = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
    ];
    let (code, _) = support::http_request(port, "POST", "/mcp", &headers, initialize)
        .expect("vmafx mcp answers");
    assert_eq!(code, 401, "no token");
    let with_token = [
        headers[0],
        headers[1],
        ("Authorization", "Bearer s3cr3t-viewer-token"),
    ];
    let (code, body) = support::http_request(port, "POST", "/mcp", &with_token, initialize)
        .expect("vmafx mcp answers");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("serverInfo"), "{body}");
    drop(server);

    let (_, docs) = render(
        "workload=StatefulSet,gpu.vendor=nvidia,mcp.tokenSecret.name=callers,mcp.tokenSecret.key=t",
    );
    let mcp = container(find(&docs, "StatefulSet", "vmafx-mcp"));
    let mut refused = run_container(dir.path(), "mcp-cuda", mcp, &local);
    let status = refused.child.wait().unwrap();
    assert!(!status.success());
    let log = refused.log();
    assert!(
        log.contains("VMAFX_BACKEND") && log.contains("cuda"),
        "{log}"
    );
}

/// `kubectl apply --dry-run=server` of rendered manifests: the API server's admission and schema
/// checks, nothing stored; fails the test on a refusal.
fn apply_dry_run(env: &vmafx_testenv::TestEnv, rendered: &str) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), rendered).unwrap();
    k8s::kubectl(
        env.kubeconfig_path(),
        &[
            "apply",
            "--dry-run=server",
            "-f",
            file.path().to_str().expect("UTF-8 path"),
        ],
    );
}
