//! Durable submissions per second through the controller's gRPC API with authentication on,
//! against the same controller with authentication off, measured in the same run: a real
//! SQLite file on disk (each submission acknowledged only after its WAL is fsynced), real
//! loopback connections, concurrent clients each sending `authorization: Bearer TOKEN`.
//!
//! `cargo bench -p vmafx --bench service_submit`. `VMAFX_BENCH_JOBS` (default 5,000) and
//! `VMAFX_BENCH_CLIENTS` (default 32) change the load. It fails below the floor of 2,000
//! durable submissions/s with authentication on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataValue;
use vmafx_api::v1;
use vmafx_api::v1::job_service_client::JobServiceClient;
use vmafx_controller::{Authenticator, Controller, ControllerConfig, ServeOptions};
use vmafx_queue::{QueueConfig, SqliteStore};

/// Issue 12's floor with authentication on.
const FLOOR: f64 = 2_000.0;

const TOKEN: &str = "bench-submitter-0123456789";

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a whole number")),
        Err(_) => default,
    }
}

struct Run {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// Submits `jobs` jobs from `clients` concurrent clients to a fresh controller.
async fn run(dir: &std::path::Path, auth: bool, jobs: usize, clients: usize) -> Run {
    let data = dir.join(if auth { "auth" } else { "open" });
    std::fs::create_dir_all(&data).expect("data folder");
    let store = SqliteStore::open(data.join("vmafx.db"), QueueConfig::default()).expect("store");
    let controller = Controller::new(Arc::new(store), ControllerConfig::default());
    let mut options = ServeOptions::open(
        "127.0.0.1:0".parse().expect("address"),
        "127.0.0.1:0".parse().expect("address"),
    );
    if auth {
        let tokens = data.join("tokens.csv");
        std::fs::write(&tokens, format!("{TOKEN},bench,submitter\n")).expect("token file");
        options.auth = Authenticator::from_token_file(&tokens).expect("token file");
    }
    let shutdown = CancellationToken::new();
    let bound = vmafx_controller::serve(controller, options, shutdown.clone())
        .await
        .expect("serve");
    let url = format!("http://{}", bound.grpc_addr);
    let bearer: MetadataValue<_> = format!("Bearer {TOKEN}").parse().expect("header");

    let began = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let url = url.clone();
            let bearer = bearer.clone();
            let share = jobs / clients + usize::from(c < jobs % clients);
            tokio::spawn(async move {
                let mut client = JobServiceClient::connect(url).await.expect("connect");
                let mut latencies = Vec::with_capacity(share);
                for i in 0..share {
                    let mut request = tonic::Request::new(v1::SubmitJobRequest {
                        spec: Some(v1::JobSpec {
                            reference: format!("s3://bench/ref/{c}/{i}.mp4"),
                            distorted: format!("s3://bench/dis/{c}/{i}.mp4"),
                            models: vec!["version=vmaf_v0.6.1".into()],
                            priority: (i % 4) as i32,
                            ..v1::JobSpec::default()
                        }),
                        idempotency_key: format!("bench-{c}-{i}"),
                    });
                    if auth {
                        request
                            .metadata_mut()
                            .insert("authorization", bearer.clone());
                    }
                    let sent = Instant::now();
                    client.submit_job(request).await.expect("submit");
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(jobs);
    for task in tasks {
        latencies.extend(task.await.expect("client"));
    }
    let elapsed = began.elapsed();
    shutdown.cancel();
    bound.wait().await.expect("controller stopped");
    latencies.sort();
    let at = |q: f64| {
        latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    Run {
        per_second: jobs as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn main() {
    let jobs = env_number("VMAFX_BENCH_JOBS", 5_000).max(1);
    let clients = env_number("VMAFX_BENCH_CLIENTS", 32).max(1);
    let dir = tempfile::tempdir().expect("temporary directory");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Alternate the two so a noisy neighbour hurts both alike.
    let open = runtime.block_on(run(dir.path(), false, jobs, clients));
    let authed = runtime.block_on(run(dir.path(), true, jobs, clients));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "service_submit: {jobs} durable submissions from {clients} gRPC clients, SQLite on disk"
    );
    println!(
        "  auth off: {:>8.0} submissions/s  p50 {:.2} ms  p99 {:.2} ms",
        open.per_second,
        ms(open.p50),
        ms(open.p99)
    );
    println!(
        "  auth on:  {:>8.0} submissions/s  p50 {:.2} ms  p99 {:.2} ms",
        authed.per_second,
        ms(authed.p50),
        ms(authed.p99)
    );
    println!(
        "  auth on ÷ auth off: {:.2}; floor {FLOOR:.0}/s with auth on: {}",
        authed.per_second / open.per_second,
        if authed.per_second >= FLOOR {
            "met"
        } else {
            "MISSED"
        }
    );
    if authed.per_second < FLOOR {
        std::process::exit(1);
    }
}
