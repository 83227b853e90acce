//! Expected values are libvmaf v3.2.0's printed (`%.6f`) `ciede2000` on raw files holding the
//! motion tests' `fixture` pictures (frames (scene, t) = (0, 0), (0, 1), (1, 0)), chroma planes
//! at libvmaf's rounded-down size so that its CLI reads odd sizes too. `write_fixture_files`
//! (ignored; `CIEDE_DUMP=DIR cargo test -p vmafx-engine ciede -- --ignored`) writes them as
//! `DIR/{W}x{H}_{FMT}_{BD}_{ref,dis}.yuv`, and each case was measured with
//! `vmaf -r R -d D -w W -h H -p FMT -b BD -n --feature ciede --cpumask 48 --json -o OUT`.

use super::kernel::{self, ChromaLayout, Lab};
use super::*;
use crate::feature::motion::fixture;
use crate::feature::{find_extractor, find_provider};

const FRAMES: [(u32, u32); 3] = [(0, 0), (0, 1), (1, 0)];

struct Case {
    format: PixelFormat,
    bit_depth: u8,
    size: (usize, usize),
    /// `ciede2000` of each frame as libvmaf prints it.
    expected: [&'static str; 3],
}

fn geometry(format: PixelFormat, bit_depth: u8, (width, height): (usize, usize)) -> Geometry {
    Geometry {
        format,
        bit_depth,
        width,
        height,
    }
}

fn build(g: Geometry) -> Result<Box<dyn FeatureExtractor>, EngineError> {
    let info = find_extractor("ciede")?;
    let options = OptionValues::parse("ciede", info.options, &[])?;
    (info.create)(&options, g, SimdLevel::detect())
}

fn printed(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.6}")
    } else {
        "null".to_string()
    }
}

/// The raw bytes libvmaf's CLI reads for `picture`: each plane at its stored (rounded-down)
/// size, 16-bit samples little-endian.
fn raw(picture: &Picture) -> Vec<u8> {
    let mut out = Vec::new();
    for plane in &picture.planes {
        match plane {
            PlaneData::U8(p) => (0..p.height).for_each(|y| out.extend_from_slice(p.row(y))),
            PlaneData::U16(p) => (0..p.height).for_each(|y| {
                p.row(y)
                    .iter()
                    .for_each(|s| out.extend_from_slice(&s.to_le_bytes()))
            }),
        }
    }
    out
}

const CASES: &[Case] = &[
    Case {
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (32, 18),
        expected: ["33.562561", "33.241074", "32.667259"],
    },
    Case {
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (37, 30),
        expected: ["33.528912", "33.489547", "33.954438"],
    },
    Case {
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (65, 20),
        expected: ["33.162864", "33.095639", "33.635314"],
    },
    Case {
        format: PixelFormat::Yuv420,
        bit_depth: 10,
        size: (37, 30),
        expected: ["33.556071", "33.493668", "33.967971"],
    },
    Case {
        format: PixelFormat::Yuv420,
        bit_depth: 12,
        size: (32, 18),
        expected: ["33.575473", "33.212861", "32.677636"],
    },
    Case {
        format: PixelFormat::Yuv422,
        bit_depth: 8,
        size: (37, 29),
        expected: ["34.475935", "34.792374", "35.098036"],
    },
    Case {
        format: PixelFormat::Yuv422,
        bit_depth: 8,
        size: (40, 24),
        expected: ["34.002659", "34.336525", "34.396747"],
    },
    Case {
        format: PixelFormat::Yuv422,
        bit_depth: 8,
        size: (70, 40),
        expected: ["35.122880", "35.265206", "35.309888"],
    },
    Case {
        format: PixelFormat::Yuv422,
        bit_depth: 10,
        size: (37, 29),
        expected: ["34.497271", "34.804431", "35.112174"],
    },
    Case {
        format: PixelFormat::Yuv422,
        bit_depth: 12,
        size: (37, 29),
        expected: ["34.501348", "34.816247", "35.105970"],
    },
    Case {
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        size: (37, 29),
        expected: ["33.670827", "33.586227", "34.129879"],
    },
    Case {
        format: PixelFormat::Yuv444,
        bit_depth: 10,
        size: (37, 29),
        expected: ["33.675445", "33.590104", "34.128784"],
    },
    Case {
        format: PixelFormat::Yuv444,
        bit_depth: 12,
        size: (37, 29),
        expected: ["33.674992", "33.591584", "34.123328"],
    },
];

#[test]
#[ignore = "writes the raw inputs the expected values were measured on"]
fn write_fixture_files() {
    let Some(dir) = std::env::var_os("CIEDE_DUMP") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    for case in CASES {
        let (w, h) = case.size;
        let stem = format!("{w}x{h}_{}_{}", case.format.short_name(), case.bit_depth);
        let (mut r, mut d) = (Vec::new(), Vec::new());
        for (scene, t) in FRAMES {
            let (rp, dp) = fixture::pair(case.format, case.bit_depth, w, h, scene, t);
            r.extend(raw(&rp));
            d.extend(raw(&dp));
        }
        std::fs::write(dir.join(format!("{stem}_ref.yuv")), r).unwrap();
        std::fs::write(dir.join(format!("{stem}_dis.yuv")), d).unwrap();
    }
}

fn check(case: &Case) {
    let (w, h) = case.size;
    let mut ex = build(geometry(case.format, case.bit_depth, case.size)).unwrap();
    for (i, ((scene, t), want)) in FRAMES.into_iter().zip(case.expected).enumerate() {
        let (r, d) = fixture::pair(case.format, case.bit_depth, w, h, scene, t);
        let mut out = Vec::new();
        ex.extract(&r, &d, i as u32, &mut out).unwrap();
        let got: Vec<(&str, u32, String)> = out
            .iter()
            .map(|v| (&*v.name, v.index, printed(v.value)))
            .collect();
        assert_eq!(
            got,
            [("ciede2000", i as u32, want.to_string())],
            "{w}x{h} {:?} {}-bit frame {i}",
            case.format,
            case.bit_depth
        );
    }
}

#[test]
fn ciede_matches_libvmaf() {
    assert!(CASES.len() >= 13);
    for case in CASES {
        check(case);
    }
}

/// The same pictures through a fresh extractor and one whose colour cache is warm from other
/// content give the same values: the cache only remembers, never approximates.
#[test]
fn a_warm_cache_changes_nothing() {
    let case = &CASES[1];
    let (w, h) = case.size;
    let mut ex = build(geometry(case.format, case.bit_depth, case.size)).unwrap();
    let mut out = Vec::new();
    for _ in 0..2 {
        for (i, (scene, t)) in FRAMES.into_iter().enumerate() {
            let (r, d) = fixture::pair(case.format, case.bit_depth, w, h, scene, t);
            ex.extract(&r, &d, i as u32, &mut out).unwrap();
        }
    }
    let printed: Vec<String> = out.iter().map(|v| printed(v.value)).collect();
    assert_eq!(printed[..3], printed[3..]);
    assert_eq!(printed[..3], case.expected.map(String::from));
}

/// Identical pictures have a mean ΔE of 0, so libvmaf's score is +infinity.
#[test]
fn identical_pictures_score_infinity() {
    let g = geometry(PixelFormat::Yuv420, 8, (32, 18));
    let mut ex = build(g).unwrap();
    let (r, _) = fixture::pair(g.format, 8, 32, 18, 0, 0);
    let mut out = Vec::new();
    ex.extract(&r, &r, 0, &mut out).unwrap();
    assert_eq!(out[0].value, f64::INFINITY);
}

/// Skipping pixels whose colours are equal relies on ΔE(c, c) being exactly 0.
#[test]
fn equal_colours_have_zero_difference() {
    for bd in [8u8, 10, 12, 16] {
        let max = (1u32 << bd) - 1;
        let step = (max / 37).max(1);
        for y in (0..=max).step_by(step as usize * 3) {
            for u in (0..=max).step_by(step as usize) {
                for v in (0..=max).step_by(step as usize) {
                    let c = kernel::lab(y, u, v, bd);
                    let de = kernel::delta_e(&c, &c);
                    assert!(
                        de == 0.0 && de.is_sign_positive(),
                        "{y} {u} {v} at {bd}: {de}"
                    );
                }
            }
        }
    }
}

/// The libvmaf upsampling quirks: 4:2:2 reads full-width rows from the padded layout, running
/// into padding, the next row and the next plane; reads past Cr give 0.
#[test]
fn chroma_reads_follow_libvmafs_layout() {
    // 4:2:2 of a 6x4 picture: chroma 3x4, rows 32 apart.
    let layout = ChromaLayout {
        width: 3,
        height: 4,
        stride: 32,
        halve_columns: false,
    };
    let cb: Vec<u8> = (1..=12).collect();
    let cr: Vec<u8> = (101..=112).collect();
    let planes = [(&cb[..], 3), (&cr[..], 3)];
    let mut row = vec![9u16; 6];
    layout.fill_row(planes, 0, 3, &mut row);
    assert_eq!(row, [4, 5, 6, 0, 0, 0]);
    // 4:2:0 with a stride equal to the width: the last odd column reads the next row.
    let layout = ChromaLayout {
        width: 2,
        height: 2,
        stride: 2,
        halve_columns: true,
    };
    let cb: Vec<u16> = (1..=4).collect();
    let cr: Vec<u16> = (101..=104).collect();
    let planes = [(&cb[..], 2), (&cr[..], 2)];
    let mut row = vec![9u16; 5];
    layout.fill_row(planes, 0, 2, &mut row);
    assert_eq!(row, [3, 3, 4, 4, 101]);
    layout.fill_row(planes, 0, 4, &mut row);
    assert_eq!(row, [101, 101, 102, 102, 103]);
    layout.fill_row(planes, 1, 2, &mut row);
    assert_eq!(row, [103, 103, 104, 104, 0]);
    layout.fill_row(planes, 1, 4, &mut row);
    assert_eq!(row, [0; 5]);
}

#[test]
fn unsupported_geometries_are_refused() {
    assert!(build(geometry(PixelFormat::Yuv400, 8, (32, 18))).is_err());
    assert!(build(geometry(PixelFormat::Yuv420, 9, (32, 18))).is_err());
    let info = find_extractor("ciede").unwrap();
    assert!(OptionValues::parse("ciede", info.options, &[("x".into(), "1".into())]).is_err());
    let mut ex = build(geometry(PixelFormat::Yuv420, 8, (32, 18))).unwrap();
    let (r, _) = fixture::pair(PixelFormat::Yuv420, 8, 32, 20, 0, 0);
    assert!(ex.extract(&r, &r, 0, &mut Vec::new()).is_err());
    let (r, _) = fixture::pair(PixelFormat::Yuv444, 8, 32, 18, 0, 0);
    assert!(ex.extract(&r, &r, 0, &mut Vec::new()).is_err());
    assert_eq!(find_provider("ciede2000").map(|i| i.name), Some("ciede"));
}

/// Deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u32) -> u32 {
        ((self.next() >> 32) % u64::from(n)) as u32
    }
}

/// The checked stand-ins give libm's ΔE bit for bit: on pairs of nearby colours (as a
/// distorted picture has) and of unrelated ones, at 8 and 10 bits, and on colours off the
/// YUV grid.
#[test]
fn fast_delta_e_equals_libm() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let mut checked = 0u32;
    for bd in [8u8, 10] {
        let max = (1u32 << bd) - 1;
        for n in 0..400_000u32 {
            let (y, u, v) = (rng.below(max + 1), rng.below(max + 1), rng.below(max + 1));
            let c1 = kernel::lab(y, u, v, bd);
            let spread = if n % 2 == 0 { 8 << (bd - 8) } else { max };
            let mut near = |s: u32| {
                let d = rng.below(2 * spread + 1) as i64 - i64::from(spread);
                (i64::from(s) + d).clamp(0, i64::from(max)) as u32
            };
            let c2 = kernel::lab(near(y), near(u), near(v), bd);
            let (fast, libm) = (kernel::delta_e(&c1, &c2), kernel::delta_e_libm(&c1, &c2));
            assert_eq!(fast.to_bits(), libm.to_bits(), "{c1:?} {c2:?}");
            checked += 1;
        }
    }
    for _ in 0..400_000 {
        let lab = |rng: &mut Rng| {
            let l = rng.below(100_001) as f32 / 1000.0;
            let a = (rng.below(300_001) as f32 - 150_000.0) / 1000.0;
            let b = (rng.below(300_001) as f32 - 150_000.0) / 1000.0;
            let (ad, bd) = (f64::from(a), f64::from(b));
            Lab {
                l,
                a,
                b,
                c: (ad * ad + bd * bd).sqrt() as f32,
            }
        };
        let (c1, c2) = (lab(&mut rng), lab(&mut rng));
        let (fast, libm) = (kernel::delta_e(&c1, &c2), kernel::delta_e_libm(&c1, &c2));
        assert_eq!(fast.to_bits(), libm.to_bits(), "{c1:?} {c2:?}");
        checked += 1;
    }
    assert_eq!(checked, 1_200_000);
}

/// The stand-ins are far inside the margin, so the checked paths are taken (and the libm
/// fallbacks stay rare); `settled` refuses an interval that straddles two floats.
#[test]
fn stand_ins_are_accurate() {
    use super::fast;
    let mut rng = Rng(99);
    let mut worst = [0.0f64; 4];
    for _ in 0..200_000 {
        let x = (rng.below(1 << 30) as f64 / f64::from(1u32 << 30) - 0.5) * 60.0;
        let (s, c) = fast::sin_cos(x);
        worst[0] = worst[0].max((s - x.sin()).abs()).max((c - x.cos()).abs());
        let e = -(rng.below(1 << 30) as f64 / f64::from(1u32 << 30)) * 130.0;
        worst[1] = worst[1].max(((fast::exp(e) - e.exp()) / e.exp()).abs());
        let (yv, xv) = (
            (rng.below(1 << 20) as f64 - f64::from(1u32 << 19)) / 1000.0,
            (rng.below(1 << 20) as f64 - f64::from(1u32 << 19)) / 1000.0,
        );
        if yv != 0.0 && xv != 0.0 {
            let want = yv.atan2(xv);
            worst[2] = worst[2].max(((fast::atan2(yv, xv) - want) / want).abs());
        }
        let c = rng.below(1 << 30) as f64 / f64::from(1u32 << 28) + 0.008;
        worst[3] = worst[3].max(((c.cbrt() - c.powf(1.0 / 3.0)) / c.cbrt()).abs());
        let small = x * 1e-6;
        worst[3] = worst[3].max(((fast::sin_cos(small).0 - small.sin()) / small.sin()).abs());
    }
    assert!(worst.iter().all(|&w| w < 1e-14), "{worst:?}");
    assert_eq!(fast::settled(1.5, 1e-12), Some(1.5));
    let edge = 1.0 + f64::from(f32::EPSILON) / 2.0;
    assert_eq!(fast::settled(edge, 1e-12), None);
}

/// The batched ΔE equals libm's at every SIMD level this CPU has, redoing few lanes: on
/// colour pairs from YUV triples (nearby and unrelated) at 8 and 10 bits.
#[test]
fn batched_delta_e_equals_libm_at_every_level() {
    use super::batch::{Batch, LANES};
    for level in SimdLevel::ALL {
        if !crate::cpu::twin_level_available(level, "ciede batched ΔE") {
            continue;
        }
        let mut rng = Rng(0xC1ED_E200 + level as u64);
        let mut batch = Batch::default();
        let (mut redone, mut powf_calls, mut total) = (0, 0, 0);
        for bd in [8u8, 10] {
            let max = (1u32 << bd) - 1;
            for round in 0..3000u32 {
                let n = if round % 7 == 0 {
                    (round as usize) % LANES
                } else {
                    LANES
                };
                for k in 0..n {
                    let (y, u, v) = (rng.below(max + 1), rng.below(max + 1), rng.below(max + 1));
                    let spread = if k % 2 == 0 { 8 << (bd - 8) } else { max };
                    let mut near = |s: u32| {
                        let d = rng.below(2 * spread + 1) as i64 - i64::from(spread);
                        (i64::from(s) + d).clamp(0, i64::from(max)) as u32
                    };
                    let (y2, u2, v2) = (near(y), near(u), near(v));
                    batch.first[k] = kernel::lab(y, u, v, bd);
                    batch.second[k] = kernel::lab(y2, u2, v2, bd);
                }
                batch.run(level, n);
                redone += batch.redone(n);
                powf_calls += batch.powf_calls(n);
                total += n;
                for k in 0..n {
                    let want = kernel::delta_e_libm(&batch.first[k], &batch.second[k]);
                    assert_eq!(
                        batch.out[k].to_bits(),
                        want.to_bits(),
                        "{:?} {:?} at {level}",
                        batch.first[k],
                        batch.second[k]
                    );
                }
            }
        }
        assert!(
            redone * 1000 < total,
            "{redone} of {total} redone at {level}"
        );

        // Both floats libm's powf may return give the same ΔE on nearly every lane.
        assert!(
            powf_calls * 20 < total,
            "{powf_calls} of {total} called powf at {level}"
        );
    }
}

/// Pictures down to one sample, whose subsampled chroma planes are empty, score without
/// panicking.
#[test]
fn tiny_pictures_do_not_panic() {
    for format in [
        PixelFormat::Yuv420,
        PixelFormat::Yuv422,
        PixelFormat::Yuv444,
    ] {
        for bd in [8u8, 10] {
            for (w, h) in [(1, 1), (1, 2), (2, 1), (3, 1), (1, 5), (2, 2)] {
                let mut ex = build(geometry(format, bd, (w, h))).unwrap();
                let (r, d) = fixture::pair(format, bd, w, h, 0, 1);
                let mut out = Vec::new();
                ex.extract(&r, &d, 0, &mut out).unwrap();
                assert_eq!(out.len(), 1);
            }
        }
    }
}

/// libm's `powf(c, 7)` is always one of the two floats the batch tries in its place, over
/// the chroma range CIELAB reaches and beyond, including exact powers and zero.
#[test]
fn powf_seven_lies_in_its_brackets() {
    use super::batch::pow7_brackets;
    let mut rng = Rng(7);
    let exact = (0..=300).map(|i| i as f32);
    let random = (0..2_000_000).map(|_| f32::from_bits(rng.below(0x43C0_0000)));
    for c in exact.chain(random) {
        let p = c.powf(7.0);
        let (lo, hi, ok) = pow7_brackets(c);
        assert!(ok, "{c}");
        assert!(p == lo || p == hi, "{c}: powf {p}, tried {lo} and {hi}");
    }
}

/// The largest |fast − exact| per-frame `ciede2000` that the fast mode may show on the
/// fixture clips, in dB (README: "Fast metrics"). Measured 1.0e-6 (the test prints it).
const FAST_FRAME_BOUND_DB: f64 = 2e-5;

/// A fixture clip's frame as an engine picture.
fn fixture_picture(spec: &vmafx_fixtures::ClipSpec, frame: &vmafx_fixtures::Frame) -> Picture {
    let format = match spec.chroma {
        vmafx_fixtures::Chroma::C420 => PixelFormat::Yuv420,
        vmafx_fixtures::Chroma::C422 => PixelFormat::Yuv422,
        vmafx_fixtures::Chroma::C444 => PixelFormat::Yuv444,
    };
    let mut p = Picture::new(format, spec.depth, spec.width, spec.height).unwrap();
    // The fixture's chroma planes are rounded up; the engine's (libvmaf's) rounded down.
    for (i, (plane, samples)) in p.planes.iter_mut().zip(&frame.planes).enumerate() {
        let stride = match (i, spec.chroma) {
            (0, _) | (_, vmafx_fixtures::Chroma::C444) => spec.width,
            _ => spec.width.div_ceil(2),
        };
        match plane {
            PlaneData::U8(pl) => (0..pl.height).for_each(|y| {
                let src = &samples[y * stride..];
                pl.row_mut(y)
                    .iter_mut()
                    .zip(src)
                    .for_each(|(o, &s)| *o = s as u8)
            }),
            PlaneData::U16(pl) => (0..pl.height).for_each(|y| {
                let w = pl.width;
                pl.row_mut(y)
                    .copy_from_slice(&samples[y * stride..y * stride + w])
            }),
        }
    }
    p
}

fn build_fast(g: Geometry, level: SimdLevel) -> Box<dyn FeatureExtractor> {
    let info = find_extractor("ciede").unwrap();
    let mut options = OptionValues::parse("ciede", info.options, &[]).unwrap();
    options.set_fast_metrics(true);
    (info.create)(&options, g, level).unwrap()
}

/// Every frame of every fixture clip (8, 10 and 12 bits; 4:2:0, 4:2:2 and 4:4:4; odd sizes)
/// scores within [`FAST_FRAME_BOUND_DB`] of the exact path in fast mode, at every SIMD level,
/// and every level gives the same value.
#[test]
fn fast_ciede_stays_within_its_bound() {
    let mut worst = (0.0f64, String::new());
    let mut frames = 0;
    for fixture in vmafx_fixtures::fixtures() {
        let spec = &fixture.spec;
        let reference = vmafx_fixtures::reference(spec);
        let distorted = vmafx_fixtures::distort(spec, &reference, fixture.distortion, 99);
        let first = fixture_picture(spec, &reference[0]);
        let g = geometry(first.format, spec.depth, (spec.width, spec.height));
        let mut exact = build(g).unwrap();
        let mut fast: Vec<_> = SimdLevel::ALL
            .into_iter()
            .filter(|l| l.is_supported())
            .map(|l| build_fast(g, l))
            .collect();
        for (i, (r, d)) in reference.iter().zip(&distorted).enumerate() {
            let (r, d) = (fixture_picture(spec, r), fixture_picture(spec, d));
            let mut out = Vec::new();
            exact.extract(&r, &d, i as u32, &mut out).unwrap();
            let want = out[0].value;
            let mut values = Vec::new();
            for ex in &mut fast {
                out.clear();
                ex.extract(&r, &d, i as u32, &mut out).unwrap();
                values.push(out[0].value);
            }
            assert!(
                values.iter().all(|v| v.to_bits() == values[0].to_bits()),
                "{} frame {i}: levels disagree: {values:?}",
                fixture.name
            );
            let got = values[0];
            if want.is_infinite() {
                assert_eq!(got, want, "{} frame {i}", fixture.name);
                continue;
            }
            let dev = (got - want).abs();
            assert!(
                dev <= FAST_FRAME_BOUND_DB,
                "{} frame {i}: fast {got} vs exact {want}",
                fixture.name
            );
            if dev >= worst.0 {
                worst = (dev, format!("{} frame {i}", fixture.name));
            }
            frames += 1;
        }
    }
    assert!(frames > 40);
    // Straight to the stream so that the measured margin shows in CI logs.
    let line = format!(
        "fast ciede: max |fast - exact| = {:.3e} dB over {frames} frames ({})\n",
        worst.0, worst.1
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// The fast kernel's ΔE stays close to libvmaf's on random colour pairs (near and far) at
/// every bit depth, and gives exactly 0 for equal colours.
#[test]
fn fast_delta_e_is_close_per_pixel() {
    let mut rng = Rng(0xFA57_C1ED);
    let mut worst = 0.0f64;
    for bd in [8u8, 10, 12, 16] {
        let max = (1u32 << bd) - 1;
        for k in 0..20_000 {
            let t1 = [rng.below(max + 1), rng.below(max + 1), rng.below(max + 1)];
            let spread = if k % 2 == 0 { 4 << (bd - 8) } else { max };
            let mut near = |s: u32| {
                let d = rng.below(2 * spread + 1) as i64 - i64::from(spread);
                (i64::from(s) + d).clamp(0, i64::from(max)) as u32
            };
            let t2 = [near(t1[0]), near(t1[1]), near(t1[2])];
            let want = f64::from(kernel::delta_e_libm(
                &kernel::lab(t1[0], t1[1], t1[2], bd),
                &kernel::lab(t2[0], t2[1], t2[2], bd),
            ));
            let got = f64::from(super::approx::tests::delta_e_of(t1, t2, bd));
            // Absolute near 0 (f32 rounding of L*, a*, b*), relative above.
            let dev = (got - want).abs() / want.max(1.0);
            // Measured 6.1e-5.
            assert!(dev < 5e-4, "{t1:?} {t2:?} at {bd} bits: {got} vs {want}");
            worst = worst.max(dev);
            assert_eq!(super::approx::tests::delta_e_of(t1, t1, bd), 0.0);
        }
    }
    let line = format!("fast ciede: worst per-pixel ΔE deviation {worst:.3e}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// Every SIMD level of the fast kernel gives the scalar twin's bits.
#[test]
fn fast_ciede_twins_agree() {
    use super::approx::{FastBlock, BLOCK};
    for bd in [8u8, 10, 16] {
        let max = (1u32 << bd) - 1;
        let mut rng = Rng(0x7713 + u64::from(bd));
        let mut scalar = FastBlock::new(bd);
        for _ in 0..50 {
            for k in 0..BLOCK {
                for c in 0..3 {
                    let s = rng.below(max + 1);
                    scalar.first[c][k] = s as f32;
                    let d = if k % 3 == 0 { s } else { rng.below(max + 1) };
                    scalar.second[c][k] = d as f32;
                }
            }
            let n = BLOCK - rng.below(40) as usize;
            let want = scalar.clone().run(SimdLevel::Scalar, n);
            let want_out = {
                let mut b = scalar.clone();
                b.run(SimdLevel::Scalar, n);
                b.out
            };
            for level in [SimdLevel::Avx2, SimdLevel::Avx512] {
                if !crate::cpu::twin_level_available(level, "fast ciede ΔE") {
                    continue;
                }
                let mut b = scalar.clone();
                let got = b.run(level, n);
                assert_eq!(got.to_bits(), want.to_bits(), "{level} {bd} bits");
                assert!(
                    b.out
                        .iter()
                        .zip(&want_out)
                        .all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{level} {bd} bits"
                );
            }
        }
    }
}
