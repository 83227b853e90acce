//! Placeholder so the workspace compiles while the motion extractor is written; replaced in full.

use crate::feature::{ExtractorInfo, FeatureExtractor, Geometry};
use crate::options::OptionValues;
use crate::EngineError;

/// Registry entry.
pub static INFO: ExtractorInfo = ExtractorInfo {
    name: "motion",
    options: &[],
    provided_features: &[],
    temporal: false,
    create,
};

fn create(_: &OptionValues, _: Geometry) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    Err(EngineError::UnknownFeature("motion".into()))
}
