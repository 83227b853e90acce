//! libvmaf v3.2.0's `float_adm` extractor: the detail loss (`adm2`), additive impairment (`aim`)
//! and combined (`adm3`) measures over four levels of a Daubechies-2 wavelet transform of the
//! luma plane, in single precision, with every viewing-condition, CSF, p-norm and per-scale
//! factor option libvmaf declares.
//!
//! libvmaf divides with `rcpss` plus one Newton step (`DIVS`); the same approximation is used
//! here, so results match libvmaf on the same CPU. Its double-literal constants 1/30 and 1/15
//! promote the masking terms to double, which is kept too.

mod csf;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::cpu::SimdLevel;
use crate::feature::float_common::{check_depth, plane_to_float};
use crate::feature::{ExtractorInfo, FeatureExtractor, FeatureValue, Geometry};
use crate::options::{OptionSpec, OptionValues};
use crate::picture::Picture;
use crate::EngineError;

use csf::Viewing;

/// Options of libvmaf v3.2.0's `float_adm`, with its names, aliases, defaults and ranges.
pub static OPTIONS: &[OptionSpec] = &[
    OptionSpec::switch("debug", None, false),
    OptionSpec::param_double("adm_enhn_gain_limit", Some("egl"), 100.0, 1.0, 100.0),
    OptionSpec::param_double("adm_norm_view_dist", Some("nvd"), 3.0, 0.75, 24.0),
    OptionSpec::param_double("adm_noise_weight", Some("nw"), 0.03125, 0.0, 1500.0),
    OptionSpec::param_double("adm_csf_scale", Some("scf"), 1.0, 0.0, 50.0),
    OptionSpec::param_double("adm_csf_diag_scale", Some("scfd"), 1.0, 0.0, 50.0),
    OptionSpec::param_int("adm_ref_display_height", Some("rdf"), 1080, 1.0, 4320.0),
    OptionSpec::param_int("adm_csf_mode", Some("csf"), 0, 0.0, 9.0),
    OptionSpec::param_int("adm_bypass_cm", Some("bcm"), 0, 0.0, 1.0),
    OptionSpec::switch("adm_adm3_apply_hm", Some("aah"), true),
    OptionSpec::param_double("adm_p_norm", Some("apn"), 3.0, 1.0, 20.0),
    OptionSpec::param_double("adm_dlm_weight", Some("dlmw"), 0.5, 0.0, 1.0),
    OptionSpec::param_double("adm_min_val", Some("min"), 0.0, 0.0, 1.0),
    OptionSpec::param_double("adm_f1s0", Some("f1s0"), -1.0, -1.0, 10.0),
    OptionSpec::param_double("adm_f1s1", Some("f1s1"), -1.0, -1.0, 10.0),
    OptionSpec::param_double("adm_f1s2", Some("f1s2"), -1.0, -1.0, 10.0),
    OptionSpec::param_double("adm_f1s3", Some("f1s3"), -1.0, -1.0, 10.0),
    OptionSpec::param_double("adm_f2s0", Some("f2s0"), -1.0, -1.0, 10.0),
    OptionSpec::param_double("adm_f2s1", Some("f2s1"), -1.0, -1.0, 10.0),
    OptionSpec::param_double("adm_f2s2", Some("f2s2"), -1.0, -1.0, 10.0),
    OptionSpec::param_double("adm_f2s3", Some("f2s3"), -1.0, -1.0, 10.0),
    OptionSpec::param_int("adm_skip_aim_scale", Some("sasc"), -1, 0.0, 3.0),
    OptionSpec::switch("adm_skip_scale0", Some("ssz"), true),
];

const PROVIDED: [&str; 18] = [
    "VMAF_feature_adm2_score",
    "VMAF_feature_aim_score",
    "VMAF_feature_adm3_score",
    "VMAF_feature_adm_scale0_score",
    "VMAF_feature_adm_scale1_score",
    "VMAF_feature_adm_scale2_score",
    "VMAF_feature_adm_scale3_score",
    "adm_num",
    "adm_den",
    "adm_scale0",
    "adm_num_scale0",
    "adm_den_scale0",
    "adm_num_scale1",
    "adm_den_scale1",
    "adm_num_scale2",
    "adm_den_scale2",
    "adm_num_scale3",
    "adm_den_scale3",
];

/// Names written, in libvmaf's order: the seven scores, then the debug values.
const WRITTEN: [&str; 18] = [
    "VMAF_feature_adm2_score",
    "VMAF_feature_aim_score",
    "VMAF_feature_adm3_score",
    "VMAF_feature_adm_scale0_score",
    "VMAF_feature_adm_scale1_score",
    "VMAF_feature_adm_scale2_score",
    "VMAF_feature_adm_scale3_score",
    "adm",
    "adm_num",
    "adm_den",
    "adm_num_scale0",
    "adm_den_scale0",
    "adm_num_scale1",
    "adm_den_scale1",
    "adm_num_scale2",
    "adm_den_scale2",
    "adm_num_scale3",
    "adm_den_scale3",
];

/// Registry entry.
pub static INFO: ExtractorInfo = ExtractorInfo {
    name: "float_adm",
    options: OPTIONS,
    provided_features: &PROVIDED,
    temporal: false,
    create,
};

fn create(
    options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    Ok(Box::new(FloatAdm::new(options, geometry, simd)?))
}

const BORDER_FACTOR: f64 = 0.1;
const LO: [f32; 4] = [
    0.482962913144690f64 as f32,
    0.836516303737469f64 as f32,
    0.224143868041857f64 as f32,
    -0.129409522550921f64 as f32,
];
const HI: [f32; 4] = [
    -0.129409522550921f64 as f32,
    -0.224143868041857f64 as f32,
    0.836516303737469f64 as f32,
    -0.482962913144690f64 as f32,
];
const ONE_BY_30: f64 = 0.0333333351;
const ONE_BY_15: f64 = 0.0666666701;

/// The three detail bands of one picture at one scale (plus the approximation band `a`).
#[derive(Debug, Default)]
struct Bands {
    a: Vec<f32>,
    h: Vec<f32>,
    v: Vec<f32>,
    d: Vec<f32>,
}

impl Bands {
    fn resize(&mut self, n: usize) {
        for b in [&mut self.a, &mut self.h, &mut self.v, &mut self.d] {
            b.resize(n, 0.0);
        }
    }

    fn hvd(&self) -> [&[f32]; 3] {
        [&self.h, &self.v, &self.d]
    }
}

/// libvmaf's mirrored source indices of the four taps of output `i` (`dwt2_src_indices_filt`),
/// kept inside `0..n` where libvmaf would read outside the plane.
fn dwt_taps(i: usize, n: usize) -> [usize; 4] {
    let n = n as isize;
    let fold = |x: isize| if x >= n { 2 * n - x - 1 } else { x };
    let i0 = 2 * i as isize - 1;
    let i0 = if i0 < 0 { -i0 } else { fold(i0) };
    let t = [
        i0,
        fold(2 * i as isize),
        fold(2 * i as isize + 1),
        fold(2 * i as isize + 2),
    ];
    t.map(|x| x.clamp(0, n - 1) as usize)
}

#[inline(always)]
fn taps4(f: &[f32; 4], s: [f32; 4]) -> f32 {
    let mut acc: f32 = 0.0;
    acc += f[0] * s[0];
    acc += f[1] * s[1];
    acc += f[2] * s[2];
    acc += f[3] * s[3];
    acc
}

/// One band row of the transform: the vertical pass over the four source `rows` into
/// `tlo`/`thi`, then the horizontal pass over their mirrored copies `plo`/`phi` (tap `k` of
/// output `j` at `2j + k`) into the band rows `a, v, h, d` (only `a` with `lo_only`).
#[inline(always)]
fn dwt2_row_body(
    rows: [&[f32]; 4],
    w: usize,
    taps: &[usize],
    work: &mut [Vec<f32>; 4],
    out: [&mut [f32]; 4],
    lo_only: bool,
) {
    let [tlo, thi, plo, phi] = work;
    let (tlo, thi) = (&mut tlo[..w], &mut thi[..w]);
    let [r0, r1, r2, r3] = rows.map(|r| &r[..w]);
    for j in 0..w {
        let s = [r0[j], r1[j], r2[j], r3[j]];
        tlo[j] = taps4(&LO, s);
        thi[j] = taps4(&HI, s);
    }
    let [a, v, h, d] = out;
    let bw = a.len();
    let np = 2 * bw + 2;
    let (plo, phi) = (&mut plo[..np], &mut phi[..np]);
    for (m, &x) in taps[..np].iter().enumerate() {
        plo[m] = tlo[x];
        phi[m] = thi[x];
    }
    for j in 0..bw {
        let s = [plo[2 * j], plo[2 * j + 1], plo[2 * j + 2], plo[2 * j + 3]];
        a[j] = taps4(&LO, s);
        if !lo_only {
            v[j] = taps4(&HI, s);
            let s = [phi[2 * j], phi[2 * j + 1], phi[2 * j + 2], phi[2 * j + 3]];
            h[j] = taps4(&LO, s);
            d[j] = taps4(&HI, s);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dwt2_row_avx2(
    rows: [&[f32]; 4],
    w: usize,
    taps: &[usize],
    work: &mut [Vec<f32>; 4],
    out: [&mut [f32]; 4],
    lo_only: bool,
) {
    dwt2_row_body(rows, w, taps, work, out, lo_only)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2")]
fn dwt2_row_avx512(
    rows: [&[f32]; 4],
    w: usize,
    taps: &[usize],
    work: &mut [Vec<f32>; 4],
    out: [&mut [f32]; 4],
    lo_only: bool,
) {
    dwt2_row_body(rows, w, taps, work, out, lo_only)
}

/// One level of libvmaf's `adm_dwt2_s` (only the `a` band with `lo_only`): `src` is `w` x `h`,
/// the bands `(w + 1) / 2` x `(h + 1) / 2`.
fn dwt2(
    level: SimdLevel,
    src: &[f32],
    w: usize,
    h: usize,
    out: &mut Bands,
    lo_only: bool,
    work: &mut [Vec<f32>; 4],
) {
    let (bw, bh) = (w.div_ceil(2), h.div_ceil(2));
    out.resize(bw * bh);
    // The mirrored source column of padded position m (libvmaf's position m - 1).
    let wi = w as isize;
    let taps: Vec<usize> = (0..2 * bw + 2)
        .map(|m| {
            let q = m as isize - 1;
            let q = if q < 0 {
                -q
            } else if q >= wi {
                2 * wi - q - 1
            } else {
                q
            };
            q.clamp(0, wi - 1) as usize
        })
        .collect();
    for (k, buf) in work.iter_mut().enumerate() {
        buf.resize(if k < 2 { w } else { 2 * bw + 2 }, 0.0);
    }
    for i in 0..bh {
        let ry = dwt_taps(i, h);
        let rows = ry.map(|r| &src[r * w..(r + 1) * w]);
        let row = i * bw..(i + 1) * bw;
        let out_rows = [
            &mut out.a[row.clone()],
            &mut out.v[row.clone()],
            &mut out.h[row.clone()],
            &mut out.d[row],
        ];
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the constructor checked the CPU has the level.
            SimdLevel::Avx512 => unsafe {
                dwt2_row_avx512(rows, w, &taps, work, out_rows, lo_only)
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            SimdLevel::Avx2 => unsafe { dwt2_row_avx2(rows, w, &taps, work, out_rows, lo_only) },
            _ => dwt2_row_body(rows, w, &taps, work, out_rows, lo_only),
        }
    }
}

/// A rectangle `[top, bottom) x [left, right)` of a band.
#[derive(Debug, Clone, Copy)]
struct Region {
    top: usize,
    bottom: usize,
    left: usize,
    right: usize,
}

/// libvmaf's truncation of `n * border_factor - 0.5 - extra` to int.
fn edge(n: usize, extra: f64) -> i64 {
    (n as f64 * BORDER_FACTOR - 0.5 - extra) as i64
}

/// The region decoupling and CSF weighting cover: the scoring region plus one sample.
fn wide_region(w: usize, h: usize) -> Region {
    let (l, t) = (edge(w, 1.0), edge(h, 1.0));
    let (r, b) = (w as i64 - l + 2, h as i64 - t + 2);
    Region {
        left: l.max(0) as usize,
        top: t.max(0) as usize,
        right: r.min(w as i64).max(0) as usize,
        bottom: b.min(h as i64).max(0) as usize,
    }
}

/// The signed scoring region (`left` may reach 0 and `right` the width).
fn score_region(w: usize, h: usize) -> (i64, i64, i64, i64) {
    let (l, t) = (edge(w, 0.0), edge(h, 0.0));
    (t, h as i64 - t, l, w as i64 - l)
}

/// The `rcpss` estimates of `1 / (x + eps)` (before libvmaf's Newton step). The vector
/// levels use `vrcpps`, the packed form of the same approximation, which the twin tests check
/// gives the same bits.
fn estimates(level: SimdLevel, x: &[f32], eps: f32, out: &mut [f32]) {
    let out = &mut out[..x.len()];
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let mut j = 0;
        if level >= SimdLevel::Avx2 {
            #[target_feature(enable = "avx2")]
            fn packed(x: &[f32], eps: f32, out: &mut [f32]) -> usize {
                let mut j = 0;
                while j + 8 <= x.len() {
                    // SAFETY: AVX2 (with AVX) is enabled; both slices hold 8 floats at `j`.
                    unsafe {
                        let v =
                            _mm256_add_ps(_mm256_loadu_ps(x.as_ptr().add(j)), _mm256_set1_ps(eps));
                        _mm256_storeu_ps(out.as_mut_ptr().add(j), _mm256_rcp_ps(v));
                    }
                    j += 8;
                }
                j
            }
            // SAFETY: the constructor checked the CPU has the level.
            j = unsafe { packed(x, eps, out) };
        }
        for (o, &v) in out[j..].iter_mut().zip(&x[j..]) {
            // SAFETY: SSE is part of the x86-64 baseline.
            *o = unsafe { _mm_cvtss_f32(_mm_rcp_ss(_mm_set_ss(v + eps))) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = level;
        for (o, &v) in out.iter_mut().zip(x) {
            *o = 1.0 / (v + eps);
        }
    }
}

/// Row inputs of the decoupling: reference and distorted bands and the reciprocal estimates.
struct DecoupleRow<'a> {
    o: [&'a [f32]; 3],
    t: [&'a [f32]; 3],
    est: [&'a [f32]; 3],
}

/// One row of libvmaf's `adm_decouple_s`, branch-free so that samples share vector lanes.
#[inline(always)]
fn decouple_row_body(
    row: &DecoupleRow<'_>,
    gain_limit: f64,
    cos_sq: f32,
    r: [&mut [f32]; 3],
    a: [&mut [f32]; 3],
) {
    let eps: f32 = 1e-30f64 as f32;
    let n = r[0].len();
    let [r0, r1, r2] = r;
    let [a0, a1, a2] = a;
    let (r1, r2, a0, a1, a2) = (
        &mut r1[..n],
        &mut r2[..n],
        &mut a0[..n],
        &mut a1[..n],
        &mut a2[..n],
    );
    let [oh_, ov_, od_] = row.o.map(|x| &x[..n]);
    let [th_, tv_, td_] = row.t.map(|x| &x[..n]);
    let [eh, ev, ed] = row.est.map(|x| &x[..n]);
    let limit = |rst: f32, t: f32, flag: bool| -> f32 {
        let x = f64::from(rst) * gain_limit;
        let up = (if x < f64::from(t) { x } else { f64::from(t) }) as f32;
        let rst = if flag && rst > 0.0 { up } else { rst };
        let x = f64::from(rst) * gain_limit;
        let down = (if x > f64::from(t) { x } else { f64::from(t) }) as f32;
        if flag && rst < 0.0 {
            down
        } else {
            rst
        }
    };
    // libvmaf's DIVS: the estimate refined by one Newton step, times the numerator.
    let divs = |num: f32, d: f32, xi: f32| num * (xi + xi * (1.0 - d * xi));
    for j in 0..n {
        let (oh, ov, od) = (oh_[j], ov_[j], od_[j]);
        let (th, tv, td) = (th_[j], tv_[j], td_[j]);
        // Like libvmaf's nested comparisons, `clamp` passes NaN and -0 through unchanged.
        let kh = divs(th, oh + eps, eh[j]).clamp(0.0, 1.0);
        let kv = divs(tv, ov + eps, ev[j]).clamp(0.0, 1.0);
        let kd = divs(td, od + eps, ed[j]).clamp(0.0, 1.0);
        let ot_dp = oh * th + ov * tv;
        let o_mag_sq = oh * oh + ov * ov;
        let t_mag_sq = th * th + tv * tv;
        let flag = ot_dp >= 0.0 && ot_dp * ot_dp >= cos_sq * o_mag_sq * t_mag_sq;
        let rh = limit(kh * oh, th, flag);
        let rv = limit(kv * ov, tv, flag);
        let rd = limit(kd * od, td, flag);
        r0[j] = rh;
        r1[j] = rv;
        r2[j] = rd;
        a0[j] = th - rh;
        a1[j] = tv - rv;
        a2[j] = td - rd;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn decouple_row_avx2(
    row: &DecoupleRow<'_>,
    gain_limit: f64,
    cos_sq: f32,
    r: [&mut [f32]; 3],
    a: [&mut [f32]; 3],
) {
    decouple_row_body(row, gain_limit, cos_sq, r, a)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2")]
fn decouple_row_avx512(
    row: &DecoupleRow<'_>,
    gain_limit: f64,
    cos_sq: f32,
    r: [&mut [f32]; 3],
    a: [&mut [f32]; 3],
) {
    decouple_row_body(row, gain_limit, cos_sq, r, a)
}

/// libvmaf's `adm_decouple_s` over `reg`: restored (`r`) and additive (`a`) detail bands.
#[allow(clippy::too_many_arguments)]
fn decouple(
    level: SimdLevel,
    reference: &Bands,
    distorted: &Bands,
    w: usize,
    reg: Region,
    gain_limit: f64,
    cos_sq: f32,
    r: &mut [Vec<f32>; 3],
    a: &mut [Vec<f32>; 3],
    est: &mut [Vec<f32>; 3],
) {
    let eps: f32 = 1e-30f64 as f32;
    let n = reference.h.len();
    for b in r.iter_mut().chain(a.iter_mut()) {
        b.resize(n, 0.0);
    }
    let len = reg.right.saturating_sub(reg.left);
    for e in est.iter_mut() {
        e.resize(len, 0.0);
    }
    let o_bands = reference.hvd();
    let t_bands = distorted.hvd();
    for i in reg.top..reg.bottom {
        let span = i * w + reg.left..i * w + reg.left + len;
        for (e, band) in est.iter_mut().zip(o_bands) {
            estimates(level, &band[span.clone()], eps, e);
        }
        let row = DecoupleRow {
            o: o_bands.map(|b| &b[span.clone()]),
            t: t_bands.map(|b| &b[span.clone()]),
            est: [&est[0][..], &est[1][..], &est[2][..]],
        };
        let [r0, r1, r2] = r;
        let [a0, a1, a2] = a;
        let rr = [
            &mut r0[span.clone()],
            &mut r1[span.clone()],
            &mut r2[span.clone()],
        ];
        let aa = [
            &mut a0[span.clone()],
            &mut a1[span.clone()],
            &mut a2[span.clone()],
        ];
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the constructor checked the CPU has the level.
            SimdLevel::Avx512 => unsafe { decouple_row_avx512(&row, gain_limit, cos_sq, rr, aa) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            SimdLevel::Avx2 => unsafe { decouple_row_avx2(&row, gain_limit, cos_sq, rr, aa) },
            _ => decouple_row_body(&row, gain_limit, cos_sq, rr, aa),
        }
    }
}

/// libvmaf's `adm_csf_s` over `reg`: the weighted bands and their 1/30-scaled magnitudes.
fn weigh(
    src: &[Vec<f32>; 3],
    rfactor: [f32; 3],
    w: usize,
    reg: Region,
    dst: &mut [Vec<f32>; 3],
    flt: &mut [Vec<f32>; 3],
) {
    for t in 0..3 {
        let n = src[t].len();
        dst[t].resize(n, 0.0);
        flt[t].resize(n, 0.0);
        for i in reg.top..reg.bottom {
            for j in reg.left..reg.right {
                let o = i * w + j;
                let v = rfactor[t] * src[t][o];
                dst[t][o] = v;
                flt[t][o] = (ONE_BY_30 * f64::from(v.abs())) as f32;
            }
        }
    }
}

/// `|x|^p` summed the way libvmaf does: cubed in f32 for the default p-norm, else `powf`.
#[inline(always)]
fn power(x: f32, p: f64) -> f32 {
    if p == 3.0 {
        x * x * x
    } else {
        x.powf(p as f32)
    }
}

/// libvmaf's `get_noise_constant`.
fn noise_constant(w: i64, h: i64, weight: f64, p: f64) -> f32 {
    (((w * h) as f64 * weight) as f32).powf((1.0 / p) as f32)
}

/// libvmaf's `adm_csf_den_scale_s`: the p-norm of the weighted reference bands plus noise.
fn denominator(
    reference: &Bands,
    rfactor: [f32; 3],
    w: usize,
    h: usize,
    noise_weight: f64,
    p: f64,
) -> f32 {
    let (top, bottom, left, right) = score_region(w, h);
    let mut acc = [0f32; 3];
    for i in top.max(0)..bottom.min(h as i64) {
        let mut inner = [0f32; 3];
        for j in left.max(0)..right.min(w as i64) {
            let o = i as usize * w + j as usize;
            for (t, band) in reference.hvd().into_iter().enumerate() {
                inner[t] += power((rfactor[t] * band[o]).abs(), p);
            }
        }
        for t in 0..3 {
            acc[t] += inner[t];
        }
    }
    let noise = noise_constant(right - left, bottom - top, noise_weight, p);
    let s = acc.map(|a| a.powf((1.0 / p) as f32) + noise);
    s[0] + s[1] + s[2]
}

/// The rows one output row of the masking step reads, per band.
struct CmRows<'a> {
    up: [&'a [f32]; 3],
    mid: [&'a [f32]; 3],
    down: [&'a [f32]; 3],
    csf: [&'a [f32]; 3],
    src: [&'a [f32]; 3],
}

/// The masked term `max(|src * rfactor| - threshold, 0)` of every band at column `j`, whose
/// left and right neighbours are `jl` and `jr`: the threshold sums each band's eight `flt`
/// neighbours in libvmaf's order, with the 1/15-scaled centre added in double.
#[inline(always)]
fn cm_terms(
    r: &CmRows<'_>,
    rf: [f32; 3],
    bypass: bool,
    j: usize,
    jl: usize,
    jr: usize,
) -> [f32; 3] {
    let mut thr: f32 = 0.0;
    if !bypass {
        for t in 0..3 {
            let (u, m, d) = (r.up[t], r.mid[t], r.down[t]);
            let mut sum: f32 = 0.0;
            sum += u[jl];
            sum += u[j];
            sum += u[jr];
            sum += m[jl];
            sum = (f64::from(sum) + ONE_BY_15 * f64::from(r.csf[t][j].abs())) as f32;
            sum += m[jr];
            sum += d[jl];
            sum += d[j];
            sum += d[jr];
            thr += sum;
        }
    }
    let mut x = [0f32; 3];
    for t in 0..3 {
        let v = (r.src[t][j] * rf[t]).abs() - thr;
        x[t] = if v < 0.0 { 0.0 } else { v };
    }
    x
}

/// The masked terms of the interior columns `lo..hi` (both neighbours inside the band),
/// cubed when `CUBE`, into `out[t][0..hi - lo]`.
#[inline(always)]
fn cm_interior_body<const CUBE: bool>(
    r: &CmRows<'_>,
    rf: [f32; 3],
    bypass: bool,
    lo: usize,
    hi: usize,
    out: &mut [Vec<f32>; 3],
) {
    let [o0, o1, o2] = out;
    let (o0, o1, o2) = (&mut o0[..hi - lo], &mut o1[..hi - lo], &mut o2[..hi - lo]);
    for j in lo..hi {
        let x = cm_terms(r, rf, bypass, j, j - 1, j + 1);
        let x = if CUBE { x.map(|v| v * v * v) } else { x };
        o0[j - lo] = x[0];
        o1[j - lo] = x[1];
        o2[j - lo] = x[2];
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn cm_interior_avx2<const CUBE: bool>(
    r: &CmRows<'_>,
    rf: [f32; 3],
    bypass: bool,
    lo: usize,
    hi: usize,
    out: &mut [Vec<f32>; 3],
) {
    cm_interior_body::<CUBE>(r, rf, bypass, lo, hi, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2")]
fn cm_interior_avx512<const CUBE: bool>(
    r: &CmRows<'_>,
    rf: [f32; 3],
    bypass: bool,
    lo: usize,
    hi: usize,
    out: &mut [Vec<f32>; 3],
) {
    cm_interior_body::<CUBE>(r, rf, bypass, lo, hi, out)
}

fn cm_interior<const CUBE: bool>(
    level: SimdLevel,
    r: &CmRows<'_>,
    rf: [f32; 3],
    bypass: bool,
    lo: usize,
    hi: usize,
    out: &mut [Vec<f32>; 3],
) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the constructor checked the CPU has the level.
        SimdLevel::Avx512 => unsafe { cm_interior_avx512::<CUBE>(r, rf, bypass, lo, hi, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        SimdLevel::Avx2 => unsafe { cm_interior_avx2::<CUBE>(r, rf, bypass, lo, hi, out) },
        _ => cm_interior_body::<CUBE>(r, rf, bypass, lo, hi, out),
    }
}

/// libvmaf's `adm_cm_s`: the p-norm of `src` weighted by `rfactor` less the masking threshold
/// built from the weighted bands `csf` (centre, scaled by 1/15) and their 1/30 magnitudes `flt`
/// (the eight neighbours, mirrored at the top/left and repeated at the bottom/right edges).
/// libvmaf sums row 0, the inner rows and the last row in separate blocks; each adds one
/// per-row sum to the total, which is what the single row loop here does.
#[allow(clippy::too_many_arguments)]
fn masked(
    level: SimdLevel,
    src: &[Vec<f32>; 3],
    csf: &[Vec<f32>; 3],
    flt: &[Vec<f32>; 3],
    rfactor: [f32; 3],
    w: usize,
    h: usize,
    noise_weight: f64,
    bypass_cm: bool,
    p: f64,
    terms: &mut [Vec<f32>; 3],
) -> f32 {
    let (top, bottom, left, right) = score_region(w, h);
    let (wi, hi) = (w as i64, h as i64);
    let mut rows: Vec<i64> = Vec::new();
    if top <= 0 {
        rows.push(0);
    }
    rows.extend(top.max(1)..bottom.min(hi - 1));
    if bottom > hi - 1 {
        rows.push(hi - 1);
    }
    let first_col = left <= 0;
    let last_col = right > wi - 1;
    let lo = left.max(1) as usize;
    let hi_col = (right.min(wi - 1).max(left.max(1))) as usize;
    let up = |i: i64| if i == 0 { 1 } else { i - 1 };
    let down = |i: i64, n: i64| if i == n - 1 { n - 1 } else { i + 1 };
    fn row(plane: &[Vec<f32>; 3], i: i64, w: usize, h: i64) -> [&[f32]; 3] {
        let i = i.clamp(0, h - 1) as usize;
        [
            &plane[0][i * w..(i + 1) * w],
            &plane[1][i * w..(i + 1) * w],
            &plane[2][i * w..(i + 1) * w],
        ]
    }
    let cube = p == 3.0;
    for t in terms.iter_mut() {
        t.resize(w, 0.0);
    }
    let mut acc = [0f32; 3];
    for &i in &rows {
        let r = CmRows {
            up: row(flt, up(i), w, hi),
            mid: row(flt, i, w, hi),
            down: row(flt, down(i, hi), w, hi),
            csf: row(csf, i, w, hi),
            src: row(src, i, w, hi),
        };
        let mut inner = [0f32; 3];
        let add = |inner: &mut [f32; 3], x: [f32; 3]| {
            for t in 0..3 {
                inner[t] += power(x[t], p);
            }
        };
        if first_col {
            let jr = if w > 1 { 1 } else { 0 };
            add(&mut inner, cm_terms(&r, rfactor, bypass_cm, 0, jr, jr));
        }
        let n = hi_col - lo;
        if cube {
            cm_interior::<true>(level, &r, rfactor, bypass_cm, lo, hi_col, terms);
        } else {
            cm_interior::<false>(level, &r, rfactor, bypass_cm, lo, hi_col, terms);
        }
        // Column by column, as libvmaf's three running sums advance together.
        let [t0, t1, t2] = &*terms;
        for ((&x0, &x1), &x2) in t0[..n].iter().zip(&t1[..n]).zip(&t2[..n]) {
            if cube {
                inner[0] += x0;
                inner[1] += x1;
                inner[2] += x2;
            } else {
                inner[0] += power(x0, p);
                inner[1] += power(x1, p);
                inner[2] += power(x2, p);
            }
        }
        if last_col {
            let j = w - 1;
            add(
                &mut inner,
                cm_terms(&r, rfactor, bypass_cm, j, j.saturating_sub(1), j),
            );
        }
        for t in 0..3 {
            acc[t] += inner[t];
        }
    }
    let noise = noise_constant(right - left, bottom - top, noise_weight, p);
    let s = acc.map(|a| a.powf((1.0 / p) as f32) + noise);
    s[0] + s[1] + s[2]
}

/// Option values the computation needs.
#[derive(Debug, Clone)]
struct Settings {
    gain_limit: f64,
    viewing: Viewing,
    noise_weight: f64,
    bypass_cm: bool,
    p_norm: f64,
    factors: [[f64; 4]; 2],
    skip_aim_scale: i32,
    skip_scale0: bool,
    apply_hm: bool,
    dlm_weight: f64,
    min_val: f64,
    debug: bool,
}

impl Settings {
    /// `rfactor` of libvmaf's CSF at `scale`: the model's weights unless overridden.
    fn rfactor(&self, scale: usize) -> [f32; 3] {
        let [mut f1, mut f2] = self.viewing.band_weights(scale);
        if self.factors[0][scale] >= 0.0 {
            f1 = self.factors[0][scale] as f32;
        }
        if self.factors[1][scale] >= 0.0 {
            f2 = self.factors[1][scale] as f32;
        }
        [f1, f1, f2]
    }
}

/// Working planes reused across frames.
#[derive(Debug, Default)]
struct Work {
    reference: Vec<f32>,
    distorted: Vec<f32>,
    ref_bands: Bands,
    dis_bands: Bands,
    r: [Vec<f32>; 3],
    a: [Vec<f32>; 3],
    csf: [Vec<f32>; 3],
    flt: [Vec<f32>; 3],
    terms: [Vec<f32>; 3],
    est: [Vec<f32>; 3],
    tmp: [Vec<f32>; 4],
}

/// What `compute_adm` returns.
struct Outcome {
    score: f64,
    aim: f64,
    num: f64,
    den: f64,
    scores: [f64; 8],
}

/// The `float_adm` extractor.
#[derive(Debug)]
pub struct FloatAdm {
    geometry: Geometry,
    simd: SimdLevel,
    settings: Settings,
    cos_sq: f32,
    names: Vec<Arc<str>>,
    work: Work,
}

impl FloatAdm {
    /// Builds the extractor for pictures of `geometry`; refuses pictures under 3x3 at the
    /// coarsest input scale, where libvmaf's filters read outside the picture.
    pub fn new(
        options: &OptionValues,
        geometry: Geometry,
        simd: SimdLevel,
    ) -> Result<Self, EngineError> {
        let simd = simd.require()?;
        check_depth("float_adm", geometry.bit_depth)?;
        let (mut w, mut h) = (geometry.width, geometry.height);
        for _ in 0..3 {
            (w, h) = (w.div_ceil(2), h.div_ceil(2));
        }
        if w < 3 || h < 3 {
            return Err(EngineError::UnsupportedPicture(format!(
                "float_adm needs at least 3x3 samples at its coarsest input scale, got {w}x{h} \
                 from {}x{}",
                geometry.width, geometry.height
            )));
        }
        let factor = |s: &str| options.get_double(s);
        let settings = Settings {
            gain_limit: options.get_double("adm_enhn_gain_limit"),
            viewing: Viewing {
                mode: options.get_int("adm_csf_mode"),
                norm_view_dist: options.get_double("adm_norm_view_dist"),
                display_height: options.get_int("adm_ref_display_height"),
                csf_scale: options.get_double("adm_csf_scale"),
                csf_diag_scale: options.get_double("adm_csf_diag_scale"),
            },
            noise_weight: options.get_double("adm_noise_weight"),
            bypass_cm: options.get_int("adm_bypass_cm") != 0,
            p_norm: options.get_double("adm_p_norm"),
            factors: [
                [
                    factor("adm_f1s0"),
                    factor("adm_f1s1"),
                    factor("adm_f1s2"),
                    factor("adm_f1s3"),
                ],
                [
                    factor("adm_f2s0"),
                    factor("adm_f2s1"),
                    factor("adm_f2s2"),
                    factor("adm_f2s3"),
                ],
            ],
            skip_aim_scale: options.get_int("adm_skip_aim_scale"),
            skip_scale0: options.get_bool("adm_skip_scale0"),
            apply_hm: options.get_bool("adm_adm3_apply_hm"),
            dlm_weight: options.get_double("adm_dlm_weight"),
            min_val: options.get_double("adm_min_val"),
            debug: options.get_bool("debug"),
        };
        let c = (std::f64::consts::PI / 180.0).cos();
        Ok(FloatAdm {
            geometry,
            simd,
            settings,
            cos_sq: (c * c) as f32,
            // libvmaf renames only provided features: `adm` keeps its name under any options.
            names: WRITTEN
                .iter()
                .map(|p| {
                    if PROVIDED.contains(p) {
                        Arc::from(options.feature_name(p))
                    } else {
                        Arc::from(*p)
                    }
                })
                .collect(),
            work: Work::default(),
        })
    }

    /// libvmaf's `compute_adm` on the pictures already in `work.reference`/`work.distorted`.
    fn compute(&mut self) -> Outcome {
        let s = &self.settings;
        let wk = &mut self.work;
        let (mut w, mut h) = (self.geometry.width, self.geometry.height);
        let numden_limit = 1e-10 * (w * h) as f64 / (1920.0 * 1080.0);
        let (mut num, mut den, mut aim_num, mut aim_den) = (0f64, 0f64, 0f64, 0f64);
        let mut scores = [0f64; 8];
        let mut cur_ref = std::mem::take(&mut wk.reference);
        let mut cur_dis = std::mem::take(&mut wk.distorted);
        for scale in 0..4 {
            let (num_scale, den_scale, aim_scale);
            let lo_only = scale == 0 && s.skip_scale0;
            dwt2(
                self.simd,
                &cur_ref,
                w,
                h,
                &mut wk.ref_bands,
                lo_only,
                &mut wk.tmp,
            );
            dwt2(
                self.simd,
                &cur_dis,
                w,
                h,
                &mut wk.dis_bands,
                lo_only,
                &mut wk.tmp,
            );
            (w, h) = (w.div_ceil(2), h.div_ceil(2));
            if lo_only {
                num_scale = 0.0f32;
                den_scale = 1e-10f64 as f32;
                aim_scale = 0.0f32;
            } else {
                let reg = wide_region(w, h);
                decouple(
                    self.simd,
                    &wk.ref_bands,
                    &wk.dis_bands,
                    w,
                    reg,
                    s.gain_limit,
                    self.cos_sq,
                    &mut wk.r,
                    &mut wk.a,
                    &mut wk.est,
                );
                let rf = s.rfactor(scale);
                den_scale = denominator(&wk.ref_bands, rf, w, h, s.noise_weight, s.p_norm);
                weigh(&wk.a, rf, w, reg, &mut wk.csf, &mut wk.flt);
                num_scale = masked(
                    self.simd,
                    &wk.r,
                    &wk.csf,
                    &wk.flt,
                    rf,
                    w,
                    h,
                    s.noise_weight,
                    s.bypass_cm,
                    s.p_norm,
                    &mut wk.terms,
                );
                weigh(&wk.r, rf, w, reg, &mut wk.csf, &mut wk.flt);
                aim_scale = masked(
                    self.simd,
                    &wk.a,
                    &wk.csf,
                    &wk.flt,
                    rf,
                    w,
                    h,
                    0.0,
                    s.bypass_cm,
                    s.p_norm,
                    &mut wk.terms,
                );
            }
            num += f64::from(num_scale);
            den += f64::from(den_scale);
            if s.skip_aim_scale != scale as i32 {
                aim_den += f64::from(den_scale);
                aim_num += f64::from(aim_scale);
            }
            scores[2 * scale] = f64::from(num_scale);
            scores[2 * scale + 1] = f64::from(den_scale);
            // The next scale reads the approximation bands.
            std::mem::swap(&mut cur_ref, &mut wk.ref_bands.a);
            std::mem::swap(&mut cur_dis, &mut wk.dis_bands.a);
        }
        wk.reference = cur_ref;
        wk.distorted = cur_dis;
        let num = if num < numden_limit { 0.0 } else { num };
        let den = if den < numden_limit { 0.0 } else { den };
        let (score, aim) = if den == 0.0 {
            // libvmaf leaves the AIM score unset here; 0 stands in for it.
            (1.0, 0.0)
        } else {
            let ratio = aim_num / aim_den;
            (num / den, if ratio < 1.0 { ratio } else { 1.0 })
        };
        Outcome {
            score,
            aim,
            num,
            den,
            scores,
        }
    }
}

/// C's `MAX`: the first operand only when strictly larger.
#[inline]
fn c_max(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

impl FeatureExtractor for FloatAdm {
    fn extract(
        &mut self,
        reference: &Picture,
        distorted: &Picture,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        self.geometry.check("float_adm", reference)?;
        self.geometry.check("float_adm", distorted)?;
        let (Some(rp), Some(dp)) = (reference.planes.first(), distorted.planes.first()) else {
            return Err(EngineError::PictureMismatch(
                "float_adm needs a luma plane".into(),
            ));
        };
        plane_to_float(rp, reference.bit_depth, &mut self.work.reference);
        plane_to_float(dp, distorted.bit_depth, &mut self.work.distorted);
        let o = self.compute();
        let s = &self.settings;
        let adm3 = if s.apply_hm {
            c_max(2.0 * o.score * o.aim / (o.score + o.aim), s.min_val)
        } else {
            c_max(
                o.score * s.dlm_weight + (1.0 - o.aim) * (1.0 - s.dlm_weight),
                s.min_val,
            )
        };
        let mut values = vec![o.score, o.aim, adm3];
        values.extend((0..4).map(|k| o.scores[2 * k] / o.scores[2 * k + 1]));
        if s.debug {
            values.extend([o.score, o.num, o.den]);
            values.extend(o.scores);
        }
        out.extend(
            values
                .into_iter()
                .enumerate()
                .map(|(k, value)| FeatureValue {
                    name: self.names[k].clone(),
                    index,
                    value,
                }),
        );
        Ok(())
    }
}
