//! Per-frame feature storage, in the order names were first written, as libvmaf's feature
//! collector keeps them (that order is the column order of every output format).

use std::collections::HashMap;

use crate::feature::FeatureValue;
use crate::EngineError;

/// All values of one named feature, indexed by frame.
#[derive(Debug, Clone, Default)]
pub struct FeatureVector {
    /// Collector name.
    pub name: String,
    /// `values[i]` is frame `i`'s value, if it was computed.
    pub values: Vec<Option<f64>>,
}

/// Named per-frame values in first-write order.
#[derive(Debug, Clone, Default)]
pub struct FeatureCollector {
    vectors: Vec<FeatureVector>,
    by_name: HashMap<String, usize>,
    aggregates: Vec<(String, f64)>,
}

impl FeatureCollector {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `value` for frame `index` under `name`. Writing the same slot twice is an error,
    /// as it is in libvmaf.
    pub fn append(&mut self, name: &str, index: u32, value: f64) -> Result<(), EngineError> {
        let slot = match self.by_name.get(name) {
            Some(&i) => i,
            None => {
                self.vectors.push(FeatureVector {
                    name: name.to_string(),
                    values: Vec::new(),
                });
                self.by_name
                    .insert(name.to_string(), self.vectors.len() - 1);
                self.vectors.len() - 1
            }
        };
        let vector = &mut self.vectors[slot];
        let index = index as usize;
        if vector.values.len() <= index {
            vector.values.resize(index + 1, None);
        }
        if vector.values[index].is_some() {
            return Err(EngineError::PictureMismatch(format!(
                "feature \"{name}\" written twice for frame {index}"
            )));
        }
        vector.values[index] = Some(value);
        Ok(())
    }

    /// Records an extractor's output.
    pub fn append_value(&mut self, value: &FeatureValue) -> Result<(), EngineError> {
        self.append(&value.name, value.index, value.value)
    }

    /// The value of `name` at frame `index`, if computed.
    pub fn get(&self, name: &str, index: u32) -> Option<f64> {
        let vector = &self.vectors[*self.by_name.get(name)?];
        vector.values.get(index as usize).copied().flatten()
    }

    /// The vector for `name`.
    pub fn vector(&self, name: &str) -> Option<&FeatureVector> {
        self.by_name.get(name).map(|&i| &self.vectors[i])
    }

    /// Records a whole-run value. Setting a name again is allowed only with the same value
    /// (two instances agreeing), as in libvmaf.
    pub fn set_aggregate(&mut self, name: &str, value: f64) -> Result<(), EngineError> {
        match self.aggregates.iter().find(|(n, _)| n == name) {
            Some((_, old)) if old.to_bits() == value.to_bits() => Ok(()),
            Some((_, old)) => Err(EngineError::PictureMismatch(format!(
                "aggregate \"{name}\" set to {value} after {old}"
            ))),
            None => {
                self.aggregates.push((name.to_string(), value));
                Ok(())
            }
        }
    }

    /// Whole-run values, in the order they were set.
    pub fn aggregates(&self) -> &[(String, f64)] {
        &self.aggregates
    }

    /// Every vector, in first-write order.
    pub fn vectors(&self) -> &[FeatureVector] {
        &self.vectors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_first_write_order_and_refuses_double_writes() {
        let mut c = FeatureCollector::new();
        c.append("b", 1, 2.0).unwrap();
        c.append("a", 0, 1.0).unwrap();
        c.append("b", 0, 3.0).unwrap();
        let names: Vec<_> = c.vectors().iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(c.get("b", 0), Some(3.0));
        assert_eq!(c.get("a", 1), None);
        assert!(c.append("a", 0, 5.0).is_err());
    }

    #[test]
    fn aggregates_keep_order_and_refuse_conflicts() {
        let mut c = FeatureCollector::new();
        c.set_aggregate("apsnr_y", 40.0).unwrap();
        c.set_aggregate("apsnr_cb", f64::NEG_INFINITY).unwrap();
        c.set_aggregate("apsnr_y", 40.0).unwrap();
        assert!(c.set_aggregate("apsnr_y", 41.0).is_err());
        let names: Vec<_> = c.aggregates().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["apsnr_y", "apsnr_cb"]);
    }
}
