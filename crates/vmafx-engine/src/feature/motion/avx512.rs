//! AVX-512 twins of the motion kernels in [`super::kernel`], bit-identical to them.
//!
//! The same arithmetic as the AVX2 twins in [`super::avx2`], on twice the columns per step:
//! the vertical pass takes 32 columns in 16-bit lanes (paired differences and `madd` up to 14
//! bits, each frame filtered apart and split at 15 and 16), the horizontal pass 16 outputs in
//! 32-bit lanes. The horizontal pass applies its taps with `madd` rather than 32-bit multiplies:
//! the high and low parts of every input, and their symmetric pair sums, fit an `i16`, so a
//! `madd` against a tap with a zero high half is an exact, cheaper multiply. Row ends are
//! handled with masked loads and stores, which read and write nothing outside the row.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::avx2::MAX_NARROW_DEPTH;
use super::kernel::{horizontal_edge_sum, TAPS};

/// A sample type whose rows can be loaded 32 at a time as `i16` lanes.
pub trait Lanes32: Copy {
    /// Loads the samples at `src` whose bits are set in `mask` (bit `i` for sample `i`) as
    /// zero-extended `i16` lanes, zeros elsewhere.
    ///
    /// # Safety
    /// The CPU must support AVX-512 BW and VL, and every sample selected by `mask` must be
    /// readable.
    unsafe fn load32(src: *const Self, mask: u32) -> __m512i;
}

impl Lanes32 for u8 {
    #[inline(always)]
    unsafe fn load32(src: *const u8, mask: u32) -> __m512i {
        // SAFETY: the caller guarantees the selected bytes are readable and AVX-512 BW/VL;
        // masked-off bytes are not accessed.
        unsafe { _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(mask, src.cast())) }
    }
}

impl Lanes32 for u16 {
    #[inline(always)]
    unsafe fn load32(src: *const u16, mask: u32) -> __m512i {
        // SAFETY: as for `u8`; masked-off samples are not accessed.
        unsafe { _mm512_maskz_loadu_epi16(mask, src.cast()) }
    }
}

/// The mask selecting the first `min(n, 32)` of 32 lanes.
#[inline(always)]
fn lanes32(n: usize) -> u32 {
    if n >= 32 {
        u32::MAX
    } else {
        (1u32 << n) - 1
    }
}

/// The mask selecting the first `min(n, 16)` of 16 lanes.
#[inline(always)]
fn lanes16(n: usize) -> u16 {
    if n >= 16 {
        u16::MAX
    } else {
        (1u16 << n) - 1
    }
}

/// Stores 32 outputs, `first` for columns `j..j + 16` and `second` for `j + 16..j + 32`, of
/// which only the first `out.len() - j` are written, and returns their OR.
///
/// The two halves arrive in `unpack` order: 128-bit block `b` of `lo` holds columns
/// `8b..8b + 4`, of `hi` columns `8b + 4..8b + 8`; a two-source permute puts them back.
///
/// # Safety
/// The CPU must support AVX-512 F; `j < out.len()`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn store_columns(out: &mut [i32], j: usize, lo: __m512i, hi: __m512i) -> __m512i {
    let first = _mm512_permutex2var_epi64(lo, _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0), hi);
    let second = _mm512_permutex2var_epi64(lo, _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4), hi);
    let left = out.len() - j;
    // SAFETY: AVX-512 F is enabled; the masks select only columns below `out.len()`.
    unsafe {
        let dst = out.as_mut_ptr().add(j);
        _mm512_mask_storeu_epi32(dst, lanes16(left), first);
        if left > 16 {
            _mm512_mask_storeu_epi32(dst.add(16), lanes16(left - 16), second);
        }
    }
    // Lanes past the row end come from zero samples, which filter to zero.
    _mm512_or_si512(first, second)
}

/// AVX-512 twin of [`super::kernel::vertical_diff_narrow`] for depths up to
/// [`MAX_NARROW_DEPTH`] (`shift` is the depth). Returns the OR of all outputs.
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VL; every row must hold at least `out.len()` samples.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub unsafe fn vertical_diff<T: Lanes32>(
    prev: &[&[T]; 5],
    cur: &[&[T]; 5],
    shift: u32,
    out: &mut [i32],
) -> i32 {
    debug_assert!(shift <= u32::from(MAX_NARROW_DEPTH));
    let width = out.len();
    let round = 1i32 << (shift - 1);
    let taps01 = _mm512_set1_epi32((TAPS[1] << 16) | TAPS[0]);
    let taps2r = _mm512_set1_epi32((round << 16) | TAPS[2]);
    let one = _mm512_set1_epi16(1);
    let count = _mm_cvtsi32_si128(shift as i32);
    let mut any = _mm512_setzero_si512();
    let mut j = 0;
    while j < width {
        let mask = lanes32(width - j);
        // SAFETY: AVX-512 is enabled for this function; the mask selects only columns below
        // `width`, which every row holds, and `j < width`.
        unsafe {
            let d = |k: usize| {
                _mm512_sub_epi16(
                    T::load32(prev[k].as_ptr().add(j), mask),
                    T::load32(cur[k].as_ptr().add(j), mask),
                )
            };
            let s04 = _mm512_add_epi16(d(0), d(4));
            let s13 = _mm512_add_epi16(d(1), d(3));
            let d2 = d(2);
            let lo = _mm512_add_epi32(
                _mm512_madd_epi16(_mm512_unpacklo_epi16(s04, s13), taps01),
                _mm512_madd_epi16(_mm512_unpacklo_epi16(d2, one), taps2r),
            );
            let hi = _mm512_add_epi32(
                _mm512_madd_epi16(_mm512_unpackhi_epi16(s04, s13), taps01),
                _mm512_madd_epi16(_mm512_unpackhi_epi16(d2, one), taps2r),
            );
            let lo = _mm512_sra_epi32(lo, count);
            let hi = _mm512_sra_epi32(hi, count);
            any = _mm512_or_si512(any, store_columns(out, j, lo, hi));
        }
        j += 32;
    }
    _mm512_reduce_or_epi32(any)
}

/// AVX-512 twin of [`super::avx2::vertical_diff_wide`] (15- and 16-bit samples; `shift` is the
/// depth), with the same split of each frame's filtered sums. Returns the OR of all outputs.
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VL; every row must hold at least `out.len()` samples.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub unsafe fn vertical_diff_wide<T: Lanes32>(
    prev: &[&[T]; 5],
    cur: &[&[T]; 5],
    shift: u32,
    out: &mut [i32],
) -> i32 {
    debug_assert!((15..=16).contains(&shift));
    let width = out.len();
    let taps01 = _mm512_set1_epi32((TAPS[1] << 16) | TAPS[0]);
    let taps10 = _mm512_set1_epi32((TAPS[0] << 16) | TAPS[1]);
    let taps2 = _mm512_set1_epi32(TAPS[2]);
    let flip = _mm512_set1_epi16(i16::MIN);
    let zero = _mm512_setzero_si512();
    let low_bits = _mm512_set1_epi32((1 << shift) - 1);
    let round = _mm512_set1_epi32(1 << (shift - 1));
    let count = _mm_cvtsi32_si128(shift as i32);
    let mut any = _mm512_setzero_si512();
    let mut j = 0;
    while j < width {
        let mask = lanes32(width - j);
        // SAFETY: AVX-512 is enabled for this function; the mask selects only columns below
        // `width`, which every row holds, and `j < width`.
        unsafe {
            let filtered = |rows: &[&[T]; 5]| {
                let x = |k: usize| _mm512_xor_si512(T::load32(rows[k].as_ptr().add(j), mask), flip);
                let (x0, x1, x2, x3, x4) = (x(0), x(1), x(2), x(3), x(4));
                let lo = _mm512_add_epi32(
                    _mm512_add_epi32(
                        _mm512_madd_epi16(_mm512_unpacklo_epi16(x0, x1), taps01),
                        _mm512_madd_epi16(_mm512_unpacklo_epi16(x3, x4), taps10),
                    ),
                    _mm512_madd_epi16(_mm512_unpacklo_epi16(x2, zero), taps2),
                );
                let hi = _mm512_add_epi32(
                    _mm512_add_epi32(
                        _mm512_madd_epi16(_mm512_unpackhi_epi16(x0, x1), taps01),
                        _mm512_madd_epi16(_mm512_unpackhi_epi16(x3, x4), taps10),
                    ),
                    _mm512_madd_epi16(_mm512_unpackhi_epi16(x2, zero), taps2),
                );
                (lo, hi)
            };
            let combine = |p: __m512i, c: __m512i| {
                let whole =
                    _mm512_sub_epi32(_mm512_sra_epi32(p, count), _mm512_sra_epi32(c, count));
                let frac =
                    _mm512_sub_epi32(_mm512_and_si512(p, low_bits), _mm512_and_si512(c, low_bits));
                _mm512_add_epi32(
                    whole,
                    _mm512_sra_epi32(_mm512_add_epi32(frac, round), count),
                )
            };
            let (p_lo, p_hi) = filtered(prev);
            let (c_lo, c_hi) = filtered(cur);
            let lo = combine(p_lo, c_lo);
            let hi = combine(p_hi, c_hi);
            any = _mm512_or_si512(any, store_columns(out, j, lo, hi));
        }
        j += 32;
    }
    _mm512_reduce_or_epi32(any)
}

/// AVX-512 twin of [`super::kernel::horizontal_abs_sum`].
///
/// # Safety
/// The CPU must support AVX-512 F and BW; `row.len()` must be at least
/// [`super::kernel::MIN_SIDE`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub unsafe fn horizontal_abs_sum(row: &[i32]) -> u32 {
    let w = row.len();
    let sum = horizontal_edge_sum(row);
    if w <= 4 {
        return sum;
    }
    let n = w - 4;
    // A tap in the low half of each 32-bit lane, zero in the high half, so that `madd` with a
    // lane holding a small value multiplies it exactly and ignores its sign-extension bits.
    let t0 = _mm512_set1_epi32(TAPS[0]);
    let t1 = _mm512_set1_epi32(TAPS[1]);
    let t2 = _mm512_set1_epi32(TAPS[2]);
    let low_byte = _mm512_set1_epi32(0xff);
    let half = _mm512_set1_epi32(1 << 15);
    let mut acc = _mm512_setzero_si512();
    let mut j = 0;
    while j < n {
        let mask = lanes16(n - j);
        // SAFETY: AVX-512 is enabled; the loads read `row[j + k + l]` for `k <= 4` and the
        // lanes `l` selected by the mask, `j + l < n = w - 4`, so inside `row`. Masked-off
        // lanes load zeros, which filter to zero.
        unsafe {
            let at = |k: usize| _mm512_maskz_loadu_epi32(mask, row.as_ptr().add(j + k));
            let y = [at(0), at(1), at(2), at(3), at(4)];
            // The inputs lie within ±2^16: high parts within ±256 and low bytes below 256, so
            // both parts and their pair sums fit an `i16`.
            let taps = |f: [__m512i; 5]| {
                _mm512_add_epi32(
                    _mm512_add_epi32(
                        _mm512_madd_epi16(_mm512_add_epi32(f[0], f[4]), t0),
                        _mm512_madd_epi16(_mm512_add_epi32(f[1], f[3]), t1),
                    ),
                    _mm512_madd_epi16(f[2], t2),
                )
            };
            let hi_sum = taps(y.map(|v| _mm512_srai_epi32::<8>(v)));
            let lo_sum = taps(y.map(|v| _mm512_and_si512(v, low_byte)));
            let v = _mm512_srai_epi32::<8>(_mm512_add_epi32(
                hi_sum,
                _mm512_srai_epi32::<8>(_mm512_add_epi32(lo_sum, half)),
            ));
            acc = _mm512_add_epi32(acc, _mm512_abs_epi32(v));
        }
        j += 16;
    }
    // Lane sums wrap like the scalar accumulator; addition modulo 2^32 is order-free.
    sum.wrapping_add(_mm512_reduce_add_epi32(acc) as u32)
}

/// AVX-512 twin of [`super::kernel::blurred_sad_replacing`]: the SAD of `prev` against `cur`,
/// after which `prev` holds `cur`'s samples.
///
/// # Safety
/// The CPU must support AVX-512 F, CD, BW, DQ and VL and AVX2; the planes must hold `height`
/// rows of `width` samples at their strides, both sides at least [`super::kernel::MIN_SIDE`],
/// `row_buf.len() == width`, and `bit_depth` between 8 and 16.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub unsafe fn blurred_sad_replacing<T: Lanes32 + crate::picture::Pixel>(
    prev: &mut [T],
    prev_stride: usize,
    cur: &[T],
    cur_stride: usize,
    width: usize,
    height: usize,
    bit_depth: u8,
    row_buf: &mut [i32],
) -> u64 {
    let shift = u32::from(bit_depth);
    let narrow = bit_depth <= MAX_NARROW_DEPTH;
    super::kernel::sad_rows_replacing(prev, prev_stride, cur, cur_stride, width, height, |p, c| {
        // SAFETY: AVX-512 is enabled (the caller's guarantee); every row slice holds
        // `width == row_buf.len()` samples, and `row_buf.len() >= MIN_SIDE`.
        unsafe {
            let any = if narrow {
                vertical_diff(p, c, shift, row_buf)
            } else {
                vertical_diff_wide(p, c, shift, row_buf)
            };
            if any == 0 {
                0
            } else {
                horizontal_abs_sum(row_buf)
            }
        }
    })
}
