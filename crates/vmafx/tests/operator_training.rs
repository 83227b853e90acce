//! VmafxModelTraining against a real control plane: a trainer served by the test (keeping the
//! docs/TRAINER_STATUS.md contract) is mirrored into the status, and each new checkpoint is
//! announced by exactly one `CheckpointWritten` event, also across an operator restart. The
//! trainer is named by an in-cluster Service URL (VMAFX_OPERATOR_RESOLVE points it at loopback);
//! an oversized answer and an endpoint outside the run's namespace are refused.
//!
//! And the trainer the operator runs: a run gets a Deployment and a Service owned by it, whose
//! `vmafx trainer` arguments are then run here, on loopback (the listen address, the data folder
//! and the mounted Secrets' paths moved to where this test can have them), against a real
//! controller and a real registry; the run's status shows the samples posted to that trainer and
//! the checkpoint it pushed.

#[macro_use]
mod k8s;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};
use vmafx_operator::crd::{TrainingPhase, VmafxModelTraining};

/// A trainer stand-in: `GET /status` answers the current document, or 503 while there is none.
#[derive(Clone, Default)]
struct Trainer {
    status: Arc<Mutex<Option<Value>>>,
    polls: Arc<AtomicUsize>,
}

impl Trainer {
    fn serve(&self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let this = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let answer = if request.starts_with("GET /status ") {
                    this.polls.fetch_add(1, Ordering::SeqCst);
                    this.status.lock().unwrap().clone()
                } else {
                    None
                };
                let (code, body) = match answer {
                    Some(doc) => ("200 OK", doc.to_string()),
                    None => ("503 Service Unavailable", String::new()),
                };
                let _ = (&stream).write_all(
                    format!(
                        "HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
        port
    }

    fn set(&self, doc: Value) {
        *self.status.lock().unwrap() = Some(doc);
    }

    fn polls(&self) -> usize {
        self.polls.load(Ordering::SeqCst)
    }
}

fn checkpoint(version: &str, samples: i64, minute: u32) -> Value {
    json!({
        "version": version,
        "samples": samples,
        "writtenAt": format!("2026-12-04T15:{minute:02}:00Z"),
        "digest": format!("sha256:{version}"),
    })
}

/// How many times each checkpoint version was announced (a repeated event may be folded into a
/// series, which counts too).
async fn announced(client: &Client, ns: &str) -> std::collections::BTreeMap<String, i32> {
    let mut counts = std::collections::BTreeMap::new();
    for event in Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("CheckpointWritten"))
    {
        assert_eq!(
            event.regarding.as_ref().and_then(|r| r.name.as_deref()),
            Some("run1")
        );
        let note = event.note.clone().unwrap_or_default();
        let version = note
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        *counts.entry(version).or_insert(0) += event.series.as_ref().map_or(1, |s| s.count);
    }
    counts
}

/// Touches an annotation, which makes the operator poll at once, and waits for that poll.
async fn poke(api: &Api<VmafxModelTraining>, trainer: &Trainer, n: u32) {
    let before = trainer.polls();
    api.patch(
        "run1",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"vmafx.dev/poke": n.to_string()}}})),
    )
    .await
    .unwrap();
    poll_until!(Duration::from_secs(20), "a poll after the poke", {
        (trainer.polls() > before).then_some(())
    });
}

async fn wait_status(
    api: &Api<VmafxModelTraining>,
    what: &str,
    check: impl Fn(&VmafxModelTraining) -> bool,
) -> VmafxModelTraining {
    poll_until!(Duration::from_secs(30), what, {
        let run = api.get("run1").await.unwrap();
        check(&run).then_some(run)
    })
}

fn phase(run: &VmafxModelTraining) -> Option<TrainingPhase> {
    run.status.as_ref()?.phase
}

fn reachable(run: &VmafxModelTraining) -> Option<(String, String)> {
    let c = run
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "TrainerReachable")?;
    Some((c.status.clone(), c.reason.clone()))
}

/// Lets a repeated event show up if one were coming: the operator sends events right after the
/// status write that follows a poll.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// The operators these tests start each watch every namespace, so two at once would both
/// reconcile every run: the tests take turns.
static ONE_OPERATOR: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
async fn training_status_and_checkpoint_events() {
    let _turn = ONE_OPERATOR.lock().await;
    let (env, client) = k8s::cluster().await;
    let ns = k8s::namespace(&client, "vmtrain").await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = k8s::operator_kubeconfig(env, &client, &ns, dir.path()).await;
    let resolve = format!("trainer.{ns}.svc=127.0.0.1");
    let start = |name: &str| {
        k8s::start_operator(
            dir.path(),
            name,
            &kubeconfig,
            &ns,
            "http://127.0.0.1:1",
            "http://127.0.0.1:1",
            &[("VMAFX_OPERATOR_RESOLVE", &resolve)],
        )
        .0
    };
    let operator = start("operator");
    let trainer = Trainer::default();
    let port = trainer.serve();
    let api: Api<VmafxModelTraining> = Api::namespaced(client.clone(), &ns);
    let run: VmafxModelTraining = serde_json::from_value(json!({
        "apiVersion": "vmafx.dev/v1",
        "kind": "VmafxModelTraining",
        "metadata": {"name": "run1"},
        "spec": {
            "baseModel": "vmaf_v0.6.1",
            "checkpoint": {"interval": "10m", "minSamples": 1000},
            "trainerEndpoint": format!("http://trainer.{ns}.svc:{port}"),
        },
    }))
    .unwrap();
    api.create(&PostParams::default(), &run).await.unwrap();

    // New, and the trainer is not answering yet.
    let run = wait_status(&api, "Initializing and unreachable", |r| {
        phase(r) == Some(TrainingPhase::Initializing) && reachable(r).is_some()
    })
    .await;
    assert_eq!(
        reachable(&run).unwrap(),
        ("False".into(), "Unreachable".into())
    );
    assert_eq!(run.status.as_ref().unwrap().samples, 0);
    let table = k8s::kubectl(env.kubeconfig_path(), &["get", "vmtrain", "-n", &ns]);
    let mut lines = table.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NAME", "PHASE", "SAMPLES", "MODELVERSION", "AGE"]
    );
    assert_eq!(
        lines
            .next()
            .unwrap()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>(),
        // MODELVERSION is unset yet: kubectl leaves the cell blank.
        ["run1", "Initializing", "0"]
    );

    trainer.set(json!({"phase": "Training", "samples": 500, "checkpoints": []}));
    poke(&api, &trainer, 1).await;
    let run = wait_status(&api, "Training with 500 samples", |r| {
        r.status.as_ref().is_some_and(|s| s.samples == 500)
            && phase(r) == Some(TrainingPhase::Training)
    })
    .await;
    assert_eq!(reachable(&run).unwrap().0, "True");
    assert!(run.status.as_ref().unwrap().model_version.is_none());

    trainer.set(json!({
        "phase": "Training", "samples": 1500, "modelVersion": "v1",
        "checkpoints": [checkpoint("v1", 1000, 10)],
    }));
    poke(&api, &trainer, 2).await;
    wait_status(&api, "model v1", |r| {
        r.status
            .as_ref()
            .is_some_and(|s| s.samples == 1500 && s.model_version.as_deref() == Some("v1"))
    })
    .await;
    poll_until!(Duration::from_secs(10), "the v1 event", {
        (announced(&client, &ns).await.get("v1") == Some(&1)).then_some(())
    });

    // Polling the same answer again announces nothing new.
    poke(&api, &trainer, 3).await;
    poke(&api, &trainer, 4).await;
    settle().await;
    assert_eq!(announced(&client, &ns).await, [("v1".to_owned(), 1)].into());

    trainer.set(json!({
        "phase": "Training", "samples": 3100, "modelVersion": "v3",
        "checkpoints": [checkpoint("v1", 1000, 10), checkpoint("v2", 2000, 20), checkpoint("v3", 3000, 30)],
    }));
    poke(&api, &trainer, 5).await;
    let run = wait_status(&api, "model v3", |r| {
        r.status
            .as_ref()
            .is_some_and(|s| s.samples == 3100 && s.model_version.as_deref() == Some("v3"))
    })
    .await;
    assert_eq!(
        run.status
            .as_ref()
            .unwrap()
            .last_checkpoint_time
            .as_ref()
            .unwrap()
            .0
            .to_string(),
        "2026-12-04T15:30:00Z"
    );
    let expected: std::collections::BTreeMap<String, i32> = [
        ("v1".to_owned(), 1),
        ("v2".to_owned(), 1),
        ("v3".to_owned(), 1),
    ]
    .into();
    poll_until!(Duration::from_secs(10), "the v2 and v3 events", {
        (announced(&client, &ns).await == expected).then_some(())
    });

    // A new operator decides from the recorded status: nothing is announced again.
    drop(operator);
    let polls = trainer.polls();
    let operator = start("operator-2");
    poll_until!(Duration::from_secs(20), "a poll by the new operator", {
        (trainer.polls() > polls).then_some(())
    });
    poke(&api, &trainer, 6).await;
    settle().await;
    assert_eq!(announced(&client, &ns).await, expected);

    trainer.set(json!({
        "phase": "Completed", "samples": 3200, "modelVersion": "v3",
        "checkpoints": [checkpoint("v2", 2000, 20), checkpoint("v3", 3000, 30)],
    }));
    poke(&api, &trainer, 7).await;
    wait_status(&api, "Completed", |r| {
        phase(r) == Some(TrainingPhase::Completed)
    })
    .await;
    settle().await;
    assert_eq!(announced(&client, &ns).await, expected);
    let table = k8s::kubectl(env.kubeconfig_path(), &["get", "vmtrain", "-n", &ns]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], ["run1", "Completed", "3200", "v3"]);

    // A body that breaks the contract is reported as such, keeping what was mirrored.
    trainer.set(json!({"phase": "Sleeping", "samples": 1}));
    poke(&api, &trainer, 8).await;
    let run = wait_status(&api, "InvalidStatus", |r| {
        reachable(r).is_some_and(|(s, reason)| s == "False" && reason == "InvalidStatus")
    })
    .await;
    assert_eq!(run.status.as_ref().unwrap().samples, 3200);

    // An answer over 64 KiB is refused unread, saying so.
    trainer.set(json!({
        "phase": "Completed", "samples": 3300, "checkpoints": [],
        "padding": "x".repeat(70 << 10),
    }));
    poke(&api, &trainer, 9).await;
    let run = wait_status(&api, "an oversized answer refused", |r| {
        condition_message(r).is_some_and(|m| m.contains("exceeds the 65536 byte limit"))
    })
    .await;
    assert_eq!(reachable(&run).unwrap().1, "InvalidStatus");
    assert_eq!(run.status.as_ref().unwrap().samples, 3200);

    // An endpoint that is not a Service of the run's namespace is never polled.
    api.patch(
        "run1",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"trainerEndpoint": format!("http://127.0.0.1:{port}")}})),
    )
    .await
    .unwrap();
    let run = wait_status(&api, "InvalidTrainerEndpoint", |r| {
        reachable(r).is_some_and(|(s, reason)| s == "False" && reason == "InvalidTrainerEndpoint")
    })
    .await;
    let message = condition_message(&run).unwrap();
    assert!(message.starts_with("spec.trainerEndpoint: "), "{message}");
    let polls = trainer.polls();
    settle().await;
    assert_eq!(trainer.polls(), polls, "a refused endpoint was polled");
    drop(operator);
}

fn condition_message(run: &VmafxModelTraining) -> Option<String> {
    run.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "TrainerReachable")
        .map(|c| c.message.clone())
}

/// Maps a Pod's view of the trainer's files onto this machine: each Secret volume the
/// Deployment mounts is written, from the Secret in the API server, into its own folder under
/// `root`, and each argument naming a file under a mount point is rewritten to that folder.
async fn materialise_secret_mounts(
    client: &Client,
    ns: &str,
    pod: &k8s_openapi::api::core::v1::PodSpec,
    root: &std::path::Path,
    args: &mut [String],
) {
    use k8s_openapi::api::core::v1::Secret;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let container = &pod.containers[0];
    for mount in container.volume_mounts.iter().flatten() {
        let volume = pod
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == mount.name)
            .unwrap();
        let Some(source) = &volume.secret else {
            continue;
        };
        assert_eq!(mount.read_only, Some(true), "{mount:?}");
        let secret = secrets
            .get(source.secret_name.as_deref().unwrap())
            .await
            .unwrap();
        let local = root.join(&mount.name);
        std::fs::create_dir_all(&local).unwrap();
        for item in source.items.iter().flatten() {
            let data = &secret.data.as_ref().unwrap()[&item.key];
            std::fs::write(local.join(&item.path), &data.0).unwrap();
        }
        let prefix = format!("{}/", mount.mount_path);
        for arg in args.iter_mut() {
            if let Some(file) = arg.strip_prefix(&prefix) {
                *arg = local.join(file).display().to_string();
            }
        }
    }
}

fn condition(run: &VmafxModelTraining, type_: &str) -> Option<(String, String)> {
    let c = run
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)?;
    Some((c.status.clone(), c.reason.clone()))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_runs_the_trainer() {
    let _turn = ONE_OPERATOR.lock().await;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Secret, Service};
    use k8s_openapi::ByteString;
    use support::{free_port, http_get, http_request, run_cli, spawn, start_controller, wait_for};

    const SUBMITTER: &str = "trainer-submit-token";
    const VIEWER: &str = "trainer-viewer-token";
    let (env, client) = k8s::cluster().await;
    let ns = k8s::namespace(&client, "vmtrainer").await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = k8s::operator_kubeconfig(env, &client, &ns, dir.path()).await;

    // A controller that authenticates, which the trainer reads feedback from with a viewer
    // token, and a registry the checkpoints go to.
    let controller_tokens = dir.path().join("controller-tokens");
    std::fs::write(
        &controller_tokens,
        format!("# TOKEN,NAME,ROLE\n{VIEWER},trainer,viewer\noperator-token-0123456789,operator,admin\n"),
    )
    .unwrap();
    let controller = start_controller(
        dir.path(),
        &dir.path().join("controller-data"),
        free_port(),
        free_port(),
        &["--auth-token-file", controller_tokens.to_str().unwrap()],
    );
    let registry_home = dir.path().join("registry-home");
    std::fs::create_dir_all(&registry_home).unwrap();
    let registry = k8s::start_registry(&registry_home);

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let secret = |name: &str, type_: Option<&str>, key: &str, value: String| Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        type_: type_.map(str::to_owned),
        data: Some([(key.to_owned(), ByteString(value.into_bytes()))].into()),
        ..Default::default()
    };
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode("pusher:push-password");
    for object in [
        secret(
            "callers",
            None,
            "tokens",
            format!("# TOKEN,NAME,ROLE\n{SUBMITTER},labeller,submitter\n"),
        ),
        secret("viewer", None, "token", format!("{VIEWER}\n")),
        secret(
            "push",
            Some("kubernetes.io/dockerconfigjson"),
            ".dockerconfigjson",
            json!({"auths": {&registry.host: {"auth": basic}}}).to_string(),
        ),
    ] {
        secrets
            .create(&PostParams::default(), &object)
            .await
            .unwrap();
    }

    let port = free_port();
    let resolve = format!("run2-trainer.{ns}.svc=127.0.0.1");
    let operator = k8s::start_operator(
        dir.path(),
        "operator-trainer",
        &kubeconfig,
        &ns,
        &controller.grpc,
        &format!("http://127.0.0.1:{}", controller.http_port),
        &[
            ("VMAFX_OPERATOR_RESOLVE", &resolve),
            ("VMAFX_TOKEN", "operator-token-0123456789"),
            ("VMAFX_OPERATOR_JOB_IMAGE", "registry.test/vmafx/vmafx:1"),
            ("VMAFX_OPERATOR_ALLOWED_IMAGES", "registry.test/vmafx/"),
        ],
    )
    .0;
    let api: Api<VmafxModelTraining> = Api::namespaced(client.clone(), &ns);
    let output = format!("{}/vmafx/models", registry.host);
    let run: VmafxModelTraining = serde_json::from_value(json!({
        "apiVersion": "vmafx.dev/v1",
        "kind": "VmafxModelTraining",
        "metadata": {"name": "run2"},
        "spec": {
            "baseModel": "vmaf_v0.6.1",
            "outputRegistry": output,
            "checkpoint": {"interval": "1s", "minSamples": 20},
            "dataSource": {
                "nodeSelector": {"vendor": "cpu"},
                "controllerTokenSecret": {"name": "viewer", "key": "token"},
            },
            "tokenSecret": {"name": "callers", "key": "tokens"},
            "registrySecret": "push",
            // The Service's name, on the port the loopback trainer below listens on.
            "trainerEndpoint": format!("http://run2-trainer.{ns}.svc:{port}"),
        },
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &run).await.unwrap();
    let uid = created.metadata.uid.clone().unwrap();

    // The Deployment and the Service, owned by the run.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let deployment = poll_until!(Duration::from_secs(30), "the trainer Deployment", {
        deployments.get_opt("run2-trainer").await.unwrap()
    });
    let service = poll_until!(Duration::from_secs(30), "the trainer Service", {
        services.get_opt("run2-trainer").await.unwrap()
    });
    for meta in [&deployment.metadata, &service.metadata] {
        let owners = meta.owner_references.as_ref().unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(
            (
                owners[0].kind.as_str(),
                owners[0].name.as_str(),
                owners[0].uid.as_str()
            ),
            ("VmafxModelTraining", "run2", uid.as_str())
        );
        assert_eq!(owners[0].controller, Some(true));
        assert_eq!(owners[0].block_owner_deletion, Some(true));
        let labels = meta.labels.as_ref().unwrap();
        assert_eq!(labels["app.kubernetes.io/name"], "vmafx-trainer");
        assert_eq!(labels["app.kubernetes.io/instance"], "run2");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "vmafx-operator");
    }
    let spec = deployment.spec.clone();
    assert_eq!(spec.replicas, Some(1));
    let pod = spec.template.spec.clone().unwrap();
    assert_eq!(pod.automount_service_account_token, Some(false));
    let container = &pod.containers[0];
    assert_eq!(
        container.image.as_deref(),
        Some("registry.test/vmafx/vmafx:1")
    );
    assert_eq!(
        container.command.as_deref(),
        Some(&["vmafx".to_owned()][..])
    );
    assert_eq!(container.env, None, "everything is an argument");
    let security = container.security_context.clone().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    let args = container.args.clone().unwrap();
    assert_eq!(
        args,
        [
            "trainer",
            "--listen",
            "0.0.0.0:8080",
            "--data-dir",
            "/data",
            "--run",
            "run2",
            "--base-model",
            "vmaf_v0.6.1",
            "--output-registry",
            &output,
            "--auth-token-file",
            "/etc/vmafx/trainer-auth/tokens",
            "--checkpoint-interval",
            "1s",
            "--min-samples",
            "20",
            "--registry-config",
            "/etc/vmafx/registry/config.json",
            "--controller",
            &controller.grpc,
            "--controller-token-file",
            "/etc/vmafx/controller-token/token",
            "--node-selector",
            "vendor=cpu",
        ]
    );
    let volumes: Vec<(String, bool)> = pod
        .volumes
        .iter()
        .flatten()
        .map(|v| (v.name.clone(), v.empty_dir.is_some()))
        .collect();
    assert_eq!(
        volumes,
        [
            ("data".to_owned(), true),
            ("tmp".to_owned(), true),
            ("auth".to_owned(), false),
            ("registry".to_owned(), false),
            ("controller-token".to_owned(), false),
        ]
    );
    let service_spec = service.spec.clone().unwrap();
    assert_eq!(service_spec.selector, spec.selector.match_labels);
    assert_eq!(service_spec.ports.unwrap()[0].port, 8080);

    // Those arguments, run here: the Pod's listen address and data folder become a loopback
    // port and a temp folder, the mounted Secrets become files written from the same Secrets,
    // and the registry, plain HTTP on loopback, needs --insecure-registry (a registry in a
    // cluster is HTTPS).
    let mut local = args.clone();
    let data = dir.path().join("trainer-data");
    local[2] = format!("127.0.0.1:{port}");
    local[4] = data.display().to_string();
    materialise_secret_mounts(&client, &ns, &pod, &dir.path().join("mounts"), &mut local).await;
    assert!(
        !local.iter().any(|a| a.starts_with("/etc/")),
        "every mounted file was materialised: {local:?}"
    );
    local.push("--insecure-registry".to_owned());
    let local: Vec<&str> = local.iter().map(String::as_str).collect();
    let trainer = spawn(dir.path(), "trainer", &local, &[]);
    wait_for(Duration::from_secs(30), || {
        http_get(port, "/healthz").is_some_and(|(c, _)| c == 200)
    })
    .unwrap_or_else(|| panic!("the trainer did not come up: {}", trainer.log()));

    // Samples need the submitter token from the callers Secret.
    let bearer = format!("Bearer {SUBMITTER}");
    let post = |body: String, auth: &str| {
        http_request(
            port,
            "POST",
            "/api/v1/samples",
            &[
                ("Content-Type", "application/json"),
                ("Authorization", auth),
            ],
            body.as_bytes(),
        )
        .unwrap()
    };
    let (code, _) = post(
        json!({"target": 50, "frames": [[0.9, 2.0, 0.5, 0.8, 0.9, 0.95]]}).to_string(),
        "Bearer wrong",
    );
    assert_eq!(code, 401);
    for i in 0..25 {
        let x = f64::from(i) / 25.0;
        let body = json!({
            "id": format!("s{i}"),
            "target": 30.0 + 60.0 * x,
            "frames": [[0.7 + 0.3 * x, 1.0 + x, 0.3 + 0.4 * x, 0.6 + 0.3 * x, 0.7 + 0.25 * x, 0.8 + 0.2 * x]],
        });
        let (code, text) = post(body.to_string(), &bearer);
        assert_eq!(code, 201, "{text}");
    }
    let pushed = wait_for(Duration::from_secs(60), || {
        http_get(port, "/status").is_some_and(|(_, body)| {
            serde_json::from_str::<Value>(&body)
                .is_ok_and(|s| s["checkpoints"][0]["pushed"] == true)
        })
    });
    pushed.unwrap_or_else(|| panic!("no checkpoint was pushed: {}", trainer.log()));
    let (_, body) = http_get(port, "/status").unwrap();
    let status: Value = serde_json::from_str(&body).unwrap();
    let version = status["checkpoints"][0]["version"]
        .as_str()
        .unwrap()
        .to_owned();
    let digest = status["checkpoints"][0]["digest"]
        .as_str()
        .unwrap()
        .to_owned();

    // The registry holds it under the run's tag.
    let (code, out, err) = run_cli(&[
        "model",
        "pull",
        &format!("oci://{output}:run2-{version}"),
        "--insecure-registry",
        "-o",
        dir.path().join("pulled.json").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), digest);

    // The run mirrors that trainer: its samples, its model version, and one event naming the
    // checkpoint's digest.
    let mut n = 0;
    let run = poll_until!(Duration::from_secs(40), "the run to mirror the trainer", {
        n += 1;
        if n % 10 == 1 {
            api.patch(
                "run2",
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"annotations": {"vmafx.dev/poke": n.to_string()}}}),
                ),
            )
            .await
            .unwrap();
        }
        let run = api.get("run2").await.unwrap();
        run.status
            .as_ref()
            .is_some_and(|s| {
                s.samples == 25 && s.model_version.as_deref() == Some(version.as_str())
            })
            .then_some(run)
    });
    assert_eq!(phase(&run), Some(TrainingPhase::Training));
    assert_eq!(
        condition(&run, "Available"),
        Some(("True".to_owned(), "TrainerApplied".to_owned()))
    );
    assert_eq!(condition(&run, "TrainerReachable").unwrap().0, "True");
    let note = poll_until!(Duration::from_secs(10), "the CheckpointWritten event", {
        Api::<Event>::namespaced(client.clone(), &ns)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("CheckpointWritten"))
            .and_then(|e| e.note)
    });
    // The trainer gives the model JSON's sha256 as the digest until the push lands, and the
    // event is sent when the operator first sees the checkpoint: either may be named.
    let model_sha = status["checkpoints"][0]["modelSha256"].as_str().unwrap();
    assert!(
        note.contains(&format!("(digest {digest})"))
            || note.contains(&format!("(digest sha256:{model_sha})"))
            || note.contains(&format!("(digest {model_sha})")),
        "{note} names neither {digest} nor {model_sha}"
    );

    // The trainer read feedback from the controller with the viewer token: no failed reads.
    let (code, metrics) = http_request(
        port,
        "GET",
        "/metrics",
        &[("Authorization", &format!("Bearer {VIEWER}"))],
        b"",
    )
    .unwrap();
    assert_eq!(
        code, 401,
        "the trainer's viewer is its own callers file's: {metrics}"
    );
    let (code, metrics) =
        http_request(port, "GET", "/metrics", &[("Authorization", &bearer)], b"").unwrap();
    assert_eq!(code, 200, "{metrics}");
    assert!(
        metrics.contains("vmafx_trainer_feedback_errors_total 0"),
        "{metrics}\n{}",
        trainer.log()
    );

    // A run the operator cannot run a trainer for says why, and gets none.
    let lacking: VmafxModelTraining = serde_json::from_value(json!({
        "apiVersion": "vmafx.dev/v1",
        "kind": "VmafxModelTraining",
        "metadata": {"name": "run3"},
        "spec": {"baseModel": "vmaf_v0.6.1", "outputRegistry": output},
    }))
    .unwrap();
    api.create(&PostParams::default(), &lacking).await.unwrap();
    poll_until!(Duration::from_secs(30), "run3 to say what it lacks", {
        let run = api.get("run3").await.unwrap();
        (condition(&run, "Available")
            == Some(("False".to_owned(), "MissingTokenSecret".to_owned())))
        .then_some(())
    });
    assert!(deployments.get_opt("run3-trainer").await.unwrap().is_none());

    // Deleting the run: this control plane runs no garbage collector (no controller-manager),
    // so what removes the trainer in a cluster is checked as far as it goes here: both objects
    // name the run as their controlling owner (above), and the run can be deleted with them
    // blocking (blockOwnerDeletion), which the operator's role allows.
    api.delete("run2", &Default::default()).await.unwrap();
    poll_until!(Duration::from_secs(10), "run2 to be gone", {
        api.get_opt("run2").await.unwrap().is_none().then_some(())
    });
    drop(trainer);
    drop(operator);
}
