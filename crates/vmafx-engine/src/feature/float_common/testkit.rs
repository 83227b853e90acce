//! Test harness shared by the float extractors' tests: runs an extractor over the motion tests'
//! `fixture` frames and compares every frame's values, by printed name and `%.6f` text, with
//! what libvmaf v3.2.0 printed on raw files holding the same frames.
//!
//! The raw files are written by the ignored test `write_float_fixture_files` (set
//! `VMAFX_FIXTURE_DIR`): `{tag}_ref.yuv` / `{tag}_dis.yuv` hold [`FRAMES`] of the given format,
//! depth and size.

use std::collections::BTreeMap;

use crate::cpu::SimdLevel;
use crate::feature::motion::fixture;
use crate::feature::name::alias;
use crate::feature::{find_extractor, Geometry};
use crate::options::OptionValues;
use crate::picture::{PixelFormat, PlaneData};

/// The (scene, t) of each fixture frame.
pub(crate) const FRAMES: [(u32, u32); 4] = [(0, 0), (0, 1), (0, 2), (1, 0)];

/// One libvmaf run to reproduce.
pub(crate) struct Case {
    pub extractor: &'static str,
    pub format: PixelFormat,
    pub bit_depth: u8,
    pub size: (usize, usize),
    pub options: &'static [(&'static str, &'static str)],
    /// Per frame, the printed names and values libvmaf wrote (on AMD).
    pub frames: &'static [&'static [(&'static str, &'static str)]],
    /// (frame, name, value) that libvmaf printed differently on Intel (see [`expected`]).
    pub intel: &'static [(usize, &'static str, &'static str)],
}

/// What libvmaf printed for these frames on a CPU with this one's `rcpss` table: `frames`
/// (AMD), with `intel`'s values in their place on Intel. libvmaf's float ADM divides with the
/// CPU's reciprocal estimate ([`crate::cpu::RcpssTable`]); other extractors (`uses_float_adm`
/// false) print the same everywhere. `None`, after one SKIPPED line naming `what`, for float ADM
/// values on a CPU whose table no golden was made with.
pub(crate) fn expected(
    what: &str,
    uses_float_adm: bool,
    frames: &[&[(&str, &str)]],
    intel: &[(usize, &str, &str)],
) -> Option<Vec<BTreeMap<String, String>>> {
    use crate::cpu::{rcpss_table, RcpssTable};
    let mut want: Vec<BTreeMap<String, String>> = frames
        .iter()
        .map(|f| {
            f.iter()
                .map(|&(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect();
    if !uses_float_adm {
        assert!(
            intel.is_empty(),
            "{what}: only float ADM values differ by CPU"
        );
        return Some(want);
    }
    match rcpss_table() {
        Some(RcpssTable::Amd) => {}
        Some(RcpssTable::Intel) => {
            for &(frame, name, value) in intel {
                let previous = want[frame].insert(name.to_string(), value.to_string());
                assert!(previous.is_some(), "{what}: no {name} in frame {frame}");
            }
        }
        None => {
            let line = format!(
                "SKIPPED: {what} against libvmaf's values not verified: this CPU's rcpss \
                 estimate (fingerprint {:#x?}) is neither AMD's nor Intel's, and libvmaf's float \
                 ADM divides with it\n",
                crate::cpu::rcpss_fingerprint()
            );
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            return None;
        }
    }
    Some(want)
}

/// libvmaf's JSON printing of a value: `%.6f`, or `%.16f` when more than six zeros follow the
/// decimal point, with non-finite values as `null`.
pub(crate) fn printed(v: f64) -> String {
    if !v.is_finite() {
        return "null".to_string();
    }
    let x = v.abs();
    let mut fractional = x - f64::from(x as i32);
    let mut zeros = 0;
    while fractional < 1.0 && fractional != 0.0 {
        fractional *= 10.0;
        zeros += 1;
    }
    if zeros <= 6 {
        format!("{v:.6}")
    } else {
        format!("{v:.16}")
    }
}

/// Runs `case` at `level` and returns each frame's printed names and values.
pub(crate) fn run(level: SimdLevel, case: &Case) -> Vec<BTreeMap<String, String>> {
    let (w, h) = case.size;
    let geometry = Geometry {
        format: case.format,
        bit_depth: case.bit_depth,
        width: w,
        height: h,
    };
    let info = find_extractor(case.extractor).unwrap();
    let pairs: Vec<(String, String)> = case
        .options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let options = OptionValues::parse(case.extractor, info.options, &pairs).unwrap();
    let mut ex = (info.create)(&options, geometry, level).unwrap();
    let mut out = Vec::new();
    for (i, &(scene, t)) in FRAMES.iter().enumerate() {
        let (r, d) = fixture::pair(case.format, case.bit_depth, w, h, scene, t);
        ex.extract(&r, &d, i as u32, &mut out).unwrap();
    }
    ex.flush(&mut out).unwrap();
    let mut frames = vec![BTreeMap::new(); FRAMES.len()];
    for v in out {
        let previous =
            frames[v.index as usize].insert(alias(&v.name).to_string(), printed(v.value));
        assert!(
            previous.is_none(),
            "{} written twice for frame {}",
            v.name,
            v.index
        );
    }
    frames
}

/// Checks `case` at every SIMD level this CPU has.
pub(crate) fn check(case: &Case) {
    let what = format!(
        "{} {:?} {}-bit {:?} {:?}",
        case.extractor, case.format, case.bit_depth, case.size, case.options
    );
    let uses_float_adm = case.extractor == "float_adm";
    let Some(want) = expected(&what, uses_float_adm, case.frames, case.intel) else {
        return;
    };
    for level in SimdLevel::ALL.into_iter().filter(|l| l.is_supported()) {
        let got = run(level, case);
        for (i, want) in want.iter().enumerate() {
            assert_eq!(&got[i], want, "{what} at {level}, frame {i}");
        }
    }
}

/// Appends one fixture picture to `bytes` as a raw planar frame (chroma planes at the size
/// raw files store, the rounded-up extra column/row repeating the last real one).
fn raw_frame(p: &crate::picture::Picture, bytes: &mut Vec<u8>) {
    for (i, plane) in p.planes.iter().enumerate() {
        let (sw, sh) = p.format.stored_plane_size(i, p.width, p.height);
        for y in 0..sh {
            for x in 0..sw {
                let (yy, xx) = (y.min(plane.height() - 1), x.min(plane.width() - 1));
                match plane {
                    PlaneData::U8(q) => bytes.push(q.row(yy)[xx]),
                    PlaneData::U16(q) => bytes.extend(q.row(yy)[xx].to_le_bytes()),
                }
            }
        }
    }
}

/// Writes the raw files of every case geometry into `VMAFX_FIXTURE_DIR`.
#[test]
#[ignore = "writes the raw files the expected values were measured on"]
fn write_float_fixture_files() {
    let dir = std::env::var("VMAFX_FIXTURE_DIR").expect("VMAFX_FIXTURE_DIR");
    let geometries = [
        ("a8", PixelFormat::Yuv444, 8, (37, 29)),
        ("b10", PixelFormat::Yuv444, 10, (41, 35)),
        ("c8", PixelFormat::Yuv420, 8, (64, 48)),
        ("d12", PixelFormat::Yuv444, 12, (48, 40)),
        ("e16", PixelFormat::Yuv444, 16, (40, 36)),
        ("f10", PixelFormat::Yuv422, 10, (52, 38)),
    ];
    for (tag, format, bd, (w, h)) in geometries {
        let (mut rb, mut db) = (Vec::new(), Vec::new());
        for &(scene, t) in &FRAMES {
            let (r, d) = fixture::pair(format, bd, w, h, scene, t);
            raw_frame(&r, &mut rb);
            raw_frame(&d, &mut db);
        }
        std::fs::write(format!("{dir}/{tag}_ref.yuv"), rb).unwrap();
        std::fs::write(format!("{dir}/{tag}_dis.yuv"), db).unwrap();
    }
}

/// Runs `extractor` with `options` over the fixture frames at a larger odd size at every SIMD
/// level and checks the vector twins give the scalar kernels' bits.
pub(crate) fn check_twins(
    extractor: &'static str,
    options: &'static [(&'static str, &'static str)],
) {
    let case = Case {
        extractor,
        intel: &[],
        format: PixelFormat::Yuv420,
        bit_depth: 10,
        size: (333, 187),
        options,
        frames: &[],
    };
    let scalar = run_exact(SimdLevel::Scalar, &case);
    for level in [SimdLevel::Avx2, SimdLevel::Avx512] {
        if crate::cpu::twin_level_available(level, extractor) {
            assert_eq!(run_exact(level, &case), scalar, "{extractor} at {level}");
        }
    }
}

/// Every value of a run, by frame, name and exact bits.
fn run_exact(level: SimdLevel, case: &Case) -> Vec<(u32, String, u64)> {
    let (w, h) = case.size;
    let geometry = Geometry {
        format: case.format,
        bit_depth: case.bit_depth,
        width: w,
        height: h,
    };
    let info = find_extractor(case.extractor).unwrap();
    let pairs: Vec<(String, String)> = case
        .options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let options = OptionValues::parse(case.extractor, info.options, &pairs).unwrap();
    let mut ex = (info.create)(&options, geometry, level).unwrap();
    let mut out = Vec::new();
    for (i, &(scene, t)) in FRAMES.iter().enumerate() {
        let (r, d) = fixture::pair(case.format, case.bit_depth, w, h, scene, t);
        ex.extract(&r, &d, i as u32, &mut out).unwrap();
    }
    ex.flush(&mut out).unwrap();
    out.iter()
        .map(|v| (v.index, v.name.to_string(), v.value.to_bits()))
        .collect()
}
