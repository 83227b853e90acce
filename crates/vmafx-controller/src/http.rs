//! The HTTP front end: health and readiness, Prometheus metrics, a JSON REST mirror of the gRPC
//! API (described by `openapi.yaml`), and the web page that lists jobs and nodes.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use vmafx_api::v1;
use vmafx_api::view::{parse_state, JobView, NodeView, SubmitBody};

use crate::controller::{Controller, ControllerError};

/// The OpenAPI description of the REST routes, served at `/openapi.yaml`.
pub const OPENAPI: &str = include_str!("../openapi.yaml");

const INDEX_HTML: &str = include_str!("../web/index.html");

/// Every route the HTTP server answers, as (method, path) pairs; the OpenAPI test checks the two
/// agree.
#[cfg(test)]
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.yaml"),
    ("get", "/"),
    ("get", "/api/v1/jobs"),
    ("post", "/api/v1/jobs"),
    ("get", "/api/v1/jobs/{id}"),
    ("post", "/api/v1/jobs/{id}/cancel"),
    ("get", "/api/v1/jobs/{id}/frames"),
    ("get", "/api/v1/nodes"),
];

/// The router over `controller`.
pub fn router(controller: Arc<Controller>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.yaml", get(openapi))
        .route("/", get(index))
        .route("/api/v1/jobs", get(list_jobs).post(submit_job))
        .route("/api/v1/jobs/{id}", get(get_job))
        .route("/api/v1/jobs/{id}/cancel", post(cancel_job))
        .route("/api/v1/jobs/{id}/frames", get(job_frames))
        .route("/api/v1/nodes", get(list_nodes))
        .with_state(controller)
}

/// A controller error as an HTTP response with a JSON `{"error": …}` body.
struct HttpError(ControllerError);

impl From<ControllerError> for HttpError {
    fn from(err: ControllerError) -> Self {
        HttpError(err)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let code = match self.0 {
            ControllerError::InvalidArgument(_) => StatusCode::BAD_REQUEST,
            ControllerError::NotFound(_) => StatusCode::NOT_FOUND,
            ControllerError::LeaseLost(_) | ControllerError::Conflict(_) => StatusCode::CONFLICT,
            ControllerError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        (code, Json(json!({ "error": self.0.to_string() }))).into_response()
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(controller): State<Arc<Controller>>) -> Response {
    let store = controller.store_ready().await;
    let body = json!({
        "status": if store { "ready" } else { "not ready" },
        "checks": { "store": store },
    });
    let code = if store {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn metrics(State(controller): State<Arc<Controller>>) -> Result<Response, HttpError> {
    let text = controller.metrics_text().await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI).into_response()
}

async fn index() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
        .into_response()
}

/// Query parameters of `GET /api/v1/jobs`.
#[derive(Debug, Deserialize)]
struct ListQuery {
    /// Comma-separated state names.
    state: Option<String>,
    node_id: Option<String>,
    page_size: Option<u32>,
    page_token: Option<String>,
}

async fn list_jobs(
    State(controller): State<Arc<Controller>>,
    Query(query): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let mut states = Vec::new();
    for name in query.state.iter().flat_map(|s| s.split(',')) {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        let state = parse_state(name).ok_or_else(|| {
            ControllerError::InvalidArgument(format!("state: unknown state \"{name}\""))
        })?;
        states.push(state as i32);
    }
    let page = controller
        .list_jobs(v1::ListJobsRequest {
            states,
            node_id: query.node_id.unwrap_or_default(),
            page_size: query.page_size.unwrap_or(0),
            page_token: query.page_token.unwrap_or_default(),
        })
        .await?;
    let jobs: Vec<JobView> = page.jobs.iter().map(JobView::from).collect();
    Ok(Json(json!({
        "jobs": jobs,
        "next_page_token": (!page.next_page_token.is_empty()).then_some(page.next_page_token),
    })))
}

async fn submit_job(
    State(controller): State<Arc<Controller>>,
    body: Result<Json<SubmitBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, HttpError> {
    let Json(body) = body.map_err(|e| {
        ControllerError::InvalidArgument(format!("request body: {}", e.body_text()))
    })?;
    let (job, created) = controller
        .submit(Some(body.spec()), body.idempotency_key.clone())
        .await?;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        code,
        Json(json!({ "job": JobView::from(&job), "created": created })),
    )
        .into_response())
}

async fn get_job(
    State(controller): State<Arc<Controller>>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, HttpError> {
    let job = controller.get_job(id).await?;
    Ok(Json(JobView::from(&job)))
}

async fn cancel_job(
    State(controller): State<Arc<Controller>>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, HttpError> {
    let job = controller.cancel(id).await?;
    Ok(Json(JobView::from(&job)))
}

async fn job_frames(
    State(controller): State<Arc<Controller>>,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    let document = controller.frames(id).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], document).into_response())
}

async fn list_nodes(
    State(controller): State<Arc<Controller>>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let nodes = controller.nodes().await?;
    let nodes: Vec<NodeView> = nodes.iter().map(NodeView::from).collect();
    Ok(Json(json!({ "nodes": nodes })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (method, path) pairs the OpenAPI document describes, read from its `paths:` block.
    fn documented_routes() -> Vec<(String, String)> {
        let mut routes = Vec::new();
        let mut in_paths = false;
        let mut path = None;
        for line in OPENAPI.lines() {
            if !line.starts_with(' ') {
                in_paths = line == "paths:";
                continue;
            }
            if !in_paths {
                continue;
            }
            if let Some(p) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
                path = Some(format!("/{p}"));
            } else if let Some(method) = line
                .strip_prefix("    ")
                .filter(|l| !l.starts_with(' '))
                .and_then(|l| l.strip_suffix(':'))
            {
                if let Some(p) = &path {
                    routes.push((method.to_string(), p.clone()));
                }
            }
        }
        routes.sort();
        routes
    }

    #[test]
    fn openapi_describes_exactly_the_served_routes() {
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        served.sort();
        assert_eq!(documented_routes(), served);
    }
}
