//! axum through `ApiListener`: HTTPS with a client certificate whose CN reaches the handler, and
//! plain HTTP through the same listener type.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vmafx_api::tls::{ServerTls, ServerTlsOptions};

use crate::pki::{Ca, ServerFiles};
use crate::server::{bind, rustls_client, serve_http};

const REQUEST: &[u8] = b"GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

async fn https_get(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> std::io::Result<String> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("server name");
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    tls.write_all(REQUEST).await?;
    let mut response = String::new();
    tls.read_to_string(&mut response).await?;
    Ok(response)
}

#[tokio::test]
async fn https_handlers_see_the_client_common_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new("api");
    let clients = Ca::new("clients");
    let files = ServerFiles::write(dir.path(), &ca.server("controller"));
    let mut options = ServerTlsOptions::new(&files.cert, &files.key);
    options.client_ca = Some(crate::pki::write(dir.path(), "clients.crt", &clients.pem));
    let tls = ServerTls::load(&options).expect("server TLS");
    let addr = serve_http(bind(Some(tls)).await);

    let user = clients.client("alice");
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        https_get(addr, rustls_client(&ca.pem, Some(&user), b"http/1.1")),
    )
    .await
    .expect("in time")
    .expect("HTTPS GET");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("tls=true cn=alice"), "{response}");

    let refused = https_get(addr, rustls_client(&ca.pem, None, b"http/1.1")).await;
    assert!(
        refused.map(|response| response.is_empty()).unwrap_or(true),
        "no client certificate, no response"
    );
}

#[tokio::test]
async fn plain_http_goes_through_the_same_listener() {
    let addr = serve_http(bind(None).await);
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(REQUEST).await.expect("request");
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("tls=false cn=-"), "{response}");
}

#[tokio::test]
async fn https_clients_that_negotiate_h2_are_served() {
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new("api");
    let files = ServerFiles::write(dir.path(), &ca.server("controller"));
    let tls = ServerTls::load(&ServerTlsOptions::new(&files.cert, &files.key)).expect("TLS");
    let addr = serve_http(bind(Some(tls)).await);

    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("server name");
    let stream = tokio_rustls::TlsConnector::from(rustls_client(&ca.pem, None, b"h2"))
        .connect(name, tcp)
        .await
        .expect("handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let request = axum::http::Request::get("https://localhost/whoami")
        .body(axum::body::Body::empty())
        .expect("request");
    let response = sender.send_request(request).await.expect("HTTP/2 response");
    assert_eq!(response.status(), 200);
    let body = axum::body::to_bytes(axum::body::Body::new(response.into_body()), 1024)
        .await
        .expect("body");
    assert_eq!(&body[..], b"tls=true cn=-");
}
