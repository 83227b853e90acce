//! Row kernels of integer VIF as plain functions over slices: the vertical and horizontal
//! passes of the moment filter, the per-pixel information sums, mirroring of row buffers and
//! the low-pass-and-decimate step between scales.
//!
//! Every integer sum here stays below its type's range for valid samples (the taps sum to
//! 65536), so sums may be formed in any order and still equal libvmaf's.

use super::tables::{Log2Table, SIGMA_NSQ};
use crate::picture::Pixel;

/// Offset of column 0 inside a mirrored row buffer; columns `-PAD..0` hold the left mirror.
pub(crate) const PAD: usize = super::tables::MAX_HALF;

/// One output row of the vertical pass: local means and second moments per column.
pub(crate) struct MomentRows<'a> {
    /// Filtered reference.
    pub mu1: &'a mut [u32],
    /// Filtered distorted.
    pub mu2: &'a mut [u32],
    /// Filtered reference squared.
    pub xx: &'a mut [u32],
    /// Filtered distorted squared.
    pub yy: &'a mut [u32],
    /// Filtered reference times distorted.
    pub xy: &'a mut [u32],
}

/// Vertically filtered moments including the mirrored margins the horizontal pass reads:
/// each slice holds `width + taps - 1` values, starting `taps / 2` columns left of column 0.
pub(crate) struct PaddedMoments<'a> {
    /// Filtered reference.
    pub mu1: &'a [u32],
    /// Filtered distorted.
    pub mu2: &'a [u32],
    /// Filtered reference squared.
    pub xx: &'a [u32],
    /// Filtered distorted squared.
    pub yy: &'a [u32],
    /// Filtered reference times distorted.
    pub xy: &'a [u32],
}

/// Local variances and covariance of one row, in the Q16 fixed point VIF works in.
pub(crate) struct SigmaRows<'a> {
    /// Reference variance.
    pub sigma1_sq: &'a mut [i32],
    /// Distorted variance, clamped at zero.
    pub sigma2_sq: &'a mut [i32],
    /// Covariance.
    pub sigma12: &'a mut [i32],
}

/// Rounding and shifts that bring vertical sums of 9- to 16-bit samples (or of a decimated
/// scale) back to 16 bits for means and 32 bits for second moments.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VerticalShifts {
    /// Added to mean sums before shifting.
    pub mu_round: u32,
    /// Right shift of mean sums.
    pub mu_shift: u32,
    /// Added to second-moment sums before shifting.
    pub sq_round: u64,
    /// Right shift of second-moment sums.
    pub sq_shift: u32,
}

impl VerticalShifts {
    /// Shifts for full-resolution samples of `bpc` bits (9 to 16).
    pub(crate) fn full_resolution(bpc: u32) -> Self {
        let sq_shift = 2 * (bpc - 8);
        VerticalShifts {
            mu_round: 1 << (bpc - 1),
            mu_shift: bpc,
            sq_round: 1 << (sq_shift - 1),
            sq_shift,
        }
    }

    /// Shifts for decimated scales, whose samples are 16-bit.
    pub(crate) fn decimated() -> Self {
        VerticalShifts {
            mu_round: 1 << 15,
            mu_shift: 16,
            sq_round: 1 << 15,
            sq_shift: 16,
        }
    }
}

/// Integer sums of one scale from which libvmaf forms its numerator and denominator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct InfoSums {
    /// Sum of `2048 * log2` information terms of the numerator.
    pub num_log: i64,
    /// Sum of `2048 * log2` information terms of the denominator.
    pub den_log: i64,
    /// Sum of distorted variances where the reference variance is below the noise floor.
    pub num_non_log: i64,
    /// Number of such low-variance pixels.
    pub den_non_log: i64,
}

impl InfoSums {
    /// The numerator and denominator, rounded to `f32` as libvmaf stores them.
    pub(crate) fn num_den(&self) -> (f32, f32) {
        let num = self.num_log as f64 / 2048.0
            + (self.den_non_log as f64 - (self.num_non_log as f64 / 16384.0) / 65025.0);
        let den = self.den_log as f64 / 2048.0 + self.den_non_log as f64;
        (num as f32, den as f32)
    }
}

/// Columns per block: a block's accumulators stay in L1 while every tap is applied, and the
/// per-column loops are long enough to vectorise.
const BLOCK: usize = 64;

/// Splits a 32-bit value into its low and high 16-bit halves. Filtering the halves separately
/// keeps every partial sum in 32 bits (the taps add up to 65536); the exact filtered value is
/// then `(hi << 16) + lo`.
#[inline(always)]
fn halves(v: u32) -> (u32, u32) {
    (v & 0xffff, v >> 16)
}

/// Vertical moment pass over 8-bit rows: `ref_rows[k]` and `dis_rows[k]` are the rows under
/// tap `k`, each at least as long as the output. Means keep 8 fractional bits; second moments
/// stay unshifted (they fit 32 bits at this depth). The taps are symmetric, so each pair of
/// mirrored rows shares one multiplication.
pub(crate) fn vertical_moments_8(
    taps: &[u16],
    ref_rows: &[&[u8]],
    dis_rows: &[&[u8]],
    out: MomentRows<'_>,
) {
    let width = out.mu1.len();
    let (fw, half) = (taps.len(), taps.len() / 2);
    for start in (0..width).step_by(BLOCK) {
        let n = BLOCK.min(width - start);
        let cols = start..start + n;
        let mut acc = [[0u32; BLOCK]; 5];
        let [mu1, mu2, xx, yy, xy] = &mut acc;
        let (mu1, mu2, xx, yy, xy) = (
            &mut mu1[..n],
            &mut mu2[..n],
            &mut xx[..n],
            &mut yy[..n],
            &mut xy[..n],
        );
        let f = taps[half] as u32;
        let (r, d) = (&ref_rows[half][cols.clone()], &dis_rows[half][cols.clone()]);
        for t in 0..n {
            let (a, c) = (r[t] as u32, d[t] as u32);
            mu1[t] = f * a;
            mu2[t] = f * c;
            xx[t] = f * (a * a);
            yy[t] = f * (c * c);
            xy[t] = f * (a * c);
        }
        for k in 0..half {
            let f = taps[k] as u32;
            let (ra, rb) = (
                &ref_rows[k][cols.clone()],
                &ref_rows[fw - 1 - k][cols.clone()],
            );
            let (da, db) = (
                &dis_rows[k][cols.clone()],
                &dis_rows[fw - 1 - k][cols.clone()],
            );
            for t in 0..n {
                let (a, b) = (ra[t] as u32, rb[t] as u32);
                let (c, d) = (da[t] as u32, db[t] as u32);
                mu1[t] += f * (a + b);
                mu2[t] += f * (c + d);
                xx[t] += f * (a * a + b * b);
                yy[t] += f * (c * c + d * d);
                xy[t] += f * (a * c + b * d);
            }
        }
        for (o, &v) in out.mu1[cols.clone()].iter_mut().zip(mu1.iter()) {
            *o = (v + 128) >> 8;
        }
        for (o, &v) in out.mu2[cols.clone()].iter_mut().zip(mu2.iter()) {
            *o = (v + 128) >> 8;
        }
        out.xx[cols.clone()].copy_from_slice(xx);
        out.yy[cols.clone()].copy_from_slice(yy);
        out.xy[cols].copy_from_slice(xy);
    }
}

/// Vertical moment pass over 16-bit rows (full-resolution high-depth samples or a decimated
/// scale), rescaled by `shifts`. Second moments are filtered as 16-bit halves of each product.
pub(crate) fn vertical_moments_16(
    taps: &[u16],
    ref_rows: &[&[u16]],
    dis_rows: &[&[u16]],
    shifts: VerticalShifts,
    out: MomentRows<'_>,
) {
    let width = out.mu1.len();
    let (fw, half) = (taps.len(), taps.len() / 2);
    let VerticalShifts {
        mu_round,
        mu_shift,
        sq_round,
        sq_shift,
    } = shifts;
    for start in (0..width).step_by(BLOCK) {
        let n = BLOCK.min(width - start);
        let cols = start..start + n;
        let mut acc = [[0u32; BLOCK]; 8];
        let [mu1, mu2, xx_lo, xx_hi, yy_lo, yy_hi, xy_lo, xy_hi] = &mut acc;
        let (mu1, mu2) = (&mut mu1[..n], &mut mu2[..n]);
        let (xx_lo, xx_hi, yy_lo, yy_hi) = (
            &mut xx_lo[..n],
            &mut xx_hi[..n],
            &mut yy_lo[..n],
            &mut yy_hi[..n],
        );
        let (xy_lo, xy_hi) = (&mut xy_lo[..n], &mut xy_hi[..n]);
        let f = taps[half] as u32;
        let (r, d) = (&ref_rows[half][cols.clone()], &dis_rows[half][cols.clone()]);
        for t in 0..n {
            let (a, c) = (r[t] as u32, d[t] as u32);
            mu1[t] = f * a;
            mu2[t] = f * c;
            let (lo, hi) = halves(a * a);
            xx_lo[t] = f * lo;
            xx_hi[t] = f * hi;
            let (lo, hi) = halves(c * c);
            yy_lo[t] = f * lo;
            yy_hi[t] = f * hi;
            let (lo, hi) = halves(a * c);
            xy_lo[t] = f * lo;
            xy_hi[t] = f * hi;
        }
        for k in 0..half {
            let f = taps[k] as u32;
            let (ra, rb) = (
                &ref_rows[k][cols.clone()],
                &ref_rows[fw - 1 - k][cols.clone()],
            );
            let (da, db) = (
                &dis_rows[k][cols.clone()],
                &dis_rows[fw - 1 - k][cols.clone()],
            );
            for t in 0..n {
                let (a, b) = (ra[t] as u32, rb[t] as u32);
                let (c, d) = (da[t] as u32, db[t] as u32);
                mu1[t] += f * (a + b);
                mu2[t] += f * (c + d);
                let ((l1, h1), (l2, h2)) = (halves(a * a), halves(b * b));
                xx_lo[t] += f * (l1 + l2);
                xx_hi[t] += f * (h1 + h2);
                let ((l1, h1), (l2, h2)) = (halves(c * c), halves(d * d));
                yy_lo[t] += f * (l1 + l2);
                yy_hi[t] += f * (h1 + h2);
                let ((l1, h1), (l2, h2)) = (halves(a * c), halves(b * d));
                xy_lo[t] += f * (l1 + l2);
                xy_hi[t] += f * (h1 + h2);
            }
        }
        for (o, &v) in out.mu1[cols.clone()].iter_mut().zip(mu1.iter()) {
            *o = ((v + mu_round) >> mu_shift) as u16 as u32;
        }
        for (o, &v) in out.mu2[cols.clone()].iter_mut().zip(mu2.iter()) {
            *o = ((v + mu_round) >> mu_shift) as u16 as u32;
        }
        let rescale = |lo: u32, hi: u32| {
            let wide = ((hi as u64) << 16) + lo as u64;
            ((wide + sq_round) >> sq_shift) as u32
        };
        for ((o, &lo), &hi) in out.xx[cols.clone()]
            .iter_mut()
            .zip(xx_lo.iter())
            .zip(xx_hi.iter())
        {
            *o = rescale(lo, hi);
        }
        for ((o, &lo), &hi) in out.yy[cols.clone()]
            .iter_mut()
            .zip(yy_lo.iter())
            .zip(yy_hi.iter())
        {
            *o = rescale(lo, hi);
        }
        for ((o, &lo), &hi) in out.xy[cols].iter_mut().zip(xy_lo.iter()).zip(xy_hi.iter()) {
            *o = rescale(lo, hi);
        }
    }
}

/// Mirrors a row buffer whose column 0 sits at [`PAD`]: columns `-half..0` and
/// `width..width + half` are filled by copying one column at a time, alternating left and
/// right, exactly as libvmaf does. For `width >= half + 1` this is a plain reflect-101; for
/// narrower rows the copies chain, and for `width <= 1` they read whatever earlier rows, scales
/// or frames left in the buffer, which is why the buffer must persist the way libvmaf's does.
pub(crate) fn mirror_columns(buf: &mut [u32], width: usize, half: usize) {
    let zero = PAD as isize;
    let last = zero + width as isize - 1;
    for f in 1..=half as isize {
        buf[(zero - f) as usize] = buf[(zero + f) as usize];
        buf[(last + f) as usize] = buf[(last - f) as usize];
    }
}

/// Horizontal moment pass and variances of one row. `src` holds the vertically filtered
/// moments with their mirrored margins; the output has one value per column. Means are 16-bit
/// and filter in 32 bits directly; second moments are filtered as 16-bit halves.
pub(crate) fn horizontal_sigmas(taps: &[u16], src: PaddedMoments<'_>, out: SigmaRows<'_>) {
    let width = out.sigma1_sq.len();
    let (fw, half) = (taps.len(), taps.len() / 2);
    for start in (0..width).step_by(BLOCK) {
        let n = BLOCK.min(width - start);
        let mut acc = [[0u32; BLOCK]; 8];
        let [mu1, mu2, xx_lo, xx_hi, yy_lo, yy_hi, xy_lo, xy_hi] = &mut acc;
        let (mu1, mu2) = (&mut mu1[..n], &mut mu2[..n]);
        let (xx_lo, xx_hi, yy_lo, yy_hi) = (
            &mut xx_lo[..n],
            &mut xx_hi[..n],
            &mut yy_lo[..n],
            &mut yy_hi[..n],
        );
        let (xy_lo, xy_hi) = (&mut xy_lo[..n], &mut xy_hi[..n]);
        // Output column c reads src[c..c + fw]; the centre tap sits at src[c + half].
        let at = |k: usize| start + k..start + k + n;
        let f = taps[half] as u32;
        let (m1, m2) = (&src.mu1[at(half)], &src.mu2[at(half)]);
        let (sxx, syy, sxy) = (&src.xx[at(half)], &src.yy[at(half)], &src.xy[at(half)]);
        for t in 0..n {
            mu1[t] = f * m1[t];
            mu2[t] = f * m2[t];
            let (lo, hi) = halves(sxx[t]);
            xx_lo[t] = f * lo;
            xx_hi[t] = f * hi;
            let (lo, hi) = halves(syy[t]);
            yy_lo[t] = f * lo;
            yy_hi[t] = f * hi;
            let (lo, hi) = halves(sxy[t]);
            xy_lo[t] = f * lo;
            xy_hi[t] = f * hi;
        }
        for (k, &tap) in taps[..half].iter().enumerate() {
            let f = tap as u32;
            let (l, r) = (at(k), at(fw - 1 - k));
            let (a1, b1, a2, b2) = (
                &src.mu1[l.clone()],
                &src.mu1[r.clone()],
                &src.mu2[l.clone()],
                &src.mu2[r.clone()],
            );
            for t in 0..n {
                mu1[t] += f * (a1[t] + b1[t]);
            }
            for t in 0..n {
                mu2[t] += f * (a2[t] + b2[t]);
            }
            for (s, lo_acc, hi_acc) in [
                (src.xx, &mut *xx_lo, &mut *xx_hi),
                (src.yy, &mut *yy_lo, &mut *yy_hi),
                (src.xy, &mut *xy_lo, &mut *xy_hi),
            ] {
                let (a, b) = (&s[l.clone()], &s[r.clone()]);
                for t in 0..n {
                    let ((l1, h1), (l2, h2)) = (halves(a[t]), halves(b[t]));
                    lo_acc[t] += f * (l1 + l2);
                    hi_acc[t] += f * (h1 + h2);
                }
            }
        }
        let wide = |lo: u32, hi: u32| ((hi as u64) << 16) + lo as u64;
        let cols = start..start + n;
        let s1_out = &mut out.sigma1_sq[cols.clone()];
        let s2_out = &mut out.sigma2_sq[cols.clone()];
        let s12_out = &mut out.sigma12[cols];
        for t in 0..n {
            let (m1, m2) = (mu1[t] as u64, mu2[t] as u64);
            // Means carry 32 fractional bits here; products are rounded back to 32 bits.
            let mu1_sq = ((m1 * m1 + (1 << 31)) >> 32) as u32;
            let mu2_sq = ((m2 * m2 + (1 << 31)) >> 32) as u32;
            let mu1_mu2 = ((m1 * m2 + (1 << 31)) >> 32) as u32;
            let xx_f = ((wide(xx_lo[t], xx_hi[t]) + 32768) >> 16) as u32;
            let yy_f = ((wide(yy_lo[t], yy_hi[t]) + 32768) >> 16) as u32;
            let xy_f = ((wide(xy_lo[t], xy_hi[t]) + 32768) >> 16) as u32;
            s1_out[t] = xx_f.wrapping_sub(mu1_sq) as i32;
            s2_out[t] = (yy_f.wrapping_sub(mu2_sq) as i32).max(0);
            s12_out[t] = xy_f.wrapping_sub(mu1_mu2) as i32;
        }
    }
}

/// Adds one row's information terms to `sums`. The log-domain terms come from the fixed-point
/// table; the gain and the residual variance go through `f64` exactly as libvmaf computes them.
pub(crate) fn accumulate_info(
    sigma1_sq: &[i32],
    sigma2_sq: &[i32],
    sigma12: &[i32],
    gain_limit: f64,
    table: &Log2Table,
    sums: &mut InfoSums,
) {
    // Keeps the gain finite; libvmaf scales its 1e-10 by the Q16 variance scale.
    const EPS: f64 = 65536.0 * 1.0e-10;
    let nsq = SIGMA_NSQ as u32;
    for ((&s1, &s2), &s12) in sigma1_sq.iter().zip(sigma2_sq).zip(sigma12) {
        if s1 >= SIGMA_NSQ {
            // log2(1 + s1 / nsq) = log2(nsq + s1) - log2(nsq), with log2(2^17) = 17.
            sums.den_log += (table.log2_u32(nsq.wrapping_add(s1 as u32)) - 2048 * 17) as i64;
            if s12 > 0 && s2 > 0 {
                let g = s12 as f64 / (s1 as f64 + EPS);
                // Saturating like x86's truncating conversion does for the negative overflow
                // that can occur here; the value never exceeds `s2` from above.
                let sv_sq = ((s2 as f64 - g * s12 as f64) as i32).max(0);
                let g = g.min(gain_limit);
                let base = (sv_sq as u32).wrapping_add(nsq);
                let total = (g * g * s1 as f64) as i64 + base as i64;
                sums.num_log += table.log2_u64(total as u64) - table.log2_u64(base as u64);
            }
        } else {
            sums.num_non_log += s2 as i64;
            sums.den_non_log += 1;
        }
    }
}

/// One row of the low-pass-and-decimate step between scales: filters the rows under the taps
/// vertically into the `conv_*` buffers (column 0 at [`PAD`]), mirrors them, then filters
/// horizontally at every even column into `out_*`, which hold half the input width.
/// Vertical sums are brought back to 16 bits with `round` and `shift`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decimate_row<T: Pixel>(
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
    let half = taps.len() / 2;
    let fw = taps.len();
    for start in (0..width).step_by(BLOCK) {
        let n = BLOCK.min(width - start);
        let cols = start..start + n;
        let mut acc_r = [0u32; BLOCK];
        let mut acc_d = [0u32; BLOCK];
        let (acc_r, acc_d) = (&mut acc_r[..n], &mut acc_d[..n]);
        let f = taps[half] as u32;
        let (r, d) = (&ref_rows[half][cols.clone()], &dis_rows[half][cols.clone()]);
        for t in 0..n {
            acc_r[t] = f * r[t].widen();
            acc_d[t] = f * d[t].widen();
        }
        for k in 0..half {
            let f = taps[k] as u32;
            let (ra, rb) = (
                &ref_rows[k][cols.clone()],
                &ref_rows[fw - 1 - k][cols.clone()],
            );
            let (da, db) = (
                &dis_rows[k][cols.clone()],
                &dis_rows[fw - 1 - k][cols.clone()],
            );
            for t in 0..n {
                acc_r[t] += f * (ra[t].widen() + rb[t].widen());
                acc_d[t] += f * (da[t].widen() + db[t].widen());
            }
        }
        let at = PAD + start..PAD + start + n;
        for (o, &a) in conv_ref[at.clone()].iter_mut().zip(acc_r.iter()) {
            *o = ((a + round) >> shift) as u16 as u32;
        }
        for (o, &a) in conv_dis[at].iter_mut().zip(acc_d.iter()) {
            *o = ((a + round) >> shift) as u16 as u32;
        }
    }
    mirror_columns(conv_ref, width, half);
    mirror_columns(conv_dis, width, half);

    for (conv, out) in [(&*conv_ref, out_ref), (&*conv_dis, out_dis)] {
        // Output column j is centred on input column 2j, i.e. buffer index PAD + 2j.
        let base = &conv[PAD - half..];
        for (j, o) in out.iter_mut().enumerate() {
            let window = &base[2 * j..2 * j + taps.len()];
            let acc: u32 = window.iter().zip(taps).map(|(&v, &f)| v * f as u32).sum();
            *o = ((acc + 32768) >> 16) as u16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirroring_is_reflect_101_for_wide_rows() {
        let mut buf = vec![0u32; 2 * PAD + 10];
        for j in 0..10 {
            buf[PAD + j] = j as u32 + 1;
        }
        mirror_columns(&mut buf, 10, 4);
        assert_eq!(&buf[PAD - 4..PAD], &[5, 4, 3, 2]);
        assert_eq!(&buf[PAD + 10..PAD + 14], &[9, 8, 7, 6]);
    }

    #[test]
    fn mirroring_chains_for_narrow_rows() {
        // Two columns mirrored eight wide: the copies chain into a period-2 pattern.
        let mut buf = vec![0u32; 2 * PAD + 2];
        buf[PAD] = 10;
        buf[PAD + 1] = 20;
        mirror_columns(&mut buf, 2, 8);
        assert_eq!(&buf[..PAD], &[10, 20, 10, 20, 10, 20, 10, 20]);
        assert_eq!(&buf[PAD + 2..], &[10, 20, 10, 20, 10, 20, 10, 20]);
    }

    #[test]
    fn constant_rows_have_zero_variance() {
        let taps = super::super::tables::TAPS[3];
        let v = [100u8; 4];
        let rows: Vec<&[u8]> = vec![&v; 3];
        let (mut a, mut b, mut c, mut d, mut e) = ([0; 4], [0; 4], [0; 4], [0; 4], [0; 4]);
        vertical_moments_8(
            taps,
            &rows,
            &rows,
            MomentRows {
                mu1: &mut a,
                mu2: &mut b,
                xx: &mut c,
                yy: &mut d,
                xy: &mut e,
            },
        );
        assert_eq!(a, [25600; 4]);
        assert_eq!(c, [10000 * 65536; 4]);
        let (mut s1, mut s2, mut s12) = ([7; 2], [7; 2], [7; 2]);
        horizontal_sigmas(
            taps,
            PaddedMoments {
                mu1: &a,
                mu2: &b,
                xx: &c,
                yy: &d,
                xy: &e,
            },
            SigmaRows {
                sigma1_sq: &mut s1,
                sigma2_sq: &mut s2,
                sigma12: &mut s12,
            },
        );
        assert_eq!((s1, s2, s12), ([0; 2], [0; 2], [0; 2]));
    }
}
