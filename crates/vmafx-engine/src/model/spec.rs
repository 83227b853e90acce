//! The `--model` argument: which model to load, what to call its scores, load flags and
//! per-extractor option overrides, in the colon-separated syntax of libvmaf's `vmaf` tool.

use crate::options::format_g;
use crate::EngineError;

/// The model spec is the contract's type, shared by every component; override values are kept
/// as written and normalised where the engine applies them.
pub use vmafx_contract::{ModelOverride, ModelSource, ModelSpec};

const OWNER: &str = "--model";

/// Parses a `--model` argument with the contract's grammar ([`ModelSpec::parse`]):
/// `:`-separated parameters, each `key=value`, among `version=NAME`, `path=FILE`, `name=NAME`,
/// `disable_clip[=true|false]`, `enable_transform[=true|false]` and `EXTRACTOR.OPTION=VALUE`
/// overrides such as `vif.vif_enhn_gain_limit=1.5`. Exactly one of `version` and `path` is
/// required. Errors are the engine's, naming `--model` and the key.
pub fn parse_model(text: &str) -> Result<ModelSpec, EngineError> {
    ModelSpec::parse(text).map_err(|e| match e.kind {
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
    })
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
        let spec = parse_model("version=vmaf_v0.6.1neg").unwrap();
        assert_eq!(spec.source, ModelSource::BuiltIn("vmaf_v0.6.1neg".into()));
        assert_eq!(spec.score_name(), "vmaf");
        assert!(!spec.disable_clip && !spec.enable_transform && spec.overrides.is_empty());

        let spec = parse_model("path=/x/m.json:name=foo:disable_clip:enable_transform").unwrap();
        assert_eq!(spec.source, ModelSource::Path("/x/m.json".into()));
        assert_eq!(spec.source.to_string(), "/x/m.json");
        assert_eq!(spec.score_name(), "foo");
        assert!(spec.disable_clip && spec.enable_transform);

        let spec = parse_model("disable_clip=false:version=v:enable_transform=true").unwrap();
        assert!(!spec.disable_clip && spec.enable_transform);
    }

    #[test]
    fn overrides_normalise_numbers_like_libvmaf() {
        let spec = parse_model(
            "version=vmaf_v0.6.1neg:vif.vif_enhn_gain_limit=1.0:adm.adm_enhn_gain_limit=1.23456789:\
             motion.motion_force_zero=true:vif.vif_kernelscale= 2.50 ",
        )
        .unwrap();
        let got: Vec<_> = spec
            .overrides
            .iter()
            .map(|o| {
                (
                    o.extractor.as_str(),
                    o.option.as_str(),
                    normalize_number(&o.value),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("vif", "vif_enhn_gain_limit", "1".to_owned()),
                ("adm", "adm_enhn_gain_limit", "1.23457".to_owned()),
                ("motion", "motion_force_zero", "true".to_owned()),
                ("vif", "vif_kernelscale", "2.5".to_owned()),
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
            let err = parse_model(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
