//! libvmaf v3.2.0's `cambi` extractor: the Contrast Aware Multiscale Banding Index of the
//! distorted luma (and, with `full_ref`, of the reference and of the banding the distorted
//! adds), on 10-bit luma at the encoding's resolution, over five scales.
//!
//! The picture is converted to 10 bits (resized by nearest neighbour to `enc_width` x
//! `enc_height` when those are smaller, averaged 2x2 when `enc_bitdepth` is below 10), a mask
//! keeps the pixels of flat 7x7 areas, and at each scale the c value of a masked pixel weighs
//! how many pixels one visible luma step away share its window. The top `topk` share of c
//! values is averaged per scale and the scales are weighted 16:8:4:2:1. Frames are
//! independent. With `heatmaps_path`, every scale's c values of every frame are written there
//! as 16-bit raw pictures, as libvmaf writes them.

pub mod kernel;
pub mod tvi;

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;

use crate::cpu::SimdLevel;
use crate::feature::{ExtractorInfo, FeatureExtractor, FeatureValue, Geometry};
use crate::options::{OptionSpec, OptionValue, OptionValues};
use crate::picture::{Picture, PlaneData};
use crate::EngineError;

use kernel::{CScratch, Contrast, MaskScratch, PoolScratch, Work, NUM_SCALES};
use tvi::Eotf;

/// The feature name models use.
pub const FEATURE: &str = "Cambi_feature_cambi_score";
const DEFAULT_TOPK: f64 = 0.6;
const DEFAULT_EOTF: &str = "bt1886";
/// Neither encoding dimension may be both this small.
const MIN_WIDTH_HEIGHT: usize = 216;

const fn opt(
    name: &'static str,
    alias: Option<&'static str>,
    default: OptionValue,
    min: f64,
    max: f64,
    feature_param: bool,
) -> OptionSpec {
    OptionSpec {
        name,
        alias,
        default,
        min,
        max,
        feature_param,
    }
}

/// Options of libvmaf v3.2.0's `cambi`, with its ranges, defaults and aliases.
pub static OPTIONS: &[OptionSpec] = &[
    opt(
        "cambi_max_val",
        Some("cmxv"),
        OptionValue::Double(1000.0),
        0.0,
        1000.0,
        true,
    ),
    opt(
        "enc_width",
        Some("encw"),
        OptionValue::Int(0),
        180.0,
        7680.0,
        true,
    ),
    opt(
        "enc_height",
        Some("ench"),
        OptionValue::Int(0),
        150.0,
        7680.0,
        true,
    ),
    opt(
        "enc_bitdepth",
        Some("encbd"),
        OptionValue::Int(0),
        6.0,
        16.0,
        true,
    ),
    opt(
        "src_width",
        Some("srcw"),
        OptionValue::Int(0),
        320.0,
        7680.0,
        true,
    ),
    opt(
        "src_height",
        Some("srch"),
        OptionValue::Int(0),
        200.0,
        4320.0,
        true,
    ),
    opt(
        "window_size",
        Some("ws"),
        OptionValue::Int(65),
        15.0,
        127.0,
        true,
    ),
    opt(
        "topk",
        None,
        OptionValue::Double(DEFAULT_TOPK),
        0.0001,
        1.0,
        true,
    ),
    opt(
        "cambi_topk",
        Some("ctpk"),
        OptionValue::Double(DEFAULT_TOPK),
        0.0001,
        1.0,
        true,
    ),
    opt(
        "tvi_threshold",
        Some("tvit"),
        OptionValue::Double(0.019),
        0.0001,
        1.0,
        true,
    ),
    opt(
        "cambi_vis_lum_threshold",
        Some("vlt"),
        OptionValue::Double(0.0),
        0.0,
        300.0,
        true,
    ),
    opt(
        "max_log_contrast",
        Some("mlc"),
        OptionValue::Int(2),
        0.0,
        5.0,
        true,
    ),
    opt("heatmaps_path", None, OptionValue::Str(""), 0.0, 0.0, false),
    opt("full_ref", None, OptionValue::Bool(false), 0.0, 0.0, false),
    opt("eotf", None, OptionValue::Str(DEFAULT_EOTF), 0.0, 0.0, true),
    opt(
        "cambi_eotf",
        Some("ceot"),
        OptionValue::Str(DEFAULT_EOTF),
        0.0,
        0.0,
        true,
    ),
    opt(
        "cambi_high_res_speedup",
        Some("hrs"),
        OptionValue::Int(0),
        0.0,
        2160.0,
        true,
    ),
];

/// Registry entry.
pub static INFO: ExtractorInfo = ExtractorInfo {
    name: "cambi",
    options: OPTIONS,
    provided_features: &[FEATURE],
    temporal: false,
    create,
};

fn create(
    options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    Ok(Box::new(CambiExtractor::new(options, geometry, simd)?))
}

fn invalid(key: &str, value: impl ToString, reason: impl Into<String>) -> EngineError {
    EngineError::InvalidOption {
        owner: "cambi".to_string(),
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// libvmaf's window scaling: `window * (w + h) / 375 >> 4` (65 is about one degree at 4K),
/// halved with the speed-up, made odd.
fn adjust_window(window: usize, w: usize, h: usize, speedup: bool) -> usize {
    let mut ws = ((window * (w + h)) / 375) >> 4;
    ws &= 0xffff;
    if speedup {
        ws = (ws + 1) >> 1;
    }
    ws | 1
}

/// One CAMBI input: its 10-bit size and window.
#[derive(Debug, Clone, Copy)]
struct Target {
    width: usize,
    height: usize,
    window: usize,
}

/// The heatmap files, one per scale.
#[derive(Debug)]
struct Heatmaps {
    files: Vec<File>,
    /// `65535 / (max weight * window² / 4)`, libvmaf's scaling to 16 bits.
    scaling: f64,
    row: Vec<u8>,
}

/// The `cambi` extractor.
#[derive(Debug)]
pub struct CambiExtractor {
    geometry: Geometry,
    simd: SimdLevel,
    enc: Target,
    src: Target,
    enc_bitdepth: u32,
    full_ref: bool,
    speedup: bool,
    topk: f64,
    max_val: f64,
    contrast: Contrast,
    lut: Vec<f32>,
    image: Work,
    mask: Work,
    mask_scratch: MaskScratch,
    c_scratch: CScratch,
    pool_scratch: PoolScratch,
    mode_buffer: Vec<u16>,
    heatmaps: Option<Heatmaps>,
    name: Arc<str>,
    source_name: Arc<str>,
    full_reference_name: Arc<str>,
}

impl CambiExtractor {
    /// Builds the extractor for pictures of `geometry`, refusing what libvmaf's `init` refuses
    /// (encodes under 216 in both dimensions, inconsistent source and encode sizes, windows
    /// too large for its reciprocal table, unknown EOTFs) with the option named, and pictures
    /// whose smallest scale is narrower than half the window, where libvmaf reads outside its
    /// buffers.
    pub fn new(
        options: &OptionValues,
        geometry: Geometry,
        simd: SimdLevel,
    ) -> Result<Self, EngineError> {
        let (w, h) = (geometry.width, geometry.height);
        // Options first: a bad value is named even on a picture cambi would refuse.
        let eotf_key = if options.get_str("cambi_eotf") != DEFAULT_EOTF {
            "cambi_eotf"
        } else {
            "eotf"
        };
        let eotf_name = options.get_str(eotf_key);
        let eotf = Eotf::parse(eotf_name)
            .ok_or_else(|| invalid(eotf_key, eotf_name, "expected bt1886 or pq"))?;
        let int = |name: &str| options.get_int(name).max(0) as usize;
        let mut enc_bitdepth = int("enc_bitdepth") as u32;
        if enc_bitdepth == 0 {
            enc_bitdepth = u32::from(geometry.bit_depth);
        }
        let (mut enc_w, mut enc_h) = (int("enc_width"), int("enc_height"));
        if enc_w == 0 || enc_h == 0 {
            (enc_w, enc_h) = (w, h);
        }
        let (mut src_w, mut src_h) = (int("src_width"), int("src_height"));
        if src_w == 0 || src_h == 0 {
            (src_w, src_h) = (w, h);
        }
        // A downscaled encode is not scaled back up to its encoding size.
        if enc_h > h || enc_w > w {
            (enc_w, enc_h) = (w, h);
        }
        if enc_w < MIN_WIDTH_HEIGHT && enc_h < MIN_WIDTH_HEIGHT {
            return Err(EngineError::UnsupportedPicture(format!(
                "cambi needs a width or height (enc_width/enc_height) of at least \
                 {MIN_WIDTH_HEIGHT}, got {enc_w}x{enc_h}"
            )));
        }
        if src_w < MIN_WIDTH_HEIGHT && src_h < MIN_WIDTH_HEIGHT {
            return Err(invalid(
                "src_width",
                src_w,
                format!("src_width or src_height must be at least {MIN_WIDTH_HEIGHT}"),
            ));
        }
        if (src_w > enc_w && src_h < enc_h) || (src_w < enc_w && src_h > enc_h) {
            return Err(invalid(
                "src_width",
                src_w,
                format!("source {src_w}x{src_h} and encode {enc_w}x{enc_h} must scale alike"),
            ));
        }
        let enc_pixels = enc_w * enc_h;
        let speedup = match options.get_int("cambi_high_res_speedup") {
            1080 => enc_pixels >= 1920 * 1080,
            1440 => enc_pixels >= 2560 * 1440,
            2160 => enc_pixels >= 3840 * 2160,
            _ => false,
        };
        let full_ref = options.get_bool("full_ref");

        let num_diffs = 1usize << options.get_int("max_log_contrast").clamp(0, 5);
        let threshold = options.get_double("tvi_threshold");
        let tvi: Vec<u16> = (0..num_diffs)
            .map(|d| (tvi::tvi_for_diff(d as i32 + 1, threshold, eotf) + num_diffs as i32) as u16)
            .collect();
        let vlt_value = options.get_double("cambi_vis_lum_threshold");
        let vlt = tvi::vlt_luma(vlt_value, eotf).ok_or_else(|| {
            invalid(
                "cambi_vis_lum_threshold",
                vlt_value,
                format!("no luma reaches it under {eotf_name}"),
            )
        })?;
        let contrast = Contrast::new(num_diffs, tvi, vlt);

        let window = int("window_size");
        let enc_window = adjust_window(window, enc_w, enc_h, speedup);
        let src_window = adjust_window(window, src_w, src_h, speedup);
        let largest = enc_window.max(src_window);
        if largest * largest >= kernel::RECIPROCAL_LUT_SIZE {
            return Err(invalid(
                "window_size",
                window,
                format!("scales to {largest} at this size, too large for cambi's table"),
            ));
        }
        let enc = Target {
            width: enc_w,
            height: enc_h,
            window: enc_window,
        };
        let src = Target {
            width: src_w,
            height: src_h,
            window: src_window,
        };
        for t in if full_ref { vec![enc, src] } else { vec![enc] } {
            let (sw, sh) = kernel::scale_sizes(t.width, t.height, speedup)[NUM_SCALES - 1];
            if sw < t.window / 2 || sh < t.window / 2 {
                return Err(EngineError::UnsupportedPicture(format!(
                    "cambi's window of {0} does not fit the {sw}x{sh} smallest scale of a \
                     {1}x{2} picture",
                    t.window, t.width, t.height
                )));
            }
        }

        let (alloc_w, alloc_h) = if full_ref {
            (src_w.max(enc_w), src_h.max(enc_h))
        } else {
            (enc_w, enc_h)
        };
        // A 10-bit input of the encode's size is copied with its own stride, which may be
        // longer than the work plane's when the source is larger.
        let alloc_h = alloc_h.max(h);
        let mut image = Work::new(alloc_w, alloc_h);
        let need = kernel::aligned_stride(w) * (h + 1);
        if image.data.len() < need {
            image.data.resize(need, 0);
        }

        let heatmaps_path = options.get_str("heatmaps_path");
        let heatmaps = if heatmaps_path.is_empty() {
            None
        } else {
            Some(open_heatmaps(
                heatmaps_path,
                enc_w,
                enc_h,
                enc_window,
                &contrast,
            )?)
        };

        let topk = if options.get_double("topk") != DEFAULT_TOPK {
            options.get_double("topk")
        } else {
            options.get_double("cambi_topk")
        };
        Ok(CambiExtractor {
            geometry,
            simd,
            enc,
            src,
            enc_bitdepth,
            full_ref,
            speedup,
            topk,
            max_val: options.get_double("cambi_max_val"),
            contrast,
            lut: kernel::reciprocal_lut(),
            image,
            mask: Work::new(alloc_w, alloc_h),
            mask_scratch: MaskScratch::default(),
            c_scratch: CScratch::default(),
            pool_scratch: PoolScratch::default(),
            mode_buffer: Vec::new(),
            heatmaps,
            name: Arc::from(options.feature_name(FEATURE)),
            source_name: Arc::from("cambi_source"),
            full_reference_name: Arc::from("cambi_full_reference"),
        })
    }

    /// The CAMBI score of one picture's luma at `target`, writing heatmaps for `frame` if
    /// asked to.
    fn score(
        &mut self,
        plane: &PlaneData,
        target: Target,
        heatmap_frame: Option<u32>,
    ) -> Result<f64, EngineError> {
        check_range(plane, self.geometry.bit_depth)?;
        let (w, h) = (target.width, target.height);
        kernel::to_10bit(plane, self.geometry.bit_depth, &mut self.image, w, h);
        if self.enc_bitdepth < 10 {
            kernel::anti_dither(self.simd, &mut self.image, w, h, &mut self.mode_buffer);
        }
        kernel::spatial_mask(
            self.simd,
            &self.image,
            &mut self.mask,
            w,
            h,
            &mut self.mask_scratch,
        );
        let mut scores = [0.0f64; NUM_SCALES];
        let sizes = kernel::scale_sizes(w, h, self.speedup);
        for (scale, &(sw, sh)) in sizes.iter().enumerate() {
            if scale > 0 || self.speedup {
                kernel::decimate(self.simd, &mut self.image, sw, sh);
                kernel::decimate(self.simd, &mut self.mask, sw, sh);
            }
            kernel::filter_mode(self.simd, &mut self.image, sw, sh, &mut self.mode_buffer);
            kernel::c_values(
                self.simd,
                &self.image,
                &self.mask,
                sw,
                sh,
                target.window,
                &self.contrast,
                &self.lut,
                &mut self.c_scratch,
            );
            let c = &mut self.c_scratch.c[..sw * sh];
            if let (Some(frame), Some(maps)) = (heatmap_frame, self.heatmaps.as_mut()) {
                maps.write(scale, frame, c, sw, sh)?;
            }
            scores[scale] =
                kernel::spatial_pooling(self.simd, c, self.topk, &mut self.pool_scratch);
        }
        Ok(kernel::weight_scores(&scores, target.window))
    }
}

/// libvmaf refuses samples above the depth's maximum.
fn check_range(plane: &PlaneData, bit_depth: u8) -> Result<(), EngineError> {
    let PlaneData::U16(p) = plane else {
        return Ok(());
    };
    if bit_depth >= 16 {
        return Ok(());
    }
    let max = (1u32 << bit_depth) - 1;
    for y in 0..p.height {
        if p.row(y).iter().any(|&v| u32::from(v) > max) {
            return Err(EngineError::UnsupportedPicture(format!(
                "cambi: the input has values above {max}, the maximum of {bit_depth}-bit samples"
            )));
        }
    }
    Ok(())
}

fn open_heatmaps(
    path: &str,
    enc_w: usize,
    enc_h: usize,
    window: usize,
    contrast: &Contrast,
) -> Result<Heatmaps, EngineError> {
    let fail =
        |what: &str, e: std::io::Error| invalid("heatmaps_path", path, format!("{what}: {e}"));
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true);
    // libvmaf creates the directories with mode 0770.
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o770);
    dir.create(path)
        .map_err(|e| fail("cannot create the directory", e))?;
    let mut files = Vec::with_capacity(NUM_SCALES);
    let (mut w, mut h) = (enc_w, enc_h);
    for scale in 0..NUM_SCALES {
        let file: PathBuf =
            PathBuf::from(path).join(format!("cambi_heatmap_scale_{scale}_{w}x{h}_16b.gray"));
        let f =
            File::create(&file).map_err(|e| fail(&format!("cannot open {}", file.display()), e))?;
        files.push(f);
        w = w.div_ceil(2);
        h = h.div_ceil(2);
    }
    let max_weight = contrast.weights.iter().copied().max().unwrap_or(1);
    let max_c = (max_weight as i64 * window as i64 * window as i64 / 4) as i32;
    Ok(Heatmaps {
        files,
        scaling: 65535.0 / f64::from(max_c.max(1)),
        row: Vec::new(),
    })
}

impl Heatmaps {
    fn write(
        &mut self,
        scale: usize,
        frame: u32,
        c: &[f32],
        w: usize,
        h: usize,
    ) -> Result<(), EngineError> {
        let fail = |e: std::io::Error| {
            EngineError::UnsupportedPicture(format!(
                "cambi: cannot write heatmap of scale {scale}: {e}"
            ))
        };
        let file = &mut self.files[scale];
        let offset = (frame as u64 * h as u64) * w as u64 * 2;
        file.seek(SeekFrom::Start(offset)).map_err(fail)?;
        self.row.clear();
        for &v in c {
            let q = (self.scaling * f64::from(v)) as u16;
            self.row.extend_from_slice(&q.to_le_bytes());
        }
        file.write_all(&self.row).map_err(fail)
    }
}

impl FeatureExtractor for CambiExtractor {
    fn extract(
        &mut self,
        reference: &Picture,
        distorted: &Picture,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        self.geometry.check("cambi", distorted)?;
        let Some(dp) = distorted.planes.first() else {
            return Err(EngineError::PictureMismatch(
                "cambi needs a luma plane".to_string(),
            ));
        };
        let dist = self.score(dp, self.enc, Some(index))?;
        out.push(FeatureValue {
            name: self.name.clone(),
            index,
            value: dist.min(self.max_val),
        });
        if self.full_ref {
            self.geometry.check("cambi", reference)?;
            let Some(rp) = reference.planes.first() else {
                return Err(EngineError::PictureMismatch(
                    "cambi needs a luma plane".to_string(),
                ));
            };
            let src = self.score(rp, self.src, None)?;
            out.push(FeatureValue {
                name: self.source_name.clone(),
                index,
                value: src.min(self.max_val),
            });
            let combined = (dist - src).max(0.0);
            out.push(FeatureValue {
                name: self.full_reference_name.clone(),
                index,
                value: combined.min(self.max_val),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
