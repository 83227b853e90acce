//! `vmafx controller --auth-kubernetes` against the real API server (vmafx-testenv): the
//! controller reviews ServiceAccount tokens with TokenReview, maps ServiceAccounts to roles, and
//! lets a node token act only as the Pod it is bound to.

mod k8s;
mod support;

use std::time::Duration;

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use support::*;
use tonic::Code;
use vmafx_api::v1;
use vmafx_api::v1::job_service_client::JobServiceClient;
use vmafx_api::v1::node_service_client::NodeServiceClient;

async fn service_account(client: &kube::Client, ns: &str, name: &str) {
    Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("failed to create ServiceAccount {name}: {e}"));
}

/// A Pod object running as `account` (no kubelet runs it; the token binding needs only the
/// object), and its UID.
async fn pod(client: &kube::Client, ns: &str, name: &str, account: &str) -> String {
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            service_account_name: Some(account.into()),
            containers: vec![Container {
                name: "node".into(),
                image: Some("ghcr.io/vmafx/vmafx:test".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    Api::<Pod>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &pod)
        .await
        .unwrap_or_else(|e| panic!("failed to create Pod {name}: {e}"))
        .metadata
        .uid
        .expect("a created Pod has a UID")
}

/// A token of `account`, bound to the Pod `(name, uid)` when given.
async fn token(
    client: &kube::Client,
    ns: &str,
    account: &str,
    pod: Option<(&str, &str)>,
) -> String {
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            bound_object_ref: pod.map(|(name, uid)| BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(name.into()),
                uid: Some(uid.into()),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .unwrap_or_else(|e| panic!("failed to request a token for {account}: {e}"))
        .status
        .and_then(|status| status.token)
        .expect("a TokenRequest answer carries a token")
}

fn with_token<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header value"),
    );
    request
}

fn register(name: &str) -> v1::RegisterNodeRequest {
    v1::RegisterNodeRequest {
        info: Some(v1::NodeInfo {
            name: name.into(),
            vendor: "cpu".into(),
            backends: vec!["cpu".into()],
            device: "test".into(),
            capacity: 1,
            version: "test".into(),
            address: String::new(),
        }),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn service_account_tokens_are_reviewed_and_nodes_act_only_as_their_pod() {
    let (env, client) = k8s::cluster().await;
    let ns = k8s::namespace(&client, "auth").await;
    service_account(&client, &ns, "vmafx-node").await;
    service_account(&client, &ns, "vmafx-operator").await;
    service_account(&client, &ns, "stranger").await;
    let uid = pod(&client, &ns, "worker-0", "vmafx-node").await;
    let node_token = token(&client, &ns, "vmafx-node", Some(("worker-0", &uid))).await;
    let unbound_node_token = token(&client, &ns, "vmafx-node", None).await;
    let operator_token = token(&client, &ns, "vmafx-operator", None).await;
    let stranger_token = token(&client, &ns, "stranger", None).await;

    let dir = tempfile::tempdir().unwrap();
    let grpc_port = free_port();
    let http_port = free_port();
    let grpc_addr = format!("127.0.0.1:{grpc_port}");
    let http_addr = format!("127.0.0.1:{http_port}");
    let data = dir.path().join("data");
    let node_role = format!("{ns}/vmafx-node=node");
    let operator_role = format!("{ns}/vmafx-operator=submitter");
    let kubeconfig = env.kubeconfig_path().to_string_lossy().to_string();
    let controller = spawn(
        dir.path(),
        "controller",
        &[
            "controller",
            "--grpc-addr",
            &grpc_addr,
            "--http-addr",
            &http_addr,
            "--data-dir",
            data.to_str().unwrap(),
            "--auth-kubernetes",
            "--auth-kubernetes-role",
            &node_role,
            "--auth-kubernetes-role",
            &operator_role,
        ],
        &[("KUBECONFIG", &kubeconfig)],
    );
    wait_for(Duration::from_secs(30), || {
        http_get(http_port, "/healthz").is_some_and(|(code, _)| code == 200)
    })
    .unwrap_or_else(|| panic!("controller did not come up: {}", controller.log()));

    let url = format!("http://{grpc_addr}");
    let mut nodes = NodeServiceClient::connect(url.clone()).await.unwrap();
    // The Pod's token registers as POD.NAMESPACE, and as nothing else: not as another Pod, and
    // not as the same Pod name in another namespace.
    let node = nodes
        .register_node(with_token(&node_token, register(&format!("worker-0.{ns}"))))
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", controller.log()))
        .into_inner();
    assert!(!node.id.is_empty());
    for other in [
        format!("worker-1.{ns}"),
        "worker-0.elsewhere".to_owned(),
        "worker-0".to_owned(),
    ] {
        let err = nodes
            .register_node(with_token(&node_token, register(&other)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{other}: {err}");
    }
    // A node token not bound to a Pod, an unmapped ServiceAccount and garbage are refused.
    for (what, bad) in [
        ("unbound node token", unbound_node_token.as_str()),
        ("unmapped ServiceAccount", stranger_token.as_str()),
        ("garbage", "not.a.token"),
    ] {
        let err = nodes
            .register_node(with_token(bad, register("worker-0")))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{what}: {err}");
    }
    // The operator's ServiceAccount submits; it cannot act as a node.
    let mut jobs = JobServiceClient::connect(url).await.unwrap();
    jobs.submit_job(with_token(
        &operator_token,
        v1::SubmitJobRequest {
            spec: Some(v1::JobSpec {
                reference: "s3://clips/ref.y4m".into(),
                distorted: "s3://clips/dist.mp4".into(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        },
    ))
    .await
    .unwrap();
    let err = nodes
        .register_node(with_token(&operator_token, register("worker-0")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
}
