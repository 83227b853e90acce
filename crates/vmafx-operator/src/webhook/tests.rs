//! Tests of the review logic and of the HTTPS server, including certificate rotation.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::tls::tests::{provider, test_pki, write_pki, TestPki};
use super::*;

fn request(resource: &str, operation: &str, spec: Value, old_spec: Option<Value>) -> Value {
    let kind = if resource == "vmafxjobs" {
        "VmafxJob"
    } else {
        "VmafxNode"
    };
    let object = |spec: Value| {
        json!({
            "apiVersion": "vmafx.dev/v1",
            "kind": kind,
            "metadata": { "name": "x", "namespace": "ns" },
            "spec": spec,
        })
    };
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "0d5f0c3e-1111-2222-3333-444455556666",
            "kind": { "group": "vmafx.dev", "version": "v1", "kind": kind },
            "resource": { "group": "vmafx.dev", "version": "v1", "resource": resource },
            "name": "x",
            "namespace": "ns",
            "operation": operation,
            "userInfo": { "username": "tester" },
            "object": if operation == "DELETE" { Value::Null } else { object(spec) },
            "oldObject": old_spec.map(object).unwrap_or(Value::Null),
            "dryRun": false,
        }
    })
}

fn answer(kind: Kind, review: &Value) -> Value {
    let out = super::review(kind, review.to_string().as_bytes()).unwrap();
    let out: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(out["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(out["kind"], "AdmissionReview");
    assert_eq!(
        out["response"]["uid"],
        "0d5f0c3e-1111-2222-3333-444455556666"
    );
    out["response"].clone()
}

fn job_spec(reference: &str) -> Value {
    json!({ "reference": reference, "distorted": "s3://b/d.yuv" })
}

#[test]
fn valid_objects_are_allowed_on_create_and_update() {
    for op in ["CREATE", "UPDATE"] {
        let old = (op == "UPDATE").then(|| job_spec("s3://b/old.yuv"));
        let r = answer(
            Kind::Job,
            &request("vmafxjobs", op, job_spec("s3://b/r.yuv"), old),
        );
        assert_eq!(r["allowed"], true, "{r}");
        let old = (op == "UPDATE")
            .then(|| json!({ "gpuVendor": "cpu", "image": "ghcr.io/vmafx/vmafx:test" }));
        let r = answer(
            Kind::Node,
            &request(
                "vmafxnodes",
                op,
                json!({ "gpuVendor": "nvidia", "image": "ghcr.io/vmafx/vmafx:test" }),
                old,
            ),
        );
        assert_eq!(r["allowed"], true, "{r}");
    }
}

#[test]
fn invalid_objects_are_denied_naming_the_field() {
    for op in ["CREATE", "UPDATE"] {
        let old = (op == "UPDATE").then(|| job_spec("s3://b/r.yuv"));
        let r = answer(Kind::Job, &request("vmafxjobs", op, job_spec("foo"), old));
        assert_eq!(r["allowed"], false, "{r}");
        assert_eq!(r["status"]["code"], 403, "{r}");
        let message = r["status"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(r#"spec.reference: "foo" is invalid: expected scheme://"#),
            "{r}"
        );

        let old = (op == "UPDATE")
            .then(|| json!({ "gpuVendor": "cpu", "image": "ghcr.io/vmafx/vmafx:test" }));
        let r = answer(
            Kind::Node,
            &request(
                "vmafxnodes",
                op,
                json!({ "gpuVendor": "quantum", "image": "ghcr.io/vmafx/vmafx:test" }),
                old,
            ),
        );
        assert_eq!(r["allowed"], false, "{r}");
        assert_eq!(
            r["status"]["message"],
            r#"spec.gpuVendor: "quantum" is not one of nvidia, amd, intel, cpu"#
        );
    }
}

#[test]
fn policy_refuses_foreign_images_and_outside_endpoints_naming_the_field() {
    let r = answer(
        Kind::Node,
        &request(
            "vmafxnodes",
            "CREATE",
            json!({ "gpuVendor": "cpu", "image": "docker.io/evil/miner:1",
                    "healthEndpoint": "http://169.254.169.254/" }),
            None,
        ),
    );
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(r#"spec.image: "docker.io/evil/miner:1" is not allowed"#),
        "{message}"
    );
    assert!(
        message.contains(r#"spec.healthEndpoint: "http://169.254.169.254/""#),
        "{message}"
    );

    // A configured prefix admits its images.
    let policy = AdmissionPolicy {
        allowed_images: vec!["registry.local/".to_owned()],
        ..AdmissionPolicy::default()
    };
    let review = request(
        "vmafxnodes",
        "CREATE",
        json!({ "gpuVendor": "cpu", "image": "registry.local/vmafx:1",
                "healthEndpoint": "http://probe.ns.svc:8090" }),
        None,
    );
    let out = review_with(Kind::Node, review.to_string().as_bytes(), &policy).unwrap();
    let out: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(out["response"]["allowed"], true, "{out}");

    // Trainings: the endpoint must be a Service of their own namespace.
    let training = |endpoint: &str| {
        let mut review = request(
            "vmafxmodeltrainings",
            "CREATE",
            json!({ "baseModel": "vmaf_v0.6.1", "trainerEndpoint": endpoint }),
            None,
        );
        review["request"]["kind"]["kind"] = json!("VmafxModelTraining");
        review["request"]["object"]["kind"] = json!("VmafxModelTraining");
        answer(Kind::Training, &review)
    };
    assert_eq!(training("http://trainer.ns.svc:8080")["allowed"], true);
    let r = training("http://trainer.other.svc:8080");
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .starts_with("spec.trainerEndpoint: "),
        "{r}"
    );
}

#[test]
fn an_unchanged_invalid_spec_may_still_be_updated() {
    // e.g. removing a finalizer from a job stored before the webhook was installed.
    let r = answer(
        Kind::Job,
        &request(
            "vmafxjobs",
            "UPDATE",
            job_spec("foo"),
            Some(job_spec("foo")),
        ),
    );
    assert_eq!(r["allowed"], true, "{r}");
    let warning = r["warnings"][0].as_str().unwrap();
    assert!(warning.contains("spec.reference"), "{warning}");
}

#[test]
fn delete_is_not_validated() {
    let r = answer(
        Kind::Job,
        &request("vmafxjobs", "DELETE", Value::Null, Some(job_spec("foo"))),
    );
    assert_eq!(r["allowed"], true, "{r}");
}

#[test]
fn a_spec_that_does_not_parse_is_denied() {
    let r = answer(
        Kind::Node,
        &request("vmafxnodes", "CREATE", json!({ "capacity": 2 }), None),
    );
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("spec: ") && message.contains("gpuVendor"),
        "{message}"
    );
}

#[test]
fn a_misrouted_resource_is_denied() {
    let r = answer(
        Kind::Job,
        &request(
            "vmafxnodes",
            "CREATE",
            json!({ "gpuVendor": "cpu", "image": "ghcr.io/vmafx/vmafx:test" }),
            None,
        ),
    );
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("validates vmafxjobs, not vmafxnodes"),
        "{r}"
    );
}

#[test]
fn a_body_that_is_not_a_review_is_refused() {
    assert!(super::review(Kind::Job, b"{")
        .unwrap_err()
        .contains("failed to parse"));
    let no_request = json!({ "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview" });
    assert!(super::review(Kind::Job, no_request.to_string().as_bytes())
        .unwrap_err()
        .contains("no request"));
}

#[test]
fn paths_follow_kubebuilder() {
    assert_eq!(
        Kind::from_path("/validate-vmafx-dev-v1-vmafxjob"),
        Some(Kind::Job)
    );
    assert_eq!(
        Kind::from_path("/validate-vmafx-dev-v1-vmafxnode"),
        Some(Kind::Node)
    );
    assert_eq!(Kind::from_path("/validate"), None);
}

/// POSTs `body` to `path` over TLS, trusting only `ca_pem`; returns the status and the body.
async fn post(port: u16, ca_pem: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(body.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    // rustls reports the peer's close without close_notify as an error after the data arrived.
    let _ = tls.read_to_end(&mut out).await;
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").ok_or(text.clone())?;
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or(text.clone())?;
    Ok((code, body.to_owned()))
}

#[tokio::test]
async fn serves_reviews_over_tls_and_follows_certificate_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let first: TestPki = test_pki("first");
    write_pki(dir.path(), &first);
    let server = bind_with_cert_dir("127.0.0.1:0".parse().unwrap(), dir.path().to_owned())
        .await
        .unwrap();
    let port = server.local_addr().unwrap().port();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(server, shutdown.clone()));

    let deny = request("vmafxjobs", "CREATE", job_spec("foo"), None).to_string();
    let (code, body) = post(port, &first.ca_pem, JOB_PATH, &deny).await.unwrap();
    assert_eq!(code, 200, "{body}");
    let out: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(out["response"]["allowed"], false, "{out}");

    let (code, _) = post(port, &first.ca_pem, "/validate", &deny).await.unwrap();
    assert_eq!(code, 404);
    let (code, _) = post(port, &first.ca_pem, NODE_PATH, "not json")
        .await
        .unwrap();
    assert_eq!(code, 400);

    // cert-manager rotates the pair: new handshakes get the new certificate, from a new CA.
    let second = test_pki("second");
    write_pki(dir.path(), &second);
    let err = post(port, &first.ca_pem, JOB_PATH, &deny)
        .await
        .unwrap_err();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let allow = request(
        "vmafxnodes",
        "CREATE",
        json!({ "gpuVendor": "amd", "image": "ghcr.io/vmafx/vmafx:test" }),
        None,
    )
    .to_string();
    let (code, body) = post(port, &second.ca_pem, NODE_PATH, &allow).await.unwrap();
    assert_eq!(code, 200, "{body}");
    let out: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(out["response"]["allowed"], true, "{out}");

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn bind_fails_naming_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = bind_with_cert_dir("127.0.0.1:0".parse().unwrap(), dir.path().to_owned())
        .await
        .err()
        .unwrap();
    let text = vmafx_contract::error_line(&err);
    assert!(
        text.contains(&dir.path().join("tls.crt").display().to_string()),
        "{text}"
    );
}

#[test]
fn training_fields_and_image_are_checked() {
    let training = |spec: Value, policy: &AdmissionPolicy| {
        let mut review = request("vmafxmodeltrainings", "CREATE", spec, None);
        review["request"]["kind"]["kind"] = json!("VmafxModelTraining");
        review["request"]["object"]["kind"] = json!("VmafxModelTraining");
        let out = review_with(Kind::Training, review.to_string().as_bytes(), policy).unwrap();
        serde_json::from_slice::<Value>(&out).unwrap()["response"].clone()
    };
    let policy = AdmissionPolicy {
        allowed_images: vec!["registry.local/".to_owned()],
        job_image: "registry.local/vmafx:1".to_owned(),
    };
    let full = json!({
        "baseModel": "vmaf_v0.6.1",
        "outputRegistry": "registry.local/models",
        "checkpoint": {"interval": "5s", "minSamples": 20},
        "dataSource": {"nodeSelector": {"vendor": "cpu"}},
        "tokenSecret": {"name": "callers", "key": "tokens"},
        "registrySecret": "push",
    });
    assert_eq!(training(full.clone(), &policy)["allowed"], true);
    let mut bad = full.clone();
    bad["checkpoint"]["interval"] = json!("1h30m");
    bad["dataSource"]["nodeSelector"] = json!({"gpu.vendor": "nvidia"});
    let r = training(bad, &policy);
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("spec.checkpoint.interval")
            && message.contains("spec.dataSource.nodeSelector"),
        "{message}"
    );
    let mut elsewhere = full;
    elsewhere["image"] = json!("docker.io/evil/vmafx:1");
    let r = training(elsewhere, &policy);
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("spec.image"),
        "{r}"
    );
}
