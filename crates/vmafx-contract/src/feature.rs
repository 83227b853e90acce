//! The `--feature` spec grammar (and a job's `features[i]`): an extractor name, then `=` and
//! `:`-separated `key=value` options, as in `psnr=enable_chroma=false:min_sse=0.5`.

use std::fmt;

use crate::{quote, FieldError};

/// The longest feature spec accepted, in bytes.
pub const MAX_FEATURE_SPEC_BYTES: usize = 1024;

/// An extra feature extractor and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureSpec {
    /// Extractor name, e.g. `psnr`.
    pub name: String,
    /// Options in the order given.
    pub options: Vec<(String, String)>,
}

/// Why a feature spec was refused, one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--feature {quoted}: {reason}")]
pub struct InvalidFeature {
    /// The spec, quoted and shortened.
    pub quoted: String,
    /// What is wrong with it.
    pub reason: String,
}

impl InvalidFeature {
    /// The error as a field error: `features[1]: …`.
    pub fn in_field(self, field: &str) -> FieldError {
        FieldError::new(
            field,
            format!("{} is invalid: {}", self.quoted, self.reason),
        )
    }
}

impl FeatureSpec {
    /// Parses libvmaf's `--feature` syntax.
    pub fn parse(text: &str) -> Result<FeatureSpec, InvalidFeature> {
        let fail = |reason: String| InvalidFeature {
            quoted: quote(text),
            reason,
        };
        if text.len() > MAX_FEATURE_SPEC_BYTES {
            return Err(fail(format!(
                "the spec is {} bytes, more than {MAX_FEATURE_SPEC_BYTES}",
                text.len()
            )));
        }
        let (name, rest) = match text.split_once('=') {
            Some((name, rest)) => (name, Some(rest)),
            None => (text, None),
        };
        if name.is_empty() {
            return Err(fail("missing extractor name".into()));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        {
            return Err(fail(format!(
                "the extractor name {} holds characters other than letters, digits, '_' and '-'",
                quote(name)
            )));
        }
        let mut options = Vec::new();
        if let Some(rest) = rest {
            for pair in rest.split(':') {
                match pair.split_once('=') {
                    Some((k, v))
                        if !k.is_empty()
                            && !v.is_empty()
                            && !v.contains('=')
                            && !pair.chars().any(char::is_control) =>
                    {
                        options.push((k.to_string(), v.to_string()))
                    }
                    _ => {
                        return Err(fail(format!(
                            "bad option {} (expected key=value)",
                            quote(pair)
                        )))
                    }
                }
            }
        }
        Ok(FeatureSpec {
            name: name.to_string(),
            options,
        })
    }

    /// Parses `text`, naming `field` in the error (`features[1]: …`).
    pub fn parse_field(field: &str, text: &str) -> Result<FeatureSpec, FieldError> {
        FeatureSpec::parse(text).map_err(|e| e.in_field(field))
    }

    /// Refuses what a job may not ask a node for: an option that makes the extractor write
    /// files (CAMBI's `heatmaps_path`) would let a submitter write anywhere the node can.
    /// `vmafx score` on one's own machine takes them; a job names `field` in the error.
    pub fn check_for_job(&self, field: &str) -> Result<(), FieldError> {
        match self
            .options
            .iter()
            .find(|(key, _)| FILE_WRITING_OPTIONS.contains(&key.as_str()))
        {
            Some((key, _)) => Err(FieldError::new(
                field,
                format!(
                    "option {} of {} writes files on the node; a job may not set it",
                    quote(key),
                    self.name
                ),
            )),
            None => Ok(()),
        }
    }
}

/// Extractor options whose value is a path the extractor writes to.
pub const FILE_WRITING_OPTIONS: &[&str] = &["heatmaps_path"];

impl fmt::Display for FeatureSpec {
    /// The spec in its own syntax; it parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (i, (k, v)) in self.options.iter().enumerate() {
            f.write_str(if i == 0 { "=" } else { ":" })?;
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_options() {
        assert_eq!(
            FeatureSpec::parse("psnr").unwrap(),
            FeatureSpec {
                name: "psnr".into(),
                options: vec![]
            }
        );
        let f = FeatureSpec::parse("psnr=enable_chroma=false:min_sse=0.5").unwrap();
        assert_eq!(f.options.len(), 2);
        assert_eq!(f.to_string(), "psnr=enable_chroma=false:min_sse=0.5");
        for bad in ["psnr=enable_chroma", "=x=1", "", "ps nr", "psnr=a=1:"] {
            let err = FeatureSpec::parse_field("features[1]", bad)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("features[1]: "), "{err}");
        }
    }

    #[test]
    fn jobs_may_not_set_options_that_write_files() {
        let spec = FeatureSpec::parse("cambi=full_ref=true:heatmaps_path=/etc").unwrap();
        let err = spec.check_for_job("features[2]").unwrap_err().to_string();
        assert!(
            err.starts_with("features[2]: ") && err.contains("heatmaps_path"),
            "{err}"
        );
        let fine = FeatureSpec::parse("cambi=full_ref=true").unwrap();
        assert!(fine.check_for_job("features[0]").is_ok());
    }
}
