//! libvmaf v3.2.0's `float_motion` extractor: the mean absolute difference between the blurred
//! luma of consecutive reference frames (`motion`), its two-frame minimum (`motion2`) and the
//! blended `motion3`, in single precision, optionally with the chroma planes and a half-size
//! second scale added.
//!
//! Values are written when libvmaf writes them: frame `k`'s `motion` while extracting `k`,
//! its `motion2`/`motion3` while extracting `k + 1` (the last frame's at flush), so the
//! outputs keep libvmaf's column order.

use std::sync::Arc;

use crate::cpu::SimdLevel;
use crate::feature::float_common::{
    check_depth, convolve, plane_to_float, scale_frame, ConvScratch, ScaleMethod,
};
use crate::feature::{ExtractorInfo, FeatureExtractor, FeatureValue, Geometry};
use crate::options::{OptionSpec, OptionValue, OptionValues};
use crate::picture::{Picture, PixelFormat};
use crate::EngineError;

#[cfg(test)]
mod tests;

/// Options of libvmaf v3.2.0's `float_motion`, with its names, aliases, defaults and ranges.
/// `debug` is on by default there, so `motion` is written unless it is turned off.
pub static OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "debug",
        alias: None,
        default: OptionValue::Bool(true),
        min: 0.0,
        max: 0.0,
        feature_param: false,
    },
    OptionSpec::switch("motion_force_zero", Some("force_0"), true),
    OptionSpec::param_double("motion_fps_weight", Some("mfw"), 1.0, 0.0, 5.0),
    OptionSpec::param_double("motion_blend_factor", Some("mbf"), 1.0, 0.0, 1.0),
    OptionSpec::param_double("motion_blend_offset", Some("mbo"), 40.0, 0.0, 1000.0),
    OptionSpec::switch("motion_add_scale1", Some("mdc"), true),
    OptionSpec {
        name: "motion_filter_size",
        alias: Some("mfs"),
        default: OptionValue::Int(5),
        min: 0.0,
        max: 9.0,
        feature_param: true,
    },
    OptionSpec::switch("motion_add_uv", Some("mau"), true),
    OptionSpec::param_double("motion_max_val", Some("mmxv"), 10000.0, 0.0, 10000.0),
];

const MOTION: &str = "VMAF_feature_motion_score";
const MOTION2: &str = "VMAF_feature_motion2_score";
const MOTION3: &str = "VMAF_feature_motion3_score";

/// Registry entry.
pub static INFO: ExtractorInfo = ExtractorInfo {
    name: "float_motion",
    options: OPTIONS,
    provided_features: &[MOTION, MOTION2, MOTION3],
    temporal: true,
    create,
};

fn create(
    options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    Ok(Box::new(FloatMotion::new(options, geometry, simd)?))
}

const FILTER_5: [f32; 5] = [
    0.054488685f64 as f32,
    0.244201342f64 as f32,
    0.402619947f64 as f32,
    0.244201342f64 as f32,
    0.054488685f64 as f32,
];
const FILTER_3: [f32; 3] = [
    0.166378498f64 as f32,
    0.667243004f64 as f32,
    0.166378498f64 as f32,
];
const FILTER_5_NO_OP: [f32; 5] = [0.0, 0.0, 1.0, 0.0, 0.0];

/// libvmaf's `ALIGN_CEIL` of a row of `w` floats, in floats (32-byte rows).
fn aligned_floats(w: usize) -> usize {
    w.div_ceil(8) * 8
}

/// One plane's blurred frames (a ring of three) and scratch.
#[derive(Debug)]
struct PlaneState {
    plane: usize,
    width: usize,
    height: usize,
    blur: [Vec<f32>; 3],
    samples: Vec<f32>,
    conv: ConvScratch,
}

/// libvmaf's `vmaf_image_sad_c`: the mean absolute difference, plus with `add_scale1` the
/// same on bilinear half-size copies. `layout_stride` is the row stride libvmaf's buffers
/// really have (the luma one for every plane) and which its half-size step ignores.
struct Sad {
    add_scale1: bool,
    layout_stride: usize,
}

impl Sad {
    fn mean_abs(a: &[f32], b: &[f32], w: usize, h: usize) -> f32 {
        let mut accum: f32 = 0.0;
        for i in 0..h {
            let mut line: f32 = 0.0;
            for (&x, &y) in a[i * w..(i + 1) * w].iter().zip(&b[i * w..(i + 1) * w]) {
                line += (x - y).abs();
            }
            accum += line;
        }
        accum / (w * h) as f32
    }

    /// Lays a packed plane out as libvmaf's buffer is (rows `layout_stride` apart, zero
    /// padding).
    fn laid_out(&self, p: &[f32], w: usize, h: usize) -> Vec<f32> {
        let mut out = vec![0f32; self.layout_stride * h];
        for y in 0..h {
            out[y * self.layout_stride..y * self.layout_stride + w]
                .copy_from_slice(&p[y * w..(y + 1) * w]);
        }
        out
    }

    fn score(&self, a: &[f32], b: &[f32], w: usize, h: usize) -> f64 {
        let scale0 = Self::mean_abs(a, b, w, h);
        if !self.add_scale1 {
            return f64::from(scale0);
        }
        let sw = (w as f64 * 0.5 + 0.5) as usize;
        let sh = (h as f64 * 0.5 + 0.5) as usize;
        let read_stride = aligned_floats(w);
        let (la, lb) = (self.laid_out(a, w, h), self.laid_out(b, w, h));
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        let m = ScaleMethod::Bilinear;
        scale_frame(m, &la, read_stride, w, h, sw, sh, &mut sa);
        scale_frame(m, &lb, read_stride, w, h, sw, sh, &mut sb);
        let scale1 = Self::mean_abs(&sa, &sb, sw, sh);
        f64::from(scale0 + scale1)
    }
}

/// The `float_motion` extractor.
#[derive(Debug)]
pub struct FloatMotion {
    geometry: Geometry,
    simd: SimdLevel,
    debug: bool,
    force_zero: bool,
    fps_weight: f64,
    blend_factor: f64,
    blend_offset: f64,
    max_val: f64,
    add_scale1: bool,
    filter: &'static [f32],
    planes: Vec<PlaneState>,
    /// Last extracted frame and its score, for flush.
    index: u32,
    score: f64,
    /// The SAD between the previous two frames, which the next frame's motion2 needs.
    prev_score: f64,
    frames: u32,
    names: [Arc<str>; 3],
}

/// C's `MIN`: the first operand only when strictly smaller.
#[inline]
fn c_min(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else {
        b
    }
}

impl FloatMotion {
    /// Builds the extractor for pictures of `geometry`. Refuses `motion_add_uv` without chroma
    /// (as libvmaf does) and planes too small for the mirrored 5-tap blur.
    pub fn new(
        options: &OptionValues,
        geometry: Geometry,
        simd: SimdLevel,
    ) -> Result<Self, EngineError> {
        let simd = simd.require()?;
        check_depth("float_motion", geometry.bit_depth)?;
        let add_uv = options.get_bool("motion_add_uv");
        if add_uv && geometry.format == PixelFormat::Yuv400 {
            return Err(EngineError::InvalidOption {
                owner: "float_motion".into(),
                key: "motion_add_uv".into(),
                value: "true".into(),
                reason: "the pictures have no chroma".into(),
            });
        }
        let filter: &'static [f32] = match options.get_int("motion_filter_size") {
            1 => &FILTER_5_NO_OP,
            3 => &FILTER_3,
            _ => &FILTER_5,
        };
        let count = if add_uv { 3 } else { 1 };
        let mut planes = Vec::with_capacity(count);
        for plane in 0..count {
            let (width, height) =
                geometry
                    .format
                    .plane_size(plane, geometry.width, geometry.height);
            let radius = filter.len() / 2;
            if width <= radius || height <= radius {
                return Err(EngineError::UnsupportedPicture(format!(
                    "float_motion needs planes larger than {radius}x{radius}, plane {plane} is \
                     {width}x{height}"
                )));
            }
            planes.push(PlaneState {
                plane,
                width,
                height,
                blur: Default::default(),
                samples: Vec::new(),
                conv: ConvScratch::default(),
            });
        }
        let name = |p: &str| Arc::<str>::from(options.feature_name(p));
        Ok(FloatMotion {
            geometry,
            simd,
            debug: options.get_bool("debug"),
            force_zero: options.get_bool("motion_force_zero"),
            fps_weight: options.get_double("motion_fps_weight"),
            blend_factor: options.get_double("motion_blend_factor"),
            blend_offset: options.get_double("motion_blend_offset"),
            max_val: options.get_double("motion_max_val"),
            add_scale1: options.get_bool("motion_add_scale1"),
            filter,
            planes,
            index: 0,
            score: 0.0,
            prev_score: 0.0,
            frames: 0,
            names: [name(MOTION), name(MOTION2), name(MOTION3)],
        })
    }

    fn blend(&self, score: f64) -> f64 {
        let blended =
            score * self.blend_factor + (1.0 - self.blend_factor) * c_min(self.blend_offset, score);
        c_min(blended, self.max_val)
    }

    /// The summed SAD of every plane between ring slots `a` and `b`.
    fn sad(&self, a: usize, b: usize) -> f64 {
        let sad = Sad {
            add_scale1: self.add_scale1,
            layout_stride: aligned_floats(self.geometry.width),
        };
        let mut total = 0.0;
        for p in &self.planes {
            total += sad.score(&p.blur[a], &p.blur[b], p.width, p.height);
        }
        total
    }

    fn push(out: &mut Vec<FeatureValue>, name: &Arc<str>, index: u32, value: f64) {
        out.push(FeatureValue {
            name: name.clone(),
            index,
            value,
        });
    }
}

impl FeatureExtractor for FloatMotion {
    fn extract(
        &mut self,
        reference: &Picture,
        distorted: &Picture,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        self.geometry.check("float_motion", reference)?;
        self.geometry.check("float_motion", distorted)?;
        let [motion, motion2, motion3] = self.names.clone();
        if self.force_zero {
            Self::push(out, &motion2, index, 0.0);
            Self::push(out, &motion3, index, 0.0);
            if self.debug {
                Self::push(out, &motion, index, 0.0);
            }
            return Ok(());
        }
        self.index = index;
        self.frames += 1;
        let b0 = (index % 3) as usize;
        let b2 = ((index + 2) % 3) as usize;
        for p in &mut self.planes {
            let Some(data) = reference.planes.get(p.plane) else {
                return Err(EngineError::PictureMismatch(format!(
                    "float_motion needs plane {}",
                    p.plane
                )));
            };
            if data.width() != p.width || data.height() != p.height {
                return Err(EngineError::PictureMismatch(format!(
                    "float_motion plane {} is {}x{}, expected {}x{}",
                    p.plane,
                    data.width(),
                    data.height(),
                    p.width,
                    p.height
                )));
            }
            plane_to_float(data, reference.bit_depth, &mut p.samples);
            convolve(
                self.simd,
                self.filter,
                &p.samples,
                p.width,
                p.height,
                &mut p.blur[b0],
                &mut p.conv,
            );
        }
        if index == 0 {
            Self::push(out, &motion2, index, 0.0);
            if self.debug {
                Self::push(out, &motion, index, 0.0);
            }
            return Ok(());
        }
        let score = self.sad(b2, b0);
        if self.debug {
            Self::push(
                out,
                &motion,
                index,
                c_min(score * self.fps_weight, self.max_val),
            );
        }
        self.score = score;
        let previous = std::mem::replace(&mut self.prev_score, score);
        if index == 1 {
            Self::push(out, &motion3, 0, self.blend(score * self.fps_weight));
            return Ok(());
        }
        // libvmaf recomputes the previous frame's SAD here, with its operands swapped; |a - b|
        // is symmetric and every step is per sample, so the stored score is the same bits.
        let score2 = previous;
        let score2 = if score2 < score { score2 } else { score };
        Self::push(
            out,
            &motion2,
            index - 1,
            c_min(score2 * self.fps_weight, self.max_val),
        );
        Self::push(
            out,
            &motion3,
            index - 1,
            self.blend(score2 * self.fps_weight),
        );
        Ok(())
    }

    fn flush(&mut self, out: &mut Vec<FeatureValue>) -> Result<(), EngineError> {
        if self.force_zero || self.frames == 0 {
            return Ok(());
        }
        let [_, motion2, motion3] = self.names.clone();
        if self.index > 0 {
            Self::push(
                out,
                &motion2,
                self.index,
                c_min(self.score * self.fps_weight, self.max_val),
            );
            Self::push(
                out,
                &motion3,
                self.index,
                self.blend(self.score * self.fps_weight),
            );
        } else {
            Self::push(out, &motion3, 0, 0.0);
        }
        // A second flush writes nothing more.
        self.frames = 0;
        Ok(())
    }
}
