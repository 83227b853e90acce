//! s3:// against s3s-fs, a real S3-compatible server (SigV4 checked), embedded on a free port.

use std::time::{Duration, Instant};

use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use vmafx_fetch::{FetchConfig, FetchError, Fetcher, S3Config};

use crate::common::{closed_port, entries, payload, read_stream, Server};

const KEY_ID: &str = "vmafx-test-key";
const SECRET: &str = "vmafx-test-secret";

struct S3 {
    server: Server,
    _root: tempfile::TempDir,
    data: Vec<u8>,
}

/// A server with bucket `videos` holding `clips/big.y4m` (9 MiB + 17 bytes, so reads do not
/// end on a chunk boundary).
fn start() -> S3 {
    let root = tempfile::tempdir().unwrap();
    let data = payload(9 * 1024 * 1024 + 17, 7);
    std::fs::create_dir_all(root.path().join("videos/clips")).unwrap();
    std::fs::write(root.path().join("videos/clips/big.y4m"), &data).unwrap();
    let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(KEY_ID, SECRET));
    let service = builder.build();
    let server = Server::start(move |listener| crate::common::serve_hyper(listener, service));
    S3 {
        server,
        _root: root,
        data,
    }
}

fn config(endpoint: String, secret: &str) -> FetchConfig {
    FetchConfig {
        s3: S3Config {
            access_key_id: Some(KEY_ID.into()),
            secret_access_key: Some(secret.into()),
            region: Some("us-east-1".into()),
            endpoint: Some(endpoint),
            ..S3Config::default()
        },
        ..FetchConfig::default()
    }
}

fn fetcher(s3: &S3) -> Fetcher {
    Fetcher::new(config(format!("http://{}", s3.server.addr), SECRET)).unwrap()
}

#[test]
fn streams_a_multi_megabyte_object() {
    let s3 = start();
    let input = fetcher(&s3).open("s3://videos/clips/big.y4m").unwrap();
    let got = read_stream(input, "big.y4m");
    assert!(got == s3.data, "streamed bytes differ from the object");
}

#[test]
fn downloads_to_a_file_keeping_the_name() {
    let s3 = start();
    let dir = tempfile::tempdir().unwrap();
    let path = fetcher(&s3)
        .download("s3://videos/clips/big.y4m", dir.path())
        .unwrap();
    assert_eq!(path.parent(), Some(dir.path()));
    assert!(
        path.to_string_lossy().ends_with("-big.y4m"),
        "{}",
        path.display()
    );
    assert!(std::fs::read(&path).unwrap() == s3.data);
    assert_eq!(entries(dir.path()), 1);
}

#[test]
fn reports_the_size() {
    let s3 = start();
    let size = fetcher(&s3).size("s3://videos/clips/big.y4m").unwrap();
    assert_eq!(size, s3.data.len() as u64);
}

#[test]
fn missing_key_is_not_found() {
    let s3 = start();
    let err = fetcher(&s3).open("s3://videos/clips/nope.y4m").unwrap_err();
    assert!(matches!(err, FetchError::NotFound { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("failed to open s3://videos/clips/nope.y4m: not found"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
}

#[test]
fn unknown_bucket_is_not_found() {
    let s3 = start();
    let err = fetcher(&s3).open("s3://no-such-bucket/a.y4m").unwrap_err();
    assert!(matches!(err, FetchError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("s3://no-such-bucket/a.y4m"),
        "{err}"
    );
}

#[test]
fn wrong_secret_is_access_denied() {
    let s3 = start();
    let f = Fetcher::new(config(format!("http://{}", s3.server.addr), "wrong")).unwrap();
    let err = f.open("s3://videos/clips/big.y4m").unwrap_err();
    assert!(matches!(err, FetchError::AccessDenied { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("failed to open s3://videos/clips/big.y4m: access denied"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
}

#[test]
fn closed_port_is_unreachable_quickly() {
    let f = Fetcher::new(config(
        format!("http://127.0.0.1:{}", closed_port()),
        SECRET,
    ))
    .unwrap();
    let start = Instant::now();
    let err = f.open("s3://videos/a.y4m").unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("failed to reach the storage endpoint for s3://videos/a.y4m: "),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn silent_endpoint_times_out_within_twenty_seconds() {
    // Accepts connections (the kernel completes the handshake) but never answers, like a
    // black-holed load balancer: only the request timeout can end the wait.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let f = Fetcher::new(config(format!("http://{addr}"), SECRET)).unwrap();
    let start = Instant::now();
    let err = f.open("s3://videos/a.y4m").unwrap_err();
    let took = start.elapsed();
    drop(listener);
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err:?}");
    assert!(
        took >= Duration::from_secs(5),
        "gave up before one timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    eprintln!("silent endpoint gave up after {took:?}");
}

#[test]
fn uploads_a_result_and_reads_it_back() {
    let s3 = start();
    let f = fetcher(&s3);
    let body = payload(70_000, 3);
    f.upload("s3://videos/results/frames.json", &body).unwrap();
    let input = f.open("s3://videos/results/frames.json").unwrap();
    assert!(read_stream(input, "frames.json") == body);
    let refused = Fetcher::new(config(format!("http://{}", s3.server.addr), "wrong")).unwrap();
    let err = refused
        .upload("s3://videos/results/other.json", b"x")
        .unwrap_err();
    assert!(matches!(err, FetchError::AccessDenied { .. }), "{err}");
    assert!(
        err.to_string().contains("s3://videos/results/other.json"),
        "{err}"
    );
}
