//! Splitting the distorted detail bands into a part restored from the reference (`r`, the
//! detail kept, scaled by the per-coefficient gain t/o clamped to [0, 1]) and an additive
//! impairment (`a = t - r`), in libvmaf's fixed point.

use super::{Border, Decoupled};
use crate::cpu::SimdLevel;

/// Q15 reciprocals 2^30 / i for i in -32768..=32768 (index offset by 32768), the table libvmaf
/// turns its divisions into.
pub(super) struct Reciprocals(Vec<i32>);

impl Reciprocals {
    pub(super) fn new() -> Self {
        let mut table = vec![0i32; 65537];
        for i in 1..=32768i32 {
            let r = (1i32 << 30) / i;
            table[(32768 + i) as usize] = r;
            table[(32768 - i) as usize] = -r;
        }
        Reciprocals(table)
    }

    /// The table itself; entry `i + 32768` holds the reciprocal of `i`.
    pub(super) fn table(&self) -> &[i32] {
        &self.0
    }

    #[inline(always)]
    fn get(&self, i: i32) -> i64 {
        i64::from(self.0[(i + 32768) as usize])
    }
}

/// cos(1 degree) squared, as the f32 libvmaf stores it.
pub(super) fn cos_1deg_sq() -> f32 {
    let c = (std::f64::consts::PI / 180.0).cos();
    (c * c) as f32
}

/// Whether the reference and distorted (h, v) vectors are within one degree of each other,
/// evaluated with libvmaf's mix of f32 and f64.
#[inline(always)]
fn within_one_degree(cos_sq: f64, o: (i64, i64), t: (i64, i64)) -> bool {
    let dot = o.0 * t.0 + o.1 * t.1;
    let o_sq = o.0 * o.0 + o.1 * o.1;
    let t_sq = t.0 * t.0 + t.1 * t.1;
    let d = f64::from(dot as f32) / 4096.0;
    d >= 0.0
        && d * d >= cos_sq * (f64::from(o_sq as f32) / 4096.0) * (f64::from(t_sq as f32) / 4096.0)
}

/// Scale-0 decoupling of the 16-bit detail bands `[h, v, d]` inside the working border.
///
/// Columns left of `right - right % 8` go through libvmaf's vector code, which rounds the
/// gain-limited value to nearest instead of truncating; that only matters for gain limits
/// that are not whole numbers.
#[allow(clippy::too_many_arguments)]
pub(super) fn scale0(
    reference: [&[i16]; 3],
    distorted: [&[i16]; 3],
    w: usize,
    border: Border,
    gain: f64,
    recip: &Reciprocals,
    out: &mut Decoupled<i16>,
    level: SimdLevel,
) {
    let vector_end = border.right - border.right % 8;
    #[cfg(target_arch = "x86_64")]
    if level == SimdLevel::Avx512 {
        // SAFETY: the Avx512 level is only chosen on CPUs that report AVX-512.
        unsafe {
            super::avx512::decouple_scale0(
                reference, distorted, w, border, vector_end, gain, recip, out,
            )
        };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx2 {
        // SAFETY: the Avx2 level is only chosen on CPUs that report AVX2.
        unsafe {
            super::avx2::decouple_scale0(
                reference, distorted, w, border, vector_end, gain, recip, out,
            )
        };
        return;
    }
    let _ = level;
    for i in border.top..border.bottom {
        scale0_span(
            reference,
            distorted,
            i * w,
            border.left..border.right,
            vector_end,
            gain,
            recip,
            out,
        );
    }
}

/// Scalar scale-0 decoupling of columns `cols` of the row starting at `row`; columns left of
/// `vector_end` follow libvmaf's vector rounding.
#[allow(clippy::too_many_arguments)]
pub(super) fn scale0_span(
    reference: [&[i16]; 3],
    distorted: [&[i16]; 3],
    row: usize,
    cols: std::ops::Range<usize>,
    vector_end: usize,
    gain: f64,
    recip: &Reciprocals,
    out: &mut Decoupled<i16>,
) {
    let cos_sq = f64::from(cos_1deg_sq());
    for col in cols {
        let p = row + col;
        let o = reference.map(|b| b[p]);
        let t = distorted.map(|b| b[p]);
        let angle = within_one_degree(
            cos_sq,
            (i64::from(o[0]), i64::from(o[1])),
            (i64::from(t[0]), i64::from(t[1])),
        );
        let rounded = col < vector_end;
        for b in 0..3 {
            let (o, t) = (i32::from(o[b]), i32::from(t[b]));
            let ratio = if o == 0 {
                32768
            } else {
                ((recip.get(o) * i64::from(t) + 16384) >> 15) as i32
            };
            let ratio = ratio.clamp(0, 32768);
            let mut rst = ((ratio * o + 16384) >> 15) as i16;
            // The restored value's sign is that of ratio * o; an enhancement within one
            // degree is capped at `gain` times it, but never beyond the distorted value.
            if angle && ratio > 0 && o != 0 {
                rst = limit_gain_i16(rst, t as i16, gain, o > 0, rounded);
            }
            out.r[b][p] = rst;
            out.a[b][p] = (t as i16).wrapping_sub(rst);
        }
    }
}

#[inline(always)]
fn limit_gain_i16(rst: i16, t: i16, gain: f64, positive: bool, rounded: bool) -> i16 {
    let x = f64::from(rst) * gain;
    if rounded {
        let g = round_to_i32(x);
        let t = i32::from(t);
        (if positive { g.min(t) } else { g.max(t) }) as i16
    } else {
        let t = f64::from(t);
        let m = if positive {
            if x < t {
                x
            } else {
                t
            }
        } else if x > t {
            x
        } else {
            t
        };
        m as i32 as i16
    }
}

/// f64 to i32 the way `cvtpd2dq` does under the default rounding mode.
#[inline(always)]
fn round_to_i32(x: f64) -> i32 {
    let r = x.round_ties_even();
    if (-2147483648.0..=2147483647.0).contains(&r) {
        r as i32
    } else {
        i32::MIN
    }
}

/// The 15 most significant bits of `v` (>= 32768), rounded, and the shift that produced them.
#[inline(always)]
fn top15(v: u32) -> (u32, u32) {
    let k = 17 - v.leading_zeros();
    ((v + (1 << (k - 1))) >> k, k)
}

/// Scales 1-3 decoupling of the 32-bit detail bands `[h, v, d]` inside the working border.
/// Denominators of 2^15 and above are reduced to their top 15 bits before the table lookup.
#[allow(clippy::too_many_arguments)]
pub(super) fn lower(
    reference: [&[i32]; 3],
    distorted: [&[i32]; 3],
    w: usize,
    border: Border,
    gain: f64,
    recip: &Reciprocals,
    out: &mut Decoupled<i32>,
    level: SimdLevel,
) {
    #[cfg(target_arch = "x86_64")]
    if level == SimdLevel::Avx512 {
        // SAFETY: the Avx512 level is only chosen on CPUs that report AVX-512.
        unsafe { super::avx512::decouple_lower(reference, distorted, w, border, gain, recip, out) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx2 {
        // SAFETY: the Avx2 level is only chosen on CPUs that report AVX2.
        unsafe { super::avx2::decouple_lower(reference, distorted, w, border, gain, recip, out) };
        return;
    }
    let _ = level;
    for i in border.top..border.bottom {
        lower_span(
            reference,
            distorted,
            i * w,
            border.left..border.right,
            gain,
            recip,
            out,
        );
    }
}

/// Scalar scale 1-3 decoupling of columns `cols` of the row starting at `row`.
pub(super) fn lower_span(
    reference: [&[i32]; 3],
    distorted: [&[i32]; 3],
    row: usize,
    cols: std::ops::Range<usize>,
    gain: f64,
    recip: &Reciprocals,
    out: &mut Decoupled<i32>,
) {
    let cos_sq = f64::from(cos_1deg_sq());
    for col in cols {
        let p = row + col;
        let o = reference.map(|b| b[p]);
        let t = distorted.map(|b| b[p]);
        let angle = within_one_degree(
            cos_sq,
            (i64::from(o[0]), i64::from(o[1])),
            (i64::from(t[0]), i64::from(t[1])),
        );
        for b in 0..3 {
            let (o, t) = (o[b], t[b]);
            let ratio: i64 = if o == 0 {
                32768
            } else {
                let mag = o.unsigned_abs();
                let (msb, shift) = if mag < 32768 { (mag, 0) } else { top15(mag) };
                let sign = if o < 0 { -1 } else { 1 };
                // libvmaf forms the rounding term as a C int, which wraps at 2^31.
                let round = i64::from(1i32.wrapping_shl(14 + shift));
                (recip.get(msb as i32) * i64::from(t) * sign + round) >> (15 + shift)
            };
            let ratio = ratio.clamp(0, 32768);
            let mut rst = ((ratio * i64::from(o) + 16384) >> 15) as i32;
            if angle && ratio > 0 && o != 0 {
                let x = f64::from(rst) * gain;
                let tf = f64::from(t);
                let m = if o > 0 {
                    if x < tf {
                        x
                    } else {
                        tf
                    }
                } else if x > tf {
                    x
                } else {
                    tf
                };
                rst = m as i32;
            }
            out.r[b][p] = rst;
            out.a[b][p] = t.wrapping_sub(rst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reciprocal_table_matches_libvmaf_layout() {
        let t = Reciprocals::new();
        assert_eq!(t.get(1), 1 << 30);
        assert_eq!(t.get(-1), -(1 << 30));
        assert_eq!(t.get(3), 357913941);
        assert_eq!(t.get(32768), 32768);
        assert_eq!(t.get(-32768), -32768);
        assert_eq!(t.get(0), 0);
    }

    #[test]
    fn top15_rounds_to_fifteen_bits() {
        assert_eq!(top15(32768), (16384, 1));
        assert_eq!(top15(65535), (32768, 1));
        assert_eq!(top15(1 << 31), (16384, 17));
    }

    #[test]
    fn vector_columns_round_the_gain_scalar_columns_truncate() {
        assert_eq!(limit_gain_i16(7, 100, 1.1, true, false), 7);
        assert_eq!(limit_gain_i16(7, 100, 1.1, true, true), 8);
        assert_eq!(limit_gain_i16(-7, -100, 1.1, false, false), -7);
        assert_eq!(limit_gain_i16(-7, -100, 1.1, false, true), -8);
        assert_eq!(limit_gain_i16(50, 60, 100.0, true, false), 60);
        assert_eq!(limit_gain_i16(50, 60, 100.0, true, true), 60);
    }
}
