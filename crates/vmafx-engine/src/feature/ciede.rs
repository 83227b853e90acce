//! libvmaf v3.2.0's `ciede` extractor: the mean CIEDE2000 colour difference of the reference
//! and distorted pictures, each pixel taken from BT.709 Y'CbCr through sRGB and XYZ to CIELAB,
//! written as `ciede2000` = 45 − 20·log10(mean ΔE).
//!
//! Subsampled chroma is upsampled the way libvmaf does it, quirks included: 4:2:0 repeats each
//! sample over 2x2 pixels, but 4:2:2 keeps the rows-halving step and reads its rows at full
//! width from libvmaf's padded plane layout (see [`kernel::ChromaLayout`]). The extractor has
//! no options and refuses 4:0:0, as libvmaf does.
//!
//! With the scorer's `--fast-metrics` the ΔE of every pixel comes from the inexact `f32`
//! kernel of [`approx`] instead; the upsampling is the same.

pub mod approx;
pub mod batch;
pub mod fast;
pub mod kernel;

use std::sync::Arc;

use crate::cpu::SimdLevel;
use crate::feature::{ExtractorInfo, FeatureExtractor, FeatureValue, Geometry};
use crate::options::{OptionSpec, OptionValues};
use crate::picture::{Picture, Pixel, PixelFormat, Plane, PlaneData};
use crate::EngineError;

use approx::{FastBlock, BLOCK};
use batch::{Batch, LANES};
use kernel::{ChromaLayout, LabCache};

/// How many pixels ahead the colour memo's slots are prefetched.
const PREFETCH_AHEAD: usize = 16;

/// libvmaf's `ciede` takes no options.
pub static OPTIONS: &[OptionSpec] = &[];

/// Registry entry.
pub static INFO: ExtractorInfo = ExtractorInfo {
    name: "ciede",
    options: OPTIONS,
    provided_features: &["ciede2000"],
    temporal: false,
    create,
};

fn create(
    options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    Ok(Box::new(CiedeExtractor::new(options, geometry, simd)?))
}

/// The `ciede` extractor.
#[derive(Debug)]
pub struct CiedeExtractor {
    geometry: Geometry,
    /// `None` for 4:4:4, which libvmaf reads in place.
    layout: Option<ChromaLayout>,
    name: Arc<str>,
    cache: LabCache,
    simd: SimdLevel,
    /// Colour pairs waiting for their ΔE.
    batch: Box<Batch>,
    /// Upsampled chroma rows: reference Cb, Cr, distorted Cb, Cr.
    rows: [Vec<u16>; 4],
    /// The inexact kernel's block, when the scorer allows fast metrics.
    fast: Option<Box<FastBlock>>,
}

impl CiedeExtractor {
    /// Builds the extractor for pictures of `geometry` (8, 10, 12 or 16 bits with chroma).
    pub fn new(
        options: &OptionValues,
        geometry: Geometry,
        simd: SimdLevel,
    ) -> Result<Self, EngineError> {
        if !matches!(geometry.bit_depth, 8 | 10 | 12 | 16) {
            return Err(EngineError::UnsupportedPicture(format!(
                "ciede supports 8, 10, 12 and 16 bits, not {}",
                geometry.bit_depth
            )));
        }
        let (w, h) = (geometry.width, geometry.height);
        let layout = match geometry.format {
            PixelFormat::Yuv400 => {
                return Err(EngineError::UnsupportedPicture(
                    "ciede needs chroma planes; 4:0:0 has none".to_string(),
                ))
            }
            PixelFormat::Yuv444 => None,
            format => {
                let (cw, ch) = format.plane_size(1, w, h);
                Some(ChromaLayout {
                    width: cw,
                    height: ch,
                    stride: cw.div_ceil(32) * 32,
                    halve_columns: format == PixelFormat::Yuv420,
                })
            }
        };
        Ok(CiedeExtractor {
            geometry,
            layout,
            name: Arc::from("ciede2000"),
            cache: LabCache::new(geometry.bit_depth),
            simd,
            batch: Box::default(),
            rows: std::array::from_fn(|_| vec![0; w]),
            fast: options
                .fast_metrics()
                .then(|| Box::new(FastBlock::new(geometry.bit_depth))),
        })
    }

    /// Fills the upsampled chroma rows for picture row `i` and returns them as reference Cb,
    /// Cr, distorted Cb, Cr.
    fn chroma_rows<T: Pixel + Into<u32>>(
        layout: Option<ChromaLayout>,
        rows: &mut [Vec<u16>; 4],
        r: [&Plane<T>; 3],
        d: [&Plane<T>; 3],
        i: usize,
    ) {
        let [ru, rv, du, dv] = rows;
        match layout {
            Some(layout) => {
                let rp = [(&r[1].data[..], r[1].stride), (&r[2].data[..], r[2].stride)];
                let dp = [(&d[1].data[..], d[1].stride), (&d[2].data[..], d[2].stride)];
                layout.fill_row(rp, 0, i, ru);
                layout.fill_row(rp, 1, i, rv);
                layout.fill_row(dp, 0, i, du);
                layout.fill_row(dp, 1, i, dv);
            }
            None => {
                for (out, plane) in [(ru, r[1]), (rv, r[2]), (du, d[1]), (dv, d[2])] {
                    for (o, &s) in out.iter_mut().zip(plane.row(i)) {
                        *o = s.widen() as u16;
                    }
                }
            }
        }
    }

    /// The ΔE sum of one picture pair by the inexact fast kernel, block by block.
    fn fast_sum<T: Pixel + Into<u32>>(
        &mut self,
        block: &mut FastBlock,
        r: [&Plane<T>; 3],
        d: [&Plane<T>; 3],
    ) -> f64 {
        let (w, h) = (self.geometry.width, self.geometry.height);
        let mut sum = 0.0f64;
        let mut pending = 0;
        for i in 0..h {
            Self::chroma_rows(self.layout, &mut self.rows, r, d, i);
            let [ru, rv, du, dv] = &self.rows;
            let (ry, dy) = (r[0].row(i), d[0].row(i));
            let mut j = 0;
            while j < w {
                let n = (w - j).min(BLOCK - pending);
                let span = pending..pending + n;
                let [fy, fu, fv] = &mut block.first;
                let [sy, su, sv] = &mut block.second;
                for (o, &s) in fy[span.clone()].iter_mut().zip(&ry[j..]) {
                    *o = s.widen() as f32;
                }
                for (o, &s) in sy[span.clone()].iter_mut().zip(&dy[j..]) {
                    *o = s.widen() as f32;
                }
                for (o, s) in [(fu, ru), (fv, rv), (su, du), (sv, dv)] {
                    for (o, &s) in o[span.clone()].iter_mut().zip(&s[j..]) {
                        *o = f32::from(s);
                    }
                }
                pending += n;
                j += n;
                if pending == BLOCK {
                    sum += block.run(self.simd, BLOCK);
                    pending = 0;
                }
            }
        }
        if pending > 0 {
            sum += block.run(self.simd, pending);
        }
        sum
    }

    /// The ΔE sum of one picture pair whose planes hold samples of type `T`.
    fn sum<T: Pixel + Into<u32>>(&mut self, r: [&Plane<T>; 3], d: [&Plane<T>; 3]) -> f64 {
        if let Some(mut block) = self.fast.take() {
            let sum = self.fast_sum(&mut block, r, d);
            self.fast = Some(block);
            return sum;
        }
        let (w, h) = (self.geometry.width, self.geometry.height);
        let mut sum = 0.0f64;
        let mut pending = 0;
        for i in 0..h {
            let (ry, dy) = (r[0].row(i), d[0].row(i));
            Self::chroma_rows(self.layout, &mut self.rows, r, d, i);
            let [ru, rv, du, dv] = &self.rows;
            for j in 0..w {
                if let (Some(&y1), Some(&u1), Some(&v1), Some(&y2), Some(&u2), Some(&v2)) = (
                    ry.get(j + PREFETCH_AHEAD),
                    ru.get(j + PREFETCH_AHEAD),
                    rv.get(j + PREFETCH_AHEAD),
                    dy.get(j + PREFETCH_AHEAD),
                    du.get(j + PREFETCH_AHEAD),
                    dv.get(j + PREFETCH_AHEAD),
                ) {
                    self.cache.prefetch(y1.widen() as u16, u1, v1);
                    self.cache.prefetch(y2.widen() as u16, u2, v2);
                }
                let (a, b) = (
                    (ry[j].widen() as u16, ru[j], rv[j]),
                    (dy[j].widen() as u16, du[j], dv[j]),
                );
                // Equal colours give a ΔE of exactly 0, which leaves the sum as it is.
                if a == b {
                    continue;
                }
                let k = pending;
                self.batch.first[k] = self.cache.get(a.0, a.1, a.2);
                self.batch.second[k] = self.cache.get(b.0, b.1, b.2);
                pending += 1;
                if pending == LANES {
                    self.batch.run(self.simd, LANES);
                    // In pixel order, as libvmaf adds them.
                    sum = self.batch.out.iter().fold(sum, |s, &d| s + f64::from(d));
                    pending = 0;
                }
            }
        }
        self.batch.run(self.simd, pending);
        self.batch.out[..pending]
            .iter()
            .fold(sum, |s, &d| s + f64::from(d))
    }
}

fn planes<T>(p: &[PlaneData], pick: fn(&PlaneData) -> Option<&Plane<T>>) -> Option<[&Plane<T>; 3]> {
    Some([pick(p.first()?)?, pick(p.get(1)?)?, pick(p.get(2)?)?])
}

fn as_u8(p: &PlaneData) -> Option<&Plane<u8>> {
    match p {
        PlaneData::U8(p) => Some(p),
        PlaneData::U16(_) => None,
    }
}

fn as_u16(p: &PlaneData) -> Option<&Plane<u16>> {
    match p {
        PlaneData::U16(p) => Some(p),
        PlaneData::U8(_) => None,
    }
}

impl FeatureExtractor for CiedeExtractor {
    fn extract(
        &mut self,
        reference: &Picture,
        distorted: &Picture,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        self.geometry.check("ciede", reference)?;
        self.geometry.check("ciede", distorted)?;
        let (w, h) = (self.geometry.width, self.geometry.height);
        let fits = |p: &Picture| {
            p.format == self.geometry.format
                && p.planes.len() == 3
                && p.planes.iter().enumerate().all(|(i, plane)| {
                    (plane.width(), plane.height()) == p.format.plane_size(i, w, h)
                })
        };
        if !fits(reference) || !fits(distorted) {
            return Err(EngineError::PictureMismatch(format!(
                "ciede was set up for {} pictures with three planes",
                self.geometry.format.short_name()
            )));
        }
        let sum = if let (Some(r), Some(d)) = (
            planes(&reference.planes, as_u8),
            planes(&distorted.planes, as_u8),
        ) {
            self.sum(r, d)
        } else if let (Some(r), Some(d)) = (
            planes(&reference.planes, as_u16),
            planes(&distorted.planes, as_u16),
        ) {
            self.sum(r, d)
        } else {
            return Err(EngineError::PictureMismatch(
                "ciede got pictures of different sample types".to_string(),
            ));
        };
        // libvmaf divides by an unsigned int pixel count.
        let pixels = (w as u32).wrapping_mul(h as u32);
        let score = 45.0 - 20.0 * (sum / f64::from(pixels)).log10();
        out.push(FeatureValue {
            name: Arc::clone(&self.name),
            index,
            value: score,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
