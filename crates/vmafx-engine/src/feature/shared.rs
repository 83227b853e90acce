//! Intermediates several extractors compute from the same frame pair, made once per pair by
//! whichever extractor asks first and reused by the others: the pair's luma as libvmaf's float
//! copy, and the full-resolution SSIM means (`float_ssim` at scale 1 and `float_ms_ssim`'s
//! first scale are one computation).

use std::sync::{Mutex, OnceLock};

use crate::cpu::SimdLevel;
use crate::feature::ssim::kernel::{self, Means, Workspace};
use crate::picture::Picture;

/// The per-pair cache. The pipeline owns one per frame pair and clears it whenever the pair is
/// refilled; extractors reach it through [`Frame`].
#[derive(Debug, Default)]
pub struct Shared {
    /// Reference and distorted luma as libvmaf's `picture_copy` makes it (offset 0).
    luma: [OnceLock<Vec<f32>>; 2],
    /// SSIM means of the two full-resolution lumas.
    full_ssim: OnceLock<Means>,
    /// The luma buffers of the previous frame, emptied and kept for the next: a fresh
    /// allocation of that size each frame is fresh pages each frame, all faulted in and zeroed.
    spare: [Mutex<Vec<f32>>; 2],
}

impl Clone for Shared {
    /// A copy starts empty: what it caches belongs to the pictures it was computed from.
    fn clone(&self) -> Self {
        Shared::default()
    }
}

impl Shared {
    /// Forgets everything: the pictures are about to hold another frame. The luma buffers
    /// are kept, empty, for the next frame to fill.
    pub fn clear(&mut self) {
        for (cell, spare) in self.luma.iter_mut().zip(&mut self.spare) {
            if let (Some(mut floats), Ok(spare)) = (cell.take(), spare.get_mut()) {
                floats.clear();
                *spare = floats;
            }
        }
        self.full_ssim = OnceLock::new();
    }
}

/// One frame pair as extractors see it in a scorer: the pictures, and the intermediates other
/// extractors of the same scorer may already have computed from them.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The reference picture.
    pub reference: &'a Picture,
    /// The distorted picture.
    pub distorted: &'a Picture,
    shared: &'a Shared,
}

impl<'a> Frame<'a> {
    /// The pair with its cache.
    pub fn new(reference: &'a Picture, distorted: &'a Picture, shared: &'a Shared) -> Self {
        Frame {
            reference,
            distorted,
            shared,
        }
    }

    /// The reference (`0`) or distorted (`1`) luma as libvmaf's float copy, `width * height`
    /// samples row after row; `None` for a picture without planes.
    pub fn luma_floats(&self, which: usize) -> Option<&'a [f32]> {
        let picture = if which == 0 {
            self.reference
        } else {
            self.distorted
        };
        let plane = picture.planes.first()?;
        let cell = self.shared.luma.get(which)?;
        let spare = self.shared.spare.get(which)?;
        Some(cell.get_or_init(|| {
            let mut floats = spare
                .lock()
                .map(|mut v| std::mem::take(&mut *v))
                .unwrap_or_default();
            kernel::luma_to_float(plane, picture.bit_depth, &mut floats);
            floats
        }))
    }

    /// SSIM means of the full-resolution lumas (`width` x `height`), computed with `workspace`
    /// by the first extractor that asks.
    pub fn full_resolution_ssim(
        &self,
        simd: SimdLevel,
        (width, height): (usize, usize),
        workspace: &mut Workspace,
    ) -> Option<Means> {
        if let Some(means) = self.shared.full_ssim.get() {
            return Some(*means);
        }
        let reference = self.luma_floats(0)?;
        let distorted = self.luma_floats(1)?;
        let n = width.checked_mul(height)?;
        if reference.len() < n || distorted.len() < n {
            return None;
        }
        Some(*self.shared.full_ssim.get_or_init(|| {
            kernel::ssim(
                simd,
                &reference[..n],
                &distorted[..n],
                width,
                height,
                workspace,
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::FeatureCollector;
    use crate::feature::motion::fixture;
    use crate::feature::Geometry;
    use crate::picture::PixelFormat;
    use crate::pipeline::{FramePair, ScorerBuilder};

    const SIZE: (usize, usize) = (200, 180);

    fn geometry() -> Geometry {
        Geometry {
            format: PixelFormat::Yuv420,
            bit_depth: 8,
            width: SIZE.0,
            height: SIZE.1,
        }
    }

    /// Scores four frames with the given extractors, recycling one pair for every frame (the
    /// way the reader does), so a cache that outlived its pictures would show.
    fn run(features: &[(&str, &[(&str, &str)])], threads: usize) -> FeatureCollector {
        let mut builder = ScorerBuilder::new(geometry()).threads(threads);
        for (name, options) in features {
            let options: Vec<(String, String)> = options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            builder = builder.extractor(name, &options).unwrap();
        }
        let mut scorer = builder.build().unwrap();
        let mut spare = Some(FramePair::new(geometry()).unwrap());
        for (scene, t) in [(0, 0), (0, 1), (1, 0), (1, 3)] {
            let mut pair = spare
                .take()
                .or_else(|| scorer.take_finished())
                .unwrap_or_else(|| FramePair::new(geometry()).unwrap());
            let (r, d) = fixture::pair(PixelFormat::Yuv420, 8, SIZE.0, SIZE.1, scene, t);
            pair.reference = r;
            pair.distorted = d;
            scorer.push(pair).unwrap();
            spare = scorer.take_finished();
        }
        scorer.finish().unwrap()
    }

    fn values(c: &FeatureCollector, name: &str) -> Vec<Option<f64>> {
        c.vectors()
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.values.clone())
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn ssim_and_ms_ssim_share_their_first_scale_without_changing_a_value() {
        let ssim: (&str, &[(&str, &str)]) =
            ("float_ssim", &[("scale", "1"), ("enable_lcs", "true")]);
        let ms: (&str, &[(&str, &str)]) = ("float_ms_ssim", &[("enable_lcs", "true")]);
        for threads in [0, 2] {
            let both = run(&[ssim, ms], threads);
            let alone_ssim = run(&[ssim], threads);
            let alone_ms = run(&[ms], threads);
            for name in ["float_ssim", "float_ssim_l", "float_ssim_c", "float_ssim_s"] {
                assert_eq!(values(&both, name), values(&alone_ssim, name), "{name}");
            }
            for name in [
                "float_ms_ssim",
                "float_ms_ssim_l_scale0",
                "float_ms_ssim_s_scale4",
            ] {
                assert_eq!(values(&both, name), values(&alone_ms, name), "{name}");
            }
            // Frames differ, so a stale cache would repeat a value.
            let v = values(&both, "float_ssim");
            assert!(v.windows(2).all(|w| w[0] != w[1]), "{v:?}");
        }
    }

    #[test]
    fn a_frame_converts_its_luma_once_and_a_copy_starts_empty() {
        let (r, d) = fixture::pair(PixelFormat::Yuv420, 10, 40, 30, 0, 1);
        let shared = Shared::default();
        let frame = Frame::new(&r, &d, &shared);
        let first = frame.luma_floats(0).unwrap();
        let again = frame.luma_floats(0).unwrap();
        assert!(std::ptr::eq(first, again));
        assert_eq!(first.len(), 40 * 30);
        let mut expected = Vec::new();
        kernel::luma_to_float(&d.planes[0], 10, &mut expected);
        assert_eq!(frame.luma_floats(1).unwrap(), &expected[..]);
        let copy = shared.clone();
        // Cleared, the cache keeps the luma buffers, empty, and refills them on demand.
        let mut kept = Shared::default();
        let reused = Frame::new(&r, &d, &kept).luma_floats(0).unwrap().as_ptr();
        kept.clear();
        assert!(kept.luma[0].get().is_none() && kept.full_ssim.get().is_none());
        let again = Frame::new(&d, &r, &kept).luma_floats(1).unwrap();
        assert_eq!(again.len(), 40 * 30);
        let refilled = Frame::new(&d, &r, &kept).luma_floats(0).unwrap();
        assert!(std::ptr::eq(refilled.as_ptr(), reused));
        assert_eq!(refilled, &expected[..]);
        assert!(copy.luma[0].get().is_none() && copy.full_ssim.get().is_none());
        // A size the planes cannot hold is refused, not read out of bounds.
        let mut ws = Workspace::default();
        assert!(frame
            .full_resolution_ssim(SimdLevel::Scalar, (41, 30), &mut ws)
            .is_none());
    }
}
