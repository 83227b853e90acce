//! AVX-512 twins of the ADM kernels (AVX-512F/BW/VL/DQ/CD). Each function here produces exactly
//! what its scalar twin in the sibling modules produces (the twin tests in `adm::twins` check
//! this on random data). Sixteen 32-bit lanes per step; where a row does not fill a vector, the
//! last step runs masked instead of falling back to scalar code, except where libvmaf's own
//! scalar tail computes differently (those columns stay with the scalar twin).
//!
//! Every function is `unsafe` only because it requires AVX-512; callers check the scorer's
//! `SimdLevel` first.

use std::arch::x86_64::*;

use super::cm::{Cube, Masking};
use super::decouple::{self, cos_1deg_sq, Reciprocals};
use super::{Border, Decoupled};

/// Mask of the first `n` (at most 16) lanes.
#[inline(always)]
fn first_lanes(n: usize) -> __mmask16 {
    if n >= 16 {
        0xFFFF
    } else {
        ((1u32 << n) - 1) as __mmask16
    }
}

/// 64-bit lane masks of the even (input lanes 0, 2, ..) and odd (1, 3, ..) 32-bit lanes among
/// the first `n`.
#[inline(always)]
fn even_odd_lanes(n: usize) -> (__mmask8, __mmask8) {
    let n = n.min(16) as u32;
    (
        ((1u32 << n.div_ceil(2)) - 1) as __mmask8,
        ((1u32 << (n / 2)) - 1) as __mmask8,
    )
}

/// Up to sixteen i16 at `p` widened to i32; lanes past the slice's end read as zero.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn load_i16x16(s: &[i16], p: usize) -> __m512i {
    let avail = s.len().saturating_sub(p);
    if avail >= 16 {
        // SAFETY: p + 16 <= s.len().
        return unsafe { _mm512_cvtepi16_epi32(_mm256_loadu_si256(s.as_ptr().add(p).cast())) };
    }
    if avail == 0 {
        return _mm512_setzero_si512();
    }
    // SAFETY: p < s.len(); the mask keeps every lane read inside the slice.
    unsafe {
        _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(
            first_lanes(avail),
            s.as_ptr().add(p),
        ))
    }
}

/// Up to sixteen i32 at `p`; lanes past the slice's end read as zero.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn load_i32x16(s: &[i32], p: usize) -> __m512i {
    let avail = s.len().saturating_sub(p);
    if avail >= 16 {
        // SAFETY: p + 16 <= s.len().
        return unsafe { _mm512_loadu_si512(s.as_ptr().add(p).cast()) };
    }
    if avail == 0 {
        return _mm512_setzero_si512();
    }
    // SAFETY: p < s.len(); the mask keeps every lane read inside the slice.
    unsafe { _mm512_maskz_loadu_epi32(first_lanes(avail), s.as_ptr().add(p)) }
}

/// Up to eight i32 at `p` sign-extended to i64; lanes past the slice's end read as zero.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn load_i32x8_wide(s: &[i32], p: usize) -> __m512i {
    let avail = s.len().saturating_sub(p).min(8);
    if avail == 8 {
        // SAFETY: p + 8 <= s.len().
        return unsafe { _mm512_cvtepi32_epi64(_mm256_loadu_si256(s.as_ptr().add(p).cast())) };
    }
    if avail == 0 {
        return _mm512_setzero_si512();
    }
    // SAFETY: p < s.len(); the mask keeps every lane read inside the slice.
    unsafe {
        _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(
            first_lanes(avail) as __mmask8,
            s.as_ptr().add(p),
        ))
    }
}

/// Up to eight i64 at `p`; lanes past the slice's end read as zero.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn load_i64x8(s: &[i64], p: usize) -> __m512i {
    let avail = s.len().saturating_sub(p).min(8);
    if avail == 8 {
        // SAFETY: p + 8 <= s.len().
        return unsafe { _mm512_loadu_si512(s.as_ptr().add(p).cast()) };
    }
    if avail == 0 {
        return _mm512_setzero_si512();
    }
    // SAFETY: p < s.len(); the mask keeps every lane read inside the slice.
    unsafe { _mm512_maskz_loadu_epi64(first_lanes(avail) as __mmask8, s.as_ptr().add(p)) }
}

/// Stores the lanes of `mask` at `p`; whole vectors go through plain stores (masked stores
/// are slow on some CPUs).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn store_i16x16(s: &mut [i16], p: usize, mask: __mmask16, v: __m256i) {
    assert!(p + (16 - mask.leading_zeros() as usize) <= s.len());
    // SAFETY: every stored lane lies inside the slice (checked above).
    unsafe {
        if mask == 0xFFFF {
            _mm256_storeu_si256(s.as_mut_ptr().add(p).cast(), v)
        } else {
            _mm256_mask_storeu_epi16(s.as_mut_ptr().add(p), mask, v)
        }
    }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn store_i32x16(s: &mut [i32], p: usize, mask: __mmask16, v: __m512i) {
    assert!(p + (16 - mask.leading_zeros() as usize) <= s.len());
    // SAFETY: every stored lane lies inside the slice (checked above).
    unsafe {
        if mask == 0xFFFF {
            _mm512_storeu_si512(s.as_mut_ptr().add(p).cast(), v)
        } else {
            _mm512_mask_storeu_epi32(s.as_mut_ptr().add(p), mask, v)
        }
    }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn store_i64x8(s: &mut [i64], p: usize, mask: __mmask8, v: __m512i) {
    assert!(p + (8 - mask.leading_zeros() as usize) <= s.len());
    // SAFETY: every stored lane lies inside the slice (checked above).
    unsafe {
        if mask == 0xFF {
            _mm512_storeu_si512(s.as_mut_ptr().add(p).cast(), v)
        } else {
            _mm512_mask_storeu_epi64(s.as_mut_ptr().add(p), mask, v)
        }
    }
}

/// Eight i32 lanes (low or high half of `v`) widened to f64.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn half_pd(v: __m512i, high: bool) -> __m512d {
    if high {
        _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64::<1>(v))
    } else {
        _mm512_cvtepi32_pd(_mm512_castsi512_si256(v))
    }
}

/// Eight i32 lanes (low or high half of `v`) sign-extended to i64.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn half_epi64(v: __m512i, high: bool) -> __m512i {
    if high {
        _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(v))
    } else {
        _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v))
    }
}

/// Joins two vectors of eight i32 into sixteen.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn join_halves(lo: __m256i, hi: __m256i) -> __m512i {
    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
}

/// Combines the low dwords of the 64-bit lanes of `even` with those of `odd`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn interleave_low32(even: __m512i, odd: __m512i) -> __m512i {
    _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64::<32>(odd))
}

/// Sign-extends the low dword of each 64-bit lane.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn sext_low32(v: __m512i) -> __m512i {
    _mm512_srai_epi64::<32>(_mm512_slli_epi64::<32>(v))
}

/// libvmaf's one-degree test on sixteen columns whose first two orientations are i16 values
/// held in i32 lanes.
///
/// The dot product and both squared magnitudes are exact in i32 (`madd` of the packed pairs),
/// except that the largest one, 2^31, wraps to i32::MIN, which no true value reaches; their
/// conversions to f32 round exactly as the scalar i64-to-f32 ones. The scalar test divides each
/// by 4096 in f64: scaling both sides of `d * d >= cos * o * t` by 2^24 changes no rounding,
/// so the divisions are left out.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn angle_mask(o0: __m512i, o1: __m512i, t0: __m512i, t1: __m512i, cos_sq: f64) -> __mmask16 {
    let low16 = _mm512_set1_epi32(0xFFFF);
    let pack = |a: __m512i, b: __m512i| {
        _mm512_or_si512(_mm512_and_si512(a, low16), _mm512_slli_epi32::<16>(b))
    };
    let (po, pt) = (pack(o0, o1), pack(t0, t1));
    let wrapped = _mm512_set1_epi32(i32::MIN);
    let two31 = _mm512_set1_ps(2147483648.0);
    let to_f32 = |v: __m512i| {
        _mm512_mask_mov_ps(
            _mm512_cvtepi32_ps(v),
            _mm512_cmpeq_epi32_mask(v, wrapped),
            two31,
        )
    };
    let dot = to_f32(_mm512_madd_epi16(po, pt));
    let osq = to_f32(_mm512_madd_epi16(po, po));
    let tsq = to_f32(_mm512_madd_epi16(pt, pt));
    let cos = _mm512_set1_pd(cos_sq);
    let half = |v: __m512, high: bool| {
        if high {
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
                _mm512_castps_pd(v),
            )))
        } else {
            _mm512_cvtps_pd(_mm512_castps512_ps256(v))
        }
    };
    let mut mask = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(dot, _mm512_setzero_ps());
    let mut ok = 0u16;
    for high in [false, true] {
        let d = half(dot, high);
        let rhs = _mm512_mul_pd(_mm512_mul_pd(cos, half(osq, high)), half(tsq, high));
        let ge = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(_mm512_mul_pd(d, d), rhs);
        ok |= u16::from(ge) << if high { 8 } else { 0 };
    }
    mask &= ok;
    mask
}

/// libvmaf's one-degree test on sixteen columns of arbitrary 32-bit coefficients: dot product
/// and magnitudes formed in wrapping 64-bit integers, then rounded once to f32.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn angle_mask_wide(o0: __m512i, o1: __m512i, t0: __m512i, t1: __m512i, cos_sq: f64) -> __mmask16 {
    let scale = _mm512_set1_pd(1.0 / 4096.0);
    let cos = _mm512_set1_pd(cos_sq);
    let zero = _mm512_setzero_pd();
    let f = |v: __m512i| _mm512_mul_pd(_mm512_cvtps_pd(_mm512_cvtepi64_ps(v)), scale);
    let sum = |x0: __m512i, y0: __m512i, x1: __m512i, y1: __m512i| {
        _mm512_add_epi64(_mm512_mul_epi32(x0, y0), _mm512_mul_epi32(x1, y1))
    };
    let mut mask = 0u16;
    for high in [false, true] {
        let (a0, a1) = (half_epi64(o0, high), half_epi64(o1, high));
        let (b0, b1) = (half_epi64(t0, high), half_epi64(t1, high));
        let dot = f(sum(a0, b0, a1, b1));
        let osq = f(sum(a0, a0, a1, a1));
        let tsq = f(sum(b0, b0, b1, b1));
        let rhs = _mm512_mul_pd(_mm512_mul_pd(cos, osq), tsq);
        let ok = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(dot, zero)
            & _mm512_cmp_pd_mask::<_CMP_GE_OQ>(_mm512_mul_pd(dot, dot), rhs);
        mask |= u16::from(ok) << if high { 8 } else { 0 };
    }
    mask
}

/// AVX-512 twin of `decouple::scale0`: columns left of `vector_end` in (masked) steps of 16,
/// the rest through `decouple::scale0_span` (libvmaf's truncating scalar tail).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub(super) unsafe fn decouple_scale0(
    reference: [&[i16]; 3],
    distorted: [&[i16]; 3],
    w: usize,
    border: Border,
    vector_end: usize,
    gain: f64,
    recip: &Reciprocals,
    out: &mut Decoupled<i16>,
) {
    let cos_sq = f64::from(cos_1deg_sq());
    let table = recip.table();
    assert!(table.len() == 65537);
    let simd_end = vector_end.max(border.left);
    let len = w * border.bottom;
    for band in reference.iter().chain(&distorted) {
        assert!(band.len() >= len);
    }
    for band in out.r.iter().chain(&out.a) {
        assert!(band.len() >= len);
    }
    let c32768 = _mm512_set1_epi32(32768);
    let c16384 = _mm512_set1_epi32(16384);
    let c16384_64 = _mm512_set1_epi64(16384);
    let zero = _mm512_setzero_si512();
    let gain_v = _mm512_set1_pd(gain);
    for i in border.top..border.bottom {
        let row = i * w;
        let mut col = border.left;
        while col < simd_end {
            let lanes = first_lanes(simd_end - col);
            let p = row + col;
            // SAFETY (loads): the loads stay inside each band; lanes past simd_end are never
            // stored.
            let o = reference.map(|b| unsafe { load_i16x16(&b[..len], p) });
            let t = distorted.map(|b| unsafe { load_i16x16(&b[..len], p) });
            // The gathers go first: the one-degree test below hides their latency.
            // SAFETY: indices o + 32768 lie in 0..65536, inside the 65537-entry table.
            let rcs = o.map(|ob| unsafe {
                _mm512_i32gather_epi32::<4>(_mm512_add_epi32(ob, c32768), table.as_ptr())
            });
            let angle = angle_mask(o[0], o[1], t[0], t[1], cos_sq);
            for b in 0..3 {
                let (ob, tb, rc) = (o[b], t[b], rcs[b]);
                let even = _mm512_add_epi64(_mm512_mul_epi32(rc, tb), c16384_64);
                let odd = _mm512_add_epi64(
                    _mm512_mul_epi32(_mm512_srli_epi64::<32>(rc), _mm512_srli_epi64::<32>(tb)),
                    c16384_64,
                );
                // Bits 15..46 of each product: the whole value after the shift.
                let ratio = _mm512_mask_blend_epi32(
                    0xAAAA,
                    _mm512_srli_epi64::<15>(even),
                    _mm512_slli_epi64::<17>(odd),
                );
                let o_zero = _mm512_cmpeq_epi32_mask(ob, zero);
                let ratio = _mm512_mask_mov_epi32(ratio, o_zero, c32768);
                let ratio = _mm512_min_epi32(_mm512_max_epi32(ratio, zero), c32768);
                let rst = _mm512_srai_epi32::<15>(_mm512_add_epi32(
                    _mm512_mullo_epi32(ratio, ob),
                    c16384,
                ));
                // Gain limit, rounded to nearest as libvmaf's vector code does.
                let scaled =
                    |high: bool| _mm512_cvtpd_epi32(_mm512_mul_pd(half_pd(rst, high), gain_v));
                let g = join_halves(scaled(false), scaled(true));
                let positive = _mm512_cmpgt_epi32_mask(ob, zero);
                let limited = _mm512_mask_blend_epi32(
                    positive,
                    _mm512_max_epi32(g, tb),
                    _mm512_min_epi32(g, tb),
                );
                let apply = angle & _mm512_cmpgt_epi32_mask(ratio, zero) & !o_zero;
                let kept = _mm512_mask_blend_epi32(apply, rst, limited);
                let kept16 = _mm512_cvtepi32_epi16(kept);
                let t16 = _mm512_cvtepi32_epi16(tb);
                // SAFETY: the stored lanes lie below simd_end <= right, inside the row.
                unsafe {
                    store_i16x16(&mut out.r[b], p, lanes, kept16);
                    store_i16x16(&mut out.a[b], p, lanes, _mm256_sub_epi16(t16, kept16));
                }
            }
            col += 16;
        }
        decouple::scale0_span(
            reference,
            distorted,
            row,
            simd_end..border.right,
            vector_end,
            gain,
            recip,
            out,
        );
    }
}

/// AVX-512 twin of `decouple::lower`. Steps holding a reference coefficient of i32::MIN go
/// through `decouple::lower_span`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub(super) unsafe fn decouple_lower(
    reference: [&[i32]; 3],
    distorted: [&[i32]; 3],
    w: usize,
    border: Border,
    gain: f64,
    recip: &Reciprocals,
    out: &mut Decoupled<i32>,
) {
    let cos_sq = f64::from(cos_1deg_sq());
    let table = recip.table();
    assert!(table.len() == 65537);
    let len = w * border.bottom;
    for band in reference.iter().chain(&distorted) {
        assert!(band.len() >= len);
    }
    for band in out.r.iter().chain(&out.a) {
        assert!(band.len() >= len);
    }
    let c17 = _mm512_set1_epi32(17);
    let c32767 = _mm512_set1_epi32(32767);
    let c32768 = _mm512_set1_epi32(32768);
    let one = _mm512_set1_epi32(1);
    let c32768_64 = _mm512_set1_epi64(32768);
    let c16384_64 = _mm512_set1_epi64(16384);
    let one_64 = _mm512_set1_epi64(1);
    let c14_64 = _mm512_set1_epi64(14);
    let c15_64 = _mm512_set1_epi64(15);
    let low32 = _mm512_set1_epi64(0xFFFF_FFFF);
    let int_min = _mm512_set1_epi32(i32::MIN);
    let zero = _mm512_setzero_si512();
    let gain_v = _mm512_set1_pd(gain);
    for i in border.top..border.bottom {
        let row = i * w;
        let mut col = border.left;
        while col < border.right {
            let n = (border.right - col).min(16);
            let lanes = first_lanes(n);
            let p = row + col;
            // SAFETY (loads): the loads stay inside each band. Lanes past right are zeroed
            // (their table index must stay in range) and never stored.
            let o = reference
                .map(|b| _mm512_maskz_mov_epi32(lanes, unsafe { load_i32x16(&b[..len], p) }));
            let t = distorted
                .map(|b| _mm512_maskz_mov_epi32(lanes, unsafe { load_i32x16(&b[..len], p) }));
            // A reference coefficient of i32::MIN makes libvmaf's rounding term wrap; leave
            // such steps to the scalar code.
            let has_min = o
                .iter()
                .fold(0, |m, v| m | _mm512_cmpeq_epi32_mask(*v, int_min));
            if has_min != 0 {
                decouple::lower_span(reference, distorted, row, col..col + n, gain, recip, out);
                col += 16;
                continue;
            }
            // Reduced denominators and their gathers first: the one-degree test below hides
            // the gathers' latency.
            let reduced = o.map(|ob| {
                let mag = _mm512_abs_epi32(ob);
                let big = _mm512_cmpgt_epi32_mask(mag, c32767);
                // Denominators of 2^15 and above keep their top 15 bits, rounded.
                let k = _mm512_maskz_sub_epi32(big, c17, _mm512_lzcnt_epi32(mag));
                let half = _mm512_srli_epi32::<1>(_mm512_sllv_epi32(one, k));
                let msb = _mm512_srlv_epi32(_mm512_add_epi32(mag, half), k);
                // SAFETY: msb <= 32768, so indices lie in 32768..=65536.
                let rc = unsafe {
                    _mm512_i32gather_epi32::<4>(_mm512_add_epi32(msb, c32768), table.as_ptr())
                };
                (k, rc)
            });
            let angle = angle_mask_wide(o[0], o[1], t[0], t[1], cos_sq);
            for b in 0..3 {
                let (ob, tb, (k, rc)) = (o[b], t[b], reduced[b]);
                let negative = _mm512_cmplt_epi32_mask(ob, zero);
                let rc = _mm512_mask_sub_epi32(rc, negative, zero, rc);
                let ratio64 = |r: __m512i, tv: __m512i, kv: __m512i| -> __m512i {
                    let kv = _mm512_and_si512(kv, low32);
                    let prod = _mm512_mul_epi32(r, tv);
                    let round = _mm512_sllv_epi64(one_64, _mm512_add_epi64(kv, c14_64));
                    let q = _mm512_srav_epi64(
                        _mm512_add_epi64(prod, round),
                        _mm512_add_epi64(kv, c15_64),
                    );
                    _mm512_min_epi64(_mm512_max_epi64(q, zero), c32768_64)
                };
                let even = ratio64(rc, tb, k);
                let odd = ratio64(
                    _mm512_srli_epi64::<32>(rc),
                    _mm512_srli_epi64::<32>(tb),
                    _mm512_srli_epi64::<32>(k),
                );
                let ratio = interleave_low32(even, odd);
                let o_zero = _mm512_cmpeq_epi32_mask(ob, zero);
                let ratio = _mm512_mask_mov_epi32(ratio, o_zero, c32768);
                let rst_even = _mm512_srli_epi64::<15>(_mm512_add_epi64(
                    _mm512_mul_epi32(ratio, ob),
                    c16384_64,
                ));
                let rst_odd = _mm512_slli_epi64::<17>(_mm512_add_epi64(
                    _mm512_mul_epi32(_mm512_srli_epi64::<32>(ratio), _mm512_srli_epi64::<32>(ob)),
                    c16384_64,
                ));
                let rst = _mm512_mask_blend_epi32(0xAAAA, rst_even, rst_odd);
                let positive = _mm512_cmpgt_epi32_mask(ob, zero);
                let limit_half = |high: bool| -> __m256i {
                    let x = _mm512_mul_pd(half_pd(rst, high), gain_v);
                    let tf = half_pd(tb, high);
                    let pos = (positive >> if high { 8 } else { 0 }) as __mmask8;
                    let m = _mm512_mask_blend_pd(pos, _mm512_max_pd(x, tf), _mm512_min_pd(x, tf));
                    _mm512_cvttpd_epi32(m)
                };
                let limited = join_halves(limit_half(false), limit_half(true));
                let apply = angle & _mm512_cmpgt_epi32_mask(ratio, zero) & !o_zero;
                let kept = _mm512_mask_blend_epi32(apply, rst, limited);
                // SAFETY: the stored lanes lie below right, inside the row.
                unsafe {
                    store_i32x16(&mut out.r[b], p, lanes, kept);
                    store_i32x16(&mut out.a[b], p, lanes, _mm512_sub_epi32(tb, kept));
                }
            }
            col += 16;
        }
    }
}

/// libvmaf's vector cube of the non-negative i32 lanes `x` (already reduced by the threshold),
/// added to the 64-bit lanes of `even` and `odd` where `lanes` (even, odd) allow.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
#[allow(clippy::too_many_arguments)]
fn cube_accumulate(
    x: __m512i,
    (sq_round, sq_shift): (__m512i, __m128i),
    (cube_round, cube_shift): (__m512i, __m128i),
    (even_lanes, odd_lanes): (__mmask8, __mmask8),
    even: &mut __m512i,
    odd: &mut __m512i,
) {
    let one = |x: __m512i| {
        let sq = _mm512_srl_epi64(_mm512_add_epi64(_mm512_mul_epu32(x, x), sq_round), sq_shift);
        _mm512_srl_epi64(
            _mm512_add_epi64(_mm512_mul_epi32(sq, x), cube_round),
            cube_shift,
        )
    };
    *even = _mm512_mask_add_epi64(*even, even_lanes, *even, one(x));
    *odd = _mm512_mask_add_epi64(*odd, odd_lanes, *odd, one(_mm512_srli_epi64::<32>(x)));
}

/// AVX-512 twin of `avx2::cm_scale0_row`: fills the 32-bit column sums of the faded bands for
/// columns `left - 1 ..= right` and adds the cubes of columns `left..vector_end` (libvmaf's
/// vector arithmetic) to `inner`. Requires `1 <= left`, `right < w` and `1 <= i < h - 1`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub(super) unsafe fn cm_scale0_row(
    m: &Masking<'_, i16>,
    i: usize,
    (left, vector_end, right): (usize, usize, usize),
    weights: [i32; 3],
    cubes: &[Cube; 3],
    colsum: &mut [i32],
    inner: &mut [i64; 3],
) {
    let w = m.w;
    assert!(left >= 1 && right < w && i >= 1 && i + 1 < m.h && vector_end <= right);
    assert!(colsum.len() >= w);
    let bands = m.faded.map(|b| &b[..w * m.h]);
    let (lo, hi) = (left - 1, right + 1);
    let rows = [(i - 1) * w, i * w, (i + 1) * w];
    let mut c = lo;
    while c < hi {
        let mut acc = _mm512_setzero_si512();
        for band in &bands {
            for r in rows {
                // SAFETY: r + c lies inside the band; lanes past it read as zero and are
                // never stored.
                acc = _mm512_add_epi32(acc, unsafe { load_i16x16(&band[..r + hi], r + c) });
            }
        }
        // SAFETY: AVX-512 is enabled; the stored lanes lie below hi <= w <= colsum.len().
        unsafe { store_i32x16(colsum, c, first_lanes(hi - c), acc) };
        c += 16;
    }

    let here = i * w;
    let k8738 = _mm512_set1_epi32(8738);
    let k2048 = _mm512_set1_epi32(2048);
    let zero = _mm512_setzero_si512();
    let wv = weights.map(|v| _mm512_set1_epi32(v));
    let consts = cubes.map(|c| {
        (
            _mm_cvtsi64_si128(i64::from(c.sub_shift)),
            (
                _mm512_set1_epi64(c.sq_round),
                _mm_cvtsi64_si128(i64::from(c.sq_shift)),
            ),
            (
                _mm512_set1_epi64(c.cube_round),
                _mm_cvtsi64_si128(i64::from(c.cube_shift)),
            ),
        )
    });
    let cs = &colsum[..hi];
    let faded = m.faded.map(|b| &b[here..here + right]);
    let weighted = m.weighted.map(|b| &b[here..here + right]);
    let measured = m.measured.map(|b| &b[here..here + right]);
    let mut acc = [(zero, zero); 3];
    let mut j = left;
    while j < vector_end {
        let n = vector_end - j;
        let lanes = first_lanes(n);
        let halves = even_odd_lanes(n);
        // SAFETY (loads below): every load stays inside its slice; lanes past vector_end
        // are masked out of the sums.
        let ring = unsafe {
            let sums = _mm512_add_epi32(
                _mm512_add_epi32(load_i32x16(cs, j - 1), load_i32x16(cs, j)),
                load_i32x16(cs, j + 1),
            );
            let own = _mm512_add_epi32(
                _mm512_add_epi32(load_i16x16(faded[0], j), load_i16x16(faded[1], j)),
                load_i16x16(faded[2], j),
            );
            _mm512_sub_epi32(sums, own)
        };
        let mut thr = ring;
        for band in &weighted {
            // SAFETY: as above.
            let v = unsafe { load_i16x16(band, j) };
            let centre = _mm512_srai_epi32::<12>(_mm512_add_epi32(
                _mm512_mullo_epi32(_mm512_abs_epi32(v), k8738),
                k2048,
            ));
            thr = _mm512_add_epi32(thr, centre);
        }
        for b in 0..3 {
            let (sub_shift, sq, cube) = consts[b];
            // SAFETY: as above.
            let x = _mm512_mullo_epi32(unsafe { load_i16x16(measured[b], j) }, wv[b]);
            let x = _mm512_max_epi32(
                _mm512_sub_epi32(_mm512_abs_epi32(x), _mm512_sll_epi32(thr, sub_shift)),
                zero,
            );
            let x = _mm512_maskz_mov_epi32(lanes, x);
            let (even, odd) = &mut acc[b];
            cube_accumulate(x, sq, cube, halves, even, odd);
        }
        j += 16;
    }
    for (total, (even, odd)) in inner.iter_mut().zip(acc) {
        *total = total.wrapping_add(_mm512_reduce_add_epi64(_mm512_add_epi64(even, odd)));
    }
}

/// AVX-512 twin of the interior part of `cm::ring_row` at scales 1-3: `sums[c]` gets the
/// 64-bit sum of the three faded bands over rows `i - 1 ..= i + 1` for columns
/// `left - 1 ..= right`, and `ring[j]` for `j` in `left..right` the 3x3 sum minus the centre
/// samples. Requires `1 <= left`, `right < w` and `1 <= i < h - 1`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub(super) unsafe fn ring_lower_row(
    faded: [&[i32]; 3],
    (w, h): (usize, usize),
    i: usize,
    (left, right): (usize, usize),
    sums: &mut [i64],
    ring: &mut [i64],
) {
    assert!(left >= 1 && right < w && i >= 1 && i + 1 < h);
    assert!(sums.len() >= w && ring.len() >= w);
    let bands = faded.map(|b| &b[..w * h]);
    let (lo, hi) = (left - 1, right + 1);
    let rows = [(i - 1) * w, i * w, (i + 1) * w];
    let mut c = lo;
    while c < hi {
        let mut acc = _mm512_setzero_si512();
        for band in &bands {
            for r in rows {
                // SAFETY: the loads stay inside the row; lanes past hi are not stored.
                acc = _mm512_add_epi64(acc, unsafe { load_i32x8_wide(&band[..r + hi], r + c) });
            }
        }
        // SAFETY: the stored lanes lie below hi <= w <= sums.len().
        unsafe { store_i64x8(sums, c, first_lanes(hi - c) as __mmask8, acc) };
        c += 8;
    }
    let sums = &sums[..hi];
    let here = bands.map(|b| &b[i * w..i * w + right]);
    let mut j = left;
    while j < right {
        // SAFETY: every load stays inside its slice; lanes past right are not stored.
        unsafe {
            let s = _mm512_add_epi64(
                _mm512_add_epi64(load_i64x8(sums, j - 1), load_i64x8(sums, j)),
                load_i64x8(sums, j + 1),
            );
            let own = _mm512_add_epi64(
                _mm512_add_epi64(load_i32x8_wide(here[0], j), load_i32x8_wide(here[1], j)),
                load_i32x8_wide(here[2], j),
            );
            store_i64x8(
                ring,
                j,
                first_lanes(right - j) as __mmask8,
                _mm512_sub_epi64(s, own),
            );
        }
        j += 8;
    }
}

/// AVX-512 twin of the vector part of the scale 1-3 masked numerator (libvmaf's vector
/// arithmetic, `Cube::vector_wide`, signed weights) over all of `ring`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub(super) unsafe fn cm_lower_span(
    ring: &[i64],
    weighted: [&[i32]; 3],
    measured: [&[i32]; 3],
    weights: [u32; 3],
    cube: &Cube,
    inner: &mut [i64; 3],
) -> usize {
    let n = ring.len();
    let weighted = weighted.map(|b| &b[..n]);
    let measured = measured.map(|b| &b[..n]);
    let zero = _mm512_setzero_si512();
    let one_by_15 = _mm512_set1_epi64(286331153);
    let q32_round = _mm512_set1_epi64(super::csf::Q32_ROUND);
    let half28 = _mm512_set1_epi64(1 << 27);
    let wv = weights.map(|v| _mm512_set1_epi64(i64::from(v as i32)));
    let sq_round = _mm512_set1_epi64(cube.sq_round);
    let sq_shift = _mm_cvtsi64_si128(i64::from(cube.sq_shift));
    let cube_round = _mm512_set1_epi64(cube.cube_round);
    let cube_shift = _mm_cvtsi64_si128(i64::from(cube.cube_shift));
    let mut acc = [zero; 3];
    let mut k = 0;
    while k < n {
        let lanes = first_lanes(n - k) as __mmask8;
        // SAFETY (loads): every load stays inside its slice; other lanes are masked out.
        let mut thr = unsafe { load_i64x8(ring, k) };
        for band in &weighted {
            // SAFETY: as above.
            let v = unsafe { load_i32x8_wide(band, k) };
            let centre = _mm512_srai_epi64::<32>(_mm512_add_epi64(
                _mm512_mul_epi32(_mm512_abs_epi32(v), one_by_15),
                q32_round,
            ));
            thr = _mm512_add_epi64(thr, centre);
        }
        for b in 0..3 {
            // SAFETY: as above.
            let m = unsafe { load_i32x8_wide(measured[b], k) };
            let x = _mm512_srai_epi64::<28>(_mm512_add_epi64(_mm512_mul_epi32(m, wv[b]), half28));
            // Negation from the low 32 bits, as libvmaf's vector code does.
            let neg = _mm512_cmplt_epi64_mask(x, zero);
            let x = _mm512_mask_sub_epi64(x, neg, zero, sext_low32(x));
            let x = _mm512_max_epi64(_mm512_sub_epi64(x, thr), zero);
            let lx = sext_low32(x);
            let sq = _mm512_srl_epi64(
                _mm512_add_epi64(_mm512_mul_epi32(lx, lx), sq_round),
                sq_shift,
            );
            let p = _mm512_srl_epi64(
                _mm512_add_epi64(_mm512_mul_epi32(sq, lx), cube_round),
                cube_shift,
            );
            acc[b] = _mm512_mask_add_epi64(acc[b], lanes, acc[b], p);
        }
        k += 8;
    }
    for (total, a) in inner.iter_mut().zip(acc) {
        *total = total.wrapping_add(_mm512_reduce_add_epi64(a));
    }
    n
}

/// Loads sixteen samples of a picture row widened to i32; lanes past the slice read as zero.
trait Load16 {
    /// # Safety
    /// AVX-512 available.
    unsafe fn load16(s: &[Self], p: usize) -> __m512i
    where
        Self: Sized;
}

impl Load16 for u8 {
    #[inline(always)]
    unsafe fn load16(s: &[u8], p: usize) -> __m512i {
        let avail = s.len().saturating_sub(p);
        if avail >= 16 {
            // SAFETY: p + 16 <= s.len(); the caller guarantees AVX-512.
            return unsafe { _mm512_cvtepu8_epi32(_mm_loadu_si128(s.as_ptr().add(p).cast())) };
        }
        if avail == 0 {
            // SAFETY: the caller guarantees AVX-512.
            return unsafe { _mm512_setzero_si512() };
        }
        // SAFETY: p < s.len(); the mask keeps every lane read inside the slice; the caller
        // guarantees AVX-512.
        unsafe {
            _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(
                first_lanes(avail),
                s.as_ptr().add(p).cast(),
            ))
        }
    }
}

impl Load16 for u16 {
    #[inline(always)]
    unsafe fn load16(s: &[u16], p: usize) -> __m512i {
        let avail = s.len().saturating_sub(p);
        if avail >= 16 {
            // SAFETY: p + 16 <= s.len(); the caller guarantees AVX-512.
            return unsafe { _mm512_cvtepu16_epi32(_mm256_loadu_si256(s.as_ptr().add(p).cast())) };
        }
        if avail == 0 {
            // SAFETY: the caller guarantees AVX-512.
            return unsafe { _mm512_setzero_si512() };
        }
        // SAFETY: as for u8.
        unsafe {
            _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(
                first_lanes(avail),
                s.as_ptr().add(p).cast(),
            ))
        }
    }
}

/// Vertical scale-0 pass over all `w` columns of four picture rows, with wrapping 32-bit
/// arithmetic as the scalar twin; returns `w`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn dwt0_vertical<P: Load16>(
    rows: [&[P]; 4],
    bit_depth: u8,
    lo: &mut [i16],
    hi: Option<&mut [i16]>,
) -> usize {
    use super::dwt::{HI, LO};
    let w = rows[0].len();
    let rows = rows.map(|r| &r[..w]);
    assert!(lo.len() >= w);
    let shift = u32::from(bit_depth);
    let round = 1i32 << (shift - 1);
    let offset = 46342i32.wrapping_mul(round);
    let count = _mm_cvtsi32_si128(shift as i32);
    let round_v = _mm512_set1_epi32(round);
    let lo_round = _mm512_set1_epi32(round.wrapping_sub(offset));
    let lo_t = LO.map(|v| _mm512_set1_epi32(v));
    let hi_t = HI.map(|v| _mm512_set1_epi32(v));
    let mut hi = hi;
    if let Some(h) = hi.as_deref() {
        assert!(h.len() >= w);
    }
    let mut j = 0;
    while j < w {
        let lanes = first_lanes(w - j);
        // SAFETY: the loads stay inside each row; AVX-512 is enabled.
        let u = rows.map(|r| unsafe { P::load16(r, j) });
        let dot = |t: &[__m512i; 4]| {
            _mm512_add_epi32(
                _mm512_add_epi32(
                    _mm512_mullo_epi32(t[0], u[0]),
                    _mm512_mullo_epi32(t[1], u[1]),
                ),
                _mm512_add_epi32(
                    _mm512_mullo_epi32(t[2], u[2]),
                    _mm512_mullo_epi32(t[3], u[3]),
                ),
            )
        };
        let l = _mm512_sra_epi32(_mm512_add_epi32(dot(&lo_t), lo_round), count);
        // SAFETY: the stored lanes lie below w <= lo.len().
        unsafe { store_i16x16(lo, j, lanes, _mm512_cvtepi32_epi16(l)) };
        if let Some(h) = hi.as_deref_mut() {
            let v = _mm512_sra_epi32(_mm512_add_epi32(dot(&hi_t), round_v), count);
            // SAFETY: as above.
            unsafe { store_i16x16(h, j, lanes, _mm512_cvtepi32_epi16(v)) };
        }
        j += 16;
    }
    w
}

/// Loads thirty-two samples of a picture row as i16 lanes.
trait Load32: Load16 {
    /// Whether samples of this type at `bit_depth` may take the 16-bit multiply-add path.
    fn madd_ok(bit_depth: u8) -> bool;
    /// # Safety
    /// `p + 32 <= s.len()` and AVX-512 available.
    unsafe fn load32(s: &[Self], p: usize) -> __m512i
    where
        Self: Sized;
}

impl Load32 for u8 {
    fn madd_ok(bit_depth: u8) -> bool {
        bit_depth == 8
    }

    #[inline(always)]
    unsafe fn load32(s: &[u8], p: usize) -> __m512i {
        debug_assert!(p + 32 <= s.len());
        // SAFETY: the caller keeps p + 32 within the slice and guarantees AVX-512.
        unsafe { _mm512_cvtepu8_epi16(_mm256_loadu_si256(s.as_ptr().add(p).cast())) }
    }
}

impl Load32 for u16 {
    fn madd_ok(bit_depth: u8) -> bool {
        (8..=15).contains(&bit_depth)
    }

    #[inline(always)]
    unsafe fn load32(s: &[u16], p: usize) -> __m512i {
        debug_assert!(p + 32 <= s.len());
        // SAFETY: the caller keeps p + 32 within the slice and guarantees AVX-512.
        unsafe { _mm512_loadu_si512(s.as_ptr().add(p).cast()) }
    }
}

/// Vertical scale-0 pass over the first `w / 32 * 32` columns of four picture rows with 16-bit
/// multiply-adds of row pairs, for samples of at most 15 bits. While every sample is below
/// 2^bit_depth, every sum is exact in 32 bits and every result fits 16 bits, so this equals
/// the wrapping 32-bit arithmetic of the scalar twin; blocks holding a larger sample take the
/// general path. Returns how many columns it did.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn dwt0_vertical_madd<P: Load32>(
    rows: [&[P]; 4],
    bit_depth: u8,
    lo: &mut [i16],
    hi: Option<&mut [i16]>,
) -> usize {
    use super::dwt::{HI, LO};
    if !P::madd_ok(bit_depth) {
        return 0;
    }
    let w = rows[0].len();
    let rows = rows.map(|r| &r[..w]);
    let end = w / 32 * 32;
    assert!(lo.len() >= w);
    let shift = u32::from(bit_depth);
    let round = 1i32 << (shift - 1);
    let count = _mm_cvtsi32_si128(shift as i32);
    let lo_round = _mm512_set1_epi32(round.wrapping_sub(46342i32.wrapping_mul(round)));
    let hi_round = _mm512_set1_epi32(round);
    let too_big = _mm512_set1_epi16(!((1i32 << shift) - 1) as i16);
    let pair = |a: i32, b: i32| _mm512_set1_epi32((a & 0xFFFF) | (b << 16));
    let (lo01, lo23) = (pair(LO[0], LO[1]), pair(LO[2], LO[3]));
    let (hi01, hi23) = (pair(HI[0], HI[1]), pair(HI[2], HI[3]));
    let mut hi = hi;
    if let Some(h) = hi.as_deref() {
        assert!(h.len() >= w);
    }
    let mut j = 0;
    while j < end {
        // SAFETY: j + 32 <= w <= every row's length; AVX-512 is enabled.
        let u = rows.map(|r| unsafe { P::load32(r, j) });
        let any = _mm512_or_si512(_mm512_or_si512(u[0], u[1]), _mm512_or_si512(u[2], u[3]));
        if _mm512_test_epi16_mask(any, too_big) != 0 {
            let block = rows.map(|r| &r[j..j + 32]);
            let h = hi.as_deref_mut().map(|h| &mut h[j..j + 32]);
            // SAFETY: AVX-512 is enabled in this function.
            unsafe { dwt0_vertical(block, bit_depth, &mut lo[j..j + 32], h) };
            j += 32;
            continue;
        }
        // Within each 128-bit lane: samples 0-3 of rows (0, 1) and (2, 3) interleaved, then
        // samples 4-7; `packs` puts the two halves back in order.
        let p01 = (
            _mm512_unpacklo_epi16(u[0], u[1]),
            _mm512_unpackhi_epi16(u[0], u[1]),
        );
        let p23 = (
            _mm512_unpacklo_epi16(u[2], u[3]),
            _mm512_unpackhi_epi16(u[2], u[3]),
        );
        let filter = |t01: __m512i, t23: __m512i, round: __m512i| {
            let f = |a: __m512i, b: __m512i| {
                let v = _mm512_add_epi32(_mm512_madd_epi16(a, t01), _mm512_madd_epi16(b, t23));
                _mm512_sra_epi32(_mm512_add_epi32(v, round), count)
            };
            _mm512_packs_epi32(f(p01.0, p23.0), f(p01.1, p23.1))
        };
        // SAFETY: j + 32 <= w <= lo.len().
        unsafe { _mm512_storeu_si512(lo.as_mut_ptr().add(j).cast(), filter(lo01, lo23, lo_round)) };
        if let Some(h) = hi.as_deref_mut() {
            // SAFETY: as above.
            unsafe {
                _mm512_storeu_si512(h.as_mut_ptr().add(j).cast(), filter(hi01, hi23, hi_round))
            };
        }
        j += 32;
    }
    end
}

/// Both vertical scale-0 paths: multiply-adds where they apply, then the general one.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn dwt0_vertical_both<P: Load32>(
    rows: [&[P]; 4],
    bit_depth: u8,
    lo: &mut [i16],
    hi: Option<&mut [i16]>,
) -> usize {
    let mut hi = hi;
    // SAFETY: AVX-512 is enabled in this function.
    let done = unsafe { dwt0_vertical_madd(rows, bit_depth, lo, hi.as_deref_mut()) };
    let rest = rows.map(|row| &row[done..]);
    // SAFETY: AVX-512 is enabled in this function.
    done + unsafe { dwt0_vertical(rest, bit_depth, &mut lo[done..], hi.map(|h| &mut h[done..])) }
}

/// Dispatches the vertical scale-0 pass on the sample type; returns how many columns it did
/// (0 for sample types it does not know).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub(super) unsafe fn dwt0_vertical_any<P: 'static>(
    rows: [&[P]; 4],
    bit_depth: u8,
    lo: &mut [i16],
    hi: Option<&mut [i16]>,
) -> usize {
    if let Some(r) = cast_rows::<P, u8>(rows) {
        // SAFETY: AVX-512 is enabled in this function.
        return unsafe { dwt0_vertical_both(r, bit_depth, lo, hi) };
    }
    if let Some(r) = cast_rows::<P, u16>(rows) {
        // SAFETY: AVX-512 is enabled in this function.
        return unsafe { dwt0_vertical_both(r, bit_depth, lo, hi) };
    }
    0
}

/// The rows as `&[Q]` when `P` is `Q`.
fn cast_rows<P: 'static, Q: 'static>(rows: [&[P]; 4]) -> Option<[&[Q]; 4]> {
    if std::any::TypeId::of::<P>() != std::any::TypeId::of::<Q>() {
        return None;
    }
    // SAFETY: P and Q are the same type, so the slices are reinterpreted as themselves.
    Some(rows.map(|r| unsafe { std::slice::from_raw_parts(r.as_ptr().cast::<Q>(), r.len()) }))
}

/// All interior horizontal scale-0 outputs `1..n - 1` (`n` = `low.len()`) of one intermediate
/// row `src` (the row plus its two over-read samples); returns `n - 1`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub(super) unsafe fn dwt0_horizontal(
    src: &[i16],
    low: &mut [i16],
    high: Option<&mut [i16]>,
) -> usize {
    use super::dwt::{HI, LO};
    let n = low.len();
    if n < 3 {
        return 1;
    }
    // Output j reads src[2j - 1 ..= 2j + 2]; the last interior one reads src[2n - 2].
    assert!(2 * n - 1 <= src.len());
    let src = &src[..2 * n - 1];
    let pair = |a: i32, b: i32| _mm512_set1_epi32((a & 0xFFFF) | (b << 16));
    let (lo01, lo23) = (pair(LO[0], LO[1]), pair(LO[2], LO[3]));
    let (hi01, hi23) = (pair(HI[0], HI[1]), pair(HI[2], HI[3]));
    let round = _mm512_set1_epi32(32768);
    let mut high = high;
    if let Some(h) = high.as_deref() {
        assert!(h.len() >= n);
    }
    // Thirty-two samples from `p`, the lanes past the row reading as zero.
    let load32 = |p: usize| {
        let avail = src.len().saturating_sub(p).min(32);
        if avail == 32 {
            // SAFETY: p + 32 <= src.len().
            return unsafe { _mm512_loadu_si512(src.as_ptr().add(p).cast()) };
        }
        // SAFETY: p < src.len() whenever avail > 0; the mask keeps every lane inside src.
        unsafe { _mm512_maskz_loadu_epi16(((1u64 << avail) - 1) as __mmask32, src.as_ptr().add(p)) }
    };
    let mut j = 1;
    while j < n - 1 {
        let lanes = first_lanes(n - 1 - j);
        // Pairs (2j - 1, 2j) and (2j + 1, 2j + 2) of each output, sixteen outputs.
        let (p, q) = (load32(2 * j - 1), load32(2 * j + 1));
        let l = _mm512_add_epi32(_mm512_madd_epi16(p, lo01), _mm512_madd_epi16(q, lo23));
        let l = _mm512_srai_epi32::<16>(_mm512_add_epi32(l, round));
        // SAFETY: the stored lanes lie below n - 1.
        unsafe { store_i16x16(low, j, lanes, _mm512_cvtepi32_epi16(l)) };
        if let Some(h) = high.as_deref_mut() {
            let v = _mm512_add_epi32(_mm512_madd_epi16(p, hi01), _mm512_madd_epi16(q, hi23));
            let v = _mm512_srai_epi32::<16>(_mm512_add_epi32(v, round));
            // SAFETY: as above.
            unsafe { store_i16x16(h, j, lanes, _mm512_cvtepi32_epi16(v)) };
        }
        j += 16;
    }
    n - 1
}

/// Vector part of `csf::weigh_scale0` for one band row: columns `left..tail`, saturating to
/// 16 bits as libvmaf's vector code does.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub(super) unsafe fn weigh_scale0_row(
    s: &[i16],
    d: &mut [i16],
    f: &mut [i16],
    (left, tail): (usize, usize),
    weight: i32,
    (round, shift): (i32, u32),
) {
    assert!(tail <= s.len() && tail <= d.len() && tail <= f.len());
    let s = &s[..tail];
    let weight = _mm512_set1_epi32(weight);
    let round = _mm512_set1_epi32(round);
    let count = _mm_cvtsi32_si128(shift as i32);
    let k4369 = _mm512_set1_epi32(4369);
    let k2048 = _mm512_set1_epi32(2048);
    let mut j = left;
    while j < tail {
        let lanes = first_lanes(tail - j);
        // SAFETY: the load stays inside s.
        let x = unsafe { load_i16x16(s, j) };
        let v = _mm512_sra_epi32(
            _mm512_add_epi32(_mm512_mullo_epi32(x, weight), round),
            count,
        );
        let m = _mm512_srai_epi32::<12>(_mm512_add_epi32(
            _mm512_mullo_epi32(_mm512_abs_epi32(v), k4369),
            k2048,
        ));
        // SAFETY: the stored lanes lie below tail <= d.len(), f.len().
        unsafe {
            store_i16x16(d, j, lanes, _mm512_cvtsepi32_epi16(v));
            store_i16x16(f, j, lanes, _mm512_cvtsepi32_epi16(m));
        }
        j += 16;
    }
}

/// Vector part of `csf::weigh_lower` for one band row: columns `left..tail`, with the Q32
/// weight read as a signed 32-bit value as libvmaf's vector code does.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub(super) unsafe fn weigh_lower_row(
    s: &[i32],
    d: &mut [i32],
    f: &mut [i32],
    (left, tail): (usize, usize),
    weight: u32,
) {
    assert!(tail <= s.len() && tail <= d.len() && tail <= f.len());
    let s = &s[..tail];
    let weight = _mm512_set1_epi64(i64::from(weight as i32));
    let half = _mm512_set1_epi64(1 << 27);
    let one_by_30 = _mm512_set1_epi64(143165577);
    let round = _mm512_set1_epi64(super::csf::Q32_ROUND);
    let mut j = left;
    while j < tail {
        let lanes = first_lanes(tail - j);
        // SAFETY: the load stays inside s.
        let x = unsafe { load_i32x16(s, j) };
        let weigh = |x: __m512i| _mm512_add_epi64(_mm512_mul_epi32(x, weight), half);
        // Bits 28..59 of each product.
        let v = _mm512_mask_blend_epi32(
            0xAAAA,
            _mm512_srli_epi64::<28>(weigh(x)),
            _mm512_slli_epi64::<4>(weigh(_mm512_srli_epi64::<32>(x))),
        );
        let a = _mm512_abs_epi32(v);
        let fade = |a: __m512i| _mm512_add_epi64(_mm512_mul_epi32(a, one_by_30), round);
        let m = _mm512_mask_blend_epi32(
            0xAAAA,
            _mm512_srli_epi64::<32>(fade(a)),
            fade(_mm512_srli_epi64::<32>(a)),
        );
        // SAFETY: the stored lanes lie below tail <= d.len(), f.len().
        unsafe {
            store_i32x16(d, j, lanes, v);
            store_i32x16(f, j, lanes, m);
        }
        j += 16;
    }
}

/// `(taps · samples + round) >> shift` on the even (low-dword) lanes of four i32 sample
/// vectors, in 64 bits; the low 32 bits of each 64-bit lane hold the result.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
fn filter64(taps: &[__m512i; 4], s: [__m512i; 4], round: __m512i, shift: __m128i) -> __m512i {
    let acc = _mm512_add_epi64(
        _mm512_add_epi64(
            _mm512_mul_epi32(taps[0], s[0]),
            _mm512_mul_epi32(taps[1], s[1]),
        ),
        _mm512_add_epi64(
            _mm512_mul_epi32(taps[2], s[2]),
            _mm512_mul_epi32(taps[3], s[3]),
        ),
    );
    // Shifts here are at most 16, so bits shift..shift+31 are the same for a logical shift.
    _mm512_srl_epi64(_mm512_add_epi64(acc, round), shift)
}

/// Loads up to sixteen coefficients of a scale 1-3 input row as i32 lanes; lanes past the
/// slice read as zero.
trait LoadCoef: Copy {
    /// # Safety
    /// AVX-512 available.
    unsafe fn load_coef16(s: &[Self], p: usize) -> __m512i
    where
        Self: Sized;
}

impl LoadCoef for i16 {
    #[inline(always)]
    unsafe fn load_coef16(s: &[i16], p: usize) -> __m512i {
        // SAFETY: forwarded from the caller.
        unsafe { load_i16x16(s, p) }
    }
}

impl LoadCoef for i32 {
    #[inline(always)]
    unsafe fn load_coef16(s: &[i32], p: usize) -> __m512i {
        // SAFETY: forwarded from the caller.
        unsafe { load_i32x16(s, p) }
    }
}

/// Dispatches the vertical scale 1-3 pass on the coefficient type; returns how many columns
/// it did (0 for types it does not know).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub(super) unsafe fn dwt_lower_vertical_any<T: 'static>(
    src: &[&[T]; 4],
    rs: (i64, u32),
    lo: &mut [i32],
    hi: &mut [i32],
) -> usize {
    if let Some(r) = cast_rows::<T, i16>(*src) {
        // SAFETY: AVX-512 is enabled in this function.
        return unsafe { dwt_lower_vertical(&r, rs, lo, hi) };
    }
    if let Some(r) = cast_rows::<T, i32>(*src) {
        // SAFETY: AVX-512 is enabled in this function.
        return unsafe { dwt_lower_vertical(&r, rs, lo, hi) };
    }
    0
}

/// Vertical scale 1-3 pass over all `w` columns; returns `w`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
unsafe fn dwt_lower_vertical<T: LoadCoef>(
    src: &[&[T]; 4],
    (round, shift): (i64, u32),
    lo: &mut [i32],
    hi: &mut [i32],
) -> usize {
    use super::dwt::{HI, LO};
    let w = lo.len();
    assert!(hi.len() == w && src.iter().all(|s| s.len() >= w));
    let src = src.map(|s| &s[..w]);
    let lo_t = LO.map(|v| _mm512_set1_epi64(i64::from(v)));
    let hi_t = HI.map(|v| _mm512_set1_epi64(i64::from(v)));
    let exact_low32 = round == 0 && shift == 0;
    let round = _mm512_set1_epi64(round);
    let count = _mm_cvtsi32_si128(shift as i32);
    if exact_low32 {
        // Scale 1 keeps the low 32 bits of the sums: wrapping 32-bit products give them.
        let lo_t = LO.map(|v| _mm512_set1_epi32(v));
        let hi_t = HI.map(|v| _mm512_set1_epi32(v));
        let dot = |t: &[__m512i; 4], s: &[__m512i; 4]| {
            _mm512_add_epi32(
                _mm512_add_epi32(
                    _mm512_mullo_epi32(t[0], s[0]),
                    _mm512_mullo_epi32(t[1], s[1]),
                ),
                _mm512_add_epi32(
                    _mm512_mullo_epi32(t[2], s[2]),
                    _mm512_mullo_epi32(t[3], s[3]),
                ),
            )
        };
        let mut j = 0;
        while j < w {
            let lanes = first_lanes(w - j);
            // SAFETY: the loads stay inside each row; the stored lanes lie below w.
            unsafe {
                let s = src.map(|r| T::load_coef16(r, j));
                store_i32x16(lo, j, lanes, dot(&lo_t, &s));
                store_i32x16(hi, j, lanes, dot(&hi_t, &s));
            }
            j += 16;
        }
        return w;
    }
    let mut j = 0;
    while j < w {
        let lanes = first_lanes(w - j);
        // SAFETY: the loads stay inside each row; the stored lanes lie below w.
        unsafe {
            let s = src.map(|r| T::load_coef16(r, j));
            let so = s.map(|v| _mm512_srli_epi64::<32>(v));
            let l = interleave_low32(
                filter64(&lo_t, s, round, count),
                filter64(&lo_t, so, round, count),
            );
            let h = interleave_low32(
                filter64(&hi_t, s, round, count),
                filter64(&hi_t, so, round, count),
            );
            store_i32x16(lo, j, lanes, l);
            store_i32x16(hi, j, lanes, h);
        }
        j += 16;
    }
    w
}

/// All interior horizontal scale 1-3 outputs `1..n - 1` of the row at `start` in `buf`;
/// returns `n - 1`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub(super) unsafe fn dwt_lower_horizontal(
    buf: &[i32],
    start: usize,
    (round, shift): (i64, u32),
    low: &mut [i32],
    high: &mut [i32],
) -> usize {
    use super::dwt::{HI, LO};
    let n = low.len();
    if n < 3 {
        return 1;
    }
    // Output j reads start + 2j - 1 ..= start + 2j + 2.
    assert!(high.len() == n && start + 2 * n - 1 <= buf.len());
    let row = &buf[start..start + 2 * n - 1];
    let lo_t = LO.map(|v| _mm512_set1_epi64(i64::from(v)));
    let hi_t = HI.map(|v| _mm512_set1_epi64(i64::from(v)));
    let round = _mm512_set1_epi64(round);
    let count = _mm_cvtsi32_si128(shift as i32);
    // Output lanes 0..8 from the low dwords of `a`, 8..16 from those of `b`.
    let order = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let mut j = 1;
    while j < n - 1 {
        let lanes = first_lanes(n - 1 - j);
        // SAFETY: the loads stay inside the row; the stored lanes lie below n - 1.
        unsafe {
            let quad = |base: usize| {
                let (p, q) = (load_i32x16(row, base - 1), load_i32x16(row, base + 1));
                [p, _mm512_srli_epi64::<32>(p), q, _mm512_srli_epi64::<32>(q)]
            };
            let (first, second) = (quad(2 * j), quad(2 * j + 16));
            let l = _mm512_permutex2var_epi32(
                filter64(&lo_t, first, round, count),
                order,
                filter64(&lo_t, second, round, count),
            );
            let h = _mm512_permutex2var_epi32(
                filter64(&hi_t, first, round, count),
                order,
                filter64(&hi_t, second, round, count),
            );
            store_i32x16(low, j, lanes, l);
            store_i32x16(high, j, lanes, h);
        }
        j += 16;
    }
    n - 1
}

/// Wrapping sum of |x|^3 over a row of the scale-0 reference detail (the inner sum of
/// `csf::denominator_scale0`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub(super) unsafe fn cube_sum_i16(s: &[i16]) -> u64 {
    let mut acc = _mm512_setzero_si512();
    let mut j = 0;
    while j < s.len() {
        // |x| <= 32768 as an unsigned lane; masked lanes read as zero and add nothing.
        // SAFETY: the load stays inside s.
        let m = _mm512_abs_epi32(unsafe { load_i16x16(s, j) });
        let sq = _mm512_mullo_epi32(m, m);
        acc = _mm512_add_epi64(acc, _mm512_mul_epu32(sq, m));
        acc = _mm512_add_epi64(
            acc,
            _mm512_mul_epu32(_mm512_srli_epi64::<32>(sq), _mm512_srli_epi64::<32>(m)),
        );
        j += 16;
    }
    _mm512_reduce_add_epi64(acc) as u64
}

/// Wrapping sum over a row of scale 1-3 reference detail of libvmaf's rounded cube
/// `((|x|^2 + sq_round) >> sq_shift) * |x|`, plus `cube_round`, `>> cube_shift` (the inner sum
/// of `csf::denominator_lower`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2")]
pub(super) unsafe fn cube_sum_i32(
    s: &[i32],
    (sq_round, sq_shift): (u64, u32),
    (cube_round, cube_shift): (u64, u32),
) -> u64 {
    let sq_round = _mm512_set1_epi64(sq_round as i64);
    let sq_shift = _mm_cvtsi64_si128(i64::from(sq_shift & 63));
    let cube_round = _mm512_set1_epi64(cube_round as i64);
    let cube_shift = _mm_cvtsi64_si128(i64::from(cube_shift & 63));
    let low32 = _mm512_set1_epi64(0xFFFF_FFFF);
    let mut acc = _mm512_setzero_si512();
    let mut j = 0;
    while j < s.len() {
        // SAFETY: the load stays inside s; masked lanes are excluded below.
        let m = _mm512_abs_epi32(unsafe { load_i32x16(s, j) });
        let (even, odd) = even_odd_lanes(s.len() - j);
        let cube = |m: __m512i| {
            // m: zero-extended |x| in each 64-bit lane. sq has up to 33 bits: multiply its
            // two halves separately for the wrapping 64-bit product.
            let sq = _mm512_srl_epi64(_mm512_add_epi64(_mm512_mul_epu32(m, m), sq_round), sq_shift);
            let prod = _mm512_add_epi64(
                _mm512_mul_epu32(sq, m),
                _mm512_slli_epi64::<32>(_mm512_mul_epu32(_mm512_srli_epi64::<32>(sq), m)),
            );
            _mm512_srl_epi64(_mm512_add_epi64(prod, cube_round), cube_shift)
        };
        acc = _mm512_mask_add_epi64(acc, even, acc, cube(_mm512_and_si512(m, low32)));
        acc = _mm512_mask_add_epi64(acc, odd, acc, cube(_mm512_srli_epi64::<32>(m)));
        j += 16;
    }
    _mm512_reduce_add_epi64(acc) as u64
}
