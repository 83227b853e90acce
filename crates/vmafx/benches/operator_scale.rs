//! Scale benchmark of the VmafxJob reconciler: N VmafxJobs (1,000 by default) created at once on
//! a real control plane, scored by a real controller and node, followed by `vmafx operator` under
//! the committed RBAC roles. It prints the Kubernetes API requests and controller calls the
//! operator made per job, and the delay from the controller finishing a job to the object showing
//! it, against the seeds' ten-second poll. It fails when a job does not end, a job fails, or the
//! p99 delay exceeds one second.
//!
//! `cargo bench -p vmafx --bench operator_scale` (needs `test/k8s/testenv.sh build` first).
//! `VMAFX_BENCH_JOBS` and `VMAFX_BENCH_SLOTS` change the number of jobs and node slots.

#[path = "../tests/k8s/mod.rs"]
mod k8s;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use vmafx_api::v1;
use vmafx_api::v1::job_service_client::JobServiceClient;
use vmafx_operator::crd::{JobPhase, VmafxJob, VmafxJobSpec};

/// The seeds' operator polled each job every ten seconds.
const SEED_POLL: Duration = Duration::from_secs(10);

/// The target for the completion → object delay.
const TARGET_P99: Duration = Duration::from_secs(1);

/// Longest the whole burst may take to end.
const DEADLINE: Duration = Duration::from_secs(1800);

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a whole number")),
        Err(_) => default,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// When each object was first seen terminal by a watch, and in which phase.
type Ended = Arc<Mutex<HashMap<String, (JobPhase, i64)>>>;

fn watch_ends(api: Api<VmafxJob>) -> Ended {
    let ended: Ended = Arc::default();
    let sink = Arc::clone(&ended);
    tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default())
            .applied_objects()
            .boxed();
        while let Some(next) = stream.next().await {
            let Ok(obj) = next else { continue };
            let seen = now_ms();
            let phase = obj.status.as_ref().and_then(|s| s.phase);
            if let (Some(phase), Some(name)) = (phase, obj.metadata.name.clone()) {
                if phase.is_terminal() {
                    sink.lock().unwrap().entry(name).or_insert((phase, seen));
                }
            }
        }
    });
    ended
}

/// The sums of each counter family in the operator's metrics, by the labels of interest.
#[derive(Default)]
struct Counts {
    /// `rest_client_requests_total` by "METHOD resource".
    api: BTreeMap<String, f64>,
    /// `vmafx_operator_controller_requests_total` by rpc.
    rpc: BTreeMap<String, f64>,
}

fn label<'a>(line: &'a str, name: &str) -> &'a str {
    let key = format!("{name}=\"");
    line.find(&key)
        .map(|at| &line[at + key.len()..])
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
}

fn scrape(port: u16) -> Counts {
    let (code, text) = support::http_get(port, "/metrics").expect("the operator serves metrics");
    assert_eq!(code, 200, "metrics: {text}");
    let mut counts = Counts::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value: f64 = value.parse().unwrap_or(0.0);
        if series.starts_with("rest_client_requests_total{") {
            let key = format!("{} {}", label(series, "method"), label(series, "resource"));
            *counts.api.entry(key).or_default() += value;
        } else if series.starts_with("vmafx_operator_controller_requests_total{") {
            *counts
                .rpc
                .entry(label(series, "rpc").to_owned())
                .or_default() += value;
        }
    }
    counts
}

fn difference(
    after: &BTreeMap<String, f64>,
    before: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect()
}

/// The value at quantile `q` of sorted `values` (nearest rank).
fn quantile(sorted: &[i64], q: f64) -> i64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Every controller job that finished, by id: its finish time.
async fn finished_jobs(grpc: &str) -> HashMap<String, i64> {
    let mut client = JobServiceClient::connect(grpc.to_owned())
        .await
        .expect("failed to connect to the controller");
    let mut finished = HashMap::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_jobs(v1::ListJobsRequest {
                states: Vec::new(),
                node_id: String::new(),
                page_size: 500,
                page_token: token,
            })
            .await
            .expect("failed to list the controller's jobs")
            .into_inner();
        for job in page.jobs {
            finished.insert(job.id, job.finished_ms);
        }
        if page.next_page_token.is_empty() {
            return finished;
        }
        token = page.next_page_token;
    }
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("failed to start tokio");
    runtime.block_on(bench());
}

async fn bench() {
    let jobs = env_number("VMAFX_BENCH_JOBS", 1000);
    let slots = env_number("VMAFX_BENCH_SLOTS", 4);
    let (env, client) = k8s::cluster().await;
    let ns = k8s::namespace(&client, "opscale").await;
    let dir = tempfile::tempdir().expect("a scratch directory");
    let slots_arg = slots.to_string();
    let k8s::ScoringStack {
        controller,
        node,
        operator,
        metrics_port,
    } = k8s::start_scoring_stack(
        env,
        &client,
        &ns,
        dir.path(),
        &["--capacity", &slots_arg, "--threads-per-job", "1"],
        &[("VMAFX_LOG_LEVEL", "info")],
    )
    .await;
    let (reference, distorted) = support::fixture_pair(dir.path(), "tiny_420_8bit");
    let (reference, distorted) = (support::file_uri(&reference), support::file_uri(&distorted));

    let api: Api<VmafxJob> = Api::namespaced(client.clone(), &ns);
    let ended = watch_ends(api.clone());
    // Let the watch list the (empty) namespace before anything is created.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = scrape(metrics_port);

    println!("creating {jobs} VmafxJobs in {ns} (node slots: {slots})");
    let started = Instant::now();
    futures::stream::iter(0..jobs)
        .map(|i| {
            let api = api.clone();
            let obj = VmafxJob::new(
                &format!("job-{i:05}"),
                VmafxJobSpec::new(reference.clone(), distorted.clone()),
            );
            async move { api.create(&PostParams::default(), &obj).await }
        })
        .buffer_unordered(64)
        .try_collect::<Vec<_>>()
        .await
        .expect("failed to create a VmafxJob");
    let created = started.elapsed();
    println!("created in {:.1} s", created.as_secs_f64());

    let mut last_report = Instant::now();
    loop {
        let done = ended.lock().unwrap().len();
        if done == jobs {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "only {done} of {jobs} jobs ended within {DEADLINE:?}; operator log:\n{}",
            operator.log()
        );
        if last_report.elapsed() >= Duration::from_secs(15) {
            println!(
                "  {done}/{jobs} ended after {:.0} s",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all_ended = started.elapsed();
    // The last events are recorded after the last status write; let them land before counting.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = scrape(metrics_port);

    let ended = ended.lock().unwrap().clone();
    let objects = api
        .list(&Default::default())
        .await
        .expect("failed to list the VmafxJobs");
    let finished = finished_jobs(&controller.grpc).await;
    let mut phases: BTreeMap<String, usize> = BTreeMap::new();
    let mut delays = Vec::with_capacity(jobs);
    let mut scores = BTreeMap::new();
    for obj in &objects.items {
        let name = obj.metadata.name.clone().unwrap_or_default();
        let status = obj.status.clone().unwrap_or_default();
        let (phase, seen_ms) = ended[&name];
        *phases.entry(format!("{phase:?}")).or_default() += 1;
        if let Some(score) = status.score {
            *scores.entry(format!("{score}")).or_insert(0usize) += 1;
        }
        let id = status
            .controller_job_id
            .unwrap_or_else(|| panic!("{name} ended without a controller job id"));
        let finished_ms = finished[&id];
        assert!(
            finished_ms > 0,
            "controller job {id} of {name} has no finish time"
        );
        delays.push(seen_ms - finished_ms);
    }
    delays.sort_unstable();
    let api_calls = difference(&after.api, &before.api);
    let rpc_calls = difference(&after.rpc, &before.rpc);
    let api_total: f64 = api_calls.values().sum();
    let rpc_total: f64 = rpc_calls.values().sum();
    let per_job = |n: f64| n / jobs as f64;
    let p50 = quantile(&delays, 0.50);
    let p90 = quantile(&delays, 0.90);
    let p99 = quantile(&delays, 0.99);
    let max = *delays.last().unwrap_or(&0);

    println!();
    println!("jobs                      {jobs}");
    println!("phases                    {phases:?}");
    println!(
        "all ended after           {:.1} s ({:.1} jobs/s, creation took {:.1} s)",
        all_ended.as_secs_f64(),
        jobs as f64 / all_ended.as_secs_f64(),
        created.as_secs_f64()
    );
    println!(
        "Kubernetes API requests   {api_total:.0} ({:.2} per job)",
        per_job(api_total)
    );
    for (what, n) in &api_calls {
        println!("  {what:<32} {n:>7.0}  {:>6.2}/job", per_job(*n));
    }
    println!(
        "controller calls          {rpc_total:.0} ({:.2} per job)",
        per_job(rpc_total)
    );
    for (rpc, n) in &rpc_calls {
        println!("  {rpc:<32} {n:>7.0}  {:>6.2}/job", per_job(*n));
    }
    println!(
        "completion -> CR delay    p50 {p50} ms, p90 {p90} ms, p99 {p99} ms, max {max} ms (target p99 <= {} ms)",
        TARGET_P99.as_millis()
    );
    println!(
        "seeds' poll / p99         {:.1}x ({} ms poll)",
        SEED_POLL.as_millis() as f64 / p99.max(1) as f64,
        SEED_POLL.as_millis()
    );

    let mut failures = Vec::new();
    if phases.len() != 1 || !phases.contains_key("Succeeded") {
        failures.push(format!("not every job succeeded: {phases:?}"));
    }
    if scores.len() != 1 {
        failures.push(format!(
            "one pair scored differently across jobs: {scores:?}"
        ));
    }
    if objects.items.len() != jobs {
        failures.push(format!(
            "{} objects listed, {jobs} created",
            objects.items.len()
        ));
    }
    if p99 > TARGET_P99.as_millis() as i64 {
        failures.push(format!(
            "p99 delay {p99} ms exceeds {} ms",
            TARGET_P99.as_millis()
        ));
    }
    if failures.is_empty() {
        println!("operator_scale: PASS");
    } else {
        for failure in &failures {
            eprintln!("operator_scale: FAIL: {failure}");
        }
        // Keep the logs for a look, and stop the services before exiting.
        let kept = dir.keep();
        drop((operator, node, controller));
        eprintln!("logs kept in {}", kept.display());
        std::process::exit(1);
    }
}
