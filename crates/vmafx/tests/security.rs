//! The security suite: each attack of issue 12 tried against real `vmafx` processes on loopback
//! (a real SQLite store, real nodes), asserting the refusal — and that the honest path still
//! works. Raw gRPC calls carry exactly the token each case needs.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::*;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request};
use vmafx_api::v1;
use vmafx_api::v1::job_service_client::JobServiceClient;
use vmafx_api::v1::node_service_client::NodeServiceClient;

const ADMIN: &str = "admin-0123456789abcdef";
const VIEWER: &str = "viewer-0123456789abcdef";
const SUBMITTER: &str = "submitter-0123456789abcdef";
const NODE_A: &str = "node-a-0123456789abcdef";
const NODE_B: &str = "node-b-0123456789abcdef";

/// Writes the suite's token file into `dir`.
fn token_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("tokens.csv");
    std::fs::write(
        &path,
        format!(
            "# TOKEN,NAME,ROLE\n{ADMIN},alice,admin\n{VIEWER},grafana,viewer\n\
             {SUBMITTER},ci,submitter\n{NODE_A},node-a,node\n{NODE_B},node-b,node\n"
        ),
    )
    .unwrap();
    path
}

/// A controller with authentication on, its data and tokens under `dir`.
fn secured_controller(dir: &Path, extra: &[&str]) -> ControllerProc {
    let tokens = token_file(dir);
    let mut args = vec!["--auth-token-file", tokens.to_str().unwrap()];
    args.extend_from_slice(extra);
    start_controller(dir, &dir.join("data"), free_port(), free_port(), &args)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A request carrying `token` (none when empty).
fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    if !token.is_empty() {
        let value: MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    request
}

async fn channel(grpc: &str) -> Channel {
    Channel::from_shared(grpc.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn jobs(grpc: &str) -> JobServiceClient<Channel> {
    JobServiceClient::new(channel(grpc).await).max_decoding_message_size(64 << 20)
}

async fn nodes(grpc: &str) -> NodeServiceClient<Channel> {
    NodeServiceClient::new(channel(grpc).await).max_encoding_message_size(64 << 20)
}

fn spec(reference: &str, distorted: &str) -> v1::JobSpec {
    v1::JobSpec {
        reference: reference.into(),
        distorted: distorted.into(),
        ..v1::JobSpec::default()
    }
}

fn submit_request(spec: v1::JobSpec) -> v1::SubmitJobRequest {
    v1::SubmitJobRequest {
        spec: Some(spec),
        idempotency_key: String::new(),
    }
}

fn node_info(name: &str) -> v1::NodeInfo {
    v1::NodeInfo {
        name: name.into(),
        vendor: "cpu".into(),
        backends: vec!["cpu".into()],
        device: "test".into(),
        capacity: 1,
        version: "test".into(),
        address: String::new(),
    }
}

#[test]
fn callers_without_a_valid_token_or_role_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let controller = secured_controller(dir.path(), &[]);
    let grpc = controller.grpc.clone();
    runtime().block_on(async {
        let mut client = jobs(&grpc).await;
        let job = spec("s3://clips/ref.y4m", "s3://clips/dist.mp4");
        // No token, an unknown token: UNAUTHENTICATED, for client and node RPCs alike.
        for token in ["", "not-a-known-token-at-all"] {
            let err = client
                .submit_job(authed(token, submit_request(job.clone())))
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::Unauthenticated, "{token:?}: {err}");
            let err = client
                .list_jobs(authed(token, v1::ListJobsRequest::default()))
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::Unauthenticated);
            let err = nodes(&grpc)
                .await
                .register_node(authed(
                    token,
                    v1::RegisterNodeRequest {
                        info: Some(node_info("node-a")),
                    },
                ))
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::Unauthenticated);
        }
        // The wrong role: PERMISSION_DENIED, naming who and what.
        let err = client
            .submit_job(authed(VIEWER, submit_request(job.clone())))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err}");
        assert!(err.message().contains("grafana (role viewer)"), "{err}");
        let err = client
            .list_jobs(authed(NODE_A, v1::ListJobsRequest::default()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err}");
        let err = nodes(&grpc)
            .await
            .register_node(authed(
                SUBMITTER,
                v1::RegisterNodeRequest {
                    info: Some(node_info("ci")),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err}");
        // A node token registers only under its own name.
        let err = nodes(&grpc)
            .await
            .register_node(authed(
                NODE_A,
                v1::RegisterNodeRequest {
                    info: Some(node_info("node-b")),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err}");

        // The right roles work.
        let submitted = client
            .submit_job(authed(SUBMITTER, submit_request(job.clone())))
            .await
            .unwrap()
            .into_inner();
        let id = submitted.job.unwrap().id;
        client
            .get_job(authed(VIEWER, v1::GetJobRequest { id: id.clone() }))
            .await
            .unwrap();
        let err = client
            .cancel_job(authed(VIEWER, v1::CancelJobRequest { id: id.clone() }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        // Feedback needs the submitter role, like submit.
        let err = client
            .submit_feedback(authed(
                VIEWER,
                v1::SubmitFeedbackRequest {
                    job_id: id.clone(),
                    target: 50.0,
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err}");
        client
            .cancel_job(authed(ADMIN, v1::CancelJobRequest { id }))
            .await
            .unwrap();
    });

    // HTTP: 401 without a token (with a Bearer challenge), 403 with the wrong role.
    let port = controller.http_port;
    let (code, body) = http_get(port, "/api/v1/jobs").unwrap();
    assert_eq!(code, 401, "{body}");
    let (code, _) = http_get(port, "/metrics").unwrap();
    assert_eq!(code, 401);
    let viewer = format!("Bearer {VIEWER}");
    let (code, body) = http_request(
        port,
        "POST",
        "/api/v1/jobs",
        &[
            ("Authorization", &viewer),
            ("Content-Type", "application/json"),
        ],
        br#"{"reference":"s3://a/r.y4m","distorted":"s3://a/d.y4m"}"#,
    )
    .unwrap();
    assert_eq!(code, 403, "{body}");
    let (code, body) = http_request(
        port,
        "GET",
        "/api/v1/jobs",
        &[("Authorization", &viewer)],
        b"",
    )
    .unwrap();
    assert_eq!(code, 200, "{body}");
    // Health, readiness and the page stay public: probes carry no token.
    assert_eq!(http_get(port, "/healthz").unwrap().0, 200);
    assert_eq!(http_get(port, "/readyz").unwrap().0, 200);
    assert_eq!(http_get(port, "/").unwrap().0, 200);
}

#[test]
fn a_node_acts_only_as_itself_and_results_must_be_finite() {
    let dir = tempfile::tempdir().unwrap();
    let controller = secured_controller(dir.path(), &[]);
    let grpc = controller.grpc.clone();
    runtime().block_on(async {
        let mut client = jobs(&grpc).await;
        let mut node_client = nodes(&grpc).await;
        let register = |token: &'static str, name: &'static str| {
            let mut node_client = node_client.clone();
            async move {
                node_client
                    .register_node(authed(
                        token,
                        v1::RegisterNodeRequest {
                            info: Some(node_info(name)),
                        },
                    ))
                    .await
                    .unwrap()
                    .into_inner()
                    .id
            }
        };
        let a = register(NODE_A, "node-a").await;
        let b = register(NODE_B, "node-b").await;
        client
            .submit_job(authed(
                SUBMITTER,
                submit_request(spec("s3://clips/ref.y4m", "s3://clips/dist.mp4")),
            ))
            .await
            .unwrap();

        // Node A cannot claim, heartbeat or report as node B.
        let err = node_client
            .claim_job(authed(
                NODE_A,
                v1::ClaimJobRequest {
                    node_id: b.clone(),
                    max: 1,
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err}");
        let err = node_client
            .heartbeat(authed(
                NODE_A,
                v1::HeartbeatRequest {
                    node_id: b.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err}");

        let lease = node_client
            .claim_job(authed(
                NODE_B,
                v1::ClaimJobRequest {
                    node_id: b.clone(),
                    max: 1,
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .leases
            .pop()
            .expect("node B got the job");
        let job_id = lease.job.as_ref().unwrap().id.clone();
        let summary = |mean: f64| v1::JobSummary {
            frames: 1,
            models: vec![v1::ModelScore {
                model: "vmaf".into(),
                mean,
                min: mean,
                max: mean,
                harmonic_mean: mean,
            }],
            metrics: Vec::new(),
        };
        let complete = |node_id: &str, mean: f64| v1::CompleteJobRequest {
            job_id: job_id.clone(),
            token: lease.token,
            summary: Some(summary(mean)),
            frames_json: b"{}".to_vec(),
            node_id: node_id.to_string(),
        };
        // Node A, knowing B's job and even its lease token, cannot complete it: not as itself
        // (it does not hold the lease) and not as B (it is not B).
        let err = node_client
            .complete_job(authed(NODE_A, complete(&a, 1.0)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err}");
        let err = node_client
            .complete_job(authed(NODE_A, complete(&b, 1.0)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err}");
        let err = node_client
            .fail_job(authed(
                NODE_A,
                v1::FailJobRequest {
                    job_id: job_id.clone(),
                    token: lease.token,
                    error: "made up".into(),
                    retryable: false,
                    node_id: a.clone(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err}");

        // A NaN or infinite score is refused, and listing keeps working.
        for bad in [f64::NAN, f64::INFINITY] {
            let err = node_client
                .complete_job(authed(NODE_B, complete(&b, bad)))
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{err}");
            assert!(err.message().contains("summary.models[0].mean"), "{err}");
        }
        let listed = client
            .list_jobs(authed(VIEWER, v1::ListJobsRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.jobs.len(), 1);

        // The lease holder completes it, once.
        let done = node_client
            .complete_job(authed(NODE_B, complete(&b, 42.5)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(done.state, v1::JobState::Completed as i32);
        let err = node_client
            .complete_job(authed(NODE_B, complete(&b, 42.5)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    });
}

#[test]
fn oversized_requests_and_inputs_outside_the_policy_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let controller = secured_controller(dir.path(), &[]);
    let grpc = controller.grpc.clone();
    let long_uri = format!("s3://clips/{}.y4m", "a".repeat(100 << 10));
    runtime().block_on(async {
        let mut client = jobs(&grpc).await;
        // A 20 MiB message is over the 16 MiB client limit.
        let huge = spec(
            &format!("s3://clips/{}", "x".repeat(20 << 20)),
            "s3://clips/d.mp4",
        );
        let err = client
            .submit_job(authed(SUBMITTER, submit_request(huge)))
            .await
            .unwrap_err();
        assert!(
            matches!(err.code(), Code::ResourceExhausted | Code::OutOfRange),
            "{err}"
        );
        // Each input the policy refuses, with the field named.
        let outside: Vec<(v1::JobSpec, &str)> = vec![
            (spec("file:///etc/passwd", "s3://c/d.mp4"), "reference"),
            (
                spec("s3://c/r.y4m", "http://127.0.0.1:9/x.mp4"),
                "distorted",
            ),
            (
                spec("http://169.254.169.254/latest/meta-data/", "s3://c/d.mp4"),
                "reference",
            ),
            (
                spec(
                    "rclone://remote,endpoint='http://x':path/r.y4m",
                    "s3://c/d.mp4",
                ),
                "reference",
            ),
            (
                spec("rclone://-remote:path/r.y4m", "s3://c/d.mp4"),
                "reference",
            ),
            (spec(&long_uri, "s3://c/d.mp4"), "reference"),
            (
                v1::JobSpec {
                    models: vec!["path=/dev/zero".into()],
                    ..spec("s3://c/r.y4m", "s3://c/d.mp4")
                },
                "models[0]",
            ),
        ];
        for (job, field) in outside {
            let err = client
                .submit_job(authed(SUBMITTER, submit_request(job.clone())))
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{job:?}: {err}");
            assert!(
                err.message().starts_with(&format!("{field}: ")),
                "{job:?}: {err}"
            );
        }
    });
    // HTTP: a 20 MiB body is 413; a 100 KiB URI is 400 naming the field.
    let submitter = format!("Bearer {SUBMITTER}");
    let big = vec![b' '; 20 << 20];
    let (code, _) = http_request(
        controller.http_port,
        "POST",
        "/api/v1/jobs",
        &[
            ("Authorization", &submitter),
            ("Content-Type", "application/json"),
        ],
        &big,
    )
    .unwrap();
    assert_eq!(code, 413);
    let body = format!(r#"{{"reference":"{long_uri}","distorted":"s3://c/d.mp4"}}"#);
    let (code, text) = http_request(
        controller.http_port,
        "POST",
        "/api/v1/jobs",
        &[
            ("Authorization", &submitter),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("reference: "), "{text}");
}

#[test]
fn cross_site_requests_and_dns_rebinding_are_refused_even_without_authentication() {
    let dir = tempfile::tempdir().unwrap();
    // An open controller on loopback, like `vmafx serve`: the browser is the attacker's way in.
    let controller = start_controller(
        dir.path(),
        &dir.path().join("data"),
        free_port(),
        free_port(),
        &[],
    );
    let port = controller.http_port;
    let origin = format!("http://127.0.0.1:{port}");
    // A form POST from another site, as a malicious page would send it.
    let (code, body) = http_request(
        port,
        "POST",
        "/api/v1/jobs/0190-any/cancel",
        &[
            ("Origin", "http://evil.example"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"x=1",
    )
    .unwrap();
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("cross-origin"), "{body}");
    let (code, _) = http_request(
        port,
        "POST",
        "/api/v1/jobs",
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Content-Type", "text/plain"),
        ],
        b"{}",
    )
    .unwrap();
    assert_eq!(code, 403);
    // A page whose name was rebound to 127.0.0.1.
    let (code, body) = http_request(
        port,
        "GET",
        "/api/v1/jobs",
        &[("Host", "evil.example:80")],
        b"",
    )
    .unwrap();
    assert_eq!(code, 421, "{body}");
    // The page's own requests pass (a browser names the port in Host and Origin alike).
    let host = format!("127.0.0.1:{port}");
    let (code, body) = http_request(
        port,
        "POST",
        "/api/v1/jobs",
        &[
            ("Host", &host),
            ("Origin", &origin),
            ("Sec-Fetch-Site", "same-origin"),
            ("Content-Type", "application/json"),
        ],
        br#"{"reference":"s3://a/r.y4m","distorted":"s3://a/d.y4m"}"#,
    )
    .unwrap();
    assert_eq!(code, 201, "{body}");
}

#[test]
fn an_open_controller_is_refused_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, _, err) = run_cli(&[
        "controller",
        "--grpc-addr",
        "0.0.0.0:0",
        "--http-addr",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    let line = err.trim().lines().last().unwrap_or_default().to_string();
    assert!(
        line.contains("refusing to listen on 0.0.0.0:0 without authentication")
            && line.contains("--insecure"),
        "{err}"
    );
}

#[test]
fn the_token_file_reloads_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let controller = secured_controller(dir.path(), &[]);
    let late = "late-token-0123456789abcdef";
    let bearer = format!("Bearer {late}");
    let (code, _) = http_request(
        controller.http_port,
        "GET",
        "/api/v1/jobs",
        &[("Authorization", &bearer)],
        b"",
    )
    .unwrap();
    assert_eq!(code, 401);
    let tokens = dir.path().join("tokens.csv");
    let mut text = std::fs::read_to_string(&tokens).unwrap();
    text.push_str(&format!("{late},late,viewer\n"));
    std::fs::write(&tokens, text).unwrap();
    wait_for(Duration::from_secs(10), || {
        http_request(
            controller.http_port,
            "GET",
            "/api/v1/jobs",
            &[("Authorization", &bearer)],
            b"",
        )
        .is_some_and(|(code, _)| code == 200)
    })
    .expect("the new token was accepted within 10 s");
}

#[test]
fn a_node_killed_and_restarted_under_its_name_loses_nothing_and_pins_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, distorted) = slow_pair(dir.path());
    let root = dir.path().canonicalize().unwrap();
    let root = root.to_str().unwrap().to_string();
    let tokens = token_file(dir.path());
    let controller = start_controller(
        dir.path(),
        &dir.path().join("data"),
        free_port(),
        free_port(),
        &[
            "--auth-token-file",
            tokens.to_str().unwrap(),
            "--lease-secs",
            "3",
            "--node-timeout-secs",
            "10",
            "--allow-file-root",
            &root,
        ],
    );
    let node_env = [("VMAFX_TOKEN", NODE_A)];
    let node_args = ["--allow-file-root", root.as_str(), "--threads-per-job", "1"];
    let mut node = start_node_as(
        dir.path(),
        &controller.grpc,
        "node-a",
        "1",
        &node_args,
        &node_env,
    );
    let submitter = [("VMAFX_TOKEN", SUBMITTER)];
    let (code, out, err) = run_cli_env(
        &[
            "job",
            "submit",
            "--controller",
            &controller.grpc,
            "-r",
            &file_uri(&reference),
            "-d",
            &file_uri(&distorted),
            "--feature",
            support::SLOW_FEATURE,
        ],
        &submitter,
    );
    assert_eq!(code, 0, "{err}");
    let id = out.trim().to_string();
    let job = |id: &str| -> serde_json::Value {
        let (code, out, err) = run_cli_env(
            &["job", "get", "--controller", &controller.grpc, id, "--json"],
            &submitter,
        );
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    wait_for(Duration::from_secs(30), || job(&id)["state"] == "RUNNING")
        .unwrap_or_else(|| panic!("never ran: {}", node.log()));
    // What a Kubernetes container restart does: SIGKILL, then the same name again.
    node.kill9();
    let restarted = Instant::now();
    let _node = start_node_as(
        dir.path(),
        &controller.grpc,
        "node-a",
        "2",
        &node_args,
        &node_env,
    );
    let done = loop {
        let now = job(&id);
        if now["state"] == "COMPLETED" || now["state"] == "FAILED" {
            break now;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(90),
            "job still {} 90 s after the restart (the dead attempt is pinned)",
            now["state"]
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(done["state"], "COMPLETED", "{done}");
    // Exactly once: the dead attempt and the rerun, one result.
    assert_eq!(done["attempts"], 2, "{done}");
    let direct: serde_json::Value =
        serde_json::from_str(&score_report(&reference, &distorted)).unwrap();
    let printed = direct["pooled_metrics"]["vmaf"]["mean"].as_f64().unwrap();
    assert_eq!(
        format!("{:.6}", done["score"].as_f64().unwrap()),
        format!("{printed:.6}")
    );
}
