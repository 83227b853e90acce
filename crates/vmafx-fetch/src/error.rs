//! The fetcher's errors: one line each, naming the URI.

use std::path::PathBuf;

/// Why an input could not be opened, read or downloaded.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URI is malformed or uses an unsupported form.
    #[error("failed to parse URI {uri:?}: {reason}")]
    Parse {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The input policy refuses this input (a file outside the allowed roots, a private
    /// address, an unconfigured rclone remote, …).
    #[error("failed to open {uri}: {reason}")]
    Policy {
        /// The URI.
        uri: String,
        /// Which rule refused it.
        reason: String,
    },
    /// The input is larger than the input limit.
    #[error("failed to open {uri}: {size} bytes is more than the input limit of {limit} bytes (see --max-input-bytes)")]
    TooLarge {
        /// The URI.
        uri: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The object, file, bucket or container does not exist.
    #[error("failed to open {uri}: not found ({detail})")]
    NotFound {
        /// The URI.
        uri: String,
        /// The backend's words.
        detail: String,
    },
    /// The credentials were refused or lack permission.
    #[error("failed to open {uri}: access denied ({detail})")]
    AccessDenied {
        /// The URI.
        uri: String,
        /// The backend's words.
        detail: String,
    },
    /// The endpoint could not be reached (refused, timed out, DNS) after the configured retries.
    #[error("failed to reach the storage endpoint for {uri}: {detail}")]
    Unreachable {
        /// The URI.
        uri: String,
        /// The last failure.
        detail: String,
    },
    /// The URI names a directory.
    #[error("failed to open {uri}: it is a directory")]
    IsDirectory {
        /// The URI.
        uri: String,
    },
    /// The configuration is incomplete for this URI (an Azure URI without an account, say).
    #[error("failed to configure access to {uri}: {detail}")]
    Config {
        /// The URI.
        uri: String,
        /// What is missing or wrong.
        detail: String,
    },
    /// The rclone binary could not be started.
    #[error("failed to run rclone ({binary}) for {uri}: {detail}; install rclone or set its path")]
    RcloneMissing {
        /// The URI.
        uri: String,
        /// The binary that was tried.
        binary: PathBuf,
        /// The operating system's words.
        detail: String,
    },
    /// rclone ran and failed.
    #[error("failed to {action} {uri} with rclone ({status}): {stderr}")]
    RcloneFailed {
        /// The URI.
        uri: String,
        /// What rclone was asked to do.
        action: &'static str,
        /// How rclone exited.
        status: String,
        /// rclone's most telling stderr line.
        stderr: String,
    },
    /// Any other backend failure.
    #[error("failed to {action} {uri}: {detail}")]
    Backend {
        /// The URI.
        uri: String,
        /// What was being done.
        action: &'static str,
        /// The backend's words.
        detail: String,
    },
    /// Writing the download or reading the stream failed.
    #[error("failed to download {uri} into {}: {source}", dir.display())]
    Download {
        /// The URI.
        uri: String,
        /// The target directory.
        dir: PathBuf,
        /// The I/O error (its message names the URI when it came from the stream).
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("failed to build the fetcher's HTTP client: {0}")]
    Transport(String),
    /// The fetcher's I/O runtime could not be started.
    #[error("failed to start the fetcher's I/O runtime: {0}")]
    Runtime(std::io::Error),
}

impl FetchError {
    /// Whether another try may succeed: storage that did not answer may answer next time; a
    /// missing object, a refused credential or a policy refusal will not change.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            FetchError::Unreachable { .. } | FetchError::Backend { .. }
        )
    }
}

/// Collapses a backend message (S3 error bodies are multi-line XML) into one bounded line.
pub(crate) fn one_line(text: &str) -> String {
    const MAX: usize = 300;
    let mut line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.len() > MAX {
        let mut cut = MAX;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    line
}
