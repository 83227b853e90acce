//! Contrast sensitivity weighting of the ADM subbands: the per-scale band weights of each CSF
//! model libvmaf offers, their fixed-point forms, the weighting itself (with the 1/30-scaled
//! copy the masking threshold is built from) and the per-scale denominator.
//!
//! Floating-point steps mirror libvmaf's mix of f32 and f64 operation by operation, because the
//! weights feed the scores directly.

use super::{Border, Orients};
use crate::cpu::SimdLevel;
use crate::feature::csf_models::{self, narrow};

/// Contrast sensitivity function, libvmaf's `adm_csf_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CsfMode {
    /// Watson et al. 1997 wavelet quantisation thresholds (the default).
    Watson97,
    /// Barten's CSF as simplified in HDR-VDP-2.
    Barten,
    /// Tabulated Barten/Watson blend.
    Blend,
    /// Tabulated Barten/Watson blend fitted on mean absolute error.
    BlendMae,
}

impl CsfMode {
    pub(super) fn from_option(mode: i32) -> Self {
        match mode {
            1 => CsfMode::Barten,
            2 => CsfMode::Blend,
            3 => CsfMode::BlendMae,
            _ => CsfMode::Watson97,
        }
    }
}

/// The viewing-condition options the weights depend on.
#[derive(Debug, Clone, Copy)]
pub(super) struct Viewing {
    pub mode: CsfMode,
    pub norm_view_dist: f64,
    pub display_height: i32,
    pub csf_scale: f64,
    pub csf_diag_scale: f64,
}

impl Viewing {
    /// Display resolution in pixels per degree, rounded to f32 as libvmaf keeps it.
    fn pixels_per_degree(&self) -> f32 {
        csf_models::pixels_per_degree(self.norm_view_dist, self.display_height)
    }

    /// Weights of the horizontal/vertical bands and of the diagonal band at `scale` (0-3).
    pub(super) fn band_weights(&self, scale: usize) -> [f32; 2] {
        match self.mode {
            CsfMode::Watson97 => [
                1.0 / self.watson_step(scale, 1),
                1.0 / self.watson_step(scale, 2),
            ],
            CsfMode::Barten => [
                self.barten(scale, self.csf_scale),
                self.barten(scale, self.csf_diag_scale),
            ],
            CsfMode::Blend => [self.blend(false, scale, 0), self.blend(false, scale, 1)],
            CsfMode::BlendMae => [self.blend(true, scale, 0), self.blend(true, scale, 1)],
        }
    }

    /// Weights as used at `scale`: horizontal, vertical, diagonal.
    pub(super) fn weights(&self, scale: usize) -> [f32; 3] {
        let [hv, d] = self.band_weights(scale);
        [hv, hv, d]
    }

    /// Watson's quantisation step for luma at wavelet level `lambda` and orientation `theta`.
    fn watson_step(&self, lambda: usize, theta: usize) -> f32 {
        csf_models::watson_step(self.pixels_per_degree(), lambda, theta)
    }

    fn barten(&self, lambda: usize, scale: f64) -> f32 {
        csf_models::barten(self.pixels_per_degree(), lambda, scale)
    }

    fn blend(&self, mae: bool, scale: usize, theta: usize) -> f32 {
        let entry = BLENDS.iter().find(|(height, dist, ..)| {
            *height == self.display_height && *dist == self.norm_view_dist
        });
        match entry {
            Some((_, _, legacy, fitted)) => (if mae { fitted } else { legacy })[theta][scale],
            // libvmaf returns -EINVAL as the weight for untabulated conditions.
            None => -22.0,
        }
    }

    /// Scale-0 weights in fixed point (Q21 for h/v, Q23 for d). libvmaf hard-codes the
    /// values for the default viewing conditions under Watson's model.
    pub(super) fn scale0_fixed(&self) -> [u16; 3] {
        let standard =
            (self.norm_view_dist * f64::from(self.display_height) - 3.0 * 1080.0).abs() < 1.0e-8;
        if standard && self.mode == CsfMode::Watson97 {
            return [36453, 36453, 49417];
        }
        let w = self.weights(0);
        [
            c_to_u16(f64::from(w[0]) * 2f64.powf(21.0)),
            c_to_u16(f64::from(w[1]) * 2f64.powf(21.0)),
            c_to_u16(f64::from(w[2]) * 2f64.powf(23.0)),
        ]
    }

    /// Scale 1-3 weights in Q32.
    pub(super) fn lower_fixed(&self, scale: usize) -> [u32; 3] {
        self.weights(scale)
            .map(|w| c_to_u32(f64::from(w) * 2f64.powf(32.0)))
    }
}

/// C's `(uint16_t)` of a double as x86-64 compilers emit it: truncate to a 32-bit int
/// (out-of-range gives INT_MIN) and keep the low half.
fn c_to_u16(x: f64) -> u16 {
    if x > -2147483649.0 && x < 2147483648.0 {
        x as i32 as u16
    } else {
        0
    }
}

/// C's `(uint32_t)` of a double on x86-64: truncate to a 64-bit int (out-of-range gives
/// INT64_MIN) and keep the low half.
pub(super) fn c_to_u32(x: f64) -> u32 {
    if x > -9223372036854775809.0 && x < 9223372036854775808.0 {
        x as i64 as u32
    } else {
        0
    }
}

type BlendTable = [[f32; 4]; 2];

const BLEND_1080_3H: BlendTable = [
    narrow([0.01183, 0.025026, 0.04295, 0.058621]),
    narrow([0.004302, 0.011778, 0.023918, 0.035901]),
];
const BLEND_1080_5H: BlendTable = [
    narrow([0.004212, 0.014809, 0.029642, 0.047464]),
    narrow([0.000984, 0.005852, 0.0146, 0.027574]),
];
const BLEND_2160_3H: BlendTable = [
    narrow([0.00226, 0.01183, 0.025026, 0.04295]),
    narrow([0.000479, 0.004302, 0.011778, 0.023918]),
];
const BLEND_2160_5H: BlendTable = [
    narrow([0.000092, 0.004212, 0.014809, 0.029642]),
    narrow([0.000050, 0.000984, 0.005852, 0.0146]),
];
const BLEND_720_3H: BlendTable = [
    narrow([0.018715, 0.035637, 0.052798, 0.061509]),
    narrow([0.007999, 0.018396, 0.031851, 0.037718]),
];
const BLEND_720_5H: BlendTable = [
    narrow([0.010144, 0.022561, 0.040309, 0.05672]),
    narrow([0.003463, 0.010282, 0.021839, 0.034641]),
];
const BLEND_480_3H: BlendTable = [
    narrow([0.027961, 0.045875, 0.060275, 0.056234]),
    narrow([0.013572, 0.026277, 0.036959, 0.034511]),
];
const BLEND_480_5H: BlendTable = [
    narrow([0.016781, 0.032822, 0.05032, 0.061594]),
    narrow([0.00691, 0.016545, 0.029917, 0.037777]),
];
/// Tabulated blends by display height and viewing distance: legacy and MAE-fitted. 2160 lines
/// at 1.5H has the same pixels per degree as 1080 at 3H.
const BLENDS: [(i32, f64, &BlendTable, &BlendTable); 9] = [
    (1080, 3.0, &BLEND_1080_3H, &BLEND_1080_3H_MAE),
    (1080, 5.0, &BLEND_1080_5H, &BLEND_1080_5H_MAE),
    (2160, 1.5, &BLEND_1080_3H, &BLEND_1080_3H_MAE),
    (2160, 3.0, &BLEND_2160_3H, &BLEND_2160_3H_MAE),
    (2160, 5.0, &BLEND_2160_5H, &BLEND_2160_5H_MAE),
    (720, 3.0, &BLEND_720_3H, &BLEND_720_3H_MAE),
    (720, 5.0, &BLEND_720_5H, &BLEND_720_5H_MAE),
    (480, 3.0, &BLEND_480_3H, &BLEND_480_3H_MAE),
    (480, 5.0, &BLEND_480_5H, &BLEND_480_5H_MAE),
];
const BLEND_1080_3H_MAE: BlendTable = [
    narrow([0.011249, 0.022606, 0.035930, 0.045673]),
    narrow([0.004097, 0.010921, 0.021430, 0.031313]),
];
const BLEND_1080_5H_MAE: BlendTable = [
    narrow([0.004052, 0.013939, 0.026298, 0.038833]),
    narrow([0.000927, 0.005544, 0.013415, 0.024515]),
];
const BLEND_2160_3H_MAE: BlendTable = [
    narrow([0.002166, 0.011249, 0.022606, 0.035930]),
    narrow([0.000447, 0.004097, 0.010921, 0.021430]),
];
const BLEND_2160_5H_MAE: BlendTable = [
    narrow([0.000077, 0.004052, 0.013939, 0.026298]),
    narrow([0.000045, 0.000927, 0.005544, 0.013415]),
];
const BLEND_720_3H_MAE: BlendTable = [
    narrow([0.017329, 0.030870, 0.042134, 0.047410]),
    narrow([0.007509, 0.016707, 0.028072, 0.032722]),
];
const BLEND_720_5H_MAE: BlendTable = [
    narrow([0.009689, 0.020577, 0.034162, 0.044523]),
    narrow([0.003302, 0.009579, 0.019661, 0.030318]),
];
const BLEND_480_3H_MAE: BlendTable = [
    narrow([0.024969, 0.037825, 0.046676, 0.043974]),
    narrow([0.012511, 0.023424, 0.032139, 0.030166]),
];
const BLEND_480_5H_MAE: BlendTable = [
    narrow([0.015665, 0.028766, 0.040612, 0.047483]),
    narrow([0.006514, 0.015107, 0.026476, 0.032776]),
];

/// Q17 approximation of 1/30 used for the masking copy at scale 0.
const ONE_BY_30_Q17: i32 = 4369;
/// Q32 approximation of 1/30 used for the masking copy at scales 1-3.
const ONE_BY_30_Q32: i64 = 143165577;
/// libvmaf's rounding constant for the Q32 masking copy: 2^31 stored in an int32, i.e. -2^31.
pub(super) const Q32_ROUND: i64 = -(1 << 31);

/// Saturating i32 to i16, as `packs_epi32` does.
#[inline(always)]
fn sat16(v: i32) -> i16 {
    v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// Start of the columns libvmaf's vector code handles in a region `[left, right)` processed in
/// blocks of `lanes` starting at `left`; the rest goes through its scalar tail.
#[inline(always)]
pub(super) fn tail_start(left: usize, right: usize, lanes: usize) -> usize {
    right - (right - left) % lanes
}

/// Weights the scale-0 bands `src` inside the working border into `dst`, and writes
/// |dst|/30 (Q17 then >> 12) into `flt`.
///
/// The vector part of libvmaf saturates both to 16 bits where its scalar tail wraps; the two
/// only differ for weights far above the defaults.
pub(super) fn weigh_scale0(
    src: [&[i16]; 3],
    w: usize,
    border: Border,
    weights: [u16; 3],
    dst: &mut Orients<i16>,
    flt: &mut Orients<i16>,
    level: SimdLevel,
) {
    let _ = level;
    const ROUND_SHIFT: [(i32, u32); 3] = [(16384, 15), (16384, 15), (65535, 17)];
    let tail = tail_start(border.left, border.right, 8);
    for b in 0..3 {
        let weight = i32::from(weights[b]);
        let (round, shift) = ROUND_SHIFT[b];
        for i in border.top..border.bottom {
            let row = i * w;
            let s = &src[b][row..row + w];
            let d = &mut dst[b][row..row + w];
            let f = &mut flt[b][row..row + w];
            let mut first = border.left;
            #[cfg(target_arch = "x86_64")]
            if level == SimdLevel::Avx512 {
                // SAFETY: the Avx512 level is only chosen on CPUs that report AVX-512.
                unsafe {
                    super::avx512::weigh_scale0_row(
                        s,
                        d,
                        f,
                        (border.left, tail),
                        weight,
                        (round, shift),
                    )
                };
                first = tail;
            } else if level >= SimdLevel::Avx2 {
                // SAFETY: the Avx2 level is only chosen on CPUs that report AVX2.
                unsafe {
                    super::avx2::weigh_scale0_row(
                        s,
                        d,
                        f,
                        (border.left, tail),
                        weight,
                        (round, shift),
                    )
                };
                first = tail;
            }
            for j in first..tail {
                let v = (weight * i32::from(s[j]) + round) >> shift;
                d[j] = sat16(v);
                f[j] = sat16((ONE_BY_30_Q17 * v.abs() + 2048) >> 12);
            }
            for j in tail..border.right {
                let v = ((weight * i32::from(s[j]) + round) >> shift) as i16;
                d[j] = v;
                f[j] = ((ONE_BY_30_Q17 * i32::from(v).abs() + 2048) >> 12) as i16;
            }
        }
    }
}

/// Weights the scale 1-3 bands `src` inside the working border into `dst` (Q28 product) and
/// |dst|/30 into `flt`. libvmaf's vector part multiplies by the Q32 weight as a signed 32-bit
/// value, which differs from its scalar tail only for weights of 0.5 and above.
pub(super) fn weigh_lower(
    src: [&[i32]; 3],
    w: usize,
    border: Border,
    weights: [u32; 3],
    dst: &mut Orients<i32>,
    flt: &mut Orients<i32>,
    level: SimdLevel,
) {
    let _ = level;
    let tail = tail_start(border.left, border.right, 8);
    let masked = |v: i32| ((ONE_BY_30_Q32 * i64::from(v.wrapping_abs()) + Q32_ROUND) >> 32) as i32;
    for b in 0..3 {
        let unsigned = i64::from(weights[b]);
        let signed = i64::from(weights[b] as i32);
        for i in border.top..border.bottom {
            let row = i * w;
            let s = &src[b][row..row + w];
            let d = &mut dst[b][row..row + w];
            let f = &mut flt[b][row..row + w];
            let mut first = border.left;
            #[cfg(target_arch = "x86_64")]
            if level == SimdLevel::Avx512 {
                // SAFETY: the Avx512 level is only chosen on CPUs that report AVX-512.
                unsafe { super::avx512::weigh_lower_row(s, d, f, (border.left, tail), weights[b]) };
                first = tail;
            } else if level >= SimdLevel::Avx2 {
                // SAFETY: the Avx2 level is only chosen on CPUs that report AVX2.
                unsafe { super::avx2::weigh_lower_row(s, d, f, (border.left, tail), weights[b]) };
                first = tail;
            }
            for j in first..border.right {
                let weight = if j < tail { signed } else { unsigned };
                let v = ((weight * i64::from(s[j]) + (1 << 27)) >> 28) as i32;
                d[j] = v;
                f[j] = masked(v);
            }
        }
    }
}

/// The noise-floor term added to each orientation's numerator and denominator.
pub(super) fn noise_floor(border: Border, noise_weight: f64) -> f32 {
    let area = ((border.bottom - border.top) * (border.right - border.left)) as f64;
    ((area * noise_weight) as f32).powf(1.0 / 3.0)
}

/// Sums the three orientations' cube-root terms in libvmaf's order.
fn combine(csf: [f64; 3], floor: f32) -> f32 {
    let t = csf.map(|c| (c as f32).powf(1.0 / 3.0) + floor);
    t[0] + t[1] + t[2]
}

/// Scale-0 denominator: cube-root energy of the CSF-weighted reference detail bands inside the
/// scoring border, plus the noise floor.
pub(super) fn denominator_scale0(
    reference: [&[i16]; 3],
    w: usize,
    border: Border,
    weights: [f32; 3],
    noise_weight: f64,
    level: SimdLevel,
) -> f32 {
    let area = (border.bottom - border.top) * (border.right - border.left);
    let shift = (((area as f64).log2() - 20.0).ceil() as i32).max(0) as u32;
    let round: u64 = if shift > 0 { 1 << (shift - 1) } else { 0 };
    let mut acc = [0u64; 3];
    for i in border.top..border.bottom {
        let row = i * w;
        for (b, total) in acc.iter_mut().enumerate() {
            let s = &reference[b][row + border.left..row + border.right];
            let inner = cube_sum_i16(s, level);
            *total = total.wrapping_add(inner.wrapping_add(round) >> shift);
        }
    }
    let scale = 2f64.powf(f64::from(18 - shift as i32));
    let csf = [0, 1, 2].map(|b| (acc[b] as f64 / scale) * f64::from(weights[b]).powf(3.0));
    combine(csf, noise_floor(border, noise_weight))
}

/// Wrapping sum of |x|^3 over `s`.
fn cube_sum_i16(s: &[i16], level: SimdLevel) -> u64 {
    #[cfg(target_arch = "x86_64")]
    match level {
        // SAFETY: the Avx512 level is only chosen on CPUs that report AVX-512.
        SimdLevel::Avx512 => return unsafe { super::avx512::cube_sum_i16(s) },
        // SAFETY: the Avx2 level is only chosen on CPUs that report AVX2.
        SimdLevel::Avx2 => return unsafe { super::avx2::cube_sum_i16(s) },
        SimdLevel::Scalar => {}
    }
    let _ = level;
    s.iter()
        .map(|&x| {
            let m = u64::from(x.unsigned_abs());
            m * m * m
        })
        .fold(0u64, u64::wrapping_add)
}

/// Wrapping sum over `s` of libvmaf's scale 1-3 rounded cube of |x|.
fn cube_sum_i32(s: &[i32], sq: (u64, u32), cube: (u64, u32), level: SimdLevel) -> u64 {
    #[cfg(target_arch = "x86_64")]
    match level {
        // SAFETY: the Avx512 level is only chosen on CPUs that report AVX-512.
        SimdLevel::Avx512 => return unsafe { super::avx512::cube_sum_i32(s, sq, cube) },
        // SAFETY: the Avx2 level is only chosen on CPUs that report AVX2.
        SimdLevel::Avx2 => return unsafe { super::avx2::cube_sum_i32(s, sq, cube) },
        SimdLevel::Scalar => {}
    }
    let _ = level;
    let ((sq_round, sq_shift), (cube_round, cube_shift)) = (sq, cube);
    s.iter()
        .map(|&x| {
            let m = u64::from(x.unsigned_abs());
            let sq = m
                .wrapping_mul(m)
                .wrapping_add(sq_round)
                .wrapping_shr(sq_shift);
            sq.wrapping_mul(m)
                .wrapping_add(cube_round)
                .wrapping_shr(cube_shift)
        })
        .fold(0u64, u64::wrapping_add)
}

/// `(uint32_t)pow(2, shift - 1)` with libvmaf's unsigned wrap-around at shift 0.
pub(super) fn half_of(shift: u32) -> u32 {
    c_to_u32(2f64.powf(f64::from(shift.wrapping_sub(1))))
}

/// `(uint32_t)ceil(log2(n))`.
pub(super) fn ceil_log2(n: usize) -> u32 {
    c_to_u32((n as f64).log2().ceil())
}

/// Scale 1-3 denominator, with libvmaf's per-scale intermediate shifts.
pub(super) fn denominator_lower(
    reference: [&[i32]; 3],
    scale: usize,
    w: usize,
    border: Border,
    weights: [f32; 3],
    noise_weight: f64,
    level: SimdLevel,
) -> f32 {
    let sq_shift = [31u32, 30, 31][scale - 1];
    let sq_round = 1u64 << sq_shift;
    let cube_shift = ceil_log2(border.right - border.left);
    let cube_round = u64::from(half_of(cube_shift));
    let row_shift = ceil_log2(border.bottom - border.top);
    let row_round = u64::from(half_of(row_shift));
    let mut acc = [0u64; 3];
    for i in border.top..border.bottom {
        let row = i * w;
        for (b, total) in acc.iter_mut().enumerate() {
            let s = &reference[b][row + border.left..row + border.right];
            let inner = cube_sum_i32(s, (sq_round, sq_shift), (cube_round, cube_shift), level);
            *total = total.wrapping_add(inner.wrapping_add(row_round).wrapping_shr(row_shift));
        }
    }
    let exponent = [32u32, 27, 23][scale - 1]
        .wrapping_sub(row_shift)
        .wrapping_sub(cube_shift);
    let div = 2f64.powf(f64::from(exponent));
    let csf = [0, 1, 2].map(|b| (acc[b] as f64 / div) * f64::from(weights[b]).powf(3.0));
    combine(csf, noise_floor(border, noise_weight))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewing(mode: CsfMode) -> Viewing {
        Viewing {
            mode,
            norm_view_dist: 3.0,
            display_height: 1080,
            csf_scale: 1.0,
            csf_diag_scale: 1.0,
        }
    }

    #[test]
    fn watson_weights_match_libvmaf() {
        // Expected integers printed by a C program calling libvmaf v3.2.0's dwt_quant_step
        // and casting as integer_adm.c does.
        let v = viewing(CsfMode::Watson97);
        let w = v.weights(0);
        assert_eq!(c_to_u16(f64::from(w[0]) * 2097152.0), 36451);
        assert_eq!(c_to_u16(f64::from(w[2]) * 8388608.0), 49414);
        // ...but libvmaf hard-codes slightly different values for these conditions.
        assert_eq!(v.scale0_fixed(), [36453, 36453, 49417]);
        assert_eq!(v.lower_fixed(1), [137373792, 137373792, 61414028]);
        let v = Viewing {
            norm_view_dist: 5.0,
            display_height: 2160,
            ..v
        };
        assert_eq!(v.scale0_fixed(), [3416, 3416, 3411]);
        assert_eq!(v.lower_fixed(3), [50654812, 50654812, 25580132]);
    }

    #[test]
    fn blend_tables_need_tabulated_conditions() {
        let v = viewing(CsfMode::Blend);
        assert_eq!(v.band_weights(2), [0.04295, 0.023918]);
        let v = Viewing {
            norm_view_dist: 4.0,
            ..v
        };
        assert_eq!(v.band_weights(0), [-22.0, -22.0]);
        assert_eq!(v.scale0_fixed(), [0, 0, 0]);
    }

    #[test]
    fn c_conversions_wrap_like_x86() {
        assert_eq!(c_to_u16(70000.0), 4464);
        assert_eq!(c_to_u16(-1.5), 65535);
        assert_eq!(c_to_u16(1e12), 0);
        assert_eq!(c_to_u32(-22.0 * 4294967296.0), 0);
        assert_eq!(c_to_u32(f64::INFINITY), 0);
        assert_eq!(half_of(0), 0);
        assert_eq!(half_of(5), 16);
        assert_eq!(ceil_log2(17), 5);
    }
}
