//! Temporal pooling of per-frame values: min, max, mean and harmonic mean, computed in the same
//! order and with the same arithmetic as libvmaf so the pooled digits match.

use crate::collector::FeatureCollector;

/// The four pooled statistics libvmaf prints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pooled {
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// `n / Σ 1/(x+1) − 1`, libvmaf's shifted harmonic mean.
    pub harmonic_mean: f64,
}

impl Pooled {
    /// The four statistics under the names libvmaf's reports use for them.
    pub fn by_name(&self) -> [(&'static str, f64); 4] {
        [
            ("mean", self.mean),
            ("min", self.min),
            ("max", self.max),
            ("harmonic_mean", self.harmonic_mean),
        ]
    }
}

/// Pools `values` (frame `i` at position `i`) over frames `low..=high`, keeping only frames whose
/// index is a multiple of `subsample` when `subsample > 1`. Returns `None` when a frame in that
/// range has no value, or when no frame is selected.
pub fn pool(values: &[Option<f64>], low: usize, high: usize, subsample: usize) -> Option<Pooled> {
    let mut count = 0usize;
    let (mut min, mut max, mut sum, mut inverse_sum) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for i in low..=high {
        if subsample > 1 && i % subsample != 0 {
            continue;
        }
        let v = (*values.get(i)?)?;
        count += 1;
        sum += v;
        inverse_sum += 1.0 / (v + 1.0);
        if i == low || v < min {
            min = v;
        }
        if i == low || v > max {
            max = v;
        }
    }
    if count == 0 {
        return None;
    }
    Some(Pooled {
        min,
        max,
        mean: sum / count as f64,
        harmonic_mean: count as f64 / inverse_sum - 1.0,
    })
}

/// Pools every vector of `collector` over frames `0..frame_count` (subsampled as in [`pool`]),
/// in the collector's order: the one pooling of a run, which the report, the summary and the
/// service all read.
pub fn pool_vectors(
    collector: &FeatureCollector,
    frame_count: usize,
    subsample: usize,
) -> Vec<Option<Pooled>> {
    collector
        .vectors()
        .iter()
        .map(|vector| {
            let last = frame_count.checked_sub(1)?;
            pool(&vector.values, 0, last, subsample)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_like_libvmaf() {
        let v = [Some(1.0), Some(3.0), Some(2.0)];
        let p = pool(&v, 0, 2, 1).unwrap();
        assert_eq!((p.min, p.max, p.mean), (1.0, 3.0, 2.0));
        let expected = 3.0 / (0.5 + 0.25 + 1.0 / 3.0) - 1.0;
        assert_eq!(p.harmonic_mean, expected);
        let sub = pool(&v, 0, 2, 2).unwrap();
        assert_eq!((sub.min, sub.max, sub.mean), (1.0, 2.0, 1.5));
        assert!(pool(&[Some(1.0), None], 0, 1, 1).is_none());
    }

    #[test]
    fn pools_every_vector_in_collector_order() {
        let mut c = FeatureCollector::new();
        for (i, v) in [4.0, 2.0].into_iter().enumerate() {
            c.append("b", i as u32, v).unwrap();
        }
        c.append("a", 0, 1.0).unwrap();
        let all = pool_vectors(&c, 2, 1);
        assert_eq!(all[0].map(|p| p.mean), Some(3.0));
        // "a" lacks frame 1: no pooled value, as libvmaf prints none.
        assert_eq!(all[1], None);
        assert!(pool_vectors(&c, 0, 1).iter().all(Option::is_none));
    }
}
