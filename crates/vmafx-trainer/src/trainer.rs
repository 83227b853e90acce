//! The training loop: durable ingestion, the 90/10 train/holdout split, steps mixing new and
//! replayed samples half and half, and versioned checkpoints.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::metrics::{agreement, Agreement};
use crate::model::{Sample, TrainableModel};
use crate::optim::{OptimConfig, Optimizer};
use crate::replay::{mix, ReplayBuffer, REPLAY_CAPACITY};
use crate::store::{write_atomic, write_new, LoggedSample, SampleLog};
use crate::TrainerError;

/// Holdout samples kept for evaluation (the newest ones).
pub const HOLDOUT_CAPACITY: usize = 2_000;

/// One sample in this many is held out (10 %), chosen from its id so the choice never changes.
pub const HOLDOUT_EVERY: u64 = 10;

/// How a run trains and checkpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainerConfig {
    /// The run's name: it prefixes checkpoint tags (`<run>-v<n>`).
    pub run: String,
    /// Least time between checkpoints.
    pub checkpoint_interval: Duration,
    /// Least number of new samples between checkpoints.
    pub min_samples: u64,
    /// Optimiser steps per new training sample; each step's batch is the new sample and one
    /// replayed sample (half new, half replayed).
    pub steps_per_sample: u32,
    /// Optimiser settings.
    pub optim: OptimConfig,
}

impl TrainerConfig {
    /// Defaults for a run.
    pub fn new(run: impl Into<String>) -> TrainerConfig {
        TrainerConfig {
            run: run.into(),
            checkpoint_interval: Duration::from_secs(300),
            min_samples: 100,
            steps_per_sample: 8,
            optim: OptimConfig::default(),
        }
    }
}

/// A written checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// `v<n>`, unique within the run.
    pub version: String,
    /// Its number.
    pub number: u64,
    /// Samples taken when it was written.
    pub samples: u64,
    /// When, RFC 3339 UTC.
    pub written_at: String,
    /// sha256 of the model JSON, `sha256:…`.
    pub sha256: String,
    /// The model JSON's file in the data directory.
    pub file: String,
    /// Agreement of its scores with the held-out targets.
    pub holdout: Agreement,
    /// The pushed artifact's manifest digest, once pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_digest: Option<String>,
    /// Whether it was tagged `latest-stable` (known once pushed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable: Option<bool>,
}

/// The persistent state besides the sample log.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    optimizer: Optimizer,
    /// The last log entry trained on (or held out).
    consumed_seq: u64,
    checkpoints: Vec<Checkpoint>,
    /// Samples taken when the last checkpoint was written.
    samples_at_checkpoint: u64,
    last_checkpoint_ms: i64,
}

/// What `GET /status` reports (docs/TRAINER_STATUS.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainerStatus {
    /// `Training` once the trainer takes samples.
    pub phase: String,
    /// Samples taken (training and holdout).
    pub samples: u64,
    /// Of which held out.
    pub holdout_samples: u64,
    /// The newest checkpoint's version.
    pub model_version: Option<String>,
    /// The base model's agreement with the held-out targets, for comparison.
    pub base_holdout: Agreement,
    /// Checkpoints, oldest first.
    pub checkpoints: Vec<Checkpoint>,
}

/// What [`Trainer::ingest`] did with a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ingested {
    /// Its place in the log.
    pub seq: u64,
    /// Whether it was held out.
    pub holdout: bool,
}

/// One training run over one data directory.
#[derive(Debug)]
pub struct Trainer {
    dir: PathBuf,
    model: TrainableModel,
    config: TrainerConfig,
    state: State,
    log: SampleLog,
    /// Entries still in the log, for compaction.
    logged: VecDeque<LoggedSample>,
    replay: ReplayBuffer<Sample>,
    holdout: VecDeque<Sample>,
    next_seq: u64,
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether a sample with this id is held out.
pub fn is_holdout(id: &str) -> bool {
    fnv1a(id).is_multiple_of(HOLDOUT_EVERY)
}

/// `ms` since the Unix epoch as RFC 3339 UTC with seconds (`2026-12-04T15:40:00Z`).
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

const STATE_FILE: &str = "state.json";
const LOG_FILE: &str = "samples.jsonl";
const CHECKPOINT_DIR: &str = "checkpoints";

impl Trainer {
    /// Opens (or starts) the run kept in `dir`, training `model`. Samples logged after the last
    /// saved state are trained on again, in their order; a checkpoint file written just before
    /// a kill, that the state does not list yet, is adopted rather than written again.
    pub fn open(
        dir: &Path,
        model: TrainableModel,
        config: TrainerConfig,
    ) -> Result<Trainer, TrainerError> {
        std::fs::create_dir_all(dir.join(CHECKPOINT_DIR))
            .map_err(|e| TrainerError::io(&dir.join(CHECKPOINT_DIR), e))?;
        let state_path = dir.join(STATE_FILE);
        let mut state = match std::fs::read(&state_path) {
            Ok(bytes) => serde_json::from_slice::<State>(&bytes)
                .map_err(|e| TrainerError::io(&state_path, format!("unreadable state: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State {
                optimizer: Optimizer::new(model.parameter_count(), config.optim),
                consumed_seq: 0,
                checkpoints: Vec::new(),
                samples_at_checkpoint: 0,
                last_checkpoint_ms: 0,
            },
            Err(e) => return Err(TrainerError::io(&state_path, e)),
        };
        if state.optimizer.weights.len() != model.parameter_count() {
            return Err(TrainerError::io(
                &state_path,
                format!(
                    "the state holds {} parameters, the base model has {}: was the data \
                     directory used with another base model?",
                    state.optimizer.weights.len(),
                    model.parameter_count()
                ),
            ));
        }
        // Settings may change between runs; the learned vectors carry over.
        state.optimizer.config = config.optim;
        let (log, entries) = SampleLog::open(&dir.join(LOG_FILE))?;
        let mut trainer = Trainer {
            dir: dir.to_owned(),
            model,
            config,
            state,
            log,
            logged: VecDeque::new(),
            replay: ReplayBuffer::new(REPLAY_CAPACITY),
            holdout: VecDeque::new(),
            next_seq: 1,
        };
        let consumed = trainer.state.consumed_seq;
        for entry in entries {
            trainer.next_seq = trainer.next_seq.max(entry.seq + 1);
            if entry.seq <= consumed {
                trainer.remember(&entry);
            } else {
                trainer.learn(&entry);
            }
            trainer.logged.push_back(entry);
        }
        trainer.adopt_orphan_checkpoints()?;
        Ok(trainer)
    }

    fn remember(&mut self, entry: &LoggedSample) {
        if entry.holdout {
            if self.holdout.len() == HOLDOUT_CAPACITY {
                self.holdout.pop_front();
            }
            self.holdout.push_back(entry.sample.clone());
        } else {
            self.replay.push(entry.sample.clone());
        }
    }

    /// Trains on a logged entry (or holds it out) and records it as consumed.
    fn learn(&mut self, entry: &LoggedSample) {
        if !entry.holdout {
            for _ in 0..self.config.steps_per_sample {
                self.step(&entry.sample);
            }
        }
        self.remember(entry);
        self.state.consumed_seq = entry.seq;
    }

    /// One step on a batch of the new sample and one replayed sample.
    fn step(&mut self, new: &Sample) {
        let mut batch = vec![new];
        if !self.replay.is_empty() {
            let pick = mix(self.state.optimizer.steps) as usize % self.replay.len();
            if let Some(old) = self.replay.get(pick) {
                batch.push(old);
            }
        }
        let weights = &self.state.optimizer.weights;
        let mut gradient = vec![0.0; weights.len()];
        for sample in &batch {
            let (prediction, g) = self.model.predict_with_gradient(weights, sample);
            // Loss ½(p − t)²/100 per sample: score points, scaled so that a few points of
            // error make a gradient of order one (then clipped at 1).
            let residual = (prediction - sample.target) / 100.0;
            for (total, gi) in gradient.iter_mut().zip(&g) {
                *total += residual * gi / batch.len() as f64;
            }
        }
        // Knot outputs are kept non-decreasing, so that every checkpoint loads in libvmaf.
        let model = &self.model;
        self.state
            .optimizer
            .step_projected(&gradient, |w| model.project(w));
    }

    /// Takes a sample: checks it, appends it to the log durably (after this returns `Ok`, a
    /// kill cannot lose it), then trains on it or holds it out.
    pub fn ingest(&mut self, sample: Sample) -> Result<Ingested, TrainerError> {
        self.model.check(&sample)?;
        let entry = LoggedSample {
            seq: self.next_seq,
            holdout: is_holdout(&sample.id),
            sample,
        };
        self.log.append(&entry)?;
        self.next_seq += 1;
        self.learn(&entry);
        let ingested = Ingested {
            seq: entry.seq,
            holdout: entry.holdout,
        };
        self.logged.push_back(entry);
        self.compact()?;
        Ok(ingested)
    }

    /// Keeps the log bounded: once it holds four times what the buffers keep, it is rewritten
    /// with only the entries still in the replay buffer, the holdout set, or not yet trained on.
    fn compact(&mut self) -> Result<(), TrainerError> {
        if self.log.entries <= 4 * (REPLAY_CAPACITY + HOLDOUT_CAPACITY) {
            return Ok(());
        }
        // The state must say these entries were consumed before the log forgets them.
        self.save_state()?;
        let mut train_left = self.replay.len();
        let mut holdout_left = self.holdout.len();
        let mut keep: Vec<&LoggedSample> = Vec::new();
        for entry in self.logged.iter().rev() {
            let slot = if entry.holdout {
                &mut holdout_left
            } else {
                &mut train_left
            };
            if *slot > 0 {
                *slot -= 1;
                keep.push(entry);
            }
        }
        keep.reverse();
        self.log.rewrite(&keep)?;
        let kept: VecDeque<LoggedSample> = keep.into_iter().cloned().collect();
        self.logged = kept;
        Ok(())
    }

    /// The ids of the samples still in the log, oldest first (the newest always are): a feeder
    /// finds where it left off from them.
    pub fn sample_ids(&self) -> impl Iterator<Item = &str> {
        self.logged.iter().map(|e| e.sample.id.as_str())
    }

    /// Samples taken (training and holdout) in the whole run.
    pub fn samples(&self) -> u64 {
        self.next_seq - 1
    }

    /// Whether a checkpoint is due at `now_ms`: the interval has passed since the last one
    /// AND at least `min_samples` samples arrived since.
    pub fn due(&self, now_ms: i64) -> bool {
        let interval =
            i64::try_from(self.config.checkpoint_interval.as_millis()).unwrap_or(i64::MAX);
        self.samples() >= self.state.samples_at_checkpoint + self.config.min_samples
            && now_ms.saturating_sub(self.state.last_checkpoint_ms) >= interval
    }

    /// The EMA weights' agreement, and the base model's, with the holdout set.
    pub fn holdout_agreement(&self, weights: &[f64]) -> Agreement {
        let predicted: Vec<f64> = self
            .holdout
            .iter()
            .map(|s| self.model.predict(weights, s))
            .collect();
        let targets: Vec<f64> = self.holdout.iter().map(|s| s.target).collect();
        agreement(&predicted, &targets)
    }

    fn checkpoint_path(&self, number: u64) -> PathBuf {
        self.dir
            .join(CHECKPOINT_DIR)
            .join(format!("v{number}.json"))
    }

    fn meta_path(&self, number: u64) -> PathBuf {
        self.dir
            .join(CHECKPOINT_DIR)
            .join(format!("v{number}.meta.json"))
    }

    /// Writes the next checkpoint if one is due: the EMA weights as model JSON, with its holdout
    /// agreement. `None` when none is due.
    pub fn checkpoint(&mut self, now_ms: i64) -> Result<Option<Checkpoint>, TrainerError> {
        if !self.due(now_ms) {
            return Ok(None);
        }
        let number = self.state.checkpoints.last().map_or(0, |c| c.number) + 1;
        let weights = self.state.optimizer.ema();
        let document = self.model.export(&weights);
        let mut bytes = serde_json::to_vec_pretty(&document)
            .map_err(|e| TrainerError::io(&self.checkpoint_path(number), e))?;
        bytes.push(b'\n');
        let sha256 = format!("sha256:{:x}", Sha256::digest(&bytes));
        let checkpoint = Checkpoint {
            version: format!("v{number}"),
            number,
            samples: self.samples(),
            written_at: rfc3339(now_ms),
            sha256,
            file: format!("{CHECKPOINT_DIR}/v{number}.json"),
            holdout: self.holdout_agreement(&weights),
            pushed_digest: None,
            stable: None,
        };
        // The description first, then the model: a model file always has its description.
        let meta = serde_json::to_vec(&checkpoint)
            .map_err(|e| TrainerError::io(&self.meta_path(number), e))?;
        write_atomic(&self.meta_path(number), &meta)?;
        if !write_new(&self.checkpoint_path(number), &bytes)? {
            return Err(TrainerError::io(
                &self.checkpoint_path(number),
                "a checkpoint of this version exists already; not writing it again",
            ));
        }
        self.state.checkpoints.push(checkpoint.clone());
        self.state.samples_at_checkpoint = checkpoint.samples;
        self.state.last_checkpoint_ms = now_ms;
        self.save_state()?;
        tracing::info!(
            version = %checkpoint.version,
            samples = checkpoint.samples,
            plcc = checkpoint.holdout.plcc,
            "checkpoint written"
        );
        Ok(Some(checkpoint))
    }

    /// Lists a checkpoint that was written but not yet recorded (a kill between the two).
    fn adopt_orphan_checkpoints(&mut self) -> Result<(), TrainerError> {
        loop {
            let number = self.state.checkpoints.last().map_or(0, |c| c.number) + 1;
            let path = self.checkpoint_path(number);
            if !path.exists() {
                return Ok(());
            }
            let meta_path = self.meta_path(number);
            let meta = std::fs::read(&meta_path).map_err(|e| TrainerError::io(&meta_path, e))?;
            let checkpoint: Checkpoint =
                serde_json::from_slice(&meta).map_err(|e| TrainerError::io(&meta_path, e))?;
            tracing::info!(version = %checkpoint.version, "adopting a checkpoint written before a restart");
            self.state.samples_at_checkpoint = checkpoint.samples;
            self.state.last_checkpoint_ms = 0;
            self.state.checkpoints.push(checkpoint);
            self.save_state()?;
        }
    }

    /// Saves the optimiser, progress and checkpoint list atomically.
    pub fn save_state(&self) -> Result<(), TrainerError> {
        let path = self.dir.join(STATE_FILE);
        let bytes = serde_json::to_vec(&self.state).map_err(|e| TrainerError::io(&path, e))?;
        write_atomic(&path, &bytes)
    }

    /// Records that a checkpoint was pushed, under which digest, and whether it was tagged
    /// stable.
    pub fn mark_pushed(
        &mut self,
        version: &str,
        digest: String,
        stable: bool,
    ) -> Result<(), TrainerError> {
        if let Some(c) = self
            .state
            .checkpoints
            .iter_mut()
            .find(|c| c.version == version)
        {
            c.pushed_digest = Some(digest);
            c.stable = Some(stable);
        }
        self.save_state()
    }

    /// Checkpoints, oldest first.
    pub fn checkpoints(&self) -> &[Checkpoint] {
        &self.state.checkpoints
    }

    /// The model JSON of a checkpoint.
    pub fn checkpoint_bytes(&self, checkpoint: &Checkpoint) -> Result<Vec<u8>, TrainerError> {
        let path = self.dir.join(&checkpoint.file);
        std::fs::read(&path).map_err(|e| TrainerError::io(&path, e))
    }

    /// The newest stable checkpoint's holdout PLCC, if any.
    pub fn last_stable_plcc(&self) -> Option<f64> {
        self.state
            .checkpoints
            .iter()
            .rev()
            .find(|c| c.stable == Some(true))
            .map(|c| c.holdout.plcc)
    }

    /// The run's configuration.
    pub fn config(&self) -> &TrainerConfig {
        &self.config
    }

    /// The trainable model.
    pub fn model(&self) -> &TrainableModel {
        &self.model
    }

    /// The current EMA weights.
    pub fn ema_weights(&self) -> Vec<f64> {
        self.state.optimizer.ema()
    }

    /// The status document.
    pub fn status(&self) -> TrainerStatus {
        TrainerStatus {
            phase: "Training".to_owned(),
            samples: self.samples(),
            holdout_samples: self.holdout.len() as u64,
            model_version: self.state.checkpoints.last().map(|c| c.version.clone()),
            base_holdout: self.holdout_agreement(&vec![0.0; self.model.parameter_count()]),
            checkpoints: self.state.checkpoints.clone(),
        }
    }
}
