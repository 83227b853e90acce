//! The one dispatch of VIF's row kernels: the scorer's [`SimdLevel`], passed down as a value,
//! picks the scalar kernel or its SIMD twin. All give identical results; only speed differs. A
//! level without its own twin of a kernel runs the best lower one.

use super::kernels::{self, InfoSums, MomentRows, PaddedMoments, SigmaRows, VerticalShifts};
use super::tables::Log2Table;
use crate::cpu::SimdLevel;
use crate::picture::Pixel;

#[cfg(target_arch = "x86_64")]
use super::{avx2, avx512};

/// See [`kernels::vertical_moments_8`].
pub(crate) fn vertical_moments_8(
    level: SimdLevel,
    taps: &[u16],
    ref_rows: &[&[u8]],
    dis_rows: &[&[u8]],
    out: MomentRows<'_>,
) {
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx512 {
        // SAFETY: the scorer checked that this CPU runs `level`, which includes AVX-512.
        unsafe { avx512::vertical_moments_8(taps, ref_rows, dis_rows, out) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx2 {
        // SAFETY: the scorer checked that this CPU runs `level`, which includes AVX2.
        unsafe { avx2::vertical_moments_8(taps, ref_rows, dis_rows, out) };
        return;
    }
    kernels::vertical_moments_8(taps, ref_rows, dis_rows, out);
}

/// See [`kernels::vertical_moments_16`].
pub(crate) fn vertical_moments_16(
    level: SimdLevel,
    taps: &[u16],
    ref_rows: &[&[u16]],
    dis_rows: &[&[u16]],
    shifts: VerticalShifts,
    out: MomentRows<'_>,
) {
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx512 {
        // SAFETY: the scorer checked that this CPU runs `level`, which includes AVX-512.
        unsafe { avx512::vertical_moments_16(taps, ref_rows, dis_rows, shifts, out) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx2 {
        // SAFETY: the scorer checked that this CPU runs `level`, which includes AVX2.
        unsafe { avx2::vertical_moments_16(taps, ref_rows, dis_rows, shifts, out) };
        return;
    }
    kernels::vertical_moments_16(taps, ref_rows, dis_rows, shifts, out);
}

/// See [`kernels::horizontal_sigmas`].
pub(crate) fn horizontal_sigmas(
    level: SimdLevel,
    taps: &[u16],
    src: PaddedMoments<'_>,
    out: SigmaRows<'_>,
) {
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx512 {
        // SAFETY: the scorer checked that this CPU runs `level`, which includes AVX-512.
        unsafe { avx512::horizontal_sigmas(taps, src, out) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx2 {
        // SAFETY: the scorer checked that this CPU runs `level`, which includes AVX2.
        unsafe { avx2::horizontal_sigmas(taps, src, out) };
        return;
    }
    kernels::horizontal_sigmas(taps, src, out);
}

/// See [`kernels::accumulate_info`].
pub(crate) fn accumulate_info(
    level: SimdLevel,
    sigma1_sq: &[i32],
    sigma2_sq: &[i32],
    sigma12: &[i32],
    gain_limit: f64,
    table: &Log2Table,
    sums: &mut InfoSums,
) {
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx512 {
        // SAFETY: the scorer checked that this CPU runs `level`, which includes AVX-512.
        unsafe { avx512::accumulate_info(sigma1_sq, sigma2_sq, sigma12, gain_limit, table, sums) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx2 {
        // SAFETY: the scorer checked that this CPU runs `level`, which includes AVX2.
        unsafe { avx2::accumulate_info(sigma1_sq, sigma2_sq, sigma12, gain_limit, table, sums) };
        return;
    }
    kernels::accumulate_info(sigma1_sq, sigma2_sq, sigma12, gain_limit, table, sums);
}

/// A sample type the decimation kernels accept.
#[cfg(target_arch = "x86_64")]
pub(crate) trait DecimateSample: avx2::Lanes + avx512::Lanes {}
#[cfg(target_arch = "x86_64")]
impl<T: avx2::Lanes + avx512::Lanes> DecimateSample for T {}
/// A sample type the decimation kernels accept.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) trait DecimateSample: Pixel {}
#[cfg(not(target_arch = "x86_64"))]
impl<T: Pixel> DecimateSample for T {}

/// See [`kernels::decimate_row`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn decimate_row<T: DecimateSample + Pixel>(
    level: SimdLevel,
    taps: &[u16],
    ref_rows: &[&[T]],
    dis_rows: &[&[T]],
    round: u32,
    shift: u32,
    conv_ref: &mut [u32],
    conv_dis: &mut [u32],
    out_ref: &mut [u16],
    out_dis: &mut [u16],
) {
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx512 {
        // SAFETY: the scorer checked that this CPU runs `level`, which includes AVX-512.
        unsafe {
            avx512::decimate_row(
                taps, ref_rows, dis_rows, round, shift, conv_ref, conv_dis, out_ref, out_dis,
            )
        };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx2 {
        // SAFETY: the scorer checked that this CPU runs `level`, which includes AVX2.
        unsafe {
            avx2::decimate_row(
                taps, ref_rows, dis_rows, round, shift, conv_ref, conv_dis, out_ref, out_dis,
            )
        };
        return;
    }
    kernels::decimate_row(
        taps, ref_rows, dis_rows, round, shift, conv_ref, conv_dis, out_ref, out_dis,
    );
}

#[cfg(all(test, target_arch = "x86_64"))]
// The generators fill several parallel arrays per index.
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::super::kernels::PAD;
    use super::super::tables::TAPS;
    use super::*;

    /// The SIMD levels this CPU runs, each compared with the scalar kernels through the
    /// dispatch; a missing level prints its SKIPPED line.
    fn simd_levels() -> Vec<SimdLevel> {
        let mut levels = Vec::new();
        if crate::cpu::twin_level_available(SimdLevel::Avx2, "vif AVX2 row kernels") {
            levels.push(SimdLevel::Avx2);
        }
        if crate::cpu::twin_level_available(SimdLevel::Avx512, "vif AVX-512 row kernels") {
            levels.push(SimdLevel::Avx512);
        }
        levels
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        /// Mostly uniform samples, with runs of extremes so saturation corners are hit.
        fn sample(&mut self, bits: u32) -> u32 {
            let max = (1u64 << bits) - 1;
            match self.next() % 8 {
                0 => max as u32,
                1 => 0,
                _ => (self.next() & max) as u32,
            }
        }
    }

    /// Every width up to 70 (all vector tails of 8, 16 and 32 lanes), a few wider ones and
    /// odd widths around 1920.
    fn widths() -> Vec<usize> {
        let mut w: Vec<usize> = (1..=70).collect();
        w.extend([95, 129, 1919, 1921, 1923]);
        w
    }

    fn sigma_rows(x: &mut [Vec<i32>; 3]) -> SigmaRows<'_> {
        let [p, q, r] = x;
        SigmaRows {
            sigma1_sq: p,
            sigma2_sq: q,
            sigma12: r,
        }
    }

    fn moments(w: usize) -> [Vec<u32>; 5] {
        std::array::from_fn(|_| vec![0u32; w])
    }

    fn moment_rows(m: &mut [Vec<u32>; 5]) -> MomentRows<'_> {
        let [a, b, c, d, e] = m;
        MomentRows {
            mu1: a,
            mu2: b,
            xx: c,
            yy: d,
            xy: e,
        }
    }

    #[test]
    fn vertical_8_twins_agree() {
        let levels = simd_levels();
        let mut rng = Rng(0x1234_5678_9abc);
        for w in widths() {
            for taps in TAPS {
                let fw = taps.len();
                let rows: Vec<Vec<u8>> = (0..2 * fw)
                    .map(|_| (0..w).map(|_| rng.sample(8) as u8).collect())
                    .collect();
                let rr: Vec<&[u8]> = rows[..fw].iter().map(|r| &r[..]).collect();
                let dr: Vec<&[u8]> = rows[fw..].iter().map(|r| &r[..]).collect();
                let mut a = moments(w);
                kernels::vertical_moments_8(taps, &rr, &dr, moment_rows(&mut a));
                for &level in &levels {
                    let mut b = moments(w);
                    vertical_moments_8(level, taps, &rr, &dr, moment_rows(&mut b));
                    assert_eq!(a, b, "{level}: width {w}, {fw} taps");
                }
            }
        }
    }

    #[test]
    fn vertical_16_twins_agree() {
        let levels = simd_levels();
        let mut rng = Rng(0x9e37_79b9_7f4a);
        // (declared depth, actual sample width): the last case has samples wider than the
        // declared depth, which must still agree.
        let cases = [(9, 9), (10, 10), (12, 12), (15, 15), (16, 16), (10, 16)];
        for w in widths() {
            for (bits, sample_bits) in cases {
                for taps in TAPS {
                    let fw = taps.len();
                    let rows: Vec<Vec<u16>> = (0..2 * fw)
                        .map(|_| (0..w).map(|_| rng.sample(sample_bits) as u16).collect())
                        .collect();
                    let rr: Vec<&[u16]> = rows[..fw].iter().map(|r| &r[..]).collect();
                    let dr: Vec<&[u16]> = rows[fw..].iter().map(|r| &r[..]).collect();
                    for shifts in [
                        VerticalShifts::full_resolution(bits),
                        VerticalShifts::decimated(),
                    ] {
                        let mut a = moments(w);
                        kernels::vertical_moments_16(taps, &rr, &dr, shifts, moment_rows(&mut a));
                        for &level in &levels {
                            let mut b = moments(w);
                            vertical_moments_16(level, taps, &rr, &dr, shifts, moment_rows(&mut b));
                            assert_eq!(
                                a, b,
                                "{level}: width {w}, {bits}/{sample_bits} bits, {fw} taps"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Vertically filtered moments as the vertical pass could produce them for `bits`-bit
    /// input: means of 16 bits, second moments near the square of the mean.
    fn padded_moments(rng: &mut Rng, n: usize, bits: u32) -> [Vec<u32>; 5] {
        let mut m = moments(n);
        for j in 0..n {
            let (a, c) = (rng.sample(bits), rng.sample(bits));
            let scale = 16 - bits;
            let (m1, m2) = (a << scale, c << scale);
            m[0][j] = m1;
            m[1][j] = m2;
            // Second moments at 16 + 16 bits: mean squared plus some variance, any u32.
            let var = |r: &mut Rng| (r.next() % (1 << 24)) as u32;
            m[2][j] =
                ((m1 as u64 * m1 as u64).min(u32::MAX as u64) as u32).saturating_add(var(rng));
            m[3][j] =
                ((m2 as u64 * m2 as u64).min(u32::MAX as u64) as u32).saturating_add(var(rng));
            m[4][j] = (m1 as u64 * m2 as u64).min(u32::MAX as u64) as u32;
            if rng.next().is_multiple_of(16) {
                m[4][j] = rng.next() as u32;
            }
        }
        m
    }

    #[test]
    fn horizontal_twins_agree() {
        let levels = simd_levels();
        let mut rng = Rng(0xdead_beef_1234);
        for w in widths() {
            for bits in [8, 10, 12, 16] {
                for taps in TAPS {
                    let fw = taps.len();
                    let m = padded_moments(&mut rng, w + fw - 1, bits);
                    let src = || PaddedMoments {
                        mu1: &m[0],
                        mu2: &m[1],
                        xx: &m[2],
                        yy: &m[3],
                        xy: &m[4],
                    };
                    let mut a: [Vec<i32>; 3] = std::array::from_fn(|_| vec![0; w]);
                    kernels::horizontal_sigmas(taps, src(), sigma_rows(&mut a));
                    for &level in &levels {
                        let mut b: [Vec<i32>; 3] = std::array::from_fn(|_| vec![0; w]);
                        horizontal_sigmas(level, taps, src(), sigma_rows(&mut b));
                        assert_eq!(a, b, "{level}: width {w}, {bits} bits, {fw} taps");
                    }
                }
            }
        }
    }

    #[test]
    fn info_sum_twins_agree() {
        let levels = simd_levels();
        let table = Log2Table::get();
        let mut rng = Rng(0x0bad_cafe_5555);
        for n in widths() {
            for bits in [8u32, 10, 12, 16] {
                for gain_limit in [1.0, 1.5, 100.0] {
                    let mut s = [vec![0i32; n], vec![0i32; n], vec![0i32; n]];
                    for j in 0..n {
                        // Variances of `bits`-bit pictures in Q16, with small and negative
                        // values mixed in so every branch is taken.
                        let span = 1u64 << (2 * bits).min(30);
                        let pick = |r: &mut Rng| -> i32 {
                            match r.next() % 6 {
                                0 => (r.next() % (1 << 18)) as i32 - (1 << 16),
                                1 => (r.next() % 1000) as i32,
                                2 => i32::MAX - (r.next() % 1000) as i32,
                                _ => (r.next() % span) as i32,
                            }
                        };
                        s[0][j] = pick(&mut rng);
                        s[1][j] = pick(&mut rng).max(0);
                        s[2][j] = pick(&mut rng);
                        if rng.next().is_multiple_of(4) {
                            s[2][j] = s[0][j].min(s[1][j]) / 2;
                        }
                    }
                    let mut a = InfoSums::default();
                    kernels::accumulate_info(&s[0], &s[1], &s[2], gain_limit, table, &mut a);
                    for &level in &levels {
                        let mut b = InfoSums::default();
                        accumulate_info(level, &s[0], &s[1], &s[2], gain_limit, table, &mut b);
                        assert_eq!(a, b, "{level}: n {n}, {bits} bits, gain limit {gain_limit}");
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn decimate_case<T: DecimateSample + Pixel>(
        levels: &[SimdLevel],
        rng: &mut Rng,
        w: usize,
        bits: u32,
        taps: &[u16],
        from: impl Fn(u32) -> T,
        round: u32,
        shift: u32,
    ) {
        let fw = taps.len();
        let rows: Vec<Vec<T>> = (0..2 * fw)
            .map(|_| (0..w).map(|_| from(rng.sample(bits))).collect())
            .collect();
        let rr: Vec<&[T]> = rows[..fw].iter().map(|r| &r[..]).collect();
        let dr: Vec<&[T]> = rows[fw..].iter().map(|r| &r[..]).collect();
        let run = |level: SimdLevel| {
            let mut conv = [vec![0u32; w + 2 * PAD], vec![0u32; w + 2 * PAD]];
            let mut out = [vec![0u16; w / 2], vec![0u16; w / 2]];
            let [cr, cd] = &mut conv;
            let [or, od] = &mut out;
            decimate_row(level, taps, &rr, &dr, round, shift, cr, cd, or, od);
            (conv, out)
        };
        let a = run(SimdLevel::Scalar);
        for &level in levels {
            let b = run(level);
            assert_eq!(a.0, b.0, "{level} conv: width {w}, {bits} bits, {fw} taps");
            assert_eq!(a.1, b.1, "{level}: width {w}, {bits} bits, {fw} taps");
        }
    }

    #[test]
    fn decimate_twins_agree() {
        let levels = simd_levels();
        let mut rng = Rng(0x5151_7777_abcd);
        for w in widths() {
            for taps in &TAPS[1..] {
                decimate_case(&levels, &mut rng, w, 8, taps, |v| v as u8, 1 << 7, 8);
                for bits in [10, 12, 16] {
                    let round = 1 << (bits - 1);
                    decimate_case(&levels, &mut rng, w, bits, taps, |v| v as u16, round, bits);
                }
                decimate_case(&levels, &mut rng, w, 16, taps, |v| v as u16, 1 << 15, 16);
            }
        }
    }
}
