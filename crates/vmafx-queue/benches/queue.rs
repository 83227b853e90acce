//! Queue throughput on a real SQLite file: durable submissions per second from concurrent
//! submitters, then claim latency with many simulated nodes doing claim → complete (no scoring).
//!
//! Run with `cargo bench -p vmafx-queue`. Sizes can be changed with VMAFX_QUEUE_BENCH_JOBS,
//! VMAFX_QUEUE_BENCH_SUBMITTERS and VMAFX_QUEUE_BENCH_NODES. It reports, it does not judge.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vmafx_queue::{
    Backend, JobSpec, JobStore, JobSummary, ModelScore, NodeInfo, QueueConfig, SqliteStore,
};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

struct Stats {
    count: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| {
        if samples.is_empty() {
            Duration::ZERO
        } else {
            samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1]
        }
    };
    Stats {
        count: samples.len(),
        p50: at(0.50),
        p99: at(0.99),
        max: samples.last().copied().unwrap_or_default(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let jobs = env_or("VMAFX_QUEUE_BENCH_JOBS", 10_000);
    let submitters = env_or("VMAFX_QUEUE_BENCH_SUBMITTERS", 16).max(1);
    let nodes = env_or("VMAFX_QUEUE_BENCH_NODES", 100).max(1);
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Arc::new(
        SqliteStore::open(dir.path().join("queue.db"), QueueConfig::default()).expect("open"),
    );

    // Phase 1: durable submissions from concurrent submitters.
    let start = Arc::new(Barrier::new(submitters + 1));
    let threads: Vec<_> = (0..submitters)
        .map(|t| {
            let store = Arc::clone(&store);
            let start = Arc::clone(&start);
            let share = jobs / submitters + usize::from(t < jobs % submitters);
            std::thread::spawn(move || {
                start.wait();
                let mut latencies = Vec::with_capacity(share);
                for i in 0..share {
                    let mut spec = JobSpec::new(
                        format!("s3://bench/ref/{t}/{i}.mp4"),
                        format!("s3://bench/dis/{t}/{i}.mp4"),
                    );
                    spec.models = vec!["version=vmaf_v0.6.1".to_owned()];
                    spec.priority = (i % 4) as i32;
                    spec.idempotency_key = Some(format!("bench-{t}-{i}"));
                    let began = Instant::now();
                    store.submit(spec, now_ms()).expect("submit");
                    latencies.push(began.elapsed());
                }
                latencies
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let submit_latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|thread| thread.join().expect("submitter"))
        .collect();
    let submit_elapsed = began.elapsed();
    let submit = stats(submit_latencies);

    // Phase 2: simulated nodes claim one job at a time and complete it at once.
    let node_ids: Vec<String> = (0..nodes)
        .map(|n| {
            let info = NodeInfo {
                name: format!("bench-node-{n}"),
                vendor: "cpu".to_owned(),
                backends: vec![Backend::Cpu],
                device: "simulated".to_owned(),
                capacity: 1,
                version: "bench".to_owned(),
                address: None,
            };
            store
                .register_node(info, now_ms())
                .expect("register")
                .node
                .id
        })
        .collect();
    let start = Arc::new(Barrier::new(nodes + 1));
    let threads: Vec<_> = node_ids
        .into_iter()
        .map(|node_id| {
            let store = Arc::clone(&store);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                let mut latencies = Vec::new();
                loop {
                    let began = Instant::now();
                    let leases = store.claim(&node_id, 1, now_ms()).expect("claim");
                    latencies.push(began.elapsed());
                    // Every job is eligible at once, so an empty claim means the queue is dry.
                    let Some(lease) = leases.into_iter().next() else {
                        break;
                    };
                    let summary = JobSummary {
                        frames: 48,
                        models: vec![ModelScore {
                            model: "vmaf".to_owned(),
                            mean: 93.1,
                            min: 88.0,
                            max: 97.5,
                            harmonic_mean: 93.0,
                        }],
                        metrics: Vec::new(),
                    };
                    let frames = br#"{"frames":[{"frameNum":0,"metrics":{"vmaf":93.1}}]}"#;
                    store
                        .complete(
                            &lease.job.id,
                            lease.token,
                            // As the controller calls it with authentication on.
                            Some(&node_id),
                            summary,
                            frames.to_vec(),
                            now_ms(),
                        )
                        .expect("complete");
                }
                latencies
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let claim_latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|thread| thread.join().expect("node"))
        .collect();
    let drain_elapsed = began.elapsed();
    let claim = stats(claim_latencies);
    let counts = store.counts().expect("counts");

    println!();
    println!("vmafx-queue benchmark (SQLite WAL, group commit, WAL fsync before each durable ack)");
    println!(
        "jobs {jobs}, submitters {submitters}, nodes {nodes}, cores {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("| measure                         | value            | target      |");
    println!("|---------------------------------|------------------|-------------|");
    println!(
        "| durable submissions/s           | {:>16.0} | >= 2,000    |",
        jobs as f64 / submit_elapsed.as_secs_f64()
    );
    println!(
        "| submit latency p50              | {:>16} |             |",
        ms(submit.p50)
    );
    println!(
        "| submit latency p99              | {:>16} |             |",
        ms(submit.p99)
    );
    println!(
        "| submit latency max              | {:>16} |             |",
        ms(submit.max)
    );
    println!(
        "| claims made (incl. final empty) | {:>16} |             |",
        claim.count
    );
    println!(
        "| claim latency p50               | {:>16} |             |",
        ms(claim.p50)
    );
    println!(
        "| claim latency p99               | {:>16} | <= 20 ms    |",
        ms(claim.p99)
    );
    println!(
        "| claim latency max               | {:>16} |             |",
        ms(claim.max)
    );
    println!(
        "| claim+complete jobs/s           | {:>16.0} |             |",
        counts.completed as f64 / drain_elapsed.as_secs_f64()
    );
    println!();
    if counts.completed != jobs as u64 || counts.total() != jobs as u64 {
        eprintln!("error: expected {jobs} completed jobs, found {counts:?}");
        std::process::exit(1);
    }
}
