//! ΔE of many colour pairs at once: the checked stand-ins of [`super::fast`] written without
//! branches over arrays, so that the compiler can run them on 2, 4 or 8 lanes, with one
//! dispatch on the SIMD level. A lane whose stand-in results might round differently from
//! libm's is redone by [`kernel::delta_e`]; every lane therefore equals
//! [`kernel::delta_e_libm`] bit for bit, at every level.

use std::f64::consts::{FRAC_PI_2, PI};

use crate::cpu::SimdLevel;

use super::fast::MARGIN;
use super::kernel::{self, Lab};

/// Colour pairs per batch.
pub const LANES: usize = 64;

/// `pow(25, 7)` and `powf(25., 7)`, as in [`kernel`].
const POW_25_7: f64 = 6_103_515_625.0;
const POW_25_7_F32: f32 = 6_103_515_625.0;
/// Adding and subtracting this rounds to an integer held in the low mantissa bits.
const SHIFT: f64 = 6_755_399_441_055_744.0;

/// Pairs of colours and the work arrays of one batch.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Reference colours.
    pub first: [Lab; LANES],
    /// Distorted colours.
    pub second: [Lab; LANES],
    /// ΔE of each pair, once [`Batch::run`] returns.
    pub out: [f32; LANES],
    ok: [bool; LANES],
    pow_ok: [bool; LANES],
    c_bar_prime: [f32; LANES],
    sin_angle: [f64; LANES],
    terms: [[f32; 3]; LANES],
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            first: [Lab::default(); LANES],
            second: [Lab::default(); LANES],
            out: [0.0; LANES],
            ok: [false; LANES],
            pow_ok: [false; LANES],
            c_bar_prime: [0.0; LANES],
            sin_angle: [0.0; LANES],
            terms: [[0.0; 3]; LANES],
        }
    }
}

/// The float all of [v − e, v + e] rounds to (meaningful when the flag is set); as
/// [`super::fast::settled`].
#[inline(always)]
fn settle(v: f64, e: f64) -> (f32, bool) {
    let lo = (v - e) as f32;
    let hi = (v + e) as f32;
    (lo, lo.to_bits() == hi.to_bits() || e == 0.0)
}

#[inline(always)]
fn select(c: bool, a: f64, b: f64) -> f64 {
    if c {
        a
    } else {
        b
    }
}

/// (sin x, cos x) as [`super::fast::sin_cos`], without branches.
#[inline(always)]
fn sin_cos(x: f64) -> (f64, f64) {
    const PIO2_HI: f64 = 1.570_796_326_734_125_6;
    const PIO2_LO: f64 = 6.077_100_506_506_192e-11;
    let shifted = x * (2.0 / PI) + SHIFT;
    let q = shifted.to_bits() & 3;
    let k = shifted - SHIFT;
    let r = (x - k * PIO2_HI) - k * PIO2_LO;
    let r2 = r * r;
    let sp = -1.0 / 6.0
        + r2 * (1.0 / 120.0
            + r2 * (-1.0 / 5040.0
                + r2 * (1.0 / 362_880.0
                    + r2 * (-1.0 / 39_916_800.0
                        + r2 * (1.0 / 6_227_020_800.0
                            + r2 * (-1.0 / 1_307_674_368_000.0
                                + r2 * (1.0 / 355_687_428_096_000.0)))))));
    let s = r + r * r2 * sp;
    let cp = 1.0 / 24.0
        + r2 * (-1.0 / 720.0
            + r2 * (1.0 / 40_320.0
                + r2 * (-1.0 / 3_628_800.0
                    + r2 * (1.0 / 479_001_600.0
                        + r2 * (-1.0 / 87_178_291_200.0
                            + r2 * (1.0 / 20_922_789_888_000.0
                                + r2 * (-1.0 / 6_402_373_705_728_000.0)))))));
    let c = 1.0 - 0.5 * r2 + r2 * r2 * cp;
    let odd = q & 1 != 0;
    let (s1, c1) = (select(odd, c, s), select(odd, -s, c));
    let neg = q & 2 != 0;
    (select(neg, -s1, s1), select(neg, -c1, c1))
}

/// exp(x) as [`super::fast::exp`] for -700 < x ≤ 0, without branches.
#[inline(always)]
fn exp(x: f64) -> f64 {
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let shifted = x * std::f64::consts::LOG2_E + SHIFT;
    let k = shifted - SHIFT;
    let ki = (shifted.to_bits() as i64).wrapping_sub(SHIFT.to_bits() as i64);
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let p = 1.0 / 479_001_600.0 + r * (1.0 / 6_227_020_800.0);
    let p = 1.0 / 39_916_800.0 + r * p;
    let p = 1.0 / 3_628_800.0 + r * p;
    let p = 1.0 / 362_880.0 + r * p;
    let p = 1.0 / 40_320.0 + r * p;
    let p = 1.0 / 5040.0 + r * p;
    let p = 1.0 / 720.0 + r * p;
    let p = 1.0 / 120.0 + r * p;
    let p = 1.0 / 24.0 + r * p;
    let p = 1.0 / 6.0 + r * p;
    let p = 0.5 + r * p;
    let p = 1.0 + r * p;
    let p = 1.0 + r * p;
    p * f64::from_bits((ki.wrapping_add(1023) as u64) << 52)
}

/// atan2(y, x) as [`super::fast::atan2`] for y, x not zero, without branches.
#[inline(always)]
fn atan2(y: f64, x: f64) -> f64 {
    let (ay, ax) = (y.abs(), x.abs());
    let swap = ay > ax;
    let (num, den) = (select(swap, ax, ay), select(swap, ay, ax));
    // The interval of t = num / den is told by comparisons without the division, and
    // (t − c) / (1 + t·c) is taken as one quotient: each differs from the two-division form
    // by an ulp or two, far inside the margin.
    let high = num > 0.668_178_637_919_298_9 * den;
    let mid = num > 0.198_912_367_379_658 * den;
    let c = select(high, 1.0, select(mid, 0.414_213_562_373_095_03, 0.0));
    let base = select(high, PI / 4.0, select(mid, PI / 8.0, 0.0));
    let u = (num - c * den) / (den + c * num);
    let u2 = u * u;
    let mut p = 1.0 / 25.0;
    p = 1.0 / 23.0 - u2 * p;
    p = 1.0 / 21.0 - u2 * p;
    p = 1.0 / 19.0 - u2 * p;
    p = 1.0 / 17.0 - u2 * p;
    p = 1.0 / 15.0 - u2 * p;
    p = 1.0 / 13.0 - u2 * p;
    p = 1.0 / 11.0 - u2 * p;
    p = 1.0 / 9.0 - u2 * p;
    p = 1.0 / 7.0 - u2 * p;
    p = 1.0 / 5.0 - u2 * p;
    p = 1.0 / 3.0 - u2 * p;
    let a = base + (u - u * u2 * p);
    let a = select(swap, FRAC_PI_2 - a, a);
    let a = select(x < 0.0, PI - a, a);
    select(y < 0.0, -a, a)
}

/// The hue weighting T = 1 − 0.17 cos(h − π/6) + 0.24 cos 2h + 0.32 cos(3h + π/30)
/// − 0.20 cos(4h − 7π/20), from one sine and cosine: the multiples of h by the double-angle
/// and sum formulas, the phase shifts by the angle-difference formula with the shifts' sines
/// and cosines as constants. Every step adds an error of a few 1e-16, so T stays within about
/// 1e-14 of libm's four cosines (whose arguments C rounds, by at most 4e-15): far inside the
/// margin that `settle` allows.
#[inline(always)]
fn hue_weight(h: f64) -> f64 {
    let (s1, c1) = sin_cos(h);
    hue_weight_from(s1, c1, HUE_WEIGHT_K)
}

/// The constants of T for [`hue_weight_from`]: 1, 2, the weights 0.17, 0.24, 0.32 and 0.20,
/// then cos and sin of π/6, π/30 and 7π/20.
pub(super) const HUE_WEIGHT_K: [f64; 12] = [
    1.0,
    2.0,
    0.17,
    0.24,
    0.32,
    0.20,
    0.866_025_403_784_438_6,
    0.5,
    0.994_521_895_368_273_3,
    0.104_528_463_267_653_47,
    0.453_990_499_739_546_8,
    0.891_006_524_188_367_8,
];

/// T from sin h and cos h, in either float type, with [`HUE_WEIGHT_K`] rounded to the type
/// (the operations and their order are the same in both; [`super::approx`] uses `f32`).
#[inline(always)]
pub(super) fn hue_weight_from<T>(s1: T, c1: T, k: [T; 12]) -> T
where
    T: Copy + std::ops::Add<Output = T> + std::ops::Sub<Output = T> + std::ops::Mul<Output = T>,
{
    let [one, two, w1, w2, w3, w4, c6, s6, c30, s30, c7, s7] = k;
    let (s2, c2) = (two * s1 * c1, c1 * c1 - s1 * s1);
    let (s3, c3) = (s1 * c2 + c1 * s2, c1 * c2 - s1 * s2);
    let (s4, c4) = (two * s2 * c2, c2 * c2 - s2 * s2);
    one - w1 * (c1 * c6 + s1 * s6) + w2 * c2 + w3 * (c3 * c30 - s3 * s30) - w4 * (c4 * c7 + s4 * s7)
}

/// h′ in [0, 2π) for x, y not zero.
#[inline(always)]
fn hue_angle(x: f32, y: f32) -> (f32, bool) {
    let v = atan2(f64::from(x), f64::from(y));
    let (h, ok) = settle(v, v.abs() * MARGIN);
    let wrapped = (f64::from(h) + 2.0 * PI) as f32;
    (
        if h < 0.0 { wrapped } else { h },
        ok && x != 0.0 && y != 0.0,
    )
}

/// Everything up to R_T's `powf`, for lane `k`.
#[inline(always)]
fn before_powf(b: &mut Batch, k: usize) {
    let (c1, c2) = (b.first[k], b.second[k]);
    let delta_l = c2.l - c1.l;
    let l_bar = (c1.l + c2.l) / 2.0;
    let c_bar = (c1.c + c2.c) / 2.0;
    let cb = f64::from(c_bar);
    let cb2 = cb * cb;
    let c_bar7 = cb2 * cb2 * cb2 * cb;
    let g = 1.0 - (c_bar7 / (c_bar7 + POW_25_7)).sqrt();
    let (a1, ok1) = settle(
        f64::from(c1.a) + f64::from(c1.a / 2.0) * g,
        f64::from(c1.a.abs()) * MARGIN,
    );
    let (a2, ok2) = settle(
        f64::from(c2.a) + f64::from(c2.a / 2.0) * g,
        f64::from(c2.a.abs()) * MARGIN,
    );
    let (a1d, a2d) = (f64::from(a1), f64::from(a2));
    let (b1d, b2d) = (f64::from(c1.b), f64::from(c2.b));
    let cp1 = (a1d * a1d + b1d * b1d).sqrt() as f32;
    let cp2 = (a2d * a2d + b2d * b2d).sqrt() as f32;
    let c_bar_prime = (cp1 + cp2) / 2.0;
    let delta_c = cp2 - cp1;
    let lm = f64::from(l_bar - 50.0);
    let lm2 = lm * lm;
    let s_l = (1.0 + (0.015 * lm2) / (20.0 + lm2).sqrt()) as f32;
    let s_c = (1.0 + 0.045 * f64::from(c_bar_prime)) as f32;
    let (h1, ok3) = hue_angle(c1.b, a1);
    let (h2, ok4) = hue_angle(c2.b, a2);
    let d = h2 - h1;
    let dd = f64::from(d);
    let around = if h2 <= h1 {
        (dd + 2.0 * PI) as f32
    } else {
        (dd - 2.0 * PI) as f32
    };
    let short = f64::from((h1 - h2).abs()) <= PI;
    let delta_h = if c1.c == 0.0 || c2.c == 0.0 {
        0.0
    } else if short {
        d
    } else {
        around
    };
    let root = 2.0 * f64::from(cp1 * cp2).sqrt();
    let half = f64::from(delta_h) / 2.0;
    let sin_half = select(half == 0.0, half, sin_cos(half).0);
    let wide = root * sin_half;
    let (delta_big_h, ok5) = settle(wide, wide.abs() * MARGIN);
    let sum = h1 + h2;
    let h_bar = if f64::from(h1 - h2).abs() > PI {
        ((f64::from(sum) + 2.0 * PI) / 2.0) as f32
    } else {
        (f64::from(sum) / 2.0) as f32
    };
    let hd = f64::from(h_bar);
    let (t_weight, ok6) = settle(hue_weight(hd), MARGIN);
    let s_h = (1.0 + 0.015 * f64::from(c_bar_prime) * f64::from(t_weight)) as f32;
    let in_degrees = (hd * (180.0 / PI)) as f32;
    let t = ((f64::from(in_degrees) - 275.0) * (1.0 / 25.0)) as f32;
    let x = f64::from(-(t * t));
    let wide_degrees = 60.0 * exp(x);
    let (angle_degrees, ok7) = settle(wide_degrees, wide_degrees * MARGIN);
    let angle = f64::from((f64::from(angle_degrees) * (PI / 180.0)) as f32);
    b.sin_angle[k] = select(angle == 0.0, angle, sin_cos(angle).0);
    b.c_bar_prime[k] = c_bar_prime;
    b.terms[k] = [
        delta_l / (0.65f32 * s_l),
        delta_c / (1.0f32 * s_c),
        delta_big_h / (4.0f32 * s_h),
    ];
    b.ok[k] = ok1 & ok2 & ok3 & ok4 & ok5 & ok6 & ok7 & (x > -700.0);
}

/// ΔE from R_T's `powf(C̄′, 7)` = `c7`, and whether R_T settled.
#[inline(always)]
fn finish(b: &Batch, k: usize, c7: f32) -> (f32, bool) {
    let weight = f64::from(c7 / (c7 + POW_25_7_F32)).sqrt();
    let v = -2.0 * weight * b.sin_angle[k];
    let (r_t, ok) = settle(v, v.abs() * MARGIN);
    let [lightness, chroma, hue] = b.terms[k];
    let (ld, cd, hd) = (f64::from(lightness), f64::from(chroma), f64::from(hue));
    let out = (ld * ld + cd * cd + hd * hd + f64::from(r_t * chroma * hue)).sqrt() as f32;
    (out, ok)
}

/// The two adjacent floats around C̄′⁷, one of which libm's `powf(C̄′, 7)` returns, and
/// whether they are meaningful (C̄′⁷ well inside the float range).
///
/// glibc's `powf` is within 0.82 ulp of the exact power (its documented bound). The power
/// taken here in `double` is within 4e-16 of it relatively, far below an ulp of `float`: so
/// the floats within 0.82 ulp of the exact power are at most the largest float `lo` not
/// above this one and the next float up (the one below `lo` is more than 0.99 ulp away).
#[inline(always)]
pub fn pow7_brackets(c: f32) -> (f32, f32, bool) {
    let c = f64::from(c);
    let c2 = c * c;
    let t = c2 * c2 * c2 * c;
    let n = t as f32;
    let below = f64::from(n) > t;
    let lo = f32::from_bits(n.to_bits().wrapping_sub(u32::from(below)));
    let hi = f32::from_bits(lo.to_bits().wrapping_add(1));
    (lo, hi, t < 1e37)
}

/// R_T and ΔE for lane `k` without `powf`: from both floats `powf` may return, kept when
/// they give the same ΔE. `pow_ok[k]` says whether they did; otherwise [`after_powf`] redoes
/// the lane with libm's `powf`.
#[inline(always)]
fn after_powf_bracketed(b: &mut Batch, k: usize) {
    let (lo, hi, in_range) = pow7_brackets(b.c_bar_prime[k]);
    let (out_lo, ok_lo) = finish(b, k, lo);
    let (out_hi, ok_hi) = finish(b, k, hi);
    b.out[k] = out_lo;
    b.pow_ok[k] = in_range & (out_lo.to_bits() == out_hi.to_bits()) & ok_lo & ok_hi;
}

/// R_T and ΔE from libm's `powf(C̄′, 7)`, for lane `k`.
#[inline(always)]
fn after_powf(b: &mut Batch, k: usize) {
    let (out, ok) = finish(b, k, b.c_bar_prime[k].powf(7.0));
    b.out[k] = out;
    b.ok[k] &= ok;
}

#[inline(always)]
fn run_body(b: &mut Batch, n: usize) {
    for k in 0..LANES {
        before_powf(b, k);
    }
    for k in 0..LANES {
        after_powf_bracketed(b, k);
    }
    // libm's powf has no checked stand-in (its own result is only within 0.82 ulp), so the
    // few lanes whose ΔE depends on which of its two possible results it gives call it as C
    // calls it, outside the loops the compiler vectorises.
    for k in 0..n.min(LANES) {
        if !b.pow_ok[k] {
            after_powf(b, k);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2(b: &mut Batch, n: usize) {
    run_body(b, n);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")]
fn run_avx512(b: &mut Batch, n: usize) {
    run_body(b, n);
}

impl Batch {
    /// How many of the first `n` pairs the last [`Batch::run`] had to redo with libm.
    pub fn redone(&self, n: usize) -> usize {
        self.ok[..n.min(LANES)].iter().filter(|&&ok| !ok).count()
    }

    /// How many of the first `n` pairs the last [`Batch::run`] had to call libm's `powf` for.
    pub fn powf_calls(&self, n: usize) -> usize {
        self.pow_ok[..n.min(LANES)]
            .iter()
            .filter(|&&ok| !ok)
            .count()
    }

    /// Fills `out[..n]` with the ΔE of the first `n` pairs, at `level` (which the caller has
    /// checked the CPU supports).
    pub fn run(&mut self, level: SimdLevel, n: usize) {
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the scorer only picks a level the CPU supports.
            SimdLevel::Avx512 => unsafe { run_avx512(self, n) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            SimdLevel::Avx2 => unsafe { run_avx2(self, n) },
            _ => run_body(self, n),
        }
        for k in 0..n.min(LANES) {
            if !self.ok[k] {
                self.out[k] = kernel::delta_e(&self.first[k], &self.second[k]);
            }
        }
    }
}
