//! gRPC through `ApiListener`: TLS with and without the right CA, mTLS, the bearer token, plain
//! TCP through the same listener, and certificate rotation without a restart.

use std::time::Duration;

use vmafx_api::client::{ClientOptions, Token};
use vmafx_api::tls::{ServerTls, ServerTlsOptions};

use crate::pki::{Ca, ServerFiles};
use crate::server::{bind, get_job, https_options, rustls_client, serve_grpc, server_certificate};

fn server_tls(files: &ServerFiles, client_ca: Option<std::path::PathBuf>) -> ServerTls {
    let mut options = ServerTlsOptions::new(&files.cert, &files.key);
    options.client_ca = client_ca;
    options.reload_interval = Duration::from_millis(50);
    ServerTls::load(&options).expect("server TLS")
}

#[tokio::test]
async fn https_with_the_ca_works_and_carries_the_bearer_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new("api");
    let files = ServerFiles::write(dir.path(), &ca.server("controller"));
    let addr = serve_grpc(bind(Some(server_tls(&files, None))).await);

    let mut options = https_options(addr, dir.path(), &ca.pem);
    options.token = Some(Token::new("t0ken-1"));
    let job = get_job(&options).await.expect("GetJob over TLS");
    assert_eq!(job.id, "job-1");
    assert_eq!(job.error, "Bearer t0ken-1", "the authorization metadata");
    assert_eq!(job.attempts, 1, "the server saw TLS");
    assert_eq!(job.node_id, "", "no client certificate, no CN");

    // A bare host:port with a CA means https.
    let mut bare = options.clone();
    bare.address = format!("localhost:{}", addr.port());
    assert_eq!(get_job(&bare).await.expect("bare address").attempts, 1);

    // The lazy channel connects on first use.
    let channel = options.connect_lazy().expect("lazy channel");
    let mut client = vmafx_api::v1::job_service_client::JobServiceClient::new(channel);
    let job = client
        .get_job(vmafx_api::v1::GetJobRequest {
            id: "lazy".to_owned(),
        })
        .await
        .expect("lazy GetJob")
        .into_inner();
    assert_eq!(
        (job.id.as_str(), job.error.as_str()),
        ("lazy", "Bearer t0ken-1")
    );
}

#[tokio::test]
async fn https_fails_without_the_ca_or_with_another_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new("api");
    let files = ServerFiles::write(dir.path(), &ca.server("controller"));
    let addr = serve_grpc(bind(Some(server_tls(&files, None))).await);

    // No --ca-cert: the system's CAs do not know this throwaway CA (or there are none, which
    // is its own error pointing at --ca-cert).
    let options = ClientOptions::new(format!("https://localhost:{}", addr.port()));
    let error = get_job(&options).await.expect_err("unknown CA");
    assert!(
        error.contains("certificate") || error.contains("--ca-cert"),
        "{error}"
    );

    let other = Ca::new("other");
    let options = https_options(addr, dir.path(), &other.pem);
    let error = get_job(&options).await.expect_err("wrong CA");
    assert!(
        error.contains("failed to connect to the controller at https://localhost:"),
        "{error}"
    );
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert!(!error.contains('\n'), "one line: {error}");

    // Plain text to a TLS port fails too.
    let options = ClientOptions::new(format!("http://127.0.0.1:{}", addr.port()));
    assert!(get_job(&options).await.is_err());
}

#[tokio::test]
async fn mtls_refuses_clients_without_a_good_certificate_and_names_those_with_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new("api");
    let clients = Ca::new("clients");
    let files = ServerFiles::write(dir.path(), &ca.server("controller"));
    let client_ca = crate::pki::write(dir.path(), "client-ca.crt", &clients.pem);
    let tls = server_tls(&files, Some(client_ca));
    assert!(tls.requires_client_certificate());
    let addr = serve_grpc(bind(Some(tls)).await);

    let options = https_options(addr, dir.path(), &ca.pem);
    let error = get_job(&options).await.expect_err("no client certificate");
    assert!(!error.is_empty());

    // A certificate from a CA the server does not trust for clients.
    let stranger = ca.client("node-x");
    let mut with_stranger = options.clone();
    with_stranger.client_identity = Some((
        crate::pki::write(dir.path(), "stranger.crt", &stranger.cert_pem),
        crate::pki::write(dir.path(), "stranger.key", &stranger.key_pem),
    ));
    get_job(&with_stranger)
        .await
        .expect_err("client certificate from the wrong CA");

    let node = clients.client("node-a");
    let mut with_node = options.clone();
    with_node.client_identity = Some((
        crate::pki::write(dir.path(), "node.crt", &node.cert_pem),
        crate::pki::write(dir.path(), "node.key", &node.key_pem),
    ));
    with_node.token = Some(Token::new("node-token"));
    let job = get_job(&with_node).await.expect("mTLS GetJob");
    assert_eq!(job.node_id, "node-a", "the handler sees the client CN");
    assert_eq!(job.error, "Bearer node-token");
}

#[tokio::test]
async fn a_rotated_client_ca_is_used_for_new_connections_without_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new("api");
    let (old_clients, new_clients) = (Ca::new("clients-1"), Ca::new("clients-2"));
    let files = ServerFiles::write(dir.path(), &ca.server("controller"));
    let client_ca = crate::pki::write(dir.path(), "client-ca.crt", &old_clients.pem);
    let addr = serve_grpc(bind(Some(server_tls(&files, Some(client_ca)))).await);
    let options = https_options(addr, dir.path(), &ca.pem);
    let identity = |name: &str, issued: &crate::pki::Issued| {
        let mut with = options.clone();
        with.client_identity = Some((
            crate::pki::write(dir.path(), &format!("{name}.crt"), &issued.cert_pem),
            crate::pki::write(dir.path(), &format!("{name}.key"), &issued.key_pem),
        ));
        with
    };
    let old_node = identity("old", &old_clients.client("node-old"));
    let new_node = identity("new", &new_clients.client("node-new"));
    get_job(&old_node).await.expect("the first CA's client");
    get_job(&new_node)
        .await
        .expect_err("the second CA is not trusted yet");

    crate::pki::write(dir.path(), "client-ca.crt", &new_clients.pem);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while get_job(&new_node).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rotated client CA was not used within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    get_job(&old_node)
        .await
        .expect_err("the first CA is no longer trusted");

    // A broken CA file keeps the last good one.
    crate::pki::write(dir.path(), "client-ca.crt", "not a certificate");
    tokio::time::sleep(Duration::from_millis(200)).await;
    get_job(&new_node)
        .await
        .expect("the kept CA still verifies");
}

#[tokio::test]
async fn plain_tcp_goes_through_the_same_listener() {
    let addr = serve_grpc(bind(None).await);
    let mut options = ClientOptions::new(format!("127.0.0.1:{}", addr.port()));
    options.token = Some(Token::new("plain"));
    let job = get_job(&options).await.expect("plain GetJob");
    assert_eq!((job.attempts, job.error.as_str()), (0, "Bearer plain"));

    // No token, no authorization metadata.
    options.token = None;
    assert_eq!(get_job(&options).await.expect("no token").error, "");
}

#[tokio::test]
async fn rotated_certificate_files_are_served_to_new_connections_without_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new("api");
    let first = ca.server("controller-1");
    let files = ServerFiles::write(dir.path(), &first);
    let addr = serve_grpc(bind(Some(server_tls(&files, None))).await);
    let client = rustls_client(&ca.pem, None, b"h2");
    let options = https_options(addr, dir.path(), &ca.pem);

    assert_eq!(
        server_certificate(addr, client.clone())
            .await
            .expect("first"),
        first.der
    );
    // A channel opened before the rotation keeps working after it.
    let mut before = vmafx_api::v1::job_service_client::JobServiceClient::new(
        options.connect().await.expect("connect before"),
    );

    let second = ca.server("controller-2");
    ServerFiles::write(dir.path(), &second);
    wait_for_certificate(addr, client.clone(), &second.der).await;
    get_job(&options).await.expect("GetJob after the rotation");
    before
        .get_job(vmafx_api::v1::GetJobRequest {
            id: "old".to_owned(),
        })
        .await
        .expect("the old connection still serves");

    // A broken rotation (a key that is not PEM) keeps the last good certificate.
    crate::pki::write(dir.path(), "tls.key", "not a key");
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        assert_eq!(
            server_certificate(addr, client.clone())
                .await
                .expect("kept"),
            second.der
        );
    }
    get_job(&options)
        .await
        .expect("GetJob with the kept certificate");

    // Mending the files is picked up in turn.
    let third = ca.server("controller-3");
    ServerFiles::write(dir.path(), &third);
    wait_for_certificate(addr, client, &third.der).await;
}

/// Waits (up to 5 s) until new connections are served `expected`.
async fn wait_for_certificate(
    addr: std::net::SocketAddr,
    client: std::sync::Arc<rustls::ClientConfig>,
    expected: &[u8],
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let served = server_certificate(addr, client.clone())
            .await
            .expect("handshake");
        if served == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rotated certificate was not served within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
