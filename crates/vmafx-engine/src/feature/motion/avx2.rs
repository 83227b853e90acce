//! AVX2 twins of the motion kernels in [`super::kernel`], bit-identical to them.
//!
//! The vertical pass works on 16 columns at a time in 16-bit lanes. For depths up to 14 bits the
//! paired outer differences (`d0 + d4`, `d1 + d3`) fit an `i16`, so one `madd` applies two taps
//! and sums them straight into exact 32-bit lanes, and a second `madd` adds the centre tap and
//! the rounding constant. At 15 and 16 bits the differences no longer fit, so each frame is
//! filtered on its own (samples shifted into `i16` range, which cancels in the difference) and
//! the two exact 32-bit sums are combined after splitting off their low `depth` bits, which
//! keeps the 33-bit difference out of the lanes. The horizontal pass keeps the scalar twin's
//! split of every input into a high and a low byte, which keeps all products inside `i32` lanes.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::kernel::{horizontal_edge_sum, TAPS};

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

/// AVX2 twin of [`super::kernel::vertical_diff_narrow`] for depths up to
/// [`MAX_NARROW_DEPTH`] (`shift` is the depth). Returns the OR of all outputs.
///
/// # Safety
/// The CPU must support AVX2; every row must hold at least `out.len()` samples.
#[target_feature(enable = "avx2")]
pub unsafe fn vertical_diff<T: Lanes16 + crate::picture::Pixel>(
    prev: &[&[T]; 5],
    cur: &[&[T]; 5],
    shift: u32,
    out: &mut [i32],
) -> i32 {
    debug_assert!(shift <= u32::from(MAX_NARROW_DEPTH));
    let width = out.len();
    let round = 1i32 << (shift - 1);
    let taps01 = _mm256_set1_epi32((TAPS[1] << 16) | TAPS[0]);
    let taps2r = _mm256_set1_epi32((round << 16) | TAPS[2]);
    let one = _mm256_set1_epi16(1);
    let count = _mm_cvtsi32_si128(shift as i32);
    let mut any_v = _mm256_setzero_si256();
    let mut j = 0;
    while j + 16 <= width {
        // SAFETY: AVX2 is enabled for this function; every row holds `width >= j + 16` samples
        // and `out` has `width` entries, so all loads and stores stay in bounds.
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
            let first = _mm256_permute2x128_si256(lo, hi, 0x20);
            let second = _mm256_permute2x128_si256(lo, hi, 0x31);
            any_v = _mm256_or_si256(any_v, _mm256_or_si256(first, second));
            let dst = out[j..j + 16].as_mut_ptr();
            _mm256_storeu_si256(dst.cast(), first);
            _mm256_storeu_si256(dst.add(8).cast(), second);
        }
        j += 16;
    }
    let mut lanes = [0i32; 8];
    // SAFETY: AVX2 is enabled; `lanes` is 32 bytes.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), any_v) };
    let mut any = lanes.iter().fold(0, |a, &b| a | b);
    if j < width {
        any |= super::kernel::vertical_diff_tail(prev, cur, shift, j, out);
    }
    any
}

/// AVX2 twin of [`super::kernel::horizontal_abs_sum`].
///
/// # Safety
/// The CPU must support AVX2; `row.len()` must be at least [`super::kernel::MIN_SIDE`].
#[target_feature(enable = "avx2")]
pub unsafe fn horizontal_abs_sum(row: &[i32]) -> u32 {
    let w = row.len();
    let mut sum = horizontal_edge_sum(row);
    if w <= 4 {
        return sum;
    }
    let n = w - 4;
    let t0 = _mm256_set1_epi32(TAPS[0]);
    let t1 = _mm256_set1_epi32(TAPS[1]);
    let t2 = _mm256_set1_epi32(TAPS[2]);
    let low_byte = _mm256_set1_epi32(0xff);
    let half = _mm256_set1_epi32(1 << 15);
    let mut acc = _mm256_setzero_si256();
    let mut j = 0;
    while j + 8 <= n {
        // SAFETY: AVX2 is enabled; the loads read `row[j + k .. j + k + 8]` for `k <= 4`, and
        // `j + 8 <= n = w - 4` keeps them inside `row`.
        unsafe {
            let at = |k: usize| _mm256_loadu_si256(row[j + k..j + k + 8].as_ptr().cast());
            let (y0, y1, y2, y3, y4) = (at(0), at(1), at(2), at(3), at(4));
            let hi = |v: __m256i| _mm256_srai_epi32::<8>(v);
            let lo = |v: __m256i| _mm256_and_si256(v, low_byte);
            let hi_sum = _mm256_add_epi32(
                _mm256_add_epi32(
                    _mm256_mullo_epi32(t0, _mm256_add_epi32(hi(y0), hi(y4))),
                    _mm256_mullo_epi32(t1, _mm256_add_epi32(hi(y1), hi(y3))),
                ),
                _mm256_mullo_epi32(t2, hi(y2)),
            );
            let lo_sum = _mm256_add_epi32(
                _mm256_add_epi32(
                    _mm256_mullo_epi32(t0, _mm256_add_epi32(lo(y0), lo(y4))),
                    _mm256_mullo_epi32(t1, _mm256_add_epi32(lo(y1), lo(y3))),
                ),
                _mm256_mullo_epi32(t2, lo(y2)),
            );
            let v = _mm256_srai_epi32::<8>(_mm256_add_epi32(
                hi_sum,
                _mm256_srai_epi32::<8>(_mm256_add_epi32(lo_sum, half)),
            ));
            acc = _mm256_add_epi32(acc, _mm256_abs_epi32(v));
        }
        j += 8;
    }
    let mut lanes = [0u32; 8];
    // SAFETY: AVX2 is enabled; `lanes` is 32 bytes.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
    // Lane sums wrap like the scalar accumulator; addition modulo 2^32 is order-free.
    for l in lanes {
        sum = sum.wrapping_add(l);
    }
    sum.wrapping_add(super::kernel::horizontal_interior_sum(row, j, n))
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
/// The CPU must support AVX2; every row must hold at least `out.len()` samples.
#[target_feature(enable = "avx2")]
pub unsafe fn vertical_diff_wide<T: Lanes16 + crate::picture::Pixel>(
    prev: &[&[T]; 5],
    cur: &[&[T]; 5],
    shift: u32,
    out: &mut [i32],
) -> i32 {
    debug_assert!((15..=16).contains(&shift));
    let width = out.len();
    // Pairs (x0, x1) and (x3, x4) take two taps in one `madd`; (x2, 0) takes the centre one.
    let taps01 = _mm256_set1_epi32((TAPS[1] << 16) | TAPS[0]);
    let taps10 = _mm256_set1_epi32((TAPS[0] << 16) | TAPS[1]);
    let taps2 = _mm256_set1_epi32(TAPS[2]);
    let flip = _mm256_set1_epi16(i16::MIN);
    let zero = _mm256_setzero_si256();
    let low_bits = _mm256_set1_epi32((1 << shift) - 1);
    let round = _mm256_set1_epi32(1 << (shift - 1));
    let count = _mm_cvtsi32_si128(shift as i32);
    let mut any_v = _mm256_setzero_si256();
    let mut j = 0;
    while j + 16 <= width {
        // SAFETY: AVX2 is enabled for this function; every row holds `width >= j + 16` samples
        // and `out` has `width` entries, so all loads and stores stay in bounds.
        unsafe {
            // The filtered column sums of one frame, columns in the unpack lane order.
            let filtered = |rows: &[&[T]; 5]| {
                let x = |k: usize| _mm256_xor_si256(T::load16(&rows[k][j..]), flip);
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
            };
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
            let (p_lo, p_hi) = filtered(prev);
            let (c_lo, c_hi) = filtered(cur);
            let lo = combine(p_lo, c_lo);
            let hi = combine(p_hi, c_hi);
            let first = _mm256_permute2x128_si256(lo, hi, 0x20);
            let second = _mm256_permute2x128_si256(lo, hi, 0x31);
            any_v = _mm256_or_si256(any_v, _mm256_or_si256(first, second));
            let dst = out[j..j + 16].as_mut_ptr();
            _mm256_storeu_si256(dst.cast(), first);
            _mm256_storeu_si256(dst.add(8).cast(), second);
        }
        j += 16;
    }
    let mut lanes = [0i32; 8];
    // SAFETY: AVX2 is enabled; `lanes` is 32 bytes.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), any_v) };
    let mut any = lanes.iter().fold(0, |a, &b| a | b);
    if j < width {
        any |= super::kernel::vertical_diff_tail(prev, cur, shift, j, out);
    }
    any
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
    super::kernel::sad_rows_replacing(prev, prev_stride, cur, cur_stride, width, height, |p, c| {
        // SAFETY: AVX2 is enabled (the caller's guarantee); every row slice holds
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
