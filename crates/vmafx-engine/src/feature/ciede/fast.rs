//! Cheap stand-ins for the libm calls of CIEDE2000 that still give libm's exact `float`
//! results. Each stand-in is accurate to a few parts in 10^16, where glibc's routines are
//! within an ulp of the true value; every call site rounds to `float` soon after, through
//! steps that cannot amplify the difference more than a little. So the site evaluates its
//! expression with the stand-in, widens the result by a margin [`MARGIN`] far above both
//! errors, and keeps the `float` only when both ends of that interval round to the same one:
//! then libm's chain, which lies inside the interval, rounds to it too. Otherwise (about once
//! in 10^5 values) the site is evaluated again with the libm call itself.

use std::f64::consts::{FRAC_PI_2, PI};

/// Relative margin put around a stand-in's result before the `float` rounding is checked.
pub const MARGIN: f64 = 1e-12;

/// The `float` that every value within `e` of `v` rounds to, if there is one. A margin of 0
/// comes only with a stand-in result of exactly ±0, which every site gets only where libm's
/// chain gives the same zero (a factor or argument that is itself exactly 0), so it is kept
/// with its sign (`-0.0 + 0.0` would give +0).
#[inline(always)]
pub fn settled(v: f64, e: f64) -> Option<f32> {
    let lo = (v - e) as f32;
    let hi = (v + e) as f32;
    (lo.to_bits() == hi.to_bits() || e == 0.0).then_some(lo)
}

/// x rounded to an integer (ties to even) without a libm call, for |x| < 2^51.
#[inline(always)]
fn round(x: f64) -> f64 {
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    (x + SHIFT) - SHIFT
}

/// π/2 split so that `k * PIO2_HI` is exact for the small `k` used here (33 leading bits).
const PIO2_HI: f64 = 1.570_796_326_734_125_6;
const PIO2_LO: f64 = 6.077_100_506_506_192e-11;

/// sin(r) for |r| ≤ π/4 + a little (Taylor to r^17).
#[inline(always)]
fn sin_poly(r: f64) -> f64 {
    let r2 = r * r;
    let p = -1.0 / 6.0
        + r2 * (1.0 / 120.0
            + r2 * (-1.0 / 5040.0
                + r2 * (1.0 / 362_880.0
                    + r2 * (-1.0 / 39_916_800.0
                        + r2 * (1.0 / 6_227_020_800.0
                            + r2 * (-1.0 / 1_307_674_368_000.0
                                + r2 * (1.0 / 355_687_428_096_000.0)))))));
    r + r * r2 * p
}

/// cos(r) for |r| ≤ π/4 + a little (Taylor to r^18).
#[inline(always)]
fn cos_poly(r: f64) -> f64 {
    let r2 = r * r;
    let p = 1.0 / 24.0
        + r2 * (-1.0 / 720.0
            + r2 * (1.0 / 40_320.0
                + r2 * (-1.0 / 3_628_800.0
                    + r2 * (1.0 / 479_001_600.0
                        + r2 * (-1.0 / 87_178_291_200.0
                            + r2 * (1.0 / 20_922_789_888_000.0
                                + r2 * (-1.0 / 6_402_373_705_728_000.0)))))));
    1.0 - 0.5 * r2 + r2 * r2 * p
}

/// (sin x, cos x) for |x| < 100, with an absolute error of a few 1e-16.
#[inline(always)]
pub fn sin_cos(x: f64) -> (f64, f64) {
    let k = round(x * (2.0 / PI));
    let r = (x - k * PIO2_HI) - k * PIO2_LO;
    let (s, c) = (sin_poly(r), cos_poly(r));
    match (k as i64) & 3 {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

/// exp(x) for -700 < x ≤ 0, relative error a few 1e-16.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let k = round(x * std::f64::consts::LOG2_E);
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = 1.0 / 6_227_020_800.0;
    for d in [
        479_001_600.0,
        39_916_800.0,
        3_628_800.0,
        362_880.0,
        40_320.0,
        5040.0,
        720.0,
        120.0,
        24.0,
        6.0,
        2.0,
        1.0,
        1.0,
    ] {
        p = p * r + 1.0 / d;
    }
    p * f64::from_bits(((1023 + k as i64) as u64) << 52)
}

/// atan(t) for 0 ≤ t ≤ 1, absolute error a few 1e-16 and relative error as small near 0.
#[inline(always)]
fn atan_unit(t: f64) -> f64 {
    // Reduce to |u| ≤ tan(π/16) around c = tan(jπ/8).
    const TANS: [f64; 3] = [0.0, 0.414_213_562_373_095_03, 1.0];
    const ANGLES: [f64; 3] = [0.0, PI / 8.0, PI / 4.0];
    let j = if t <= 0.198_912_367_379_658 {
        0
    } else if t <= 0.668_178_637_919_298_9 {
        1
    } else {
        2
    };
    let c = TANS[j];
    let u = if j == 0 { t } else { (t - c) / (1.0 + t * c) };
    let u2 = u * u;
    let mut p = 0.0;
    for n in (1..=12).rev() {
        let term = 1.0 / f64::from(2 * n + 1);
        p = (if n % 2 == 1 { -term } else { term }) + u2 * p;
    }
    ANGLES[j] + (u + u * u2 * p)
}

/// atan2(y, x) for y, x not zero, absolute error a few 1e-16 (relative as small near 0).
#[inline(always)]
pub fn atan2(y: f64, x: f64) -> f64 {
    let (ay, ax) = (y.abs(), x.abs());
    let a = if ay <= ax {
        atan_unit(ay / ax)
    } else {
        FRAC_PI_2 - atan_unit(ax / ay)
    };
    let a = if x < 0.0 { PI - a } else { a };
    if y < 0.0 {
        -a
    } else {
        a
    }
}
