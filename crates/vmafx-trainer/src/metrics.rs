//! Agreement between predictions and targets: Pearson (PLCC) and Spearman (SRCC) correlation
//! and root-mean-square error, as VMAF's own evaluations report them.

use serde::{Deserialize, Serialize};

/// How well predictions agree with targets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Pearson linear correlation (0 when either side is constant).
    pub plcc: f64,
    /// Spearman rank correlation, ties ranked by their mean rank.
    pub srcc: f64,
    /// Root-mean-square error, in score points.
    pub rmse: f64,
    /// Pairs compared.
    pub count: usize,
}

/// Pearson correlation of two equally long series; 0 for fewer than two pairs or a constant
/// side.
pub fn plcc(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return 0.0;
    }
    let mean = |v: &[f64]| v[..n].iter().sum::<f64>() / n as f64;
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a[..n].iter().zip(&b[..n]) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa <= 0.0 || sbb <= 0.0 {
        return 0.0;
    }
    sab / (saa.sqrt() * sbb.sqrt())
}

/// Ranks from 1, ties sharing their mean rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut out = vec![0.0; v.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && v[order[end]] == v[order[start]] {
            end += 1;
        }
        let rank = (start + end + 1) as f64 / 2.0;
        for &i in &order[start..end] {
            out[i] = rank;
        }
        start = end;
    }
    out
}

/// Spearman correlation: Pearson's on ranks.
pub fn srcc(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    plcc(&ranks(&a[..n]), &ranks(&b[..n]))
}

/// Root-mean-square difference; 0 for empty series.
pub fn rmse(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let sum: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    (sum / n as f64).sqrt()
}

/// All three at once.
pub fn agreement(predicted: &[f64], target: &[f64]) -> Agreement {
    Agreement {
        plcc: plcc(predicted, target),
        srcc: srcc(predicted, target),
        rmse: rmse(predicted, target),
        count: predicted.len().min(target.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert!((plcc(&a, &[2.0, 4.0, 6.0, 8.0]) - 1.0).abs() < 1e-12);
        assert!((plcc(&a, &[8.0, 6.0, 4.0, 2.0]) + 1.0).abs() < 1e-12);
        // Monotone but not linear: rank correlation 1, Pearson below.
        let b = [1.0, 4.0, 9.0, 100.0];
        assert!((srcc(&a, &b) - 1.0).abs() < 1e-12);
        assert!(plcc(&a, &b) < 0.95);
        assert_eq!(ranks(&[5.0, 1.0, 5.0]), vec![2.5, 1.0, 2.5]);
        assert!((rmse(&[0.0, 0.0], &[3.0, 4.0]) - 12.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(plcc(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
    }
}
