//! The blocking entry point: open a URI as a local path or a stream, or download it to a file.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use opendal::HttpTransporter;
use opendal_http_transport_reqwest::ReqwestTransport;

use crate::config::FetchConfig;
use crate::error::FetchError;
use crate::location::{parse, Location};
use crate::rclone::Rclone;
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
pub struct Fetcher {
    config: FetchConfig,
    transport: HttpTransporter,
    runtime: Arc<RuntimeGuard>,
}

impl Fetcher {
    /// Starts the fetcher's own I/O runtime (two threads) for the object-store backends.
    pub fn new(config: FetchConfig) -> Result<Fetcher, FetchError> {
        // reqwest is built without a TLS crypto provider of its own; it uses the process default,
        // which the embedding application may already have chosen (then this is a no-op).
        let _ = rustls::crypto::ring::default_provider().install_default();
        // A connect timeout of its own: without it a black-holed endpoint holds a connection
        // attempt for the whole request timeout of every retry.
        let client = reqwest::Client::builder()
            .connect_timeout(config.limits.request_timeout)
            .build()
            .map_err(|e| FetchError::Transport(crate::error::one_line(&e.to_string())))?;
        Ok(Fetcher {
            transport: HttpTransporter::new(ReqwestTransport::new(client)),
            runtime: Arc::new(RuntimeGuard::start()?),
            config,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Checks that `uri` names a readable file or object and returns its size in bytes.
    pub fn size(&self, uri: &str) -> Result<u64, FetchError> {
        let loc = parse(uri)?;
        match &loc {
            Location::File(path) => local_size(uri, path),
            Location::Rclone { target } => self.rclone(target, uri).size(),
            _ => Target::new(&self.config, &self.transport, &self.runtime, &loc, uri)?.size(),
        }
    }

    /// Opens `uri`: a local file is returned as its path, anything else as a stream of its
    /// bytes. Existence and access are checked before returning.
    pub fn open(&self, uri: &str) -> Result<Input, FetchError> {
        let loc = parse(uri)?;
        let name = loc.name().to_string();
        tracing::debug!(uri, scheme = loc.scheme(), "opening input");
        match &loc {
            Location::File(path) => {
                local_size(uri, path)?;
                Ok(Input::Local(path.clone()))
            }
            Location::Rclone { target } => {
                let rclone = self.rclone(target, uri);
                let size = rclone.size()?;
                let reader = rclone.cat()?;
                Ok(Input::Stream {
                    reader: Box::new(reader),
                    name,
                    size: Some(size),
                })
            }
            _ => {
                let target = Target::new(&self.config, &self.transport, &self.runtime, &loc, uri)?;
                let size = target.size()?;
                let reader = target.reader(size, Arc::clone(&self.runtime))?;
                Ok(Input::Stream {
                    reader: Box::new(UriReader::new(reader, uri.to_string(), None)),
                    name,
                    size: Some(size),
                })
            }
        }
    }

    /// Makes `uri` available as a file, for formats that need to seek (MP4 with its index at the
    /// end). Remote inputs are streamed in 1 MiB chunks into a new file in `dir`, named
    /// `vmafx-<random>-<name>` to keep the extension; the caller owns and removes it. A local
    /// file is NOT copied: its own path is returned, and the caller must not remove it.
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

    fn rclone<'a>(&'a self, target: &'a str, uri: &'a str) -> Rclone<'a> {
        Rclone {
            config: &self.config.rclone,
            limits: &self.config.limits,
            target,
            uri,
        }
    }
}

fn local_size(uri: &str, path: &Path) -> Result<u64, FetchError> {
    let classify = |e: io::Error| match e.kind() {
        io::ErrorKind::NotFound => FetchError::NotFound {
            uri: uri.to_string(),
            detail: e.to_string(),
        },
        io::ErrorKind::PermissionDenied => FetchError::AccessDenied {
            uri: uri.to_string(),
            detail: e.to_string(),
        },
        _ => FetchError::Backend {
            uri: uri.to_string(),
            action: "open",
            detail: e.to_string(),
        },
    };
    let meta = std::fs::metadata(path).map_err(classify)?;
    if meta.is_dir() {
        return Err(FetchError::IsDirectory {
            uri: uri.to_string(),
        });
    }
    // Opening proves read permission now rather than at decode time.
    File::open(path).map_err(classify)?;
    Ok(meta.len())
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
