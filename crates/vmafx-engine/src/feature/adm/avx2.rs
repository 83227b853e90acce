//! AVX2 twins of the ADM kernels. Each function here produces exactly what its scalar twin in
//! the sibling modules produces (the twin tests in `adm::twins` check this on random data);
//! columns or chunks a vector cannot handle exactly are handed to the scalar code.
//!
//! Every function is `unsafe` only because it requires AVX2; callers check
//! the scorer's `SimdLevel` first.

use std::arch::x86_64::*;

use super::decouple::{self, cos_1deg_sq, Reciprocals};
use super::{Border, Decoupled};

/// Narrows eight i32 lanes to eight i16 by keeping the low half of each (C's truncating cast).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn narrow_trunc(v: __m256i) -> __m128i {
    let keep = _mm256_setr_epi8(
        0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5, 8, 9, 12, 13, -1, -1,
        -1, -1, -1, -1, -1, -1,
    );
    let packed = _mm256_shuffle_epi8(v, keep);
    _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b1000>(packed))
}

/// Loads eight i16 at `p` widened to i32.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_i16x8(s: &[i16], p: usize) -> __m256i {
    debug_assert!(p + 8 <= s.len());
    // SAFETY: callers keep p + 8 within the slice.
    unsafe { _mm256_cvtepi16_epi32(_mm_loadu_si128(s.as_ptr().add(p).cast())) }
}

/// Loads eight i32 at `p`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_i32x8(s: &[i32], p: usize) -> __m256i {
    debug_assert!(p + 8 <= s.len());
    // SAFETY: callers keep p + 8 within the slice.
    unsafe { _mm256_loadu_si256(s.as_ptr().add(p).cast()) }
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store_i32x8(s: &mut [i32], p: usize, v: __m256i) {
    assert!(p + 8 <= s.len());
    // SAFETY: bounds checked above.
    unsafe { _mm256_storeu_si256(s.as_mut_ptr().add(p).cast(), v) }
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store_i16x8(s: &mut [i16], p: usize, v: __m128i) {
    assert!(p + 8 <= s.len());
    // SAFETY: bounds checked above.
    unsafe { _mm_storeu_si128(s.as_mut_ptr().add(p).cast(), v) }
}

/// Combines the low 32 bits of the 64-bit lanes of `even` (input lanes 0, 2, 4, 6) and `odd`
/// (lanes 1, 3, 5, 7) into eight i32 lanes.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn interleave_low32(even: __m256i, odd: __m256i) -> __m256i {
    _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd))
}

/// Libvmaf's one-degree test on eight columns whose first two orientations are i16 values
/// held in i32 lanes.
///
/// The dot product and both squared magnitudes are exact in i32 (`madd` of the packed pairs),
/// except that the largest one, 2^31, wraps to i32::MIN, which no true value reaches; their
/// conversions to f32 round exactly as the scalar i64-to-f32 ones. The scalar test divides each
/// by 4096 in f64: scaling both sides of `d * d >= cos * o * t` by 2^24 changes no rounding,
/// so the divisions are left out.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn angle_mask(o0: __m256i, o1: __m256i, t0: __m256i, t1: __m256i, cos_sq: f64) -> __m256i {
    let low16 = _mm256_set1_epi32(0xFFFF);
    let pack = |a: __m256i, b: __m256i| {
        _mm256_or_si256(_mm256_and_si256(a, low16), _mm256_slli_epi32::<16>(b))
    };
    let (po, pt) = (pack(o0, o1), pack(t0, t1));
    let wrapped = _mm256_set1_epi32(i32::MIN);
    let two31 = _mm256_set1_ps(2147483648.0);
    let to_f32 = |v: __m256i| {
        _mm256_blendv_ps(
            _mm256_cvtepi32_ps(v),
            two31,
            _mm256_castsi256_ps(_mm256_cmpeq_epi32(v, wrapped)),
        )
    };
    let dot = to_f32(_mm256_madd_epi16(po, pt));
    let osq = to_f32(_mm256_madd_epi16(po, po));
    let tsq = to_f32(_mm256_madd_epi16(pt, pt));
    let cos = _mm256_set1_pd(cos_sq);
    let half = |v: __m256, high: bool| {
        if high {
            _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v))
        } else {
            _mm256_cvtps_pd(_mm256_castps256_ps128(v))
        }
    };
    let mut halves = [_mm_setzero_si128(); 2];
    for (k, m) in halves.iter_mut().enumerate() {
        let high = k == 1;
        let d = half(dot, high);
        let rhs = _mm256_mul_pd(_mm256_mul_pd(cos, half(osq, high)), half(tsq, high));
        let ge = _mm256_cmp_pd::<_CMP_GE_OQ>(_mm256_mul_pd(d, d), rhs);
        // Each 64-bit lane is all ones or all zeros; keep one 32-bit half of each.
        let lanes = _mm256_permutevar8x32_epi32(
            _mm256_castpd_si256(ge),
            _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6),
        );
        *m = _mm256_castsi256_si128(lanes);
    }
    let ok = _mm256_set_m128i(halves[1], halves[0]);
    let positive = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(dot, _mm256_setzero_ps()));
    _mm256_and_si256(ok, positive)
}

/// AVX2 twin of `decouple::scale0`; columns at or past `vector_end` and the remainder of
/// each row that does not fill eight lanes go through `decouple::scale0_span`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
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
    let lanes = vector_end.saturating_sub(border.left) / 8 * 8;
    let simd_end = border.left + lanes;
    let len = w * border.bottom;
    for band in reference.iter().chain(&distorted) {
        assert!(band.len() >= len);
    }
    for band in out.r.iter().chain(&out.a) {
        assert!(band.len() >= len);
    }
    let c32768 = _mm256_set1_epi32(32768);
    let c16384 = _mm256_set1_epi32(16384);
    let c16384_64 = _mm256_set1_epi64x(16384);
    let zero = _mm256_setzero_si256();
    let gain_v = _mm256_set1_pd(gain);
    for i in border.top..border.bottom {
        let row = i * w;
        let mut col = border.left;
        while col < simd_end {
            let p = row + col;
            // SAFETY (all loads and stores below): p + 8 <= row + right <= len, checked above.
            let o = reference.map(|b| unsafe { load_i16x8(b, p) });
            let t = distorted.map(|b| unsafe { load_i16x8(b, p) });
            let angle = unsafe { angle_mask(o[0], o[1], t[0], t[1], cos_sq) };
            for b in 0..3 {
                let (ob, tb) = (o[b], t[b]);
                // SAFETY: indices o + 32768 lie in 0..65536, inside the 65537-entry table.
                let rc = unsafe {
                    _mm256_i32gather_epi32::<4>(table.as_ptr(), _mm256_add_epi32(ob, c32768))
                };
                let even = _mm256_add_epi64(_mm256_mul_epi32(rc, tb), c16384_64);
                let odd = _mm256_add_epi64(
                    _mm256_mul_epi32(_mm256_srli_epi64::<32>(rc), _mm256_srli_epi64::<32>(tb)),
                    c16384_64,
                );
                // Bits 15..46 of the products, which hold the whole shifted value.
                let ratio = unsafe {
                    interleave_low32(_mm256_srli_epi64::<15>(even), _mm256_srli_epi64::<15>(odd))
                };
                let o_zero = _mm256_cmpeq_epi32(ob, zero);
                let ratio = _mm256_blendv_epi8(ratio, c32768, o_zero);
                let ratio = _mm256_min_epi32(_mm256_max_epi32(ratio, zero), c32768);
                let rst = _mm256_srai_epi32::<15>(_mm256_add_epi32(
                    _mm256_mullo_epi32(ratio, ob),
                    c16384,
                ));
                // Gain limit, rounded to nearest as libvmaf's vector code does.
                let lo = _mm256_cvtpd_epi32(_mm256_mul_pd(
                    _mm256_cvtepi32_pd(_mm256_castsi256_si128(rst)),
                    gain_v,
                ));
                let hi = _mm256_cvtpd_epi32(_mm256_mul_pd(
                    _mm256_cvtepi32_pd(_mm256_extracti128_si256::<1>(rst)),
                    gain_v,
                ));
                let g = _mm256_set_m128i(hi, lo);
                let positive = _mm256_cmpgt_epi32(ob, zero);
                let limited =
                    _mm256_blendv_epi8(_mm256_max_epi32(g, tb), _mm256_min_epi32(g, tb), positive);
                let apply = _mm256_andnot_si256(
                    o_zero,
                    _mm256_and_si256(angle, _mm256_cmpgt_epi32(ratio, zero)),
                );
                let kept = _mm256_blendv_epi8(rst, limited, apply);
                let kept16 = unsafe { narrow_trunc(kept) };
                let t16 = unsafe { narrow_trunc(tb) };
                unsafe {
                    store_i16x8(&mut out.r[b], p, kept16);
                    store_i16x8(&mut out.a[b], p, _mm_sub_epi16(t16, kept16));
                }
            }
            col += 8;
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

/// Arithmetic right shift of 64-bit lanes by per-lane counts below 64.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn srav_epi64(v: __m256i, count: __m256i) -> __m256i {
    let sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
    _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(v, sign), count), sign)
}

/// AVX2 twin of `decouple::lower`. Chunks holding a reference coefficient of i32::MIN go
/// through `decouple::lower_span`, as does the remainder of each row.
#[target_feature(enable = "avx2")]
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
    let simd_end = border.left + (border.right - border.left) / 8 * 8;
    let len = w * border.bottom;
    for band in reference.iter().chain(&distorted) {
        assert!(band.len() >= len);
    }
    for band in out.r.iter().chain(&out.a) {
        assert!(band.len() >= len);
    }
    let c32767 = _mm256_set1_epi32(32767);
    let c32768 = _mm256_set1_epi32(32768);
    let c32768_64 = _mm256_set1_epi64x(32768);
    let c16384_64 = _mm256_set1_epi64x(16384);
    let one_64 = _mm256_set1_epi64x(1);
    let c14_64 = _mm256_set1_epi64x(14);
    let c15_64 = _mm256_set1_epi64x(15);
    let low32 = _mm256_set1_epi64x(0xFFFF_FFFF);
    let int_min = _mm256_set1_epi32(i32::MIN);
    let zero = _mm256_setzero_si256();
    let gain_v = _mm256_set1_pd(gain);
    for i in border.top..border.bottom {
        let row = i * w;
        let mut col = border.left;
        while col < simd_end {
            let p = row + col;
            // SAFETY (all loads and stores below): p + 8 <= row + right <= len, checked above.
            let o = reference.map(|b| unsafe { load_i32x8(b, p) });
            let t = distorted.map(|b| unsafe { load_i32x8(b, p) });
            // A reference coefficient of i32::MIN makes libvmaf's rounding term wrap; leave
            // such chunks to the scalar code.
            let mut has_min = zero;
            for v in &o {
                has_min = _mm256_or_si256(has_min, _mm256_cmpeq_epi32(*v, int_min));
            }
            if _mm256_testz_si256(has_min, has_min) == 0 {
                decouple::lower_span(reference, distorted, row, col..col + 8, gain, recip, out);
                col += 8;
                continue;
            }
            let angle = unsafe { angle_mask_wide(o[0], o[1], t[0], t[1], cos_sq) };
            for b in 0..3 {
                let (ob, tb) = (o[b], t[b]);
                let mag = _mm256_abs_epi32(ob);
                let big = _mm256_cmpgt_epi32(mag, c32767);
                // floor(log2(mag)) for mag >= 2^15, from the exponent of the exact f32 of
                // mag >> 8 (below 2^23); the reduction shift is that minus 14.
                let exp = _mm256_srli_epi32::<23>(_mm256_castps_si256(_mm256_cvtepi32_ps(
                    _mm256_srli_epi32::<8>(mag),
                )));
                let k =
                    _mm256_and_si256(big, _mm256_sub_epi32(exp, _mm256_set1_epi32(127 + 14 - 8)));
                let half = _mm256_srli_epi32::<1>(_mm256_sllv_epi32(_mm256_set1_epi32(1), k));
                let msb = _mm256_srlv_epi32(_mm256_add_epi32(mag, half), k);
                // SAFETY: msb <= 32768, so indices lie in 32768..=65536.
                let rc = unsafe {
                    _mm256_i32gather_epi32::<4>(table.as_ptr(), _mm256_add_epi32(msb, c32768))
                };
                let rc = _mm256_sign_epi32(rc, ob);
                let ratio64 = |r: __m256i, tv: __m256i, kv: __m256i| -> __m256i {
                    let kv = _mm256_and_si256(kv, low32);
                    let prod = _mm256_mul_epi32(r, tv);
                    let round = _mm256_sllv_epi64(one_64, _mm256_add_epi64(kv, c14_64));
                    // SAFETY: AVX2 is enabled in this function.
                    let q = unsafe {
                        srav_epi64(_mm256_add_epi64(prod, round), _mm256_add_epi64(kv, c15_64))
                    };
                    let q = _mm256_andnot_si256(_mm256_cmpgt_epi64(zero, q), q);
                    let over = _mm256_cmpgt_epi64(q, c32768_64);
                    _mm256_blendv_epi8(q, c32768_64, over)
                };
                let even = ratio64(rc, tb, k);
                let odd = ratio64(
                    _mm256_srli_epi64::<32>(rc),
                    _mm256_srli_epi64::<32>(tb),
                    _mm256_srli_epi64::<32>(k),
                );
                let ratio = unsafe { interleave_low32(even, odd) };
                let o_zero = _mm256_cmpeq_epi32(ob, zero);
                let ratio = _mm256_blendv_epi8(ratio, c32768, o_zero);
                let rst_even = _mm256_srli_epi64::<15>(_mm256_add_epi64(
                    _mm256_mul_epi32(ratio, ob),
                    c16384_64,
                ));
                let rst_odd = _mm256_srli_epi64::<15>(_mm256_add_epi64(
                    _mm256_mul_epi32(_mm256_srli_epi64::<32>(ratio), _mm256_srli_epi64::<32>(ob)),
                    c16384_64,
                ));
                let rst = unsafe { interleave_low32(rst_even, rst_odd) };
                let positive = _mm256_cmpgt_epi32(ob, zero);
                let limit_half = |r: __m128i, tv: __m128i, pos: __m128i| -> __m128i {
                    let x = _mm256_mul_pd(_mm256_cvtepi32_pd(r), gain_v);
                    let tf = _mm256_cvtepi32_pd(tv);
                    let pos = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(pos));
                    let m = _mm256_blendv_pd(_mm256_max_pd(x, tf), _mm256_min_pd(x, tf), pos);
                    _mm256_cvttpd_epi32(m)
                };
                let lo = limit_half(
                    _mm256_castsi256_si128(rst),
                    _mm256_castsi256_si128(tb),
                    _mm256_castsi256_si128(positive),
                );
                let hi = limit_half(
                    _mm256_extracti128_si256::<1>(rst),
                    _mm256_extracti128_si256::<1>(tb),
                    _mm256_extracti128_si256::<1>(positive),
                );
                let limited = _mm256_set_m128i(hi, lo);
                let apply = _mm256_andnot_si256(
                    o_zero,
                    _mm256_and_si256(angle, _mm256_cmpgt_epi32(ratio, zero)),
                );
                let kept = _mm256_blendv_epi8(rst, limited, apply);
                unsafe {
                    store_i32x8(&mut out.r[b], p, kept);
                    store_i32x8(&mut out.a[b], p, _mm256_sub_epi32(tb, kept));
                }
            }
            col += 8;
        }
        decouple::lower_span(
            reference,
            distorted,
            row,
            simd_end..border.right,
            gain,
            recip,
            out,
        );
    }
}

/// Sum of the four 64-bit lanes, wrapping.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn hsum_epi64(v: __m256i) -> i64 {
    let s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    (_mm_cvtsi128_si64(s)).wrapping_add(_mm_extract_epi64::<1>(s))
}

/// libvmaf's vector cube on non-negative i32 lanes `x` (already reduced by the threshold),
/// accumulated into the 64-bit lanes of `even` and `odd`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn cube_accumulate(
    x: __m256i,
    sq_round: __m256i,
    sq_shift: __m128i,
    cube_round: __m256i,
    cube_shift: __m128i,
    even: &mut __m256i,
    odd: &mut __m256i,
) {
    let one = |x: __m256i| {
        let sq = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epu32(x, x), sq_round), sq_shift);
        _mm256_srl_epi64(
            _mm256_add_epi64(_mm256_mul_epi32(sq, x), cube_round),
            cube_shift,
        )
    };
    *even = _mm256_add_epi64(*even, one(x));
    *odd = _mm256_add_epi64(*odd, one(_mm256_srli_epi64::<32>(x)));
}

/// Vector part of one interior row of the scale-0 masked numerator: fills the 32-bit column
/// sums of the faded bands for columns `left - 1 ..= right` (clamped to the band) and adds
/// the cubes of columns `left..simd_end` (a multiple of 8 wide, with libvmaf's vector
/// arithmetic) to `inner`. Requires `1 <= left`, `right < w` and `1 <= i < h - 1`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn cm_scale0_row(
    m: &super::cm::Masking<'_, i16>,
    i: usize,
    (left, simd_end, right): (usize, usize, usize),
    weights: [i32; 3],
    cubes: &[super::cm::Cube; 3],
    colsum: &mut [i32],
    inner: &mut [i64; 3],
) {
    let w = m.w;
    assert!(left >= 1 && right < w && i >= 1 && i + 1 < m.h && simd_end <= right);
    assert!((simd_end - left) % 8 == 0 && colsum.len() >= w);
    for b in m.faded.iter().chain(&m.weighted).chain(&m.measured) {
        assert!(b.len() >= w * m.h);
    }
    let (lo, hi) = (left - 1, right + 1);
    let rows = [(i - 1) * w, i * w, (i + 1) * w];
    let mut c = lo;
    while c + 8 <= hi {
        let mut acc = _mm256_setzero_si256();
        for band in &m.faded {
            for r in rows {
                // SAFETY: c + 8 <= hi <= w and the row lies inside the band (checked above).
                acc = _mm256_add_epi32(acc, unsafe { load_i16x8(band, r + c) });
            }
        }
        // SAFETY: AVX2 is enabled in this function; c + 8 <= w <= colsum.len().
        unsafe { store_i32x8(colsum, c, acc) };
        c += 8;
    }
    for c in c..hi {
        colsum[c] = m
            .faded
            .iter()
            .map(|band| rows.iter().map(|&r| i32::from(band[r + c])).sum::<i32>())
            .sum();
    }

    let here = i * w;
    let k8738 = _mm256_set1_epi32(8738);
    let k2048 = _mm256_set1_epi32(2048);
    let zero = _mm256_setzero_si256();
    let wv = weights.map(|v| _mm256_set1_epi32(v));
    let consts = cubes.map(|c| {
        (
            _mm_cvtsi64_si128(i64::from(c.sub_shift)),
            _mm256_set1_epi64x(c.sq_round),
            _mm_cvtsi64_si128(i64::from(c.sq_shift)),
            _mm256_set1_epi64x(c.cube_round),
            _mm_cvtsi64_si128(i64::from(c.cube_shift)),
        )
    });
    let mut acc = [(zero, zero); 3];
    let mut j = left;
    while j < simd_end {
        // SAFETY (loads below): j - 1 >= 0, j + 9 <= right + 1 <= w, rows inside the bands.
        let ring = unsafe {
            let sums = _mm256_add_epi32(
                _mm256_add_epi32(load_i32x8(colsum, j - 1), load_i32x8(colsum, j)),
                load_i32x8(colsum, j + 1),
            );
            let own = _mm256_add_epi32(
                _mm256_add_epi32(
                    load_i16x8(m.faded[0], here + j),
                    load_i16x8(m.faded[1], here + j),
                ),
                load_i16x8(m.faded[2], here + j),
            );
            _mm256_sub_epi32(sums, own)
        };
        let mut thr = ring;
        for band in &m.weighted {
            // SAFETY: as above.
            let v = unsafe { load_i16x8(band, here + j) };
            let centre = _mm256_srai_epi32::<12>(_mm256_add_epi32(
                _mm256_mullo_epi32(_mm256_abs_epi32(v), k8738),
                k2048,
            ));
            thr = _mm256_add_epi32(thr, centre);
        }
        for b in 0..3 {
            let (sub_shift, sq_round, sq_shift, cube_round, cube_shift) = consts[b];
            // SAFETY: as above.
            let x = _mm256_mullo_epi32(unsafe { load_i16x8(m.measured[b], here + j) }, wv[b]);
            let x = _mm256_max_epi32(
                _mm256_sub_epi32(_mm256_abs_epi32(x), _mm256_sll_epi32(thr, sub_shift)),
                zero,
            );
            let (even, odd) = &mut acc[b];
            // SAFETY: AVX2 is enabled in this function.
            unsafe { cube_accumulate(x, sq_round, sq_shift, cube_round, cube_shift, even, odd) };
        }
        j += 8;
    }
    for (total, (even, odd)) in inner.iter_mut().zip(acc) {
        // SAFETY: AVX2 is enabled in this function.
        let s = unsafe { hsum_epi64(_mm256_add_epi64(even, odd)) };
        *total = total.wrapping_add(s);
    }
}

/// Loads eight samples of a picture row widened to i32.
trait Load8 {
    /// # Safety
    /// `p + 8 <= s.len()` and AVX2 available.
    unsafe fn load8(s: &[Self], p: usize) -> __m256i
    where
        Self: Sized;
}

impl Load8 for u8 {
    #[inline(always)]
    unsafe fn load8(s: &[u8], p: usize) -> __m256i {
        debug_assert!(p + 8 <= s.len());
        // SAFETY: the caller keeps p + 8 within the slice and guarantees AVX2.
        unsafe { _mm256_cvtepu8_epi32(_mm_loadl_epi64(s.as_ptr().add(p).cast())) }
    }
}

impl Load8 for u16 {
    #[inline(always)]
    unsafe fn load8(s: &[u16], p: usize) -> __m256i {
        debug_assert!(p + 8 <= s.len());
        // SAFETY: the caller keeps p + 8 within the slice and guarantees AVX2.
        unsafe { _mm256_cvtepu16_epi32(_mm_loadu_si128(s.as_ptr().add(p).cast())) }
    }
}

/// Vertical scale-0 pass over the first `w / 8 * 8` columns of four picture rows, with
/// wrapping 32-bit arithmetic as the scalar twin; returns how many columns it did.
#[target_feature(enable = "avx2")]
unsafe fn dwt0_vertical<P: Load8>(
    rows: [&[P]; 4],
    bit_depth: u8,
    lo: &mut [i16],
    hi: Option<&mut [i16]>,
) -> usize {
    use super::dwt::{HI, LO};
    let w = rows[0].len();
    for r in &rows {
        assert!(r.len() >= w);
    }
    assert!(lo.len() >= w);
    let shift = u32::from(bit_depth);
    let round = 1i32 << (shift - 1);
    let offset = 46342i32.wrapping_mul(round);
    let count = _mm_cvtsi32_si128(shift as i32);
    let round_v = _mm256_set1_epi32(round);
    let lo_round = _mm256_set1_epi32(round.wrapping_sub(offset));
    let lo_t = LO.map(|v| _mm256_set1_epi32(v));
    let hi_t = HI.map(|v| _mm256_set1_epi32(v));
    let end = w / 8 * 8;
    let mut hi = hi;
    if let Some(h) = hi.as_deref() {
        assert!(h.len() >= w);
    }
    let mut j = 0;
    while j < end {
        // SAFETY: j + 8 <= w <= every row's length.
        let u = rows.map(|r| unsafe { P::load8(r, j) });
        let dot = |t: &[__m256i; 4]| {
            _mm256_add_epi32(
                _mm256_add_epi32(
                    _mm256_mullo_epi32(t[0], u[0]),
                    _mm256_mullo_epi32(t[1], u[1]),
                ),
                _mm256_add_epi32(
                    _mm256_mullo_epi32(t[2], u[2]),
                    _mm256_mullo_epi32(t[3], u[3]),
                ),
            )
        };
        let l = _mm256_sra_epi32(_mm256_add_epi32(dot(&lo_t), lo_round), count);
        // SAFETY: j + 8 <= w <= lo.len() (checked above).
        unsafe { store_i16x8(lo, j, narrow_trunc(l)) };
        if let Some(h) = hi.as_deref_mut() {
            let v = _mm256_sra_epi32(_mm256_add_epi32(dot(&hi_t), round_v), count);
            // SAFETY: as above.
            unsafe { store_i16x8(h, j, narrow_trunc(v)) };
        }
        j += 8;
    }
    end
}

/// Dispatches the vertical scale-0 pass on the sample type; returns how many columns it did
/// (0 for sample types it does not know).
#[target_feature(enable = "avx2")]
pub(super) unsafe fn dwt0_vertical_any<P: 'static>(
    rows: [&[P]; 4],
    bit_depth: u8,
    lo: &mut [i16],
    hi: Option<&mut [i16]>,
) -> usize {
    if let Some(r) = cast_rows::<P, u8>(rows) {
        // SAFETY: AVX2 is enabled in this function.
        return unsafe { dwt0_vertical(r, bit_depth, lo, hi) };
    }
    if let Some(r) = cast_rows::<P, u16>(rows) {
        // SAFETY: AVX2 is enabled in this function.
        return unsafe { dwt0_vertical(r, bit_depth, lo, hi) };
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

/// Interior horizontal scale-0 outputs `1..1 + 8k` (the largest such range ending at or
/// before `n - 1`, `n` = `low.len()`) of one intermediate row `src`; returns the end.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn dwt0_horizontal(
    src: &[i16],
    low: &mut [i16],
    high: Option<&mut [i16]>,
) -> usize {
    use super::dwt::{HI, LO};
    let n = low.len();
    if n < 10 {
        return 1;
    }
    let end = 1 + (n - 2) / 8 * 8;
    // The last chunk reads up to src[2 * end]; make sure that exists.
    assert!(2 * end < src.len());
    let pair = |a: i32, b: i32| _mm256_set1_epi32((a & 0xFFFF) | (b << 16));
    let (lo01, lo23) = (pair(LO[0], LO[1]), pair(LO[2], LO[3]));
    let (hi01, hi23) = (pair(HI[0], HI[1]), pair(HI[2], HI[3]));
    let round = _mm256_set1_epi32(32768);
    let mut high = high;
    if let Some(h) = high.as_deref() {
        assert!(h.len() >= n);
    }
    let mut j = 1;
    while j < end {
        // SAFETY: 2j + 15 < 2 * end < src.len(); 16 samples from 2j - 1 and from 2j + 1.
        let (p, q) = unsafe {
            (
                _mm256_loadu_si256(src.as_ptr().add(2 * j - 1).cast()),
                _mm256_loadu_si256(src.as_ptr().add(2 * j + 1).cast()),
            )
        };
        let l = _mm256_add_epi32(_mm256_madd_epi16(p, lo01), _mm256_madd_epi16(q, lo23));
        let l = _mm256_srai_epi32::<16>(_mm256_add_epi32(l, round));
        // SAFETY: j + 8 <= end <= n - 1.
        unsafe { store_i16x8(low, j, narrow_trunc(l)) };
        if let Some(h) = high.as_deref_mut() {
            let v = _mm256_add_epi32(_mm256_madd_epi16(p, hi01), _mm256_madd_epi16(q, hi23));
            let v = _mm256_srai_epi32::<16>(_mm256_add_epi32(v, round));
            // SAFETY: as above.
            unsafe { store_i16x8(h, j, narrow_trunc(v)) };
        }
        j += 8;
    }
    end
}

/// Vector part of `csf::weigh_scale0` for one band row: columns `left..tail` (a multiple of
/// 8 wide), saturating to 16 bits as libvmaf's vector code does.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn weigh_scale0_row(
    s: &[i16],
    d: &mut [i16],
    f: &mut [i16],
    (left, tail): (usize, usize),
    weight: i32,
    (round, shift): (i32, u32),
) {
    assert!((tail - left) % 8 == 0 && tail <= s.len() && tail <= d.len() && tail <= f.len());
    let weight = _mm256_set1_epi32(weight);
    let round = _mm256_set1_epi32(round);
    let count = _mm_cvtsi32_si128(shift as i32);
    let k4369 = _mm256_set1_epi32(4369);
    let k2048 = _mm256_set1_epi32(2048);
    let sat = |v: __m256i| {
        let p = _mm256_packs_epi32(v, v);
        _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b1000>(p))
    };
    let mut j = left;
    while j < tail {
        // SAFETY: j + 8 <= tail <= s.len().
        let x = unsafe { load_i16x8(s, j) };
        let v = _mm256_sra_epi32(
            _mm256_add_epi32(_mm256_mullo_epi32(x, weight), round),
            count,
        );
        let m = _mm256_srai_epi32::<12>(_mm256_add_epi32(
            _mm256_mullo_epi32(_mm256_abs_epi32(v), k4369),
            k2048,
        ));
        // SAFETY: j + 8 <= tail <= d.len(), f.len().
        unsafe {
            store_i16x8(d, j, sat(v));
            store_i16x8(f, j, sat(m));
        }
        j += 8;
    }
}

/// `(taps · samples + round) >> shift` on the even (low-dword) lanes of four i32 sample
/// vectors, in 64 bits; the low 32 bits of each 64-bit lane hold the result.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn filter64(
    taps: &[__m256i; 4],
    s: [__m256i; 4],
    round: __m256i,
    shift: __m128i,
) -> __m256i {
    let acc = _mm256_add_epi64(
        _mm256_add_epi64(
            _mm256_mul_epi32(taps[0], s[0]),
            _mm256_mul_epi32(taps[1], s[1]),
        ),
        _mm256_add_epi64(
            _mm256_mul_epi32(taps[2], s[2]),
            _mm256_mul_epi32(taps[3], s[3]),
        ),
    );
    // Shifts here are at most 16, so bits shift..shift+31 are the same for a logical shift.
    _mm256_srl_epi64(_mm256_add_epi64(acc, round), shift)
}

/// Loads eight coefficients of a scale 1-3 input row as i32 lanes.
trait LoadCoef: Copy {
    /// # Safety
    /// `p + 8 <= s.len()` and AVX2 available.
    unsafe fn load_coef8(s: &[Self], p: usize) -> __m256i
    where
        Self: Sized;
}

impl LoadCoef for i16 {
    #[inline(always)]
    unsafe fn load_coef8(s: &[i16], p: usize) -> __m256i {
        // SAFETY: forwarded from the caller.
        unsafe { load_i16x8(s, p) }
    }
}

impl LoadCoef for i32 {
    #[inline(always)]
    unsafe fn load_coef8(s: &[i32], p: usize) -> __m256i {
        // SAFETY: forwarded from the caller.
        unsafe { load_i32x8(s, p) }
    }
}

/// Dispatches the vertical scale 1-3 pass on the coefficient type; returns how many columns
/// it did (0 for types it does not know).
#[target_feature(enable = "avx2")]
pub(super) unsafe fn dwt_lower_vertical_any<T: 'static>(
    src: &[&[T]; 4],
    rs: (i64, u32),
    lo: &mut [i32],
    hi: &mut [i32],
) -> usize {
    if let Some(r) = cast_rows::<T, i16>(*src) {
        // SAFETY: AVX2 is enabled in this function.
        return unsafe { dwt_lower_vertical(&r, rs, lo, hi) };
    }
    if let Some(r) = cast_rows::<T, i32>(*src) {
        // SAFETY: AVX2 is enabled in this function.
        return unsafe { dwt_lower_vertical(&r, rs, lo, hi) };
    }
    0
}

/// Vertical scale 1-3 pass over the first `w / 8 * 8` columns; returns how many it did.
#[target_feature(enable = "avx2")]
unsafe fn dwt_lower_vertical<T: LoadCoef>(
    src: &[&[T]; 4],
    (round, shift): (i64, u32),
    lo: &mut [i32],
    hi: &mut [i32],
) -> usize {
    use super::dwt::{HI, LO};
    let w = lo.len();
    assert!(hi.len() == w && src.iter().all(|s| s.len() >= w));
    let lo_t = LO.map(|v| _mm256_set1_epi64x(i64::from(v)));
    let hi_t = HI.map(|v| _mm256_set1_epi64x(i64::from(v)));
    let round = _mm256_set1_epi64x(round);
    let count = _mm_cvtsi32_si128(shift as i32);
    let end = w / 8 * 8;
    let mut j = 0;
    while j < end {
        // SAFETY: j + 8 <= w <= each row's length; AVX2 is enabled in this function.
        unsafe {
            let s = src.map(|r| T::load_coef8(r, j));
            let so = s.map(|v| _mm256_srli_epi64::<32>(v));
            let l = interleave_low32(
                filter64(&lo_t, s, round, count),
                filter64(&lo_t, so, round, count),
            );
            let h = interleave_low32(
                filter64(&hi_t, s, round, count),
                filter64(&hi_t, so, round, count),
            );
            store_i32x8(lo, j, l);
            store_i32x8(hi, j, h);
        }
        j += 8;
    }
    end
}

/// Interior horizontal scale 1-3 outputs `1..1 + 8k` (the largest such range ending at or
/// before `n - 1`) of the row at `start` in `buf`; returns the end.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn dwt_lower_horizontal(
    buf: &[i32],
    start: usize,
    (round, shift): (i64, u32),
    low: &mut [i32],
    high: &mut [i32],
) -> usize {
    use super::dwt::{HI, LO};
    let n = low.len();
    if n < 10 {
        return 1;
    }
    let end = 1 + (n - 2) / 8 * 8;
    assert!(high.len() == n && start + 2 * end < buf.len());
    let lo_t = LO.map(|v| _mm256_set1_epi64x(i64::from(v)));
    let hi_t = HI.map(|v| _mm256_set1_epi64x(i64::from(v)));
    let round = _mm256_set1_epi64x(round);
    let count = _mm_cvtsi32_si128(shift as i32);
    let order = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    let mut j = 1;
    while j < end {
        // SAFETY: the highest sample read is start + 2j + 16 <= start + 2 * end (asserted);
        // AVX2 is enabled in this function.
        unsafe {
            let at = |k: usize| load_i32x8(buf, start + k);
            let quad = |base: usize| {
                let (p, q) = (at(base - 1), at(base + 1));
                [p, _mm256_srli_epi64::<32>(p), q, _mm256_srli_epi64::<32>(q)]
            };
            let (first, second) = (quad(2 * j), quad(2 * j + 8));
            let join = |a: __m256i, b: __m256i| {
                _mm256_permutevar8x32_epi32(
                    _mm256_blend_epi32::<0b1010_1010>(a, _mm256_slli_epi64::<32>(b)),
                    order,
                )
            };
            let l = join(
                filter64(&lo_t, first, round, count),
                filter64(&lo_t, second, round, count),
            );
            let h = join(
                filter64(&hi_t, first, round, count),
                filter64(&hi_t, second, round, count),
            );
            store_i32x8(low, j, l);
            store_i32x8(high, j, h);
        }
        j += 8;
    }
    end
}

/// Sign-extends the low dword of each 64-bit lane.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn sext_low32(v: __m256i) -> __m256i {
    _mm256_blend_epi32::<0b1010_1010>(v, _mm256_srai_epi32::<31>(_mm256_slli_epi64::<32>(v)))
}

/// Loads four i32 at `p` sign-extended to i64 lanes.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_i32x4_wide(s: &[i32], p: usize) -> __m256i {
    assert!(p + 4 <= s.len());
    // SAFETY: bounds checked above.
    unsafe { _mm256_cvtepi32_epi64(_mm_loadu_si128(s.as_ptr().add(p).cast())) }
}

/// Vector part of the scale 1-3 masked numerator over `ring.len() / 4 * 4` columns, with
/// libvmaf's vector arithmetic (`Cube::vector_wide`, signed weights); returns the number of
/// columns done.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn cm_lower_span(
    ring: &[i64],
    weighted: [&[i32]; 3],
    measured: [&[i32]; 3],
    weights: [u32; 3],
    cube: &super::cm::Cube,
    inner: &mut [i64; 3],
) -> usize {
    let n = ring.len();
    let end = n / 4 * 4;
    assert!(weighted.iter().chain(&measured).all(|b| b.len() >= n));
    let zero = _mm256_setzero_si256();
    let one_by_15 = _mm256_set1_epi64x(286331153);
    let q32_round = _mm256_set1_epi64x(super::csf::Q32_ROUND);
    let half28 = _mm256_set1_epi64x(1 << 27);
    let wv = weights.map(|v| _mm256_set1_epi64x(i64::from(v as i32)));
    let sq_round = _mm256_set1_epi64x(cube.sq_round);
    let sq_shift = _mm_cvtsi64_si128(i64::from(cube.sq_shift));
    let cube_round = _mm256_set1_epi64x(cube.cube_round);
    let cube_shift = _mm_cvtsi64_si128(i64::from(cube.cube_shift));
    let mut acc = [zero; 3];
    let mut k = 0;
    while k < end {
        // SAFETY (loads): k + 4 <= n <= every slice's length.
        let mut thr = unsafe { _mm256_loadu_si256(ring.as_ptr().add(k).cast()) };
        for band in &weighted {
            // SAFETY: as above.
            let v = unsafe { _mm_loadu_si128(band.as_ptr().add(k).cast()) };
            let prod = _mm256_add_epi64(
                _mm256_mul_epi32(_mm256_cvtepi32_epi64(_mm_abs_epi32(v)), one_by_15),
                q32_round,
            );
            // Arithmetic shift by 32: the high dword, sign-extended.
            let centre = _mm256_blend_epi32::<0b1010_1010>(
                _mm256_srli_epi64::<32>(prod),
                _mm256_srai_epi32::<31>(prod),
            );
            thr = _mm256_add_epi64(thr, centre);
        }
        for b in 0..3 {
            // SAFETY: as above.
            let m = unsafe { load_i32x4_wide(measured[b], k) };
            let v = _mm256_add_epi64(_mm256_mul_epi32(m, wv[b]), half28);
            let sign = _mm256_cmpgt_epi64(zero, v);
            let x = _mm256_xor_si256(_mm256_srli_epi64::<28>(_mm256_xor_si256(v, sign)), sign);
            let neg = _mm256_cmpgt_epi64(zero, x);
            // SAFETY: AVX2 is enabled in this function.
            let flipped = _mm256_sub_epi64(zero, unsafe { sext_low32(x) });
            let x = _mm256_blendv_epi8(x, flipped, neg);
            let x = _mm256_sub_epi64(x, thr);
            let x = _mm256_andnot_si256(_mm256_cmpgt_epi64(zero, x), x);
            // SAFETY: AVX2 is enabled in this function.
            let lx = unsafe { sext_low32(x) };
            let sq = _mm256_srl_epi64(
                _mm256_add_epi64(_mm256_mul_epi32(lx, lx), sq_round),
                sq_shift,
            );
            let p = _mm256_srl_epi64(
                _mm256_add_epi64(_mm256_mul_epi32(sq, lx), cube_round),
                cube_shift,
            );
            acc[b] = _mm256_add_epi64(acc[b], p);
        }
        k += 4;
    }
    for (total, a) in inner.iter_mut().zip(acc) {
        // SAFETY: AVX2 is enabled in this function.
        *total = total.wrapping_add(unsafe { hsum_epi64(a) });
    }
    end
}

/// Vector part of `csf::weigh_lower` for one band row: columns `left..tail` (a multiple of
/// 8 wide), with the Q32 weight read as a signed 32-bit value as libvmaf's vector code does.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn weigh_lower_row(
    s: &[i32],
    d: &mut [i32],
    f: &mut [i32],
    (left, tail): (usize, usize),
    weight: u32,
) {
    assert!((tail - left) % 8 == 0 && tail <= s.len() && tail <= d.len() && tail <= f.len());
    let weight = _mm256_set1_epi64x(i64::from(weight as i32));
    let half = _mm256_set1_epi64x(1 << 27);
    let one_by_30 = _mm256_set1_epi64x(143165577);
    let round = _mm256_set1_epi64x(super::csf::Q32_ROUND);
    let mut j = left;
    while j < tail {
        // SAFETY: j + 8 <= tail <= s.len().
        let x = unsafe { load_i32x8(s, j) };
        let weigh = |x: __m256i| {
            _mm256_srli_epi64::<28>(_mm256_add_epi64(_mm256_mul_epi32(x, weight), half))
        };
        // SAFETY: AVX2 is enabled in this function.
        let v = unsafe { interleave_low32(weigh(x), weigh(_mm256_srli_epi64::<32>(x))) };
        let a = _mm256_abs_epi32(v);
        let fade = |a: __m256i| _mm256_add_epi64(_mm256_mul_epi32(a, one_by_30), round);
        let m = _mm256_blend_epi32::<0b1010_1010>(
            _mm256_srli_epi64::<32>(fade(a)),
            fade(_mm256_srli_epi64::<32>(a)),
        );
        // SAFETY: j + 8 <= tail <= d.len(), f.len().
        unsafe {
            store_i32x8(d, j, v);
            store_i32x8(f, j, m);
        }
        j += 8;
    }
}

/// The f32 nearest to each i64 lane (ties to even, as Rust's `as f32`), widened to f64.
/// The lane is first summed exactly-or-rounded-to-odd into f64 (53 bits, enough for a
/// single correct rounding to f32's 24).
#[inline]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn i64_to_f32_as_f64(v: __m256i) -> __m256d {
    let hi = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(
        v,
        _mm256_setr_epi32(1, 3, 5, 7, 1, 3, 5, 7),
    ));
    let a = _mm256_mul_pd(_mm256_cvtepi32_pd(hi), _mm256_set1_pd(4294967296.0));
    let magic = _mm256_set1_epi64x(0x4330_0000_0000_0000);
    let lo_bits = _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi64x(0xFFFF_FFFF)), magic);
    let b = _mm256_sub_pd(_mm256_castsi256_pd(lo_bits), _mm256_castsi256_pd(magic));
    let s = _mm256_add_pd(a, b);
    let bb = _mm256_sub_pd(s, a);
    let err = _mm256_add_pd(_mm256_sub_pd(a, _mm256_sub_pd(s, bb)), _mm256_sub_pd(b, bb));
    let zero = _mm256_setzero_pd();
    let inexact = _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_NEQ_OQ>(err, zero));
    let s_bits = _mm256_castpd_si256(s);
    let even = _mm256_cmpeq_epi64(
        _mm256_and_si256(s_bits, _mm256_set1_epi64x(1)),
        _mm256_setzero_si256(),
    );
    // Moving away from zero adds one to the bit pattern, towards zero subtracts one.
    let away = _mm256_castpd_si256(_mm256_xor_pd(
        _mm256_cmp_pd::<_CMP_GT_OQ>(err, zero),
        _mm256_cmp_pd::<_CMP_GT_OQ>(s, zero),
    ));
    // away is all ones when the signs differ (towards zero): step -1, else +1.
    let step = _mm256_or_si256(away, _mm256_set1_epi64x(1));
    let nudged = _mm256_add_epi64(
        s_bits,
        _mm256_and_si256(step, _mm256_and_si256(inexact, even)),
    );
    _mm256_cvtps_pd(_mm256_cvtpd_ps(_mm256_castsi256_pd(nudged)))
}

/// libvmaf's one-degree test on eight columns of arbitrary 32-bit coefficients, with the dot
/// product and magnitudes formed exactly in 64 bits (wrapping as the scalar twin does).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn angle_mask_wide(
    o0: __m256i,
    o1: __m256i,
    t0: __m256i,
    t1: __m256i,
    cos_sq: f64,
) -> __m256i {
    let scale = _mm256_set1_pd(1.0 / 4096.0);
    let cos = _mm256_set1_pd(cos_sq);
    let zero = _mm256_setzero_pd();
    let test = |a0: __m256i, a1: __m256i, b0: __m256i, b1: __m256i| -> __m256i {
        let sum = |x0: __m256i, y0: __m256i, x1: __m256i, y1: __m256i| {
            _mm256_add_epi64(_mm256_mul_epi32(x0, y0), _mm256_mul_epi32(x1, y1))
        };
        // SAFETY: AVX2 is enabled in this function.
        let f = |v: __m256i| _mm256_mul_pd(unsafe { i64_to_f32_as_f64(v) }, scale);
        let dot = f(sum(a0, b0, a1, b1));
        let osq = f(sum(a0, a0, a1, a1));
        let tsq = f(sum(b0, b0, b1, b1));
        let rhs = _mm256_mul_pd(_mm256_mul_pd(cos, osq), tsq);
        _mm256_castpd_si256(_mm256_and_pd(
            _mm256_cmp_pd::<_CMP_GE_OQ>(dot, zero),
            _mm256_cmp_pd::<_CMP_GE_OQ>(_mm256_mul_pd(dot, dot), rhs),
        ))
    };
    let odd = |v: __m256i| _mm256_srli_epi64::<32>(v);
    let even_mask = test(o0, o1, t0, t1);
    let odd_mask = test(odd(o0), odd(o1), odd(t0), odd(t1));
    _mm256_blend_epi32::<0b1010_1010>(even_mask, odd_mask)
}

/// Wrapping sum of |x|^3 over a row of the scale-0 reference detail (the inner sum of
/// `csf::denominator_scale0`).
#[target_feature(enable = "avx2")]
pub(super) unsafe fn cube_sum_i16(s: &[i16]) -> u64 {
    let end = s.len() / 8 * 8;
    let mut acc = _mm256_setzero_si256();
    let mut j = 0;
    while j < end {
        // |x| <= 32768 as an unsigned lane, |x|^2 fits 32 bits, |x|^3 fits 64.
        // SAFETY: j + 8 <= s.len().
        let m = _mm256_abs_epi32(unsafe { load_i16x8(s, j) });
        let sq = _mm256_mullo_epi32(m, m);
        acc = _mm256_add_epi64(acc, _mm256_mul_epu32(sq, m));
        acc = _mm256_add_epi64(
            acc,
            _mm256_mul_epu32(_mm256_srli_epi64::<32>(sq), _mm256_srli_epi64::<32>(m)),
        );
        j += 8;
    }
    // SAFETY: AVX2 is enabled in this function.
    let mut total = unsafe { hsum_epi64(acc) } as u64;
    for &x in &s[end..] {
        let m = u64::from(x.unsigned_abs());
        total = total.wrapping_add(m * m * m);
    }
    total
}

/// Wrapping sum over a row of scale 1-3 reference detail of libvmaf's rounded cube
/// `((|x|^2 + sq_round) >> sq_shift) * |x|`, plus `cube_round`, `>> cube_shift` (the inner sum
/// of `csf::denominator_lower`).
#[target_feature(enable = "avx2")]
pub(super) unsafe fn cube_sum_i32(
    s: &[i32],
    (sq_round, sq_shift): (u64, u32),
    (cube_round, cube_shift): (u64, u32),
) -> u64 {
    let end = s.len() / 8 * 8;
    let sq_round_v = _mm256_set1_epi64x(sq_round as i64);
    let sq_count = _mm_cvtsi64_si128(i64::from(sq_shift & 63));
    let cube_round_v = _mm256_set1_epi64x(cube_round as i64);
    let cube_count = _mm_cvtsi64_si128(i64::from(cube_shift & 63));
    let low32 = _mm256_set1_epi64x(0xFFFF_FFFF);
    let cube = |m: __m256i| {
        // m: zero-extended |x| per 64-bit lane. sq has up to 33 bits: its two halves are
        // multiplied separately for the wrapping 64-bit product.
        let sq = _mm256_srl_epi64(
            _mm256_add_epi64(_mm256_mul_epu32(m, m), sq_round_v),
            sq_count,
        );
        let prod = _mm256_add_epi64(
            _mm256_mul_epu32(sq, m),
            _mm256_slli_epi64::<32>(_mm256_mul_epu32(_mm256_srli_epi64::<32>(sq), m)),
        );
        _mm256_srl_epi64(_mm256_add_epi64(prod, cube_round_v), cube_count)
    };
    let mut acc = _mm256_setzero_si256();
    let mut j = 0;
    while j < end {
        // SAFETY: j + 8 <= s.len().
        let m = _mm256_abs_epi32(unsafe { load_i32x8(s, j) });
        acc = _mm256_add_epi64(acc, cube(_mm256_and_si256(m, low32)));
        acc = _mm256_add_epi64(acc, cube(_mm256_srli_epi64::<32>(m)));
        j += 8;
    }
    // SAFETY: AVX2 is enabled in this function.
    let mut total = unsafe { hsum_epi64(acc) } as u64;
    for &x in &s[end..] {
        let m = u64::from(x.unsigned_abs());
        let sq = m
            .wrapping_mul(m)
            .wrapping_add(sq_round)
            .wrapping_shr(sq_shift);
        total = total.wrapping_add(
            sq.wrapping_mul(m)
                .wrapping_add(cube_round)
                .wrapping_shr(cube_shift),
        );
    }
    total
}

/// AVX2 twin of the interior part of `cm::ring_row` at scales 1-3: `sums[c]` gets the 64-bit
/// sum of the three faded bands over rows `i - 1 ..= i + 1` for columns `left - 1 ..= right`,
/// and `ring[j]` for `j` in `left..right` the 3x3 sum minus the centre samples. Requires
/// `1 <= left`, `right < w` and `1 <= i < h - 1`.
#[target_feature(enable = "avx2")]
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
    while c + 4 <= hi {
        let mut acc = _mm256_setzero_si256();
        for band in &bands {
            for r in rows {
                // SAFETY: r + c + 4 <= r + hi <= the band's length.
                acc = _mm256_add_epi64(acc, unsafe { load_i32x4_wide(band, r + c) });
            }
        }
        // SAFETY: c + 4 <= hi <= w <= sums.len().
        unsafe { _mm256_storeu_si256(sums.as_mut_ptr().add(c).cast(), acc) };
        c += 4;
    }
    for c in c..hi {
        sums[c] = bands
            .iter()
            .map(|b| rows.iter().map(|&r| i64::from(b[r + c])).sum::<i64>())
            .sum();
    }
    let here = i * w;
    let mut j = left;
    while j + 4 <= right {
        // SAFETY: j - 1 >= 0 and j + 5 <= right + 1 = hi <= sums.len(); the centre loads stay
        // inside row i.
        unsafe {
            let at = |k: usize| _mm256_loadu_si256(sums.as_ptr().add(k).cast());
            let s = _mm256_add_epi64(_mm256_add_epi64(at(j - 1), at(j)), at(j + 1));
            let own = _mm256_add_epi64(
                _mm256_add_epi64(
                    load_i32x4_wide(bands[0], here + j),
                    load_i32x4_wide(bands[1], here + j),
                ),
                load_i32x4_wide(bands[2], here + j),
            );
            _mm256_storeu_si256(ring.as_mut_ptr().add(j).cast(), _mm256_sub_epi64(s, own));
        }
        j += 4;
    }
    for j in j..right {
        let own: i64 = bands.iter().map(|b| i64::from(b[here + j])).sum();
        ring[j] = sums[j - 1] + sums[j] + sums[j + 1] - own;
    }
}
