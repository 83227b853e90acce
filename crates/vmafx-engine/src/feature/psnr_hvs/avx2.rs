//! AVX2 twin of [`super::kernel::block_terms`]: eight horizontally adjacent blocks, one
//! per lane, each lane running the scalar block's operations in the scalar order, so the terms
//! are bit-identical; they are then added to the plane total one by one, in block order.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::kernel::{add_terms, fdct8, fdct8x8, quadrant, Tables, STEP};

const LANES: usize = 8;

#[inline]
#[target_feature(enable = "avx2")]
fn add(a: __m256i, b: __m256i) -> __m256i {
    _mm256_add_epi32(a, b)
}

#[inline]
#[target_feature(enable = "avx2")]
fn sub(a: __m256i, b: __m256i) -> __m256i {
    _mm256_sub_epi32(a, b)
}

#[inline]
#[target_feature(enable = "avx2")]
fn half(a: __m256i) -> __m256i {
    _mm256_srai_epi32::<1>(_mm256_add_epi32(_mm256_srli_epi32::<31>(a), a))
}

#[inline]
#[target_feature(enable = "avx2")]
fn mul<const S: i32>(a: __m256i, c: i32, r: i32) -> __m256i {
    _mm256_srai_epi32::<S>(_mm256_add_epi32(
        _mm256_mullo_epi32(a, _mm256_set1_epi32(c)),
        _mm256_set1_epi32(r),
    ))
}

#[inline]
#[target_feature(enable = "avx2")]
fn dct(x: [__m256i; 8]) -> [__m256i; 8] {
    fdct8!(x, add, sub, half, mul)
}

/// `f32(sqrt(f64(v)) / 32)` per lane, libvmaf's narrowing of the masking strength.
#[inline]
#[target_feature(enable = "avx2")]
fn masking(v: __m256) -> __m256 {
    let scale = _mm256_set1_pd(32.0);
    let lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    let hi = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v));
    let lo = _mm256_cvtpd_ps(_mm256_div_pd(_mm256_sqrt_pd(lo), scale));
    let hi = _mm256_cvtpd_ps(_mm256_div_pd(_mm256_sqrt_pd(hi), scale));
    _mm256_set_m128(hi, lo)
}

/// Per-lane global variance ratio and DCT-domain masking energy of the reference and the
/// distorted block, as the scalar code computes them, worked side by side so that their float
/// chains overlap; the blocks are left holding their DCTs. Returns the larger masking strength.
#[inline]
#[target_feature(enable = "avx2")]
fn strength(s: &mut [__m256i; 64], d: &mut [__m256i; 64], mask: &[f32; 64]) -> __m256 {
    let zero = _mm256_setzero_si256();
    let (mut s_sum, mut d_sum) = (zero, zero);
    let (mut s_sums, mut d_sums) = ([zero; 4], [zero; 4]);
    for i in 0..8 {
        for j in 0..8 {
            // Sums of at most 64 samples below 2^16 are exact in `f32`, so integer sums are
            // the float sums libvmaf makes.
            let (k, q) = (8 * i + j, quadrant(i, j));
            s_sum = _mm256_add_epi32(s_sum, s[k]);
            d_sum = _mm256_add_epi32(d_sum, d[k]);
            s_sums[q] = _mm256_add_epi32(s_sums[q], s[k]);
            d_sums[q] = _mm256_add_epi32(d_sums[q], d[k]);
        }
    }
    let (n64, n16) = (_mm256_set1_ps(64.0), _mm256_set1_ps(16.0));
    let s_gmean = _mm256_div_ps(_mm256_cvtepi32_ps(s_sum), n64);
    let d_gmean = _mm256_div_ps(_mm256_cvtepi32_ps(d_sum), n64);
    let s_means = s_sums.map(|v| _mm256_div_ps(_mm256_cvtepi32_ps(v), n16));
    let d_means = d_sums.map(|v| _mm256_div_ps(_mm256_cvtepi32_ps(v), n16));
    let fzero = _mm256_setzero_ps();
    let (mut s_gvar, mut d_gvar) = (fzero, fzero);
    let (mut s_vars, mut d_vars) = ([fzero; 4], [fzero; 4]);
    for i in 0..8 {
        for j in 0..8 {
            let (k, q) = (8 * i + j, quadrant(i, j));
            let (fs, fd) = (_mm256_cvtepi32_ps(s[k]), _mm256_cvtepi32_ps(d[k]));
            let (gs, gd) = (_mm256_sub_ps(fs, s_gmean), _mm256_sub_ps(fd, d_gmean));
            s_gvar = _mm256_add_ps(s_gvar, _mm256_mul_ps(gs, gs));
            d_gvar = _mm256_add_ps(d_gvar, _mm256_mul_ps(gd, gd));
            let (ms, md) = (_mm256_sub_ps(fs, s_means[q]), _mm256_sub_ps(fd, d_means[q]));
            s_vars[q] = _mm256_add_ps(s_vars[q], _mm256_mul_ps(ms, ms));
            d_vars[q] = _mm256_add_ps(d_vars[q], _mm256_mul_ps(md, md));
        }
    }
    let ratio = |gvar: __m256, vars: [__m256; 4]| {
        let gvar = _mm256_mul_ps(gvar, _mm256_set1_ps(1.0 / 63.0 * 64.0));
        let vars = vars.map(|v| _mm256_mul_ps(v, _mm256_set1_ps(1.0 / 15.0 * 16.0)));
        let sum = _mm256_add_ps(
            _mm256_add_ps(_mm256_add_ps(vars[0], vars[1]), vars[2]),
            vars[3],
        );
        let positive = _mm256_cmp_ps::<_CMP_GT_OQ>(gvar, _mm256_setzero_ps());
        _mm256_blendv_ps(gvar, _mm256_div_ps(sum, gvar), positive)
    };
    let s_gvar = ratio(s_gvar, s_vars);
    let d_gvar = ratio(d_gvar, d_vars);
    fdct8x8!(&mut *s, dct);
    fdct8x8!(&mut *d, dct);
    let (mut s_energy, mut d_energy) = (fzero, fzero);
    for k in 1..64 {
        let w = _mm256_set1_ps(mask[k]);
        let sq = _mm256_cvtepi32_ps(_mm256_mullo_epi32(s[k], s[k]));
        s_energy = _mm256_add_ps(s_energy, _mm256_mul_ps(sq, w));
        let sq = _mm256_cvtepi32_ps(_mm256_mullo_epi32(d[k], d[k]));
        d_energy = _mm256_add_ps(d_energy, _mm256_mul_ps(sq, w));
    }
    let s_mask = masking(_mm256_mul_ps(s_energy, s_gvar));
    let d_mask = masking(_mm256_mul_ps(d_energy, d_gvar));
    _mm256_max_ps(d_mask, s_mask)
}

/// Adds the terms of the `blocks` blocks of one block row to `total`. Rows are the eight
/// widened sample rows of each picture, `row_len` apart.
///
/// # Safety
/// The CPU must support AVX2. Each of `src` and `dst` must hold `8 * row_len` samples with
/// `row_len >= blocks.div_ceil(8) * 8 * 7 + 8`.
#[target_feature(enable = "avx2")]
pub unsafe fn block_row(
    src: &[i32],
    dst: &[i32],
    row_len: usize,
    blocks: usize,
    t: &Tables,
    total: &mut f32,
) {
    let groups = blocks.div_ceil(LANES);
    assert!(row_len >= groups * LANES * STEP + 8);
    assert!(src.len() >= 8 * row_len && dst.len() >= 8 * row_len);
    let offsets = _mm256_setr_epi32(0, 7, 14, 21, 28, 35, 42, 49);
    let mut terms = [0f32; 64 * LANES];
    let mut kept = [0f32; 64 * LANES];
    for g in 0..groups {
        let x0 = g * LANES * STEP;
        let mut s = [_mm256_setzero_si256(); 64];
        let mut d = [_mm256_setzero_si256(); 64];
        for i in 0..8 {
            for j in 0..8 {
                let at = i * row_len + x0 + j;
                // SAFETY: the last lane reads `at + 49`, below `8 * row_len` by the asserts.
                unsafe {
                    s[8 * i + j] = _mm256_i32gather_epi32::<4>(src.as_ptr().add(at), offsets);
                    d[8 * i + j] = _mm256_i32gather_epi32::<4>(dst.as_ptr().add(at), offsets);
                }
            }
        }
        let s_mask = strength(&mut s, &mut d, &t.mask);
        let zero = _mm256_setzero_ps();
        for k in 0..64 {
            let mut err = _mm256_cvtepi32_ps(_mm256_abs_epi32(_mm256_sub_epi32(s[k], d[k])));
            if k != 0 {
                let threshold = _mm256_div_ps(s_mask, _mm256_set1_ps(t.mask[k]));
                let below = _mm256_cmp_ps::<_CMP_LT_OQ>(err, threshold);
                err = _mm256_blendv_ps(_mm256_sub_ps(err, threshold), zero, below);
            }
            let w = _mm256_mul_ps(err, _mm256_set1_ps(t.csf[k]));
            // SAFETY: `terms` holds 64 vectors of 8 lanes.
            unsafe { _mm256_storeu_ps(terms.as_mut_ptr().add(k * LANES), _mm256_mul_ps(w, w)) };
        }
        add_terms(
            total,
            &terms,
            &mut kept,
            LANES,
            (blocks - g * LANES).min(LANES),
        );
    }
}
