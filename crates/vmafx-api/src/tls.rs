//! Server-side TLS for the gRPC and HTTP listeners: a rustls configuration whose certificate and
//! client CA are reloaded from their files when they change, optional client certificates
//! (mTLS), and
//! [`ApiListener`], the one listener type both servers accept connections through.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//! use vmafx_api::tls::{ApiListener, ServerTls};
//!
//! // `--tls-cert`, `--tls-key` and `--client-ca`; all absent means plain TCP.
//! let tls = ServerTls::from_flags(
//!     Some(Path::new("tls.crt")),
//!     Some(Path::new("tls.key")),
//!     None,
//! )?;
//! let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let listener = ApiListener::new(tcp, tls);
//! // tonic: `Server::builder()...serve_with_incoming_shutdown(listener, signal)`
//! // axum:  `axum::serve(listener, router)`
//! # Ok(())
//! # }
//! ```

mod client_ca;
mod listener;
mod subject;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

pub use listener::{
    ApiConnection, ApiListener, ConnectionInfo, PeerCommonName, HANDSHAKE_TIMEOUT,
    MAX_CONCURRENT_HANDSHAKES,
};

/// How often, at most, the certificate and key files are checked for changes.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// Why TLS could not be set up. Each message is one line naming the file or flag at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("failed to read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file was read but holds no usable PEM content.
    #[error("invalid {what} {path}: {message}")]
    Invalid {
        what: &'static str,
        path: PathBuf,
        message: String,
    },
    /// The private key does not belong to the certificate, or the pair is otherwise unusable.
    #[error("certificate {cert} and key {key} do not form a usable pair: {message}")]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
    /// Flags that only make sense together were given alone.
    #[error("{0}")]
    Flags(&'static str),
    /// rustls refused the configuration.
    #[error("failed to configure TLS: {0}")]
    Config(String),
}

/// Where the server's TLS material lives.
#[derive(Debug, Clone)]
pub struct ServerTlsOptions {
    /// The certificate chain, PEM, leaf first (`--tls-cert`).
    pub cert: PathBuf,
    /// The private key, PEM: PKCS#8, PKCS#1 or SEC1 (`--tls-key`).
    pub key: PathBuf,
    /// CA certificates, PEM, that client certificates must chain to (`--client-ca`). When set,
    /// every client must present a certificate (mTLS).
    pub client_ca: Option<PathBuf>,
    /// How often, at most, `cert`, `key` and `client_ca` are checked for changes.
    pub reload_interval: Duration,
}

impl ServerTlsOptions {
    /// Options for `cert` and `key`, no client certificates, the default reload interval.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        ServerTlsOptions {
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
            reload_interval: DEFAULT_RELOAD_INTERVAL,
        }
    }
}

/// A server TLS configuration: ALPN `h2` and `http/1.1`, the certificate reloaded from its files
/// when they change (a failed reload keeps the last good certificate and logs a warning), and,
/// with a client CA, mandatory client certificates. Cheap to clone; share one between the gRPC
/// and HTTP listeners.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    requires_client_certificate: bool,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field(
                "requires_client_certificate",
                &self.requires_client_certificate,
            )
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Loads the certificate, key and client CA now, so that bad files fail at start-up.
    pub fn load(options: &ServerTlsOptions) -> Result<ServerTls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let resolver = ReloadingCertResolver::load(options, Arc::clone(&provider))?;
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match &options.client_ca {
            Some(path) => {
                let verifier = client_ca::ReloadingClientVerifier::new(
                    path,
                    provider,
                    options.reload_interval,
                )?;
                builder.with_client_cert_verifier(Arc::new(verifier))
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ServerTls {
            config: Arc::new(config),
            requires_client_certificate: options.client_ca.is_some(),
        })
    }

    /// Builds the configuration from the `--tls-cert`, `--tls-key` and `--client-ca` flags:
    /// `None` when none is given (plain TCP), an error when they are incomplete.
    pub fn from_flags(
        cert: Option<&Path>,
        key: Option<&Path>,
        client_ca: Option<&Path>,
    ) -> Result<Option<ServerTls>, TlsError> {
        match (cert, key) {
            (Some(cert), Some(key)) => {
                let mut options = ServerTlsOptions::new(cert, key);
                options.client_ca = client_ca.map(Path::to_path_buf);
                ServerTls::load(&options).map(Some)
            }
            (Some(_), None) => Err(TlsError::Flags("--tls-cert needs --tls-key")),
            (None, Some(_)) => Err(TlsError::Flags("--tls-key needs --tls-cert")),
            (None, None) if client_ca.is_some() => Err(TlsError::Flags(
                "--client-ca needs --tls-cert and --tls-key",
            )),
            (None, None) => Ok(None),
        }
    }

    /// Whether clients must present a certificate signed by the client CA.
    pub fn requires_client_certificate(&self) -> bool {
        self.requires_client_certificate
    }

    /// The rustls configuration, for servers other than [`ApiListener`].
    pub fn server_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.config)
    }
}

/// Reads every certificate in a PEM file into a root store.
pub(crate) fn load_roots(path: &Path, what: &'static str) -> Result<RootCertStore, TlsError> {
    let certificates = read_certificates(path, what)?;
    let mut roots = RootCertStore::empty();
    for certificate in certificates {
        roots.add(certificate).map_err(|e| TlsError::Invalid {
            what,
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// Reads the PEM certificates of a file; none at all is an error.
pub(crate) fn read_certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_file(path, what)?;
    let invalid = |message: String| TlsError::Invalid {
        what,
        path: path.to_path_buf(),
        message,
    };
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    if certificates.is_empty() {
        return Err(invalid("no PEM certificate found".to_owned()));
    }
    Ok(certificates)
}

/// Reads the PEM private key of a file.
pub(crate) fn read_private_key(
    path: &Path,
    what: &'static str,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read_file(path, what)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Invalid {
        what,
        path: path.to_path_buf(),
        message: match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no PEM private key found".to_owned(),
            other => other.to_string(),
        },
    })
}

fn read_file(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Loads a certificate chain and its key, checking that they belong together.
pub(crate) fn load_certified_key(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = read_certificates(cert, "certificate file")?;
    let key_der = read_private_key(key, "key file")?;
    CertifiedKey::from_der(chain, key_der, provider).map_err(|e| TlsError::Pair {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        message: e.to_string(),
    })
}

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: (u64, u64),
}

impl FileStamp {
    /// The stamp of `path` (through symlinks, as Kubernetes Secret volumes swap them), or
    /// `None` when it cannot be read.
    fn of(path: &Path) -> Option<FileStamp> {
        let metadata = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            modified: metadata.modified().ok(),
            len: metadata.len(),
            #[cfg(unix)]
            inode: {
                use std::os::unix::fs::MetadataExt;
                (metadata.dev(), metadata.ino())
            },
        })
    }
}

/// A value built from files and built again when their stamps change, checked at most once per
/// interval (on use, so an idle server does no work at all). A failed rebuild keeps the last good
/// value and is logged; it is retried only once the files change again, so it is logged once
/// rather than on every handshake.
pub(crate) struct Reloading<T: Clone> {
    paths: Vec<PathBuf>,
    /// What the files hold, for the log ("TLS certificate", "client CA").
    what: &'static str,
    interval: Duration,
    state: Mutex<ReloadState<T>>,
}

struct ReloadState<T> {
    current: T,
    /// The stamps of the files when last tried, successfully or not.
    tried: Vec<Option<FileStamp>>,
    next_check: Instant,
}

impl<T: Clone> Reloading<T> {
    /// Builds the value now with `load`, so that bad files fail at start-up.
    pub(crate) fn new(
        paths: &[&Path],
        what: &'static str,
        interval: Duration,
        load: impl FnOnce() -> Result<T, TlsError>,
    ) -> Result<Reloading<T>, TlsError> {
        let paths: Vec<PathBuf> = paths.iter().map(|p| p.to_path_buf()).collect();
        let tried = paths.iter().map(|p| FileStamp::of(p)).collect();
        let current = load()?;
        Ok(Reloading {
            paths,
            what,
            interval,
            state: Mutex::new(ReloadState {
                current,
                tried,
                next_check: Instant::now() + interval,
            }),
        })
    }

    /// The value to use now, rebuilt first with `load` when due and the files changed.
    pub(crate) fn current(&self, load: impl FnOnce() -> Result<T, TlsError>) -> T {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if now < state.next_check {
            return state.current.clone();
        }
        state.next_check = now + self.interval;
        let stamps: Vec<Option<FileStamp>> = self.paths.iter().map(|p| FileStamp::of(p)).collect();
        if stamps == state.tried {
            return state.current.clone();
        }
        state.tried = stamps;
        match load() {
            Ok(reloaded) => {
                tracing::info!(path = %self.paths[0].display(), "reloaded the {}", self.what);
                state.current = reloaded;
            }
            Err(error) => tracing::warn!("keeping the previous {}: {error}", self.what),
        }
        state.current.clone()
    }
}

/// Serves the certificate from `cert`/`key`, re-reading them when they change.
pub(crate) struct ReloadingCertResolver {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    loaded: Reloading<Arc<CertifiedKey>>,
}

impl fmt::Debug for ReloadingCertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCertResolver")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("interval", &self.loaded.interval)
            .finish_non_exhaustive()
    }
}

impl ReloadingCertResolver {
    fn load(
        options: &ServerTlsOptions,
        provider: Arc<CryptoProvider>,
    ) -> Result<ReloadingCertResolver, TlsError> {
        ReloadingCertResolver::new(
            &options.cert,
            &options.key,
            provider,
            options.reload_interval,
        )
    }

    /// Loads `cert` and `key` now; they are checked for changes at most once per `interval`.
    pub(crate) fn new(
        cert: &Path,
        key: &Path,
        provider: Arc<CryptoProvider>,
        interval: Duration,
    ) -> Result<ReloadingCertResolver, TlsError> {
        let loaded = Reloading::new(&[cert, key], "TLS certificate", interval, || {
            load_certified_key(cert, key, &provider).map(Arc::new)
        })?;
        Ok(ReloadingCertResolver {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            provider,
            loaded,
        })
    }

    /// The certificate to serve now, reloaded first when due and changed.
    fn current(&self) -> Arc<CertifiedKey> {
        self.loaded
            .current(|| load_certified_key(&self.cert, &self.key, &self.provider).map(Arc::new))
    }
}

impl ResolvesServerCert for ReloadingCertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Clients (`--client-cert`/`--client-key`) reload their identity the same way, so a rotated
/// client certificate is used from the next connection on.
impl rustls::client::ResolvesClientCert for ReloadingCertResolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
