//! AVX2 twins of the row kernels in [`super::kernels`], bit-identical to them.
//!
//! Every filter sum is formed modulo 2^32 in 32-bit lanes. The scalar kernels keep each sum
//! below 2^32, so the wrapped lane values are the exact sums and the order of additions does
//! not matter. Second moments, whose filtered sums reach 48 bits, are recovered from two
//! 32-bit sums: the full products modulo 2^32 and the filtered high halves (see
//! [`split_round`]). Columns that do not fill a whole vector go through the scalar kernels.

use std::arch::x86_64::*;

use super::kernels::{self, InfoSums, MomentRows, PaddedMoments, SigmaRows, VerticalShifts, PAD};
use super::tables::{Log2Table, MAX_HALF, SIGMA_NSQ};
use crate::picture::Pixel;

/// Eight values at `p + at`, unchecked.
///
/// # Safety
/// `p + at .. p + at + 8` must be readable; the CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_u32_at(p: *const u32, at: usize) -> __m256i {
    // SAFETY: the caller guarantees the eight values are in bounds.
    unsafe { _mm256_loadu_si256(p.add(at).cast()) }
}

/// Sixteen 8-bit samples at `p + at` widened to 16-bit lanes, unchecked.
///
/// # Safety
/// `p + at .. p + at + 16` must be readable; the CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_u8x16_at(p: *const u8, at: usize) -> __m256i {
    // SAFETY: the caller guarantees the sixteen bytes are in bounds.
    _mm256_cvtepu8_epi16(unsafe { _mm_loadu_si128(p.add(at).cast()) })
}

#[inline]
#[target_feature(enable = "avx2")]
fn store_u32(buf: &mut [u32], at: usize, v: __m256i) {
    let s = &mut buf[at..at + 8];
    // SAFETY: `s` holds the eight values written.
    unsafe { _mm256_storeu_si256(s.as_mut_ptr().cast(), v) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn store_i32(buf: &mut [i32], at: usize, v: __m256i) {
    let s = &mut buf[at..at + 8];
    // SAFETY: `s` holds the eight values written.
    unsafe { _mm256_storeu_si256(s.as_mut_ptr().cast(), v) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn load_i32x4(buf: &[i32], at: usize) -> __m128i {
    let s = &buf[at..at + 4];
    // SAFETY: `s` holds the four values read.
    unsafe { _mm_loadu_si128(s.as_ptr().cast()) }
}

/// A sample type the decimation pass can load eight at a time into 32-bit lanes.
pub(crate) trait Lanes: Pixel {
    /// Samples `p + at .. p + at + 8`, zero-extended, unchecked.
    ///
    /// # Safety
    /// The samples must be readable; the CPU must support AVX2.
    unsafe fn load8(p: *const Self, at: usize) -> __m256i;
}

impl Lanes for u8 {
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load8(p: *const u8, at: usize) -> __m256i {
        // SAFETY: the caller guarantees the eight bytes are in bounds.
        _mm256_cvtepu8_epi32(unsafe { _mm_loadl_epi64(p.add(at).cast()) })
    }
}

impl Lanes for u16 {
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load8(p: *const u16, at: usize) -> __m256i {
        // SAFETY: the caller guarantees the eight samples are in bounds.
        _mm256_cvtepu16_epi32(unsafe { _mm_loadu_si128(p.add(at).cast()) })
    }
}

/// `((sum + round) >> shift) mod 2^32` of a 48-bit filtered sum given as `full` (the sum
/// modulo 2^32) and `high` (the filtered high 16-bit halves, exact), for `shift` in 1..=16.
///
/// The sum is `low + high * 2^16`, where `low` (the filtered low halves) is below 2^32 and so
/// equals `full - (high << 16)` modulo 2^32; the shift then splits cleanly.
#[inline]
#[target_feature(enable = "avx2")]
fn split_round(
    full: __m256i,
    high: __m256i,
    round: __m256i,
    shift: __m128i,
    up: __m128i,
) -> __m256i {
    let low = _mm256_sub_epi32(full, _mm256_slli_epi32::<16>(high));
    _mm256_add_epi32(
        _mm256_sll_epi32(high, up),
        _mm256_srl_epi32(_mm256_add_epi32(low, round), shift),
    )
}

/// `(a * b + 2^31) >> 32` per unsigned 32-bit lane, the rounded Q32 product.
#[inline]
#[target_feature(enable = "avx2")]
fn mul_q32(a: __m256i, b: __m256i) -> __m256i {
    let half = _mm256_set1_epi64x(1 << 31);
    let even = _mm256_add_epi64(_mm256_mul_epu32(a, b), half);
    let odd = _mm256_add_epi64(
        _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), _mm256_srli_epi64::<32>(b)),
        half,
    );
    _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd)
}

/// Twin of [`kernels::vertical_moments_8`]. Pairs of mirrored rows are interleaved so one
/// multiply-add forms `a + b`, `a² + b²` or `a·c + b·d` of both rows at once.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn vertical_moments_8(
    taps: &[u16],
    ref_rows: &[&[u8]],
    dis_rows: &[&[u8]],
    out: MomentRows<'_>,
) {
    let width = out.mu1.len();
    let (fw, half) = (taps.len(), taps.len() / 2);
    // The multiply-add reads taps as signed 16-bit values.
    if taps.iter().any(|&t| t > i16::MAX as u16) {
        kernels::vertical_moments_8(taps, ref_rows, dis_rows, out);
        return;
    }
    assert!(ref_rows.len() >= fw && dis_rows.len() >= fw);
    for row in ref_rows[..fw].iter().chain(&dis_rows[..fw]) {
        assert!(row.len() >= width, "vif: short input row");
    }
    for o in [&*out.mu2, &*out.xx, &*out.yy, &*out.xy] {
        assert!(o.len() >= width, "vif: short moment row");
    }
    let main = width - width % 16;
    let zero = _mm256_setzero_si256();
    let mut c = 0;
    while c < main {
        let mut acc = [zero; 10];
        for k in 0..=half {
            let f = taps[k] as i32;
            let fpair = _mm256_set1_epi32(f | (f << 16));
            let f32v = _mm256_set1_epi32(f);
            // SAFETY: `c + 16 <= width` and every row was checked to hold `width` samples.
            let (ra, da, rb, db) = unsafe {
                let ra = load_u8x16_at(ref_rows[k].as_ptr(), c);
                let da = load_u8x16_at(dis_rows[k].as_ptr(), c);
                if k == half {
                    (ra, da, zero, zero)
                } else {
                    (
                        ra,
                        da,
                        load_u8x16_at(ref_rows[fw - 1 - k].as_ptr(), c),
                        load_u8x16_at(dis_rows[fw - 1 - k].as_ptr(), c),
                    )
                }
            };
            let r = [_mm256_unpacklo_epi16(ra, rb), _mm256_unpackhi_epi16(ra, rb)];
            let d = [_mm256_unpacklo_epi16(da, db), _mm256_unpackhi_epi16(da, db)];
            for h in 0..2 {
                let (r, d) = (r[h], d[h]);
                acc[h] = _mm256_add_epi32(acc[h], _mm256_madd_epi16(r, fpair));
                acc[2 + h] = _mm256_add_epi32(acc[2 + h], _mm256_madd_epi16(d, fpair));
                let xx = _mm256_mullo_epi32(_mm256_madd_epi16(r, r), f32v);
                let yy = _mm256_mullo_epi32(_mm256_madd_epi16(d, d), f32v);
                let xy = _mm256_mullo_epi32(_mm256_madd_epi16(r, d), f32v);
                acc[4 + h] = _mm256_add_epi32(acc[4 + h], xx);
                acc[6 + h] = _mm256_add_epi32(acc[6 + h], yy);
                acc[8 + h] = _mm256_add_epi32(acc[8 + h], xy);
            }
        }
        // The interleave split each 128-bit lane; reassemble columns in order.
        let ordered = |lo: __m256i, hi: __m256i| {
            (
                _mm256_permute2x128_si256::<0x20>(lo, hi),
                _mm256_permute2x128_si256::<0x31>(lo, hi),
            )
        };
        let round = _mm256_set1_epi32(128);
        let outs: [&mut [u32]; 5] = [
            &mut *out.mu1,
            &mut *out.mu2,
            &mut *out.xx,
            &mut *out.yy,
            &mut *out.xy,
        ];
        for (m, o) in outs.into_iter().enumerate() {
            let (mut a, mut b) = ordered(acc[2 * m], acc[2 * m + 1]);
            if m < 2 {
                a = _mm256_srli_epi32::<8>(_mm256_add_epi32(a, round));
                b = _mm256_srli_epi32::<8>(_mm256_add_epi32(b, round));
            }
            store_u32(o, c, a);
            store_u32(o, c + 8, b);
        }
        c += 16;
    }
    if main < width {
        let mut rr: [&[u8]; 2 * MAX_HALF + 1] = [&[]; 2 * MAX_HALF + 1];
        let mut dr: [&[u8]; 2 * MAX_HALF + 1] = [&[]; 2 * MAX_HALF + 1];
        for k in 0..fw {
            rr[k] = &ref_rows[k][main..];
            dr[k] = &dis_rows[k][main..];
        }
        kernels::vertical_moments_8(
            taps,
            &rr[..fw],
            &dr[..fw],
            MomentRows {
                mu1: &mut out.mu1[main..],
                mu2: &mut out.mu2[main..],
                xx: &mut out.xx[main..],
                yy: &mut out.yy[main..],
                xy: &mut out.xy[main..],
            },
        );
    }
}

/// Twin of [`kernels::vertical_moments_16`].
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn vertical_moments_16(
    taps: &[u16],
    ref_rows: &[&[u16]],
    dis_rows: &[&[u16]],
    shifts: VerticalShifts,
    mut out: MomentRows<'_>,
) {
    let width = out.mu1.len();
    let (fw, half) = (taps.len(), taps.len() / 2);
    assert!(ref_rows.len() >= fw && dis_rows.len() >= fw);
    for row in ref_rows[..fw].iter().chain(&dis_rows[..fw]) {
        assert!(row.len() >= width, "vif: short input row");
    }
    for o in [&*out.mu2, &*out.xx, &*out.yy, &*out.xy] {
        assert!(o.len() >= width, "vif: short moment row");
    }
    // Samples of up to 15 bits (10- and 12-bit video) take the multiply-add path unless a row
    // turns out to hold a wider sample.
    let narrow = shifts.mu_shift <= 15 && taps.iter().all(|&t| t <= i16::MAX as u16);
    // SAFETY: AVX2 is enabled here; the rows and outputs were checked above.
    if narrow && unsafe { vertical_moments_15(taps, ref_rows, dis_rows, shifts, &mut out) } {
        return;
    }
    let main = width - width % 8;
    let zero = _mm256_setzero_si256();
    let mu_round = _mm256_set1_epi32(shifts.mu_round as i32);
    let mu_shift = _mm_cvtsi32_si128(shifts.mu_shift as i32);
    let sq_round = _mm256_set1_epi32(shifts.sq_round as i32);
    let sq_shift = _mm_cvtsi32_si128(shifts.sq_shift as i32);
    let sq_up = _mm_cvtsi32_si128(16 - shifts.sq_shift as i32);
    let mask16 = _mm256_set1_epi32(0xffff);
    let mut c = 0;
    while c < main {
        // mu1, mu2, then (full, high) of xx, yy, xy.
        let mut acc = [zero; 8];
        for k in 0..=half {
            let f = _mm256_set1_epi32(taps[k] as i32);
            // SAFETY: `c + 8 <= width` and every row was checked to hold `width` samples.
            let (a, c2, b, d) = unsafe {
                let a = u16::load8(ref_rows[k].as_ptr(), c);
                let c2 = u16::load8(dis_rows[k].as_ptr(), c);
                if k == half {
                    (a, c2, zero, zero)
                } else {
                    (
                        a,
                        c2,
                        u16::load8(ref_rows[fw - 1 - k].as_ptr(), c),
                        u16::load8(dis_rows[fw - 1 - k].as_ptr(), c),
                    )
                }
            };
            acc[0] = _mm256_add_epi32(acc[0], _mm256_mullo_epi32(_mm256_add_epi32(a, b), f));
            acc[1] = _mm256_add_epi32(acc[1], _mm256_mullo_epi32(_mm256_add_epi32(c2, d), f));
            // Products are formed one moment at a time to keep register pressure down.
            for (m, (x, y, u, v)) in [(a, a, b, b), (c2, c2, d, d), (a, c2, b, d)]
                .into_iter()
                .enumerate()
            {
                let (p, q) = (_mm256_mullo_epi32(x, y), _mm256_mullo_epi32(u, v));
                let full = _mm256_mullo_epi32(_mm256_add_epi32(p, q), f);
                let high = _mm256_mullo_epi32(
                    _mm256_add_epi32(_mm256_srli_epi32::<16>(p), _mm256_srli_epi32::<16>(q)),
                    f,
                );
                acc[2 + 2 * m] = _mm256_add_epi32(acc[2 + 2 * m], full);
                acc[3 + 2 * m] = _mm256_add_epi32(acc[3 + 2 * m], high);
            }
        }
        let mean = |v: __m256i| {
            _mm256_and_si256(
                _mm256_srl_epi32(_mm256_add_epi32(v, mu_round), mu_shift),
                mask16,
            )
        };
        store_u32(out.mu1, c, mean(acc[0]));
        store_u32(out.mu2, c, mean(acc[1]));
        let sq = |m: usize| split_round(acc[2 + 2 * m], acc[3 + 2 * m], sq_round, sq_shift, sq_up);
        store_u32(out.xx, c, sq(0));
        store_u32(out.yy, c, sq(1));
        store_u32(out.xy, c, sq(2));
        c += 8;
    }
    if main < width {
        let mut rr: [&[u16]; 2 * MAX_HALF + 1] = [&[]; 2 * MAX_HALF + 1];
        let mut dr: [&[u16]; 2 * MAX_HALF + 1] = [&[]; 2 * MAX_HALF + 1];
        for k in 0..fw {
            rr[k] = &ref_rows[k][main..];
            dr[k] = &dis_rows[k][main..];
        }
        kernels::vertical_moments_16(
            taps,
            &rr[..fw],
            &dr[..fw],
            shifts,
            MomentRows {
                mu1: &mut out.mu1[main..],
                mu2: &mut out.mu2[main..],
                xx: &mut out.xx[main..],
                yy: &mut out.yy[main..],
                xy: &mut out.xy[main..],
            },
        );
    }
}

/// The vector part of [`vertical_moments_16`] for samples below 2^15 and taps below 2^15,
/// where signed 16-bit multiply-adds are exact: each 32-bit lane holds a pair of mirrored
/// rows' samples, so one multiply-add gives `a + b`, `a² + b²` or `a·c + b·d`, and the high
/// halves of the products come from one unsigned high multiply. Returns false, with the
/// output unspecified, if any sample read has bit 15 set; the caller then starts over.
///
/// # Safety
/// The CPU must support AVX2; every row must hold `out.mu1.len()` samples and every output
/// row as many values.
#[target_feature(enable = "avx2")]
unsafe fn vertical_moments_15(
    taps: &[u16],
    ref_rows: &[&[u16]],
    dis_rows: &[&[u16]],
    shifts: VerticalShifts,
    out: &mut MomentRows<'_>,
) -> bool {
    let width = out.mu1.len();
    let (fw, half) = (taps.len(), taps.len() / 2);
    let main = width - width % 8;
    let zero = _mm256_setzero_si256();
    let mu_round = _mm256_set1_epi32(shifts.mu_round as i32);
    let mu_shift = _mm_cvtsi32_si128(shifts.mu_shift as i32);
    let sq_round = _mm256_set1_epi32(shifts.sq_round as i32);
    let sq_shift = _mm_cvtsi32_si128(shifts.sq_shift as i32);
    let sq_up = _mm_cvtsi32_si128(16 - shifts.sq_shift as i32);
    let mask16 = _mm256_set1_epi32(0xffff);
    let mut seen = zero;
    let mut c = 0;
    while c < main {
        // mu1, mu2, then (full, high) of xx, yy, xy.
        let mut acc = [zero; 8];
        for (k, &tap) in taps[..=half].iter().enumerate() {
            let f = tap as i32;
            let fpair = _mm256_set1_epi32(f | (f << 16));
            let f32v = _mm256_set1_epi32(f);
            // SAFETY: `c + 8 <= width` and the caller checked every row holds `width` samples.
            let (r, d) = unsafe {
                let a = u16::load8(ref_rows[k].as_ptr(), c);
                let c2 = u16::load8(dis_rows[k].as_ptr(), c);
                if k == half {
                    (a, c2)
                } else {
                    let b = u16::load8(ref_rows[fw - 1 - k].as_ptr(), c);
                    let d = u16::load8(dis_rows[fw - 1 - k].as_ptr(), c);
                    (
                        _mm256_or_si256(a, _mm256_slli_epi32::<16>(b)),
                        _mm256_or_si256(c2, _mm256_slli_epi32::<16>(d)),
                    )
                }
            };
            seen = _mm256_or_si256(seen, _mm256_or_si256(r, d));
            acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(r, fpair));
            acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(d, fpair));
            for (m, (p, q)) in [(r, r), (d, d), (r, d)].into_iter().enumerate() {
                let full = _mm256_mullo_epi32(_mm256_madd_epi16(p, q), f32v);
                let high = _mm256_madd_epi16(_mm256_mulhi_epu16(p, q), fpair);
                acc[2 + 2 * m] = _mm256_add_epi32(acc[2 + 2 * m], full);
                acc[3 + 2 * m] = _mm256_add_epi32(acc[3 + 2 * m], high);
            }
        }
        let mean = |v: __m256i| {
            _mm256_and_si256(
                _mm256_srl_epi32(_mm256_add_epi32(v, mu_round), mu_shift),
                mask16,
            )
        };
        store_u32(out.mu1, c, mean(acc[0]));
        store_u32(out.mu2, c, mean(acc[1]));
        let sq = |m: usize| split_round(acc[2 + 2 * m], acc[3 + 2 * m], sq_round, sq_shift, sq_up);
        store_u32(out.xx, c, sq(0));
        store_u32(out.yy, c, sq(1));
        store_u32(out.xy, c, sq(2));
        c += 8;
    }
    if _mm256_testz_si256(seen, _mm256_set1_epi16(i16::MIN)) == 0 {
        return false;
    }
    if main < width {
        let mut rr: [&[u16]; 2 * MAX_HALF + 1] = [&[]; 2 * MAX_HALF + 1];
        let mut dr: [&[u16]; 2 * MAX_HALF + 1] = [&[]; 2 * MAX_HALF + 1];
        for k in 0..fw {
            rr[k] = &ref_rows[k][main..];
            dr[k] = &dis_rows[k][main..];
        }
        kernels::vertical_moments_16(
            taps,
            &rr[..fw],
            &dr[..fw],
            shifts,
            MomentRows {
                mu1: &mut out.mu1[main..],
                mu2: &mut out.mu2[main..],
                xx: &mut out.xx[main..],
                yy: &mut out.yy[main..],
                xy: &mut out.xy[main..],
            },
        );
    }
    true
}

/// Twin of [`kernels::horizontal_sigmas`].
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn horizontal_sigmas(taps: &[u16], src: PaddedMoments<'_>, out: SigmaRows<'_>) {
    let width = out.sigma1_sq.len();
    let (fw, half) = (taps.len(), taps.len() / 2);
    let main = width - width % 8;
    let zero = _mm256_setzero_si256();
    let round = _mm256_set1_epi32(32768);
    let shift = _mm_cvtsi32_si128(16);
    let up = _mm_cvtsi32_si128(0);
    for s in [src.mu1, src.mu2, src.xx, src.yy, src.xy] {
        assert!(s.len() >= width + fw - 1, "vif: short moment row");
    }
    let mut c = 0;
    while c < main {
        let mut m1 = zero;
        let mut m2 = zero;
        // (full, high) of xx, yy, xy.
        let mut sq = [zero; 6];
        for (k, &tap) in taps[..=half].iter().enumerate() {
            let f = _mm256_set1_epi32(tap as i32);
            let (l, r) = (c + k, c + fw - 1 - k);
            let pair = |s: &[u32]| {
                // SAFETY: `l` and `r` are at most `c + fw - 1` with `c + 8 <= width`, and
                // every source row was checked to hold `width + fw - 1` values.
                unsafe {
                    if k == half {
                        (load_u32_at(s.as_ptr(), l), zero)
                    } else {
                        (load_u32_at(s.as_ptr(), l), load_u32_at(s.as_ptr(), r))
                    }
                }
            };
            let (a, b) = pair(src.mu1);
            m1 = _mm256_add_epi32(m1, _mm256_mullo_epi32(_mm256_add_epi32(a, b), f));
            let (a, b) = pair(src.mu2);
            m2 = _mm256_add_epi32(m2, _mm256_mullo_epi32(_mm256_add_epi32(a, b), f));
            for (m, s) in [src.xx, src.yy, src.xy].into_iter().enumerate() {
                let (a, b) = pair(s);
                let full = _mm256_mullo_epi32(_mm256_add_epi32(a, b), f);
                let high = _mm256_mullo_epi32(
                    _mm256_add_epi32(_mm256_srli_epi32::<16>(a), _mm256_srli_epi32::<16>(b)),
                    f,
                );
                sq[2 * m] = _mm256_add_epi32(sq[2 * m], full);
                sq[2 * m + 1] = _mm256_add_epi32(sq[2 * m + 1], high);
            }
        }
        let xx = split_round(sq[0], sq[1], round, shift, up);
        let yy = split_round(sq[2], sq[3], round, shift, up);
        let xy = split_round(sq[4], sq[5], round, shift, up);
        let s1 = _mm256_sub_epi32(xx, mul_q32(m1, m1));
        let s2 = _mm256_max_epi32(_mm256_sub_epi32(yy, mul_q32(m2, m2)), zero);
        let s12 = _mm256_sub_epi32(xy, mul_q32(m1, m2));
        store_i32(out.sigma1_sq, c, s1);
        store_i32(out.sigma2_sq, c, s2);
        store_i32(out.sigma12, c, s12);
        c += 8;
    }
    if main < width {
        kernels::horizontal_sigmas(
            taps,
            PaddedMoments {
                mu1: &src.mu1[main..],
                mu2: &src.mu2[main..],
                xx: &src.xx[main..],
                yy: &src.yy[main..],
                xy: &src.xy[main..],
            },
            SigmaRows {
                sigma1_sq: &mut out.sigma1_sq[main..],
                sigma2_sq: &mut out.sigma2_sq[main..],
                sigma12: &mut out.sigma12[main..],
            },
        );
    }
}

/// Table index and `2048 * k` per 64-bit lane of `2048 * log2(x)` for integers `x >= 2^15`
/// held exactly in `f64` lanes: the exponent gives the normalising shift `k` and the top 15
/// fraction bits the index, exactly as [`Log2Table::log2_u64`] normalises. Other lanes give
/// garbage; callers mask them.
#[inline]
#[target_feature(enable = "avx2")]
fn log2_parts(x: __m256d) -> (__m256i, __m256i) {
    let bits = _mm256_castpd_si256(x);
    let idx = _mm256_and_si256(_mm256_srli_epi64::<37>(bits), _mm256_set1_epi64x(0x7fff));
    let k = _mm256_sub_epi64(_mm256_srli_epi64::<52>(bits), _mm256_set1_epi64x(1023 + 15));
    (idx, _mm256_slli_epi64::<11>(k))
}

/// Unsigned 32-bit lanes to exact `f64`.
#[inline]
#[target_feature(enable = "avx2")]
fn u32_to_f64(v: __m128i) -> __m256d {
    let biased = _mm256_cvtepi32_pd(_mm_xor_si128(v, _mm_set1_epi32(i32::MIN)));
    _mm256_add_pd(biased, _mm256_set1_pd(2147483648.0))
}

/// Twin of [`kernels::accumulate_info`], four pixels at a time in `f64` lanes. Both branches
/// are evaluated for every pixel and masked; all sums are exact integers, so their order does
/// not matter.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn accumulate_info(
    sigma1_sq: &[i32],
    sigma2_sq: &[i32],
    sigma12: &[i32],
    gain_limit: f64,
    table: &Log2Table,
    sums: &mut InfoSums,
) {
    const EPS: f64 = 65536.0 * 1.0e-10;
    let n = sigma1_sq.len().min(sigma2_sq.len()).min(sigma12.len());
    let main = n - n % 4;
    let nsq = _mm_set1_epi32(SIGMA_NSQ);
    let floor = _mm_set1_epi32(SIGMA_NSQ - 1);
    let zero4 = _mm_setzero_si128();
    let eps = _mm256_set1_pd(EPS);
    let limit = _mm256_set1_pd(gain_limit);
    let log2_nsq = _mm256_set1_epi64x(2048 * 17);
    let one = _mm256_set1_epi64x(1);
    let mut den_log = _mm256_setzero_si256();
    let mut num_log = _mm256_setzero_si256();
    let mut num_non_log = _mm256_setzero_si256();
    let mut den_non_log = _mm256_setzero_si256();
    let padded = table.padded();
    let spare = _mm256_set1_epi64x(32768);
    let mut den_entries = 0i64;
    let mut num_entries = 0i64;
    let mut i = 0;
    while i < main {
        let s1 = load_i32x4(sigma1_sq, i);
        let s2 = load_i32x4(sigma2_sq, i);
        let s12 = load_i32x4(sigma12, i);
        let is_log = _mm_cmpgt_epi32(s1, floor);
        let log_mask = _mm256_cvtepi32_epi64(is_log);
        let gain_mask = _mm256_cvtepi32_epi64(_mm_and_si128(
            is_log,
            _mm_and_si128(_mm_cmpgt_epi32(s12, zero4), _mm_cmpgt_epi32(s2, zero4)),
        ));

        let den_arg = u32_to_f64(_mm_add_epi32(nsq, s1));
        let (den_idx, den_k) = log2_parts(den_arg);
        den_log = _mm256_add_epi64(
            den_log,
            _mm256_and_si256(_mm256_sub_epi64(den_k, log2_nsq), log_mask),
        );

        let (s1d, s2d, s12d) = (
            _mm256_cvtepi32_pd(s1),
            _mm256_cvtepi32_pd(s2),
            _mm256_cvtepi32_pd(s12),
        );
        let g = _mm256_div_pd(s12d, _mm256_add_pd(s1d, eps));
        let sv = _mm256_cvttpd_epi32(_mm256_sub_pd(s2d, _mm256_mul_pd(g, s12d)));
        let sv_sq = _mm_max_epi32(sv, zero4);
        let g = _mm256_min_pd(g, limit);
        let base = _mm_add_epi32(sv_sq, nsq);
        let base_d = u32_to_f64(base);
        let gain = _mm256_round_pd::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(_mm256_mul_pd(
            _mm256_mul_pd(g, g),
            s1d,
        ));
        let total = _mm256_add_pd(gain, base_d);
        let (tot_idx, tot_k) = log2_parts(total);
        let (base_idx, base_k) = log2_parts(base_d);
        num_log = _mm256_add_epi64(
            num_log,
            _mm256_and_si256(_mm256_sub_epi64(tot_k, base_k), gain_mask),
        );

        // Table entries are looked up one by one: on some CPUs a gather costs more than four
        // loads. Masked-off lanes read the spare zero entry.
        let mut idx = [[0u64; 4]; 3];
        for (slot, (v, mask)) in idx.iter_mut().zip([
            (den_idx, log_mask),
            (tot_idx, gain_mask),
            (base_idx, gain_mask),
        ]) {
            let v = _mm256_blendv_epi8(spare, v, mask);
            // SAFETY: `slot` holds the four 64-bit lanes written.
            unsafe { _mm256_storeu_si256(slot.as_mut_ptr().cast(), v) };
        }
        for l in 0..4 {
            den_entries += padded[idx[0][l] as usize] as i64;
            num_entries += padded[idx[1][l] as usize] as i64 - padded[idx[2][l] as usize] as i64;
        }

        num_non_log = _mm256_add_epi64(
            num_non_log,
            _mm256_andnot_si256(log_mask, _mm256_cvtepi32_epi64(s2)),
        );
        den_non_log = _mm256_add_epi64(den_non_log, _mm256_andnot_si256(log_mask, one));
        i += 4;
    }
    let lanes = |v: __m256i| {
        let mut a = [0i64; 4];
        // SAFETY: `a` holds the four 64-bit lanes written.
        unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), v) };
        a.iter().sum::<i64>()
    };
    sums.den_log += lanes(den_log) + den_entries;
    sums.num_log += lanes(num_log) + num_entries;
    sums.num_non_log += lanes(num_non_log);
    sums.den_non_log += lanes(den_non_log);
    if main < n {
        kernels::accumulate_info(
            &sigma1_sq[main..n],
            &sigma2_sq[main..n],
            &sigma12[main..n],
            gain_limit,
            table,
            sums,
        );
    }
}

/// Twin of [`kernels::decimate_row`].
///
/// # Safety
/// The CPU must support AVX2.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn decimate_row<T: Lanes>(
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
    let width = ref_rows.first().map_or(0, |r| r.len());
    let (fw, half) = (taps.len(), taps.len() / 2);
    let main = width - width % 8;
    let zero = _mm256_setzero_si256();
    let roundv = _mm256_set1_epi32(round as i32);
    let shiftv = _mm_cvtsi32_si128(shift as i32);
    let mask16 = _mm256_set1_epi32(0xffff);
    assert!(ref_rows.len() >= fw && dis_rows.len() >= fw);
    for row in ref_rows[..fw].iter().chain(&dis_rows[..fw]) {
        assert!(row.len() >= width, "vif: short input row");
    }
    for (rows, conv) in [(ref_rows, &mut *conv_ref), (dis_rows, &mut *conv_dis)] {
        let mut c = 0;
        while c < main {
            let mut acc = zero;
            for k in 0..=half {
                let f = _mm256_set1_epi32(taps[k] as i32);
                // SAFETY: `c + 8 <= width` and every row was checked to hold `width` samples.
                let (a, b) = unsafe {
                    let a = T::load8(rows[k].as_ptr(), c);
                    if k == half {
                        (a, zero)
                    } else {
                        (a, T::load8(rows[fw - 1 - k].as_ptr(), c))
                    }
                };
                acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_add_epi32(a, b), f));
            }
            let v = _mm256_and_si256(
                _mm256_srl_epi32(_mm256_add_epi32(acc, roundv), shiftv),
                mask16,
            );
            store_u32(conv, PAD + c, v);
            c += 8;
        }
        for c in main..width {
            let mut acc = taps[half] as u32 * rows[half][c].widen();
            for k in 0..half {
                acc += taps[k] as u32 * (rows[k][c].widen() + rows[fw - 1 - k][c].widen());
            }
            conv[PAD + c] = ((acc + round) >> shift) as u16 as u32;
        }
        kernels::mirror_columns(conv, width, half);
    }

    let round16 = _mm256_set1_epi32(32768);
    for (conv, out) in [(&*conv_ref, out_ref), (&*conv_dis, out_dis)] {
        // Output column j is centred on input column 2j, i.e. buffer index PAD + 2j.
        let base = &conv[PAD - half..];
        let n = out.len();
        let mut j = 0;
        // Sixteen values are loaded per tap; the odd ones are dropped.
        while j + 8 <= n && 2 * j + fw + 15 <= base.len() {
            let mut acc = zero;
            for (k, &tap) in taps[..=half].iter().enumerate() {
                let f = _mm256_set1_epi32(tap as i32);
                let even = |at: usize| {
                    // SAFETY: `at + 16 <= 2j + fw + 15 <= base.len()` by the loop condition.
                    let (lo, hi) = unsafe {
                        (
                            load_u32_at(base.as_ptr(), at),
                            load_u32_at(base.as_ptr(), at + 8),
                        )
                    };
                    _mm256_castps_si256(_mm256_shuffle_ps::<0b10_00_10_00>(
                        _mm256_castsi256_ps(lo),
                        _mm256_castsi256_ps(hi),
                    ))
                };
                let a = even(2 * j + k);
                let b = if k == half {
                    zero
                } else {
                    even(2 * j + fw - 1 - k)
                };
                acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_add_epi32(a, b), f));
            }
            // The shuffle left outputs in the order 0 1 4 5 2 3 6 7.
            let v = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_srli_epi32::<16>(
                _mm256_add_epi32(acc, round16),
            ));
            let packed =
                _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
            let s = &mut out[j..j + 8];
            // SAFETY: `s` holds the eight samples written.
            unsafe { _mm_storeu_si128(s.as_mut_ptr().cast(), packed) };
            j += 8;
        }
        for (jj, o) in out.iter_mut().enumerate().skip(j) {
            let window = &base[2 * jj..2 * jj + fw];
            let acc: u32 = window.iter().zip(taps).map(|(&v, &f)| v * f as u32).sum();
            *o = ((acc + 32768) >> 16) as u16;
        }
    }
}
