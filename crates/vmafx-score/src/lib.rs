//! Scores a reference/distorted pair end to end: opens both inputs, runs the feature
//! extractors the models and `--feature` flags ask for, predicts every model on every frame,
//! and hands back a report ready for any libvmaf output format. The CLI and the service's
//! worker both score through here, so they give the same numbers.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use vmafx_engine::collector::FeatureCollector;
use vmafx_engine::cpu::SimdLevel;
use vmafx_engine::feature::Geometry;
use vmafx_engine::model::{Model, ModelSpec};
use vmafx_engine::pipeline::{FramePair, ScorerBuilder};
use vmafx_engine::pool::{pool_vectors, Pooled};
use vmafx_engine::EngineError;
use vmafx_report::Report;
use vmafx_video::{FrameSource, RawParams, VideoError, VideoInfo};

pub mod preset;
pub use preset::{CtcFamily, CtcPreset};

/// An extra feature extractor asked for with `--feature NAME[=key=value[:key=value...]]`: the
/// contract's type and grammar ([`vmafx_contract::FeatureSpec::parse`]), shared with the service.
pub use vmafx_contract::FeatureSpec;

/// What to score and how; the fields mirror the `vmaf` tool's flags.
#[derive(Debug, Clone)]
pub struct ScoreRequest {
    /// Reference clip.
    pub reference: PathBuf,
    /// Distorted clip.
    pub distorted: PathBuf,
    /// Geometry for raw `.yuv` inputs (both inputs share it).
    pub raw: Option<RawParams>,
    /// Models to predict; empty means the default `vmaf_v0.6.1` unless `no_prediction`.
    pub models: Vec<ModelSpec>,
    /// Extra extractors.
    pub features: Vec<FeatureSpec>,
    /// Extract features only.
    pub no_prediction: bool,
    /// Worker threads (0 or 1: score on the calling thread).
    pub threads: usize,
    /// Only every Nth frame is scored and written (1: all).
    pub subsample: u32,
    /// Stop after this many frame pairs.
    pub frame_cnt: Option<u32>,
    /// Reference frames to skip before the first pair.
    pub frame_skip_ref: u32,
    /// Distorted frames to skip before the first pair.
    pub frame_skip_dist: u32,
    /// When set (by another thread), scoring stops before the next frame with
    /// [`ScoreError::Cancelled`].
    pub cancel: Option<Arc<AtomicBool>>,
    /// The SIMD level of every kernel (default: the best this CPU has).
    pub simd: SimdLevel,
    /// Inputs of different bit depths are compared at the higher one, the lower-depth clip's
    /// samples shifted up (libvmaf's `common_bitdepth`, set by `--aom_ctc v6.0` and later).
    pub common_bitdepth: bool,
    /// `--fast-metrics`: extractors with an inexact fast kernel (`ciede`) use it; the output
    /// records it. Off: every value is libvmaf's.
    pub fast_metrics: bool,
}

impl ScoreRequest {
    /// A request for `reference` against `distorted` with libvmaf's defaults.
    pub fn new(reference: impl Into<PathBuf>, distorted: impl Into<PathBuf>) -> Self {
        ScoreRequest {
            reference: reference.into(),
            distorted: distorted.into(),
            raw: None,
            models: Vec::new(),
            features: Vec::new(),
            no_prediction: false,
            threads: 0,
            subsample: 1,
            frame_cnt: None,
            frame_skip_ref: 0,
            frame_skip_dist: 0,
            cancel: None,
            simd: SimdLevel::detect(),
            common_bitdepth: false,
            fast_metrics: false,
        }
    }
}

/// Why scoring failed.
#[derive(Debug, Error)]
pub enum ScoreError {
    /// Reading an input failed; the message names the file.
    #[error(transparent)]
    Video(#[from] VideoError),
    /// A model could not be loaded or applied.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The two inputs cannot be compared.
    #[error("{0}")]
    Mismatch(String),
    /// Nothing to score.
    #[error("{0}")]
    NoFrames(String),
    /// Contradictory or malformed settings.
    #[error("{0}")]
    Usage(String),
    /// The request's cancel flag was raised.
    #[error("scoring cancelled")]
    Cancelled,
}

/// A model's pooled score: what the tool prints at the end of a run and what a job's summary
/// carries, read from the run's one pooling.
#[derive(Debug, Clone, PartialEq)]
pub struct PooledScore {
    /// The model's version or path.
    pub label: String,
    /// The name its scores are written under.
    pub name: String,
    /// Mean over the scored frames.
    pub mean: f64,
    /// Smallest frame score.
    pub min: f64,
    /// Largest frame score.
    pub max: f64,
    /// libvmaf's shifted harmonic mean, `n / Σ 1/(x+1) − 1`.
    pub harmonic_mean: f64,
}

impl PooledScore {
    /// The model's four statistics.
    pub fn pooled(&self) -> Pooled {
        Pooled {
            min: self.min,
            max: self.max,
            mean: self.mean,
            harmonic_mean: self.harmonic_mean,
        }
    }
}

/// Progress of a running score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Frame pairs read so far.
    pub frames_done: u64,
    /// Frame pairs the run will score, when the inputs make that cheap to know.
    pub frames_total: Option<u64>,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct ScoreOutcome {
    /// Every per-frame value, in output column order.
    pub collector: FeatureCollector,
    /// Whole-clip metrics.
    pub aggregate: Vec<(String, f64)>,
    /// Frame pairs scored.
    pub frame_count: usize,
    /// Input geometry.
    pub info: VideoInfo,
    /// Time spent reading and scoring.
    pub elapsed: Duration,
    /// Pooled statistics of each model.
    pub pooled: Vec<PooledScore>,
    /// Pooled statistics of every collector vector, in the collector's order: the run's one
    /// pooling, which [`ScoreOutcome::report`] writes.
    pub pooled_vectors: Vec<Option<Pooled>>,
    /// The vectors the request's `features` extractors wrote (`psnr_y`, `float_ssim`, ...), in
    /// request order: the metrics a job reports beside its models.
    pub feature_vectors: Vec<String>,
    /// Things worth telling the user that did not stop the run.
    pub warnings: Vec<String>,
    /// The subsampling used, needed to write the report.
    pub subsample: u32,
    /// Whether the request allowed inexact fast kernels, which the report records.
    pub fast_metrics: bool,
}

impl ScoreOutcome {
    /// Frames per second of scoring.
    pub fn fps(&self) -> f64 {
        self.frame_count as f64 / self.elapsed.as_secs_f64()
    }

    /// The pooled statistics of the vector `name`, from the run's one pooling.
    pub fn pooled_vector(&self, name: &str) -> Option<Pooled> {
        pooled_of(&self.collector, &self.pooled_vectors, name)
    }

    /// The pooled statistics of every metric the request's `features` produced, under the names
    /// a job reports them by (libvmaf's aliases, e.g. `psnr_y`), in request order.
    pub fn metric_pools(&self) -> Vec<(String, Pooled)> {
        self.feature_vectors
            .iter()
            .filter_map(|name| {
                let pooled = self.pooled_vector(name)?;
                Some((vmafx_engine::feature::name::alias(name).to_string(), pooled))
            })
            .collect()
    }

    /// The report for any output format.
    pub fn report(&self) -> Report<'_> {
        Report {
            collector: &self.collector,
            aggregate: &self.aggregate,
            subsample: self.subsample as usize,
            width: self.info.width,
            height: self.info.height,
            fps: self.fps(),
            fast_metrics: self.fast_metrics,
            frame_count: self.frame_count,
            pooled: &self.pooled_vectors,
        }
    }
}

/// The entry of `pooled` (parallel to `collector`'s vectors) for the vector `name`.
fn pooled_of(
    collector: &FeatureCollector,
    pooled: &[Option<Pooled>],
    name: &str,
) -> Option<Pooled> {
    let k = collector.vectors().iter().position(|v| &*v.name == name)?;
    pooled.get(k).copied().flatten()
}

fn describe(info: &VideoInfo) -> String {
    format!(
        "{}x{} {} {}-bit",
        info.width,
        info.height,
        info.format.short_name(),
        info.bit_depth
    )
}

fn check_compatible(
    reference: &Path,
    ref_info: &VideoInfo,
    distorted: &Path,
    dist_info: &VideoInfo,
    common_bitdepth: bool,
) -> Result<(), ScoreError> {
    let mut problems = Vec::new();
    if (ref_info.width, ref_info.height) != (dist_info.width, dist_info.height) {
        problems.push("resolution");
    }
    if ref_info.format != dist_info.format {
        problems.push("pixel format");
    }
    if ref_info.bit_depth != dist_info.bit_depth && !common_bitdepth {
        problems.push("bit depth");
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(ScoreError::Mismatch(format!(
        "{} mismatch: reference {} is {}, distorted {} is {}",
        problems.join(" and "),
        reference.display(),
        describe(ref_info),
        distorted.display(),
        describe(dist_info)
    )))
}

/// Loads the models a request names (the default model when it names none).
pub fn load_models(request: &ScoreRequest) -> Result<Vec<(ModelSpec, Model)>, ScoreError> {
    if request.no_prediction {
        return Ok(Vec::new());
    }
    let specs = if request.models.is_empty() {
        vec![ModelSpec::default()]
    } else {
        request.models.clone()
    };
    for (i, a) in specs.iter().enumerate() {
        if specs[..i].iter().any(|b| b.score_name() == a.score_name()) {
            return Err(ScoreError::Usage(format!(
                "two models are named \"{}\"; give each a unique name with name=...",
                a.score_name()
            )));
        }
    }
    specs
        .into_iter()
        .map(|spec| {
            let model = Model::load(&spec)?;
            Ok((spec, model))
        })
        .collect()
}

/// Scores `request`, calling `progress` after each frame pair.
pub fn score(
    request: &ScoreRequest,
    progress: &mut dyn FnMut(Progress),
) -> Result<ScoreOutcome, ScoreError> {
    if request.subsample == 0 {
        return Err(ScoreError::Usage("--subsample must be at least 1".into()));
    }
    let models = load_models(request)?;
    let reference = vmafx_video::open(&request.reference, request.raw)?;
    let distorted = vmafx_video::open(&request.distorted, request.raw)?;
    let info = reference.info();
    check_compatible(
        &request.reference,
        &info,
        &request.distorted,
        &distorted.info(),
        request.common_bitdepth,
    )?;
    let bit_depth = info.bit_depth.max(distorted.info().bit_depth);
    let reference = Widened::wrap(reference, &request.reference, bit_depth)?;
    let distorted = Widened::wrap(distorted, &request.distorted, bit_depth)?;
    let info = reference.info();
    let geometry = Geometry {
        format: info.format,
        bit_depth: info.bit_depth,
        width: info.width,
        height: info.height,
    };

    let mut builder = ScorerBuilder::new(geometry)
        .simd(request.simd)
        .fast_metrics(request.fast_metrics)
        .threads(request.threads)
        .subsample(request.subsample);
    for (_, model) in &models {
        for req in model.feature_requests() {
            builder = builder.extractor(req.extractor, &req.options)?;
        }
    }
    let mut feature_slots = Vec::with_capacity(request.features.len());
    for feature in &request.features {
        builder = builder.extractor(&feature.name, &feature.options)?;
        feature_slots.extend(builder.slot_of(&feature.name, &feature.options)?);
    }
    let mut scorer = builder.build()?;

    let start = Instant::now();
    let mut warnings = Vec::new();
    let mut frames: u64 = 0;
    // Decoding runs one pair ahead on its own thread. Pairs travel in a loop: the reader fills
    // one, hands it over, and the scorer's finished pairs come back to it, so only a couple of
    // pairs beyond those the scorer holds ever exist, however long the clip.
    std::thread::scope(|scope| -> Result<(), ScoreError> {
        let (filled_tx, filled_rx) = mpsc::sync_channel::<ReadOutcome>(0);
        let (empty_tx, empty_rx) = mpsc::channel::<FramePair>();
        let frames_total = expected_pairs(request, reference.as_ref(), distorted.as_ref());
        let sources = (reference, distorted);
        scope.spawn(move || read_ahead(request, sources, geometry, empty_rx, filled_tx));
        loop {
            if request
                .cancel
                .as_ref()
                .is_some_and(|flag| flag.load(Ordering::Relaxed))
            {
                // Dropping the channels on return stops the reader at its next send.
                return Err(ScoreError::Cancelled);
            }
            // Return finished pairs before waiting, so the reader never has to allocate for a
            // pair that is on its way back.
            while let Some(pair) = scorer.take_finished() {
                if empty_tx.send(pair).is_err() {
                    break;
                }
            }
            match filled_rx.recv() {
                Ok(ReadOutcome::Pair(pair)) => {
                    scorer.push(pair)?;
                    frames += 1;
                    progress(Progress {
                        frames_done: frames,
                        frames_total,
                    });
                }
                Ok(ReadOutcome::End(warning)) => {
                    warnings.extend(warning);
                    return Ok(());
                }
                Ok(ReadOutcome::Failed(e)) => return Err(e),
                Err(_) => {
                    return Err(ScoreError::Mismatch(
                        "the frame reader stopped unexpectedly".into(),
                    ))
                }
            }
        }
    })?;
    let (mut collector, outputs) = scorer.finish_with_outputs()?;
    let mut feature_vectors: Vec<String> = Vec::new();
    for slot in feature_slots {
        for name in outputs.get(slot).into_iter().flatten() {
            if !feature_vectors.iter().any(|n| **n == **name) {
                feature_vectors.push(name.to_string());
            }
        }
    }
    let frame_count = frames as usize;
    if frame_count == 0 {
        let which = match (request.frame_skip_ref, request.frame_skip_dist) {
            (0, 0) => String::new(),
            _ => " after the requested frame skips".to_string(),
        };
        return Err(ScoreError::NoFrames(format!(
            "no frames to score{which}: {} and {} give no complete frame pair",
            request.reference.display(),
            request.distorted.display()
        )));
    }

    let subsample = request.subsample as usize;
    let scored = || (0..frame_count).filter(move |i| subsample <= 1 || i % subsample == 0);
    // libvmaf's tool pools each model over all frames before the next, then writes the
    // collection extras, and the collector keeps that first-write order as column order.
    for (_, model) in &models {
        for i in scored() {
            let values = model.predict(&collector, i as u32)?;
            if let Some((name, value)) = values.first() {
                collector.append(name, i as u32, *value)?;
            }
        }
    }
    for (_, model) in models.iter().filter(|(_, m)| m.is_collection()) {
        for i in scored() {
            for (name, value) in model.predict(&collector, i as u32)?.iter().skip(1) {
                collector.append(name, i as u32, *value)?;
            }
        }
    }
    let pooled_vectors = pool_vectors(&collector, frame_count, subsample);
    let pooled = models
        .iter()
        .filter_map(|(spec, model)| {
            let p = pooled_of(&collector, &pooled_vectors, model.name())?;
            Some(PooledScore {
                label: spec.source.to_string(),
                name: model.name().to_string(),
                mean: p.mean,
                min: p.min,
                max: p.max,
                harmonic_mean: p.harmonic_mean,
            })
        })
        .collect();
    Ok(ScoreOutcome {
        aggregate: collector.aggregates().to_vec(),
        collector,
        frame_count,
        info,
        elapsed: start.elapsed(),
        pooled,
        pooled_vectors,
        feature_vectors,
        warnings,
        subsample: request.subsample,
        fast_metrics: request.fast_metrics,
    })
}

/// Frame pairs a run will score, from the inputs' frame counts, the skips and `frame_cnt`.
fn expected_pairs(
    request: &ScoreRequest,
    reference: &dyn FrameSource,
    distorted: &dyn FrameSource,
) -> Option<u64> {
    let reference = reference
        .frames_hint()?
        .saturating_sub(request.frame_skip_ref as u64);
    let distorted = distorted
        .frames_hint()?
        .saturating_sub(request.frame_skip_dist as u64);
    let pairs = reference.min(distorted);
    Some(match request.frame_cnt {
        Some(n) => pairs.min(n as u64),
        None => pairs,
    })
}

/// A clip read at a higher bit depth than it is stored in (see
/// [`ScoreRequest::common_bitdepth`]).
struct Widened {
    inner: Box<dyn FrameSource>,
    path: PathBuf,
    stored: vmafx_engine::picture::Picture,
    bit_depth: u8,
}

impl Widened {
    /// `source` itself when it already has `bit_depth`, else a source that widens its frames.
    fn wrap(
        source: Box<dyn FrameSource>,
        path: &Path,
        bit_depth: u8,
    ) -> Result<Box<dyn FrameSource>, ScoreError> {
        let info = source.info();
        if info.bit_depth == bit_depth {
            return Ok(source);
        }
        let stored = vmafx_engine::picture::Picture::new(
            info.format,
            info.bit_depth,
            info.width,
            info.height,
        )?;
        Ok(Box::new(Widened {
            inner: source,
            path: path.to_path_buf(),
            stored,
            bit_depth,
        }))
    }
}

impl FrameSource for Widened {
    fn info(&self) -> VideoInfo {
        VideoInfo {
            bit_depth: self.bit_depth,
            ..self.inner.info()
        }
    }

    fn read_frame(
        &mut self,
        picture: &mut vmafx_engine::picture::Picture,
    ) -> Result<bool, VideoError> {
        if !self.inner.read_frame(&mut self.stored)? {
            return Ok(false);
        }
        picture.widen_from(&self.stored).map_err(|e| {
            VideoError::new(
                &self.path,
                vmafx_video::VideoErrorKind::Unsupported(e.to_string()),
            )
        })?;
        Ok(true)
    }

    fn frames_hint(&self) -> Option<u64> {
        self.inner.frames_hint()
    }
}

/// What the reader thread hands the scorer.
enum ReadOutcome {
    /// The next pair.
    Pair(FramePair),
    /// No more pairs; the warning says why when one input ran out before the other.
    End(Option<String>),
    /// Reading failed.
    Failed(ScoreError),
}

/// The reader thread: skips the requested frames, then reads pairs into recycled pictures (a
/// new pair only when none has come back yet) until the inputs or `frame_cnt` run out.
fn read_ahead(
    request: &ScoreRequest,
    (mut reference, mut distorted): (Box<dyn FrameSource>, Box<dyn FrameSource>),
    geometry: Geometry,
    empty: Receiver<FramePair>,
    filled: SyncSender<ReadOutcome>,
) {
    let outcome = (|| -> Result<ReadOutcome, ScoreError> {
        let mut scratch = FramePair::new(geometry)?;
        skip_frames(
            reference.as_mut(),
            &mut scratch.reference,
            request.frame_skip_ref,
        )?;
        skip_frames(
            distorted.as_mut(),
            &mut scratch.distorted,
            request.frame_skip_dist,
        )?;
        let mut spare = Some(scratch);
        let mut frames: u64 = 0;
        loop {
            if request.frame_cnt.is_some_and(|n| frames >= n as u64) {
                return Ok(ReadOutcome::End(None));
            }
            let mut pair = match spare.take().or_else(|| empty.try_recv().ok()) {
                Some(pair) => pair,
                None => FramePair::new(geometry)?,
            };
            let got_ref = reference.read_frame(&mut pair.reference)?;
            let got_dist = distorted.read_frame(&mut pair.distorted)?;
            match (got_ref, got_dist) {
                (true, true) => {}
                (false, false) => return Ok(ReadOutcome::End(None)),
                (false, true) | (true, false) => {
                    let (short, long) = if got_ref {
                        (&request.distorted, &request.reference)
                    } else {
                        (&request.reference, &request.distorted)
                    };
                    return Ok(ReadOutcome::End(Some(format!(
                        "\"{}\" ended before \"{}\": scored the first {frames} frame pairs",
                        short.display(),
                        long.display()
                    ))));
                }
            }
            if filled.send(ReadOutcome::Pair(pair)).is_err() {
                // The scorer stopped (it failed); nothing is waiting for more frames.
                return Ok(ReadOutcome::End(None));
            }
            frames += 1;
        }
    })();
    let _ = filled.send(outcome.unwrap_or_else(ReadOutcome::Failed));
}

fn skip_frames(
    source: &mut dyn FrameSource,
    scratch: &mut vmafx_engine::picture::Picture,
    count: u32,
) -> Result<(), ScoreError> {
    for _ in 0..count {
        if !source.read_frame(scratch)? {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_feature_flags_like_libvmaf() {
        assert_eq!(
            FeatureSpec::parse("psnr").unwrap(),
            FeatureSpec {
                name: "psnr".into(),
                options: vec![]
            }
        );
        let f = FeatureSpec::parse("psnr=enable_chroma=false:min_sse=0.5").unwrap();
        assert_eq!(f.name, "psnr");
        assert_eq!(
            f.options,
            vec![
                ("enable_chroma".into(), "false".into()),
                ("min_sse".into(), "0.5".into())
            ]
        );
        assert!(FeatureSpec::parse("psnr=enable_chroma").is_err());
        assert!(FeatureSpec::parse("=x=1").is_err());
    }

    fn demo_pair(dir: &Path) -> (PathBuf, PathBuf) {
        let fixture = vmafx_fixtures::fixtures()
            .into_iter()
            .find(|f| f.name == "pan_420_8bit_blur")
            .unwrap();
        let (r, d) = (dir.join("r.y4m"), dir.join("d.y4m"));
        fixture.write_pair(&r, &d).unwrap();
        (r, d)
    }

    #[test]
    fn progress_knows_the_total_and_cancel_stops_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let (r, d) = demo_pair(dir.path());
        let mut seen = Vec::new();
        let mut request = ScoreRequest::new(&r, &d);
        request.frame_skip_ref = 1;
        let outcome = score(&request, &mut |p| seen.push(p)).unwrap();
        assert_eq!(outcome.frame_count, 7);
        assert!(seen.iter().all(|p| p.frames_total == Some(7)), "{seen:?}");

        let flag = Arc::new(AtomicBool::new(false));
        let mut request = ScoreRequest::new(&r, &d);
        request.cancel = Some(Arc::clone(&flag));
        let mut done = 0;
        let result = score(&request, &mut |p| {
            done = p.frames_done;
            if p.frames_done == 3 {
                flag.store(true, Ordering::Relaxed);
            }
        });
        assert!(matches!(result, Err(ScoreError::Cancelled)), "{result:?}");
        assert_eq!(done, 3);
    }

    #[test]
    fn common_bitdepth_compares_an_8_bit_clip_at_10_bits() {
        use vmafx_fixtures::{distort, reference, write_y4m, Distortion, Frame};
        let dir = tempfile::tempdir().unwrap();
        let spec8 = vmafx_fixtures::fixtures()
            .into_iter()
            .find(|f| f.name == "pan_420_8bit_blur")
            .unwrap()
            .spec;
        let spec10 = vmafx_fixtures::ClipSpec {
            depth: 10,
            ..spec8.clone()
        };
        let ref8 = reference(&spec8);
        let dist8 = distort(&spec8, &ref8, Distortion::BlurNoise, 7);
        let widen = |frames: &[Frame]| -> Vec<Frame> {
            frames
                .iter()
                .map(|f| Frame {
                    planes: f.planes.clone().map(|p| p.iter().map(|v| v << 2).collect()),
                })
                .collect()
        };
        let write = |name: &str, spec, frames: &[Frame]| {
            let path = dir.path().join(name);
            let mut file = std::fs::File::create(&path).unwrap();
            write_y4m(spec, frames, &mut file).unwrap();
            path
        };
        let r8 = write("r8.y4m", &spec8, &ref8);
        let r10 = write("r10.y4m", &spec10, &widen(&ref8));
        let d10 = write("d10.y4m", &spec10, &widen(&dist8));
        let run = |r: &Path, common_bitdepth: bool| {
            let mut request = ScoreRequest::new(r, &d10);
            request.features = vec![FeatureSpec::parse("psnr").unwrap()];
            request.common_bitdepth = common_bitdepth;
            score(&request, &mut |_| {})
        };
        let refused = run(&r8, false).unwrap_err().to_string();
        assert!(refused.contains("bit depth mismatch"), "{refused}");
        let widened = run(&r8, true).unwrap();
        let native = run(&r10, false).unwrap();
        assert_eq!(widened.info.bit_depth, 10);
        assert_eq!(widened.pooled_vectors, native.pooled_vectors);
        let values = |o: &ScoreOutcome| -> Vec<Vec<Option<f64>>> {
            o.collector
                .vectors()
                .iter()
                .map(|v| v.values.clone())
                .collect()
        };
        assert_eq!(values(&widened), values(&native));
        assert!(widened.pooled_vector("psnr_y").is_some());
        assert_eq!(widened.feature_vectors, ["psnr_y", "psnr_cb", "psnr_cr"]);
    }

    #[test]
    fn feature_vectors_name_what_the_requested_extractors_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let (r, d) = demo_pair(dir.path());
        let mut request = ScoreRequest::new(&r, &d);
        request.features = vec![
            FeatureSpec::parse("psnr=enable_chroma=false").unwrap(),
            // Also a model input: merged with the model's instance, still reported.
            FeatureSpec::parse("motion").unwrap(),
        ];
        let outcome = score(&request, &mut |_| {}).unwrap();
        // Collector names; outputs print them through `feature::name::alias`.
        assert_eq!(
            outcome.feature_vectors,
            [
                "psnr_y",
                "VMAF_integer_feature_motion_sad_score",
                "VMAF_integer_feature_motion2_score",
                "VMAF_integer_feature_motion3_score"
            ]
        );
        assert!(outcome
            .pooled_vector("VMAF_integer_feature_motion2_score")
            .is_some());
        let plain = score(&ScoreRequest::new(&r, &d), &mut |_| {}).unwrap();
        assert!(plain.feature_vectors.is_empty());
    }
}
