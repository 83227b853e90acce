//! Expected values come from libvmaf v3.2.0's CLI on raw files written by `fixture`'s formulas:
//! `vmaf -r ref.yuv -d dis.yuv -w 19 -h 13 -p 444 -b BD --feature motion[=OPTS] -n --json`.
//! The 4:4:4 layout is only there because the CLI cannot read odd-sized subsampled files;
//! motion looks at luma only.

use super::*;
use crate::cpu::SimdLevel;
use crate::feature::motion::fixture;
use crate::picture::PixelFormat;

const W: usize = 19;
const H: usize = 13;

/// Values pushed by each `extract` call, then by `flush`.
struct Run {
    per_frame: Vec<Vec<FeatureValue>>,
    flushed: Vec<FeatureValue>,
}

impl Run {
    fn all(&self) -> impl Iterator<Item = &FeatureValue> {
        self.per_frame.iter().flatten().chain(&self.flushed)
    }

    /// Values of `name` in frame order, checking every frame has exactly one.
    fn series(&self, name: &str) -> Vec<f64> {
        let mut values: Vec<(u32, f64)> = self
            .all()
            .filter(|v| &*v.name == name)
            .map(|v| (v.index, v.value))
            .collect();
        values.sort_by_key(|v| v.0);
        let indices: Vec<u32> = values.iter().map(|v| v.0).collect();
        assert_eq!(
            indices,
            (0..self.per_frame.len() as u32).collect::<Vec<_>>(),
            "{name}"
        );
        values.into_iter().map(|v| v.1).collect()
    }
}

fn run(bd: u8, width: usize, height: usize, frames: &[(u32, u32)], opts: &[(&str, &str)]) -> Run {
    let pairs: Vec<(String, String)> = opts
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let options = OptionValues::parse("motion", INFO.options, &pairs).unwrap();
    let geometry = Geometry {
        format: PixelFormat::Yuv444,
        bit_depth: bd,
        width,
        height,
    };
    let mut extractor = (INFO.create)(&options, geometry, SimdLevel::detect()).unwrap();
    let mut per_frame = Vec::new();
    for (i, &(scene, t)) in frames.iter().enumerate() {
        let (r, d) = fixture::pair(PixelFormat::Yuv444, bd, width, height, scene, t);
        let mut out = Vec::new();
        extractor.extract(&r, &d, i as u32, &mut out).unwrap();
        per_frame.push(out);
    }
    let mut flushed = Vec::new();
    extractor.flush(&mut flushed).unwrap();
    Run { per_frame, flushed }
}

fn assert_close(actual: &[f64], expected: &[f64], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: {actual:?}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() < 1e-6, "{what}[{i}]: got {a}, libvmaf {e}");
    }
}

const SAD: &str = "VMAF_integer_feature_motion_sad_score";
const M2: &str = "VMAF_integer_feature_motion2_score";
const M3: &str = "VMAF_integer_feature_motion3_score";

/// Motion, a still frame, a scene cut, motion again.
const CUT_AND_STILL: &[(u32, u32)] = &[(0, 0), (0, 1), (0, 1), (1, 0), (1, 2)];

#[test]
fn eight_bit_scene_cut_and_still_frame() {
    let run = run(8, W, H, CUT_AND_STILL, &[]);
    assert_close(
        &run.series(SAD),
        &[0.0, 20.865843, 0.0, 33.721676, 15.515419],
        "sad",
    );
    assert_close(
        &run.series(M2),
        &[0.0, 0.0, 0.0, 15.515419, 15.515419],
        "motion2",
    );
    assert_close(
        &run.series(M3),
        &[20.865843, 0.0, 0.0, 15.515419, 15.515419],
        "motion3",
    );
}

#[test]
fn writes_sad_per_frame_and_motion2_motion3_at_flush_like_libvmaf() {
    let run = run(8, W, H, CUT_AND_STILL, &[]);
    for (i, out) in run.per_frame.iter().enumerate() {
        assert_eq!(out.len(), 1, "frame {i}");
        assert_eq!((&*out[0].name, out[0].index), (SAD, i as u32));
    }
    let order: Vec<(&str, u32)> = run.flushed.iter().map(|v| (&*v.name, v.index)).collect();
    let expected: Vec<(&str, u32)> = (0..5).flat_map(|i| [(M2, i), (M3, i)]).collect();
    assert_eq!(order, expected);
}

#[test]
fn sixteen_bit_uses_the_wide_vertical_pass() {
    let run = run(16, W, H, CUT_AND_STILL, &[]);
    assert_close(
        &run.series(SAD),
        &[0.0, 20.903561, 0.0, 33.672618, 15.520449],
        "sad",
    );
    assert_close(
        &run.series(M3),
        &[20.903561, 0.0, 0.0, 15.520449, 15.520449],
        "motion3",
    );
}

#[test]
fn five_frame_window_moving_average_and_blend_at_ten_bits() {
    let opts = [
        ("motion_five_frame_window", "true"),
        ("motion_moving_average", "true"),
        ("motion_blend_factor", "0.5"),
        ("motion_blend_offset", "3"),
    ];
    let frames = [(0, 0), (0, 1), (0, 3), (1, 0), (1, 0), (1, 2)];
    let run = run(10, W, H, &frames, &opts);
    let suffix = "_mbf_0.5_mbo_3_mffw_mma";
    assert_close(
        &run.series(&format!("{SAD}{suffix}")),
        &[0.0, 0.0, 66.726309, 33.69876, 45.306095, 15.511039],
        "sad",
    );
    assert_close(
        &run.series(&format!("integer_motion2{suffix}")),
        &[0.0, 0.0, 33.69876, 45.306095, 15.511039, 15.511039],
        "motion2",
    );
    assert_close(
        &run.series(&format!("integer_motion3{suffix}")),
        &[
            34.863155, 34.863155, 26.606267, 21.251214, 16.704283, 9.255519,
        ],
        "motion3",
    );
}

#[test]
fn fps_weight_and_max_value_clip_at_twelve_bits() {
    let opts = [("motion_fps_weight", "2.5"), ("motion_max_val", "4")];
    let run = run(12, W, H, &[(0, 0), (0, 2), (1, 1), (1, 3)], &opts);
    assert_close(
        &run.series(&format!("{SAD}_mfw_2.5_mmxv_4")),
        &[0.0, 4.0, 4.0, 4.0],
        "sad",
    );
    assert_close(
        &run.series("integer_motion3_mfw_2.5_mmxv_4"),
        &[4.0; 4],
        "motion3",
    );
}

#[test]
fn single_frame_clip_is_all_zero() {
    let run = run(8, W, H, &[(0, 0)], &[]);
    assert_eq!(run.series(SAD), [0.0]);
    assert_eq!(run.series(M2), [0.0]);
    assert_eq!(run.series(M3), [0.0]);
}

#[test]
fn two_frame_clip_uses_the_last_sad_for_both_frames() {
    let run2 = run(8, W, H, &[(0, 0), (0, 1)], &[]);
    assert_close(&run2.series(SAD), &[0.0, 20.865843], "sad");
    assert_close(&run2.series(M2), &[0.0, 20.865843], "motion2");
    assert_close(&run2.series(M3), &[20.865843, 20.865843], "motion3");

    // The five-frame window never looks back far enough in two frames.
    let opts = [("motion_five_frame_window", "true")];
    let short = run(8, W, H, &[(0, 0), (0, 1)], &opts);
    assert_eq!(short.series(&format!("{SAD}_mffw")), [0.0, 0.0]);
    assert_eq!(short.series("integer_motion3_mffw"), [0.0, 0.0]);
    let three = run(8, W, H, &[(0, 0), (0, 1), (1, 0)], &opts);
    assert_close(
        &three.series(&format!("{SAD}_mffw")),
        &[0.0, 0.0, 36.802505],
        "sad",
    );
    assert_close(
        &three.series("integer_motion2_mffw"),
        &[0.0, 0.0, 36.802505],
        "motion2",
    );
    assert_close(
        &three.series("integer_motion3_mffw"),
        &[36.802505; 3],
        "motion3",
    );
}

#[test]
fn force_zero_with_debug_writes_zeros_under_derived_names() {
    let opts = [("motion_force_zero", "true"), ("debug", "true")];
    let run = run(8, W, H, &[(0, 0), (0, 1), (1, 0)], &opts);
    let first: Vec<&str> = run.per_frame[1].iter().map(|v| &*v.name).collect();
    assert_eq!(first, [&format!("{SAD}_force_0"), "integer_motion_force_0"]);
    for name in [
        format!("{SAD}_force_0"),
        "integer_motion_force_0".into(),
        "integer_motion2_force_0".into(),
        "integer_motion3_force_0".into(),
    ] {
        assert_eq!(run.series(&name), [0.0; 3], "{name}");
    }
}

#[test]
fn pictures_too_small_to_mirror_fail_once_a_score_is_needed() {
    let options = OptionValues::defaults("motion", INFO.options);
    let geometry = Geometry {
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        width: 2,
        height: 9,
    };
    let mut extractor = (INFO.create)(&options, geometry, SimdLevel::detect()).unwrap();
    let (r, d) = fixture::pair(PixelFormat::Yuv444, 8, 2, 9, 0, 0);
    let mut out = Vec::new();
    extractor.extract(&r, &d, 0, &mut out).unwrap();
    assert!(extractor.extract(&r, &d, 1, &mut out).is_err());
}

#[test]
fn frames_must_arrive_in_order() {
    let options = OptionValues::defaults("motion", INFO.options);
    let geometry = Geometry {
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        width: W,
        height: H,
    };
    let mut extractor = (INFO.create)(&options, geometry, SimdLevel::detect()).unwrap();
    let (r, d) = fixture::pair(PixelFormat::Yuv444, 8, W, H, 0, 0);
    let mut out = Vec::new();
    assert!(extractor.extract(&r, &d, 1, &mut out).is_err());
    extractor.extract(&r, &d, 0, &mut out).unwrap();
    // A 10-bit picture is not what this instance was built for.
    let (r10, d10) = fixture::pair(PixelFormat::Yuv444, 10, W, H, 0, 0);
    assert!(extractor.extract(&r10, &d10, 1, &mut out).is_err());
}

#[test]
fn options_match_libvmaf() {
    let find = |name: &str| INFO.options.iter().find(|o| o.name == name).unwrap();
    assert_eq!(find("motion_force_zero").alias, Some("force_0"));
    assert_eq!(
        find("motion_blend_offset").default,
        OptionValue::Double(40.0)
    );
    assert_eq!(find("motion_max_val").max, 10000.0);
    assert!(!find("debug").feature_param);
    assert_eq!(INFO.options.len(), 8);
    assert!(INFO.temporal);
}

/// Twin tests: the AVX2 and AVX-512 kernels against their scalar twins, bit for bit.
mod twins {
    use crate::cpu::SimdLevel;
    use crate::feature::motion::kernel::{self, blurred_sad_replacing, MotionSample};

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) as u32
        }

        /// Mostly uniform samples, with runs of the extremes to reach the worst-case sums.
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
            (SimdLevel::Avx2, "motion AVX2 blurred SAD"),
            (SimdLevel::Avx512, "motion AVX-512 blurred SAD"),
        ]
        .into_iter()
        .filter(|&(level, kernels)| crate::cpu::twin_level_available(level, kernels))
        .map(|(level, _)| level)
        .collect()
    }

    fn plane<T: TryFrom<u32>>(rng: &mut Rng, len: usize, bd: u8) -> Vec<T>
    where
        <T as TryFrom<u32>>::Error: std::fmt::Debug,
    {
        let max = (1u32 << bd) - 1;
        (0..len)
            .map(|_| T::try_from(rng.sample(max)).unwrap())
            .collect()
    }

    /// Mostly random frames, sometimes a frame that differs from the previous one in a few
    /// samples only, so that the all-zero row skip runs too.
    fn compare<T: MotionSample + TryFrom<u32> + PartialEq + std::fmt::Debug>(
        rng: &mut Rng,
        levels: &[SimdLevel],
        w: usize,
        h: usize,
        bd: u8,
    ) where
        <T as TryFrom<u32>>::Error: std::fmt::Debug,
    {
        // Strides wider than the picture check that padding is never read as samples, and
        // never written.
        let prev_stride = w + (rng.next() % 3) as usize;
        let cur_stride = w + (rng.next() % 3) as usize;
        let prev: Vec<T> = plane(rng, prev_stride * h, bd);
        let mut cur: Vec<T> = plane(rng, cur_stride * h, bd);
        if rng.next().is_multiple_of(4) {
            for y in 0..h {
                cur[y * cur_stride..][..w].copy_from_slice(&prev[y * prev_stride..][..w]);
            }
            let changed: Vec<T> = plane(rng, 2, bd);
            cur[(rng.next() as usize % h) * cur_stride + rng.next() as usize % w] = changed[0];
        }
        let mut row = vec![0; w];
        let mut expected_prev = prev.clone();
        for y in 0..h {
            expected_prev[y * prev_stride..][..w].copy_from_slice(&cur[y * cur_stride..][..w]);
        }
        let run = |level: SimdLevel, row: &mut Vec<i32>| {
            let mut kept = prev.clone();
            let sad = blurred_sad_replacing(
                level,
                &mut kept,
                prev_stride,
                &cur,
                cur_stride,
                w,
                h,
                bd,
                row,
            );
            assert!(kept == expected_prev, "{level}: {w}x{h} at {bd} bits");
            sad
        };
        let scalar = run(SimdLevel::Scalar, &mut row);
        for &level in levels {
            assert_eq!(
                run(level, &mut row),
                scalar,
                "{level}: {w}x{h} at {bd} bits, strides {prev_stride}/{cur_stride}"
            );
        }
    }

    #[test]
    fn blurred_sad_simd_matches_scalar() {
        let levels = simd_levels();
        if levels.is_empty() {
            return;
        }
        let mut rng = Rng(0x5eed);
        for w in kernel::MIN_SIDE..=70 {
            for h in [3, 4, 5, 7, 10] {
                compare::<u8>(&mut rng, &levels, w, h, 8);
                for bd in [10, 12, 14, 15, 16] {
                    compare::<u16>(&mut rng, &levels, w, h, bd);
                }
            }
        }
        for (w, h) in [(1921, 5), (1920, 9), (257, 33), (1923, 4), (131, 17)] {
            compare::<u8>(&mut rng, &levels, w, h, 8);
            for bd in [9, 10, 12, 15, 16] {
                compare::<u16>(&mut rng, &levels, w, h, bd);
            }
        }
    }

    #[test]
    fn horizontal_pass_simd_matches_scalar() {
        let levels = simd_levels();
        let mut rng = Rng(0xabc);
        for w in (kernel::MIN_SIDE..=70).chain([1921, 3840]) {
            // The vertical pass yields values within ±2^16.
            let row: Vec<i32> = (0..w)
                .map(|_| rng.sample(1 << 17) as i32 - (1 << 16))
                .collect();
            let scalar = kernel::horizontal_abs_sum(&row);
            let high: Vec<i16> = row.iter().map(|&y| (y >> 8) as i16).collect();
            let low: Vec<i16> = row.iter().map(|&y| (y & 0xff) as i16).collect();
            assert!(row
                .iter()
                .zip(high.iter().zip(&low))
                .all(|(&y, (&h, &l))| kernel::join(h, l) == y));
            for &level in &levels {
                let simd = match level {
                    // SAFETY: AVX2 was detected above and `w >= MIN_SIDE`.
                    SimdLevel::Avx2 => unsafe {
                        crate::feature::motion::avx2::horizontal_abs_sum(&high, &low)
                    },
                    // SAFETY: AVX-512 was detected above and `w >= MIN_SIDE`.
                    _ => unsafe { crate::feature::motion::avx512::horizontal_abs_sum(&high, &low) },
                };
                assert_eq!(scalar, simd, "{level}: width {w}");
            }
        }
    }

    #[test]
    fn wide_vertical_passes_are_exact_at_the_extremes() {
        // Columns of alternating full-scale samples give the largest filtered differences at
        // 15 and 16 bits, of both signs, which is where the split sums must carry correctly.
        let levels = simd_levels();
        for bd in [15u8, 16] {
            let max = ((1u32 << bd) - 1) as u16;
            for pattern in 0..32u32 {
                let w = 37;
                let column = |k: usize, j: usize, flip: bool| {
                    let bit = (pattern >> k) & 1 == 1;
                    if (bit ^ flip) ^ j.is_multiple_of(3) {
                        max
                    } else {
                        0
                    }
                };
                let prev: Vec<Vec<u16>> = (0..5)
                    .map(|k| (0..w).map(|j| column(k, j, false)).collect())
                    .collect();
                let cur: Vec<Vec<u16>> = (0..5)
                    .map(|k| (0..w).map(|j| column(k, j, true)).collect())
                    .collect();
                let p: [&[u16]; 5] = std::array::from_fn(|k| prev[k].as_slice());
                let c: [&[u16]; 5] = std::array::from_fn(|k| cur[k].as_slice());
                let mut scalar = vec![0; w];
                kernel::vertical_diff_tail(&p, &c, u32::from(bd), 0, &mut scalar);
                for &level in &levels {
                    let (mut high, mut low) = (vec![0i16; w], vec![0i16; w]);
                    match level {
                        // SAFETY: AVX2 was detected above; every row holds `w` samples.
                        SimdLevel::Avx2 => unsafe {
                            crate::feature::motion::avx2::vertical_diff_wide(
                                &p,
                                &c,
                                u32::from(bd),
                                &mut high,
                                &mut low,
                            );
                        },
                        // SAFETY: AVX-512 was detected above; every row holds `w` samples.
                        _ => unsafe {
                            crate::feature::motion::avx512::vertical_diff_wide(
                                &p,
                                &c,
                                u32::from(bd),
                                &mut high,
                                &mut low,
                            );
                        },
                    }
                    let simd: Vec<i32> = high
                        .iter()
                        .zip(&low)
                        .map(|(&h, &l)| kernel::join(h, l))
                        .collect();
                    assert_eq!(scalar, simd, "{level} at {bd} bits, pattern {pattern:05b}");
                }
            }
        }
    }
}
