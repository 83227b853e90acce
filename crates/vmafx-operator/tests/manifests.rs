//! The committed manifests agree with each other and with the operator: the webhook Service of
//! `config/webhook/manifests.yaml` forwards to the port `config/manager/operator.yaml` makes the
//! operator listen on, selects the operator's Pods, and the certificate cert-manager issues is
//! the Secret the operator mounts where it reads its serving pair; every webhook path the
//! configuration registers is one the operator serves, and every one it serves is registered.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml::Value;

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

fn documents(file: &str) -> Vec<Value> {
    let path = config_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("failed to parse {}: {e}", path.display()))
        })
        .filter(|doc| !doc.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn env(container: &Value, name: &str) -> Option<String> {
    container["env"]
        .as_sequence()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str().map(str::to_owned))
}

#[test]
fn manager_and_webhook_agree_on_the_webhook_port_service_and_certificate() {
    let manager = documents("manager/operator.yaml");
    let webhook = documents("webhook/manifests.yaml");
    let deployment = find(&manager, "Deployment", "vmafx-operator");
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];

    let port: u16 = env(container, "VMAFX_OPERATOR_WEBHOOK_PORT")
        .expect("the operator sets VMAFX_OPERATOR_WEBHOOK_PORT")
        .parse()
        .expect("a port number");
    assert_ne!(port, 0, "config/manager turns the webhooks off");
    let service = find(&webhook, "Service", "vmafx-operator-webhook");
    let target = &service["spec"]["ports"][0]["targetPort"];
    let named_port = container["ports"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|p| Some(&p["name"]) == Some(target) || p["containerPort"] == *target)
        .unwrap_or_else(|| panic!("the operator container has no port {target:?}"));
    assert_eq!(
        named_port["containerPort"].as_u64(),
        Some(u64::from(port)),
        "config/webhook forwards to {target:?}, the operator listens on {port}"
    );
    assert_eq!(
        service["metadata"]["namespace"],
        deployment["metadata"]["namespace"]
    );
    for (key, value) in service["spec"]["selector"]
        .as_mapping()
        .expect("the Service selects Pods")
    {
        assert_eq!(
            &pod["metadata"]["labels"][key], value,
            "the webhook Service selects {key:?}={value:?}, the operator's Pods lack it"
        );
    }

    // The API server calls the Service that exists, on its port.
    let configuration = webhook
        .iter()
        .find(|d| d["kind"] == "ValidatingWebhookConfiguration")
        .expect("a ValidatingWebhookConfiguration");
    let mut registered = Vec::new();
    for hook in configuration["webhooks"].as_sequence().expect("webhooks") {
        let target = &hook["clientConfig"]["service"];
        assert_eq!(target["name"], service["metadata"]["name"]);
        assert_eq!(target["namespace"], service["metadata"]["namespace"]);
        assert_eq!(target["port"], service["spec"]["ports"][0]["port"]);
        let path = target["path"].as_str().expect("a path");
        assert!(
            vmafx_operator::webhook::Kind::from_path(path).is_some(),
            "the operator serves no webhook at {path}"
        );
        registered.push(path.to_owned());
    }
    for served in [
        vmafx_operator::webhook::JOB_PATH,
        vmafx_operator::webhook::NODE_PATH,
        vmafx_operator::webhook::TRAINING_PATH,
    ] {
        assert!(
            registered.iter().any(|p| p == served),
            "{served} is not registered"
        );
    }

    // The certificate is issued for the Service and mounted where the operator reads it.
    let certificate = webhook
        .iter()
        .find(|d| d["kind"] == "Certificate")
        .expect("a cert-manager Certificate");
    let dns = format!(
        "{}.{}.svc",
        service["metadata"]["name"].as_str().unwrap_or_default(),
        service["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
    );
    assert!(
        certificate["spec"]["dnsNames"]
            .as_sequence()
            .is_some_and(|names| names.iter().any(|n| n == dns.as_str())),
        "the certificate does not name {dns}"
    );
    let tmpdir = env(container, "TMPDIR").expect("TMPDIR fixes where the operator looks");
    let cert_dir = format!("{tmpdir}/k8s-webhook-server/serving-certs");
    let mount = container["volumeMounts"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|m| m["mountPath"] == cert_dir.as_str())
        .unwrap_or_else(|| panic!("nothing is mounted at {cert_dir}"));
    let volume = pod["spec"]["volumes"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume exists");
    assert_eq!(
        volume["secret"]["secretName"], certificate["spec"]["secretName"],
        "the operator mounts another Secret than cert-manager writes"
    );
}

#[test]
fn shipped_pods_are_restricted() {
    for (file, kind, name) in [
        ("manager/operator.yaml", "Deployment", "vmafx-operator"),
        ("manager/controller.yaml", "Deployment", "vmafx-controller"),
    ] {
        let docs = documents(file);
        let pod = &find(&docs, kind, name)["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{file}");
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
            "{file}"
        );
        for container in pod["containers"].as_sequence().expect("containers") {
            let security = &container["securityContext"];
            assert_eq!(security["allowPrivilegeEscalation"], false, "{file}");
            assert_eq!(security["capabilities"]["drop"][0], "ALL", "{file}");
            assert!(
                container["resources"]["requests"].is_mapping(),
                "{file}: no resource requests"
            );
        }
    }
}
