//! Expected values come from libvmaf v3.2.0 on raw files written by the motion tests'
//! `fixture` formulas, through its CLI
//! (`vmaf -r ref.yuv -d dis.yuv -w 20 -h 14 -p FMT -b BD --feature psnr[=OPTS] -n --json`)
//! except where noted: the CLI reads neither 4:0:0 nor odd-sized subsampled raw files, so those
//! cases went through the library API (`vmaf_read_pictures` on pictures holding the same
//! samples, chroma planes at libvmaf's rounded-down size) and `vmaf_feature_score_at_index`.

use super::*;
use crate::cpu::SimdLevel;
use crate::feature::motion::fixture;

struct Run {
    per_frame: Vec<Vec<FeatureValue>>,
    aggregates: Vec<AggregateValue>,
}

impl Run {
    fn series(&self, name: &str) -> Vec<f64> {
        self.per_frame
            .iter()
            .enumerate()
            .map(|(i, out)| {
                let v = out
                    .iter()
                    .find(|v| &*v.name == name)
                    .unwrap_or_else(|| panic!("{name}"));
                assert_eq!(v.index, i as u32);
                v.value
            })
            .collect()
    }

    fn aggregate(&self, name: &str) -> f64 {
        self.aggregates
            .iter()
            .find(|a| &*a.name == name)
            .unwrap()
            .value
    }
}

fn extractor(
    format: PixelFormat,
    bd: u8,
    w: usize,
    h: usize,
    opts: &[(&str, &str)],
) -> PsnrExtractor {
    let pairs: Vec<(String, String)> = opts
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let options = OptionValues::parse("psnr", INFO.options, &pairs).unwrap();
    let geometry = Geometry {
        format,
        bit_depth: bd,
        width: w,
        height: h,
    };
    PsnrExtractor::new(&options, geometry, SimdLevel::detect()).unwrap()
}

/// Runs frames (`scene`, `t`); with `identical`, the reference is also the distorted picture.
fn run(
    format: PixelFormat,
    bd: u8,
    (w, h): (usize, usize),
    frames: &[(u32, u32)],
    opts: &[(&str, &str)],
    identical: bool,
) -> Run {
    let mut psnr = extractor(format, bd, w, h, opts);
    let mut per_frame = Vec::new();
    for (i, &(scene, t)) in frames.iter().enumerate() {
        let (r, d) = fixture::pair(format, bd, w, h, scene, t);
        let mut out = Vec::new();
        psnr.extract(&r, if identical { &r } else { &d }, i as u32, &mut out)
            .unwrap();
        per_frame.push(out);
    }
    assert!(psnr.aggregates().is_empty(), "aggregates appear at flush");
    let mut flushed = Vec::new();
    psnr.flush(&mut flushed).unwrap();
    assert!(flushed.is_empty());
    Run {
        per_frame,
        aggregates: psnr.aggregates().to_vec(),
    }
}

fn assert_close(actual: &[f64], expected: &[f64], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: {actual:?}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() < 1e-6, "{what}[{i}]: got {a}, libvmaf {e}");
    }
}

const FRAMES3: &[(u32, u32)] = &[(0, 0), (0, 1), (1, 0)];

#[test]
fn eight_bit_420_defaults() {
    let run = run(PixelFormat::Yuv420, 8, (20, 14), FRAMES3, &[], false);
    assert_close(
        &run.series("psnr_y"),
        &[32.377688, 32.411221, 32.408313],
        "psnr_y",
    );
    assert_close(
        &run.series("psnr_cb"),
        &[32.854505, 32.80508, 32.854505],
        "psnr_cb",
    );
    assert_close(
        &run.series("psnr_cr"),
        &[32.80508, 32.239289, 32.80508],
        "psnr_cr",
    );
    assert!(run.aggregates.is_empty());
}

#[test]
fn ten_bit_mse_and_apsnr_in_libvmaf_order() {
    let opts = [("enable_mse", "true"), ("enable_apsnr", "true")];
    let run = run(PixelFormat::Yuv420, 10, (20, 14), FRAMES3, &opts, false);
    let names: Vec<&str> = run.per_frame[0].iter().map(|v| &*v.name).collect();
    assert_eq!(
        names,
        ["psnr_y", "mse_y", "psnr_cb", "mse_cb", "psnr_cr", "mse_cr"]
    );
    assert_close(
        &run.series("psnr_y"),
        &[32.403197, 32.43673, 32.428012],
        "psnr_y",
    );
    assert_close(
        &run.series("mse_y"),
        &[601.771429, 597.142857, 598.342857],
        "mse_y",
    );
    assert_close(&run.series("mse_cb"), &[539.2, 545.371429, 539.2], "mse_cb");
    assert_close(
        &run.series("psnr_cr"),
        &[32.830589, 32.264799, 32.830589],
        "psnr_cr",
    );
    let agg: Vec<&str> = run.aggregates.iter().map(|a| &*a.name).collect();
    assert_eq!(agg, ["apsnr_y", "apsnr_cb", "apsnr_cr"]);
    assert_close(
        &[
            run.aggregate("apsnr_y"),
            run.aggregate("apsnr_cb"),
            run.aggregate("apsnr_cr"),
        ],
        &[32.422623, 32.863476, 32.633688],
        "apsnr",
    );
}

#[test]
fn twelve_bit_422_reduced_peak_with_min_sse() {
    let opts = [("reduced_hbd_peak", "true"), ("min_sse", "2")];
    let frames = [(0, 0), (1, 3)];
    let run1 = run(PixelFormat::Yuv422, 12, (20, 14), &frames, &opts, false);
    assert_close(&run1.series("psnr_y"), &[32.377688, 32.42299], "psnr_y");
    assert_close(&run1.series("psnr_cb"), &[32.55831, 32.722148], "psnr_cb");
    assert_close(&run1.series("psnr_cr"), &[32.688351, 32.472325], "psnr_cr");
    // Identical pictures hit the cap ceil(10 log10(peak^2 * pixels / min_sse)), peak 4080.
    let same = run(PixelFormat::Yuv422, 12, (20, 14), &frames, &opts, true);
    assert_eq!(same.series("psnr_y"), [94.0, 94.0]);
    assert_eq!(same.series("psnr_cb"), [91.0, 91.0]);
}

#[test]
fn sixteen_bit_444_with_apsnr() {
    let frames = [(0, 0), (1, 3)];
    let run = run(
        PixelFormat::Yuv444,
        16,
        (20, 14),
        &frames,
        &[("enable_apsnr", "true")],
        false,
    );
    assert_close(&run.series("psnr_y"), &[32.411525, 32.456224], "psnr_y");
    assert_close(&run.series("psnr_cb"), &[32.445084, 32.623762], "psnr_cb");
    assert_close(&run.series("psnr_cr"), &[32.501976, 32.471477], "psnr_cr");
    assert_close(&[run.aggregate("apsnr_cr")], &[32.4867], "apsnr_cr");
}

#[test]
fn identical_pictures_are_capped_at_six_bpc_plus_twelve() {
    for (bd, cap) in [(8, 60.0), (10, 72.0), (12, 84.0), (16, 108.0)] {
        let run = run(
            PixelFormat::Yuv420,
            bd,
            (20, 14),
            FRAMES3,
            &[("enable_apsnr", "true")],
            true,
        );
        for name in ["psnr_y", "psnr_cb", "psnr_cr"] {
            assert_eq!(run.series(name), [cap; 3], "{name} at {bd} bits");
        }
        if bd == 10 {
            // libvmaf's APSNR cap for zero error: ceil(10 log10(peak^2 * pixels * 2)).
            assert_eq!(run.aggregate("apsnr_y"), 93.0);
            assert_eq!(run.aggregate("apsnr_cb"), 87.0);
        }
    }
}

#[test]
fn luma_only_input_has_no_chroma_but_still_three_aggregates() {
    // libvmaf v3.2.0 library API, 4:0:0 8-bit 19x13.
    let opts = [("enable_apsnr", "true"), ("enable_mse", "true")];
    let run = run(
        PixelFormat::Yuv400,
        8,
        (19, 13),
        &[(0, 0), (0, 1)],
        &opts,
        false,
    );
    assert_eq!(run.per_frame[0].len(), 2);
    assert_close(
        &run.series("psnr_y"),
        &[32.345014654, 32.419894868],
        "psnr_y",
    );
    assert_close(&run.series("mse_y"), &[37.894736842, 37.246963563], "mse_y");
    assert_close(&[run.aggregate("apsnr_y")], &[32.382293379], "apsnr_y");
    assert_eq!(run.aggregate("apsnr_cb"), f64::NEG_INFINITY);
    assert_eq!(run.aggregate("apsnr_cr"), f64::NEG_INFINITY);
}

#[test]
fn odd_sized_420_measures_libvmafs_rounded_down_chroma() {
    // libvmaf v3.2.0 library API, 4:2:0 8-bit 19x13 (chroma 9x6 there, 10x7 in the picture).
    let run = run(
        PixelFormat::Yuv420,
        8,
        (19, 13),
        &[(0, 0), (1, 1)],
        &[],
        false,
    );
    assert_close(
        &run.series("psnr_y"),
        &[32.345014654, 32.528880492],
        "psnr_y",
    );
    assert_close(
        &run.series("psnr_cb"),
        &[32.585687677, 32.740972488],
        "psnr_cb",
    );
    assert_close(
        &run.series("psnr_cr"),
        &[32.740972488, 32.187287411],
        "psnr_cr",
    );
}

#[test]
fn chroma_can_be_disabled() {
    let run = run(
        PixelFormat::Yuv420,
        8,
        (20, 14),
        FRAMES3,
        &[("enable_chroma", "false")],
        false,
    );
    assert!(run
        .per_frame
        .iter()
        .all(|out| out.len() == 1 && &*out[0].name == "psnr_y"));
    assert_close(
        &run.series("psnr_y"),
        &[32.377688, 32.411221, 32.408313],
        "psnr_y",
    );
}

#[test]
fn depths_libvmaf_rejects_are_rejected() {
    let options = OptionValues::defaults("psnr", INFO.options);
    for bd in [9, 11, 14, 15] {
        let geometry = Geometry {
            format: PixelFormat::Yuv420,
            bit_depth: bd,
            width: 8,
            height: 8,
        };
        assert!(
            PsnrExtractor::new(&options, geometry, SimdLevel::detect()).is_err(),
            "{bd} bits"
        );
    }
}

#[test]
fn mismatched_pictures_are_refused() {
    let mut psnr = extractor(PixelFormat::Yuv420, 8, 20, 14, &[]);
    let (r, _) = fixture::pair(PixelFormat::Yuv420, 8, 20, 14, 0, 0);
    let (other, _) = fixture::pair(PixelFormat::Yuv444, 8, 20, 14, 0, 0);
    let mut out = Vec::new();
    assert!(psnr.extract(&r, &other, 0, &mut out).is_err());
    assert!(out.is_empty());
}

/// Twin tests: the AVX2 and AVX-512 sums against their scalar twins, bit for bit.
mod twins {
    use crate::cpu::SimdLevel;
    use crate::feature::psnr::kernel::{plane_sse_u16, plane_sse_u8};
    use crate::picture::{Pixel, Plane};

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) as u32
        }

        /// Mostly uniform samples, with runs of the extremes to reach the largest squares.
        fn sample(&mut self, max: u32) -> u32 {
            match self.next() % 8 {
                0 => 0,
                1 => max,
                _ => self.next() % (max + 1),
            }
        }
    }

    /// The SIMD levels to compare with scalar: AVX2, and AVX-512 where this CPU has it.
    fn simd_levels() -> Vec<SimdLevel> {
        [
            (SimdLevel::Avx2, "psnr AVX2 squared-error sums"),
            (SimdLevel::Avx512, "psnr AVX-512 squared-error sums"),
        ]
        .into_iter()
        .filter(|&(level, kernels)| crate::cpu::twin_level_available(level, kernels))
        .map(|(level, _)| level)
        .collect()
    }

    /// A plane whose stride exceeds its width, padding filled with the largest sample so that
    /// reading it would show in the sums.
    fn plane<T: Pixel + TryFrom<u32>>(
        rng: &mut Rng,
        w: usize,
        h: usize,
        max: u32,
        pick: &mut dyn FnMut(&mut Rng) -> u32,
    ) -> Plane<T>
    where
        <T as TryFrom<u32>>::Error: std::fmt::Debug,
    {
        let stride = w + (rng.next() % 3) as usize;
        let data = (0..stride * h)
            .map(|i| T::try_from(if i % stride < w { pick(rng) } else { max }).unwrap())
            .collect();
        Plane {
            width: w,
            height: h,
            stride,
            data,
        }
    }

    fn compare_u8(rng: &mut Rng, levels: &[SimdLevel], w: usize, h: usize) {
        let a: Plane<u8> = plane(rng, w, h, 255, &mut |r| r.sample(255));
        let b: Plane<u8> = plane(rng, w, h, 255, &mut |r| r.sample(255));
        // Measuring a region narrower than the plane, as for chroma, must stop at its edge.
        let (rw, rh) = (w - (rng.next() as usize % w.min(3)), h);
        let scalar = plane_sse_u8(SimdLevel::Scalar, &a, &b, rw, rh);
        for &level in levels {
            assert_eq!(
                plane_sse_u8(level, &a, &b, rw, rh),
                scalar,
                "{level}: {rw}x{rh} of {w}x{h}"
            );
        }
    }

    fn compare_u16(rng: &mut Rng, levels: &[SimdLevel], w: usize, h: usize, bd: u8) {
        let max = (1u32 << bd) - 1;
        let a: Plane<u16> = plane(rng, w, h, max, &mut |r| r.sample(max));
        let b: Plane<u16> = plane(rng, w, h, max, &mut |r| r.sample(max));
        let (rw, rh) = (w - (rng.next() as usize % w.min(3)), h);
        let scalar = plane_sse_u16(SimdLevel::Scalar, &a, &b, rw, rh, bd);
        for &level in levels {
            assert_eq!(
                plane_sse_u16(level, &a, &b, rw, rh, bd),
                scalar,
                "{level}: {rw}x{rh} of {w}x{h} at {bd} bits"
            );
        }
    }

    #[test]
    fn plane_sums_match_scalar() {
        let levels = simd_levels();
        if levels.is_empty() {
            return;
        }
        let mut rng = Rng(0x9517);
        for w in 1..=70 {
            for h in [1, 2, 3, 5] {
                compare_u8(&mut rng, &levels, w, h);
                for bd in [10, 12, 15, 16] {
                    compare_u16(&mut rng, &levels, w, h, bd);
                }
            }
        }
        for (w, h) in [(1921, 3), (1920, 2), (961, 5), (3839, 2)] {
            compare_u8(&mut rng, &levels, w, h);
            for bd in [10, 12, 15, 16] {
                compare_u16(&mut rng, &levels, w, h, bd);
            }
        }
    }

    #[test]
    fn extreme_rows_wrap_or_carry_like_scalar() {
        // Rows of nothing but full-scale differences: 8-bit row sums wrap at 2^32 past 66 051
        // samples, and the deeper sums must carry their lanes into 64 bits without loss.
        let levels = simd_levels();
        let full = |w: usize, value: u32| {
            let mut rng = Rng(0);
            (
                plane::<u16>(&mut rng, w, 1, value, &mut |_| value),
                plane::<u16>(&mut rng, w, 1, 0, &mut |_| 0),
            )
        };
        let w8 = 66_052 + 37;
        let mut rng = Rng(1);
        let a8: Plane<u8> = plane(&mut rng, w8, 2, 255, &mut |_| 255);
        let b8: Plane<u8> = plane(&mut rng, w8, 2, 0, &mut |_| 0);
        let scalar8 = plane_sse_u8(SimdLevel::Scalar, &a8, &b8, w8, 2);
        assert_eq!(scalar8, 2 * ((w8 as u64 * 65_025) % (1 << 32)));
        for &level in &levels {
            assert_eq!(plane_sse_u8(level, &a8, &b8, w8, 2), scalar8, "{level}");
            for bd in [10, 12, 15, 16] {
                let max = (1u32 << bd) - 1;
                for w in [33, 4099, 70_001] {
                    let (a, b) = full(w, max);
                    let scalar = plane_sse_u16(SimdLevel::Scalar, &a, &b, w, 1, bd);
                    assert_eq!(scalar, w as u64 * u64::from(max) * u64::from(max));
                    assert_eq!(
                        plane_sse_u16(level, &a, &b, w, 1, bd),
                        scalar,
                        "{level}: width {w} at {bd} bits"
                    );
                    assert_eq!(plane_sse_u16(level, &b, &a, w, 1, bd), scalar, "{level}");
                }
            }
        }
    }
}
