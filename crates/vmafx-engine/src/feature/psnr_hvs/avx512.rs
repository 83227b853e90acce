//! AVX-512 twin of [`super::kernel::block_terms`]: sixteen horizontally adjacent blocks, one
//! per lane, each lane running the scalar block's operations in the scalar order, so the terms
//! are bit-identical; they are then added to the plane total one by one, in block order.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::kernel::{add_terms, fdct8, fdct8x8, quadrant, Tables, STEP};

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

/// Per-lane global variance ratio and DCT-domain masking energy of one block, as the scalar
/// code computes them; `b` is left holding the DCT.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn strength(b: &mut [__m512i; 64], mask: &[f32; 64]) -> __m512 {
    let mut sum = _mm512_setzero_si512();
    let mut sums = [_mm512_setzero_si512(); 4];
    for i in 0..8 {
        for j in 0..8 {
            // Sums of at most 64 samples below 2^16 are exact in `f32`, so integer sums are
            // the float sums libvmaf makes.
            sum = _mm512_add_epi32(sum, b[8 * i + j]);
            let q = quadrant(i, j);
            sums[q] = _mm512_add_epi32(sums[q], b[8 * i + j]);
        }
    }
    let gmean = _mm512_div_ps(_mm512_cvtepi32_ps(sum), _mm512_set1_ps(64.0));
    let means = sums.map(|s| _mm512_div_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(16.0)));
    let mut gvar = _mm512_setzero_ps();
    let mut vars = [_mm512_setzero_ps(); 4];
    for i in 0..8 {
        for j in 0..8 {
            let f = _mm512_cvtepi32_ps(b[8 * i + j]);
            let g = _mm512_sub_ps(f, gmean);
            gvar = _mm512_add_ps(gvar, _mm512_mul_ps(g, g));
            let q = quadrant(i, j);
            let m = _mm512_sub_ps(f, means[q]);
            vars[q] = _mm512_add_ps(vars[q], _mm512_mul_ps(m, m));
        }
    }
    gvar = _mm512_mul_ps(gvar, _mm512_set1_ps(1.0 / 63.0 * 64.0));
    let vars = vars.map(|v| _mm512_mul_ps(v, _mm512_set1_ps(1.0 / 15.0 * 16.0)));
    let ratio = _mm512_div_ps(
        _mm512_add_ps(
            _mm512_add_ps(_mm512_add_ps(vars[0], vars[1]), vars[2]),
            vars[3],
        ),
        gvar,
    );
    let positive = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(gvar, _mm512_setzero_ps());
    let gvar = _mm512_mask_blend_ps(positive, gvar, ratio);
    fdct8x8!(&mut *b, dct);
    let mut energy = _mm512_setzero_ps();
    for k in 1..64 {
        let sq = _mm512_cvtepi32_ps(_mm512_mullo_epi32(b[k], b[k]));
        energy = _mm512_add_ps(energy, _mm512_mul_ps(sq, _mm512_set1_ps(mask[k])));
    }
    masking(_mm512_mul_ps(energy, gvar))
}

/// Adds the terms of the `blocks` blocks of one block row to `total`. Rows are the eight
/// widened sample rows of each picture, `row_len` apart.
///
/// # Safety
/// The CPU must support AVX-512 (F, BW, VL, DQ, CD) and AVX2. Each of `src` and `dst` must
/// hold `8 * row_len` samples with `row_len >= blocks.div_ceil(16) * 16 * 7 + 8`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
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
    let offsets = _mm512_setr_epi32(
        0, 7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77, 84, 91, 98, 105,
    );
    let mut terms = [0f32; 64 * LANES];
    for g in 0..groups {
        let x0 = g * LANES * STEP;
        let mut s = [_mm512_setzero_si512(); 64];
        let mut d = [_mm512_setzero_si512(); 64];
        for i in 0..8 {
            for j in 0..8 {
                let at = i * row_len + x0 + j;
                // SAFETY: the last lane reads `at + 105`, below `8 * row_len` by the asserts.
                unsafe {
                    s[8 * i + j] =
                        _mm512_i32gather_epi32::<4>(offsets, src.as_ptr().add(at).cast());
                    d[8 * i + j] =
                        _mm512_i32gather_epi32::<4>(offsets, dst.as_ptr().add(at).cast());
                }
            }
        }
        let s_mask = strength(&mut s, &t.mask);
        let d_mask = strength(&mut d, &t.mask);
        let s_mask = _mm512_max_ps(d_mask, s_mask);
        let zero = _mm512_setzero_ps();
        for k in 0..64 {
            let mut err = _mm512_cvtepi32_ps(_mm512_abs_epi32(_mm512_sub_epi32(s[k], d[k])));
            if k != 0 {
                let threshold = _mm512_div_ps(s_mask, _mm512_set1_ps(t.mask[k]));
                let below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(err, threshold);
                err = _mm512_mask_blend_ps(below, _mm512_sub_ps(err, threshold), zero);
            }
            let w = _mm512_mul_ps(err, _mm512_set1_ps(t.csf[k]));
            // SAFETY: `terms` holds 64 vectors of 16 lanes.
            unsafe { _mm512_storeu_ps(terms.as_mut_ptr().add(k * LANES), _mm512_mul_ps(w, w)) };
        }
        add_terms(total, &terms, LANES, (blocks - g * LANES).min(LANES));
    }
}
