//! AVX2 twin of [`super::kernel::block_terms`]: eight horizontally adjacent blocks, one
//! per lane, each lane running the scalar block's operations in the scalar order, so the terms
//! are bit-identical; they are then added to the plane total one by one, in block order, with
//! the zero terms (which cannot change the total) packed away first.
//!
//! Blocks start every 7 samples: each block's row of 8 samples is loaded whole and 8x8
//! transposes turn them into one vector per column.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::kernel::{fdct8, fdct8x8, quadrant, Tables, STEP};

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

/// A sample type the kernel reads straight from a plane row.
pub trait Sample: Copy + Default {
    /// Loads 8 samples from `p` as `i32` lanes.
    ///
    /// # Safety
    /// The CPU must support AVX2; `p` must be valid for reading 8 samples.
    unsafe fn load8(p: *const Self) -> __m256i;
}

impl Sample for u8 {
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load8(p: *const u8) -> __m256i {
        // SAFETY: the caller guarantees 8 readable bytes.
        _mm256_cvtepu8_epi32(unsafe { _mm_loadl_epi64(p.cast()) })
    }
}

impl Sample for u16 {
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load8(p: *const u16) -> __m256i {
        // SAFETY: the caller guarantees 8 readable samples.
        _mm256_cvtepu16_epi32(unsafe { _mm_loadu_si128(p.cast()) })
    }
}

/// Samples one group of 8 blocks reads from a row: 7 steps of 7 plus 8.
const SPAN: usize = 57;

/// Transposes 8 vectors of 8 lanes: lane `l` of input `m` becomes lane `m` of output `l`.
#[inline]
#[target_feature(enable = "avx2")]
fn transpose(r: &[__m256; 8], out: &mut [__m256; 8]) {
    let t: [__m256; 8] = std::array::from_fn(|i| {
        let (a, b) = (r[i & !1], r[i | 1]);
        if i % 2 == 0 {
            _mm256_unpacklo_ps(a, b)
        } else {
            _mm256_unpackhi_ps(a, b)
        }
    });
    // `u[4 * h + c]` holds column `c` (low half) and `c + 4` (high half) of rows `4h..4h + 4`.
    let u: [__m256; 8] = std::array::from_fn(|i| {
        let (h, c) = (i / 4, i % 4);
        let (a, b) = (t[4 * h + c / 2], t[4 * h + 2 + c / 2]);
        if c % 2 == 0 {
            _mm256_shuffle_ps::<0x44>(a, b)
        } else {
            _mm256_shuffle_ps::<0xEE>(a, b)
        }
    });
    for c in 0..4 {
        out[c] = _mm256_permute2f128_ps::<0x20>(u[c], u[4 + c]);
        out[4 + c] = _mm256_permute2f128_ps::<0x31>(u[c], u[4 + c]);
    }
}

/// Columns `0..8` of row `p` for the group's 8 blocks, one `i32` lane per block.
///
/// # Safety
/// `p` must be valid for reading [`SPAN`] samples.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn columns<T: Sample>(p: *const T, out: &mut [__m256i; 8]) {
    // SAFETY: block `l` reads samples `7 * l..7 * l + 8`, inside `SPAN`.
    let rows: [__m256; 8] =
        std::array::from_fn(|l| _mm256_castsi256_ps(unsafe { T::load8(p.add(STEP * l)) }));
    let mut cols = [_mm256_setzero_ps(); 8];
    transpose(&rows, &mut cols);
    for (o, c) in out.iter_mut().zip(cols) {
        *o = _mm256_castps_si256(c);
    }
}

/// For each 8-bit mask, the lanes whose bit is set, first: `_mm256_permutevar8x32_ps` indices
/// that pack a vector's selected lanes to its front.
static PACK: [[u32; 8]; 256] = {
    let mut table = [[0u32; 8]; 256];
    let mut mask = 0;
    while mask < 256 {
        let (mut n, mut lane) = (0, 0);
        while lane < 8 {
            if mask & (1 << lane) != 0 {
                table[mask][n] = lane as u32;
                n += 1;
            }
            lane += 1;
        }
        mask += 1;
    }
    table
};

/// Eight rows of eight lanes as the 64 coefficients of a block.
#[inline(always)]
fn flat(rows: &mut [[__m256i; 8]; 8]) -> &mut [__m256i; 64] {
    // SAFETY: `[[T; 8]; 8]` and `[T; 64]` have the same size, alignment and element order.
    unsafe { &mut *(rows as *mut [[__m256i; 8]; 8]).cast::<[__m256i; 64]>() }
}

/// Adds the terms of the `blocks` blocks of one block row to `total`; `src` and `dst` are the
/// eight sample rows of each plane, at least `7 * blocks + 1` samples long.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
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
    // Room for every term of a group plus the slack of one full-vector store.
    let mut kept = [0f32; 64 * LANES + LANES];
    // Work arrays, filled in place: returning arrays of vectors by value costs copies.
    let mut s_rows = [[_mm256_setzero_si256(); 8]; 8];
    let mut d_rows = [[_mm256_setzero_si256(); 8]; 8];
    let mut terms = [[_mm256_setzero_ps(); 8]; 8];
    let mut by_block = [[_mm256_setzero_ps(); 8]; 8];
    let zero = _mm256_setzero_ps();
    for g in 0..blocks.div_ceil(LANES) {
        let x0 = g * LANES * STEP;
        for (rows, out) in [(&src, &mut s_rows), (&dst, &mut d_rows)] {
            for (row, cols) in rows.iter().zip(out.iter_mut()) {
                if x0 + SPAN <= len {
                    // SAFETY: the slice holds the `SPAN` samples read.
                    unsafe { columns(row[x0..x0 + SPAN].as_ptr(), cols) };
                } else {
                    // The last group may run past the rows: read a zero-padded copy. Lanes
                    // past the row's last block get made-up samples; their terms are dropped.
                    let mut padded = [T::default(); SPAN];
                    padded[..len - x0].copy_from_slice(&row[x0..len]);
                    // SAFETY: `padded` holds `SPAN` samples.
                    unsafe { columns(padded.as_ptr(), cols) };
                }
            }
        }
        let (s, d) = (flat(&mut s_rows), flat(&mut d_rows));
        let s_mask = strength(s, d, &t.mask);
        for k in 0..64 {
            let mut err = _mm256_cvtepi32_ps(_mm256_abs_epi32(_mm256_sub_epi32(s[k], d[k])));
            if k != 0 {
                let threshold = _mm256_div_ps(s_mask, _mm256_set1_ps(t.mask[k]));
                let below = _mm256_cmp_ps::<_CMP_LT_OQ>(err, threshold);
                err = _mm256_blendv_ps(_mm256_sub_ps(err, threshold), zero, below);
            }
            let w = _mm256_mul_ps(err, _mm256_set1_ps(t.csf[k]));
            terms[k / 8][k % 8] = _mm256_mul_ps(w, w);
        }
        // Turn terms-by-coefficient into terms-by-block, 8 coefficients at a time.
        for (chunk, out) in terms.iter().zip(by_block.iter_mut()) {
            transpose(chunk, out);
        }
        // Keep each block's nonzero terms in order: adding `+0.0` to a sum that is never
        // `-0.0` changes nothing, and the serial sum is the costly part.
        let mut n = 0;
        for l in 0..(blocks - g * LANES).min(LANES) {
            for chunk in &by_block {
                let v = chunk[l];
                let nonzero = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_NEQ_UQ>(v, zero)) as usize;
                // SAFETY: `PACK` rows are 8 indices; `n + 8 <= kept.len()`, as at most 64 * 8
                // terms are kept.
                unsafe {
                    let order = _mm256_loadu_si256(PACK[nonzero & 0xff].as_ptr().cast());
                    _mm256_storeu_ps(kept.as_mut_ptr().add(n), _mm256_permutevar8x32_ps(v, order));
                }
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
