//! Smoke test of the Kubernetes test environment: each test exercises one behaviour that only a
//! real API server has (CRD validation and Established condition, watches, server-side apply,
//! Leases with optimistic concurrency, TLS admission webhooks, RBAC for ServiceAccount tokens).
//!
//! All tests share one control plane (`TestEnv::shared`), each in its own namespace.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::admissionregistration::v1::{
    RuleWithOperations, ValidatingWebhook, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, MicroTime};
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::ByteString;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Client, ResourceExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use vmafx_testenv::{eventually, unique_name, TestEnv};

const WAIT: Duration = Duration::from_secs(30);

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        ..Default::default()
    }
}

/// Admin client and a fresh namespace for one test.
async fn setup(prefix: &str) -> (Client, String) {
    let env = TestEnv::shared().expect("test environment");
    let client = env.client().await.expect("admin client");
    let ns = unique_name(prefix);
    let created = Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: meta(&ns),
                ..Default::default()
            },
        )
        .await
        .expect("create namespace");
    assert_eq!(created.name_any(), ns);
    assert_eq!(
        created.status.and_then(|s| s.phase).as_deref(),
        Some("Active"),
        "a new namespace is Active"
    );
    // The NamespaceLifecycle admission plugin labels every namespace with its name.
    assert_eq!(
        created
            .metadata
            .labels
            .unwrap_or_default()
            .get("kubernetes.io/metadata.name"),
        Some(&ns)
    );
    (client, ns)
}

fn api_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

fn api_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn namespace_is_created_and_listed() {
    let (client, ns) = setup("smoke-ns").await;
    let names: Vec<String> = Api::<Namespace>::all(client)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|n| n.name_any())
        .collect();
    assert!(names.contains(&ns), "{ns} not in {names:?}");
    assert!(names.iter().any(|n| n == "kube-system"));
}

#[tokio::test]
async fn crd_established_custom_object_watched_and_validated() {
    let (client, ns) = setup("smoke-crd").await;
    let group = format!("{}.smoke.vmafx.io", unique_name("g"));
    let crd_name = format!("widgets.{group}");
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": crd_name },
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": { "plural": "widgets", "singular": "widget", "kind": "Widget" },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": { "status": {} },
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["size"],
                            "properties": {
                                "size": { "type": "integer", "minimum": 1 },
                                "colour": { "type": "string" }
                            }
                        },
                        "status": {
                            "type": "object",
                            "properties": { "ready": { "type": "boolean" } }
                        }
                    }
                }}
            }]
        }
    }))
    .unwrap();
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    crds.create(&PostParams::default(), &crd).await.unwrap();

    // Wait until the API server reports the CRD Established (its REST endpoint is served).
    eventually(WAIT, "CRD Established", || async {
        let c = crds.get(&crd_name).await.ok()?;
        let conds = c.status?.conditions?;
        conds
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
            .then_some(())
    })
    .await
    .unwrap();

    let gvk = GroupVersionKind::gvk(&group, "v1", "Widget");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "widgets");
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
    let widget = |name: &str, size: i64| {
        DynamicObject::new(name, &ar).data(json!({ "spec": { "size": size } }))
    };

    // Schema validation is enforced by the API server: size must be >= 1.
    let err = widgets
        .create(&PostParams::default(), &widget("too-small", 0))
        .await
        .expect_err("size 0 violates the CRD schema");
    assert_eq!(api_code(&err), Some(422), "{err}");
    assert!(api_message(&err).contains("spec.size"), "{err}");

    // Watch from the current resourceVersion, then create, update status, and delete.
    let rv = widgets
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .expect("list resourceVersion");
    let mut events = widgets
        .watch(&WatchParams::default().timeout(60), &rv)
        .await
        .unwrap()
        .boxed();

    let created = widgets
        .create(&PostParams::default(), &widget("w1", 3))
        .await
        .unwrap();
    let created_rv = created.resource_version().unwrap();

    match tokio::time::timeout(WAIT, events.try_next()).await {
        Ok(Ok(Some(WatchEvent::Added(o)))) => {
            assert_eq!(o.name_any(), "w1");
            assert_eq!(o.resource_version().as_deref(), Some(created_rv.as_str()));
            assert_eq!(o.data["spec"]["size"], 3);
        }
        other => panic!("expected Added(w1), got {other:?}"),
    }

    // The status subresource: a status patch changes only status.
    let patched = widgets
        .patch_status(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": { "ready": true }, "spec": { "size": 99 } })),
        )
        .await
        .unwrap();
    assert_eq!(patched.data["status"]["ready"], true);
    assert_eq!(
        patched.data["spec"]["size"], 3,
        "status endpoint ignores spec"
    );
    match tokio::time::timeout(WAIT, events.try_next()).await {
        Ok(Ok(Some(WatchEvent::Modified(o)))) => {
            assert_eq!(o.data["status"]["ready"], true);
            assert_ne!(o.resource_version(), Some(created_rv.clone()));
        }
        other => panic!("expected Modified(w1), got {other:?}"),
    }

    // Server-side apply: the field manager owns spec.colour.
    let applied = widgets
        .patch(
            "w1",
            &PatchParams::apply("vmafx-smoke"),
            &Patch::Apply(json!({
                "apiVersion": format!("{group}/v1"),
                "kind": "Widget",
                "metadata": { "name": "w1" },
                "spec": { "size": 3, "colour": "blue" }
            })),
        )
        .await
        .unwrap();
    assert_eq!(applied.data["spec"]["colour"], "blue");
    assert!(applied
        .managed_fields()
        .iter()
        .any(|m| m.manager.as_deref() == Some("vmafx-smoke")
            && m.operation.as_deref() == Some("Apply")));

    widgets
        .delete("w1", &DeleteParams::default())
        .await
        .unwrap();
    let deleted = tokio::time::timeout(WAIT, async {
        while let Some(ev) = events.try_next().await.unwrap() {
            if let WatchEvent::Deleted(o) = ev {
                return o;
            }
        }
        panic!("watch ended before the Deleted event");
    })
    .await
    .expect("Deleted event");
    assert_eq!(deleted.name_any(), "w1");

    crds.delete(&crd_name, &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn lease_is_created_and_renewed_with_optimistic_concurrency() {
    let (client, ns) = setup("smoke-lease").await;
    let leases = Api::<Lease>::namespaced(client, &ns);
    let t0 = Timestamp::now();
    let lease = Lease {
        metadata: meta("vmafx-leader"),
        spec: Some(LeaseSpec {
            holder_identity: Some("replica-a".into()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(MicroTime(t0)),
            renew_time: Some(MicroTime(t0)),
            lease_transitions: Some(0),
            ..Default::default()
        }),
    };
    let created = leases.create(&PostParams::default(), &lease).await.unwrap();
    let rv1 = created.resource_version().unwrap();

    // Renew: replace with a later renewTime, guarded by the resourceVersion we read.
    let mut renewed = created.clone();
    let t1 = Timestamp::now() + Duration::from_secs(1);
    renewed.spec.as_mut().unwrap().renew_time = Some(MicroTime(t1));
    let renewed = leases
        .replace("vmafx-leader", &PostParams::default(), &renewed)
        .await
        .unwrap();
    let rv2 = renewed.resource_version().unwrap();
    assert_ne!(rv1, rv2, "a renewal bumps the resourceVersion");
    let stored = leases.get("vmafx-leader").await.unwrap();
    let spec = stored.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-a"));
    let renew = spec.renew_time.unwrap().0;
    assert!(renew > t0, "renewTime moved forward: {renew} vs {t0}");

    // A competing writer holding the stale resourceVersion is refused with 409 Conflict.
    let mut stale = created;
    stale.spec.as_mut().unwrap().holder_identity = Some("replica-b".into());
    let err = leases
        .replace("vmafx-leader", &PostParams::default(), &stale)
        .await
        .expect_err("stale resourceVersion must conflict");
    assert_eq!(api_code(&err), Some(409), "{err}");
    let holder = leases.get("vmafx-leader").await.unwrap().spec.unwrap();
    assert_eq!(holder.holder_identity.as_deref(), Some("replica-a"));
}

/// What the test's webhook server saw: names of the objects it was asked about.
type Seen = Arc<Mutex<Vec<String>>>;

const DENY_LABEL: &str = "smoke.vmafx.io/deny";
const DENY_MESSAGE: &str = "vmafx smoke webhook refuses this ConfigMap";

/// Runs an HTTPS validating-webhook server on 127.0.0.1 with a certificate from a fresh CA.
/// Returns its URL, the CA certificate (PEM) and the record of calls.
async fn start_webhook_server() -> (String, String, Seen) {
    let pki = vmafx_testenv::pki::serving_pki("vmafx smoke webhook").unwrap();
    let cert = CertificateDer::from_pem_slice(pki.cert_pem.as_bytes()).unwrap();
    let key = PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| review(req, seen.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (
        format!("https://127.0.0.1:{port}/validate"),
        pki.ca_pem,
        seen,
    )
}

/// The webhook: denies objects labelled `smoke.vmafx.io/deny=true`, allows the rest.
async fn review(req: Request<Incoming>, seen: Seen) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = req.into_body().collect().await?.to_bytes();
    let review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let request = &review["request"];
    let name = request["name"]
        .as_str()
        .or(request["object"]["metadata"]["name"].as_str())
        .unwrap_or_default()
        .to_owned();
    seen.lock().unwrap().push(name);
    let deny = request["object"]["metadata"]["labels"][DENY_LABEL] == "true";
    let mut response = json!({ "uid": request["uid"], "allowed": !deny });
    if deny {
        response["status"] = json!({ "code": 403, "message": DENY_MESSAGE });
    }
    let out = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    });
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(out.to_string())))
        .unwrap())
}

fn config_map(name: &str, deny: bool) -> ConfigMap {
    let mut m = meta(name);
    if deny {
        m.labels = Some(BTreeMap::from([(DENY_LABEL.to_owned(), "true".to_owned())]));
    }
    ConfigMap {
        metadata: m,
        data: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
        ..Default::default()
    }
}

#[tokio::test]
async fn validating_webhook_over_tls_is_called_and_denies() {
    // The API server must reach the test's 127.0.0.1: true for our own control plane, false for
    // most external clusters (kind, k3d, remote) unless the caller says otherwise.
    if TestEnv::shared().unwrap().is_external()
        && std::env::var("VMAFX_TEST_WEBHOOK_LOOPBACK").as_deref() != Ok("1")
    {
        eprintln!("skipped: external cluster cannot call a webhook on 127.0.0.1 (set VMAFX_TEST_WEBHOOK_LOOPBACK=1 if it can)");
        return;
    }
    let (client, ns) = setup("smoke-webhook").await;
    let (url, ca_pem, seen) = start_webhook_server().await;

    let vwc_name = unique_name("vmafx-smoke");
    let vwc = ValidatingWebhookConfiguration {
        metadata: meta(&vwc_name),
        webhooks: Some(vec![ValidatingWebhook {
            name: "deny.smoke.vmafx.io".into(),
            client_config: WebhookClientConfig {
                url: Some(url),
                ca_bundle: Some(ByteString(ca_pem.into_bytes())),
                ..Default::default()
            },
            rules: Some(vec![RuleWithOperations {
                api_groups: Some(vec![String::new()]),
                api_versions: Some(vec!["v1".into()]),
                operations: Some(vec!["CREATE".into()]),
                resources: Some(vec!["configmaps".into()]),
                scope: Some("Namespaced".into()),
            }]),
            // Only this test's namespace, so parallel tests are not affected.
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_owned(),
                    ns.clone(),
                )])),
                ..Default::default()
            }),
            failure_policy: Some("Fail".into()),
            side_effects: "None".into(),
            admission_review_versions: vec!["v1".into()],
            timeout_seconds: Some(10),
            ..Default::default()
        }]),
    };
    let vwcs = Api::<ValidatingWebhookConfiguration>::all(client.clone());
    vwcs.create(&PostParams::default(), &vwc).await.unwrap();

    // The API server picks up webhook configurations asynchronously: probe with dry-run creates
    // (allowed because the webhook declares sideEffects None) until the denial shows.
    let cms = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    eventually(WAIT, "webhook denial", || async {
        let res = cms.create(&dry, &config_map("probe", true)).await;
        res.err().filter(|e| api_message(e).contains(DENY_MESSAGE))
    })
    .await
    .unwrap();

    let err = cms
        .create(&PostParams::default(), &config_map("denied", true))
        .await
        .expect_err("the webhook denies labelled ConfigMaps");
    assert_eq!(api_code(&err), Some(403), "{err}");
    let msg = api_message(&err);
    assert!(msg.contains("deny.smoke.vmafx.io"), "{msg}");
    assert!(msg.contains(DENY_MESSAGE), "{msg}");
    let missing = cms
        .get("denied")
        .await
        .expect_err("denied object is not stored");
    assert_eq!(api_code(&missing), Some(404));

    cms.create(&PostParams::default(), &config_map("allowed", false))
        .await
        .expect("the webhook allows unlabelled ConfigMaps");

    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().any(|n| n == "denied"), "{seen:?}");
    assert!(seen.iter().any(|n| n == "allowed"), "{seen:?}");

    vwcs.delete(&vwc_name, &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn service_account_token_is_limited_to_its_role() {
    let (client, ns) = setup("smoke-rbac").await;
    let sa_name = "reader";
    Api::<ServiceAccount>::namespaced(client.clone(), &ns)
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: meta(sa_name),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    Api::<Role>::namespaced(client.clone(), &ns)
        .create(
            &PostParams::default(),
            &Role {
                metadata: meta("configmap-reader"),
                rules: Some(vec![PolicyRule {
                    api_groups: Some(vec![String::new()]),
                    resources: Some(vec!["configmaps".into()]),
                    verbs: vec!["get".into(), "list".into()],
                    ..Default::default()
                }]),
            },
        )
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), &ns)
        .create(
            &PostParams::default(),
            &RoleBinding {
                metadata: meta("reader-reads-configmaps"),
                role_ref: RoleRef {
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    kind: "Role".into(),
                    name: "configmap-reader".into(),
                },
                subjects: Some(vec![Subject {
                    kind: "ServiceAccount".into(),
                    name: sa_name.into(),
                    namespace: Some(ns.clone()),
                    ..Default::default()
                }]),
            },
        )
        .await
        .unwrap();

    // TokenRequest API: a short-lived, audience-bound token for the ServiceAccount.
    let token = Api::<ServiceAccount>::namespaced(client.clone(), &ns)
        .create_token_request(
            sa_name,
            &PostParams::default(),
            &TokenRequest {
                metadata: ObjectMeta::default(),
                spec: Some(TokenRequestSpec {
                    expiration_seconds: Some(600),
                    ..Default::default()
                }),
                status: None,
            },
        )
        .await
        .unwrap()
        .status
        .and_then(|s| s.token)
        .expect("TokenRequest returns a token");
    assert!(!token.is_empty());

    let env = TestEnv::shared().unwrap();
    let mut config = env.config().await.unwrap();
    config.auth_info = kube::config::AuthInfo {
        token: Some(secrecy::SecretString::from(token)),
        ..Default::default()
    };
    let sa_client = Client::try_from(config).unwrap();

    // Allowed by the Role (RBAC caches may need a moment to see the new binding).
    let sa_cms = Api::<ConfigMap>::namespaced(sa_client.clone(), &ns);
    eventually(WAIT, "Role grants list configmaps", || async {
        sa_cms.list(&ListParams::default()).await.ok()
    })
    .await
    .unwrap();

    // Everything outside the Role is Forbidden.
    let forbidden = [
        (
            "create configmap",
            sa_cms
                .create(&PostParams::default(), &config_map("nope", false))
                .await
                .err(),
        ),
        (
            "list secrets",
            Api::<Secret>::namespaced(sa_client.clone(), &ns)
                .list(&ListParams::default())
                .await
                .err(),
        ),
        (
            "list configmaps in another namespace",
            Api::<ConfigMap>::namespaced(sa_client.clone(), "kube-system")
                .list(&ListParams::default())
                .await
                .err(),
        ),
        (
            "list namespaces",
            Api::<Namespace>::all(sa_client.clone())
                .list(&ListParams::default())
                .await
                .err(),
        ),
    ];
    let who = format!("system:serviceaccount:{ns}:{sa_name}");
    for (what, err) in forbidden {
        let err = err.unwrap_or_else(|| panic!("{what}: expected Forbidden, got success"));
        assert_eq!(api_code(&err), Some(403), "{what}: {err}");
        assert!(api_message(&err).contains(&who), "{what}: {err}");
    }

    // An invalid bearer token is not authenticated at all (401, not 403).
    let mut config = env.config().await.unwrap();
    config.auth_info = kube::config::AuthInfo {
        token: Some(secrecy::SecretString::from("not-a-token".to_owned())),
        ..Default::default()
    };
    let err = Api::<ConfigMap>::namespaced(Client::try_from(config).unwrap(), &ns)
        .list(&ListParams::default())
        .await
        .expect_err("garbage token");
    assert_eq!(api_code(&err), Some(401), "{err}");
}

#[tokio::test]
async fn watch_stream_sees_configmap_changes_in_order() {
    let (client, ns) = setup("smoke-watch").await;
    let cms = Api::<ConfigMap>::namespaced(client, &ns);
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let stream = cms
        .watch(&WatchParams::default().timeout(60), &rv)
        .await
        .unwrap();
    for i in 0..3 {
        cms.create(
            &PostParams::default(),
            &config_map(&format!("cm{i}"), false),
        )
        .await
        .unwrap();
    }
    let names: Vec<String> = tokio::time::timeout(
        WAIT,
        stream
            .try_filter_map(|ev| async move {
                Ok(match ev {
                    WatchEvent::Added(o) => Some(o.name_any()),
                    _ => None,
                })
            })
            .take(3)
            .try_collect(),
    )
    .await
    .expect("three Added events")
    .unwrap();
    assert_eq!(names, ["cm0", "cm1", "cm2"]);
}
