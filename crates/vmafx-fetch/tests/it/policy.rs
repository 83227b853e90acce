//! The input policy on the node, tried against real files and real servers on loopback: files
//! outside the roots, devices, FIFOs, symlinks out of a root, loopback and metadata addresses,
//! a name that resolves to loopback, a redirect to loopback, oversize inputs and model files.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use vmafx_fetch::{check_model_file, FetchConfig, FetchError, Fetcher, InputPolicy};

use crate::common::{payload, read_stream, Server};
use crate::local::rooted;

fn policy_error(err: &FetchError) -> String {
    assert!(matches!(err, FetchError::Policy { .. }), "{err:?}");
    let text = err.to_string();
    assert!(!text.contains('\n'), "{text}");
    text
}

#[test]
fn files_outside_the_roots_are_refused_without_saying_whether_they_exist() {
    let root = tempfile::tempdir().unwrap();
    let f = rooted(root.path());
    let passwd = f.open("file:///etc/passwd").unwrap_err();
    let missing = f.open("file:///etc/no-such-file-here").unwrap_err();
    let dir = f.open("file:///etc/ssl").unwrap_err();
    assert_eq!(
        policy_error(&passwd),
        "failed to open file:///etc/passwd: the file is not under an allowed file root (see --allow-file-root)"
    );
    // The same words whether the file exists, is missing or is a directory.
    let reason = |e: &FetchError| e.to_string().split_once(": ").unwrap().1.to_string();
    assert_eq!(reason(&passwd), reason(&missing));
    assert_eq!(reason(&passwd), reason(&dir));
    let dotdot = format!("file://{}/../../etc/passwd", root.path().display());
    policy_error(&f.open(&dotdot).unwrap_err());

    // No roots at all: every file:// input is refused.
    let none = Fetcher::new(FetchConfig::default()).unwrap();
    assert!(policy_error(&none.open("file:///etc/passwd").unwrap_err())
        .ends_with("file:// inputs are not allowed on this node (see --allow-file-root)"));
}

#[test]
fn only_regular_files_are_read() {
    let everything = rooted(Path::new("/"));
    for uri in [
        "file:///dev/zero",
        "file:///proc/self/environ",
        "file:///sys/kernel/notes",
    ] {
        policy_error(&everything.open(uri).unwrap_err());
    }
    let root = tempfile::tempdir().unwrap();
    let fifo = root.path().join("pipe.y4m");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let f = rooted(root.path());
    let err = f.open(&format!("file://{}", fifo.display())).unwrap_err();
    assert!(policy_error(&err).contains("not a regular file"), "{err}");
}

#[test]
fn a_symlink_out_of_a_root_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let link = root.path().join("escape.y4m");
    std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
    let f = rooted(root.path());
    let err = f.open(&format!("file://{}", link.display())).unwrap_err();
    assert!(policy_error(&err)
        .ends_with("the file is not under an allowed file root (see --allow-file-root)"));
    // A symlink that stays inside the root is fine.
    std::fs::write(root.path().join("real.y4m"), b"YUV4MPEG2").unwrap();
    let inside = root.path().join("inside.y4m");
    std::os::unix::fs::symlink(root.path().join("real.y4m"), &inside).unwrap();
    assert_eq!(f.size(&format!("file://{}", inside.display())).unwrap(), 9);
}

#[test]
fn oversize_inputs_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("big.y4m");
    std::fs::write(&path, vec![0u8; 100]).unwrap();
    let f = Fetcher::new(FetchConfig {
        policy: InputPolicy {
            allow_file_roots: vec![root.path().to_path_buf()],
            allow_private_networks: true,
            max_input_bytes: 99,
            ..InputPolicy::default()
        },
        ..FetchConfig::default()
    })
    .unwrap();
    let err = f.open(&format!("file://{}", path.display())).unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::TooLarge {
                size: 100,
                limit: 99,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("--max-input-bytes"), "{err}");

    let server = serve(Arc::new(payload(1000, 1)), None);
    let err = f
        .open(&format!("http://{}/media/clip.y4m", server.addr))
        .unwrap_err();
    assert!(
        matches!(err, FetchError::TooLarge { size: 1000, .. }),
        "{err:?}"
    );
}

/// Serves `data` at /media/clip.y4m, and redirects /moved to `redirect` when given.
fn serve(data: Arc<Vec<u8>>, redirect: Option<String>) -> Server {
    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let data = Arc::clone(&data);
        let redirect = redirect.clone();
        async move {
            let resp = match (req.uri().path(), redirect) {
                ("/moved", Some(to)) => Response::builder()
                    .status(StatusCode::FOUND)
                    .header("location", to)
                    .body(Full::new(Bytes::new())),
                ("/media/clip.y4m", _) if req.method() == hyper::Method::HEAD => {
                    Response::builder()
                        .header("content-length", data.len())
                        .body(Full::new(Bytes::new()))
                }
                ("/media/clip.y4m", _) => {
                    Response::builder().body(Full::new(Bytes::copy_from_slice(&data)))
                }
                _ => Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(Full::new(Bytes::new())),
            };
            Ok::<_, Infallible>(resp.unwrap())
        }
    });
    Server::start(move |listener| crate::common::serve_hyper(listener, service))
}

#[test]
fn loopback_and_metadata_addresses_are_refused() {
    let server = serve(Arc::new(payload(10, 2)), None);
    let f = Fetcher::new(FetchConfig::default()).unwrap();
    for uri in [
        format!("http://{}/media/clip.y4m", server.addr),
        format!("http://localhost:{}/media/clip.y4m", server.addr.port()),
        "http://169.254.169.254/latest/meta-data/iam".to_string(),
        "http://[::1]/x.y4m".to_string(),
        "http://2130706433/x.y4m".to_string(),
    ] {
        let err = f.open(&uri).unwrap_err();
        let text = policy_error(&err);
        assert!(
            text.contains("--allow-private-networks") || text.contains("dotted-quad"),
            "{uri}: {err}"
        );
    }
}

#[test]
fn a_name_that_resolves_to_loopback_is_refused() {
    let data = Arc::new(payload(10, 3));
    let server = serve(Arc::clone(&data), None);
    let config = |allow: bool| FetchConfig {
        policy: InputPolicy {
            allow_private_networks: allow,
            ..InputPolicy::default()
        },
        static_hosts: vec![("videos.example.com".into(), IpAddr::V4(Ipv4Addr::LOCALHOST))],
        ..FetchConfig::default()
    };
    let uri = format!(
        "http://videos.example.com:{}/media/clip.y4m",
        server.addr.port()
    );
    let err = Fetcher::new(config(false)).unwrap().open(&uri).unwrap_err();
    assert!(
        policy_error(&err).contains("the host videos.example.com resolves to 127.0.0.1"),
        "{err}"
    );
    // The same name with private networks allowed reaches the server: the refusal was the rule.
    let allowed = Fetcher::new(config(true)).unwrap();
    assert!(read_stream(allowed.open(&uri).unwrap(), "clip.y4m") == *data);
}

#[test]
fn a_redirect_to_loopback_is_refused() {
    let data = Arc::new(payload(10, 4));
    let target = serve(Arc::clone(&data), None);
    let to = format!("http://{}/media/clip.y4m", target.addr);
    let front = serve(Arc::new(Vec::new()), Some(to.clone()));
    // The front server is trusted by its authority; where it redirects to is not.
    let f = Fetcher::new(FetchConfig {
        trusted_hosts: vec![front.addr.to_string()],
        ..FetchConfig::default()
    })
    .unwrap();
    let err = f.open(&format!("http://{}/moved", front.addr)).unwrap_err();
    assert!(policy_error(&err).contains("a redirect to"), "{err}");

    // Private networks allowed: the redirect is followed.
    let open = super::http::private_ok();
    assert!(
        read_stream(
            open.open(&format!("http://{}/moved", front.addr)).unwrap(),
            "moved"
        ) == *data
    );
}

#[test]
fn model_files_are_checked_on_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.json");
    std::fs::write(&model, b"{}").unwrap();
    let policy = InputPolicy {
        model_dirs: vec![dir.path().to_path_buf()],
        max_model_bytes: 10,
        ..InputPolicy::default()
    };
    assert!(check_model_file(&policy, &model).is_ok());
    for bad in ["/dev/zero", "/etc/passwd"] {
        let err = check_model_file(&policy, Path::new(bad)).unwrap_err();
        assert!(err.contains("--model-dir"), "{err}");
    }
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; 11]).unwrap();
    assert!(check_model_file(&policy, &big)
        .unwrap_err()
        .contains("model limit"));
    let none = InputPolicy::default();
    assert!(check_model_file(&none, &model)
        .unwrap_err()
        .contains("not allowed"));
    let everything = InputPolicy {
        model_dirs: vec!["/".into()],
        ..InputPolicy::default()
    };
    assert!(check_model_file(&everything, Path::new("/dev/zero")).is_err());
}
