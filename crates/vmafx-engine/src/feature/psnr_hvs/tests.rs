//! Expected values are libvmaf v3.2.0's printed (`%.6f`) output for clips of the motion tests'
//! `fixture` formulas (frames (scene, t) = (0, 0), (0, 1), (1, 0)), made with the libvmaf
//! command written above each case. The clips are written by the ignored test
//! `write_libvmaf_inputs` (`PSNR_HVS_FIXTURES=DIR cargo test -p vmafx-engine
//! write_libvmaf_inputs -- --ignored`): `NAME_ref.y4m`/`NAME_dis.y4m` (Y4M tags that libvmaf's
//! reader takes without resampling chroma), or `.yuv` raw files for 8-bit 4:2:2, whose Y4M
//! libvmaf resamples. Values are read from the XML output, which tells NaN (`nan`: a plane
//! with no 8x8 block) from infinity (`inf`: identical pictures) where the JSON has `null`.

use super::*;
use crate::feature::motion::fixture;
use crate::feature::{find_extractor, find_provider};

const FRAMES: [(u32, u32); 3] = [(0, 0), (0, 1), (1, 0)];

struct Case {
    name: &'static str,
    format: PixelFormat,
    bit_depth: u8,
    size: (usize, usize),
    identical: bool,
    /// `psnr_hvs_y`, `psnr_hvs_cb`, `psnr_hvs_cr`, `psnr_hvs` per frame.
    frames: [[&'static str; 4]; 3],
}

fn geometry(case: &Case) -> Geometry {
    Geometry {
        format: case.format,
        bit_depth: case.bit_depth,
        width: case.size.0,
        height: case.size.1,
    }
}

/// libvmaf's printing of a value in its XML output: C's `%.6f`, which writes `nan` and `inf`.
fn printed(v: f64) -> String {
    if v.is_nan() {
        "nan".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{v:.6}")
    }
}

fn build_at(level: SimdLevel, g: Geometry) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    let info = find_extractor("psnr_hvs")?;
    let options = OptionValues::parse("psnr_hvs", info.options, &[])?;
    (info.create)(&options, g, level)
}

fn check_at(level: SimdLevel, case: &Case) {
    let g = geometry(case);
    let mut ex = build_at(level, g).unwrap();
    for (i, (&(scene, t), expected)) in FRAMES.iter().zip(&case.frames).enumerate() {
        let (r, d) = fixture::pair(g.format, g.bit_depth, g.width, g.height, scene, t);
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
        let want: Vec<(&str, String)> = NAMES
            .iter()
            .zip(expected)
            .map(|(&k, &v)| (k, v.to_string()))
            .collect();
        assert_eq!(got, want, "{} at {level} frame {i}", case.name);
    }
}

#[test]
fn matches_libvmaf() {
    let mut checked = 0;
    for level in SimdLevel::ALL.into_iter().filter(|l| l.is_supported()) {
        for case in CASES {
            check_at(level, case);
            checked += 1;
        }
    }
    assert!(checked >= CASES.len());
}

#[test]
fn registry_finds_it() {
    for name in NAMES {
        assert_eq!(find_provider(name).map(|i| i.name), Some("psnr_hvs"));
    }
}

#[test]
fn refuses_what_libvmaf_refuses() {
    let base = Geometry {
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        width: 64,
        height: 48,
    };
    let gray = Geometry {
        format: PixelFormat::Yuv400,
        ..base
    };
    let err = build_at(SimdLevel::Scalar, gray).err().unwrap().to_string();
    assert!(err.contains("psnr_hvs") && err.contains("4:0:0"), "{err}");
    let deep = Geometry {
        bit_depth: 16,
        ..base
    };
    let err = build_at(SimdLevel::Scalar, deep).err().unwrap().to_string();
    assert!(err.contains("psnr_hvs") && err.contains("16"), "{err}");
    assert!(build_at(
        SimdLevel::Scalar,
        Geometry {
            bit_depth: 12,
            ..base
        }
    )
    .is_ok());
    let info = find_extractor("psnr_hvs").unwrap();
    let pairs = [("enable_chroma".to_string(), "true".to_string())];
    let err = OptionValues::parse("psnr_hvs", info.options, &pairs)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("enable_chroma"), "{err}");
}

#[test]
fn wrong_pictures_are_errors() {
    let g = Geometry {
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        width: 40,
        height: 24,
    };
    let mut ex = build_at(SimdLevel::Scalar, g).unwrap();
    let (r, _) = fixture::pair(PixelFormat::Yuv420, 8, 40, 26, 0, 0);
    let err = ex.extract(&r, &r, 0, &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("psnr_hvs"), "{err}");
    let (r, _) = fixture::pair(PixelFormat::Yuv444, 8, 40, 24, 0, 0);
    assert!(ex.extract(&r, &r, 0, &mut Vec::new()).is_err());
}

/// The DCT's basic shape: a flat input has only a DC term, in one and two dimensions, and a
/// ramp has a first AC term. (Its exact integer outputs are checked through the libvmaf cases.)
#[test]
fn dct_basics() {
    let dc = kernel::fdct8_scalar([100; 8]);
    assert_eq!(dc[1..], [0; 7]);
    assert!(dc[0] > 0);
    let mut block = [7i32; 64];
    kernel::fdct8x8_scalar(&mut block);
    assert!(block[1..].iter().all(|&v| v == 0), "{block:?}");
    let ramp = kernel::fdct8_scalar([0, 1, 2, 3, 4, 5, 6, 7]);
    assert_ne!(ramp[1], 0);
}

/// Twin test: every SIMD level gives the scalar twin's block sums exactly, on random planes
/// of every depth, with widths that leave partial vectors of blocks and extreme samples.
#[test]
fn simd_twins_match_scalar() {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let levels: Vec<SimdLevel> = [
        (SimdLevel::Avx2, "psnr_hvs AVX2 block kernels"),
        (SimdLevel::Avx512, "psnr_hvs AVX-512 block kernels"),
    ]
    .into_iter()
    .filter(|&(level, what)| crate::cpu::twin_level_available(level, what))
    .map(|(level, _)| level)
    .collect();
    for &(w, h) in &[(8, 8), (15, 9), (64, 17), (120, 22), (127, 30), (233, 15)] {
        for bd in [8u8, 10, 12] {
            let max = (1u64 << bd) - 1;
            for style in 0..3 {
                let mut pick = |x: usize, y: usize| -> u32 {
                    let r = next();
                    (match style {
                        0 => r % (max + 1),
                        1 => ((x * 5 + y * 3) as u64 + r % 5).min(max),
                        _ => {
                            if r % 2 == 0 {
                                0
                            } else {
                                max
                            }
                        }
                    }) as u32
                };
                let mut a = crate::picture::Plane::<u16>::new(w + 3, h);
                let mut b = crate::picture::Plane::<u16>::new(w + 3, h);
                for y in 0..h {
                    for x in 0..w + 3 {
                        a.row_mut(y)[x] = pick(x, y) as u16;
                        b.row_mut(y)[x] = if style == 1 && x % 3 == 0 {
                            a.row(y)[x]
                        } else {
                            pick(x, y) as u16
                        };
                    }
                }
                for p in 0..3 {
                    let t = Tables::for_plane(p);
                    let want = kernel::plane_error(SimdLevel::Scalar, &t, &a, &b, w, h);
                    for &level in &levels {
                        let got = kernel::plane_error(level, &t, &a, &b, w, h);
                        assert_eq!(
                            (got.0.to_bits(), got.1),
                            (want.0.to_bits(), want.1),
                            "{level} {w}x{h} {bd}-bit style {style} plane {p}"
                        );
                    }
                }
            }
        }
    }
}

/// Writes the clips the expected values were measured on into `$PSNR_HVS_FIXTURES`.
#[test]
#[ignore]
fn write_libvmaf_inputs() {
    use std::io::Write;
    let dir = std::path::PathBuf::from(std::env::var("PSNR_HVS_FIXTURES").unwrap());
    std::fs::create_dir_all(&dir).unwrap();
    for case in CASES.iter().chain(EXTRA_INPUTS) {
        let g = geometry(case);
        let raw = g.format == PixelFormat::Yuv422 && g.bit_depth == 8;
        let tag = match (g.format, g.bit_depth) {
            (PixelFormat::Yuv420, 8) => "420jpeg".to_string(),
            (f, 8) => f.short_name().to_string(),
            (f, bd) => format!("{}p{bd}", f.short_name()),
        };
        let ext = if raw { "yuv" } else { "y4m" };
        let mut files = [0, 1].map(|k| {
            let which = if k == 0 { "ref" } else { "dis" };
            let path = dir.join(format!("{}_{which}.{ext}", case.name));
            let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
            if !raw {
                writeln!(
                    f,
                    "YUV4MPEG2 W{} H{} F25:1 Ip A1:1 C{tag}",
                    g.width, g.height
                )
                .unwrap();
            }
            f
        });
        for &(scene, t) in &FRAMES {
            let (r, d) = fixture::pair(g.format, g.bit_depth, g.width, g.height, scene, t);
            let dis = if case.identical { &r } else { &d };
            for (f, pic) in files.iter_mut().zip([&r, dis]) {
                if !raw {
                    f.write_all(b"FRAME\n").unwrap();
                }
                for plane in &pic.planes {
                    match plane {
                        PlaneData::U8(p) => {
                            for y in 0..p.height {
                                f.write_all(p.row(y)).unwrap();
                            }
                        }
                        PlaneData::U16(p) => {
                            for y in 0..p.height {
                                for v in p.row(y) {
                                    f.write_all(&v.to_le_bytes()).unwrap();
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Clips written for cross-checks by hand but not asserted here.
const EXTRA_INPUTS: &[Case] = &[];

const CASES: &[Case] = &[
    // vmaf -r a_420_8_ref.y4m -d a_420_8_dis.y4m --feature psnr_hvs -n --xml --cpumask 48
    Case {
        name: "a_420_8",
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (61, 45),
        identical: false,
        frames: [
            ["42.438618", "43.305266", "39.021031", "42.018483"],
            ["41.857533", "39.200327", "40.453040", "41.355421"],
            ["45.241754", "43.275312", "39.130453", "43.888166"],
        ],
    },
    // vmaf -r b_420_10_ref.y4m -d b_420_10_dis.y4m --feature psnr_hvs -n --xml --cpumask 48
    Case {
        name: "b_420_10",
        format: PixelFormat::Yuv420,
        bit_depth: 10,
        size: (64, 40),
        identical: false,
        frames: [
            ["42.646714", "42.229840", "37.332864", "41.677610"],
            ["41.883117", "38.061410", "38.802109", "40.933628"],
            ["45.198473", "43.378852", "38.809592", "43.776327"],
        ],
    },
    // vmaf -r c_444_8_ref.y4m -d c_444_8_dis.y4m --feature psnr_hvs -n --xml --cpumask 48
    Case {
        name: "c_444_8",
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        size: (37, 29),
        identical: false,
        frames: [
            ["43.144131", "43.275905", "39.963454", "42.710456"],
            ["41.305730", "40.204431", "41.259006", "41.177589"],
            ["46.167956", "43.172019", "39.782254", "44.601191"],
        ],
    },
    // vmaf -r d_422_10_ref.y4m -d d_422_10_dis.y4m --feature psnr_hvs -n --xml --cpumask 48
    Case {
        name: "d_422_10",
        format: PixelFormat::Yuv422,
        bit_depth: 10,
        size: (53, 35),
        identical: false,
        frames: [
            ["42.512323", "42.987127", "38.162769", "41.860689"],
            ["41.110679", "38.813222", "41.323622", "40.837427"],
            ["45.137449", "43.347064", "39.037124", "43.807069"],
        ],
    },
    // vmaf -r e_444_12_ref.y4m -d e_444_12_dis.y4m --feature psnr_hvs -n --xml --cpumask 48
    Case {
        name: "e_444_12",
        format: PixelFormat::Yuv444,
        bit_depth: 12,
        size: (24, 16),
        identical: false,
        frames: [
            ["41.822978", "42.557673", "36.456639", "40.929239"],
            ["39.860535", "37.183640", "38.824302", "39.398831"],
            ["47.660111", "43.618620", "37.808330", "44.606496"],
        ],
    },
    // vmaf -r f_422_8_ref.yuv -d f_422_8_dis.yuv -w 48 -h 32 -p 422 -b 8 --feature psnr_hvs -n --xml --cpumask 48
    Case {
        name: "f_422_8",
        format: PixelFormat::Yuv422,
        bit_depth: 8,
        size: (48, 32),
        identical: false,
        frames: [
            ["43.088124", "43.500151", "38.738099", "42.431503"],
            ["41.309734", "38.902247", "41.539933", "41.020292"],
            ["45.746204", "43.431700", "38.817523", "44.092524"],
        ],
    },
    // vmaf -r g_420_8_small_ref.y4m -d g_420_8_small_dis.y4m --feature psnr_hvs -n --xml --cpumask 48
    Case {
        name: "g_420_8_small",
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (14, 12),
        identical: false,
        frames: [
            ["38.385686", "nan", "nan", "nan"],
            ["38.865386", "nan", "nan", "nan"],
            ["49.964389", "nan", "nan", "nan"],
        ],
    },
    // vmaf -r h_420_8_same_ref.y4m -d h_420_8_same_dis.y4m --feature psnr_hvs -n --xml --cpumask 48
    Case {
        name: "h_420_8_same",
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (40, 24),
        identical: true,
        frames: [
            ["inf", "inf", "inf", "inf"],
            ["inf", "inf", "inf", "inf"],
            ["inf", "inf", "inf", "inf"],
        ],
    },
    // vmaf -r i_420_8_wide_ref.y4m -d i_420_8_wide_dis.y4m --feature psnr_hvs -n --xml --cpumask 48
    Case {
        name: "i_420_8_wide",
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (250, 64),
        identical: false,
        frames: [
            ["41.960328", "43.942517", "40.879308", "41.996883"],
            ["41.780009", "41.619070", "42.119174", "41.796270"],
            ["44.053310", "43.946720", "41.122010", "43.643809"],
        ],
    },
    // vmaf -r j_420_10_wide_ref.y4m -d j_420_10_wide_dis.y4m --feature psnr_hvs -n --xml --cpumask 48
    Case {
        name: "j_420_10_wide",
        format: PixelFormat::Yuv420,
        bit_depth: 10,
        size: (237, 57),
        identical: false,
        frames: [
            ["42.091655", "43.566256", "40.887739", "42.077977"],
            ["42.050012", "41.604740", "42.386029", "42.035481"],
            ["44.387113", "44.017549", "41.289790", "43.922434"],
        ],
    },
    // vmaf -r k_444_10_ref.y4m -d k_444_10_dis.y4m --feature psnr_hvs -n --xml --cpumask 48
    Case {
        name: "k_444_10",
        format: PixelFormat::Yuv444,
        bit_depth: 10,
        size: (33, 31),
        identical: false,
        frames: [
            ["42.798920", "43.014412", "38.961973", "42.240964"],
            ["42.273620", "39.649461", "40.848226", "41.774337"],
            ["45.722044", "43.622482", "39.815959", "44.413063"],
        ],
    },
    // vmaf -r l_420_12_ref.y4m -d l_420_12_dis.y4m --feature psnr_hvs -n --xml --cpumask 48
    Case {
        name: "l_420_12",
        format: PixelFormat::Yuv420,
        bit_depth: 12,
        size: (130, 20),
        identical: false,
        frames: [
            ["41.771997", "42.925259", "40.545516", "41.731749"],
            ["41.819877", "41.422912", "39.871073", "41.541477"],
            ["44.676327", "44.766117", "40.759204", "44.090570"],
        ],
    },
    // vmaf -r m_444_8_tiny_ref.y4m -d m_444_8_tiny_dis.y4m --feature psnr_hvs -n --xml --cpumask 48
    Case {
        name: "m_444_8_tiny",
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        size: (7, 9),
        identical: false,
        frames: [
            ["nan", "nan", "nan", "nan"],
            ["nan", "nan", "nan", "nan"],
            ["nan", "nan", "nan", "nan"],
        ],
    },
];
