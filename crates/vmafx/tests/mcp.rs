//! `vmafx mcp` driven by a real MCP client nobody here wrote: the official Python SDK (`mcp` on
//! PyPI), over stdio and over streamable HTTP with a bearer token. The client lists the tools,
//! scores a generated pair (the score must equal `vmafx score`'s to the printed digit, with
//! progress notifications), compares two encodes, gets one-line tool errors for a missing
//! file, a file outside the allowed root and an unknown model, and submits a job to a real
//! controller and node, polling `get_job` until it completes with `vmafx score`'s score. Over
//! HTTP, requests without a token or with a wrong one are refused (401), and a viewer may read
//! but not score.
//!
//! The SDK comes from VMAFX_MCP_PYTHON (a Python with `mcp` installed; scripts/test.sh caches
//! one), else a virtual environment this test makes under the cargo target dir. Without it the
//! test fails under CI=true and otherwise prints one `SKIPPED:` line.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
/// The SDK release the test was written against.
const MCP_REQUIREMENT: &str = "mcp==2.3.0";

fn fail_or_skip(transport: &str, what: &str) -> Option<PathBuf> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} (required under CI=true)");
    }
    println!("SKIPPED: vmafx mcp over {transport} with the Python MCP client: {what}");
    None
}

/// A Python interpreter that can `import mcp`, installing the SDK into a cached venv if needed.
fn python_with_mcp(transport: &str) -> Option<PathBuf> {
    let can_import = |python: &Path| {
        Command::new(python)
            .args(["-c", "import mcp.client.stdio"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if let Ok(given) = std::env::var("VMAFX_MCP_PYTHON") {
        let python = PathBuf::from(given);
        return if can_import(&python) {
            Some(python)
        } else {
            fail_or_skip(
                transport,
                &format!("VMAFX_MCP_PYTHON={} cannot import mcp", python.display()),
            )
        };
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mcp-venv");
    let python = venv.join("bin").join("python");
    if can_import(&python) {
        return Some(python);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output();
    if !made.as_ref().is_ok_and(|o| o.status.success()) {
        return fail_or_skip(transport, &format!("python3 -m venv failed: {made:?}"));
    }
    let installed = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", MCP_REQUIREMENT])
        .output();
    match installed {
        Ok(o) if o.status.success() && can_import(&python) => Some(python),
        Ok(o) => fail_or_skip(
            transport,
            &format!(
                "pip install {MCP_REQUIREMENT} failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        ),
        Err(e) => fail_or_skip(transport, &format!("pip could not run: {e}")),
    }
}

/// The text of a tool result's first content block.
fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

/// The pooled VMAF `vmafx score --json` writes for the pair, as printed (six decimals).
fn cli_score(dir: &Path, reference: &Path, distorted: &Path) -> String {
    let out = dir.join("cli.json");
    let status = Command::new(support::vmafx())
        .arg("score")
        .arg("-r")
        .arg(reference)
        .arg("-d")
        .arg(distorted)
        .arg("--json")
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run vmafx score");
    assert!(status.success(), "vmafx score failed");
    let text = std::fs::read_to_string(&out).expect("score output");
    // The printed digits, not a re-rounded float: find the text of pooled_metrics.vmaf.mean.
    let parsed: Value = serde_json::from_str(&text).expect("score JSON");
    let mean = parsed["pooled_metrics"]["vmaf"]["mean"]
        .as_f64()
        .expect("pooled vmaf mean");
    format!("{mean:.6}")
}

const ADMIN_TOKEN: &str = "mcp-admin-token-0123456789";
const VIEWER_TOKEN: &str = "mcp-viewer-token-0123456789";

/// A pair, its expected score, and a controller with one node that can read it.
struct Bench {
    _dir: tempfile::TempDir,
    root: PathBuf,
    reference: PathBuf,
    distorted: PathBuf,
    expected: String,
    controller: support::ControllerProc,
    _node: support::Proc,
}

fn bench() -> Bench {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().canonicalize().expect("canonical temp dir");
    let (reference, distorted) = support::fixture_pair(&root, "pan_420_8bit_blur");
    let expected = cli_score(&root, &reference, &distorted);
    let data = root.join("data");
    let controller = support::start_controller(
        &root,
        &data,
        support::free_port(),
        support::free_port(),
        &[],
    );
    let node = support::start_node(&root, &controller.grpc, "mcp-node", &[]);
    Bench {
        _dir: dir,
        root,
        reference,
        distorted,
        expected,
        controller,
        _node: node,
    }
}

/// Runs tests/mcp/client.py with `config`; its answers.
fn run_client(python: &Path, config: &Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py");
    let output = Command::new(python)
        .arg(&script)
        .arg(config.to_string())
        .output()
        .expect("run the Python MCP client");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "client failed: {stderr}");
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("client output is not JSON ({e}): {stderr}"))
}

/// What the client must have seen over either transport.
fn check_answers(answers: &Value, bench: &Bench) {
    let expected = &bench.expected;
    assert_eq!(answers["server"]["name"], "vmafx");
    let tools = answers["tools"].as_array().expect("tools");
    let mut names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "cancel_job",
            "compare",
            "describe_model",
            "get_job",
            "job_frames",
            "list_jobs",
            "list_models",
            "list_nodes",
            "score",
            "submit_job"
        ]
    );
    let score_tool = tools.iter().find(|t| t["name"] == "score").expect("score");
    let schema = &score_tool["inputSchema"];
    assert_eq!(schema["type"], "object");
    for field in ["reference", "distorted", "models", "features"] {
        assert!(
            schema["properties"][field].is_object(),
            "score's schema lacks {field}: {schema}"
        );
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, ["reference", "distorted"]);

    let score = &answers["score"];
    assert_ne!(score["isError"], true, "score failed: {score}");
    let result = &score["structuredContent"];
    assert_eq!(result["models"][0]["name"], "vmaf", "{result}");
    assert_eq!(
        result["models"][0]["mean"].as_str(),
        Some(expected.as_str()),
        "MCP score differs from vmafx score's"
    );
    // The text block carries the same document, for clients that ignore structured content.
    let from_text: Value = serde_json::from_str(text(score)).expect("text block is JSON");
    assert_eq!(&from_text, result);
    let frames = result["frames"].as_u64().expect("frame count");
    assert!(frames > 1, "{result}");
    let per_frame = &result["per_frame"][0];
    assert_eq!(per_frame["name"], "vmaf");
    let worst: f64 = per_frame["worst"]
        .as_str()
        .unwrap_or("x")
        .parse()
        .expect("worst");
    let best: f64 = per_frame["best"]
        .as_str()
        .unwrap_or("x")
        .parse()
        .expect("best");
    let mean: f64 = expected.parse().expect("mean");
    assert!(worst <= mean && mean <= best, "{per_frame}");
    assert!(per_frame["worst_frame"]
        .as_u64()
        .is_some_and(|i| i < frames));
    assert!(per_frame["best_frame"].as_u64().is_some_and(|i| i < frames));
    // Progress: at least the final notification, frames of frames, never going back.
    let progress = answers["score_progress"].as_array().expect("progress");
    let last = progress.last().expect("no progress notification for score");
    assert_eq!(last["progress"].as_f64(), Some(frames as f64), "{last}");
    assert_eq!(last["total"].as_f64(), Some(frames as f64), "{last}");
    let values: Vec<f64> = progress
        .iter()
        .filter_map(|p| p["progress"].as_f64())
        .collect();
    assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");

    // Bad input: a tool error of one line that names the file, and the session goes on.
    let missing_answer = &answers["missing"];
    assert_eq!(missing_answer["isError"], true, "{missing_answer}");
    let message = text(missing_answer);
    assert!(
        message.contains("distorted") && message.contains("no_such_clip.y4m"),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message}");
    let outside = &answers["outside"];
    assert_eq!(outside["isError"], true, "{outside}");
    assert!(
        text(outside).contains("distorted") && text(outside).contains("/etc/passwd"),
        "{outside}"
    );

    let listed = &answers["list_models"]["structuredContent"];
    assert_eq!(listed["default"], "vmaf_v0.6.1");
    let built_in = listed["built_in"].as_array().expect("built_in");
    assert_eq!(built_in.len(), vmafx_engine::model::BUILT_IN_VERSIONS.len());
    let described = &answers["describe_model"]["structuredContent"];
    assert_eq!(described["score_name"], "vmaf");
    assert_eq!(described["collection"], false);
    assert_eq!(described["features"].as_array().map(Vec::len), Some(6));
    let unknown = &answers["describe_unknown"];
    assert_eq!(unknown["isError"], true, "{unknown}");
    assert!(text(unknown).contains("vmaf_v9"), "{unknown}");

    // compare: the reference itself ranks first; the encode keeps score's mean.
    let compared = &answers["compare"];
    assert_ne!(compared["isError"], true, "compare failed: {compared}");
    let comparison = &compared["structuredContent"];
    assert_eq!(comparison["ranked_by"], "vmaf");
    assert_eq!(comparison["frames"].as_u64(), Some(frames));
    let encodes = comparison["encodes"].as_array().expect("encodes");
    assert_eq!(encodes.len(), 2, "{comparison}");
    assert_eq!(encodes[0]["rank"], 1);
    assert_eq!(
        encodes[0]["distorted"].as_str(),
        bench.reference.to_str(),
        "{comparison}"
    );
    assert_eq!(encodes[1]["distorted"].as_str(), bench.distorted.to_str());
    assert_eq!(encodes[1]["mean"].as_str(), Some(expected.as_str()));
    let worst_frames = encodes[1]["worst_frames"].as_array().expect("worst frames");
    assert_eq!(worst_frames.len(), 5.min(frames as usize), "{comparison}");
    assert_eq!(worst_frames[0]["score"], per_frame["worst"], "{comparison}");
    assert_eq!(worst_frames[0]["frame"], per_frame["worst_frame"]);
    let scores: Vec<f64> = worst_frames
        .iter()
        .filter_map(|w| w["score"].as_str()?.parse().ok())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{scores:?}");
    let compare_progress = answers["compare_progress"].as_array().expect("progress");
    let last = compare_progress.last().expect("no progress for compare");
    assert_eq!(last["progress"].as_f64(), Some(2.0), "{last}");
    assert_eq!(last["total"].as_f64(), Some(2.0), "{last}");
    let one = &answers["compare_one"];
    assert_eq!(one["isError"], true, "{one}");
    assert!(text(one).contains("two or more"), "{one}");

    // A job on the real controller: submitted, polled until COMPLETED, with score's score.
    let submitted = &answers["submit_job"];
    assert_ne!(submitted["isError"], true, "submit_job failed: {submitted}");
    let id = submitted["structuredContent"]["id"]
        .as_str()
        .expect("job id");
    let job = &answers["get_job"];
    assert_ne!(job["isError"], true, "get_job failed: {job}");
    let job = &job["structuredContent"];
    assert_eq!(job["id"], id);
    assert_eq!(job["state"], "COMPLETED", "{job}");
    let job_score = job["score"].as_f64().expect("job score");
    assert_eq!(&format!("{job_score:.6}"), expected, "job score differs");
    let templates = answers["resource_templates"].as_array().expect("templates");
    assert!(
        templates
            .iter()
            .any(|t| t["uriTemplate"] == "vmafx://jobs/{id}/report"),
        "{templates:?}"
    );
    let contents = &answers["report"]["contents"][0];
    assert_eq!(contents["uri"], format!("vmafx://jobs/{id}/report"));
    assert_eq!(contents["mimeType"], "application/json");
    let report: Value =
        serde_json::from_str(contents["text"].as_str().expect("report text")).expect("JSON");
    assert_eq!(report["job"]["id"], id);
    let report_mean = report["report"]["pooled_metrics"]["vmaf"]["mean"]
        .as_f64()
        .expect("the report's pooled VMAF");
    assert_eq!(&format!("{report_mean:.6}"), expected, "{report}");
    let listed = answers["list_jobs"]["structuredContent"]["jobs"]
        .as_array()
        .expect("jobs");
    assert!(listed.iter().any(|j| j["id"] == id), "{listed:?}");
    let window = &answers["job_frames"]["structuredContent"];
    assert_eq!(window["frames_total"].as_u64(), Some(frames), "{window}");
    let window_frames = window["frames"].as_array().expect("frames");
    assert_eq!(window_frames.len(), 2);
    assert_eq!(window_frames[0]["frameNum"], 1);
    assert!(window_frames[0]["metrics"]["vmaf"].is_number(), "{window}");
    let nodes = answers["list_nodes"]["structuredContent"]["nodes"]
        .as_array()
        .expect("nodes");
    assert!(nodes.iter().any(|n| n["name"] == "mcp-node"), "{nodes:?}");
    let unknown_job = &answers["get_unknown"];
    assert_eq!(unknown_job["isError"], true, "{unknown_job}");
    assert!(text(unknown_job).contains("no-such-job"), "{unknown_job}");
    let refused = &answers["submit_outside"];
    assert_eq!(refused["isError"], true, "{refused}");
    assert!(text(refused).contains("/etc/passwd"), "{refused}");
}

#[test]
fn python_client_over_stdio() {
    let Some(python) = python_with_mcp("stdio") else {
        return;
    };
    let bench = bench();
    let answers = run_client(
        &python,
        &json!({
            "transport": "stdio",
            "vmafx": support::vmafx(),
            "root": bench.root,
            "controller": bench.controller.grpc,
            "reference": bench.reference,
            "distorted": bench.distorted,
            "missing": bench.root.join("no_such_clip.y4m"),
        }),
    );
    check_answers(&answers, &bench);
}

#[test]
fn python_client_over_http_with_tokens() {
    let Some(python) = python_with_mcp("HTTP") else {
        return;
    };
    let bench = bench();
    let tokens = bench.root.join("mcp-tokens");
    std::fs::write(
        &tokens,
        format!("{ADMIN_TOKEN},assistant,submitter\n{VIEWER_TOKEN},dashboard,viewer\n"),
    )
    .expect("token file");
    let port = support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = support::spawn(
        &bench.root,
        "mcp-http",
        &[
            "mcp",
            "--listen",
            &listen,
            "--auth-token-file",
            tokens.to_str().expect("UTF-8 path"),
            "--controller",
            &bench.controller.grpc,
        ],
        &[],
    );
    support::wait_for(Duration::from_secs(30), || {
        support::http_get(port, "/healthz").is_some_and(|(code, _)| code == 200)
    })
    .unwrap_or_else(|| panic!("vmafx mcp --listen did not come up: {}", server.log()));

    // Without a token, or with a wrong one, nothing reaches MCP.
    let initialize = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;
    let headers = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
    ];
    let (code, body) =
        support::http_request(port, "POST", "/mcp", &headers, initialize).expect("answer");
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("authentication required"), "{body}");
    let wrong = [
        headers[0],
        headers[1],
        ("Authorization", "Bearer not-a-known-token-0123456789"),
    ];
    let (code, body) =
        support::http_request(port, "POST", "/mcp", &wrong, initialize).expect("answer");
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("unknown token"), "{body}");
    // A body over the limit is refused before it is parsed.
    let authorized = format!("Bearer {ADMIN_TOKEN}");
    let admin = [
        headers[0],
        headers[1],
        ("Authorization", authorized.as_str()),
    ];
    let huge = vec![b' '; (1 << 20) + 1];
    let (code, _) = support::http_request(port, "POST", "/mcp", &admin, &huge).expect("answer");
    assert_eq!(code, 413);

    let answers = run_client(
        &python,
        &json!({
            "transport": "http",
            "url": format!("http://{listen}/mcp"),
            "token": ADMIN_TOKEN,
            "viewer_token": VIEWER_TOKEN,
            "reference": bench.reference,
            "distorted": bench.distorted,
            "missing": bench.root.join("no_such_clip.y4m"),
        }),
    );
    check_answers(&answers, &bench);
    let viewer_read = &answers["viewer_list_models"];
    assert_ne!(viewer_read["isError"], true, "{viewer_read}");
    let viewer_score = &answers["viewer_score"];
    assert_eq!(viewer_score["isError"], true, "{viewer_score}");
    assert!(
        text(viewer_score).contains("dashboard (role viewer) may not"),
        "{viewer_score}"
    );
}

/// `vmafx mcp --listen` on a free loopback port with the token file and `extra` flags, once it
/// accepts connections: the process and its port.
fn serve_mcp(dir: &Path, name: &str, tokens: &str, extra: &[&str]) -> (support::Proc, u16) {
    let port = support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["mcp", "--listen", &listen, "--auth-token-file", tokens];
    args.extend_from_slice(extra);
    let server = support::spawn(dir, name, &args, &[]);
    support::wait_for(Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .unwrap_or_else(|| panic!("vmafx {args:?} did not come up: {}", server.log()));
    (server, port)
}

#[test]
fn python_client_over_https() {
    let Some(python) = python_with_mcp("HTTPS") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = vmafx_testenv::pki::serving_pki("vmafx mcp test").expect("test PKI");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write PEM");
        path.to_string_lossy().into_owned()
    };
    let (ca, cert, key) = (
        write("ca.pem", &pki.ca_pem),
        write("cert.pem", &pki.cert_pem),
        write("key.pem", &pki.key_pem),
    );
    let tokens = write("tokens", &format!("{ADMIN_TOKEN},assistant,submitter\n"));
    let tls = ["--tls-cert", cert.as_str(), "--tls-key", key.as_str()];
    let (server, port) = serve_mcp(dir.path(), "mcp-https", &tokens, &tls);
    let answers = run_client(
        &python,
        &json!({
            "transport": "http",
            "url": format!("https://localhost:{port}/mcp"),
            "token": ADMIN_TOKEN,
            "ca": ca,
        }),
    );
    assert_eq!(
        answers["tools"].as_array().map(Vec::len),
        Some(10),
        "{answers}"
    );
    let models = &answers["list_models"]["structuredContent"];
    assert_eq!(models["default"], "vmaf_v0.6.1", "{answers}");
    drop(server);

    // Mutual TLS (`--client-ca`, as the controller's): the SDK's client with a certificate from
    // that CA gets in (and still needs its token); one without a certificate does not.
    let (client_cert, client_key) = (
        write("client.pem", &pki.client_cert_pem),
        write("client-key.pem", &pki.client_key_pem),
    );
    let mutual = [&tls[..], &["--client-ca", ca.as_str()][..]].concat();
    let (_server, port) = serve_mcp(dir.path(), "mcp-mtls", &tokens, &mutual);
    let config = json!({
        "transport": "http",
        "url": format!("https://localhost:{port}/mcp"),
        "token": ADMIN_TOKEN,
        "ca": ca,
        "client_cert": client_cert,
        "client_key": client_key,
    });
    let answers = run_client(&python, &config);
    assert_eq!(
        answers["tools"].as_array().map(Vec::len),
        Some(10),
        "{answers}"
    );
    let mut without_certificate = config.clone();
    without_certificate["client_cert"] = Value::Null;
    let refused = run_client(&python, &without_certificate);
    assert!(
        refused["error"].is_string() && refused.get("tools").is_none(),
        "a client without a certificate got in: {refused}"
    );
    let mut without_token = config;
    without_token["token"] = json!("not-a-token");
    let refused = run_client(&python, &without_token);
    assert!(
        refused["error"].is_string() && refused.get("tools").is_none(),
        "a certificate alone is not enough: {refused}"
    );
}

#[test]
fn http_limits_and_loopback_rules() {
    let (code, _, err) = support::run_cli(&["mcp", "--listen", "0.0.0.0:0"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("--listen 0.0.0.0:0 is not a loopback address: give --auth-token-file"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // On loopback without tokens: one session at most, and only loopback Host names.
    let dir = tempfile::tempdir().expect("temp dir");
    let port = support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = support::spawn(
        dir.path(),
        "mcp-limits",
        &["mcp", "--listen", &listen, "--max-sessions", "1"],
        &[],
    );
    support::wait_for(Duration::from_secs(30), || {
        support::http_get(port, "/healthz").is_some_and(|(code, _)| code == 200)
    })
    .unwrap_or_else(|| panic!("vmafx mcp --listen did not come up: {}", server.log()));
    // A protocol version with sessions, so that the first initialize keeps one open.
    let initialize = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;
    let headers = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
    ];
    let rebinding = [headers[0], headers[1], ("Host", "attacker.example")];
    let (code, body) =
        support::http_request(port, "POST", "/mcp", &rebinding, initialize).expect("answer");
    assert!((400..500).contains(&code), "{code} {body}");
    let (code, body) =
        support::http_request(port, "POST", "/mcp", &headers, initialize).expect("answer");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"vmafx\""), "{body}");
    let (code, body) =
        support::http_request(port, "POST", "/mcp", &headers, initialize).expect("answer");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("--max-sessions"), "{body}");
}
