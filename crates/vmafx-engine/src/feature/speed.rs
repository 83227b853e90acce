//! libvmaf v3.2.0's SpEED extractors: `speed_chroma` (spatial SpEED of the U and V planes,
//! and their mean) and `speed_temporal` (SpEED of frame differences of the luma plane).
//!
//! Each plane is converted to libvmaf's floats (`sample / scaler - 128`), optionally
//! prescaled, blurred and decimated by 16, high-passed, and modelled block by block (5x5)
//! as a Gaussian scale mixture; the score is the mean absolute difference of the
//! variance-weighted block entropies of reference and distorted. See [`kernel`].
//!
//! Subsampled chroma is measured over the size libvmaf allocates (`width / 2`, and
//! `height / 2` for 4:2:0, rounded down), so an odd size's last chroma column or row is left
//! out. Pictures must keep at least one 5x5 block after prescaling and decimation by 16
//! (e.g. 4:2:0 luma of 160x160 at prescale 1); smaller ones are refused, where libvmaf has no
//! defined result.

pub(crate) mod cov;
pub(crate) mod kernel;
pub(crate) mod linalg;

use std::sync::Arc;

use crate::cpu::SimdLevel;
use crate::feature::{ExtractorInfo, FeatureExtractor, FeatureValue, Geometry};
use crate::options::{OptionSpec, OptionValue, OptionValues};
use crate::picture::{Picture, PixelFormat, PlaneData};
use crate::EngineError;

use kernel::{Dims, Params, ScaleMethod, Speed};

const KERNELSCALE: OptionSpec =
    OptionSpec::param_double("speed_kernelscale", Some("ks"), 1.0, 0.1, 4.0);
const PRESCALE: OptionSpec = OptionSpec::param_double("speed_prescale", Some("ps"), 1.0, 0.1, 4.0);
const PRESCALE_METHOD: OptionSpec = OptionSpec {
    name: "speed_prescale_method",
    alias: Some("psm"),
    default: OptionValue::Str("nearest"),
    min: 0.0,
    max: 0.0,
    feature_param: true,
};
const SIGMA_NN: OptionSpec =
    OptionSpec::param_double("speed_sigma_nn", Some("snn"), 0.29, 0.1, 2.0);
const NN_FLOOR: OptionSpec = OptionSpec::param_double("speed_nn_floor", Some("nnf"), 0.0, 0.0, 1.0);
const MAX_VAL: OptionSpec =
    OptionSpec::param_double("speed_max_val", Some("mxv"), 1000.0, 0.0, 1000.0);

/// Options of libvmaf v3.2.0's `speed_chroma`; all are feature parameters.
pub static CHROMA_OPTIONS: &[OptionSpec] = &[
    KERNELSCALE,
    PRESCALE,
    PRESCALE_METHOD,
    SIGMA_NN,
    NN_FLOOR,
    MAX_VAL,
    OptionSpec {
        name: "speed_weight_var_mode",
        alias: Some("wvm"),
        default: OptionValue::Int(0),
        min: 0.0,
        max: 6.0,
        feature_param: true,
    },
];

/// Options of libvmaf v3.2.0's `speed_temporal`; all are feature parameters.
pub static TEMPORAL_OPTIONS: &[OptionSpec] = &[
    KERNELSCALE,
    PRESCALE,
    PRESCALE_METHOD,
    SIGMA_NN,
    NN_FLOOR,
    MAX_VAL,
    OptionSpec::switch("speed_use_ref_diff", Some("urd"), true),
];

const CHROMA_FEATURES: [&str; 3] = [
    "Speed_chroma_feature_speed_chroma_u_score",
    "Speed_chroma_feature_speed_chroma_v_score",
    "Speed_chroma_feature_speed_chroma_uv_score",
];
const TEMPORAL_FEATURE: &str = "Speed_temporal_feature_speed_temporal_score";

/// Registry entry of `speed_chroma`.
pub static CHROMA_INFO: ExtractorInfo = ExtractorInfo {
    name: "speed_chroma",
    options: CHROMA_OPTIONS,
    provided_features: &CHROMA_FEATURES,
    temporal: false,
    create: create_chroma,
};

/// Registry entry of `speed_temporal`.
pub static TEMPORAL_INFO: ExtractorInfo = ExtractorInfo {
    name: "speed_temporal",
    options: TEMPORAL_OPTIONS,
    provided_features: &[TEMPORAL_FEATURE],
    temporal: true,
    create: create_temporal,
};

fn create_chroma(
    options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    Ok(Box::new(SpeedChromaExtractor::new(
        options, geometry, simd,
    )?))
}

fn create_temporal(
    options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    Ok(Box::new(SpeedTemporalExtractor::new(
        options, geometry, simd,
    )?))
}

fn invalid(owner: &str, key: &str, value: String, reason: &str) -> EngineError {
    EngineError::InvalidOption {
        owner: owner.to_string(),
        key: key.to_string(),
        value,
        reason: reason.to_string(),
    }
}

/// The options both extractors pass down, checked as libvmaf's init checks them.
fn params(
    owner: &str,
    options: &OptionValues,
    weight_var_mode: i32,
) -> Result<Params, EngineError> {
    let ks = options.get_double(KERNELSCALE.name);
    if !kernel::valid_kernelscale(ks as f32) {
        return Err(invalid(
            owner,
            KERNELSCALE.name,
            ks.to_string(),
            "not one of libvmaf's kernel scales (1, 0.5, 1.5, 2, 2/3, 2.4, 360/97, 4/3, 3.5/3, \
             3.75/3, 4.25/3, 5/3, 3, 1/2.25, 1.4746, 1.54, 1.6, 1.06667, 0.711111, 0.74074, \
             1.111111)",
        ));
    }
    let method_name = options.get_str(PRESCALE_METHOD.name);
    let method = ScaleMethod::parse(method_name).ok_or_else(|| {
        invalid(
            owner,
            PRESCALE_METHOD.name,
            method_name.to_string(),
            "supported methods are nearest, bilinear, bicubic, lanczos4",
        )
    })?;
    Ok(Params {
        kernelscale: ks as f32,
        prescale: options.get_double(PRESCALE.name),
        method,
        sigma_nn: options.get_double(SIGMA_NN.name) as f32,
        nn_floor: options.get_double(NN_FLOOR.name) as f32,
        weight_var_mode,
    })
}

/// Sets SpEED up for a `w` x `h` plane, refusing sizes libvmaf cannot measure.
fn setup(
    owner: &str,
    what: &str,
    (w, h): (usize, usize),
    params: Params,
    simd: SimdLevel,
) -> Result<Speed, EngineError> {
    let too_small = || {
        EngineError::UnsupportedPicture(format!(
            "{owner} needs its {what} plane ({w}x{h}) to keep at least 80x80 samples after \
             speed_prescale {} (one 5x5 block after decimation by 16)",
            params.prescale
        ))
    };
    let dims = Dims::new(w, h, params.prescale).ok_or_else(too_small)?;
    Speed::new(dims, params, simd).ok_or_else(|| {
        invalid(
            owner,
            PRESCALE.name,
            params.prescale.to_string(),
            "within 1e-3 of 1 libvmaf does not prescale, yet the size it computes changes",
        )
    })
}

/// Converts the `rows` of plane `p` of `picture`, cropped to `w` x `h`, to libvmaf's floats
/// in `out` (`w * h` long; other rows are left as they were).
fn to_float(
    picture: &Picture,
    p: usize,
    (w, h): (usize, usize),
    rows: &[bool],
    out: &mut Vec<f32>,
) -> Result<(), EngineError> {
    out.resize(w * h, 0.0);
    let wanted = || {
        rows.iter()
            .enumerate()
            .take(h)
            .filter(|(_, &r)| r)
            .map(|(y, _)| y)
    };
    match picture.planes.get(p) {
        Some(PlaneData::U8(plane)) if plane.width >= w && plane.height >= h => {
            for y in wanted() {
                let dst = &mut out[y * w..(y + 1) * w];
                for (o, &v) in dst.iter_mut().zip(&plane.row(y)[..w]) {
                    *o = f32::from(v) + -128.0;
                }
            }
        }
        Some(PlaneData::U16(plane)) if plane.width >= w && plane.height >= h => {
            let scaler: f32 = match picture.bit_depth {
                10 => 4.0,
                12 => 16.0,
                _ => 256.0,
            };
            for y in wanted() {
                let dst = &mut out[y * w..(y + 1) * w];
                for (o, &v) in dst.iter_mut().zip(&plane.row(y)[..w]) {
                    *o = f32::from(v) / scaler + -128.0;
                }
            }
        }
        _ => {
            return Err(EngineError::PictureMismatch(format!(
                "plane {p} is missing or smaller than {w}x{h}"
            )))
        }
    }
    Ok(())
}

/// The `speed_chroma` extractor.
#[derive(Debug)]
pub struct SpeedChromaExtractor {
    geometry: Geometry,
    size: (usize, usize),
    speed: Speed,
    max_val: f64,
    names: [Arc<str>; 3],
    reference: Vec<f32>,
    distorted: Vec<f32>,
}

impl SpeedChromaExtractor {
    /// Builds the extractor for pictures of `geometry` (not 4:0:0).
    pub fn new(
        options: &OptionValues,
        geometry: Geometry,
        simd: SimdLevel,
    ) -> Result<Self, EngineError> {
        const OWNER: &str = "speed_chroma";
        super::ssim::check_depth(OWNER, geometry.bit_depth)?;
        if geometry.format == PixelFormat::Yuv400 {
            return Err(EngineError::UnsupportedPicture(
                "speed_chroma needs chroma planes, not 4:0:0".to_string(),
            ));
        }
        let params = params(OWNER, options, options.get_int("speed_weight_var_mode"))?;
        let size = geometry
            .format
            .plane_size(1, geometry.width, geometry.height);
        let speed = setup(OWNER, "chroma", size, params, simd)?;
        Ok(SpeedChromaExtractor {
            geometry,
            size,
            speed,
            max_val: options.get_double(MAX_VAL.name),
            names: CHROMA_FEATURES.map(|n| Arc::from(options.feature_name(n))),
            reference: Vec::new(),
            distorted: Vec::new(),
        })
    }
}

impl FeatureExtractor for SpeedChromaExtractor {
    fn extract(
        &mut self,
        reference: &Picture,
        distorted: &Picture,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        self.geometry.check("speed_chroma", reference)?;
        self.geometry.check("speed_chroma", distorted)?;
        let mut scores = [kernel::Outcome {
            score: 0.0,
            singular: false,
        }; 2];
        for (p, s) in [1, 2].into_iter().zip(&mut scores) {
            let rows = self.speed.source_rows();
            to_float(reference, p, self.size, rows, &mut self.reference)?;
            to_float(distorted, p, self.size, rows, &mut self.distorted)?;
            *s = self.speed.score(&self.reference, &self.distorted);
        }
        let [u, v] = scores;
        // One singular plane takes the other's score, as libvmaf imputes it.
        let uv = match (u.singular, v.singular) {
            (true, false) => v.score,
            (false, true) => u.score,
            _ => (f64::from(u.score + v.score) / 2.0) as f32,
        };
        for (name, value) in self.names.iter().zip([u.score, v.score, uv]) {
            let value = f64::from(value);
            out.push(FeatureValue {
                name: name.clone(),
                index,
                value: if value < self.max_val {
                    value
                } else {
                    self.max_val
                },
            });
        }
        Ok(())
    }
}

/// The `speed_temporal` extractor.
#[derive(Debug)]
pub struct SpeedTemporalExtractor {
    geometry: Geometry,
    speed: Speed,
    use_ref_diff: bool,
    name: Arc<str>,
    /// The previous frame's luma samples (the rows SpEED reads), once one has been seen.
    previous: Option<(Vec<u16>, Vec<u16>)>,
    /// Previous minus current frame, as libvmaf's floats.
    diff_ref: Vec<f32>,
    diff_dis: Vec<f32>,
}

impl SpeedTemporalExtractor {
    /// Builds the extractor for pictures of `geometry`.
    pub fn new(
        options: &OptionValues,
        geometry: Geometry,
        simd: SimdLevel,
    ) -> Result<Self, EngineError> {
        const OWNER: &str = "speed_temporal";
        super::ssim::check_depth(OWNER, geometry.bit_depth)?;
        // libvmaf never passes speed_temporal a variance weighting mode: it is 0.
        let params = params(OWNER, options, 0)?;
        let (w, h) = (geometry.width, geometry.height);
        let speed = setup(OWNER, "luma", (w, h), params, simd)?;
        Ok(SpeedTemporalExtractor {
            geometry,
            speed,
            use_ref_diff: options.get_bool("speed_use_ref_diff"),
            name: Arc::from(options.feature_name(TEMPORAL_FEATURE)),
            previous: None,
            diff_ref: vec![0.0; w * h],
            diff_dis: vec![0.0; w * h],
        })
    }
}

/// The luma rows of a picture pair, of one sample type.
struct LumaRows<'a, T> {
    reference: &'a crate::picture::Plane<T>,
    distorted: &'a crate::picture::Plane<T>,
}

impl<T: crate::picture::Pixel + Into<u16>> LumaRows<'_, T> {
    /// Forms, for the `rows`, previous minus current (minus the current reference with
    /// `use_ref_diff`) as libvmaf's floats (`convert`), and keeps the current samples.
    #[allow(clippy::too_many_arguments)]
    fn difference(
        &self,
        w: usize,
        rows: &[bool],
        use_ref_diff: bool,
        convert: impl Fn(u16) -> f32,
        prev_ref: &mut [u16],
        prev_dis: &mut [u16],
        diff_ref: &mut [f32],
        diff_dis: &mut [f32],
    ) {
        for (y, _) in rows.iter().enumerate().filter(|(_, &r)| r) {
            let span = y * w..(y + 1) * w;
            let (cr, cd) = (&self.reference.row(y)[..w], &self.distorted.row(y)[..w]);
            let (pr, pd) = (&mut prev_ref[span.clone()], &mut prev_dis[span.clone()]);
            let (dr, dd) = (&mut diff_ref[span.clone()], &mut diff_dis[span]);
            for i in 0..w {
                let (r, d) = (cr[i].into(), cd[i].into());
                let sub = if use_ref_diff { r } else { d };
                dr[i] = convert(pr[i]) - convert(r);
                dd[i] = convert(pd[i]) - convert(sub);
                pr[i] = r;
                pd[i] = d;
            }
        }
    }
}

impl FeatureExtractor for SpeedTemporalExtractor {
    fn extract(
        &mut self,
        reference: &Picture,
        distorted: &Picture,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        self.geometry.check("speed_temporal", reference)?;
        self.geometry.check("speed_temporal", distorted)?;
        let (w, h) = (self.geometry.width, self.geometry.height);
        let first = self.previous.is_none();
        let (prev_ref, prev_dis) = self
            .previous
            .get_or_insert_with(|| (vec![0; w * h], vec![0; w * h]));
        let rows = self.speed.source_rows();
        let bd = self.geometry.bit_depth;
        let scaler: f32 = match bd {
            10 => 4.0,
            12 => 16.0,
            _ => 256.0,
        };
        let (dr, dd) = (&mut self.diff_ref[..], &mut self.diff_dis[..]);
        let urd = self.use_ref_diff;
        match (reference.planes.first(), distorted.planes.first()) {
            (Some(PlaneData::U8(a)), Some(PlaneData::U8(b))) => LumaRows {
                reference: a,
                distorted: b,
            }
            .difference(
                w,
                rows,
                urd,
                |v| f32::from(v) + -128.0,
                prev_ref,
                prev_dis,
                dr,
                dd,
            ),
            (Some(PlaneData::U16(a)), Some(PlaneData::U16(b))) => LumaRows {
                reference: a,
                distorted: b,
            }
            .difference(
                w,
                rows,
                urd,
                |v| f32::from(v) / scaler + -128.0,
                prev_ref,
                prev_dis,
                dr,
                dd,
            ),
            _ => {
                return Err(EngineError::PictureMismatch(
                    "speed_temporal needs luma planes of one sample type".to_string(),
                ))
            }
        }
        // The first frame has no previous one: libvmaf writes 0 for it.
        let value = if first {
            0.0
        } else {
            f64::from(self.speed.score(&self.diff_ref, &self.diff_dis).score)
        };
        out.push(FeatureValue {
            name: self.name.clone(),
            index,
            value,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
