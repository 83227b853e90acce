//! Connecting to the controller: a tonic channel over plain TCP or TLS (`https://`, optionally
//! with a client certificate), with every call carrying `authorization: Bearer TOKEN`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vmafx_api::client::ClientError> {
//! use vmafx_api::client::{read_token, ClientOptions};
//! use vmafx_api::v1::job_service_client::JobServiceClient;
//!
//! let mut options = ClientOptions::new("https://controller.example:50051");
//! options.ca_cert = Some("ca.crt".into());
//! options.token = read_token(None)?; // `--token-file`, else `VMAFX_TOKEN`
//! let channel = options.connect().await?;
//! let client = JobServiceClient::new(channel);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tonic::codegen::http::uri::{Authority, Scheme};
use tonic::codegen::http::Uri;
use tonic::codegen::Service;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};

use crate::tls::{load_roots, ReloadingCertResolver, TlsError, DEFAULT_RELOAD_INTERVAL};

/// The environment variable read for the token when no token file is given.
pub const TOKEN_ENV: &str = "VMAFX_TOKEN";

/// How long connecting (TCP and TLS handshake together) may take, unless reconfigured.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A channel whose every call carries the bearer token: what `JobServiceClient::new` and
/// `NodeServiceClient::new` take.
pub type ApiChannel = InterceptedService<Channel, BearerToken>;

/// Why a client could not be set up or connected. Messages are one line and never hold the token.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The controller address cannot be parsed.
    #[error("invalid controller address \"{address}\": {message}")]
    Address { address: String, message: String },
    /// A CA certificate or client identity was given for a plain-text address.
    #[error(
        "controller address \"{address}\" is http://, but --ca-cert or a client certificate was \
         given; use https://"
    )]
    TlsOptionsWithoutTls { address: String },
    /// `https://` without `--ca-cert`, and the system has no CA certificates.
    #[error(
        "no CA certificates were found on this system to verify {address}; pass --ca-cert FILE"
    )]
    NoRootCertificates { address: String },
    /// A certificate, key or CA file is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The token file cannot be read.
    #[error("failed to read token file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The token file's first line is blank.
    #[error("token file {path} is empty")]
    EmptyTokenFile { path: PathBuf },
    /// `VMAFX_TOKEN` is not UTF-8.
    #[error("VMAFX_TOKEN is not valid UTF-8")]
    TokenEnv,
    /// The token cannot be sent as a header value.
    #[error("the token holds characters not allowed in a header (only visible ASCII is)")]
    InvalidToken,
    /// Connecting failed (refused, timed out, or the TLS handshake failed).
    #[error("failed to connect to the controller at {address}: {message}")]
    Connect { address: String, message: String },
}

/// A bearer token. Its `Debug` output is redacted and it has no `Display`, so it cannot end up
/// in logs or error messages by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Token {
        Token(token.into())
    }

    /// The token itself, for sending or comparing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl From<String> for Token {
    fn from(token: String) -> Token {
        Token(token)
    }
}

/// The client's token: the first line, trimmed, of `token_file` (`--token-file`) when given,
/// else `VMAFX_TOKEN` when set and not blank, else `None`.
pub fn read_token(token_file: Option<&Path>) -> Result<Option<Token>, ClientError> {
    token_from(token_file, std::env::var_os(TOKEN_ENV))
}

fn token_from(
    token_file: Option<&Path>,
    environment: Option<std::ffi::OsString>,
) -> Result<Option<Token>, ClientError> {
    if let Some(path) = token_file {
        let text = std::fs::read_to_string(path).map_err(|source| ClientError::TokenFile {
            path: path.to_path_buf(),
            source,
        })?;
        let first_line = text.lines().next().unwrap_or("").trim();
        if first_line.is_empty() {
            return Err(ClientError::EmptyTokenFile {
                path: path.to_path_buf(),
            });
        }
        return Ok(Some(Token::new(first_line)));
    }
    match environment {
        None => Ok(None),
        Some(value) => {
            let value = value.into_string().map_err(|_| ClientError::TokenEnv)?;
            let value = value.trim();
            Ok((!value.is_empty()).then(|| Token::new(value)))
        }
    }
}

/// How often a token file is checked for a newer token (a projected Kubernetes ServiceAccount
/// token is rotated by the kubelet well before it expires).
pub const TOKEN_FILE_RECHECK: Duration = Duration::from_secs(10);

/// A token read from a file and read again when the file changes.
struct FileToken {
    path: PathBuf,
    state: std::sync::Mutex<FileTokenState>,
}

struct FileTokenState {
    header: MetadataValue<Ascii>,
    stamp: Option<(std::time::SystemTime, u64)>,
    checked: std::time::Instant,
}

fn file_stamp(path: &Path) -> Option<(std::time::SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn bearer_header(token: &Token) -> Result<MetadataValue<Ascii>, ClientError> {
    if token.expose().is_empty() {
        return Err(ClientError::InvalidToken);
    }
    let mut value = MetadataValue::try_from(format!("Bearer {}", token.expose()))
        .map_err(|_| ClientError::InvalidToken)?;
    value.set_sensitive(true);
    Ok(value)
}

impl FileToken {
    /// The header to send: the file is reread when it changed, at most every
    /// [`TOKEN_FILE_RECHECK`]; a file that became unreadable keeps the last good token.
    fn header(&self) -> MetadataValue<Ascii> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.checked.elapsed() >= TOKEN_FILE_RECHECK {
            state.checked = std::time::Instant::now();
            let stamp = file_stamp(&self.path);
            if stamp.is_some() && stamp != state.stamp {
                match token_from(Some(&self.path), None)
                    .and_then(|token| token.as_ref().map(bearer_header).transpose())
                {
                    Ok(Some(header)) => {
                        state.header = header;
                        state.stamp = stamp;
                        tracing::debug!(file = %self.path.display(), "token file reread");
                    }
                    Ok(None) => {}
                    Err(err) => tracing::warn!("keeping the previous token: {err}"),
                }
            }
        }
        state.header.clone()
    }
}

/// The interceptor that adds `authorization: Bearer TOKEN` to every call (nothing without a
/// token). The header is marked sensitive, so HTTP/2 never indexes it.
#[derive(Clone, Default)]
pub struct BearerToken {
    header: Option<MetadataValue<Ascii>>,
    file: Option<Arc<FileToken>>,
}

impl BearerToken {
    /// The interceptor for `token`; `None` adds nothing.
    pub fn new(token: Option<&Token>) -> Result<BearerToken, ClientError> {
        let header = token.map(bearer_header).transpose()?;
        Ok(BearerToken { header, file: None })
    }

    /// The interceptor for the token in `path` (its first line), read now and again whenever
    /// the file changes; errors name the file.
    pub fn from_file(path: &Path) -> Result<BearerToken, ClientError> {
        let token = token_from(Some(path), None)?.ok_or(ClientError::EmptyTokenFile {
            path: path.to_path_buf(),
        })?;
        let header = bearer_header(&token)?;
        Ok(BearerToken {
            header: None,
            file: Some(Arc::new(FileToken {
                path: path.to_path_buf(),
                state: std::sync::Mutex::new(FileTokenState {
                    header,
                    stamp: file_stamp(path),
                    checked: std::time::Instant::now(),
                }),
            })),
        })
    }

    /// Whether a token is sent.
    pub fn is_set(&self) -> bool {
        self.header.is_some() || self.file.is_some()
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = if self.is_set() {
            "<redacted>"
        } else {
            "<none>"
        };
        f.debug_tuple("BearerToken").field(&shown).finish()
    }
}

impl Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let header = match &self.file {
            Some(file) => Some(file.header()),
            None => self.header.clone(),
        };
        if let Some(header) = header {
            request.metadata_mut().insert("authorization", header);
        }
        Ok(request)
    }
}

/// How to reach the controller.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// `host:port`, `http://host:port` or `https://host:port`. A bare `host:port` means
    /// `https://` when `ca_cert` or `client_identity` is set, `http://` otherwise.
    pub address: String,
    /// CA certificates (PEM) that the controller's certificate must chain to (`--ca-cert`);
    /// without it, `https://` uses the system's CA certificates.
    pub ca_cert: Option<PathBuf>,
    /// A client certificate and its key (PEM) for mTLS; re-read when the files change.
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// Sent as `authorization: Bearer TOKEN` on every call.
    pub token: Option<Token>,
    /// A file whose first line is the token, reread when it changes; wins over `token`.
    pub token_file: Option<PathBuf>,
}

impl ClientOptions {
    /// Options for `address`, no TLS files, no token.
    pub fn new(address: impl Into<String>) -> ClientOptions {
        ClientOptions {
            address: address.into(),
            ..ClientOptions::default()
        }
    }

    /// Parses the address and loads the TLS files, for callers that tune the tonic
    /// [`Endpoint`] (timeouts, keep-alive) before connecting.
    pub fn endpoint(&self) -> Result<ApiEndpoint, ClientError> {
        let has_tls_files = self.ca_cert.is_some() || self.client_identity.is_some();
        let address = normalize_address(&self.address, has_tls_files);
        let invalid = |message: String| ClientError::Address {
            address: self.address.clone(),
            message,
        };
        let uri: Uri = address.parse().map_err(|e| invalid(format!("{e}")))?;
        let bearer = match &self.token_file {
            Some(path) => BearerToken::from_file(path)?,
            None => BearerToken::new(self.token.as_ref())?,
        };
        if uri.scheme() != Some(&Scheme::HTTPS) {
            if has_tls_files {
                return Err(ClientError::TlsOptionsWithoutTls { address });
            }
            let endpoint = Endpoint::from_shared(address.clone())
                .map_err(|e| invalid(vmafx_contract::error_line(&e)))?
                .connect_timeout(DEFAULT_CONNECT_TIMEOUT);
            return Ok(ApiEndpoint {
                endpoint,
                tls: None,
                bearer,
                address,
            });
        }

        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| invalid("no host".to_owned()))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = authority.port_u16().unwrap_or(443);
        let server_name = ServerName::try_from(host.clone())
            .map_err(|e| invalid(format!("invalid host name \"{host}\": {e}")))?;
        let config = self.client_config(&address)?;
        // tonic itself is built without TLS: it dials the plain `http://` form through our
        // connector, which adds TLS, while requests still say `https` (the origin).
        let dial_uri = plain_uri(&authority).map_err(invalid)?;
        let origin = Uri::builder()
            .scheme(Scheme::HTTPS)
            .authority(authority)
            .path_and_query("/")
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        let endpoint = Endpoint::from(dial_uri)
            .origin(origin)
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        Ok(ApiEndpoint {
            endpoint,
            tls: Some(TlsConnector {
                config,
                server_name,
                host,
                port,
            }),
            bearer,
            address,
        })
    }

    /// Connects now (so an unreachable controller or a failed handshake is reported here).
    pub async fn connect(&self) -> Result<ApiChannel, ClientError> {
        self.endpoint()?.connect().await
    }

    /// A channel that connects on first use, and reconnects as needed. Only bad options fail.
    pub fn connect_lazy(&self) -> Result<ApiChannel, ClientError> {
        Ok(self.endpoint()?.connect_lazy())
    }

    fn client_config(&self, address: &str) -> Result<Arc<ClientConfig>, ClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = match &self.ca_cert {
            Some(path) => load_roots(path, "CA certificate file")?,
            None => system_roots(address)?,
        };
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_root_certificates(roots);
        let mut config = match &self.client_identity {
            Some((cert, key)) => {
                let resolver =
                    ReloadingCertResolver::new(cert, key, provider, DEFAULT_RELOAD_INTERVAL)?;
                builder.with_client_cert_resolver(Arc::new(resolver))
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The system's CA certificates; none at all is an error pointing at `--ca-cert`.
fn system_roots(address: &str) -> Result<RootCertStore, ClientError> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::debug!("while loading the system's CA certificates: {error}");
    }
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(ClientError::NoRootCertificates {
            address: address.to_owned(),
        });
    }
    Ok(roots)
}

fn normalize_address(address: &str, has_tls_files: bool) -> String {
    if address.contains("://") {
        address.to_owned()
    } else if has_tls_files {
        format!("https://{address}")
    } else {
        format!("http://{address}")
    }
}

fn plain_uri(authority: &Authority) -> Result<Uri, String> {
    Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(authority.clone())
        .path_and_query("/")
        .build()
        .map_err(|e| e.to_string())
}

/// A prepared connection to the controller: the tonic [`Endpoint`] (adjustable with
/// [`ApiEndpoint::configure`]), TLS when `https://`, and the token.
#[derive(Debug, Clone)]
pub struct ApiEndpoint {
    endpoint: Endpoint,
    tls: Option<TlsConnector>,
    bearer: BearerToken,
    address: String,
}

impl ApiEndpoint {
    /// Adjusts the tonic endpoint: timeouts, HTTP/2 keep-alive and so on. (With TLS, the TCP
    /// options `tcp_nodelay` and `tcp_keepalive` are not applied; TCP_NODELAY is always set.)
    pub fn configure(mut self, adjust: impl FnOnce(Endpoint) -> Endpoint) -> ApiEndpoint {
        self.endpoint = adjust(self.endpoint);
        self
    }

    /// The address, with its scheme.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The token interceptor, for callers that stack their own services on [`Channel`].
    pub fn bearer_token(&self) -> BearerToken {
        self.bearer.clone()
    }

    /// Connects now.
    pub async fn connect(&self) -> Result<ApiChannel, ClientError> {
        let channel = self.connect_channel().await?;
        Ok(InterceptedService::new(channel, self.bearer.clone()))
    }

    /// A channel that connects on first use.
    pub fn connect_lazy(&self) -> ApiChannel {
        InterceptedService::new(self.connect_channel_lazy(), self.bearer.clone())
    }

    /// Connects now; the channel does not add the token (see [`ApiEndpoint::bearer_token`]).
    pub async fn connect_channel(&self) -> Result<Channel, ClientError> {
        let connected = match &self.tls {
            Some(tls) => self.endpoint.connect_with_connector(tls.clone()).await,
            None => self.endpoint.connect().await,
        };
        connected.map_err(|e| ClientError::Connect {
            address: self.address.clone(),
            message: vmafx_contract::error_line(&e),
        })
    }

    /// A channel that connects on first use; it does not add the token.
    pub fn connect_channel_lazy(&self) -> Channel {
        match &self.tls {
            Some(tls) => self.endpoint.connect_with_connector_lazy(tls.clone()),
            None => self.endpoint.connect_lazy(),
        }
    }
}

/// Dials the controller and runs the TLS handshake, for tonic's custom-connector hook.
#[derive(Clone)]
struct TlsConnector {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    host: String,
    port: u16,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

type TlsIo = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;

impl Service<Uri> for TlsConnector {
    type Response = TlsIo;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TlsIo>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _dial: Uri) -> Self::Future {
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.config));
        let server_name = self.server_name.clone();
        let target = (self.host.clone(), self.port);
        Box::pin(async move {
            let tcp = TcpStream::connect((target.0.as_str(), target.1)).await?;
            tcp.set_nodelay(true)?;
            let tls = connector.connect(server_name, tcp).await?;
            Ok(TokioIo::new(tls))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn token_comes_from_the_first_line_of_the_file_trimmed() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        writeln!(file, "  s3cret \nsecond line").expect("write");
        let token = token_from(Some(file.path()), Some("from-env".into())).expect("token");
        assert_eq!(token.as_ref().map(Token::expose), Some("s3cret"));
    }

    #[test]
    fn a_blank_or_missing_token_file_is_an_error_naming_it() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let error = token_from(Some(file.path()), None).expect_err("empty file");
        assert!(error
            .to_string()
            .contains(&file.path().display().to_string()));
        assert!(error.to_string().contains("empty"), "{error}");

        let missing = file.path().with_extension("missing");
        let error = token_from(Some(&missing), None).expect_err("missing file");
        assert!(error.to_string().contains(&missing.display().to_string()));
    }

    #[test]
    fn a_token_file_is_reread_when_it_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "first-token\n").expect("write");
        let mut bearer = BearerToken::from_file(&path).expect("token");
        let sent = |bearer: &mut BearerToken| {
            let request = bearer.call(tonic::Request::new(())).expect("intercepted");
            request
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(sent(&mut bearer).as_deref(), Some("Bearer first-token"));
        std::fs::write(&path, "second-token-longer\n").expect("write");
        // Not before the recheck interval…
        assert_eq!(sent(&mut bearer).as_deref(), Some("Bearer first-token"));
        if let Some(file) = &bearer.file {
            file.state.lock().expect("lock").checked -= TOKEN_FILE_RECHECK;
        }
        // …then the new token; a file gone bad keeps it.
        assert_eq!(
            sent(&mut bearer).as_deref(),
            Some("Bearer second-token-longer")
        );
        std::fs::write(&path, "\n").expect("write");
        if let Some(file) = &bearer.file {
            file.state.lock().expect("lock").checked -= TOKEN_FILE_RECHECK;
        }
        assert_eq!(
            sent(&mut bearer).as_deref(),
            Some("Bearer second-token-longer")
        );
    }

    #[test]
    fn token_falls_back_to_the_environment_then_none() {
        let token = token_from(None, Some(" env-token\n".into())).expect("token");
        assert_eq!(token.as_ref().map(Token::expose), Some("env-token"));
        assert!(token_from(None, Some("  ".into()))
            .expect("blank")
            .is_none());
        assert!(token_from(None, None).expect("unset").is_none());
    }

    #[test]
    fn tokens_never_show_in_debug_output() {
        let options = ClientOptions {
            token: Some(Token::new("s3cret")),
            ..ClientOptions::new("localhost:1")
        };
        assert!(!format!("{options:?}").contains("s3cret"));
        let bearer = BearerToken::new(options.token.as_ref()).expect("bearer");
        assert!(!format!("{bearer:?}").contains("s3cret"));
        let endpoint = options.endpoint().expect("endpoint");
        assert!(!format!("{endpoint:?}").contains("s3cret"));
    }

    #[test]
    fn tokens_that_cannot_be_headers_are_refused_without_echoing_them() {
        let error = BearerToken::new(Some(&Token::new("bad\ntoken"))).expect_err("newline");
        assert!(!error.to_string().contains("bad"));
        assert!(BearerToken::new(Some(&Token::new(""))).is_err());
    }

    #[test]
    fn bare_addresses_use_tls_only_when_tls_files_are_given() {
        let plain = ClientOptions::new("localhost:50051")
            .endpoint()
            .expect("plain");
        assert!(!plain.is_tls());
        assert_eq!(plain.address(), "http://localhost:50051");

        let mut options = ClientOptions::new("localhost:50051");
        options.ca_cert = Some(PathBuf::from("/nonexistent/ca.crt"));
        let error = options.endpoint().expect_err("missing CA file");
        assert!(error.to_string().contains("/nonexistent/ca.crt"), "{error}");

        options.address = "http://localhost:50051".to_owned();
        let error = options.endpoint().expect_err("http with a CA");
        assert!(error.to_string().contains("use https://"), "{error}");
    }

    #[test]
    fn bad_addresses_are_one_line_errors() {
        let error = ClientOptions::new("https://")
            .endpoint()
            .expect_err("no host");
        assert!(error.to_string().contains("https://"), "{error}");
        assert!(!error.to_string().contains('\n'));
    }
}
