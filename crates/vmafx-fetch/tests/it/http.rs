//! http:// against a hyper server on a free port that serves one file (GET and HEAD) and 404s.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use vmafx_fetch::{FetchConfig, FetchError, Fetcher, InputPolicy};

/// The test servers listen on loopback, which the default policy refuses.
pub fn private_ok() -> Fetcher {
    Fetcher::new(FetchConfig {
        policy: InputPolicy {
            allow_private_networks: true,
            ..InputPolicy::default()
        },
        ..FetchConfig::default()
    })
    .unwrap()
}

use crate::common::{entries, payload, read_stream, Server};

fn start(data: Arc<Vec<u8>>) -> Server {
    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let data = Arc::clone(&data);
        async move {
            let found = req.uri().path() == "/media/clip%20one.y4m";
            let resp = match (found, req.method()) {
                (true, &hyper::Method::HEAD) => Response::builder()
                    .header("content-length", data.len())
                    .body(Full::new(Bytes::new())),
                (true, &hyper::Method::GET) => {
                    Response::builder().body(Full::new(Bytes::copy_from_slice(&data)))
                }
                _ => Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(Full::new(Bytes::from_static(b"no such file\n"))),
            };
            Ok::<_, Infallible>(resp.unwrap())
        }
    });
    Server::start(move |listener| crate::common::serve_hyper(listener, service))
}

#[test]
fn streams_and_downloads_over_http() {
    let data = Arc::new(payload(3 * 1024 * 1024 + 5, 3));
    let server = start(Arc::clone(&data));
    let f = private_ok();
    let uri = format!("http://{}/media/clip%20one.y4m", server.addr);

    let got = read_stream(f.open(&uri).unwrap(), "clip one.y4m");
    assert!(got == *data);

    let dir = tempfile::tempdir().unwrap();
    let path = f.download(&uri, dir.path()).unwrap();
    assert!(path.to_string_lossy().ends_with("-clip one.y4m"));
    assert!(std::fs::read(&path).unwrap() == *data);
    assert_eq!(entries(dir.path()), 1);
}

#[test]
fn missing_url_is_not_found() {
    let server = start(Arc::new(Vec::new()));
    let f = private_ok();
    let uri = format!("http://{}/media/missing.y4m", server.addr);
    let err = f.open(&uri).unwrap_err();
    assert!(matches!(err, FetchError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("failed to open {uri}: not found")),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    assert!(f.download(&uri, dir.path()).is_err());
    assert_eq!(
        entries(dir.path()),
        0,
        "a failed download must leave no file"
    );
}
