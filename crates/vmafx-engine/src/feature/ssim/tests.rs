//! Expected values are libvmaf v3.2.0's printed (`%.6f`) output on raw 4:4:4 files written
//! from the motion tests' `fixture` formulas (frames (scene, t) = (0, 0), (0, 1), (1, 0);
//! `X_ref.yuv`/`X_dis.yuv` hold `fixture::pair`'s reference/distorted pictures of the size and
//! depth given), made with the libvmaf command written above each case. A `null` in libvmaf's
//! JSON is an infinite value. Only luma matters to these extractors; 4:4:4 is used because
//! libvmaf's CLI reads no odd-sized subsampled raw file.

use super::ms_ssim::MsSsimExtractor;
use super::*;
use crate::feature::motion::fixture;
use crate::feature::{find_extractor, find_provider};
use crate::picture::PixelFormat;

struct Case {
    extractor: &'static str,
    bit_depth: u8,
    size: (usize, usize),
    options: &'static [(&'static str, &'static str)],
    identical: bool,
    frames: &'static [&'static [(&'static str, &'static str)]],
}

const FRAMES: [(u32, u32); 3] = [(0, 0), (0, 1), (1, 0)];

fn geometry(bit_depth: u8, (width, height): (usize, usize)) -> Geometry {
    Geometry {
        format: PixelFormat::Yuv444,
        bit_depth,
        width,
        height,
    }
}

fn build(
    name: &str,
    geometry: Geometry,
    options: &[(&str, &str)],
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    build_at(SimdLevel::detect(), name, geometry, options)
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

/// libvmaf's printing of a value: `%.6f`, with non-finite values as JSON `null`.
fn printed(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.6}")
    } else {
        "null".to_string()
    }
}

/// Runs `case` at every SIMD level this CPU has.
fn check(case: &Case) {
    for level in SimdLevel::ALL.into_iter().filter(|l| l.is_supported()) {
        check_at(level, case);
    }
}

fn check_at(level: SimdLevel, case: &Case) {
    let g = geometry(case.bit_depth, case.size);
    let mut ex = build_at(level, case.extractor, g, case.options).unwrap();
    let what = format!(
        "{} {:?} {:?} at {level}",
        case.extractor, case.size, case.options
    );
    for (i, (&(scene, t), expected)) in FRAMES.iter().zip(case.frames).enumerate() {
        let (w, h) = case.size;
        let (r, d) = fixture::pair(PixelFormat::Yuv444, case.bit_depth, w, h, scene, t);
        let mut out = Vec::new();
        ex.extract(&r, if case.identical { &r } else { &d }, i as u32, &mut out)
            .unwrap();
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

#[test]
fn float_ssim_matches_libvmaf() {
    let cases: Vec<&Case> = CASES
        .iter()
        .filter(|c| c.extractor == "float_ssim")
        .collect();
    assert!(cases.len() > 10);
    for case in cases {
        check(case);
    }
}

#[test]
fn float_ms_ssim_matches_libvmaf() {
    let cases: Vec<&Case> = CASES
        .iter()
        .filter(|c| c.extractor == "float_ms_ssim")
        .collect();
    assert!(cases.len() >= 4);
    for case in cases {
        check(case);
    }
}

#[test]
fn registry_finds_both() {
    assert_eq!(
        find_provider("float_ssim").map(|i| i.name),
        Some("float_ssim")
    );
    assert_eq!(
        find_provider("float_ms_ssim").map(|i| i.name),
        Some("float_ms_ssim")
    );
}

#[test]
fn auto_scale_rounds_like_iqa() {
    assert_eq!(pick_scale(0, 37, 29), 1);
    assert_eq!(pick_scale(0, 1920, 1080), 4);
    assert_eq!(pick_scale(0, 1280, 720), 3);
    assert_eq!(pick_scale(0, 600, 383), 1);
    assert_eq!(pick_scale(0, 600, 384), 2);
    assert_eq!(pick_scale(3, 1920, 1080), 3);
}

#[test]
fn too_small_pictures_are_refused() {
    assert!(build("float_ssim", geometry(8, (10, 40)), &[]).is_err());
    assert!(build("float_ssim", geometry(8, (40, 20)), &[("scale", "2")]).is_err());
    assert!(build("float_ssim", geometry(9, (40, 40)), &[]).is_err());
    assert!(build("float_ms_ssim", geometry(8, (175, 400)), &[]).is_err());
    assert!(build("float_ms_ssim", geometry(8, (176, 176)), &[]).is_ok());
    let options = OptionValues::parse("float_ms_ssim", ms_ssim::OPTIONS, &[]).unwrap();
    assert!(MsSsimExtractor::new(&options, geometry(8, (100, 400)), SimdLevel::Scalar).is_err());
}

#[test]
fn mismatched_pictures_are_refused() {
    let mut ex = build("float_ssim", geometry(8, (37, 29)), &[]).unwrap();
    let (r, _) = fixture::pair(PixelFormat::Yuv444, 8, 37, 30, 0, 0);
    assert!(ex.extract(&r, &r, 0, &mut Vec::new()).is_err());
}

/// Deterministic samples in 0..=255 with a fractional part, as 10-bit input gives.
fn noise(n: usize, seed: u32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| {
            let h = i.wrapping_mul(0x9E37_79B1) ^ seed.wrapping_mul(0x85EB_CA77);
            let h = (h ^ (h >> 15)).wrapping_mul(0x2C1B_3C6D);
            ((h ^ (h >> 12)) % 1024) as f32 / 4.0
        })
        .collect()
}

#[test]
fn decimation_matches_the_literal_in_place_filter() {
    let mut scratch = kernel::DecimateScratch::default();
    let mut fast = Vec::new();
    for level in SimdLevel::ALL.into_iter().filter(|l| l.is_supported()) {
        for (w, h) in [(37, 29), (120, 111), (64, 48), (21, 22)] {
            let src = noise(w * h, (w * h) as u32);
            for factor in 2..=10 {
                if w / factor < 2 || h / factor < 2 {
                    continue;
                }
                let mut literal = src.clone();
                let size = kernel::decimate_box_in_place(&mut literal, w, h, factor);
                let filter = (&kernel::box_kernel(factor)[..], factor);
                let got = kernel::decimate(
                    level,
                    kernel::Rows::floats(&src, w, h),
                    factor,
                    filter,
                    &mut scratch,
                    &mut fast,
                );
                assert_eq!(got, size);
                let n = size.0 * size.1;
                assert_eq!(fast, literal[..n], "{w}x{h} by {factor} at {level}");
            }
            if w >= 21 {
                let (literal, size) = kernel::decimate_lpf_literal(&src, w, h);
                let got = kernel::decimate_lpf(level, &src, (w, h), &mut scratch, &mut fast);
                assert_eq!(got, size);
                assert_eq!(fast, literal, "{w}x{h} low-pass at {level}");
            }
        }
    }
}

/// The one-pass SSIM equals the whole-picture form bit for bit at every level, on sizes
/// around the 16-lane blocks and the 11-row ring, on integer (8-bit), quarter (10-bit) and
/// wide-ranging signed samples (as MS-SSIM's low-pass outputs are), with a second frame at the
/// same size reusing the workspace.
#[test]
fn one_pass_ssim_matches_the_whole_picture_form() {
    let wide = |n: usize, seed: u32| -> Vec<f32> {
        noise(n, seed)
            .iter()
            .enumerate()
            .map(|(i, &v)| (v - 128.0) * [1.0, 1e-3, 37.5, 1e-6][i % 4])
            .collect()
    };
    let integer =
        |n: usize, seed: u32| -> Vec<f32> { noise(n, seed).iter().map(|v| v.floor()).collect() };
    for level in SimdLevel::ALL.into_iter().filter(|l| l.is_supported()) {
        for (w, h) in [(11, 11), (26, 12), (27, 40), (43, 21), (120, 77), (191, 23)] {
            let mut ws = kernel::Workspace::default();
            let make: [&dyn Fn(usize, u32) -> Vec<f32>; 3] = [&noise, &integer, &wide];
            for (k, f) in make.iter().enumerate() {
                let seed = (w * 1000 + h * 10 + k) as u32;
                let a = f(w * h, seed);
                // The distorted picture: the reference with a little noise, and a few
                // samples equal, so that flat and matching windows occur too.
                let b: Vec<f32> = a
                    .iter()
                    .zip(f(w * h, seed ^ 0x5555))
                    .enumerate()
                    .map(|(i, (&x, n))| if i % 7 == 0 { x } else { x + n * 0.05 })
                    .collect();
                for (r, d) in [(&a, &b), (&a, &a), (&b, &a)] {
                    let want = kernel::ssim_literal(r, d, w, h);
                    let got = kernel::ssim(level, r, d, w, h, &mut ws);
                    for (g, e) in [
                        (got.ssim, want.ssim),
                        (got.l, want.l),
                        (got.c, want.c),
                        (got.s, want.s),
                    ] {
                        assert_eq!(g.to_bits(), e.to_bits(), "{w}x{h} kind {k} at {level}");
                    }
                }
            }
        }
    }
}

const CASES: &[Case] = &[
    // vmaf -r a_ref.yuv -d a_dis.yuv -w 37 -h 29 -p 444 -b 8 --feature float_ssim=enable_lcs=true -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 8,
        size: (37, 29),
        options: &[("enable_lcs", "true")],
        identical: false,
        frames: &[
            &[
                ("float_ssim", "0.964830"),
                ("float_ssim_l", "0.999944"),
                ("float_ssim_c", "0.998459"),
                ("float_ssim_s", "0.966358"),
            ],
            &[
                ("float_ssim", "0.963439"),
                ("float_ssim_l", "0.999913"),
                ("float_ssim_c", "0.998432"),
                ("float_ssim_s", "0.965019"),
            ],
            &[
                ("float_ssim", "0.996631"),
                ("float_ssim_l", "0.999975"),
                ("float_ssim_c", "0.999886"),
                ("float_ssim_s", "0.996770"),
            ],
        ],
    },
    // vmaf -r a_ref.yuv -d a_dis.yuv -w 37 -h 29 -p 444 -b 8 --feature float_ssim=scale=2:enable_lcs=true -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 8,
        size: (37, 29),
        options: &[("scale", "2"), ("enable_lcs", "true")],
        identical: false,
        frames: &[
            &[
                ("float_ssim", "0.997291"),
                ("float_ssim_l", "0.999994"),
                ("float_ssim_c", "0.999955"),
                ("float_ssim_s", "0.997342"),
            ],
            &[
                ("float_ssim", "0.997270"),
                ("float_ssim_l", "0.999988"),
                ("float_ssim_c", "0.999934"),
                ("float_ssim_s", "0.997348"),
            ],
            &[
                ("float_ssim", "0.989864"),
                ("float_ssim_l", "0.999996"),
                ("float_ssim_c", "0.999586"),
                ("float_ssim_s", "0.990278"),
            ],
        ],
    },
    // vmaf -r a_ref.yuv -d a_dis.yuv -w 37 -h 29 -p 444 -b 8 --feature float_ssim=enable_db=true -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 8,
        size: (37, 29),
        options: &[("enable_db", "true")],
        identical: false,
        frames: &[
            &[("float_ssim", "14.538326")],
            &[("float_ssim", "14.369811")],
            &[("float_ssim", "24.725562")],
        ],
    },
    // vmaf -r a_ref.yuv -d a_ref.yuv -w 37 -h 29 -p 444 -b 8 --feature float_ssim=enable_db=true -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 8,
        size: (37, 29),
        options: &[("enable_db", "true")],
        identical: true,
        frames: &[
            &[("float_ssim", "null")],
            &[("float_ssim", "72.247199")],
            &[("float_ssim", "72.247199")],
        ],
    },
    // vmaf -r a_ref.yuv -d a_ref.yuv -w 37 -h 29 -p 444 -b 8 --feature float_ssim=enable_db=true:clip_db=true -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 8,
        size: (37, 29),
        options: &[("enable_db", "true"), ("clip_db", "true")],
        identical: true,
        frames: &[
            &[("float_ssim", "82.000000")],
            &[("float_ssim", "72.247199")],
            &[("float_ssim", "72.247199")],
        ],
    },
    // vmaf -r b_ref.yuv -d b_dis.yuv -w 37 -h 29 -p 444 -b 10 --feature float_ssim=enable_lcs=true -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 10,
        size: (37, 29),
        options: &[("enable_lcs", "true")],
        identical: false,
        frames: &[
            &[
                ("float_ssim", "0.964856"),
                ("float_ssim_l", "0.999945"),
                ("float_ssim_c", "0.998459"),
                ("float_ssim_s", "0.966383"),
            ],
            &[
                ("float_ssim", "0.963418"),
                ("float_ssim_l", "0.999914"),
                ("float_ssim_c", "0.998435"),
                ("float_ssim_s", "0.964994"),
            ],
            &[
                ("float_ssim", "0.996630"),
                ("float_ssim_l", "0.999975"),
                ("float_ssim_c", "0.999887"),
                ("float_ssim_s", "0.996768"),
            ],
        ],
    },
    // vmaf -r b_ref.yuv -d b_ref.yuv -w 37 -h 29 -p 444 -b 10 --feature float_ssim=enable_db=true:clip_db=true -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 10,
        size: (37, 29),
        options: &[("enable_db", "true"), ("clip_db", "true")],
        identical: true,
        frames: &[
            &[("float_ssim", "94.000000")],
            &[("float_ssim", "94.000000")],
            &[("float_ssim", "72.247199")],
        ],
    },
    // vmaf -r c_ref.yuv -d c_dis.yuv -w 181 -h 177 -p 444 -b 8 --feature float_ssim -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 8,
        size: (181, 177),
        options: &[],
        identical: false,
        frames: &[
            &[("float_ssim", "0.965416")],
            &[("float_ssim", "0.966091")],
            &[("float_ssim", "0.996248")],
        ],
    },
    // vmaf -r c_ref.yuv -d c_dis.yuv -w 181 -h 177 -p 444 -b 8 --feature float_ms_ssim=enable_lcs=true -n --json
    Case {
        extractor: "float_ms_ssim",
        bit_depth: 8,
        size: (181, 177),
        options: &[("enable_lcs", "true")],
        identical: false,
        frames: &[
            &[
                ("float_ms_ssim", "0.997313"),
                ("float_ms_ssim_l_scale0", "0.999925"),
                ("float_ms_ssim_l_scale1", "0.999988"),
                ("float_ms_ssim_l_scale2", "0.999998"),
                ("float_ms_ssim_l_scale3", "1.000000"),
                ("float_ms_ssim_l_scale4", "1.000000"),
                ("float_ms_ssim_c_scale0", "0.998532"),
                ("float_ms_ssim_c_scale1", "0.999931"),
                ("float_ms_ssim_c_scale2", "0.999984"),
                ("float_ms_ssim_c_scale3", "0.999994"),
                ("float_ms_ssim_c_scale4", "0.999987"),
                ("float_ms_ssim_s_scale0", "0.966893"),
                ("float_ms_ssim_s_scale1", "0.996862"),
                ("float_ms_ssim_s_scale2", "0.999587"),
                ("float_ms_ssim_s_scale3", "0.999865"),
                ("float_ms_ssim_s_scale4", "0.999735"),
            ],
            &[
                ("float_ms_ssim", "0.997357"),
                ("float_ms_ssim_l_scale0", "0.999924"),
                ("float_ms_ssim_l_scale1", "0.999987"),
                ("float_ms_ssim_l_scale2", "0.999998"),
                ("float_ms_ssim_l_scale3", "0.999999"),
                ("float_ms_ssim_l_scale4", "1.000000"),
                ("float_ms_ssim_c_scale0", "0.998533"),
                ("float_ms_ssim_c_scale1", "0.999935"),
                ("float_ms_ssim_c_scale2", "0.999987"),
                ("float_ms_ssim_c_scale3", "0.999996"),
                ("float_ms_ssim_c_scale4", "0.999994"),
                ("float_ms_ssim_s_scale0", "0.967569"),
                ("float_ms_ssim_s_scale1", "0.996952"),
                ("float_ms_ssim_s_scale2", "0.999563"),
                ("float_ms_ssim_s_scale3", "0.999850"),
                ("float_ms_ssim_s_scale4", "0.999694"),
            ],
            &[
                ("float_ms_ssim", "0.996171"),
                ("float_ms_ssim_l_scale0", "0.999967"),
                ("float_ms_ssim_l_scale1", "0.999992"),
                ("float_ms_ssim_l_scale2", "0.999998"),
                ("float_ms_ssim_l_scale3", "0.999999"),
                ("float_ms_ssim_l_scale4", "0.999999"),
                ("float_ms_ssim_c_scale0", "0.999875"),
                ("float_ms_ssim_c_scale1", "0.999801"),
                ("float_ms_ssim_c_scale2", "0.999868"),
                ("float_ms_ssim_c_scale3", "0.999898"),
                ("float_ms_ssim_c_scale4", "0.999965"),
                ("float_ms_ssim_s_scale0", "0.996405"),
                ("float_ms_ssim_s_scale1", "0.994919"),
                ("float_ms_ssim_s_scale2", "0.995881"),
                ("float_ms_ssim_s_scale3", "0.997449"),
                ("float_ms_ssim_s_scale4", "0.998151"),
            ],
        ],
    },
    // vmaf -r c_ref.yuv -d c_ref.yuv -w 181 -h 177 -p 444 -b 8 --feature float_ms_ssim=enable_db=true:clip_db=true -n --json
    Case {
        extractor: "float_ms_ssim",
        bit_depth: 8,
        size: (181, 177),
        options: &[("enable_db", "true"), ("clip_db", "true")],
        identical: true,
        frames: &[
            &[("float_ms_ssim", "80.998897")],
            &[("float_ms_ssim", "80.998897")],
            &[("float_ms_ssim", "80.998897")],
        ],
    },
    // vmaf -r d_ref.yuv -d d_dis.yuv -w 181 -h 177 -p 444 -b 10 --feature float_ssim=scale=3 -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 10,
        size: (181, 177),
        options: &[("scale", "3")],
        identical: false,
        frames: &[
            &[("float_ssim", "0.999173")],
            &[("float_ssim", "0.999161")],
            &[("float_ssim", "0.995262")],
        ],
    },
    // vmaf -r d_ref.yuv -d d_dis.yuv -w 181 -h 177 -p 444 -b 10 --feature float_ms_ssim=enable_db=true -n --json
    Case {
        extractor: "float_ms_ssim",
        bit_depth: 10,
        size: (181, 177),
        options: &[("enable_db", "true")],
        identical: false,
        frames: &[
            &[("float_ms_ssim", "25.706816")],
            &[("float_ms_ssim", "25.779405")],
            &[("float_ms_ssim", "24.164121")],
        ],
    },
    // vmaf -r e_ref.yuv -d e_dis.yuv -w 600 -h 523 -p 444 -b 8 --feature float_ssim=enable_lcs=true -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 8,
        size: (600, 523),
        options: &[("enable_lcs", "true")],
        identical: false,
        frames: &[
            &[
                ("float_ssim", "0.997076"),
                ("float_ssim_l", "0.999987"),
                ("float_ssim_c", "0.999938"),
                ("float_ssim_s", "0.997152"),
            ],
            &[
                ("float_ssim", "0.997060"),
                ("float_ssim_l", "0.999986"),
                ("float_ssim_c", "0.999936"),
                ("float_ssim_s", "0.997137"),
            ],
            &[
                ("float_ssim", "0.995466"),
                ("float_ssim_l", "0.999991"),
                ("float_ssim_c", "0.999851"),
                ("float_ssim_s", "0.995622"),
            ],
        ],
    },
    // vmaf -r e_ref.yuv -d e_dis.yuv -w 600 -h 523 -p 444 -b 8 --feature float_ssim=scale=5 -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 8,
        size: (600, 523),
        options: &[("scale", "5")],
        identical: false,
        frames: &[
            &[("float_ssim", "0.999715")],
            &[("float_ssim", "0.999701")],
            &[("float_ssim", "0.996528")],
        ],
    },
    // vmaf -r e_ref.yuv -d e_dis.yuv -w 600 -h 523 -p 444 -b 8 --feature float_ms_ssim -n --json
    Case {
        extractor: "float_ms_ssim",
        bit_depth: 8,
        size: (600, 523),
        options: &[],
        identical: false,
        frames: &[
            &[("float_ms_ssim", "0.997363")],
            &[("float_ms_ssim", "0.997343")],
            &[("float_ms_ssim", "0.996338")],
        ],
    },
    // vmaf -r f_ref.yuv -d f_dis.yuv -w 64 -h 48 -p 444 -b 12 --feature float_ssim=enable_lcs=true -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 12,
        size: (64, 48),
        options: &[("enable_lcs", "true")],
        identical: false,
        frames: &[
            &[
                ("float_ssim", "0.965081"),
                ("float_ssim_l", "0.999922"),
                ("float_ssim_c", "0.998466"),
                ("float_ssim_s", "0.966622"),
            ],
            &[
                ("float_ssim", "0.966899"),
                ("float_ssim_l", "0.999915"),
                ("float_ssim_c", "0.998501"),
                ("float_ssim_s", "0.968417"),
            ],
            &[
                ("float_ssim", "0.996058"),
                ("float_ssim_l", "0.999971"),
                ("float_ssim_c", "0.999865"),
                ("float_ssim_s", "0.996222"),
            ],
        ],
    },
    // vmaf -r g_ref.yuv -d g_dis.yuv -w 64 -h 48 -p 444 -b 16 --feature float_ssim=enable_lcs=true -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 16,
        size: (64, 48),
        options: &[("enable_lcs", "true")],
        identical: false,
        frames: &[
            &[
                ("float_ssim", "0.965041"),
                ("float_ssim_l", "0.999922"),
                ("float_ssim_c", "0.998465"),
                ("float_ssim_s", "0.966583"),
            ],
            &[
                ("float_ssim", "0.966900"),
                ("float_ssim_l", "0.999915"),
                ("float_ssim_c", "0.998502"),
                ("float_ssim_s", "0.968416"),
            ],
            &[
                ("float_ssim", "0.996059"),
                ("float_ssim_l", "0.999971"),
                ("float_ssim_c", "0.999865"),
                ("float_ssim_s", "0.996223"),
            ],
        ],
    },
    // vmaf -r h_ref.yuv -d h_dis.yuv -w 1100 -h 700 -p 444 -b 8 --feature float_ssim=enable_lcs=true -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 8,
        size: (1100, 700),
        options: &[("enable_lcs", "true")],
        identical: false,
        frames: &[
            &[
                ("float_ssim", "0.999186"),
                ("float_ssim_l", "0.999995"),
                ("float_ssim_c", "0.999979"),
                ("float_ssim_s", "0.999212"),
            ],
            &[
                ("float_ssim", "0.999186"),
                ("float_ssim_l", "0.999995"),
                ("float_ssim_c", "0.999978"),
                ("float_ssim_s", "0.999212"),
            ],
            &[
                ("float_ssim", "0.995525"),
                ("float_ssim_l", "0.999996"),
                ("float_ssim_c", "0.999854"),
                ("float_ssim_s", "0.995674"),
            ],
        ],
    },
    // vmaf -r h_ref.yuv -d h_dis.yuv -w 1100 -h 700 -p 444 -b 8 --feature float_ms_ssim -n --json
    Case {
        extractor: "float_ms_ssim",
        bit_depth: 8,
        size: (1100, 700),
        options: &[],
        identical: false,
        frames: &[
            &[("float_ms_ssim", "0.997364")],
            &[("float_ms_ssim", "0.997352")],
            &[("float_ms_ssim", "0.996370")],
        ],
    },
    // vmaf -r h_ref.yuv -d h_ref.yuv -w 1100 -h 700 -p 444 -b 8 --feature float_ssim=scale=4 -n --json
    Case {
        extractor: "float_ssim",
        bit_depth: 8,
        size: (1100, 700),
        options: &[("scale", "4")],
        identical: true,
        frames: &[
            &[("float_ssim", "1.000000")],
            &[("float_ssim", "1.000000")],
            &[("float_ssim", "1.000000")],
        ],
    },
];
