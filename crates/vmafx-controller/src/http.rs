//! The HTTP front end: health and readiness, Prometheus metrics, a JSON REST mirror of the gRPC
//! API (described by `openapi.yaml`), and the web page that lists jobs and nodes.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;
use vmafx_api::v1;
use vmafx_api::view::{parse_state, FeedbackBody, FeedbackView, JobView, NodeView, SubmitBody};

use crate::auth::{Authenticator, Identity};
use crate::controller::{Controller, ControllerError};

/// The largest request body accepted (HTTP 413 beyond): a job submission is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// How long one HTTP request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the HTTP front end needs besides the controller.
#[derive(Clone)]
pub struct HttpOptions {
    /// Who may call the API.
    pub auth: Arc<Authenticator>,
    /// Whether the listener is on a loopback address: without authentication, requests must then
    /// name a loopback host, so a web page cannot reach the API through DNS rebinding.
    pub loopback_only: bool,
}

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
    ("post", "/api/v1/jobs/{id}/feedback"),
    ("get", "/api/v1/feedback"),
    ("get", "/api/v1/nodes"),
];

/// The router over `controller`. Health, readiness, the OpenAPI document and the page itself are
/// public (they reveal nothing and probes carry no token); metrics and the API need a token when
/// the controller authenticates, sent as `Authorization: Bearer TOKEN` and never as a cookie, so
/// a cross-site request has no credential to ride on.
pub fn router(controller: Arc<Controller>, options: HttpOptions) -> Router {
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .route("/api/v1/jobs", get(list_jobs).post(submit_job))
        .route("/api/v1/jobs/{id}", get(get_job))
        .route("/api/v1/jobs/{id}/cancel", post(cancel_job))
        .route("/api/v1/jobs/{id}/frames", get(job_frames))
        .route("/api/v1/jobs/{id}/feedback", post(submit_feedback))
        .route("/api/v1/feedback", get(list_feedback))
        .route("/api/v1/nodes", get(list_nodes))
        .layer(axum::middleware::from_fn_with_state(
            options.clone(),
            authenticate,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.yaml", get(openapi))
        .route("/", get(index))
        .merge(protected)
        .layer(axum::middleware::from_fn_with_state(options, guard))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(controller)
}

/// A JSON error response.
fn refuse(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(json!({ "error": message.into() }))).into_response()
}

/// Whether a `Host` header value names this machine's loopback interface.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses cross-site writes (a form POST from another origin, whatever the credentials), DNS
/// rebinding of an unauthenticated loopback server, and requests that take too long.
async fn guard(State(options): State<HttpOptions>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if options.loopback_only && !options.auth.is_enforcing() && !is_loopback_host(host) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "host {host:?} is not this loopback server's name (use localhost or 127.0.0.1)"
            ),
        );
    }
    if !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        if let Some(why) = cross_site(headers, host) {
            return refuse(StatusCode::FORBIDDEN, why);
        }
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => refuse(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request took longer than {} s",
                REQUEST_TIMEOUT.as_secs()
            ),
        ),
    }
}

/// Why a state-changing request looks cross-site, if it does: browsers label such requests
/// with `Sec-Fetch-Site` and `Origin`, which a page cannot forge.
fn cross_site(headers: &HeaderMap, host: &str) -> Option<String> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Some(format!(
                "cross-site request refused (Sec-Fetch-Site: {site})"
            ));
        }
    }
    let origin = headers.get(header::ORIGIN)?.to_str().unwrap_or("?");
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    (!origin_host.eq_ignore_ascii_case(host))
        .then(|| format!("cross-origin request refused (Origin {origin} is not {host})"))
}

/// Resolves the caller from `Authorization: Bearer TOKEN`; 401 without a known token.
async fn authenticate(
    State(options): State<HttpOptions>,
    request: Request,
    next: Next,
) -> Response {
    require_bearer(&options.auth, request, next).await
}

/// Authenticates a request with `auth` from its `Authorization: Bearer TOKEN` header and hands
/// the [`Identity`] to the handler as an extension; 401 (with a Bearer challenge) without a
/// known token, 503 while the authenticator cannot decide. Shared by every vmafx HTTP server
/// that authenticates like the controller (the trainer's too).
pub async fn require_bearer(auth: &Authenticator, mut request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.as_bytes().to_vec());
    match auth.authenticate(header.as_deref()).await {
        Ok(identity) => {
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(err) if err.is_unavailable() => {
            refuse(StatusCode::SERVICE_UNAVAILABLE, err.to_string())
        }
        Err(err) => {
            let mut response = refuse(StatusCode::UNAUTHORIZED, err.to_string());
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"vmafx\""),
            );
            response
        }
    }
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
            ControllerError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ControllerError::PermissionDenied(_) => StatusCode::FORBIDDEN,
            ControllerError::ResourceExhausted(_) => StatusCode::TOO_MANY_REQUESTS,
            ControllerError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        refuse(code, self.0.to_string())
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

async fn metrics(
    State(controller): State<Arc<Controller>>,
    Extension(caller): Extension<Identity>,
) -> Result<Response, HttpError> {
    let text = controller.metrics_text(&caller).await?;
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
    Extension(caller): Extension<Identity>,
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
        .list_jobs(
            &caller,
            v1::ListJobsRequest {
                states,
                node_id: query.node_id.unwrap_or_default(),
                page_size: query.page_size.unwrap_or(0),
                page_token: query.page_token.unwrap_or_default(),
            },
        )
        .await?;
    let jobs: Vec<JobView> = page.jobs.iter().map(JobView::from).collect();
    Ok(Json(json!({
        "jobs": jobs,
        "next_page_token": (!page.next_page_token.is_empty()).then_some(page.next_page_token),
    })))
}

/// A JSON request body, or the response refusing it: too large (413) or not JSON (415) keep
/// their own status; the rest is a bad request (400).
fn json_body<T>(
    body: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, Box<Response>> {
    match body {
        Ok(Json(body)) => Ok(body),
        Err(e)
            if e.status() != StatusCode::BAD_REQUEST
                && e.status() != StatusCode::UNPROCESSABLE_ENTITY =>
        {
            Err(Box::new(refuse(
                e.status(),
                format!("request body: {}", e.body_text()),
            )))
        }
        Err(e) => Err(Box::new(
            HttpError(ControllerError::InvalidArgument(format!(
                "request body: {}",
                e.body_text()
            )))
            .into_response(),
        )),
    }
}

async fn submit_job(
    State(controller): State<Arc<Controller>>,
    Extension(caller): Extension<Identity>,
    body: Result<Json<SubmitBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, HttpError> {
    let body = match json_body(body) {
        Ok(body) => body,
        Err(response) => return Ok(*response),
    };
    let (job, created) = controller
        .submit(&caller, Some(body.spec()), body.idempotency_key.clone())
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
    Extension(caller): Extension<Identity>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, HttpError> {
    let job = controller.get_job(&caller, id).await?;
    Ok(Json(JobView::from(&job)))
}

async fn cancel_job(
    State(controller): State<Arc<Controller>>,
    Extension(caller): Extension<Identity>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, HttpError> {
    let job = controller.cancel(&caller, id).await?;
    Ok(Json(JobView::from(&job)))
}

async fn job_frames(
    State(controller): State<Arc<Controller>>,
    Extension(caller): Extension<Identity>,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    let document = controller.frames(&caller, id).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], document).into_response())
}

async fn submit_feedback(
    State(controller): State<Arc<Controller>>,
    Extension(caller): Extension<Identity>,
    Path(id): Path<String>,
    body: Result<Json<FeedbackBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, HttpError> {
    let body = match json_body(body) {
        Ok(body) => body,
        Err(response) => return Ok(*response),
    };
    let feedback = controller
        .submit_feedback(
            &caller,
            v1::SubmitFeedbackRequest {
                job_id: id,
                target: body.target,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "feedback": FeedbackView::from(&feedback) })),
    )
        .into_response())
}

/// Query parameters of `GET /api/v1/feedback`.
#[derive(Debug, Deserialize)]
struct FeedbackQuery {
    after_seq: Option<i64>,
    page_size: Option<u32>,
}

async fn list_feedback(
    State(controller): State<Arc<Controller>>,
    Extension(caller): Extension<Identity>,
    Query(query): Query<FeedbackQuery>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let page = controller
        .list_feedback(
            &caller,
            v1::ListFeedbackRequest {
                after_seq: query.after_seq.unwrap_or(0),
                page_size: query.page_size.unwrap_or(0),
            },
        )
        .await?;
    let feedback: Vec<FeedbackView> = page.feedback.iter().map(FeedbackView::from).collect();
    Ok(Json(json!({ "feedback": feedback })))
}

/// Query parameters of `GET /api/v1/nodes`.
#[derive(Debug, Deserialize)]
struct NodeQuery {
    page_size: Option<u32>,
    page_token: Option<String>,
}

async fn list_nodes(
    State(controller): State<Arc<Controller>>,
    Extension(caller): Extension<Identity>,
    Query(query): Query<NodeQuery>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let page = controller
        .list_nodes(
            &caller,
            v1::ListNodesRequest {
                page_size: query.page_size.unwrap_or(0),
                page_token: query.page_token.unwrap_or_default(),
            },
        )
        .await?;
    let nodes: Vec<NodeView> = page.nodes.iter().map(NodeView::from).collect();
    Ok(Json(json!({
        "nodes": nodes,
        "next_page_token": (!page.next_page_token.is_empty()).then_some(page.next_page_token),
    })))
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
