//! Binding and running the controller's listeners: gRPC, HTTP and the reaper that takes back
//! expired leases, all stopped by one cancellation token.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vmafx_api::tls::{ApiListener, ConnectionInfo, ServerTls};
use vmafx_api::v1::job_service_server::JobServiceServer;
use vmafx_api::v1::node_service_server::NodeServiceServer;

use crate::auth::Authenticator;
use crate::controller::{purge_interval, Controller};
use crate::grpc::{AuthLayer, GrpcApi};
use crate::http;

/// How long one unary gRPC call may take, the upload of a large result included.
pub const GRPC_TIMEOUT: Duration = Duration::from_secs(120);

/// Concurrent streams on one HTTP/2 connection (the operator multiplexes 100 watches on each).
pub const MAX_STREAMS_PER_CONNECTION: u32 = 1_000;

/// Where to listen, who may call, and how large a request may be.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// gRPC address (port 0: any free port).
    pub grpc_addr: SocketAddr,
    /// HTTP address (port 0: any free port).
    pub http_addr: SocketAddr,
    /// Who may call: [`Authenticator::open`] lets everyone in.
    pub auth: Arc<Authenticator>,
    /// The largest client request (`JobService`) decoded.
    pub max_message_bytes: usize,
    /// The largest node request (`NodeService`: results with per-frame documents) decoded, and
    /// the largest response (per-frame documents) sent.
    pub max_result_bytes: usize,
    /// TLS for both listeners (certificates reload when their files change); `None` serves
    /// plain TCP.
    pub tls: Option<ServerTls>,
}

impl ServeOptions {
    /// Unauthenticated listeners at these addresses with the default limits.
    pub fn open(grpc_addr: SocketAddr, http_addr: SocketAddr) -> Self {
        ServeOptions {
            grpc_addr,
            http_addr,
            auth: Authenticator::open(),
            max_message_bytes: vmafx_api::DEFAULT_MAX_MESSAGE_BYTES,
            max_result_bytes: vmafx_api::DEFAULT_MAX_RESULT_BYTES,
            tls: None,
        }
    }
}

/// A running controller: its bound addresses, and the task to await after cancelling.
pub struct Bound {
    /// The gRPC address actually bound.
    pub grpc_addr: SocketAddr,
    /// The HTTP address actually bound.
    pub http_addr: SocketAddr,
    task: JoinHandle<Result<(), String>>,
}

impl Bound {
    /// Waits until the servers have stopped (after the token is cancelled, or on a fatal error).
    pub async fn wait(self) -> Result<(), String> {
        self.task
            .await
            .map_err(|e| format!("controller task ended abnormally: {e}"))?
    }
}

/// Binds both listeners and starts serving `controller` until `shutdown` is cancelled.
pub async fn serve(
    controller: Arc<Controller>,
    options: ServeOptions,
    shutdown: CancellationToken,
) -> Result<Bound, std::io::Error> {
    let grpc_listener = bind(options.grpc_addr, "gRPC").await?;
    let http_listener = bind(options.http_addr, "HTTP").await?;
    let grpc_addr = grpc_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;
    tracing::info!(%grpc_addr, %http_addr, tls = options.tls.is_some(), "controller listening");
    let grpc_listener = ApiListener::new(grpc_listener, options.tls.clone());
    let http_listener = ApiListener::new(http_listener, options.tls.clone());

    options.auth.spawn_reloader(shutdown.clone());
    let api = GrpcApi::new(Arc::clone(&controller));
    let jobs = JobServiceServer::new(api.clone())
        .max_decoding_message_size(options.max_message_bytes)
        .max_encoding_message_size(options.max_result_bytes);
    let nodes = NodeServiceServer::new(api)
        .max_decoding_message_size(options.max_result_bytes)
        .max_encoding_message_size(options.max_message_bytes);
    let grpc = tonic::transport::Server::builder()
        .timeout(GRPC_TIMEOUT)
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .tcp_keepalive(Some(Duration::from_secs(60)))
        .layer(AuthLayer(Arc::clone(&options.auth)))
        .add_service(jobs)
        .add_service(nodes)
        .serve_with_incoming_shutdown(grpc_listener, shutdown.clone().cancelled_owned());
    let router = http::router(
        Arc::clone(&controller),
        http::HttpOptions {
            auth: Arc::clone(&options.auth),
            loopback_only: http_addr.ip().is_loopback(),
        },
    );
    let web = axum::serve(
        http_listener,
        router.into_make_service_with_connect_info::<ConnectionInfo>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let reaper = reap_loop(Arc::clone(&controller), shutdown.clone());

    let task = tokio::spawn(async move {
        let (grpc, web, reaped) = tokio::join!(grpc, async { web.await }, reaper);
        reaped?;
        grpc.map_err(|e| format!("failed to serve gRPC: {e}"))?;
        web.map_err(|e| format!("failed to serve HTTP: {e}"))?;
        Ok(())
    });
    Ok(Bound {
        grpc_addr,
        http_addr,
        task,
    })
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener, std::io::Error> {
    TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("failed to listen for {what} on {addr}: {e}"),
        )
    })
}

/// Takes back expired leases, applies retention, and stops the whole controller when the store
/// has failed for good (a failed fsync): it must not acknowledge anything more, and a restart
/// recovers from the WAL.
async fn reap_loop(controller: Arc<Controller>, shutdown: CancellationToken) -> Result<(), String> {
    let mut ticker = tokio::time::interval(controller.config().reap_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_purge: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = ticker.tick() => {}
        }
        if let Some(why) = controller.store_failure() {
            tracing::error!("the job store failed and cannot continue: {why}");
            shutdown.cancel();
            return Err(format!(
                "the job store failed and cannot continue safely ({why}); restart to recover from its write-ahead log"
            ));
        }
        if let Err(err) = controller.reap().await {
            tracing::warn!("failed to reap expired leases: {err}");
        }
        if last_purge.map_or(true, |at| at.elapsed() >= purge_interval()) {
            last_purge = Some(tokio::time::Instant::now());
            if let Err(err) = controller.purge().await {
                tracing::warn!("failed to delete old jobs: {err}");
            }
        }
    }
}
