//! Input errors, each naming the file and, where it applies, the frame.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// What went wrong while reading a clip.
#[derive(Debug, Error)]
pub enum VideoErrorKind {
    /// The file could not be opened.
    #[error("failed to open: {0}")]
    Open(std::io::Error),
    /// Reading failed.
    #[error("failed to read: {0}")]
    Io(std::io::Error),
    /// The file holds no bytes at all.
    #[error("file is empty")]
    Empty,
    /// The Y4M stream header is malformed.
    #[error("bad Y4M header: {0}")]
    BadHeader(String),
    /// A Y4M frame does not start with a valid FRAME marker.
    #[error("bad Y4M frame marker: {0}")]
    BadFrameMarker(String),
    /// The stream ends inside a frame.
    #[error("truncated: frame data ends after {got} of {expected} bytes")]
    Truncated {
        /// Bytes present.
        got: usize,
        /// Bytes a whole frame needs.
        expected: usize,
    },
    /// A format the readers do not handle.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A value from the input exceeds one of the documented limits ([`crate::MAX_DIMENSION`],
    /// [`crate::MAX_AREA`], [`crate::MAX_FRAME_BYTES`]).
    #[error("outside the limits: {0}")]
    Limit(String),
    /// A `.yuv` file was given without its geometry.
    #[error("raw .yuv input needs --width, --height, --pixel_format and --bitdepth")]
    RawNeedsGeometry,
    /// ffmpeg is needed but absent, or failed.
    #[error("{0}")]
    Ffmpeg(String),
}

/// A [`VideoErrorKind`] with the file it concerns and the frame it happened at.
#[derive(Debug)]
pub struct VideoError {
    /// The file.
    pub path: PathBuf,
    /// Zero-based index of the frame being read, when reading frames.
    pub frame: Option<u64>,
    /// What happened.
    pub kind: VideoErrorKind,
}

impl VideoError {
    /// An error about `path`.
    pub fn new(path: &Path, kind: VideoErrorKind) -> Self {
        VideoError {
            path: path.to_path_buf(),
            frame: None,
            kind,
        }
    }

    /// Records the frame index being read.
    pub fn at_frame(mut self, frame: u64) -> Self {
        self.frame = Some(frame);
        self
    }
}

impl fmt::Display for VideoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(frame) = self.frame {
            write!(f, ": frame {frame}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

// No `source()`: the message already carries the kind, and error-chain printers would
// repeat it.
impl std::error::Error for VideoError {}
