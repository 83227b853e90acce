//! The blocking entry point: open a URI as a local path or a stream, or download it to a file.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use opendal::HttpTransporter;
use opendal_http_transport_reqwest::ReqwestTransport;

use crate::config::FetchConfig;
use crate::error::FetchError;
use crate::guard::{check_local_file, redirect_policy, trusted, LimitedReader, PolicyResolver};
use crate::location::{parse, Location};
use crate::rclone::{list_remotes, Rclone};
use crate::runtime::RuntimeGuard;
use crate::store::Target;
use crate::stream::UriReader;

/// Size of the copy buffer for downloads: large enough for object-store throughput, small
/// enough that memory stays constant whatever the object's size.
const COPY_CHUNK: usize = 1 << 20;

/// An opened input.
pub enum Input {
    /// A local file, to be read in place (nothing was copied).
    Local(PathBuf),
    /// A sequential byte stream from remote storage.
    Stream {
        /// The bytes. Read and drop it on a thread that may block (inside `spawn_blocking`),
        /// never directly on an async task.
        reader: Box<dyn Read + Send>,
        /// The last path segment, for format sniffing by extension.
        name: String,
        /// The size in bytes when the backend reported it.
        size: Option<u64>,
    },
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Local(path) => f.debug_tuple("Local").field(path).finish(),
            Input::Stream { name, size, .. } => f
                .debug_struct("Stream")
                .field("name", name)
                .field("size", size)
                .finish_non_exhaustive(),
        }
    }
}

/// Opens inputs by URI. Blocking: call it from a thread that may block (`spawn_blocking`).
/// Cheap to share behind an `Arc`; every call is independent.
///
/// Every input passes the configured [`vmafx_contract::InputPolicy`] first (see
/// `guard.rs`): file roots, regular files, public addresses, configured rclone remotes and
/// the input byte limit.
pub struct Fetcher {
    config: FetchConfig,
    /// For the object stores, whose endpoints the operator configured.
    transport: HttpTransporter,
    /// For http(s) inputs, whose hosts the job chose: resolved and redirected under the policy.
    http_transport: HttpTransporter,
    runtime: Arc<RuntimeGuard>,
    /// `rclone listremotes`, read once and again when a remote is missing from it.
    remotes: Mutex<Option<Vec<String>>>,
}

impl Fetcher {
    /// Starts the fetcher's own I/O runtime (two threads) for the object-store backends.
    pub fn new(config: FetchConfig) -> Result<Fetcher, FetchError> {
        // reqwest is built without a TLS crypto provider of its own; it uses the process default,
        // which the embedding application may already have chosen (then this is a no-op).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let transport_error =
            |e: reqwest::Error| FetchError::Transport(crate::error::one_line(&e.to_string()));
        // A connect timeout of its own: without it a black-holed endpoint holds a connection
        // attempt for the whole request timeout of every retry.
        let client = reqwest::Client::builder()
            .connect_timeout(config.limits.request_timeout)
            .build()
            .map_err(transport_error)?;
        let trusted_hosts = Arc::new(config.trusted_hosts.clone());
        let trusted_names: Vec<String> = config
            .trusted_hosts
            .iter()
            .filter_map(|a| {
                a.rsplit_once(':')
                    .map(|(h, _)| h.trim_matches(['[', ']']).to_ascii_lowercase())
            })
            .collect();
        let http_client = reqwest::Client::builder()
            .connect_timeout(config.limits.request_timeout)
            .no_proxy()
            .dns_resolver(PolicyResolver {
                allow_private_networks: config.policy.allow_private_networks,
                static_hosts: Arc::new(config.static_hosts.clone()),
                trusted_names: Arc::new(trusted_names),
            })
            .redirect(redirect_policy(&config.policy, trusted_hosts))
            .build()
            .map_err(transport_error)?;
        Ok(Fetcher {
            transport: HttpTransporter::new(ReqwestTransport::new(client)),
            http_transport: HttpTransporter::new(ReqwestTransport::new(http_client)),
            runtime: Arc::new(RuntimeGuard::start()?),
            remotes: Mutex::new(None),
            config,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// The message for a `file://` input the policy refuses: the same whether or not the file
    /// exists, whatever it is.
    fn file_refusal(&self) -> &'static str {
        if self.config.policy.allow_file_roots.is_empty() {
            "file:// inputs are not allowed on this node (see --allow-file-root)"
        } else {
            "the file is not under an allowed file root (see --allow-file-root)"
        }
    }

    /// The policy checks that need no backend call: http(s) hosts as written, rclone remotes.
    fn admit(&self, uri: &str, loc: &Location) -> Result<(), FetchError> {
        let refuse = |reason: String| FetchError::Policy {
            uri: uri.to_string(),
            reason,
        };
        match loc {
            Location::Http {
                secure, host, port, ..
            } => {
                let port = port.unwrap_or(if *secure { 443 } else { 80 });
                if trusted(&self.config.trusted_hosts, host, port) {
                    return Ok(());
                }
                self.config.policy.check_http_host(host).map_err(refuse)
            }
            Location::Rclone { remote, .. } => {
                if self.remote_configured(remote, uri)? {
                    Ok(())
                } else {
                    Err(refuse(format!(
                        "the rclone remote {remote:?} is not configured on this node"
                    )))
                }
            }
            _ => Ok(()),
        }
    }

    fn remote_configured(&self, remote: &str, uri: &str) -> Result<bool, FetchError> {
        let mut cache = self.remotes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = cache.as_ref() {
            if known.iter().any(|r| r == remote) {
                return Ok(true);
            }
        }
        // Not known yet, or added since: ask rclone again.
        let known = list_remotes(&self.config.rclone, uri)?;
        let found = known.iter().any(|r| r == remote);
        *cache = Some(known);
        Ok(found)
    }

    fn check_size(&self, uri: &str, size: u64) -> Result<u64, FetchError> {
        let limit = self.config.policy.max_input_bytes;
        if size > limit {
            return Err(FetchError::TooLarge {
                uri: uri.to_string(),
                size,
                limit,
            });
        }
        Ok(size)
    }

    fn target(&self, loc: &Location, uri: &str) -> Result<Target, FetchError> {
        let transport = match loc {
            Location::Http { .. } => &self.http_transport,
            _ => &self.transport,
        };
        Target::new(&self.config, transport, &self.runtime, loc, uri)
    }

    /// Checks that `uri` names a readable file or object and returns its size in bytes.
    pub fn size(&self, uri: &str) -> Result<u64, FetchError> {
        let loc = parse(uri)?;
        self.admit(uri, &loc)?;
        match &loc {
            Location::File(path) => self.local(uri, path).map(|(_, size)| size),
            Location::Rclone { .. } => {
                let target = loc.rclone_target().unwrap_or_default();
                self.check_size(uri, self.rclone(&target, uri).size()?)
            }
            _ => self.check_size(uri, self.target(&loc, uri)?.size()?),
        }
    }

    fn local(&self, uri: &str, path: &Path) -> Result<(PathBuf, u64), FetchError> {
        check_local_file(
            &self.config.policy,
            uri,
            path,
            self.config.policy.max_input_bytes,
            self.file_refusal(),
        )
    }

    fn limited(&self, reader: Box<dyn Read + Send>, uri: &str) -> Box<dyn Read + Send> {
        Box::new(LimitedReader {
            inner: reader,
            limit: self.config.policy.max_input_bytes,
            read: 0,
            uri: uri.to_string(),
        })
    }

    /// Opens `uri`: a local file is returned as its (canonical) path, anything else as a stream
    /// of its bytes. The policy, existence and access are checked before returning.
    pub fn open(&self, uri: &str) -> Result<Input, FetchError> {
        let loc = parse(uri)?;
        self.admit(uri, &loc)?;
        let name = loc.name().to_string();
        tracing::debug!(uri, scheme = loc.scheme(), "opening input");
        match &loc {
            Location::File(path) => {
                let (real, _) = self.local(uri, path)?;
                Ok(Input::Local(real))
            }
            Location::Rclone { .. } => {
                let target = loc.rclone_target().unwrap_or_default();
                let rclone = self.rclone(&target, uri);
                let size = self.check_size(uri, rclone.size()?)?;
                let reader = rclone.cat()?;
                Ok(Input::Stream {
                    reader: self.limited(Box::new(reader), uri),
                    name,
                    size: Some(size),
                })
            }
            _ => {
                let target = self.target(&loc, uri)?;
                let size = self.check_size(uri, target.size()?)?;
                let reader = target.reader(size, Arc::clone(&self.runtime))?;
                Ok(Input::Stream {
                    reader: self
                        .limited(Box::new(UriReader::new(reader, uri.to_string(), None)), uri),
                    name,
                    size: Some(size),
                })
            }
        }
    }

    /// Makes `uri` available as a file, for formats that need to seek (MP4 with its index at the
    /// end). Remote inputs are streamed in 1 MiB chunks into a new file in `dir`, named
    /// `vmafx-<random>-<name>` to keep the extension; the caller owns and removes it. A local
    /// file is NOT copied: its own path is returned, and the caller must not remove it. A
    /// download that grows past the input limit is cut off and removed.
    pub fn download(&self, uri: &str, dir: &Path) -> Result<PathBuf, FetchError> {
        let (mut reader, name, size) = match self.open(uri)? {
            Input::Local(path) => return Ok(path),
            Input::Stream { reader, name, size } => (reader, name, size),
        };
        let fail = |source: io::Error| FetchError::Download {
            uri: uri.to_string(),
            dir: dir.to_path_buf(),
            source,
        };
        let mut file = tempfile::Builder::new()
            .prefix("vmafx-")
            .suffix(&format!("-{}", sanitize(&name)))
            .tempfile_in(dir)
            .map_err(fail)?;
        let copied = copy_chunked(&mut reader, file.as_file_mut()).map_err(fail)?;
        if let Some(expected) = size {
            if copied != expected {
                return Err(fail(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("got {copied} bytes, the source reported {expected}"),
                )));
            }
        }
        file.as_file_mut().sync_all().map_err(fail)?;
        let (_, path) = file.keep().map_err(|e| fail(e.error))?;
        tracing::info!(uri, path = %path.display(), bytes = copied, "downloaded input");
        Ok(path)
    }

    /// The local file of the model `reference` names: checked against the policy's model
    /// registries, then pulled (by tag or digest) into the model cache once per manifest digest.
    /// A tag is resolved on every call, so a moved tag is followed; a digest already cached is
    /// not fetched again.
    pub fn model_file(
        &self,
        reference: &vmafx_contract::OciReference,
    ) -> Result<PathBuf, crate::oci::OciError> {
        self.config
            .policy
            .check_model_registry(reference)
            .map_err(|reason| crate::oci::OciError::Refused {
                reference: reference.to_string(),
                reason,
            })?;
        let cache = match &self.config.model_cache {
            Some(dir) => dir.clone(),
            None => {
                crate::oci::default_cache_dir().ok_or_else(|| crate::oci::OciError::Refused {
                    reference: reference.to_string(),
                    reason: "no model cache: set one (--model-cache), XDG_CACHE_HOME or HOME"
                        .to_owned(),
                })?
            }
        };
        self.runtime.handle().block_on(crate::oci::cached_model(
            reference,
            &self.config.registry,
            &cache,
        ))
    }

    /// Writes `bytes` to `uri` (a result file): a local file under an allowed file root
    /// (written to a temporary file and renamed, so a reader never sees half of it), an object in
    /// S3, Google Cloud Storage or Azure, or a file on an rclone remote. http(s) is read-only.
    /// The same policy as for inputs applies: file roots, configured remotes, the size limit.
    pub fn upload(&self, uri: &str, bytes: &[u8]) -> Result<(), FetchError> {
        let loc = parse(uri)?;
        self.admit(uri, &loc)?;
        if bytes.len() as u64 > self.config.policy.max_input_bytes {
            return Err(FetchError::TooLarge {
                uri: uri.to_string(),
                size: bytes.len() as u64,
                limit: self.config.policy.max_input_bytes,
            });
        }
        tracing::debug!(
            uri,
            scheme = loc.scheme(),
            bytes = bytes.len(),
            "writing output"
        );
        match &loc {
            Location::File(path) => {
                crate::upload::write_local(&self.config.policy, uri, path, bytes, self.file_refusal())
            }
            Location::Rclone { .. } => {
                let target = loc.rclone_target().unwrap_or_default();
                self.rclone(&target, uri).rcat(bytes)
            }
            Location::Http { .. } => Err(FetchError::Policy {
                uri: uri.to_string(),
                reason: "http(s) locations are read-only; write results to file://, s3://, gs://, azure:// or an rclone remote".to_owned(),
            }),
            _ => self.target(&loc, uri)?.write(bytes),
        }
    }

    fn rclone<'a>(&'a self, target: &'a str, uri: &'a str) -> Rclone<'a> {
        Rclone {
            config: &self.config.rclone,
            limits: &self.config.limits,
            target,
            uri,
        }
    }
}

fn copy_chunked(reader: &mut dyn Read, out: &mut File) -> io::Result<u64> {
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Keeps a file name usable as a suffix: path separators and control characters would escape
/// the directory or confuse tools.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}
