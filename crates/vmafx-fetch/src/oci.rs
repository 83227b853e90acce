//! Model JSON files as OCI artifacts: pushing a checkpoint (one layer, annotated with its
//! sha256, run, version and sample count) under one or more tags, and pulling one by tag or
//! digest, with the `oci-client` crate. Credentials come from a docker config file
//! (`--registry-config`); a private CA's certificates can be trusted besides the system's
//! (`--registry-ca`); plain HTTP is allowed only for loopback registries, and only with
//! `--insecure-registry`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_client::client::{
    Certificate, CertificateEncoding, ClientConfig, ClientProtocol, Config, ImageLayer,
};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};
use vmafx_contract::{OciReference, OciTarget};

/// The artifact's config media type: it names the artifact as a vmafx model.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.vmafx.model.config.v1+json";
/// The layer's media type: a libvmaf model JSON document.
pub const MODEL_MEDIA_TYPE: &str = "application/vnd.vmafx.model.v1+json";
/// Annotation: `sha256:…` of the model JSON.
pub const ANNOTATION_SHA256: &str = "dev.vmafx.model.sha256";
/// Annotation: the training run.
pub const ANNOTATION_RUN: &str = "dev.vmafx.model.run";
/// Annotation: the checkpoint version within the run.
pub const ANNOTATION_VERSION: &str = "dev.vmafx.model.version";
/// Annotation: samples the checkpoint was trained on.
pub const ANNOTATION_SAMPLES: &str = "dev.vmafx.model.samples";
/// The largest model JSON pulled (libvmaf's largest models are a few hundred KiB).
pub const MAX_MODEL_BYTES: usize = 16 << 20;
/// The largest `--registry-ca` file read (a bundle of a few CA certificates is a few KiB).
pub const MAX_CA_FILE_BYTES: u64 = 1 << 20;
/// How long one registry request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a model could not be pushed or pulled. Each is one line naming the reference or file.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The docker config file of `--registry-config` is unreadable or malformed.
    #[error("--registry-config {}: {problem}", path.display())]
    RegistryConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The CA file of `--registry-ca` is unreadable, too large or holds no PEM certificate.
    #[error("--registry-ca {}: {problem}", path.display())]
    RegistryCa {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// Plain HTTP was asked for a registry that is not on a loopback address.
    #[error("--insecure-registry allows plain HTTP to loopback registries only, not {0}")]
    InsecureRemote(String),
    /// The registry did not answer, or refused the request.
    #[error("failed to {action} {reference}: {detail}")]
    Registry {
        /// push, pull, tag, …
        action: &'static str,
        /// The reference.
        reference: String,
        /// The registry client's error.
        detail: String,
    },
    /// What the registry served is not a usable vmafx model.
    #[error("{reference}: {problem}")]
    Artifact {
        /// The reference.
        reference: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The input policy does not allow models from this registry.
    #[error("{reference}: {reason}")]
    Refused {
        /// The reference.
        reference: String,
        /// The policy's reason.
        reason: String,
    },
    /// The model cache could not be written.
    #[error("model cache {}: {source}", path.display())]
    Cache {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl OciError {
    /// Whether another attempt may succeed: the registry may answer next time; a bad
    /// artifact, configuration or reference stays bad.
    pub fn is_transient(&self) -> bool {
        matches!(self, OciError::Registry { .. } | OciError::Cache { .. })
    }
}

fn artifact(reference: &OciReference, problem: impl Into<String>) -> OciError {
    OciError::Artifact {
        reference: reference.to_string(),
        problem: problem.into(),
    }
}

fn registry_error(
    action: &'static str,
    reference: &OciReference,
    error: impl std::error::Error,
) -> OciError {
    OciError::Registry {
        action,
        reference: reference.to_string(),
        detail: vmafx_contract::error_line(&error),
    }
}

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Allow plain HTTP to loopback registries.
    pub insecure: bool,
    /// A docker config file (`{"auths": {"HOST": {"auth": base64(user:password)}}}`).
    pub config: Option<PathBuf>,
    /// PEM certificates of CAs trusted besides the system's (a registry with a private CA).
    pub ca_file: Option<PathBuf>,
}

/// What a pushed checkpoint carries besides its JSON.
#[derive(Debug, Clone)]
pub struct ModelAnnotations {
    /// The run.
    pub run: String,
    /// The version.
    pub version: String,
    /// Samples trained on.
    pub samples: u64,
}

/// The model cache of a user who names none: `$XDG_CACHE_HOME/vmafx/models`, else
/// `$HOME/.cache/vmafx/models`; `None` when neither variable is set.
pub fn default_cache_dir() -> Option<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|d| !d.is_empty());
    set("XDG_CACHE_HOME")
        .map(|dir| PathBuf::from(dir).join("vmafx/models"))
        .or_else(|| set("HOME").map(|home| PathBuf::from(home).join(".cache/vmafx/models")))
}

/// `sha256:…` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The base64 alphabet's value of one character.
fn base64_value(c: u8) -> Option<u32> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

/// Decodes standard or URL-safe base64, padded or not.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        acc = (acc << 6) | base64_value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The credentials a docker config file holds for `registry`; anonymous without a file or an
/// entry.
pub fn registry_auth(config: Option<&Path>, registry: &str) -> Result<RegistryAuth, OciError> {
    let Some(path) = config else {
        return Ok(RegistryAuth::Anonymous);
    };
    let bad = |problem: String| OciError::RegistryConfig {
        path: path.to_owned(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let entry = doc.get("auths").and_then(|a| {
        a.get(registry)
            .or_else(|| a.get(format!("https://{registry}")))
            .or_else(|| a.get(format!("http://{registry}")))
    });
    let Some(entry) = entry else {
        return Ok(RegistryAuth::Anonymous);
    };
    if let Some(auth) = entry.get("auth").and_then(|v| v.as_str()) {
        let not_basic = || {
            bad(format!(
                "auths.{registry}.auth is not base64 of user:password"
            ))
        };
        let decoded = base64_decode(auth)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(not_basic)?;
        let Some((user, password)) = decoded.split_once(':') else {
            return Err(not_basic());
        };
        return Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()));
    }
    match (
        entry.get("username").and_then(|v| v.as_str()),
        entry.get("password").and_then(|v| v.as_str()),
    ) {
        (Some(user), Some(password)) => {
            Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()))
        }
        _ => Ok(RegistryAuth::Anonymous),
    }
}

/// A client for `reference`'s registry: HTTPS, or plain HTTP for a loopback registry when
/// `--insecure-registry` allows it.
fn client(reference: &OciReference, options: &RegistryOptions) -> Result<Client, OciError> {
    // The process may not have chosen a TLS provider yet; the rest of vmafx uses ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let protocol = if options.insecure {
        if !reference.is_loopback() {
            return Err(OciError::InsecureRemote(reference.registry.clone()));
        }
        ClientProtocol::HttpsExcept(vec![reference.registry.clone()])
    } else {
        ClientProtocol::Https
    };
    let extra_root_certificates = match &options.ca_file {
        Some(path) => trusted_cas(path)?,
        None => Vec::new(),
    };
    // `Client::new` would fall back to a default client on a bad certificate; refuse instead.
    Client::try_from(ClientConfig {
        protocol,
        read_timeout: Some(REQUEST_TIMEOUT),
        connect_timeout: Some(Duration::from_secs(10)),
        extra_root_certificates,
        ..ClientConfig::default()
    })
    .map_err(|e| OciError::RegistryCa {
        path: options.ca_file.clone().unwrap_or_default(),
        problem: e.to_string(),
    })
}

/// The certificates of a `--registry-ca` PEM file, each as DER.
fn trusted_cas(path: &Path) -> Result<Vec<Certificate>, OciError> {
    let problem = |problem: String| OciError::RegistryCa {
        path: path.to_owned(),
        problem,
    };
    let pem = crate::limited_read(path, MAX_CA_FILE_BYTES).map_err(problem)?;
    ca_certificates(&pem).map_err(problem)
}

/// Every `CERTIFICATE` block of a PEM text, as DER; at least one.
pub fn ca_certificates(pem: &[u8]) -> Result<Vec<Certificate>, String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let certificates = CertificateDer::pem_slice_iter(pem)
        .map(|c| {
            c.map(|der| Certificate {
                encoding: CertificateEncoding::Der,
                data: der.to_vec(),
            })
            .map_err(|e| format!("not PEM certificates: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if certificates.is_empty() {
        return Err("holds no PEM CERTIFICATE block".to_owned());
    }
    Ok(certificates)
}

fn oci_reference(reference: &OciReference) -> Reference {
    match &reference.target {
        OciTarget::Tag(tag) => Reference::with_tag(
            reference.registry.clone(),
            reference.repository.clone(),
            tag.clone(),
        ),
        OciTarget::Digest(digest) => Reference::with_digest(
            reference.registry.clone(),
            reference.repository.clone(),
            digest.clone(),
        ),
    }
}

/// Pushes `model` under `reference` (a tag) and every tag in `extra_tags`; returns the manifest
/// digest.
pub async fn push_model(
    reference: &OciReference,
    extra_tags: &[String],
    model: &[u8],
    annotations: &ModelAnnotations,
    options: &RegistryOptions,
) -> Result<String, OciError> {
    if !matches!(reference.target, OciTarget::Tag(_)) {
        return Err(artifact(reference, "push to a tag, not a digest"));
    }
    let client = client(reference, options)?;
    let auth = registry_auth(options.config.as_deref(), &reference.registry)?;
    let mut notes = BTreeMap::new();
    notes.insert(ANNOTATION_SHA256.to_owned(), sha256(model));
    notes.insert(ANNOTATION_RUN.to_owned(), annotations.run.clone());
    notes.insert(ANNOTATION_VERSION.to_owned(), annotations.version.clone());
    notes.insert(
        ANNOTATION_SAMPLES.to_owned(),
        annotations.samples.to_string(),
    );
    let layer = ImageLayer::new(
        model.to_vec(),
        MODEL_MEDIA_TYPE.to_owned(),
        Some(BTreeMap::from([(
            "org.opencontainers.image.title".to_owned(),
            format!("{}-{}.json", annotations.run, annotations.version),
        )])),
    );
    let config = Config {
        data: b"{}".to_vec().into(),
        media_type: CONFIG_MEDIA_TYPE.to_owned(),
        annotations: None,
    };
    let layers = [layer];
    let manifest = OciImageManifest::build(&layers, &config, Some(notes));
    let target = oci_reference(reference);
    client
        .push(&target, &layers, config, &auth, Some(manifest.clone()))
        .await
        .map_err(|e| registry_error("push", reference, e))?;
    for tag in extra_tags {
        let tagged = Reference::with_tag(
            reference.registry.clone(),
            reference.repository.clone(),
            tag.clone(),
        );
        client
            .push_manifest(&tagged, &manifest.clone().into())
            .await
            .map_err(|e| OciError::Registry {
                action: "tag",
                reference: reference.to_string(),
                detail: format!("as {tag}: {}", vmafx_contract::error_line(&e)),
            })?;
    }
    let digest = client
        .fetch_manifest_digest(&target, &auth)
        .await
        .map_err(|e| registry_error("read back the digest of", reference, e))?;
    Ok(digest)
}

/// A pulled model: its JSON and the manifest digest it came from.
#[derive(Debug, Clone)]
pub struct PulledModel {
    /// The model JSON.
    pub json: Vec<u8>,
    /// The manifest's digest.
    pub digest: String,
}

/// Pulls the model JSON `reference` names, checking that it is a vmafx model artifact and that
/// its content matches its sha256 annotation.
pub async fn pull_model(
    reference: &OciReference,
    options: &RegistryOptions,
) -> Result<PulledModel, OciError> {
    let client = client(reference, options)?;
    let auth = registry_auth(options.config.as_deref(), &reference.registry)?;
    let image = client
        .pull(&oci_reference(reference), &auth, vec![MODEL_MEDIA_TYPE])
        .await
        .map_err(|e| registry_error("pull", reference, e))?;
    let [layer] = image.layers.as_slice() else {
        return Err(artifact(
            reference,
            format!(
                "a model artifact has one layer, this one has {}",
                image.layers.len()
            ),
        ));
    };
    if layer.data.len() > MAX_MODEL_BYTES {
        return Err(artifact(
            reference,
            format!(
                "the model is {} bytes, more than {MAX_MODEL_BYTES}",
                layer.data.len()
            ),
        ));
    }
    let manifest = image.manifest.as_ref();
    if manifest.map(|m| m.config.media_type.as_str()) != Some(CONFIG_MEDIA_TYPE) {
        return Err(artifact(
            reference,
            format!("not a vmafx model artifact (config media type is not {CONFIG_MEDIA_TYPE})"),
        ));
    }
    let declared = manifest
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(ANNOTATION_SHA256));
    let actual = sha256(&layer.data);
    if let Some(declared) = declared {
        if *declared != actual {
            return Err(artifact(
                reference,
                format!("the model's sha256 is {actual}, its annotation says {declared}"),
            ));
        }
    }
    let digest = image
        .digest
        .clone()
        .ok_or_else(|| artifact(reference, "the registry gave no manifest digest"))?;
    if let OciTarget::Digest(wanted) = &reference.target {
        if *wanted != digest {
            return Err(artifact(
                reference,
                format!("the registry served manifest {digest}"),
            ));
        }
    }
    Ok(PulledModel {
        json: layer.data.to_vec(),
        digest,
    })
}

/// Pulls `reference` into the cache folder (once per digest) and returns the file's path, for
/// `-m oci://…`.
pub async fn cached_model(
    reference: &OciReference,
    options: &RegistryOptions,
    cache: &Path,
) -> Result<PathBuf, OciError> {
    if let OciTarget::Digest(digest) = &reference.target {
        let path = cache.join(format!("{}.json", digest.replace(':', "-")));
        if path.is_file() {
            return Ok(path);
        }
    }
    let pulled = pull_model(reference, options).await?;
    std::fs::create_dir_all(cache).map_err(|source| OciError::Cache {
        path: cache.to_owned(),
        source,
    })?;
    let path = cache.join(format!("{}.json", pulled.digest.replace(':', "-")));
    let temp = cache.join(format!(
        ".{}.tmp-{}",
        pulled.digest.replace(':', "-"),
        std::process::id()
    ));
    std::fs::write(&temp, &pulled.json)
        .and_then(|()| std::fs::rename(&temp, &path))
        .map_err(|source| OciError::Cache {
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_is_refused_by_name() {
        assert!(ca_certificates(b"")
            .unwrap_err()
            .contains("no PEM CERTIFICATE"));
        assert!(
            ca_certificates(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .unwrap_err()
                .contains("no PEM CERTIFICATE")
        );
        assert!(
            ca_certificates(b"-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n")
                .is_err()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let reference = OciReference::parse("oci://reg.example/m:v1").unwrap();
        let options = RegistryOptions {
            ca_file: Some(path.clone()),
            ..RegistryOptions::default()
        };
        let err = client(&reference, &options).err().unwrap().to_string();
        assert!(
            err.starts_with("--registry-ca ") && err.contains("ca.pem"),
            "{err}"
        );
        let missing = RegistryOptions {
            ca_file: Some(dir.path().join("absent.pem")),
            ..RegistryOptions::default()
        };
        let err = client(&reference, &missing).err().unwrap().to_string();
        assert!(err.contains("absent.pem"), "{err}");
    }

    #[test]
    fn docker_config_credentials() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert!(base64_decode("a b").is_none());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths": {"reg:5000": {"auth": "dXNlcjpwYXNz"}, "other": {"username": "u", "password": "p"}}}"#,
        )
        .unwrap();
        assert!(matches!(
            registry_auth(Some(&path), "reg:5000").unwrap(),
            RegistryAuth::Basic(u, p) if u == "user" && p == "pass"
        ));
        assert!(matches!(
            registry_auth(Some(&path), "other").unwrap(),
            RegistryAuth::Basic(u, _) if u == "u"
        ));
        assert!(matches!(
            registry_auth(Some(&path), "unknown").unwrap(),
            RegistryAuth::Anonymous
        ));
        std::fs::write(&path, r#"{"auths": {"reg": {"auth": "bm9jb2xvbg=="}}}"#).unwrap();
        let err = registry_auth(Some(&path), "reg").unwrap_err().to_string();
        assert!(err.contains("auths.reg.auth"), "{err}");
    }
}
