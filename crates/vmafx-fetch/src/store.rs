//! The OpenDAL side: builds an operator for an `s3`, `gs`, `azure` or `http(s)` location, with
//! bounded timeouts and retries, and maps OpenDAL's errors onto `FetchError`.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use opendal::layers::{RetryLayer, TimeoutLayer};
use opendal::{blocking, services, ErrorKind, HttpTransporter, Operator};

use crate::config::FetchConfig;
use crate::error::{one_line, FetchError};
use crate::guard::POLICY_MARK;
use crate::location::Location;
use crate::runtime::RuntimeGuard;
use crate::stream::UriReader;

/// An operator bound to one location and the path inside it.
pub(crate) struct Target {
    op: blocking::Operator,
    path: String,
    uri: String,
}

impl Target {
    pub(crate) fn new(
        config: &FetchConfig,
        transport: &HttpTransporter,
        runtime: &RuntimeGuard,
        loc: &Location,
        uri: &str,
    ) -> Result<Target, FetchError> {
        let uri = uri.to_string();
        let (op, path) =
            build(config, loc).map_err(|e| classify(&uri, "configure access to", &e))?;
        // Per operator rather than process-wide, so the embedding application keeps its own.
        let context = op.context().with_http_transport(transport.clone());
        let op = with_limits(op.with_context(context), config);
        let _entered = runtime.handle().enter();
        let op =
            blocking::Operator::new(op).map_err(|e| classify(&uri, "configure access to", &e))?;
        Ok(Target { op, path, uri })
    }

    /// The object's size; refuses directories and missing objects.
    pub(crate) fn size(&self) -> Result<u64, FetchError> {
        let meta = self
            .op
            .stat(&self.path)
            .map_err(|e| classify(&self.uri, "open", &e))?;
        if meta.is_dir() {
            return Err(FetchError::IsDirectory {
                uri: self.uri.clone(),
            });
        }
        Ok(meta.content_length())
    }

    /// A sequential reader of the whole object (one streaming GET).
    pub(crate) fn reader(
        &self,
        size: u64,
        keep: Arc<RuntimeGuard>,
    ) -> Result<Box<dyn Read + Send>, FetchError> {
        let reader = self
            .op
            .reader(&self.path)
            .and_then(|r| r.into_std_read(0..size))
            .map_err(|e| classify(&self.uri, "open", &e))?;
        Ok(Box::new(UriReader::new(
            reader,
            self.uri.clone(),
            Some(keep),
        )))
    }
}

impl Target {
    /// Replaces the object with `bytes` (one PUT, or the service's multipart equivalent).
    pub(crate) fn write(&self, bytes: &[u8]) -> Result<(), FetchError> {
        self.op
            .write(&self.path, bytes.to_vec())
            .map(|_| ())
            .map_err(|e| classify(&self.uri, "write", &e))
    }
}

fn build(config: &FetchConfig, loc: &Location) -> opendal::Result<(Operator, String)> {
    match loc {
        Location::S3 { bucket, key } => {
            let s3 = &config.s3;
            let mut b = services::S3::default()
                .bucket(bucket)
                .region(s3.region.as_deref().unwrap_or("us-east-1"));
            b = match &s3.endpoint {
                Some(endpoint) => b.endpoint(endpoint),
                // AWS itself wants virtual-host addressing; S3-compatible servers get path style.
                None => b.enable_virtual_host_style(),
            };
            if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
                // Explicit keys: do not let ~/.aws or instance metadata override them.
                b = b
                    .access_key_id(id)
                    .secret_access_key(secret)
                    .disable_config_load()
                    .disable_ec2_metadata();
                if let Some(token) = &s3.session_token {
                    b = b.session_token(token);
                }
            }
            Ok((Operator::new(b)?, key.clone()))
        }
        Location::Gcs { bucket, key } => {
            let gcs = &config.gcs;
            let mut b = services::Gcs::default().bucket(bucket);
            if let Some(host) = &gcs.emulator_host {
                let endpoint = if host.contains("://") {
                    host.clone()
                } else {
                    format!("http://{host}")
                };
                // Emulators accept unsigned requests and have no metadata server to ask.
                b = b
                    .endpoint(&endpoint)
                    .skip_signature()
                    .disable_vm_metadata()
                    .disable_config_load();
            }
            if let Some(path) = &gcs.credentials_path {
                b = b.credential_path(&path.to_string_lossy());
            }
            Ok((Operator::new(b)?, key.clone()))
        }
        Location::Azure { container, path } => {
            let az = &config.azure;
            let Some(account) = &az.account else {
                return Err(opendal::Error::new(
                    ErrorKind::ConfigInvalid,
                    "no storage account configured (AZURE_STORAGE_ACCOUNT)",
                ));
            };
            let endpoint = az
                .endpoint
                .clone()
                .unwrap_or_else(|| format!("https://{account}.blob.core.windows.net"));
            let mut b = services::Azblob::default()
                .container(container)
                .account_name(account)
                .endpoint(&endpoint);
            if let Some(key) = &az.key {
                b = b.account_key(key);
            }
            Ok((Operator::new(b)?, path.clone()))
        }
        Location::Http { path, .. } => {
            let base = loc.http_base().unwrap_or_default();
            let b = services::Http::default().endpoint(&base);
            Ok((Operator::new(b)?, path.clone()))
        }
        Location::File(_) | Location::Rclone { .. } => Err(opendal::Error::new(
            ErrorKind::Unsupported,
            "this location is not served through OpenDAL",
        )),
    }
}

fn with_limits(op: Operator, config: &FetchConfig) -> Operator {
    let limits = &config.limits;
    // Timeout inside retry, so each attempt gets its own deadline.
    op.layer(
        TimeoutLayer::new()
            .with_timeout(limits.request_timeout)
            .with_io_timeout(limits.request_timeout),
    )
    .layer(
        RetryLayer::new()
            .with_max_times(limits.retries)
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(2))
            .with_jitter(),
    )
}

/// Maps an OpenDAL error onto the fetcher's kinds. Connection failures and timeouts surface as
/// temporary `Unexpected` errors (persistent once retries are spent).
pub(crate) fn classify(uri: &str, action: &'static str, err: &opendal::Error) -> FetchError {
    let detail = one_line(&err.to_string());
    let uri = uri.to_string();
    let debug = format!("{err:?}");
    if let Some(at) = debug.find(POLICY_MARK) {
        // The resolver or the redirect rule refused: say which rule, not "unreachable".
        let reason = &debug[at + POLICY_MARK.len()..];
        let reason = reason.trim_start_matches(':').trim_start();
        let reason = reason.split('"').next().unwrap_or(reason);
        return FetchError::Policy {
            uri,
            reason: one_line(reason),
        };
    }
    match err.kind() {
        ErrorKind::NotFound => FetchError::NotFound { uri, detail },
        ErrorKind::PermissionDenied => FetchError::AccessDenied { uri, detail },
        ErrorKind::IsADirectory => FetchError::IsDirectory { uri },
        ErrorKind::ConfigInvalid => FetchError::Config { uri, detail },
        ErrorKind::Unexpected if looks_unreachable(err) => FetchError::Unreachable { uri, detail },
        _ => FetchError::Backend {
            uri,
            action,
            detail,
        },
    }
}

fn looks_unreachable(err: &opendal::Error) -> bool {
    let text = format!("{err:?}").to_ascii_lowercase();
    [
        "timeout",
        "timed out",
        "connect",
        "dns",
        "send http request",
        "error sending request",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}
