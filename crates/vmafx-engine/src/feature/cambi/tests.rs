//! Expected values are libvmaf v3.2.0's printed (`%.6f`) output on raw 4:4:4 files holding
//! [`pair`]'s pictures (frames t = 0, 1, 2), written by the ignored `write_fixtures` test
//! (`cargo test -p vmafx-engine cambi::tests::write_fixtures -- --ignored`, into
//! `$CAMBI_FIXTURES` or /tmp/cambi_fx as `NAME_ref.yuv` / `NAME_dis.yuv`), measured with
//! `vmaf -r NAME_ref.yuv -d NAME_dis.yuv -w W -h H -p 444 -b BD -n --cpumask 48 --json
//!  -o out.json --feature cambi[=OPTS]` (the float-enabled v3.2.0 build; cambi reads luma only).
//! The pictures are quantised gradients with flat bands, a textured strip, and a coarser
//! quantisation as the distortion, so that every scale has banding to find.

use super::*;
use crate::feature::find_extractor;
use crate::feature::name::alias;
use crate::picture::{PixelFormat, Plane};

fn hash(a: u32, b: u32, c: u32) -> u32 {
    let mut h =
        a.wrapping_mul(0x9E37_79B1) ^ b.wrapping_mul(0x85EB_CA77) ^ c.wrapping_mul(0xC2B2_AE3D);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^ (h >> 12)
}

/// Luma sample at (x, y) of frame t, in `bd` bits, from a 10-bit design: a slow diagonal
/// gradient, a near-black corner, a textured strip on the right and a brighter disc. The
/// distorted picture holds it in steps of 4 10-bit levels (one 8-bit level: bands); the
/// 8-bit reference is dithered instead.
fn sample(x: u32, y: u32, t: u32, w: u32, h: u32, bd: u8, distorted: bool) -> u32 {
    let mut v = 300 + x * 80 / w + y * 40 / h + t;
    if x * 5 > w * 4 {
        v += hash(x, y, t) % 24;
    }
    let (cx, cy) = (w / 3 + 3 * t, h / 2);
    let dx = x as i32 - cx as i32;
    let dy = y as i32 - cy as i32;
    if (dx * dx + dy * dy) as u32 * 16 < w * w {
        v = 700 + (x + 2 * y) / 7;
    }
    if x < w / 6 && y < h / 5 {
        v = 66 + (x * 3 + t) / 5;
    }
    let v = if distorted {
        v & !3
    } else if bd == 8 {
        v + (hash(y, x, t + 9) & 3)
    } else {
        v
    };
    let v = if bd >= 10 {
        v << (bd - 10)
    } else {
        v >> (10 - bd)
    };
    v.min((1 << bd) - 1)
}

/// Reference and distorted 4:4:4 pictures of frame `t` (chroma flat at mid-grey).
fn pair(bd: u8, w: usize, h: usize, t: u32) -> (Picture, Picture) {
    let make = |distorted: bool| {
        let mut p = Picture::new(PixelFormat::Yuv444, bd, w, h).unwrap();
        for (i, plane) in p.planes.iter_mut().enumerate() {
            for y in 0..h {
                for x in 0..w {
                    let v = if i == 0 {
                        sample(x as u32, y as u32, t, w as u32, h as u32, bd, distorted)
                    } else {
                        1 << (bd - 1)
                    };
                    match plane {
                        PlaneData::U8(p) => p.row_mut(y)[x] = v as u8,
                        PlaneData::U16(p) => p.row_mut(y)[x] = v as u16,
                    }
                }
            }
        }
        p
    };
    (make(false), make(true))
}

struct Case {
    name: &'static str,
    bit_depth: u8,
    size: (usize, usize),
    frames: u32,
    options: &'static [(&'static str, &'static str)],
    /// Per frame, the (name, printed value) pairs libvmaf wrote.
    expected: &'static [&'static [(&'static str, &'static str)]],
}

const CASES: &[Case] = &[
    Case {
        name: "c8",
        bit_depth: 8,
        size: (256, 224),
        frames: 3,
        options: &[],
        expected: &[
            &[("cambi", "13.036639")],
            &[("cambi", "13.144476")],
            &[("cambi", "12.954062")],
        ],
    },
    Case {
        name: "c10",
        bit_depth: 10,
        size: (256, 224),
        frames: 3,
        options: &[],
        expected: &[
            &[("cambi", "13.294418")],
            &[("cambi", "13.402585")],
            &[("cambi", "13.195525")],
        ],
    },
    Case {
        name: "odd8",
        bit_depth: 8,
        size: (301, 217),
        frames: 3,
        options: &[],
        expected: &[
            &[("cambi", "11.384656")],
            &[("cambi", "11.308522")],
            &[("cambi", "11.421259")],
        ],
    },
    Case {
        name: "odd10_opts",
        bit_depth: 10,
        size: (233, 251),
        frames: 3,
        options: &[
            ("max_log_contrast", "3"),
            ("tvi_threshold", "0.03"),
            ("topk", "0.2"),
        ],
        expected: &[
            &[("cambi_mlc_3_topk_0.2_tvit_0.03", "25.522594")],
            &[("cambi_mlc_3_topk_0.2_tvit_0.03", "25.397929")],
            &[("cambi_mlc_3_topk_0.2_tvit_0.03", "25.345876")],
        ],
    },
    Case {
        name: "full_ref8",
        bit_depth: 8,
        size: (320, 240),
        frames: 3,
        options: &[
            ("full_ref", "true"),
            ("cambi_vis_lum_threshold", "1.5"),
            ("window_size", "31"),
        ],
        expected: &[
            &[
                ("cambi_vlt_1.5_ws_31", "7.657141"),
                ("cambi_source", "1.727928"),
                ("cambi_full_reference", "5.929213"),
            ],
            &[
                ("cambi_vlt_1.5_ws_31", "7.643298"),
                ("cambi_source", "1.734780"),
                ("cambi_full_reference", "5.908518"),
            ],
            &[
                ("cambi_vlt_1.5_ws_31", "7.604592"),
                ("cambi_source", "1.624923"),
                ("cambi_full_reference", "5.979669"),
            ],
        ],
    },
    Case {
        name: "v1016_8",
        bit_depth: 8,
        size: (1920, 1080),
        frames: 1,
        options: &[
            ("cambi_high_res_speedup", "1080"),
            ("cambi_vis_lum_threshold", "0.06"),
            ("cambi_max_val", "17"),
        ],
        expected: &[&[("cambi_hrs_1080_cmxv_17_vlt_0.06", "9.940437")]],
    },
    Case {
        name: "v1016_10",
        bit_depth: 10,
        size: (1920, 1080),
        frames: 1,
        options: &[
            ("cambi_high_res_speedup", "1080"),
            ("cambi_vis_lum_threshold", "0.06"),
            ("cambi_max_val", "17"),
        ],
        expected: &[&[("cambi_hrs_1080_cmxv_17_vlt_0.06", "10.005688")]],
    },
    Case {
        name: "enc_down",
        bit_depth: 8,
        size: (400, 300),
        frames: 3,
        options: &[
            ("enc_width", "300"),
            ("enc_height", "225"),
            ("enc_bitdepth", "10"),
        ],
        expected: &[
            &[("cambi_encbd_10_ench_225_encw_300", "12.061469")],
            &[("cambi_encbd_10_ench_225_encw_300", "11.982167")],
            &[("cambi_encbd_10_ench_225_encw_300", "11.962299")],
        ],
    },
    Case {
        name: "pq",
        bit_depth: 10,
        size: (256, 224),
        frames: 3,
        options: &[
            ("eotf", "pq"),
            ("window_size", "30"),
            ("cambi_max_val", "5"),
            ("cambi_topk", "0.9"),
            ("max_log_contrast", "3"),
        ],
        expected: &[
            &[("cambi_cmxv_5_ctpk_0.9_eotf_pq_mlc_3_ws_30", "5.000000")],
            &[("cambi_cmxv_5_ctpk_0.9_eotf_pq_mlc_3_ws_30", "5.000000")],
            &[("cambi_cmxv_5_ctpk_0.9_eotf_pq_mlc_3_ws_30", "5.000000")],
        ],
    },
    Case {
        name: "src_down",
        bit_depth: 10,
        size: (480, 360),
        frames: 3,
        options: &[
            ("full_ref", "true"),
            ("src_width", "320"),
            ("src_height", "240"),
            ("enc_width", "400"),
            ("enc_height", "300"),
            ("max_log_contrast", "4"),
        ],
        expected: &[
            &[
                (
                    "cambi_ench_300_encw_400_mlc_4_srch_240_srcw_320",
                    "13.120390",
                ),
                ("cambi_source", "3.515402"),
                ("cambi_full_reference", "9.604989"),
            ],
            &[
                (
                    "cambi_ench_300_encw_400_mlc_4_srch_240_srcw_320",
                    "13.101197",
                ),
                ("cambi_source", "3.510165"),
                ("cambi_full_reference", "9.591031"),
            ],
            &[
                (
                    "cambi_ench_300_encw_400_mlc_4_srch_240_srcw_320",
                    "13.038904",
                ),
                ("cambi_source", "3.494989"),
                ("cambi_full_reference", "9.543915"),
            ],
        ],
    },
    Case {
        name: "c12",
        bit_depth: 12,
        size: (240, 216),
        frames: 3,
        options: &[],
        expected: &[
            &[("cambi", "13.812980")],
            &[("cambi", "13.828728")],
            &[("cambi", "13.759603")],
        ],
    },
    Case {
        name: "wide8",
        bit_depth: 8,
        size: (1600, 216),
        frames: 2,
        options: &[],
        expected: &[&[("cambi", "9.401212")], &[("cambi", "9.381517")]],
    },
    Case {
        name: "tall10",
        bit_depth: 10,
        size: (150, 1201),
        frames: 2,
        options: &[("cambi_topk", "0.05")],
        expected: &[
            &[("cambi_ctpk_0.05", "21.977808")],
            &[("cambi_ctpk_0.05", "21.938915")],
        ],
    },
    Case {
        name: "mlc5",
        bit_depth: 8,
        size: (256, 224),
        frames: 3,
        options: &[("max_log_contrast", "5"), ("cambi_vis_lum_threshold", "10")],
        expected: &[
            &[("cambi_vlt_10_mlc_5", "13.075495")],
            &[("cambi_vlt_10_mlc_5", "13.152163")],
            &[("cambi_vlt_10_mlc_5", "13.057659")],
        ],
    },
];

fn build(
    level: SimdLevel,
    geometry: Geometry,
    options: &[(&str, &str)],
) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    let info = find_extractor("cambi")?;
    let pairs: Vec<(String, String)> = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let options = OptionValues::parse("cambi", info.options, &pairs)?;
    (info.create)(&options, geometry, level)
}

fn geometry(bit_depth: u8, (width, height): (usize, usize)) -> Geometry {
    Geometry {
        format: PixelFormat::Yuv444,
        bit_depth,
        width,
        height,
    }
}

fn run(level: SimdLevel, case: &Case) -> Vec<Vec<(String, String)>> {
    let mut ex = build(level, geometry(case.bit_depth, case.size), case.options).unwrap();
    (0..case.frames)
        .map(|t| {
            let (r, d) = pair(case.bit_depth, case.size.0, case.size.1, t);
            let mut out = Vec::new();
            ex.extract(&r, &d, t, &mut out).unwrap();
            out.iter()
                .map(|v| {
                    assert_eq!(v.index, t);
                    (alias(&v.name).to_string(), format!("{:.6}", v.value))
                })
                .collect()
        })
        .collect()
}

#[test]
#[ignore = "writes the raw files the expected values were measured on"]
fn write_fixtures() {
    let dir = std::env::var("CAMBI_FIXTURES").unwrap_or_else(|_| "/tmp/cambi_fx".to_string());
    std::fs::create_dir_all(&dir).unwrap();
    for case in CASES {
        let mut files = [Vec::new(), Vec::new()];
        for t in 0..case.frames {
            let (r, d) = pair(case.bit_depth, case.size.0, case.size.1, t);
            for (buf, p) in files.iter_mut().zip([r, d]) {
                for plane in &p.planes {
                    match plane {
                        PlaneData::U8(p) => (0..p.height).for_each(|y| buf.extend(p.row(y))),
                        PlaneData::U16(p) => (0..p.height).for_each(|y| {
                            p.row(y).iter().for_each(|v| buf.extend(v.to_le_bytes()))
                        }),
                    }
                }
            }
        }
        std::fs::write(format!("{dir}/{}_ref.yuv", case.name), &files[0]).unwrap();
        std::fs::write(format!("{dir}/{}_dis.yuv", case.name), &files[1]).unwrap();
        let opts: Vec<String> = case
            .options
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!(
            "{}\t{}\t{}\t{}\t{}",
            case.name,
            case.size.0,
            case.size.1,
            case.bit_depth,
            opts.join(":")
        );
    }
}

#[test]
fn matches_libvmaf() {
    assert!(CASES.len() >= 8);
    for case in CASES {
        let want: Vec<Vec<(String, String)>> = case
            .expected
            .iter()
            .map(|f| {
                f.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .collect();
        for level in SimdLevel::ALL.into_iter().filter(|l| l.is_supported()) {
            assert_eq!(run(level, case), want, "{} at {level}", case.name);
        }
    }
}

#[test]
// The literals are libvmaf's table text, digits and all.
#[allow(clippy::excessive_precision)]
fn reciprocal_table_is_libvmafs() {
    let lut = kernel::reciprocal_lut();
    assert_eq!(lut.len(), kernel::RECIPROCAL_LUT_SIZE);
    assert_eq!(lut[0], 0.0);
    assert_eq!(lut[3], 0.333333333f32);
    // Entries where the nine-digit literal is not the correctly rounded reciprocal.
    assert_eq!(lut[82], 0.012195122f32);
    assert_ne!(lut[82], 1.0 / 82.0f32);
    assert_eq!(lut[488], 0.00204918033f32);
    assert_eq!(lut[4225], 0.000236686391f32);
}

#[test]
fn bad_options_name_the_option() {
    let g = geometry(8, (256, 224));
    for (key, value) in [
        ("window_size", "-1"),
        ("window_size", "200"),
        ("topk", "0"),
        ("max_log_contrast", "6"),
        ("eotf", "hlg"),
        ("cambi_eotf", "srgb"),
        ("cambi_max_val", "nan"),
    ] {
        let err = build(SimdLevel::Scalar, g, &[(key, value)])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(key), "{key}={value}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
    // Scaled to 4K the largest window overflows libvmaf's table.
    let err = build(
        SimdLevel::Scalar,
        geometry(8, (3840, 2160)),
        &[("window_size", "127")],
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("window_size"), "{err}");
}

#[test]
fn unwritable_heatmaps_path_is_named() {
    let g = geometry(8, (256, 224));
    let err = build(
        SimdLevel::Scalar,
        g,
        &[("heatmaps_path", "/proc/cambi/none")],
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("heatmaps_path") && err.contains("/proc/cambi/none"),
        "{err}"
    );
}

#[test]
fn heatmaps_are_written_per_scale() {
    let dir = std::env::temp_dir().join(format!("vmafx-cambi-heatmaps-{}", std::process::id()));
    let path = dir.to_str().unwrap().to_string();
    let (w, h) = (256, 224);
    let mut ex = build(
        SimdLevel::Scalar,
        geometry(8, (w, h)),
        &[("heatmaps_path", &path)],
    )
    .unwrap();
    for t in 0..2 {
        let (r, d) = pair(8, w, h, t);
        ex.extract(&r, &d, t, &mut Vec::new()).unwrap();
    }
    drop(ex);
    let (mut sw, mut sh) = (w, h);
    for scale in 0..kernel::NUM_SCALES {
        let file = dir.join(format!("cambi_heatmap_scale_{scale}_{sw}x{sh}_16b.gray"));
        let len = std::fs::metadata(&file).unwrap().len();
        assert_eq!(len, (2 * sw * sh * 2) as u64, "{}", file.display());
        sw = sw.div_ceil(2);
        sh = sh.div_ceil(2);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn too_small_pictures_are_refused() {
    let err = build(SimdLevel::Scalar, geometry(8, (200, 150)), &[])
        .err()
        .unwrap();
    assert!(err.to_string().contains("216"), "{err}");
}

#[test]
fn option_names_follow_libvmaf() {
    let info = find_extractor("cambi").unwrap();
    let parse = |pairs: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OptionValues::parse("cambi", info.options, &pairs).unwrap()
    };
    assert_eq!(parse(&[]).feature_name(FEATURE), FEATURE);
    let v1016 = parse(&[
        ("cambi_high_res_speedup", "1080"),
        ("cambi_vis_lum_threshold", "0.06"),
        ("cambi_max_val", "17"),
    ]);
    assert_eq!(
        v1016.feature_name(FEATURE),
        "cambi_hrs_1080_cmxv_17_vlt_0.06"
    );
    // Not feature parameters: no suffix.
    assert_eq!(
        parse(&[("full_ref", "true")]).feature_name(FEATURE),
        FEATURE
    );
}

#[test]
fn plane_type_mismatch_is_an_error_not_a_panic() {
    let g = geometry(10, (256, 224));
    let mut ex = build(SimdLevel::Scalar, g, &[]).unwrap();
    let mut p = Picture::new(PixelFormat::Yuv444, 10, 256, 224).unwrap();
    if let PlaneData::U16(plane) = &mut p.planes[0] {
        *plane = Plane {
            width: 256,
            height: 224,
            stride: 256,
            data: vec![1023 + 5; 256 * 224],
        };
    }
    assert!(ex.extract(&p, &p, 0, &mut Vec::new()).is_err());
}

#[test]
fn exact_pooling_matches_quickselect_order_sum() {
    let lut = kernel::reciprocal_lut();
    let mut scratch = kernel::PoolScratch::default();
    for seed in 0..40u32 {
        let n = 500 + (hash(seed, 1, 2) % 5000) as usize;
        let zeros = hash(seed, 3, 4) % 100;
        let c: Vec<f32> = (0..n as u32)
            .map(|i| {
                if hash(i, seed, 5) % 100 < zeros {
                    return 0.0;
                }
                let p0 = 1 + hash(i, seed, 6) % 2000;
                let p = 1 + hash(i, seed, 7) % 2000;
                let wt = kernel::CONTRAST_WEIGHTS[(hash(i, seed, 8) % 32) as usize];
                (wt as u32 * p0 * p) as f32 * lut[(p0 + p) as usize]
            })
            .collect();
        for topk in [0.0001, 0.1, 0.6, 0.999, 1.0] {
            let count = ((topk * n as f64) as i32).clamp(1, n as i32) as usize;
            let slow = kernel::quick_select_mean(&mut c.clone(), count);
            for level in SimdLevel::ALL.into_iter().filter(|l| l.is_supported()) {
                let fast = kernel::spatial_pooling(level, &mut c.clone(), topk, &mut scratch);
                assert_eq!(
                    fast.to_bits(),
                    slow.to_bits(),
                    "seed {seed} topk {topk} {level}"
                );
            }
        }
    }
}
