//! VmafxModelTraining against a real control plane: a trainer served by the test (keeping the
//! docs/TRAINER_STATUS.md contract) is mirrored into the status, and each new checkpoint is
//! announced by exactly one `CheckpointWritten` event, also across an operator restart. The
//! trainer is named by an in-cluster Service URL (VMAFX_OPERATOR_RESOLVE points it at loopback);
//! an oversized answer and an endpoint outside the run's namespace are refused.

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

#[tokio::test(flavor = "multi_thread")]
async fn training_status_and_checkpoint_events() {
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
