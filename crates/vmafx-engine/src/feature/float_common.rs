//! Pieces shared by libvmaf's float extractors (`float_vif`, `float_adm`, `float_motion`): the
//! conversion of a plane to floats centred on zero, the mirrored separable convolution and the
//! frame re-sampling methods, each with libvmaf's order of operations and f32/f64 mix.
//!
//! The convolution row kernels are written once and compiled three times (portable, AVX2,
//! AVX-512) through `#[target_feature]` wrappers. Every output sample is its own chain of
//! multiply-then-add in tap order, the lanes of a vector never meet, and Rust never contracts a
//! multiply and an add into an FMA, so the three builds give the same bits.

#[cfg(test)]
pub(crate) mod testkit;

use crate::cpu::SimdLevel;
use crate::picture::PlaneData;
use crate::EngineError;

/// Checks the depth is one libvmaf's float conversion handles (8, 10, 12, 16).
pub(crate) fn check_depth(owner: &str, bit_depth: u8) -> Result<(), EngineError> {
    crate::feature::ssim::check_depth(owner, bit_depth)
}

/// libvmaf's `picture_copy` with offset -128: samples as floats, deeper ones divided down to
/// the 8-bit range first. Fills `out` with `width * height` values, rows packed.
pub(crate) fn plane_to_float(plane: &PlaneData, bit_depth: u8, out: &mut Vec<f32>) {
    out.clear();
    match plane {
        PlaneData::U8(p) => {
            out.reserve(p.width * p.height);
            for y in 0..p.height {
                out.extend(p.row(y).iter().map(|&v| f32::from(v) + -128.0));
            }
        }
        PlaneData::U16(p) => {
            let scaler: f32 = match bit_depth {
                10 => 4.0,
                12 => 16.0,
                _ => 256.0,
            };
            out.reserve(p.width * p.height);
            for y in 0..p.height {
                out.extend(p.row(y).iter().map(|&v| f32::from(v) / scaler + -128.0));
            }
        }
    }
}

/// libvmaf's mirroring of a tap index `i` into `0..n` (`-i` below, `2n - i - 2` above), kept
/// inside the plane where libvmaf would read outside it (pictures smaller than the filter).
#[inline]
pub(crate) fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let m = if i < 0 {
        -i
    } else if i >= n {
        2 * n - i - 2
    } else {
        i
    };
    m.clamp(0, (n - 1).max(0)) as usize
}

/// Copies `row` into `padded` with `radius` mirrored samples on each side, so the horizontal
/// pass reads every tap at a plain offset.
pub(crate) fn pad_row(row: &[f32], radius: usize, padded: &mut Vec<f32>) {
    let n = row.len();
    padded.clear();
    padded.extend((0..radius).map(|m| row[reflect(m as isize - radius as isize, n)]));
    padded.extend_from_slice(row);
    padded.extend((0..radius).map(|m| row[reflect((n + m) as isize, n)]));
}

/// The source rows the vertical pass of output row `i` reads (mirrored at the edges).
pub(crate) fn tap_rows<'a>(
    plane: &'a [f32],
    width: usize,
    height: usize,
    i: usize,
    taps: usize,
    rows: &mut Vec<&'a [f32]>,
) {
    rows.clear();
    let radius = (taps / 2) as isize;
    for k in 0..taps {
        let r = reflect(i as isize - radius + k as isize, height);
        rows.push(&plane[r * width..r * width + width]);
    }
}

/// Output samples computed together, their sums held in registers across the taps.
const BLOCK: usize = 32;

#[inline(always)]
fn vertical_body(f: &[f32], a: &[&[f32]], out: &mut [f32]) {
    let n = out.len();
    let mut j = 0;
    while j + BLOCK <= n {
        let mut acc = [0f32; BLOCK];
        for (k, &c) in f.iter().enumerate() {
            let ra = &a[k][j..j + BLOCK];
            for l in 0..BLOCK {
                acc[l] += c * ra[l];
            }
        }
        out[j..j + BLOCK].copy_from_slice(&acc);
        j += BLOCK;
    }
    for (jj, o) in out.iter_mut().enumerate().skip(j) {
        let mut acc: f32 = 0.0;
        for (k, &c) in f.iter().enumerate() {
            acc += c * a[k][jj];
        }
        *o = acc;
    }
}

/// Columns the five-moment vertical pass computes together.
const BLOCK5: usize = 16;

/// The vertical pass of all five VIF moments at once (`a`, `b`, `a²`, `b²`, `a·b`), each
/// sample summed from zero in tap order as [`vertical`] does it; every source sample is loaded
/// once instead of once per moment.
#[inline(always)]
fn vertical5_body(f: &[f32], a: &[&[f32]], b: &[&[f32]], out: [&mut [f32]; 5]) {
    let [o0, o1, o2, o3, o4] = out;
    let n = o0.len();
    let (o1, o2, o3, o4) = (&mut o1[..n], &mut o2[..n], &mut o3[..n], &mut o4[..n]);
    let mut j = 0;
    while j + BLOCK5 <= n {
        let mut acc = [[0f32; BLOCK5]; 5];
        for (k, &c) in f.iter().enumerate() {
            let ra = &a[k][j..j + BLOCK5];
            let rb = &b[k][j..j + BLOCK5];
            for l in 0..BLOCK5 {
                let (x, y) = (ra[l], rb[l]);
                acc[0][l] += c * x;
                acc[1][l] += c * y;
                acc[2][l] += c * (x * x);
                acc[3][l] += c * (y * y);
                acc[4][l] += c * (x * y);
            }
        }
        o0[j..j + BLOCK5].copy_from_slice(&acc[0]);
        o1[j..j + BLOCK5].copy_from_slice(&acc[1]);
        o2[j..j + BLOCK5].copy_from_slice(&acc[2]);
        o3[j..j + BLOCK5].copy_from_slice(&acc[3]);
        o4[j..j + BLOCK5].copy_from_slice(&acc[4]);
        j += BLOCK5;
    }
    for jj in j..n {
        let mut acc = [0f32; 5];
        for (k, &c) in f.iter().enumerate() {
            let (x, y) = (a[k][jj], b[k][jj]);
            acc[0] += c * x;
            acc[1] += c * y;
            acc[2] += c * (x * x);
            acc[3] += c * (y * y);
            acc[4] += c * (x * y);
        }
        o0[jj] = acc[0];
        o1[jj] = acc[1];
        o2[jj] = acc[2];
        o3[jj] = acc[3];
        o4[jj] = acc[4];
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn vertical5_avx2(f: &[f32], a: &[&[f32]], b: &[&[f32]], out: [&mut [f32]; 5]) {
    vertical5_body(f, a, b, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2")]
fn vertical5_avx512(f: &[f32], a: &[&[f32]], b: &[&[f32]], out: [&mut [f32]; 5]) {
    vertical5_body(f, a, b, out)
}

/// One output row of the vertical pass of the five VIF moments of source rows `a` and `b`.
pub(crate) fn vertical5(
    level: SimdLevel,
    f: &[f32],
    a: &[&[f32]],
    b: &[&[f32]],
    out: [&mut [f32]; 5],
) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the extractor's constructor checked the CPU has the level.
        SimdLevel::Avx512 => unsafe { vertical5_avx512(f, a, b, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        SimdLevel::Avx2 => unsafe { vertical5_avx2(f, a, b, out) },
        _ => vertical5_body(f, a, b, out),
    }
}

#[inline(always)]
fn horizontal_body(f: &[f32], padded: &[f32], out: &mut [f32]) {
    let n = out.len();
    let mut j = 0;
    while j + BLOCK <= n {
        let mut acc = [0f32; BLOCK];
        for (k, &c) in f.iter().enumerate() {
            let r = &padded[j + k..j + k + BLOCK];
            for l in 0..BLOCK {
                acc[l] += c * r[l];
            }
        }
        out[j..j + BLOCK].copy_from_slice(&acc);
        j += BLOCK;
    }
    for (jj, o) in out.iter_mut().enumerate().skip(j) {
        let mut acc: f32 = 0.0;
        for (k, &c) in f.iter().enumerate() {
            acc += c * padded[jj + k];
        }
        *o = acc;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn vertical_avx2(f: &[f32], a: &[&[f32]], out: &mut [f32]) {
    vertical_body(f, a, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2")]
fn vertical_avx512(f: &[f32], a: &[&[f32]], out: &mut [f32]) {
    vertical_body(f, a, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn horizontal_avx2(f: &[f32], padded: &[f32], out: &mut [f32]) {
    horizontal_body(f, padded, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2")]
fn horizontal_avx512(f: &[f32], padded: &[f32], out: &mut [f32]) {
    horizontal_body(f, padded, out)
}

/// One output row of the vertical pass: `out[j] = sum_k f[k] * a[k][j]`, summed from zero in
/// tap order.
pub(crate) fn vertical(level: SimdLevel, f: &[f32], a: &[&[f32]], out: &mut [f32]) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the extractor's constructor checked the CPU has the level.
        SimdLevel::Avx512 => unsafe { vertical_avx512(f, a, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        SimdLevel::Avx2 => unsafe { vertical_avx2(f, a, out) },
        _ => vertical_body(f, a, out),
    }
}

/// One output row of the horizontal pass over a row padded by [`pad_row`].
pub(crate) fn horizontal(level: SimdLevel, f: &[f32], padded: &[f32], out: &mut [f32]) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the extractor's constructor checked the CPU has the level.
        SimdLevel::Avx512 => unsafe { horizontal_avx512(f, padded, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        SimdLevel::Avx2 => unsafe { horizontal_avx2(f, padded, out) },
        _ => horizontal_body(f, padded, out),
    }
}

/// Scratch rows of [`convolve`].
#[derive(Debug, Default)]
pub(crate) struct ConvScratch {
    tmp: Vec<f32>,
    padded: Vec<f32>,
}

/// libvmaf's separable mirrored convolution of a whole plane (vertical pass, then horizontal),
/// as `convolution_f32_c_s` and `vif_filter1d_s` compute it.
pub(crate) fn convolve(
    level: SimdLevel,
    f: &[f32],
    src: &[f32],
    width: usize,
    height: usize,
    dst: &mut Vec<f32>,
    scratch: &mut ConvScratch,
) {
    // Every sample is written below; only a size change needs the buffer touched here.
    dst.resize(width * height, 0.0);
    scratch.tmp.resize(width, 0.0);
    let mut rows = Vec::with_capacity(f.len());
    for i in 0..height {
        tap_rows(src, width, height, i, f.len(), &mut rows);
        vertical(level, f, &rows, &mut scratch.tmp);
        pad_row(&scratch.tmp, f.len() / 2, &mut scratch.padded);
        horizontal(
            level,
            f,
            &scratch.padded,
            &mut dst[i * width..(i + 1) * width],
        );
    }
}

/// libvmaf's frame re-sampling methods (`vif_prescale_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScaleMethod {
    Nearest,
    Bilinear,
    Bicubic,
    Lanczos4,
}

impl ScaleMethod {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "nearest" => Some(ScaleMethod::Nearest),
            "bilinear" => Some(ScaleMethod::Bilinear),
            "bicubic" => Some(ScaleMethod::Bicubic),
            "lanczos4" => Some(ScaleMethod::Lanczos4),
            _ => None,
        }
    }
}

/// libvmaf's `mirror` on float coordinates.
#[inline]
fn mirror_f(i: f32, left: f32, right: f32) -> f32 {
    if i < left {
        -i
    } else if i > right {
        2.0 * right - i
    } else {
        i
    }
}

/// A float coordinate turned into a sample index as C's `(int)` conversion does, then kept
/// inside `0..n` where libvmaf would read outside the plane.
#[inline]
fn index(v: f32, n: usize) -> usize {
    (v as i32).clamp(0, n as i32 - 1) as usize
}

fn bicubic_kernel(t: f32) -> f32 {
    let a: f32 = -0.75;
    let t = if t < 0.0 { -t } else { t };
    if t < 1.0 {
        return ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
    }
    if t < 2.0 {
        return (((t - 5.0) * t + 8.0) * t - 4.0) * a;
    }
    0.0
}

fn lanczos4_kernel(x: f32, a: f32) -> f32 {
    if f64::from(x) == 0.0 {
        return 1.0;
    }
    if x > -a && x < a {
        let pi = std::f64::consts::PI;
        let xd = f64::from(x);
        return (f64::from(a) * (pi * xd).sin() * (pi * xd / f64::from(a)).sin()
            / (pi * pi * xd * xd)) as f32;
    }
    0.0
}

/// Re-samples `src` (`sw` x `sh`, rows `stride` apart) to `dw` x `dh` (packed) with `method`,
/// as libvmaf's `vif_scale_frame_s` does (a plain copy when the sizes agree).
#[allow(clippy::too_many_arguments)]
pub(crate) fn scale_frame(
    method: ScaleMethod,
    src: &[f32],
    stride: usize,
    sw: usize,
    sh: usize,
    dw: usize,
    dh: usize,
    dst: &mut Vec<f32>,
) {
    dst.clear();
    if sw == dw && sh == dh {
        for y in 0..sh {
            dst.extend_from_slice(&src[y * stride..y * stride + sw]);
        }
        return;
    }
    dst.reserve(dw * dh);
    let ratio_x = sw as f32 / dw as f32;
    let ratio_y = sh as f32 / dh as f32;
    let at = |x: usize, y: usize| src.get(y * stride + x).copied().unwrap_or(0.0);
    let (right, bottom) = ((sw as i32 - 1) as f32, (sh as i32 - 1) as f32);
    for y in 0..dh {
        let yy = ((y as f64 + 0.5) * f64::from(ratio_y) - 0.5) as f32;
        for x in 0..dw {
            let xx = ((x as f64 + 0.5) * f64::from(ratio_x) - 0.5) as f32;
            let v = match method {
                ScaleMethod::Nearest => {
                    let ry = index(y as f32 * ratio_y, sh);
                    let rx = index(x as f32 * ratio_x, sw);
                    at(rx, ry)
                }
                ScaleMethod::Bilinear => {
                    let x1 = index(mirror_f(f64::from(xx).floor() as f32, 0.0, right), sw);
                    let x2 = index(mirror_f(f64::from(xx).ceil() as f32, 0.0, right), sw);
                    let y1 = index(mirror_f(f64::from(yy).floor() as f32, 0.0, bottom), sh);
                    let y2 = index(mirror_f(f64::from(yy).ceil() as f32, 0.0, bottom), sh);
                    let dx = xx - x1 as i32 as f32;
                    let dy = yy - y1 as i32 as f32;
                    (1.0 - dy) * (1.0 - dx) * at(x1, y1)
                        + (1.0 - dy) * dx * at(x2, y1)
                        + dy * (1.0 - dx) * at(x1, y2)
                        + dy * dx * at(x2, y2)
                }
                ScaleMethod::Bicubic => {
                    let x0 = f64::from(xx).floor() as i32;
                    let y0 = f64::from(yy).floor() as i32;
                    let dx = xx - x0 as f32;
                    let dy = yy - y0 as f32;
                    let mut wx = [0f32; 4];
                    let mut wy = [0f32; 4];
                    for i in -1i32..=2 {
                        wx[(i + 1) as usize] = bicubic_kernel(i as f32 - dx);
                        wy[(i + 1) as usize] = bicubic_kernel(i as f32 - dy);
                    }
                    let mut acc: f32 = 0.0;
                    for j in -1i32..=2 {
                        for i in -1i32..=2 {
                            let xi = index(mirror_f((x0 + i) as f32, 0.0, right), sw);
                            let yi = index(mirror_f((y0 + j) as f32, 0.0, bottom), sh);
                            let weight = wx[(i + 1) as usize] * wy[(j + 1) as usize];
                            acc += at(xi, yi) * weight;
                        }
                    }
                    acc
                }
                ScaleMethod::Lanczos4 => {
                    let a = 4i32;
                    let x0 = f64::from(xx).floor() as i32;
                    let y0 = f64::from(yy).floor() as i32;
                    let dx = xx - x0 as f32;
                    let dy = yy - y0 as f32;
                    let mut wx = [0f32; 9];
                    let mut wy = [0f32; 9];
                    for i in -a..=a {
                        wx[(i + a) as usize] = lanczos4_kernel(i as f32 - dx, a as f32);
                        wy[(i + a) as usize] = lanczos4_kernel(i as f32 - dy, a as f32);
                    }
                    let mut value: f32 = 0.0;
                    let mut weight_sum: f32 = 0.0;
                    for iy in -a..=a {
                        for ix in -a..=a {
                            let weight = wx[(ix + a) as usize] * wy[(iy + a) as usize];
                            weight_sum += weight;
                            let xi = index(mirror_f((x0 + ix) as f32, 0.0, right), sw);
                            let yi = index(mirror_f((y0 + iy) as f32, 0.0, bottom), sh);
                            value += at(xi, yi) * weight;
                        }
                    }
                    value / weight_sum
                }
            };
            dst.push(v);
        }
    }
}
