//! Scalar kernels of the PSNR-HVS extractor (Xiph's `calc_psnrhvs` as libvmaf v3.2.0 runs it):
//! the Daala 8x8 integer DCT, the per-block masking and weighted error terms, the plane sum,
//! and the dispatch to the SIMD twins in [`super::avx2`] and [`super::avx512`].
//!
//! Every float operation is an `f32` one in libvmaf's order except where libvmaf itself widens
//! to `f64` (the masking table and the square root). The twins run the same operations with one
//! block per lane, so a lane's sequence of roundings is the scalar block's; only the running
//! plane total, which libvmaf adds term by term across all blocks, is kept serial.

use crate::cpu::SimdLevel;
use crate::picture::{Pixel, Plane};

/// The sample types the SIMD kernels read from planes.
#[cfg(target_arch = "x86_64")]
pub trait LaneSample: super::avx512::Sample + super::avx2::Sample {}
#[cfg(target_arch = "x86_64")]
impl<T: super::avx512::Sample + super::avx2::Sample> LaneSample for T {}
/// The sample types the SIMD kernels read from planes.
#[cfg(not(target_arch = "x86_64"))]
pub trait LaneSample {}
#[cfg(not(target_arch = "x86_64"))]
impl<T> LaneSample for T {}

/// Blocks are 8x8 and start every 7 samples, so neighbouring blocks share a row or column.
pub const STEP: usize = 7;

/// libvmaf's contrast sensitivity tables (luma, then the 4:2:0 chroma tables it uses for every
/// chroma format), row-major by vertical then horizontal frequency. They are kept as `f64` and
/// narrowed at run time because the C tables are `float`s initialised from `double` literals:
/// narrowing a double, not parsing straight to `f32`, is what gives their values.
const CSF: [[f64; 64]; 3] = [
    [
        1.6193873005,
        2.2901594831,
        2.08509755623,
        1.48366094411,
        1.00227514334,
        0.678296995242,
        0.466224900598,
        0.3265091542,
        2.2901594831,
        1.94321815382,
        2.04793073064,
        1.68731108984,
        1.2305666963,
        0.868920337363,
        0.61280991668,
        0.436405793551,
        2.08509755623,
        2.04793073064,
        1.34329019223,
        1.09205635862,
        0.875748795257,
        0.670882927016,
        0.501731932449,
        0.372504254596,
        1.48366094411,
        1.68731108984,
        1.09205635862,
        0.772819797575,
        0.605636379554,
        0.48309405692,
        0.380429446972,
        0.295774038565,
        1.00227514334,
        1.2305666963,
        0.875748795257,
        0.605636379554,
        0.448996256676,
        0.352889268808,
        0.283006984131,
        0.226951348204,
        0.678296995242,
        0.868920337363,
        0.670882927016,
        0.48309405692,
        0.352889268808,
        0.27032073436,
        0.215017739696,
        0.17408067321,
        0.466224900598,
        0.61280991668,
        0.501731932449,
        0.380429446972,
        0.283006984131,
        0.215017739696,
        0.168869545842,
        0.136153931001,
        0.3265091542,
        0.436405793551,
        0.372504254596,
        0.295774038565,
        0.226951348204,
        0.17408067321,
        0.136153931001,
        0.109083846276,
    ],
    [
        1.91113096927,
        2.46074210438,
        1.18284184739,
        1.14982565193,
        1.05017074788,
        0.898018824055,
        0.74725392039,
        0.615105596242,
        2.46074210438,
        1.58529308355,
        1.21363250036,
        1.38190029285,
        1.33100189972,
        1.17428548929,
        0.996404342439,
        0.830890433625,
        1.18284184739,
        1.21363250036,
        0.978712413627,
        1.02624506078,
        1.03145147362,
        0.960060382087,
        0.849823426169,
        0.731221236837,
        1.14982565193,
        1.38190029285,
        1.02624506078,
        0.861317501629,
        0.801821139099,
        0.751437590932,
        0.685398513368,
        0.608694761374,
        1.05017074788,
        1.33100189972,
        1.03145147362,
        0.801821139099,
        0.676555426187,
        0.605503172737,
        0.55002013668,
        0.495804539034,
        0.898018824055,
        1.17428548929,
        0.960060382087,
        0.751437590932,
        0.605503172737,
        0.514674450957,
        0.454353482512,
        0.407050308965,
        0.74725392039,
        0.996404342439,
        0.849823426169,
        0.685398513368,
        0.55002013668,
        0.454353482512,
        0.389234902883,
        0.342353999733,
        0.615105596242,
        0.830890433625,
        0.731221236837,
        0.608694761374,
        0.495804539034,
        0.407050308965,
        0.342353999733,
        0.295530605237,
    ],
    [
        2.03871978502,
        2.62502345193,
        1.26180942886,
        1.11019789803,
        1.01397751469,
        0.867069376285,
        0.721500455585,
        0.593906509971,
        2.62502345193,
        1.69112867013,
        1.17180569821,
        1.3342742857,
        1.28513006198,
        1.13381474809,
        0.962064122248,
        0.802254508198,
        1.26180942886,
        1.17180569821,
        0.944981930573,
        0.990876405848,
        0.995903384143,
        0.926972725286,
        0.820534991409,
        0.706020324706,
        1.11019789803,
        1.3342742857,
        0.990876405848,
        0.831632933426,
        0.77418706195,
        0.725539939514,
        0.661776842059,
        0.587716619023,
        1.01397751469,
        1.28513006198,
        0.995903384143,
        0.77418706195,
        0.653238524286,
        0.584635025748,
        0.531064164893,
        0.478717061273,
        0.867069376285,
        1.13381474809,
        0.926972725286,
        0.725539939514,
        0.584635025748,
        0.496936637883,
        0.438694579826,
        0.393021669543,
        0.721500455585,
        0.962064122248,
        0.820534991409,
        0.661776842059,
        0.531064164893,
        0.438694579826,
        0.375820256136,
        0.330555063063,
        0.593906509971,
        0.802254508198,
        0.706020324706,
        0.587716619023,
        0.478717061273,
        0.393021669543,
        0.330555063063,
        0.285345396658,
    ],
];

/// The constant that turns a CSF weight into a masking weight (squared), from the
/// PSNR-HVS-M paper by way of Xiph's implementation.
const MASK_SCALE: f64 = 0.3885746225901003;

/// `1 / 63.f * 64` and `1 / 15.f * 16`, folded in `f32` as C folds them.
const GVAR_SCALE: f32 = 1.0 / 63.0 * 64.0;
const VAR_SCALE: f32 = 1.0 / 15.0 * 16.0;

/// The weights of one plane: CSF and masking, both `f32`, indexed by coefficient.
#[derive(Debug, Clone)]
pub struct Tables {
    /// Contrast sensitivity weight of each coefficient.
    pub csf: [f32; 64],
    /// Masking weight of each coefficient: `(csf * MASK_SCALE)^2` in `f64`, then narrowed.
    pub mask: [f32; 64],
}

impl Tables {
    /// The tables of plane `plane` (0 luma, 1 Cb, 2 Cr; any chroma format).
    pub fn for_plane(plane: usize) -> Tables {
        let csf64 = &CSF[plane.min(2)];
        let csf: [f32; 64] = std::array::from_fn(|k| csf64[k] as f32);
        let mask = std::array::from_fn(|k| {
            let scaled = f64::from(csf[k]) * MASK_SCALE;
            (scaled * scaled) as f32
        });
        Tables { csf, mask }
    }
}

/// The Daala 8-point forward DCT (`od_bin_fdct8`) in lifting steps, written once for every
/// lane type: `$add`, `$sub`, `$half` (`OD_UNBIASED_RSHIFT32(a, 1)`) and `$mul::<S>(a, c, r)`
/// (`(a * c + r) >> S`) are the lane operations, all wrapping like 32-bit C integers.
macro_rules! fdct8 {
    ($x:expr, $add:ident, $sub:ident, $half:ident, $mul:ident) => {{
        let x = $x;
        let (mut t0, mut t4, mut t2, mut t6) = (x[0], x[1], x[2], x[3]);
        let (mut t7, mut t3, mut t5, mut t1) = (x[4], x[5], x[6], x[7]);
        t1 = $sub(t0, t1);
        let t1h = $half(t1);
        t0 = $sub(t0, t1h);
        t4 = $add(t4, t5);
        let t4h = $half(t4);
        t5 = $sub(t5, t4h);
        t3 = $sub(t2, t3);
        t2 = $sub(t2, $half(t3));
        t6 = $add(t6, t7);
        let t6h = $half(t6);
        t7 = $sub(t6h, t7);
        t0 = $add(t0, t6h);
        t6 = $sub(t0, t6);
        t2 = $sub(t4h, t2);
        t4 = $sub(t2, t4);
        t0 = $sub(t0, $mul::<15>(t4, 13573, 16384));
        t4 = $add(t4, $mul::<14>(t0, 11585, 8192));
        t0 = $sub(t0, $mul::<15>(t4, 13573, 16384));
        t6 = $sub(t6, $mul::<15>(t2, 21895, 16384));
        t2 = $add(t2, $mul::<14>(t6, 15137, 8192));
        t6 = $sub(t6, $mul::<15>(t2, 21895, 16384));
        t3 = $add(t3, $mul::<15>(t5, 19195, 16384));
        t5 = $add(t5, $mul::<14>(t3, 11585, 8192));
        t3 = $sub(t3, $mul::<13>(t5, 7489, 4096));
        t7 = $sub($half(t5), t7);
        t5 = $sub(t5, t7);
        t3 = $sub(t1h, t3);
        t1 = $sub(t1, t3);
        t7 = $add(t7, $mul::<15>(t1, 3227, 16384));
        t1 = $sub(t1, $mul::<15>(t7, 6393, 16384));
        t7 = $add(t7, $mul::<15>(t1, 3227, 16384));
        t5 = $add(t5, $mul::<13>(t3, 2485, 4096));
        t3 = $sub(t3, $mul::<15>(t5, 18205, 16384));
        t5 = $add(t5, $mul::<13>(t3, 2485, 4096));
        [t0, t1, t2, t3, t4, t5, t6, t7]
    }};
}
pub(crate) use fdct8;

/// The 2-D DCT of a block held as 64 lanes (`od_bin_fdct8x8`): columns first into a
/// transposed buffer, then the columns of that, so `out[8 * v + u]` is vertical frequency `v`,
/// horizontal frequency `u`. `$dct` maps `[T; 8]` to `[T; 8]`.
macro_rules! fdct8x8 {
    ($block:expr, $dct:ident) => {{
        let b = $block;
        let mut z = [b[0]; 64];
        for i in 0..8 {
            let col = $dct([
                b[i],
                b[i + 8],
                b[i + 16],
                b[i + 24],
                b[i + 32],
                b[i + 40],
                b[i + 48],
                b[i + 56],
            ]);
            z[8 * i..8 * i + 8].copy_from_slice(&col);
        }
        for i in 0..8 {
            let col = $dct([
                z[i],
                z[i + 8],
                z[i + 16],
                z[i + 24],
                z[i + 32],
                z[i + 40],
                z[i + 48],
                z[i + 56],
            ]);
            b[8 * i..8 * i + 8].copy_from_slice(&col);
        }
    }};
}
pub(crate) use fdct8x8;

#[inline(always)]
fn add(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

#[inline(always)]
fn sub(a: i32, b: i32) -> i32 {
    a.wrapping_sub(b)
}

/// `OD_UNBIASED_RSHIFT32(a, 1)`: halves rounding toward zero.
#[inline(always)]
fn half(a: i32) -> i32 {
    (((a as u32) >> 31) as i32).wrapping_add(a) >> 1
}

#[inline(always)]
fn mul<const S: u32>(a: i32, c: i32, r: i32) -> i32 {
    a.wrapping_mul(c).wrapping_add(r) >> S
}

/// One 8-point DCT on scalars.
#[inline(always)]
pub fn fdct8_scalar(x: [i32; 8]) -> [i32; 8] {
    fdct8!(x, add, sub, half, mul)
}

/// The 2-D DCT of a scalar block, in place.
pub fn fdct8x8_scalar(block: &mut [i32; 64]) {
    fdct8x8!(block, fdct8_scalar)
}

/// Which of the four 4x4 quadrants coefficient (`i`, `j`) lies in, numbered as libvmaf does.
#[inline(always)]
pub fn quadrant(i: usize, j: usize) -> usize {
    ((i & 12) >> 2) + ((j & 12) >> 1)
}

/// The 64 error terms of one block pair, in libvmaf's order; `s` and `d` hold the samples and
/// are left holding their DCTs.
pub fn block_terms(s: &mut [i32; 64], d: &mut [i32; 64], t: &Tables, terms: &mut [f32; 64]) {
    let mut s_gmean = 0f32;
    let mut d_gmean = 0f32;
    let mut s_means = [0f32; 4];
    let mut d_means = [0f32; 4];
    for i in 0..8 {
        for j in 0..8 {
            let (k, q) = (8 * i + j, quadrant(i, j));
            s_gmean += s[k] as f32;
            d_gmean += d[k] as f32;
            s_means[q] += s[k] as f32;
            d_means[q] += d[k] as f32;
        }
    }
    s_gmean /= 64.0;
    d_gmean /= 64.0;
    for m in s_means.iter_mut().chain(d_means.iter_mut()) {
        *m /= 16.0;
    }
    let mut s_gvar = 0f32;
    let mut d_gvar = 0f32;
    let mut s_vars = [0f32; 4];
    let mut d_vars = [0f32; 4];
    for i in 0..8 {
        for j in 0..8 {
            let (k, q) = (8 * i + j, quadrant(i, j));
            let (fs, fd) = (s[k] as f32, d[k] as f32);
            s_gvar += (fs - s_gmean) * (fs - s_gmean);
            d_gvar += (fd - d_gmean) * (fd - d_gmean);
            s_vars[q] += (fs - s_means[q]) * (fs - s_means[q]);
            d_vars[q] += (fd - d_means[q]) * (fd - d_means[q]);
        }
    }
    s_gvar *= GVAR_SCALE;
    d_gvar *= GVAR_SCALE;
    for v in s_vars.iter_mut().chain(d_vars.iter_mut()) {
        *v *= VAR_SCALE;
    }
    if s_gvar > 0.0 {
        s_gvar = (s_vars[0] + s_vars[1] + s_vars[2] + s_vars[3]) / s_gvar;
    }
    if d_gvar > 0.0 {
        d_gvar = (d_vars[0] + d_vars[1] + d_vars[2] + d_vars[3]) / d_gvar;
    }
    fdct8x8_scalar(s);
    fdct8x8_scalar(d);
    let mut s_mask = 0f32;
    let mut d_mask = 0f32;
    for (&v, &m) in s[1..].iter().zip(&t.mask[1..]) {
        s_mask += v.wrapping_mul(v) as f32 * m;
    }
    for (&v, &m) in d[1..].iter().zip(&t.mask[1..]) {
        d_mask += v.wrapping_mul(v) as f32 * m;
    }
    // libvmaf takes a double square root of the float product and narrows after the divide.
    s_mask = (f64::from(s_mask * s_gvar).sqrt() / 32.0) as f32;
    let d_mask = (f64::from(d_mask * d_gvar).sqrt() / 32.0) as f32;
    if d_mask > s_mask {
        s_mask = d_mask;
    }
    for (k, term) in terms.iter_mut().enumerate() {
        let mut err = s[k].wrapping_sub(d[k]).wrapping_abs() as f32;
        if k != 0 {
            let threshold = s_mask / t.mask[k];
            err = if err < threshold {
                0.0
            } else {
                err - threshold
            };
        }
        *term = (err * t.csf[k]) * (err * t.csf[k]);
    }
}

/// Number of blocks along a side of `len` samples (none below 8).
#[inline]
pub fn blocks_along(len: usize) -> usize {
    if len < 8 {
        0
    } else {
        (len - 8) / STEP + 1
    }
}

/// libvmaf's unnormalised PSNR-HVS error of the top-left `width` × `height` region of a plane
/// pair: the running `f32` sum of every block's terms, and the number of blocks.
pub fn plane_error<T: Pixel + LaneSample>(
    level: SimdLevel,
    tables: &Tables,
    src: &Plane<T>,
    dst: &Plane<T>,
    width: usize,
    height: usize,
) -> (f32, usize) {
    let (bx, by) = (blocks_along(width), blocks_along(height));
    let mut total = 0f32;
    if bx == 0 || by == 0 {
        return (total, 0);
    }
    #[cfg(target_arch = "x86_64")]
    match level {
        SimdLevel::Avx512 => {
            assert!(level.is_supported());
            for row in 0..by {
                let y = row * STEP;
                let s: [&[T]; 8] = std::array::from_fn(|i| src.row(y + i));
                let d: [&[T]; 8] = std::array::from_fn(|i| dst.row(y + i));
                // SAFETY: the level was checked just above; the kernel bounds its reads by
                // the rows' lengths.
                unsafe { super::avx512::block_row(s, d, bx, tables, &mut total) };
            }
            return (total, bx * by);
        }
        SimdLevel::Avx2 => {
            assert!(level.is_supported());
            for row in 0..by {
                let y = row * STEP;
                let s: [&[T]; 8] = std::array::from_fn(|i| src.row(y + i));
                let d: [&[T]; 8] = std::array::from_fn(|i| dst.row(y + i));
                // SAFETY: the level was checked just above; the kernel bounds its reads by
                // the rows' lengths.
                unsafe { super::avx2::block_row(s, d, bx, tables, &mut total) };
            }
            return (total, bx * by);
        }
        SimdLevel::Scalar => {}
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    let mut s = [0i32; 64];
    let mut d = [0i32; 64];
    let mut terms = [0f32; 64];
    for row in 0..by {
        let y = row * STEP;
        for col in 0..bx {
            let x = col * STEP;
            for i in 0..8 {
                let (rs, rd) = (&src.row(y + i)[x..x + 8], &dst.row(y + i)[x..x + 8]);
                for j in 0..8 {
                    s[8 * i + j] = rs[j].widen() as i32;
                    d[8 * i + j] = rd[j].widen() as i32;
                }
            }
            block_terms(&mut s, &mut d, tables, &mut terms);
            for &v in &terms {
                total += v;
            }
        }
    }
    (total, bx * by)
}

/// The frame-level score of a plane from its error sum, as libvmaf normalises it: per sample,
/// then by the squared peak, all in `f32`. No blocks gives NaN, as in libvmaf.
pub fn plane_score(total: f32, blocks: usize, bit_depth: u8) -> f64 {
    let pixels = (blocks * 64) as i32;
    let peak = (1i32 << bit_depth) - 1;
    let mut ret = total / pixels as f32;
    ret /= (peak * peak) as f32;
    f64::from(ret)
}
