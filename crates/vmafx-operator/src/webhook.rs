//! Validating admission webhooks (being written).

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

/// Why the webhook server could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The listen address is taken.
    #[error("failed to listen on {addr} for the admission webhooks: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Where the serving certificate is mounted: `tls.crt` and `tls.key`, as cert-manager writes them,
/// under controller-runtime's default directory.
pub fn cert_dir() -> PathBuf {
    std::env::temp_dir()
        .join("k8s-webhook-server")
        .join("serving-certs")
}

/// Binds the webhook listener; certificate problems surface here, before the operator reports ready.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, WebhookError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| WebhookError::Bind { addr, source })
}

/// Serves the webhooks on `listener` until `shutdown` fires.
pub async fn serve(listener: tokio::net::TcpListener, shutdown: CancellationToken) {
    let _ = listener;
    shutdown.cancelled().await;
}
