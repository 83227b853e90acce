//! The covariance sum of two shifted windows of the high-passed picture, in f64.
//!
//! libvmaf's tool runs its AVX2 kernel here wherever the CPU has AVX2 (and its AVX-512 one
//! where AVX-512 is enabled; the reference goldens are made with `--cpumask 48`, which masks
//! that). The AVX2 kernel's sum differs from its plain C loop: per row it fuses multiply-adds
//! into two 4-lane accumulators (elements `j..j+4` into the first, `j+4..j+8` into the
//! second, a 4-element remainder into the first, the last `width % 4` into a separate
//! unfused scalar sum), and adds the lanes up once at the end. Every twin here reproduces
//! exactly that sum: the scalar twin with `f64::mul_add` (a single rounding, as FMA).

use crate::cpu::SimdLevel;

/// One window pair: `x` and `y` start at their windows' top-left samples of a picture with
/// row stride `stride`; the windows are `width` x `height`.
#[derive(Clone, Copy)]
pub(crate) struct Windows<'a> {
    pub x: &'a [f32],
    pub y: &'a [f32],
    pub stride: usize,
    pub width: usize,
    pub height: usize,
}

/// `Σ (x - mx)(y - my)` over the windows, summed as libvmaf's AVX2 kernel sums it.
pub(crate) fn cov_sum(level: SimdLevel, w: Windows<'_>, mx: f64, my: f64) -> f64 {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 | SimdLevel::Avx512 => {
            // SAFETY: the scorer only picks a level the CPU supports, and AVX-512 implies
            // AVX2 and FMA on every CPU that has it.
            unsafe { cov_sum_avx2(w, mx, my) }
        }
        _ => cov_sum_scalar(w, mx, my),
    }
}

/// The scalar twin.
pub(crate) fn cov_sum_scalar(w: Windows<'_>, mx: f64, my: f64) -> f64 {
    let mut acc0 = [0.0f64; 4];
    let mut acc1 = [0.0f64; 4];
    let mut tail = 0.0f64;
    for i in 0..w.height {
        let rx = &w.x[i * w.stride..i * w.stride + w.width];
        let ry = &w.y[i * w.stride..i * w.stride + w.width];
        let mut j = 0;
        while j + 8 <= w.width {
            for l in 0..4 {
                let (cx, cy) = (f64::from(rx[j + l]) - mx, f64::from(ry[j + l]) - my);
                acc0[l] = cx.mul_add(cy, acc0[l]);
                let (cx, cy) = (f64::from(rx[j + 4 + l]) - mx, f64::from(ry[j + 4 + l]) - my);
                acc1[l] = cx.mul_add(cy, acc1[l]);
            }
            j += 8;
        }
        while j + 4 <= w.width {
            for l in 0..4 {
                let (cx, cy) = (f64::from(rx[j + l]) - mx, f64::from(ry[j + l]) - my);
                acc0[l] = cx.mul_add(cy, acc0[l]);
            }
            j += 4;
        }
        while j < w.width {
            tail += (f64::from(rx[j]) - mx) * (f64::from(ry[j]) - my);
            j += 1;
        }
    }
    let s = [
        acc0[0] + acc1[0],
        acc0[1] + acc1[1],
        acc0[2] + acc1[2],
        acc0[3] + acc1[3],
    ];
    s[0] + s[1] + s[2] + s[3] + tail
}

/// The AVX2 twin.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn cov_sum_avx2(w: Windows<'_>, mx: f64, my: f64) -> f64 {
    use std::arch::x86_64::*;
    let mut acc0 = _mm256_setzero_pd();
    let mut acc1 = _mm256_setzero_pd();
    let vmx = _mm256_set1_pd(mx);
    let vmy = _mm256_set1_pd(my);
    let mut tail = 0.0f64;
    for i in 0..w.height {
        let rx = &w.x[i * w.stride..i * w.stride + w.width];
        let ry = &w.y[i * w.stride..i * w.stride + w.width];
        let mut j = 0;
        while j + 8 <= w.width {
            // SAFETY: j + 8 <= width, the length of both row slices.
            let (fx0, fx1, fy0, fy1) = unsafe {
                (
                    _mm_loadu_ps(rx.as_ptr().add(j)),
                    _mm_loadu_ps(rx.as_ptr().add(j + 4)),
                    _mm_loadu_ps(ry.as_ptr().add(j)),
                    _mm_loadu_ps(ry.as_ptr().add(j + 4)),
                )
            };
            let cx0 = _mm256_sub_pd(_mm256_cvtps_pd(fx0), vmx);
            let cx1 = _mm256_sub_pd(_mm256_cvtps_pd(fx1), vmx);
            let cy0 = _mm256_sub_pd(_mm256_cvtps_pd(fy0), vmy);
            let cy1 = _mm256_sub_pd(_mm256_cvtps_pd(fy1), vmy);
            acc0 = _mm256_fmadd_pd(cx0, cy0, acc0);
            acc1 = _mm256_fmadd_pd(cx1, cy1, acc1);
            j += 8;
        }
        while j + 4 <= w.width {
            // SAFETY: j + 4 <= width.
            let (fx, fy) = unsafe {
                (
                    _mm_loadu_ps(rx.as_ptr().add(j)),
                    _mm_loadu_ps(ry.as_ptr().add(j)),
                )
            };
            let cx = _mm256_sub_pd(_mm256_cvtps_pd(fx), vmx);
            let cy = _mm256_sub_pd(_mm256_cvtps_pd(fy), vmy);
            acc0 = _mm256_fmadd_pd(cx, cy, acc0);
            j += 4;
        }
        while j < w.width {
            tail += (f64::from(rx[j]) - mx) * (f64::from(ry[j]) - my);
            j += 1;
        }
    }
    let acc = _mm256_add_pd(acc0, acc1);
    let mut s = [0.0f64; 4];
    // SAFETY: `s` holds four doubles.
    unsafe { _mm256_storeu_pd(s.as_mut_ptr(), acc) };
    s[0] + s[1] + s[2] + s[3] + tail
}
