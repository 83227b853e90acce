//! The model spec grammar (`--model` and a job's `models[i]`): `:`-separated `key=value`
//! parameters among `version=NAME`, `path=FILE`, `name=NAME`, `disable_clip[=true|false]`,
//! `enable_transform[=true|false]` and `EXTRACTOR.OPTION=VALUE` overrides such as
//! `vif.vif_enhn_gain_limit=1.5`, in the syntax of libvmaf's `vmaf` tool; or, alone, an OCI
//! artifact reference `oci://HOST[:PORT]/REPO:TAG` or `oci://HOST[:PORT]/REPO@sha256:HEX` (a
//! checkpoint pushed by `vmafx trainer`), which the caller pulls before loading.

use std::fmt;
use std::path::PathBuf;

use crate::{quote, FieldError};

/// The built-in model versions, usable as `version=…`. The engine embeds exactly these (a test
/// there asserts the agreement), so every component can check a name without loading a model.
pub const BUILT_IN_MODELS: [&str; 17] = [
    "vmaf_v0.6.1",
    "vmaf_v0.6.1neg",
    "vmaf_4k_v0.6.1",
    "vmaf_4k_v0.6.1neg",
    "vmaf_b_v0.6.3",
    "vmaf_float_v0.6.1",
    "vmaf_float_v0.6.1neg",
    "vmaf_float_4k_v0.6.1",
    "vmaf_float_b_v0.6.3",
    "vmaf_v1.0.16_3d0h",
    "vmaf_v1.0.16_3d0h_2160",
    "vmaf_v1.0.16_5d0h",
    "vmaf_v1.0.16_1d5h_2160",
    "vmaf_v1.0.16_hfr_3d0h",
    "vmaf_v1.0.16_hfr_3d0h_2160",
    "vmaf_v1.0.16_hfr_5d0h",
    "vmaf_v1.0.16_hfr_1d5h_2160",
];

/// The model a job or a `vmafx score` run uses when it names none, as libvmaf's tool does.
pub const DEFAULT_MODEL_VERSION: &str = "vmaf_v0.6.1";

/// The name a model's scores are written under when its spec gives no `name=`.
pub const DEFAULT_SCORE_NAME: &str = "vmaf";

/// The longest model spec accepted, in bytes (a path plus a handful of overrides fit easily).
pub const MAX_MODEL_SPEC_BYTES: usize = 4096;

/// Where a model's JSON comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A built-in version such as `vmaf_v0.6.1` (see [`BUILT_IN_MODELS`]).
    BuiltIn(String),
    /// A libvmaf JSON model (or model collection) file.
    Path(PathBuf),
    /// A model JSON pushed to an OCI registry, to be pulled first.
    Oci(OciReference),
}

/// The longest OCI tag (the distribution spec's limit).
pub const MAX_OCI_TAG_BYTES: usize = 128;

/// What an OCI reference names inside its repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciTarget {
    /// A tag such as `run-v3` or `latest-stable`.
    Tag(String),
    /// A manifest digest, `sha256:` and 64 lowercase hex digits.
    Digest(String),
}

/// `oci://HOST[:PORT]/REPO:TAG` or `oci://HOST[:PORT]/REPO@sha256:HEX`, checked against the
/// OCI distribution spec's grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciReference {
    /// Registry host, with its port when given (`127.0.0.1:5000`).
    pub registry: String,
    /// Repository path (`vmafx/models`).
    pub repository: String,
    /// Tag or digest.
    pub target: OciTarget,
}

impl fmt::Display for OciReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.repository)?;
        match &self.target {
            OciTarget::Tag(tag) => write!(f, ":{tag}"),
            OciTarget::Digest(digest) => write!(f, "@{digest}"),
        }
    }
}

fn oci_invalid(text: &str, reason: impl Into<String>) -> InvalidModel {
    invalid("oci", text, reason)
}

/// Whether `digest` is `sha256:` and 64 lowercase hex digits.
pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

impl OciReference {
    /// Parses `oci://…` (the scheme included).
    pub fn parse(text: &str) -> Result<OciReference, InvalidModel> {
        let rest = text
            .strip_prefix("oci://")
            .ok_or_else(|| oci_invalid(text, "must start with oci://"))?;
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| oci_invalid(text, "needs oci://HOST/REPO:TAG"))?;
        let (host, port) = match registry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        };
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if !host_ok {
            return Err(oci_invalid(
                text,
                format!("bad registry host {}", quote(host)),
            ));
        }
        if let Some(port) = port {
            if port.parse::<u16>().ok().filter(|p| *p > 0).is_none() {
                return Err(oci_invalid(
                    text,
                    format!("bad registry port {}", quote(port)),
                ));
            }
        }
        let (repository, target) = if let Some((repository, digest)) = path.split_once('@') {
            if !is_sha256_digest(digest) {
                return Err(oci_invalid(
                    text,
                    "a digest is sha256: followed by 64 lowercase hex digits",
                ));
            }
            (repository, OciTarget::Digest(digest.to_owned()))
        } else if let Some((repository, tag)) = path.rsplit_once(':') {
            let tag_ok = !tag.is_empty()
                && tag.len() <= MAX_OCI_TAG_BYTES
                && !tag.starts_with(['.', '-'])
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !tag_ok {
                return Err(oci_invalid(text, format!("bad tag {}", quote(tag))));
            }
            (repository, OciTarget::Tag(tag.to_owned()))
        } else {
            return Err(oci_invalid(
                text,
                "name a tag (REPO:TAG) or a digest (REPO@sha256:…)",
            ));
        };
        // Path components of lowercase letters and digits, joined by '.', '_', '__' or '-'.
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && c.bytes()
                    .last()
                    .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
        };
        if !repository.split('/').all(component_ok) {
            return Err(oci_invalid(
                text,
                format!(
                    "bad repository {} (lowercase letters, digits, '.', '_', '-', '/')",
                    quote(repository)
                ),
            ));
        }
        Ok(OciReference {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            target,
        })
    }

    /// Whether the registry is on this machine's loopback interface (where plain HTTP may be
    /// allowed for test registries).
    pub fn is_loopback(&self) -> bool {
        let host = self
            .registry
            .rsplit_once(':')
            .map_or(self.registry.as_str(), |(h, _)| h);
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for ModelSource {
    /// The label libvmaf's tool prints next to a pooled score: the version or the path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSource::BuiltIn(version) => f.write_str(version),
            ModelSource::Path(path) => write!(f, "{}", path.display()),
            ModelSource::Oci(reference) => write!(f, "{reference}"),
        }
    }
}

/// One `extractor.option=value` override, with the value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOverride {
    /// Extractor name, e.g. `vif`.
    pub extractor: String,
    /// Option name, e.g. `vif_enhn_gain_limit`.
    pub option: String,
    /// The value as written (the engine normalises numbers the way libvmaf does).
    pub value: String,
}

/// Everything a model spec says.
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
    pub overrides: Vec<ModelOverride>,
}

/// What kind of mistake a model spec holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelErrorKind {
    /// A parameter that is neither a known key nor an `extractor.option` override.
    UnknownKey,
    /// A known key with a value (or shape) that is refused.
    InvalidValue,
}

/// Why a model spec was refused: the key, the value and the reason, one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidModel {
    /// Which kind of mistake.
    pub kind: ModelErrorKind,
    /// The offending key (or parameter).
    pub key: String,
    /// The value as given.
    pub value: String,
    /// Why it was refused.
    pub reason: String,
}

impl fmt::Display for InvalidModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ModelErrorKind::UnknownKey => write!(
                f,
                "unknown parameter {} (expected version, path, name, disable_clip, enable_transform or extractor.option=value)",
                quote(&self.key)
            ),
            ModelErrorKind::InvalidValue => write!(
                f,
                "invalid value {} for {}: {}",
                quote(&self.value),
                quote(&self.key),
                self.reason
            ),
        }
    }
}

impl InvalidModel {
    /// The error as a field error: `models[2]: …`.
    pub fn in_field(self, field: &str) -> FieldError {
        FieldError::new(field, self.to_string())
    }
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> InvalidModel {
    InvalidModel {
        kind: ModelErrorKind::InvalidValue,
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Whether `name` is a usable score name: printable, no `:` or `=` (which delimit the spec).
fn valid_score_name(name: &str) -> bool {
    !name.chars().any(|c| c.is_control() || c == ':' || c == '=')
}

impl Default for ModelSpec {
    /// The model used when none is given: built-in [`DEFAULT_MODEL_VERSION`], scores named
    /// [`DEFAULT_SCORE_NAME`].
    fn default() -> Self {
        ModelSpec {
            source: ModelSource::BuiltIn(DEFAULT_MODEL_VERSION.to_owned()),
            name: None,
            disable_clip: false,
            enable_transform: false,
            overrides: Vec::new(),
        }
    }
}

impl ModelSpec {
    /// The name the model's scores are written under.
    pub fn score_name(&self) -> &str {
        self.name.as_deref().unwrap_or(DEFAULT_SCORE_NAME)
    }

    /// Parses a model spec. Exactly one of `version` and `path` is required.
    pub fn parse(text: &str) -> Result<ModelSpec, InvalidModel> {
        if text.len() > MAX_MODEL_SPEC_BYTES {
            return Err(invalid(
                "model",
                &text.chars().take(40).collect::<String>(),
                format!(
                    "the spec is {} bytes, more than {MAX_MODEL_SPEC_BYTES}",
                    text.len()
                ),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(invalid("model", text, "contains a control character"));
        }
        if text.starts_with("oci://") {
            // A reference stands alone: its ':' and '@' are not spec separators.
            return Ok(ModelSpec {
                source: ModelSource::Oci(OciReference::parse(text)?),
                ..ModelSpec::default()
            });
        }
        if text.contains("=oci://") {
            return Err(invalid(
                "model",
                text,
                "an oci:// reference is given alone (-m oci://HOST/REPO:TAG), not as a value",
            ));
        }
        let mut version = None;
        let mut path = None;
        let mut name = None;
        let mut disable_clip = false;
        let mut enable_transform = false;
        let mut overrides = Vec::new();
        for param in text.split(':') {
            let (key, value) = match param.split_once('=') {
                Some((key, value)) => (key, Some(value)),
                None => (param, None),
            };
            if key.is_empty() {
                return Err(invalid(
                    key,
                    param,
                    "empty parameter name (stray ':' or '=')",
                ));
            }
            let value = match (key, value) {
                (_, Some(value)) => {
                    if value.is_empty() {
                        return Err(invalid(key, value, "empty value"));
                    }
                    if value.contains('=') {
                        return Err(invalid(key, value, "value contains '='"));
                    }
                    value
                }
                ("disable_clip" | "enable_transform", None) => "true",
                (_, None) => return Err(invalid(key, "", "expected key=value")),
            };
            match key {
                "version" => version = Some(value.to_string()),
                "path" => path = Some(PathBuf::from(value)),
                "name" => {
                    if !valid_score_name(value) {
                        return Err(invalid(key, value, "not a usable score name"));
                    }
                    name = Some(value.to_string())
                }
                "disable_clip" => disable_clip = parse_flag(key, value)?,
                "enable_transform" => enable_transform = parse_flag(key, value)?,
                _ => overrides.push(parse_override(key, value)?),
            }
        }
        let source = match (version, path) {
            (Some(version), None) => ModelSource::BuiltIn(version),
            (None, Some(path)) => ModelSource::Path(path),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "path",
                    text,
                    "give either version= or path=, not both",
                ))
            }
            (None, None) => return Err(invalid("version", text, "needs version= or path=")),
        };
        Ok(ModelSpec {
            source,
            name,
            disable_clip,
            enable_transform,
            overrides,
        })
    }

    /// Parses `text` and checks that a `version=` names a built-in model; names `field` in the
    /// error (`models[2]: …`).
    pub fn parse_field(field: &str, text: &str) -> Result<ModelSpec, FieldError> {
        let spec = ModelSpec::parse(text).map_err(|e| e.in_field(field))?;
        if let ModelSource::BuiltIn(version) = &spec.source {
            if !BUILT_IN_MODELS.contains(&version.as_str()) {
                return Err(FieldError::new(
                    field,
                    format!(
                        "no built-in model {} (built-in: {})",
                        quote(version),
                        BUILT_IN_MODELS.join(", ")
                    ),
                ));
            }
        }
        Ok(spec)
    }
}

impl fmt::Display for ModelSpec {
    /// The spec in its own syntax; it parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            ModelSource::BuiltIn(version) => write!(f, "version={version}")?,
            ModelSource::Path(path) => write!(f, "path={}", path.display())?,
            ModelSource::Oci(reference) => return write!(f, "{reference}"),
        }
        if let Some(name) = &self.name {
            write!(f, ":name={name}")?;
        }
        if self.disable_clip {
            f.write_str(":disable_clip")?;
        }
        if self.enable_transform {
            f.write_str(":enable_transform")?;
        }
        for o in &self.overrides {
            write!(f, ":{}.{}={}", o.extractor, o.option, o.value)?;
        }
        Ok(())
    }
}

fn parse_flag(key: &str, value: &str) -> Result<bool, InvalidModel> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(key, value, "expected true or false")),
    }
}

fn parse_override(key: &str, value: &str) -> Result<ModelOverride, InvalidModel> {
    let Some((extractor, option)) = key.split_once('.') else {
        return Err(InvalidModel {
            kind: ModelErrorKind::UnknownKey,
            key: key.to_string(),
            value: value.to_string(),
            reason: String::new(),
        });
    };
    if extractor.is_empty() || option.is_empty() || option.contains('.') {
        return Err(invalid(
            key,
            value,
            "overrides are written extractor.option=value",
        ));
    }
    Ok(ModelOverride {
        extractor: extractor.to_string(),
        option: option.to_string(),
        value: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_tool_syntax() {
        let spec = ModelSpec::parse("version=vmaf_v0.6.1neg").unwrap();
        assert_eq!(spec.source, ModelSource::BuiltIn("vmaf_v0.6.1neg".into()));
        let spec = ModelSpec::parse(
            "path=/x/m.json:name=foo:disable_clip:enable_transform:vif.vif_enhn_gain_limit=1.5",
        )
        .unwrap();
        assert_eq!(spec.source, ModelSource::Path("/x/m.json".into()));
        assert_eq!(spec.name.as_deref(), Some("foo"));
        assert!(spec.disable_clip && spec.enable_transform);
        assert_eq!(spec.overrides[0].value, "1.5");
        assert_eq!(ModelSpec::parse(&spec.to_string()).unwrap(), spec);
    }

    #[test]
    fn errors_name_the_bad_key() {
        for (text, needle) in [
            ("version=a:bogus", "bogus"),
            ("version=a:bogus=1", "unknown parameter"),
            ("version=a:vif.=1", "vif."),
            ("version=a:vif.a.b=1", "vif.a.b"),
            ("version=a:disable_clip=yes", "disable_clip"),
            ("version=a:name=", "name"),
            ("version=a:path=b", "not both"),
            ("name=foo", "needs version= or path="),
            ("version=a::name=b", "empty parameter"),
            ("oci://registry/model", "name a tag"),
            ("oci://registry/Model:1", "bad repository"),
            ("oci://reg istry/m:1", "bad registry host"),
            ("oci://registry:99999/m:1", "bad registry port"),
            ("oci://registry/m:-x", "bad tag"),
            ("oci://registry/m@sha256:abc", "64 lowercase hex"),
            ("path=oci://registry/model", "given alone"),
        ] {
            let err = ModelSpec::parse_field("models[2]", text)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("models[2]: "), "{err}");
            assert!(err.contains(needle), "{text}: {err}");
        }
        let err = ModelSpec::parse_field("models[0]", "version=no_such").unwrap_err();
        assert!(err.to_string().contains("no built-in model"), "{err}");
        assert!(err.to_string().contains("vmaf_b_v0.6.3"), "{err}");
    }

    #[test]
    fn oci_references_parse_and_print_back() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        for text in [
            "oci://127.0.0.1:5000/vmafx/models:run-v3".to_owned(),
            "oci://registry.example/models:latest-stable".to_owned(),
            format!("oci://localhost:5000/m@{digest}"),
        ] {
            let spec = ModelSpec::parse_field("models[0]", &text).unwrap();
            assert!(matches!(spec.source, ModelSource::Oci(_)), "{text}");
            assert_eq!(spec.to_string(), text);
            assert_eq!(ModelSpec::parse(&spec.to_string()).unwrap(), spec);
        }
        let ModelSource::Oci(r) = ModelSpec::parse("oci://127.0.0.1:5000/a/b:t")
            .unwrap()
            .source
        else {
            panic!("not an OCI reference");
        };
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "a/b");
        assert_eq!(r.target, OciTarget::Tag("t".into()));
        assert!(r.is_loopback());
    }

    #[test]
    fn every_built_in_model_is_accepted() {
        for version in BUILT_IN_MODELS {
            let spec = ModelSpec::parse_field("models[0]", &format!("version={version}"))
                .unwrap_or_else(|e| panic!("{version}: {e}"));
            assert_eq!(spec.source, ModelSource::BuiltIn(version.into()));
        }
    }
}
