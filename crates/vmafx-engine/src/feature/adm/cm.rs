//! Contrast masking and pooling: each measured coefficient is reduced by a threshold built from
//! the 3x3 neighbourhood of the masking band (all three orientations), and what is left is
//! pooled as a cube-root of summed cubes per orientation, in libvmaf's fixed point.
//!
//! libvmaf's vector code handles most interior columns and its scalar code the rest; the two
//! disagree in corner cases (noted where they occur), so each column follows the arithmetic of
//! the path libvmaf takes for it.

use super::csf::{c_to_u32, ceil_log2, half_of, noise_floor, tail_start, Q32_ROUND};
use super::Border;
use crate::cpu::SimdLevel;

/// The bands one masking pass works on, all `w` x `h` with stride `w`.
pub(super) struct Masking<'a, T> {
    /// The decoupled bands being measured (h, v, d).
    pub measured: [&'a [T]; 3],
    /// The CSF-weighted masking bands (h, v, d).
    pub weighted: [&'a [T]; 3],
    /// Their 1/30 copies (h, v, d).
    pub faded: [&'a [T]; 3],
    /// Band width.
    pub w: usize,
    /// Band height.
    pub h: usize,
}

/// Fixed-point constants of one orientation's cube accumulation.
#[derive(Clone, Copy)]
pub(super) struct Cube {
    pub sub_shift: u32,
    pub sq_round: i64,
    pub sq_shift: u32,
    pub cube_round: i64,
    pub cube_shift: u32,
}

impl Cube {
    /// libvmaf's scalar arithmetic.
    #[inline(always)]
    fn scalar(&self, x: i32, thr: i32) -> i64 {
        let x = x
            .wrapping_abs()
            .wrapping_sub(thr.wrapping_shl(self.sub_shift))
            .max(0);
        let x = i64::from(x);
        let sq = i64::from(((x * x + self.sq_round) >> self.sq_shift) as i32);
        (sq * x + self.cube_round).wrapping_shr(self.cube_shift)
    }

    /// libvmaf's vector arithmetic: logical shifts, and shift counts of 64 or more give 0.
    #[inline(always)]
    pub(super) fn vector(&self, x: i32, thr: i32) -> i64 {
        let x = x
            .wrapping_abs()
            .wrapping_sub(thr.wrapping_shl(self.sub_shift))
            .max(0);
        let x = i64::from(x);
        let sq = i64::from((((x * x + self.sq_round) as u64) >> self.sq_shift) as u32 as i32);
        let p = (sq * x + self.cube_round) as u64;
        if self.cube_shift > 63 {
            0
        } else {
            (p >> self.cube_shift) as i64
        }
    }

    /// libvmaf's scale 1-3 vector arithmetic on a 64-bit product `x` and threshold `thr`: the
    /// sign is taken from 64 bits but negation and the multiplications from the low 32.
    #[inline(always)]
    fn vector_wide(&self, x: i64, thr: i64) -> i64 {
        let x = if x < 0 { -i64::from(x as i32) } else { x };
        let x = x.wrapping_sub(thr).max(0);
        let lx = i64::from(x as i32);
        let sq = ((lx * lx).wrapping_add(self.sq_round) as u64) >> self.sq_shift;
        let sq = i64::from(sq as u32 as i32);
        let p = (sq * lx).wrapping_add(self.cube_round) as u64;
        if self.cube_shift > 63 {
            0
        } else {
            (p >> self.cube_shift) as i64
        }
    }
}

/// Mirrored neighbour positions libvmaf uses at the band edges: -1 reads 1, n reads n-1.
#[inline(always)]
fn before(i: usize) -> usize {
    if i == 0 {
        1
    } else {
        i - 1
    }
}

#[inline(always)]
fn after(i: usize, n: usize) -> usize {
    if i + 1 == n {
        n - 1
    } else {
        i + 1
    }
}

/// Per-row scratch of the masking threshold, at least as wide as the widest band.
pub(super) struct RowScratch {
    sums: Vec<i64>,
    ring: Vec<i64>,
    /// 32-bit column sums of the vector path.
    colsum: Vec<i32>,
}

impl RowScratch {
    pub(super) fn new(width: usize) -> Self {
        RowScratch {
            sums: vec![0; width],
            ring: vec![0; width],
            colsum: vec![0; width],
        }
    }
}

/// Fills `ring[j]` for `j` in `cols` with the masking threshold of row `i` before its centre
/// terms: the 3x3 neighbourhood sum of the three faded bands minus their centre samples.
/// Sums are kept in 64 bits as libvmaf's scale 1-3 vector code does; its 32-bit code wraps,
/// which truncating the final threshold reproduces.
fn ring_row<T: Copy + Into<i64>>(
    faded: [&[T]; 3],
    w: usize,
    h: usize,
    i: usize,
    cols: std::ops::Range<usize>,
    scratch: &mut RowScratch,
) {
    let row = |r: usize| faded.map(|band| &band[r * w..(r + 1) * w]);
    let (above, here, below) = (row(before(i)), row(i), row(after(i, h)));
    let sums = &mut scratch.sums[..w];
    for (b, ((x, y), z)) in above.iter().zip(&here).zip(&below).enumerate() {
        for (s, ((&x, &y), &z)) in sums.iter_mut().zip(x.iter().zip(*y).zip(*z)) {
            let v = x.into() + y.into() + z.into();
            *s = if b == 0 { v } else { *s + v };
        }
    }
    let own = |j: usize| -> i64 { here.iter().map(|band| band[j].into()).sum() };
    let ring = &mut scratch.ring;
    // Interior columns read j-1 ..= j+1 directly; the band edges mirror inwards.
    let inner = cols.start.max(1)..cols.end.min(w - 1);
    if !inner.is_empty() {
        let windows = sums[inner.start - 1..inner.end + 1].windows(3);
        for ((r, win), j) in ring[inner.clone()]
            .iter_mut()
            .zip(windows)
            .zip(inner.clone())
        {
            *r = win[0] + win[1] + win[2] - own(j);
        }
    }
    for j in [cols.start, cols.end - 1] {
        if j < inner.start || j >= inner.end {
            ring[j] = sums[before(j)] + sums[j] + sums[after(j, w)] - own(j);
        }
    }
}

/// Fills `ring[j]` for interior columns `cols` of interior row `i` from the 32-bit column
/// sums the vector path left in the scratch.
fn ring_from_colsum(
    faded: [&[i16]; 3],
    w: usize,
    i: usize,
    cols: std::ops::Range<usize>,
    scratch: &mut RowScratch,
) {
    let cs = &scratch.colsum;
    for j in cols {
        let own: i64 = faded.iter().map(|b| i64::from(b[i * w + j])).sum();
        scratch.ring[j] = i64::from(cs[j - 1]) + i64::from(cs[j]) + i64::from(cs[j + 1]) - own;
    }
}

/// Pools one row's per-orientation sums into the running totals.
#[inline(always)]
fn pool_row(total: &mut [i64; 3], inner: [i64; 3], round: i64, shift: u32) {
    for (t, v) in total.iter_mut().zip(inner) {
        *t = t.wrapping_add(v.wrapping_add(round).wrapping_shr(shift));
    }
}

/// Columns `cols` of row `i` of the three bands of `m` (measured, weighted).
fn row_slices<'a, T>(
    bands: [&'a [T]; 3],
    w: usize,
    i: usize,
    cols: &std::ops::Range<usize>,
) -> [&'a [T]; 3] {
    bands.map(|b| &b[i * w + cols.start..i * w + cols.end])
}

/// One row segment of the scale-0 numerator, with libvmaf's vector (`VECTOR`) or scalar
/// arithmetic.
#[inline(always)]
fn accumulate_scale0<const VECTOR: bool>(
    ring: &[i64],
    weighted: [&[i16]; 3],
    measured: [&[i16]; 3],
    weights: [i32; 3],
    cubes: &[Cube; 3],
    inner: &mut [i64; 3],
) {
    // Threshold centre: |csf| * 32/15, which libvmaf's scalar code narrows to 16 bits.
    let centre = |v: i16| {
        let c = (8738 * i32::from(v).abs() + 2048) >> 12;
        if VECTOR {
            c
        } else {
            i32::from(c as i16)
        }
    };
    let n = ring.len();
    let [c0, c1, c2] = weighted.map(|b| &b[..n]);
    let [m0, m1, m2] = measured.map(|b| &b[..n]);
    let mut acc = *inner;
    for k in 0..n {
        let thr = (ring[k] as i32)
            .wrapping_add(centre(c0[k]))
            .wrapping_add(centre(c1[k]))
            .wrapping_add(centre(c2[k]));
        let x = [m0[k], m1[k], m2[k]];
        for b in 0..3 {
            let x = i32::from(x[b]) * weights[b];
            let v = if VECTOR {
                cubes[b].vector(x, thr)
            } else {
                cubes[b].scalar(x, thr)
            };
            acc[b] = acc[b].wrapping_add(v);
        }
    }
    *inner = acc;
}

/// Scale-0 masked numerator. `weights` are the Q21/Q23 CSF weights applied to the measured
/// bands on the fly.
pub(super) fn numerator_scale0(
    m: &Masking<'_, i16>,
    border: Border,
    weights: [u16; 3],
    noise_weight: f64,
    scratch: &mut RowScratch,
    level: SimdLevel,
) -> f32 {
    let (w, h) = (m.w, m.h);
    let shift_hv = c_to_u32(((w as f64).log2() - 4.0).ceil());
    let shift_d = c_to_u32(((w as f64).log2() - 3.0).ceil());
    let cube = |sub_shift, sq_shift: u32, cube_shift: u32| Cube {
        sub_shift,
        sq_round: 1 << (sq_shift - 1),
        sq_shift,
        cube_round: i64::from(half_of(cube_shift)),
        cube_shift,
    };
    let cubes = [
        cube(10, 29, shift_hv),
        cube(10, 29, shift_hv),
        cube(12, 30, shift_d),
    ];
    let row_shift = ceil_log2(h);
    let row_round = i64::from(half_of(row_shift));
    let weights = weights.map(i32::from);

    let cols = border.left..border.right;
    let mut total = [0i64; 3];
    for i in border.top..border.bottom {
        let split = if border.left > 0 && i >= 1 && i + 1 < h {
            tail_start(border.left, border.right, 6)
        } else {
            border.left
        };
        let mut inner = [0i64; 3];
        #[cfg(target_arch = "x86_64")]
        if level >= SimdLevel::Avx2 && split > border.left {
            // Interior row with left >= 1: every neighbour of [left, right) lies inside the
            // band, so no mirroring is needed.
            let simd_end = if level == SimdLevel::Avx512 {
                // SAFETY: the Avx512 level is only chosen on CPUs that report AVX-512.
                unsafe {
                    super::avx512::cm_scale0_row(
                        m,
                        i,
                        (border.left, split, border.right),
                        weights,
                        &cubes,
                        &mut scratch.colsum,
                        &mut inner,
                    )
                };
                split
            } else {
                let simd_end = border.left + (split - border.left) / 8 * 8;
                // SAFETY: the Avx2 level is only chosen on CPUs that report AVX2.
                unsafe {
                    super::avx2::cm_scale0_row(
                        m,
                        i,
                        (border.left, simd_end, border.right),
                        weights,
                        &cubes,
                        &mut scratch.colsum,
                        &mut inner,
                    )
                };
                simd_end
            };
            ring_from_colsum(m.faded, w, i, simd_end..border.right, scratch);
            let (vector, scalar) = (simd_end..split, split..border.right);
            accumulate_scale0::<true>(
                &scratch.ring[vector.clone()],
                row_slices(m.weighted, w, i, &vector),
                row_slices(m.measured, w, i, &vector),
                weights,
                &cubes,
                &mut inner,
            );
            accumulate_scale0::<false>(
                &scratch.ring[scalar.clone()],
                row_slices(m.weighted, w, i, &scalar),
                row_slices(m.measured, w, i, &scalar),
                weights,
                &cubes,
                &mut inner,
            );
            pool_row(&mut total, inner, row_round, row_shift);
            continue;
        }
        ring_row(m.faded, w, h, i, cols.clone(), scratch);
        let (vector, scalar) = (border.left..split, split..border.right);
        accumulate_scale0::<true>(
            &scratch.ring[vector.clone()],
            row_slices(m.weighted, w, i, &vector),
            row_slices(m.measured, w, i, &vector),
            weights,
            &cubes,
            &mut inner,
        );
        accumulate_scale0::<false>(
            &scratch.ring[scalar.clone()],
            row_slices(m.weighted, w, i, &scalar),
            row_slices(m.measured, w, i, &scalar),
            weights,
            &cubes,
            &mut inner,
        );
        pool_row(&mut total, inner, row_round, row_shift);
    }

    let pow2 = |e: u32| 2f64.powf(f64::from(e));
    let f = [
        // libvmaf's vector build rounds this one accumulator to f32 before scaling.
        (f64::from(total[0] as f32) / pow2(52u32.wrapping_sub(shift_hv).wrapping_sub(row_shift)))
            as f32,
        (total[1] as f64 / pow2(52u32.wrapping_sub(shift_hv).wrapping_sub(row_shift))) as f32,
        (total[2] as f64 / pow2(57u32.wrapping_sub(shift_d).wrapping_sub(row_shift))) as f32,
    ];
    combine(f, noise_floor(border, noise_weight))
}

fn combine(f: [f32; 3], floor: f32) -> f32 {
    let t = f.map(|v| v.powf(1.0 / 3.0) + floor);
    t[0] + t[1] + t[2]
}

/// One row segment of the scale 1-3 numerator. libvmaf's vector code (`VECTOR`) reads the Q32
/// weights as signed 32-bit values and keeps products and threshold in 64 bits; that only
/// makes a difference for weights of 0.5 and above.
#[inline(always)]
fn accumulate_lower<const VECTOR: bool>(
    ring: &[i64],
    weighted: [&[i32]; 3],
    measured: [&[i32]; 3],
    weights: [u32; 3],
    cube: &Cube,
    inner: &mut [i64; 3],
) {
    const ONE_BY_15_Q32: i64 = 286331153;
    let centre = |v: i32| (ONE_BY_15_Q32 * i64::from(v.wrapping_abs()) + Q32_ROUND) >> 32;
    let weights = weights.map(|v| {
        if VECTOR {
            i64::from(v as i32)
        } else {
            i64::from(v)
        }
    });
    let n = ring.len();
    let [c0, c1, c2] = weighted.map(|b| &b[..n]);
    let [m0, m1, m2] = measured.map(|b| &b[..n]);
    let mut acc = *inner;
    for k in 0..n {
        let thr = ring[k] + centre(c0[k]) + centre(c1[k]) + centre(c2[k]);
        let x = [m0[k], m1[k], m2[k]];
        for b in 0..3 {
            let x = (i64::from(x[b]) * weights[b] + (1 << 27)) >> 28;
            let v = if VECTOR {
                cube.vector_wide(x, thr)
            } else {
                cube.scalar(x as i32, thr as i32)
            };
            acc[b] = acc[b].wrapping_add(v);
        }
    }
    *inner = acc;
}

/// Scale 1-3 masked numerator. `weights` are the Q32 CSF weights.
pub(super) fn numerator_lower(
    m: &Masking<'_, i32>,
    scale: usize,
    border: Border,
    weights: [u32; 3],
    noise_weight: f64,
    scratch: &mut RowScratch,
    level: SimdLevel,
) -> f32 {
    let _ = level;
    let (w, h) = (m.w, m.h);
    let cube_shift = ceil_log2(w);
    let cube = Cube {
        sub_shift: 0,
        sq_round: 1 << 29,
        sq_shift: 30,
        cube_round: i64::from(half_of(cube_shift)),
        cube_shift,
    };
    let row_shift = ceil_log2(h);
    let row_round = i64::from(half_of(row_shift));

    let cols = border.left..border.right;
    let mut total = [0i64; 3];
    for i in border.top..border.bottom {
        // Interior rows with left >= 1 (hence right < w) need no mirroring.
        let interior = border.left > 0 && i >= 1 && i + 1 < h;
        #[cfg(target_arch = "x86_64")]
        let ring_done = interior && level >= SimdLevel::Avx2 && {
            let args = ((w, h), i, (border.left, border.right));
            let RowScratch { sums, ring, .. } = &mut *scratch;
            if level == SimdLevel::Avx512 {
                // SAFETY: the Avx512 level is only chosen on CPUs that report AVX-512.
                unsafe {
                    super::avx512::ring_lower_row(m.faded, args.0, args.1, args.2, sums, ring)
                };
            } else {
                // SAFETY: the Avx2 level is only chosen on CPUs that report AVX2.
                unsafe { super::avx2::ring_lower_row(m.faded, args.0, args.1, args.2, sums, ring) };
            }
            true
        };
        #[cfg(not(target_arch = "x86_64"))]
        let ring_done = false;
        if !ring_done {
            ring_row(m.faded, w, h, i, cols.clone(), scratch);
        }
        let split = if interior {
            tail_start(border.left, border.right, 2)
        } else {
            border.left
        };
        let mut inner = [0i64; 3];
        let mut first = border.left;
        #[cfg(target_arch = "x86_64")]
        if level == SimdLevel::Avx512 {
            let vector = border.left..split;
            // SAFETY: the Avx512 level is only chosen on CPUs that report AVX-512.
            first += unsafe {
                super::avx512::cm_lower_span(
                    &scratch.ring[vector.clone()],
                    row_slices(m.weighted, w, i, &vector),
                    row_slices(m.measured, w, i, &vector),
                    weights,
                    &cube,
                    &mut inner,
                )
            };
        } else if level >= SimdLevel::Avx2 {
            let vector = border.left..split;
            // SAFETY: the Avx2 level is only chosen on CPUs that report AVX2.
            first += unsafe {
                super::avx2::cm_lower_span(
                    &scratch.ring[vector.clone()],
                    row_slices(m.weighted, w, i, &vector),
                    row_slices(m.measured, w, i, &vector),
                    weights,
                    &cube,
                    &mut inner,
                )
            };
        }
        let (vector, scalar) = (first..split, split..border.right);
        accumulate_lower::<true>(
            &scratch.ring[vector.clone()],
            row_slices(m.weighted, w, i, &vector),
            row_slices(m.measured, w, i, &vector),
            weights,
            &cube,
            &mut inner,
        );
        accumulate_lower::<false>(
            &scratch.ring[scalar.clone()],
            row_slices(m.weighted, w, i, &scalar),
            row_slices(m.measured, w, i, &scalar),
            weights,
            &cube,
            &mut inner,
        );
        pool_row(&mut total, inner, row_round, row_shift);
    }

    let exponent = [45u32, 39, 36][scale - 1]
        .wrapping_sub(cube_shift)
        .wrapping_sub(row_shift);
    let div = 2f64.powf(f64::from(exponent)) as f32;
    let f = total.map(|t| t as f32 / div);
    combine(f, noise_floor(border, noise_weight))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_and_scalar_cubes_agree_in_range_and_split_on_huge_shifts() {
        let c = Cube {
            sub_shift: 10,
            sq_round: 1 << 28,
            sq_shift: 29,
            cube_round: 0,
            cube_shift: u32::MAX,
        };
        // A count of 2^32-1 is taken mod 64 by the scalar shift and zeroes the vector one.
        // (2^60 + 2^28) >> 29 wraps to -2^31 in 32 bits, so the scalar product is negative.
        assert_eq!(c.scalar(1 << 30, 0), -1);
        assert_eq!(c.vector(1 << 30, 0), 0);
        let c = Cube {
            cube_shift: 7,
            cube_round: 64,
            ..c
        };
        for x in [0, 5, -70000, 1_000_000, 300_000_000] {
            assert_eq!(c.scalar(x, 3), c.vector(x, 3), "x = {x}");
        }
    }

    #[test]
    fn edges_mirror_inwards() {
        assert_eq!(before(0), 1);
        assert_eq!(before(5), 4);
        assert_eq!(after(4, 5), 4);
        assert_eq!(after(3, 5), 4);
    }
}
