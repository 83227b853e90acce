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
