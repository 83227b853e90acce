//! SpEED's per-picture computation, as libvmaf v3.2.0's `speed.c` and the `vif_tools.c`
//! helpers it calls: optional prescaling, a Gaussian anti-alias blur sampled every 16th
//! sample, a local-mean subtraction, and the block entropy and variance estimates (GSM model
//! with 5x5 blocks) whose weighted differences give the score.
//!
//! libvmaf blurs the whole (prescaled) picture and then keeps every 16th sample of every 16th
//! row; only those samples are computed here, each by the same separable sum (vertical taps
//! first, in order, then horizontal), which is what makes this faster than libvmaf while
//! identical. Likewise only the prescaled rows those taps read are interpolated. Its AVX
//! convolution path uses separate multiplies and adds, so it equals the scalar loop.

use std::f64::consts::{E, PI};

use crate::cpu::SimdLevel;

use super::cov::{cov_sum, Windows};
use super::linalg::{eigenvalues, solve, SolveScratch, EPS};

/// Side of the square blocks of the GSM model.
const BLOCK: usize = 5;
/// Coefficients per block.
const BLOCK_ELEMS: usize = BLOCK * BLOCK;
/// The blur is decimated by `1 << SCALES`.
const SCALES: u32 = 4;

/// The kernel scales libvmaf accepts (stored as floats), matched within 1e-3.
const VALID_KERNELSCALES: [f32; 21] = [
    1.0,
    1.0 / 2.0,
    3.0 / 2.0,
    2.0,
    2.0 / 3.0,
    24.0 / 10.0,
    360.0 / 97.0,
    4.0 / 3.0,
    3.5 / 3.0,
    3.75 / 3.0,
    4.25 / 3.0,
    5.0 / 3.0,
    3.0,
    1.0 / 2.25,
    1.4746,
    1.54,
    1.6,
    1.06667,
    0.711111,
    0.740740,
    1.111111,
];

/// Whether libvmaf accepts `ks` (compared as a float).
pub(crate) fn valid_kernelscale(ks: f32) -> bool {
    VALID_KERNELSCALES
        .iter()
        .any(|&v| f64::from((ks - v).abs()) < 1e-3)
}

/// libvmaf's prescaling interpolations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScaleMethod {
    Nearest,
    Bilinear,
    Bicubic,
    Lanczos4,
}

impl ScaleMethod {
    /// Parses libvmaf's method names.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name {
            "nearest" => Some(ScaleMethod::Nearest),
            "bilinear" => Some(ScaleMethod::Bilinear),
            "bicubic" => Some(ScaleMethod::Bicubic),
            "lanczos4" => Some(ScaleMethod::Lanczos4),
            _ => None,
        }
    }
}

/// Options that reach the computation, in the types libvmaf passes them down in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    pub kernelscale: f32,
    pub prescale: f64,
    pub method: ScaleMethod,
    pub sigma_nn: f32,
    pub nn_floor: f32,
    pub weight_var_mode: i32,
}

/// `ceil(f)`, made odd by adding one.
fn round_up_to_odd(f: f32) -> usize {
    let c = f64::from(f).ceil() as i64;
    let c = if c % 2 == 0 { c + 1 } else { c };
    c.max(0) as usize
}

/// Taps of libvmaf's Gaussian for `scale` (0..=4) at kernel scale `ks`.
fn filter_size(scale: u32, ks: f32) -> usize {
    let n = ((1u32 << (4 - scale)) + 1) as f32;
    round_up_to_odd(n * ks).max(3)
}

fn gaussian_pdf(x: f32, stdev: f32) -> f32 {
    let d = f64::from(x - 0.0);
    let s = f64::from(stdev);
    let num = (-0.5 * d / s * d / s).exp() as f32;
    let den = (1.0 / (s * (2.0 * PI).sqrt())) as f32;
    num / den
}

fn gaussian_kernel(size: usize, stdev: f32) -> Vec<f32> {
    let k = (size as i32 - 1) / 2;
    let mut out: Vec<f32> = (0..size as i32)
        .map(|i| gaussian_pdf((i - k) as f32, stdev))
        .collect();
    let mut sum = 0.0f32;
    for &v in &out {
        sum += v;
    }
    for v in &mut out {
        *v /= sum;
    }
    out
}

/// The blur applied after decimation (libvmaf's `vif_get_filter` at scale 4).
pub(crate) fn local_mean_filter(ks: f32) -> Vec<f32> {
    let size = filter_size(SCALES, ks);
    gaussian_kernel(size, size as f32 / 5.0)
}

/// The anti-alias blur: scale 1's size, with scale 4's widened deviation.
pub(crate) fn antialias_filter(ks: f32) -> Vec<f32> {
    let size = filter_size(1, ks);
    let stdev = (f64::from(SCALES).sqrt() * size as f64 / f64::from(5.0f32)) as f32;
    gaussian_kernel(size, stdev)
}

/// Sizes derived from the plane size and the prescale factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    /// Plane size.
    pub w: usize,
    pub h: usize,
    /// Prescaled size.
    pub sw: usize,
    pub sh: usize,
    /// Decimated size.
    pub dw: usize,
    pub dh: usize,
    /// Blocks across and down.
    pub bw: usize,
    pub bh: usize,
    /// Size of the windows whose covariances are taken.
    pub sub_w: usize,
    pub sub_h: usize,
}

impl Dims {
    /// The sizes for a `w` x `h` plane, or `None` where fewer than one block remains.
    pub(crate) fn new(w: usize, h: usize, prescale: f64) -> Option<Dims> {
        let sw = (w as f64 * prescale + 0.5) as usize;
        let sh = (h as f64 * prescale + 0.5) as usize;
        let (dw, dh) = (sw >> SCALES, sh >> SCALES);
        let (bw, bh) = (dw / BLOCK, dh / BLOCK);
        if bw == 0 || bh == 0 {
            return None;
        }
        Some(Dims {
            w,
            h,
            sw,
            sh,
            dw,
            dh,
            bw,
            bh,
            sub_w: bw * BLOCK - BLOCK + 1,
            sub_h: bh * BLOCK - BLOCK + 1,
        })
    }

    fn blocks(&self) -> usize {
        self.bw * self.bh
    }
}

/// libvmaf's whole-sample mirror at the edges (`-i`, `2n - i - 2`), clamped for safety.
fn mirror(i: isize, n: usize) -> usize {
    let n = n as isize;
    let m = if i < 0 {
        -i
    } else if i >= n {
        2 * n - i - 2
    } else {
        i
    };
    m.clamp(0, n - 1) as usize
}

/// libvmaf's float mirror of the interpolators, clamped for safety.
fn mirror_f(i: f32, right: f32) -> usize {
    let m = if i < 0.0 {
        -i
    } else if i > right {
        2.0 * right - i
    } else {
        i
    };
    (m as i32).clamp(0, right as i32) as usize
}

fn bicubic_weight(t: f32) -> f32 {
    let a = -0.75f32;
    let t = if t < 0.0 { -t } else { t };
    if t < 1.0 {
        ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    } else if t < 2.0 {
        (((t - 5.0) * t + 8.0) * t - 4.0) * a
    } else {
        0.0
    }
}

fn lanczos_weight(x: f32, a: f32) -> f32 {
    if x == 0.0 {
        return 1.0;
    }
    if x > -a && x < a {
        let (xd, ad) = (f64::from(x), f64::from(a));
        return (ad * (PI * xd).sin() * (PI * xd / ad).sin() / (PI * PI * xd * xd)) as f32;
    }
    0.0
}

/// Source coordinate of destination sample `i` under scale ratio `ratio` (centre-aligned).
fn source_coord(i: usize, ratio: f32) -> f32 {
    ((i as f64 + 0.5) * f64::from(ratio) - 0.5) as f32
}

/// The source rows interpolating destination row `y` reads (the first `n` of the array).
fn source_rows(method: ScaleMethod, d: &Dims, y: usize) -> ([usize; 9], usize) {
    let ratio_y = d.h as f32 / d.sh as f32;
    let bottom = (d.h - 1) as f32;
    let mut rows = [0usize; 9];
    let yy = source_coord(y, ratio_y);
    let y0 = yy.floor() as i32;
    let n = match method {
        ScaleMethod::Nearest => {
            rows[0] = ((y as f32 * ratio_y) as usize).min(d.h - 1);
            1
        }
        ScaleMethod::Bilinear => {
            rows[0] = mirror_f(yy.floor(), bottom);
            rows[1] = mirror_f(yy.ceil(), bottom);
            2
        }
        ScaleMethod::Bicubic => {
            for (i, r) in rows.iter_mut().take(4).enumerate() {
                *r = mirror_f((y0 + i as i32 - 1) as f32, bottom);
            }
            4
        }
        ScaleMethod::Lanczos4 => {
            for (i, r) in rows.iter_mut().enumerate() {
                *r = mirror_f((y0 + i as i32 - 4) as f32, bottom);
            }
            9
        }
    };
    (rows, n)
}

/// The per-column part of an interpolation, which libvmaf recomputes for every sample: the
/// source columns each destination column reads and their weights (for bilinear, the one
/// fraction `dx`), `taps` per column.
#[derive(Debug, Default)]
struct Columns {
    taps: usize,
    index: Vec<usize>,
    weight: Vec<f32>,
}

impl Columns {
    fn new(method: ScaleMethod, d: &Dims) -> Columns {
        let ratio_x = d.w as f32 / d.sw as f32;
        let right = (d.w - 1) as f32;
        let mut c = Columns::default();
        for x in 0..d.sw {
            match method {
                ScaleMethod::Nearest => {
                    c.taps = 1;
                    c.index.push(((x as f32 * ratio_x) as usize).min(d.w - 1));
                }
                ScaleMethod::Bilinear => {
                    c.taps = 2;
                    let xx = source_coord(x, ratio_x);
                    let x1 = mirror_f(xx.floor(), right);
                    c.index.push(x1);
                    c.index.push(mirror_f(xx.ceil(), right));
                    c.weight.push(xx - x1 as f32);
                }
                ScaleMethod::Bicubic => {
                    c.taps = 4;
                    let xx = source_coord(x, ratio_x);
                    let x0 = xx.floor() as i32;
                    let dx = xx - x0 as f32;
                    for i in 0..4 {
                        c.weight.push(bicubic_weight((i - 1) as f32 - dx));
                        c.index.push(mirror_f((x0 + i - 1) as f32, right));
                    }
                }
                ScaleMethod::Lanczos4 => {
                    c.taps = 9;
                    let xx = source_coord(x, ratio_x);
                    let x0 = xx.floor() as i32;
                    let dx = xx - x0 as f32;
                    for i in 0..9 {
                        c.weight.push(lanczos_weight((i - 4) as f32 - dx, 4.0));
                        c.index.push(mirror_f((x0 + i - 4) as f32, right));
                    }
                }
            }
        }
        c
    }
}

/// Interpolates destination row `y` of the prescaled plane into `out` (`dims.sw` long), as
/// libvmaf's interpolators compute each sample.
fn scale_row(
    method: ScaleMethod,
    cols: &Columns,
    src: &[f32],
    d: &Dims,
    y: usize,
    out: &mut [f32],
) {
    let w = d.w;
    let ratio_y = d.h as f32 / d.sh as f32;
    let (rows, _) = source_rows(method, d, y);
    let line = |r: usize| &src[rows[r] * w..rows[r] * w + w];
    let n = cols.taps;
    match method {
        ScaleMethod::Nearest => {
            let row = line(0);
            for (o, &xi) in out.iter_mut().zip(&cols.index) {
                *o = row[xi];
            }
        }
        ScaleMethod::Bilinear => {
            let y1 = rows[0];
            let dy = source_coord(y, ratio_y) - y1 as f32;
            let (r1, r2) = (line(0), line(1));
            for ((o, xi), &dx) in out
                .iter_mut()
                .zip(cols.index.chunks_exact(2))
                .zip(&cols.weight)
            {
                let (x1, x2) = (xi[0], xi[1]);
                *o = (1.0 - dy) * (1.0 - dx) * r1[x1]
                    + (1.0 - dy) * dx * r1[x2]
                    + dy * (1.0 - dx) * r2[x1]
                    + dy * dx * r2[x2];
            }
        }
        ScaleMethod::Bicubic => {
            let yy = source_coord(y, ratio_y);
            let y0 = yy.floor() as i32;
            let dy = yy - y0 as f32;
            let wy: [f32; 4] = std::array::from_fn(|i| bicubic_weight((i as i32 - 1) as f32 - dy));
            let lines: [&[f32]; 4] = std::array::from_fn(line);
            for ((o, xi), wx) in out
                .iter_mut()
                .zip(cols.index.chunks_exact(n))
                .zip(cols.weight.chunks_exact(n))
            {
                let mut v = 0.0f32;
                for (l, &wyj) in lines.iter().zip(&wy) {
                    for (&x, &wxi) in xi.iter().zip(wx) {
                        v += l[x] * (wxi * wyj);
                    }
                }
                *o = v;
            }
        }
        ScaleMethod::Lanczos4 => {
            let yy = source_coord(y, ratio_y);
            let y0 = yy.floor() as i32;
            let dy = yy - y0 as f32;
            let wy: [f32; 9] =
                std::array::from_fn(|i| lanczos_weight((i as i32 - 4) as f32 - dy, 4.0));
            let lines: [&[f32]; 9] = std::array::from_fn(line);
            for ((o, xi), wx) in out
                .iter_mut()
                .zip(cols.index.chunks_exact(n))
                .zip(cols.weight.chunks_exact(n))
            {
                let mut value = 0.0f32;
                let mut weight_sum = 0.0f32;
                for (l, &wyi) in lines.iter().zip(&wy) {
                    for (&x, &wxi) in xi.iter().zip(wx) {
                        let weight = wxi * wyi;
                        weight_sum += weight;
                        value += l[x] * weight;
                    }
                }
                *o = value / weight_sum;
            }
        }
    }
}

/// Block entropies and variances of one picture.
#[derive(Debug, Default)]
struct Estimate {
    entropies: Vec<f32>,
    variances: Vec<f32>,
}

/// `log2(2πe)`, as libvmaf computes it in double.
fn log2_2pi_e() -> f64 {
    (2.0 * PI * E).log2()
}

/// One SpEED computation set up for a plane size and options, with its scratch.
#[derive(Debug)]
pub(crate) struct Speed {
    dims: Dims,
    params: Params,
    level: SimdLevel,
    prescaled: bool,
    antialias: Vec<f32>,
    local: Vec<f32>,
    /// Which prescaled rows the anti-alias taps read.
    needed_rows: Vec<bool>,
    /// Which rows of the plane are read.
    source_rows: Vec<bool>,
    /// The interpolation's per-column taps (empty without prescaling).
    columns: Columns,
    scaled: Vec<f32>,
    row: Vec<f32>,
    down: Vec<f32>,
    blur: Vec<f32>,
    blur_tmp: Vec<f32>,
    means: [f32; BLOCK_ELEMS],
    cov: Vec<f32>,
    eig: [f32; BLOCK_ELEMS],
    work: Vec<f32>,
    indep: Vec<f32>,
    sol: Vec<f32>,
    qty: Vec<f32>,
    solve: SolveScratch,
    reference: Estimate,
    distorted: Estimate,
}

/// A score and whether either picture's covariance could not be inverted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Outcome {
    pub score: f32,
    pub singular: bool,
}

impl Speed {
    /// Sets up for `dims`; `None` where libvmaf would read past its unscaled picture (a
    /// prescale within 1e-3 of 1, which it skips, that still changes the size).
    pub(crate) fn new(dims: Dims, params: Params, level: SimdLevel) -> Option<Speed> {
        let skip = (params.prescale - 1.0).abs() < 1.0e-3;
        let same_size = dims.sw == dims.w && dims.sh == dims.h;
        if skip && !same_size {
            return None;
        }
        // Interpolating to the same size is libvmaf's plain copy.
        let prescaled = !skip && !same_size;
        let antialias = antialias_filter(params.kernelscale);
        let radius = antialias.len() / 2;
        let mut needed_rows = vec![false; dims.sh];
        for i in 0..dims.dh {
            for k in 0..antialias.len() {
                needed_rows[mirror(
                    (i << SCALES) as isize - radius as isize + k as isize,
                    dims.sh,
                )] = true;
            }
        }
        let source_rows = if prescaled {
            let mut rows = vec![false; dims.h];
            for (y, _) in needed_rows.iter().enumerate().filter(|(_, &n)| n) {
                let (src, n) = source_rows(params.method, &dims, y);
                for &r in &src[..n] {
                    rows[r] = true;
                }
            }
            rows
        } else {
            needed_rows.clone()
        };
        let nb = dims.blocks();
        Some(Speed {
            source_rows,
            columns: if prescaled {
                Columns::new(params.method, &dims)
            } else {
                Columns::default()
            },
            dims,
            params,
            level,
            prescaled,
            local: local_mean_filter(params.kernelscale),
            antialias,
            needed_rows,
            scaled: if prescaled {
                vec![0.0; dims.sw * dims.sh]
            } else {
                Vec::new()
            },
            row: vec![0.0; dims.sw],
            down: vec![0.0; dims.dw * dims.dh],
            blur: vec![0.0; dims.dw * dims.dh],
            blur_tmp: vec![0.0; dims.dw],
            means: [0.0; BLOCK_ELEMS],
            cov: vec![0.0; BLOCK_ELEMS * BLOCK_ELEMS],
            eig: [0.0; BLOCK_ELEMS],
            work: vec![0.0; BLOCK_ELEMS * BLOCK_ELEMS],
            indep: vec![0.0; BLOCK_ELEMS * nb],
            sol: vec![0.0; BLOCK_ELEMS * nb],
            qty: vec![0.0; BLOCK_ELEMS * nb],
            solve: SolveScratch::default(),
            reference: Estimate {
                entropies: vec![0.0; nb],
                variances: vec![0.0; nb],
            },
            distorted: Estimate {
                entropies: vec![0.0; nb],
                variances: vec![0.0; nb],
            },
        })
    }

    /// Which rows of the plane [`Speed::score`] reads; the others may hold anything.
    pub(crate) fn source_rows(&self) -> &[bool] {
        &self.source_rows
    }

    /// The score of `reference` against `distorted`, both `w` x `h` planes with stride `w`
    /// holding libvmaf's float samples (`value / scaler - 128`).
    pub(crate) fn score(&mut self, reference: &[f32], distorted: &[f32]) -> Outcome {
        self.filter_and_decimate(reference);
        let ok_ref = self.estimate(true);
        self.filter_and_decimate(distorted);
        let ok_dis = self.estimate(false);
        let singular = !ok_ref || !ok_dis;
        let score = if ok_ref != ok_dis {
            0.0
        } else {
            self.compare()
        };
        Outcome { score, singular }
    }

    /// Prescales (the rows needed), blurs and decimates by 16 into `down`, then subtracts
    /// the local mean there.
    fn filter_and_decimate(&mut self, src: &[f32]) {
        match self.level {
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 | SimdLevel::Avx512 => {
                // SAFETY: the scorer only picks a level the CPU supports.
                unsafe { self.filter_and_decimate_avx2(src) }
            }
            _ => self.filter_and_decimate_body(src),
        }
    }

    /// [`Speed::filter_and_decimate`] compiled for AVX2: wider vectors of the same separate
    /// multiplies and adds (Rust never contracts them), so its results are identical.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn filter_and_decimate_avx2(&mut self, src: &[f32]) {
        self.filter_and_decimate_body(src)
    }

    #[inline(always)]
    fn filter_and_decimate_body(&mut self, src: &[f32]) {
        let d = self.dims;
        if self.prescaled {
            for y in 0..d.sh {
                if self.needed_rows[y] {
                    let out = &mut self.scaled[y * d.sw..(y + 1) * d.sw];
                    scale_row(self.params.method, &self.columns, src, &d, y, out);
                }
            }
        }
        let (img, iw, ih) = if self.prescaled {
            (&self.scaled[..], d.sw, d.sh)
        } else {
            (src, d.w, d.h)
        };
        let f = &self.antialias;
        let r = (f.len() / 2) as isize;
        let row = &mut self.row[..iw];
        for i in 0..d.dh {
            let centre = (i << SCALES) as isize;
            row.fill(0.0);
            for (k, &fk) in f.iter().enumerate() {
                let y = mirror(centre - r + k as isize, ih);
                let line = &img[y * iw..y * iw + iw];
                for (acc, &v) in row.iter_mut().zip(line) {
                    *acc += fk * v;
                }
            }
            let out = &mut self.down[i * d.dw..(i + 1) * d.dw];
            for (j, o) in out.iter_mut().enumerate() {
                let centre = (j << SCALES) as isize;
                let mut acc = 0.0f32;
                for (k, &fk) in f.iter().enumerate() {
                    acc += fk * row[mirror(centre - r + k as isize, iw)];
                }
                *o = acc;
            }
        }
        // The local mean: the same separable blur over the decimated plane.
        let f = &self.local;
        let r = (f.len() / 2) as isize;
        let (dw, dh) = (d.dw, d.dh);
        for i in 0..dh {
            let tmp = &mut self.blur_tmp[..dw];
            tmp.fill(0.0);
            for (k, &fk) in f.iter().enumerate() {
                let y = mirror(i as isize - r + k as isize, dh);
                let line = &self.down[y * dw..y * dw + dw];
                for (acc, &v) in tmp.iter_mut().zip(line) {
                    *acc += fk * v;
                }
            }
            for j in 0..dw {
                let mut acc = 0.0f32;
                for (k, &fk) in f.iter().enumerate() {
                    acc += fk * tmp[mirror(j as isize - r + k as isize, dw)];
                }
                self.blur[i * dw + j] = acc;
            }
        }
        for (v, &m) in self.down.iter_mut().zip(&self.blur) {
            *v -= m;
        }
    }

    /// libvmaf's `est_params` on `down`; false where the covariance is singular.
    fn estimate(&mut self, reference: bool) -> bool {
        let d = self.dims;
        let data = &self.down[..];
        let stride = d.dw;
        let (sw, sh) = (d.sub_w, d.sub_h);
        let count = sw * sh;
        // The 25 window sums, each in libvmaf's row-major order, side by side so that five
        // independent chains run at once.
        for r in 0..BLOCK {
            let mut sums = [0.0f32; BLOCK];
            for i in 0..sh {
                let row = &data[(r + i) * stride..(r + i) * stride + sw + BLOCK - 1];
                for j in 0..sw {
                    let win = &row[j..j + BLOCK];
                    for (s, &v) in sums.iter_mut().zip(win) {
                        *s += v;
                    }
                }
            }
            for (c, s) in sums.iter().enumerate() {
                self.means[r * BLOCK + c] = s / count as f32;
            }
        }
        let level = self.level;
        for xi in 0..BLOCK_ELEMS {
            let (rx, cx) = (xi / BLOCK, xi % BLOCK);
            for yi in 0..=xi {
                let (ry, cy) = (yi / BLOCK, yi % BLOCK);
                let windows = Windows {
                    x: &data[rx * stride + cx..],
                    y: &data[ry * stride + cy..],
                    stride,
                    width: sw,
                    height: sh,
                };
                let mx = f64::from(self.means[xi]);
                let my = f64::from(self.means[yi]);
                let c = (cov_sum(level, windows, mx, my) / count as f64) as f32;
                self.cov[xi * BLOCK_ELEMS + yi] = c;
                self.cov[yi * BLOCK_ELEMS + xi] = c;
            }
        }
        eigenvalues(&self.cov, BLOCK_ELEMS, &mut self.eig, &mut self.work);
        let nb = d.blocks();
        for si in 0..BLOCK {
            for sj in 0..BLOCK {
                let out = &mut self.indep[(si * BLOCK + sj) * nb..(si * BLOCK + sj + 1) * nb];
                for bi in 0..d.bh {
                    let row = &data[(si + bi * BLOCK) * stride..];
                    for bj in 0..d.bw {
                        out[bi * d.bw + bj] = row[sj + bj * BLOCK];
                    }
                }
            }
        }
        let regular = self.eig.iter().all(|&e| f64::from(e) >= EPS);
        let solved = regular
            && solve(
                level,
                &self.cov,
                BLOCK_ELEMS,
                &self.indep,
                nb,
                &mut self.sol,
                &mut self.qty,
                &mut self.solve,
            );
        if !solved {
            self.sol.fill(0.0);
        }
        let denominator = BLOCK_ELEMS as f32;
        for (x, &y) in self.sol.iter_mut().zip(&self.indep) {
            *x = (*x * y) / denominator;
        }
        let (first, rest) = self.sol.split_at_mut(nb);
        for row in rest.chunks_exact(nb) {
            for (s, &v) in first.iter_mut().zip(row) {
                *s += v;
            }
        }
        let out = if reference {
            &mut self.reference
        } else {
            &mut self.distorted
        };
        out.entropies.fill(0.0);
        let sigma_nn = self.params.sigma_nn;
        let c = log2_2pi_e();
        for &e in &self.eig {
            let l = if e < 0.0 { 0.0 } else { e };
            for (h, &s) in out.entropies.iter_mut().zip(first.iter()) {
                *h = (f64::from(*h) + (f64::from(l * s + sigma_nn).log2() + c)) as f32;
            }
        }
        out.variances.copy_from_slice(first);
        solved
    }

    /// libvmaf's `get_speed_score` over the two estimates.
    fn compare(&self) -> f32 {
        let p = &self.params;
        let c = log2_2pi_e();
        let base =
            (BLOCK_ELEMS as f64 * (f64::from((1.0 + p.nn_floor) * p.sigma_nn).log2() + c)) as f32;
        let (r, d) = (&self.reference, &self.distorted);
        let mut score = 0.0f32;
        for i in 0..r.entropies.len() {
            let (re, de) = (r.entropies[i], d.entropies[i]);
            if re < base && de < base {
                continue;
            }
            let (rv, dv) = (r.variances[i], d.variances[i]);
            let (ref_w, dis_w) = match p.weight_var_mode {
                0 => (f64::from(1.0 + rv).log2(), f64::from(1.0 + dv).log2()),
                1 => {
                    let w = f64::from(1.0 + rv).log2();
                    (w, w)
                }
                2 => {
                    let w = f64::from(1.0 + dv).log2();
                    (w, w)
                }
                3 => {
                    let w = (1.0 + f64::from(rv + dv) / 2.0).log2();
                    (w, w)
                }
                4 => (
                    f64::from(1.0 + rv).log2(),
                    (1.0 + f64::from(rv + dv) / 2.0).log2(),
                ),
                5 => (
                    f64::from(1.0 + rv).log2(),
                    (1.0 + (0.75 * f64::from(rv) + 0.25 * f64::from(dv))).log2(),
                ),
                _ => (
                    f64::from(1.0 + rv).log2(),
                    (1.0 + (0.25 * f64::from(rv) + 0.75 * f64::from(dv))).log2(),
                ),
            };
            let spatial_ref = (f64::from(re) * ref_w) as f32;
            let spatial_dis = (f64::from(de) * dis_w) as f32;
            score += (spatial_ref - spatial_dis).abs();
        }
        score / r.entropies.len() as f32
    }
}
