//! CAMBI's per-picture work, in libvmaf v3.2.0's order: conversion to 10 bits (with
//! nearest-neighbour resizing and, below 10 encoded bits, the 2x2 anti-dithering average), the
//! flat-area mask, then per scale the 2x decimation, the 3x3 mode filter, the contrast
//! ("c") values from sliding per-column histograms, and top-k pooling.
//!
//! Every buffer is a plane of libvmaf's size and stride, worked in place as libvmaf works its
//! own, so that the rows and columns libvmaf reads past a small scale's edge hold what they
//! hold there.

use crate::cpu::SimdLevel;
use crate::picture::{Plane, PlaneData};

/// Number of scales CAMBI pools over.
pub const NUM_SCALES: usize = 5;
/// Weight of each scale in the final inner product.
const SCALE_WEIGHTS: [f64; NUM_SCALES] = [16.0, 8.0, 4.0, 2.0, 1.0];
/// Suprathreshold contrast response: weight of a step of `d + 1` luma levels.
pub const CONTRAST_WEIGHTS: [i32; 32] = [
    1, 2, 3, 4, 4, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
];
/// Side of the flat-area mask's square.
const MASK_FILTER_SIZE: usize = 7;
/// Entries in libvmaf's reciprocal table; a window's pixel count must stay below it.
pub const RECIPROCAL_LUT_SIZE: usize = 4226;

/// libvmaf's reciprocal table: `1/i` printed to nine significant digits and read back as an
/// f32 (not the correctly rounded `1.0f / i`, which differs in 42 entries), `[0] = 0`.
pub fn reciprocal_lut() -> Vec<f32> {
    let mut lut = Vec::with_capacity(RECIPROCAL_LUT_SIZE);
    lut.push(0.0);
    for i in 1..RECIPROCAL_LUT_SIZE {
        let text = format!("{:.8e}", 1.0 / i as f64);
        lut.push(text.parse::<f32>().unwrap_or(1.0 / i as f32));
    }
    lut
}

/// libvmaf's picture row alignment: strides are rounded up to 32 samples.
pub fn aligned_stride(width: usize) -> usize {
    (width + 31) & !31
}

/// A 10-bit working plane with libvmaf's stride and one spare zero row, so that the one row
/// libvmaf may read just past a picture's bottom stays inside it.
#[derive(Debug, Clone)]
pub struct Work {
    /// Samples, `stride * (rows + 1)`.
    pub data: Vec<u16>,
    /// libvmaf's stride for the allocated width.
    pub stride: usize,
}

impl Work {
    /// A zeroed plane of `width` x `height` (libvmaf zeroes its pictures on allocation).
    pub fn new(width: usize, height: usize) -> Self {
        let stride = aligned_stride(width);
        Work {
            data: vec![0; stride * (height + 1)],
            stride,
        }
    }
}

/// Visibility tables derived from the options once per run.
#[derive(Debug, Clone)]
pub struct Contrast {
    /// `1 << max_log_contrast`.
    pub num_diffs: usize,
    /// Per step `d + 1`: the highest (offset by `num_diffs`) 10-bit luma where it is visible.
    pub tvi: Vec<u16>,
    /// Luma at or below which banding is taken as invisible (0: none).
    pub vlt: u16,
    /// Contrast weight per step.
    pub weights: Vec<i32>,
    /// Lowest raw luma that can matter to any c value.
    pub band_base: u16,
    /// Number of luma values from `band_base` that can matter (libvmaf's u16 arithmetic).
    pub band_size: u16,
    /// Per band row: the first step whose visibility test passes; with `steps_contiguous`
    /// every later step passes too.
    first_step: Vec<u8>,
    /// Whether each band row's passing steps are one tail `first_step..num_diffs` (they are
    /// when the thresholds rise with the step, as they do from any EOTF).
    steps_contiguous: bool,
}

impl Contrast {
    /// Builds the tables from the already validated thresholds.
    pub fn new(num_diffs: usize, tvi: Vec<u16>, vlt: u16) -> Self {
        let lo = i32::from(vlt) - 3 * num_diffs as i32 + 1;
        let band_base = if lo > 0 { lo as u16 } else { 0 };
        let last = tvi.last().copied().unwrap_or(0);
        let band_size = last.wrapping_add(1).wrapping_sub(band_base);
        let mut steps_contiguous = true;
        let first_step = (0..usize::from(band_size))
            .map(|compact| {
                let value = compact as i32 + i32::from(band_base) + num_diffs as i32;
                let passes =
                    |d: usize| value <= i32::from(tvi[d]) && value + d as i32 + 1 > i32::from(vlt);
                let first = (0..num_diffs).find(|&d| passes(d)).unwrap_or(num_diffs);
                if (first..num_diffs).any(|d| !passes(d)) {
                    steps_contiguous = false;
                }
                first as u8
            })
            .collect();
        Contrast {
            num_diffs,
            tvi,
            vlt,
            weights: CONTRAST_WEIGHTS[..num_diffs].to_vec(),
            band_base,
            band_size,
            first_step,
            steps_contiguous,
        }
    }
}

/// Writes the luma of `plane` (of depth `bpc`) at `out_w` x `out_h` into `out` as 10-bit
/// samples, as libvmaf's `decimate_generic_*_and_convert_to_10b` do.
pub fn to_10bit(plane: &PlaneData, bpc: u8, out: &mut Work, out_w: usize, out_h: usize) {
    let stride = out.stride;
    match plane {
        PlaneData::U8(p) => {
            let shift = 10u32.saturating_sub(u32::from(bpc));
            resample(
                p,
                out_w,
                out_h,
                |v| u16::from(v) << shift,
                stride,
                &mut out.data,
            );
        }
        PlaneData::U16(p) if bpc < 10 => {
            resample(p, out_w, out_h, |v| v << 1, stride, &mut out.data);
        }
        PlaneData::U16(p) => {
            let shift = u32::from(bpc) - 10;
            let round = if shift == 0 { 0 } else { 1u32 << (shift - 1) };
            if bpc == 10 && p.width == out_w && p.height == out_h {
                // libvmaf copies the input's whole rows, padding included, as one block with
                // the input's stride, whatever the output's stride is.
                let in_stride = aligned_stride(p.width);
                for y in 0..p.height {
                    let dst = &mut out.data[y * in_stride..(y + 1) * in_stride];
                    dst[..p.width].copy_from_slice(p.row(y));
                    dst[p.width..].fill(0);
                }
                return;
            }
            resample(
                p,
                out_w,
                out_h,
                |v| ((u32::from(v) + round) >> shift) as u16,
                stride,
                &mut out.data,
            );
        }
    }
}

fn resample<T: crate::picture::Pixel>(
    p: &Plane<T>,
    out_w: usize,
    out_h: usize,
    convert: impl Fn(T) -> u16,
    stride: usize,
    out: &mut [u16],
) {
    if p.width == out_w && p.height == out_h {
        for y in 0..out_h {
            for (o, &v) in out[y * stride..y * stride + out_w].iter_mut().zip(p.row(y)) {
                *o = convert(v);
            }
        }
        return;
    }
    let ratio_x = p.width as f32 / out_w as f32;
    let ratio_y = p.height as f32 / out_h as f32;
    // libvmaf writes these with double constants, so they are rounded through double.
    let start_x = (f64::from(ratio_x) / 2.0 - 0.5) as f32;
    let start_y = (f64::from(ratio_y) / 2.0 - 0.5) as f32;
    let mut y = start_y;
    for i in 0..out_h {
        let src_y = ((f64::from(y) + 0.5) as i32).clamp(0, p.height as i32 - 1) as usize;
        let row = p.row(src_y);
        let mut x = start_x;
        for o in &mut out[i * stride..i * stride + out_w] {
            let src_x = ((f64::from(x) + 0.5) as i32).clamp(0, p.width as i32 - 1) as usize;
            *o = convert(row[src_x]);
            x += ratio_x;
        }
        y += ratio_y;
    }
}

/// Gives a kernel `NAME` a dispatching front taking the [`SimdLevel`] first: the same code
/// compiled for AVX2 when the level allows (integer work only, so the twins agree exactly).
macro_rules! avx2_twin {
    ($(#[$doc:meta])* $name:ident, $avx2:ident, $generic:ident, ($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub fn $name(level: SimdLevel, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if level >= SimdLevel::Avx2 {
                // SAFETY: the caller checked the CPU runs AVX2.
                unsafe { $avx2($($arg),*) };
                return;
            }
            let _ = level;
            $generic($($arg),*);
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn $avx2($($arg: $ty),*) {
            $generic($($arg),*);
        }
    };
}

avx2_twin!(
    /// libvmaf's in-place 2x2 average, used when the encode had fewer than 10 bits.
    anti_dither, anti_dither_avx2, anti_dither_generic,
    (img: &mut Work, width: usize, height: usize, row_copy: &mut Vec<u16>)
);
avx2_twin!(
    /// The flat-area mask; see [`spatial_mask_generic`].
    spatial_mask, spatial_mask_avx2, spatial_mask_generic,
    (img: &Work, mask: &mut Work, w: usize, h: usize, scratch: &mut MaskScratch)
);
avx2_twin!(
    /// `data[i][j] = data[2i][2j]` for the `w` x `h` top-left, in place.
    decimate, decimate_avx2, decimate_generic,
    (img: &mut Work, w: usize, h: usize)
);
avx2_twin!(
    /// The 3x3 mode filter; see [`filter_mode_generic`].
    filter_mode, filter_mode_avx2, filter_mode_generic,
    (img: &mut Work, w: usize, h: usize, buffer: &mut Vec<u16>)
);

/// libvmaf's in-place 2x2 average, used when the encode had fewer than 10 bits. Each output
/// reads samples not yet overwritten, so a copy of the current row gives the same result.
#[inline(always)]
fn anti_dither_generic(img: &mut Work, width: usize, height: usize, row_copy: &mut Vec<u16>) {
    let s = img.stride;
    if width == 0 || height == 0 {
        return;
    }
    row_copy.clear();
    row_copy.resize(width, 0);
    for i in 0..height {
        let (head, tail) = img.data.split_at_mut((i + 1) * s);
        let cur = &mut head[i * s..i * s + width];
        row_copy.copy_from_slice(cur);
        let cur_in = &row_copy[..];
        if i + 1 < height {
            let next = &tail[..width];
            for j in 0..width - 1 {
                let sum = u32::from(cur_in[j])
                    + u32::from(cur_in[j + 1])
                    + u32::from(next[j])
                    + u32::from(next[j + 1]);
                cur[j] = (sum >> 2) as u16;
            }
            let j = width - 1;
            cur[j] = ((u32::from(cur_in[j]) + u32::from(next[j])) >> 1) as u16;
        } else {
            for j in 0..width - 1 {
                cur[j] = ((u32::from(cur_in[j]) + u32::from(cur_in[j + 1])) >> 1) as u16;
            }
        }
    }
}

fn ceil_log2(n: u32) -> i32 {
    if n == 0 {
        0
    } else {
        (32 - (n - 1).leading_zeros()) as i32
    }
}

/// The flat-pixel count above which a pixel is masked in, for a picture of `w` x `h`.
pub fn mask_index(w: usize, h: usize) -> u32 {
    let shifted = ((w >> 6) as u32).wrapping_mul((h >> 6) as u32);
    let f = MASK_FILTER_SIZE as i32;
    ((f * f + 3 * (ceil_log2(shifted) - 11) - 1) >> 1) as u16 as u32
}

/// Scratch of the mask: flatness per pixel and the window sums of one row.
#[derive(Debug, Default, Clone)]
pub struct MaskScratch {
    flat: Vec<u8>,
    column: Vec<u8>,
    padded: Vec<u8>,
}

/// Sets `mask` to 1 where more than [`mask_index`] pixels of the 7x7 square around the pixel
/// (outside the picture counting as not flat) equal their right and lower neighbours (the
/// picture's last column and row counting as equal), else 0.
#[inline(always)]
fn spatial_mask_generic(
    img: &Work,
    mask: &mut Work,
    w: usize,
    h: usize,
    scratch: &mut MaskScratch,
) {
    let s = img.stride;
    let d = &img.data;
    let threshold = mask_index(w, h);
    if w == 0 || h == 0 {
        return;
    }
    // Every entry is written below; growing is the only clearing needed.
    if scratch.flat.len() < w * h {
        scratch.flat.resize(w * h, 0);
    }
    for r in 0..h {
        let row = &d[r * s..r * s + w];
        let out = &mut scratch.flat[r * w..(r + 1) * w];
        if r + 1 < h {
            let below = &d[(r + 1) * s..(r + 1) * s + w];
            for c in 0..w - 1 {
                out[c] = u8::from(row[c] == row[c + 1]) & u8::from(row[c] == below[c]);
            }
            out[w - 1] = u8::from(row[w - 1] == below[w - 1]);
        } else {
            for c in 0..w - 1 {
                out[c] = u8::from(row[c] == row[c + 1]);
            }
            out[w - 1] = 1;
        }
    }
    let pad = MASK_FILTER_SIZE / 2;
    scratch.column.clear();
    scratch.column.resize(w, 0);
    // Zero margins of `pad` on both sides make the horizontal sum a plain 7-tap add.
    scratch.padded.clear();
    scratch.padded.resize(w + 2 * pad, 0);
    // Column sums start with rows 0..pad; row r adds row r + pad and drops r - pad - 1.
    for r in 0..pad.min(h) {
        for (c, f) in scratch
            .column
            .iter_mut()
            .zip(&scratch.flat[r * w..(r + 1) * w])
        {
            *c += *f;
        }
    }
    for r in 0..h {
        if r + pad < h {
            let add = &scratch.flat[(r + pad) * w..(r + pad + 1) * w];
            for (c, f) in scratch.column.iter_mut().zip(add) {
                *c += *f;
            }
        }
        if r > pad {
            let sub = &scratch.flat[(r - pad - 1) * w..(r - pad) * w];
            for (c, f) in scratch.column.iter_mut().zip(sub) {
                *c -= *f;
            }
        }
        scratch.padded[pad..pad + w].copy_from_slice(&scratch.column);
        let p = &scratch.padded[..];
        let out = &mut mask.data[r * mask.stride..r * mask.stride + w];
        for (c, o) in out.iter_mut().enumerate() {
            let sum = u32::from(p[c])
                + u32::from(p[c + 1])
                + u32::from(p[c + 2])
                + u32::from(p[c + 3])
                + u32::from(p[c + 4])
                + u32::from(p[c + 5])
                + u32::from(p[c + 6]);
            *o = u16::from(sum > threshold);
        }
    }
}

/// `data[i][j] = data[2i][2j]` for the `w` x `h` top-left, in place.
#[inline(always)]
fn decimate_generic(img: &mut Work, w: usize, h: usize) {
    let s = img.stride;
    if h == 0 {
        return;
    }
    // Row 0 reads ahead of itself; every later row reads a row below it.
    for j in 0..w {
        img.data[j] = img.data[2 * j];
    }
    for i in 1..h {
        let (head, tail) = img.data.split_at_mut(2 * i * s);
        let dst = &mut head[i * s..i * s + w];
        let src = &tail[..2 * w];
        for (j, d) in dst.iter_mut().enumerate() {
            *d = src[2 * j];
        }
    }
}

#[inline(always)]
fn mode3(a: u16, b: u16, c: u16) -> u16 {
    let min = a.min(b).min(c);
    let r = if b == c { b } else { min };
    if a == b || a == c {
        a
    } else {
        r
    }
}

/// The 3x3 mode filter (row-wise then column-wise mode of three, the minimum when all differ),
/// in place; the outer rows and columns keep their samples through the respective pass.
#[inline(always)]
fn filter_mode_generic(img: &mut Work, w: usize, h: usize, buffer: &mut Vec<u16>) {
    let s = img.stride;
    buffer.clear();
    buffer.resize(3 * w, 0);
    if w == 0 {
        return;
    }
    let mut line = 0;
    for i in 0..h {
        {
            let row = &img.data[i * s..i * s + w];
            let out = &mut buffer[line * w..(line + 1) * w];
            out[0] = row[0];
            if w > 2 {
                for (o, t) in out[1..w - 1].iter_mut().zip(row.windows(3)) {
                    *o = mode3(t[0], t[1], t[2]);
                }
            }
            out[w - 1] = row[w - 1];
        }
        if i > 1 {
            let (b0, rest) = buffer.split_at(w);
            let (b1, b2) = rest.split_at(w);
            let out = &mut img.data[(i - 1) * s..(i - 1) * s + w];
            for (((o, &x), &y), &z) in out.iter_mut().zip(b0).zip(b1).zip(b2) {
                *o = mode3(x, y, z);
            }
        }
        line = if line == 2 { 0 } else { line + 1 };
    }
}

/// Scratch of the c values: the histograms and the c values themselves.
#[derive(Debug, Default, Clone)]
pub struct CScratch {
    /// `band_size` rows of `w` counts (plus spare columns): for luma `base + k`, row `k` column `j` counts the
    /// masked pixels of that luma in the window around column `j` and the current row.
    pub hist: Vec<u16>,
    /// The c values of the current scale, row-major `w` wide.
    pub c: Vec<f32>,
    /// Band rows of the row entering the window.
    enter: Vec<u16>,
    /// Band rows of the row leaving it.
    leave: Vec<u16>,
    /// Band rows of the row whose c values are computed.
    own: Vec<u16>,
}

/// Computes the c values of the `w` x `h` picture `img` under `mask` with a `window` square.
#[allow(clippy::too_many_arguments)]
pub fn c_values(
    level: SimdLevel,
    img: &Work,
    mask: &Work,
    w: usize,
    h: usize,
    window: usize,
    k: &Contrast,
    lut: &[f32],
    scratch: &mut CScratch,
) {
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx2 {
        // SAFETY: the caller checked the CPU runs AVX2.
        unsafe { c_values_avx2(img, mask, w, h, window, k, lut, scratch) };
        return;
    }
    let _ = level;
    c_values_generic(img, mask, w, h, window, k, lut, scratch);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn c_values_avx2(
    img: &Work,
    mask: &Work,
    w: usize,
    h: usize,
    window: usize,
    k: &Contrast,
    lut: &[f32],
    scratch: &mut CScratch,
) {
    c_values_generic(img, mask, w, h, window, k, lut, scratch);
}

/// Marks a pixel that adds nothing to the histograms (masked out or outside the band).
const NONE: u16 = u16::MAX;

/// Per column of one row: the histogram row of the pixel's luma, or [`NONE`].
#[inline(always)]
fn band_rows(img: &[u16], mask: &[u16], base: u16, size: u16, out: &mut [u16]) {
    for ((o, &v), &m) in out.iter_mut().zip(img).zip(mask) {
        let k = v.wrapping_sub(base);
        *o = if (m != 0) & (k < size) { k } else { NONE };
    }
}

/// How one histogram update adds: the window's span and, for an unclipped span, the
/// increments padded with zeros to whole 16-lane chunks so the loop vectorises without a
/// scalar tail (histogram rows carry that many spare columns).
struct Bumper {
    pad: usize,
    w: usize,
    stride: usize,
    plus: Vec<u16>,
    minus: Vec<u16>,
}

impl Bumper {
    fn new(pad: usize, w: usize) -> Self {
        let span = 2 * pad + 1;
        let chunked = span.div_ceil(16) * 16;
        let make = |d: u16| (0..chunked).map(|i| if i < span { d } else { 0 }).collect();
        Bumper {
            pad,
            w,
            stride: w + chunked,
            plus: make(1),
            minus: make(u16::MAX),
        }
    }

    /// Adds 1 (or removes 1) to the columns `j - pad ..= j + pad` (clipped) of row `k`.
    #[inline(always)]
    fn bump(&self, hist: &mut [u16], k: u16, j: usize, add: bool) {
        let start = k as usize * self.stride;
        if j >= self.pad && j + self.pad < self.w {
            let deltas = if add { &self.plus } else { &self.minus };
            let row = &mut hist[start + j - self.pad..start + j - self.pad + deltas.len()];
            for (r, d) in row.chunks_exact_mut(16).zip(deltas.chunks_exact(16)) {
                for (v, &dv) in r.iter_mut().zip(d) {
                    *v = v.wrapping_add(dv);
                }
            }
        } else {
            let left = j.saturating_sub(self.pad);
            let right = (j + self.pad + 1).min(self.w);
            let delta = if add { 1 } else { u16::MAX };
            for v in &mut hist[start + left..start + right] {
                *v = v.wrapping_add(delta);
            }
        }
    }

    /// Adds 1 (or removes 1) for each pixel `j0 ..= j1` of row `k` at once: column `x` gains
    /// the number of those pixels within `pad` of it.
    #[inline(always)]
    fn run(&self, hist: &mut [u16], k: u16, j0: usize, j1: usize, add: bool) {
        let start = k as usize * self.stride;
        let lo = j0.saturating_sub(self.pad);
        let hi = (j1 + self.pad + 1).min(self.w);
        let (pad, j0, j1) = (self.pad as i32, j0 as i32, j1 as i32);
        for (x, v) in (lo as i32..).zip(&mut hist[start + lo..start + hi]) {
            let n = (j1.min(x + pad) - j0.max(x - pad) + 1) as u16;
            *v = if add {
                v.wrapping_add(n)
            } else {
                v.wrapping_sub(n)
            };
        }
    }

    /// Adds (or removes) the pixels of one row's band rows ([`NONE`] for none). Runs of one
    /// luma go in one pass; stretches of 16 empty columns are skipped at once.
    #[inline(always)]
    fn rows(&self, hist: &mut [u16], rows: &[u16], add: bool) {
        /// Shortest run worth one pass rather than a window per pixel.
        const RUN: usize = 3;
        let w = rows.len();
        let mut j = 0;
        while j < w {
            if j + 16 <= w && rows[j..j + 16].iter().fold(NONE, |a, &k| a & k) == NONE {
                j += 16;
                continue;
            }
            let k = rows[j];
            if k == NONE {
                j += 1;
                continue;
            }
            let mut e = j + 1;
            while e < w && rows[e] == k {
                e += 1;
            }
            if e - j >= RUN {
                self.run(hist, k, j, e - 1, add);
            } else {
                for jj in j..e {
                    self.bump(hist, k, jj, add);
                }
            }
            j = e;
        }
    }
}

/// Drops the pixels that leave and enter the window in the same column with the same luma:
/// they cancel out (the counts are exact modulo 2^16, so order and grouping are free).
#[inline(always)]
fn cancel(leave: &mut [u16], enter: &mut [u16]) {
    for (l, e) in leave.iter_mut().zip(enter.iter_mut()) {
        let same = *l == *e;
        *l = if same { NONE } else { *l };
        *e = if same { NONE } else { *e };
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn c_values_generic(
    img: &Work,
    mask: &Work,
    w: usize,
    h: usize,
    window: usize,
    k: &Contrast,
    lut: &[f32],
    scratch: &mut CScratch,
) {
    let pad = window / 2;
    let s = img.stride;
    let ms = mask.stride;
    let base = k.band_base;
    let size = usize::from(k.band_size);
    let CScratch {
        hist,
        c,
        enter,
        leave,
        own,
    } = scratch;
    let bumper = Bumper::new(pad, w);
    let hs = bumper.stride;
    // The histograms are all zero between calls: each call removes what it added.
    if hist.len() < hs * size {
        hist.resize(hs * size, 0);
    }
    // Every row is written; libvmaf may compute the row just below the picture, whose
    // values are never pooled.
    if c.len() < w * (h.max(pad) + 1) {
        c.resize(w * (h.max(pad) + 1), 0.0);
    }
    enter.clear();
    enter.resize(w, NONE);
    leave.clear();
    leave.resize(w, NONE);
    own.clear();
    own.resize(w, NONE);
    let rows_of = |r: usize, out: &mut [u16]| {
        band_rows(
            &img.data[r * s..r * s + w],
            &mask.data[r * ms..r * ms + w],
            base,
            k.band_size,
            out,
        )
    };

    // The window of row i spans rows i - pad ..= i + pad, clipped to the picture, as
    // libvmaf's add-first-rows, slide, remove-last-rows loops leave it.
    for r in 0..pad {
        rows_of(r, enter);
        bumper.rows(hist, enter, true);
    }
    for i in 0..=pad {
        if i + pad < h {
            rows_of(i + pad, enter);
            bumper.rows(hist, enter, true);
        }
        rows_of(i, own);
        c_row(own, i, hist, hs, w, k, lut, c);
    }
    for i in pad + 1..h.saturating_sub(pad) {
        rows_of(i - pad - 1, leave);
        rows_of(i + pad, enter);
        cancel(leave, enter);
        bumper.rows(hist, leave, false);
        bumper.rows(hist, enter, true);
        rows_of(i, own);
        c_row(own, i, hist, hs, w, k, lut, c);
    }
    for i in h.saturating_sub(pad)..h {
        if i > pad {
            rows_of(i - pad - 1, leave);
            bumper.rows(hist, leave, false);
        }
        rows_of(i, own);
        c_row(own, i, hist, hs, w, k, lut, c);
    }
    // Rows 0 ..= h - pad - 2 have left the window; remove the rest.
    for r in (h + 1).saturating_sub(pad + 2)..h {
        rows_of(r, leave);
        bumper.rows(hist, leave, false);
    }
    debug_assert!(hist.iter().all(|&v| v == 0), "histograms left non-zero");
}

/// The c values of row `r`: for each masked pixel of in-band luma `v` (band row `k` in
/// `own`), the largest over the visible steps `d` of `weight[d] * p0 * p / (p0 + p)`, `p0`
/// counting luma `v` in the window and `p` the larger count of `v + d + 1` and `v - d - 1`;
/// 0 elsewhere.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn c_row(
    own: &[u16],
    r: usize,
    hist: &[u16],
    hs: usize,
    w: usize,
    k: &Contrast,
    lut: &[f32],
    c: &mut [f32],
) {
    let out = &mut c[r * w..(r + 1) * w];
    out.fill(0.0);
    let nd = k.num_diffs;
    let offset = i32::from(k.band_base) + nd as i32;
    let at = |idx: i32, col: usize| -> u16 {
        if idx < 0 {
            return 0;
        }
        hist.get(idx as usize * hs + col).copied().unwrap_or(0)
    };
    let mut col = 0;
    while col < w {
        if col + 16 <= w && own[col..col + 16].iter().fold(NONE, |a, &k| a & k) == NONE {
            col += 16;
            continue;
        }
        let band = own[col];
        if band == NONE {
            col += 1;
            continue;
        }
        let compact = i32::from(band);
        let value = compact + offset;
        let p0 = at(compact, col);
        let mut best = 0.0f32;
        let mut consider = |d: usize| {
            let step = d as i32 + 1;
            let p1 = at(compact + step, col);
            let p2 = at(compact - step, col);
            let p = p1.max(p2);
            let num = k.weights[d]
                .wrapping_mul(i32::from(p0))
                .wrapping_mul(i32::from(p));
            let r = lut
                .get(usize::from(p) + usize::from(p0))
                .copied()
                .unwrap_or(0.0);
            let val = num as f32 * r;
            if val > best {
                best = val;
            }
        };
        if k.steps_contiguous {
            let first = usize::from(k.first_step[usize::from(band)]);
            for d in first..nd {
                consider(d);
            }
        } else {
            for d in 0..nd {
                let step = d as i32 + 1;
                if value <= i32::from(k.tvi[d]) && value + step > i32::from(k.vlt) {
                    consider(d);
                }
            }
        }
        out[col] = best;
        col += 1;
    }
}

/// libvmaf's quickselect: reorders `arr` so its first `k` entries are its `k` largest (in
/// libvmaf's exact arrangement, which fixes the order of the pooled sum).
fn quick_select(arr: &mut [f32], k: usize) {
    let n = arr.len();
    if n == k || n == 0 {
        return;
    }
    let k = k as isize;
    let mut left: isize = 0;
    let mut right: isize = n as isize - 1;
    while left < right {
        let pivot = arr[k as usize];
        let mut i = left;
        let mut j = right;
        loop {
            while arr[i as usize] > pivot {
                i += 1;
            }
            while arr[j as usize] < pivot {
                j -= 1;
            }
            if i <= j {
                arr.swap(i as usize, j as usize);
                i += 1;
                j -= 1;
            }
            if i > j {
                break;
            }
        }
        if j < k {
            left = i;
        }
        if k < i {
            right = j;
        }
    }
}

/// Mean of the `topk` share of largest c values (at least one), as libvmaf computes it:
/// quickselect, then a double sum of the first `k` entries in the order it leaves them.
pub fn spatial_pooling(
    level: SimdLevel,
    c: &mut [f32],
    topk: f64,
    scratch: &mut PoolScratch,
) -> f64 {
    let n = c.len();
    if n == 0 {
        return 0.0;
    }
    let count = ((topk * n as f64) as i32).clamp(1, n as i32) as usize;
    #[cfg(target_arch = "x86_64")]
    let exact = if level >= SimdLevel::Avx2 {
        // SAFETY: the caller checked the CPU runs AVX2.
        unsafe { exact_top_mean_avx2(c, count, scratch) }
    } else {
        exact_top_mean(c, count, scratch)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let exact = {
        let _ = level;
        exact_top_mean(c, count, scratch)
    };
    if let Some(mean) = exact {
        return mean;
    }
    quick_select_mean(c, count)
}

/// libvmaf's own pooling: quickselect, then the double sum in the order it leaves.
pub(crate) fn quick_select_mean(c: &mut [f32], count: usize) -> f64 {
    quick_select(c, count);
    let mut sum = 0.0f64;
    for &v in &c[..count] {
        sum += f64::from(v);
    }
    sum / count as f64
}

/// Histograms of the float bits for [`exact_top_mean`].
#[derive(Debug, Clone)]
pub struct PoolScratch {
    high: Vec<u32>,
    low: Vec<u32>,
}

impl Default for PoolScratch {
    fn default() -> Self {
        PoolScratch {
            high: vec![0; 1 << 16],
            low: vec![0; 1 << 16],
        }
    }
}

/// The mean of the `count` largest values when libvmaf's sum of them cannot have rounded:
/// every non-zero c value is at least 0.5 (the pixel and at least one neighbour share its
/// window), so a whole number of 2^-24 units, and when their total stays below 2^29 (2^53
/// units) every partial sum in any order is exact and the order quickselect leaves is
/// immaterial. Finds the `count`-th largest value by a two-level radix count of the (ordered,
/// non-negative) float bits. `None` when the premise fails.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn exact_top_mean_avx2(c: &[f32], count: usize, scratch: &mut PoolScratch) -> Option<f64> {
    exact_top_mean(c, count, scratch)
}

#[inline(always)]
fn exact_top_mean(c: &[f32], count: usize, scratch: &mut PoolScratch) -> Option<f64> {
    // One branch-free pass: validity and the number of non-zero values.
    let mut bad = false;
    let mut nonzero = 0usize;
    for &v in c {
        let bits = v.to_bits();
        bad |= bits != 0 && !(v >= 0.5 && bits < 0x7f80_0000);
        nonzero += usize::from(bits != 0);
    }
    if bad {
        return None;
    }
    let (threshold, above) = if nonzero <= count {
        // The zeros fill the rest: the sum is that of every value.
        (0u32, nonzero)
    } else {
        kth_largest_bits(c, count, scratch)
    };
    let sum = sum_above(c, threshold);
    let ties = f64::from(f32::from_bits(threshold)) * (count - above) as f64;
    // Below 2^29 every value, partial sum and tie product is a whole number of 2^-24 units
    // under 2^53, exact in f64; rounding to nearest is monotone, so a computed result under
    // 2^29 means no step ever reached it, and none rounded.
    const EXACT_LIMIT: f64 = 536_870_912.0;
    if sum >= EXACT_LIMIT || ties >= EXACT_LIMIT || sum + ties >= EXACT_LIMIT {
        return None;
    }
    Some((sum + ties) / count as f64)
}

/// Sum of the values whose bits exceed `threshold`, in eight interleaved f64 lanes (exact
/// under [`exact_top_mean`]'s premise, so the order is free).
#[inline(always)]
fn sum_above(c: &[f32], threshold: u32) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut chunks = c.chunks_exact(8);
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += if v.to_bits() > threshold {
                f64::from(v)
            } else {
                0.0
            };
        }
    }
    for &v in chunks.remainder() {
        acc[0] += if v.to_bits() > threshold {
            f64::from(v)
        } else {
            0.0
        };
    }
    acc.iter().sum()
}

/// The bits of the `count`-th largest of the non-negative values `c`, more than `count` of
/// which are non-zero, and how many values are larger.
fn kth_largest_bits(c: &[f32], count: usize, scratch: &mut PoolScratch) -> (u32, usize) {
    let high = &mut scratch.high;
    high.fill(0);
    for &v in c {
        let bits = v.to_bits();
        if bits != 0 {
            high[(bits >> 16) as usize] += 1;
        }
    }
    let mut above = 0usize;
    let mut bucket = 0usize;
    for b in (1..high.len()).rev() {
        let n = high[b] as usize;
        if above + n >= count {
            bucket = b;
            break;
        }
        above += n;
    }
    let low = &mut scratch.low;
    low.fill(0);
    for &v in c {
        let bits = v.to_bits();
        if (bits >> 16) as usize == bucket {
            low[(bits & 0xffff) as usize] += 1;
        }
    }
    for l in (0..low.len()).rev() {
        let n = low[l] as usize;
        if above + n >= count {
            return (((bucket as u32) << 16) | l as u32, above);
        }
        above += n;
    }
    (0, above)
}

/// The per-scale scores' weighted sum over the window's pixel count.
pub fn weight_scores(scores: &[f64; NUM_SCALES], window: usize) -> f64 {
    let mut score = 0.0;
    for (s, w) in scores.iter().zip(SCALE_WEIGHTS) {
        score += s * w;
    }
    let odd = 2 * (window / 2) + 1;
    score / f64::from((odd * odd) as u16)
}

/// The 10-bit picture sizes of the scales: halved (rounding up) at each scale after the
/// first, and at the first too with the high-resolution speed-up.
pub fn scale_sizes(w: usize, h: usize, speedup: bool) -> [(usize, usize); NUM_SCALES] {
    let mut out = [(0, 0); NUM_SCALES];
    let (mut sw, mut sh) = (w, h);
    for (scale, o) in out.iter_mut().enumerate() {
        if scale > 0 || speedup {
            sw = sw.div_ceil(2);
            sh = sh.div_ceil(2);
        }
        *o = (sw, sh);
    }
    out
}
