//! Expected values are libvmaf v3.2.0's printed (`%.6f`) output on raw files holding the
//! motion tests' `fixture` pictures (frames (scene, t) = (0, 0), (0, 1), (1, 0); written by
//! the ignored `write_fixture_files` test below with chroma planes of libvmaf's rounded-down
//! size, which is what its raw reader reads), made with the float-enabled build:
//!
//! ```text
//! VMAFX_SPEED_FIXTURES=/tmp/spd cargo test -p vmafx-engine write_fixture_files -- --ignored
//! vmaf --cpumask 48 -r /tmp/spd/F_ref.yuv -d /tmp/spd/F_dis.yuv -w W -h H -p P -b B \
//!      -n --feature NAME=OPTS --json -o out.json
//! ```
//!
//! where `F` is `{P}_{B}_{W}x{H}`, the case's format, depth and size (`_flatu` added where
//! the distorted U plane is flat), and `NAME=OPTS` its extractor and
//! options. `--cpumask 48` masks libvmaf's AVX-512 kernels, so its AVX2 covariance sum runs
//! (see `cov`), as for the conformance goldens.

use super::*;
use crate::feature::find_extractor;
use crate::feature::motion::fixture;

struct Case {
    extractor: &'static str,
    format: PixelFormat,
    bit_depth: u8,
    size: (usize, usize),
    options: &'static [(&'static str, &'static str)],
    /// Whether the distorted U plane is made flat (a singular covariance).
    flat_u: bool,
    frames: &'static [&'static [(&'static str, &'static str)]],
}

const FRAMES: [(u32, u32); 3] = [(0, 0), (0, 1), (1, 0)];

/// Frame `(scene, t)` of `case`: the fixture pair, with a flat distorted U plane if asked.
fn frame(case: &Case, scene: u32, t: u32) -> (Picture, Picture) {
    let (w, h) = case.size;
    let (r, mut d) = fixture::pair(case.format, case.bit_depth, w, h, scene, t);
    if case.flat_u {
        match d.planes.get_mut(1) {
            Some(PlaneData::U8(p)) => p.data.fill(90),
            Some(PlaneData::U16(p)) => p.data.fill(90 << (case.bit_depth - 8)),
            _ => {}
        }
    }
    (r, d)
}

fn build_at(
    level: SimdLevel,
    name: &str,
    geometry: Geometry,
    options: &[(&str, &str)],
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    let info = find_extractor(name)?;
    let pairs: Vec<(String, String)> = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let options = OptionValues::parse(name, info.options, &pairs)?;
    (info.create)(&options, geometry, level)
}

fn geometry(case: &Case) -> Geometry {
    Geometry {
        format: case.format,
        bit_depth: case.bit_depth,
        width: case.size.0,
        height: case.size.1,
    }
}

fn printed(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.6}")
    } else {
        "null".to_string()
    }
}

fn check_at(level: SimdLevel, case: &Case) {
    let g = geometry(case);
    let mut ex = build_at(level, case.extractor, g, case.options).unwrap();
    let what = format!(
        "{} {:?} {}-bit {:?} {:?} at {level}",
        case.extractor, case.format, case.bit_depth, case.size, case.options
    );
    for (i, (&(scene, t), expected)) in FRAMES.iter().zip(case.frames).enumerate() {
        let (r, d) = frame(case, scene, t);
        let mut out = Vec::new();
        ex.extract(&r, &d, i as u32, &mut out).unwrap();
        let got: Vec<(&str, String)> = out
            .iter()
            .map(|v| {
                assert_eq!(v.index, i as u32);
                (&*v.name, printed(v.value))
            })
            .collect();
        let want: Vec<(&str, String)> = expected.iter().map(|&(k, v)| (k, v.to_string())).collect();
        assert_eq!(got, want, "{what} frame {i}");
    }
}

fn check_all(extractor: &str, at_least: usize) {
    let cases: Vec<&Case> = CASES.iter().filter(|c| c.extractor == extractor).collect();
    assert!(cases.len() >= at_least);
    for case in cases {
        for level in SimdLevel::ALL.into_iter().filter(|l| l.is_supported()) {
            check_at(level, case);
        }
    }
}

#[test]
fn speed_chroma_matches_libvmaf() {
    check_all("speed_chroma", 8);
}

#[test]
fn speed_temporal_matches_libvmaf() {
    check_all("speed_temporal", 2);
}

/// Windows of every width class (8-wide blocks, a 4-wide block, a scalar tail) and offsets.
#[test]
fn covariance_twins_agree() {
    let data: Vec<f32> = (0..40 * 23)
        .map(|i| ((i * 7919 % 997) as f32 - 498.5) / 37.0)
        .collect();
    for width in [1, 3, 4, 5, 8, 11, 12, 15, 16, 19, 35] {
        for (ox, oy) in [(0, 0), (3, 1), (4, 4)] {
            let w = cov::Windows {
                x: &data[ox..],
                y: &data[oy * 40..],
                stride: 40,
                width,
                height: 17,
            };
            let scalar = cov::cov_sum_scalar(w, 0.37, -1.25);
            for level in [SimdLevel::Avx2, SimdLevel::Avx512] {
                if crate::cpu::twin_level_available(level, "speed covariance") {
                    let got = cov::cov_sum(level, w, 0.37, -1.25);
                    assert_eq!(got.to_bits(), scalar.to_bits(), "width {width} at {level}");
                }
            }
        }
    }
}

#[test]
fn bad_options_are_refused_by_name() {
    let g = Geometry {
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        width: 200,
        height: 200,
    };
    for (key, value) in [
        ("speed_kernelscale", "0.9"),
        ("speed_prescale_method", "cubic"),
        ("speed_prescale", "5"),
        ("speed_weight_var_mode", "7"),
        ("speed_sigma_nn", "0"),
    ] {
        let err = build_at(SimdLevel::Scalar, "speed_chroma", g, &[(key, value)])
            .err()
            .unwrap_or_else(|| panic!("{key}={value} accepted"));
        assert!(err.to_string().contains(key), "{err}");
    }
    let small = Geometry {
        width: 159,
        format: PixelFormat::Yuv420,
        ..g
    };
    assert!(build_at(SimdLevel::Scalar, "speed_chroma", small, &[]).is_err());
    let gray = Geometry {
        format: PixelFormat::Yuv400,
        ..g
    };
    assert!(build_at(SimdLevel::Scalar, "speed_chroma", gray, &[]).is_err());
    assert!(build_at(SimdLevel::Scalar, "speed_temporal", gray, &[]).is_ok());
}

#[test]
fn model_option_names_get_libvmaf_suffixes() {
    let info = find_extractor("speed_chroma").unwrap();
    let pairs: Vec<(String, String)> = [
        ("speed_kernelscale", "1.0"),
        ("speed_nn_floor", "0.1"),
        ("speed_sigma_nn", "0.19"),
        ("speed_weight_var_mode", "5"),
        ("speed_max_val", "45"),
        ("speed_prescale", "0.5"),
        ("speed_prescale_method", "bilinear"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let o = OptionValues::parse("speed_chroma", info.options, &pairs).unwrap();
    assert_eq!(
        o.feature_name("Speed_chroma_feature_speed_chroma_uv_score"),
        "speed_chroma_uv_mxv_45_nnf_0.1_ps_0.5_psm_bilinear_snn_0.19_wvm_5"
    );
}

fn write_raw(path: &std::path::Path, case: &Case, distorted: bool) {
    let mut bytes = Vec::new();
    for &(scene, t) in &FRAMES {
        let (r, d) = frame(case, scene, t);
        let pic = if distorted { d } else { r };
        for plane in &pic.planes {
            match plane {
                PlaneData::U8(pl) => {
                    for y in 0..pl.height {
                        bytes.extend_from_slice(pl.row(y));
                    }
                }
                PlaneData::U16(pl) => {
                    for y in 0..pl.height {
                        for v in pl.row(y) {
                            bytes.extend_from_slice(&v.to_le_bytes());
                        }
                    }
                }
            }
        }
    }
    std::fs::write(path, bytes).unwrap();
}

/// Writes the raw inputs of every case into `$VMAFX_SPEED_FIXTURES`.
#[test]
#[ignore]
fn write_fixture_files() {
    let dir = std::path::PathBuf::from(std::env::var("VMAFX_SPEED_FIXTURES").unwrap());
    std::fs::create_dir_all(&dir).unwrap();
    for case in CASES {
        let stem = format!(
            "{}_{}_{}x{}{}",
            case.format.short_name(),
            case.bit_depth,
            case.size.0,
            case.size.1,
            if case.flat_u { "_flatu" } else { "" }
        );
        write_raw(&dir.join(format!("{stem}_ref.yuv")), case, false);
        write_raw(&dir.join(format!("{stem}_dis.yuv")), case, true);
    }
}

include!("cases.rs");
