//! The `--model` argument: which model to load, what to call its scores, load flags and
//! per-extractor option overrides, in the colon-separated syntax of libvmaf's `vmaf` tool.

use crate::options::format_g;
use crate::EngineError;

/// Where a model's JSON comes from: the contract's type, shared by every component.
pub use vmafx_contract::ModelSource;

/// One `extractor.option=value` override from a model argument, applied to every model
/// feature computed by that extractor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureOverride {
    /// Extractor name, e.g. `vif`.
    pub extractor: String,
    /// Option name, e.g. `vif_enhn_gain_limit`.
    pub option: String,
    /// The value, normalised as libvmaf normalises numbers (`1.0` becomes `1`).
    pub value: String,
}

/// Everything a `--model` argument says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// The model to load.
    pub source: ModelSource,
    /// Name its scores are written under; `None` means `vmaf`.
    pub name: Option<String>,
    /// Skip the model's `score_clip` range.
    pub disable_clip: bool,
    /// Apply the model's `score_transform` even when the file does not enable it.
    pub enable_transform: bool,
    /// Extractor option overrides, in the order given.
    pub overrides: Vec<FeatureOverride>,
}

impl Default for ModelSpec {
    /// The model libvmaf's tool uses when none is given: built-in `vmaf_v0.6.1`, named `vmaf`.
    fn default() -> Self {
        ModelSpec {
            source: ModelSource::BuiltIn(super::DEFAULT_VERSION.to_string()),
            name: None,
            disable_clip: false,
            enable_transform: false,
            overrides: Vec::new(),
        }
    }
}

const OWNER: &str = "--model";

impl ModelSpec {
    /// Parses a `--model` argument with the contract's grammar
    /// ([`vmafx_contract::ModelSpec::parse`]): `:`-separated parameters, each `key=value`, among
    /// `version=NAME`, `path=FILE`, `name=NAME`, `disable_clip[=true|false]`,
    /// `enable_transform[=true|false]` and `EXTRACTOR.OPTION=VALUE` overrides such as
    /// `vif.vif_enhn_gain_limit=1.5`. Exactly one of `version` and `path` is required.
    ///
    /// Numeric override values are normalised the way libvmaf does it (read as a C `float`,
    /// printed with `%g`), so `1.0` and `1` both become `1`; that text is what later shows up in
    /// derived feature names such as `integer_vif_scale0_egl_1`.
    pub fn parse(text: &str) -> Result<ModelSpec, EngineError> {
        let spec = vmafx_contract::ModelSpec::parse(text).map_err(|e| match e.kind {
            vmafx_contract::model::ModelErrorKind::UnknownKey => EngineError::UnknownOption {
                owner: OWNER.to_string(),
                key: e.key,
            },
            vmafx_contract::model::ModelErrorKind::InvalidValue => EngineError::InvalidOption {
                owner: OWNER.to_string(),
                key: e.key,
                value: e.value,
                reason: e.reason,
            },
        })?;
        Ok(ModelSpec::from(spec))
    }

    /// The name the model's scores are written under.
    pub fn score_name(&self) -> &str {
        self.name.as_deref().unwrap_or(super::DEFAULT_NAME)
    }
}

impl From<vmafx_contract::ModelSpec> for ModelSpec {
    /// A contract spec with its override values normalised as libvmaf normalises numbers.
    fn from(spec: vmafx_contract::ModelSpec) -> ModelSpec {
        ModelSpec {
            source: spec.source,
            name: spec.name,
            disable_clip: spec.disable_clip,
            enable_transform: spec.enable_transform,
            overrides: spec
                .overrides
                .into_iter()
                .map(|o| FeatureOverride {
                    extractor: o.extractor,
                    option: o.option,
                    value: normalize_number(&o.value),
                })
                .collect(),
        }
    }
}

/// libvmaf's treatment of option values that look numeric: read them as a C `float`
/// (`strtof`, one rounding straight to single precision) and print that with `%g`. Other
/// values pass through unchanged.
pub(crate) fn normalize_number(value: &str) -> String {
    let trimmed = value.trim_matches(|c: char| c.is_ascii_whitespace());
    match trimmed.parse::<f32>() {
        Ok(v) => format_g(f64::from(v)),
        Err(_) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_tool_syntax() {
        let spec = ModelSpec::parse("version=vmaf_v0.6.1neg").unwrap();
        assert_eq!(spec.source, ModelSource::BuiltIn("vmaf_v0.6.1neg".into()));
        assert_eq!(spec.score_name(), "vmaf");
        assert!(!spec.disable_clip && !spec.enable_transform && spec.overrides.is_empty());

        let spec =
            ModelSpec::parse("path=/x/m.json:name=foo:disable_clip:enable_transform").unwrap();
        assert_eq!(spec.source, ModelSource::Path("/x/m.json".into()));
        assert_eq!(spec.source.to_string(), "/x/m.json");
        assert_eq!(spec.score_name(), "foo");
        assert!(spec.disable_clip && spec.enable_transform);

        let spec = ModelSpec::parse("disable_clip=false:version=v:enable_transform=true").unwrap();
        assert!(!spec.disable_clip && spec.enable_transform);
    }

    #[test]
    fn overrides_normalise_numbers_like_libvmaf() {
        let spec = ModelSpec::parse(
            "version=vmaf_v0.6.1neg:vif.vif_enhn_gain_limit=1.0:adm.adm_enhn_gain_limit=1.23456789:\
             motion.motion_force_zero=true:vif.vif_kernelscale= 2.50 ",
        )
        .unwrap();
        let got: Vec<_> = spec
            .overrides
            .iter()
            .map(|o| (o.extractor.as_str(), o.option.as_str(), o.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("vif", "vif_enhn_gain_limit", "1"),
                ("adm", "adm_enhn_gain_limit", "1.23457"),
                ("motion", "motion_force_zero", "true"),
                ("vif", "vif_kernelscale", "2.5"),
            ]
        );
        // strtof rounds to single precision before %g prints six digits.
        assert_eq!(normalize_number("0.1"), "0.1");
        assert_eq!(normalize_number("100000001"), "1e+08");
        assert_eq!(normalize_number("abc"), "abc");
    }

    #[test]
    fn errors_name_the_bad_key() {
        let cases = [
            ("version=a:bogus", "bogus"),
            ("version=a:bogus=1", "bogus"),
            ("version=a:vif.=1", "vif."),
            ("version=a:.x=1", ".x"),
            ("version=a:vif.a.b=1", "vif.a.b"),
            ("version=a:disable_clip=yes", "disable_clip"),
            ("version=a:name=", "name"),
            ("version=a:path=b", "path"),
            ("name=foo", "version"),
            ("version=a::name=b", "empty parameter"),
            ("version=a:path=x=y", "path"),
        ];
        for (text, needle) in cases {
            let err = ModelSpec::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
