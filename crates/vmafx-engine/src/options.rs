//! Typed options for feature extractors, parsed from `key=value` strings, and the option-aware
//! feature names libvmaf derives from them (`integer_vif_scale0_egl_1`).

use crate::feature::name::alias;
use crate::EngineError;

/// An option's value, also used for its type and default.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// `true` or `false`.
    Bool(bool),
    /// A 32-bit integer.
    Int(i32),
    /// A double.
    Double(f64),
    /// Free text.
    Str(&'static str),
}

/// The description of one option an extractor accepts.
#[derive(Debug, Clone)]
pub struct OptionSpec {
    /// Key used on the command line and in model files.
    pub name: &'static str,
    /// Short key used inside derived feature names, if different.
    pub alias: Option<&'static str>,
    /// Default value, which also fixes the option's type.
    pub default: OptionValue,
    /// Smallest accepted numeric value.
    pub min: f64,
    /// Largest accepted numeric value.
    pub max: f64,
    /// Whether a non-default value changes the feature's name (libvmaf's FEATURE_PARAM flag).
    pub feature_param: bool,
}

impl OptionSpec {
    /// A floating-point option whose non-default value names the feature (libvmaf's
    /// FEATURE_PARAM), accepted within `min..=max`.
    pub const fn param_double(
        name: &'static str,
        alias: Option<&'static str>,
        default: f64,
        min: f64,
        max: f64,
    ) -> Self {
        OptionSpec {
            name,
            alias,
            default: OptionValue::Double(default),
            min,
            max,
            feature_param: true,
        }
    }

    /// An integer option whose non-default value names the feature, within `min..=max`.
    pub const fn param_int(
        name: &'static str,
        alias: Option<&'static str>,
        default: i32,
        min: f64,
        max: f64,
    ) -> Self {
        OptionSpec {
            name,
            alias,
            default: OptionValue::Int(default),
            min,
            max,
            feature_param: true,
        }
    }

    /// A boolean option, off by default; `feature_param` says whether turning it on names the
    /// feature.
    pub const fn switch(
        name: &'static str,
        alias: Option<&'static str>,
        feature_param: bool,
    ) -> Self {
        OptionSpec {
            name,
            alias,
            default: OptionValue::Bool(false),
            min: 0.0,
            max: 0.0,
            feature_param,
        }
    }
}

/// A parsed value that owns its text, for string options set at run time.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedValue {
    /// `true` or `false`.
    Bool(bool),
    /// A 32-bit integer.
    Int(i32),
    /// A double.
    Double(f64),
    /// Free text.
    Str(String),
}

impl ParsedValue {
    fn from_default(v: &OptionValue) -> Self {
        match v {
            OptionValue::Bool(b) => ParsedValue::Bool(*b),
            OptionValue::Int(i) => ParsedValue::Int(*i),
            OptionValue::Double(d) => ParsedValue::Double(*d),
            OptionValue::Str(s) => ParsedValue::Str((*s).to_string()),
        }
    }

    fn is_default(&self, v: &OptionValue) -> bool {
        match (self, v) {
            (ParsedValue::Bool(a), OptionValue::Bool(b)) => a == b,
            (ParsedValue::Int(a), OptionValue::Int(b)) => a == b,
            (ParsedValue::Double(a), OptionValue::Double(b)) => a == b,
            (ParsedValue::Str(a), OptionValue::Str(b)) => a == b,
            _ => false,
        }
    }

    /// The value as libvmaf prints it inside a feature name.
    fn name_text(&self) -> String {
        match self {
            ParsedValue::Bool(b) => b.to_string(),
            ParsedValue::Int(i) => i.to_string(),
            ParsedValue::Double(d) => format_g(*d),
            ParsedValue::Str(s) => s.clone(),
        }
    }
}

/// The options of one extractor instance: every spec with its current value.
#[derive(Debug, Clone)]
pub struct OptionValues {
    owner: String,
    specs: &'static [OptionSpec],
    values: Vec<ParsedValue>,
    /// The scorer's `--fast-metrics` choice, not a user option of any extractor: whether an
    /// extractor with an inexact fast kernel (only `ciede` so far) may use it.
    fast_metrics: bool,
}

impl OptionValues {
    /// All options at their defaults.
    pub fn defaults(owner: &str, specs: &'static [OptionSpec]) -> Self {
        OptionValues {
            owner: owner.to_string(),
            specs,
            values: specs
                .iter()
                .map(|s| ParsedValue::from_default(&s.default))
                .collect(),
            fast_metrics: false,
        }
    }

    /// Whether the scorer allows inexact fast kernels (see [`OptionValues::fast_metrics`]).
    pub fn set_fast_metrics(&mut self, on: bool) {
        self.fast_metrics = on;
    }

    /// Whether this extractor may run its inexact fast kernel instead of the exact one.
    pub fn fast_metrics(&self) -> bool {
        self.fast_metrics
    }

    /// Parses `key=value` pairs over the defaults. Unknown keys and bad values are errors.
    pub fn parse(
        owner: &str,
        specs: &'static [OptionSpec],
        pairs: &[(String, String)],
    ) -> Result<Self, EngineError> {
        let mut out = Self::defaults(owner, specs);
        for (key, value) in pairs {
            out.set(key, value)?;
        }
        Ok(out)
    }

    /// Sets one option from its text form.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), EngineError> {
        let idx = self
            .specs
            .iter()
            .position(|s| s.name == key || s.alias == Some(key))
            .ok_or_else(|| EngineError::UnknownOption {
                owner: self.owner.clone(),
                key: key.to_string(),
            })?;
        let spec = &self.specs[idx];
        let invalid = |reason: String| EngineError::InvalidOption {
            owner: self.owner.clone(),
            key: key.to_string(),
            value: value.to_string(),
            reason,
        };
        let parsed = match spec.default {
            OptionValue::Bool(_) => match value {
                "true" => ParsedValue::Bool(true),
                "false" => ParsedValue::Bool(false),
                _ => return Err(invalid("expected true or false".into())),
            },
            OptionValue::Int(_) => {
                let n: i32 = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid("expected an integer".into()))?;
                if (n as f64) < spec.min || (n as f64) > spec.max {
                    return Err(invalid(format!(
                        "allowed range is {}..={}",
                        spec.min, spec.max
                    )));
                }
                ParsedValue::Int(n)
            }
            OptionValue::Double(_) => {
                let n: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid("expected a number".into()))?;
                if !n.is_finite() || n < spec.min || n > spec.max {
                    return Err(invalid(format!(
                        "allowed range is {}..={}",
                        spec.min, spec.max
                    )));
                }
                ParsedValue::Double(n)
            }
            OptionValue::Str(_) => ParsedValue::Str(value.to_string()),
        };
        self.values[idx] = parsed;
        Ok(())
    }

    fn find(&self, name: &str) -> &ParsedValue {
        let idx = self
            .specs
            .iter()
            .position(|s| s.name == name)
            .unwrap_or_else(|| panic!("extractor asked for undeclared option {name}"));
        &self.values[idx]
    }

    /// A boolean option's value. Panics if `name` is not a declared boolean (a programming error).
    pub fn get_bool(&self, name: &str) -> bool {
        match self.find(name) {
            ParsedValue::Bool(b) => *b,
            other => panic!("option {name} is not a bool: {other:?}"),
        }
    }

    /// An integer option's value.
    pub fn get_int(&self, name: &str) -> i32 {
        match self.find(name) {
            ParsedValue::Int(i) => *i,
            other => panic!("option {name} is not an int: {other:?}"),
        }
    }

    /// A double option's value.
    pub fn get_double(&self, name: &str) -> f64 {
        match self.find(name) {
            ParsedValue::Double(d) => *d,
            other => panic!("option {name} is not a double: {other:?}"),
        }
    }

    /// A string option's value.
    pub fn get_str(&self, name: &str) -> &str {
        match self.find(name) {
            ParsedValue::Str(s) => s,
            other => panic!("option {name} is not a string: {other:?}"),
        }
    }

    /// The collector name libvmaf gives `provided` under these options: unchanged when every
    /// feature parameter is at its default, else the alias followed by `_key_value` for each
    /// non-default parameter in alphabetical order of the option names (`_key` for booleans).
    pub fn feature_name(&self, provided: &str) -> String {
        let mut changed: Vec<(&OptionSpec, &ParsedValue)> = self
            .specs
            .iter()
            .zip(&self.values)
            .filter(|(s, v)| s.feature_param && !v.is_default(&s.default))
            .collect();
        if changed.is_empty() {
            return provided.to_string();
        }
        changed.sort_by(|a, b| a.0.name.cmp(b.0.name));
        let mut name = alias(provided).to_string();
        for (spec, value) in changed {
            let key = spec.alias.unwrap_or(spec.name);
            match value {
                ParsedValue::Bool(_) => {
                    name.push('_');
                    name.push_str(key);
                }
                _ => {
                    name.push('_');
                    name.push_str(key);
                    name.push('_');
                    name.push_str(&value.name_text());
                }
            }
        }
        name
    }
}

/// Formats a double as C's `printf("%g")` does: six significant digits, trailing zeros removed,
/// scientific notation when the exponent is below -4 or at least 6.
pub fn format_g(value: f64) -> String {
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    if !value.is_finite() {
        return if value.is_nan() {
            "nan".into()
        } else if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    const PRECISION: i32 = 6;
    // Round to the target significant digits first: the exponent must come from the rounded value.
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, value);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..PRECISION).contains(&exp) {
        let mantissa = strip_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (PRECISION - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{value:.decimals$}")).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SPECS: &[OptionSpec] = &[
        OptionSpec {
            name: "vif_enhn_gain_limit",
            alias: Some("egl"),
            default: OptionValue::Double(100.0),
            min: 1.0,
            max: 100.0,
            feature_param: true,
        },
        OptionSpec {
            name: "debug",
            alias: None,
            default: OptionValue::Bool(false),
            min: 0.0,
            max: 0.0,
            feature_param: false,
        },
    ];

    #[test]
    fn percent_g_matches_c() {
        assert_eq!(format_g(1.0), "1");
        assert_eq!(format_g(1.2), "1.2");
        assert_eq!(format_g(100.0), "100");
        assert_eq!(format_g(0.0001), "0.0001");
        assert_eq!(format_g(0.00001), "1e-05");
        assert_eq!(format_g(1234567.0), "1.23457e+06");
        assert_eq!(format_g(999999.5), "1e+06");
        assert_eq!(format_g(0.333333333), "0.333333");
    }

    #[test]
    fn feature_names_follow_non_default_options() {
        let defaults = OptionValues::defaults("vif", SPECS);
        assert_eq!(
            defaults.feature_name("VMAF_integer_feature_vif_scale0_score"),
            "VMAF_integer_feature_vif_scale0_score"
        );
        let opts = OptionValues::parse(
            "vif",
            SPECS,
            &[
                ("vif_enhn_gain_limit".into(), "1.0".into()),
                ("debug".into(), "true".into()),
            ],
        )
        .unwrap();
        assert_eq!(
            opts.feature_name("VMAF_integer_feature_vif_scale0_score"),
            "integer_vif_scale0_egl_1"
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_key() {
        let err = OptionValues::parse(
            "vif",
            SPECS,
            &[("vif_enhn_gain_limit".into(), "0.5".into())],
        )
        .unwrap_err();
        assert!(err.to_string().contains("vif_enhn_gain_limit"), "{err}");
        assert!(OptionValues::parse("vif", SPECS, &[("nope".into(), "1".into())]).is_err());
    }
}
