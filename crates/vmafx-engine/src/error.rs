//! The engine's error type.

use thiserror::Error;

/// Everything that can go wrong inside the engine.
#[derive(Debug, Error)]
pub enum EngineError {
    /// A feature extractor or model asked for does not exist.
    #[error("unknown feature extractor \"{0}\"")]
    UnknownFeature(String),
    /// An option key is not understood by the extractor or model it was given to.
    #[error("unknown option \"{key}\" for {owner}")]
    UnknownOption {
        /// The extractor or model name.
        owner: String,
        /// The offending key.
        key: String,
    },
    /// An option value does not parse or is out of range.
    #[error("invalid value \"{value}\" for option \"{key}\" of {owner}: {reason}")]
    InvalidOption {
        /// The extractor or model name.
        owner: String,
        /// The option key.
        key: String,
        /// The value as given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// Two pictures, or a picture and an extractor, disagree on geometry or depth.
    #[error("picture mismatch: {0}")]
    PictureMismatch(String),
    /// A picture geometry the engine cannot work with.
    #[error("unsupported picture: {0}")]
    UnsupportedPicture(String),
    /// A model file could not be understood.
    #[error("failed to load model {source_name}: {reason}")]
    Model {
        /// Path or built-in version of the model.
        source_name: String,
        /// Why it failed.
        reason: String,
    },
    /// A feature a model needs was never computed for a frame.
    #[error("feature \"{feature}\" is missing for frame {index}")]
    MissingFeature {
        /// The collector name of the feature.
        feature: String,
        /// The frame index.
        index: u32,
    },
    /// A SIMD level was asked for that this CPU cannot run.
    #[error("SIMD level {0} was asked for, but this CPU does not support it")]
    UnsupportedSimd(&'static str),
}
