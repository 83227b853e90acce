//! [`ApiListener`]: accepts TCP connections, runs TLS handshakes concurrently under a timeout and
//! a cap, and hands finished connections to tonic (as a `Stream`) or axum (as a `Listener`).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Sleep;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::subject::common_name;
use super::ServerTls;

/// How long a client may take to complete its TLS handshake before it is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many TLS handshakes may run at once; further connections wait in the kernel's backlog.
pub const MAX_CONCURRENT_HANDSHAKES: usize = 256;

/// How long to pause accepting after an error such as running out of file descriptors.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The common name (CN) of the subject of the client certificate verified during the TLS
/// handshake (mTLS only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerCommonName(pub String);

impl PeerCommonName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PeerCommonName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the server knows about a connection. tonic puts it in every request's extensions; axum
/// hands it to handlers as `ConnectInfo<ConnectionInfo>` when served with
/// `into_make_service_with_connect_info::<ConnectionInfo>()`.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The client's address.
    pub remote_addr: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The CN of the client certificate, when one was presented and verified.
    pub peer_common_name: Option<PeerCommonName>,
}

impl ConnectionInfo {
    /// The connection of a gRPC request served through an [`ApiListener`].
    pub fn of_grpc<T>(request: &tonic::Request<T>) -> Option<&ConnectionInfo> {
        request.extensions().get::<ConnectionInfo>()
    }

    /// The connection of an HTTP request (tonic or axum, in a tower layer or middleware) served
    /// through an [`ApiListener`]; for axum, only with `into_make_service_with_connect_info`.
    pub fn from_extensions(extensions: &axum::http::Extensions) -> Option<&ConnectionInfo> {
        extensions.get::<ConnectionInfo>().or_else(|| {
            extensions
                .get::<axum::extract::ConnectInfo<ConnectionInfo>>()
                .map(|info| &info.0)
        })
    }
}

/// One accepted connection, TLS or plain.
pub struct ApiConnection {
    stream: Stream,
    info: ConnectionInfo,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl ApiConnection {
    /// What is known about the connection.
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }
}

impl std::fmt::Debug for ApiConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConnection")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for ApiConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ApiConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().stream {
            Stream::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().stream {
            Stream::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(stream) => stream.is_write_vectored(),
            Stream::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

impl tonic::transport::server::Connected for ApiConnection {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> ConnectionInfo {
        self.info.clone()
    }
}

/// A bound TCP listener, with or without TLS, that both servers accept through.
///
/// TLS handshakes run as their own tasks, at most [`MAX_CONCURRENT_HANDSHAKES`] at once and each
/// for at most [`HANDSHAKE_TIMEOUT`], so a client that connects and sends nothing delays no one.
/// Failed handshakes are logged at debug level and dropped. Accept errors (out of file
/// descriptors) are logged and retried after a short pause; the listener never ends by itself.
///
/// - tonic: it is a `Stream` of connections, for `Server::serve_with_incoming_shutdown`.
/// - axum: it is an `axum::serve::Listener`, for `axum::serve`.
///
/// Must be polled inside a Tokio runtime.
pub struct ApiListener {
    tcp: TcpListener,
    acceptor: Option<TlsAcceptor>,
    handshakes: JoinSet<Option<ApiConnection>>,
    max_handshakes: usize,
    handshake_timeout: Duration,
    paused: Option<Pin<Box<Sleep>>>,
}

impl std::fmt::Debug for ApiListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiListener")
            .field("local_addr", &self.tcp.local_addr().ok())
            .field("tls", &self.acceptor.is_some())
            .field("handshakes", &self.handshakes.len())
            .finish_non_exhaustive()
    }
}

impl ApiListener {
    /// Serves `tcp` with TLS when `tls` is given, plain TCP otherwise.
    pub fn new(tcp: TcpListener, tls: Option<ServerTls>) -> ApiListener {
        ApiListener {
            tcp,
            acceptor: tls.map(|tls| TlsAcceptor::from(tls.server_config())),
            handshakes: JoinSet::new(),
            max_handshakes: MAX_CONCURRENT_HANDSHAKES,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            paused: None,
        }
    }

    /// Changes the handshake timeout (default [`HANDSHAKE_TIMEOUT`]).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> ApiListener {
        self.handshake_timeout = timeout;
        self
    }

    /// Changes the cap on concurrent handshakes (default [`MAX_CONCURRENT_HANDSHAKES`]; at least 1).
    pub fn with_max_concurrent_handshakes(mut self, max: usize) -> ApiListener {
        self.max_handshakes = max.max(1);
        self
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        self.acceptor.is_some()
    }

    /// Waits for the next connection ready to serve: accepted, and its handshake done.
    pub async fn accept(&mut self) -> ApiConnection {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<ApiConnection> {
        loop {
            // Finished handshakes first: they are the oldest connections.
            while let Poll::Ready(Some(finished)) = self.handshakes.poll_join_next(cx) {
                match finished {
                    Ok(Some(connection)) => return Poll::Ready(connection),
                    Ok(None) => {}
                    Err(error) => tracing::warn!("a TLS handshake task failed: {error}"),
                }
            }
            if let Some(pause) = &mut self.paused {
                ready!(pause.as_mut().poll(cx));
                self.paused = None;
            }
            if self.handshakes.len() >= self.max_handshakes {
                // A finishing handshake wakes us through `poll_join_next` above.
                return Poll::Pending;
            }
            let (stream, remote_addr) = match ready!(self.tcp.poll_accept(cx)) {
                Ok(accepted) => accepted,
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    tracing::warn!("failed to accept a connection: {error}");
                    self.paused = Some(Box::pin(tokio::time::sleep(ACCEPT_ERROR_PAUSE)));
                    continue;
                }
            };
            // gRPC and small JSON responses gain nothing from Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            match &self.acceptor {
                None => {
                    return Poll::Ready(ApiConnection {
                        stream: Stream::Plain(stream),
                        info: ConnectionInfo {
                            remote_addr,
                            tls: false,
                            peer_common_name: None,
                        },
                    })
                }
                Some(acceptor) => {
                    let handshake = handshake(
                        acceptor.clone(),
                        stream,
                        remote_addr,
                        self.handshake_timeout,
                    );
                    self.handshakes.spawn(handshake);
                }
            }
        }
    }
}

/// Runs one TLS handshake; `None` when it fails or times out (logged at debug level: scanners
/// and health checks that only open a TCP connection are common and harmless).
async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    remote_addr: SocketAddr,
    timeout: Duration,
) -> Option<ApiConnection> {
    let tls = match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::debug!(%remote_addr, "TLS handshake failed: {error}");
            return None;
        }
        Err(_) => {
            tracing::debug!(%remote_addr, "TLS handshake timed out after {timeout:?}");
            return None;
        }
    };
    let peer_common_name = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| common_name(leaf.as_ref()))
        .map(PeerCommonName);
    Some(ApiConnection {
        stream: Stream::Tls(Box::new(tls)),
        info: ConnectionInfo {
            remote_addr,
            tls: true,
            peer_common_name,
        },
    })
}

/// Errors about one connection (reset before it was accepted), not about the listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

impl futures_core::Stream for ApiListener {
    type Item = io::Result<ApiConnection>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut()
            .poll_accept(cx)
            .map(|connection| Some(Ok(connection)))
    }
}

impl axum::serve::Listener for ApiListener {
    type Io = ApiConnection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (ApiConnection, SocketAddr) {
        let connection = ApiListener::accept(self).await;
        let remote_addr = connection.info.remote_addr;
        (connection, remote_addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, ApiListener>>
    for ConnectionInfo
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, ApiListener>) -> Self {
        stream.io().info.clone()
    }
}
