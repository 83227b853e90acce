//! libvmaf v3.2.0's integer PSNR extractor (`psnr`): per-plane PSNR (and optionally MSE) per
//! frame, plus the whole-run "aggregate" PSNR (`apsnr_*`) computed from the summed squared
//! errors of all frames.
//!
//! libvmaf keeps aggregates apart from per-frame features: its feature collector stores them in
//! a separate name → value list (a name may be set again only with the same value), and the
//! outputs print that list as the `aggregate_metrics` object of the JSON output (non-finite
//! values as `null`) and the `<aggregate_metrics .../>` element of the XML output. Because the
//! [`FeatureExtractor`] trait has no channel for them, [`PsnrExtractor::aggregates`] returns
//! them after `flush`; see that method for the trait addition this suggests.
//!
//! Planes are measured over the sizes libvmaf allocates: chroma is `width >> 1` (and
//! `height >> 1` for 4:2:0) rounded down, so for odd sizes the last chroma column (row) of a
//! [`Picture`] plane, which is rounded up, is left out as libvmaf never sees it.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
pub mod kernel;

use std::sync::Arc;

use crate::cpu::SimdLevel;
use crate::feature::{AggregateValue, ExtractorInfo, FeatureExtractor, FeatureValue, Geometry};
use crate::options::{OptionSpec, OptionValue, OptionValues};
use crate::picture::{Picture, PixelFormat, PlaneData};
use crate::EngineError;

/// Options of libvmaf v3.2.0's `psnr` extractor. None is a feature parameter, so they never
/// change the feature names.
pub static OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "enable_chroma",
        alias: None,
        default: OptionValue::Bool(true),
        min: 0.0,
        max: 0.0,
        feature_param: false,
    },
    OptionSpec {
        name: "enable_mse",
        alias: None,
        default: OptionValue::Bool(false),
        min: 0.0,
        max: 0.0,
        feature_param: false,
    },
    OptionSpec {
        name: "enable_apsnr",
        alias: None,
        default: OptionValue::Bool(false),
        min: 0.0,
        max: 0.0,
        feature_param: false,
    },
    OptionSpec {
        name: "reduced_hbd_peak",
        alias: None,
        default: OptionValue::Bool(false),
        min: 0.0,
        max: 0.0,
        feature_param: false,
    },
    OptionSpec {
        name: "min_sse",
        alias: None,
        default: OptionValue::Double(0.0),
        min: 0.0,
        max: f64::MAX,
        feature_param: false,
    },
];

/// Registry entry. libvmaf flags the extractor temporal (one instance sees every frame in
/// order, and it is never subsampled) because of the run-wide APSNR sums.
pub static INFO: ExtractorInfo = ExtractorInfo {
    name: "psnr",
    options: OPTIONS,
    provided_features: &["psnr_y", "psnr_cb", "psnr_cr"],
    temporal: true,
    create,
};

fn create(
    options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    Ok(Box::new(PsnrExtractor::new(options, geometry, simd)?))
}

const PSNR_NAMES: [&str; 3] = ["psnr_y", "psnr_cb", "psnr_cr"];
const MSE_NAMES: [&str; 3] = ["mse_y", "mse_cb", "mse_cr"];
const APSNR_NAMES: [&str; 3] = ["apsnr_y", "apsnr_cb", "apsnr_cr"];

/// C's `MIN` macro: the second operand unless the first is strictly smaller.
#[inline(always)]
fn c_min(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else {
        b
    }
}

/// C's `MAX` macro: the second operand unless the first is strictly larger (so NaN yields it).
#[inline(always)]
fn c_max(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

/// Per-plane squared-error totals over all frames, for APSNR.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    sse: u64,
    pixels: u64,
}

/// The PSNR extractor.
#[derive(Debug)]
pub struct PsnrExtractor {
    geometry: Geometry,
    /// The scorer's SIMD level, for the squared-error sums.
    simd: SimdLevel,
    /// Planes measured: 1, or 3 with chroma.
    plane_count: usize,
    /// Region measured in each plane, as libvmaf sizes its planes.
    regions: [(usize, usize); 3],
    peak: u32,
    psnr_max: [f64; 3],
    enable_mse: bool,
    enable_apsnr: bool,
    psnr_names: [Arc<str>; 3],
    mse_names: [Arc<str>; 3],
    apsnr_names: [Arc<str>; 3],
    totals: [Totals; 3],
    frames: u32,
    /// Filled by `flush` when APSNR is enabled.
    aggregates: Vec<AggregateValue>,
    flushed: bool,
}

impl PsnrExtractor {
    /// Builds the extractor for pictures of `geometry`. libvmaf handles 8, 10, 12 and 16 bits
    /// only and fails on other depths; so does this.
    pub fn new(
        options: &OptionValues,
        geometry: Geometry,
        simd: SimdLevel,
    ) -> Result<Self, EngineError> {
        // The kernels trust the level: a public constructor must not let an unsupported one in.
        let simd = simd.require()?;
        let bpc = geometry.bit_depth;
        if !matches!(bpc, 8 | 10 | 12 | 16) {
            return Err(EngineError::UnsupportedPicture(format!(
                "psnr supports 8, 10, 12 and 16 bits, not {bpc}"
            )));
        }
        let reduced_peak = options.get_bool("reduced_hbd_peak");
        let min_sse = options.get_double("min_sse");
        let peak: u32 = if reduced_peak {
            255 << (bpc - 8)
        } else {
            (1 << bpc) - 1
        };
        let enable_chroma =
            options.get_bool("enable_chroma") && geometry.format != PixelFormat::Yuv400;

        let (w, h) = (geometry.width, geometry.height);
        let shift_x = usize::from(geometry.format != PixelFormat::Yuv444);
        let shift_y = usize::from(geometry.format == PixelFormat::Yuv420);
        let regions = [
            (w, h),
            (w >> shift_x, h >> shift_y),
            (w >> shift_x, h >> shift_y),
        ];

        let psnr_max = std::array::from_fn(|i| {
            if min_sse != 0.0 {
                // libvmaf's pixel count here is an unsigned int product, halved sides rounded
                // down whatever the plane's real size.
                let (pw, ph) = if i == 0 {
                    (w, h)
                } else {
                    (w >> shift_x, h >> shift_y)
                };
                let pixels = (pw as u32).wrapping_mul(ph as u32);
                let mse = min_sse / f64::from(pixels);
                (10.0 * (f64::from(peak * peak) / mse).log10()).ceil()
            } else {
                f64::from(6 * u32::from(bpc) + 12)
            }
        });

        Ok(PsnrExtractor {
            geometry,
            simd,
            plane_count: if enable_chroma { 3 } else { 1 },
            regions,
            peak,
            psnr_max,
            enable_mse: options.get_bool("enable_mse"),
            enable_apsnr: options.get_bool("enable_apsnr"),
            psnr_names: PSNR_NAMES.map(Arc::from),
            mse_names: MSE_NAMES.map(Arc::from),
            apsnr_names: APSNR_NAMES.map(Arc::from),
            totals: [Totals::default(); 3],
            frames: 0,
            aggregates: Vec::with_capacity(APSNR_NAMES.len()),
            flushed: false,
        })
    }

    fn mismatch(&self, picture: &Picture) -> EngineError {
        let g = &self.geometry;
        EngineError::PictureMismatch(format!(
            "psnr set up for {}x{} {} {}-bit, got {}x{} {} {}-bit",
            g.width,
            g.height,
            g.format.short_name(),
            g.bit_depth,
            picture.width,
            picture.height,
            picture.format.short_name(),
            picture.bit_depth
        ))
    }

    /// Squared-error sum of plane `p` over its measured region.
    fn plane_sse(&self, reference: &Picture, distorted: &Picture, p: usize) -> Option<u64> {
        let (w, h) = self.regions[p];
        let fits = |width: usize, height: usize| width >= w && height >= h;
        match (reference.planes.get(p)?, distorted.planes.get(p)?) {
            (PlaneData::U8(a), PlaneData::U8(b))
                if fits(a.width, a.height) && fits(b.width, b.height) =>
            {
                Some(kernel::plane_sse_u8(self.simd, a, b, w, h))
            }
            (PlaneData::U16(a), PlaneData::U16(b))
                if fits(a.width, a.height) && fits(b.width, b.height) =>
            {
                Some(kernel::plane_sse_u16(
                    self.simd,
                    a,
                    b,
                    w,
                    h,
                    self.geometry.bit_depth,
                ))
            }
            _ => None,
        }
    }
}

impl FeatureExtractor for PsnrExtractor {
    /// `apsnr_y`, `apsnr_cb`, `apsnr_cr` after `flush` when `enable_apsnr` is on, in the order
    /// libvmaf sets them (all three even without chroma, where the chroma ones are -inf, as in
    /// libvmaf); empty otherwise.
    fn aggregates(&self) -> &[AggregateValue] {
        &self.aggregates
    }

    fn extract(
        &mut self,
        reference: &Picture,
        distorted: &Picture,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        if self.flushed {
            return Err(EngineError::PictureMismatch(format!(
                "psnr got frame {index} after flush"
            )));
        }
        let g = &self.geometry;
        for picture in [reference, distorted] {
            if picture.format != g.format
                || picture.bit_depth != g.bit_depth
                || picture.width != g.width
                || picture.height != g.height
            {
                return Err(self.mismatch(picture));
            }
        }
        let peak_sq = f64::from(self.peak * self.peak);
        for p in 0..self.plane_count {
            let sse = self
                .plane_sse(reference, distorted, p)
                .ok_or_else(|| self.mismatch(reference))?;
            let (w, h) = self.regions[p];
            let pixels = (w * h) as u64;
            if self.enable_apsnr {
                self.totals[p].sse += sse;
                self.totals[p].pixels += pixels;
            }
            // An empty region (1-pixel-wide 4:2:0) gives NaN here; the MAX below maps it to
            // the floor, as in libvmaf.
            let mse = sse as f64 / pixels as f64;
            let psnr = c_min(
                10.0 * (peak_sq / c_max(mse, 1e-16)).log10(),
                self.psnr_max[p],
            );
            out.push(FeatureValue {
                name: self.psnr_names[p].clone(),
                index,
                value: psnr,
            });
            if self.enable_mse {
                out.push(FeatureValue {
                    name: self.mse_names[p].clone(),
                    index,
                    value: mse,
                });
            }
        }
        self.frames += 1;
        Ok(())
    }

    fn flush(&mut self, _out: &mut Vec<FeatureValue>) -> Result<(), EngineError> {
        // libvmaf never flushes an extractor that saw no frame.
        if self.flushed || self.frames == 0 {
            self.flushed = true;
            return Ok(());
        }
        self.flushed = true;
        if !self.enable_apsnr {
            return Ok(());
        }
        let peak_sq = self.peak * self.peak;
        for (name, totals) in self.apsnr_names.iter().zip(&self.totals) {
            // Unused planes have zero totals: NaN against a -inf cap gives -inf, as in libvmaf.
            let apsnr = 10.0
                * (f64::from(peak_sq).log10() + (totals.pixels as f64).log10()
                    - (totals.sse as f64).log10());
            let cap_arg = u64::from(peak_sq)
                .wrapping_mul(totals.pixels)
                .wrapping_mul(2);
            let cap = (10.0 * (cap_arg as f64).log10()).ceil();
            self.aggregates.push(AggregateValue {
                name: name.clone(),
                value: c_min(apsnr, cap),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
