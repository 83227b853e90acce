//! Twin tests: every AVX2 and AVX-512 kernel against its scalar twin on random data of many
//! sizes, and the whole extractor under every level on random pictures. A level the CPU lacks
//! is skipped with one SKIPPED line.

use super::*;
use crate::cpu::SimdLevel;
use crate::picture::PixelFormat;

/// xorshift64*, deterministic per test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An i32 of a randomly chosen magnitude class, so small, typical and extreme values all
    /// occur (including 0 and i32::MIN).
    fn i32_any(&mut self) -> i32 {
        let bits = [0u32, 1, 4, 8, 12, 15, 16, 20, 24, 25, 26, 27, 31, 32][self.below(14) as usize];
        let v = if bits == 0 {
            0
        } else if bits == 32 {
            self.next() as u32 as i32
        } else {
            (self.below(1 << bits) as i64 - (1 << (bits - 1))) as i32
        };
        if self.below(50) == 0 {
            i32::MIN
        } else {
            v
        }
    }

    /// An i32 below 2^25 in magnitude, the range the vector path takes without falling back.
    fn i32_moderate(&mut self) -> i32 {
        let bits = [0u32, 1, 4, 8, 12, 15, 16, 17, 20, 24, 26][self.below(11) as usize];
        if bits == 0 {
            0
        } else {
            (self.below(1 << bits) as i64 - (1 << (bits - 1))) as i32
        }
    }

    fn i16_any(&mut self) -> i16 {
        let bits = [0u32, 1, 4, 8, 12, 14, 16][self.below(7) as usize];
        if bits == 0 {
            0
        } else {
            (self.below(1 << bits) as i64 - (1 << (bits - 1))) as i16
        }
    }
}

fn avx2() -> bool {
    crate::cpu::twin_level_available(SimdLevel::Avx2, "adm AVX2 kernels")
}

/// The levels to compare: scalar first, then each vector level this CPU has (at least one,
/// or the list is empty and the test has nothing to compare).
fn levels() -> Vec<SimdLevel> {
    let mut v = vec![SimdLevel::Scalar];
    if avx2() {
        v.push(SimdLevel::Avx2);
    }
    if crate::cpu::twin_level_available(SimdLevel::Avx512, "adm AVX-512 kernels") {
        v.push(SimdLevel::Avx512);
    }
    if v.len() == 1 {
        v.clear();
    }
    v
}

/// Widths 1..=70 and a few large ones, paired with a spread of heights.
fn sizes() -> Vec<(usize, usize)> {
    let mut v: Vec<(usize, usize)> = (1..=70).map(|w| (w, 1 + (w * 7) % 23)).collect();
    v.extend([(3, 3), (2, 40), (129, 5), (961, 7), (1921, 3)]);
    v
}

fn random_bands<T>(rng: &mut Rng, len: usize, gen: fn(&mut Rng) -> T) -> [Vec<T>; 3] {
    [0, 1, 2].map(|_| (0..len).map(|_| gen(rng)).collect())
}

/// Distorted bands: mostly the reference plus a small change, so the angle test and the gain
/// limit both fire, with fully random samples mixed in.
fn near<T: Copy>(
    rng: &mut Rng,
    reference: &[Vec<T>; 3],
    nudge: fn(&mut Rng, T) -> T,
) -> [Vec<T>; 3] {
    let mut out = reference.clone();
    for band in &mut out {
        for v in band.iter_mut() {
            *v = nudge(rng, *v);
        }
    }
    out
}

#[test]
fn decouple_scale0_twins() {
    let levels = levels();
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let recip = decouple::Reciprocals::new();
    for (w, h) in sizes() {
        for gain in [100.0, 1.0, 1.3, 2.5] {
            let len = w * h;
            let o = random_bands(&mut rng, len, Rng::i16_any);
            let t = near(&mut rng, &o, |r, v| match r.below(4) {
                0 => r.i16_any(),
                1 => v,
                _ => v.wrapping_add((r.below(9) as i16 - 4) * (1 + v / 8)),
            });
            let border = if w % 2 == 0 {
                Border::working(w, h)
            } else {
                Border {
                    left: 0,
                    top: 0,
                    right: w,
                    bottom: h,
                }
            };
            let mut outs: Vec<_> = levels.iter().map(|_| Decoupled::<i16>::new(len)).collect();
            for (out, &level) in outs.iter_mut().zip(&levels) {
                decouple::scale0(
                    [&o[0], &o[1], &o[2]],
                    [&t[0], &t[1], &t[2]],
                    w,
                    border,
                    gain,
                    &recip,
                    out,
                    level,
                );
            }
            for (out, level) in outs.iter().zip(&levels).skip(1) {
                assert_eq!(outs[0].r, out.r, "{w}x{h} gain {gain} {level}");
                assert_eq!(outs[0].a, out.a, "{w}x{h} gain {gain} {level}");
            }
        }
    }
}

#[test]
fn decouple_lower_twins() {
    let levels = levels();
    let mut rng = Rng(0xDEAD_BEEF_0BAD_F00D);
    let recip = decouple::Reciprocals::new();
    for (w, h) in sizes() {
        for (gain, extreme) in [(100.0, false), (1.0, false), (1.7, false), (100.0, true)] {
            let len = w * h;
            let gen = if extreme {
                Rng::i32_any
            } else {
                Rng::i32_moderate
            };
            let mut o = random_bands(&mut rng, len, gen);
            let mut t = near(&mut rng, &o, |r, v| match r.below(4) {
                0 => r.i32_moderate(),
                1 => v,
                _ => v.wrapping_add((r.below(9) as i32 - 4).wrapping_mul(1 + v / 8)),
            });
            // i32::MIN in the angle bands overflows the scalar twin's i64 dot product (a
            // debug-build panic); the reference's diagonal band keeps it.
            for v in o[..2].iter_mut().chain(t.iter_mut()).flatten() {
                *v = (*v).max(i32::MIN + 1);
            }
            let border = Border::working(w, h);
            let mut outs: Vec<_> = levels.iter().map(|_| Decoupled::<i32>::new(len)).collect();
            for (out, &level) in outs.iter_mut().zip(&levels) {
                decouple::lower(
                    [&o[0], &o[1], &o[2]],
                    [&t[0], &t[1], &t[2]],
                    w,
                    border,
                    gain,
                    &recip,
                    out,
                    level,
                );
            }
            for (out, level) in outs.iter().zip(&levels).skip(1) {
                assert_eq!(outs[0].r, out.r, "{w}x{h} gain {gain} {level}");
                assert_eq!(outs[0].a, out.a, "{w}x{h} gain {gain} {level}");
            }
        }
    }
}

#[test]
fn numerator_scale0_twins() {
    let levels = levels();
    let mut rng = Rng(0x0F0F_1234_4321_F0F0);
    for (w, h) in sizes() {
        if w < 2 || h < 2 {
            continue;
        }
        let len = w * h;
        for weights in [
            [36453u16, 36453, 49417],
            [3416, 3416, 3411],
            [65535, 40000, 65535],
        ] {
            let measured = random_bands(&mut rng, len, Rng::i16_any);
            let weighted = random_bands(&mut rng, len, Rng::i16_any);
            let faded = random_bands(&mut rng, len, |r| (r.below(1 << 12) as i16) - 64);
            let m = cm::Masking {
                measured: view(&measured),
                weighted: view(&weighted),
                faded: view(&faded),
                w,
                h,
            };
            let border = Border::scoring(w, h);
            let mut rows = cm::RowScratch::new(w);
            let got: Vec<f32> = levels
                .iter()
                .map(|&l| cm::numerator_scale0(&m, border, weights, 0.03125, &mut rows, l))
                .collect();
            for (b, level) in got.iter().zip(&levels).skip(1) {
                let a = got[0];
                assert_eq!(
                    a.to_bits(),
                    b.to_bits(),
                    "{w}x{h} {weights:?} {level}: {a} vs {b}"
                );
            }
        }
    }
}

/// A random picture pair: smooth content with texture, and a distortion mixing noise, blur and
/// strong contrast changes, at `bit_depth`.
fn random_pair(rng: &mut Rng, w: usize, h: usize, bit_depth: u8) -> (Picture, Picture) {
    let max = (1u32 << bit_depth) - 1;
    let mut r = Picture::new(PixelFormat::Yuv420, bit_depth, w, h).unwrap();
    let mut d = Picture::new(PixelFormat::Yuv420, bit_depth, w, h).unwrap();
    let mode = rng.below(3);
    let mut samples = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let base = match mode {
                0 => rng.below(u64::from(max) + 1) as u32,
                _ => {
                    let s = ((x * 37 + y * 11) % 97) as u32 * max / 97;
                    let n = rng.below(u64::from(max / 16 + 1)) as u32;
                    (s + n).min(max)
                }
            };
            samples.push(base);
        }
    }
    let distorted: Vec<u32> = samples
        .iter()
        .enumerate()
        .map(|(k, &v)| match rng.below(5) {
            0 => rng.below(u64::from(max) + 1) as u32,
            1 if k > 0 => (v + samples[k - 1]) / 2,
            2 => (v * 3 / 2).min(max),
            _ => v,
        })
        .collect();
    for (pic, vals) in [(&mut r, &samples), (&mut d, &distorted)] {
        match &mut pic.planes[0] {
            PlaneData::U8(p) => {
                for y in 0..h {
                    for (s, v) in p.row_mut(y).iter_mut().zip(&vals[y * w..]) {
                        *s = *v as u8;
                    }
                }
            }
            PlaneData::U16(p) => {
                for y in 0..h {
                    for (s, v) in p.row_mut(y).iter_mut().zip(&vals[y * w..]) {
                        *s = *v as u16;
                    }
                }
            }
        }
    }
    (r, d)
}

#[test]
fn extractor_twins() {
    let levels = levels();
    if levels.is_empty() {
        return;
    }
    let mut rng = Rng(0x5555_AAAA_1357_9BDF);
    let mut shapes: Vec<(usize, usize)> = (17..=70).map(|w| (w, 17 + (w * 5) % 19)).collect();
    shapes.extend([(17, 17), (33, 29), (65, 18), (200, 37), (1921, 20)]);
    for (n, &(w, h)) in shapes.iter().enumerate() {
        let bit_depth = [8u8, 10, 12, 16][n % 4];
        let options: Vec<(String, String)> = match n % 3 {
            0 => vec![("debug".into(), "true".into())],
            1 => vec![
                ("debug".into(), "true".into()),
                ("adm_enhn_gain_limit".into(), "1.2".into()),
            ],
            _ => vec![
                ("debug".into(), "true".into()),
                ("adm_csf_mode".into(), "1".into()),
            ],
        };
        let options = OptionValues::parse("adm", OPTIONS, &options).unwrap();
        let geometry = Geometry {
            format: PixelFormat::Yuv420,
            bit_depth,
            width: w,
            height: h,
        };
        let pairs: Vec<_> = (0..2)
            .map(|_| random_pair(&mut rng, w, h, bit_depth))
            .collect();
        let mut results = Vec::new();
        for &level in &levels {
            let mut adm = AdmExtractor::new(&options, geometry, level).unwrap();
            let mut out = Vec::new();
            for (i, (r, d)) in pairs.iter().enumerate() {
                adm.extract(r, d, i as u32, &mut out).unwrap();
            }
            results.push(out);
        }
        for (result, level) in results.iter().zip(&levels).skip(1) {
            for (a, b) in results[0].iter().zip(result) {
                assert_eq!(
                    a.value.to_bits(),
                    b.value.to_bits(),
                    "{w}x{h} at {bit_depth} bits, {level}, {}: {} vs {}",
                    a.name,
                    a.value,
                    b.value
                );
            }
        }
    }
}

#[test]
fn i64_to_f32_rounds_once() {
    if !avx2() {
        return;
    }
    use std::arch::x86_64::*;
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let mut values: Vec<i64> = vec![0, 1, -1, i64::MAX, i64::MIN, i64::MIN + 1, 1 << 53];
    // Near f32 midpoints at many magnitudes: where rounding via f64 could tie wrongly.
    for e in 25..63 {
        let mid = (1i64 << e) + (1i64 << (e - 24));
        for d in [-2i64, -1, 0, 1, 2, 3] {
            values.extend([mid + d, -(mid + d), mid + (1 << (e - 24)) + d]);
        }
    }
    values.extend((0..4000).map(|_| {
        let v = rng.next() as i64;
        v >> rng.below(60)
    }));
    while !values.len().is_multiple_of(4) {
        values.push(7);
    }
    for chunk in values.chunks(4) {
        let mut got = [0f64; 4];
        // SAFETY: AVX2 was detected above; the loads and stores cover four lanes.
        unsafe {
            let v = _mm256_loadu_si256(chunk.as_ptr().cast());
            _mm256_storeu_pd(got.as_mut_ptr(), avx2::i64_to_f32_as_f64(v));
        }
        for (g, v) in got.iter().zip(chunk) {
            assert_eq!(*g, f64::from(*v as f32), "{v}");
        }
    }
}

/// Asserts every level's output equals the scalar one's.
fn assert_twins<T: PartialEq + std::fmt::Debug>(outs: &[T], levels: &[SimdLevel], what: &str) {
    for (out, level) in outs.iter().zip(levels).skip(1) {
        assert_eq!(&outs[0], out, "{what} at {level}");
    }
}

#[test]
fn dwt_scale0_twins() {
    let levels = levels();
    if levels.is_empty() {
        return;
    }
    let mut rng = Rng(0x7777_1234_ABCD_0001);
    let mut shapes: Vec<(usize, usize)> = (5..=70).map(|w| (w, 5 + (w * 3) % 11)).collect();
    shapes.extend([(129, 6), (961, 5), (1921, 5)]);
    for (n, &(w, h)) in shapes.iter().enumerate() {
        for bit_depth in [8u8, 10, 12, 16] {
            let (mut picture, _) = random_pair(&mut rng, w, h, bit_depth);
            if n % 3 == 0 {
                // Samples beyond the bit depth (malformed input) take the general path.
                if let PlaneData::U16(p) = &mut picture.planes[0] {
                    for y in 0..h {
                        for s in p.row_mut(y).iter_mut() {
                            if rng.below(40) == 0 {
                                *s = rng.next() as u16;
                            }
                        }
                    }
                }
            }
            let (rows, cols) = (dwt::tap_table(h), dwt::tap_table(w));
            let out_w = cols.len();
            let len = out_w * rows.len();
            let last = if bit_depth > 8 && dwt::scale0_overreads(out_w) {
                dwt::LastColumn::Overread(rng.next() as i32)
            } else {
                dwt::LastColumn::Mirrored
            };
            let lowpass_only = n % 5 == 0;
            let outs: Vec<_> = levels
                .iter()
                .map(|&level| {
                    let setup = dwt::Scale0Setup {
                        bit_depth,
                        rows: &rows,
                        cols: &cols,
                        last,
                        lowpass_only,
                        level,
                    };
                    let mut scratch = dwt::Scale0Rows::new(w);
                    let mut out = Bands::<i16>::new(len);
                    match &picture.planes[0] {
                        PlaneData::U8(p) => dwt::scale0(p, &setup, &mut scratch, &mut out),
                        PlaneData::U16(p) => dwt::scale0(p, &setup, &mut scratch, &mut out),
                    }
                    [out.a, out.h, out.v, out.d]
                })
                .collect();
            assert_twins(&outs, &levels, &format!("{w}x{h} at {bit_depth} bits"));
        }
    }
}

#[test]
fn dwt_lower_twins() {
    let levels = levels();
    if levels.is_empty() {
        return;
    }
    let mut rng = Rng(0x2468_ACE0_1357_9BDF);
    let mut shapes: Vec<(usize, usize)> = (5..=70).map(|w| (w, 3 + (w * 5) % 13)).collect();
    shapes.extend([(129, 4), (481, 5), (961, 3)]);
    for (n, &(w, h)) in shapes.iter().enumerate() {
        let scale = 1 + n % 3;
        let gen = if n % 2 == 0 {
            Rng::i32_any
        } else {
            Rng::i32_moderate
        };
        let reference: Vec<i32> = (0..w * h).map(|_| gen(&mut rng)).collect();
        let distorted: Vec<i32> = (0..w * h).map(|_| gen(&mut rng)).collect();
        let above: Vec<i32> = (0..w).map(|_| gen(&mut rng)).collect();
        let (rows, cols) = (dwt::tap_table(h), dwt::tap_table(w));
        let len = rows.len() * cols.len();
        fn run<T: dwt::Coef>(input: &dwt::LowerInput<'_, T>, len: usize) -> [Vec<i32>; 8] {
            let mut scratch = dwt::LowerScratch::new(2 * input.w, input.w);
            let (mut r, mut d) = (Bands::<i32>::new(len), Bands::<i32>::new(len));
            dwt::lower(input, &mut scratch, &mut r, &mut d);
            [r.a, r.h, r.v, r.d, d.a, d.h, d.v, d.d]
        }
        let outs: Vec<_> = levels
            .iter()
            .map(|&level| {
                run(
                    &dwt::LowerInput {
                        scale,
                        w,
                        reference: &reference,
                        distorted: &distorted,
                        reference_above: &above,
                        distorted_above: &above,
                        rows: &rows,
                        cols: &cols,
                        level,
                    },
                    len,
                )
            })
            .collect();
        assert_twins(&outs, &levels, &format!("{w}x{h} scale {scale}"));
        // Scale 1 reads the 16-bit scale-0 bands.
        let narrow = |v: &[i32]| v.iter().map(|&x| x as i16).collect::<Vec<_>>();
        let (reference, distorted, above) =
            (narrow(&reference), narrow(&distorted), narrow(&above));
        let outs: Vec<_> = levels
            .iter()
            .map(|&level| {
                run(
                    &dwt::LowerInput {
                        scale,
                        w,
                        reference: &reference,
                        distorted: &distorted,
                        reference_above: &above,
                        distorted_above: &above,
                        rows: &rows,
                        cols: &cols,
                        level,
                    },
                    len,
                )
            })
            .collect();
        assert_twins(
            &outs,
            &levels,
            &format!("{w}x{h} scale {scale}, 16-bit input"),
        );
    }
}

/// Random borders inside a `w` x `h` band: the working border or an arbitrary one.
fn random_border(rng: &mut Rng, w: usize, h: usize) -> Border {
    if rng.below(2) == 0 {
        return Border::working(w, h);
    }
    let left = rng.below(w as u64) as usize;
    let top = rng.below(h as u64) as usize;
    Border {
        left,
        top,
        right: left + 1 + rng.below((w - left) as u64) as usize,
        bottom: top + 1 + rng.below((h - top) as u64) as usize,
    }
}

#[test]
fn weigh_twins() {
    let levels = levels();
    if levels.is_empty() {
        return;
    }
    let mut rng = Rng(0x1111_2222_3333_4444);
    for (w, h) in sizes() {
        let len = w * h;
        let border = random_border(&mut rng, w, h);
        let src16 = random_bands(&mut rng, len, Rng::i16_any);
        for weights in [[36453u16, 36453, 49417], [65535, 3416, 60000]] {
            let outs: Vec<_> = levels
                .iter()
                .map(|&level| {
                    let (mut d, mut f) = (orients::<i16>(len), orients::<i16>(len));
                    csf::weigh_scale0(view(&src16), w, border, weights, &mut d, &mut f, level);
                    (d, f)
                })
                .collect();
            assert_twins(&outs, &levels, &format!("scale 0 {w}x{h} {weights:?}"));
        }
        let src32 = random_bands(&mut rng, len, Rng::i32_any);
        for weights in [
            [137373792u32, 137373792, 61414028],
            [4_000_000_000, 2_147_483_648, 5],
        ] {
            let outs: Vec<_> = levels
                .iter()
                .map(|&level| {
                    let (mut d, mut f) = (orients::<i32>(len), orients::<i32>(len));
                    csf::weigh_lower(view(&src32), w, border, weights, &mut d, &mut f, level);
                    (d, f)
                })
                .collect();
            assert_twins(&outs, &levels, &format!("scales 1-3 {w}x{h} {weights:?}"));
        }
    }
}

#[test]
fn denominator_twins() {
    let levels = levels();
    if levels.is_empty() {
        return;
    }
    let mut rng = Rng(0x9999_8888_7777_6666);
    let weights = [0.0123f32, 0.0123, 0.0456];
    for (w, h) in sizes() {
        let len = w * h;
        let border = random_border(&mut rng, w, h);
        let b16 = random_bands(&mut rng, len, Rng::i16_any);
        let got: Vec<u32> = levels
            .iter()
            .map(|&l| csf::denominator_scale0(view(&b16), w, border, weights, 0.03125, l).to_bits())
            .collect();
        assert_twins(&got, &levels, &format!("scale 0 {w}x{h}"));
        let b32 = random_bands(&mut rng, len, Rng::i32_any);
        for scale in 1..4 {
            let got: Vec<u32> = levels
                .iter()
                .map(|&l| {
                    csf::denominator_lower(view(&b32), scale, w, border, weights, 0.03125, l)
                        .to_bits()
                })
                .collect();
            assert_twins(&got, &levels, &format!("scale {scale} {w}x{h}"));
        }
    }
}

#[test]
fn numerator_lower_twins() {
    let levels = levels();
    if levels.is_empty() {
        return;
    }
    let mut rng = Rng(0x3141_5926_5358_9793);
    for (w, h) in sizes() {
        if w < 2 || h < 2 {
            continue;
        }
        let len = w * h;
        for (scale, weights) in [
            (1, [137373792u32, 137373792, 61414028]),
            (2, [50654812, 50654812, 25580132]),
            (3, [4_000_000_000, 2_147_483_648, 7]),
        ] {
            let measured = random_bands(&mut rng, len, Rng::i32_any);
            let weighted = random_bands(&mut rng, len, Rng::i32_any);
            let faded = random_bands(&mut rng, len, Rng::i32_any);
            let m = cm::Masking {
                measured: view(&measured),
                weighted: view(&weighted),
                faded: view(&faded),
                w,
                h,
            };
            let border = Border::scoring(w, h);
            let mut rows = cm::RowScratch::new(w);
            let got: Vec<u32> = levels
                .iter()
                .map(|&l| {
                    cm::numerator_lower(&m, scale, border, weights, 0.03125, &mut rows, l).to_bits()
                })
                .collect();
            assert_twins(&got, &levels, &format!("scale {scale} {w}x{h} {weights:?}"));
        }
    }
}

#[test]
fn decouple_scale0_extreme_twins() {
    // Every combination of extreme coefficients, including the one whose dot product and
    // squared magnitudes reach 2^31 (all four -32768).
    let levels = levels();
    let values = [-32768i16, -32767, 32767, 0, 1, -1, 16384];
    let mut combos = Vec::new();
    for &a in &values {
        for &b in &values {
            for &c in &values {
                for &d in &values {
                    combos.push([a, b, c, d]);
                }
            }
        }
    }
    let w = combos.len();
    let o = [
        combos.iter().map(|v| v[0]).collect::<Vec<_>>(),
        combos.iter().map(|v| v[1]).collect(),
        combos.iter().map(|v| v[2]).collect(),
    ];
    let t = [
        combos.iter().map(|v| v[2]).collect::<Vec<_>>(),
        combos.iter().map(|v| v[3]).collect(),
        combos.iter().map(|v| v[0]).collect(),
    ];
    let border = Border {
        left: 0,
        top: 0,
        right: w,
        bottom: 1,
    };
    for gain in [100.0, 1.0, 1.5] {
        let mut outs: Vec<_> = levels.iter().map(|_| Decoupled::<i16>::new(w)).collect();
        for (out, &level) in outs.iter_mut().zip(&levels) {
            decouple::scale0(
                view(&o),
                view(&t),
                w,
                border,
                gain,
                &decouple::Reciprocals::new(),
                out,
                level,
            );
        }
        let outs: Vec<_> = outs.into_iter().map(|d| (d.r, d.a)).collect();
        assert_twins(&outs, &levels, &format!("gain {gain}"));
    }
}
