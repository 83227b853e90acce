//! Constants of libvmaf's integer VIF: the per-scale Gaussian taps and the fixed-point log2
//! table the information sums are built from.

use std::sync::OnceLock;

/// Gaussian taps (Q16, each set sums to 65536) of scale 0.
const TAPS_SCALE0: [u16; 17] = [
    489, 935, 1640, 2640, 3896, 5274, 6547, 7455, 7784, 7455, 6547, 5274, 3896, 2640, 1640, 935,
    489,
];
/// Taps of scale 1, also the low-pass applied before decimating scale 0.
const TAPS_SCALE1: [u16; 9] = [1244, 3663, 7925, 12590, 14692, 12590, 7925, 3663, 1244];
/// Taps of scale 2.
const TAPS_SCALE2: [u16; 5] = [3571, 16004, 26386, 16004, 3571];
/// Taps of scale 3.
const TAPS_SCALE3: [u16; 3] = [10904, 43728, 10904];

/// The filter of each scale. Scale `s + 1`'s filter is also the anti-alias filter used when
/// decimating scale `s`.
pub(super) const TAPS: [&[u16]; 4] = [&TAPS_SCALE0, &TAPS_SCALE1, &TAPS_SCALE2, &TAPS_SCALE3];

/// Widest half-filter of any scale: how far rows and columns are ever mirrored.
pub(super) const MAX_HALF: usize = TAPS_SCALE0.len() / 2;

/// The additive noise variance `sigma_n^2 = 2.0` in the Q16 fixed point of the variances.
pub(super) const SIGMA_NSQ: i32 = 2 << 16;

/// `round(log2f(m) * 2048)` for mantissas `m` in `32768..=65535`, indexed by `m & 0x7fff`,
/// plus one spare zero entry that SIMD code points masked-off lanes at.
pub(super) struct Log2Table(Box<[u16; 32769]>);

impl Log2Table {
    /// The shared table, computed on first use.
    pub(super) fn get() -> &'static Log2Table {
        static TABLE: OnceLock<Log2Table> = OnceLock::new();
        TABLE.get_or_init(|| {
            let mut t = Box::new([0u16; 32769]);
            for (i, slot) in t[..32768].iter_mut().enumerate() {
                let m = (32768 + i) as f64;
                // libvmaf takes a single-precision log2 and scales it by 2048 in float before
                // rounding. Rounding the double-precision log to f32 gives the same float
                // (checked against glibc's log2f over the whole range), without depending on
                // the platform's log2f.
                let l = m.log2() as f32 * 2048.0;
                *slot = (l as f64).round() as u16;
            }
            Log2Table(t)
        })
    }

    /// The table with its spare trailing zero entry.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn padded(&self) -> &[u16; 32769] {
        &self.0
    }

    /// `2048 * log2(x)` for `x >= 2^15`, from the table after normalising `x` to 16 bits.
    #[inline(always)]
    pub(super) fn log2_u32(&self, x: u32) -> i32 {
        let k = 16 - x.leading_zeros() as i32;
        debug_assert!(k >= 0, "log2 argument {x} below the table range");
        let m = x >> k;
        self.0[(m & 0x7fff) as usize] as i32 + 2048 * k
    }

    /// `2048 * log2(x)` for `x >= 2^17`, as [`Log2Table::log2_u32`] with a 64-bit argument.
    #[inline(always)]
    pub(super) fn log2_u64(&self, x: u64) -> i64 {
        let k = 48 - x.leading_zeros() as i32;
        debug_assert!(k >= 0, "log2 argument {x} below the table range");
        let m = x >> k;
        self.0[(m & 0x7fff) as usize] as i64 + 2048 * k as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_are_normalised_to_q16() {
        for taps in TAPS {
            assert_eq!(taps.iter().map(|&t| t as u32).sum::<u32>(), 65536);
        }
    }

    #[test]
    fn log2_table_matches_libvmaf() {
        // Reference figures from a throwaway C program evaluating libvmaf's table formula,
        // (uint16_t)round(log2f((float)i) * 2048), with glibc: sum over i = 32768..=65535.
        let t = Log2Table::get();
        let sum: u64 = t.0.iter().map(|&v| v as u64).sum();
        assert_eq!(sum, 1_044_032_097);
        assert_eq!(t.0[0], 30720);
        assert_eq!(t.0[40000 - 32768], 31309);
        assert_eq!(t.0[32767], 32768);
        // 2^18 normalises to mantissa 32768 with k = 3: log2 = 18 * 2048.
        assert_eq!(t.log2_u32(1 << 18), 18 * 2048);
        assert_eq!(t.log2_u64(1 << 40), 40 * 2048);
    }
}
