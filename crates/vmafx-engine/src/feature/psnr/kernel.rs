//! Scalar kernels of the PSNR extractor: sums of squared sample differences over plane
//! regions, with libvmaf v3.2.0's accumulator widths, and the dispatch to their SIMD twins in
//! [`super::avx2`] and [`super::avx512`].

use crate::cpu::SimdLevel;
use crate::picture::Plane;

/// Sum of squared differences of two 8-bit rows. The sum wraps at 2^32 as libvmaf's per-row
/// accumulator does, which only matters for rows wider than 66 051 samples.
#[inline]
pub fn row_sse_u8(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).fold(0u32, |acc, (&x, &y)| {
        let d = i32::from(x) - i32::from(y);
        acc.wrapping_add((d * d) as u32)
    })
}

/// Sum of squared differences of two rows of up to 16-bit samples. Each square fits a `u32`
/// and the sum is kept in 64 bits, so nothing wraps.
#[inline]
pub fn row_sse_u16(a: &[u16], b: &[u16]) -> u64 {
    a.iter().zip(b).fold(0u64, |acc, (&x, &y)| {
        let d = u32::from(x.abs_diff(y));
        acc + u64::from(d * d)
    })
}

/// Sum of squared differences over the top-left `width` × `height` region of two 8-bit planes,
/// on the kernels of `level` (which the caller checked this CPU runs).
pub fn plane_sse_u8(
    level: SimdLevel,
    a: &Plane<u8>,
    b: &Plane<u8>,
    width: usize,
    height: usize,
) -> u64 {
    #[cfg(target_arch = "x86_64")]
    match level {
        SimdLevel::Avx512 => {
            assert!(level.is_supported());
            // SAFETY: AVX-512 was checked just above; the kernel slices every row it reads.
            return unsafe { super::avx512::plane_sse_u8(a, b, width, height) };
        }
        SimdLevel::Avx2 => {
            assert!(level.is_supported());
            // SAFETY: AVX2 was checked just above; the kernel slices every row it reads.
            return unsafe { super::avx2::plane_sse_u8(a, b, width, height) };
        }
        SimdLevel::Scalar => {}
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    (0..height)
        .map(|y| {
            let (ra, rb) = (&a.row(y)[..width], &b.row(y)[..width]);
            u64::from(row_sse_u8(ra, rb))
        })
        .sum()
}

/// Sum of squared differences over the top-left `width` × `height` region of two planes of
/// samples of at most `bit_depth` bits, on the kernels of `level` (which the caller checked
/// this CPU runs).
pub fn plane_sse_u16(
    level: SimdLevel,
    a: &Plane<u16>,
    b: &Plane<u16>,
    width: usize,
    height: usize,
    bit_depth: u8,
) -> u64 {
    #[cfg(target_arch = "x86_64")]
    match level {
        SimdLevel::Avx512 => {
            assert!(level.is_supported());
            // SAFETY: AVX-512 was checked just above; the kernel slices every row it reads.
            return unsafe { super::avx512::plane_sse_u16(a, b, width, height, bit_depth) };
        }
        SimdLevel::Avx2 => {
            assert!(level.is_supported());
            // SAFETY: AVX2 was checked just above; the kernel slices every row it reads.
            return unsafe { super::avx2::plane_sse_u16(a, b, width, height, bit_depth) };
        }
        SimdLevel::Scalar => {}
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (level, bit_depth);
    (0..height)
        .map(|y| row_sse_u16(&a.row(y)[..width], &b.row(y)[..width]))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_bit_rows_wrap_like_a_u32_accumulator() {
        // 66 052 maximal differences overflow 32 bits by exactly one square's worth minus 2^32.
        let a = vec![255u8; 66_052];
        let b = vec![0u8; 66_052];
        let exact = 66_052u64 * 65_025;
        assert_eq!(u64::from(row_sse_u8(&a, &b)), exact - (1 << 32));
        assert_eq!(row_sse_u8(&a[..3], &b[..3]), 3 * 65_025);
    }

    #[test]
    fn sixteen_bit_rows_do_not_wrap() {
        let a = vec![65_535u16; 3];
        let b = vec![0u16, 65_535, 1];
        assert_eq!(row_sse_u16(&a, &b), 65_535u64 * 65_535 + 65_534 * 65_534);
    }
}
