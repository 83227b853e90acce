//! libvmaf v3.2.0's `float_vif` extractor: visual information fidelity of the luma plane at
//! four scales, in single precision, with Gaussian windows whose size follows
//! `vif_kernelscale`, an optional re-sampling of the frame first (`vif_prescale`) and the
//! enhancement gain limit.
//!
//! Each scale filters the previous scale with its own window and keeps every other sample, then
//! filters the result for the local means, variances and covariance. The five filterings and the
//! statistic run row by row here, so no full-size intermediate plane is kept; every output
//! sample still sums its taps from zero in libvmaf's order.

use std::sync::Arc;

use crate::cpu::SimdLevel;
use crate::feature::float_common::{
    check_depth, horizontal, pad_row, plane_to_float, scale_frame, tap_rows, vertical, vertical5,
    ScaleMethod,
};
use crate::feature::{ExtractorInfo, FeatureExtractor, FeatureValue, Geometry};
use crate::options::{OptionSpec, OptionValue, OptionValues};
use crate::picture::Picture;
use crate::EngineError;

#[cfg(test)]
mod tests;

/// Options of libvmaf v3.2.0's `float_vif`, with its names, aliases, defaults and ranges.
pub static OPTIONS: &[OptionSpec] = &[
    OptionSpec::switch("debug", None, false),
    OptionSpec::param_double("vif_enhn_gain_limit", Some("egl"), 100.0, 1.0, 100.0),
    OptionSpec::param_double("vif_kernelscale", Some("ks"), 1.0, 0.1, 4.0),
    OptionSpec::param_double("vif_prescale", Some("ps"), 1.0, 0.1, 4.0),
    OptionSpec::param_double("vif_scale1_min_val", Some("s1miv"), 0.0, 0.0, 1.0),
    OptionSpec::param_double("vif_scale2_min_val", Some("s2miv"), 0.0, 0.0, 1.0),
    OptionSpec::param_double("vif_scale3_min_val", Some("s3miv"), 0.0, 0.0, 1.0),
    OptionSpec {
        name: "vif_prescale_method",
        alias: Some("pm"),
        default: OptionValue::Str("nearest"),
        min: 0.0,
        max: 0.0,
        feature_param: true,
    },
    OptionSpec::param_double("vif_sigma_nsq", Some("snsq"), 2.0, 0.0, 5.0),
    OptionSpec::switch("vif_skip_scale0", Some("ssclz"), true),
];

const PROVIDED: [&str; 15] = [
    "VMAF_feature_vif_scale0_score",
    "VMAF_feature_vif_scale1_score",
    "VMAF_feature_vif_scale2_score",
    "VMAF_feature_vif_scale3_score",
    "vif",
    "vif_num",
    "vif_den",
    "vif_num_scale0",
    "vif_den_scale0",
    "vif_num_scale1",
    "vif_den_scale1",
    "vif_num_scale2",
    "vif_den_scale2",
    "vif_num_scale3",
    "vif_den_scale3",
];

/// Registry entry.
pub static INFO: ExtractorInfo = ExtractorInfo {
    name: "float_vif",
    options: OPTIONS,
    provided_features: &PROVIDED,
    temporal: false,
    create,
};

fn create(
    options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    Ok(Box::new(FloatVif::new(options, geometry, simd)?))
}

/// The kernel scales libvmaf accepts, as it spells them (in f32).
const VALID_KERNELSCALES: [f32; 21] = [
    1.0,
    1.0 / 2.0,
    3.0 / 2.0,
    2.0,
    2.0 / 3.0,
    24.0 / 10.0,
    360.0 / 97.0,
    4.0 / 3.0,
    3.5 / 3.0,
    3.75 / 3.0,
    4.25 / 3.0,
    5.0 / 3.0,
    3.0,
    1.0 / 2.25,
    1.4746f64 as f32,
    1.54f64 as f32,
    1.6f64 as f32,
    1.06667f64 as f32,
    0.711111f64 as f32,
    0.740740f64 as f32,
    1.111111f64 as f32,
];

fn valid_kernelscale(ks: f32) -> bool {
    VALID_KERNELSCALES
        .iter()
        .any(|&v| f64::from((ks - v).abs()) < 1e-3)
}

/// libvmaf's window size at `scale`: `(2^(4 - scale) + 1) * kernelscale` rounded up to odd, at
/// least 3.
pub(crate) fn filter_size(scale: u32, kernelscale: f32) -> usize {
    let n = (1i32 << (4 - scale)) + 1;
    let ceiling = f64::from(n as f32 * kernelscale).ceil() as i32;
    let odd = if ceiling % 2 == 0 {
        ceiling + 1
    } else {
        ceiling
    };
    odd.max(3) as usize
}

/// A normalised Gaussian window of `size` taps and deviation `stdev`, as libvmaf builds it
/// (each tap a double expression rounded to f32, normalised by the f32 sum).
pub(crate) fn gaussian(size: usize, stdev: f32) -> Vec<f32> {
    let k = (size as i32 - 1) / 2;
    let s = f64::from(stdev);
    let den = (1.0 / (s * (2.0 * std::f64::consts::PI).sqrt())) as f32;
    let mut out: Vec<f32> = (0..size as i32)
        .map(|i| {
            let x = f64::from((i - k) as f32 - 0.0);
            let num = (-0.5 * x / s * x / s).exp() as f32;
            num / den
        })
        .collect();
    let mut sum: f32 = 0.0;
    for &v in &out {
        sum += v;
    }
    for v in &mut out {
        *v /= sum;
    }
    out
}

/// libvmaf's polynomial log2 (its `VIF_OPT_FAST_LOG2`), in f32.
#[inline]
pub(crate) fn log2f_approx(x: f32) -> f32 {
    const POLY: [f32; 9] = [
        -0.012671635276421f64 as f32,
        0.064841182402670f64 as f32,
        -0.157048836463065f64 as f32,
        0.257167726303123f64 as f32,
        -0.353800560300520f64 as f32,
        0.480131410397451f64 as f32,
        -0.721314327952201f64 as f32,
        1.442694803896991f64 as f32,
        0.0,
    ];
    let u = x.to_bits();
    let exponent = (u & 0x7F80_0000) >> 23;
    let remain = f32::from_bits((u & 0x007F_FFFF) | 0x3F80_0000);
    let log_base = (exponent as i32 - 127) as f32;
    let t = remain - 1.0;
    let mut var: f32 = 0.0;
    for p in POLY {
        var = var * t + p;
    }
    // libvmaf returns early for these; selects keep the function branch-free for vector lanes.
    let r = if x < 0.0 { f32::NAN } else { log_base + var };
    if x == 0.0 {
        f32::NEG_INFINITY
    } else {
        r
    }
}

/// The per-run constants of the statistic.
#[derive(Debug, Clone, Copy)]
struct Statistic {
    gain_limit: f32,
    sigma_nsq: f64,
    sigma_max_inv: f32,
}

impl Statistic {
    fn new(gain_limit: f64, sigma_nsq: f64) -> Self {
        Statistic {
            gain_limit: gain_limit as f32,
            sigma_nsq,
            sigma_max_inv: (f64::from((sigma_nsq as f32).powf(2.0)) / (255.0 * 255.0)) as f32,
        }
    }

    /// Each sample's numerator and denominator terms of one row (libvmaf's "matching_matlab"
    /// mode), written branch-free so that the samples go through vector lanes side by side;
    /// every lane still takes libvmaf's steps in libvmaf's order.
    #[inline(always)]
    fn terms(&self, m: [&[f32]; 5], num: &mut [f32], den: &mut [f32]) {
        let n = num.len().min(den.len());
        let [mu1, mu2, xx, yy, xy] = m.map(|r| &r[..n]);
        let eps: f32 = 1.0e-10;
        let gain_limit = self.gain_limit;
        let sigma_nsq = self.sigma_nsq;
        let sigma_max_inv = self.sigma_max_inv;
        for j in 0..n {
            let (m1, m2) = (mu1[j], mu2[j]);
            let s1 = xx[j] - m1 * m1;
            let s2 = yy[j] - m2 * m2;
            let s12 = xy[j] - m1 * m2;
            let s1 = if s1 > 0.0 { s1 } else { 0.0 };
            let s2 = if s2 > 0.0 { s2 } else { 0.0 };
            let g = s12 / (s1 + eps);
            let sv = s2 - g * s12;
            let low1 = s1 < eps;
            let g = if low1 { 0.0 } else { g };
            let sv = if low1 { s2 } else { sv };
            let s1 = if low1 { 0.0 } else { s1 };
            let low2 = s2 < eps;
            let g = if low2 { 0.0 } else { g };
            let sv = if low2 { 0.0 } else { sv };
            let negative = g < 0.0;
            let sv = if negative { s2 } else { sv };
            let g = if negative { 0.0 } else { g };
            let sv = if sv > eps { sv } else { eps };
            let g = if g < gain_limit { g } else { gain_limit };
            let n_val =
                log2f_approx((1.0 + f64::from(g * g * s1) / (f64::from(sv) + sigma_nsq)) as f32);
            let d_val = log2f_approx((1.0 + f64::from(s1) / sigma_nsq) as f32);
            let n_val = if s12 < 0.0 { 0.0 } else { n_val };
            let flat = f64::from(s1) < sigma_nsq;
            num[j] = if flat {
                1.0 - s2 * sigma_max_inv
            } else {
                n_val
            };
            den[j] = if flat { 1.0 } else { d_val };
        }
    }

    /// The numerator and denominator sums of one row: the terms, then libvmaf's sequential
    /// f32 sums.
    #[inline(always)]
    fn row(&self, m: [&[f32]; 5], num: &mut [f32], den: &mut [f32]) -> (f32, f32) {
        self.terms(m, num, den);
        let mut acc_num: f32 = 0.0;
        let mut acc_den: f32 = 0.0;
        for (&a, &b) in num.iter().zip(den.iter()) {
            acc_num += a;
            acc_den += b;
        }
        (acc_num, acc_den)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn stat_row_avx2(s: &Statistic, m: [&[f32]; 5], num: &mut [f32], den: &mut [f32]) -> (f32, f32) {
    s.row(m, num, den)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2")]
fn stat_row_avx512(s: &Statistic, m: [&[f32]; 5], num: &mut [f32], den: &mut [f32]) -> (f32, f32) {
    s.row(m, num, den)
}

/// One row's numerator and denominator sums, `num`/`den` (row-sized) holding the terms.
fn stat_row(
    level: SimdLevel,
    s: &Statistic,
    m: [&[f32]; 5],
    num: &mut [f32],
    den: &mut [f32],
) -> (f32, f32) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the constructor checked the CPU has the level.
        SimdLevel::Avx512 => unsafe { stat_row_avx512(s, m, num, den) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        SimdLevel::Avx2 => unsafe { stat_row_avx2(s, m, num, den) },
        _ => s.row(m, num, den),
    }
}

/// Rows reused across frames and scales.
#[derive(Debug, Default)]
struct Scratch {
    vert: [Vec<f32>; 5],
    horz: [Vec<f32>; 5],
    padded: Vec<f32>,
    num: Vec<f32>,
    den: Vec<f32>,
}

/// Computes the per-scale (numerator, denominator) pairs of libvmaf's `compute_vif`.
struct Vif<'a> {
    level: SimdLevel,
    filters: &'a [Vec<f32>; 4],
    stat: Statistic,
}

impl Vif<'_> {
    /// Filters `src` with `f` and keeps the even rows and columns (`vif_dec2_s`).
    fn decimate(
        &self,
        f: &[f32],
        src: &[f32],
        w: usize,
        h: usize,
        dst: &mut Vec<f32>,
        scratch: &mut Scratch,
    ) {
        let (nw, nh) = (w / 2, h / 2);
        dst.clear();
        dst.reserve(nw * nh);
        let mut rows = Vec::with_capacity(f.len());
        let [tmp, ..] = &mut scratch.vert;
        let [out, ..] = &mut scratch.horz;
        tmp.resize(w, 0.0);
        out.resize(w, 0.0);
        for i in 0..nh {
            tap_rows(src, w, h, 2 * i, f.len(), &mut rows);
            vertical(self.level, f, &rows, tmp);
            pad_row(tmp, f.len() / 2, &mut scratch.padded);
            horizontal(self.level, f, &scratch.padded, out);
            dst.extend((0..nw).map(|j| out[2 * j]));
        }
    }

    /// The numerator and denominator sums of one scale.
    fn scale_sums(
        &self,
        f: &[f32],
        r: &[f32],
        d: &[f32],
        w: usize,
        h: usize,
        scratch: &mut Scratch,
    ) -> (f32, f32) {
        let mut ref_rows = Vec::with_capacity(f.len());
        let mut dis_rows = Vec::with_capacity(f.len());
        for v in scratch.vert.iter_mut().chain(scratch.horz.iter_mut()) {
            v.resize(w, 0.0);
        }
        scratch.num.resize(w, 0.0);
        scratch.den.resize(w, 0.0);
        let mut acc_num: f32 = 0.0;
        let mut acc_den: f32 = 0.0;
        for i in 0..h {
            tap_rows(r, w, h, i, f.len(), &mut ref_rows);
            tap_rows(d, w, h, i, f.len(), &mut dis_rows);
            let [v0, v1, v2, v3, v4] = &mut scratch.vert;
            vertical5(self.level, f, &ref_rows, &dis_rows, [v0, v1, v2, v3, v4]);
            for q in 0..5 {
                pad_row(&scratch.vert[q], f.len() / 2, &mut scratch.padded);
                horizontal(self.level, f, &scratch.padded, &mut scratch.horz[q]);
            }
            let [a, b, c, e, g] = &scratch.horz;
            let (n, dd) = stat_row(
                self.level,
                &self.stat,
                [a, b, c, e, g],
                &mut scratch.num,
                &mut scratch.den,
            );
            acc_num += n;
            acc_den += dd;
        }
        (acc_num, acc_den)
    }
}

/// The `float_vif` extractor.
#[derive(Debug)]
pub struct FloatVif {
    geometry: Geometry,
    simd: SimdLevel,
    debug: bool,
    skip_scale0: bool,
    min_val: [f64; 3],
    method: ScaleMethod,
    scaled: (usize, usize),
    filters: [Vec<f32>; 4],
    stat: Statistic,
    names: Vec<Arc<str>>,
    reference: Vec<f32>,
    distorted: Vec<f32>,
    planes: [Vec<f32>; 4],
    scratch: Scratch,
}

impl FloatVif {
    /// Builds the extractor for pictures of `geometry`. Refuses what libvmaf refuses (a kernel
    /// scale it has no window for, an unknown re-sampling method) and pictures so small that a
    /// window would reach past the mirrored edge, where libvmaf reads outside the picture.
    pub fn new(
        options: &OptionValues,
        geometry: Geometry,
        simd: SimdLevel,
    ) -> Result<Self, EngineError> {
        let simd = simd.require()?;
        check_depth("float_vif", geometry.bit_depth)?;
        let invalid = |key: &str, value: String, reason: &str| EngineError::InvalidOption {
            owner: "float_vif".into(),
            key: key.into(),
            value,
            reason: reason.into(),
        };
        let method_text = options.get_str("vif_prescale_method");
        let method = ScaleMethod::parse(method_text).ok_or_else(|| {
            invalid(
                "vif_prescale_method",
                method_text.to_string(),
                "supported methods are nearest, bilinear, bicubic and lanczos4",
            )
        })?;
        let ks = options.get_double("vif_kernelscale");
        if !valid_kernelscale(ks as f32) {
            return Err(invalid(
                "vif_kernelscale",
                format!("{ks}"),
                "libvmaf has no window for this kernel scale",
            ));
        }
        let prescale = options.get_double("vif_prescale");
        let sw = (geometry.width as f64 * prescale + 0.5) as usize;
        let sh = (geometry.height as f64 * prescale + 0.5) as usize;
        let skip_scale0 = options.get_bool("vif_skip_scale0");
        let filters: [Vec<f32>; 4] = std::array::from_fn(|s| {
            let size = filter_size(s as u32, ks as f32);
            gaussian(size, size as f32 / 5.0)
        });
        let (mut w, mut h) = (sw, sh);
        for (s, f) in filters.iter().enumerate() {
            if s > 0 {
                (w, h) = (w / 2, h / 2);
            }
            let radius = f.len() / 2;
            if w <= radius || h <= radius {
                return Err(EngineError::UnsupportedPicture(format!(
                    "float_vif needs more than {radius} samples each way at scale {s}, \
                     got {w}x{h} (from {sw}x{sh})"
                )));
            }
        }
        Ok(FloatVif {
            geometry,
            simd,
            debug: options.get_bool("debug"),
            skip_scale0,
            min_val: [
                options.get_double("vif_scale1_min_val"),
                options.get_double("vif_scale2_min_val"),
                options.get_double("vif_scale3_min_val"),
            ],
            method,
            scaled: (sw, sh),
            filters,
            stat: Statistic::new(
                options.get_double("vif_enhn_gain_limit"),
                options.get_double("vif_sigma_nsq"),
            ),
            names: PROVIDED
                .iter()
                .map(|p| Arc::from(options.feature_name(p)))
                .collect(),
            reference: Vec::new(),
            distorted: Vec::new(),
            planes: Default::default(),
            scratch: Scratch::default(),
        })
    }

    /// libvmaf's `scores[8]`: numerator and denominator of each scale (skipped ones stay 0).
    fn scores(&mut self) -> [f64; 8] {
        let (sw, sh) = self.scaled;
        let (g, s) = (self.geometry, self.method);
        let [r0, d0, r1, d1] = &mut self.planes;
        if (sw, sh) == (g.width, g.height) {
            // No re-sampling: take the converted planes over (they are refilled every frame).
            std::mem::swap(&mut self.reference, r0);
            std::mem::swap(&mut self.distorted, d0);
        } else {
            scale_frame(s, &self.reference, g.width, g.width, g.height, sw, sh, r0);
            scale_frame(s, &self.distorted, g.width, g.width, g.height, sw, sh, d0);
        }
        let vif = Vif {
            level: self.simd,
            filters: &self.filters,
            stat: self.stat,
        };
        let mut scores = [0f64; 8];
        let (mut w, mut h) = (sw, sh);
        // The current scale lives in (r0, d0); the next one is built in (r1, d1), then swapped.
        for scale in 0..4 {
            let f = &vif.filters[scale];
            if scale > 0 {
                vif.decimate(f, r0, w, h, r1, &mut self.scratch);
                vif.decimate(f, d0, w, h, d1, &mut self.scratch);
                std::mem::swap(r0, r1);
                std::mem::swap(d0, d1);
                (w, h) = (w / 2, h / 2);
            } else if self.skip_scale0 {
                continue;
            }
            let (num, den) = vif.scale_sums(f, r0, d0, w, h, &mut self.scratch);
            scores[2 * scale] = f64::from(num);
            scores[2 * scale + 1] = f64::from(den);
        }
        scores
    }

    fn push(&self, out: &mut Vec<FeatureValue>, which: usize, index: u32, value: f64) {
        out.push(FeatureValue {
            name: self.names[which].clone(),
            index,
            value,
        });
    }
}

/// C's `MAX`: the first operand only when strictly larger.
#[inline]
fn c_max(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

impl FeatureExtractor for FloatVif {
    fn extract(
        &mut self,
        reference: &Picture,
        distorted: &Picture,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        self.geometry.check("float_vif", reference)?;
        self.geometry.check("float_vif", distorted)?;
        let (Some(rp), Some(dp)) = (reference.planes.first(), distorted.planes.first()) else {
            return Err(EngineError::PictureMismatch(
                "float_vif needs a luma plane".into(),
            ));
        };
        plane_to_float(rp, reference.bit_depth, &mut self.reference);
        plane_to_float(dp, distorted.bit_depth, &mut self.distorted);
        let scores = self.scores();
        let start = if self.skip_scale0 { 1 } else { 0 };
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for scale in start..4 {
            num += scores[2 * scale];
            den += scores[2 * scale + 1];
        }
        let score = if den == 0.0 { 1.0 } else { num / den };
        let scale0 = if self.skip_scale0 {
            0.0
        } else {
            scores[0] / scores[1]
        };
        self.push(out, 0, index, scale0);
        for s in 1..4 {
            let ratio = scores[2 * s] / scores[2 * s + 1];
            self.push(out, s, index, c_max(ratio, self.min_val[s - 1]));
        }
        if !self.debug {
            return Ok(());
        }
        self.push(out, 4, index, score);
        self.push(out, 5, index, num);
        self.push(out, 6, index, den);
        for s in 0..4 {
            let (n, d) = if s == 0 && self.skip_scale0 {
                (0.0, -1.0)
            } else {
                (scores[2 * s], scores[2 * s + 1])
            };
            self.push(out, 7 + 2 * s, index, n);
            self.push(out, 8 + 2 * s, index, d);
        }
        Ok(())
    }
}
