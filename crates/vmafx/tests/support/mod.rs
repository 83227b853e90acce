//! Helpers for the service tests: free ports, service processes killed on drop, a tiny HTTP
//! client, fixture pairs, and a gRPC client on its own runtime.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vmafx_fixtures::{ClipSpec, Fixture};

/// The binary under test.
pub fn vmafx() -> &'static str {
    env!("CARGO_BIN_EXE_vmafx")
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// A child process that is SIGKILLed when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
    pub log: PathBuf,
}

impl Proc {
    /// Kills it the hard way (kill -9) and reaps it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whatever it wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Spawns `vmafx ARGS` with stderr going to `dir/NAME.log`.
pub fn spawn(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
    let log = dir.join(format!("{name}.log"));
    let file = std::fs::File::create(&log).expect("log file");
    let mut command = Command::new(vmafx());
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .env("VMAFX_LOG", "info")
        // The tests' inputs live in their own temp folder: the only file root they need.
        .env("VMAFX_ALLOW_FILE_ROOTS", dir);
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().expect("spawn vmafx");
    Proc {
        child,
        name: name.to_string(),
        log,
    }
}

/// A controller's addresses and process.
pub struct ControllerProc {
    pub proc: Proc,
    pub grpc: String,
    pub http_port: u16,
}

/// Starts `vmafx controller` on the given ports (so a restart can reuse them).
pub fn start_controller(
    dir: &Path,
    data: &Path,
    grpc_port: u16,
    http_port: u16,
    extra: &[&str],
) -> ControllerProc {
    let grpc_addr = format!("127.0.0.1:{grpc_port}");
    let http_addr = format!("127.0.0.1:{http_port}");
    let data = data.to_string_lossy().to_string();
    let mut args = vec![
        "controller",
        "--grpc-addr",
        &grpc_addr,
        "--http-addr",
        &http_addr,
        "--data-dir",
        &data,
    ];
    args.extend_from_slice(extra);
    let proc = spawn(dir, &format!("controller-{grpc_port}"), &args, &[]);
    wait_for(Duration::from_secs(30), || {
        http_get(http_port, "/healthz").is_some_and(|(code, _)| code == 200)
    })
    .unwrap_or_else(|| panic!("controller did not come up: {}", proc.log()));
    ControllerProc {
        proc,
        grpc: format!("http://{grpc_addr}"),
        http_port,
    }
}

/// Starts `vmafx node` against `grpc`, heartbeating every second.
pub fn start_node(dir: &Path, grpc: &str, name: &str, extra: &[&str]) -> Proc {
    start_node_as(dir, grpc, name, "", extra, &[])
}

/// Starts a node like [`start_node`], with extra environment; `tag` tells apart the logs and
/// scratch folders of several processes started under one node name (restarts).
pub fn start_node_as(
    dir: &Path,
    grpc: &str,
    name: &str,
    tag: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Proc {
    let label = if tag.is_empty() {
        format!("node-{name}")
    } else {
        format!("node-{name}-{tag}")
    };
    let scratch = dir.join(format!("scratch-{}", &label["node-".len()..]));
    let scratch = scratch.to_string_lossy().to_string();
    let mut args = vec![
        "node",
        "--controller",
        grpc,
        "--name",
        name,
        "--http-addr",
        "127.0.0.1:0",
        "--heartbeat-secs",
        "1",
        "--scratch-dir",
        &scratch,
    ];
    args.extend_from_slice(extra);
    spawn(dir, &label, &args, env)
}

/// Polls `check` every 50 ms until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> Option<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// A minimal HTTP/1.1 GET against 127.0.0.1: status code and body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_request(port, "GET", path, &[], b"")
}

/// A minimal HTTP/1.1 request against 127.0.0.1 with extra headers (`Host` is 127.0.0.1 unless
/// given) and a body: status code and body.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str("Host: 127.0.0.1\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method != "GET" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    // A server may answer (413) before reading a large body and then close: write the body on
    // another thread while this one reads, so the answer is read before any reset arrives.
    let mut writer = stream.try_clone().ok()?;
    let body = body.to_vec();
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(&body);
    });
    let answer = read_response(stream);
    let _ = sending.join();
    answer
}

fn read_response(stream: TcpStream) -> Option<(u16, String)> {
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).ok()?;
    let code = status.split_whitespace().nth(1)?.parse().ok()?;
    let mut chunked = false;
    let mut length: Option<usize> = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("transfer-encoding: chunked") {
            chunked = true;
        }
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().ok();
        }
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(length) = length {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    } else {
        reader.read_to_end(&mut body).ok()?;
    }
    Some((code, String::from_utf8_lossy(&body).into_owned()))
}

/// Writes the named conformance fixture's pair into `dir`.
pub fn fixture_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let fixture = vmafx_fixtures::fixtures()
        .into_iter()
        .find(|f| f.name == name)
        .expect("fixture");
    write_pair(dir, &fixture)
}

/// The extractor a job on [`slow_pair`] adds to stay busy for seconds even on the fastest
/// kernels: CIEDE2000 costs several times VMAF per pixel, and does not change the VMAF score.
pub const SLOW_FEATURE: &str = "ciede";

/// A pair large enough that scoring it on one thread takes seconds (with [`SLOW_FEATURE`]).
pub fn slow_pair(dir: &Path) -> (PathBuf, PathBuf) {
    panning_pair(dir, "slow_640x360", 640, 360, 240)
}

/// The blurred panning fixture at another size and length, written into `dir` as
/// `NAME_ref.y4m` and `NAME_dist.y4m`.
pub fn panning_pair(
    dir: &Path,
    name: &'static str,
    width: usize,
    height: usize,
    frames: usize,
) -> (PathBuf, PathBuf) {
    let mut fixture = vmafx_fixtures::fixtures()
        .into_iter()
        .find(|f| f.name == "pan_420_8bit_blur")
        .expect("fixture");
    fixture.name = name;
    fixture.spec = ClipSpec {
        width,
        height,
        frames,
        ..fixture.spec
    };
    write_pair(dir, &fixture)
}

fn write_pair(dir: &Path, fixture: &Fixture) -> (PathBuf, PathBuf) {
    let reference = dir.join(format!("{}_ref.y4m", fixture.name));
    let distorted = dir.join(format!("{}_dist.y4m", fixture.name));
    fixture
        .write_pair(&reference, &distorted)
        .expect("write pair");
    (reference, distorted)
}

/// `file://` URI of a local path.
pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.canonicalize().expect("path").display())
}

/// Runs `vmafx ARGS`, returning (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    run_cli_env(args, &[])
}

/// [`run_cli`] with extra environment variables (`VMAFX_TOKEN`, …).
pub fn run_cli_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(vmafx())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run vmafx");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `vmafx job feedback ID --target TARGET` against `grpc`: (exit code, stdout, stderr).
pub fn job_feedback(grpc: &str, id: &str, target: &str) -> (i32, String, String) {
    run_cli(&[
        "job",
        "feedback",
        "--controller",
        grpc,
        id,
        "--target",
        target,
    ])
}

/// The JSON report `vmafx score --json` writes for a pair, as text.
pub fn score_report(reference: &Path, distorted: &Path) -> String {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let out = dir.path().join("direct.json");
    let (code, _, err) = run_cli(&[
        "score",
        "-r",
        reference.to_str().expect("UTF-8 path"),
        "-d",
        distorted.to_str().expect("UTF-8 path"),
        "--json",
        "-o",
        out.to_str().expect("UTF-8 path"),
        "-q",
    ]);
    assert_eq!(code, 0, "vmafx score failed: {err}");
    std::fs::read_to_string(&out).expect("vmafx score wrote its report")
}

/// `vmafx job submit --wait` of a pair (paths or URIs): the finished job as parsed JSON; fails the
/// test if the command does.
pub fn submit_and_wait(grpc: &str, reference: &str, distorted: &str) -> serde_json::Value {
    submit_and_wait_with(grpc, reference, distorted, &[])
}

/// [`submit_and_wait`] with further `vmafx job submit` flags (`--feature psnr`, ...).
pub fn submit_and_wait_with(
    grpc: &str,
    reference: &str,
    distorted: &str,
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec![
        "job",
        "submit",
        "--controller",
        grpc,
        "-r",
        reference,
        "-d",
        distorted,
        "--wait",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = run_cli(&args);
    assert_eq!(code, 0, "job submit --wait failed: {err}");
    serde_json::from_str(&out).expect("--wait prints the job as JSON")
}

/// `vmafx job get --json ID` as parsed JSON.
pub fn job_json(grpc: &str, id: &str) -> serde_json::Value {
    let (code, out, err) = run_cli(&["job", "get", "--controller", grpc, id, "--json"]);
    assert_eq!(code, 0, "job get failed: {err}");
    serde_json::from_str(&out).expect("job get prints JSON")
}

/// Waits until the job reaches a terminal state; returns its JSON.
pub fn wait_terminal(grpc: &str, id: &str, timeout: Duration) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let job = job_json(grpc, id);
        let state = job["state"].as_str().unwrap_or("").to_string();
        if matches!(state.as_str(), "COMPLETED" | "FAILED" | "CANCELLED") {
            return job;
        }
        assert!(
            start.elapsed() < timeout,
            "job {id} still {state} after {timeout:?}: {job}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
