//! Command-line definitions. `vmafx score` takes exactly the flags of libvmaf's `vmaf` tool, so
//! scripts keep working when `vmaf` is replaced by `vmafx score`.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

pub use crate::service_cli::*;

/// VMAF video-quality scoring, bit-exact with libvmaf v3.2.0.
#[derive(Debug, Parser)]
#[command(name = "vmafx", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Score a distorted clip against its reference (a drop-in for libvmaf's `vmaf` tool).
    Score(Box<ScoreArgs>),
    /// Make a sample pair and score it through an in-process `serve`: a first run with nothing
    /// else installed.
    Demo(DemoArgs),
    /// Run the controller: job queue, node registry, gRPC on :9090 and HTTP on :8080.
    Controller(Box<ControllerArgs>),
    /// Run a worker node that claims jobs from a controller and scores them.
    Node(Box<NodeArgs>),
    /// Run a controller and a node in one process, data in ./vmafx-data (the embedded default).
    Serve(Box<ServeArgs>),
    /// Submit, follow and manage jobs on a controller.
    Job(JobArgs),
    /// List the worker nodes a controller knows.
    Nodes(NodesArgs),
    /// Pull and push model JSON files as OCI artifacts.
    Model(ModelArgs),
    /// Run an online trainer: takes feedback samples, checkpoints an adapted model and pushes
    /// it to an OCI registry.
    Trainer(Box<TrainerArgs>),
    /// Serve MCP (Model Context Protocol) on stdio, or streamable HTTP with --listen: tools to
    /// score and compare clips, look up models, and queue jobs on a controller, for assistants
    /// and IDEs.
    Mcp(Box<McpArgs>),
    /// Run the Kubernetes operator. It takes no flags: it is configured by the environment
    /// variables VMAFX_OPERATOR_METRICS_ADDR, VMAFX_OPERATOR_HEALTH_PROBE_ADDR,
    /// VMAFX_OPERATOR_LEADER_ELECTION, VMAFX_OPERATOR_LEADER_ELECTION_ID,
    /// VMAFX_OPERATOR_WEBHOOK_PORT, VMAFX_OPERATOR_WEBHOOK_HOST, VMAFX_OPERATOR_GRACEFUL_SHUTDOWN,
    /// VMAFX_LOG_LEVEL, VMAFX_CONTROLLER_GRPC_ADDR and VMAFX_CONTROLLER_HTTP_ADDR.
    Operator(OperatorArgs),
    /// Print the CustomResourceDefinitions of vmafx.dev/v1, generated from the operator's types.
    Crd(CrdArgs),
}

/// `vmafx operator` has no flags: its configuration is the environment (see the command's help).
#[derive(Debug, Args)]
pub struct OperatorArgs {}

/// Flags of `vmafx crd`.
#[derive(Debug, Args)]
pub struct CrdArgs {
    /// Write one file per CRD into this folder instead of printing them (may be repeated).
    #[arg(long = "out-dir")]
    pub out_dir: Vec<PathBuf>,
}

/// Flags of `vmafx demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the sample pair (default: a new folder under the system temp dir).
    #[arg(long, env = "VMAFX_DEMO_DIR")]
    pub dir: Option<PathBuf>,
}

/// Flags of `vmafx score`, named and shaped as libvmaf's `vmaf` tool names them. `-h` is the
/// height there, so help is `--help` only.
#[derive(Debug, Args)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct ScoreArgs {
    /// Print help.
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,

    /// Reference clip (.y4m, .yuv with -w/-h/-p/-b, or anything ffmpeg decodes): a path, or a
    /// URI (`file://`, `s3://`, `gs://`, `azure://`, `http(s)://`, `rclone://`, `remote://`)
    /// read through the same input policy as a job's.
    #[arg(short = 'r', long = "reference", env = "VMAFX_REFERENCE")]
    pub reference: Option<PathBuf>,

    /// Distorted clip.
    #[arg(short = 'd', long = "distorted", env = "VMAFX_DISTORTED")]
    pub distorted: Option<PathBuf>,

    /// Width of raw .yuv input.
    #[arg(short = 'w', long = "width", value_parser = parse_unsigned)]
    pub width: Option<u32>,

    /// Height of raw .yuv input.
    #[arg(short = 'h', long = "height", value_parser = parse_unsigned)]
    pub height: Option<u32>,

    /// Pixel format of raw .yuv input: 420, 422 or 444.
    #[arg(short = 'p', long = "pixel_format", value_parser = ["420", "422", "444"])]
    pub pixel_format: Option<String>,

    /// Bit depth of raw .yuv input: 8, 10, 12 or 16.
    #[arg(short = 'b', long = "bitdepth", value_parser = ["8", "10", "12", "16"])]
    pub bitdepth: Option<String>,

    /// Model, colon-delimited: version=NAME or path=FILE, optional name=, disable_clip,
    /// enable_transform, and EXTRACTOR.OPTION=VALUE overrides. Repeat for several models.
    #[arg(short = 'm', long = "model")]
    pub model: Vec<String>,

    /// Registry access for `-m oci://…` models (pulled once per digest into the model cache).
    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Where `-m oci://…` models are cached (default: $XDG_CACHE_HOME/vmafx/models, else
    /// ~/.cache/vmafx/models).
    #[arg(long = "model-cache", env = "VMAFX_MODEL_CACHE")]
    pub model_cache: Option<PathBuf>,

    /// Output file (`-` for standard output), or a URI (`s3://…`, `gs://…`, `azure://…`,
    /// `rclone://…` or any configured rclone remote) the file is uploaded to.
    #[arg(short = 'o', long = "output", env = "VMAFX_OUTPUT")]
    pub output: Option<PathBuf>,

    /// Also write the pooled result (or the error) to FILE as one small JSON document, for a
    /// Kubernetes Pod's termination message (`/dev/termination-log`).
    #[arg(
        long = "termination-message",
        value_name = "FILE",
        env = "VMAFX_TERMINATION_MESSAGE"
    )]
    pub termination_message: Option<PathBuf>,

    /// Let http(s) inputs given by URI reach loopback, link-local, private and metadata
    /// addresses (object-store endpoints set by AWS_ENDPOINT_URL and the like are always
    /// reachable).
    #[arg(long, env = "VMAFX_ALLOW_PRIVATE_NETWORKS")]
    pub allow_private_networks: bool,

    /// The largest input read or downloaded by URI, in bytes (default: 64 GiB).
    #[arg(long, value_name = "N", env = "VMAFX_MAX_INPUT_BYTES")]
    pub max_input_bytes: Option<u64>,

    /// Write the output file as XML (the default).
    #[arg(long = "xml", overrides_with_all = ["json", "csv", "sub"])]
    pub xml: bool,

    /// Write the output file as JSON.
    #[arg(long = "json", overrides_with_all = ["xml", "csv", "sub"])]
    pub json: bool,

    /// Write the output file as CSV.
    #[arg(long = "csv", overrides_with_all = ["xml", "json", "sub"])]
    pub csv: bool,

    /// Write the output file as MicroDVD subtitles.
    #[arg(long = "sub", overrides_with_all = ["xml", "json", "csv"])]
    pub sub: bool,

    /// Worker threads (output is identical for every value).
    #[arg(long = "threads", value_parser = parse_unsigned, default_value = "0", env = "VMAFX_THREADS")]
    pub threads: u32,

    /// Additional feature extractor: NAME[=key=value[:key=value...]]. Repeatable.
    #[arg(long = "feature")]
    pub feature: Vec<String>,

    /// Restrict permitted CPU instruction sets, as libvmaf: bit 3 turns off AVX2 (scalar
    /// kernels), bits 4 and 5 turn off AVX-512 (`48`: AVX2 at most).
    #[arg(long = "cpumask", value_parser = parse_unsigned)]
    pub cpumask: Option<u32>,

    /// SIMD level of the kernels: scalar, avx2 or avx512 (default: the best this CPU has; a
    /// level it lacks is an error). Output is identical at every level.
    #[arg(long = "simd", env = "VMAFX_SIMD")]
    pub simd: Option<vmafx_engine::cpu::SimdLevel>,

    /// Inexact fast kernels where vmafx has them (`ciede`: f32 with polynomial stand-ins,
    /// per-frame `ciede2000` within 2e-5 dB of libvmaf's). The output records it (JSON
    /// `"fast_metrics": true`, XML `<fyi fast_metrics="true">`). Off: every value is libvmaf's.
    #[arg(long = "fast-metrics", env = "VMAFX_FAST_METRICS")]
    pub fast_metrics: bool,

    /// Any value but empty or `0` forces the scalar kernels.
    #[arg(long = "force-scalar", env = "VMAFX_FORCE_SCALAR", hide = true)]
    pub force_scalar: Option<String>,

    /// Compute backend: cpu, cuda, hip, sycl or vulkan (this build serves cpu; another is an
    /// error, so a Pod scheduled for a GPU never scores on its CPU unnoticed).
    #[arg(long = "backend", env = "VMAFX_BACKEND", default_value = "cpu")]
    pub backend: String,

    /// After a successful run, push its pooled scores, frame count and duration to this
    /// Prometheus Pushgateway (`http(s)://HOST[:PORT][/PREFIX]`), replacing the group
    /// `job/<--pushgateway-job>/instance/<--pushgateway-instance>`.
    #[arg(long = "pushgateway", env = "VMAFX_PUSHGATEWAY_URL")]
    pub pushgateway: Option<String>,

    /// The `job` of the pushed group.
    #[arg(
        long = "pushgateway-job",
        env = "VMAFX_PUSHGATEWAY_JOB",
        default_value = "vmafx"
    )]
    pub pushgateway_job: String,

    /// The `instance` of the pushed group (default: `$HOSTNAME`, a Pod's name, else `vmafx`).
    #[arg(long = "pushgateway-instance", env = "VMAFX_PUSHGATEWAY_INSTANCE")]
    pub pushgateway_instance: Option<String>,

    /// Push with HTTP basic auth as this user (a gateway behind `--web.config.file` or a proxy);
    /// needs --pushgateway-password-file.
    #[arg(
        long = "pushgateway-user",
        env = "VMAFX_PUSHGATEWAY_USER",
        requires = "pushgateway_password_file"
    )]
    pub pushgateway_user: Option<String>,

    /// The file holding --pushgateway-user's password (one line, at most 4 KiB; a mounted
    /// Secret key), so it never appears in a command line.
    #[arg(
        long = "pushgateway-password-file",
        env = "VMAFX_PUSHGATEWAY_PASSWORD_FILE",
        requires = "pushgateway_user"
    )]
    pub pushgateway_password_file: Option<std::path::PathBuf>,

    /// Restrict permitted GPU operations (accepted for compatibility; scoring is on the CPU).
    #[arg(long = "gpumask", value_parser = parse_unsigned)]
    pub gpumask: Option<u32>,

    /// libvmaf's AOM common-test-condition preset, v1.0 to v7.0: the models and metrics those
    /// conditions report (v6.0 and later compare inputs of different bit depths at the higher).
    #[arg(long = "aom_ctc")]
    pub aom_ctc: Option<String>,

    /// libvmaf's Netflix common-test-condition preset, v1.0: the 4K models, PSNR, SSIM and CAMBI.
    #[arg(long = "nflx_ctc")]
    pub nflx_ctc: Option<String>,

    /// Maximum number of frame pairs to score.
    #[arg(long = "frame_cnt", value_parser = parse_unsigned)]
    pub frame_cnt: Option<u32>,

    /// Skip the first N reference frames.
    #[arg(long = "frame_skip_ref", value_parser = parse_unsigned, default_value = "0")]
    pub frame_skip_ref: u32,

    /// Skip the first N distorted frames.
    #[arg(long = "frame_skip_dist", value_parser = parse_unsigned, default_value = "0")]
    pub frame_skip_dist: u32,

    /// Score only every Nth frame.
    #[arg(long = "subsample", value_parser = parse_unsigned, default_value = "1")]
    pub subsample: u32,

    /// No progress meter or summary on a terminal.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// No prediction: extract features only.
    #[arg(short = 'n', long = "no_prediction")]
    pub no_prediction: bool,

    /// Print the version and exit.
    #[arg(short = 'v', long = "version")]
    pub version: bool,
}

/// Parses an unsigned integer the way libvmaf's `strtoul(…, 0)` reads it: decimal, `0x` hex or
/// leading-zero octal.
fn parse_unsigned(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let parsed = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        u32::from_str_radix(&t[1..], 8)
    } else {
        t.parse::<u32>()
    };
    parsed.map_err(|_| format!("\"{text}\" is not an unsigned integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_parsing_accepts_c_bases() {
        assert_eq!(parse_unsigned("12"), Ok(12));
        assert_eq!(parse_unsigned("0x10"), Ok(16));
        assert_eq!(parse_unsigned("010"), Ok(8));
        assert_eq!(parse_unsigned("0"), Ok(0));
        assert!(parse_unsigned("-1").is_err());
        assert!(parse_unsigned("ten").is_err());
    }

    #[test]
    fn libvmaf_style_flags_parse() {
        let cli = Cli::try_parse_from([
            "vmafx",
            "score",
            "-r",
            "a.yuv",
            "-d",
            "b.yuv",
            "-w",
            "8",
            "-h",
            "6",
            "-p",
            "420",
            "-b",
            "10",
            "-m",
            "version=vmaf_v0.6.1",
            "-m",
            "version=vmaf_v0.6.1neg:name=neg",
            "--json",
            "--csv",
            "-o",
            "x.csv",
            "--threads",
            "2",
            "--feature",
            "psnr",
            "-q",
            "-n",
        ])
        .unwrap();
        let Command::Score(s) = cli.command else {
            panic!("parsed as another command")
        };
        assert_eq!((s.width, s.height), (Some(8), Some(6)));
        assert_eq!(s.model.len(), 2);
        assert!(s.csv && !s.json, "the last format flag wins");
        assert!(s.quiet && s.no_prediction);
    }
}
