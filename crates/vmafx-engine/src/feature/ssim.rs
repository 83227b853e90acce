//! libvmaf v3.2.0's `float_ssim` extractor: SSIM of the luma planes (11x11 Gaussian window,
//! K1 0.01, K2 0.03, L 255) after an optional box-filter down-scaling, optionally as dB and
//! with the mean luminance, contrast and structure terms. [`ms_ssim`] holds `float_ms_ssim`.
//!
//! Deeper-than-8-bit samples are divided down to the 8-bit range (by 4, 16, 256) rather than
//! L being raised, as libvmaf does. The down-scaling factor `scale` defaults to (0 =) auto:
//! `max(1, round(min(w, h) / 256))`, so 1080p is measured at a quarter of its size.

pub mod kernel;
pub mod ms_ssim;

use std::sync::Arc;

use crate::cpu::SimdLevel;
use crate::feature::shared::{Frame, Shared};
use crate::feature::{ExtractorInfo, FeatureExtractor, FeatureValue, Geometry};
use crate::options::{OptionSpec, OptionValue, OptionValues};
use crate::picture::{Picture, PlaneData};
use crate::EngineError;

use kernel::{DecimateScratch, Rows, Workspace};

/// `enable_lcs`: also write the luminance, contrast and structure terms.
pub(crate) const ENABLE_LCS: OptionSpec = OptionSpec::switch("enable_lcs", None, false);
/// `enable_db`: write the score in dB.
pub(crate) const ENABLE_DB: OptionSpec = OptionSpec::switch("enable_db", None, false);
/// `clip_db`: cap the dB score of identical pictures.
pub(crate) const CLIP_DB: OptionSpec = OptionSpec::switch("clip_db", None, false);

/// Options of libvmaf v3.2.0's `float_ssim`. None is a feature parameter.
pub static OPTIONS: &[OptionSpec] = &[
    ENABLE_LCS,
    ENABLE_DB,
    CLIP_DB,
    OptionSpec {
        name: "scale",
        alias: None,
        default: OptionValue::Int(0),
        min: 0.0,
        max: 10.0,
        feature_param: false,
    },
];

/// Registry entry.
pub static INFO: ExtractorInfo = ExtractorInfo {
    name: "float_ssim",
    options: OPTIONS,
    provided_features: &["float_ssim"],
    temporal: false,
    create,
};

fn create(
    options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    Ok(Box::new(SsimExtractor::new(options, geometry, simd)?))
}

const LCS_NAMES: [&str; 3] = ["float_ssim_l", "float_ssim_c", "float_ssim_s"];

/// Checks the depth is one libvmaf's float conversion handles (8, 10, 12, 16).
pub(crate) fn check_depth(owner: &str, bit_depth: u8) -> Result<(), EngineError> {
    if matches!(bit_depth, 8 | 10 | 12 | 16) {
        Ok(())
    } else {
        Err(EngineError::UnsupportedPicture(format!(
            "{owner} supports 8, 10, 12 and 16 bits, not {bit_depth}"
        )))
    }
}

/// The dB cap: with `clip_db`, `ceil(10 log10(peak² / (0.5 / pixels)))`, else infinity.
pub(crate) fn max_db(clip: bool, geometry: &Geometry) -> f64 {
    if !clip {
        return f64::INFINITY;
    }
    let peak: u32 = (1 << geometry.bit_depth) - 1;
    // libvmaf's pixel count is an unsigned int product.
    let pixels = (geometry.width as u32).wrapping_mul(geometry.height as u32);
    let mse = 0.5 / f64::from(pixels);
    (10.0 * (f64::from(peak.wrapping_mul(peak)) / mse).log10()).ceil()
}

/// `-10 log10(1 - score)`, capped at `max_db` as C's `MIN` does (NaN gives the cap).
pub(crate) fn to_db(score: f64, max_db: f64) -> f64 {
    let db = -10.0 * (1.0 - score).log10();
    if db < max_db {
        db
    } else {
        max_db
    }
}

/// IQA's rounding of the auto scale: half away from zero, by the fraction in f32.
fn iqa_round(a: f32) -> i32 {
    let truncated = a as i32;
    let sign = if a > 0.0 { 1 } else { -1 };
    if f64::from(a - truncated as f32) >= 0.5 {
        truncated + sign
    } else {
        truncated
    }
}

/// The down-scaling factor: `scale` when set, else `max(1, round(min(w, h) / 256))`.
fn pick_scale(option: i32, w: usize, h: usize) -> usize {
    if option > 0 {
        return option as usize;
    }
    iqa_round(w.min(h) as f32 / 256.0).max(1) as usize
}

/// The `float_ssim` extractor.
#[derive(Debug)]
pub struct SsimExtractor {
    geometry: Geometry,
    simd: SimdLevel,
    scale: usize,
    enable_lcs: bool,
    enable_db: bool,
    max_db: f64,
    name: Arc<str>,
    lcs_names: [Arc<str>; 3],
    /// The down-scaling filter (unused at scale 1).
    box_kernel: Vec<f32>,
    scaled_reference: Vec<f32>,
    scaled_distorted: Vec<f32>,
    scratch: DecimateScratch,
    workspace: Workspace,
}

impl SsimExtractor {
    /// Builds the extractor for pictures of `geometry`. Pictures whose (down-scaled) luma is
    /// smaller than the 11x11 window are refused: libvmaf has no defined result for them.
    pub fn new(
        options: &OptionValues,
        geometry: Geometry,
        simd: SimdLevel,
    ) -> Result<Self, EngineError> {
        check_depth("float_ssim", geometry.bit_depth)?;
        let scale = pick_scale(options.get_int("scale"), geometry.width, geometry.height);
        let (w, h) = if scale > 1 {
            kernel::decimated_size(geometry.width, geometry.height, scale)
        } else {
            (geometry.width, geometry.height)
        };
        if w < kernel::WINDOW || h < kernel::WINDOW {
            return Err(EngineError::UnsupportedPicture(format!(
                "float_ssim needs at least {0}x{0} luma after down-scaling by {scale}, got {w}x{h}",
                kernel::WINDOW
            )));
        }
        Ok(SsimExtractor {
            geometry,
            simd,
            scale,
            enable_lcs: options.get_bool("enable_lcs"),
            enable_db: options.get_bool("enable_db"),
            max_db: max_db(options.get_bool("clip_db"), &geometry),
            name: Arc::from("float_ssim"),
            lcs_names: LCS_NAMES.map(Arc::from),
            box_kernel: kernel::box_kernel(scale),
            scaled_reference: Vec::new(),
            scaled_distorted: Vec::new(),
            scratch: DecimateScratch::default(),
            workspace: Workspace::default(),
        })
    }
}

impl FeatureExtractor for SsimExtractor {
    fn extract(
        &mut self,
        reference: &Picture,
        distorted: &Picture,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        let shared = Shared::default();
        self.extract_frame(&Frame::new(reference, distorted, &shared), index, out)
    }

    /// At scale 1 the SSIM of the pair's float luma is the one `float_ms_ssim`'s first scale
    /// computes: whichever runs first computes it for both.
    fn extract_frame(
        &mut self,
        frame: &Frame<'_>,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        let (reference, distorted) = (frame.reference, frame.distorted);
        self.geometry.check("float_ssim", reference)?;
        self.geometry.check("float_ssim", distorted)?;
        let (Some(rp), Some(dp)) = (reference.planes.first(), distorted.planes.first()) else {
            return Err(EngineError::PictureMismatch(
                "float_ssim needs a luma plane".to_string(),
            ));
        };
        let bd = self.geometry.bit_depth;
        let (mut w, mut h) = (self.geometry.width, self.geometry.height);
        let means = if self.scale > 1 {
            // Down-scaling reads the samples themselves, converting each as libvmaf's
            // float copy would have.
            let filter = (&self.box_kernel[..], self.scale);
            let s = &mut self.scratch;
            let (rs, ds) = (&mut self.scaled_reference, &mut self.scaled_distorted);
            let level = self.simd;
            match (rp, dp) {
                (PlaneData::U8(a), PlaneData::U8(b)) => {
                    kernel::decimate(level, Rows::plane(a, w, h, bd), self.scale, filter, s, rs);
                    (w, h) = kernel::decimate(
                        level,
                        Rows::plane(b, w, h, bd),
                        self.scale,
                        filter,
                        s,
                        ds,
                    );
                }
                (PlaneData::U16(a), PlaneData::U16(b)) => {
                    kernel::decimate(level, Rows::plane(a, w, h, bd), self.scale, filter, s, rs);
                    (w, h) = kernel::decimate(
                        level,
                        Rows::plane(b, w, h, bd),
                        self.scale,
                        filter,
                        s,
                        ds,
                    );
                }
                _ => {
                    return Err(EngineError::PictureMismatch(
                        "float_ssim got pictures of different sample types".to_string(),
                    ))
                }
            }
            kernel::ssim(
                self.simd,
                &self.scaled_reference[..w * h],
                &self.scaled_distorted[..w * h],
                w,
                h,
                &mut self.workspace,
            )
        } else {
            frame
                .full_resolution_ssim(self.simd, (w, h), &mut self.workspace)
                .ok_or_else(|| {
                    EngineError::PictureMismatch(
                        "float_ssim got a luma plane of the wrong size".to_string(),
                    )
                })?
        };
        let mut score = f64::from(means.ssim);
        if self.enable_db {
            score = to_db(score, self.max_db);
        }
        out.push(FeatureValue {
            name: self.name.clone(),
            index,
            value: score,
        });
        if self.enable_lcs {
            for (name, v) in self.lcs_names.iter().zip([means.l, means.c, means.s]) {
                out.push(FeatureValue {
                    name: name.clone(),
                    index,
                    value: f64::from(v),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
