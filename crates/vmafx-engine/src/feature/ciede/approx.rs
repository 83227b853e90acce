//! The opt-in inexact CIEDE2000 of `--fast-metrics`: the same formulas as [`super::kernel`]
//! (BT.709 Y'CbCr to sRGB to XYZ to CIELAB, then CIEDE2000 with kL = 0.65, kC = 1, kH = 4,
//! libvmaf's quirks kept), but every step in `f32` and every libm call replaced by a short
//! polynomial: `pow(x, 2.4)` and `cbrt` through log2 and exp2 of the exponent and mantissa
//! bits, `atan2`, `sin`, `cos` and `exp` by reduced polynomials. There is no colour memo and
//! no libm fallback, so the loop over a block of pixels has no branches and no calls and the
//! compiler vectorises it at every SIMD level (16 lanes with AVX-512). It never uses fused
//! multiply-adds, so every level gives the same bits as the scalar twin.
//!
//! Each ΔE is within about 6e-5 of libvmaf's (relative above 1, absolute below); the per-frame `ciede2000` deviation
//! is measured and bounded by `fast_ciede_stays_within_its_bound` (see the README).

use std::f32::consts::{FRAC_PI_2, FRAC_PI_4, PI};

use crate::cpu::SimdLevel;

use super::batch::{hue_weight_from, HUE_WEIGHT_K};

/// Pixels per block.
pub const BLOCK: usize = 256;

/// Partial sums kept side by side, so the block's sum vectorises and stays in one order.
const SUMS: usize = 16;

/// Adding and subtracting this rounds an `f32` below 2^22 to an integer held in the low
/// mantissa bits.
const SHIFT: f32 = 12_582_912.0;
/// `powf(25., 7)`.
const POW_25_7: f32 = 6_103_515_625.0;
const TWO_PI: f32 = 2.0 * PI;

/// The limited-range normalisation of one bit depth.
#[derive(Debug, Clone, Copy)]
struct Norm {
    y_offset: f32,
    y_scale: f32,
    c_offset: f32,
    c_scale: f32,
}

impl Norm {
    fn new(bit_depth: u8) -> Self {
        let scale = f64::from(1u32 << (bit_depth.clamp(8, 16) - 8));
        Norm {
            y_offset: (16.0 * scale) as f32,
            y_scale: (1.0 / (219.0 * scale)) as f32,
            c_offset: (128.0 * scale) as f32,
            c_scale: (1.0 / (224.0 * scale)) as f32,
        }
    }
}

/// One block of pixel pairs (raw sample values as `f32`) and their ΔE sum.
#[derive(Debug, Clone)]
pub struct FastBlock {
    /// Reference Y', Cb, Cr.
    pub first: [[f32; BLOCK]; 3],
    /// Distorted Y', Cb, Cr.
    pub second: [[f32; BLOCK]; 3],
    /// ΔE of each pair, once [`FastBlock::run`] returns.
    pub out: [f32; BLOCK],
    norm: Norm,
}

impl FastBlock {
    /// An empty block for samples of `bit_depth` bits.
    pub fn new(bit_depth: u8) -> Self {
        FastBlock {
            first: [[0.0; BLOCK]; 3],
            second: [[0.0; BLOCK]; 3],
            out: [0.0; BLOCK],
            norm: Norm::new(bit_depth),
        }
    }

    /// Fills `out` with the ΔE of every pair and returns the sum of the first `n` at `level`
    /// (which the caller has checked the CPU supports).
    pub fn run(&mut self, level: SimdLevel, n: usize) -> f64 {
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the scorer only picks a level the CPU supports.
            SimdLevel::Avx512 => unsafe { run_avx512(self, n) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            SimdLevel::Avx2 => unsafe { run_avx2(self, n) },
            _ => run_body(self, n),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn run_avx2(b: &mut FastBlock, n: usize) -> f64 {
    run_body(b, n)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw,avx2")]
fn run_avx512(b: &mut FastBlock, n: usize) -> f64 {
    run_body(b, n)
}

#[inline(always)]
fn run_body(b: &mut FastBlock, n: usize) -> f64 {
    let norm = b.norm;
    for k in 0..BLOCK {
        let c1 = lab(b.first[0][k], b.first[1][k], b.first[2][k], norm);
        let c2 = lab(b.second[0][k], b.second[1][k], b.second[2][k], norm);
        b.out[k] = delta_e(c1, c2);
    }
    // Pairs past `n` are left out of the sum; the lanes sum in a fixed order at every level.
    let mut sums = [0.0f64; SUMS];
    for (i, chunk) in b.out.chunks_exact(SUMS).enumerate() {
        for (j, (s, &d)) in sums.iter_mut().zip(chunk).enumerate() {
            *s += if i * SUMS + j < n { f64::from(d) } else { 0.0 };
        }
    }
    sums.iter().sum()
}

/// 2^k for an integer-valued `k` in [-126, 127], as a bit pattern.
#[inline(always)]
fn pow2i(k: i32) -> f32 {
    f32::from_bits((k.wrapping_add(127) << 23) as u32)
}

/// 2^y for -126 < y < 127; relative error about 1e-7.
#[inline(always)]
fn exp2(y: f32) -> f32 {
    let shifted = y + SHIFT;
    let k = shifted - SHIFT;
    let ki = (shifted.to_bits() as i32).wrapping_sub(SHIFT.to_bits() as i32);
    // 2^f = e^(f ln 2) for |f| ≤ 1/2, Taylor to the 7th power (error below 6e-10).
    let f = (y - k) * std::f32::consts::LN_2;
    let p = 1.0 / 5040.0;
    let p = 1.0 / 720.0 + f * p;
    let p = 1.0 / 120.0 + f * p;
    let p = 1.0 / 24.0 + f * p;
    let p = 1.0 / 6.0 + f * p;
    let p = 0.5 + f * p;
    let p = 1.0 + f * p;
    let p = 1.0 + f * p;
    p * pow2i(ki)
}

/// log2(x) for normal positive `x`; absolute error about 1e-7.
#[inline(always)]
fn log2(x: f32) -> f32 {
    // Split x = m · 2^e with m in [√½, √2).
    const SQRT_HALF_BITS: i32 = 0x3F35_04F3;
    let bits = x.to_bits() as i32;
    let e = bits.wrapping_sub(SQRT_HALF_BITS) >> 23;
    let m = f32::from_bits(bits.wrapping_sub(e << 23) as u32);
    // ln m = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172: the series to s^9 errs below 4e-10.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let p = 1.0 / 9.0;
    let p = 1.0 / 7.0 + s2 * p;
    let p = 1.0 / 5.0 + s2 * p;
    let p = 1.0 / 3.0 + s2 * p;
    let p = 1.0 + s2 * p;
    e as f32 + s * p * (2.0 * std::f32::consts::LOG2_E)
}

/// sRGB's inverse companding, with x^2.4 as 2^(2.4 log2 x).
#[inline(always)]
fn linearise(c: f32) -> f32 {
    let curved = exp2(2.4 * log2((c + 0.055) * (1.0 / 1.055)));
    if c > 10.0 / 255.0 {
        curved
    } else {
        c * (1.0 / 12.92)
    }
}

/// Cube root of a positive normal `t`, as 2^(log2(t) / 3).
#[inline(always)]
fn cbrt(t: f32) -> f32 {
    exp2(log2(t) * (1.0 / 3.0))
}

/// CIELAB's f(t).
#[inline(always)]
fn lab_f(t: f32) -> f32 {
    const KAPPA: f32 = 24389.0 / 27.0;
    const EPSILON: f32 = 216.0 / 24389.0;
    let root = cbrt(t);
    if t > EPSILON {
        root
    } else {
        (KAPPA * t + 16.0) * (1.0 / 116.0)
    }
}

/// A CIELAB colour and its chroma.
#[derive(Debug, Clone, Copy)]
struct Lab {
    l: f32,
    a: f32,
    b: f32,
    c: f32,
}

/// The CIELAB colour of a raw Y'CbCr triple.
#[inline(always)]
fn lab(y: f32, u: f32, v: f32, n: Norm) -> Lab {
    let yn = (y - n.y_offset) * n.y_scale;
    let un = (u - n.c_offset) * n.c_scale;
    let vn = (v - n.c_offset) * n.c_scale;
    let r = linearise(yn + 1.28033 * vn);
    let g = linearise(yn - 0.21482 * un - 0.38059 * vn);
    let b = linearise(yn + 2.12798 * un);
    // The D65 white point's X and Z are folded into the matrix rows.
    let x =
        r * (0.412_456_44 / 0.95047) + g * (0.357_576_08 / 0.95047) + b * (0.180_437_48 / 0.95047);
    let yy = r * 0.212_672_85 + g * 0.715_152_16 + b * 0.072_175;
    let z =
        r * (0.019_333_896 / 1.08883) + g * (0.119_192_03 / 1.08883) + b * (0.950_304_1 / 1.08883);
    let (fx, fy, fz) = (lab_f(x), lab_f(yy), lab_f(z));
    let a = 500.0 * (fx - fy);
    let bb = 200.0 * (fy - fz);
    Lab {
        l: 116.0 * fy - 16.0,
        a,
        b: bb,
        c: (a * a + bb * bb).sqrt(),
    }
}

/// (sin x, cos x) for |x| < 2^20 · π/2 (here |x| < 3π); absolute error about 1e-7.
#[inline(always)]
fn sin_cos(x: f32) -> (f32, f32) {
    // π/2 in three parts, the first two short enough that k times them is exact.
    const P1: f32 = 1.570_312_5;
    const P2: f32 = 4.837_513e-4;
    const P3: f32 = 7.549_79e-8;
    let shifted = x * (2.0 / PI) + SHIFT;
    let q = shifted.to_bits() & 3;
    let k = shifted - SHIFT;
    let r = ((x - k * P1) - k * P2) - k * P3;
    let r2 = r * r;
    // Taylor on |r| ≤ π/4: to r^9 for sine and r^10 for cosine (errors below 2e-9).
    let sp = 1.0 / 362_880.0;
    let sp = -1.0 / 5040.0 + r2 * sp;
    let sp = 1.0 / 120.0 + r2 * sp;
    let sp = -1.0 / 6.0 + r2 * sp;
    let s = r + r * r2 * sp;
    let cp = -1.0 / 3_628_800.0;
    let cp = 1.0 / 40_320.0 + r2 * cp;
    let cp = -1.0 / 720.0 + r2 * cp;
    let cp = 1.0 / 24.0 + r2 * cp;
    let c = 1.0 - 0.5 * r2 + r2 * r2 * cp;
    let odd = q & 1 != 0;
    let (s1, c1) = (if odd { c } else { s }, if odd { -s } else { c });
    let neg = q & 2 != 0;
    (if neg { -s1 } else { s1 }, if neg { -c1 } else { c1 })
}

/// sin x for |x| ≤ π/2, without reduction (Taylor to x^13, error below 7e-10).
#[inline(always)]
fn sin_small(x: f32) -> f32 {
    let x2 = x * x;
    let p = -1.0 / 6_227_020_800.0;
    let p = 1.0 / 39_916_800.0 + x2 * p;
    let p = -1.0 / 362_880.0 + x2 * p;
    let p = 1.0 / 5040.0 + x2 * p;
    let p = -1.0 / 120.0 + x2 * p;
    let p = 1.0 / 6.0 + x2 * p;
    x - x * x2 * p
}

/// e^x for x ≤ 0 (flushed to 0 below -87).
#[inline(always)]
fn exp(x: f32) -> f32 {
    let v = exp2(x.max(-87.0) * std::f32::consts::LOG2_E);
    if x < -87.0 {
        0.0
    } else {
        v
    }
}

/// atan2(y, x), 0 when both are 0; absolute error about 1e-7.
#[inline(always)]
fn atan2(y: f32, x: f32) -> f32 {
    let (ay, ax) = (y.abs(), x.abs());
    let swap = ay > ax;
    let (num, den) = if swap { (ax, ay) } else { (ay, ax) };
    // Reduce t = num/den in [0, 1] to |u| ≤ tan(π/16) around tan(jπ/8), told by comparisons.
    let high = num > 0.668_178_7 * den;
    let mid = num > 0.198_912_37 * den;
    let c = if high {
        1.0
    } else if mid {
        0.414_213_57
    } else {
        0.0
    };
    let base = if high {
        FRAC_PI_4
    } else if mid {
        PI / 8.0
    } else {
        0.0
    };
    let u = (num - c * den) / (den + c * num);
    let u2 = u * u;
    // atan's series to u^11 on u² ≤ 0.04 (error below 1e-9).
    let p = 1.0 / 11.0;
    let p = 1.0 / 9.0 - u2 * p;
    let p = 1.0 / 7.0 - u2 * p;
    let p = 1.0 / 5.0 - u2 * p;
    let p = 1.0 / 3.0 - u2 * p;
    let a = base + (u - u * u2 * p);
    let a = if swap { FRAC_PI_2 - a } else { a };
    let a = if x < 0.0 { PI - a } else { a };
    let a = if y < 0.0 { -a } else { a };
    if den == 0.0 {
        0.0
    } else {
        a
    }
}

/// The hue weighting T from one sine and cosine, as [`super::batch`] takes it.
#[inline(always)]
fn hue_weight(h: f32) -> f32 {
    let (s1, c1) = sin_cos(h);
    hue_weight_from(s1, c1, HUE_WEIGHT_K.map(|k| k as f32))
}

/// x^7.
#[inline(always)]
fn pow7(x: f32) -> f32 {
    let x2 = x * x;
    x2 * x2 * x2 * x
}

/// CIEDE2000 ΔE, in libvmaf's formulas and branches.
#[inline(always)]
fn delta_e(c1: Lab, c2: Lab) -> f32 {
    let delta_l = c2.l - c1.l;
    let l_bar = (c1.l + c2.l) * 0.5;
    let c_bar7 = pow7((c1.c + c2.c) * 0.5);
    let g = 1.0 - (c_bar7 / (c_bar7 + POW_25_7)).sqrt();
    let a1 = c1.a + c1.a * 0.5 * g;
    let a2 = c2.a + c2.a * 0.5 * g;
    let cp1 = (a1 * a1 + c1.b * c1.b).sqrt();
    let cp2 = (a2 * a2 + c2.b * c2.b).sqrt();
    let c_bar_prime = (cp1 + cp2) * 0.5;
    let delta_c = cp2 - cp1;
    let lm = l_bar - 50.0;
    let lm2 = lm * lm;
    let s_l = 1.0 + (0.015 * lm2) / (20.0 + lm2).sqrt();
    let s_c = 1.0 + 0.045 * c_bar_prime;
    let h1 = atan2(c1.b, a1);
    let h1 = if h1 < 0.0 { h1 + TWO_PI } else { h1 };
    let h2 = atan2(c2.b, a2);
    let h2 = if h2 < 0.0 { h2 + TWO_PI } else { h2 };
    let d = h2 - h1;
    let around = if h2 <= h1 { d + TWO_PI } else { d - TWO_PI };
    let far = (h1 - h2).abs() > PI;
    let delta_h = if c1.c == 0.0 || c2.c == 0.0 {
        0.0
    } else if far {
        around
    } else {
        d
    };
    let delta_big_h = 2.0 * (cp1 * cp2).sqrt() * sin_small(delta_h * 0.5);
    // libvmaf adds 2π to the sum without taking it back past 2π; kept.
    let h_bar = if far {
        (h1 + h2 + TWO_PI) * 0.5
    } else {
        (h1 + h2) * 0.5
    };
    let s_h = 1.0 + 0.015 * c_bar_prime * hue_weight(h_bar);
    let t = (h_bar * (180.0 / PI) - 275.0) * (1.0 / 25.0);
    let angle = 60.0 * exp(-(t * t)) * (PI / 180.0);
    let c7 = pow7(c_bar_prime);
    let r_t = -2.0 * (c7 / (c7 + POW_25_7)).sqrt() * sin_small(angle);
    let lightness = delta_l / (0.65 * s_l);
    let chroma = delta_c / s_c;
    let hue = delta_big_h / (4.0 * s_h);
    let sq = lightness * lightness + chroma * chroma + hue * hue + r_t * chroma * hue;
    sq.max(0.0).sqrt()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// ΔE of one pair of raw triples through the fast path's scalar code.
    pub fn delta_e_of(first: [u32; 3], second: [u32; 3], bit_depth: u8) -> f32 {
        let n = Norm::new(bit_depth);
        let f = |t: [u32; 3]| lab(t[0] as f32, t[1] as f32, t[2] as f32, n);
        delta_e(f(first), f(second))
    }

    #[test]
    fn stand_ins_are_accurate() {
        let mut worst = [0.0f64; 5];
        for i in 0..20_000 {
            let x = i as f32 / 20_000.0;
            let p = 0.09 + 2.5 * x;
            let want = f64::from(p).powf(2.4);
            worst[0] = worst[0].max(((f64::from(exp2(2.4 * log2(p))) - want) / want).abs());
            let t = 0.008 + 20.0 * x;
            let want = f64::from(t).cbrt();
            worst[1] = worst[1].max(((f64::from(cbrt(t)) - want) / want).abs());
            let a = -3.0 * PI + 6.0 * PI * x;
            let (s, c) = sin_cos(a);
            let (ws, wc) = f64::from(a).sin_cos();
            worst[2] = worst[2].max((f64::from(s) - ws).abs().max((f64::from(c) - wc).abs()));
            let a = FRAC_PI_2 * (2.0 * x - 1.0);
            worst[2] = worst[2].max((f64::from(sin_small(a)) - f64::from(a).sin()).abs());
            let e = -90.0 * x;
            worst[3] = worst[3].max((f64::from(exp(e)) - f64::from(e).exp()).abs());
            let (yy, xx) = ((x * 37.0).sin() * (1.0 + x), (x * 53.0).cos() * (2.0 - x));
            let want = f64::from(yy).atan2(f64::from(xx));
            worst[4] = worst[4].max((f64::from(atan2(yy, xx)) - want).abs());
        }
        assert!(worst.iter().all(|&w| w < 1e-6), "worst errors {worst:?}");
        assert_eq!(atan2(0.0, 0.0), 0.0);
        assert_eq!(exp(-200.0), 0.0);
    }
}
