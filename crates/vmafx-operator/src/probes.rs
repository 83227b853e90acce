//! The operator's own HTTP endpoints: Prometheus metrics, and the healthz/readyz probes the
//! operator's Deployment points its liveness and readiness checks at.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Named readiness checks; `/readyz` answers 200 only when every one passes.
#[derive(Default)]
pub struct Readiness {
    checks: Mutex<BTreeMap<&'static str, Check>>,
}

/// The state of one readiness check.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Whether the check passes.
    pub ok: bool,
    /// What was seen, in words.
    pub message: String,
}

#[derive(Serialize)]
struct Report {
    status: &'static str,
    checks: BTreeMap<&'static str, Check>,
}

impl Readiness {
    /// Sets check `name`.
    pub fn set(&self, name: &'static str, ok: bool, message: impl Into<String>) {
        let mut checks = self.checks.lock().unwrap_or_else(|p| p.into_inner());
        checks.insert(
            name,
            Check {
                ok,
                message: message.into(),
            },
        );
    }

    fn report(&self) -> (bool, Report) {
        let checks = self
            .checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let ok = checks.values().all(|c| c.ok);
        let status = if ok { "ok" } else { "unavailable" };
        (ok, Report { status, checks })
    }
}

/// Why an endpoint could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The listen address is taken or not ours.
    #[error("failed to listen on {addr} ({variable}): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The variable that configured it.
        variable: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Binds `addr` for the endpoint configured by `variable`.
pub async fn bind(addr: SocketAddr, variable: &'static str) -> Result<TcpListener, ProbeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ProbeError::Bind {
            addr,
            variable,
            source,
        })
}

/// Serves `/healthz` (alive) and `/readyz` (every readiness check passes) until `shutdown`.
pub async fn serve_health(
    listener: TcpListener,
    readiness: Arc<Readiness>,
    shutdown: CancellationToken,
) {
    let app = Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, "ok") }))
        .route("/livez", get(|| async { (StatusCode::OK, "ok") }))
        .route("/readyz", get(readyz))
        .with_state(readiness);
    serve(listener, app, shutdown, "health").await;
}

async fn readyz(State(readiness): State<Arc<Readiness>>) -> impl IntoResponse {
    let (ok, report) = readiness.report();
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report))
}

/// Serves `/metrics` until `shutdown`.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let app = Router::new()
        .route(
            "/metrics",
            get(|State(metrics): State<Arc<Metrics>>| async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.encode(),
                )
            }),
        )
        .with_state(metrics);
    serve(listener, app, shutdown, "metrics").await;
}

async fn serve(listener: TcpListener, app: Router, shutdown: CancellationToken, what: &str) {
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::error!("failed to serve the {what} endpoint: {error}");
    }
}
