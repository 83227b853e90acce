//! Kubernetes helpers for the operator tests: a real control plane (vmafx-testenv), the CRDs
//! installed from the Rust types, an operator identity bound to exactly the committed RBAC roles,
//! and a `vmafx operator` process running under it.
#![allow(dead_code)]

/// Evaluates `$body` (an expression that may `.await`) every 200 ms until it yields `Some`, and
/// panics naming `$what` (and `$context`, evaluated then) after `$timeout`.
#[allow(unused_macros)]
macro_rules! poll_until {
    ($timeout:expr, $what:expr, $body:expr) => {
        poll_until!($timeout, $what, $body, String::new())
    };
    ($timeout:expr, $what:expr, $body:expr, $context:expr) => {{
        let deadline = std::time::Instant::now() + $timeout;
        loop {
            if let Some(value) = $body {
                break value;
            }
            if std::time::Instant::now() >= deadline {
                panic!(
                    "timed out after {:?} waiting for {}\n{}",
                    $timeout, $what, $context
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }};
}

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::Kubeconfig;
use kube::runtime::wait::{await_condition, conditions};
use kube::Client;
use vmafx_testenv::TestEnv;

use crate::support::{self, Proc};

/// The RBAC files the operator identity is bound to, one per reconciler.
pub const OPERATOR_ROLES: [&str; 3] = [
    "role_vmafxjob.yaml",
    "role_vmafxnode.yaml",
    "role_vmafxmodeltraining.yaml",
];

/// The namespaced Role (and its RoleBinding) for leader election's Lease, bound in the operator's
/// own namespace only.
pub const LEADER_ELECTION_ROLE: [&str; 2] = [
    "leader_election_role.yaml",
    "leader_election_role_binding.yaml",
];

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The control plane shared by this test binary, with the vmafx CRDs installed, and an admin client.
pub async fn cluster() -> (&'static TestEnv, Client) {
    let env = TestEnv::shared().expect("failed to start the test control plane");
    let client = env.client().await.expect("failed to build an admin client");
    install_crds(&client).await;
    (env, client)
}

/// Applies the CRDs generated from the Rust types and waits until they are served.
pub async fn install_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for manifest in vmafx_operator::crd::all_crds() {
        let name = manifest.crd.metadata.name.clone().expect("CRDs are named");
        api.patch(
            &name,
            &PatchParams::apply("vmafx-tests").force(),
            &Patch::Apply(&manifest.crd),
        )
        .await
        .unwrap_or_else(|e| panic!("failed to apply CRD {name}: {e}"));
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(api.clone(), &name, conditions::is_crd_established()),
        )
        .await
        .unwrap_or_else(|_| panic!("CRD {name} never became Established"))
        .unwrap_or_else(|e| panic!("failed to watch CRD {name}: {e}"));
    }
}

/// Creates a namespace with a unique name starting with `prefix`.
pub async fn namespace(client: &Client, prefix: &str) -> String {
    let name = vmafx_testenv::unique_name(prefix);
    namespace_named(client, &name).await;
    name
}

/// Creates namespace `name` unless it exists (the shipped manifests name theirs).
pub async fn namespace_named(client: &Client, name: &str) {
    let namespaces = Api::<Namespace>::all(client.clone());
    let exists = namespaces
        .get_opt(name)
        .await
        .unwrap_or_else(|e| panic!("failed to read namespace {name}: {e}"))
        .is_some();
    if exists {
        return;
    }
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("failed to create namespace {name}: {e}"));
}

/// Creates a ServiceAccount in `namespace` bound to exactly the committed operator roles, and
/// writes a kubeconfig for it into `dir`. The operator run with it fails loudly on any permission
/// the roles lack.
pub async fn operator_kubeconfig(
    env: &TestEnv,
    client: &Client,
    namespace: &str,
    dir: &Path,
) -> PathBuf {
    let account = "vmafx-operator";
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    accounts
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: ObjectMeta {
                    name: Some(account.into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect("failed to create the operator ServiceAccount");
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    for file in OPERATOR_ROLES {
        let path = repo_root().join("config/rbac").join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()));
        let role: ClusterRole = serde_yaml::from_str(&text)
            .unwrap_or_else(|e| panic!("failed to parse {}: {e}", path.display()));
        let role_name = role.metadata.name.clone().expect("roles are named");
        roles
            .patch(
                &role_name,
                &PatchParams::apply("vmafx-tests").force(),
                &Patch::Apply(&role),
            )
            .await
            .unwrap_or_else(|e| panic!("failed to apply {file}: {e}"));
        let binding_name = format!("{role_name}-{namespace}");
        let binding = ClusterRoleBinding {
            metadata: ObjectMeta {
                name: Some(binding_name.clone()),
                ..Default::default()
            },
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "ClusterRole".into(),
                name: role_name,
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".into(),
                name: account.into(),
                namespace: Some(namespace.into()),
                ..Default::default()
            }]),
        };
        bindings
            .patch(
                &binding_name,
                &PatchParams::apply("vmafx-tests").force(),
                &Patch::Apply(&binding),
            )
            .await
            .unwrap_or_else(|e| panic!("failed to bind {file}: {e}"));
    }
    bind_leader_election_role(client, namespace).await;
    let token = accounts
        .create_token_request(
            account,
            &PostParams::default(),
            &TokenRequest {
                spec: Some(TokenRequestSpec {
                    expiration_seconds: Some(3600),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .expect("failed to request a token for the operator ServiceAccount")
        .status
        .and_then(|status| status.token)
        .expect("a TokenRequest answer carries a token");

    let admin =
        Kubeconfig::read_from(env.kubeconfig_path()).expect("failed to read the admin kubeconfig");
    let cluster = admin
        .clusters
        .first()
        .and_then(|c| c.cluster.clone())
        .expect("the admin kubeconfig names a cluster");
    let server = cluster.server.expect("the cluster has a server");
    let ca_data = match (
        cluster.certificate_authority_data,
        cluster.certificate_authority,
    ) {
        (Some(data), _) => data,
        (None, Some(path)) => {
            use base64::Engine as _;
            let pem = std::fs::read(&path).expect("failed to read the cluster CA");
            base64::engine::general_purpose::STANDARD.encode(pem)
        }
        (None, None) => panic!("the admin kubeconfig has no cluster CA"),
    };
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: testenv\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca_data}\n\
         users:\n- name: {account}\n  user:\n    token: {token}\n\
         contexts:\n- name: operator\n  context:\n    cluster: testenv\n    user: {account}\n    namespace: {namespace}\n\
         current-context: operator\n"
    );
    let path = dir.join(format!("kubeconfig-{namespace}"));
    std::fs::write(&path, kubeconfig).expect("failed to write the operator kubeconfig");
    path
}

/// Applies the committed leader-election Role and RoleBinding into `namespace` (they name
/// vmafx-system; the operator's own namespace is whatever it runs in).
pub async fn bind_leader_election_role(client: &Client, namespace: &str) {
    let read = |file: &str| {
        let path = repo_root().join("config/rbac").join(file);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()))
    };
    let [role_file, binding_file] = LEADER_ELECTION_ROLE;
    let mut role: Role = serde_yaml::from_str(&read(role_file))
        .unwrap_or_else(|e| panic!("failed to parse {role_file}: {e}"));
    role.metadata.namespace = Some(namespace.to_owned());
    let mut binding: RoleBinding = serde_yaml::from_str(&read(binding_file))
        .unwrap_or_else(|e| panic!("failed to parse {binding_file}: {e}"));
    binding.metadata.namespace = Some(namespace.to_owned());
    for subject in binding.subjects.iter_mut().flatten() {
        subject.namespace = Some(namespace.to_owned());
    }
    let params = PatchParams::apply("vmafx-tests").force();
    let name = role.metadata.name.clone().expect("the Role is named");
    Api::<Role>::namespaced(client.clone(), namespace)
        .patch(&name, &params, &Patch::Apply(&role))
        .await
        .unwrap_or_else(|e| panic!("failed to apply {role_file}: {e}"));
    let name = binding
        .metadata
        .name
        .clone()
        .expect("the RoleBinding is named");
    Api::<RoleBinding>::namespaced(client.clone(), namespace)
        .patch(&name, &params, &Patch::Apply(&binding))
        .await
        .unwrap_or_else(|e| panic!("failed to apply {binding_file}: {e}"));
}

/// Starts `vmafx operator` with `kubeconfig`, in namespace `namespace`, with health and metrics on
/// free loopback ports and webhooks off unless `env` says otherwise. Returns the process and its
/// health and metrics ports. A port taken between choosing and binding it makes the operator
/// exit at once; it is then started again on other ports.
pub fn start_operator(
    dir: &Path,
    name: &str,
    kubeconfig: &Path,
    namespace: &str,
    controller_grpc: &str,
    controller_http: &str,
    env: &[(&str, &str)],
) -> (Proc, u16, u16) {
    let kubeconfig = kubeconfig.display().to_string();
    let mut logs = String::new();
    for _attempt in 0..3 {
        let health = support::free_port();
        let metrics = support::free_port();
        let health_addr = format!("127.0.0.1:{health}");
        let metrics_addr = format!("127.0.0.1:{metrics}");
        let mut vars: Vec<(&str, &str)> = vec![
            ("KUBECONFIG", &kubeconfig),
            ("POD_NAMESPACE", namespace),
            ("POD_NAME", name),
            ("VMAFX_OPERATOR_HEALTH_PROBE_ADDR", &health_addr),
            ("VMAFX_OPERATOR_METRICS_ADDR", &metrics_addr),
            ("VMAFX_CONTROLLER_GRPC_ADDR", controller_grpc),
            ("VMAFX_CONTROLLER_HTTP_ADDR", controller_http),
            ("VMAFX_LOG_LEVEL", "debug"),
        ];
        vars.extend_from_slice(env);
        let mut proc = support::spawn(dir, name, &["operator"], &vars);
        let mut exited = false;
        let healthy = support::wait_for(Duration::from_secs(30), || {
            exited = matches!(proc.child.try_wait(), Ok(Some(_)));
            exited || matches!(support::http_get(health, "/healthz"), Some((200, _)))
        });
        if healthy.is_some() && !exited {
            return (proc, health, metrics);
        }
        logs.push_str(&proc.log());
        if !exited {
            break;
        }
    }
    panic!("operator {name} never became healthy:\n{logs}");
}

/// A real controller, one node named `worker` and an operator under the committed roles.
pub struct ScoringStack {
    /// The controller (data under `dir/data`).
    pub controller: support::ControllerProc,
    /// The node.
    pub node: Proc,
    /// The operator.
    pub operator: Proc,
    /// The operator's metrics port.
    pub metrics_port: u16,
}

/// Starts a [`ScoringStack`] in `dir` for namespace `namespace`: the node gets `node_args`, the
/// operator the extra environment `operator_env`.
pub async fn start_scoring_stack(
    env: &TestEnv,
    client: &Client,
    namespace: &str,
    dir: &Path,
    node_args: &[&str],
    operator_env: &[(&str, &str)],
) -> ScoringStack {
    let controller = support::start_controller(
        dir,
        &dir.join("data"),
        support::free_port(),
        support::free_port(),
        &[],
    );
    let node = support::start_node(dir, &controller.grpc, "worker", node_args);
    let kubeconfig = operator_kubeconfig(env, client, namespace, dir).await;
    let http = format!("http://127.0.0.1:{}", controller.http_port);
    let (operator, _, metrics_port) = start_operator(
        dir,
        "operator",
        &kubeconfig,
        namespace,
        &controller.grpc,
        &http,
        operator_env,
    );
    ScoringStack {
        controller,
        node,
        operator,
        metrics_port,
    }
}

/// Tool `bin` from the directory starting with `prefix` that `test/k8s/testenv.sh build` made
/// (under `VMAFX_TESTENV_CACHE` or ~/.cache/vmafx-testenv).
fn cached_tool(prefix: &str, bin: &str) -> PathBuf {
    let cache = std::env::var_os("VMAFX_TESTENV_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                .join(".cache/vmafx-testenv")
        });
    std::fs::read_dir(&cache)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", cache.display()))
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path().join("bin").join(bin))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{bin} is built by test/k8s/testenv.sh build"))
}

/// kubectl as built by `test/k8s/testenv.sh build`.
pub fn kubectl_path() -> PathBuf {
    cached_tool("kubernetes-", "kubectl")
}

/// helm as built by `test/k8s/testenv.sh build`.
pub fn helm_path() -> PathBuf {
    cached_tool("helm-", "helm")
}

/// The OCI registry (distribution) as built by `test/k8s/testenv.sh build`.
pub fn registry_path() -> PathBuf {
    cached_tool("registry-", "registry")
}

/// crane as built by `test/k8s/testenv.sh build`.
pub fn crane_path() -> PathBuf {
    cached_tool("crane-", "crane")
}

/// Runs kubectl with `kubeconfig` and `args`, and returns what it printed; fails the test if it fails.
pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("failed to run kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("kubectl prints UTF-8")
}

/// The events in `namespace` regarding the object of `kind` named `name`.
pub async fn events_about(client: &Client, namespace: &str, kind: &str, name: &str) -> Vec<Event> {
    Api::<Event>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .unwrap_or_else(|e| panic!("failed to list the events of {namespace}: {e}"))
        .items
        .into_iter()
        .filter(|e| {
            let regarding = e.regarding.as_ref();
            regarding.and_then(|r| r.name.as_deref()) == Some(name)
                && regarding.and_then(|r| r.kind.as_deref()) == Some(kind)
        })
        .collect()
}

/// A distribution registry on a loopback port, storing blobs under a temporary directory.
pub struct Registry {
    /// The running registry.
    pub proc: Proc,
    /// `127.0.0.1:PORT`.
    pub host: String,
}

/// A registry on a free loopback port.
pub fn start_registry(dir: &Path) -> Registry {
    start_registry_on(dir, support::free_port())
}

/// [`start_registry`] on a given port (to bring a stopped registry back where it was).
pub fn start_registry_on(dir: &Path, port: u16) -> Registry {
    launch_registry(dir, port, None)
}

/// A registry on a free loopback port serving HTTPS with `cert_pem`/`key_pem` (a certificate
/// for 127.0.0.1 from a private CA).
pub fn start_registry_tls(dir: &Path, cert_pem: &str, key_pem: &str) -> Registry {
    launch_registry(dir, support::free_port(), Some((cert_pem, key_pem)))
}

fn launch_registry(dir: &Path, port: u16, tls: Option<(&str, &str)>) -> Registry {
    let storage = dir.join("registry");
    let config = dir.join("registry.yml");
    let mut yaml = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
         http:\n  addr: 127.0.0.1:{port}\n",
        storage.display()
    );
    if let Some((cert_pem, key_pem)) = tls {
        let (cert, key) = (dir.join("registry.crt"), dir.join("registry.key"));
        std::fs::write(&cert, cert_pem).unwrap();
        std::fs::write(&key, key_pem).unwrap();
        yaml.push_str(&format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert.display(),
            key.display()
        ));
    }
    std::fs::write(&config, yaml).unwrap();
    let log = dir.join("registry.log");
    let child = std::process::Command::new(registry_path())
        .arg("serve")
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("failed to start the registry");
    let proc = Proc {
        child,
        name: "registry".into(),
        log,
    };
    let ready = if tls.is_some() {
        // HTTPS: accepting connections is enough; the test's own requests check the rest.
        support::wait_for(std::time::Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
    } else {
        support::wait_for(std::time::Duration::from_secs(30), || {
            support::http_get(port, "/v2/").is_some_and(|(code, _)| code == 200)
        })
    };
    ready.unwrap_or_else(|| panic!("the registry never answered on {port}:\n{}", proc.log()));
    Registry {
        proc,
        host: format!("127.0.0.1:{port}"),
    }
}
