//! Scalar kernel of the integer motion feature: the sum of absolute values of the blurred
//! luma difference between two frames, with libvmaf v3.2.0's exact fixed-point rounding.
//!
//! The difference is filtered vertically first (rounded back to about 16 bits), then
//! horizontally (rounded by 2^16), and the absolute results are summed. Both passes mirror at
//! the edges without repeating the edge sample (reflect-101). The functions work on plain
//! slices so that a SIMD twin can replace any one of them.

use crate::cpu::SimdLevel;
use crate::picture::Pixel;

/// The 5-tap smoothing filter shared with the float motion model; its taps sum to 2^16.
pub const TAPS: [i32; 5] = [3571, 16004, 26386, 16004, 3571];

/// Smallest plane side the 5-tap mirror stays inside of.
pub const MIN_SIDE: usize = 3;

/// Reflect-101 index: `-1` maps to `1` and `n` to `n - 2`. Valid for `-2 <= idx <= n + 1`
/// when `n >= 3`.
#[inline(always)]
fn reflect(idx: isize, n: usize) -> usize {
    if idx < 0 {
        (-idx) as usize
    } else if idx as usize >= n {
        2 * n - idx as usize - 2
    } else {
        idx as usize
    }
}

/// Vertical pass for one output row: `out[j]` becomes the rounded 5-tap filter of
/// `prev - cur` down column `j`, scaled by `2^-shift`. Returns the bitwise OR of all outputs,
/// which is zero exactly when the row is all zeros.
///
/// Accumulates in `i32`, which cannot overflow for samples of at most 15 bits: the taps sum
/// to 2^16, so the magnitude stays below `2^16 * (2^15 - 1) + 2^14 < 2^31`.
#[inline]
pub fn vertical_diff_narrow<T: Pixel>(
    prev: &[&[T]; 5],
    cur: &[&[T]; 5],
    shift: u32,
    out: &mut [i32],
) -> i32 {
    let round = 1i32 << (shift - 1);
    let width = out.len();
    let d = |p: T, c: T| p.widen() as i32 - c.widen() as i32;
    // Three passes over the row, pairing the outer taps (the filter is symmetric); each pass is
    // a plain element-wise loop the compiler can vectorise.
    let outer = prev[0][..width].iter().zip(&cur[0][..width]);
    let outer = outer.zip(prev[4][..width].iter().zip(&cur[4][..width]));
    for (o, ((&p0, &c0), (&p4, &c4))) in out.iter_mut().zip(outer) {
        *o = TAPS[0] * (d(p0, c0) + d(p4, c4));
    }
    let inner = prev[1][..width].iter().zip(&cur[1][..width]);
    let inner = inner.zip(prev[3][..width].iter().zip(&cur[3][..width]));
    for (o, ((&p1, &c1), (&p3, &c3))) in out.iter_mut().zip(inner) {
        *o += TAPS[1] * (d(p1, c1) + d(p3, c3));
    }
    let mut any = 0;
    for (o, (&p2, &c2)) in out
        .iter_mut()
        .zip(prev[2][..width].iter().zip(&cur[2][..width]))
    {
        let v = (*o + TAPS[2] * d(p2, c2) + round) >> shift;
        *o = v;
        any |= v;
    }
    any
}

/// [`vertical_diff_narrow`] for 16-bit samples, whose filtered difference needs 64 bits.
#[inline]
pub fn vertical_diff_wide<T: Pixel>(
    prev: &[&[T]; 5],
    cur: &[&[T]; 5],
    shift: u32,
    out: &mut [i32],
) -> i32 {
    let round = 1i64 << (shift - 1);
    let width = out.len();
    let p: [&[T]; 5] = std::array::from_fn(|k| &prev[k][..width]);
    let c: [&[T]; 5] = std::array::from_fn(|k| &cur[k][..width]);
    let d = |k: usize, j: usize| p[k][j].widen() as i64 - c[k][j].widen() as i64;
    let mut any = 0;
    for (j, o) in out.iter_mut().enumerate() {
        let acc = TAPS[0] as i64 * (d(0, j) + d(4, j))
            + TAPS[1] as i64 * (d(1, j) + d(3, j))
            + TAPS[2] as i64 * d(2, j);
        // |acc| < 2^32, so after the shift by 16 the value fits an i32.
        let v = ((acc + round) >> shift) as i32;
        *o = v;
        any |= v;
    }
    any
}

/// One horizontally filtered sample, `|(sum of taps * y + 2^15) >> 16|`, from five neighbours.
///
/// The inputs reach ±2^16, so the weighted sum needs 33 bits. Rather than widening to 64 bits,
/// each input is split as `y = 256 * hi + lo` with `0 <= lo < 256`; both partial sums then fit
/// 25 bits, and because `256 * hi_sum` is a multiple of 256,
/// `(256 * hi_sum + lo_sum + 2^15) >> 16` equals `(hi_sum + ((lo_sum + 2^15) >> 8)) >> 8` exactly. All in `i32`, which
/// vectorises far better.
#[inline(always)]
fn horizontal_tap(y0: i32, y1: i32, y2: i32, y3: i32, y4: i32) -> u32 {
    let hi =
        TAPS[0] * ((y0 >> 8) + (y4 >> 8)) + TAPS[1] * ((y1 >> 8) + (y3 >> 8)) + TAPS[2] * (y2 >> 8);
    let lo = TAPS[0] * ((y0 & 0xff) + (y4 & 0xff))
        + TAPS[1] * ((y1 & 0xff) + (y3 & 0xff))
        + TAPS[2] * (y2 & 0xff);
    ((hi + ((lo + (1 << 15)) >> 8)) >> 8).unsigned_abs()
}

/// Horizontal pass over one vertically filtered row, returning the sum of absolute filtered
/// values. The sum wraps at 2^32 as libvmaf's per-row accumulator does (only reachable for
/// rows wider than about 65 000 samples). `row.len()` must be at least [`MIN_SIDE`].
#[inline]
pub fn horizontal_abs_sum(row: &[i32]) -> u32 {
    let n = row.len().saturating_sub(4);
    horizontal_edge_sum(row).wrapping_add(horizontal_interior_sum(row, 0, n))
}

/// The part of [`horizontal_abs_sum`] from the two columns at each edge, whose taps mirror.
#[inline]
pub fn horizontal_edge_sum(row: &[i32]) -> u32 {
    let w = row.len();
    debug_assert!(w >= MIN_SIDE);
    let at = |j: isize| row[reflect(j, w)];
    let edge = |j: usize| {
        let j = j as isize;
        horizontal_tap(at(j - 2), at(j - 1), at(j), at(j + 1), at(j + 2))
    };
    let left = w.min(2);
    let mut sum = 0u32;
    for j in 0..left {
        sum = sum.wrapping_add(edge(j));
    }
    for j in w.saturating_sub(2).max(left)..w {
        sum = sum.wrapping_add(edge(j));
    }
    sum
}

/// The part of [`horizontal_abs_sum`] from output columns `start + 2 .. end + 2`, all of whose
/// taps lie inside the row (`end <= row.len() - 4`).
#[inline]
pub fn horizontal_interior_sum(row: &[i32], start: usize, end: usize) -> u32 {
    if start >= end {
        return 0;
    }
    let n = end - start;
    let (y0, y1, y2, y3, y4) = (
        &row[start..][..n],
        &row[start + 1..][..n],
        &row[start + 2..][..n],
        &row[start + 3..][..n],
        &row[start + 4..][..n],
    );
    let mut sum = 0u32;
    for j in 0..n {
        sum = sum.wrapping_add(horizontal_tap(y0[j], y1[j], y2[j], y3[j], y4[j]));
    }
    sum
}

/// Views an `i32` scratch row of `n` entries as two `i16` rows of `n` entries each, the high
/// and low parts of a split row (see [`join`]); the SIMD kernels keep the filtered row that way.
pub fn split_scratch(buf: &mut [i32]) -> (&mut [i16], &mut [i16]) {
    let n = buf.len();
    // SAFETY: `2 * n` `i16`s take exactly the bytes of `n` `i32`s, `i32`'s alignment satisfies
    // `i16`'s, every bit pattern is a valid `i16`, and the new slice takes over `buf`'s
    // exclusive borrow.
    let halves = unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<i16>(), 2 * n) };
    halves.split_at_mut(n)
}

/// A vertically filtered value from its split form `y = 256 * hi + lo`, `0 <= lo < 256`: the
/// form the SIMD kernels store it in, because both parts, and the sum of two of either, fit
/// an `i16` lane (the values lie within ±2^16, so `|hi| <= 256`).
#[inline(always)]
pub fn join(hi: i16, lo: i16) -> i32 {
    i32::from(hi) * 256 + i32::from(lo)
}

/// [`horizontal_edge_sum`] of a split row (`hi.len() == lo.len() >= MIN_SIDE`).
pub fn horizontal_edge_sum_split(hi: &[i16], lo: &[i16]) -> u32 {
    let w = hi.len();
    let mut buf = [0i32; 8];
    if w < buf.len() {
        for (b, (&h, &l)) in buf.iter_mut().zip(hi.iter().zip(lo)) {
            *b = join(h, l);
        }
        return horizontal_edge_sum(&buf[..w]);
    }
    // The edge outputs read the first four and the last four values only, and mirror at the
    // row ends exactly as they would at the ends of these eight.
    for i in 0..4 {
        buf[i] = join(hi[i], lo[i]);
        buf[4 + i] = join(hi[w - 4 + i], lo[w - 4 + i]);
    }
    horizontal_edge_sum(&buf)
}

/// [`horizontal_interior_sum`] of a split row.
pub fn horizontal_interior_sum_split(hi: &[i16], lo: &[i16], start: usize, end: usize) -> u32 {
    let y = |j: usize| join(hi[j], lo[j]);
    (start..end).fold(0u32, |sum, j| {
        sum.wrapping_add(horizontal_tap(y(j), y(j + 1), y(j + 2), y(j + 3), y(j + 4)))
    })
}

/// Scalar vertical pass over columns `start..` of a row, written in split form, for the SIMD
/// twins' row ends. Returns the OR of the outputs.
pub fn vertical_diff_tail_split<T: Pixel>(
    prev: &[&[T]; 5],
    cur: &[&[T]; 5],
    shift: u32,
    start: usize,
    hi: &mut [i16],
    lo: &mut [i16],
) -> i32 {
    let mut any = 0;
    for j0 in (start..hi.len()).step_by(16) {
        let j1 = (j0 + 16).min(hi.len());
        let p: [&[T]; 5] = std::array::from_fn(|k| &prev[k][j0..j1]);
        let c: [&[T]; 5] = std::array::from_fn(|k| &cur[k][j0..j1]);
        let mut wide = [0i32; 16];
        let out = &mut wide[..j1 - j0];
        any |= vertical_diff_tail(&p, &c, shift, 0, out);
        for (j, &y) in (j0..j1).zip(out.iter()) {
            hi[j] = (y >> 8) as i16;
            lo[j] = (y & 0xff) as i16;
        }
    }
    any
}

/// The five rows the vertical taps of output row `i` read, mirrored at the edges.
#[inline(always)]
pub fn mirrored_rows(i: usize, height: usize) -> [usize; 5] {
    std::array::from_fn(|k| reflect(i as isize - 2 + k as isize, height))
}

/// Scalar vertical pass over columns `start..` of a row, narrow or wide as the depth needs;
/// the SIMD twins finish their rows with it.
#[inline]
pub fn vertical_diff_tail<T: Pixel>(
    prev: &[&[T]; 5],
    cur: &[&[T]; 5],
    shift: u32,
    start: usize,
    out: &mut [i32],
) -> i32 {
    let p: [&[T]; 5] = std::array::from_fn(|k| &prev[k][start..]);
    let c: [&[T]; 5] = std::array::from_fn(|k| &cur[k][start..]);
    if shift <= 15 {
        vertical_diff_narrow(&p, &c, shift, &mut out[start..])
    } else {
        vertical_diff_wide(&p, &c, shift, &mut out[start..])
    }
}

/// Runs `row_sum` on the five mirrored rows of both planes for every output row and adds up
/// what it returns. Meanwhile copies `cur` into `prev` row by row, each row as soon as no later
/// output row reads it (two rows behind), so that `prev` ends as a copy of `cur` without a
/// second pass over either plane: the rows copied were just read and are still in cache.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn sad_rows_replacing<T: Copy>(
    prev: &mut [T],
    prev_stride: usize,
    cur: &[T],
    cur_stride: usize,
    width: usize,
    height: usize,
    mut row_sum: impl FnMut(&[&[T]; 5], &[&[T]; 5]) -> u32,
) -> u64 {
    let copy_row = |prev: &mut [T], y: usize| {
        prev[y * prev_stride..][..width].copy_from_slice(&cur[y * cur_stride..][..width]);
    };
    let mut sad = 0u64;
    for i in 0..height {
        let r = mirrored_rows(i, height);
        let p: [&[T]; 5] = std::array::from_fn(|k| &prev[r[k] * prev_stride..][..width]);
        let c: [&[T]; 5] = std::array::from_fn(|k| &cur[r[k] * cur_stride..][..width]);
        sad += u64::from(row_sum(&p, &c));
        // Output row `i + 1` reads rows `i - 1` and below it only (the bottom mirror reflects
        // back to at least `height - 3`), so row `i - 2` is done with.
        if i >= 2 {
            copy_row(prev, i - 2);
        }
    }
    for y in height.saturating_sub(2)..height {
        copy_row(prev, y);
    }
    sad
}

/// Sample types the motion kernels take, with their SIMD entry points.
pub trait MotionSample: Pixel {
    /// [`blurred_sad_replacing`] on the SIMD kernels of `level` (AVX2 or AVX-512), which the
    /// caller checked this CPU runs.
    #[cfg(target_arch = "x86_64")]
    #[allow(clippy::too_many_arguments)]
    fn blurred_sad_replacing_simd(
        level: SimdLevel,
        prev: &mut [Self],
        prev_stride: usize,
        cur: &[Self],
        cur_stride: usize,
        width: usize,
        height: usize,
        bit_depth: u8,
        row_buf: &mut [i32],
    ) -> u64;
}

macro_rules! motion_sample {
    ($t:ty) => {
        impl MotionSample for $t {
            #[cfg(target_arch = "x86_64")]
            fn blurred_sad_replacing_simd(
                level: SimdLevel,
                prev: &mut [Self],
                prev_stride: usize,
                cur: &[Self],
                cur_stride: usize,
                width: usize,
                height: usize,
                bit_depth: u8,
                row_buf: &mut [i32],
            ) -> u64 {
                assert!(
                    level > SimdLevel::Scalar
                        && level.is_supported()
                        && (8..=16).contains(&bit_depth)
                        && width >= MIN_SIDE
                        && height >= MIN_SIDE
                        && row_buf.len() == width
                        && prev.len() >= (height - 1) * prev_stride + width
                        && cur.len() >= (height - 1) * cur_stride + width
                );
                if level >= SimdLevel::Avx512 {
                    // SAFETY: the assertion above checks AVX-512 and every bound the kernel
                    // reads in.
                    unsafe {
                        super::avx512::blurred_sad_replacing(
                            prev,
                            prev_stride,
                            cur,
                            cur_stride,
                            width,
                            height,
                            bit_depth,
                            row_buf,
                        )
                    }
                } else {
                    // SAFETY: the assertion above checks AVX2 and every bound the kernel reads
                    // in.
                    unsafe {
                        super::avx2::blurred_sad_replacing(
                            prev,
                            prev_stride,
                            cur,
                            cur_stride,
                            width,
                            height,
                            bit_depth,
                            row_buf,
                        )
                    }
                }
            }
        }
    };
}
motion_sample!(u8);
motion_sample!(u16);

/// Sum of absolute blurred differences between the luma planes `prev` and `cur` (rows
/// `prev_stride` / `cur_stride` samples apart), as libvmaf's integer motion computes it
/// before normalisation, on the kernels of `level` (which the caller checked this CPU runs).
/// Afterwards `prev` holds `cur`'s samples, ready to serve as the next frame's `prev`.
/// `row_buf` is scratch of at least `width` entries. Both sides must be at least [`MIN_SIDE`].
#[allow(clippy::too_many_arguments)]
pub fn blurred_sad_replacing<T: MotionSample>(
    level: SimdLevel,
    prev: &mut [T],
    prev_stride: usize,
    cur: &[T],
    cur_stride: usize,
    width: usize,
    height: usize,
    bit_depth: u8,
    row_buf: &mut [i32],
) -> u64 {
    debug_assert!(width >= MIN_SIDE && height >= MIN_SIDE);
    let row_buf = &mut row_buf[..width];
    #[cfg(target_arch = "x86_64")]
    if level > SimdLevel::Scalar {
        return T::blurred_sad_replacing_simd(
            level,
            prev,
            prev_stride,
            cur,
            cur_stride,
            width,
            height,
            bit_depth,
            row_buf,
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    let shift = u32::from(bit_depth);
    sad_rows_replacing(prev, prev_stride, cur, cur_stride, width, height, |p, c| {
        let any = if bit_depth <= 15 {
            vertical_diff_narrow(p, c, shift, row_buf)
        } else {
            vertical_diff_wide(p, c, shift, row_buf)
        };
        // An all-zero row filters to zero; skipping it is a large win on static content.
        if any == 0 {
            0
        } else {
            horizontal_abs_sum(row_buf)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_mirrors_without_repeating_the_edge() {
        assert_eq!(reflect(-2, 5), 2);
        assert_eq!(reflect(-1, 5), 1);
        assert_eq!(reflect(4, 5), 4);
        assert_eq!(reflect(5, 5), 3);
        assert_eq!(reflect(6, 5), 2);
        assert_eq!(reflect(4, 3), 0);
    }

    /// Straight per-pixel evaluation with mirrored indices everywhere, to check the split
    /// edge/interior loops against.
    fn naive(row: &[i32]) -> u32 {
        let w = row.len();
        (0..w)
            .map(|j| {
                let acc: i64 = (0..5)
                    .map(|k| TAPS[k] as i64 * row[reflect(j as isize + k as isize - 2, w)] as i64)
                    .sum();
                (((acc + (1 << 15)) >> 16) as i32).unsigned_abs()
            })
            .fold(0u32, u32::wrapping_add)
    }

    #[test]
    fn horizontal_pass_matches_naive_for_every_small_width() {
        let mut seed = 0x1234_5678u32;
        for w in MIN_SIDE..40 {
            let row: Vec<i32> = (0..w)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (seed >> 15) as i32 % 131_071 - 65_535
                })
                .collect();
            assert_eq!(horizontal_abs_sum(&row), naive(&row), "width {w}");
        }
    }

    #[test]
    fn split_horizontal_tap_is_exact_at_the_extremes() {
        // The vertical pass yields at most ±65535 (16 bits); cover sign mixes and rounding ties.
        let extremes = [
            -65_536, -65_535, -65_280, -257, -256, -255, -129, -128, -1, 0, 1, 127, 128, 255, 256,
            65_535,
        ];
        let mut row = [0i32; 5];
        for &a in &extremes {
            for &b in &extremes {
                for &c in &extremes {
                    row.copy_from_slice(&[a, b, c, b, a]);
                    let exact: i64 = (0..5).map(|k| TAPS[k] as i64 * row[k] as i64).sum();
                    let want = (((exact + (1 << 15)) >> 16) as i32).unsigned_abs();
                    assert_eq!(horizontal_tap(a, b, c, b, a), want, "{row:?}");
                    assert_eq!(horizontal_tap(a, c, b, a, c), naive_tap(&[a, c, b, a, c]));
                }
            }
        }
    }

    fn naive_tap(y: &[i32; 5]) -> u32 {
        let acc: i64 = (0..5).map(|k| TAPS[k] as i64 * y[k] as i64).sum();
        (((acc + (1 << 15)) >> 16) as i32).unsigned_abs()
    }

    #[test]
    fn narrow_and_wide_vertical_passes_agree() {
        let prev: Vec<Vec<u16>> = (0..5)
            .map(|k| vec![32_767 * (k % 2) as u16, 7, 0])
            .collect();
        let cur: Vec<Vec<u16>> = (0..5)
            .map(|k| vec![32_767 * ((k + 1) % 2) as u16, 3, 9])
            .collect();
        let p: [&[u16]; 5] = std::array::from_fn(|k| prev[k].as_slice());
        let c: [&[u16]; 5] = std::array::from_fn(|k| cur[k].as_slice());
        let (mut a, mut b) = ([0; 3], [0; 3]);
        vertical_diff_narrow(&p, &c, 15, &mut a);
        vertical_diff_wide(&p, &c, 15, &mut b);
        assert_eq!(a, b);
    }
}
