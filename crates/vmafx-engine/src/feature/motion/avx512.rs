//! AVX-512 twins of the motion kernels in [`super::kernel`], bit-identical to them.
//!
//! The same arithmetic as the AVX2 twins in [`super::avx2`], on twice the columns per step:
//! the vertical pass takes 32 columns in 16-bit lanes (paired differences and `madd` up to 14
//! bits, each frame filtered apart and split at 15 and 16) and stores the row split into two
//! `i16` rows; the horizontal pass filters 32 outputs of both parts with `madd`. Row ends are
//! handled with masked loads and stores, which read and write nothing outside the row.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::avx2::MAX_NARROW_DEPTH;
use super::kernel::{horizontal_edge_sum_split, TAPS};

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
        // masked-off bytes are not accessed. A full mask reads all 32.
        unsafe {
            _mm512_cvtepu8_epi16(if mask == u32::MAX {
                _mm256_loadu_si256(src.cast())
            } else {
                _mm256_maskz_loadu_epi8(mask, src.cast())
            })
        }
    }
}

impl Lanes32 for u16 {
    #[inline(always)]
    unsafe fn load32(src: *const u16, mask: u32) -> __m512i {
        // SAFETY: as for `u8`; masked-off samples are not accessed. A full mask reads all 32.
        unsafe {
            if mask == u32::MAX {
                _mm512_loadu_si512(src.cast())
            } else {
                _mm512_maskz_loadu_epi16(mask, src.cast())
            }
        }
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

/// Stores the 32 filtered values `lo` and `hi` (in `unpack` order: 128-bit lane `l` of `lo`
/// holds columns `8l..8l + 4`, of `hi` columns `8l + 4..8l + 8`) split into `high[j..]` and
/// `low[j..]`, as many as the rows have room for up to 32, and returns the OR of both parts.
/// Packing lane by lane puts the columns back in order.
///
/// # Safety
/// The CPU must support AVX-512 BW; `j < high.len() == low.len()`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn store_split(
    high: &mut [i16],
    low: &mut [i16],
    j: usize,
    lo: __m512i,
    hi: __m512i,
) -> __m512i {
    debug_assert!(j < high.len() && high.len() == low.len());
    let byte = _mm512_set1_epi32(0xff);
    // Within ±256 and 0..256, so the saturating packs are exact.
    let h = _mm512_packs_epi32(_mm512_srai_epi32::<8>(lo), _mm512_srai_epi32::<8>(hi));
    let l = _mm512_packs_epi32(_mm512_and_si512(lo, byte), _mm512_and_si512(hi, byte));
    let mask = lanes32(high.len() - j);
    // SAFETY: AVX-512 BW is enabled; the mask selects only entries below the rows' length.
    unsafe {
        if mask == u32::MAX {
            _mm512_storeu_si512(high.as_mut_ptr().add(j).cast(), h);
            _mm512_storeu_si512(low.as_mut_ptr().add(j).cast(), l);
        } else {
            _mm512_mask_storeu_epi16(high.as_mut_ptr().add(j), mask, h);
            _mm512_mask_storeu_epi16(low.as_mut_ptr().add(j), mask, l);
        }
    }
    // Lanes past the row end come from zero samples, which filter to zero.
    _mm512_or_si512(h, l)
}

/// AVX-512 twin of [`super::kernel::vertical_diff_narrow`] for depths up to
/// [`MAX_NARROW_DEPTH`] (`shift` is the depth), writing the row split into `high` and `low`
/// (see [`super::kernel::join`]). Returns a value that is zero exactly when the row is.
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VL; `high` and `low` must have the same length, and
/// every row at least that many samples.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub unsafe fn vertical_diff<T: Lanes32>(
    prev: &[&[T]; 5],
    cur: &[&[T]; 5],
    shift: u32,
    high: &mut [i16],
    low: &mut [i16],
) -> i32 {
    debug_assert!(shift <= u32::from(MAX_NARROW_DEPTH));
    let width = high.len();
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
            any = _mm512_or_si512(any, store_split(high, low, j, lo, hi));
        }
        j += 32;
    }
    _mm512_reduce_or_epi32(any)
}

/// AVX-512 twin of [`super::avx2::vertical_diff_wide`] (15- and 16-bit samples; `shift` is the
/// depth), with the same split of each frame's filtered sums, writing the row split into
/// `high` and `low`. Returns a value that is zero exactly when the row is.
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VL; `high` and `low` must have the same length, and
/// every row at least that many samples.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub unsafe fn vertical_diff_wide<T: Lanes32>(
    prev: &[&[T]; 5],
    cur: &[&[T]; 5],
    shift: u32,
    high: &mut [i16],
    low: &mut [i16],
) -> i32 {
    debug_assert!((15..=16).contains(&shift));
    let width = high.len();
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
            any = _mm512_or_si512(any, store_split(high, low, j, lo, hi));
        }
        j += 32;
    }
    _mm512_reduce_or_epi32(any)
}

/// AVX-512 twin of [`super::kernel::horizontal_abs_sum`] on a row split into `high` and `low`
/// (see [`super::kernel::join`]).
///
/// # Safety
/// The CPU must support AVX-512 F and BW; `high.len() == low.len() >= MIN_SIDE`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub unsafe fn horizontal_abs_sum(high: &[i16], low: &[i16]) -> u32 {
    let w = high.len();
    debug_assert!(low.len() == w);
    let sum = horizontal_edge_sum_split(high, low);
    if w <= 4 {
        return sum;
    }
    let n = w - 4;
    // (y0 + y4, y1 + y3) pairs take the outer taps; (y2, c) takes the centre tap and `c` times
    // the second half of the pair: nothing for the high part, the rounding 2^15 (as 2 * 2^14)
    // for the low part.
    let taps01 = _mm512_set1_epi32((TAPS[1] << 16) | TAPS[0]);
    let taps2 = _mm512_set1_epi32(((1 << 14) << 16) | TAPS[2]);
    let zero = _mm512_setzero_si512();
    let two = _mm512_set1_epi16(2);
    let mut acc = _mm512_setzero_si512();
    let mut j = 0;
    while j < n {
        let mask = lanes32(n - j);
        // SAFETY: AVX-512 is enabled; the loads read entries `j + k + l` for `k <= 4` and the
        // lanes `l` the mask selects, `j + l < n = w - 4`, so inside both rows. Masked-off
        // lanes load zeros, which filter to zero.
        unsafe {
            // The part's weighted sums, in `unpack` order (the same for both parts).
            let part = |row: &[i16], c: __m512i| {
                let at = |k: usize| {
                    let src = row.as_ptr().add(j + k);
                    if mask == u32::MAX {
                        _mm512_loadu_si512(src.cast())
                    } else {
                        _mm512_maskz_loadu_epi16(mask, src)
                    }
                };
                let s04 = _mm512_add_epi16(at(0), at(4));
                let s13 = _mm512_add_epi16(at(1), at(3));
                let y2 = at(2);
                let lo = _mm512_add_epi32(
                    _mm512_madd_epi16(_mm512_unpacklo_epi16(s04, s13), taps01),
                    _mm512_madd_epi16(_mm512_unpacklo_epi16(y2, c), taps2),
                );
                let hi = _mm512_add_epi32(
                    _mm512_madd_epi16(_mm512_unpackhi_epi16(s04, s13), taps01),
                    _mm512_madd_epi16(_mm512_unpackhi_epi16(y2, c), taps2),
                );
                (lo, hi)
            };
            let (h_lo, h_hi) = part(high, zero);
            let (l_lo, l_hi) = part(low, two);
            let value = |h: __m512i, l: __m512i| {
                _mm512_abs_epi32(_mm512_srai_epi32::<8>(_mm512_add_epi32(
                    h,
                    _mm512_srai_epi32::<8>(l),
                )))
            };
            acc = _mm512_add_epi32(acc, _mm512_add_epi32(value(h_lo, l_lo), value(h_hi, l_hi)));
        }
        j += 32;
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
    let (high, low) = super::kernel::split_scratch(row_buf);
    super::kernel::sad_rows_replacing(prev, prev_stride, cur, cur_stride, width, height, |p, c| {
        // SAFETY: AVX-512 is enabled (the caller's guarantee); every row slice holds
        // `width == high.len() == low.len()` samples, and `width >= MIN_SIDE`.
        unsafe {
            let any = if narrow {
                vertical_diff(p, c, shift, high, low)
            } else {
                vertical_diff_wide(p, c, shift, high, low)
            };
            if any == 0 {
                0
            } else {
                horizontal_abs_sum(high, low)
            }
        }
    })
}
