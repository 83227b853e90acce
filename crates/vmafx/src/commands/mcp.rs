//! `vmafx mcp`: a Model Context Protocol server (the official Rust SDK, `rmcp`) over stdio or
//! streamable HTTP, so an assistant or IDE can score and compare clips, look up models, and
//! queue jobs on a controller. Every path and URI a tool receives goes through the same input
//! policy as a job (`--allow-file-root`, `--model-dir`, …), and a bad argument is a tool error
//! (`isError`) of one line naming the field, never a crash. Over HTTP, callers authenticate as
//! the controller's do (its token file, `Authorization: Bearer TOKEN`) and their role decides
//! which tools they may call.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{
    CallToolResult, Implementation, ListResourceTemplatesResult, PaginatedRequestParams,
    ProgressNotificationParam, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    ResourceContents, ResourceTemplate, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{
    schemars, tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler, ServiceExt,
};
use serde::{Deserialize, Serialize};
use vmafx_api::tls::{ApiListener, ConnectionInfo, ServerTls};
use vmafx_api::v1;
use vmafx_api::view::{parse_state, JobView, NodeView};
use vmafx_controller::auth::{Access, Authenticator, Identity};

use super::job::Client;
use crate::cli::McpArgs;

/// Score calls waiting for the scorer beyond the running one; more are refused as busy, so a
/// client cannot queue unbounded work.
const MAX_WAITING_SCORES: usize = 16;
/// How often a running score reports progress to a client that asked for it.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);
/// Jobs `list_jobs` returns per page at most.
const MAX_LIST_JOBS: u32 = 500;
/// Frames `job_frames` returns per call at most (a long clip's document is megabytes).
const MAX_FRAMES_PER_CALL: usize = 1_000;
/// Worst frames `compare` lists for each encode.
const COMPARE_WORST_FRAMES: usize = 5;
/// Distorted encodes one `compare` call may score.
const MAX_COMPARE_ENCODES: usize = 16;
/// The resource of a job's report: the job and its libvmaf JSON report.
const REPORT_TEMPLATE: &str = "vmafx://jobs/{id}/report";

/// Arguments of the `score` tool.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ScoreParams {
    /// Reference clip: an absolute local path, or a URI (file://, s3://, gs://, azure://,
    /// http(s)://, rclone://) allowed by the server's input policy.
    pub reference: String,
    /// Distorted clip, as `reference`.
    pub distorted: String,
    /// Models in `vmaf -m` syntax (e.g. `version=vmaf_v0.6.1`, `version=vmaf_4k_v0.6.1`);
    /// none means vmaf_v0.6.1.
    #[serde(default)]
    pub models: Vec<String>,
    /// Extra features in `vmaf --feature` syntax (e.g. `psnr`, `float_ssim`, `ciede`).
    #[serde(default)]
    pub features: Vec<String>,
}

/// One model's pooled scores, printed as libvmaf prints them (six decimals).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PooledScore {
    /// The name the score is written under (`vmaf` unless the model spec said `name=`).
    pub name: String,
    /// Arithmetic mean over the frames, as `vmaf` prints it.
    pub mean: String,
    /// Smallest frame score.
    pub min: String,
    /// Largest frame score.
    pub max: String,
    /// Harmonic mean over the frames.
    pub harmonic_mean: String,
}

/// Where a score was lowest and highest.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FrameExtremes {
    /// The per-frame metric (a model's name or a feature such as `psnr_y`).
    pub name: String,
    /// Index of the frame with the lowest value (the first, on ties).
    pub worst_frame: u64,
    /// Its value, six decimals.
    pub worst: String,
    /// Index of the frame with the highest value (the first, on ties).
    pub best_frame: u64,
    /// Its value, six decimals.
    pub best: String,
}

/// Result of the `score` tool.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ScoreResult {
    /// Frames scored.
    pub frames: u64,
    /// Pooled score of each model.
    pub models: Vec<PooledScore>,
    /// Pooled value of each extra feature's metrics.
    pub metrics: Vec<PooledScore>,
    /// Worst and best frame of each model and metric.
    pub per_frame: Vec<FrameExtremes>,
}

/// Arguments of the `compare` tool.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CompareParams {
    /// Reference clip, as `score`'s.
    pub reference: String,
    /// Two or more distorted encodes of the reference, as `score`'s `distorted`.
    pub distorted: Vec<String>,
    /// Models in `vmaf -m` syntax; the first ranks the encodes (none means vmaf_v0.6.1).
    #[serde(default)]
    pub models: Vec<String>,
}

/// One encode in a comparison.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RankedEncode {
    /// 1 for the best (highest pooled score of the first model).
    pub rank: u32,
    /// The encode, as given.
    pub distorted: String,
    /// Its pooled score of the ranking model, six decimals.
    pub mean: String,
    /// Its harmonic mean, six decimals.
    pub harmonic_mean: String,
    /// Its lowest frames, worst first.
    pub worst_frames: Vec<FrameScore>,
}

/// A frame and its score.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FrameScore {
    /// Frame index.
    pub frame: u64,
    /// Score, six decimals.
    pub score: String,
}

/// Result of the `compare` tool.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Comparison {
    /// The score the encodes are ranked by (`vmaf` unless the first model names another).
    pub ranked_by: String,
    /// Frames scored per encode.
    pub frames: u64,
    /// The encodes, best first.
    pub encodes: Vec<RankedEncode>,
}

/// Arguments of the `submit_job` tool.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SubmitJobParams {
    /// Reference clip: a URI the controller's nodes can read, or an absolute local path of
    /// this server's machine (sent as file://).
    pub reference: String,
    /// Distorted clip, as `reference`.
    pub distorted: String,
    /// Models in `vmaf -m` syntax; none means vmaf_v0.6.1.
    #[serde(default)]
    pub models: Vec<String>,
    /// Extra features in `vmaf --feature` syntax.
    #[serde(default)]
    pub features: Vec<String>,
    /// Higher runs first.
    #[serde(default)]
    pub priority: i32,
    /// Compute backend: cpu (default), cuda, hip, sycl or vulkan.
    #[serde(default)]
    pub backend: Option<String>,
    /// Submitting again with the same key returns the same job.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Arguments naming one job.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct JobIdParams {
    /// The job id `submit_job` or `list_jobs` gave.
    pub id: String,
}

/// Arguments of the `list_jobs` tool.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListJobsParams {
    /// Only these states (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED).
    #[serde(default)]
    pub states: Vec<String>,
    /// Only jobs of this node id.
    #[serde(default)]
    pub node: Option<String>,
    /// Jobs per page (default 50, at most 500).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Continue after a previous page (its `next_page_token`).
    #[serde(default)]
    pub page_token: Option<String>,
}

/// Arguments of the `job_frames` tool.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct JobFramesParams {
    /// A COMPLETED job's id.
    pub id: String,
    /// Index of the first frame returned (default 0).
    #[serde(default)]
    pub first: Option<u64>,
    /// Frames returned (default 100, at most 1000).
    #[serde(default)]
    pub count: Option<u64>,
}

/// Arguments of the `describe_model` tool.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DescribeModelParams {
    /// A built-in model version, as `list_models` names it (e.g. `vmaf_v0.6.1`).
    pub version: String,
}

/// One extractor a model runs.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ExtractorView {
    /// libvmaf's identity of the instance (`vif`, `vif_egl_1`, …).
    pub instance: String,
    /// Options given to it, as `key=value`.
    pub options: Vec<String>,
}

/// Result of the `describe_model` tool.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ModelDescription {
    /// The version, usable as `version=…` in `score`'s `models`.
    pub version: String,
    /// The name its score is written under.
    pub score_name: String,
    /// Whether it is a bootstrap collection (adds per-member scores and a 95 % interval).
    pub collection: bool,
    /// The model's input features, as the model file names them.
    pub features: Vec<String>,
    /// The feature extractors it runs.
    pub extractors: Vec<ExtractorView>,
}

/// Result of the `list_models` tool.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ModelList {
    /// Built-in model versions, usable as `version=…`.
    pub built_in: Vec<String>,
    /// The model used when `models` is empty.
    pub default: String,
}

/// Scores pairs with the node's job runner, under the input policy of the flags.
struct Scorer {
    fetcher: vmafx_fetch::Fetcher,
    scratch: PathBuf,
    simd: vmafx_engine::cpu::SimdLevel,
    /// Scoring takes every core; calls queue rather than share them.
    one_at_a_time: tokio::sync::Semaphore,
    /// Calls waiting for their turn (bounded by [`MAX_WAITING_SCORES`]).
    waiting: AtomicUsize,
    calls: AtomicU64,
}

/// The MCP server: its tools and what they share.
#[derive(Clone)]
pub struct VmafxMcp {
    scorer: Arc<Scorer>,
    /// The controller of the job tools (connected on first use).
    controller: Client,
    tool_router: ToolRouter<VmafxMcp>,
}

/// Refuses a call the caller's role does not allow. Over HTTP the caller is the identity
/// `require_bearer` attached to the request; over stdio it is the local user who started the
/// process, who may do anything the process can.
fn allow(context: &RequestContext<RoleServer>, access: Access) -> Result<(), String> {
    let Some(parts) = context.extensions.get::<axum::http::request::Parts>() else {
        return Ok(());
    };
    match parts.extensions.get::<Identity>() {
        Some(who) => who.require(access).map_err(|e| e.to_string()),
        None => Err("permission denied: the request carries no authenticated caller".into()),
    }
}

/// The job id of a `vmafx://jobs/{id}/report` URI.
fn report_job_id(uri: &str) -> Option<&str> {
    let id = uri.strip_prefix("vmafx://jobs/")?.strip_suffix("/report")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// A tool result with this JSON as structured content and as text.
fn structured(value: &impl Serialize) -> Result<CallToolResult, String> {
    serde_json::to_value(value)
        .map(CallToolResult::structured)
        .map_err(|e| format!("failed to format the answer: {e}"))
}

/// One line of an `anyhow` error chain.
fn line(error: anyhow::Error) -> String {
    super::error_line(&error)
}

/// A local path becomes a file:// URI (so the policy sees it); a URI is kept.
fn input_uri(field: &str, text: &str) -> Result<String, String> {
    if text.contains("://") {
        return Ok(text.to_owned());
    }
    if !std::path::Path::new(text).is_absolute() {
        return Err(format!(
            "{field}: {text:?} is not an absolute path or a URI (the server's working folder is not the caller's)"
        ));
    }
    super::job::to_uri(field, text).map_err(|e| super::error_line(&e))
}

fn six(value: f64) -> String {
    format!("{value:.6}")
}

/// A `vmaf --json` document, checked to have a `frames` array.
fn parse_report(document: &[u8]) -> Result<serde_json::Value, String> {
    let parsed: serde_json::Value = serde_json::from_slice(document)
        .map_err(|e| format!("the per-frame document is not JSON: {e}"))?;
    if !parsed["frames"].is_array() {
        return Err("the per-frame document has no frames".into());
    }
    Ok(parsed)
}

/// Every frame's value of the metric `name` in a parsed report, as (frame index, value).
fn metric_values(report: &serde_json::Value, name: &str) -> Vec<(u64, f64)> {
    let frames = report["frames"].as_array().map_or(&[][..], Vec::as_slice);
    frames
        .iter()
        .enumerate()
        .filter_map(|(index, frame)| {
            let value = frame["metrics"][name].as_f64()?;
            Some((frame["frameNum"].as_u64().unwrap_or(index as u64), value))
        })
        .collect()
}

/// The lowest and highest value of every per-frame metric in `names`, from a `vmaf --json`
/// document (the first such frame on ties).
fn extremes(document: &[u8], names: &[String]) -> Result<Vec<FrameExtremes>, String> {
    let report = parse_report(document)?;
    let mut out = Vec::new();
    for name in names {
        let values = metric_values(&report, name);
        let worst = values
            .iter()
            .copied()
            .reduce(|w, v| if v.1 < w.1 { v } else { w });
        let best = values
            .iter()
            .copied()
            .reduce(|b, v| if v.1 > b.1 { v } else { b });
        if let (Some((worst_frame, worst)), Some((best_frame, best))) = (worst, best) {
            out.push(FrameExtremes {
                name: name.clone(),
                worst_frame,
                worst: six(worst),
                best_frame,
                best: six(best),
            });
        }
    }
    Ok(out)
}

/// A scored pair: the tool's answer, the per-frame document, and the first model's mean.
struct Scored {
    result: ScoreResult,
    frames_json: Vec<u8>,
    mean: f64,
}

/// Progress notifications of one tool call, sent only when the client gave a progress token.
/// One pair reports frames; several report pairs (a fraction for the one running).
struct Progress {
    token: Option<rmcp::model::ProgressToken>,
    peer: rmcp::Peer<RoleServer>,
    pairs: usize,
    pair: AtomicUsize,
    /// The last value sent: MCP wants progress to increase.
    last: std::sync::Mutex<f64>,
}

impl Progress {
    fn of(context: &RequestContext<RoleServer>, pairs: usize) -> Progress {
        Progress {
            token: context.meta.get_progress_token(),
            peer: context.peer.clone(),
            pairs,
            pair: AtomicUsize::new(0),
            last: std::sync::Mutex::new(-1.0),
        }
    }

    fn set_pair(&self, index: usize) {
        self.pair.store(index, Ordering::Relaxed);
    }

    /// Reports `done` of `total` frames of the running pair, if anything moved.
    async fn frames(&self, done: u64, total: u64) {
        let Some(token) = &self.token else {
            return;
        };
        let pair = self.pair.load(Ordering::Relaxed);
        if total == 0 {
            // Nothing is known before the clips are opened.
            return;
        }
        let (value, of, message) = if self.pairs == 1 {
            (
                done as f64,
                Some(total as f64),
                format!("{done}/{total} frames"),
            )
        } else {
            let fraction = done.min(total) as f64 / total as f64;
            (
                pair as f64 + fraction,
                Some(self.pairs as f64),
                format!(
                    "encode {} of {}: {done}/{total} frames",
                    pair + 1,
                    self.pairs
                ),
            )
        };
        {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if value <= *last {
                return;
            }
            *last = value;
        }
        let mut param = ProgressNotificationParam::new(token.clone(), value).with_message(message);
        if let Some(of) = of {
            param = param.with_total(of);
        }
        // A client that went away loses its progress, not the result.
        if let Err(e) = self.peer.notify_progress(param).await {
            tracing::debug!("progress notification not sent: {e}");
        }
    }
}

impl Scorer {
    /// Scores one pair under the input policy, one call at a time, reporting progress and
    /// stopping when the client cancels the request.
    async fn score(
        self: &Arc<Self>,
        context: &RequestContext<RoleServer>,
        progress: &Progress,
        reference: String,
        distorted: String,
        models: Vec<String>,
        features: Vec<String>,
    ) -> Result<Scored, String> {
        let draft = vmafx_contract::JobDraft {
            reference: &reference,
            distorted: &distorted,
            models: &models,
            features: &features,
            backend: "",
            priority: 0,
            max_attempts: 0,
        };
        vmafx_contract::validate_job(&draft, &self.fetcher.config().policy)
            .map_err(|e| e.to_string())?;
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING_SCORES {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(format!(
                "the server is busy: {MAX_WAITING_SCORES} score calls are already waiting; retry later"
            ));
        }
        let turn = self.one_at_a_time.acquire().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let _turn = turn.map_err(|_| "the server is stopping".to_owned())?;
        let spec = v1::JobSpec {
            reference,
            distorted,
            models,
            features,
            ..Default::default()
        };
        let control = vmafx_node::JobControl::default();
        let scorer = Arc::clone(self);
        let running = control.clone();
        let mut task = tokio::task::spawn_blocking(move || {
            let n = scorer.calls.fetch_add(1, Ordering::Relaxed);
            vmafx_node::execute(
                &spec,
                &scorer.fetcher,
                &scorer
                    .scratch
                    .join(format!("call-{}-{n}", std::process::id())),
                0,
                scorer.simd,
                &running,
            )
        });
        let mut ticker = tokio::time::interval(PROGRESS_INTERVAL);
        let joined = loop {
            tokio::select! {
                joined = &mut task => break joined,
                _ = ticker.tick() => {
                    progress
                        .frames(
                            control.frames_done.load(Ordering::Relaxed),
                            control.frames_total.load(Ordering::Relaxed),
                        )
                        .await;
                }
                _ = context.ct.cancelled(), if !control.cancelled() => {
                    control.cancel.store(true, Ordering::Relaxed);
                }
            }
        };
        let executed = joined
            .map_err(|e| format!("scoring stopped: {e}"))?
            .map_err(|e| e.to_string())?;
        let total = control.frames_total.load(Ordering::Relaxed);
        progress.frames(total, total).await;
        let summary = executed.summary;
        let pooled = |name: &str, mean, min, max, harmonic_mean| PooledScore {
            name: name.to_owned(),
            mean: six(mean),
            min: six(min),
            max: six(max),
            harmonic_mean: six(harmonic_mean),
        };
        let models: Vec<PooledScore> = summary
            .models
            .iter()
            .map(|m| pooled(&m.model, m.mean, m.min, m.max, m.harmonic_mean))
            .collect();
        let metrics: Vec<PooledScore> = summary
            .metrics
            .iter()
            .map(|m| pooled(&m.name, m.mean, m.min, m.max, m.harmonic_mean))
            .collect();
        let names: Vec<String> = models
            .iter()
            .chain(&metrics)
            .map(|p| p.name.clone())
            .collect();
        let per_frame = extremes(&executed.frames_json, &names)?;
        Ok(Scored {
            mean: summary.models.first().map_or(f64::NAN, |m| m.mean),
            result: ScoreResult {
                frames: summary.frames,
                models,
                metrics,
                per_frame,
            },
            frames_json: executed.frames_json,
        })
    }
}

/// The `count` lowest values of `name` in a `vmaf --json` document, lowest first (ties: the
/// earlier frame first).
fn worst_frames(document: &[u8], name: &str, count: usize) -> Result<Vec<FrameScore>, String> {
    let mut values = metric_values(&parse_report(document)?, name);
    values.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    Ok(values
        .into_iter()
        .take(count)
        .map(|(frame, value)| FrameScore {
            frame,
            score: six(value),
        })
        .collect())
}

/// Ranks scored encodes by their first model's mean, best first (ties keep the given order).
fn rank(given: &[String], scored: Vec<(usize, Scored)>) -> Result<Json<Comparison>, String> {
    let ranked_by = scored
        .first()
        .and_then(|(_, s)| s.result.models.first())
        .map(|m| m.name.clone())
        .ok_or("the encodes were scored without a model")?;
    let frames = scored.first().map_or(0, |(_, s)| s.result.frames);
    let mut order = scored;
    order.sort_by(|a, b| b.1.mean.total_cmp(&a.1.mean).then(a.0.cmp(&b.0)));
    let mut encodes = Vec::new();
    for (rank, (index, scored)) in order.into_iter().enumerate() {
        let first = scored
            .result
            .models
            .first()
            .ok_or("an encode was scored without a model")?;
        encodes.push(RankedEncode {
            rank: rank as u32 + 1,
            distorted: given.get(index).cloned().unwrap_or_default(),
            mean: first.mean.clone(),
            harmonic_mean: first.harmonic_mean.clone(),
            worst_frames: worst_frames(&scored.frames_json, &ranked_by, COMPARE_WORST_FRAMES)
                .map_err(|e| format!("distorted[{index}]: {e}"))?,
        });
    }
    Ok(Json(Comparison {
        ranked_by,
        frames,
        encodes,
    }))
}

#[tool_router]
impl VmafxMcp {
    fn new(scorer: Scorer, controller: Client) -> VmafxMcp {
        VmafxMcp {
            scorer: Arc::new(scorer),
            controller,
            tool_router: Self::tool_router(),
        }
    }

    /// Scores a distorted clip against its reference, as `vmafx score` (bit-exact with
    /// libvmaf).
    #[tool(
        description = "Score a distorted video against its reference with VMAF (bit-exact with libvmaf). Inputs are absolute local paths or URIs the server's input policy allows. Returns the pooled scores with libvmaf's six decimals and each metric's worst and best frame. Sends progress notifications (frames) when the request has a progress token."
    )]
    async fn score(
        &self,
        Parameters(params): Parameters<ScoreParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ScoreResult>, String> {
        allow(&context, Access::Submit)?;
        let reference = input_uri("reference", &params.reference)?;
        let distorted = input_uri("distorted", &params.distorted)?;
        let progress = Progress::of(&context, 1);
        let scored = self
            .scorer
            .score(
                &context,
                &progress,
                reference,
                distorted,
                params.models,
                params.features,
            )
            .await?;
        Ok(Json(scored.result))
    }

    /// Scores several encodes of one reference and ranks them.
    #[tool(
        description = "Compare two or more distorted encodes of one reference: scores each with VMAF (as score does), ranks them by the first model's pooled mean (best first), and lists each encode's worst frames. Sends progress notifications when the request has a progress token."
    )]
    async fn compare(
        &self,
        Parameters(params): Parameters<CompareParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<Comparison>, String> {
        allow(&context, Access::Submit)?;
        if params.distorted.len() < 2 {
            return Err("distorted: give two or more encodes to compare".into());
        }
        if params.distorted.len() > MAX_COMPARE_ENCODES {
            return Err(format!(
                "distorted: at most {MAX_COMPARE_ENCODES} encodes per call, not {}",
                params.distorted.len()
            ));
        }
        let reference = input_uri("reference", &params.reference)?;
        let mut inputs = Vec::new();
        for (index, text) in params.distorted.iter().enumerate() {
            inputs.push(input_uri(&format!("distorted[{index}]"), text)?);
        }
        let progress = Progress::of(&context, inputs.len());
        let mut scored = Vec::new();
        for (index, distorted) in inputs.into_iter().enumerate() {
            progress.set_pair(index);
            let one = self
                .scorer
                .score(
                    &context,
                    &progress,
                    reference.clone(),
                    distorted,
                    params.models.clone(),
                    Vec::new(),
                )
                .await
                .map_err(|e| format!("distorted[{index}]: {e}"))?;
            scored.push((index, one));
        }
        rank(&params.distorted, scored)
    }
    /// The built-in model versions.
    #[tool(
        description = "List the built-in VMAF model versions, usable as version=NAME in score's models."
    )]
    async fn list_models(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ModelList>, String> {
        allow(&context, Access::Read)?;
        Ok(Json(ModelList {
            built_in: vmafx_engine::model::BUILT_IN_VERSIONS
                .iter()
                .map(|v| (*v).to_owned())
                .collect(),
            default: "vmaf_v0.6.1".to_owned(),
        }))
    }

    /// What a built-in model reads and runs.
    #[tool(
        description = "Describe a built-in VMAF model: the name its score is written under, whether it is a bootstrap collection, its input features and the feature extractors it runs."
    )]
    async fn describe_model(
        &self,
        Parameters(params): Parameters<DescribeModelParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ModelDescription>, String> {
        allow(&context, Access::Read)?;
        let version = params.version.trim();
        if !vmafx_engine::model::BUILT_IN_VERSIONS.contains(&version) {
            return Err(format!(
                "version: {version:?} is not a built-in model (list_models names them)"
            ));
        }
        let spec = vmafx_engine::model::parse_model(&format!("version={version}"))
            .map_err(|e| format!("version: {e}"))?;
        let model = vmafx_engine::model::Model::load(&spec).map_err(|e| format!("version: {e}"))?;
        Ok(Json(ModelDescription {
            version: version.to_owned(),
            score_name: model.name().to_owned(),
            collection: model.is_collection(),
            features: model.inputs().iter().map(|i| i.feature.clone()).collect(),
            extractors: model
                .feature_requests()
                .iter()
                .map(|r| ExtractorView {
                    instance: r.instance.clone(),
                    options: r.options.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                })
                .collect(),
        }))
    }

    /// Queues a job on the controller.
    #[tool(
        description = "Queue a scoring job on the vmafx controller (its nodes score it). Inputs are URIs the nodes can read, or absolute local paths of this server's machine; both go through the input policy. Returns the job (id, state); poll get_job until COMPLETED, FAILED or CANCELLED."
    )]
    async fn submit_job(
        &self,
        Parameters(params): Parameters<SubmitJobParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        allow(&context, Access::Submit)?;
        let reference = input_uri("reference", &params.reference)?;
        let distorted = input_uri("distorted", &params.distorted)?;
        let backend = params.backend.unwrap_or_else(|| "cpu".to_owned());
        let draft = vmafx_contract::JobDraft {
            reference: &reference,
            distorted: &distorted,
            models: &params.models,
            features: &params.features,
            backend: &backend,
            priority: params.priority,
            max_attempts: 0,
        };
        vmafx_contract::validate_job(&draft, &self.scorer.fetcher.config().policy)
            .map_err(|e| e.to_string())?;
        let spec = v1::JobSpec {
            reference,
            distorted,
            models: params.models,
            features: params.features,
            backend,
            priority: params.priority,
            max_attempts: 0,
        };
        let submitted = self
            .controller
            .clone()
            .submit(spec, params.idempotency_key.unwrap_or_default())
            .await
            .map_err(line)?;
        let job = submitted
            .job
            .ok_or("the controller answered without the job")?;
        structured(&JobView::from(&job))
    }

    /// One job.
    #[tool(
        description = "Get a job from the controller: state, frames done, pooled score (score: the first model's mean) and every model's summary once COMPLETED, the error once FAILED."
    )]
    async fn get_job(
        &self,
        Parameters(params): Parameters<JobIdParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        allow(&context, Access::Read)?;
        let job = self.controller.clone().get(&params.id).await;
        structured(&JobView::from(&job.map_err(line)?))
    }

    /// A page of jobs.
    #[tool(
        description = "List the controller's jobs, newest first, optionally only some states or one node's. Returns jobs and next_page_token (pass it back as page_token for more)."
    )]
    async fn list_jobs(
        &self,
        Parameters(params): Parameters<ListJobsParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        allow(&context, Access::Read)?;
        let mut states = Vec::new();
        for name in &params.states {
            let state = parse_state(name).ok_or_else(|| {
                format!("states: unknown state {name:?} (PENDING, RUNNING, COMPLETED, FAILED or CANCELLED)")
            })?;
            states.push(state as i32);
        }
        let limit = params.limit.unwrap_or(50);
        if limit == 0 || limit > MAX_LIST_JOBS {
            return Err(format!("limit: give 1 to {MAX_LIST_JOBS}, not {limit}"));
        }
        let page = self
            .controller
            .clone()
            .list(v1::ListJobsRequest {
                states,
                node_id: params.node.unwrap_or_default(),
                page_size: limit,
                page_token: params.page_token.unwrap_or_default(),
            })
            .await
            .map_err(line)?;
        let jobs: Vec<JobView> = page.jobs.iter().map(JobView::from).collect();
        structured(&serde_json::json!({
            "jobs": jobs,
            "next_page_token": (!page.next_page_token.is_empty()).then_some(&page.next_page_token),
        }))
    }

    /// Cancels a job.
    #[tool(
        description = "Cancel a job on the controller; returns the job as it is now (a running job stops on its node shortly after)."
    )]
    async fn cancel_job(
        &self,
        Parameters(params): Parameters<JobIdParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        allow(&context, Access::Submit)?;
        let job = self.controller.clone().cancel(&params.id).await;
        structured(&JobView::from(&job.map_err(line)?))
    }

    /// A window of a completed job's per-frame results.
    #[tool(
        description = "Per-frame results of a COMPLETED job (libvmaf's JSON frames: frameNum and every metric), a window of at most 1000 frames at a time, with the pooled metrics and the total frame count."
    )]
    async fn job_frames(
        &self,
        Parameters(params): Parameters<JobFramesParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        allow(&context, Access::Read)?;
        let count = params.count.unwrap_or(100);
        if count == 0 || count > MAX_FRAMES_PER_CALL as u64 {
            return Err(format!(
                "count: give 1 to {MAX_FRAMES_PER_CALL}, not {count}"
            ));
        }
        let first = params.first.unwrap_or(0);
        let document = self
            .controller
            .clone()
            .frames(&params.id)
            .await
            .map_err(line)?;
        let parsed = parse_report(&document).map_err(|e| format!("job {}: {e}", params.id))?;
        let frames = parsed["frames"].as_array().map_or(&[][..], Vec::as_slice);
        let total = frames.len() as u64;
        let window: Vec<&serde_json::Value> = frames
            .iter()
            .skip(usize::try_from(first).unwrap_or(usize::MAX))
            .take(count as usize)
            .collect();
        structured(&serde_json::json!({
            "id": params.id,
            "frames_total": total,
            "first": first,
            "frames": window,
            "pooled_metrics": parsed["pooled_metrics"],
        }))
    }

    /// The controller's nodes.
    #[tool(
        description = "List the controller's worker nodes: name, vendor, device, backends, health, running jobs and capacity."
    )]
    async fn list_nodes(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        allow(&context, Access::Read)?;
        let nodes = self.controller.clone().nodes().await.map_err(line)?;
        let views: Vec<NodeView> = nodes.iter().map(NodeView::from).collect();
        structured(&serde_json::json!({ "nodes": views }))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for VmafxMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
            .with_server_info(Implementation::new("vmafx", vmafx_report::VERSION))
            .with_instructions(
                "vmafx scores video quality with VMAF, bit-exact with libvmaf. Call score with a reference and a distorted clip (absolute paths or URIs the server allows), or compare with several encodes of one reference; list_models and describe_model tell which models exist. submit_job queues the work on the vmafx controller instead (get_job, list_jobs, cancel_job, job_frames, list_nodes follow it).",
            )
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new(REPORT_TEMPLATE, "job_report")
                .with_title("A job's VMAF report")
                .with_description(
                    "The job as get_job shows it, and once COMPLETED its report: libvmaf's JSON (every frame's metrics and the pooled metrics), from the controller.",
                )
                .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        allow(&context, Access::Read).map_err(|e| ErrorData::invalid_request(e, None))?;
        let id = report_job_id(&request.uri).ok_or_else(|| {
            ErrorData::resource_not_found(
                format!(
                    "{:?} is not a resource of this server (it serves {REPORT_TEMPLATE})",
                    request.uri
                ),
                None,
            )
        })?;
        let mut client = self.controller.clone();
        let job = client
            .get(id)
            .await
            .map_err(|e| ErrorData::resource_not_found(line(e), None))?;
        let report = if job.state == v1::JobState::Completed as i32 {
            let document = client
                .frames(id)
                .await
                .map_err(|e| ErrorData::internal_error(line(e), None))?;
            serde_json::from_slice(&document).map_err(|e| {
                ErrorData::internal_error(format!("job {id}: the report is not JSON: {e}"), None)
            })?
        } else {
            serde_json::Value::Null
        };
        let text = serde_json::json!({ "job": JobView::from(&job), "report": report }).to_string();
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, request.uri).with_mime_type("application/json")
        ])
        .into())
    }
}

/// The scorer of the flags: their input policy, object-store settings from the environment,
/// the machine's best kernels (or scalar ones when VMAFX_FORCE_SCALAR says so).
fn scorer(args: &McpArgs) -> anyhow::Result<Scorer> {
    let (fetcher, simd) =
        super::service::local_scoring(super::service::input_policy(&args.policy, Vec::new()))?;
    let scratch = args
        .scratch_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("vmafx-mcp"));
    Ok(Scorer {
        fetcher,
        scratch,
        simd,
        one_at_a_time: tokio::sync::Semaphore::new(1),
        waiting: AtomicUsize::new(0),
        calls: AtomicU64::new(0),
    })
}

/// Runs `vmafx mcp`: serves MCP on stdin/stdout until the client closes them, or over HTTP
/// with `--listen` until SIGINT/SIGTERM.
pub fn run(args: McpArgs) -> anyhow::Result<ExitCode> {
    vmafx_node::served_backend("--backend (VMAFX_BACKEND)", &args.backend)?;
    let scorer = scorer(&args)?;
    let runtime = super::service::runtime()?;
    // The lazy channel needs a runtime to exist in.
    let _entered = runtime.enter();
    let server = VmafxMcp::new(scorer, Client::lazy(&args.controller)?);
    match args.listen {
        Some(listen) => runtime.block_on(serve_http(server, &args, listen)),
        None => runtime.block_on(async move {
            let running = server
                .serve(rmcp::transport::stdio())
                .await
                .context("failed to start MCP on stdio")?;
            running.waiting().await.context("the MCP session failed")?;
            Ok(ExitCode::SUCCESS)
        }),
    }
}

/// What the HTTP middleware shares.
#[derive(Clone)]
struct HttpState {
    auth: Arc<Authenticator>,
    sessions: Arc<LocalSessionManager>,
    max_sessions: usize,
}

/// Resolves the caller from `Authorization: Bearer TOKEN`, as the controller does.
async fn authenticate(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    vmafx_controller::require_bearer(&state.auth, request, next).await
}

/// Refuses a new session beyond `--max-sessions` (a POST without `Mcp-Session-Id` may open
/// one; protocol versions without sessions never fill the table). Requests are not serialized
/// for this, so simultaneous openings may pass the limit by their number, never more.
async fn limit_sessions(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let opens =
        request.method() == Method::POST && !request.headers().contains_key("mcp-session-id");
    if !opens {
        return next.run(request).await;
    }
    let open = state.sessions.sessions.read().await.len();
    if open >= state.max_sessions {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            format!(
                "{open} MCP sessions are open, the most this server allows (--max-sessions); close one or retry later"
            ),
        )
            .into_response();
    }
    next.run(request).await
}

async fn healthz() -> &'static str {
    "ok"
}

/// Serves MCP over streamable HTTP at `listen` (`/mcp`), authenticated like the controller.
async fn serve_http(
    server: VmafxMcp,
    args: &McpArgs,
    listen: SocketAddr,
) -> anyhow::Result<ExitCode> {
    let auth = match &args.auth_token_file {
        Some(path) => Authenticator::from_token_file(path)?,
        None => Authenticator::open(),
    };
    let loopback = listen.ip().is_loopback();
    if !loopback && !auth.is_enforcing() && !args.insecure {
        bail!(
            "--listen {listen} is not a loopback address: give --auth-token-file (or --insecure)"
        );
    }
    if args.max_sessions == 0 {
        bail!("--max-sessions must be at least 1");
    }
    let tls = ServerTls::from_flags(
        args.tls_cert.as_deref(),
        args.tls_key.as_deref(),
        args.client_ca.as_deref(),
    )?;
    let shutdown = super::service::shutdown_on_signal();
    auth.spawn_reloader(shutdown.clone());
    let sessions = Arc::new(LocalSessionManager::default());
    let mut config = StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown.child_token())
        .with_max_request_body_bytes(args.max_request_bytes);
    if !loopback {
        // The SDK's Host check guards an unauthenticated loopback server against DNS
        // rebinding; beyond loopback the bearer token (which a rebinding page cannot send)
        // does, and the names clients use are not known here.
        config = config.disable_allowed_hosts();
    }
    let mcp = StreamableHttpService::new(move || Ok(server.clone()), Arc::clone(&sessions), config);
    let state = HttpState {
        auth: Arc::clone(&auth),
        sessions,
        max_sessions: args.max_sessions,
    };
    let app = axum::Router::new()
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit_sessions,
        ))
        .layer(axum::middleware::from_fn_with_state(state, authenticate))
        .route("/healthz", axum::routing::get(healthz));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("--listen {listen}: cannot bind"))?;
    let bound = listener.local_addr().context("--listen")?;
    tracing::info!(listen = %bound, tls = tls.is_some(), authenticated = auth.is_enforcing(), "MCP serving on /mcp");
    if !auth.is_enforcing() && !loopback {
        tracing::warn!(%bound, "--insecure: anyone who can reach this address may score and submit jobs");
    }
    let listener = ApiListener::new(listener, tls);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<ConnectionInfo>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await
    .context("the MCP HTTP server failed")?;
    Ok(ExitCode::SUCCESS)
}
