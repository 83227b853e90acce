//! Durability of the queue under `kill -9`: a controller killed with 1,000 jobs queued loses
//! none of them, and after a restart every one completes exactly once.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use support::*;
use vmafx_api::v1;
use vmafx_api::v1::job_service_client::JobServiceClient;

const JOBS: usize = 1000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Every job in the store, following pages.
async fn all_jobs(client: &mut JobServiceClient<tonic::transport::Channel>) -> Vec<v1::Job> {
    let mut jobs = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_jobs(v1::ListJobsRequest {
                page_size: 1000,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        jobs.extend(page.jobs);
        if page.next_page_token.is_empty() {
            return jobs;
        }
        token = page.next_page_token;
    }
}

#[test]
fn a_killed_controller_loses_no_queued_job() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, distorted) = fixture_pair(dir.path(), "tiny_420_8bit");
    let (grpc_port, http_port) = (free_port(), free_port());
    let data = dir.path().join("data");
    let extra = ["--lease-secs", "5", "--node-timeout-secs", "6"];
    let mut controller = start_controller(dir.path(), &data, grpc_port, http_port, &extra);
    let grpc = controller.grpc.clone();
    let spec = v1::JobSpec {
        reference: file_uri(&reference),
        distorted: file_uri(&distorted),
        ..Default::default()
    };

    let rt = runtime();
    let acknowledged: Vec<String> = rt.block_on(async {
        let client = JobServiceClient::connect(grpc.clone()).await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..16 {
            let mut client = client.clone();
            let spec = spec.clone();
            tasks.spawn(async move {
                let mut ids = Vec::new();
                for i in (worker..JOBS).step_by(16) {
                    let response = client
                        .submit_job(v1::SubmitJobRequest {
                            spec: Some(spec.clone()),
                            idempotency_key: format!("job-{i}"),
                        })
                        .await
                        .unwrap()
                        .into_inner();
                    assert!(response.created);
                    ids.push(response.job.unwrap().id);
                }
                ids
            });
        }
        let mut ids = Vec::new();
        while let Some(batch) = tasks.join_next().await {
            ids.extend(batch.unwrap());
        }
        ids
    });
    assert_eq!(acknowledged.len(), JOBS);

    // A node starts working, and the controller dies mid-stream.
    let mut node = start_node(
        dir.path(),
        &grpc,
        "n1",
        &["--capacity", "2", "--threads-per-job", "1"],
    );
    std::thread::sleep(Duration::from_millis(700));
    controller.proc.kill9();
    let controller = start_controller(dir.path(), &data, grpc_port, http_port, &extra);

    let jobs = rt.block_on(async {
        let mut client = JobServiceClient::connect(grpc.clone()).await.unwrap();
        // Resubmitting with the same keys after the restart creates nothing new.
        for i in [0usize, 499, 999] {
            let again = client
                .submit_job(v1::SubmitJobRequest {
                    spec: Some(spec.clone()),
                    idempotency_key: format!("job-{i}"),
                })
                .await
                .unwrap()
                .into_inner();
            assert!(!again.created, "key job-{i} was lost");
        }
        let start = Instant::now();
        loop {
            let jobs = all_jobs(&mut client).await;
            let done = jobs
                .iter()
                .filter(|j| j.state == v1::JobState::Completed as i32)
                .count();
            if done == JOBS || start.elapsed() > Duration::from_secs(600) {
                return jobs;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    node.kill9();
    assert_eq!(jobs.len(), JOBS, "{}", controller.proc.log());
    let ids: HashSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids.len(), JOBS, "duplicate jobs");
    for id in &acknowledged {
        assert!(
            ids.contains(id.as_str()),
            "acknowledged job {id} is missing"
        );
    }
    let expected = jobs
        .iter()
        .find_map(|j| j.summary.as_ref())
        .and_then(|s| s.models.first())
        .map(|m| m.mean)
        .expect("a completed summary");
    for job in &jobs {
        assert_eq!(job.state, v1::JobState::Completed as i32, "{job:?}");
        let summary = job
            .summary
            .as_ref()
            .expect("each completed job has its result");
        assert_eq!(summary.models.len(), 1);
        assert_eq!(summary.models[0].mean, expected);
        assert!(job.attempts >= 1 && job.attempts <= 2, "{job:?}");
    }
}
