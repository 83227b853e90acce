//! Scalar SSIM arithmetic shared by `float_ssim` and `float_ms_ssim`, in libvmaf v3.2.0's
//! (IQA library's) order of operations: f32 products summed in f64 for every filter tap,
//! f32 local statistics, and the per-pixel terms mixing f64 and f32 exactly as its C types do.
//! The C is built with `-std=c11` and no FMA, so each `*` and `+` here rounds on its own.

use crate::cpu::SimdLevel;
use crate::picture::{Pixel, Plane, PlaneData};

/// Taps of the separable 11-tap Gaussian window (sigma 1.5), as libvmaf writes them.
const GAUSSIAN: [f32; 11] = [
    0.001028, 0.007599, 0.036001, 0.109361, 0.213006, 0.266012, 0.213006, 0.109361, 0.036001,
    0.007599, 0.001028,
];

/// Side of the Gaussian window; a picture smaller than this has no valid SSIM region.
pub const WINDOW: usize = GAUSSIAN.len();

/// Side of MS-SSIM's low-pass filter.
const LPF_LEN: usize = 9;

/// MS-SSIM's 9x9 low-pass filter (the 9/7 biorthogonal wavelet's), applied as a full 2D
/// kernel: libvmaf decimates with the 2D table, not the separable taps.
#[rustfmt::skip]
const LPF: [f32; LPF_LEN * LPF_LEN] = [
    0.000714, -0.000450, -0.002090, 0.007132, 0.016114, 0.007132, -0.002090, -0.000450, 0.000714,
    -0.000450, 0.000283, 0.001316, -0.004490, -0.010146, -0.004490, 0.001316, 0.000283, -0.000450,
    -0.002090, 0.001316, 0.006115, -0.020867, -0.047149, -0.020867, 0.006115, 0.001316, -0.002090,
    0.007132, -0.004490, -0.020867, 0.071207, 0.160885, 0.071207, -0.020867, -0.004490, 0.007132,
    0.016114, -0.010146, -0.047149, 0.160885, 0.363505, 0.160885, -0.047149, -0.010146, 0.016114,
    0.007132, -0.004490, -0.020867, 0.071207, 0.160885, 0.071207, -0.020867, -0.004490, 0.007132,
    -0.002090, 0.001316, 0.006115, -0.020867, -0.047149, -0.020867, 0.006115, 0.001316, -0.002090,
    -0.000450, 0.000283, 0.001316, -0.004490, -0.010146, -0.004490, 0.001316, 0.000283, -0.000450,
    0.000714, -0.000450, -0.002090, 0.007132, 0.016114, 0.007132, -0.002090, -0.000450, 0.000714,
];

/// Mean SSIM and its luminance, contrast and structure means over one picture pair, each
/// rounded to f32 as libvmaf returns them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Means {
    /// Mean of l·c·s.
    pub ssim: f32,
    /// Mean luminance term.
    pub l: f32,
    /// Mean contrast term.
    pub c: f32,
    /// Mean structure term.
    pub s: f32,
}

/// libvmaf's divisor taking `bit_depth`-bit samples to the 8-bit range (`picture_copy`).
pub fn divisor(bit_depth: u8) -> f32 {
    match bit_depth {
        10 => 4.0,
        12 => 16.0,
        16 => 256.0,
        _ => 1.0,
    }
}

/// A sample as libvmaf's `picture_copy` turns it into a float: 8-bit samples as they are,
/// deeper ones divided by [`divisor`] in f32; floats are already converted.
pub trait Sample: Copy {
    /// The float libvmaf computes with.
    fn to_float(self, divisor: f32) -> f32;
}

impl Sample for f32 {
    #[inline(always)]
    fn to_float(self, _: f32) -> f32 {
        self
    }
}

impl Sample for u8 {
    #[inline(always)]
    fn to_float(self, _: f32) -> f32 {
        f32::from(self)
    }
}

impl Sample for u16 {
    #[inline(always)]
    fn to_float(self, divisor: f32) -> f32 {
        f32::from(self) / divisor
    }
}

/// A picture's rows as decimation reads them: `width` samples every `stride`, `height` rows,
/// turned into floats with `divisor`.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a, T> {
    /// The samples.
    pub data: &'a [T],
    /// Distance between row starts, in samples.
    pub stride: usize,
    /// Samples per row.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
    /// See [`divisor`].
    pub divisor: f32,
}

impl<'a> Rows<'a, f32> {
    /// A `width`x`height` float picture stored row after row.
    pub fn floats(data: &'a [f32], width: usize, height: usize) -> Self {
        Rows {
            data,
            stride: width,
            width,
            height,
            divisor: 1.0,
        }
    }
}

impl<'a, T: Pixel> Rows<'a, T> {
    /// The top-left `width`x`height` of `plane`, of `bit_depth`-bit samples.
    pub fn plane(plane: &'a Plane<T>, width: usize, height: usize, bit_depth: u8) -> Self {
        Rows {
            data: &plane.data,
            stride: plane.stride,
            width,
            height,
            divisor: divisor(bit_depth),
        }
    }
}

impl<T> Rows<'_, T> {
    #[inline(always)]
    fn row(&self, y: usize) -> &[T] {
        &self.data[y * self.stride..][..self.width]
    }
}

/// Copies the luma plane into `dst` as floats, `stride == width`, as libvmaf's
/// `picture_copy` does (see [`Sample`]).
pub fn luma_to_float(plane: &PlaneData, bit_depth: u8, dst: &mut Vec<f32>) {
    fn copy<T: Pixel + Sample>(p: &Plane<T>, bit_depth: u8, dst: &mut Vec<f32>) {
        let d = divisor(bit_depth);
        dst.clear();
        for y in 0..p.height {
            dst.extend(p.row(y)[..p.width].iter().map(|&v| v.to_float(d)));
        }
    }
    match plane {
        PlaneData::U8(p) => copy(p, bit_depth, dst),
        PlaneData::U16(p) => copy(p, bit_depth, dst),
    }
}

/// C's symmetric boundary: mirrors an index just outside `0..n` back inside, repeating the
/// edge sample (`-1 → 0`, `n → n - 1`). Indices further out (only padding no output reads)
/// are clamped rather than reflected again.
#[inline(always)]
fn mirror(i: isize, n: usize) -> usize {
    let n = n as isize;
    let m = if i < 0 {
        -1 - i
    } else if i >= n {
        2 * n - i - 1
    } else {
        i
    };
    m.clamp(0, n - 1) as usize
}

/// One output sample of a `side`x`side` 2D kernel centred on (`x`, `y`) of `img`
/// (`w`x`h`, mirrored at the borders): f32 products summed in f64, taps in row-major order,
/// as libvmaf's `_iqa_filter_pixel`. The tests hold the fast decimation to it.
#[cfg(test)]
fn filter_pixel(
    img: &[f32],
    (w, h): (usize, usize),
    (x, y): (usize, usize),
    kernel: &[f32],
    side: usize,
) -> f32 {
    let before = (side / 2) as isize;
    let (x, y) = (x as isize, y as isize);
    let mut sum = 0.0f64;
    let mut taps = kernel.iter();
    for v in -before..-before + side as isize {
        let row = mirror(y + v, h) * w;
        for u in -before..-before + side as isize {
            let tap = taps.next().copied().unwrap_or(0.0);
            sum += f64::from(img[row + mirror(x + u, w)] * tap);
        }
    }
    sum as f32
}

/// libvmaf's `float_ssim` down-scaling done literally: in place, row by row, each output
/// written over the picture while later outputs still read it.
#[cfg(test)]
pub fn decimate_box_in_place(img: &mut [f32], w: usize, h: usize, factor: usize) -> (usize, usize) {
    let (sw, sh) = decimated_size(w, h, factor);
    let kernel = box_kernel(factor);
    for y in 0..sh {
        for x in 0..sw {
            let v = filter_pixel(img, (w, h), (x * factor, y * factor), &kernel, factor);
            img[y * sw + x] = v;
        }
    }
    (sw, sh)
}

/// Size after decimating a `w`x`h` picture by `factor`: libvmaf adds one to each side that
/// was odd, whatever the factor.
pub fn decimated_size(w: usize, h: usize, factor: usize) -> (usize, usize) {
    (w / factor + (w & 1), h / factor + (h & 1))
}

/// `float_ssim`'s low-pass filter for down-scaling by `factor`: a box of `1 / factor²` taps.
pub fn box_kernel(factor: usize) -> Vec<f32> {
    vec![1.0f32 / (factor * factor) as f32; factor * factor]
}

/// Gives `buf` length `len` for a caller that writes every entry: zeroed only when the length
/// changes (the first frame).
#[inline(always)]
fn resize_for_overwrite(buf: &mut Vec<f32>, len: usize) {
    if buf.len() != len {
        buf.clear();
        buf.resize(len, 0.0);
    }
}

/// Scratch for [`decimate`]: the source rows, padded by mirroring and split by column phase.
#[derive(Debug, Default)]
pub struct DecimateScratch {
    phases: Vec<f32>,
    rows: Vec<usize>,
}

/// Filters `src` (`w`x`h`) with the `side`x`side` `kernel` (taps row-major; an even side
/// reaches one sample further before the centre than after) at every `factor`-th sample of
/// every `factor`-th row, into `dst`; returns its size. Each output is libvmaf's
/// `_iqa_filter_pixel`: f32 products summed in f64 in tap order, borders mirrored.
///
/// libvmaf's `float_ssim` decimates in place; out of place gives the same values because no
/// output reads a sample that an earlier output (all at indices below `y·sw + x`) overwrote:
/// in row 0, output x reads columns from `x·f - f/2 ≥ x` on (mirrored ones from 0 for x = 0),
/// and for y ≥ 1 it reads rows from `y·f - f/2 ≥ y` on, so indices from `y·w ≥ y·sw + x`
/// (as `w - sw ≥ sw - 1` for every factor f ≥ 2). The tests also hold it to the literal
/// in-place version.
pub fn decimate<T: Sample>(
    level: SimdLevel,
    src: Rows<T>,
    factor: usize,
    (kernel, side): (&[f32], usize),
    scratch: &mut DecimateScratch,
    dst: &mut Vec<f32>,
) -> (usize, usize) {
    let args = (src, factor, (kernel, side), scratch, dst);
    #[cfg(target_arch = "x86_64")]
    match level {
        SimdLevel::Avx512 => {
            assert!(level.is_supported());
            // SAFETY: AVX-512 was checked just above.
            return unsafe { decimate_avx512(args) };
        }
        SimdLevel::Avx2 => {
            assert!(level.is_supported());
            // SAFETY: AVX2 was checked just above.
            return unsafe { decimate_avx2(args) };
        }
        SimdLevel::Scalar => {}
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    decimate_body(args)
}

/// The arguments of [`decimate`] after the level.
type DecimateArgs<'a, T> = (
    Rows<'a, T>,
    usize,
    (&'a [f32], usize),
    &'a mut DecimateScratch,
    &'a mut Vec<f32>,
);

/// [`decimate_body`] compiled for AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2")]
fn decimate_avx512<T: Sample>(args: DecimateArgs<T>) -> (usize, usize) {
    decimate_body(args)
}

/// [`decimate_body`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn decimate_avx2<T: Sample>(args: DecimateArgs<T>) -> (usize, usize) {
    decimate_body(args)
}

#[inline(always)]
fn decimate_body<T: Sample>(
    (src, factor, (kernel, side), scratch, dst): DecimateArgs<T>,
) -> (usize, usize) {
    let (w, h) = (src.width, src.height);
    let divisor = src.divisor;
    let (sw, sh) = decimated_size(w, h, factor);
    let before = (side / 2) as isize;
    // Source column x·factor + t - before (t in 0..side) of output x is phase t % factor,
    // entry x + t / factor: one contiguous run per tap across outputs.
    let phase_len = sw + (side - 1) / factor + 1;
    let row_len = phase_len * factor;
    resize_for_overwrite(&mut scratch.phases, row_len * h);
    let shift = before as usize;
    // Entries j0..j1 of every phase lie inside the row: source j·factor + r - shift for all
    // r < factor. They are copied reading the row in order; the rest are mirrored.
    let j0 = shift.div_ceil(factor);
    let j1 = if w + shift >= factor {
        ((w + shift - factor) / factor + 1).clamp(j0, phase_len)
    } else {
        j0
    };
    for (y, out) in scratch.phases.chunks_exact_mut(row_len).enumerate() {
        let row = src.row(y);
        for (r, phase) in out.chunks_exact_mut(phase_len).enumerate() {
            // One phase at a time, a strided read and a contiguous write (j0·factor ≥ shift).
            let inside = row
                .get(j0 * factor + r - shift..)
                .unwrap_or_default()
                .iter()
                .step_by(factor);
            for (o, &v) in phase[j0..j1].iter_mut().zip(inside) {
                *o = v.to_float(divisor);
            }
            for j in (0..j0).chain(j1..phase_len) {
                phase[j] = row[mirror((j * factor + r) as isize - before, w)].to_float(divisor);
            }
        }
    }
    let taps: Vec<(usize, f32)> = (0..side * side)
        .map(|i| {
            let t = i % side;
            ((t % factor) * phase_len + t / factor, kernel[i])
        })
        .collect();
    resize_for_overwrite(dst, sw * sh);
    let rows = &mut scratch.rows;
    for (y, out) in dst.chunks_exact_mut(sw).enumerate() {
        rows.clear();
        rows.extend((0..side).map(|v| mirror((y * factor + v) as isize - before, h) * row_len));
        let phases = &scratch.phases;
        let mut x = 0;
        while x + LANES <= sw {
            let mut acc = [0.0f64; LANES];
            for (v, &row) in rows.iter().enumerate() {
                for &(at, k) in &taps[v * side..(v + 1) * side] {
                    let from = row + at + x;
                    for (a, &s) in acc.iter_mut().zip(&phases[from..from + LANES]) {
                        *a += f64::from(s * k);
                    }
                }
            }
            for (o, a) in out[x..x + LANES].iter_mut().zip(acc) {
                *o = a as f32;
            }
            x += LANES;
        }
        for (x, o) in out.iter_mut().enumerate().skip(x) {
            let mut sum = 0.0f64;
            for (v, &row) in rows.iter().enumerate() {
                for &(at, k) in &taps[v * side..(v + 1) * side] {
                    sum += f64::from(phases[row + at + x] * k);
                }
            }
            *o = sum as f32;
        }
    }
    (sw, sh)
}

/// MS-SSIM's down-scaling: the 9x9 low-pass filter at every other sample of every other row.
pub fn decimate_lpf(
    level: SimdLevel,
    src: &[f32],
    (w, h): (usize, usize),
    scratch: &mut DecimateScratch,
    dst: &mut Vec<f32>,
) -> (usize, usize) {
    decimate(
        level,
        Rows::floats(src, w, h),
        2,
        (&LPF, LPF_LEN),
        scratch,
        dst,
    )
}

/// The literal MS-SSIM down-scaling, for the tests.
#[cfg(test)]
pub fn decimate_lpf_literal(src: &[f32], w: usize, h: usize) -> (Vec<f32>, (usize, usize)) {
    let (sw, sh) = decimated_size(w, h, 2);
    let mut dst = Vec::new();
    for y in 0..sh {
        for x in 0..sw {
            dst.push(filter_pixel(src, (w, h), (x * 2, y * 2), &LPF, LPF_LEN));
        }
    }
    (dst, (sw, sh))
}

/// Scratch buffers reused across frames, all a few rows in size: SSIM is computed in one pass
/// down the picture, so the five filtered maps never exist in full.
#[derive(Debug, Default)]
pub struct Workspace {
    /// Products of one input row: a², b² and a·b, `w` each.
    products: Vec<f32>,
    /// Row-pass outputs of the five maps (μ₁, μ₂, a², b², a·b) for the last [`WINDOW`] input
    /// rows: map `m`, input row `y` at `(m * WINDOW + y % WINDOW) * dw`.
    ring: Vec<f32>,
    /// Column-pass outputs of the five maps for one output row, `dw` each.
    stats: Vec<f32>,
}

/// Output samples computed side by side. Each keeps its own f64 sum, taken in tap order, so
/// grouping them changes no value; it only lets the compiler use vector registers.
const LANES: usize = 16;

/// The Gaussian row pass of one row: `out[x]` = Σᵤ f64(row[x + u] · gᵤ) in tap order, rounded
/// to f32, for every x where the window fits (`out.len()` = `row.len() - 10`).
#[inline(always)]
fn row_pass(row: &[f32], out: &mut [f32]) {
    let dw = out.len();
    let mut x = 0;
    while x + LANES <= dw {
        let mut acc = [0.0f64; LANES];
        for (u, &k) in GAUSSIAN.iter().enumerate() {
            for (a, &s) in acc.iter_mut().zip(&row[x + u..x + u + LANES]) {
                *a += f64::from(s * k);
            }
        }
        for (o, a) in out[x..x + LANES].iter_mut().zip(acc) {
            *o = a as f32;
        }
        x += LANES;
    }
    for (x, o) in out.iter_mut().enumerate().skip(x) {
        let mut sum = 0.0f64;
        for (&s, &k) in row[x..x + WINDOW].iter().zip(&GAUSSIAN) {
            sum += f64::from(s * k);
        }
        *o = sum as f32;
    }
}

/// The Gaussian column pass of one output row from the row-pass outputs of its [`WINDOW`]
/// input rows, top first: `out[x]` = Σᵥ f64(rows[v][x] · gᵥ) in tap order, rounded to f32.
#[inline(always)]
fn column_pass(rows: &[&[f32]; WINDOW], out: &mut [f32]) {
    let dw = out.len();
    let mut x = 0;
    while x + LANES <= dw {
        let mut acc = [0.0f64; LANES];
        for (row, &k) in rows.iter().zip(&GAUSSIAN) {
            for (a, &s) in acc.iter_mut().zip(&row[x..x + LANES]) {
                *a += f64::from(s * k);
            }
        }
        for (o, a) in out[x..x + LANES].iter_mut().zip(acc) {
            *o = a as f32;
        }
        x += LANES;
    }
    for (x, o) in out.iter_mut().enumerate().skip(x) {
        let mut sum = 0.0f64;
        for (row, &k) in rows.iter().zip(&GAUSSIAN) {
            sum += f64::from(row[x] * k);
        }
        *o = sum as f32;
    }
}

/// Gaussian-filters `img` (`w`x`h`) over the region where the window fits, giving a
/// `(w - 10)`x`(h - 10)` picture in `dst`: rows first, then columns, each output rounded to
/// f32 after its f64 sum. The whole-picture form, which the tests hold [`ssim`] to.
#[cfg(test)]
fn gaussian_valid(img: &[f32], w: usize, h: usize) -> Vec<f32> {
    let (dw, dh) = (w + 1 - WINDOW, h + 1 - WINDOW);
    let mut row_out = vec![0.0; dw * h];
    for (row, out) in img.chunks_exact(w).zip(row_out.chunks_exact_mut(dw)) {
        row_pass(row, out);
    }
    let mut dst = vec![0.0; dw * dh];
    for (y, out) in dst.chunks_exact_mut(dw).enumerate() {
        let rows = std::array::from_fn(|v| &row_out[(y + v) * dw..][..dw]);
        column_pass(&rows, out);
    }
    dst
}

/// The l, c and s terms of one pixel from its local means, second moments and cross moment.
#[inline(always)]
fn terms(mu1: f32, mu2: f32, sq1: f32, sq2: f32, both: f32) -> (f64, f64, f64) {
    const L: f32 = 255.0;
    let c1 = (0.01f32 * L) * (0.01f32 * L);
    let c2 = (0.03f32 * L) * (0.03f32 * L);
    let c3 = c2 / 2.0;
    // Variances clamped at 0 as C's MAX(0.0, v) does (a NaN would pass through).
    let var1 = sq1 - mu1 * mu1;
    let var1 = if 0.0 > var1 { 0.0 } else { var1 };
    let var2 = sq2 - mu2 * mu2;
    let var2 = if 0.0 > var2 { 0.0 } else { var2 };
    let cov = both - mu1 * mu2;

    let sigma12 = f64::from(var1 * var2).sqrt() as f32;
    let l = (2.0 * f64::from(mu1) * f64::from(mu2) + f64::from(c1))
        / f64::from(mu1 * mu1 + mu2 * mu2 + c1);
    let c = (2.0 * f64::from(sigma12) + f64::from(c2)) / f64::from(var1 + var2 + c2);
    // A flat, identical window can leave a tiny negative covariance against a zero
    // deviation product; libvmaf zeroes it so such windows score 1.
    let cov = if cov < 0.0 && sigma12 <= 0.0 {
        0.0
    } else {
        cov
    };
    let s = f64::from((cov + c3) / (sigma12 + c3));
    (l, c, s)
}

/// SSIM of two `w`x`h` float pictures (both at least [`WINDOW`] on each side) with libvmaf's
/// default constants (K1 0.01, K2 0.03, L 255) and Gaussian window, on the instructions of
/// `level` (which the caller checked this CPU runs). Every level gives the same bits.
pub fn ssim(
    level: SimdLevel,
    reference: &[f32],
    distorted: &[f32],
    w: usize,
    h: usize,
    ws: &mut Workspace,
) -> Means {
    #[cfg(target_arch = "x86_64")]
    match level {
        SimdLevel::Avx512 => {
            assert!(level.is_supported());
            // SAFETY: AVX-512 was checked just above.
            return unsafe { ssim_avx512(reference, distorted, w, h, ws) };
        }
        SimdLevel::Avx2 => {
            assert!(level.is_supported());
            // SAFETY: AVX2 was checked just above.
            return unsafe { ssim_avx2(reference, distorted, w, h, ws) };
        }
        SimdLevel::Scalar => {}
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    ssim_body(reference, distorted, w, h, ws)
}

/// [`ssim_body`] compiled for AVX-512 (no FMA: Rust never fuses a product into a sum).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2")]
fn ssim_avx512(r: &[f32], d: &[f32], w: usize, h: usize, ws: &mut Workspace) -> Means {
    ssim_body(r, d, w, h, ws)
}

/// [`ssim_body`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn ssim_avx2(r: &[f32], d: &[f32], w: usize, h: usize, ws: &mut Workspace) -> Means {
    ssim_body(r, d, w, h, ws)
}

/// Adds the terms of one output row of statistics (`stats`: μ₁, μ₂, σ₁², σ₂², σ₁₂ maps before
/// the mean products are taken off, `n` each) to the four sums, pixel after pixel in raster
/// order as libvmaf sums them.
#[inline(always)]
fn add_terms(stats: &[f32], n: usize, sums: &mut [f64; 4]) {
    let (ref_mu, rest) = stats.split_at(n);
    let (cmp_mu, rest) = rest.split_at(n);
    let (ref_sq, rest) = rest.split_at(n);
    let (cmp_sq, both) = rest.split_at(n);
    let [ssim_sum, l_sum, c_sum, s_sum] = sums;
    let mut i = 0;
    while i < n {
        let m = LANES.min(n - i);
        let mut tl = [0.0f64; LANES];
        let mut tc = [0.0f64; LANES];
        let mut ts = [0.0f64; LANES];
        let stats = ref_mu[i..i + m]
            .iter()
            .zip(&cmp_mu[i..i + m])
            .zip(ref_sq[i..i + m].iter().zip(&cmp_sq[i..i + m]))
            .zip(&both[i..i + m]);
        for (j, (((&mu1, &mu2), (&sq1, &sq2)), &both)) in stats.enumerate() {
            (tl[j], tc[j], ts[j]) = terms(mu1, mu2, sq1, sq2, both);
        }
        for j in 0..m {
            *ssim_sum += tl[j] * tc[j] * ts[j];
            *l_sum += tl[j];
            *c_sum += tc[j];
            *s_sum += ts[j];
        }
        i += m;
    }
}

/// The means from the four sums over `n` pixels.
fn means([ssim_sum, l_sum, c_sum, s_sum]: [f64; 4], n: usize) -> Means {
    let n = n as f64;
    Means {
        ssim: (ssim_sum / n) as f32,
        l: (l_sum / n) as f32,
        c: (c_sum / n) as f32,
        s: (s_sum / n) as f32,
    }
}

/// One pass down the picture: each input row's products and five row passes go into a ring
/// of the last [`WINDOW`] rows, and as soon as the ring holds an output row's window, its
/// five column passes and its SSIM terms are taken. Every value is computed by the same
/// operations as in the whole-picture form (`ssim_literal`, in the tests); only the order in
/// which independent values are computed changes, which keeps the working set in the CPU's
/// caches instead of writing and re-reading ten picture-sized maps.
#[inline(always)]
fn ssim_body(
    reference: &[f32],
    distorted: &[f32],
    w: usize,
    h: usize,
    ws: &mut Workspace,
) -> Means {
    const MAPS: usize = 5;
    let dw = w + 1 - WINDOW;
    resize_for_overwrite(&mut ws.products, 3 * w);
    resize_for_overwrite(&mut ws.ring, MAPS * WINDOW * dw);
    resize_for_overwrite(&mut ws.stats, MAPS * dw);
    let mut sums = [0.0f64; 4];
    for (y, (a, b)) in reference
        .chunks_exact(w)
        .zip(distorted.chunks_exact(w))
        .take(h)
        .enumerate()
    {
        let (sq1, rest) = ws.products.split_at_mut(w);
        let (sq2, both) = rest.split_at_mut(w);
        for (i, (&a, &b)) in a.iter().zip(b).enumerate() {
            sq1[i] = a * a;
            sq2[i] = b * b;
            both[i] = a * b;
        }
        let slot = y % WINDOW;
        let inputs: [&[f32]; MAPS] = [a, b, sq1, sq2, both];
        for (m, input) in inputs.into_iter().enumerate() {
            row_pass(input, &mut ws.ring[(m * WINDOW + slot) * dw..][..dw]);
        }
        if y + 1 < WINDOW {
            continue;
        }
        // Output row y - 10 reads input rows y - 10 ..= y, oldest first.
        let first = (y + 1) % WINDOW;
        for (m, out) in ws.stats.chunks_exact_mut(dw).enumerate() {
            let map = &ws.ring[m * WINDOW * dw..][..WINDOW * dw];
            let rows = std::array::from_fn(|v| &map[(first + v) % WINDOW * dw..][..dw]);
            column_pass(&rows, out);
        }
        add_terms(&ws.stats, dw, &mut sums);
    }
    means(sums, dw * (h + 1 - WINDOW))
}

/// SSIM the way libvmaf lays it out: five whole filtered maps, then the terms in raster
/// order. The tests hold [`ssim`] to it bit for bit.
#[cfg(test)]
pub fn ssim_literal(reference: &[f32], distorted: &[f32], w: usize, h: usize) -> Means {
    let product = |f: fn(f32, f32) -> f32| -> Vec<f32> {
        reference
            .iter()
            .zip(distorted)
            .map(|(&a, &b)| f(a, b))
            .collect()
    };
    let maps = [
        gaussian_valid(reference, w, h),
        gaussian_valid(distorted, w, h),
        gaussian_valid(&product(|a, _| a * a), w, h),
        gaussian_valid(&product(|_, b| b * b), w, h),
        gaussian_valid(&product(|a, b| a * b), w, h),
    ];
    let n = maps[0].len();
    let mut sums = [0.0f64; 4];
    for i in 0..n {
        let stats: Vec<f32> = maps.iter().map(|m| m[i]).collect();
        add_terms(&stats, 1, &mut sums);
    }
    means(sums, n)
}
