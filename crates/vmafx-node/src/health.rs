//! The node's health endpoints: `/healthz` (liveness) and `/ready` (readiness), both JSON with
//! named checks.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::worker::Shared;

/// Binds `addr` and serves the health routes until `shutdown`; returns the bound address.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/ready", get(ready))
        .with_state(shared);
    tokio::spawn(async move {
        let server =
            axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(err) = server.await {
            tracing::error!("failed to serve node health: {err}");
        }
    });
    Ok(bound)
}

fn body(shared: &Shared, status: &str, checks: serde_json::Value) -> serde_json::Value {
    json!({
        "status": status,
        "checks": checks,
        "node_id": shared.node_id(),
        "name": shared.config.name,
        "capacity": shared.config.capacity,
        "running": shared.running_count(),
    })
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(body(&shared, "ok", json!({ "process": true })))
}

/// Ready when registered and the controller answered the last call. ffmpeg is reported too:
/// without it only Y4M and raw inputs can be scored, so it does not gate readiness.
async fn ready(State(shared): State<Arc<Shared>>) -> Response {
    let controller = shared.connected.load(Ordering::Relaxed);
    let registered = shared.node_id().is_some();
    let ffmpeg = vmafx_video::ffmpeg::find_on_path("ffmpeg").is_some();
    let ok = controller && registered;
    let checks = json!({ "controller": controller, "registered": registered, "ffmpeg": ffmpeg });
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let status = if ok { "ready" } else { "not ready" };
    (code, Json(body(&shared, status, checks))).into_response()
}
