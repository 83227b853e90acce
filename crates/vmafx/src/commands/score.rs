//! `vmafx score`: libvmaf's `vmaf` tool, flag for flag and byte for byte in its output files.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use vmafx_engine::cpu::SimdRequest;
use vmafx_engine::model::parse_model;
use vmafx_engine::picture::PixelFormat;
use vmafx_report::OutputFormat;
use vmafx_score::{CtcFamily, CtcPreset, FeatureSpec, ScoreRequest};
use vmafx_video::RawParams;

use crate::cli::ScoreArgs;

/// Turns the flags into a request, checking them the way libvmaf's tool does.
pub fn request_from_args(args: &ScoreArgs) -> anyhow::Result<ScoreRequest> {
    let reference = args
        .reference
        .clone()
        .context("the reference clip (-r/--reference) is required")?;
    let distorted = args
        .distorted
        .clone()
        .context("the distorted clip (-d/--distorted) is required")?;
    let any_raw = args.width.is_some()
        || args.height.is_some()
        || args.pixel_format.is_some()
        || args.bitdepth.is_some();
    let raw = if any_raw {
        let (Some(width), Some(height), Some(pix), Some(depth)) = (
            args.width,
            args.height,
            args.pixel_format.as_deref(),
            args.bitdepth.as_deref(),
        ) else {
            bail!(
                "raw .yuv input needs all of --width/-w, --height/-h, --pixel_format/-p and \
                 --bitdepth/-b"
            );
        };
        let format = match pix {
            "420" => PixelFormat::Yuv420,
            "422" => PixelFormat::Yuv422,
            _ => PixelFormat::Yuv444,
        };
        Some(RawParams {
            width: width as usize,
            height: height as usize,
            format,
            bit_depth: depth.parse().context("--bitdepth")?,
        })
    } else {
        None
    };
    let models = args
        .model
        .iter()
        .map(|m| parse_model(m).with_context(|| format!("--model \"{m}\"")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let models =
        super::model::resolve_oci_models(models, &args.registry, args.model_cache.as_deref())?;
    let features = args
        .feature
        .iter()
        .map(|f| FeatureSpec::parse(f).map_err(anyhow::Error::from))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.subsample == 0 {
        bail!("--subsample must be at least 1");
    }
    let mut request = ScoreRequest {
        reference,
        distorted,
        raw,
        models,
        features,
        no_prediction: args.no_prediction,
        threads: args.threads as usize,
        subsample: args.subsample,
        frame_cnt: args.frame_cnt.filter(|&n| n > 0),
        frame_skip_ref: args.frame_skip_ref,
        frame_skip_dist: args.frame_skip_dist,
        cancel: None,
        simd: simd_request(args).resolve()?,
        common_bitdepth: false,
        fast_metrics: args.fast_metrics,
    };
    for (family, version) in [
        (CtcFamily::Aom, args.aom_ctc.as_deref()),
        (CtcFamily::Netflix, args.nflx_ctc.as_deref()),
    ] {
        if let Some(version) = version {
            CtcPreset::new(family, version)?.apply(&mut request);
        }
    }
    Ok(request)
}

/// `--simd`/`VMAFX_SIMD`, `VMAFX_FORCE_SCALAR` and `--cpumask`, as the engine takes them.
fn simd_request(args: &ScoreArgs) -> SimdRequest {
    SimdRequest {
        level: args.simd,
        force_scalar: SimdRequest::force_scalar_value(args.force_scalar.as_deref()),
        cpumask: args.cpumask,
    }
}

fn output_format(args: &ScoreArgs) -> OutputFormat {
    if args.json {
        OutputFormat::Json
    } else if args.csv {
        OutputFormat::Csv
    } else if args.sub {
        OutputFormat::Sub
    } else {
        OutputFormat::Xml
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a failed or interrupted
/// run never leaves a half-written score file behind. A path that exists and is not a regular
/// file (`/dev/null`, a pipe) is written in place: renaming over it would replace the device.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)
            .context("failed to write standard output")?;
        return out.flush().context("failed to write standard output");
    }
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("failed to open {}", path.display()))?;
        return out
            .write_all(bytes)
            .with_context(|| format!("failed to write {}", path.display()));
    }
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file path", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.vmafx-tmp", name.to_string_lossy()));
    std::fs::write(&tmp, bytes).with_context(|| format!("failed to write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("failed to write {}", path.display())
    })
}

/// Inputs and outputs named by URI, read and written through `vmafx-fetch` under the input
/// policy: the CLI user's own files are readable (`file://` anywhere), everything else obeys the
/// same rules as a job's inputs. Downloads land in a private folder removed at the end.
struct Remote {
    fetcher: vmafx_fetch::Fetcher,
    scratch: tempfile::TempDir,
}

/// Whether a `-r`/`-d`/`-o` value is a URI rather than a path.
fn is_uri(path: &Path) -> bool {
    path.to_str().is_some_and(|s| s.contains("://"))
}

impl Remote {
    fn new(args: &ScoreArgs) -> anyhow::Result<Remote> {
        let mut config = vmafx_fetch::FetchConfig::from_env();
        config.policy = vmafx_fetch::InputPolicy {
            allow_private_networks: args.allow_private_networks,
            max_input_bytes: args
                .max_input_bytes
                .unwrap_or(config.policy.max_input_bytes),
            ..vmafx_fetch::InputPolicy::permissive()
        };
        let fetcher = vmafx_fetch::Fetcher::new(config)?;
        let scratch = tempfile::Builder::new()
            .prefix("vmafx-score-")
            .tempdir()
            .context("failed to create a folder for downloaded inputs")?;
        Ok(Remote { fetcher, scratch })
    }

    /// A local path for `input`: itself, or the file a URI was downloaded to.
    fn localize(&self, input: &Path) -> anyhow::Result<std::path::PathBuf> {
        match input.to_str() {
            Some(uri) if is_uri(input) => Ok(self.fetcher.download(uri, self.scratch.path())?),
            _ => Ok(input.to_path_buf()),
        }
    }
}

/// Whether `err` came from storage or a Pushgateway that may answer on another try (exit status 75,
/// `EX_TEMPFAIL`, so that a Kubernetes Job retries it while a bad input fails at once).
pub fn is_transient(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<vmafx_fetch::FetchError>()
            .is_some_and(vmafx_fetch::FetchError::is_transient)
            || cause
                .downcast_ref::<vmafx_fetch::pushgateway::PushError>()
                .is_some_and(vmafx_fetch::pushgateway::PushError::is_transient)
    })
}

/// Runs `vmafx score`; with `--termination-message`, the result or the error also goes there.
pub fn run(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    let message_file = args.termination_message.clone();
    exit_on_sigterm();
    let outcome = score_and_write(args);
    if let Some(path) = message_file {
        let result = match &outcome {
            Ok(Some(result)) => Some(result.clone()),
            Ok(None) => None,
            Err(err) => Some(vmafx_contract::PodResult::failed(&super::error_line(err))),
        };
        if let Some(result) = result {
            // In place: in a Pod the file is a bind mount, which a rename cannot replace.
            std::fs::write(&path, result.to_message())
                .with_context(|| format!("failed to write {}", path.display()))?;
        }
    }
    outcome.map(|_| ExitCode::SUCCESS)
}

/// The exit status of a run stopped by SIGTERM, as a shell reports it (128 + 15).
const EXIT_TERMINATED: i32 = 143;

/// Ends the process with status 143 on SIGTERM. In a container `vmafx score` is PID 1, and the
/// kernel drops a signal that PID 1 has no handler for: without one, deleting or evicting the
/// job's Pod would wait out the whole grace period. Nothing is left half-written: outputs are
/// written only once scoring is done, and each write replaces the file whole.
fn exit_on_sigterm() {
    let watcher = std::thread::Builder::new()
        .name("sigterm".to_owned())
        .spawn(|| {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::warn!("SIGTERM will not stop this run: {error}");
                    return;
                }
            };
            let received = runtime.block_on(async {
                let mut terminate =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                terminate.recv().await;
                Ok::<_, std::io::Error>(())
            });
            match received {
                Ok(()) => {
                    eprintln!("vmafx: stopped by SIGTERM");
                    std::process::exit(EXIT_TERMINATED);
                }
                Err(error) => tracing::warn!("SIGTERM will not stop this run: {error}"),
            }
        });
    if let Err(error) = watcher {
        tracing::warn!("SIGTERM will not stop this run: {error}");
    }
}

/// Scores and writes the output; the pooled result, unless only the version was asked for.
fn score_and_write(args: ScoreArgs) -> anyhow::Result<Option<vmafx_contract::PodResult>> {
    if args.version {
        // The level a run with these flags would use, so `-v` answers "which kernels?".
        let simd = simd_request(&args).resolve()?;
        println!(
            "vmafx {} (libvmaf 3.2.0 compatible, {simd} kernels)",
            vmafx_report::VERSION
        );
        return Ok(None);
    }
    vmafx_node::served_backend("--backend (VMAFX_BACKEND)", &args.backend)?;
    // Checked before scoring: a mistyped gateway should not cost a whole run.
    let pushgateway = push_target(&args)?;
    let mut request = request_from_args(&args)?;
    let uses_uris = [&request.reference, &request.distorted]
        .into_iter()
        .chain(args.output.as_ref())
        .any(|p| is_uri(p));
    let remote = if uses_uris {
        Some(Remote::new(&args)?)
    } else {
        None
    };
    if let Some(remote) = &remote {
        request.reference = remote.localize(&request.reference)?;
        request.distorted = remote.localize(&request.distorted)?;
    }
    let interactive = std::io::stderr().is_terminal() && !args.quiet;
    let bar = if interactive {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos} frames  {per_sec}  {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Some(bar)
    } else {
        None
    };
    let outcome = vmafx_score::score(&request, &mut |p| {
        if let Some(bar) = &bar {
            bar.set_position(p.frames_done);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let outcome = outcome?;
    for warning in &outcome.warnings {
        eprintln!("vmafx: warning: {warning}");
    }
    if let Some(path) = &args.output {
        let mut bytes = Vec::new();
        outcome
            .report()
            .write(output_format(&args), &mut bytes)
            .context("failed to format the report")?;
        match (&remote, path.to_str()) {
            (Some(remote), Some(uri)) if is_uri(path) => remote.fetcher.upload(uri, &bytes)?,
            _ => write_atomically(path, &bytes)?,
        }
    }
    if std::io::stderr().is_terminal() && (!args.quiet || args.output.is_none()) {
        eprintln!(
            "{} frames {}x{} {} {}-bit at {:.2} fps",
            outcome.frame_count,
            outcome.info.width,
            outcome.info.height,
            outcome.info.format.short_name(),
            outcome.info.bit_depth,
            outcome.fps()
        );
        for p in &outcome.pooled {
            eprintln!("{}: {:.6}", p.label, p.mean);
        }
        // As libvmaf's tool: a bootstrap collection adds a line with the pooled means of its
        // bagging score, 95 % interval and standard deviation, after every model's line.
        for p in &outcome.pooled {
            let mean_of = |suffix: &str| {
                outcome
                    .pooled_vector(&format!("{}{suffix}", p.name))
                    .map(|pooled| pooled.mean)
            };
            if let (Some(bagging), Some(lo), Some(hi), Some(stddev)) = (
                mean_of("_bagging"),
                mean_of("_ci_p95_lo"),
                mean_of("_ci_p95_hi"),
                mean_of("_stddev"),
            ) {
                eprintln!(
                    "{}: {bagging:.6}, ci.p95: [{lo:.6}, {hi:.6}], stddev: {stddev:.6}",
                    p.label
                );
            }
        }
    }
    if let Some(target) = &pushgateway {
        target.push(&pushed_metrics(&outcome)?)?;
    }
    Ok(Some(pod_result(&outcome)))
}

/// Where `--pushgateway` sends the run's metrics, if anywhere.
fn push_target(args: &ScoreArgs) -> anyhow::Result<Option<vmafx_fetch::pushgateway::PushTarget>> {
    let Some(url) = &args.pushgateway else {
        return Ok(None);
    };
    let instance = args
        .pushgateway_instance
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "vmafx".to_owned());
    let target = vmafx_fetch::pushgateway::PushTarget::new(
        "--pushgateway (VMAFX_PUSHGATEWAY_URL)",
        url,
        &args.pushgateway_job,
        &[("instance".to_owned(), instance)],
    )?;
    Ok(Some(
        match (&args.pushgateway_user, &args.pushgateway_password_file) {
            (Some(user), Some(file)) => {
                target.with_basic_auth(vmafx_fetch::pushgateway::BasicAuth::from_file(
                    "--pushgateway-user (VMAFX_PUSHGATEWAY_USER)",
                    user,
                    file,
                )?)
            }
            // clap requires the two together.
            _ => target,
        },
    ))
}

/// The run's metrics in the text exposition format: every pooled statistic of every model and
/// requested metric (`vmafx_pooled_score{metric, statistic}`), the frames scored, how long
/// scoring took and when the run finished.
fn pushed_metrics(outcome: &vmafx_score::ScoreOutcome) -> anyhow::Result<String> {
    use prometheus_client::encoding::text::encode;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use std::sync::atomic::AtomicU64;
    type FloatGauge = Gauge<f64, AtomicU64>;

    let mut registry = prometheus_client::registry::Registry::with_prefix("vmafx");
    let pooled = Family::<Vec<(String, String)>, FloatGauge>::default();
    registry.register(
        "pooled_score",
        "Pooled score of the run: each model's and requested metric's mean, min, max and harmonic mean",
        pooled.clone(),
    );
    let models = outcome.pooled.iter().map(|p| (p.name.clone(), p.pooled()));
    for (metric, pooled_stats) in models.chain(outcome.metric_pools()) {
        for (statistic, value) in pooled_stats.by_name() {
            pooled
                .get_or_create(&vec![
                    ("metric".to_owned(), metric.clone()),
                    ("statistic".to_owned(), statistic.to_owned()),
                ])
                .set(value);
        }
    }
    let frames = FloatGauge::default();
    frames.set(outcome.frame_count as f64);
    registry.register("frames", "Frame pairs scored", frames);
    let seconds = FloatGauge::default();
    seconds.set(outcome.elapsed.as_secs_f64());
    registry.register("run_duration_seconds", "Time spent scoring", seconds);
    let finished = FloatGauge::default();
    finished.set(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default(),
    );
    registry.register(
        "last_success_timestamp_seconds",
        "When the run finished, in seconds since the Unix epoch",
        finished,
    );
    let mut text = String::new();
    encode(&mut text, &registry).context("failed to encode the run's metrics")?;
    Ok(text)
}

/// The pooled means a Pod reports: each model's, then each requested metric's.
fn pod_result(outcome: &vmafx_score::ScoreOutcome) -> vmafx_contract::PodResult {
    let named = |name: String, mean: f64| vmafx_contract::NamedScore { name, mean };
    vmafx_contract::PodResult {
        frames: outcome.frame_count as u64,
        models: outcome
            .pooled
            .iter()
            .map(|p| named(p.name.clone(), p.mean))
            .collect(),
        metrics: outcome
            .metric_pools()
            .into_iter()
            .map(|(name, p)| named(name, p.mean))
            .collect(),
        ..vmafx_contract::PodResult::default()
    }
}
