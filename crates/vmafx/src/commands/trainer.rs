//! `vmafx trainer`: one process per training run. It takes samples (pulled as feedback from a
//! controller, or posted to `POST /api/v1/samples`), trains with `vmafx-trainer`, writes a
//! checkpoint when both the interval and the sample count allow, and pushes each checkpoint to
//! the output registry as `<run>-v<n>` (and `latest-stable` when its holdout PLCC is no more
//! than 0.005 below the last stable one's). A failed push is retried with back-off; the
//! checkpoint stays on disk meanwhile, so a registry outage delays it and loses nothing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use serde_json::json;
use vmafx_api::client::{read_token, ApiChannel, ClientOptions};
use vmafx_api::v1;
use vmafx_api::v1::job_service_client::JobServiceClient;
use vmafx_contract::{OciReference, OciTarget};
use vmafx_controller::auth::{Access, Authenticator, Identity};
use vmafx_trainer::{Checkpoint, Sample, TrainableModel, Trainer, TrainerConfig};

use super::service::{runtime, shutdown_on_signal};
use crate::cli::TrainerArgs;
use vmafx_fetch::oci::{self, ModelAnnotations, RegistryOptions};

/// The largest sample body accepted (64 frames of a few features fit in a few KiB).
const MAX_BODY_BYTES: usize = 1 << 20;
/// The tag of the newest checkpoint that passed the stability gate.
const STABLE_TAG: &str = "latest-stable";
/// How far below the last stable checkpoint's holdout PLCC a checkpoint may fall and stay
/// stable.
const STABILITY_MARGIN: f64 = 0.005;
/// How often the loop looks for feedback, due checkpoints and pending pushes.
const TICK: Duration = Duration::from_millis(500);
/// The longest wait between two push attempts.
const MAX_PUSH_BACKOFF: Duration = Duration::from_secs(30);
/// Feedback entries read per request.
const FEEDBACK_PAGE: u32 = 100;

/// Counters and gauges on `/metrics`.
struct Metrics {
    registry: Registry,
    samples: Counter,
    checkpoints: Counter,
    pushes: Counter,
    push_failures: Counter,
    feedback_errors: Counter,
    holdout_plcc: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("vmafx_trainer");
        let samples = Counter::default();
        let checkpoints = Counter::default();
        let pushes = Counter::default();
        let push_failures = Counter::default();
        let feedback_errors = Counter::default();
        let holdout_plcc = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register("samples", "Samples taken", samples.clone());
        registry.register("checkpoints", "Checkpoints written", checkpoints.clone());
        registry.register("pushes", "Checkpoints pushed", pushes.clone());
        registry.register(
            "push_failures",
            "Failed push attempts (retried)",
            push_failures.clone(),
        );
        registry.register(
            "feedback_errors",
            "Failed reads of feedback from the controller (retried)",
            feedback_errors.clone(),
        );
        registry.register(
            "holdout_plcc",
            "Holdout PLCC of the newest checkpoint",
            holdout_plcc.clone(),
        );
        Metrics {
            registry,
            samples,
            checkpoints,
            pushes,
            push_failures,
            feedback_errors,
            holdout_plcc,
        }
    }
}

/// What the HTTP handlers and the loop share.
struct Shared {
    trainer: Mutex<Trainer>,
    metrics: Metrics,
    auth: Arc<Authenticator>,
}

impl Shared {
    fn trainer(&self) -> MutexGuard<'_, Trainer> {
        self.trainer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `key=value` pairs a node must match (its name, vendor, device, version or one backend).
#[derive(Debug, Clone, Default)]
struct NodeSelector(Vec<(String, String)>);

impl NodeSelector {
    fn parse(pairs: &[String]) -> anyhow::Result<NodeSelector> {
        let mut out = Vec::new();
        for pair in pairs.iter().filter(|p| !p.trim().is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                bail!("--node-selector {pair:?}: expected key=value");
            };
            let key = key.trim();
            if !matches!(key, "name" | "vendor" | "device" | "version" | "backend") {
                bail!(
                    "--node-selector {pair:?}: unknown key {key:?} (name, vendor, device, \
                     version or backend)"
                );
            }
            out.push((key.to_owned(), value.trim().to_owned()));
        }
        Ok(NodeSelector(out))
    }

    fn matches(&self, node: &v1::Node) -> bool {
        let info = node.info.clone().unwrap_or_default();
        self.0.iter().all(|(key, value)| match key.as_str() {
            "name" => info.name == *value,
            "vendor" => info.vendor == *value,
            "device" => info.device == *value,
            "version" => info.version == *value,
            "backend" => info.backends.iter().any(|b| b == value),
            _ => false,
        })
    }
}

/// The feedback source: a controller, its nodes, and where reading left off.
struct Feedback {
    client: JobServiceClient<ApiChannel>,
    selector: NodeSelector,
    nodes: HashMap<String, v1::Node>,
    cursor: i64,
    /// Collector names of the base model's features, in its order.
    inputs: Vec<String>,
}

/// The per-frame features of a job's frames document (libvmaf JSON), in the model's order.
fn frame_features(document: &[u8], inputs: &[String]) -> anyhow::Result<Vec<Vec<f64>>> {
    let doc: serde_json::Value =
        serde_json::from_slice(document).context("the frames document is not JSON")?;
    let frames = doc
        .get("frames")
        .and_then(|f| f.as_array())
        .context("the frames document has no frames")?;
    frames
        .iter()
        .map(|frame| {
            inputs
                .iter()
                .map(|name| {
                    frame
                        .get("metrics")
                        .and_then(|m| m.get(name))
                        .and_then(serde_json::Value::as_f64)
                        .with_context(|| format!("a frame lacks feature {name}"))
                })
                .collect()
        })
        .collect()
}

impl Feedback {
    async fn node(&mut self, id: &str) -> anyhow::Result<Option<v1::Node>> {
        if !self.nodes.contains_key(id) {
            let mut token = String::new();
            loop {
                let page = self
                    .client
                    .list_nodes(v1::ListNodesRequest {
                        page_size: 1000,
                        page_token: token,
                    })
                    .await
                    .context("failed to list the controller's nodes")?
                    .into_inner();
                for node in page.nodes {
                    self.nodes.insert(node.id.clone(), node);
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
        }
        Ok(self.nodes.get(id).cloned())
    }

    /// Reads new feedback and ingests the samples of matching nodes' jobs.
    async fn pull(&mut self, shared: &Arc<Shared>) -> anyhow::Result<()> {
        loop {
            let page = self
                .client
                .list_feedback(v1::ListFeedbackRequest {
                    after_seq: self.cursor,
                    page_size: FEEDBACK_PAGE,
                })
                .await
                .context("failed to read feedback from the controller")?
                .into_inner();
            if page.feedback.is_empty() {
                return Ok(());
            }
            for entry in page.feedback {
                let matched = match self.node(&entry.node_id).await? {
                    Some(node) => self.selector.matches(&node),
                    // A node the controller forgot can only match an empty selector.
                    None => self.selector.0.is_empty(),
                };
                if matched {
                    let frames = self
                        .client
                        .get_job_frames(v1::GetJobFramesRequest {
                            id: entry.job_id.clone(),
                        })
                        .await
                        .with_context(|| format!("failed to read job {}'s frames", entry.job_id))?
                        .into_inner();
                    match frame_features(&frames.json, &self.inputs) {
                        Ok(features) => {
                            let sample = Sample::new(
                                format!("feedback-{}-{}", entry.seq, entry.job_id),
                                entry.target,
                                features,
                            );
                            ingest(shared, sample).await?;
                        }
                        Err(e) => tracing::warn!(job = %entry.job_id, "skipping feedback: {e:#}"),
                    }
                }
                self.cursor = entry.seq;
            }
        }
    }
}

/// Makes a sample durable and trains on it, on a blocking thread (the log is fsynced).
async fn ingest(
    shared: &Arc<Shared>,
    sample: Sample,
) -> anyhow::Result<vmafx_trainer::trainer::Ingested> {
    let inner = Arc::clone(shared);
    let ingested = tokio::task::spawn_blocking(move || inner.trainer().ingest(sample))
        .await
        .context("the training task ended")??;
    shared.metrics.samples.inc();
    Ok(ingested)
}

/// The feedback cursor implied by the samples already logged: the largest feedback seq.
fn feedback_cursor(trainer: &Trainer) -> i64 {
    trainer
        .sample_ids()
        .filter_map(|id| id.strip_prefix("feedback-"))
        .filter_map(|rest| rest.split('-').next()?.parse::<i64>().ok())
        .max()
        .unwrap_or(0)
}

/// Pushes checkpoints not pushed yet, oldest first; stops at the first failure.
async fn push_pending(
    shared: &Arc<Shared>,
    output: &OciReference,
    run: &str,
    options: &RegistryOptions,
) -> anyhow::Result<()> {
    loop {
        let (checkpoint, stable, bytes) = {
            let trainer = shared.trainer();
            let Some(checkpoint) = trainer
                .checkpoints()
                .iter()
                .find(|c| c.pushed_digest.is_none())
                .cloned()
            else {
                return Ok(());
            };
            let stable = match trainer.last_stable_plcc() {
                Some(last) => checkpoint.holdout.plcc >= last - STABILITY_MARGIN,
                None => true,
            };
            let bytes = trainer.checkpoint_bytes(&checkpoint)?;
            (checkpoint, stable, bytes)
        };
        let reference = OciReference {
            target: OciTarget::Tag(format!("{run}-{}", checkpoint.version)),
            ..output.clone()
        };
        let extra: Vec<String> = if stable {
            vec![STABLE_TAG.to_owned()]
        } else {
            Vec::new()
        };
        let annotations = ModelAnnotations {
            run: run.to_owned(),
            version: checkpoint.version.clone(),
            samples: checkpoint.samples,
        };
        let digest = oci::push_model(&reference, &extra, &bytes, &annotations, options).await?;
        tracing::info!(version = %checkpoint.version, %digest, stable, "checkpoint pushed");
        shared.metrics.pushes.inc();
        let inner = Arc::clone(shared);
        let version = checkpoint.version.clone();
        tokio::task::spawn_blocking(move || inner.trainer().mark_pushed(&version, digest, stable))
            .await
            .context("the training task ended")??;
    }
}

/// One checkpoint as `/status` lists it (docs/TRAINER_STATUS.md, plus holdout agreement).
fn checkpoint_view(run: &str, c: &Checkpoint) -> serde_json::Value {
    json!({
        "version": c.version,
        "samples": c.samples,
        "writtenAt": c.written_at,
        // The pushed manifest's digest once pushed; until then the model JSON's own.
        "digest": c.pushed_digest.clone().unwrap_or_else(|| c.sha256.clone()),
        "modelSha256": c.sha256,
        "pushed": c.pushed_digest.is_some(),
        "tag": format!("{run}-{}", c.version),
        "stable": c.stable,
        "holdout": {
            "plcc": c.holdout.plcc,
            "srcc": c.holdout.srcc,
            "rmse": c.holdout.rmse,
            "samples": c.holdout.count,
        },
    })
}

#[derive(Clone)]
struct HttpState {
    shared: Arc<Shared>,
    scorer: Arc<PairScorer>,
    run: String,
    loopback_only: bool,
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn status(State(state): State<HttpState>) -> Json<serde_json::Value> {
    let inner = Arc::clone(&state.shared);
    let status = tokio::task::spawn_blocking(move || inner.trainer().status())
        .await
        .ok();
    let Some(status) = status else {
        return Json(json!({ "phase": "Failed", "samples": 0 }));
    };
    let checkpoints: Vec<serde_json::Value> = status
        .checkpoints
        .iter()
        .map(|c| checkpoint_view(&state.run, c))
        .collect();
    Json(json!({
        "phase": status.phase,
        "samples": status.samples,
        "holdoutSamples": status.holdout_samples,
        "modelVersion": status.model_version,
        "baseHoldout": {
            "plcc": status.base_holdout.plcc,
            "srcc": status.base_holdout.srcc,
            "rmse": status.base_holdout.rmse,
            "samples": status.base_holdout.count,
        },
        "checkpoints": checkpoints,
    }))
}

fn refuse(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(json!({ "error": message.into() }))).into_response()
}

async fn metrics(
    State(state): State<HttpState>,
    Extension(caller): Extension<Identity>,
) -> Response {
    if let Err(denied) = caller.require(Access::Read) {
        return refuse(StatusCode::FORBIDDEN, denied.to_string());
    }
    let mut text = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut text, &state.shared.metrics.registry);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The body of `POST /api/v1/samples`: per-frame features in the base model's feature order,
/// or a reference and a distorted URI the trainer scores itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleBody {
    /// Stable id (decides the holdout split); default: derived from the body.
    #[serde(default)]
    id: Option<String>,
    target: f64,
    #[serde(default)]
    frames: Option<Vec<Vec<f64>>>,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    distorted: Option<String>,
}

/// Turns posted pairs into samples: the node's job runner scores them with the base model,
/// under the trainer's input policy, one pair at a time (each takes a core for a while).
struct PairScorer {
    fetcher: vmafx_fetch::Fetcher,
    /// The base model in `-m` syntax.
    model: String,
    /// Feature names of the base model, in its order.
    inputs: Vec<String>,
    /// Downloads live here while a pair is scored.
    scratch: PathBuf,
    simd: vmafx_engine::cpu::SimdLevel,
    one_at_a_time: tokio::sync::Semaphore,
    pairs: std::sync::atomic::AtomicU64,
}

impl PairScorer {
    /// The per-frame features of the pair, or the status and one line to answer with.
    async fn frames(
        self: &Arc<Self>,
        reference: String,
        distorted: String,
    ) -> Result<Vec<Vec<f64>>, (StatusCode, String)> {
        let models = [self.model.clone()];
        let draft = vmafx_contract::JobDraft {
            reference: &reference,
            distorted: &distorted,
            models: &models,
            features: &[],
            backend: "",
            priority: 0,
            max_attempts: 0,
        };
        vmafx_contract::validate_job(&draft, &self.fetcher.config().policy)
            .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
        let _turn = self.one_at_a_time.acquire().await.map_err(|_| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the trainer is stopping".to_owned(),
            )
        })?;
        let scorer = Arc::clone(self);
        let executed = tokio::task::spawn_blocking(move || {
            let n = scorer
                .pairs
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let spec = v1::JobSpec {
                reference,
                distorted,
                models: vec![scorer.model.clone()],
                ..Default::default()
            };
            vmafx_node::execute(
                &spec,
                &scorer.fetcher,
                &scorer.scratch.join(format!("pair-{n}")),
                0,
                scorer.simd,
                &vmafx_node::JobControl::default(),
            )
        })
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| match e {
            vmafx_node::ExecuteError::Input(message) => (StatusCode::BAD_REQUEST, message),
            other => (StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
        })?;
        frame_features(&executed.frames_json, &self.inputs)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
    }
}

async fn post_sample(
    State(state): State<HttpState>,
    Extension(caller): Extension<Identity>,
    body: Result<Json<SampleBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(denied) = caller.require(Access::Submit) {
        return refuse(StatusCode::FORBIDDEN, denied.to_string());
    }
    let body = match body {
        Ok(Json(body)) => body,
        // Too large (413) or not JSON (415) keep their status; a bad shape is a 400, as on the
        // controller.
        Err(e) => {
            let code = match e.status() {
                StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
                other => other,
            };
            return refuse(code, format!("request body: {}", e.body_text()));
        }
    };
    let frames = match (body.frames, body.reference, body.distorted) {
        (Some(frames), None, None) => frames,
        (None, Some(reference), Some(distorted)) => {
            match state.scorer.frames(reference, distorted).await {
                Ok(frames) => frames,
                Err((code, message)) => return refuse(code, message),
            }
        }
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "frames: give frames, or reference and distorted (URIs), not both",
            )
        }
    };
    let id = body
        .id
        .unwrap_or_else(|| oci::sha256(format!("{}:{frames:?}", body.target).as_bytes()));
    if id.is_empty() || id.len() > 256 {
        return refuse(StatusCode::BAD_REQUEST, "id: 1 to 256 bytes");
    }
    let sample = Sample {
        id,
        target: body.target,
        frames,
    };
    match ingest(&state.shared, sample).await {
        Ok(ingested) => (
            StatusCode::CREATED,
            Json(json!({ "seq": ingested.seq, "holdout": ingested.holdout })),
        )
            .into_response(),
        Err(e) => match e.downcast_ref::<vmafx_trainer::TrainerError>() {
            Some(vmafx_trainer::TrainerError::Sample(_)) => {
                refuse(StatusCode::BAD_REQUEST, format!("{e:#}"))
            }
            _ => refuse(StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}")),
        },
    }
}

/// Resolves the caller from `Authorization: Bearer TOKEN`, as the controller does.
async fn authenticate(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    vmafx_controller::require_bearer(&state.shared.auth, request, next).await
}

/// Refuses a loopback server's requests that name another host (DNS rebinding) when nobody
/// is authenticated.
async fn guard(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    if state.loopback_only && !state.shared.auth.is_enforcing() {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let name = host.rsplit_once(':').map_or(host, |(n, _)| n);
        let loopback = name.eq_ignore_ascii_case("localhost")
            || name
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return refuse(
                StatusCode::MISDIRECTED_REQUEST,
                format!("host {host:?} is not this loopback server's name"),
            );
        }
    }
    next.run(request).await
}

fn router(state: HttpState) -> Router {
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .route("/api/v1/samples", post(post_sample))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/status", get(status))
        .merge(protected)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// What the trainer knows of its base model.
struct BaseModel {
    /// The model JSON.
    text: String,
    /// Feature names of its inputs, as the per-frame document writes them, in its order.
    inputs: Vec<String>,
    /// The model in `-m` syntax, for scoring posted pairs.
    spec: String,
    /// The folder of a model file, which scoring must be allowed to read.
    folder: Option<PathBuf>,
}

/// The base model's JSON text and the feature collector names its inputs are read under.
fn base_model(name: &str) -> anyhow::Result<BaseModel> {
    let spec = if let Some(text) = vmafx_engine::model::built_in_json(name) {
        (
            text.to_owned(),
            vmafx_contract::ModelSpec {
                source: vmafx_contract::ModelSource::BuiltIn(name.to_owned()),
                ..vmafx_contract::ModelSpec::default()
            },
        )
    } else {
        let path = PathBuf::from(name);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("--base-model {name}: neither a built-in version nor a readable file")
        })?;
        (
            text,
            vmafx_contract::ModelSpec {
                source: vmafx_contract::ModelSource::Path(path),
                ..vmafx_contract::ModelSpec::default()
            },
        )
    };
    let model = vmafx_engine::model::Model::load(&spec.1)
        .with_context(|| format!("--base-model {name}"))?;
    let (spec_arg, folder) = match &spec.1.source {
        vmafx_contract::ModelSource::Path(path) => {
            let real = path
                .canonicalize()
                .with_context(|| format!("--base-model {name}"))?;
            let folder = real.parent().map(PathBuf::from);
            (format!("path={}", real.display()), folder)
        }
        _ => (format!("version={name}"), None),
    };
    let inputs = model
        .inputs()
        .iter()
        // The per-frame document names features as libvmaf's output does (`integer_adm2`).
        .map(|i| vmafx_engine::feature::name::alias(&i.collector_name).to_owned())
        .collect();
    Ok(BaseModel {
        text: spec.0,
        inputs,
        spec: spec_arg,
        folder,
    })
}

/// Runs `vmafx trainer`.
pub fn run(args: TrainerArgs) -> anyhow::Result<ExitCode> {
    let output = OciReference::parse(&format!("oci://{}:{}", args.output_registry, "x"))
        .map_err(|e| anyhow::anyhow!("--output-registry {}: {e}", args.output_registry))?;
    let options = args.registry.options();
    if options.insecure && !output.is_loopback() {
        bail!(
            "--insecure-registry allows plain HTTP to loopback registries only, not {}",
            output.registry
        );
    }
    let Some(interval) = args.checkpoint_interval.0 else {
        bail!("--checkpoint-interval: give a duration such as 5s or 10m");
    };
    let selector = NodeSelector::parse(&args.node_selector)?;
    if !selector.0.is_empty() && args.controller.is_none() {
        bail!("--node-selector needs --controller");
    }
    let base = base_model(&args.base_model)?;
    let inputs = base.inputs.clone();
    let model = TrainableModel::parse(&base.text)
        .with_context(|| format!("--base-model {}", args.base_model))?;
    let run = match &args.run {
        Some(run) => run.clone(),
        None => args
            .data_dir
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_else(|| "run".to_owned()),
    };
    // The run prefixes tags: it must be a valid tag itself.
    OciReference::parse(&format!(
        "oci://{}/{}:{run}-v1",
        output.registry, output.repository
    ))
    .map_err(|e| anyhow::anyhow!("--run {run:?}: not usable in a tag: {e}"))?;
    let mut config = TrainerConfig::new(run.clone());
    config.checkpoint_interval = interval;
    config.min_samples = args.min_samples;
    let trainer = Trainer::open(&args.data_dir, model, config)
        .with_context(|| format!("--data-dir {}", args.data_dir.display()))?;
    let auth = match &args.auth_token_file {
        Some(path) => Authenticator::from_token_file(path)?,
        None => Authenticator::open(),
    };
    let loopback_only = args.listen.ip().is_loopback();
    if !loopback_only && !auth.is_enforcing() && !args.insecure {
        bail!(
            "--listen {} is not a loopback address: give --auth-token-file (or --insecure)",
            args.listen
        );
    }
    let scorer = Arc::new(pair_scorer(&args, &base)?);
    let cursor = feedback_cursor(&trainer);
    let shared = Arc::new(Shared {
        trainer: Mutex::new(trainer),
        metrics: Metrics::new(),
        auth,
    });
    runtime()?.block_on(serve(
        args,
        shared,
        scorer,
        output,
        options,
        run,
        selector,
        inputs,
        cursor,
        loopback_only,
    ))
}

/// The scorer of posted pairs: the input policy of the flags (the base model's folder
/// allowed), object-store credentials from the environment, the machine's best kernels.
fn pair_scorer(args: &TrainerArgs, base: &BaseModel) -> anyhow::Result<PairScorer> {
    let mut policy = super::service::input_policy(&args.policy, Vec::new());
    policy.model_dirs.extend(base.folder.clone());
    let (fetcher, simd) = super::service::local_scoring(policy)?;
    Ok(PairScorer {
        fetcher,
        model: base.spec.clone(),
        inputs: base.inputs.clone(),
        scratch: args.data_dir.join("scratch"),
        simd,
        one_at_a_time: tokio::sync::Semaphore::new(1),
        pairs: std::sync::atomic::AtomicU64::new(0),
    })
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    args: TrainerArgs,
    shared: Arc<Shared>,
    scorer: Arc<PairScorer>,
    output: OciReference,
    options: RegistryOptions,
    run: String,
    selector: NodeSelector,
    inputs: Vec<String>,
    cursor: i64,
    loopback_only: bool,
) -> anyhow::Result<ExitCode> {
    let shutdown = shutdown_on_signal();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("--listen {}: cannot bind", args.listen))?;
    let bound: SocketAddr = listener.local_addr().context("--listen")?;
    tracing::info!(listen = %bound, run = %run, "trainer serving");
    let app = router(HttpState {
        shared: Arc::clone(&shared),
        scorer,
        run: run.clone(),
        loopback_only,
    });
    let stop = shutdown.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    });

    let mut feedback = match &args.controller {
        Some(address) => {
            let options = ClientOptions {
                address: address.clone(),
                ca_cert: None,
                client_identity: None,
                token: read_token(args.controller_token_file.as_deref())?,
                token_file: None,
            };
            let channel = options.connect_lazy()?;
            Some(Feedback {
                client: JobServiceClient::new(channel)
                    .max_decoding_message_size(vmafx_api::DEFAULT_MAX_RESULT_BYTES),
                selector,
                nodes: HashMap::new(),
                cursor,
                inputs,
            })
        }
        None => None,
    };
    let mut backoff = Duration::from_secs(1);
    let mut next_push = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(TICK) => {}
        }
        if let Some(source) = feedback.as_mut() {
            if let Err(e) = source.pull(&shared).await {
                shared.metrics.feedback_errors.inc();
                tracing::warn!("feedback: {e:#}; retrying");
            }
        }
        let inner = Arc::clone(&shared);
        let written = tokio::task::spawn_blocking(move || inner.trainer().checkpoint(now_ms()))
            .await
            .context("the training task ended")??;
        if let Some(c) = written {
            shared.metrics.checkpoints.inc();
            shared.metrics.holdout_plcc.set(c.holdout.plcc);
        }
        if Instant::now() >= next_push {
            match push_pending(&shared, &output, &run, &options).await {
                Ok(()) => backoff = Duration::from_secs(1),
                Err(e) => {
                    shared.metrics.push_failures.inc();
                    tracing::warn!("push: {e:#}; retrying in {} s", backoff.as_secs());
                    next_push = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_PUSH_BACKOFF);
                }
            }
        }
    }
    server
        .await
        .context("the HTTP server task ended")?
        .context("the HTTP server failed")?;
    Ok(ExitCode::SUCCESS)
}
