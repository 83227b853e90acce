//! Online training of a VMAF model from (features, target score) samples: momentum SGD with an
//! EMA shadow, over the parameters a libvmaf model JSON carries (feature normalisation slopes
//! and intercepts, and the `score_transform`'s polynomial and knots), with the base model's support vectors
//! frozen. Checkpoints are model JSON files that `vmafx score` and libvmaf's `vmaf` both load.
//!
//! [`Trainer`] is the whole loop: [`Trainer::ingest`] makes a sample durable before it returns
//! (so an acknowledged sample survives a SIGKILL), trains on it, and [`Trainer::checkpoint`]
//! writes the next version, never twice. There is no networking here: the service in the
//! `vmafx` binary feeds it and pushes its checkpoints.

pub mod metrics;
pub mod model;
pub mod optim;
pub mod replay;
pub mod store;
pub mod trainer;

pub use model::{Sample, TrainableModel, MAX_FRAMES_PER_SAMPLE};
pub use trainer::{Checkpoint, Trainer, TrainerConfig, TrainerStatus};

/// Why training could not go on; every message names the file or field.
#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    /// The base model cannot be trained (unsupported shape) or read.
    #[error("base model: {0}")]
    Model(String),
    /// A sample is unusable.
    #[error("sample: {0}")]
    Sample(String),
    /// A file in the data directory could not be read or written.
    #[error("{path}: {detail}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What failed.
        detail: String,
    },
}

impl TrainerError {
    pub(crate) fn io(path: &std::path::Path, error: impl std::fmt::Display) -> TrainerError {
        TrainerError::Io {
            path: path.to_owned(),
            detail: error.to_string(),
        }
    }
}
