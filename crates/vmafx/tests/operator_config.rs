//! `vmafx operator` refuses a bad configuration at once, with one stderr line naming the variable
//! (or, for a variable the seed renamed, its replacement; for a missing serving certificate, the
//! file), before it waits on any network. No cluster is needed: the kubeconfig points at a port
//! nothing listens on, so an operator that got past its checks would hang instead of exiting.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a refused start may take; it reads files and parses variables, nothing more.
const EXIT_WITHIN: Duration = Duration::from_secs(20);

/// A kubeconfig for an API server that does not exist.
fn unreachable_kubeconfig(dir: &Path) -> String {
    let port = support::free_port();
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: nowhere\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\n\
             users:\n- name: nobody\n  user:\n    token: not-a-token\n\
             contexts:\n- name: nowhere\n  context:\n    cluster: nowhere\n    user: nobody\n    namespace: default\n\
             current-context: nowhere\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

/// Runs `vmafx operator` with only `env` (plus PATH and a kubeconfig nobody answers) and expects
/// it to exit non-zero within [`EXIT_WITHIN`]; returns its stderr lines.
fn refused(env: &[(&str, &str)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = unreachable_kubeconfig(dir.path());
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let stderr_path = dir.path().join("stderr");
    let mut command = Command::new(support::vmafx());
    command
        .arg("operator")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // No certificate here unless a test puts one there.
        .env("TMPDIR", &tmp)
        .env("KUBECONFIG", &kubeconfig)
        .env("POD_NAMESPACE", "default")
        // Listeners off, so parallel tests never compete for ports.
        .env("VMAFX_OPERATOR_METRICS_ADDR", "0")
        .env("VMAFX_OPERATOR_HEALTH_PROBE_ADDR", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > EXIT_WITHIN {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "vmafx operator with {env:?} was still running after {EXIT_WITHIN:?}:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(!status.success(), "{env:?} was accepted:\n{stderr}");
    assert_eq!(status.code(), Some(1), "{env:?}: {status}\n{stderr}");
    stderr.lines().map(str::to_owned).collect()
}

/// The single `vmafx: error:` line among the lines.
fn error_line(lines: &[String]) -> String {
    let errors: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with("vmafx: error: "))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "expected one error line:\n{}",
        lines.join("\n")
    );
    errors[0].clone()
}

#[test]
fn invalid_values_are_refused_naming_the_variable() {
    for (name, value) in [
        ("VMAFX_OPERATOR_WEBHOOK_PORT", "abc"),
        ("VMAFX_OPERATOR_GRACEFUL_SHUTDOWN", "soon"),
        ("VMAFX_LOG_LEVEL", "loud"),
        ("VMAFX_OPERATOR_LEADER_ELECTION", "maybe"),
        ("VMAFX_OPERATOR_METRICS_ADDR", "eighty"),
        ("VMAFX_OPERATOR_WEBHOOK_HOST", "not-an-ip"),
        ("VMAFX_OPERATOR_ALLOWED_IMAGES", "ghcr.io/vmafx/vmafx"),
        ("VMAFX_OPERATOR_RESOLVE", "trainer.ns.svc"),
    ] {
        let mut env = vec![(name, value)];
        if name == "VMAFX_OPERATOR_WEBHOOK_HOST" {
            // The host is only read when the webhooks are on.
            env.push(("VMAFX_OPERATOR_WEBHOOK_PORT", "9443"));
        }
        let lines = refused(&env);
        // Nothing but the error: a config error comes before any start-up logging.
        assert_eq!(lines.len(), 1, "{name}={value}:\n{}", lines.join("\n"));
        let line = error_line(&lines);
        assert!(line.contains(name), "{line}");
        assert!(line.contains(value), "{line}");
    }
}

#[test]
fn renamed_variables_are_refused_naming_the_replacement() {
    for (old, new) in [
        (
            "VMAFX_OPERATOR_PROBE_ADDR",
            "VMAFX_OPERATOR_HEALTH_PROBE_ADDR",
        ),
        (
            "VMAFX_OPERATOR_LEADER_ELECT",
            "VMAFX_OPERATOR_LEADER_ELECTION",
        ),
        ("VMAFX_OPERATOR_LOG_LEVEL", "VMAFX_LOG_LEVEL"),
        (
            "VMAFX_OPERATOR_WEBHOOKS_ENABLED",
            "VMAFX_OPERATOR_WEBHOOK_PORT",
        ),
    ] {
        let lines = refused(&[(old, "true")]);
        assert_eq!(lines.len(), 1, "{old}:\n{}", lines.join("\n"));
        let line = error_line(&lines);
        assert!(line.contains(old) && line.contains(new), "{line}");
    }
}

#[test]
fn webhooks_without_a_certificate_are_refused_naming_the_file() {
    let port = support::free_port().to_string();
    let lines = refused(&[
        ("VMAFX_OPERATOR_WEBHOOK_PORT", &port),
        ("VMAFX_OPERATOR_WEBHOOK_HOST", "127.0.0.1"),
    ]);
    let line = error_line(&lines);
    assert!(
        line.contains("k8s-webhook-server/serving-certs/tls.crt") && line.contains("No such file"),
        "{line}"
    );
}

#[test]
fn webhooks_with_an_invalid_certificate_are_refused_naming_the_file() {
    // A TMPDIR of our own, holding a certificate file that is not PEM and a key that is missing.
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("k8s-webhook-server/serving-certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(certs.join("tls.crt"), "garbage\n").unwrap();
    std::fs::write(certs.join("tls.key"), "garbage\n").unwrap();
    let port = support::free_port().to_string();
    let tmpdir = dir.path().display().to_string();
    let lines = refused(&[
        ("TMPDIR", &tmpdir),
        ("VMAFX_OPERATOR_WEBHOOK_PORT", &port),
        ("VMAFX_OPERATOR_WEBHOOK_HOST", "127.0.0.1"),
    ]);
    let line = error_line(&lines);
    assert!(
        line.contains(&certs.join("tls.crt").display().to_string()),
        "{line}"
    );

    std::fs::remove_file(certs.join("tls.key")).unwrap();
    let lines = refused(&[
        ("TMPDIR", &tmpdir),
        ("VMAFX_OPERATOR_WEBHOOK_PORT", &port),
        ("VMAFX_OPERATOR_WEBHOOK_HOST", "127.0.0.1"),
    ]);
    let line = error_line(&lines);
    assert!(
        line.contains(&certs.join("tls.key").display().to_string())
            && line.contains("No such file"),
        "{line}"
    );
}
