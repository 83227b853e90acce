//! One level of the 4-tap Daubechies (db2) wavelet used by integer ADM, in libvmaf's fixed
//! point: 16-bit subbands straight from the picture at scale 0, 32-bit subbands from the
//! previous approximation band at scales 1 to 3.
//!
//! Edge handling follows libvmaf exactly, including two artefacts of the AVX2 build that the
//! reference `vmaf` binary runs on x86-64:
//! * the vector horizontal pass computes the last output column from unmirrored, linear input
//!   positions whenever the vector loop happens to cover it, reading whatever lies just past the
//!   end of the intermediate row in libvmaf's scratch buffer;
//! * when a level's input is only 3 or 4 samples long, the first output reads position -1.
//!
//! Both are reproduced so the scores stay bit-identical with the binary.

use super::Bands;
use crate::cpu::SimdLevel;
use crate::picture::{Pixel, Plane};

/// Low-pass analysis taps.
pub(super) const LO: [i32; 4] = [15826, 27411, 7345, -4240];
/// High-pass analysis taps.
pub(super) const HI: [i32; 4] = [-4240, -7345, 27411, -15826];
/// Sum of the low-pass taps, used to centre unsigned samples around zero.
const LO_SUM: i32 = 46342;

/// Source positions of the four taps for one output position; -1 can occur (see module doc).
pub(super) type Taps = [isize; 4];

/// The tap positions libvmaf uses along an axis of `n` input samples, one entry per output
/// sample. Requires `n >= 3` (libvmaf crashes below that).
pub(super) fn tap_table(n: usize) -> Vec<Taps> {
    let half = n.div_ceil(2);
    debug_assert!(half >= 2, "axis of {n} samples is too short");
    let n = n as isize;
    let mut table = Vec::with_capacity(half);
    for i in 0..half {
        let centre = 2 * i as isize;
        let mut taps = [centre - 1, centre, centre + 1, centre + 2];
        if i + 2 >= half {
            // The last two outputs mirror about the far edge (sample n-1 repeated); the near
            // edge is not mirrored here, which is how position -1 arises when half == 2.
            for t in &mut taps {
                if *t >= n {
                    *t = 2 * n - *t - 1;
                }
            }
        } else if i == 0 {
            taps = [1, 0, 1, 2];
        }
        table.push(taps);
    }
    table
}

/// Whether the vector horizontal pass of the scale-0 high-bit-depth transform covers the last
/// output column (it runs in blocks of 16 starting at column 1).
pub(super) fn scale0_overreads(out_w: usize) -> bool {
    out_w >= 17 && out_w % 16 == 1
}

/// Whether the vector horizontal pass of the scale 1-3 transform covers the last output column
/// (blocks of 4 starting at column 1).
pub(super) fn lower_overreads(out_w: usize) -> bool {
    out_w >= 5 && out_w % 4 == 1
}

/// Scratch rows of the scale-0 vertical pass, two samples longer than the picture row so the
/// over-reading last column has something to read.
pub(super) struct Scale0Rows {
    lo: Vec<i16>,
    hi: Vec<i16>,
}

impl Scale0Rows {
    /// Rows for pictures `width` samples wide.
    pub(super) fn new(width: usize) -> Self {
        Scale0Rows {
            lo: vec![0; width + 2],
            hi: vec![0; width + 2],
        }
    }
}

/// How the scale-0 transform treats the last output column.
#[derive(Clone, Copy)]
pub(super) enum LastColumn {
    /// Mirrored like every other edge.
    Mirrored,
    /// Read linearly past the row end; the value is the 32-bit word libvmaf's scratch buffer
    /// holds right after the two 16-bit intermediate rows.
    Overread(i32),
}

/// Settings of a scale-0 transform.
pub(super) struct Scale0Setup<'a> {
    /// Bits per sample of the picture.
    pub bit_depth: u8,
    /// Row taps.
    pub rows: &'a [Taps],
    /// Column taps.
    pub cols: &'a [Taps],
    /// Treatment of the last output column.
    pub last: LastColumn,
    /// Produce only the approximation band (libvmaf's skip-scale-0 path).
    pub lowpass_only: bool,
    /// Which kernel twins run.
    pub level: SimdLevel,
}

/// Transforms one picture plane into `out` (stride = output width).
pub(super) fn scale0<P: Pixel>(
    plane: &Plane<P>,
    setup: &Scale0Setup<'_>,
    scratch: &mut Scale0Rows,
    out: &mut Bands<i16>,
) {
    let Scale0Setup {
        bit_depth,
        rows,
        cols,
        last,
        lowpass_only,
        level,
    } = *setup;
    let w = plane.width;
    let out_w = cols.len();
    let shift = u32::from(bit_depth);
    let round = 1i32 << (shift - 1);
    let offset = LO_SUM.wrapping_mul(round);
    let (lo, hi) = (&mut scratch.lo, &mut scratch.hi);

    for (i, taps) in rows.iter().enumerate() {
        // Rows never need position -1 here: libvmaf refuses pictures short enough for that.
        let r = taps.map(|t| plane.row(t as usize));
        let (r0, r1, r2, r3) = (r[0], r[1], r[2], r[3]);
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        if level >= SimdLevel::Avx2 {
            let hi = if lowpass_only {
                None
            } else {
                Some(&mut hi[..w])
            };
            done = if level == SimdLevel::Avx512 {
                // SAFETY: the Avx512 level is only chosen on CPUs that report AVX-512.
                unsafe { super::avx512::dwt0_vertical_any(r, bit_depth, &mut lo[..w], hi) }
            } else {
                // SAFETY: the Avx2 level is only chosen on CPUs that report AVX2.
                unsafe { super::avx2::dwt0_vertical_any(r, bit_depth, &mut lo[..w], hi) }
            };
        }
        for j in done..w {
            let u = [
                r0[j].widen() as i32,
                r1[j].widen() as i32,
                r2[j].widen() as i32,
                r3[j].widen() as i32,
            ];
            let acc = dot_wrapping(LO, u).wrapping_sub(offset);
            lo[j] = (acc.wrapping_add(round) >> shift) as i16;
            if !lowpass_only {
                let acc = dot_wrapping(HI, u);
                hi[j] = (acc.wrapping_add(round) >> shift) as i16;
            }
        }
        if let LastColumn::Overread(word) = last {
            // Past the low row lies the high row; past the high row, libvmaf's scratch word.
            lo[w] = hi[0];
            lo[w + 1] = hi[1];
            hi[w] = word as i16;
            hi[w + 1] = (word >> 16) as i16;
        }

        let base = i * out_w;
        let range = base..base + out_w;
        if lowpass_only {
            horizontal_i16(&lo[..w + 2], cols, last, &mut out.a[range], None, level);
            continue;
        }
        horizontal_i16(
            &lo[..w + 2],
            cols,
            last,
            &mut out.a[range.clone()],
            Some(&mut out.v[range.clone()]),
            level,
        );
        horizontal_i16(
            &hi[..w + 2],
            cols,
            last,
            &mut out.h[range.clone()],
            Some(&mut out.d[range]),
            level,
        );
    }
}

#[inline(always)]
fn dot_wrapping(f: [i32; 4], s: [i32; 4]) -> i32 {
    f[0].wrapping_mul(s[0])
        .wrapping_add(f[1].wrapping_mul(s[1]))
        .wrapping_add(f[2].wrapping_mul(s[2]))
        .wrapping_add(f[3].wrapping_mul(s[3]))
}

#[inline(always)]
fn filter_i16(f: [i32; 4], s: [i16; 4]) -> i16 {
    let acc = f[0] * i32::from(s[0])
        + f[1] * i32::from(s[1])
        + f[2] * i32::from(s[2])
        + f[3] * i32::from(s[3]);
    ((acc + 32768) >> 16) as i16
}

/// Horizontal low-pass (into `low`) and optionally high-pass (into `high`) filtering and
/// decimation of one 16-bit intermediate row. `src` is the row plus its two over-read samples.
fn horizontal_i16(
    src: &[i16],
    cols: &[Taps],
    last: LastColumn,
    low: &mut [i16],
    mut high: Option<&mut [i16]>,
    level: SimdLevel,
) {
    let w = src.len() - 2;
    let n = low.len();
    let gather = |t: Taps| t.map(|p| src[p as usize]);
    let edge = |j: usize| match last {
        LastColumn::Overread(_) if j == n - 1 => {
            let b = 2 * j - 1;
            [src[b], src[b + 1], src[b + 2], src[b + 3]]
        }
        _ => gather(cols[j]),
    };
    for j in [0, n - 1] {
        let s = edge(j);
        low[j] = filter_i16(LO, s);
        if let Some(high) = high.as_deref_mut() {
            high[j] = filter_i16(HI, s);
        }
    }
    let mut first = 1;
    #[cfg(target_arch = "x86_64")]
    if level == SimdLevel::Avx512 {
        // SAFETY: the Avx512 level is only chosen on CPUs that report AVX-512.
        first = unsafe { super::avx512::dwt0_horizontal(src, low, high.as_deref_mut()) };
    } else if level >= SimdLevel::Avx2 {
        // SAFETY: the Avx2 level is only chosen on CPUs that report AVX2.
        first = unsafe { super::avx2::dwt0_horizontal(src, low, high.as_deref_mut()) };
    }
    let _ = level;
    // Interior output j reads 2j-1 ..= 2j+2: the sample pairs j-1 and j of src[1..].
    let pairs = src[2 * first - 1..w].chunks_exact(2);
    let windows = pairs.clone().zip(pairs.skip(1));
    let inner = first..n - 1;
    match high {
        Some(high) => {
            for ((l, h), (p, q)) in low[inner.clone()]
                .iter_mut()
                .zip(&mut high[inner])
                .zip(windows)
            {
                let s = [p[0], p[1], q[0], q[1]];
                *l = filter_i16(LO, s);
                *h = filter_i16(HI, s);
            }
        }
        None => {
            for (l, (p, q)) in low[inner].iter_mut().zip(windows) {
                *l = filter_i16(LO, [p[0], p[1], q[0], q[1]]);
            }
        }
    }
}

/// Scratch for the scale 1-3 vertical pass, laid out like libvmaf's: per row, the low and high
/// outputs of the reference, then those of the distorted picture, each `w` wide and packed
/// back to back, preceded by one guard word standing for the allocator header libvmaf reads at
/// position -1 (whose upper half is zero for any realistic allocation). The contents persist
/// across scales and frames because the over-reading last column sees them.
pub(super) struct LowerScratch {
    buf: Vec<i32>,
}

/// Offset of position 0 in [`LowerScratch`].
const GUARD: usize = 1;

impl LowerScratch {
    /// Scratch for a picture whose scale-1 input is `w1` samples wide and whose scale-0 input
    /// is `w0` wide.
    pub(super) fn new(w0: usize, w1: usize) -> Self {
        LowerScratch {
            buf: vec![0; GUARD + (4 * w1 + 2).max(w0 + 1)],
        }
    }

    /// The 32-bit word at position `pos` of libvmaf's scratch buffer.
    pub(super) fn word(&self, pos: usize) -> i32 {
        self.buf[GUARD + pos]
    }
}

/// Inputs of one scale 1-3 transform.
/// Coefficients a scale 1-3 transform reads: the 16-bit scale-0 approximation band feeds
/// scale 1 directly, the 32-bit bands of scales 1 and 2 feed the next.
pub(super) trait Coef: Copy + Into<i64> + 'static {}

impl Coef for i16 {}
impl Coef for i32 {}

pub(super) struct LowerInput<'a, T> {
    /// Scale number, 1 to 3; the input height is the length of `rows` times two, or one less.
    pub scale: usize,
    /// Input width.
    pub w: usize,
    /// Reference approximation band of the previous scale, stride `w`.
    pub reference: &'a [T],
    /// Distorted approximation band of the previous scale, stride `w`.
    pub distorted: &'a [T],
    /// Row read in place of reference row -1 (only at scale 3; may be empty elsewhere).
    pub reference_above: &'a [T],
    /// Row read in place of distorted row -1 (likewise).
    pub distorted_above: &'a [T],
    /// Row taps.
    pub rows: &'a [Taps],
    /// Column taps.
    pub cols: &'a [Taps],
    /// Which kernel twins run.
    pub level: SimdLevel,
}

/// Transforms the reference and distorted approximation bands of the previous scale into
/// `out_ref` and `out_dis` (stride = output width).
pub(super) fn lower<T: Coef>(
    input: &LowerInput<'_, T>,
    scratch: &mut LowerScratch,
    out_ref: &mut Bands<i32>,
    out_dis: &mut Bands<i32>,
) {
    let w = input.w;
    let out_w = input.cols.len();
    let (v_round, v_shift) = [(0i64, 0u32), (32768, 16), (32768, 16)][input.scale - 1];
    let (h_round, h_shift) = [(16384i64, 15u32), (32768, 16), (16384, 15)][input.scale - 1];
    let overread = lower_overreads(out_w);

    for (i, taps) in input.rows.iter().enumerate() {
        let ref_rows = taps.map(|t| source_row(input.reference, input.reference_above, w, t));
        let dis_rows = taps.map(|t| source_row(input.distorted, input.distorted_above, w, t));
        let buf = &mut scratch.buf[GUARD..GUARD + 4 * w];
        let (lo_ref, rest) = buf.split_at_mut(w);
        let (hi_ref, rest) = rest.split_at_mut(w);
        let (lo_dis, hi_dis) = rest.split_at_mut(w);
        vertical_i32(&ref_rows, v_round, v_shift, lo_ref, hi_ref, input.level);
        vertical_i32(&dis_rows, v_round, v_shift, lo_dis, hi_dis, input.level);

        let range = i * out_w..(i + 1) * out_w;
        let buf = &scratch.buf;
        let pass = |k: usize, low: &mut [i32], high: &mut [i32]| {
            horizontal_i32(
                buf,
                GUARD + k * w,
                input.cols,
                overread,
                (h_round, h_shift),
                low,
                high,
                input.level,
            )
        };
        pass(
            0,
            &mut out_ref.a[range.clone()],
            &mut out_ref.v[range.clone()],
        );
        pass(
            1,
            &mut out_ref.h[range.clone()],
            &mut out_ref.d[range.clone()],
        );
        pass(
            2,
            &mut out_dis.a[range.clone()],
            &mut out_dis.v[range.clone()],
        );
        pass(3, &mut out_dis.h[range.clone()], &mut out_dis.d[range]);
    }
}

fn source_row<'a, T>(band: &'a [T], above: &'a [T], w: usize, t: isize) -> &'a [T] {
    if t < 0 {
        &above[..w]
    } else {
        let r = t as usize;
        &band[r * w..(r + 1) * w]
    }
}

fn vertical_i32<T: Coef>(
    src: &[&[T]; 4],
    round: i64,
    shift: u32,
    lo: &mut [i32],
    hi: &mut [i32],
    level: SimdLevel,
) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if level == SimdLevel::Avx512 {
        // SAFETY: the Avx512 level is only chosen on CPUs that report AVX-512.
        done = unsafe { super::avx512::dwt_lower_vertical_any(src, (round, shift), lo, hi) };
    } else if level >= SimdLevel::Avx2 {
        // SAFETY: the Avx2 level is only chosen on CPUs that report AVX2.
        done = unsafe { super::avx2::dwt_lower_vertical_any(src, (round, shift), lo, hi) };
    }
    let _ = level;
    let [s0, s1, s2, s3] = *src;
    for (j, (l, h)) in lo.iter_mut().zip(hi.iter_mut()).enumerate().skip(done) {
        let s = [s0[j].into(), s1[j].into(), s2[j].into(), s3[j].into()];
        *l = ((dot64(LO, s) + round) >> shift) as i32;
        *h = ((dot64(HI, s) + round) >> shift) as i32;
    }
}

#[inline(always)]
fn dot64(f: [i32; 4], s: [i64; 4]) -> i64 {
    i64::from(f[0]) * s[0]
        + i64::from(f[1]) * s[1]
        + i64::from(f[2]) * s[2]
        + i64::from(f[3]) * s[3]
}

/// Horizontal low-pass and high-pass filtering and decimation of one 32-bit intermediate row
/// that starts at `start` in the scratch buffer; edge tap positions are relative to `start` and
/// may reach before it or, for an over-reading last column, past the row's end.
#[allow(clippy::too_many_arguments)]
fn horizontal_i32(
    buf: &[i32],
    start: usize,
    cols: &[Taps],
    overread: bool,
    (round, shift): (i64, u32),
    low: &mut [i32],
    high: &mut [i32],
    level: SimdLevel,
) {
    let n = low.len();
    let filter = |f: [i32; 4], s: [i64; 4]| ((dot64(f, s) + round) >> shift) as i32;
    for j in [0, n - 1] {
        let taps = if overread && j == n - 1 {
            let b = 2 * j as isize - 1;
            [b, b + 1, b + 2, b + 3]
        } else {
            cols[j]
        };
        let s = taps.map(|t| i64::from(buf[(start as isize + t) as usize]));
        low[j] = filter(LO, s);
        high[j] = filter(HI, s);
    }
    let mut first = 1;
    #[cfg(target_arch = "x86_64")]
    if level == SimdLevel::Avx512 {
        // SAFETY: the Avx512 level is only chosen on CPUs that report AVX-512.
        first =
            unsafe { super::avx512::dwt_lower_horizontal(buf, start, (round, shift), low, high) };
    } else if level >= SimdLevel::Avx2 {
        // SAFETY: the Avx2 level is only chosen on CPUs that report AVX2.
        first = unsafe { super::avx2::dwt_lower_horizontal(buf, start, (round, shift), low, high) };
    }
    let _ = level;
    let row = &buf[start..];
    let pairs = row[2 * first - 1..2 * n - 1].chunks_exact(2);
    let windows = pairs.clone().zip(pairs.skip(1));
    let inner = first..n - 1;
    for ((l, h), (p, q)) in low[inner.clone()]
        .iter_mut()
        .zip(&mut high[inner])
        .zip(windows)
    {
        let s = [
            i64::from(p[0]),
            i64::from(p[1]),
            i64::from(q[0]),
            i64::from(q[1]),
        ];
        *l = filter(LO, s);
        *h = filter(HI, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_mirror_the_far_edge_only() {
        // Even length: the last output repeats the final sample.
        let t = tap_table(8);
        assert_eq!(t[0], [1, 0, 1, 2]);
        assert_eq!(t[1], [1, 2, 3, 4]);
        assert_eq!(t[3], [5, 6, 7, 7]);
        // Odd length: two taps fold back.
        let t = tap_table(7);
        assert_eq!(t.len(), 4);
        assert_eq!(t[3], [5, 6, 6, 5]);
        // Three or four samples: libvmaf's table starts at -1.
        assert_eq!(tap_table(3), vec![[-1, 0, 1, 2], [1, 2, 2, 1]]);
        assert_eq!(tap_table(4), vec![[-1, 0, 1, 2], [1, 2, 3, 3]]);
    }

    #[test]
    fn overread_conditions_match_the_vector_loop_bounds() {
        assert!(!scale0_overreads(1));
        assert!(scale0_overreads(17));
        assert!(!scale0_overreads(18));
        assert!(scale0_overreads(33));
        assert!(!lower_overreads(4));
        assert!(lower_overreads(5));
        assert!(!lower_overreads(6));
        assert!(lower_overreads(45));
    }
}
