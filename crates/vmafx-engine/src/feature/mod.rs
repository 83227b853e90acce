//! Feature extractors and the registry that builds them by libvmaf name (`vif`, `adm`,
//! `motion`, `psnr`, `float_ssim`, `float_ms_ssim`, `psnr_hvs`, `ciede`, `cambi`,
//! `speed_chroma`, `speed_temporal`, `float_vif`, `float_adm`, `float_motion`).

pub mod adm;
pub mod cambi;
pub mod ciede;
pub(crate) mod csf_models;
pub mod float_adm;
pub(crate) mod float_common;
pub mod float_motion;
pub mod float_vif;
pub mod motion;
pub mod name;
pub mod psnr;
pub mod psnr_hvs;
pub mod shared;
pub mod speed;
pub mod ssim;
pub mod vif;

use std::sync::Arc;

use crate::cpu::SimdLevel;
use crate::options::{OptionSpec, OptionValues};
use crate::picture::{Picture, PixelFormat};
use crate::EngineError;

/// One feature value for one frame, named as libvmaf's feature collector names it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureValue {
    /// Collector name, e.g. `VMAF_integer_feature_vif_scale0_score` or `integer_vif_scale0_egl_1`.
    pub name: Arc<str>,
    /// Frame index the value belongs to.
    pub index: u32,
    /// The value.
    pub value: f64,
}

/// A whole-run value with no per-frame series (libvmaf's aggregate metrics, e.g. `apsnr_y`).
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateValue {
    /// Name as the outputs print it.
    pub name: Arc<str>,
    /// The value; may be infinite (JSON prints `null`).
    pub value: f64,
}

/// Format, depth and size shared by every picture of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Chroma subsampling.
    pub format: PixelFormat,
    /// Bits per component.
    pub bit_depth: u8,
    /// Luma width.
    pub width: usize,
    /// Luma height.
    pub height: usize,
}

impl Geometry {
    /// Checks that `picture` has this geometry's size and depth; `owner` names the extractor
    /// in the error.
    pub fn check(&self, owner: &str, picture: &Picture) -> Result<(), EngineError> {
        if picture.width == self.width
            && picture.height == self.height
            && picture.bit_depth == self.bit_depth
        {
            return Ok(());
        }
        Err(EngineError::PictureMismatch(format!(
            "{owner} was set up for {}x{} {}-bit, got {}x{} {}-bit",
            self.width,
            self.height,
            self.bit_depth,
            picture.width,
            picture.height,
            picture.bit_depth
        )))
    }
}

/// Computes features from reference/distorted picture pairs.
pub trait FeatureExtractor: Send {
    /// Extracts the features of frame `index`, pushing values onto `out`. A temporal extractor
    /// is called once per frame in order and may push values for earlier frames.
    fn extract(
        &mut self,
        reference: &Picture,
        distorted: &Picture,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError>;

    /// [`FeatureExtractor::extract`] inside a scorer, where `frame` also carries the
    /// intermediates other extractors of the same scorer share (see [`shared`]). Extractors
    /// that use them override this; the rest extract from the pictures alone.
    fn extract_frame(
        &mut self,
        frame: &shared::Frame<'_>,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        self.extract(frame.reference, frame.distorted, index, out)
    }

    /// Pushes values still held back once the last frame has been extracted. Only temporal
    /// extractors keep state across frames, so only they are flushed.
    fn flush(&mut self, out: &mut Vec<FeatureValue>) -> Result<(), EngineError> {
        let _ = out;
        Ok(())
    }

    /// Whole-run values available after [`FeatureExtractor::flush`] (temporal extractors only).
    fn aggregates(&self) -> &[AggregateValue] {
        &[]
    }
}

/// Builds an extractor instance from its options for pictures of one geometry, running its
/// kernels at `simd` (chosen once per scorer; the caller has checked the CPU supports it).
pub type ExtractorConstructor = fn(
    options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError>;

/// Static description of an extractor: its name, options, provided features and constructor.
pub struct ExtractorInfo {
    /// libvmaf's extractor name (`vif`, `adm`, `motion`, `psnr`).
    pub name: &'static str,
    /// Options it accepts.
    pub options: &'static [OptionSpec],
    /// Feature names it provides at default options, as models refer to them.
    pub provided_features: &'static [&'static str],
    /// Whether frames must be fed in order to a single instance.
    pub temporal: bool,
    /// Builds an instance for pictures of `geometry`.
    pub create: ExtractorConstructor,
}

/// Every extractor the engine knows.
pub fn registry() -> [&'static ExtractorInfo; 14] {
    [
        &adm::INFO,
        &motion::INFO,
        &vif::INFO,
        &psnr::INFO,
        &ssim::INFO,
        &ssim::ms_ssim::INFO,
        &psnr_hvs::INFO,
        &speed::CHROMA_INFO,
        &speed::TEMPORAL_INFO,
        &float_vif::INFO,
        &float_adm::INFO,
        &float_motion::INFO,
        &ciede::INFO,
        &cambi::INFO,
    ]
}

/// Looks an extractor up by its libvmaf name.
pub fn find_extractor(name: &str) -> Result<&'static ExtractorInfo, EngineError> {
    registry()
        .into_iter()
        .find(|info| info.name == name)
        .ok_or_else(|| EngineError::UnknownFeature(name.to_string()))
}

/// Looks up the extractor that provides a model feature name such as
/// `VMAF_integer_feature_vif_scale0_score`.
pub fn find_provider(feature_name: &str) -> Option<&'static ExtractorInfo> {
    registry()
        .into_iter()
        .find(|info| info.provided_features.contains(&feature_name))
}
