//! libvmaf's integer VIF extractor (`vif`): visual information fidelity of the luma plane at
//! four dyadic scales, in libvmaf v3.2.0's fixed-point arithmetic, bit for bit.
//!
//! Each scale low-passes the reference and distorted pictures with a Gaussian, forms local
//! means, variances and covariance, and sums fixed-point log2 information terms. Between scales
//! the pictures are low-passed with the next scale's filter and decimated by two. Edges are
//! mirrored the way libvmaf mirrors its buffers in place, including its behaviour on pictures
//! so narrow that a scale is one sample wide (see [`kernels::mirror_columns`]).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod kernels;
mod simd;
mod tables;

use std::sync::Arc;

use self::kernels::{InfoSums, MomentRows, PaddedMoments, SigmaRows, VerticalShifts, PAD};
use self::tables::{Log2Table, MAX_HALF, TAPS};
use crate::cpu::SimdLevel;
use crate::feature::{ExtractorInfo, FeatureExtractor, FeatureValue, Geometry};
use crate::options::{OptionSpec, OptionValue, OptionValues};
use crate::picture::{Picture, Pixel, Plane, PlaneData};
use crate::EngineError;

/// Default and upper bound of the enhancement gain limit (1.0 disables any gain).
const DEFAULT_GAIN_LIMIT: f64 = 100.0;

/// Smallest picture height libvmaf can process: every scale needs at least one row (libvmaf
/// itself crashes below this).
pub const MIN_HEIGHT: usize = 8;

/// Options, as libvmaf's integer VIF declares them.
pub static OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "debug",
        alias: None,
        default: OptionValue::Bool(false),
        min: 0.0,
        max: 0.0,
        feature_param: false,
    },
    OptionSpec {
        name: "vif_enhn_gain_limit",
        alias: Some("egl"),
        default: OptionValue::Double(DEFAULT_GAIN_LIMIT),
        min: 1.0,
        max: DEFAULT_GAIN_LIMIT,
        feature_param: true,
    },
    OptionSpec {
        name: "vif_skip_scale0",
        alias: Some("ssclz"),
        default: OptionValue::Bool(false),
        min: 0.0,
        max: 0.0,
        feature_param: true,
    },
];

/// Everything the extractor can write, in libvmaf's declaration order. The first four are
/// always written; the rest only with `debug=true`, in this order too.
pub static PROVIDED_FEATURES: &[&str] = &[
    "VMAF_integer_feature_vif_scale0_score",
    "VMAF_integer_feature_vif_scale1_score",
    "VMAF_integer_feature_vif_scale2_score",
    "VMAF_integer_feature_vif_scale3_score",
    "integer_vif",
    "integer_vif_num",
    "integer_vif_den",
    "integer_vif_num_scale0",
    "integer_vif_den_scale0",
    "integer_vif_num_scale1",
    "integer_vif_den_scale1",
    "integer_vif_num_scale2",
    "integer_vif_den_scale2",
    "integer_vif_num_scale3",
    "integer_vif_den_scale3",
];

/// Registry entry.
pub static INFO: ExtractorInfo = ExtractorInfo {
    name: "vif",
    options: OPTIONS,
    provided_features: PROVIDED_FEATURES,
    temporal: false,
    create,
};

fn create(
    options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    Ok(Box::new(IntegerVif::new(options, geometry, simd)?))
}

/// Where a row under a filter tap comes from: `row` of the image of scale `scale`.
///
/// Mirrored rows normally come from the same scale; only when a scale is a single row high do
/// libvmaf's in-place copies pick up a row of the previous, finer scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RowSrc {
    scale: usize,
    row: usize,
}

/// Geometry of one scale and the source of every row its filters read.
#[derive(Debug, Clone)]
struct Level {
    width: usize,
    height: usize,
    /// Half the scale's own filter: rows `-half..height + half` are read.
    half: usize,
    /// Source of row `r` at index `r + half`.
    rows: Vec<RowSrc>,
}

impl Level {
    /// Sources of the rows under the taps centred on row `center`.
    #[inline]
    fn window(&self, center: usize, taps: usize) -> &[RowSrc] {
        let first = center + self.half - taps / 2;
        &self.rows[first..first + taps]
    }
}

/// A buffer row as libvmaf's in-place mirroring leaves it: a row of this scale, or a row
/// index whose content predates this scale's copy.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Fresh(usize),
    Stale(isize),
}

/// Replays libvmaf's top/bottom mirroring of a `height`-row image `pad` rows deep: row `-i`
/// takes row `i`, then row `height - 1 + i` takes row `height - 1 - i`, for `i = 1..=pad`.
/// Entry `r + pad` says what row `r` ends up holding.
fn mirror_rows(height: usize, pad: usize) -> Vec<Slot> {
    let pad_i = pad as isize;
    let mut slots: Vec<Slot> = (0..height + 2 * pad)
        .map(|i| {
            let r = i as isize - pad_i;
            if r >= 0 && (r as usize) < height {
                Slot::Fresh(r as usize)
            } else {
                Slot::Stale(r)
            }
        })
        .collect();
    let at = |r: isize| (r + pad_i) as usize;
    let last = height as isize - 1;
    for i in 1..=pad_i {
        slots[at(-i)] = slots[at(i)];
        slots[at(last + i)] = slots[at(last - i)];
    }
    slots
}

/// Builds the four levels for a `width` × `height` luma plane.
fn build_levels(width: usize, height: usize) -> Result<[Level; 4], EngineError> {
    let mut dims = [(width, height); 4];
    for s in 1..4 {
        dims[s] = (dims[s - 1].0 / 2, dims[s - 1].1 / 2);
    }
    // What each scale's in-place mirroring left in the shared buffer, and how deep it went:
    // libvmaf mirrors the full picture by scale 0's half filter and each decimated picture by
    // the half filter of the scale it was decimated from.
    let mut mirrored: Vec<(Vec<Slot>, usize)> = Vec::with_capacity(4);
    for (s, &(_, h)) in dims.iter().enumerate() {
        let pad = TAPS[s.saturating_sub(1)].len() / 2;
        mirrored.push((mirror_rows(h, pad), pad));
    }
    // Resolves buffer row `r` as seen at scale `s` to a real row of some scale.
    let resolve = |s: usize, r: isize| -> Option<RowSrc> {
        let (mut s, mut r) = (s, r);
        loop {
            let (slots, pad) = &mirrored[s];
            let inside = r >= -(*pad as isize) && r < (dims[s].1 + pad) as isize;
            if inside {
                match slots[(r + *pad as isize) as usize] {
                    Slot::Fresh(row) => return Some(RowSrc { scale: s, row }),
                    Slot::Stale(older) => r = older,
                }
            }
            // Rows outside this scale's copies still hold what the finer scale left there.
            // Scale 0's buffer holds another sample type, so nothing may resolve beyond it.
            if s <= 1 {
                return None;
            }
            s -= 1;
        }
    };
    let mut levels = Vec::with_capacity(4);
    for (s, &(w, h)) in dims.iter().enumerate() {
        let half = TAPS[s].len() / 2;
        let mut rows = Vec::with_capacity(h + 2 * half);
        for r in -(half as isize)..(h + half) as isize {
            let src = resolve(s, r).ok_or_else(|| {
                EngineError::UnsupportedPicture(format!(
                    "vif: a {width}x{height} picture is too small to mirror at scale {s}"
                ))
            })?;
            rows.push(src);
        }
        levels.push(Level {
            width: w,
            height: h,
            half,
            rows,
        });
    }
    levels
        .try_into()
        .map_err(|_| EngineError::UnsupportedPicture("vif: internal level count mismatch".into()))
}

/// A sample type of full-resolution luma, with its scale-0 vertical moment pass.
trait LumaSample: simd::DecimateSample + Pixel {
    /// Vertical moment pass of scale 0 for `bpc`-bit samples.
    fn vertical_moments(
        level: SimdLevel,
        taps: &[u16],
        ref_rows: &[&[Self]],
        dis_rows: &[&[Self]],
        bpc: u32,
        out: MomentRows<'_>,
    );
}

impl LumaSample for u8 {
    fn vertical_moments(
        level: SimdLevel,
        taps: &[u16],
        ref_rows: &[&[u8]],
        dis_rows: &[&[u8]],
        _bpc: u32,
        out: MomentRows<'_>,
    ) {
        simd::vertical_moments_8(level, taps, ref_rows, dis_rows, out);
    }
}

impl LumaSample for u16 {
    fn vertical_moments(
        level: SimdLevel,
        taps: &[u16],
        ref_rows: &[&[u16]],
        dis_rows: &[&[u16]],
        bpc: u32,
        out: MomentRows<'_>,
    ) {
        let shifts = VerticalShifts::full_resolution(bpc);
        simd::vertical_moments_16(level, taps, ref_rows, dis_rows, shifts, out);
    }
}

/// Row buffers reused for every row, scale and frame. The moment rows must persist across
/// scales and frames exactly like libvmaf's: on one-column scales the mirror reads them.
struct Scratch {
    /// The scorer's SIMD level, for every row kernel.
    simd: SimdLevel,
    mu1: Vec<u32>,
    mu2: Vec<u32>,
    xx: Vec<u32>,
    yy: Vec<u32>,
    xy: Vec<u32>,
    sigma1_sq: Vec<i32>,
    sigma2_sq: Vec<i32>,
    sigma12: Vec<i32>,
    conv_ref: Vec<u32>,
    conv_dis: Vec<u32>,
}

impl Scratch {
    fn new(width: usize, simd: SimdLevel) -> Self {
        let padded = || vec![0u32; width + 2 * PAD];
        Scratch {
            simd,
            mu1: padded(),
            mu2: padded(),
            xx: padded(),
            yy: padded(),
            xy: padded(),
            sigma1_sq: vec![0; width],
            sigma2_sq: vec![0; width],
            sigma12: vec![0; width],
            conv_ref: padded(),
            conv_dis: padded(),
        }
    }

    /// Runs the statistic of one scale: for each row, the vertical pass (`vertical` fills the
    /// moment rows from the rows under the taps), mirroring, the horizontal pass and the
    /// information sums.
    fn scale_sums<'a, T: 'a>(
        &mut self,
        level: &Level,
        taps: &[u16],
        rows: impl Fn(RowSrc) -> (&'a [T], &'a [T]),
        vertical: impl Fn(&[&[T]], &[&[T]], MomentRows<'_>),
        gain_limit: f64,
        table: &Log2Table,
    ) -> InfoSums {
        let (w, fw, half) = (level.width, taps.len(), taps.len() / 2);
        let mut sums = InfoSums::default();
        let mut ref_rows: [&[T]; 2 * MAX_HALF + 1] = [&[]; 2 * MAX_HALF + 1];
        let mut dis_rows: [&[T]; 2 * MAX_HALF + 1] = [&[]; 2 * MAX_HALF + 1];
        for i in 0..level.height {
            for (k, &src) in level.window(i, fw).iter().enumerate() {
                let (r, d) = rows(src);
                ref_rows[k] = &r[..w];
                dis_rows[k] = &d[..w];
            }
            let cols = PAD..PAD + w;
            vertical(
                &ref_rows[..fw],
                &dis_rows[..fw],
                MomentRows {
                    mu1: &mut self.mu1[cols.clone()],
                    mu2: &mut self.mu2[cols.clone()],
                    xx: &mut self.xx[cols.clone()],
                    yy: &mut self.yy[cols.clone()],
                    xy: &mut self.xy[cols],
                },
            );
            for buf in [
                &mut self.mu1,
                &mut self.mu2,
                &mut self.xx,
                &mut self.yy,
                &mut self.xy,
            ] {
                kernels::mirror_columns(buf, w, half);
            }
            if w == 0 {
                continue;
            }
            let span = PAD - half..PAD + w + half;
            simd::horizontal_sigmas(
                self.simd,
                taps,
                PaddedMoments {
                    mu1: &self.mu1[span.clone()],
                    mu2: &self.mu2[span.clone()],
                    xx: &self.xx[span.clone()],
                    yy: &self.yy[span.clone()],
                    xy: &self.xy[span],
                },
                SigmaRows {
                    sigma1_sq: &mut self.sigma1_sq[..w],
                    sigma2_sq: &mut self.sigma2_sq[..w],
                    sigma12: &mut self.sigma12[..w],
                },
            );
            simd::accumulate_info(
                self.simd,
                &self.sigma1_sq[..w],
                &self.sigma2_sq[..w],
                &self.sigma12[..w],
                gain_limit,
                table,
                &mut sums,
            );
        }
        sums
    }

    /// Low-passes the picture of `level` with `taps` (the next scale's filter) and decimates
    /// it into `out_ref` / `out_dis`, which have the geometry of `next`.
    #[allow(clippy::too_many_arguments)]
    fn decimate<'a, T: simd::DecimateSample + Pixel + 'a>(
        &mut self,
        level: &Level,
        next: &Level,
        taps: &[u16],
        rows: impl Fn(RowSrc) -> (&'a [T], &'a [T]),
        round: u32,
        shift: u32,
        out_ref: &mut [u16],
        out_dis: &mut [u16],
    ) {
        let (w, nw) = (level.width, next.width);
        if nw == 0 {
            return;
        }
        let fw = taps.len();
        let mut ref_rows: [&[T]; 2 * MAX_HALF + 1] = [&[]; 2 * MAX_HALF + 1];
        let mut dis_rows: [&[T]; 2 * MAX_HALF + 1] = [&[]; 2 * MAX_HALF + 1];
        for i in 0..next.height {
            for (k, &src) in level.window(2 * i, fw).iter().enumerate() {
                let (r, d) = rows(src);
                ref_rows[k] = &r[..w];
                dis_rows[k] = &d[..w];
            }
            simd::decimate_row(
                self.simd,
                taps,
                &ref_rows[..fw],
                &dis_rows[..fw],
                round,
                shift,
                &mut self.conv_ref,
                &mut self.conv_dis,
                &mut out_ref[i * nw..(i + 1) * nw],
                &mut out_dis[i * nw..(i + 1) * nw],
            );
        }
    }
}

/// Numerator and denominator of one scale, as `f32` like libvmaf keeps them.
#[derive(Debug, Clone, Copy, Default)]
struct ScaleScore {
    num: f32,
    den: f32,
}

/// The integer VIF extractor.
pub struct IntegerVif {
    gain_limit: f64,
    debug: bool,
    skip_scale0: bool,
    geometry: Geometry,
    /// Collector names of [`PROVIDED_FEATURES`] under this instance's options.
    names: Vec<Arc<str>>,
    levels: [Level; 4],
    /// Decimated reference and distorted luma of scales 1 to 3, rows packed `width` apart.
    ref_scales: [Vec<u16>; 3],
    dis_scales: [Vec<u16>; 3],
    scratch: Scratch,
    table: &'static Log2Table,
}

impl IntegerVif {
    /// An extractor for pictures of `geometry`, configured by `options` (see [`OPTIONS`]).
    pub fn new(
        options: &OptionValues,
        geometry: Geometry,
        simd: SimdLevel,
    ) -> Result<Self, EngineError> {
        // The kernels trust the level: a public constructor must not let an unsupported one in.
        let simd = simd.require()?;
        if !(8..=16).contains(&geometry.bit_depth) {
            return Err(EngineError::UnsupportedPicture(format!(
                "vif: bit depth {} is outside 8..=16",
                geometry.bit_depth
            )));
        }
        if geometry.width == 0 || geometry.height < MIN_HEIGHT {
            return Err(EngineError::UnsupportedPicture(format!(
                "vif needs at least 1x{MIN_HEIGHT} pixels, got {}x{}",
                geometry.width, geometry.height
            )));
        }
        let levels = build_levels(geometry.width, geometry.height)?;
        let plane = |s: usize| vec![0u16; levels[s].width * levels[s].height];
        Ok(IntegerVif {
            gain_limit: options.get_double("vif_enhn_gain_limit"),
            debug: options.get_bool("debug"),
            skip_scale0: options.get_bool("vif_skip_scale0"),
            geometry,
            names: PROVIDED_FEATURES
                .iter()
                .map(|n| Arc::from(options.feature_name(n)))
                .collect(),
            ref_scales: [plane(1), plane(2), plane(3)],
            dis_scales: [plane(1), plane(2), plane(3)],
            levels,
            scratch: Scratch::new(geometry.width, simd),
            table: Log2Table::get(),
        })
    }

    /// Numerators and denominators of the four scales for one luma pair.
    fn scores<T: LumaSample>(&mut self, r: &Plane<T>, d: &Plane<T>) -> [ScaleScore; 4] {
        let bpc = self.geometry.bit_depth as u32;
        let simd = self.scratch.simd;
        let mut out = [ScaleScore::default(); 4];
        let full_rows = |src: RowSrc| (r.row(src.row), d.row(src.row));

        if !self.skip_scale0 {
            let sums = self.scratch.scale_sums(
                &self.levels[0],
                TAPS[0],
                full_rows,
                |rr, dr, m| T::vertical_moments(simd, TAPS[0], rr, dr, bpc, m),
                self.gain_limit,
                self.table,
            );
            let (num, den) = sums.num_den();
            out[0] = ScaleScore { num, den };
        }

        // Scale 0 to 1: the full-resolution samples are rescaled to 16 bits on the way.
        self.scratch.decimate(
            &self.levels[0],
            &self.levels[1],
            TAPS[1],
            full_rows,
            1 << (bpc - 1),
            bpc,
            &mut self.ref_scales[0],
            &mut self.dis_scales[0],
        );
        for s in 1..4 {
            if s > 1 {
                let (done_r, todo_r) = self.ref_scales.split_at_mut(s - 1);
                let (done_d, todo_d) = self.dis_scales.split_at_mut(s - 1);
                let (src_r, src_d) = (&done_r[s - 2], &done_d[s - 2]);
                let w = self.levels[s - 1].width;
                self.scratch.decimate(
                    &self.levels[s - 1],
                    &self.levels[s],
                    TAPS[s],
                    |src: RowSrc| {
                        debug_assert_eq!(src.scale, s - 1);
                        (&src_r[src.row * w..], &src_d[src.row * w..])
                    },
                    1 << 15,
                    16,
                    &mut todo_r[0],
                    &mut todo_d[0],
                );
            }
            let (refs, diss, levels) = (&self.ref_scales, &self.dis_scales, &self.levels);
            let rows = |src: RowSrc| {
                let w = levels[src.scale].width;
                let (r, d) = (&refs[src.scale - 1], &diss[src.scale - 1]);
                (&r[src.row * w..], &d[src.row * w..])
            };
            let shifts = VerticalShifts::decimated();
            let sums = self.scratch.scale_sums(
                &levels[s],
                TAPS[s],
                rows,
                |rr, dr, m| simd::vertical_moments_16(simd, TAPS[s], rr, dr, shifts, m),
                self.gain_limit,
                self.table,
            );
            let (num, den) = sums.num_den();
            out[s] = ScaleScore { num, den };
        }
        out
    }

    fn push(&self, out: &mut Vec<FeatureValue>, which: usize, index: u32, value: f64) {
        out.push(FeatureValue {
            name: Arc::clone(&self.names[which]),
            index,
            value,
        });
    }
}

impl FeatureExtractor for IntegerVif {
    fn extract(
        &mut self,
        reference: &Picture,
        distorted: &Picture,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        reference.check_same_shape(distorted)?;
        self.geometry.check("vif", reference)?;
        let scales = match (reference.planes.first(), distorted.planes.first()) {
            (Some(PlaneData::U8(r)), Some(PlaneData::U8(d))) => self.scores(r, d),
            (Some(PlaneData::U16(r)), Some(PlaneData::U16(d))) => self.scores(r, d),
            _ => {
                return Err(EngineError::PictureMismatch(
                    "vif: luma planes of differing sample types".into(),
                ))
            }
        };

        let ratio = |s: &ScaleScore| (s.num / s.den) as f64;
        let scale0 = if self.skip_scale0 {
            0.0
        } else {
            ratio(&scales[0])
        };
        self.push(out, 0, index, scale0);
        for (s, score) in scales.iter().enumerate().skip(1) {
            self.push(out, s, index, ratio(score));
        }
        if !self.debug {
            return Ok(());
        }

        let first = if self.skip_scale0 { 1 } else { 0 };
        let num: f64 = scales[first..].iter().map(|s| s.num as f64).sum();
        let den: f64 = scales[first..].iter().map(|s| s.den as f64).sum();
        let score = if den == 0.0 { 1.0 } else { num / den };
        self.push(out, 4, index, score);
        self.push(out, 5, index, num);
        self.push(out, 6, index, den);
        for (s, sc) in scales.iter().enumerate() {
            let (n, d) = if s == 0 && self.skip_scale0 {
                (0.0, -1.0)
            } else {
                (sc.num as f64, sc.den as f64)
            };
            self.push(out, 7 + 2 * s, index, n);
            self.push(out, 8 + 2 * s, index, d);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::PixelFormat;

    fn xorshift(state: &mut u32) -> u32 {
        let mut x = *state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *state = x;
        x
    }

    /// A deterministic textured reference and a noisy distorted copy, 4:2:0 with flat chroma.
    /// The same generator (a Python twin) wrote the .yuv files the expected values come from.
    fn synthetic(w: usize, h: usize, bpc: u8, seed: u32, frames: usize) -> Vec<(Picture, Picture)> {
        let max = (1i64 << bpc) - 1;
        let mut s = seed;
        let mut out = Vec::new();
        for f in 0..frames {
            let mut r = Picture::new(PixelFormat::Yuv420, bpc, w, h).unwrap();
            let mut d = Picture::new(PixelFormat::Yuv420, bpc, w, h).unwrap();
            let mut luma = Vec::with_capacity(w * h * 2);
            for y in 0..h as i64 {
                for x in 0..w as i64 {
                    let base = (x * x + 3 * y * y + 5 * x * y + 11 * f as i64) % (max + 1 - 64);
                    let rv = base + (xorshift(&mut s) & 63) as i64;
                    let dv = (rv + (xorshift(&mut s) % 81) as i64 - 40).clamp(0, max);
                    luma.push((rv, dv));
                }
            }
            for (pic, pick) in [(&mut r, 0), (&mut d, 1)] {
                for (i, plane) in pic.planes.iter_mut().enumerate() {
                    let value = |k: usize| {
                        if i == 0 {
                            if pick == 0 {
                                luma[k].0
                            } else {
                                luma[k].1
                            }
                        } else {
                            1 << (bpc - 1)
                        }
                    };
                    match plane {
                        PlaneData::U8(p) => {
                            for (k, v) in p.data.iter_mut().enumerate() {
                                *v = value(k) as u8;
                            }
                        }
                        PlaneData::U16(p) => {
                            for (k, v) in p.data.iter_mut().enumerate() {
                                *v = value(k) as u16;
                            }
                        }
                    }
                }
            }
            out.push((r, d));
        }
        out
    }

    fn run(options: &[(&str, &str)], pairs: &[(Picture, Picture)]) -> Vec<FeatureValue> {
        let pairs_owned: Vec<(String, String)> = options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let opts = OptionValues::parse("vif", OPTIONS, &pairs_owned).unwrap();
        let first = &pairs[0].0;
        let geometry = Geometry {
            format: first.format,
            bit_depth: first.bit_depth,
            width: first.width,
            height: first.height,
        };
        let mut ex = (INFO.create)(&opts, geometry, SimdLevel::detect()).unwrap();
        let mut out = Vec::new();
        for (i, (r, d)) in pairs.iter().enumerate() {
            ex.extract(r, d, i as u32, &mut out).unwrap();
        }
        out
    }

    /// Checks names, order and values: `expected` holds (frame, name, libvmaf CLI value printed
    /// to 6 decimals, the exact f64 bits libvmaf computed).
    fn check(got: &[FeatureValue], expected: &[(u32, &str, f64, u64)]) {
        assert_eq!(got.len(), expected.len());
        for (g, &(index, name, cli, bits)) in got.iter().zip(expected) {
            assert_eq!((g.index, &*g.name), (index, name));
            assert!(
                (g.value - cli).abs() <= 1e-6,
                "{name}: {} vs {cli}",
                g.value
            );
            assert_eq!(g.value.to_bits(), bits, "{name}: {} not bit-exact", g.value);
        }
    }

    // Expected values: libvmaf v3.2.0,
    //   vmaf -r r8.yuv -d d8.yuv -w 37 -h 29 -p 420 -b 8 --feature vif -n --json -o o8.json
    // on the pair `synthetic(37, 29, 8, 1, 2)`; the bits come from the same pair run through
    // libvmaf.so and read back with vmaf_feature_score_at_index.
    #[test]
    fn odd_sized_8_bit_matches_libvmaf() {
        let got = run(&[], &synthetic(37, 29, 8, 1, 2));
        check(
            &got,
            &[
                (
                    0,
                    "VMAF_integer_feature_vif_scale0_score",
                    0.26743,
                    0x3fd11d9160000000,
                ),
                (
                    0,
                    "VMAF_integer_feature_vif_scale1_score",
                    0.482615,
                    0x3fdee32b80000000,
                ),
                (
                    0,
                    "VMAF_integer_feature_vif_scale2_score",
                    0.674132,
                    0x3fe5927ca0000000,
                ),
                (
                    0,
                    "VMAF_integer_feature_vif_scale3_score",
                    0.819463,
                    0x3fea3909e0000000,
                ),
                (
                    1,
                    "VMAF_integer_feature_vif_scale0_score",
                    0.26805,
                    0x3fd127b960000000,
                ),
                (
                    1,
                    "VMAF_integer_feature_vif_scale1_score",
                    0.419055,
                    0x3fdad1cd00000000,
                ),
                (
                    1,
                    "VMAF_integer_feature_vif_scale2_score",
                    0.593232,
                    0x3fe2fbc0c0000000,
                ),
                (
                    1,
                    "VMAF_integer_feature_vif_scale3_score",
                    1.031972,
                    0x3ff082f540000000,
                ),
            ],
        );
    }

    // libvmaf v3.2.0: vmaf -r r10.yuv -d d10.yuv -w 33 -h 20 -p 420 -b 10
    //   --feature vif=vif_enhn_gain_limit=1.0:debug=true -n --json -o o10.json
    // on `synthetic(33, 20, 10, 2, 1)`.
    #[test]
    fn ten_bit_gain_limit_and_debug_match_libvmaf() {
        let got = run(
            &[("vif_enhn_gain_limit", "1.0"), ("debug", "true")],
            &synthetic(33, 20, 10, 2, 1),
        );
        check(
            &got,
            &[
                (0, "integer_vif_scale0_egl_1", 0.622043, 0x3fe3e7c760000000),
                (0, "integer_vif_scale1_egl_1", 0.938676, 0x3fee09a2c0000000),
                (0, "integer_vif_scale2_egl_1", 0.969513, 0x3fef063fe0000000),
                (0, "integer_vif_scale3_egl_1", 0.987663, 0x3fef9aeec0000000),
                (0, "integer_vif_egl_1", 0.67423, 0x3fe5934b5812da09),
                (0, "integer_vif_num_egl_1", 5810.055176, 0x40b6b20e20000000),
                (0, "integer_vif_den_egl_1", 8617.315918, 0x40c0d4a870000000),
                (
                    0,
                    "integer_vif_num_scale0_egl_1",
                    4496.73584,
                    0x40b190bc60000000,
                ),
                (
                    0,
                    "integer_vif_den_scale0_egl_1",
                    7228.975586,
                    0x40bc3cf9c0000000,
                ),
                (
                    0,
                    "integer_vif_num_scale1_egl_1",
                    1028.027832,
                    0x4090101c80000000,
                ),
                (
                    0,
                    "integer_vif_den_scale1_egl_1",
                    1095.188965,
                    0x40911cc180000000,
                ),
                (
                    0,
                    "integer_vif_num_scale2_egl_1",
                    226.657715,
                    0x406c550c00000000,
                ),
                (
                    0,
                    "integer_vif_den_scale2_egl_1",
                    233.785156,
                    0x406d392000000000,
                ),
                (
                    0,
                    "integer_vif_num_scale3_egl_1",
                    58.633789,
                    0x404d512000000000,
                ),
                (
                    0,
                    "integer_vif_den_scale3_egl_1",
                    59.366211,
                    0x404daee000000000,
                ),
            ],
        );
    }

    // libvmaf v3.2.0: vmaf -r r16.yuv -d d16.yuv -w 40 -h 16 -p 420 -b 16
    //   --feature vif=vif_skip_scale0=true:debug=true -n --json -o o16.json
    // on `synthetic(40, 16, 16, 3, 1)`.
    #[test]
    fn sixteen_bit_skip_scale0_matches_libvmaf() {
        let got = run(
            &[("vif_skip_scale0", "true"), ("debug", "true")],
            &synthetic(40, 16, 16, 3, 1),
        );
        check(
            &got,
            &[
                (0, "integer_vif_scale0_ssclz", 0.0, 0),
                (0, "integer_vif_scale1_ssclz", 1.000086, 0x3ff0005aa0000000),
                (0, "integer_vif_scale2_ssclz", 0.999014, 0x3feff7ece0000000),
                (0, "integer_vif_scale3_ssclz", 0.999192, 0x3feff96120000000),
                (0, "integer_vif_ssclz", 0.999846, 0x3feffebdf0774030),
                (0, "integer_vif_num_ssclz", 289.043983, 0x407210b428000000),
                (0, "integer_vif_den_ssclz", 289.088379, 0x4072116a00000000),
                (0, "integer_vif_num_scale0_ssclz", 0.0, 0),
                (0, "integer_vif_den_scale0_ssclz", -1.0, 0xbff0000000000000),
                (
                    0,
                    "integer_vif_num_scale1_ssclz",
                    222.266266,
                    0x406bc88540000000,
                ),
                (
                    0,
                    "integer_vif_den_scale1_ssclz",
                    222.24707,
                    0x406bc7e800000000,
                ),
                (
                    0,
                    "integer_vif_num_scale2_ssclz",
                    53.859943,
                    0x404aee12a0000000,
                ),
                (
                    0,
                    "integer_vif_den_scale2_ssclz",
                    53.913086,
                    0x404af4e000000000,
                ),
                (
                    0,
                    "integer_vif_num_scale3_ssclz",
                    12.917774,
                    0x4029d5e680000000,
                ),
                (
                    0,
                    "integer_vif_den_scale3_ssclz",
                    12.928223,
                    0x4029db4000000000,
                ),
            ],
        );
    }

    // libvmaf v3.2.0: vmaf -r r12.yuv -d d12.yuv -w 5 -h 9 -p 420 -b 12 --feature vif -n
    //   --json -o o12.json on `synthetic(5, 9, 12, 4, 2)`. Scale 2 is one column wide, so its
    // mirror reads what scale 1 left in the row buffers; scale 3 is empty and libvmaf writes
    // 0/0 (JSON null).
    #[test]
    fn tiny_picture_reproduces_libvmaf_edge_behaviour() {
        let got = run(&[], &synthetic(5, 9, 12, 4, 2));
        let nan = f64::from(f32::NAN).to_bits();
        let expected: [(u32, &str, f64, u64); 6] = [
            (
                0,
                "VMAF_integer_feature_vif_scale0_score",
                0.731927,
                0x3fe76bf1a0000000,
            ),
            (
                0,
                "VMAF_integer_feature_vif_scale1_score",
                0.863043,
                0x3feb9e0ca0000000,
            ),
            (
                0,
                "VMAF_integer_feature_vif_scale2_score",
                0.871789,
                0x3febe5b1c0000000,
            ),
            (
                1,
                "VMAF_integer_feature_vif_scale0_score",
                0.788498,
                0x3fe93b5f20000000,
            ),
            (
                1,
                "VMAF_integer_feature_vif_scale1_score",
                1.034503,
                0x3ff08d52e0000000,
            ),
            (
                1,
                "VMAF_integer_feature_vif_scale2_score",
                1.02845,
                0x3ff07487c0000000,
            ),
        ];
        let finite: Vec<FeatureValue> = got.iter().filter(|v| !v.value.is_nan()).cloned().collect();
        check(&finite, &expected);
        let empty: Vec<&FeatureValue> = got.iter().filter(|v| v.value.is_nan()).collect();
        assert_eq!(empty.len(), 2);
        for v in empty {
            assert_eq!(&*v.name, "VMAF_integer_feature_vif_scale3_score");
            // Only the payload is fixed; x86 sets the sign of 0/0, other targets may not.
            assert_eq!(v.value.to_bits() & !(1 << 63), nan & !(1 << 63));
        }
    }

    #[test]
    fn identical_flat_pictures_score_exactly_one() {
        let mut r = Picture::new(PixelFormat::Yuv444, 10, 24, 17).unwrap();
        if let PlaneData::U16(p) = &mut r.planes[0] {
            p.data.iter_mut().for_each(|v| *v = 700);
        }
        let got = run(&[("debug", "true")], &[(r.clone(), r)]);
        assert_eq!(got.len(), PROVIDED_FEATURES.len());
        for (v, name) in got.iter().zip(PROVIDED_FEATURES) {
            assert_eq!(&*v.name, *name);
        }
        for v in &got[..5] {
            assert_eq!(v.value, 1.0, "{}", v.name);
        }
        // Every pixel lies below the noise floor: numerator = denominator = pixel count.
        assert_eq!(got[7].value, (24 * 17) as f64);
        assert_eq!(got[8].value, (24 * 17) as f64);
    }

    #[test]
    fn options_mirror_libvmaf() {
        let names: Vec<_> = OPTIONS
            .iter()
            .map(|o| (o.name, o.alias, o.feature_param))
            .collect();
        assert_eq!(
            names,
            [
                ("debug", None, false),
                ("vif_enhn_gain_limit", Some("egl"), true),
                ("vif_skip_scale0", Some("ssclz"), true),
            ]
        );
        assert!(OptionValues::parse(
            "vif",
            OPTIONS,
            &[("vif_enhn_gain_limit".into(), "0.9".into())]
        )
        .is_err());
        assert!(OptionValues::parse(
            "vif",
            OPTIONS,
            &[("vif_enhn_gain_limit".into(), "100.5".into())]
        )
        .is_err());
        assert!(INFO
            .provided_features
            .contains(&"VMAF_integer_feature_vif_scale3_score"));
        let opts = OptionValues::parse(
            "vif",
            OPTIONS,
            &[
                ("vif_skip_scale0".into(), "true".into()),
                ("vif_enhn_gain_limit".into(), "1.5".into()),
            ],
        )
        .unwrap();
        assert_eq!(
            opts.feature_name("VMAF_integer_feature_vif_scale1_score"),
            "integer_vif_scale1_egl_1.5_ssclz"
        );
    }

    #[test]
    fn refuses_pictures_libvmaf_cannot_process() {
        let opts = OptionValues::defaults("vif", OPTIONS);
        let geometry = |w, h| Geometry {
            format: PixelFormat::Yuv420,
            bit_depth: 8,
            width: w,
            height: h,
        };
        assert!((INFO.create)(&opts, geometry(64, 7), SimdLevel::detect()).is_err());
        assert!((INFO.create)(&opts, geometry(1, 8), SimdLevel::detect()).is_ok());
        let mut ex = (INFO.create)(&opts, geometry(16, 16), SimdLevel::detect()).unwrap();
        let a = Picture::new(PixelFormat::Yuv420, 8, 16, 16).unwrap();
        let b = Picture::new(PixelFormat::Yuv420, 8, 16, 18).unwrap();
        assert!(ex.extract(&a, &b, 0, &mut Vec::new()).is_err());
        assert!(ex.extract(&b, &b, 0, &mut Vec::new()).is_err());
    }

    #[test]
    fn one_row_scale_mirrors_the_finer_scale() {
        // Height 9 leaves scale 3 one row high: its mirrored rows are scale 2's row 1.
        let levels = build_levels(16, 9).unwrap();
        assert_eq!(levels[3].height, 1);
        let at = |scale, row| RowSrc { scale, row };
        assert_eq!(levels[3].rows, [at(2, 1), at(3, 0), at(2, 1)]);
        // Taller pictures mirror within the scale (reflect-101).
        let levels = build_levels(64, 64).unwrap();
        assert_eq!(levels[0].rows[..3], [at(0, 8), at(0, 7), at(0, 6)]);
        assert_eq!(
            levels[3].rows,
            [
                at(3, 1),
                at(3, 0),
                at(3, 1),
                at(3, 2),
                at(3, 3),
                at(3, 4),
                at(3, 5),
                at(3, 6),
                at(3, 7),
                at(3, 6)
            ]
        );
    }
}
