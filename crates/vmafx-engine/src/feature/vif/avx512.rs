//! AVX-512 twins of the row kernels in [`super::kernels`], bit-identical to them.
//!
//! They follow the AVX2 twins (see [`super::avx2`]) at sixteen 32-bit lanes: every filter sum
//! is formed modulo 2^32, which equals the exact sum because the scalar kernels keep each sum
//! below 2^32, and second moments are recovered from the wrapped full sum and the filtered
//! high halves. The horizontal pass instead splits its inputs into biased 16-bit values and
//! applies two taps per multiply-add (see [`horizontal_sigmas`]). Columns that do not fill a
//! whole vector go to the AVX2 twins (the decimation's to scalar code). The information sums
//! compute the log2 table indices of all sixteen pixels in vector lanes and fetch the entries
//! with masked gathers.

use std::arch::x86_64::*;

use super::avx2;
use super::kernels::{InfoSums, MomentRows, PaddedMoments, SigmaRows, VerticalShifts, PAD};
use super::tables::{Log2Table, MAX_HALF, SIGMA_NSQ};
use crate::picture::Pixel;

/// Sixteen values at `p + at`, unchecked.
///
/// # Safety
/// `p + at .. p + at + 16` must be readable; the CPU must support AVX-512F.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn load_u32_at(p: *const u32, at: usize) -> __m512i {
    // SAFETY: the caller guarantees the sixteen values are in bounds.
    unsafe { _mm512_loadu_si512(p.add(at).cast()) }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn load_i32(buf: &[i32], at: usize) -> __m512i {
    let s = &buf[at..at + 16];
    // SAFETY: `s` holds the sixteen values read.
    unsafe { _mm512_loadu_si512(s.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn store_u32(buf: &mut [u32], at: usize, v: __m512i) {
    let s = &mut buf[at..at + 16];
    // SAFETY: `s` holds the sixteen values written.
    unsafe { _mm512_storeu_si512(s.as_mut_ptr().cast(), v) }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn store_i32(buf: &mut [i32], at: usize, v: __m512i) {
    let s = &mut buf[at..at + 16];
    // SAFETY: `s` holds the sixteen values written.
    unsafe { _mm512_storeu_si512(s.as_mut_ptr().cast(), v) }
}

/// A constant vector of sixteen 32-bit lanes, lane 0 first.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn lanes32(v: [i32; 16]) -> __m512i {
    // SAFETY: the array holds the sixteen values read.
    unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
}

/// A constant vector of eight 64-bit lanes, lane 0 first.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn lanes64(v: [i64; 8]) -> __m512i {
    // SAFETY: the array holds the eight values read.
    unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
}

/// A sample type the decimation pass can load sixteen at a time into 32-bit lanes.
pub(crate) trait Lanes: Pixel {
    /// Samples `p + at .. p + at + 16`, zero-extended, unchecked.
    ///
    /// # Safety
    /// The samples must be readable; the CPU must support AVX-512F.
    unsafe fn load16(p: *const Self, at: usize) -> __m512i;
}

impl Lanes for u8 {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
    unsafe fn load16(p: *const u8, at: usize) -> __m512i {
        // SAFETY: the caller guarantees the sixteen bytes are in bounds.
        _mm512_cvtepu8_epi32(unsafe { _mm_loadu_si128(p.add(at).cast()) })
    }
}

impl Lanes for u16 {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
    unsafe fn load16(p: *const u16, at: usize) -> __m512i {
        // SAFETY: the caller guarantees the sixteen samples are in bounds.
        _mm512_cvtepu16_epi32(unsafe { _mm256_loadu_si256(p.add(at).cast()) })
    }
}

/// `((sum + round) >> shift) mod 2^32` of a 48-bit filtered sum given as `full` (the sum
/// modulo 2^32) and `high` (the filtered high 16-bit halves, exact), for `shift` in 1..=16;
/// the sixteen-lane form of the AVX2 twin's `split_round`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn split_round(
    full: __m512i,
    high: __m512i,
    round: __m512i,
    shift: __m128i,
    up: __m128i,
) -> __m512i {
    let low = _mm512_sub_epi32(full, _mm512_slli_epi32::<16>(high));
    _mm512_add_epi32(
        _mm512_sll_epi32(high, up),
        _mm512_srl_epi32(_mm512_add_epi32(low, round), shift),
    )
}

/// `(a * b + 2^31) >> 32` per unsigned 32-bit lane, the rounded Q32 product.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn mul_q32(a: __m512i, b: __m512i) -> __m512i {
    let half = _mm512_set1_epi64(1 << 31);
    let even = _mm512_add_epi64(_mm512_mul_epu32(a, b), half);
    let odd = _mm512_add_epi64(
        _mm512_mul_epu32(_mm512_srli_epi64::<32>(a), _mm512_srli_epi64::<32>(b)),
        half,
    );
    _mm512_mask_blend_epi32(0xaaaa, _mm512_srli_epi64::<32>(even), odd)
}

/// Twin of [`super::kernels::vertical_moments_8`], 32 columns at a time. As in the AVX2
/// twin, pairs of mirrored rows are interleaved so one multiply-add forms `a + b`, `a² + b²`
/// or `a·c + b·d`; the interleave works within 128-bit blocks, so the accumulators hold the
/// columns permuted and are put back in order once, at the store.
///
/// # Safety
/// The CPU must support AVX-512F/BW/VL/DQ/CD and AVX2.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
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
        // SAFETY: AVX2 is part of this function's features.
        unsafe { avx2::vertical_moments_8(taps, ref_rows, dis_rows, out) };
        return;
    }
    assert!(ref_rows.len() >= fw && dis_rows.len() >= fw);
    for row in ref_rows[..fw].iter().chain(&dis_rows[..fw]) {
        assert!(row.len() >= width, "vif: short input row");
    }
    for o in [&*out.mu2, &*out.xx, &*out.yy, &*out.xy] {
        assert!(o.len() >= width, "vif: short moment row");
    }
    let main = width - width % 32;
    let zero = _mm512_setzero_si512();
    // 128-bit block `b` of the low interleave holds columns 8b..8b+4, of the high one
    // 8b+4..8b+8: the first sixteen columns are blocks lo0 hi0 lo1 hi1.
    let first = lanes64([0, 1, 8, 9, 2, 3, 10, 11]);
    let second = lanes64([4, 5, 12, 13, 6, 7, 14, 15]);
    let round = _mm512_set1_epi32(128);
    let mut c = 0;
    while c < main {
        let mut acc = [zero; 10];
        for k in 0..=half {
            let f = taps[k] as i32;
            let fpair = _mm512_set1_epi32(f | (f << 16));
            let f32v = _mm512_set1_epi32(f);
            let load = |row: &[u8]| {
                // SAFETY: `c + 32 <= width` and every row was checked to hold `width` samples.
                _mm512_cvtepu8_epi16(unsafe { _mm256_loadu_si256(row.as_ptr().add(c).cast()) })
            };
            let (ra, da) = (load(ref_rows[k]), load(dis_rows[k]));
            let (rb, db) = if k == half {
                (zero, zero)
            } else {
                (load(ref_rows[fw - 1 - k]), load(dis_rows[fw - 1 - k]))
            };
            let r = [_mm512_unpacklo_epi16(ra, rb), _mm512_unpackhi_epi16(ra, rb)];
            let d = [_mm512_unpacklo_epi16(da, db), _mm512_unpackhi_epi16(da, db)];
            for h in 0..2 {
                let (r, d) = (r[h], d[h]);
                acc[h] = _mm512_add_epi32(acc[h], _mm512_madd_epi16(r, fpair));
                acc[2 + h] = _mm512_add_epi32(acc[2 + h], _mm512_madd_epi16(d, fpair));
                let xx = _mm512_mullo_epi32(_mm512_madd_epi16(r, r), f32v);
                let yy = _mm512_mullo_epi32(_mm512_madd_epi16(d, d), f32v);
                let xy = _mm512_mullo_epi32(_mm512_madd_epi16(r, d), f32v);
                acc[4 + h] = _mm512_add_epi32(acc[4 + h], xx);
                acc[6 + h] = _mm512_add_epi32(acc[6 + h], yy);
                acc[8 + h] = _mm512_add_epi32(acc[8 + h], xy);
            }
        }
        let outs: [&mut [u32]; 5] = [
            &mut *out.mu1,
            &mut *out.mu2,
            &mut *out.xx,
            &mut *out.yy,
            &mut *out.xy,
        ];
        for (m, o) in outs.into_iter().enumerate() {
            let (lo, hi) = (acc[2 * m], acc[2 * m + 1]);
            let mut a = _mm512_permutex2var_epi64(lo, first, hi);
            let mut b = _mm512_permutex2var_epi64(lo, second, hi);
            if m < 2 {
                a = _mm512_srli_epi32::<8>(_mm512_add_epi32(a, round));
                b = _mm512_srli_epi32::<8>(_mm512_add_epi32(b, round));
            }
            store_u32(o, c, a);
            store_u32(o, c + 16, b);
        }
        c += 32;
    }
    if main < width {
        let mut rr: [&[u8]; 2 * MAX_HALF + 1] = [&[]; 2 * MAX_HALF + 1];
        let mut dr: [&[u8]; 2 * MAX_HALF + 1] = [&[]; 2 * MAX_HALF + 1];
        for k in 0..fw {
            rr[k] = &ref_rows[k][main..];
            dr[k] = &dis_rows[k][main..];
        }
        let tail = MomentRows {
            mu1: &mut out.mu1[main..],
            mu2: &mut out.mu2[main..],
            xx: &mut out.xx[main..],
            yy: &mut out.yy[main..],
            xy: &mut out.xy[main..],
        };
        // SAFETY: AVX2 is part of this function's features.
        unsafe { avx2::vertical_moments_8(taps, &rr[..fw], &dr[..fw], tail) };
    }
}

/// Rounding constants of the vertical 16-bit pass in vector form.
struct VerticalConsts {
    mu_round: __m512i,
    mu_shift: __m128i,
    sq_round: __m512i,
    sq_shift: __m128i,
    sq_up: __m128i,
    mask16: __m512i,
}

impl VerticalConsts {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
    fn new(shifts: VerticalShifts) -> Self {
        VerticalConsts {
            mu_round: _mm512_set1_epi32(shifts.mu_round as i32),
            mu_shift: _mm_cvtsi32_si128(shifts.mu_shift as i32),
            sq_round: _mm512_set1_epi32(shifts.sq_round as i32),
            sq_shift: _mm_cvtsi32_si128(shifts.sq_shift as i32),
            sq_up: _mm_cvtsi32_si128(16 - shifts.sq_shift as i32),
            mask16: _mm512_set1_epi32(0xffff),
        }
    }

    /// Stores one block of sixteen columns from the accumulators: mu1, mu2, then (full,
    /// high) of xx, yy and xy.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
    fn store(&self, acc: &[__m512i; 8], out: &mut MomentRows<'_>, c: usize) {
        let mean = |v: __m512i| {
            _mm512_and_si512(
                _mm512_srl_epi32(_mm512_add_epi32(v, self.mu_round), self.mu_shift),
                self.mask16,
            )
        };
        store_u32(out.mu1, c, mean(acc[0]));
        store_u32(out.mu2, c, mean(acc[1]));
        let sq = |m: usize| {
            split_round(
                acc[2 + 2 * m],
                acc[3 + 2 * m],
                self.sq_round,
                self.sq_shift,
                self.sq_up,
            )
        };
        store_u32(out.xx, c, sq(0));
        store_u32(out.yy, c, sq(1));
        store_u32(out.xy, c, sq(2));
    }
}

/// Hands columns `main..` of a vertical 16-bit pass to the AVX2 twin.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
unsafe fn vertical_16_tail(
    taps: &[u16],
    ref_rows: &[&[u16]],
    dis_rows: &[&[u16]],
    shifts: VerticalShifts,
    out: &mut MomentRows<'_>,
    main: usize,
) {
    let fw = taps.len();
    if main >= out.mu1.len() {
        return;
    }
    let mut rr: [&[u16]; 2 * MAX_HALF + 1] = [&[]; 2 * MAX_HALF + 1];
    let mut dr: [&[u16]; 2 * MAX_HALF + 1] = [&[]; 2 * MAX_HALF + 1];
    for k in 0..fw {
        rr[k] = &ref_rows[k][main..];
        dr[k] = &dis_rows[k][main..];
    }
    let tail = MomentRows {
        mu1: &mut out.mu1[main..],
        mu2: &mut out.mu2[main..],
        xx: &mut out.xx[main..],
        yy: &mut out.yy[main..],
        xy: &mut out.xy[main..],
    };
    // SAFETY: the caller guarantees AVX2.
    unsafe { avx2::vertical_moments_16(taps, &rr[..fw], &dr[..fw], shifts, tail) };
}

/// Twin of [`super::kernels::vertical_moments_16`], sixteen columns at a time.
///
/// # Safety
/// The CPU must support AVX-512F/BW/VL/DQ/CD and AVX2.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
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
    // SAFETY: the features are enabled here; the rows and outputs were checked above.
    if narrow && unsafe { vertical_moments_15(taps, ref_rows, dis_rows, shifts, &mut out) } {
        return;
    }
    let main = width - width % 16;
    let zero = _mm512_setzero_si512();
    let consts = VerticalConsts::new(shifts);
    let mut c = 0;
    while c < main {
        // mu1, mu2, then (full, high) of xx, yy, xy.
        let mut acc = [zero; 8];
        for k in 0..=half {
            let f = _mm512_set1_epi32(taps[k] as i32);
            // SAFETY: `c + 16 <= width` and every row was checked to hold `width` samples.
            let (a, c2, b, d) = unsafe {
                let a = u16::load16(ref_rows[k].as_ptr(), c);
                let c2 = u16::load16(dis_rows[k].as_ptr(), c);
                if k == half {
                    (a, c2, zero, zero)
                } else {
                    (
                        a,
                        c2,
                        u16::load16(ref_rows[fw - 1 - k].as_ptr(), c),
                        u16::load16(dis_rows[fw - 1 - k].as_ptr(), c),
                    )
                }
            };
            acc[0] = _mm512_add_epi32(acc[0], _mm512_mullo_epi32(_mm512_add_epi32(a, b), f));
            acc[1] = _mm512_add_epi32(acc[1], _mm512_mullo_epi32(_mm512_add_epi32(c2, d), f));
            for (m, (x, y, u, v)) in [(a, a, b, b), (c2, c2, d, d), (a, c2, b, d)]
                .into_iter()
                .enumerate()
            {
                let (p, q) = (_mm512_mullo_epi32(x, y), _mm512_mullo_epi32(u, v));
                let full = _mm512_mullo_epi32(_mm512_add_epi32(p, q), f);
                let high = _mm512_mullo_epi32(
                    _mm512_add_epi32(_mm512_srli_epi32::<16>(p), _mm512_srli_epi32::<16>(q)),
                    f,
                );
                acc[2 + 2 * m] = _mm512_add_epi32(acc[2 + 2 * m], full);
                acc[3 + 2 * m] = _mm512_add_epi32(acc[3 + 2 * m], high);
            }
        }
        consts.store(&acc, &mut out, c);
        c += 16;
    }
    // SAFETY: AVX2 is part of this function's features.
    unsafe { vertical_16_tail(taps, ref_rows, dis_rows, shifts, &mut out, main) };
}

/// The vector part of [`vertical_moments_16`] for samples and taps below 2^15, where signed
/// 16-bit multiply-adds are exact (see the AVX2 twin's `vertical_moments_15`). Returns false,
/// with the output unspecified, if any sample read has bit 15 set; the caller then starts
/// over.
///
/// # Safety
/// The CPU must support AVX-512F/BW/VL/DQ/CD and AVX2; every row must hold `out.mu1.len()`
/// samples and every output row as many values.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn vertical_moments_15(
    taps: &[u16],
    ref_rows: &[&[u16]],
    dis_rows: &[&[u16]],
    shifts: VerticalShifts,
    out: &mut MomentRows<'_>,
) -> bool {
    let width = out.mu1.len();
    let (fw, half) = (taps.len(), taps.len() / 2);
    let main = width - width % 16;
    let zero = _mm512_setzero_si512();
    let consts = VerticalConsts::new(shifts);
    let mut seen = zero;
    let mut c = 0;
    while c < main {
        // mu1, mu2, then (full, high) of xx, yy, xy.
        let mut acc = [zero; 8];
        for (k, &tap) in taps[..=half].iter().enumerate() {
            let f = tap as i32;
            let fpair = _mm512_set1_epi32(f | (f << 16));
            let f32v = _mm512_set1_epi32(f);
            // SAFETY: `c + 16 <= width` and the caller checked every row holds `width` samples.
            let (r, d) = unsafe {
                let a = u16::load16(ref_rows[k].as_ptr(), c);
                let c2 = u16::load16(dis_rows[k].as_ptr(), c);
                if k == half {
                    (a, c2)
                } else {
                    let b = u16::load16(ref_rows[fw - 1 - k].as_ptr(), c);
                    let d = u16::load16(dis_rows[fw - 1 - k].as_ptr(), c);
                    (
                        _mm512_or_si512(a, _mm512_slli_epi32::<16>(b)),
                        _mm512_or_si512(c2, _mm512_slli_epi32::<16>(d)),
                    )
                }
            };
            seen = _mm512_or_si512(seen, _mm512_or_si512(r, d));
            acc[0] = _mm512_add_epi32(acc[0], _mm512_madd_epi16(r, fpair));
            acc[1] = _mm512_add_epi32(acc[1], _mm512_madd_epi16(d, fpair));
            for (m, (p, q)) in [(r, r), (d, d), (r, d)].into_iter().enumerate() {
                let full = _mm512_mullo_epi32(_mm512_madd_epi16(p, q), f32v);
                let high = _mm512_madd_epi16(_mm512_mulhi_epu16(p, q), fpair);
                acc[2 + 2 * m] = _mm512_add_epi32(acc[2 + 2 * m], full);
                acc[3 + 2 * m] = _mm512_add_epi32(acc[3 + 2 * m], high);
            }
        }
        consts.store(&acc, out, c);
        c += 16;
    }
    if _mm512_test_epi16_mask(seen, _mm512_set1_epi16(i16::MIN)) != 0 {
        return false;
    }
    // The tail goes through the AVX2 twin, which checks its own samples.
    // SAFETY: AVX2 is part of this function's features.
    unsafe { vertical_16_tail(taps, ref_rows, dis_rows, shifts, out, main) };
    true
}

/// Output columns per chunk of [`horizontal_sigmas`]: the packed halves of a chunk's inputs
/// (eight rows of `HCHUNK + 2 * MAX_HALF + 1` 16-bit values) stay in L1.
const HCHUNK: usize = 256;
/// Packed columns per chunk, rounded up to whole vectors.
const HPACK: usize = HCHUNK + 32;

/// Twin of [`super::kernels::horizontal_sigmas`].
///
/// With taps below 2^15 (every scale but the last), the inputs of a chunk of columns are first
/// split into 16-bit values biased by -2^15, so signed 16-bit multiply-adds apply: the means
/// as they are (they have 16 bits), second moments as their low and high halves. Each
/// multiply-add then applies two consecutive taps to two consecutive columns: a vector loaded
/// at an even offset serves the even output columns, one at the next odd offset the odd ones.
/// The bias adds `-2^15` times the sum of the taps, i.e. `-2^31`, to every sum; it is added
/// back modulo 2^32. All sums stay below 2^32 exactly as in the scalar kernel, and the
/// second moments are put together from the exact sums of their halves.
///
/// # Safety
/// The CPU must support AVX-512F/BW/VL/DQ/CD and AVX2.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub(crate) unsafe fn horizontal_sigmas(taps: &[u16], src: PaddedMoments<'_>, out: SigmaRows<'_>) {
    let width = out.sigma1_sq.len();
    let fw = taps.len();
    for s in [src.mu1, src.mu2, src.xx, src.yy, src.xy] {
        assert!(s.len() >= width + fw - 1, "vif: short moment row");
    }
    for o in [&*out.sigma2_sq, &*out.sigma12] {
        assert!(o.len() >= width, "vif: short sigma row");
    }
    if taps.iter().any(|&t| t > i16::MAX as u16) || fw > 2 * MAX_HALF + 1 {
        // SAFETY: the features are enabled here.
        unsafe { horizontal_sigmas_wide(taps, src, out) };
        return;
    }
    // Taps applied in pairs; an odd filter ends with a zero tap.
    let mut fpairs = [_mm512_setzero_si512(); MAX_HALF + 1];
    let npairs = fw.div_ceil(2);
    for (p, slot) in fpairs[..npairs].iter_mut().enumerate() {
        let lo = taps[2 * p] as i32;
        let hi = taps.get(2 * p + 1).map_or(0, |&t| t as i32);
        *slot = _mm512_set1_epi32(lo | (hi << 16));
    }
    let main = width - width % 32;
    let zero = _mm512_setzero_si512();
    let bias = _mm512_set1_epi32(i32::MIN);
    let round = _mm512_set1_epi32(32768);
    let first = lanes64([0, 1, 8, 9, 2, 3, 10, 11]);
    let second = lanes64([4, 5, 12, 13, 6, 7, 14, 15]);
    // mu1, mu2, then the low and high halves of xx, yy and xy.
    let mut packed = [[0u16; HPACK]; 8];
    let mut cs = 0;
    while cs < main {
        let n = HCHUNK.min(main - cs);
        // The last pair's zero tap reads one column past the filter window.
        let cols = n + fw;
        pack_halves(&src, cs, cols, &mut packed);
        let mut b = 0;
        while b < n {
            // Accumulators for the even and the odd output columns of each packed row.
            let mut acc = [[zero; 2]; 8];
            for (p, &fpair) in fpairs[..npairs].iter().enumerate() {
                for (row, acc_row) in packed.iter().zip(acc.iter_mut()) {
                    for (parity, a) in acc_row.iter_mut().enumerate() {
                        let at = b + 2 * p + parity;
                        debug_assert!(at + 32 <= HPACK);
                        // SAFETY: `at + 32 <= n + fw + 1 <= HPACK` 16-bit values: `b + 32 <= n`,
                        // `2 * p + parity <= fw`.
                        let v = unsafe { _mm512_loadu_si512(row.as_ptr().add(at).cast()) };
                        *a = _mm512_add_epi32(*a, _mm512_madd_epi16(v, fpair));
                    }
                }
            }
            let mut sig = [[zero; 2]; 3];
            for parity in 0..2 {
                let sum = |r: usize| _mm512_add_epi32(acc[r][parity], bias);
                let (m1, m2) = (sum(0), sum(1));
                let second_moment = |r: usize| {
                    let (lo, hi) = (sum(r), sum(r + 1));
                    _mm512_add_epi32(hi, _mm512_srli_epi32::<16>(_mm512_add_epi32(lo, round)))
                };
                let (xx, yy, xy) = (second_moment(2), second_moment(4), second_moment(6));
                sig[0][parity] = _mm512_sub_epi32(xx, mul_q32(m1, m1));
                sig[1][parity] = _mm512_max_epi32(_mm512_sub_epi32(yy, mul_q32(m2, m2)), zero);
                sig[2][parity] = _mm512_sub_epi32(xy, mul_q32(m1, m2));
            }
            let c = cs + b;
            let outs: [&mut [i32]; 3] =
                [&mut *out.sigma1_sq, &mut *out.sigma2_sq, &mut *out.sigma12];
            for (o, [even, odd]) in outs.into_iter().zip(sig) {
                // 128-bit block j of the low interleave holds columns 8j..8j+4, of the high
                // one 8j+4..8j+8.
                let (lo, hi) = (
                    _mm512_unpacklo_epi32(even, odd),
                    _mm512_unpackhi_epi32(even, odd),
                );
                store_i32(o, c, _mm512_permutex2var_epi64(lo, first, hi));
                store_i32(o, c + 16, _mm512_permutex2var_epi64(lo, second, hi));
            }
            b += 32;
        }
        cs += n;
    }
    if main < width {
        let tail_src = PaddedMoments {
            mu1: &src.mu1[main..],
            mu2: &src.mu2[main..],
            xx: &src.xx[main..],
            yy: &src.yy[main..],
            xy: &src.xy[main..],
        };
        let tail_out = SigmaRows {
            sigma1_sq: &mut out.sigma1_sq[main..],
            sigma2_sq: &mut out.sigma2_sq[main..width],
            sigma12: &mut out.sigma12[main..width],
        };
        // SAFETY: the features are enabled here.
        unsafe { horizontal_sigmas_wide(taps, tail_src, tail_out) };
    }
}

/// Splits columns `start..start + cols` of the moment rows into biased 16-bit values (see
/// [`horizontal_sigmas`]): means whole, second moments as low and high halves. Columns past
/// the end of the rows, which only zero taps read, are packed as zero.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn pack_halves(src: &PaddedMoments<'_>, start: usize, cols: usize, packed: &mut [[u16; HPACK]; 8]) {
    let len = [src.mu2, src.xx, src.yy, src.xy]
        .iter()
        .fold(src.mu1.len(), |m, s| m.min(s.len()));
    let avail = len.saturating_sub(start).min(cols);
    let flip = _mm256_set1_epi16(i16::MIN);
    let vector_end = avail - avail % 16;
    let mut j = 0;
    let store = |row: &mut [u16; HPACK], at: usize, v: __m256i| {
        let s = &mut row[at..at + 16];
        // SAFETY: `s` holds the sixteen values written.
        unsafe { _mm256_storeu_si256(s.as_mut_ptr().cast(), v) };
    };
    while j < vector_end {
        let load = |s: &[u32]| {
            let s = &s[start + j..start + j + 16];
            // SAFETY: `s` holds the sixteen values read.
            unsafe { _mm512_loadu_si512(s.as_ptr().cast()) }
        };
        let low = |v: __m512i| _mm256_xor_si256(_mm512_cvtepi32_epi16(v), flip);
        let high = |v: __m512i| low(_mm512_srli_epi32::<16>(v));
        store(&mut packed[0], j, low(load(src.mu1)));
        store(&mut packed[1], j, low(load(src.mu2)));
        for (r, s) in [src.xx, src.yy, src.xy].into_iter().enumerate() {
            let v = load(s);
            store(&mut packed[2 + 2 * r], j, low(v));
            store(&mut packed[3 + 2 * r], j, high(v));
        }
        j += 16;
    }
    let bias = |v: u32| (v as u16) ^ 0x8000;
    for j in j..cols {
        if j < avail {
            let at = start + j;
            packed[0][j] = bias(src.mu1[at]);
            packed[1][j] = bias(src.mu2[at]);
            for (r, s) in [src.xx, src.yy, src.xy].into_iter().enumerate() {
                packed[2 + 2 * r][j] = bias(s[at]);
                packed[3 + 2 * r][j] = bias(s[at] >> 16);
            }
        } else {
            // Zero taps read these; any value would do.
            for row in packed.iter_mut() {
                row[j] = 0;
            }
        }
    }
}

/// The horizontal pass in 32-bit lanes, sixteen columns at a time: for any taps, and for the
/// columns after the last whole chunk of [`horizontal_sigmas`].
///
/// # Safety
/// The CPU must support AVX-512F/BW/VL/DQ/CD and AVX2.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn horizontal_sigmas_wide(taps: &[u16], src: PaddedMoments<'_>, out: SigmaRows<'_>) {
    let width = out.sigma1_sq.len();
    let (fw, half) = (taps.len(), taps.len() / 2);
    let main = width - width % 16;
    let zero = _mm512_setzero_si512();
    let round = _mm512_set1_epi32(32768);
    let shift = _mm_cvtsi32_si128(16);
    let up = _mm_cvtsi32_si128(0);
    for s in [src.mu1, src.mu2, src.xx, src.yy, src.xy] {
        assert!(s.len() >= width + fw - 1, "vif: short moment row");
    }
    for o in [&*out.sigma2_sq, &*out.sigma12] {
        assert!(o.len() >= width, "vif: short sigma row");
    }
    let mut c = 0;
    while c < main {
        let mut m1 = zero;
        let mut m2 = zero;
        // (full, high) of xx, yy, xy.
        let mut sq = [zero; 6];
        for (k, &tap) in taps[..=half].iter().enumerate() {
            let f = _mm512_set1_epi32(tap as i32);
            let (l, r) = (c + k, c + fw - 1 - k);
            let pair = |s: &[u32]| {
                // SAFETY: `l` and `r` are at most `c + fw - 1` with `c + 16 <= width`, and
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
            m1 = _mm512_add_epi32(m1, _mm512_mullo_epi32(_mm512_add_epi32(a, b), f));
            let (a, b) = pair(src.mu2);
            m2 = _mm512_add_epi32(m2, _mm512_mullo_epi32(_mm512_add_epi32(a, b), f));
            for (m, s) in [src.xx, src.yy, src.xy].into_iter().enumerate() {
                let (a, b) = pair(s);
                let full = _mm512_mullo_epi32(_mm512_add_epi32(a, b), f);
                let high = _mm512_mullo_epi32(
                    _mm512_add_epi32(_mm512_srli_epi32::<16>(a), _mm512_srli_epi32::<16>(b)),
                    f,
                );
                sq[2 * m] = _mm512_add_epi32(sq[2 * m], full);
                sq[2 * m + 1] = _mm512_add_epi32(sq[2 * m + 1], high);
            }
        }
        let xx = split_round(sq[0], sq[1], round, shift, up);
        let yy = split_round(sq[2], sq[3], round, shift, up);
        let xy = split_round(sq[4], sq[5], round, shift, up);
        let s1 = _mm512_sub_epi32(xx, mul_q32(m1, m1));
        let s2 = _mm512_max_epi32(_mm512_sub_epi32(yy, mul_q32(m2, m2)), zero);
        let s12 = _mm512_sub_epi32(xy, mul_q32(m1, m2));
        store_i32(out.sigma1_sq, c, s1);
        store_i32(out.sigma2_sq, c, s2);
        store_i32(out.sigma12, c, s12);
        c += 16;
    }
    if main < width {
        let tail_src = PaddedMoments {
            mu1: &src.mu1[main..],
            mu2: &src.mu2[main..],
            xx: &src.xx[main..],
            yy: &src.yy[main..],
            xy: &src.xy[main..],
        };
        let tail_out = SigmaRows {
            sigma1_sq: &mut out.sigma1_sq[main..],
            sigma2_sq: &mut out.sigma2_sq[main..width],
            sigma12: &mut out.sigma12[main..width],
        };
        // SAFETY: AVX2 is part of this function's features.
        unsafe { avx2::horizontal_sigmas(taps, tail_src, tail_out) };
    }
}

/// Table entries at sixteen indices below 2^15; lanes outside `mask` read nothing and give
/// zero.
///
/// # Safety
/// The CPU must support AVX-512F; every index in `mask` must be below 32768.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn lookup(table: &[u16; 32769], idx: __m512i, mask: __mmask16) -> __m512i {
    // Each lane reads 32 bits at entry `idx`, i.e. entries `idx` and `idx + 1 <= 32768`, all
    // inside the padded table; the low half is the entry.
    // SAFETY: the caller guarantees the indices, hence the reads, are in bounds.
    let raw = unsafe {
        _mm512_mask_i32gather_epi32::<2>(_mm512_setzero_si512(), mask, idx, table.as_ptr().cast())
    };
    _mm512_and_si512(raw, _mm512_set1_epi32(0xffff))
}

/// Table index and normalising shift `k` per 32-bit lane of `2048 * log2(x)` for unsigned
/// `x >= 2^15`, as [`Log2Table::log2_u32`] normalises.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn log2_parts_u32(x: __m512i) -> (__m512i, __m512i) {
    let k = _mm512_sub_epi32(_mm512_set1_epi32(16), _mm512_lzcnt_epi32(x));
    let idx = _mm512_and_si512(_mm512_srlv_epi32(x, k), _mm512_set1_epi32(0x7fff));
    (idx, k)
}

/// Table index and normalising shift `k`, narrowed to 32-bit lanes, of `2048 * log2(x)` for
/// integers `2^15 <= x < 2^53` held exactly in `f64` lanes: the exponent gives `k` and the top
/// 15 fraction bits the index, exactly as [`Log2Table::log2_u64`] normalises.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn log2_parts_f64(x: __m512d) -> (__m256i, __m256i) {
    let bits = _mm512_castpd_si512(x);
    let idx = _mm512_and_si512(_mm512_srli_epi64::<37>(bits), _mm512_set1_epi64(0x7fff));
    let k = _mm512_sub_epi64(_mm512_srli_epi64::<52>(bits), _mm512_set1_epi64(1023 + 15));
    (_mm512_cvtepi64_epi32(idx), _mm512_cvtepi64_epi32(k))
}

/// Two halves of eight 32-bit lanes as one vector of sixteen.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn join(lo: __m256i, hi: __m256i) -> __m512i {
    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
}

/// Sum of the sixteen signed 32-bit lanes, widened.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn sum_i32(v: __m512i) -> i64 {
    let wide = _mm512_add_epi64(
        _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)),
        _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(v)),
    );
    sum_i64(wide)
}

/// Sum of the eight signed 64-bit lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn sum_i64(v: __m512i) -> i64 {
    let mut a = [0i64; 8];
    // SAFETY: `a` holds the eight lanes written.
    unsafe { _mm512_storeu_si512(a.as_mut_ptr().cast(), v) };
    a.iter().sum()
}

/// Pixels per block of [`accumulate_info`] whose terms are summed in 32-bit lanes: each term
/// is below 2^17 in magnitude, so 2^13 of them per lane stay far inside `i32`.
const INFO_BLOCK: usize = 16 << 13;

/// Twin of [`super::kernels::accumulate_info`], sixteen pixels at a time. Table indices are
/// formed in vector lanes (the variance terms in 32-bit integer lanes, the gain term from the
/// exponent and fraction of an exact `f64`) and the entries gathered; the gain and residual
/// variance go through `f64` lanes eight at a time. Both branches are evaluated for every pixel
/// and masked; all sums are exact integers, so their order does not matter.
///
/// # Safety
/// The CPU must support AVX-512F/BW/VL/DQ/CD and AVX2.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
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
    let main = n - n % 16;
    let nsq = _mm512_set1_epi32(SIGMA_NSQ);
    let floor = _mm512_set1_epi32(SIGMA_NSQ - 1);
    let zero = _mm512_setzero_si512();
    let eps = _mm512_set1_pd(EPS);
    let limit = _mm512_set1_pd(gain_limit);
    let log2_nsq = _mm512_set1_epi32(2048 * 17);
    let padded = table.padded();
    let mut num_non_log = zero;
    let mut den_non_log = 0i64;
    let mut block = 0;
    while block < main {
        let end = main.min(block + INFO_BLOCK);
        let mut den_log = zero;
        let mut num_log = zero;
        let mut i = block;
        while i < end {
            let s1 = load_i32(sigma1_sq, i);
            let s2 = load_i32(sigma2_sq, i);
            let s12 = load_i32(sigma12, i);
            let log_mask = _mm512_cmpgt_epi32_mask(s1, floor);
            let gain_mask =
                log_mask & _mm512_cmpgt_epi32_mask(s12, zero) & _mm512_cmpgt_epi32_mask(s2, zero);

            // Runs of flat pixels (no log term) skip the table look-ups and the gain.
            if log_mask != 0 {
                // log2(nsq + s1) - log2(nsq), in 32-bit lanes: the argument is below 2^32.
                let (den_idx, den_k) = log2_parts_u32(_mm512_add_epi32(nsq, s1));
                // SAFETY: indices are masked to 15 bits.
                let den_entry = unsafe { lookup(padded, den_idx, log_mask) };
                let den_term = _mm512_sub_epi32(
                    _mm512_add_epi32(den_entry, _mm512_slli_epi32::<11>(den_k)),
                    log2_nsq,
                );
                den_log = _mm512_mask_add_epi32(den_log, log_mask, den_log, den_term);
            }
            if gain_mask != 0 {
                // The gain in f64, eight lanes at a time as the scalar kernel computes it.
                let mut sv_halves = [_mm256_setzero_si256(); 2];
                let mut gains = [_mm512_setzero_pd(); 2];
                for (h, (sv_out, gain_out)) in
                    sv_halves.iter_mut().zip(gains.iter_mut()).enumerate()
                {
                    let half_of = |v: __m512i| {
                        if h == 0 {
                            _mm512_castsi512_si256(v)
                        } else {
                            _mm512_extracti64x4_epi64::<1>(v)
                        }
                    };
                    let s1d = _mm512_cvtepi32_pd(half_of(s1));
                    let s2d = _mm512_cvtepi32_pd(half_of(s2));
                    let s12d = _mm512_cvtepi32_pd(half_of(s12));
                    let g = _mm512_div_pd(s12d, _mm512_add_pd(s1d, eps));
                    // Truncation saturates to i32::MIN like the scalar `as i32` on the negative
                    // overflow; clamped at zero below.
                    *sv_out = _mm512_cvttpd_epi32(_mm512_sub_pd(s2d, _mm512_mul_pd(g, s12d)));
                    let g = _mm512_min_pd(g, limit);
                    *gain_out = _mm512_roundscale_pd::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(
                        _mm512_mul_pd(_mm512_mul_pd(g, g), s1d),
                    );
                }
                let sv_sq = _mm512_max_epi32(join(sv_halves[0], sv_halves[1]), zero);
                let base = _mm512_add_epi32(sv_sq, nsq);
                let (base_idx, base_k) = log2_parts_u32(base);
                // gain + base is an integer below 2^53, exact in f64.
                let total = |h: usize| {
                    let b = if h == 0 {
                        _mm512_castsi512_si256(base)
                    } else {
                        _mm512_extracti64x4_epi64::<1>(base)
                    };
                    log2_parts_f64(_mm512_add_pd(gains[h], _mm512_cvtepu32_pd(b)))
                };
                let ((lo_idx, lo_k), (hi_idx, hi_k)) = (total(0), total(1));
                let (tot_idx, tot_k) = (join(lo_idx, hi_idx), join(lo_k, hi_k));
                // SAFETY: indices are masked to 15 bits.
                let (tot_entry, base_entry) = unsafe {
                    (
                        lookup(padded, tot_idx, gain_mask),
                        lookup(padded, base_idx, gain_mask),
                    )
                };
                let num_term = _mm512_add_epi32(
                    _mm512_sub_epi32(tot_entry, base_entry),
                    _mm512_slli_epi32::<11>(_mm512_sub_epi32(tot_k, base_k)),
                );
                num_log = _mm512_mask_add_epi32(num_log, gain_mask, num_log, num_term);
            }

            let non_log = !log_mask;
            if non_log != 0 {
                let lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(s2));
                let hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(s2));
                num_non_log = _mm512_mask_add_epi64(num_non_log, non_log as u8, num_non_log, lo);
                num_non_log =
                    _mm512_mask_add_epi64(num_non_log, (non_log >> 8) as u8, num_non_log, hi);
                den_non_log += non_log.count_ones() as i64;
            }
            i += 16;
        }
        sums.den_log += sum_i32(den_log);
        sums.num_log += sum_i32(num_log);
        block = end;
    }
    sums.num_non_log += sum_i64(num_non_log);
    sums.den_non_log += den_non_log;
    if main < n {
        // SAFETY: AVX2 is part of this function's features.
        unsafe {
            avx2::accumulate_info(
                &sigma1_sq[main..n],
                &sigma2_sq[main..n],
                &sigma12[main..n],
                gain_limit,
                table,
                sums,
            )
        };
    }
}

/// Twin of [`super::kernels::decimate_row`], sixteen columns at a time.
///
/// # Safety
/// The CPU must support AVX-512F/BW/VL/DQ/CD and AVX2.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
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
    let main = width - width % 16;
    let zero = _mm512_setzero_si512();
    let roundv = _mm512_set1_epi32(round as i32);
    let shiftv = _mm_cvtsi32_si128(shift as i32);
    let mask16 = _mm512_set1_epi32(0xffff);
    assert!(ref_rows.len() >= fw && dis_rows.len() >= fw);
    for row in ref_rows[..fw].iter().chain(&dis_rows[..fw]) {
        assert!(row.len() >= width, "vif: short input row");
    }
    for (rows, conv) in [(ref_rows, &mut *conv_ref), (dis_rows, &mut *conv_dis)] {
        let mut c = 0;
        while c < main {
            let mut acc = zero;
            for k in 0..=half {
                let f = _mm512_set1_epi32(taps[k] as i32);
                // SAFETY: `c + 16 <= width` and every row was checked to hold `width` samples.
                let (a, b) = unsafe {
                    let a = T::load16(rows[k].as_ptr(), c);
                    if k == half {
                        (a, zero)
                    } else {
                        (a, T::load16(rows[fw - 1 - k].as_ptr(), c))
                    }
                };
                acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(_mm512_add_epi32(a, b), f));
            }
            let v = _mm512_and_si512(
                _mm512_srl_epi32(_mm512_add_epi32(acc, roundv), shiftv),
                mask16,
            );
            store_u32(conv, PAD + c, v);
            c += 16;
        }
        for c in main..width {
            let mut acc = taps[half] as u32 * rows[half][c].widen();
            for k in 0..half {
                acc += taps[k] as u32 * (rows[k][c].widen() + rows[fw - 1 - k][c].widen());
            }
            conv[PAD + c] = ((acc + round) >> shift) as u16 as u32;
        }
        super::kernels::mirror_columns(conv, width, half);
    }

    let round16 = _mm512_set1_epi32(32768);
    let evens = lanes32([0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30]);
    for (conv, out) in [(&*conv_ref, out_ref), (&*conv_dis, out_dis)] {
        // Output column j is centred on input column 2j, i.e. buffer index PAD + 2j.
        let base = &conv[PAD - half..];
        let n = out.len();
        let mut j = 0;
        // Thirty-two values are loaded per tap; the odd ones are dropped.
        while j + 16 <= n && 2 * j + fw + 31 <= base.len() {
            let mut acc = zero;
            for (k, &tap) in taps[..=half].iter().enumerate() {
                let f = _mm512_set1_epi32(tap as i32);
                let even = |at: usize| {
                    // SAFETY: `at + 32 <= 2j + fw + 31 <= base.len()` by the loop condition.
                    let (lo, hi) = unsafe {
                        (
                            load_u32_at(base.as_ptr(), at),
                            load_u32_at(base.as_ptr(), at + 16),
                        )
                    };
                    _mm512_permutex2var_epi32(lo, evens, hi)
                };
                let a = even(2 * j + k);
                let b = if k == half {
                    zero
                } else {
                    even(2 * j + fw - 1 - k)
                };
                acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(_mm512_add_epi32(a, b), f));
            }
            // The sums stay below 2^32, so the shifted values fit 16 bits.
            let v = _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(_mm512_add_epi32(acc, round16)));
            let s = &mut out[j..j + 16];
            // SAFETY: `s` holds the sixteen samples written.
            unsafe { _mm256_storeu_si256(s.as_mut_ptr().cast(), v) };
            j += 16;
        }
        for (jj, o) in out.iter_mut().enumerate().skip(j) {
            let window = &base[2 * jj..2 * jj + fw];
            let acc: u32 = window.iter().zip(taps).map(|(&v, &f)| v * f as u32).sum();
            *o = ((acc + 32768) >> 16) as u16;
        }
    }
}
