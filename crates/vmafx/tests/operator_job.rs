//! End-to-end tests of the VmafxJob reconciler: a real control plane, a real `vmafx controller`
//! and `vmafx node` on loopback, and `vmafx operator` running under exactly the committed RBAC
//! roles. Jobs are created as custom resources and followed to their score, their failure and
//! their cancellation.

mod k8s;
mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use vmafx_operator::crd::{JobPhase, VmafxJob, VmafxJobSpec, DEFAULT_MODEL};

use support::*;

const FINALIZER: &str = "vmafx.dev/cancel-job";

fn job(name: &str, reference: &str, distorted: &str) -> VmafxJob {
    VmafxJob::new(name, VmafxJobSpec::new(reference, distorted))
}

/// [`job`] with [`support::SLOW_FEATURE`], so it runs for seconds.
fn slow_job(name: &str, reference: &str, distorted: &str) -> VmafxJob {
    let mut job = job(name, reference, distorted);
    job.spec.features = vec![support::SLOW_FEATURE.to_owned()];
    job
}

/// Polls the object until `check` holds; panics with `what` and the last object seen otherwise.
async fn wait_job(
    api: &Api<VmafxJob>,
    name: &str,
    timeout: Duration,
    what: &str,
    operator: &Proc,
    check: impl Fn(&VmafxJob) -> bool,
) -> VmafxJob {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < timeout {
        if let Some(obj) = api.get_opt(name).await.unwrap() {
            if check(&obj) {
                return obj;
            }
            last = Some(obj);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{name} never became {what} in {timeout:?}; last seen: {:#?}\noperator log:\n{}",
        last.map(|o| o.status),
        operator.log()
    );
}

fn phase(obj: &VmafxJob) -> Option<JobPhase> {
    obj.status.as_ref().and_then(|s| s.phase)
}

/// Every phase the object's status passes through, as a watch sees the writes.
fn record_phases(api: Api<VmafxJob>, name: &str) -> Arc<Mutex<Vec<JobPhase>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    tokio::spawn(async move {
        let mut stream = watcher(api, config).applied_objects().boxed();
        while let Some(Ok(obj)) = stream.next().await {
            if let Some(p) = phase(&obj) {
                let mut seen = sink.lock().unwrap();
                if seen.last() != Some(&p) {
                    seen.push(p);
                }
            }
        }
    });
    seen
}

/// The pooled VMAF `vmafx score` writes for the pair, as the literal text of its JSON report.
fn printed_score(reference: &Path, distorted: &Path) -> String {
    let text = score_report(reference, distorted);
    // Find the literal, so the comparison is to exactly the digits printed.
    let pooled = &text[text.find("\"pooled_metrics\"").expect("pooled_metrics")..];
    let vmaf = &pooled[pooled.find("\"vmaf\"").expect("pooled vmaf")..];
    let mean = &vmaf[vmaf.find("\"mean\"").expect("pooled vmaf mean") + "\"mean\"".len()..];
    let mean = mean.trim_start_matches([':', ' ']);
    let end = mean
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap();
    mean[..end].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_are_scored_failed_and_cancelled_through_the_controller() {
    let (env, client) = k8s::cluster().await;
    let ns = k8s::namespace(&client, "opjob").await;
    let dir = tempfile::tempdir().unwrap();
    let k8s::ScoringStack {
        controller,
        node,
        operator,
        ..
    } = k8s::start_scoring_stack(
        env,
        &client,
        &ns,
        dir.path(),
        &["--threads-per-job", "1"],
        &[],
    )
    .await;
    let api: Api<VmafxJob> = Api::namespaced(client.clone(), &ns);

    // 1. A slow pair goes Pending → Running → Succeeded, scored exactly as `vmafx score` scores it.
    let (reference, distorted) = slow_pair(dir.path());
    let phases = record_phases(api.clone(), "slow");
    api.create(
        &PostParams::default(),
        &slow_job("slow", &file_uri(&reference), &file_uri(&distorted)),
    )
    .await
    .unwrap();
    let printed = printed_score(&reference, &distorted);
    let done = wait_job(
        &api,
        "slow",
        Duration::from_secs(300),
        "Succeeded",
        &operator,
        |o| phase(o).is_some_and(|p| p.is_terminal()),
    )
    .await;
    let status = done.status.clone().unwrap();
    assert_eq!(status.phase, Some(JobPhase::Succeeded), "{status:#?}");
    assert_eq!(status.node.as_deref(), Some("worker"));
    let score = status.score.expect("a Succeeded job has a score");
    let digits = printed.split_once('.').map_or(0, |(_, f)| f.len());
    assert_eq!(
        format!("{score:.digits$}"),
        printed,
        "operator vs vmafx score"
    );
    assert_eq!(status.scores.get(DEFAULT_MODEL), Some(&score));
    // The metric of `spec.features` is pooled beside the model.
    assert!(
        status
            .scores
            .get("ciede2000")
            .is_some_and(|v| v.is_finite() && *v > 0.0),
        "{:?}",
        status.scores
    );
    assert_eq!(status.frames_total, Some(240));
    assert_eq!(status.frames_done, Some(240));
    assert!(status.start_time.is_some() && status.completion_time.is_some());
    let id = status.controller_job_id.clone().expect("controllerJobId");
    assert_eq!(job_json(&controller.grpc, &id)["state"], "COMPLETED");
    assert!(done
        .metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|f| f == FINALIZER)));
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Succeeded")
    );
    let seen = phases.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![JobPhase::Pending, JobPhase::Running, JobPhase::Succeeded],
        "phases the status went through"
    );

    // 3. Each transition is recorded as an event regarding the object.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reasons: Vec<String> = k8s::events_about(&client, &ns, "VmafxJob", "slow")
            .await
            .into_iter()
            .filter_map(|e| e.reason)
            .collect();
        if ["Submitted", "Running", "Succeeded"]
            .iter()
            .all(|r| reasons.iter().any(|x| x == r))
        {
            break;
        }
        assert!(Instant::now() < deadline, "events so far: {reasons:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 5. `kubectl get vmjob` shows the printer columns with the job's values.
    let out = std::process::Command::new(k8s::kubectl_path())
        .args(["--kubeconfig"])
        .arg(env.kubeconfig_path())
        .args(["get", "vmjob", "-n", &ns])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "PHASE", "SCORE", "NODE", "AGE"], "{table}");
    let row: Vec<&str> = lines
        .find(|l| l.starts_with("slow "))
        .unwrap_or_else(|| panic!("no row for slow: {table}"))
        .split_whitespace()
        .collect();
    assert_eq!(&row[..2], ["slow", "Succeeded"], "{table}");
    let shown: f64 = row[2].parse().unwrap();
    assert!((shown - score).abs() < 1e-3, "{table}");
    assert_eq!(row[3], "worker", "{table}");

    // Reconciling a finished job never resubmits it: its controller job stays the one it was.
    let again = api.get("slow").await.unwrap();
    assert_eq!(
        again.status.unwrap().controller_job_id.as_deref(),
        Some(id.as_str())
    );

    // 2. A missing input ends Failed, with a reason naming the file.
    let missing = dir.path().join("missing_dist.y4m");
    let (small_ref, _) = fixture_pair(dir.path(), "tiny_420_8bit");
    api.create(
        &PostParams::default(),
        &job(
            "missing",
            &file_uri(&small_ref),
            &format!("file://{}", missing.display()),
        ),
    )
    .await
    .unwrap();
    let failed = wait_job(
        &api,
        "missing",
        Duration::from_secs(180),
        "Failed",
        &operator,
        |o| phase(o).is_some_and(|p| p.is_terminal()),
    )
    .await;
    let status = failed.status.unwrap();
    assert_eq!(status.phase, Some(JobPhase::Failed), "{status:#?}");
    let reason = status.reason.unwrap();
    assert!(reason.contains("missing_dist.y4m"), "reason: {reason}");
    let mut failed_event = None;
    for _ in 0..50 {
        failed_event = k8s::events_about(&client, &ns, "VmafxJob", "missing")
            .await
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("Failed"));
        if failed_event.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let failed_event = failed_event.expect("a Failed event");
    assert_eq!(failed_event.type_.as_deref(), Some("Warning"));
    assert!(failed_event.note.unwrap().contains("missing_dist.y4m"));

    // An invalid spec is refused by the controller: Failed at once, with its words, and no retry.
    let mut bad = job("bad-backend", &file_uri(&small_ref), &file_uri(&small_ref));
    bad.spec.backend = "quantum".to_owned();
    api.create(&PostParams::default(), &bad).await.unwrap();
    let rejected = wait_job(
        &api,
        "bad-backend",
        Duration::from_secs(60),
        "Failed",
        &operator,
        |o| phase(o).is_some_and(|p| p.is_terminal()),
    )
    .await;
    let status = rejected.status.unwrap();
    assert_eq!(status.phase, Some(JobPhase::Failed));
    let reason = status.reason.unwrap();
    assert!(reason.contains("quantum"), "reason: {reason}");
    assert_eq!(status.controller_job_id, None);
    let version = rejected.metadata.resource_version.clone();
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        api.get("bad-backend")
            .await
            .unwrap()
            .metadata
            .resource_version,
        version,
        "a rejected job is left alone"
    );

    // 4. Deleting a running job cancels its controller job, then the object goes away.
    let (reference, distorted) = slow_pair(dir.path());
    api.create(
        &PostParams::default(),
        &slow_job("doomed", &file_uri(&reference), &file_uri(&distorted)),
    )
    .await
    .unwrap();
    let running = wait_job(
        &api,
        "doomed",
        Duration::from_secs(120),
        "Running",
        &operator,
        |o| phase(o) == Some(JobPhase::Running),
    )
    .await;
    let id = running.status.unwrap().controller_job_id.unwrap();
    api.delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let start = Instant::now();
    while api.get_opt("doomed").await.unwrap().is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "doomed was never deleted:\n{}",
            operator.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cancelled = wait_terminal(&controller.grpc, &id, Duration::from_secs(60));
    assert_eq!(cancelled["state"], "CANCELLED", "{cancelled}");

    // Deleting a pending job while the controller is down waits for it rather than orphaning the
    // controller job.
    let mut controller = controller;
    let grpc = controller.grpc.clone();
    let (grpc_port, http_port) = (
        grpc.rsplit(':').next().unwrap().parse::<u16>().unwrap(),
        controller.http_port,
    );
    // Without a node the job stays pending.
    drop(node);
    api.create(
        &PostParams::default(),
        &job("orphan", &file_uri(&reference), &file_uri(&distorted)),
    )
    .await
    .unwrap();
    let pending = wait_job(
        &api,
        "orphan",
        Duration::from_secs(60),
        "submitted",
        &operator,
        |o| {
            o.status
                .as_ref()
                .is_some_and(|s| s.controller_job_id.is_some())
        },
    )
    .await;
    let id = pending.status.unwrap().controller_job_id.unwrap();
    controller.proc.kill9();
    api.delete("orphan", &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let held = api.get_opt("orphan").await.unwrap();
    assert!(
        held.is_some_and(|o| o.metadata.deletion_timestamp.is_some()),
        "deletion must wait for the controller"
    );
    let controller = start_controller(
        dir.path(),
        &dir.path().join("data"),
        grpc_port,
        http_port,
        &[],
    );
    let start = Instant::now();
    while api.get_opt("orphan").await.unwrap().is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "orphan was never deleted:\n{}",
            operator.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job_json(&controller.grpc, &id)["state"], "CANCELLED");
}
