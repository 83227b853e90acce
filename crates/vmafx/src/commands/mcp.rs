//! `vmafx mcp`: a Model Context Protocol server (the official Rust SDK, `rmcp`) over stdio, so
//! an assistant or IDE can score clips and look up models. Every path and URI a tool receives
//! goes through the same input policy as a job (`--allow-file-root`, `--model-dir`, …), and a
//! bad argument is a tool error (`isError`) of one line naming the field, never a crash.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{schemars, tool, tool_handler, tool_router, ServerHandler, ServiceExt};
use serde::{Deserialize, Serialize};
use vmafx_api::v1;

use crate::cli::McpArgs;

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
    calls: std::sync::atomic::AtomicU64,
}

/// The MCP server: its tools and what they share.
#[derive(Clone)]
pub struct VmafxMcp {
    scorer: Arc<Scorer>,
    tool_router: ToolRouter<VmafxMcp>,
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

/// The lowest and highest value of every per-frame metric in `names`, from a `vmaf --json`
/// document.
fn extremes(document: &[u8], names: &[String]) -> Result<Vec<FrameExtremes>, String> {
    let parsed: serde_json::Value = serde_json::from_slice(document)
        .map_err(|e| format!("the per-frame document is not JSON: {e}"))?;
    let frames = parsed["frames"]
        .as_array()
        .ok_or("the per-frame document has no frames")?;
    let mut out = Vec::new();
    for name in names {
        let mut worst: Option<(u64, f64)> = None;
        let mut best: Option<(u64, f64)> = None;
        for (index, frame) in frames.iter().enumerate() {
            let Some(value) = frame["metrics"][name.as_str()].as_f64() else {
                continue;
            };
            let index = frame["frameNum"].as_u64().unwrap_or(index as u64);
            if worst.is_none_or(|(_, w)| value < w) {
                worst = Some((index, value));
            }
            if best.is_none_or(|(_, b)| value > b) {
                best = Some((index, value));
            }
        }
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

#[tool_router]
impl VmafxMcp {
    fn new(scorer: Scorer) -> VmafxMcp {
        VmafxMcp {
            scorer: Arc::new(scorer),
            tool_router: Self::tool_router(),
        }
    }

    /// Scores a distorted clip against its reference, as `vmafx score` (bit-exact with
    /// libvmaf).
    #[tool(
        description = "Score a distorted video against its reference with VMAF (bit-exact with libvmaf). Inputs are absolute local paths or URIs the server's input policy allows. Returns the pooled scores with libvmaf's six decimals and each metric's worst and best frame."
    )]
    async fn score(
        &self,
        Parameters(params): Parameters<ScoreParams>,
    ) -> Result<Json<ScoreResult>, String> {
        let reference = input_uri("reference", &params.reference)?;
        let distorted = input_uri("distorted", &params.distorted)?;
        let draft = vmafx_contract::JobDraft {
            reference: &reference,
            distorted: &distorted,
            models: &params.models,
            features: &params.features,
            backend: "",
            priority: 0,
            max_attempts: 0,
        };
        vmafx_contract::validate_job(&draft, &self.scorer.fetcher.config().policy)
            .map_err(|e| e.to_string())?;
        let _turn = self
            .scorer
            .one_at_a_time
            .acquire()
            .await
            .map_err(|_| "the server is stopping".to_owned())?;
        let scorer = Arc::clone(&self.scorer);
        let spec = v1::JobSpec {
            reference,
            distorted,
            models: params.models,
            features: params.features,
            ..Default::default()
        };
        let executed = tokio::task::spawn_blocking(move || {
            let n = scorer
                .calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            vmafx_node::execute(
                &spec,
                &scorer.fetcher,
                &scorer
                    .scratch
                    .join(format!("call-{}-{n}", std::process::id())),
                0,
                scorer.simd,
                &vmafx_node::JobControl::default(),
            )
        })
        .await
        .map_err(|e| format!("scoring stopped: {e}"))?
        .map_err(|e| e.to_string())?;
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
        Ok(Json(ScoreResult {
            frames: summary.frames,
            models,
            metrics,
            per_frame,
        }))
    }

    /// The built-in model versions.
    #[tool(
        description = "List the built-in VMAF model versions, usable as version=NAME in score's models."
    )]
    async fn list_models(&self) -> Json<ModelList> {
        Json(ModelList {
            built_in: vmafx_engine::model::BUILT_IN_VERSIONS
                .iter()
                .map(|v| (*v).to_owned())
                .collect(),
            default: "vmaf_v0.6.1".to_owned(),
        })
    }

    /// What a built-in model reads and runs.
    #[tool(
        description = "Describe a built-in VMAF model: the name its score is written under, whether it is a bootstrap collection, its input features and the feature extractors it runs."
    )]
    async fn describe_model(
        &self,
        Parameters(params): Parameters<DescribeModelParams>,
    ) -> Result<Json<ModelDescription>, String> {
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
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for VmafxMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("vmafx", vmafx_report::VERSION))
            .with_instructions(
                "vmafx scores video quality with VMAF, bit-exact with libvmaf. Call score with a reference and a distorted clip (absolute paths or URIs the server allows); list_models and describe_model tell which models exist.",
            )
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
        calls: std::sync::atomic::AtomicU64::new(0),
    })
}

/// Runs `vmafx mcp`: serves MCP on stdin/stdout until the client closes them.
pub fn run(args: McpArgs) -> anyhow::Result<ExitCode> {
    let server = VmafxMcp::new(scorer(&args)?);
    super::service::runtime()?.block_on(async move {
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .context("failed to start MCP on stdio")?;
        running.waiting().await.context("the MCP session failed")?;
        Ok(ExitCode::SUCCESS)
    })
}
