//! Validating admission webhooks for `VmafxJob`, `VmafxNode` and `VmafxModelTraining`, served over HTTPS at the paths
//! kubebuilder gives them, so that the API server refuses a malformed object before it is stored
//! instead of the reconciler failing on it later.
//!
//! The serving certificate is the `tls.crt`/`tls.key` pair cert-manager mounts in [`cert_dir`]
//! (controller-runtime's default); [`bind`] loads it, so a missing or broken certificate stops
//! start-up before the operator reports ready, and it is re-read when cert-manager rotates it.
//! The rules live in [`validate`]; [`review`] turns an AdmissionReview body into the answer.

pub mod tls;
pub mod validate;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::{DynamicObject, Status};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use serde::Deserialize as _;

use crate::crd::{VmafxJobSpec, VmafxModelTrainingSpec, VmafxNodeSpec};
use tls::{CertError, ReloadingCert};
use validate::FieldError;

/// Path of the `VmafxJob` validating webhook, as kubebuilder names it.
pub const JOB_PATH: &str = "/validate-vmafx-dev-v1-vmafxjob";
/// Path of the `VmafxNode` validating webhook, as kubebuilder names it.
pub const NODE_PATH: &str = "/validate-vmafx-dev-v1-vmafxnode";
/// Path of the `VmafxModelTraining` validating webhook, as kubebuilder names it.
pub const TRAINING_PATH: &str = "/validate-vmafx-dev-v1-vmafxmodeltraining";

/// The operator's policy as the webhooks apply it (the reconcilers apply the same).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmissionPolicy {
    /// Prefixes a `VmafxNode.spec.image`, and an `execution: pod` job's image, must start with
    /// (`VMAFX_OPERATOR_ALLOWED_IMAGES`).
    pub allowed_images: Vec<String>,
    /// The image of `execution: pod` jobs that name none (`VMAFX_OPERATOR_JOB_IMAGE`).
    pub job_image: String,
}

impl Default for AdmissionPolicy {
    fn default() -> Self {
        AdmissionPolicy {
            allowed_images: crate::policy::DEFAULT_ALLOWED_IMAGES
                .map(str::to_owned)
                .to_vec(),
            job_image: format!("ghcr.io/vmafx/vmafx:{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// The API server sends the new and the old object; etcd caps each at 1.5 MiB.
const MAX_BODY: usize = 8 << 20;
/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the webhook server could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The listen address is taken.
    #[error("failed to listen on {addr} for the admission webhooks")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The serving certificate is missing or unusable.
    #[error(transparent)]
    Certificate(#[from] CertError),
    /// rustls refused the server configuration.
    #[error("failed to configure TLS for the admission webhooks")]
    Tls(#[source] rustls::Error),
}

/// Where the serving certificate is mounted: `tls.crt` and `tls.key`, as cert-manager writes them,
/// under controller-runtime's default directory.
pub fn cert_dir() -> PathBuf {
    std::env::temp_dir()
        .join("k8s-webhook-server")
        .join("serving-certs")
}

/// A bound webhook listener with its loaded certificate, ready for [`serve`].
pub struct WebhookServer {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    policy: Arc<AdmissionPolicy>,
}

impl WebhookServer {
    /// Applies `policy` instead of the default one.
    pub fn with_policy(mut self, policy: AdmissionPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Loads the serving certificate from [`cert_dir`] and binds the webhook listener; certificate
/// problems surface here, before the operator reports ready.
pub async fn bind(addr: SocketAddr) -> Result<WebhookServer, WebhookError> {
    bind_with_cert_dir(addr, cert_dir()).await
}

/// [`bind`] with the certificate pair taken from `dir`.
pub async fn bind_with_cert_dir(
    addr: SocketAddr,
    dir: PathBuf,
) -> Result<WebhookServer, WebhookError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let resolver = ReloadingCert::new(dir, provider.clone())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(WebhookError::Tls)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    // The server speaks HTTP/1.1 only; saying so lets the API server skip its h2 attempt.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| WebhookError::Bind { addr, source })?;
    tracing::info!(%addr, "admission webhooks listening");
    Ok(WebhookServer {
        listener,
        acceptor: TlsAcceptor::from(Arc::new(config)),
        policy: Arc::new(AdmissionPolicy::default()),
    })
}

/// Serves the webhooks until `shutdown` fires, then lets in-flight reviews finish.
pub async fn serve(server: WebhookServer, shutdown: CancellationToken) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = server.listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    connections.spawn(connection(tcp, peer, server.acceptor.clone(), server.policy.clone(), shutdown.clone()));
                }
                Err(error) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!("failed to accept a webhook connection: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    while connections.join_next().await.is_some() {}
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    policy: Arc<AdmissionPolicy>,
    shutdown: CancellationToken,
) {
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            // Most often the API server's caBundle does not match the serving certificate.
            tracing::warn!(%peer, "failed the TLS handshake with a webhook client: {error}");
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, "dropped a webhook client that did not finish its TLS handshake");
            return;
        }
    };
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(
        TokioIo::new(stream),
        hyper::service::service_fn(move |req| handle(req, policy.clone())),
    );
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, "webhook connection ended: {error}");
    }
}

async fn handle(
    req: Request<Incoming>,
    policy: Arc<AdmissionPolicy>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let Some(kind) = Kind::from_path(&path) else {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("no webhook at {path}"),
        ));
    };
    if req.method() != Method::POST {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "POST an AdmissionReview",
        ));
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => {
            return Ok(reply(
                StatusCode::BAD_REQUEST,
                "text/plain",
                format!("failed to read the request body: {error}"),
            ))
        }
    };
    Ok(match review_with(kind, &body, &policy) {
        Ok(answer) => reply(StatusCode::OK, "application/json", answer),
        Err(message) => reply(StatusCode::BAD_REQUEST, "text/plain", message),
    })
}

fn reply(code: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = code;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// Which resource a webhook path validates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `VmafxJob`, at [`JOB_PATH`].
    Job,
    /// `VmafxNode`, at [`NODE_PATH`].
    Node,
    /// `VmafxModelTraining`, at [`TRAINING_PATH`].
    Training,
}

impl Kind {
    /// The webhook served at `path`, if any.
    pub fn from_path(path: &str) -> Option<Kind> {
        match path {
            JOB_PATH => Some(Kind::Job),
            NODE_PATH => Some(Kind::Node),
            TRAINING_PATH => Some(Kind::Training),
            _ => None,
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Kind::Job => "vmafxjobs",
            Kind::Node => "vmafxnodes",
            Kind::Training => "vmafxmodeltrainings",
        }
    }

    fn validate(self, spec: &serde_json::Value) -> Vec<FieldError> {
        let parsed = match self {
            Kind::Job => VmafxJobSpec::deserialize(spec).map(|s| validate::validate_job(&s)),
            Kind::Node => VmafxNodeSpec::deserialize(spec).map(|s| validate::validate_node(&s)),
            Kind::Training => {
                VmafxModelTrainingSpec::deserialize(spec).map(|s| validate::validate_training(&s))
            }
        };
        parsed.unwrap_or_else(|error| {
            vec![FieldError {
                field: "spec",
                message: error.to_string(),
            }]
        })
    }

    /// What the operator's policy says about `spec` in `namespace` (the spec's shape is
    /// [`Kind::validate`]'s business: a spec that does not parse gets no policy errors).
    fn check_policy(
        self,
        spec: &serde_json::Value,
        namespace: &str,
        policy: &AdmissionPolicy,
    ) -> Vec<FieldError> {
        match self {
            Kind::Job => VmafxJobSpec::deserialize(spec)
                .map(|s| {
                    validate::validate_job_policy(&s, &policy.job_image, &policy.allowed_images)
                })
                .unwrap_or_default(),
            Kind::Node => VmafxNodeSpec::deserialize(spec)
                .map(|s| validate::validate_node_policy(&s, namespace, &policy.allowed_images))
                .unwrap_or_default(),
            Kind::Training => VmafxModelTrainingSpec::deserialize(spec)
                .map(|s| {
                    validate::validate_training_policy(
                        &s,
                        namespace,
                        &policy.job_image,
                        &policy.allowed_images,
                    )
                })
                .unwrap_or_default(),
        }
    }
}

/// Answers one AdmissionReview (JSON) for the webhook of `kind` with the AdmissionReview to send
/// back, or says why the body is not an AdmissionReview.
pub fn review(kind: Kind, body: &[u8]) -> Result<Vec<u8>, String> {
    review_with(kind, body, &AdmissionPolicy::default())
}

/// [`review`] under `policy`.
pub fn review_with(kind: Kind, body: &[u8], policy: &AdmissionPolicy) -> Result<Vec<u8>, String> {
    let review: AdmissionReview<DynamicObject> = serde_json::from_slice(body)
        .map_err(|e| format!("failed to parse the AdmissionReview: {e}"))?;
    let request: AdmissionRequest<DynamicObject> = review
        .try_into()
        .map_err(|_| "the AdmissionReview has no request".to_owned())?;
    let response = admit_with(kind, &request, policy);
    serde_json::to_vec(&response.into_review())
        .map_err(|e| format!("failed to encode the AdmissionReview response: {e}"))
}

/// The decision for one request: CREATE and UPDATE are validated, anything else is allowed.
pub fn admit(kind: Kind, request: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
    admit_with(kind, request, &AdmissionPolicy::default())
}

/// [`admit`] under `policy`.
pub fn admit_with(
    kind: Kind,
    request: &AdmissionRequest<DynamicObject>,
    policy: &AdmissionPolicy,
) -> AdmissionResponse {
    let allowed = AdmissionResponse::from(request);
    if !matches!(request.operation, Operation::Create | Operation::Update) {
        return allowed;
    }
    if request.resource.resource != kind.plural() || request.sub_resource.is_some() {
        // A ValidatingWebhookConfiguration pointing the wrong resource at this path.
        return deny(
            allowed,
            format!(
                "this webhook validates {}, not {}{}",
                kind.plural(),
                request.resource.resource,
                request
                    .sub_resource
                    .as_deref()
                    .map(|s| format!("/{s}"))
                    .unwrap_or_default()
            ),
        );
    }
    let Some(object) = &request.object else {
        return deny(allowed, "the request carries no object".into());
    };
    let spec = object
        .data
        .get("spec")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    let mut errors = kind.validate(&spec);
    let namespace = request
        .namespace
        .clone()
        .or_else(|| object.metadata.namespace.clone())
        .unwrap_or_default();
    errors.extend(kind.check_policy(&spec, &namespace, policy));
    if errors.is_empty() {
        return allowed;
    }
    let message = validate::describe(&errors);
    let old_spec = request.old_object.as_ref().and_then(|o| o.data.get("spec"));
    if request.operation == Operation::Update && old_spec == Some(&spec) {
        // An object stored before the webhook existed may break the rules; refusing its metadata
        // updates would leave it stuck (a finalizer could never be removed), so only changes to
        // the spec are held to them.
        let mut response = allowed;
        response.warnings = Some(vec![format!("{message} (allowed: the spec is unchanged)")]);
        return response;
    }
    deny(allowed, message)
}

fn deny(response: AdmissionResponse, message: String) -> AdmissionResponse {
    let mut response = response.deny(&message);
    response.result = Status::failure(&message, "Forbidden").with_code(403);
    response
}

#[cfg(test)]
mod tests;
