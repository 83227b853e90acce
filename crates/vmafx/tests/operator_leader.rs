//! Leader election, metrics and graceful shutdown of `vmafx operator`, on a real control plane:
//! two operators stand for one Lease, only the leader runs its reconcilers, a killed leader is
//! replaced once its lease expires, and a leader stopped with SIGTERM hands over at once.

mod k8s;
mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;

const LEASE: &str = "vmafx-operator.vmafx.dev";

fn metrics(port: u16) -> String {
    support::http_get(port, "/metrics")
        .map(|(_, body)| body)
        .unwrap_or_default()
}

fn is_leader(port: u16) -> bool {
    metrics(port).contains(&format!(
        "leader_election_master_status{{name=\"{LEASE}\"}} 1"
    ))
}

fn runs_reconcilers(port: u16) -> bool {
    metrics(port).contains("controller_runtime_reconcile_total{controller=\"vmafxjob\"")
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt(LEASE)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

/// Waits until exactly one of the two operators leads, and returns the leader's index.
fn wait_single_leader(ports: [u16; 2], timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let leaders: Vec<usize> = (0..2).filter(|&i| is_leader(ports[i])).collect();
        if leaders.len() == 1 {
            return leaders[0];
        }
        assert!(
            leaders.len() < 2,
            "both operators claim leadership: {:?}",
            ports.map(metrics)
        );
        assert!(
            Instant::now() < deadline,
            "no operator became leader in {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_leader_is_replaced_and_a_stopped_one_hands_over_at_once() {
    let (env, client) = k8s::cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let ns = k8s::namespace(&client, "leader").await;
    let kubeconfig = k8s::operator_kubeconfig(env, &client, &ns, dir.path()).await;
    let elect = [("VMAFX_OPERATOR_LEADER_ELECTION", "true")];
    // No controller is needed to elect a leader; the reconcilers simply find nothing to do.
    let unreachable = "http://127.0.0.1:1";
    let start = |name: &str| {
        k8s::start_operator(
            dir.path(),
            name,
            &kubeconfig,
            &ns,
            unreachable,
            unreachable,
            &elect,
        )
    };
    let mut operators = [start("operator-a"), start("operator-b")];
    let ports = [operators[0].2, operators[1].2];
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);

    let first = wait_single_leader(ports, Duration::from_secs(30));
    let standby = 1 - first;
    assert!(runs_reconcilers(ports[first]), "{}", metrics(ports[first]));
    assert!(
        !runs_reconcilers(ports[standby]),
        "the standby must not reconcile:\n{}",
        metrics(ports[standby])
    );
    let first_holder = holder(&leases).await.expect("the lease names its holder");
    assert!(first_holder.starts_with(&format!("operator-{}", ["a", "b"][first])));

    // kill -9: the lease is not released, so the standby takes over once it expires (15 s).
    let killed_at = Instant::now();
    operators[first].0.kill9();
    support::wait_for(Duration::from_secs(40), || is_leader(ports[standby])).unwrap_or_else(|| {
        panic!(
            "the standby never took over:\n{}",
            operators[standby].0.log()
        )
    });
    let took = killed_at.elapsed();
    assert!(runs_reconcilers(ports[standby]));
    assert!(
        took >= Duration::from_secs(5),
        "took over after {took:?}, before the killed leader's lease could expire"
    );
    let second_holder = holder(&leases).await.expect("the lease names its holder");
    assert_ne!(second_holder, first_holder);
    let lease = leases.get(LEASE).await.unwrap();
    assert!(lease.spec.unwrap().lease_transitions.unwrap_or(0) >= 1);

    // A fresh candidate joins as standby; SIGTERM on the leader releases the lease, so the new
    // candidate leads well before a 15 s expiry would allow, and the old leader exits cleanly.
    operators[first] = start("operator-c");
    let newcomer_port = operators[first].2;
    std::thread::sleep(Duration::from_secs(3));
    assert!(!is_leader(newcomer_port));
    let leader = &mut operators[standby].0;
    let stopped_at = Instant::now();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &leader.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = support::wait_for(Duration::from_secs(20), || {
        matches!(leader.child.try_wait(), Ok(Some(_)))
    });
    assert!(
        status.is_some(),
        "the leader did not stop on SIGTERM:\n{}",
        leader.log()
    );
    support::wait_for(Duration::from_secs(10), || is_leader(newcomer_port))
        .unwrap_or_else(|| panic!("no hand-over after SIGTERM:\n{}", operators[first].0.log()));
    assert!(
        stopped_at.elapsed() < Duration::from_secs(12),
        "hand-over took {:?}; a released lease should not need to expire",
        stopped_at.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_probes_use_controller_runtime_names() {
    let (env, client) = k8s::cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let ns = k8s::namespace(&client, "probes").await;
    let kubeconfig = k8s::operator_kubeconfig(env, &client, &ns, dir.path()).await;
    let unreachable = "http://127.0.0.1:1";
    let (proc, health, metrics_port) = k8s::start_operator(
        dir.path(),
        "operator-metrics",
        &kubeconfig,
        &ns,
        unreachable,
        unreachable,
        &[],
    );
    support::wait_for(Duration::from_secs(10), || {
        matches!(support::http_get(health, "/readyz"), Some((200, _)))
    })
    .unwrap_or_else(|| panic!("never ready:\n{}", proc.log()));
    let (_, body) = support::http_get(health, "/readyz").unwrap();
    assert!(body.contains("\"kubernetes\""), "{body}");
    support::wait_for(Duration::from_secs(10), || runs_reconcilers(metrics_port))
        .unwrap_or_else(|| panic!("{}", metrics(metrics_port)));
    let text = metrics(metrics_port);
    for name in [
        "controller_runtime_reconcile_total{controller=\"vmafxjob\",result=\"success\"}",
        "controller_runtime_reconcile_total{controller=\"vmafxnode\",result=\"error\"}",
        "controller_runtime_reconcile_time_seconds_count{controller=\"vmafxmodeltraining\"}",
        "workqueue_depth{controller=\"vmafxjob\",name=\"vmafxjob\"}",
        "leader_election_master_status{name=\"vmafx-operator.vmafx.dev\"} 1",
    ] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn shipped_manifests_are_accepted_by_the_api_server() {
    let (env, client) = k8s::cluster().await;
    k8s::namespace_named(&client, "vmafx-system").await;
    let root = k8s::repo_root();
    for path in [
        "config/rbac",
        "config/manager",
        "config/samples",
        "deploy/helm/vmafx/crds",
    ] {
        let dir = root.join(path);
        let dir = dir.to_str().expect("UTF-8 path");
        k8s::kubectl(
            env.kubeconfig_path(),
            &["apply", "--dry-run=server", "-f", dir],
        );
    }
}
