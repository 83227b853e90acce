//! Flags of the service subcommands: `controller`, `node`, `serve`, `job …` and `nodes`. Every
//! flag has an environment fallback so containers can be configured without arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

/// The controller address clients use when none is given: a local `vmafx serve`.
pub const DEFAULT_CONTROLLER: &str = "http://127.0.0.1:9090";

/// Flags shared by `controller` and `serve`.
#[derive(Debug, Clone, Args)]
pub struct ControllerFlags {
    /// gRPC listen address [default: `vmafx serve` 127.0.0.1:9090, `vmafx controller`
    /// 0.0.0.0:9090].
    #[arg(long, env = "VMAFX_GRPC_ADDR")]
    pub grpc_addr: Option<SocketAddr>,
    /// HTTP listen address (health, metrics, REST, web page) [default: `vmafx serve`
    /// 127.0.0.1:8080, `vmafx controller` 0.0.0.0:8080].
    #[arg(long, env = "VMAFX_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// Callers and their roles: one `TOKEN,NAME,ROLE` line each (ROLE: viewer, submitter,
    /// node, admin); reread when it changes. Without it nobody is authenticated.
    #[arg(long, env = "VMAFX_AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Also accept Kubernetes ServiceAccount tokens, reviewed by the API server (TokenReview;
    /// in-cluster config or KUBECONFIG).
    #[arg(long, env = "VMAFX_AUTH_KUBERNETES")]
    pub auth_kubernetes: bool,
    /// Role of a ServiceAccount's tokens: `NAMESPACE/SERVICEACCOUNT=ROLE`; repeatable.
    #[arg(
        long = "auth-kubernetes-role",
        env = "VMAFX_AUTH_KUBERNETES_ROLES",
        value_delimiter = ','
    )]
    pub auth_kubernetes_roles: Vec<String>,
    /// Serve gRPC and HTTP over TLS with this certificate chain (PEM); reloaded when it changes.
    #[arg(long, env = "VMAFX_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM); reloaded with it.
    #[arg(long, env = "VMAFX_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (mutual TLS).
    #[arg(long, env = "VMAFX_CLIENT_CA")]
    pub client_ca: Option<PathBuf>,
    /// Listen on a non-loopback address without authentication anyway.
    #[arg(long, env = "VMAFX_INSECURE")]
    pub insecure: bool,
    /// Largest client request decoded, in bytes.
    #[arg(long, env = "VMAFX_MAX_MESSAGE_BYTES", default_value_t = vmafx_api::DEFAULT_MAX_MESSAGE_BYTES)]
    pub max_message_bytes: usize,
    /// Largest node result (with its per-frame document) decoded, and largest response sent,
    /// in bytes.
    #[arg(long, env = "VMAFX_MAX_RESULT_BYTES", default_value_t = vmafx_api::DEFAULT_MAX_RESULT_BYTES)]
    pub max_result_bytes: usize,
    /// Delete finished jobs and their per-frame results this long after they finish (`30d`,
    /// `12h`, `90m`, `45s`; `never` keeps them).
    #[arg(long, env = "VMAFX_RETAIN_FINISHED", default_value = "30d", value_parser = parse_retention)]
    pub retain_finished: Retention,
    /// Most `WatchJob` streams open at once.
    #[arg(long, env = "VMAFX_MAX_WATCH_STREAMS", default_value_t = vmafx_controller::DEFAULT_MAX_WATCH_STREAMS)]
    pub max_watch_streams: usize,
    /// Where the job database lives.
    #[arg(long, env = "VMAFX_DATA_DIR", default_value = "./vmafx-data")]
    pub data_dir: PathBuf,
    /// Seconds a claimed job's lease lasts without a progress report or heartbeat.
    #[arg(long, env = "VMAFX_LEASE_SECS", default_value_t = 30)]
    pub lease_secs: u64,
    /// Attempts a job gets unless it asks for another number.
    #[arg(long, env = "VMAFX_MAX_ATTEMPTS", default_value_t = 3)]
    pub max_attempts: u32,
    /// Seconds without a heartbeat before a node is unhealthy and its jobs are taken back.
    #[arg(long, env = "VMAFX_NODE_TIMEOUT_SECS", default_value_t = 60)]
    pub node_timeout_secs: u64,
}

/// How long finished jobs are kept: `None` is for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(pub Option<std::time::Duration>);

/// Parses `30d`, `12h`, `90m`, `45s` or `never`.
pub fn parse_retention(text: &str) -> Result<Retention, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("never") {
        return Ok(Retention(None));
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: s, m, h or d (e.g. 30d), or never"))?;
    let (number, unit) = text.split_at(split);
    let count: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a whole number"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?} has unknown unit {unit:?} (use s, m, h or d)"
            ))
        }
    };
    let total = count
        .checked_mul(seconds)
        .filter(|&total| total > 0)
        .ok_or_else(|| format!("{text:?} must be more than zero and under 500 billion years"))?;
    Ok(Retention(Some(std::time::Duration::from_secs(total))))
}

/// Flags shared by `node` and `serve`.
#[derive(Debug, Clone, Args)]
pub struct NodeFlags {
    /// Jobs run at once.
    #[arg(long, env = "VMAFX_NODE_CAPACITY", default_value_t = 1)]
    pub capacity: u32,
    /// Name to register under (default: the host name).
    #[arg(long, env = "VMAFX_NODE_NAME")]
    pub name: Option<String>,
    /// GPU vendor: nvidia, amd, intel or cpu.
    #[arg(long, env = "VMAFX_NODE_VENDOR", default_value = "cpu")]
    pub vendor: String,
    /// Backends offered, comma-separated (cpu, cuda, hip, sycl, vulkan).
    #[arg(
        long,
        env = "VMAFX_NODE_BACKENDS",
        value_delimiter = ',',
        default_value = "cpu"
    )]
    pub backends: Vec<String>,
    /// Scoring threads per job (0: cores divided among the slots).
    #[arg(long, env = "VMAFX_NODE_THREADS", default_value_t = 0)]
    pub threads_per_job: usize,
    /// Folder for downloaded inputs (default: under the system temp dir).
    #[arg(long, env = "VMAFX_SCRATCH_DIR")]
    pub scratch_dir: Option<PathBuf>,
    /// rclone config file for rclone:// and other remotes (default: rclone's own).
    #[arg(long, env = "VMAFX_RCLONE_CONFIG")]
    pub rclone_config: Option<PathBuf>,
    /// Registry access for jobs' `oci://` models (the policy's `--model-registry` says which).
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Where jobs' `oci://` models are cached, one file per digest (default:
    /// $XDG_CACHE_HOME/vmafx/models, else ~/.cache/vmafx/models).
    #[arg(long = "model-cache", env = "VMAFX_MODEL_CACHE")]
    pub model_cache: Option<PathBuf>,
    /// Seconds between heartbeats.
    #[arg(long, env = "VMAFX_HEARTBEAT_SECS", default_value_t = 10)]
    pub heartbeat_secs: u64,
    /// File holding this node's token (first line); reread when it changes, so a projected
    /// Kubernetes ServiceAccount token works. Default: VMAFX_TOKEN.
    #[arg(long, env = "VMAFX_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// CA certificate (PEM) that signed the controller's TLS certificate.
    #[arg(long, env = "VMAFX_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// SIMD level of the scoring kernels: scalar, avx2 or avx512 (default: the best this CPU
    /// has; a level it lacks fails at start). Shown in the node's device string.
    #[arg(long, env = "VMAFX_SIMD")]
    pub simd: Option<vmafx_engine::cpu::SimdLevel>,
    /// Any value but empty or `0` forces the scalar kernels.
    #[arg(long, env = "VMAFX_FORCE_SCALAR", hide = true)]
    pub force_scalar: Option<String>,
}

/// The input policy: which inputs a job may name. The controller checks it at submit time and
/// the node again before reading anything.
#[derive(Debug, Clone, Default, Args)]
pub struct PolicyFlags {
    /// Folder file:// inputs may come from; repeat for several (default: none for `controller`
    /// and `node`; the current directory and the demo's folder for `serve`).
    #[arg(
        long = "allow-file-root",
        value_name = "DIR",
        env = "VMAFX_ALLOW_FILE_ROOTS",
        value_delimiter = ','
    )]
    pub allow_file_roots: Vec<PathBuf>,
    /// Let http(s) inputs reach loopback, link-local, private and metadata addresses.
    #[arg(long, env = "VMAFX_ALLOW_PRIVATE_NETWORKS")]
    pub allow_private_networks: bool,
    /// Folder `path=` models may come from; repeat for several (default: none).
    #[arg(
        long = "model-dir",
        value_name = "DIR",
        env = "VMAFX_MODEL_DIRS",
        value_delimiter = ','
    )]
    pub model_dirs: Vec<PathBuf>,
    /// Registry (`HOST[:PORT]`, as in `oci://HOST[:PORT]/REPO:TAG`) that `oci://` models may
    /// come from; repeat for several, `*` for any (default: none).
    #[arg(
        long = "model-registry",
        value_name = "HOST",
        env = "VMAFX_MODEL_REGISTRIES",
        value_delimiter = ','
    )]
    pub model_registries: Vec<String>,
    /// The largest input read or downloaded, in bytes (default: 64 GiB).
    #[arg(long, value_name = "N", env = "VMAFX_MAX_INPUT_BYTES")]
    pub max_input_bytes: Option<u64>,
    /// The largest `path=` model file read, in bytes (default: 16 MiB).
    #[arg(long, value_name = "N", env = "VMAFX_MAX_MODEL_BYTES")]
    pub max_model_bytes: Option<u64>,
}

/// Flags of `vmafx controller`.
#[derive(Debug, Args)]
pub struct ControllerArgs {
    /// Listen addresses, storage and queue settings.
    #[command(flatten)]
    pub controller: ControllerFlags,
    /// Which inputs jobs may name.
    #[command(flatten)]
    pub policy: PolicyFlags,
}

/// Flags of `vmafx node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The controller's gRPC address.
    #[arg(long, env = "VMAFX_CONTROLLER", default_value = DEFAULT_CONTROLLER)]
    pub controller: String,
    /// Where `/healthz` and `/ready` listen.
    #[arg(long, env = "VMAFX_NODE_HTTP_ADDR", default_value = "0.0.0.0:8090")]
    pub http_addr: SocketAddr,
    /// Slots, identity and input settings.
    #[command(flatten)]
    pub node: NodeFlags,
    /// Which inputs jobs may name.
    #[command(flatten)]
    pub policy: PolicyFlags,
}

/// Flags of `vmafx serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen addresses, storage and queue settings.
    #[command(flatten)]
    pub controller: ControllerFlags,
    /// The built-in node's slots, identity and input settings.
    #[command(flatten)]
    pub node: NodeFlags,
    /// Which inputs jobs may name (both the controller and the built-in node apply it).
    #[command(flatten)]
    pub policy: PolicyFlags,
    /// Where the built-in node's `/healthz` and `/ready` listen (default: not served; the
    /// controller's own endpoints cover the process).
    #[arg(long, env = "VMAFX_NODE_HTTP_ADDR")]
    pub node_http_addr: Option<SocketAddr>,
}

/// Where the controller is and how to prove who we are, for client commands.
#[derive(Debug, Clone, Args)]
pub struct ControllerAddr {
    /// The controller's gRPC address (`host:port`, `http://host:port` or `https://host:port`).
    #[arg(long, env = "VMAFX_CONTROLLER", default_value = DEFAULT_CONTROLLER, global = true)]
    pub controller: String,
    /// File holding the token to send (first line). Default: VMAFX_TOKEN.
    #[arg(long, env = "VMAFX_TOKEN_FILE", global = true)]
    pub token_file: Option<PathBuf>,
    /// CA certificate (PEM) that signed the controller's TLS certificate (default: the
    /// system's CA certificates for https://).
    #[arg(long, env = "VMAFX_CA_CERT", global = true)]
    pub ca_cert: Option<PathBuf>,
}

/// `vmafx job …`.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// Which controller to talk to.
    #[command(flatten)]
    pub addr: ControllerAddr,
    /// What to do.
    #[command(subcommand)]
    pub command: JobCommand,
}

/// The job subcommands.
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Queue a scoring job; prints its id (with --wait: waits and prints the result as JSON).
    Submit(SubmitArgs),
    /// Show one job.
    Get(GetArgs),
    /// List jobs, newest first.
    List(ListArgs),
    /// Cancel a job.
    Cancel(IdArgs),
    /// Print the job as JSON on every change until it finishes.
    Watch(IdArgs),
    /// Download a completed job's per-frame results (libvmaf JSON).
    Frames(FramesArgs),
    /// Give a completed job the score it should have had (0–100), for training; prints the
    /// stored feedback as JSON.
    Feedback(FeedbackArgs),
}

/// Flags of `vmafx job feedback`.
#[derive(Debug, Args)]
pub struct FeedbackArgs {
    /// Job id (a COMPLETED job).
    pub id: String,
    /// The target score: a MOS mapped to 0–100, or any score you trust.
    #[arg(long, allow_negative_numbers = true)]
    pub target: f64,
}

/// Flags of `vmafx job submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Reference video URI (a local path is turned into file://).
    #[arg(long, short = 'r')]
    pub reference: String,
    /// Distorted video URI (a local path is turned into file://).
    #[arg(long, short = 'd')]
    pub distorted: String,
    /// Model, in `vmaf -m` syntax; repeat for several.
    #[arg(long = "model", short = 'm')]
    pub models: Vec<String>,
    /// Extra feature, in `vmaf --feature` syntax; repeat for several.
    #[arg(long = "feature")]
    pub features: Vec<String>,
    /// Higher runs first.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub priority: i32,
    /// Compute backend: cpu, cuda, hip, sycl or vulkan.
    #[arg(long, default_value = "cpu")]
    pub backend: String,
    /// Attempts before the job fails (0: the controller's default).
    #[arg(long, default_value_t = 0)]
    pub max_attempts: u32,
    /// Submitting again with the same key returns the same job.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Wait for the job to finish, showing progress, then print it as JSON.
    #[arg(long)]
    pub wait: bool,
}

/// Flags of `vmafx job get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Job id.
    pub id: String,
    /// Print the whole job as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `vmafx job list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only these states (comma-separated: PENDING,RUNNING,COMPLETED,FAILED,CANCELLED).
    #[arg(long, value_delimiter = ',')]
    pub state: Vec<String>,
    /// Only jobs of this node.
    #[arg(long)]
    pub node: Option<String>,
    /// Jobs per page.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Continue after a previous page.
    #[arg(long)]
    pub page_token: Option<String>,
    /// Print JSON (`{"jobs": [...], "next_page_token": ...}`).
    #[arg(long)]
    pub json: bool,
}

/// A job id.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// Job id.
    pub id: String,
}

/// Flags of `vmafx job frames`.
#[derive(Debug, Args)]
pub struct FramesArgs {
    /// Job id.
    pub id: String,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

/// Flags of `vmafx nodes`.
#[derive(Debug, Args)]
pub struct NodesArgs {
    /// Which controller to ask.
    #[command(flatten)]
    pub addr: ControllerAddr,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// How to reach OCI registries (`vmafx model`, `vmafx score -m oci://…`, `vmafx trainer`).
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Allow plain HTTP to a registry on a loopback address (test registries).
    #[arg(long, env = "VMAFX_INSECURE_REGISTRY")]
    pub insecure_registry: bool,
    /// Registry credentials, in the docker config format (`{"auths": {"HOST": {"auth": …}}}`).
    #[arg(long, env = "VMAFX_REGISTRY_CONFIG")]
    pub registry_config: Option<PathBuf>,
    /// PEM certificates of a private CA to trust for registries, besides the system's.
    #[arg(long, env = "VMAFX_REGISTRY_CA")]
    pub registry_ca: Option<PathBuf>,
}

impl RegistryArgs {
    /// As the OCI module's options.
    pub fn options(&self) -> vmafx_fetch::oci::RegistryOptions {
        vmafx_fetch::oci::RegistryOptions {
            insecure: self.insecure_registry,
            config: self.registry_config.clone(),
            ca_file: self.registry_ca.clone(),
        }
    }
}

/// Flags of `vmafx model`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ModelCommand,
}

/// The model subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download a model JSON pushed as an OCI artifact (oci://HOST/REPO:TAG or @sha256:…).
    Pull(ModelPullArgs),
    /// Push a model JSON file as an OCI artifact; prints the manifest digest.
    Push(ModelPushArgs),
}

/// Flags of `vmafx model pull`.
#[derive(Debug, Args)]
pub struct ModelPullArgs {
    /// `oci://HOST[:PORT]/REPO:TAG` or `oci://HOST[:PORT]/REPO@sha256:HEX`.
    pub reference: String,
    /// Where to write the model JSON.
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Registry access.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Flags of `vmafx model push`.
#[derive(Debug, Args)]
pub struct ModelPushArgs {
    /// The model JSON file (checked by loading it first).
    pub file: PathBuf,
    /// `oci://HOST[:PORT]/REPO:TAG`.
    pub reference: String,
    /// Further tags for the same artifact.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// The run annotation.
    #[arg(long, default_value = "manual")]
    pub run: String,
    /// The version annotation (default: the tag).
    #[arg(long)]
    pub model_version: Option<String>,
    /// The sample-count annotation.
    #[arg(long, default_value_t = 0)]
    pub samples: u64,
    /// Registry access.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Flags of `vmafx trainer`.
#[derive(Debug, Args)]
pub struct TrainerArgs {
    /// Where `POST /api/v1/samples`, `GET /status`, `/metrics` and `/healthz` are served.
    #[arg(long, env = "VMAFX_TRAINER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Registry and repository checkpoints are pushed to (`HOST[:PORT]/REPO`).
    #[arg(long, env = "VMAFX_TRAINER_OUTPUT_REGISTRY")]
    pub output_registry: String,
    /// The model trained from: a built-in version (`vmaf_v0.6.1`) or a model JSON file.
    #[arg(long, env = "VMAFX_TRAINER_BASE_MODEL", default_value = "vmaf_v0.6.1")]
    pub base_model: String,
    /// Least time between checkpoints (`5s`, `10m`, `1h`).
    #[arg(long, env = "VMAFX_TRAINER_CHECKPOINT_INTERVAL", default_value = "5m", value_parser = parse_retention)]
    pub checkpoint_interval: Retention,
    /// Least number of new samples between checkpoints.
    #[arg(long, env = "VMAFX_TRAINER_MIN_SAMPLES", default_value_t = 100)]
    pub min_samples: u64,
    /// Where the sample log, the optimiser state and the checkpoints live.
    #[arg(long, env = "VMAFX_TRAINER_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The run's name: checkpoints are tagged `<run>-v<n>` (default: the data folder's name).
    #[arg(long, env = "VMAFX_TRAINER_RUN")]
    pub run: Option<String>,
    /// Registry access.
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Which inputs a sample posted by URI may name (as a job's: `--allow-file-root`, …).
    #[command(flatten)]
    pub policy: PolicyFlags,
    /// A controller to pull feedback samples from (its gRPC address).
    #[arg(long, env = "VMAFX_TRAINER_CONTROLLER")]
    pub controller: Option<String>,
    /// Token for the controller (first line of the file; the viewer role suffices).
    #[arg(long, env = "VMAFX_TRAINER_CONTROLLER_TOKEN_FILE")]
    pub controller_token_file: Option<PathBuf>,
    /// Only feedback on jobs scored by nodes matching all of these `key=value` pairs (keys:
    /// name, vendor, device, version, backend); repeatable or comma-separated.
    #[arg(
        long = "node-selector",
        env = "VMAFX_TRAINER_NODE_SELECTOR",
        value_delimiter = ','
    )]
    pub node_selector: Vec<String>,
    /// Callers and their roles, as the controller's file (`TOKEN,NAME,ROLE`): posting samples
    /// needs submitter, metrics viewer. Without it nobody is authenticated (loopback only).
    #[arg(long, env = "VMAFX_AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Listen on a non-loopback address without authentication anyway.
    #[arg(long, env = "VMAFX_INSECURE")]
    pub insecure: bool,
}

/// Flags of `vmafx mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// Which inputs the `score` tool may read (as a job's: `--allow-file-root`, …; default:
    /// no local files).
    #[command(flatten)]
    pub policy: PolicyFlags,
    /// Folder for downloaded inputs while a pair is scored (default: under the system temp
    /// dir).
    #[arg(long, env = "VMAFX_SCRATCH_DIR")]
    pub scratch_dir: Option<PathBuf>,
    /// Compute backend of the `score` and `compare` tools: cpu, cuda, hip, sycl or vulkan (this
    /// build serves cpu; another stops the server at start with one line).
    #[arg(long, env = "VMAFX_BACKEND", default_value = "cpu")]
    pub backend: String,
    /// Serve MCP over streamable HTTP at this address (endpoint `/mcp`, health `/healthz`)
    /// instead of stdio. Beyond loopback it needs --auth-token-file (or --insecure).
    #[arg(long, value_name = "ADDR", env = "VMAFX_MCP_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// HTTP callers and their roles, in the controller's token file format (`TOKEN,NAME,ROLE`
    /// lines; reread when it changes): viewers may read, submitters may also score and submit.
    #[arg(long, env = "VMAFX_AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Serve HTTP over TLS with this certificate chain (PEM); reloaded when it changes.
    #[arg(long, env = "VMAFX_TLS_CERT", requires = "listen")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "VMAFX_TLS_KEY", requires = "listen")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (mutual TLS).
    #[arg(long, env = "VMAFX_CLIENT_CA", requires = "listen")]
    pub client_ca: Option<PathBuf>,
    /// Listen on a non-loopback address without authentication anyway.
    #[arg(long, env = "VMAFX_INSECURE")]
    pub insecure: bool,
    /// Most MCP sessions open at once over HTTP; a new one beyond is refused (503).
    #[arg(long, env = "VMAFX_MCP_MAX_SESSIONS", default_value_t = 64)]
    pub max_sessions: usize,
    /// Largest HTTP request body accepted, in bytes (413 beyond).
    #[arg(long, env = "VMAFX_MCP_MAX_REQUEST_BYTES", default_value_t = 1 << 20)]
    pub max_request_bytes: usize,
    /// The controller the job tools (`submit_job`, `get_job`, …, `list_nodes`) talk to, and
    /// the token and CA certificate to reach it with.
    #[command(flatten)]
    pub controller: ControllerAddr,
}
