//! AVX-512 twin of [`super::kernel::block_terms`]: sixteen horizontally adjacent blocks, one
//! per lane, each lane running the scalar block's operations in the scalar order, so the terms
//! are bit-identical; they are then added to the plane total one by one, in block order, with
//! the zero terms (which cannot change the total) compressed away first.
//!
//! Blocks start every 7 samples, so a lane's samples are 7 apart in a row: they are picked out
//! of four 32-sample loads of the plane row by 16-bit word permutes rather than gathered.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::kernel::{fdct8, fdct8x8, quadrant, Tables, STEP};

const LANES: usize = 16;

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn add(a: __m512i, b: __m512i) -> __m512i {
    _mm512_add_epi32(a, b)
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn sub(a: __m512i, b: __m512i) -> __m512i {
    _mm512_sub_epi32(a, b)
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn half(a: __m512i) -> __m512i {
    _mm512_srai_epi32::<1>(_mm512_add_epi32(_mm512_srli_epi32::<31>(a), a))
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn mul<const S: u32>(a: __m512i, c: i32, r: i32) -> __m512i {
    _mm512_srai_epi32::<S>(_mm512_add_epi32(
        _mm512_mullo_epi32(a, _mm512_set1_epi32(c)),
        _mm512_set1_epi32(r),
    ))
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn dct(x: [__m512i; 8]) -> [__m512i; 8] {
    fdct8!(x, add, sub, half, mul)
}

/// `f32(sqrt(f64(v)) / 32)` per lane, libvmaf's narrowing of the masking strength.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn masking(v: __m512) -> __m512 {
    let scale = _mm512_set1_pd(32.0);
    let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    let hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(v));
    let lo = _mm512_cvtpd_ps(_mm512_div_pd(_mm512_sqrt_pd(lo), scale));
    let hi = _mm512_cvtpd_ps(_mm512_div_pd(_mm512_sqrt_pd(hi), scale));
    _mm512_insertf32x8::<1>(_mm512_castps256_ps512(lo), hi)
}

/// Per-lane global variance ratio and DCT-domain masking energy of the reference and the
/// distorted block, as the scalar code computes them, worked side by side so that their float
/// chains overlap; the blocks are left holding their DCTs. Returns the larger masking strength.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn strength(s: &mut [__m512i; 64], d: &mut [__m512i; 64], mask: &[f32; 64]) -> __m512 {
    let zero = _mm512_setzero_si512();
    let (mut s_sum, mut d_sum) = (zero, zero);
    let (mut s_sums, mut d_sums) = ([zero; 4], [zero; 4]);
    for i in 0..8 {
        for j in 0..8 {
            // Sums of at most 64 samples below 2^16 are exact in `f32`, so integer sums are
            // the float sums libvmaf makes.
            let (k, q) = (8 * i + j, quadrant(i, j));
            s_sum = _mm512_add_epi32(s_sum, s[k]);
            d_sum = _mm512_add_epi32(d_sum, d[k]);
            s_sums[q] = _mm512_add_epi32(s_sums[q], s[k]);
            d_sums[q] = _mm512_add_epi32(d_sums[q], d[k]);
        }
    }
    let (n64, n16) = (_mm512_set1_ps(64.0), _mm512_set1_ps(16.0));
    let s_gmean = _mm512_div_ps(_mm512_cvtepi32_ps(s_sum), n64);
    let d_gmean = _mm512_div_ps(_mm512_cvtepi32_ps(d_sum), n64);
    let s_means = s_sums.map(|v| _mm512_div_ps(_mm512_cvtepi32_ps(v), n16));
    let d_means = d_sums.map(|v| _mm512_div_ps(_mm512_cvtepi32_ps(v), n16));
    let fzero = _mm512_setzero_ps();
    let (mut s_gvar, mut d_gvar) = (fzero, fzero);
    let (mut s_vars, mut d_vars) = ([fzero; 4], [fzero; 4]);
    for i in 0..8 {
        for j in 0..8 {
            let (k, q) = (8 * i + j, quadrant(i, j));
            let (fs, fd) = (_mm512_cvtepi32_ps(s[k]), _mm512_cvtepi32_ps(d[k]));
            let (gs, gd) = (_mm512_sub_ps(fs, s_gmean), _mm512_sub_ps(fd, d_gmean));
            s_gvar = _mm512_add_ps(s_gvar, _mm512_mul_ps(gs, gs));
            d_gvar = _mm512_add_ps(d_gvar, _mm512_mul_ps(gd, gd));
            let (ms, md) = (_mm512_sub_ps(fs, s_means[q]), _mm512_sub_ps(fd, d_means[q]));
            s_vars[q] = _mm512_add_ps(s_vars[q], _mm512_mul_ps(ms, ms));
            d_vars[q] = _mm512_add_ps(d_vars[q], _mm512_mul_ps(md, md));
        }
    }
    let ratio = |gvar: __m512, vars: [__m512; 4]| {
        let gvar = _mm512_mul_ps(gvar, _mm512_set1_ps(1.0 / 63.0 * 64.0));
        let vars = vars.map(|v| _mm512_mul_ps(v, _mm512_set1_ps(1.0 / 15.0 * 16.0)));
        let sum = _mm512_add_ps(
            _mm512_add_ps(_mm512_add_ps(vars[0], vars[1]), vars[2]),
            vars[3],
        );
        let positive = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(gvar, _mm512_setzero_ps());
        _mm512_mask_blend_ps(positive, gvar, _mm512_div_ps(sum, gvar))
    };
    let s_gvar = ratio(s_gvar, s_vars);
    let d_gvar = ratio(d_gvar, d_vars);
    fdct8x8!(&mut *s, dct);
    fdct8x8!(&mut *d, dct);
    let (mut s_energy, mut d_energy) = (fzero, fzero);
    for k in 1..64 {
        let w = _mm512_set1_ps(mask[k]);
        let sq = _mm512_cvtepi32_ps(_mm512_mullo_epi32(s[k], s[k]));
        s_energy = _mm512_add_ps(s_energy, _mm512_mul_ps(sq, w));
        let sq = _mm512_cvtepi32_ps(_mm512_mullo_epi32(d[k], d[k]));
        d_energy = _mm512_add_ps(d_energy, _mm512_mul_ps(sq, w));
    }
    let s_mask = masking(_mm512_mul_ps(s_energy, s_gvar));
    let d_mask = masking(_mm512_mul_ps(d_energy, d_gvar));
    _mm512_max_ps(d_mask, s_mask)
}

/// A sample type the kernel reads straight from a plane row.
pub trait Sample: Copy + Default {
    /// Loads 32 samples from `p` as 16-bit lanes.
    ///
    /// # Safety
    /// The CPU must support AVX-512 BW; `p` must be valid for reading 32 samples.
    unsafe fn load32(p: *const Self) -> __m512i;
}

impl Sample for u8 {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
    unsafe fn load32(p: *const u8) -> __m512i {
        // SAFETY: the caller guarantees 32 readable bytes.
        _mm512_cvtepu8_epi16(unsafe { _mm256_loadu_si256(p.cast()) })
    }
}

impl Sample for u16 {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
    unsafe fn load32(p: *const u16) -> __m512i {
        // SAFETY: the caller guarantees 32 readable samples.
        unsafe { _mm512_loadu_si512(p.cast()) }
    }
}

/// Samples one group of 16 blocks reads from a row: 15 steps of 7 plus 8, rounded up to the
/// four 32-sample loads made.
const SPAN: usize = 120;

/// Word indices that pick, from two 32-sample registers, columns `j` and `j + 1` of eight
/// consecutive blocks: lanes `base..base + 8` get column `j`, lanes `base + 16..base + 24`
/// column `j + 1`.
fn pair_indices(j: usize, base: usize) -> [u16; 32] {
    let mut idx = [0u16; 32];
    for m in 0..8 {
        idx[base + m] = (STEP * m + j) as u16;
        idx[base + 16 + m] = (STEP * m + j + 1) as u16;
    }
    idx
}

/// Columns `0..8` of row `p` for the group's 16 blocks, one `i32` lane per block.
///
/// # Safety
/// `p` must be valid for reading [`SPAN`] samples.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn columns<T: Sample>(
    p: *const T,
    lo: &[__m512i; 4],
    hi: &[__m512i; 4],
    out: &mut [__m512i; 8],
) {
    // SAFETY: every load ends by `p + SPAN`.
    let (a, b, c, d) = unsafe {
        (
            T::load32(p),
            T::load32(p.add(32)),
            T::load32(p.add(56)),
            T::load32(p.add(88)),
        )
    };
    for pair in 0..4 {
        // Blocks 0..8 lie in samples 0..64, blocks 8..16 in samples 56..120.
        let first = _mm512_permutex2var_epi16(a, lo[pair], b);
        let second = _mm512_permutex2var_epi16(c, hi[pair], d);
        let both = _mm512_mask_blend_epi16(0xff00_ff00, first, second);
        out[2 * pair] = _mm512_cvtepu16_epi32(_mm512_castsi512_si256(both));
        out[2 * pair + 1] = _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64::<1>(both));
    }
}

/// Transposes 16 vectors of 16 lanes: lane `l` of input `m` becomes lane `m` of output `l`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn transpose(r: &[__m512; 16], out: &mut [__m512; 16]) {
    // Pairs of rows interleaved within each 128-bit quarter.
    let t: [__m512; 16] = std::array::from_fn(|i| {
        let (a, b) = (r[i & !1], r[i | 1]);
        if i % 2 == 0 {
            _mm512_unpacklo_ps(a, b)
        } else {
            _mm512_unpackhi_ps(a, b)
        }
    });
    // Quarter `q` of `u[4 * k + c]` is column `4 * q + c` of rows `4 * k..4 * k + 4`.
    let u: [__m512; 16] = std::array::from_fn(|i| {
        let (k, c) = (i / 4, i % 4);
        let (a, b) = (t[4 * k + c / 2], t[4 * k + 2 + c / 2]);
        if c % 2 == 0 {
            _mm512_shuffle_ps::<0x44>(a, b)
        } else {
            _mm512_shuffle_ps::<0xEE>(a, b)
        }
    });
    // A 4x4 transpose of quarters for each `c`.
    for c in 0..4 {
        let v0 = _mm512_shuffle_f32x4::<0x44>(u[c], u[4 + c]);
        let v1 = _mm512_shuffle_f32x4::<0xEE>(u[c], u[4 + c]);
        let v2 = _mm512_shuffle_f32x4::<0x44>(u[8 + c], u[12 + c]);
        let v3 = _mm512_shuffle_f32x4::<0xEE>(u[8 + c], u[12 + c]);
        out[c] = _mm512_shuffle_f32x4::<0x88>(v0, v2);
        out[4 + c] = _mm512_shuffle_f32x4::<0xDD>(v0, v2);
        out[8 + c] = _mm512_shuffle_f32x4::<0x88>(v1, v3);
        out[12 + c] = _mm512_shuffle_f32x4::<0xDD>(v1, v3);
    }
}

/// Eight rows of eight lanes as the 64 coefficients of a block.
#[inline(always)]
fn flat(rows: &mut [[__m512i; 8]; 8]) -> &mut [__m512i; 64] {
    // SAFETY: `[[T; 8]; 8]` and `[T; 64]` have the same size, alignment and element order.
    unsafe { &mut *(rows as *mut [[__m512i; 8]; 8]).cast::<[__m512i; 64]>() }
}

/// Adds the terms of the `blocks` blocks of one block row to `total`; `src` and `dst` are the
/// eight sample rows of each plane, at least `7 * blocks + 1` samples long.
///
/// # Safety
/// The CPU must support AVX-512 (F, BW, VL, DQ, CD) and AVX2.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub unsafe fn block_row<T: Sample>(
    src: [&[T]; 8],
    dst: [&[T]; 8],
    blocks: usize,
    t: &Tables,
    total: &mut f32,
) {
    let len = src.iter().chain(&dst).map(|r| r.len()).min().unwrap_or(0);
    if blocks == 0 || len < STEP * blocks + 1 {
        return;
    }
    let load = |idx: [u16; 32]| {
        // SAFETY: 32 words are 64 bytes.
        unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }
    };
    let lo: [__m512i; 4] = std::array::from_fn(|p| load(pair_indices(2 * p, 0)));
    let hi: [__m512i; 4] = std::array::from_fn(|p| load(pair_indices(2 * p, 8)));
    // Room for every term of a group plus the slack of one full-vector store.
    let mut kept = [0f32; 64 * LANES + LANES];
    // Work arrays, filled in place: returning arrays of vectors by value costs copies.
    let mut s_rows = [[_mm512_setzero_si512(); 8]; 8];
    let mut d_rows = [[_mm512_setzero_si512(); 8]; 8];
    let mut terms = [[_mm512_setzero_ps(); 16]; 4];
    let mut by_block = [[_mm512_setzero_ps(); 16]; 4];
    let zero = _mm512_setzero_ps();
    for g in 0..blocks.div_ceil(LANES) {
        let x0 = g * LANES * STEP;
        for (rows, out) in [(&src, &mut s_rows), (&dst, &mut d_rows)] {
            for (row, cols) in rows.iter().zip(out.iter_mut()) {
                if x0 + SPAN <= len {
                    // SAFETY: the slice holds the `SPAN` samples read.
                    unsafe { columns(row[x0..x0 + SPAN].as_ptr(), &lo, &hi, cols) };
                } else {
                    // The last group may run past the rows: read a zero-padded copy. Lanes
                    // past the row's last block get made-up samples; their terms are dropped.
                    let mut padded = [T::default(); SPAN];
                    padded[..len - x0].copy_from_slice(&row[x0..len]);
                    // SAFETY: `padded` holds `SPAN` samples.
                    unsafe { columns(padded.as_ptr(), &lo, &hi, cols) };
                }
            }
        }
        let (s, d) = (flat(&mut s_rows), flat(&mut d_rows));
        let s_mask = strength(s, d, &t.mask);
        for k in 0..64 {
            let mut err = _mm512_cvtepi32_ps(_mm512_abs_epi32(_mm512_sub_epi32(s[k], d[k])));
            if k != 0 {
                let threshold = _mm512_div_ps(s_mask, _mm512_set1_ps(t.mask[k]));
                let below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(err, threshold);
                err = _mm512_mask_blend_ps(below, _mm512_sub_ps(err, threshold), zero);
            }
            let w = _mm512_mul_ps(err, _mm512_set1_ps(t.csf[k]));
            terms[k / 16][k % 16] = _mm512_mul_ps(w, w);
        }
        // Turn terms-by-coefficient into terms-by-block, 16 coefficients at a time.
        for (chunk, out) in terms.iter().zip(by_block.iter_mut()) {
            transpose(chunk, out);
        }
        // Keep each block's nonzero terms in order: adding `+0.0` to a sum that is never
        // `-0.0` changes nothing, and the serial sum is the costly part.
        let mut n = 0;
        for l in 0..(blocks - g * LANES).min(LANES) {
            for chunk in &by_block {
                let v = chunk[l];
                let nonzero = _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(v, zero);
                // SAFETY: `n + 16 <= kept.len()`, as at most 64 * 16 terms are kept.
                unsafe {
                    _mm512_storeu_ps(
                        kept.as_mut_ptr().add(n),
                        _mm512_maskz_compress_ps(nonzero, v),
                    )
                };
                n += nonzero.count_ones() as usize;
            }
        }
        let mut sum = *total;
        for &v in &kept[..n] {
            sum += v;
        }
        *total = sum;
    }
}
