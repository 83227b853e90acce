//! AVX2 twins of the PSNR sums in [`super::kernel`], bit-identical to them.
//!
//! Differences are squared with `madd` in 32-bit lanes. At 8 bits the lanes wrap exactly like
//! libvmaf's per-row `uint32_t` accumulator (a sum modulo 2^32 does not depend on the order of
//! its terms). Deeper samples are summed exactly: up to 15 bits a lane takes as many squares as
//! cannot overflow it before it is moved into 64 bits; at 16 bits a square needs all 32 bits,
//! so its low and high halves are summed apart and recombined.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use crate::picture::Plane;

/// The sum of the eight `u32` lanes of `v`, wrapping like a `u32` accumulator.
#[inline]
#[target_feature(enable = "avx2")]
fn wrapping_lane_sum(v: __m256i) -> u32 {
    let mut lanes = [0u32; 8];
    // SAFETY: AVX2 is enabled; `lanes` is 32 bytes.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v) };
    lanes.iter().fold(0, |a, &b| a.wrapping_add(b))
}

/// The exact sum of the eight `u32` lanes of `v`.
#[inline]
#[target_feature(enable = "avx2")]
fn lane_sum(v: __m256i) -> u64 {
    let mut lanes = [0u32; 8];
    // SAFETY: AVX2 is enabled; `lanes` is 32 bytes.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v) };
    lanes.iter().map(|&l| u64::from(l)).sum()
}

/// AVX2 twin of [`super::kernel::row_sse_u8`].
///
/// # Safety
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
pub unsafe fn row_sse_u8(a: &[u8], b: &[u8]) -> u32 {
    let n = a.len().min(b.len());
    let zero = _mm256_setzero_si256();
    let mut acc = _mm256_setzero_si256();
    let mut j = 0;
    while j + 32 <= n {
        // SAFETY: AVX2 is enabled; `j + 32 <= n` keeps both 32-byte loads inside the rows.
        let (va, vb) = unsafe {
            (
                _mm256_loadu_si256(a.as_ptr().add(j).cast()),
                _mm256_loadu_si256(b.as_ptr().add(j).cast()),
            )
        };
        // Which sample lands in which lane does not matter for a sum.
        let d_lo = _mm256_sub_epi16(
            _mm256_unpacklo_epi8(va, zero),
            _mm256_unpacklo_epi8(vb, zero),
        );
        let d_hi = _mm256_sub_epi16(
            _mm256_unpackhi_epi8(va, zero),
            _mm256_unpackhi_epi8(vb, zero),
        );
        acc = _mm256_add_epi32(
            acc,
            _mm256_add_epi32(_mm256_madd_epi16(d_lo, d_lo), _mm256_madd_epi16(d_hi, d_hi)),
        );
        j += 32;
    }
    wrapping_lane_sum(acc).wrapping_add(super::kernel::row_sse_u8(&a[j..n], &b[j..n]))
}

/// AVX2 twin of [`super::kernel::row_sse_u16`] for samples of at most `bit_depth` bits (as
/// pictures hold them; larger samples give a wrong sum, never unsafety).
///
/// # Safety
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
pub unsafe fn row_sse_u16(a: &[u16], b: &[u16], bit_depth: u8) -> u64 {
    let n = a.len().min(b.len());
    let load = |s: &[u16], j: usize| {
        // SAFETY: AVX2 is enabled; callers keep `j + 16 <= n`.
        unsafe { _mm256_loadu_si256(s.as_ptr().add(j).cast()) }
    };
    let mut sum = 0u64;
    let mut j = 0;
    if bit_depth <= 15 {
        // Differences fit an `i16`; each `madd` lane gains at most two squares per step.
        let max = (1u64 << bit_depth) - 1;
        let steps = (u64::from(u32::MAX) / (2 * max * max)).max(1) as usize;
        while j + 16 <= n {
            let mut acc = _mm256_setzero_si256();
            let mut step = 0;
            while step < steps && j + 16 <= n {
                let d = _mm256_sub_epi16(load(a, j), load(b, j));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d, d));
                step += 1;
                j += 16;
            }
            sum += lane_sum(acc);
        }
    } else {
        // A square takes 32 bits: sum its low and high 16-bit halves apart, two per lane per
        // step, so a lane gains less than 2^17 a step and takes 2^15 steps.
        let low = _mm256_set1_epi32(0xffff);
        while j + 16 <= n {
            let mut acc_lo = _mm256_setzero_si256();
            let mut acc_hi = _mm256_setzero_si256();
            let mut step = 0;
            while step < 1 << 15 && j + 16 <= n {
                let (va, vb) = (load(a, j), load(b, j));
                let d = _mm256_sub_epi16(_mm256_max_epu16(va, vb), _mm256_min_epu16(va, vb));
                let sq_lo = _mm256_mullo_epi16(d, d);
                let sq_hi = _mm256_mulhi_epu16(d, d);
                acc_lo = _mm256_add_epi32(
                    acc_lo,
                    _mm256_add_epi32(_mm256_and_si256(sq_lo, low), _mm256_srli_epi32::<16>(sq_lo)),
                );
                acc_hi = _mm256_add_epi32(
                    acc_hi,
                    _mm256_add_epi32(_mm256_and_si256(sq_hi, low), _mm256_srli_epi32::<16>(sq_hi)),
                );
                step += 1;
                j += 16;
            }
            sum += (lane_sum(acc_hi) << 16) + lane_sum(acc_lo);
        }
    }
    sum + super::kernel::row_sse_u16(&a[j..n], &b[j..n])
}

/// AVX2 twin of [`super::kernel::plane_sse_u8`].
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn plane_sse_u8(a: &Plane<u8>, b: &Plane<u8>, width: usize, height: usize) -> u64 {
    (0..height)
        // SAFETY: AVX2 is enabled (the caller's guarantee).
        .map(|y| u64::from(unsafe { row_sse_u8(&a.row(y)[..width], &b.row(y)[..width]) }))
        .sum()
}

/// AVX2 twin of [`super::kernel::plane_sse_u16`] for samples of at most `bit_depth` bits.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn plane_sse_u16(
    a: &Plane<u16>,
    b: &Plane<u16>,
    width: usize,
    height: usize,
    bit_depth: u8,
) -> u64 {
    (0..height)
        // SAFETY: AVX2 is enabled (the caller's guarantee).
        .map(|y| unsafe { row_sse_u16(&a.row(y)[..width], &b.row(y)[..width], bit_depth) })
        .sum()
}
