//! Binding and running the controller's listeners: gRPC, HTTP and the reaper that takes back
//! expired leases, all stopped by one cancellation token.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use vmafx_api::v1::job_service_server::JobServiceServer;
use vmafx_api::v1::node_service_server::NodeServiceServer;
use vmafx_api::MAX_MESSAGE_BYTES;

use crate::controller::Controller;
use crate::grpc::GrpcApi;
use crate::http;

/// Where to listen.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// gRPC address (port 0: any free port).
    pub grpc_addr: SocketAddr,
    /// HTTP address (port 0: any free port).
    pub http_addr: SocketAddr,
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
    tracing::info!(%grpc_addr, %http_addr, "controller listening");

    let api = GrpcApi::new(Arc::clone(&controller));
    let grpc = tonic::transport::Server::builder()
        .add_service(
            JobServiceServer::new(api.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            NodeServiceServer::new(api)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(
            TcpListenerStream::new(grpc_listener),
            shutdown.clone().cancelled_owned(),
        );
    let web = axum::serve(http_listener, http::router(Arc::clone(&controller)))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let reaper = reap_loop(Arc::clone(&controller), shutdown.clone());

    let task = tokio::spawn(async move {
        let (grpc, web, ()) = tokio::join!(grpc, async { web.await }, reaper);
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

async fn reap_loop(controller: Arc<Controller>, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(controller.config().reap_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {
                if let Err(err) = controller.reap().await {
                    tracing::warn!("failed to reap expired leases: {err}");
                }
            }
        }
    }
}
