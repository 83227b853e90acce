//! End-to-end tests of `vmafx controller`, `vmafx node`, `vmafx serve` and the `vmafx job` CLI,
//! with real processes on loopback, a real SQLite store, real rclone, and real failures
//! (`kill -9`, unreachable storage, corrupt input).

mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

/// `vmafx score --json` on a pair, parsed.
fn direct_score(reference: &Path, distorted: &Path) -> serde_json::Value {
    serde_json::from_str(&score_report(reference, distorted)).unwrap()
}

/// The document without its timing-dependent `fps`.
fn without_fps(mut doc: serde_json::Value) -> serde_json::Value {
    if let Some(map) = doc.as_object_mut() {
        map.remove("fps");
    }
    doc
}

/// Starts `vmafx serve` on free loopback ports; returns the process and gRPC/HTTP addresses.
fn start_serve(dir: &Path, extra: &[&str]) -> (Proc, String, u16) {
    start_serve_with_env(dir, extra, &[])
}

/// [`start_serve`] with extra environment variables for the process.
fn start_serve_with_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Proc, String, u16) {
    let grpc_port = free_port();
    let http_port = free_port();
    let grpc_addr = format!("127.0.0.1:{grpc_port}");
    let http_addr = format!("127.0.0.1:{http_port}");
    let data = dir.join("data");
    let data = data.to_string_lossy().to_string();
    let scratch = dir.join("scratch");
    let scratch = scratch.to_string_lossy().to_string();
    let mut args = vec![
        "serve",
        "--grpc-addr",
        &grpc_addr,
        "--http-addr",
        &http_addr,
        "--data-dir",
        &data,
        "--scratch-dir",
        &scratch,
        "--heartbeat-secs",
        "1",
    ];
    args.extend_from_slice(extra);
    let proc = spawn(dir, "serve", &args, env);
    wait_for(Duration::from_secs(30), || {
        http_get(http_port, "/healthz").is_some_and(|(c, _)| c == 200)
    })
    .unwrap_or_else(|| panic!("serve did not come up: {}", proc.log()));
    (proc, format!("http://{grpc_addr}"), http_port)
}

#[test]
fn serve_scores_exactly_like_the_score_command() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, distorted) = fixture_pair(dir.path(), "pan_420_10bit_blocky");
    let (_serve, grpc, http_port) = start_serve(dir.path(), &[]);

    let job = support::submit_and_wait(
        &grpc,
        reference.to_str().unwrap(),
        distorted.to_str().unwrap(),
    );
    assert_eq!(job["state"], "COMPLETED");
    assert!(job["error"].is_null());
    let id = job["id"].as_str().unwrap().to_string();

    let direct = direct_score(&reference, &distorted);
    let printed = direct["pooled_metrics"]["vmaf"]["mean"].as_f64().unwrap();
    let served = job["score"].as_f64().unwrap();
    assert_eq!(format!("{served:.6}"), format!("{printed:.6}"));

    // The per-frame results, downloaded over gRPC and over REST, equal `vmafx score --json`.
    let (code, frames, err) = run_cli(&["job", "frames", "--controller", &grpc, &id]);
    assert_eq!(code, 0, "job frames failed: {err}");
    let frames: serde_json::Value = serde_json::from_str(&frames).unwrap();
    assert_eq!(without_fps(frames), without_fps(direct.clone()));
    let (code, body) = http_get(http_port, &format!("/api/v1/jobs/{id}/frames")).unwrap();
    assert_eq!(code, 200);
    let rest: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(without_fps(rest), without_fps(direct));

    // `job get --json` is the documented contract.
    let got = job_json(&grpc, &id);
    for key in ["id", "state", "score", "error"] {
        assert!(got.get(key).is_some(), "job get --json lacks {key}: {got}");
    }
    assert_eq!(got["score"], job["score"]);

    // REST mirror, health and metrics.
    let (code, body) = http_get(http_port, &format!("/api/v1/jobs/{id}")).unwrap();
    assert_eq!(code, 200);
    let rest: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rest["score"], job["score"]);
    let (code, body) = http_get(http_port, "/readyz").unwrap();
    assert_eq!(code, 200, "{body}");
    let (code, body) = http_get(http_port, "/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("vmafx_jobs_submitted_total 1"), "{body}");
    assert!(
        body.contains("vmafx_jobs_finished_total{state=\"COMPLETED\"} 1"),
        "{body}"
    );
    let (code, body) = http_get(http_port, "/api/v1/jobs/nope").unwrap();
    assert_eq!(code, 404, "{body}");

    // Feedback: bad input is a 400 naming the field, and nothing is stored.
    for (path, body, field) in [
        (
            format!("/api/v1/jobs/{id}/feedback"),
            r#"{"target": 100.5}"#,
            "target",
        ),
        (
            format!("/api/v1/jobs/{id}/feedback"),
            r#"{"target": -1}"#,
            "target",
        ),
        (
            format!("/api/v1/jobs/{id}/feedback"),
            r#"{"target": "high"}"#,
            "target",
        ),
        (format!("/api/v1/jobs/{id}/feedback"), r#"{}"#, "target"),
        (
            "/api/v1/jobs/nope/feedback".to_string(),
            r#"{"target": 50}"#,
            "id",
        ),
    ] {
        let (code, text) = http_request(
            http_port,
            "POST",
            &path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(code, 400, "{path} {body}: {text}");
        assert!(text.contains(field), "{path} {body}: {text}");
    }
    let (code, _, err) = job_feedback(&grpc, &id, "inf");
    assert_ne!(code, 0);
    assert!(err.contains("target"), "{err}");
    let (_, body) = http_get(http_port, "/api/v1/feedback").unwrap();
    assert_eq!(body, r#"{"feedback":[]}"#);
    // Stored against the completed job, by the CLI and by REST.
    let (code, out, err) = job_feedback(&grpc, &id, "87.5");
    assert_eq!(code, 0, "{err}");
    let stored: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(stored["job_id"], id.as_str());
    assert_eq!(stored["target"], 87.5);
    let (code, text) = http_request(
        http_port,
        "POST",
        &format!("/api/v1/jobs/{id}/feedback"),
        &[("Content-Type", "application/json")],
        br#"{"target": 88}"#,
    )
    .unwrap();
    assert_eq!(code, 201, "{text}");
    let (code, body) = http_get(http_port, "/api/v1/feedback").unwrap();
    assert_eq!(code, 200);
    let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let listed = listed["feedback"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{body}");
    assert_eq!(listed[0]["target"], 88.0);
    assert!(listed[0]["node_id"].is_string(), "{body}");
}

#[test]
fn idempotent_submissions_list_and_watch() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, distorted) = fixture_pair(dir.path(), "tiny_420_8bit");
    let (_serve, grpc, _) = start_serve(dir.path(), &[]);
    let submit = |key: &str| {
        let (code, out, err) = run_cli(&[
            "job",
            "submit",
            "--controller",
            &grpc,
            "-r",
            reference.to_str().unwrap(),
            "-d",
            distorted.to_str().unwrap(),
            "--idempotency-key",
            key,
        ]);
        assert_eq!(code, 0, "{err}");
        out.trim().to_string()
    };
    let first = submit("k1");
    assert_eq!(submit("k1"), first, "same key, same job");
    let other = submit("k2");
    assert_ne!(other, first);

    let (code, out, err) = run_cli(&["job", "watch", "--controller", &grpc, &first]);
    assert_eq!(code, 0, "{err}");
    let states: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["state"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        states.last().map(String::as_str),
        Some("COMPLETED"),
        "{out}"
    );
    wait_terminal(&grpc, &other, Duration::from_secs(60));

    let (code, out, _) = run_cli(&[
        "job",
        "list",
        "--controller",
        &grpc,
        "--json",
        "--limit",
        "1",
    ]);
    assert_eq!(code, 0);
    let page: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(page["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(page["jobs"][0]["id"], other.as_str(), "newest first");
    let token = page["next_page_token"]
        .as_str()
        .expect("a second page")
        .to_string();
    let (_, out, _) = run_cli(&[
        "job",
        "list",
        "--controller",
        &grpc,
        "--json",
        "--limit",
        "5",
        "--page-token",
        &token,
    ]);
    let page: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![first.as_str()]);
    assert!(page["next_page_token"].is_null());
}

#[test]
fn bad_inputs_fail_their_job_only() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, distorted) = fixture_pair(dir.path(), "tiny_420_8bit");
    let corrupt = dir.path().join("corrupt.y4m");
    std::fs::write(
        &corrupt,
        b"YUV4MPEG2 W64 H48 F25:1 C420jpeg\nFRAME\ngarbage",
    )
    .unwrap();
    let closed_port = free_port();
    let endpoint = format!("http://127.0.0.1:{closed_port}");
    let (serve, grpc, _) = start_serve_with_env(
        dir.path(),
        &["--capacity", "2"],
        &[
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "k"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_REGION", "us-east-1"),
        ],
    );

    // A malformed URI never becomes a job: the controller refuses it, naming the field.
    let (code, _, err) = run_cli(&[
        "job",
        "submit",
        "--controller",
        &grpc,
        "-r",
        "s3://",
        "-d",
        "file:///x.y4m",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("reference") && err.contains("s3://"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    // Outside the allowed file roots: refused at submit time, naming the field.
    let (code, _, err) = run_cli(&[
        "job",
        "submit",
        "--controller",
        &grpc,
        "-r",
        "file:///etc/passwd",
        "-d",
        "file:///etc/passwd",
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("reference: \"file:///etc/passwd\" is not allowed"),
        "{err}"
    );

    let submit = |r: &str, d: &str| {
        let (code, out, err) = run_cli(&[
            "job",
            "submit",
            "--controller",
            &grpc,
            "-r",
            r,
            "-d",
            d,
            "--max-attempts",
            "1",
        ]);
        assert_eq!(code, 0, "{err}");
        out.trim().to_string()
    };
    let good_ref = file_uri(&reference);
    let good_dist = file_uri(&distorted);
    // Missing, but under the allowed root: the node says so when it runs the job.
    let missing_path = dir.path().canonicalize().unwrap().join("no/such/clip.y4m");
    let missing = submit(&good_ref, &format!("file://{}", missing_path.display()));
    let broken = submit(&good_ref, &file_uri(&corrupt));
    let unreachable = submit("s3://bucket/ref.y4m", &good_dist);
    let good = submit(&good_ref, &good_dist);

    for (id, needle) in [
        (&missing, "/no/such/clip.y4m"),
        (&broken, "corrupt.y4m"),
        (&unreachable, "s3://bucket/ref.y4m"),
    ] {
        let job = wait_terminal(&grpc, id, Duration::from_secs(120));
        assert_eq!(job["state"], "FAILED", "{job}\n{}", serve.log());
        let error = job["error"].as_str().unwrap();
        assert!(
            error.contains(needle),
            "error should name {needle}: {error}"
        );
        assert!(!error.contains('\n'), "one line: {error}");
    }
    let job = wait_terminal(&grpc, &good, Duration::from_secs(60));
    assert_eq!(job["state"], "COMPLETED", "{job}");
}

#[test]
fn rclone_remote_inputs_are_scored() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, distorted) = fixture_pair(dir.path(), "tiny_420_8bit");
    let config = dir.path().join("rclone.conf");
    std::fs::write(&config, "[clips]\ntype = local\n").unwrap();
    let config_arg = config.to_string_lossy().to_string();
    let (_serve, grpc, _) = start_serve(dir.path(), &["--rclone-config", &config_arg]);
    let r = format!(
        "rclone://clips:{}",
        reference.canonicalize().unwrap().display()
    );
    // Any other scheme names an rclone remote too.
    let d = format!("clips://{}", distorted.canonicalize().unwrap().display());
    let job = support::submit_and_wait(&grpc, &r, &d);
    let direct = direct_score(&reference, &distorted);
    assert_eq!(
        format!("{:.6}", job["score"].as_f64().unwrap()),
        format!(
            "{:.6}",
            direct["pooled_metrics"]["vmaf"]["mean"].as_f64().unwrap()
        )
    );
}

#[test]
fn a_killed_node_s_job_completes_on_another_node_once() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, distorted) = slow_pair(dir.path());
    let data = dir.path().join("data");
    let controller = start_controller(
        dir.path(),
        &data,
        free_port(),
        free_port(),
        &["--lease-secs", "3", "--node-timeout-secs", "4"],
    );
    let grpc = controller.grpc.clone();
    let mut node_a = start_node(dir.path(), &grpc, "a", &["--threads-per-job", "1"]);
    let (code, out, err) = run_cli(&[
        "job",
        "submit",
        "--controller",
        &grpc,
        "-r",
        reference.to_str().unwrap(),
        "-d",
        distorted.to_str().unwrap(),
        "--feature",
        support::SLOW_FEATURE,
    ]);
    assert_eq!(code, 0, "{err}");
    let id = out.trim().to_string();
    wait_for(Duration::from_secs(60), || {
        let job = job_json(&grpc, &id);
        job["state"] == "RUNNING" && job["frames_done"].as_u64().unwrap_or(0) > 0
    })
    .unwrap_or_else(|| panic!("job never ran on node a: {}", node_a.log()));
    let running = job_json(&grpc, &id);
    assert!(
        running["frames_done"].as_u64().unwrap()
            < running["frames_total"].as_u64().unwrap_or(u64::MAX)
    );
    node_a.kill9();

    let _node_b = start_node(dir.path(), &grpc, "b", &[]);
    let job = wait_terminal(&grpc, &id, Duration::from_secs(180));
    assert_eq!(
        job["state"],
        "COMPLETED",
        "{job}\n{}",
        controller.proc.log()
    );
    assert_eq!(job["attempts"], 2, "{job}");
    let (_, nodes, _) = run_cli(&["nodes", "--controller", &grpc, "--json"]);
    let nodes: serde_json::Value = serde_json::from_str(&nodes).unwrap();
    let b = nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "b")
        .unwrap();
    assert_eq!(job["node_id"], b["id"]);
    let a = nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "a")
        .unwrap();
    assert_eq!(a["healthy"], false, "silent node a is unhealthy: {nodes}");
    let direct = direct_score(&reference, &distorted);
    assert_eq!(
        format!("{:.6}", job["score"].as_f64().unwrap()),
        format!(
            "{:.6}",
            direct["pooled_metrics"]["vmaf"]["mean"].as_f64().unwrap()
        )
    );
    let (_, out, _) = run_cli(&["job", "list", "--controller", &grpc, "--json"]);
    let page: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        page["jobs"].as_array().unwrap().len(),
        1,
        "exactly one job: {page}"
    );
}

#[test]
fn cancelling_reaches_the_running_node() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, distorted) = slow_pair(dir.path());
    let (small_ref, small_dist) = fixture_pair(dir.path(), "tiny_420_8bit");
    let (_serve, grpc, _) = start_serve(dir.path(), &["--threads-per-job", "1"]);
    let (_, out, _) = run_cli(&[
        "job",
        "submit",
        "--controller",
        &grpc,
        "-r",
        reference.to_str().unwrap(),
        "-d",
        distorted.to_str().unwrap(),
        "--feature",
        support::SLOW_FEATURE,
    ]);
    let id = out.trim().to_string();
    wait_for(Duration::from_secs(60), || {
        job_json(&grpc, &id)["frames_done"].as_u64().unwrap_or(0) > 0
    })
    .expect("job started");
    let (code, _, err) = run_cli(&["job", "cancel", "--controller", &grpc, &id]);
    assert_eq!(code, 0, "{err}");
    let job = wait_terminal(&grpc, &id, Duration::from_secs(60));
    assert_eq!(job["state"], "CANCELLED", "{job}");
    assert!(
        job["frames_done"].as_u64().unwrap() < 240,
        "stopped early: {job}"
    );
    // The slot is free again.
    support::submit_and_wait(
        &grpc,
        small_ref.to_str().unwrap(),
        small_dist.to_str().unwrap(),
    );
}

/// The chromium binary Debian installs, if present.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            std::process::Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

#[test]
fn web_page_lists_jobs_and_charts_a_finished_one_in_headless_chromium() {
    let browser = chromium().expect(
        "chromium is required for the web page test (scripts/test.sh installs Debian's chromium)",
    );
    let dir = tempfile::tempdir().unwrap();
    let (reference, distorted) = fixture_pair(dir.path(), "pan_420_8bit_blur");
    let (_serve, grpc, http_port) = start_serve(dir.path(), &[]);
    let job = support::submit_and_wait_with(
        &grpc,
        reference.to_str().unwrap(),
        distorted.to_str().unwrap(),
        &["--feature", "psnr", "--feature", "float_ssim"],
    );
    let id = job["id"].as_str().unwrap();
    // The features' metrics are pooled into the summary beside the model.
    let metrics: Vec<&str> = job["summary"]["metrics"]
        .as_array()
        .map(|m| m.iter().filter_map(|m| m["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        metrics,
        ["psnr_y", "psnr_cb", "psnr_cr", "float_ssim"],
        "{job}"
    );
    let profile = dir.path().join("chromium-profile");
    // The chart plots the metric the URL picks, and offers every metric of the job.
    let url = format!("http://127.0.0.1:{http_port}/?job={id}&metric=float_ssim");
    let output = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
            "--virtual-time-budget=10000",
            "--dump-dom",
            &url,
        ])
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains(&format!("data-job-id=\"{id}\"")) && dom.contains("data-state=\"COMPLETED\""),
        "the job row is missing from the rendered page:\n{dom}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        dom.contains("data-node-id="),
        "the node row is missing:\n{dom}"
    );
    let frames = job["summary"]["frames"].as_u64().unwrap();
    assert!(
        dom.contains(&format!("data-frames=\"{frames}\"")),
        "the chart should plot {frames} frames:\n{dom}"
    );
    let points = dom
        .split("<polyline points=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a polyline");
    assert_eq!(points.split_whitespace().count() as u64, frames);
    assert!(
        dom.contains("data-metric=\"float_ssim\"") && dom.contains("Per-frame float_ssim"),
        "the chart should plot the metric the URL picked:\n{dom}"
    );
    for offered in ["vmaf", "psnr_y", "float_ssim"] {
        assert!(
            dom.contains(&format!("<option value=\"{offered}\"")),
            "the metric picker should offer {offered}:\n{dom}"
        );
    }
}
