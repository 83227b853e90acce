//! libvmaf v3.2.0's `psnr_hvs` extractor (Xiph's PSNR-HVS-M): per-plane errors of 8x8 integer
//! DCT blocks taken every 7 samples, weighted by contrast sensitivity and reduced by masking,
//! as `psnr_hvs_y`, `psnr_hvs_cb`, `psnr_hvs_cr` and their 0.8/0.1/0.1 blend `psnr_hvs`.
//!
//! As in libvmaf: there are no options; 4:0:0 input and depths above 12 bits are refused;
//! every chroma format is accepted and its chroma planes, at their subsampled sizes rounded
//! down, are weighted with the 4:2:0 chroma tables; a plane with fewer than 8 samples along a
//! side has no block and scores NaN (and so does the blend).

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
pub mod kernel;

use std::sync::Arc;

use crate::cpu::SimdLevel;
use crate::feature::{ExtractorInfo, FeatureExtractor, FeatureValue, Geometry};
use crate::options::OptionValues;
use crate::picture::{Picture, PixelFormat, PlaneData};
use crate::EngineError;

use kernel::Tables;

/// The output names, in libvmaf's order.
const NAMES: [&str; 4] = ["psnr_hvs_y", "psnr_hvs_cb", "psnr_hvs_cr", "psnr_hvs"];

/// Registry entry.
pub static INFO: ExtractorInfo = ExtractorInfo {
    name: "psnr_hvs",
    options: &[],
    provided_features: &NAMES,
    temporal: false,
    create,
};

fn create(
    _options: &OptionValues,
    geometry: Geometry,
    simd: SimdLevel,
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    Ok(Box::new(PsnrHvsExtractor::new(geometry, simd)?))
}

/// libvmaf's `convert_score_db` with weight 1 (`10 * (-1 * log10(1 * score))`; multiplying by
/// one and by minus one is exact).
fn to_db(score: f64) -> f64 {
    10.0 * -score.log10()
}

/// The PSNR-HVS extractor.
#[derive(Debug)]
pub struct PsnrHvsExtractor {
    geometry: Geometry,
    simd: SimdLevel,
    tables: [Tables; 3],
    /// Region measured in each plane, as libvmaf sizes its planes.
    regions: [(usize, usize); 3],
    names: [Arc<str>; 4],
}

impl PsnrHvsExtractor {
    /// Builds the extractor for pictures of `geometry`, refusing what libvmaf's `init` refuses.
    pub fn new(geometry: Geometry, simd: SimdLevel) -> Result<Self, EngineError> {
        let simd = simd.require()?;
        if geometry.bit_depth > 12 {
            return Err(EngineError::UnsupportedPicture(format!(
                "psnr_hvs supports at most 12 bits, not {}",
                geometry.bit_depth
            )));
        }
        if geometry.format == PixelFormat::Yuv400 {
            return Err(EngineError::UnsupportedPicture(
                "psnr_hvs needs chroma planes; 4:0:0 input has none".to_string(),
            ));
        }
        let regions = std::array::from_fn(|p| {
            geometry
                .format
                .plane_size(p, geometry.width, geometry.height)
        });
        Ok(PsnrHvsExtractor {
            geometry,
            simd,
            tables: std::array::from_fn(Tables::for_plane),
            regions,
            names: NAMES.map(Arc::from),
        })
    }

    fn mismatch(&self, picture: &Picture) -> EngineError {
        let g = &self.geometry;
        EngineError::PictureMismatch(format!(
            "psnr_hvs set up for {}x{} {} {}-bit, got {}x{} {} {}-bit",
            g.width,
            g.height,
            g.format.short_name(),
            g.bit_depth,
            picture.width,
            picture.height,
            picture.format.short_name(),
            picture.bit_depth
        ))
    }

    /// libvmaf's `calc_psnrhvs` score of plane `p`, or `None` when a plane is missing or small.
    fn plane_score(&self, reference: &Picture, distorted: &Picture, p: usize) -> Option<f64> {
        let (w, h) = self.regions[p];
        let fits = |width: usize, height: usize| width >= w && height >= h;
        let (total, blocks) = match (reference.planes.get(p)?, distorted.planes.get(p)?) {
            (PlaneData::U8(a), PlaneData::U8(b))
                if fits(a.width, a.height) && fits(b.width, b.height) =>
            {
                kernel::plane_error(self.simd, &self.tables[p], a, b, w, h)
            }
            (PlaneData::U16(a), PlaneData::U16(b))
                if fits(a.width, a.height) && fits(b.width, b.height) =>
            {
                kernel::plane_error(self.simd, &self.tables[p], a, b, w, h)
            }
            _ => return None,
        };
        Some(kernel::plane_score(total, blocks, self.geometry.bit_depth))
    }
}

impl FeatureExtractor for PsnrHvsExtractor {
    fn extract(
        &mut self,
        reference: &Picture,
        distorted: &Picture,
        index: u32,
        out: &mut Vec<FeatureValue>,
    ) -> Result<(), EngineError> {
        let g = self.geometry;
        for picture in [reference, distorted] {
            if picture.format != g.format
                || picture.bit_depth != g.bit_depth
                || picture.width != g.width
                || picture.height != g.height
            {
                return Err(self.mismatch(picture));
            }
        }
        let mut scores = [0f64; 3];
        for (p, score) in scores.iter_mut().enumerate() {
            *score = self
                .plane_score(reference, distorted, p)
                .ok_or_else(|| self.mismatch(reference))?;
            out.push(FeatureValue {
                name: self.names[p].clone(),
                index,
                value: to_db(*score),
            });
        }
        let blend = scores[0] * 0.8 + 0.1 * (scores[1] + scores[2]);
        out.push(FeatureValue {
            name: self.names[3].clone(),
            index,
            value: to_db(blend),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
