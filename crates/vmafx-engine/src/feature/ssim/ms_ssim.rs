//! libvmaf v3.2.0's `float_ms_ssim` extractor: Wang's multi-scale SSIM of the luma planes over
//! five scales, each half the size of the one before (9x9 low-pass filter, odd sides rounded
//! up), combining the scales' mean l, c and s terms with Wang's exponents.

use std::sync::Arc;

use crate::cpu::SimdLevel;
use crate::feature::shared::{Frame, Shared};
use crate::feature::ssim::kernel::{self, DecimateScratch, Workspace};
use crate::feature::ssim::{check_depth, max_db, to_db};
use crate::feature::{ExtractorInfo, FeatureExtractor, FeatureValue, Geometry};
use crate::options::{OptionSpec, OptionValues};
use crate::picture::Picture;
use crate::EngineError;

/// Number of scales.
const SCALES: usize = 5;

/// Wang's per-scale exponents of the l, c and s terms.
const ALPHAS: [f32; SCALES] = [0.0, 0.0, 0.0, 0.0, 0.1333];
const BETAS: [f32; SCALES] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
const GAMMAS: [f32; SCALES] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

/// Options of libvmaf v3.2.0's `float_ms_ssim`. None is a feature parameter.
pub static OPTIONS: &[OptionSpec] = &[super::ENABLE_LCS, super::ENABLE_DB, super::CLIP_DB];

/// Registry entry.
pub static INFO: ExtractorInfo = ExtractorInfo {
    name: "float_ms_ssim",
    options: OPTIONS,
    provided_features: &["float_ms_ssim"],
    temporal: false,
    create,
};

fn create(
    options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    Ok(Box::new(MsSsimExtractor::new(options, geometry, simd)?))
}

/// The `float_ms_ssim` extractor.
#[derive(Debug)]
pub struct MsSsimExtractor {
    geometry: Geometry,
    simd: SimdLevel,
    enable_lcs: bool,
    enable_db: bool,
    max_db: f64,
    name: Arc<str>,
    /// `float_ms_ssim_{l,c,s}_scale{0..4}`, all l names first, then c, then s.
    lcs_names: Vec<Arc<str>>,
    reference: [Vec<f32>; SCALES],
    distorted: [Vec<f32>; SCALES],
    /// One decimation scratch and one SSIM workspace per scale: shared between scales of
    /// different sizes, the buffers would be resized (and zeroed) several times a frame.
    scratch: [DecimateScratch; SCALES],
    workspace: [Workspace; SCALES],
}

impl MsSsimExtractor {
    /// Builds the extractor for pictures of `geometry`. As libvmaf, it refuses luma that
    /// would be smaller than the 11x11 window at some scale (sides halved rounding down for
    /// this check): at least 176 on each side.
    pub fn new(
        options: &OptionValues,
        geometry: Geometry,
        simd: SimdLevel,
    ) -> Result<Self, EngineError> {
        check_depth("float_ms_ssim", geometry.bit_depth)?;
        let (mut w, mut h) = (geometry.width, geometry.height);
        for _ in 0..SCALES {
            if w < kernel::WINDOW || h < kernel::WINDOW {
                return Err(EngineError::UnsupportedPicture(format!(
                    "float_ms_ssim needs at least {0}x{0} luma at each of {SCALES} scales, \
                     got {1}x{2}",
                    kernel::WINDOW,
                    geometry.width,
                    geometry.height
                )));
            }
            w /= 2;
            h /= 2;
        }
        let lcs_names = ["l", "c", "s"]
            .iter()
            .flat_map(|t| {
                (0..SCALES).map(move |i| Arc::from(format!("float_ms_ssim_{t}_scale{i}")))
            })
            .collect();
        Ok(MsSsimExtractor {
            geometry,
            simd,
            enable_lcs: options.get_bool("enable_lcs"),
            enable_db: options.get_bool("enable_db"),
            max_db: max_db(options.get_bool("clip_db"), &geometry),
            name: Arc::from("float_ms_ssim"),
            lcs_names,
            reference: Default::default(),
            distorted: Default::default(),
            scratch: Default::default(),
            workspace: Default::default(),
        })
    }
}

impl FeatureExtractor for MsSsimExtractor {
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

    /// Scale 0 is the pair's float luma and its full-resolution SSIM, which `float_ssim` at
    /// scale 1 shares.
    fn extract_frame(
        &mut self,
        frame: &Frame<'_>,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        self.geometry.check("float_ms_ssim", frame.reference)?;
        self.geometry.check("float_ms_ssim", frame.distorted)?;
        let (Some(reference), Some(distorted)) = (frame.luma_floats(0), frame.luma_floats(1))
        else {
            return Err(EngineError::PictureMismatch(
                "float_ms_ssim needs a luma plane".to_string(),
            ));
        };
        let mut sizes = [(self.geometry.width, self.geometry.height); SCALES];
        for i in 1..SCALES {
            let (w, h) = sizes[i - 1];
            let scratch = &mut self.scratch[i];
            let (done, rest) = self.reference.split_at_mut(i);
            let src = if i == 1 { reference } else { &done[i - 1] };
            kernel::decimate_lpf(self.simd, src, (w, h), scratch, &mut rest[0]);
            let (done, rest) = self.distorted.split_at_mut(i);
            let src = if i == 1 { distorted } else { &done[i - 1] };
            sizes[i] = kernel::decimate_lpf(self.simd, src, (w, h), scratch, &mut rest[0]);
        }

        let mut msssim = 1.0f64;
        let mut terms = [[0.0f32; SCALES]; 3];
        for i in 0..SCALES {
            let (w, h) = sizes[i];
            let m = if i == 0 {
                frame
                    .full_resolution_ssim(self.simd, (w, h), &mut self.workspace[0])
                    .ok_or_else(|| {
                        EngineError::PictureMismatch(
                            "float_ms_ssim got a luma plane of the wrong size".to_string(),
                        )
                    })?
            } else {
                kernel::ssim(
                    self.simd,
                    &self.reference[i],
                    &self.distorted[i],
                    w,
                    h,
                    &mut self.workspace[i],
                )
            };
            msssim *= f64::from(m.l).powf(f64::from(ALPHAS[i]))
                * f64::from(m.c).powf(f64::from(BETAS[i]))
                * f64::from(m.s).powf(f64::from(GAMMAS[i]));
            terms[0][i] = m.l;
            terms[1][i] = m.c;
            terms[2][i] = m.s;
            if msssim == f64::INFINITY {
                return Err(EngineError::UnsupportedPicture(format!(
                    "float_ms_ssim of frame {index} is infinite"
                )));
            }
        }
        let score = if self.enable_db {
            to_db(msssim, self.max_db)
        } else {
            msssim
        };
        out.push(FeatureValue {
            name: self.name.clone(),
            index,
            value: score,
        });
        if self.enable_lcs {
            for (name, &v) in self.lcs_names.iter().zip(terms.iter().flatten()) {
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
