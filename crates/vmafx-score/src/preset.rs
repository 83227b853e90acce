//! libvmaf's common-test-condition presets (`--aom_ctc vX.Y`, `--nflx_ctc vX.Y`): the models and
//! extractors each version of the AOM and Netflix test conditions asks for, added to a request
//! in the order libvmaf's tool adds them.

use vmafx_engine::model::{parse_model, ModelSpec};

use crate::{FeatureSpec, ScoreError, ScoreRequest};

/// Which family of test conditions a preset belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtcFamily {
    /// The Alliance for Open Media's (`--aom_ctc`).
    Aom,
    /// Netflix's (`--nflx_ctc`).
    Netflix,
}

impl CtcFamily {
    /// The flag that selects the family.
    pub fn flag(self) -> &'static str {
        match self {
            CtcFamily::Aom => "--aom_ctc",
            CtcFamily::Netflix => "--nflx_ctc",
        }
    }

    /// The versions the family knows, oldest first.
    pub fn versions(self) -> &'static [&'static str] {
        match self {
            CtcFamily::Aom => &["v1.0", "v2.0", "v3.0", "v4.0", "v5.0", "v6.0", "v7.0"],
            CtcFamily::Netflix => &["v1.0"],
        }
    }
}

/// What one preset adds to a run.
#[derive(Debug, Clone, PartialEq)]
pub struct CtcPreset {
    /// Models, in libvmaf's order.
    pub models: Vec<ModelSpec>,
    /// Extractors, in libvmaf's order.
    pub features: Vec<FeatureSpec>,
    /// Inputs of different bit depths are scored at the higher one (AOM CTC v6.0 and later).
    pub common_bitdepth: bool,
}

impl CtcPreset {
    /// The preset `version` of `family`; an unknown version is an error naming the flag.
    pub fn new(family: CtcFamily, version: &str) -> Result<CtcPreset, ScoreError> {
        let rank = family
            .versions()
            .iter()
            .position(|v| *v == version)
            .ok_or_else(|| {
                let hint = if family == CtcFamily::Aom && version == "proposed" {
                    " (`proposed` is deprecated)".to_string()
                } else {
                    String::new()
                };
                ScoreError::Usage(format!(
                    "{} \"{version}\": no such version{hint}; known: {}",
                    family.flag(),
                    family.versions().join(", ")
                ))
            })?;
        let mut preset = CtcPreset {
            models: Vec::new(),
            features: Vec::new(),
            common_bitdepth: false,
        };
        match family {
            CtcFamily::Aom => {
                // v1.0; v2.0 is the same.
                preset.model("version=vmaf_v0.6.1:name=vmaf")?;
                preset.model("version=vmaf_v0.6.1neg:name=vmaf_neg")?;
                preset.feature("psnr=reduced_hbd_peak=true:enable_apsnr=true:min_sse=0.5")?;
                preset.feature("ciede")?;
                preset.feature("float_ssim=enable_db=true:clip_db=true")?;
                preset.feature("float_ms_ssim=enable_db=true:clip_db=true")?;
                preset.feature("psnr_hvs")?;
                if rank >= 2 {
                    preset.feature("cambi")?;
                }
                // v4.0 and v5.0 add nothing.
                if rank >= 5 {
                    preset.common_bitdepth = true;
                }
                if rank >= 6 {
                    preset.replace_feature("float_ssim=scale=1:enable_db=true:clip_db=true")?;
                }
            }
            CtcFamily::Netflix => {
                preset.model("version=vmaf_4k_v0.6.1:name=vmaf")?;
                preset.model("version=vmaf_4k_v0.6.1neg:name=vmaf_neg")?;
                preset.feature("psnr=enable_chroma=true:enable_apsnr=true")?;
                preset.feature("float_ssim=enable_db=true:clip_db=true")?;
                preset.feature("cambi")?;
            }
        }
        Ok(preset)
    }

    fn model(&mut self, text: &str) -> Result<(), ScoreError> {
        self.models.push(parse_model(text)?);
        Ok(())
    }

    fn feature(&mut self, text: &str) -> Result<(), ScoreError> {
        self.features.push(parse_feature(text)?);
        Ok(())
    }

    /// Replaces the extractor of the same name, as libvmaf's `CHECKED_REPLACE` does.
    fn replace_feature(&mut self, text: &str) -> Result<(), ScoreError> {
        let feature = parse_feature(text)?;
        match self.features.iter_mut().find(|f| f.name == feature.name) {
            Some(slot) => *slot = feature,
            None => self.features.push(feature),
        }
        Ok(())
    }

    /// Adds the preset to `request` after what it already asks for, as libvmaf's tool appends
    /// a preset's models and extractors to its lists.
    pub fn apply(self, request: &mut ScoreRequest) {
        request.models.extend(self.models);
        request.features.extend(self.features);
        request.common_bitdepth |= self.common_bitdepth;
    }
}

fn parse_feature(text: &str) -> Result<FeatureSpec, ScoreError> {
    FeatureSpec::parse(text).map_err(|e| ScoreError::Usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(preset: &CtcPreset) -> Vec<String> {
        preset
            .features
            .iter()
            .map(|f| {
                let opts: Vec<String> = f.options.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{}[{}]", f.name, opts.join(":"))
            })
            .collect()
    }

    #[test]
    fn aom_versions_add_what_libvmaf_adds() {
        let v1 = CtcPreset::new(CtcFamily::Aom, "v1.0").unwrap();
        assert_eq!(
            v1.models.iter().map(|m| m.score_name()).collect::<Vec<_>>(),
            ["vmaf", "vmaf_neg"]
        );
        assert_eq!(
            names(&v1),
            [
                "psnr[reduced_hbd_peak=true:enable_apsnr=true:min_sse=0.5]",
                "ciede[]",
                "float_ssim[enable_db=true:clip_db=true]",
                "float_ms_ssim[enable_db=true:clip_db=true]",
                "psnr_hvs[]"
            ]
        );
        assert!(!v1.common_bitdepth);
        assert_eq!(CtcPreset::new(CtcFamily::Aom, "v2.0").unwrap(), v1);
        let v3 = CtcPreset::new(CtcFamily::Aom, "v3.0").unwrap();
        assert_eq!(names(&v3).last().unwrap(), "cambi[]");
        assert_eq!(CtcPreset::new(CtcFamily::Aom, "v5.0").unwrap(), v3);
        let v6 = CtcPreset::new(CtcFamily::Aom, "v6.0").unwrap();
        assert!(v6.common_bitdepth);
        let v7 = CtcPreset::new(CtcFamily::Aom, "v7.0").unwrap();
        assert_eq!(
            names(&v7)[2],
            "float_ssim[scale=1:enable_db=true:clip_db=true]",
            "v7.0 replaces float_ssim in place"
        );
        assert_eq!(v7.features.len(), v6.features.len());
    }

    #[test]
    fn netflix_v1_adds_the_4k_models() {
        let p = CtcPreset::new(CtcFamily::Netflix, "v1.0").unwrap();
        assert_eq!(
            p.models.iter().map(|m| m.score_name()).collect::<Vec<_>>(),
            ["vmaf", "vmaf_neg"]
        );
        assert_eq!(
            names(&p),
            [
                "psnr[enable_chroma=true:enable_apsnr=true]",
                "float_ssim[enable_db=true:clip_db=true]",
                "cambi[]"
            ]
        );
    }

    #[test]
    fn unknown_versions_are_named() {
        for (family, version, flag) in [
            (CtcFamily::Aom, "v8.0", "--aom_ctc \"v8.0\""),
            (CtcFamily::Aom, "proposed", "deprecated"),
            (CtcFamily::Netflix, "v2.0", "--nflx_ctc \"v2.0\""),
        ] {
            let err = CtcPreset::new(family, version).unwrap_err().to_string();
            assert!(err.contains(flag), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
