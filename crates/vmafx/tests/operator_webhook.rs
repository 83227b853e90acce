//! The operator's validating admission webhooks, called by a real API server: the operator runs
//! with its RBAC-bound identity and a serving certificate laid out as cert-manager mounts it, the
//! committed `config/webhook/manifests.yaml` is registered (pointed at the operator's loopback
//! port and scoped to this test's namespace), and the API server itself must refuse malformed
//! VmafxJobs and VmafxNodes with a message naming the field, and store valid ones. The policy
//! is enforced there too: a worker image outside VMAFX_OPERATOR_ALLOWED_IMAGES, and health or
//! trainer endpoints that are not Services of the object's namespace, are refused.

mod k8s;
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;
use vmafx_operator::crd::{VmafxJob, VmafxModelTraining, VmafxNode};
use vmafx_testenv::{eventually, unique_name};

/// How long the API server may take to start calling a newly registered webhook.
const WAIT: Duration = Duration::from_secs(60);

/// Writes a fresh CA and a serving certificate for 127.0.0.1 signed by it into
/// `tmpdir/k8s-webhook-server/serving-certs` (tls.crt, tls.key); returns the CA as PEM.
fn write_serving_cert(tmpdir: &Path) -> String {
    let pki = vmafx_testenv::pki::serving_pki("vmafx webhook test").unwrap();
    let dir = tmpdir.join("k8s-webhook-server/serving-certs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tls.crt"), &pki.cert_pem).unwrap();
    std::fs::write(dir.join("tls.key"), &pki.key_pem).unwrap();
    pki.ca_pem
}

/// The committed webhook configuration, re-pointed from the in-cluster Service to the operator's
/// loopback port and limited to namespace `ns`, so other tests sharing the control plane are not
/// affected.
fn registration(port: u16, ca_pem: &str, ns: &str) -> ValidatingWebhookConfiguration {
    let path = k8s::repo_root().join("config/webhook/manifests.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut vwc: ValidatingWebhookConfiguration = serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde_yaml::Value::deserialize(doc).unwrap())
        .find(|doc| doc["kind"] == "ValidatingWebhookConfiguration")
        .map(|doc| serde_yaml::from_value(doc).unwrap())
        .expect("manifests.yaml holds a ValidatingWebhookConfiguration");
    vwc.metadata = kube::api::ObjectMeta {
        name: Some(unique_name("vmafx-webhook-test")),
        ..Default::default()
    };
    let webhooks = vwc.webhooks.as_mut().unwrap();
    assert_eq!(webhooks.len(), 3, "one webhook per validated kind");
    for webhook in webhooks {
        assert_eq!(webhook.failure_policy.as_deref(), Some("Fail"));
        assert_eq!(webhook.side_effects, "None");
        assert_eq!(webhook.admission_review_versions, ["v1"]);
        let service = webhook.client_config.service.take().unwrap();
        let path = service.path.unwrap();
        assert!(
            vmafx_operator::webhook::Kind::from_path(&path).is_some(),
            "{path}"
        );
        webhook.client_config.url = Some(format!("https://127.0.0.1:{port}{path}"));
        webhook.client_config.ca_bundle = Some(ByteString(ca_pem.as_bytes().to_vec()));
        webhook.namespace_selector = Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".to_owned(),
                ns.to_owned(),
            )])),
            ..Default::default()
        });
    }
    vwc
}

use serde::Deserialize as _;

fn job(name: &str, reference: &str) -> VmafxJob {
    serde_json::from_value(json!({
        "apiVersion": "vmafx.dev/v1",
        "kind": "VmafxJob",
        "metadata": { "name": name },
        "spec": { "reference": reference, "distorted": "s3://bucket/dist.yuv" },
    }))
    .unwrap()
}

fn node(name: &str, vendor: &str) -> VmafxNode {
    serde_json::from_value(json!({
        "apiVersion": "vmafx.dev/v1",
        "kind": "VmafxNode",
        "metadata": { "name": name },
        "spec": { "gpuVendor": vendor, "capacity": 1, "image": "ghcr.io/vmafx/vmafx:test" },
    }))
    .unwrap()
}

/// The API server's message for a refused request, and its HTTP code.
fn refusal(result: Result<impl std::fmt::Debug, kube::Error>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.message),
        other => panic!("expected the API server to refuse, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn api_server_refuses_malformed_jobs_and_nodes_through_the_operator() {
    let (env, client) = k8s::cluster().await;
    let ns = k8s::namespace(&client, "webhook").await;
    let dir = tempfile::tempdir().unwrap();
    let tmpdir = dir.path().join("tmp");
    let ca_pem = write_serving_cert(&tmpdir);
    let kubeconfig = k8s::operator_kubeconfig(env, &client, &ns, dir.path()).await;
    let port = support::free_port();
    let port_text = port.to_string();
    let tmpdir_text = tmpdir.display().to_string();
    let (operator, _health, _metrics) = k8s::start_operator(
        dir.path(),
        "operator-webhook",
        &kubeconfig,
        &ns,
        // No controller: these tests only exercise admission.
        "http://127.0.0.1:1",
        "http://127.0.0.1:1",
        &[
            ("TMPDIR", &tmpdir_text),
            ("VMAFX_OPERATOR_WEBHOOK_PORT", &port_text),
            ("VMAFX_OPERATOR_WEBHOOK_HOST", "127.0.0.1"),
        ],
    );

    let vwcs: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let vwc = registration(port, &ca_pem, &ns);
    let vwc_name = vwc.metadata.name.clone().unwrap();
    vwcs.create(&PostParams::default(), &vwc).await.unwrap();
    let result = check_admission(&client, &ns).await;
    vwcs.delete(&vwc_name, &DeleteParams::default())
        .await
        .unwrap();
    if let Err(message) = result {
        panic!("{message}\noperator log:\n{}", operator.log());
    }
}

async fn check_admission(client: &Client, ns: &str) -> Result<(), String> {
    let jobs: Api<VmafxJob> = Api::namespaced(client.clone(), ns);
    let nodes: Api<VmafxNode> = Api::namespaced(client.clone(), ns);
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    // Webhook configurations reach the API server's admission chain asynchronously: probe with
    // dry-run creates (allowed, the webhooks declare no side effects) until both are called.
    eventually(WAIT, "the VmafxJob webhook to deny", || async {
        let res = jobs.create(&dry, &job("probe", "foo")).await;
        res.err()
            .filter(|e| e.to_string().contains("vvmafxjob.vmafx.dev"))
    })
    .await
    .map_err(|e| e.to_string())?;
    eventually(WAIT, "the VmafxNode webhook to deny", || async {
        let res = nodes.create(&dry, &node("probe", "quantum")).await;
        res.err()
            .filter(|e| e.to_string().contains("vvmafxnode.vmafx.dev"))
    })
    .await
    .map_err(|e| e.to_string())?;

    let pp = PostParams::default();
    let (code, message) = refusal(jobs.create(&pp, &job("empty-ref", "")).await);
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains(r#"admission webhook "vvmafxjob.vmafx.dev" denied the request"#),
        "{message}"
    );
    assert!(
        message.contains(r#"spec.reference: "" is invalid: the URI is empty"#),
        "{message}"
    );

    let (code, message) = refusal(jobs.create(&pp, &job("foo-ref", "foo")).await);
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains(r#"spec.reference: "foo" is invalid: expected scheme://"#),
        "{message}"
    );

    let (code, message) = refusal(nodes.create(&pp, &node("quantum", "quantum")).await);
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains(r#"admission webhook "vvmafxnode.vmafx.dev" denied the request"#),
        "{message}"
    );
    assert!(
        message.contains(r#"spec.gpuVendor: "quantum" is not one of nvidia, amd, intel, cpu"#),
        "{message}"
    );

    // Refused objects were never stored.
    for name in ["empty-ref", "foo-ref"] {
        let (code, _) = refusal(jobs.get(name).await);
        assert_eq!(code, 404, "{name}");
    }
    assert_eq!(refusal(nodes.get("quantum").await).0, 404);

    // The policy: only allowed images, only Services of the object's own namespace.
    let mut foreign = node("foreign", "cpu");
    foreign.spec.image = "docker.io/evil/miner:1".into();
    let (code, message) = refusal(nodes.create(&pp, &foreign).await);
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains(r#"spec.image: "docker.io/evil/miner:1" is not allowed"#),
        "{message}"
    );
    let mut outside = node("outside", "cpu");
    outside.spec.health_endpoint = Some("http://10.0.0.1:8090/healthz".into());
    let (code, message) = refusal(nodes.create(&pp, &outside).await);
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains(r#"spec.healthEndpoint: "http://10.0.0.1:8090/healthz""#),
        "{message}"
    );
    outside.spec.health_endpoint = Some(format!("http://probe.{ns}.svc:8090"));
    nodes.create(&pp, &outside).await.map_err(|e| {
        format!("a node probed through its own namespace's Service was refused: {e}")
    })?;
    let trainings: Api<VmafxModelTraining> = Api::namespaced(client.clone(), ns);
    let training = |endpoint: String| -> VmafxModelTraining {
        serde_json::from_value(json!({
            "apiVersion": "vmafx.dev/v1",
            "kind": "VmafxModelTraining",
            "metadata": { "name": "run" },
            "spec": { "baseModel": "vmaf_v0.6.1", "trainerEndpoint": endpoint },
        }))
        .unwrap()
    };
    let (code, message) = refusal(
        trainings
            .create(&pp, &training("http://trainer.kube-system.svc:8080".into()))
            .await,
    );
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains(r#"admission webhook "vvmafxmodeltraining.vmafx.dev" denied the request"#)
            && message.contains("spec.trainerEndpoint"),
        "{message}"
    );
    trainings
        .create(&pp, &training(format!("http://trainer.{ns}.svc:8080")))
        .await
        .map_err(|e| format!("a valid VmafxModelTraining was refused: {e}"))?;

    // Valid objects are stored.
    jobs.create(&pp, &job("valid", "file:///data/ref.yuv"))
        .await
        .map_err(|e| format!("a valid VmafxJob was refused: {e}"))?;
    nodes
        .create(&pp, &node("valid", "amd"))
        .await
        .map_err(|e| format!("a valid VmafxNode was refused: {e}"))?;

    // UPDATE is validated too: breaking a stored object's spec is refused and leaves it intact.
    let patch = Patch::Merge(json!({ "spec": { "distorted": "dist.yuv" } }));
    let (code, message) = refusal(jobs.patch("valid", &PatchParams::default(), &patch).await);
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains(r#"spec.distorted: "dist.yuv" is invalid: expected scheme://"#),
        "{message}"
    );
    let stored = jobs.get("valid").await.unwrap();
    assert_eq!(stored.spec.distorted, "s3://bucket/dist.yuv");
    let patch = Patch::Merge(json!({ "spec": { "gpuVendor": "quantum" } }));
    let (code, message) = refusal(nodes.patch("valid", &PatchParams::default(), &patch).await);
    assert_eq!(code, 403, "{message}");
    assert!(message.contains("spec.gpuVendor"), "{message}");
    // A valid change goes through.
    let patch = Patch::Merge(json!({ "spec": { "gpuVendor": "intel" } }));
    nodes
        .patch("valid", &PatchParams::default(), &patch)
        .await
        .map_err(|e| format!("a valid VmafxNode update was refused: {e}"))?;
    Ok(())
}
