//! AVX2 twins of the motion kernels in [`super::kernel`], bit-identical to them.
//!
//! The vertical pass works on 16 columns at a time in 16-bit lanes. For depths up to 14 bits the
//! paired outer differences (`d0 + d4`, `d1 + d3`) fit an `i16`, so one `madd` applies two taps
//! and sums them straight into exact 32-bit lanes, and a second `madd` adds the centre tap and
//! the rounding constant. At 15 and 16 bits the differences no longer fit, so each frame is
//! filtered on its own (samples shifted into `i16` range, which cancels in the difference) and
//! the two exact 32-bit sums are combined after splitting off their low `depth` bits, which
//! keeps the 33-bit difference out of the lanes.
//!
//! The filtered row (17-bit values) is stored split, `y = 256 * hi + lo`, as two `i16` rows:
//! the pack that narrows the 32-bit lanes also undoes the unpack's column interleave, and the
//! horizontal pass then filters each part with `madd` on 16 columns at a time, pairing the
//! symmetric taps (`y0 + y4`, `y1 + y3` of either part fit an `i16`), which is the scalar
//! twin's own split of the sum.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::kernel::{horizontal_edge_sum_split, horizontal_interior_sum_split, TAPS};

/// Deepest sample depth the paired-difference vertical pass ([`vertical_diff`]) handles
/// exactly; deeper samples take [`vertical_diff_wide`].
pub const MAX_NARROW_DEPTH: u8 = 14;

/// A sample type whose rows can be loaded 16 at a time as `i16` lanes.
pub trait Lanes16: Copy {
    /// Loads 16 samples from `src` (which must hold at least 16) as zero-extended `i16` lanes.
    ///
    /// # Safety
    /// The CPU must support AVX2 and `src.len() >= 16`.
    unsafe fn load16(src: &[Self]) -> __m256i;
}

impl Lanes16 for u8 {
    #[inline(always)]
    unsafe fn load16(src: &[u8]) -> __m256i {
        debug_assert!(src.len() >= 16);
        // SAFETY: the caller guarantees 16 readable bytes and AVX2.
        unsafe { _mm256_cvtepu8_epi16(_mm_loadu_si128(src.as_ptr().cast())) }
    }
}

impl Lanes16 for u16 {
    #[inline(always)]
    unsafe fn load16(src: &[u16]) -> __m256i {
        debug_assert!(src.len() >= 16);
        // SAFETY: the caller guarantees 16 readable samples (32 bytes) and AVX2.
        unsafe { _mm256_loadu_si256(src.as_ptr().cast()) }
    }
}

/// Stores the 16 filtered values `lo` and `hi` (in `unpack` order: 128-bit lane `l` of `lo`
/// holds columns `8l..8l + 4`, of `hi` columns `8l + 4..8l + 8`) split into `high[j..j + 16]`
/// and `low[j..j + 16]`, and returns the OR of both parts. Packing lane by lane puts the
/// columns back in order.
///
/// # Safety
/// The CPU must support AVX2; `j + 16 <= high.len()` and `j + 16 <= low.len()`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store_split(
    high: &mut [i16],
    low: &mut [i16],
    j: usize,
    lo: __m256i,
    hi: __m256i,
) -> __m256i {
    debug_assert!(j + 16 <= high.len() && j + 16 <= low.len());
    let byte = _mm256_set1_epi32(0xff);
    // Within ±256 and 0..256, so the saturating packs are exact.
    let h = _mm256_packs_epi32(_mm256_srai_epi32::<8>(lo), _mm256_srai_epi32::<8>(hi));
    let l = _mm256_packs_epi32(_mm256_and_si256(lo, byte), _mm256_and_si256(hi, byte));
    // SAFETY: AVX2 is enabled; the caller guarantees 16 entries from `j` in both rows.
    unsafe {
        _mm256_storeu_si256(high.as_mut_ptr().add(j).cast(), h);
        _mm256_storeu_si256(low.as_mut_ptr().add(j).cast(), l);
    }
    _mm256_or_si256(h, l)
}

/// The OR of the eight 32-bit lanes of `v`.
#[inline]
#[target_feature(enable = "avx2")]
fn lanes_or(v: __m256i) -> i32 {
    let mut lanes = [0i32; 8];
    // SAFETY: AVX2 is enabled; `lanes` is 32 bytes.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v) };
    lanes.iter().fold(0, |a, &b| a | b)
}

/// AVX2 twin of [`super::kernel::vertical_diff_narrow`] for depths up to
/// [`MAX_NARROW_DEPTH`] (`shift` is the depth), writing the row split into `high` and `low`
/// (see [`super::kernel::join`]). Returns a value that is zero exactly when the row is.
///
/// # Safety
/// The CPU must support AVX2; `high` and `low` must have the same length, and every row at
/// least that many samples.
#[target_feature(enable = "avx2")]
pub unsafe fn vertical_diff<T: Lanes16 + crate::picture::Pixel>(
    prev: &[&[T]; 5],
    cur: &[&[T]; 5],
    shift: u32,
    high: &mut [i16],
    low: &mut [i16],
) -> i32 {
    debug_assert!(shift <= u32::from(MAX_NARROW_DEPTH));
    let width = high.len();
    let round = 1i32 << (shift - 1);
    let taps01 = _mm256_set1_epi32((TAPS[1] << 16) | TAPS[0]);
    let taps2r = _mm256_set1_epi32((round << 16) | TAPS[2]);
    let one = _mm256_set1_epi16(1);
    let count = _mm_cvtsi32_si128(shift as i32);
    let mut any_v = _mm256_setzero_si256();
    let mut j = 0;
    while j + 16 <= width {
        // SAFETY: AVX2 is enabled for this function; every row holds `width >= j + 16` samples
        // and `high`, `low` have `width` entries, so all loads and stores stay in bounds.
        unsafe {
            let d = |k: usize| _mm256_sub_epi16(T::load16(&prev[k][j..]), T::load16(&cur[k][j..]));
            let s04 = _mm256_add_epi16(d(0), d(4));
            let s13 = _mm256_add_epi16(d(1), d(3));
            let d2 = d(2);
            // Lane order after unpack: columns 0-3 and 8-11 in `lo`, 4-7 and 12-15 in `hi`.
            let lo = _mm256_add_epi32(
                _mm256_madd_epi16(_mm256_unpacklo_epi16(s04, s13), taps01),
                _mm256_madd_epi16(_mm256_unpacklo_epi16(d2, one), taps2r),
            );
            let hi = _mm256_add_epi32(
                _mm256_madd_epi16(_mm256_unpackhi_epi16(s04, s13), taps01),
                _mm256_madd_epi16(_mm256_unpackhi_epi16(d2, one), taps2r),
            );
            let lo = _mm256_sra_epi32(lo, count);
            let hi = _mm256_sra_epi32(hi, count);
            any_v = _mm256_or_si256(any_v, store_split(high, low, j, lo, hi));
        }
        j += 16;
    }
    let mut any = lanes_or(any_v);
    if j < width {
        any |= super::kernel::vertical_diff_tail_split(prev, cur, shift, j, high, low);
    }
    any
}

/// One frame's filtered column sums `sum(tap * (x - 2^15))` for columns `j..j + 16`, exact in
/// 32-bit lanes, in `unpack` order (see [`store_split`]).
///
/// # Safety
/// The CPU must support AVX2; every row must hold at least `j + 16` samples.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn filtered_columns<T: Lanes16>(rows: &[&[T]; 5], j: usize) -> (__m256i, __m256i) {
    // Pairs (x0, x1) and (x3, x4) take two taps in one `madd`; (x2, 0) takes the centre one.
    let taps01 = _mm256_set1_epi32((TAPS[1] << 16) | TAPS[0]);
    let taps10 = _mm256_set1_epi32((TAPS[0] << 16) | TAPS[1]);
    let taps2 = _mm256_set1_epi32(TAPS[2]);
    let flip = _mm256_set1_epi16(i16::MIN);
    let zero = _mm256_setzero_si256();
    // SAFETY: AVX2 is enabled; the caller guarantees 16 samples from `j` in every row.
    let x = |k: usize| unsafe { _mm256_xor_si256(T::load16(&rows[k][j..]), flip) };
    let (x0, x1, x2, x3, x4) = (x(0), x(1), x(2), x(3), x(4));
    let lo = _mm256_add_epi32(
        _mm256_add_epi32(
            _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1), taps01),
            _mm256_madd_epi16(_mm256_unpacklo_epi16(x3, x4), taps10),
        ),
        _mm256_madd_epi16(_mm256_unpacklo_epi16(x2, zero), taps2),
    );
    let hi = _mm256_add_epi32(
        _mm256_add_epi32(
            _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1), taps01),
            _mm256_madd_epi16(_mm256_unpackhi_epi16(x3, x4), taps10),
        ),
        _mm256_madd_epi16(_mm256_unpackhi_epi16(x2, zero), taps2),
    );
    (lo, hi)
}

/// AVX2 twin of the vertical pass for 15- and 16-bit samples
/// ([`super::kernel::vertical_diff_narrow`] at 15 bits, [`super::kernel::vertical_diff_wide`] at
/// 16; `shift` is the depth). Returns the OR of all outputs.
///
/// Each frame's filtered column `S = sum(tap * x)` is exact in 32 bits once the samples are
/// moved to `x - 2^15` (the taps sum to 2^16, so `|S| <= 2^31`; the shift cancels in the
/// difference). With `S = H * 2^shift + L`, `0 <= L < 2^shift`,
/// `(S_prev - S_cur + round) >> shift` is `H_prev - H_cur + ((L_prev - L_cur + round) >> shift)`
/// exactly, and no term needs more than 32 bits.
///
/// # Safety
/// The CPU must support AVX2; `high` and `low` must have the same length, and every row at
/// least that many samples.
#[target_feature(enable = "avx2")]
pub unsafe fn vertical_diff_wide<T: Lanes16 + crate::picture::Pixel>(
    prev: &[&[T]; 5],
    cur: &[&[T]; 5],
    shift: u32,
    high: &mut [i16],
    low: &mut [i16],
) -> i32 {
    debug_assert!((15..=16).contains(&shift));
    let width = high.len();
    let low_bits = _mm256_set1_epi32((1 << shift) - 1);
    let round = _mm256_set1_epi32(1 << (shift - 1));
    let count = _mm_cvtsi32_si128(shift as i32);
    let mut any_v = _mm256_setzero_si256();
    let mut j = 0;
    while j + 16 <= width {
        // SAFETY: AVX2 is enabled for this function; every row holds `width >= j + 16` samples
        // and `high`, `low` have `width` entries, so all loads and stores stay in bounds.
        unsafe {
            // The filtered column sums of one frame, columns in the unpack lane order.
            let combine = |p: __m256i, c: __m256i| {
                let whole =
                    _mm256_sub_epi32(_mm256_sra_epi32(p, count), _mm256_sra_epi32(c, count));
                let frac =
                    _mm256_sub_epi32(_mm256_and_si256(p, low_bits), _mm256_and_si256(c, low_bits));
                _mm256_add_epi32(
                    whole,
                    _mm256_sra_epi32(_mm256_add_epi32(frac, round), count),
                )
            };
            let (p_lo, p_hi) = filtered_columns(prev, j);
            let (c_lo, c_hi) = filtered_columns(cur, j);
            let lo = combine(p_lo, c_lo);
            let hi = combine(p_hi, c_hi);
            any_v = _mm256_or_si256(any_v, store_split(high, low, j, lo, hi));
        }
        j += 16;
    }
    let mut any = lanes_or(any_v);
    if j < width {
        any |= super::kernel::vertical_diff_tail_split(prev, cur, shift, j, high, low);
    }
    any
}

/// AVX2 twin of [`super::kernel::horizontal_abs_sum`] on a row split into `high` and `low`
/// (see [`super::kernel::join`]).
///
/// # Safety
/// The CPU must support AVX2; `high.len() == low.len() >= MIN_SIDE`.
#[target_feature(enable = "avx2")]
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
    let taps01 = _mm256_set1_epi32((TAPS[1] << 16) | TAPS[0]);
    let taps2 = _mm256_set1_epi32(((1 << 14) << 16) | TAPS[2]);
    let zero = _mm256_setzero_si256();
    let two = _mm256_set1_epi16(2);
    let mut acc = _mm256_setzero_si256();
    let mut j = 0;
    while j + 16 <= n {
        // SAFETY: AVX2 is enabled; the loads read entries `j + k .. j + k + 16` for `k <= 4`,
        // and `j + 16 <= n = w - 4` keeps them inside both rows.
        unsafe {
            // The part's weighted sums, in `unpack` order (the same for both parts).
            let part = |row: &[i16], c: __m256i| {
                let at = |k: usize| _mm256_loadu_si256(row.as_ptr().add(j + k).cast());
                let s04 = _mm256_add_epi16(at(0), at(4));
                let s13 = _mm256_add_epi16(at(1), at(3));
                let y2 = at(2);
                let lo = _mm256_add_epi32(
                    _mm256_madd_epi16(_mm256_unpacklo_epi16(s04, s13), taps01),
                    _mm256_madd_epi16(_mm256_unpacklo_epi16(y2, c), taps2),
                );
                let hi = _mm256_add_epi32(
                    _mm256_madd_epi16(_mm256_unpackhi_epi16(s04, s13), taps01),
                    _mm256_madd_epi16(_mm256_unpackhi_epi16(y2, c), taps2),
                );
                (lo, hi)
            };
            let (h_lo, h_hi) = part(high, zero);
            let (l_lo, l_hi) = part(low, two);
            let value = |h: __m256i, l: __m256i| {
                _mm256_abs_epi32(_mm256_srai_epi32::<8>(_mm256_add_epi32(
                    h,
                    _mm256_srai_epi32::<8>(l),
                )))
            };
            acc = _mm256_add_epi32(acc, _mm256_add_epi32(value(h_lo, l_lo), value(h_hi, l_hi)));
        }
        j += 16;
    }
    let mut lanes = [0u32; 8];
    // SAFETY: AVX2 is enabled; `lanes` is 32 bytes.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
    // Lane sums wrap like the scalar accumulator; addition modulo 2^32 is order-free.
    let simd = lanes.iter().fold(0u32, |a, &b| a.wrapping_add(b));
    sum.wrapping_add(simd)
        .wrapping_add(horizontal_interior_sum_split(high, low, j, n))
}

/// AVX2 twin of [`super::kernel::blurred_sad_replacing`]: the SAD of `prev` against `cur`, after
/// which `prev` holds `cur`'s samples.
///
/// # Safety
/// The CPU must support AVX2; the planes must hold `height` rows of `width` samples at their
/// strides, both sides at least [`super::kernel::MIN_SIDE`], `row_buf.len() == width`, and
/// `bit_depth` between 8 and 16.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
pub unsafe fn blurred_sad_replacing<T: Lanes16 + crate::picture::Pixel>(
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
        // SAFETY: AVX2 is enabled (the caller's guarantee); every row slice holds
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
