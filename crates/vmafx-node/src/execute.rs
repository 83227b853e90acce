//! Running one job on a blocking thread: fetch both inputs, score them with the engine, and pool
//! the per-model results. Input errors are final; transient fetch errors may be retried.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use thiserror::Error;
use vmafx_api::v1;
use vmafx_engine::cpu::SimdLevel;
use vmafx_engine::model::{parse_model, ModelSource};
use vmafx_fetch::{Fetcher, Input};
use vmafx_score::{FeatureSpec, ScoreError, ScoreOutcome, ScoreRequest};

/// Shared between a running job and the task that reports on it.
#[derive(Debug, Clone, Default)]
pub struct JobControl {
    /// Set to stop scoring (cancellation, or a lost lease).
    pub cancel: Arc<AtomicBool>,
    /// Frame pairs scored so far.
    pub frames_done: Arc<AtomicU64>,
    /// Frame pairs in the clip, 0 while unknown.
    pub frames_total: Arc<AtomicU64>,
}

impl JobControl {
    /// Whether the job was told to stop.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// A finished job's results.
#[derive(Debug, Clone)]
pub struct Executed {
    /// Pooled scores per model.
    pub summary: v1::JobSummary,
    /// Per-frame results as `vmaf --json` writes them.
    pub frames_json: Vec<u8>,
}

/// Why a job did not produce a result.
#[derive(Debug, Error)]
pub enum ExecuteError {
    /// The job's own inputs or settings are wrong; another attempt cannot help.
    #[error("{0}")]
    Input(String),
    /// Something outside the job failed (storage unreachable, disk full); worth retrying.
    #[error("{0}")]
    Transient(String),
    /// The job was stopped.
    #[error("cancelled")]
    Cancelled,
}

impl ExecuteError {
    /// Whether another attempt might succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, ExecuteError::Transient(_))
    }
}

/// An input made available as a local file for the job's duration.
struct LocalInput {
    path: PathBuf,
}

fn localize(
    fetcher: &Fetcher,
    uri: &str,
    dir: &Path,
    control: &JobControl,
) -> Result<LocalInput, ExecuteError> {
    if control.cancelled() {
        return Err(ExecuteError::Cancelled);
    }
    let classify = |err: vmafx_fetch::FetchError| {
        if err.is_transient() {
            ExecuteError::Transient(err.to_string())
        } else {
            ExecuteError::Input(err.to_string())
        }
    };
    match fetcher.open(uri).map_err(classify)? {
        Input::Local(path) => Ok(LocalInput { path }),
        Input::Stream { .. } => {
            let path = fetcher.download(uri, dir).map_err(classify)?;
            Ok(LocalInput { path })
        }
    }
}

fn request_for(
    spec: &v1::JobSpec,
    reference: &Path,
    distorted: &Path,
    threads: usize,
    simd: SimdLevel,
    control: &JobControl,
    fetcher: &Fetcher,
) -> Result<ScoreRequest, ExecuteError> {
    let policy = &fetcher.config().policy;
    let mut request = ScoreRequest::new(reference, distorted);
    request.threads = threads;
    request.simd = simd;
    request.models = spec
        .models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut model =
                parse_model(m).map_err(|e| ExecuteError::Input(format!("models[{i}]: {e}")))?;
            // A path= model is read here, on the node: under --model-dir, a regular file,
            // within the size limit, and loaded from its canonical path.
            match &model.source {
                ModelSource::Path(path) => {
                    let real = vmafx_fetch::check_model_file(policy, path)
                        .map_err(|e| ExecuteError::Input(format!("models[{i}]: {e}")))?;
                    model.source = ModelSource::Path(real);
                }
                // Pulled from an allowed registry into the node's cache, once per digest; a
                // registry that does not answer may answer on the next attempt.
                ModelSource::Oci(reference) => {
                    let path = fetcher.model_file(reference).map_err(|e| {
                        let message = format!("models[{i}]: {e}");
                        if e.is_transient() {
                            ExecuteError::Transient(message)
                        } else {
                            ExecuteError::Input(message)
                        }
                    })?;
                    model.source = ModelSource::Path(path);
                }
                ModelSource::BuiltIn(_) => {}
            }
            Ok(model)
        })
        .collect::<Result<_, _>>()?;
    request.features = spec
        .features
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let field = format!("features[{i}]");
            let spec =
                FeatureSpec::parse(f).map_err(|e| ExecuteError::Input(format!("{field}: {e}")))?;
            // The controller refuses these at submission; a node never trusts that alone.
            spec.check_for_job(&field)
                .map_err(|e| ExecuteError::Input(e.to_string()))?;
            Ok(spec)
        })
        .collect::<Result<_, _>>()?;
    request.cancel = Some(Arc::clone(&control.cancel));
    Ok(request)
}

/// Pooled statistics of every model in `outcome`, in request order, and of every metric the
/// request's `features` wrote, named as the per-frame document names them.
pub fn summarize(outcome: &ScoreOutcome) -> v1::JobSummary {
    let metrics = outcome
        .metric_pools()
        .into_iter()
        .map(|(name, p)| v1::MetricScore {
            name,
            mean: p.mean,
            min: p.min,
            max: p.max,
            harmonic_mean: p.harmonic_mean,
        })
        .collect();
    let models = outcome
        .pooled
        .iter()
        .map(|p| v1::ModelScore {
            model: p.name.clone(),
            mean: p.mean,
            min: p.min,
            max: p.max,
            harmonic_mean: p.harmonic_mean,
        })
        .collect();
    v1::JobSummary {
        frames: outcome.frame_count as u64,
        models,
        metrics,
    }
}

/// Runs `spec` to completion on the calling (blocking) thread, using `scratch` for downloads
/// and deleting them afterwards.
pub fn execute(
    spec: &v1::JobSpec,
    fetcher: &Fetcher,
    scratch: &Path,
    threads: usize,
    simd: SimdLevel,
    control: &JobControl,
) -> Result<Executed, ExecuteError> {
    std::fs::create_dir_all(scratch).map_err(|e| {
        ExecuteError::Transient(format!(
            "failed to create the scratch folder {}: {e}",
            scratch.display()
        ))
    })?;
    let result = (|| {
        let reference = localize(fetcher, &spec.reference, scratch, control)?;
        let distorted = localize(fetcher, &spec.distorted, scratch, control)?;
        let request = request_for(
            spec,
            &reference.path,
            &distorted.path,
            threads,
            simd,
            control,
            fetcher,
        )?;
        let outcome = vmafx_score::score(&request, &mut |p| {
            control.frames_done.store(p.frames_done, Ordering::Relaxed);
            if let Some(total) = p.frames_total {
                control.frames_total.store(total, Ordering::Relaxed);
            }
        })
        .map_err(|e| match e {
            ScoreError::Cancelled => ExecuteError::Cancelled,
            other => ExecuteError::Input(other.to_string()),
        })?;
        for warning in &outcome.warnings {
            tracing::warn!("{warning}");
        }
        control
            .frames_done
            .store(outcome.frame_count as u64, Ordering::Relaxed);
        Ok(Executed {
            summary: summarize(&outcome),
            frames_json: outcome.report().json().into_bytes(),
        })
    })();
    if let Err(err) = std::fs::remove_dir_all(scratch) {
        if err.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("failed to remove {}: {err}", scratch.display());
        }
    }
    result
}
