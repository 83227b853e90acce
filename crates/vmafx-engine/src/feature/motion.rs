//! libvmaf v3.2.0's integer motion extractor (`motion`): per-frame blurred luma SAD against an
//! earlier reference frame (`motion_sad`), plus the temporally smoothed `motion2` and blended
//! `motion3` scores that the VMAF models consume.
//!
//! What libvmaf writes, and when:
//! - frame `k`, during extraction: `VMAF_integer_feature_motion_sad_score` (and, with `debug`,
//!   `VMAF_integer_feature_motion_score`, the same value). It is the SAD between frame `k` and
//!   frame `k - 1` (`k - 2` with the five-frame window), normalised by 256 and the pixel count,
//!   weighted and clipped; 0 for the first frame(s).
//! - only at flush, for every frame in turn: `VMAF_integer_feature_motion2_score` (the smaller
//!   of this and the next frame's SAD; the SAD itself for the last frame) and
//!   `VMAF_integer_feature_motion3_score` (motion2 blended and clipped, optionally averaged
//!   with the previous frame's).
//!
//! This extractor does the same. Each frame's motion2/motion3 is known one frame later (two
//! for the first frames of the five-frame window) and could be streamed, but holding them to
//! `flush` is what keeps libvmaf's first-write (column) order when several motion instances
//! with different windows run side by side.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
#[cfg(test)]
pub(crate) mod fixture;
pub mod kernel;

use std::sync::Arc;

use crate::cpu::SimdLevel;
use crate::feature::{ExtractorInfo, FeatureExtractor, FeatureValue, Geometry};
use crate::options::{OptionSpec, OptionValue, OptionValues};
use crate::picture::{Picture, Plane, PlaneData};
use crate::EngineError;

const SAD_FEATURE: &str = "VMAF_integer_feature_motion_sad_score";
const MOTION_FEATURE: &str = "VMAF_integer_feature_motion_score";
const MOTION2_FEATURE: &str = "VMAF_integer_feature_motion2_score";
const MOTION3_FEATURE: &str = "VMAF_integer_feature_motion3_score";

/// Options of libvmaf v3.2.0's `motion` extractor, with its names, aliases, defaults and ranges.
pub static OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "motion_force_zero",
        alias: Some("force_0"),
        default: OptionValue::Bool(false),
        min: 0.0,
        max: 0.0,
        feature_param: true,
    },
    OptionSpec {
        name: "motion_blend_factor",
        alias: Some("mbf"),
        default: OptionValue::Double(1.0),
        min: 0.0,
        max: 1.0,
        feature_param: true,
    },
    OptionSpec {
        name: "motion_blend_offset",
        alias: Some("mbo"),
        default: OptionValue::Double(40.0),
        min: 0.0,
        max: 1000.0,
        feature_param: true,
    },
    OptionSpec {
        name: "motion_fps_weight",
        alias: Some("mfw"),
        default: OptionValue::Double(1.0),
        min: 0.0,
        max: 5.0,
        feature_param: true,
    },
    OptionSpec {
        name: "motion_max_val",
        alias: Some("mmxv"),
        default: OptionValue::Double(10000.0),
        min: 0.0,
        max: 10000.0,
        feature_param: true,
    },
    OptionSpec {
        name: "motion_five_frame_window",
        alias: Some("mffw"),
        default: OptionValue::Bool(false),
        min: 0.0,
        max: 0.0,
        feature_param: true,
    },
    OptionSpec {
        name: "motion_moving_average",
        alias: Some("mma"),
        default: OptionValue::Bool(false),
        min: 0.0,
        max: 0.0,
        feature_param: true,
    },
    OptionSpec {
        name: "debug",
        alias: None,
        default: OptionValue::Bool(false),
        min: 0.0,
        max: 0.0,
        feature_param: false,
    },
];

/// Registry entry.
pub static INFO: ExtractorInfo = ExtractorInfo {
    name: "motion",
    options: OPTIONS,
    provided_features: &[
        SAD_FEATURE,
        MOTION_FEATURE,
        MOTION2_FEATURE,
        MOTION3_FEATURE,
    ],
    temporal: true,
    create,
};

fn create(
    options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    // The kernels trust the level: the public constructor must not let an unsupported one in.
    let simd = simd.require()?;
    let settings = Settings::from_options(options);
    Ok(if geometry.bit_depth == 8 {
        Box::new(MotionExtractor::<u8>::new(settings, geometry, simd)?)
    } else {
        Box::new(MotionExtractor::<u16>::new(settings, geometry, simd)?)
    })
}

/// C's `MIN` macro: the second operand unless the first is strictly smaller.
#[inline(always)]
fn c_min(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else {
        b
    }
}

/// The option values and the collector names they imply.
#[derive(Debug, Clone)]
struct Settings {
    force_zero: bool,
    blend_factor: f64,
    blend_offset: f64,
    fps_weight: f64,
    max_val: f64,
    five_frame_window: bool,
    moving_average: bool,
    sad_name: Arc<str>,
    /// Present only with `debug`, which also writes the SAD under the motion name.
    debug_name: Option<Arc<str>>,
    motion2_name: Arc<str>,
    motion3_name: Arc<str>,
}

impl Settings {
    fn from_options(options: &OptionValues) -> Self {
        let name = |provided: &str| Arc::<str>::from(options.feature_name(provided));
        Settings {
            force_zero: options.get_bool("motion_force_zero"),
            blend_factor: options.get_double("motion_blend_factor"),
            blend_offset: options.get_double("motion_blend_offset"),
            fps_weight: options.get_double("motion_fps_weight"),
            max_val: options.get_double("motion_max_val"),
            five_frame_window: options.get_bool("motion_five_frame_window"),
            moving_average: options.get_bool("motion_moving_average"),
            sad_name: name(SAD_FEATURE),
            debug_name: options.get_bool("debug").then(|| name(MOTION_FEATURE)),
            motion2_name: name(MOTION2_FEATURE),
            motion3_name: name(MOTION3_FEATURE),
        }
    }

    /// How many frames back the SAD reaches, which is also the first frame that has one.
    fn reach(&self) -> u32 {
        if self.five_frame_window {
            2
        } else {
            1
        }
    }

    /// libvmaf's blend towards `blend_offset`, then the clip to `max_val`.
    fn blend_and_clip(&self, score: f64) -> f64 {
        let blended =
            score * self.blend_factor + (1.0 - self.blend_factor) * c_min(self.blend_offset, score);
        c_min(blended, self.max_val)
    }
}

/// Turns the stream of per-frame SADs into motion2/motion3 values, settling each frame as soon
/// as the SADs it depends on are known (one frame later, two for the early frames of the
/// five-frame window). Looks back at most three SADs; settled values wait in `settled` until
/// `flush`, which is when libvmaf writes them.
#[derive(Debug, Clone)]
struct Smoother {
    /// First frame with a real SAD (1, or 2 with the five-frame window).
    reach: u32,
    /// SAD of frame `j` lives at `recent[j % 3]`.
    recent: [f64; 3],
    /// Frames whose SAD has been recorded.
    frames: u32,
    /// motion2 and motion3 of frames `0..settled.len()`.
    settled: Vec<(f64, f64)>,
    /// motion3 of the frames before `reach`: the processed SAD of frame `reach`, 0 if absent.
    stamp: f64,
    /// Processed motion2 of the last written frame, for the moving average.
    prev_processed: f64,
}

impl Smoother {
    fn new(reach: u32) -> Self {
        Smoother {
            reach,
            recent: [0.0; 3],
            frames: 0,
            // A few minutes of video before the first reallocation.
            settled: Vec::with_capacity(1 << 12),
            stamp: 0.0,
            prev_processed: 0.0,
        }
    }

    fn sad(&self, frame: u32) -> f64 {
        self.recent[(frame % 3) as usize]
    }

    /// Records the SAD of the next frame and settles every frame that became final.
    fn push(&mut self, sad: f64, settings: &Settings) {
        let frame = self.frames;
        self.recent[(frame % 3) as usize] = sad;
        self.frames += 1;
        if frame == self.reach {
            self.stamp = settings.blend_and_clip(sad);
        }
        // Frames before `frame` now know their successor; the early ones also need the stamp.
        if frame >= self.reach {
            self.settle_until(frame, settings);
        }
    }

    /// Settles all remaining frames (the last one has no successor) and writes every frame's
    /// motion2 and motion3, frame by frame, as libvmaf's flush does.
    fn finish(&mut self, settings: &Settings, out: &mut Vec<FeatureValue>) {
        self.settle_until(self.frames, settings);
        out.reserve(2 * self.settled.len());
        for (i, &(motion2, motion3)) in self.settled.iter().enumerate() {
            let index = i as u32;
            out.push(FeatureValue {
                name: settings.motion2_name.clone(),
                index,
                value: motion2,
            });
            out.push(FeatureValue {
                name: settings.motion3_name.clone(),
                index,
                value: motion3,
            });
        }
        self.settled.clear();
    }

    fn settle_until(&mut self, end: u32, settings: &Settings) {
        // Only used at the window's period of 2; 0 makes `lo == i` for the plain window.
        let lo_back = self.reach - 1;
        while (self.settled.len() as u32) < end {
            let i = self.settled.len() as u32;
            let has_next = i + 1 < self.frames;
            let motion2 = if i < self.reach {
                0.0
            } else if !has_next {
                self.sad(i)
            } else if i - lo_back >= self.reach {
                let (lo, hi) = (self.sad(i - lo_back), self.sad(i + 1));
                if lo < hi {
                    lo
                } else {
                    hi
                }
            } else {
                self.sad(i + 1)
            };
            let motion3 = if i < self.reach {
                self.prev_processed = self.stamp;
                self.stamp
            } else {
                let processed = settings.blend_and_clip(motion2);
                let value = if settings.moving_average {
                    (processed + self.prev_processed) / 2.0
                } else {
                    processed
                };
                self.prev_processed = processed;
                value
            };
            self.settled.push((motion2, motion3));
        }
    }
}

/// Access to a picture's luma plane in the sample type the extractor was built for.
trait LumaSample: kernel::MotionSample {
    fn luma(picture: &Picture) -> Option<&Plane<Self>>;
}

impl LumaSample for u8 {
    fn luma(picture: &Picture) -> Option<&Plane<u8>> {
        match picture.planes.first()? {
            PlaneData::U8(p) => Some(p),
            PlaneData::U16(_) => None,
        }
    }
}

impl LumaSample for u16 {
    fn luma(picture: &Picture) -> Option<&Plane<u16>> {
        match picture.planes.first()? {
            PlaneData::U16(p) => Some(p),
            PlaneData::U8(_) => None,
        }
    }
}

/// The integer motion extractor for samples of type `T` (`u8` at 8 bits, `u16` above).
struct MotionExtractor<T> {
    settings: Settings,
    geometry: Geometry,
    /// The scorer's SIMD level.
    simd: SimdLevel,
    /// Luma of the last `reach` reference frames, frame `k` in slot `k % reach`, stored
    /// contiguously (`stride == width`). Empty with `motion_force_zero`, which never looks back.
    /// The pipeline recycles its pictures, so the frames must be kept here; the SAD kernel
    /// refreshes a slot while it reads it, which makes the keeping nearly free.
    history: Vec<Vec<T>>,
    /// Vertically filtered row, reused for every row of every frame (the SIMD kernels use its
    /// bytes as two `i16` rows).
    row: Vec<i32>,
    smoother: Smoother,
    flushed: bool,
}

impl<T: LumaSample> MotionExtractor<T> {
    fn new(settings: Settings, geometry: Geometry, simd: SimdLevel) -> Result<Self, EngineError> {
        let sample_bits = if geometry.bit_depth == 8 { 8 } else { 16 };
        if std::mem::size_of::<T>() * 8 != sample_bits || !(8..=16).contains(&geometry.bit_depth) {
            return Err(EngineError::UnsupportedPicture(format!(
                "motion cannot handle {}-bit samples",
                geometry.bit_depth
            )));
        }
        let reach = settings.reach();
        let pixels = geometry.width * geometry.height;
        let history = if settings.force_zero {
            Vec::new()
        } else {
            (0..reach).map(|_| vec![T::default(); pixels]).collect()
        };
        Ok(MotionExtractor {
            smoother: Smoother::new(reach),
            row: vec![0; geometry.width],
            history,
            settings,
            geometry,
            simd,
            flushed: false,
        })
    }

    /// The normalised SAD of frame `index` against the frame `reach` back, or 0 for frames
    /// without one; either way frame `index`'s luma then takes that frame's history slot.
    fn score_and_remember(&mut self, luma: &Plane<T>, index: u32) -> Result<f64, EngineError> {
        if self.settings.force_zero {
            return Ok(0.0);
        }
        let reach = self.settings.reach();
        let slot = &mut self.history[(index % reach) as usize];
        let Geometry { width, height, .. } = self.geometry;
        if index < reach {
            for (y, dst) in slot.chunks_exact_mut(width).enumerate() {
                dst.copy_from_slice(luma.row(y));
            }
            return Ok(0.0);
        }
        if width < kernel::MIN_SIDE || height < kernel::MIN_SIDE {
            // libvmaf's mirror reads outside the picture here; refuse rather than guess.
            return Err(EngineError::UnsupportedPicture(format!(
                "motion needs at least {0}x{0} luma, got {width}x{height}",
                kernel::MIN_SIDE
            )));
        }
        // The kernel overwrites the old frame with this one as it goes, rows it no longer
        // needs while they are still in cache, instead of a separate copy afterwards.
        let sad = kernel::blurred_sad_replacing(
            self.simd,
            slot,
            width,
            &luma.data,
            luma.stride,
            width,
            height,
            self.geometry.bit_depth,
            &mut self.row,
        );
        // Same operation order as libvmaf, so the rounding matches.
        let pixels = (width * height) as f64;
        Ok(c_min(
            sad as f64 / 256.0 / pixels * self.settings.fps_weight,
            self.settings.max_val,
        ))
    }
}

impl<T: LumaSample> FeatureExtractor for MotionExtractor<T> {
    fn extract(
        &mut self,
        reference: &Picture,
        _distorted: &Picture,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        if self.flushed || index != self.smoother.frames {
            return Err(EngineError::PictureMismatch(format!(
                "motion expects frame {} next, got frame {index}{}",
                self.smoother.frames,
                if self.flushed { " after flush" } else { "" }
            )));
        }
        let g = &self.geometry;
        let luma = T::luma(reference)
            .filter(|l| {
                reference.bit_depth == g.bit_depth && l.width == g.width && l.height == g.height
            })
            .ok_or_else(|| {
                EngineError::PictureMismatch(format!(
                    "motion set up for {}x{} {}-bit, got {}x{} {}-bit",
                    g.width,
                    g.height,
                    g.bit_depth,
                    reference.width,
                    reference.height,
                    reference.bit_depth
                ))
            })?;

        let score = self.score_and_remember(luma, index)?;

        out.push(FeatureValue {
            name: self.settings.sad_name.clone(),
            index,
            value: score,
        });
        if let Some(name) = &self.settings.debug_name {
            out.push(FeatureValue {
                name: name.clone(),
                index,
                value: score,
            });
        }
        self.smoother.push(score, &self.settings);
        Ok(())
    }

    fn flush(&mut self, out: &mut Vec<FeatureValue>) -> Result<(), EngineError> {
        if !self.flushed {
            self.smoother.finish(&self.settings, out);
            self.flushed = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
