//! AVX-512 twins of the PSNR sums in [`super::kernel`], bit-identical to them.
//!
//! The arithmetic of the AVX2 twins in [`super::avx2`] on twice the samples per step; row ends
//! are read with masked loads, whose masked-off lanes read nothing and count as zero.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use crate::picture::Plane;

/// The exact sum of the sixteen `u32` lanes of `v`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn lane_sum(v: __m512i) -> u64 {
    let zero = _mm512_setzero_si512();
    let wide = _mm512_add_epi64(
        _mm512_unpacklo_epi32(v, zero),
        _mm512_unpackhi_epi32(v, zero),
    );
    _mm512_reduce_add_epi64(wide) as u64
}

/// The mask selecting the first `min(n, 64)` of 64 lanes.
#[inline(always)]
fn first_lanes(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// AVX-512 twin of [`super::kernel::row_sse_u8`].
///
/// # Safety
/// The CPU must support AVX-512 F and BW.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub unsafe fn row_sse_u8(a: &[u8], b: &[u8]) -> u32 {
    let n = a.len().min(b.len());
    let zero = _mm512_setzero_si512();
    let mut acc = _mm512_setzero_si512();
    let mut j = 0;
    while j < n {
        let mask = first_lanes(n - j);
        // SAFETY: AVX-512 is enabled; the mask selects bytes `j..n` at most, inside both rows
        // (a full mask, all 64 bytes from `j`, only when `j + 64 <= n`).
        let (va, vb) = unsafe {
            let (pa, pb) = (a.as_ptr().add(j), b.as_ptr().add(j));
            if mask == u64::MAX {
                (_mm512_loadu_si512(pa.cast()), _mm512_loadu_si512(pb.cast()))
            } else {
                (
                    _mm512_maskz_loadu_epi8(mask, pa.cast()),
                    _mm512_maskz_loadu_epi8(mask, pb.cast()),
                )
            }
        };
        // Which sample lands in which lane does not matter for a sum.
        let d_lo = _mm512_sub_epi16(
            _mm512_unpacklo_epi8(va, zero),
            _mm512_unpacklo_epi8(vb, zero),
        );
        let d_hi = _mm512_sub_epi16(
            _mm512_unpackhi_epi8(va, zero),
            _mm512_unpackhi_epi8(vb, zero),
        );
        acc = _mm512_add_epi32(
            acc,
            _mm512_add_epi32(_mm512_madd_epi16(d_lo, d_lo), _mm512_madd_epi16(d_hi, d_hi)),
        );
        j += 64;
    }
    // Lanes wrap like libvmaf's `uint32_t` row sum; addition modulo 2^32 is order-free.
    _mm512_reduce_add_epi32(acc) as u32
}

/// AVX-512 twin of [`super::kernel::row_sse_u16`] for samples of at most `bit_depth` bits (as
/// pictures hold them; larger samples give a wrong sum, never unsafety).
///
/// # Safety
/// The CPU must support AVX-512 F and BW.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub unsafe fn row_sse_u16(a: &[u16], b: &[u16], bit_depth: u8) -> u64 {
    let n = a.len().min(b.len());
    let load = |s: &[u16], j: usize| {
        let mask = first_lanes(n - j) as u32;
        // SAFETY: AVX-512 is enabled; callers keep `j < n`, and the mask selects samples
        // `j..n` at most (a full mask, all 32 from `j`, only when `j + 32 <= n`).
        unsafe {
            let src = s.as_ptr().add(j);
            if mask == u32::MAX {
                _mm512_loadu_si512(src.cast())
            } else {
                _mm512_maskz_loadu_epi16(mask, src.cast())
            }
        }
    };
    let mut sum = 0u64;
    let mut j = 0;
    if bit_depth <= 15 {
        // Differences fit an `i16`; each `madd` lane gains at most two squares per step.
        let max = (1u64 << bit_depth) - 1;
        let steps = (u64::from(u32::MAX) / (2 * max * max)).max(1) as usize;
        while j < n {
            let mut acc = _mm512_setzero_si512();
            let mut step = 0;
            while step < steps && j < n {
                let d = _mm512_sub_epi16(load(a, j), load(b, j));
                acc = _mm512_add_epi32(acc, _mm512_madd_epi16(d, d));
                step += 1;
                j += 32;
            }
            sum += lane_sum(acc);
        }
    } else {
        // A square takes 32 bits: sum its low and high 16-bit halves apart, two per lane per
        // step, so a lane gains less than 2^17 a step and takes 2^15 steps.
        let low = _mm512_set1_epi32(0xffff);
        while j < n {
            let mut acc_lo = _mm512_setzero_si512();
            let mut acc_hi = _mm512_setzero_si512();
            let mut step = 0;
            while step < 1 << 15 && j < n {
                let (va, vb) = (load(a, j), load(b, j));
                let d = _mm512_sub_epi16(_mm512_max_epu16(va, vb), _mm512_min_epu16(va, vb));
                let sq_lo = _mm512_mullo_epi16(d, d);
                let sq_hi = _mm512_mulhi_epu16(d, d);
                acc_lo = _mm512_add_epi32(
                    acc_lo,
                    _mm512_add_epi32(_mm512_and_si512(sq_lo, low), _mm512_srli_epi32::<16>(sq_lo)),
                );
                acc_hi = _mm512_add_epi32(
                    acc_hi,
                    _mm512_add_epi32(_mm512_and_si512(sq_hi, low), _mm512_srli_epi32::<16>(sq_hi)),
                );
                step += 1;
                j += 32;
            }
            sum += (lane_sum(acc_hi) << 16) + lane_sum(acc_lo);
        }
    }
    sum
}

/// AVX-512 twin of [`super::kernel::plane_sse_u8`].
///
/// # Safety
/// The CPU must support AVX-512 F and BW.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub unsafe fn plane_sse_u8(a: &Plane<u8>, b: &Plane<u8>, width: usize, height: usize) -> u64 {
    (0..height)
        // SAFETY: AVX-512 is enabled (the caller's guarantee).
        .map(|y| u64::from(unsafe { row_sse_u8(&a.row(y)[..width], &b.row(y)[..width]) }))
        .sum()
}

/// AVX-512 twin of [`super::kernel::plane_sse_u16`] for samples of at most `bit_depth` bits.
///
/// # Safety
/// The CPU must support AVX-512 F and BW.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub unsafe fn plane_sse_u16(
    a: &Plane<u16>,
    b: &Plane<u16>,
    width: usize,
    height: usize,
    bit_depth: u8,
) -> u64 {
    (0..height)
        // SAFETY: AVX-512 is enabled (the caller's guarantee).
        .map(|y| unsafe { row_sse_u16(&a.row(y)[..width], &b.row(y)[..width], bit_depth) })
        .sum()
}
