//! libvmaf v3.2.0's integer ADM extractor (`adm`): detail loss (`adm2`, per-scale ratios),
//! additive impairment (`aim`) and their blend (`adm3`), computed on luma over four levels of a
//! db2 wavelet in libvmaf's fixed point, bit-identical with the reference `vmaf` binary.
//!
//! Per scale: the reference and distorted pictures are transformed (`dwt`); the distorted
//! detail bands are split into the part explained by the reference and an additive part
//! (`decouple`); both are weighted by a contrast sensitivity function (`csf`) and each is
//! measured against a masking threshold built from the other (`cm`). The DLM score is the
//! ratio of the masked restored detail to the reference detail energy, summed over scales.
//!
//! The reference binary runs libvmaf's AVX2 code on x86-64, which differs from libvmaf's
//! portable C in a few edge cases (last wavelet column, saturation versus wrap-around, rounding
//! of non-integer gain limits). This port follows the AVX2 behaviour column by column; each
//! deviation from the portable C is documented where it is implemented.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod cm;
mod csf;
mod decouple;
mod dwt;
#[cfg(test)]
mod twins;

use std::sync::Arc;

use crate::cpu::SimdLevel;
use crate::feature::{ExtractorInfo, FeatureExtractor, FeatureValue, Geometry};
use crate::options::{OptionSpec, OptionValue, OptionValues};
use crate::picture::{Picture, Pixel, Plane, PlaneData};
use crate::EngineError;

use csf::{CsfMode, Viewing};
use dwt::{LastColumn, Taps};

/// Options of libvmaf v3.2.0's integer `adm` extractor, in libvmaf's declaration order.
pub static OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "debug",
        alias: None,
        default: OptionValue::Bool(false),
        min: 0.0,
        max: 0.0,
        feature_param: false,
    },
    OptionSpec {
        name: "adm_csf_scale",
        alias: Some("scf"),
        default: OptionValue::Double(1.0),
        min: 0.0,
        max: 50.0,
        feature_param: true,
    },
    OptionSpec {
        name: "adm_csf_diag_scale",
        alias: Some("scfd"),
        default: OptionValue::Double(1.0),
        min: 0.0,
        max: 50.0,
        feature_param: true,
    },
    OptionSpec {
        name: "adm_dlm_weight",
        alias: Some("dlmw"),
        default: OptionValue::Double(0.5),
        min: 0.0,
        max: 1.0,
        feature_param: true,
    },
    OptionSpec {
        name: "adm_enhn_gain_limit",
        alias: Some("egl"),
        default: OptionValue::Double(100.0),
        min: 1.0,
        max: 100.0,
        feature_param: true,
    },
    OptionSpec {
        name: "adm_norm_view_dist",
        alias: Some("nvd"),
        default: OptionValue::Double(3.0),
        min: 0.75,
        max: 24.0,
        feature_param: true,
    },
    OptionSpec {
        name: "adm_ref_display_height",
        alias: Some("rdh"),
        default: OptionValue::Int(1080),
        min: 1.0,
        max: 4320.0,
        feature_param: true,
    },
    OptionSpec {
        name: "adm_csf_mode",
        alias: Some("csf"),
        default: OptionValue::Int(0),
        min: 0.0,
        max: 3.0,
        feature_param: true,
    },
    OptionSpec {
        name: "adm_noise_weight",
        alias: Some("nw"),
        default: OptionValue::Double(0.03125),
        min: 0.0,
        max: 1500.0,
        feature_param: true,
    },
    OptionSpec {
        name: "adm_skip_aim",
        alias: None,
        default: OptionValue::Bool(false),
        min: 0.0,
        max: 0.0,
        feature_param: false,
    },
    OptionSpec {
        name: "adm_skip_scale0",
        alias: Some("ssz"),
        default: OptionValue::Bool(false),
        min: 0.0,
        max: 0.0,
        feature_param: true,
    },
    OptionSpec {
        name: "adm_min_val",
        alias: Some("min"),
        default: OptionValue::Double(0.0),
        min: 0.0,
        max: 1.0,
        feature_param: true,
    },
];

/// Features libvmaf's extractor declares, in its order. The first seven are written every
/// frame; the rest only with `debug=true`.
pub static PROVIDED: &[&str] = &[
    "VMAF_integer_feature_adm2_score",
    "VMAF_integer_feature_aim_score",
    "VMAF_integer_feature_adm3_score",
    "integer_adm_scale0",
    "integer_adm_scale1",
    "integer_adm_scale2",
    "integer_adm_scale3",
    "integer_adm",
    "integer_adm_num",
    "integer_adm_den",
    "integer_adm_num_scale0",
    "integer_adm_den_scale0",
    "integer_adm_num_scale1",
    "integer_adm_den_scale1",
    "integer_adm_num_scale2",
    "integer_adm_den_scale2",
    "integer_adm_num_scale3",
    "integer_adm_den_scale3",
];

/// Registry entry.
pub static INFO: ExtractorInfo = ExtractorInfo {
    name: "adm",
    options: OPTIONS,
    provided_features: PROVIDED,
    temporal: false,
    create,
};

/// Smallest width and height libvmaf can process: below 17 its tap tables overrun and the
/// process crashes.
const MIN_SIZE: usize = 17;

fn create(
    options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    Ok(Box::new(AdmExtractor::new(options, geometry, simd)?))
}

/// The four subbands of one wavelet level, row-major with stride = band width.
struct Bands<T> {
    a: Vec<T>,
    h: Vec<T>,
    v: Vec<T>,
    d: Vec<T>,
}

impl<T: Copy + Default> Bands<T> {
    fn new(len: usize) -> Self {
        Bands {
            a: vec![T::default(); len],
            h: vec![T::default(); len],
            v: vec![T::default(); len],
            d: vec![T::default(); len],
        }
    }

    fn detail(&self) -> [&[T]; 3] {
        [&self.h, &self.v, &self.d]
    }
}

/// Horizontal, vertical and diagonal versions of one quantity.
type Orients<T> = [Vec<T>; 3];

fn orients<T: Copy + Default>(len: usize) -> Orients<T> {
    [
        vec![T::default(); len],
        vec![T::default(); len],
        vec![T::default(); len],
    ]
}

fn view<T>(o: &Orients<T>) -> [&[T]; 3] {
    [&o[0], &o[1], &o[2]]
}

/// Decoupled detail: restored part `r` and additive part `a`.
struct Decoupled<T> {
    r: Orients<T>,
    a: Orients<T>,
}

impl<T: Copy + Default> Decoupled<T> {
    fn new(len: usize) -> Self {
        Decoupled {
            r: orients(len),
            a: orients(len),
        }
    }
}

/// A rectangle `[left, right) x [top, bottom)` of a band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Border {
    left: usize,
    top: usize,
    right: usize,
    bottom: usize,
}

impl Border {
    /// The region that is scored: 10% trimmed from every side, as libvmaf rounds it.
    fn scoring(w: usize, h: usize) -> Self {
        let left = (w as f64 * 0.1 - 0.5) as i32 as usize;
        let top = (h as f64 * 0.1 - 0.5) as i32 as usize;
        Border {
            left,
            top,
            right: w - left,
            bottom: h - top,
        }
    }

    /// The scored region grown by the masking filter's reach (one sample left and up, two
    /// right and down as libvmaf computes it), clamped to the band.
    fn working(w: usize, h: usize) -> Self {
        let grow = |n: usize| {
            let near = (n as f64 * 0.1 - 0.5 - 1.0) as i64;
            let far = (n as i64 - near + 2).min(n as i64);
            (near.max(0) as usize, far as usize)
        };
        let (left, right) = grow(w);
        let (top, bottom) = grow(h);
        Border {
            left,
            top,
            right,
            bottom,
        }
    }
}

/// Everything that depends only on the picture size and options, for one scale.
struct Level {
    /// Input width.
    in_w: usize,
    /// Output (subband) width and height.
    w: usize,
    h: usize,
    rows: Vec<Taps>,
    cols: Vec<Taps>,
    work: Border,
    score: Border,
    /// CSF weights as f32 (denominator) and in the level's fixed point.
    weights: [f32; 3],
    fixed: [u32; 3],
}

/// Parsed options.
struct Settings {
    debug: bool,
    dlm_weight: f64,
    gain_limit: f64,
    noise_weight: f64,
    skip_aim: bool,
    skip_scale0: bool,
    min_val: f64,
}

/// Preallocated working memory.
struct Workspace {
    rows0: dwt::Scale0Rows,
    ref0: Bands<i16>,
    dis0: Bands<i16>,
    dec0: Decoupled<i16>,
    csf0: Orients<i16>,
    faded0: Orients<i16>,
    lower: dwt::LowerScratch,
    /// Approximation bands feeding scales 2 and 3.
    next_ref: Vec<i32>,
    next_dis: Vec<i32>,
    ref1: Bands<i32>,
    dis1: Bands<i32>,
    dec1: Decoupled<i32>,
    csf1: Orients<i32>,
    faded1: Orients<i32>,
    above_ref: Vec<i32>,
    above_dis: Vec<i32>,
    rows: cm::RowScratch,
    recip: decouple::Reciprocals,
}

/// Per-frame results before naming.
struct Scores {
    adm: f64,
    aim: f64,
    num: f64,
    den: f64,
    /// num, den per scale.
    scales: [f64; 8],
}

/// The integer ADM extractor.
pub struct AdmExtractor {
    settings: Settings,
    geometry: Geometry,
    levels: Vec<Level>,
    names: Vec<Arc<str>>,
    ws: Workspace,
    /// Which kernel twins run.
    level: SimdLevel,
}

impl AdmExtractor {
    /// Builds an extractor for pictures of `geometry`.
    pub fn new(
        options: &OptionValues,
        geometry: Geometry,
        simd: SimdLevel,
    ) -> Result<Self, EngineError> {
        // The kernels trust the level: a public constructor must not let an unsupported one in.
        let simd = simd.require()?;
        let viewing = Viewing {
            mode: CsfMode::from_option(options.get_int("adm_csf_mode")),
            norm_view_dist: options.get_double("adm_norm_view_dist"),
            display_height: options.get_int("adm_ref_display_height"),
            csf_scale: options.get_double("adm_csf_scale"),
            csf_diag_scale: options.get_double("adm_csf_diag_scale"),
        };
        // libvmaf's 16-bit pipeline refuses angular frequencies below 1080 lines at 3H.
        if viewing.norm_view_dist * f64::from(viewing.display_height) < 3.0 * 1080.0 {
            return Err(EngineError::InvalidOption {
                owner: "adm".into(),
                key: "adm_norm_view_dist".into(),
                value: viewing.norm_view_dist.to_string(),
                reason: format!(
                    "adm_norm_view_dist * adm_ref_display_height must be at least 3240 (is {})",
                    viewing.norm_view_dist * f64::from(viewing.display_height)
                ),
            });
        }
        let (w0, h0) = (geometry.width, geometry.height);
        if w0 < MIN_SIZE || h0 < MIN_SIZE {
            return Err(EngineError::UnsupportedPicture(format!(
                "adm needs at least {MIN_SIZE}x{MIN_SIZE} pixels, got {w0}x{h0}"
            )));
        }
        let settings = Settings {
            debug: options.get_bool("debug"),
            dlm_weight: options.get_double("adm_dlm_weight"),
            gain_limit: options.get_double("adm_enhn_gain_limit"),
            noise_weight: options.get_double("adm_noise_weight"),
            skip_aim: options.get_bool("adm_skip_aim"),
            skip_scale0: options.get_bool("adm_skip_scale0"),
            min_val: options.get_double("adm_min_val"),
        };

        let mut levels = Vec::with_capacity(4);
        let (mut in_w, mut in_h) = (w0, h0);
        for scale in 0..4 {
            let (w, h) = (in_w.div_ceil(2), in_h.div_ceil(2));
            let fixed = if scale == 0 {
                viewing.scale0_fixed().map(u32::from)
            } else {
                viewing.lower_fixed(scale)
            };
            levels.push(Level {
                in_w,
                w,
                h,
                rows: dwt::tap_table(in_h),
                cols: dwt::tap_table(in_w),
                work: Border::working(w, h),
                score: Border::scoring(w, h),
                weights: viewing.weights(scale),
                fixed,
            });
            (in_w, in_h) = (w, h);
        }

        let len0 = levels[0].w * levels[0].h;
        let len1 = levels[1].w * levels[1].h;
        let ws = Workspace {
            rows0: dwt::Scale0Rows::new(w0),
            ref0: Bands::new(len0),
            dis0: Bands::new(len0),
            dec0: Decoupled::new(len0),
            csf0: orients(len0),
            faded0: orients(len0),
            lower: dwt::LowerScratch::new(w0, levels[1].in_w),
            // The approximation bands trade places with `next_*` every scale from 1 on;
            // scale 1 reads the 16-bit scale-0 bands itself.
            next_ref: vec![0; len1],
            next_dis: vec![0; len1],
            ref1: Bands::new(len1),
            dis1: Bands::new(len1),
            dec1: Decoupled::new(len1),
            csf1: orients(len1),
            faded1: orients(len1),
            above_ref: vec![0; levels[0].w],
            above_dis: vec![0; levels[0].w],
            rows: cm::RowScratch::new(levels[0].w),
            recip: decouple::Reciprocals::new(),
        };
        let names = PROVIDED
            .iter()
            .map(|p| Arc::from(options.feature_name(p).as_str()))
            .collect();
        Ok(AdmExtractor {
            settings,
            geometry,
            levels,
            names,
            ws,
            level: simd,
        })
    }

    fn compute<P: Pixel>(&mut self, reference: &Plane<P>, distorted: &Plane<P>) -> Scores {
        let Self {
            settings: s,
            geometry,
            levels,
            ws,
            level: simd,
            ..
        } = self;
        let simd = *simd;
        let mut scales = [0f64; 8];
        let (mut num, mut den, mut aim_num) = (0f64, 0f64, 0f64);

        // Scale 0, from the pictures.
        let l0 = &levels[0];
        let last = if geometry.bit_depth > 8 && !s.skip_scale0 && dwt::scale0_overreads(l0.w) {
            LastColumn::Overread(ws.lower.word(geometry.width))
        } else {
            LastColumn::Mirrored
        };
        let setup = dwt::Scale0Setup {
            bit_depth: geometry.bit_depth,
            rows: &l0.rows,
            cols: &l0.cols,
            last,
            lowpass_only: s.skip_scale0,
            level: simd,
        };
        dwt::scale0(reference, &setup, &mut ws.rows0, &mut ws.ref0);
        dwt::scale0(distorted, &setup, &mut ws.rows0, &mut ws.dis0);
        let (num0, den0, aim0) = if s.skip_scale0 {
            (0.0, 1e-10f32, 0.0)
        } else {
            scale0_scores(s, l0, ws, simd)
        };
        accumulate(
            &mut scales,
            0,
            (num0, den0, aim0),
            &mut num,
            &mut den,
            &mut aim_num,
        );

        // Scales 1-3, from the previous approximation bands.
        for scale in 1..4 {
            let level = &levels[scale];
            if level.rows[0][0] < 0 {
                fill_above(s, &levels[0], level.in_w, ws);
            }
            if scale == 1 {
                // Straight from the 16-bit scale-0 bands; their input is at least 9 rows tall
                // (pictures are at least 17), so row -1 is never read.
                let input = dwt::LowerInput {
                    scale,
                    w: level.in_w,
                    reference: &ws.ref0.a,
                    distorted: &ws.dis0.a,
                    reference_above: &[],
                    distorted_above: &[],
                    rows: &level.rows,
                    cols: &level.cols,
                    level: simd,
                };
                dwt::lower(&input, &mut ws.lower, &mut ws.ref1, &mut ws.dis1);
            } else {
                let input = dwt::LowerInput {
                    scale,
                    w: level.in_w,
                    reference: &ws.next_ref,
                    distorted: &ws.next_dis,
                    reference_above: &ws.above_ref,
                    distorted_above: &ws.above_dis,
                    rows: &level.rows,
                    cols: &level.cols,
                    level: simd,
                };
                dwt::lower(&input, &mut ws.lower, &mut ws.ref1, &mut ws.dis1);
            }
            std::mem::swap(&mut ws.next_ref, &mut ws.ref1.a);
            std::mem::swap(&mut ws.next_dis, &mut ws.dis1.a);
            let r = lower_scores(s, scale, level, ws, simd);
            accumulate(&mut scales, scale, r, &mut num, &mut den, &mut aim_num);
        }

        let (w0, h0) = (geometry.width as f64, geometry.height as f64);
        let limit = 1e-10 * (w0 * h0) / (1920.0 * 1080.0);
        let num = if num < limit { 0.0 } else { num };
        let den = if den < limit { 0.0 } else { den };
        let (adm, aim) = if den == 0.0 {
            // libvmaf leaves the AIM score uninitialised here; the binary prints 0.
            (1.0, 0.0)
        } else {
            (num / den, aim_num / den)
        };
        Scores {
            adm,
            aim,
            num,
            den,
            scales,
        }
    }
}

fn accumulate(
    scales: &mut [f64; 8],
    scale: usize,
    (num_s, den_s, aim_s): (f32, f32, f32),
    num: &mut f64,
    den: &mut f64,
    aim: &mut f64,
) {
    *num += f64::from(num_s);
    *den += f64::from(den_s);
    *aim += f64::from(aim_s);
    scales[2 * scale] = f64::from(num_s);
    scales[2 * scale + 1] = f64::from(den_s);
}

/// Scale-0 numerator, denominator and AIM numerator from the transformed pictures.
fn scale0_scores(s: &Settings, l: &Level, ws: &mut Workspace, simd: SimdLevel) -> (f32, f32, f32) {
    let fixed = l.fixed.map(|v| v as u16);
    decouple::scale0(
        ws.ref0.detail(),
        ws.dis0.detail(),
        l.w,
        l.work,
        s.gain_limit,
        &ws.recip,
        &mut ws.dec0,
        simd,
    );
    let den = csf::denominator_scale0(
        ws.ref0.detail(),
        l.w,
        l.score,
        l.weights,
        s.noise_weight,
        simd,
    );

    csf::weigh_scale0(
        view(&ws.dec0.a),
        l.w,
        l.work,
        fixed,
        &mut ws.csf0,
        &mut ws.faded0,
        simd,
    );
    let masking = cm::Masking {
        measured: view(&ws.dec0.r),
        weighted: view(&ws.csf0),
        faded: view(&ws.faded0),
        w: l.w,
        h: l.h,
    };
    let num = cm::numerator_scale0(&masking, l.score, fixed, s.noise_weight, &mut ws.rows, simd);
    if s.skip_aim {
        return (num, den, 0.0);
    }
    csf::weigh_scale0(
        view(&ws.dec0.r),
        l.w,
        l.work,
        fixed,
        &mut ws.csf0,
        &mut ws.faded0,
        simd,
    );
    let masking = cm::Masking {
        measured: view(&ws.dec0.a),
        weighted: view(&ws.csf0),
        faded: view(&ws.faded0),
        w: l.w,
        h: l.h,
    };
    let aim = cm::numerator_scale0(&masking, l.score, fixed, 0.0, &mut ws.rows, simd);
    (num, den, aim)
}

/// Scale 1-3 numerator, denominator and AIM numerator from the transformed bands.
fn lower_scores(
    s: &Settings,
    scale: usize,
    l: &Level,
    ws: &mut Workspace,
    simd: SimdLevel,
) -> (f32, f32, f32) {
    decouple::lower(
        ws.ref1.detail(),
        ws.dis1.detail(),
        l.w,
        l.work,
        s.gain_limit,
        &ws.recip,
        &mut ws.dec1,
        simd,
    );
    let den = csf::denominator_lower(
        ws.ref1.detail(),
        scale,
        l.w,
        l.score,
        l.weights,
        s.noise_weight,
        simd,
    );

    csf::weigh_lower(
        view(&ws.dec1.a),
        l.w,
        l.work,
        l.fixed,
        &mut ws.csf1,
        &mut ws.faded1,
        simd,
    );
    let masking = cm::Masking {
        measured: view(&ws.dec1.r),
        weighted: view(&ws.csf1),
        faded: view(&ws.faded1),
        w: l.w,
        h: l.h,
    };
    let num = cm::numerator_lower(
        &masking,
        scale,
        l.score,
        l.fixed,
        s.noise_weight,
        &mut ws.rows,
        simd,
    );
    if s.skip_aim {
        return (num, den, 0.0);
    }
    csf::weigh_lower(
        view(&ws.dec1.r),
        l.w,
        l.work,
        l.fixed,
        &mut ws.csf1,
        &mut ws.faded1,
        simd,
    );
    let masking = cm::Masking {
        measured: view(&ws.dec1.a),
        weighted: view(&ws.csf1),
        faded: view(&ws.faded1),
        w: l.w,
        h: l.h,
    };
    let aim = cm::numerator_lower(&masking, scale, l.score, l.fixed, 0.0, &mut ws.rows, simd);
    (num, den, aim)
}

/// Prepares the rows libvmaf reads at position -1 when a level's input is 3 or 4 rows tall
/// (only possible at scale 3, for pictures 17 to 32 rows tall). libvmaf reads the memory just
/// before its 32-bit approximation bands: for the reference, the second-to-last row of the
/// last 16-bit band it allocated (which, at that point, holds the last scale-0 CSF output of
/// the diagonal band) reinterpreted as 32-bit pairs; for the distorted picture, the unused last
/// row of the reference's 32-bit diagonal band, which is never written (zero).
fn fill_above(s: &Settings, l0: &Level, w: usize, ws: &mut Workspace) {
    let last16 = if s.skip_aim {
        &ws.faded0[2]
    } else {
        &ws.csf0[2]
    };
    let row = (l0.h - 2) * l0.w;
    for (j, v) in ws.above_ref[..w].iter_mut().enumerate() {
        let lo = last16[row + 2 * j] as u16;
        let hi = last16[row + 2 * j + 1] as u16;
        *v = (u32::from(lo) | u32::from(hi) << 16) as i32;
    }
    ws.above_dis[..w].fill(0);
}

impl FeatureExtractor for AdmExtractor {
    fn extract(
        &mut self,
        reference: &Picture,
        distorted: &Picture,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        reference.check_same_shape(distorted)?;
        self.geometry.check("adm", reference)?;
        let scores = match (&reference.planes[0], &distorted.planes[0]) {
            (PlaneData::U8(r), PlaneData::U8(d)) => self.compute(r, d),
            (PlaneData::U16(r), PlaneData::U16(d)) => self.compute(r, d),
            _ => {
                return Err(EngineError::PictureMismatch(
                    "reference and distorted luma differ in sample type".into(),
                ))
            }
        };

        let s = &self.settings;
        let blended = scores.adm * s.dlm_weight + (1.0 - scores.aim) * (1.0 - s.dlm_weight);
        // C's MAX: a NaN blend yields the floor.
        let adm3 = if blended > s.min_val {
            blended
        } else {
            s.min_val
        };
        let q = &scores.scales;
        let values = [
            scores.adm,
            scores.aim,
            adm3,
            q[0] / q[1],
            q[2] / q[3],
            q[4] / q[5],
            q[6] / q[7],
            scores.adm,
            scores.num,
            scores.den,
            q[0],
            q[1],
            q[2],
            q[3],
            q[4],
            q[5],
            q[6],
            q[7],
        ];
        let count = if s.debug { values.len() } else { 7 };
        out.extend(
            values[..count]
                .iter()
                .zip(&self.names)
                .map(|(&value, name)| FeatureValue {
                    name: Arc::clone(name),
                    index,
                    value,
                }),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::PixelFormat;

    /// Deterministic test pictures: a warped ramp with a moving checkerboard as reference, and
    /// the reference plus LCG noise (and a horizontal smear every fifth row) as distortion.
    /// The expected values below come from the same frames written as raw .yuv (by a throwaway
    /// script with this formula) and scored by the vmaf CLI.
    fn synthetic_pairs(
        w: usize,
        h: usize,
        frames: usize,
        bit_depth: u8,
    ) -> Vec<(Picture, Picture)> {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let shift = bit_depth - 8;
        let mut out = Vec::new();
        for f in 0..frames {
            let mut luma = (Vec::with_capacity(w * h), Vec::with_capacity(w * h));
            for y in 0..h {
                for x in 0..w {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let noise = ((state >> 33) % 17) as i64;
                    let checker = if ((x >> 3) + (y >> 3) + f) & 1 == 1 {
                        40
                    } else {
                        0
                    };
                    let r = 16 + ((x * x + 3 * y * y + 7 * f * x) / 9 + checker) % 220;
                    let r = r as i64;
                    let mut d = r + noise - 8;
                    if y % 5 == 0 && x > 0 {
                        d = (d + luma.0[y * w + x - 1]) / 2;
                    }
                    luma.0.push(r);
                    luma.1.push(d.clamp(0, 255));
                }
            }
            let picture = |samples: &[i64]| {
                let mut p = Picture::new(PixelFormat::Yuv420, bit_depth, w, h).unwrap();
                for (i, plane) in p.planes.iter_mut().enumerate() {
                    let value = |k: usize| {
                        if i == 0 {
                            samples[k] << shift
                        } else {
                            128 << shift
                        }
                    };
                    match plane {
                        PlaneData::U8(pl) => pl
                            .data
                            .iter_mut()
                            .enumerate()
                            .for_each(|(k, s)| *s = value(k) as u8),
                        PlaneData::U16(pl) => pl
                            .data
                            .iter_mut()
                            .enumerate()
                            .for_each(|(k, s)| *s = value(k) as u16),
                    }
                }
                p
            };
            out.push((picture(&luma.0), picture(&luma.1)));
        }
        out
    }

    fn run(
        options: &[(&str, &str)],
        w: usize,
        h: usize,
        frames: usize,
        bit_depth: u8,
    ) -> Vec<FeatureValue> {
        let pairs: Vec<(String, String)> = options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let options = OptionValues::parse("adm", OPTIONS, &pairs).unwrap();
        let geometry = Geometry {
            format: PixelFormat::Yuv420,
            bit_depth,
            width: w,
            height: h,
        };
        let mut adm = (INFO.create)(&options, geometry, SimdLevel::detect()).unwrap();
        let mut out = Vec::new();
        for (i, (r, d)) in synthetic_pairs(w, h, frames, bit_depth).iter().enumerate() {
            adm.extract(r, d, i as u32, &mut out).unwrap();
        }
        out
    }

    fn assert_close(got: &[FeatureValue], expected: &[f64]) {
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(expected) {
            assert!(
                (g.value - e).abs() < 1e-6,
                "{} frame {}: {} vs libvmaf {}",
                g.name,
                g.index,
                g.value,
                e
            );
        }
    }

    #[test]
    fn matches_libvmaf_at_8_bits_with_debug_features() {
        // libvmaf v3.2.0: vmaf -r ut8.ref.yuv -d ut8.dis.yuv -w 48 -h 36 -p 420 -b 8
        //   --feature adm=debug=true -n --json (3 frames of synthetic_pairs(48, 36, _, 8))
        let expected: [[f64; 18]; 3] = [
            [
                0.962286, 0.011802, 0.975242, 0.933976, 0.93273, 0.969008, 0.987388, 0.962286,
                155.041227, 161.117668, 20.129425, 21.552402, 31.940771, 34.244373, 53.857536,
                55.580063, 49.113495, 49.740829,
            ],
            [
                0.96653, 0.012322, 0.977104, 0.932812, 0.925834, 0.979816, 0.991869, 0.96653,
                184.429457, 190.816139, 20.94068, 22.448994, 38.482357, 41.565056, 62.157307,
                63.437752, 62.849113, 63.364338,
            ],
            [
                0.972576, 0.011443, 0.980567, 0.941398, 0.954148, 0.984326, 0.981796, 0.972576,
                170.938564, 175.758556, 20.288733, 21.551704, 31.391573, 32.900124, 62.184086,
                63.174305, 57.074173, 58.132423,
            ],
        ];
        let out = run(&[("debug", "true")], 48, 36, 3, 8);
        let names: Vec<&str> = out[..18].iter().map(|v| &*v.name).collect();
        assert_eq!(
            names, PROVIDED,
            "debug=true writes every provided feature, in libvmaf's order"
        );
        assert_close(&out, expected.as_flattened());
    }

    #[test]
    fn matches_libvmaf_at_10_bits_on_a_tiny_odd_picture_with_unit_gain_limit() {
        // 33x29 takes every edge path: the last scale-0 column over-reads (17 subband columns),
        // scale 1 over-reads too, and scale 3 reads row -1 (4 input rows).
        // libvmaf v3.2.0: vmaf -r ut10cli.ref.yuv -d ut10cli.dis.yuv -w 33 -h 29 -p 420 -b 10
        //   --feature adm=adm_enhn_gain_limit=1.0 -n --json (3 frames of synthetic_pairs(33, 29, _, 10))
        let expected: [[f64; 7]; 3] = [
            [
                0.938964, 0.003945, 0.96751, 0.941231, 0.92705, 0.903534, 0.971025,
            ],
            [
                0.941135, 0.017336, 0.961899, 0.931546, 0.913048, 0.91326, 0.985838,
            ],
            [
                0.946354, 0.008227, 0.969063, 0.9328, 0.925471, 0.916526, 0.984622,
            ],
        ];
        let out = run(&[("adm_enhn_gain_limit", "1.0")], 33, 29, 3, 10);
        assert_eq!(&*out[0].name, "integer_adm2_egl_1");
        assert_eq!(&*out[6].name, "integer_adm_scale3_egl_1");
        assert_close(&out, expected.as_flattened());
    }

    #[test]
    fn refuses_what_libvmaf_cannot_compute() {
        let options = OptionValues::defaults("adm", OPTIONS);
        let geometry = |width, height| Geometry {
            format: PixelFormat::Yuv420,
            bit_depth: 8,
            width,
            height,
        };
        // libvmaf crashes below 17 pixels in either direction.
        assert!((INFO.create)(&options, geometry(16, 64), SimdLevel::detect()).is_err());
        assert!((INFO.create)(&options, geometry(64, 16), SimdLevel::detect()).is_err());
        assert!((INFO.create)(&options, geometry(17, 17), SimdLevel::detect()).is_ok());
        // ... and refuses viewing conditions finer than 1080 lines at 3H.
        let pairs = [("adm_norm_view_dist".to_string(), "2.0".to_string())];
        let options = OptionValues::parse("adm", OPTIONS, &pairs).unwrap();
        assert!((INFO.create)(&options, geometry(64, 64), SimdLevel::detect()).is_err());
    }

    #[test]
    fn borders_round_like_libvmaf() {
        assert_eq!(
            Border::scoring(960, 540),
            Border {
                left: 95,
                top: 53,
                right: 865,
                bottom: 487
            }
        );
        assert_eq!(
            Border::scoring(9, 9),
            Border {
                left: 0,
                top: 0,
                right: 9,
                bottom: 9
            }
        );
        assert_eq!(
            Border::working(960, 540),
            Border {
                left: 94,
                top: 52,
                right: 868,
                bottom: 490
            }
        );
        assert_eq!(
            Border::working(25, 17),
            Border {
                left: 1,
                top: 0,
                right: 25,
                bottom: 17
            }
        );
    }

    #[test]
    fn models_find_adm_by_its_feature_names() {
        let provider = crate::feature::find_provider("VMAF_integer_feature_adm2_score").unwrap();
        assert_eq!(provider.name, "adm");
        assert!(OPTIONS
            .iter()
            .any(|o| o.name == "adm_enhn_gain_limit" && o.alias == Some("egl")));
    }
}
