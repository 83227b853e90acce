//! Where the fetcher gets credentials, endpoints and limits: filled from the environment or by hand.

use std::path::PathBuf;
use std::time::Duration;

/// Credentials, endpoints and limits for every storage the fetcher can read.
///
/// `FetchConfig::from_env` reads the variables each provider's own tools read; tests and embedders
/// fill the fields explicitly instead so that nothing depends on the process environment.
#[derive(Clone, Debug, Default)]
pub struct FetchConfig {
    /// S3 (`s3://bucket/key`).
    pub s3: S3Config,
    /// Google Cloud Storage (`gs://bucket/key`).
    pub gcs: GcsConfig,
    /// Azure Blob Storage (`azure://container/path`).
    pub azure: AzureConfig,
    /// rclone (`rclone://remote:path` and `remote://path`).
    pub rclone: RcloneConfig,
    /// How long one request may take and how often it is retried.
    pub limits: Limits,
    /// Which inputs may be read: file roots, private networks, byte limits. The default
    /// refuses every `file://` input and every non-public address.
    pub policy: vmafx_contract::InputPolicy,
    /// Host names answered from this table instead of DNS, like `/etc/hosts` for the fetcher;
    /// their addresses still pass the policy.
    pub static_hosts: Vec<(String, std::net::IpAddr)>,
    /// http(s) authorities (`host:port`) exempt from the private-network rule, such as an
    /// in-cluster media server; a redirect elsewhere is still checked.
    pub trusted_hosts: Vec<String>,
    /// How OCI registries are reached for `oci://` models (the policy says which).
    pub registry: crate::oci::RegistryOptions,
    /// Where pulled models are kept, one file per manifest digest (default:
    /// [`crate::oci::default_cache_dir`]).
    pub model_cache: Option<PathBuf>,
}

/// S3 settings. Without an access key the provider's default chain (profile, web identity,
/// instance metadata) applies, which is what a pod with an IAM role needs.
#[derive(Clone, Debug, Default)]
pub struct S3Config {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<String>,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: Option<String>,
    /// `AWS_REGION` (falling back to `AWS_DEFAULT_REGION`); `us-east-1` when unset.
    pub region: Option<String>,
    /// `AWS_ENDPOINT_URL`, e.g. a MinIO or other S3-compatible server. When set, requests use
    /// path-style addressing (`endpoint/bucket/key`), which such servers expect.
    pub endpoint: Option<String>,
}

/// Google Cloud Storage settings.
#[derive(Clone, Debug, Default)]
pub struct GcsConfig {
    /// `GOOGLE_APPLICATION_CREDENTIALS`: path of a service-account or ADC JSON file.
    pub credentials_path: Option<PathBuf>,
    /// `STORAGE_EMULATOR_HOST`: an emulator such as fake-gcs-server (`http://host:port`); requests
    /// are then sent unsigned.
    pub emulator_host: Option<String>,
}

/// Azure Blob Storage settings.
#[derive(Clone, Debug, Default)]
pub struct AzureConfig {
    /// `AZURE_STORAGE_ACCOUNT`.
    pub account: Option<String>,
    /// `AZURE_STORAGE_KEY`.
    pub key: Option<String>,
    /// `AZURE_STORAGE_ENDPOINT`; `https://{account}.blob.core.windows.net` when unset. For Azurite
    /// it is `http://127.0.0.1:10000/devstoreaccount1`.
    pub endpoint: Option<String>,
}

/// rclone settings.
#[derive(Clone, Debug)]
pub struct RcloneConfig {
    /// The rclone binary; `rclone` from `PATH` by default (`VMAFX_RCLONE`).
    pub binary: PathBuf,
    /// `--config` file; rclone's own default (`RCLONE_CONFIG` or `~/.config/rclone/rclone.conf`)
    /// when unset.
    pub config_path: Option<PathBuf>,
}

impl Default for RcloneConfig {
    fn default() -> Self {
        RcloneConfig {
            binary: PathBuf::from("rclone"),
            config_path: None,
        }
    }
}

/// Bounds on waiting for a storage endpoint, so that an unreachable one fails a job within
/// seconds instead of hanging a worker.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Limit for one metadata request or one read of the next chunk of a stream.
    pub request_timeout: Duration,
    /// Retries after a failed request (temporary failures only: connection errors, 5xx, timeouts).
    pub retries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // Three attempts of at most 5 s each, plus short back-off, stay under ~20 s.
        Limits {
            request_timeout: Duration::from_secs(5),
            retries: 2,
        }
    }
}

impl FetchConfig {
    /// Reads the usual provider variables (see each field) from the process environment.
    pub fn from_env() -> FetchConfig {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Like `from_env`, with variables looked up through `lookup` (for callers that keep their
    /// own environment map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> FetchConfig {
        FetchConfig {
            s3: S3Config {
                access_key_id: lookup("AWS_ACCESS_KEY_ID"),
                secret_access_key: lookup("AWS_SECRET_ACCESS_KEY"),
                session_token: lookup("AWS_SESSION_TOKEN"),
                region: lookup("AWS_REGION").or_else(|| lookup("AWS_DEFAULT_REGION")),
                endpoint: lookup("AWS_ENDPOINT_URL_S3").or_else(|| lookup("AWS_ENDPOINT_URL")),
            },
            gcs: GcsConfig {
                credentials_path: lookup("GOOGLE_APPLICATION_CREDENTIALS").map(PathBuf::from),
                emulator_host: lookup("STORAGE_EMULATOR_HOST"),
            },
            azure: AzureConfig {
                account: lookup("AZURE_STORAGE_ACCOUNT"),
                key: lookup("AZURE_STORAGE_KEY"),
                endpoint: lookup("AZURE_STORAGE_ENDPOINT"),
            },
            rclone: RcloneConfig {
                binary: lookup("VMAFX_RCLONE")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("rclone")),
                config_path: lookup("RCLONE_CONFIG").map(PathBuf::from),
            },
            limits: Limits::default(),
            policy: vmafx_contract::InputPolicy::default(),
            static_hosts: Vec::new(),
            trusted_hosts: Vec::new(),
            registry: crate::oci::RegistryOptions::default(),
            model_cache: None,
        }
    }
}
