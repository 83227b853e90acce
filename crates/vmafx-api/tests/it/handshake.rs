//! The handshake guard: clients that connect and send nothing neither block others nor hold a
//! handshake slot past the timeout.

use std::time::{Duration, Instant};

use vmafx_api::tls::{ServerTls, ServerTlsOptions};

use crate::pki::{Ca, ServerFiles};
use crate::server::{bind, get_job, https_options, serve_grpc};

fn server_tls(dir: &std::path::Path, ca: &Ca) -> ServerTls {
    let files = ServerFiles::write(dir, &ca.server("controller"));
    ServerTls::load(&ServerTlsOptions::new(&files.cert, &files.key)).expect("server TLS")
}

#[tokio::test]
async fn stalled_clients_do_not_block_another_clients_handshake() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new("api");
    let addr = serve_grpc(bind(Some(server_tls(dir.path(), &ca))).await);

    let mut stalled = Vec::new();
    for _ in 0..8 {
        stalled.push(
            tokio::net::TcpStream::connect(addr)
                .await
                .expect("stalled connect"),
        );
    }
    let started = Instant::now();
    let options = https_options(addr, dir.path(), &ca.pem);
    let job = tokio::time::timeout(Duration::from_secs(5), get_job(&options))
        .await
        .expect("served well before the 10 s handshake timeout")
        .expect("GetJob");
    assert_eq!(job.id, "job-1");
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(stalled);
}

#[tokio::test]
async fn a_stalled_handshake_gives_its_slot_back_at_the_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new("api");
    let listener = bind(Some(server_tls(dir.path(), &ca)))
        .await
        .with_max_concurrent_handshakes(1)
        .with_handshake_timeout(Duration::from_millis(500));
    let addr = serve_grpc(listener);

    let stalled = tokio::net::TcpStream::connect(addr)
        .await
        .expect("stalled connect");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let mut options = https_options(addr, dir.path(), &ca.pem);
    options.address = format!("https://127.0.0.1:{}", addr.port());
    let job = tokio::time::timeout(Duration::from_secs(5), get_job(&options))
        .await
        .expect("served once the stalled handshake timed out")
        .expect("GetJob");
    assert_eq!(job.id, "job-1");
    // The only slot was taken until the stalled client's timeout.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    drop(stalled);
}
