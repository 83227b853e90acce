//! Video input: reads reference and distorted clips into engine [`Picture`]s.
//!
//! Y4M and raw planar YUV are parsed natively; any other container or codec is decoded by an
//! `ffmpeg` child process that streams Y4M over a pipe.

pub mod error;
pub mod ffmpeg;
pub mod raw;
pub mod y4m;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

pub use error::{VideoError, VideoErrorKind};
use vmafx_engine::picture::{Picture, PixelFormat};

/// What every frame of a clip looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoInfo {
    /// Luma width.
    pub width: usize,
    /// Luma height.
    pub height: usize,
    /// Chroma subsampling.
    pub format: PixelFormat,
    /// Bits per component.
    pub bit_depth: u8,
    /// Frame rate as numerator and denominator, when the container says.
    pub frame_rate: Option<(u32, u32)>,
}

impl VideoInfo {
    /// A zeroed picture of this clip's shape.
    pub fn new_picture(&self) -> Result<Picture, VideoErrorKind> {
        Picture::new(self.format, self.bit_depth, self.width, self.height)
            .map_err(|e| VideoErrorKind::Unsupported(e.to_string()))
    }
}

/// A source of decoded frames.
pub trait FrameSource: Send {
    /// The clip's geometry.
    fn info(&self) -> VideoInfo;

    /// Reads the next frame into `picture` (which has this source's shape). Returns `Ok(false)`
    /// at a clean end of stream; a partial frame is an error.
    fn read_frame(&mut self, picture: &mut Picture) -> Result<bool, VideoError>;
}

/// Geometry for headerless `.yuv` input, as libvmaf's `--width --height --pixel_format
/// --bitdepth` give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawParams {
    /// Luma width.
    pub width: usize,
    /// Luma height.
    pub height: usize,
    /// Chroma subsampling.
    pub format: PixelFormat,
    /// Bits per component.
    pub bit_depth: u8,
}

/// Opens `path` as raw YUV when `raw` is given, as Y4M when it starts with the Y4M magic, and
/// through ffmpeg otherwise.
pub fn open(path: &Path, raw: Option<RawParams>) -> Result<Box<dyn FrameSource>, VideoError> {
    let at = |kind: VideoErrorKind| VideoError::new(path, kind);
    if let Some(params) = raw {
        let file = File::open(path).map_err(|e| at(VideoErrorKind::Open(e)))?;
        let reader =
            raw::RawYuvReader::new(BufReader::with_capacity(1 << 20, file), params).map_err(at)?;
        return Ok(Box::new(Named::new(path, reader)));
    }
    let mut file = File::open(path).map_err(|e| at(VideoErrorKind::Open(e)))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(at(VideoErrorKind::Unsupported("is a directory".into())));
    }
    let mut magic = [0u8; 9];
    let got = read_up_to(&mut file, &mut magic).map_err(|e| at(VideoErrorKind::Io(e)))?;
    if got == 0 {
        return Err(at(VideoErrorKind::Empty));
    }
    if magic[..got].starts_with(b"YUV4MPEG") || b"YUV4MPEG".starts_with(&magic[..got]) {
        // The sniffed bytes go back in front of the rest of the file.
        let chained = std::io::Cursor::new(magic[..got].to_vec()).chain(file);
        let reader = y4m::Y4mReader::new(BufReader::with_capacity(1 << 20, chained)).map_err(at)?;
        return Ok(Box::new(Named::new(path, reader)));
    }
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yuv"))
    {
        return Err(at(VideoErrorKind::RawNeedsGeometry));
    }
    let reader = ffmpeg::FfmpegReader::spawn(path).map_err(at)?;
    Ok(Box::new(Named::new(path, reader)))
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A frame decoder that knows how to read one frame, without knowing its file name.
pub trait FrameDecoder: Send {
    /// The clip's geometry.
    fn info(&self) -> VideoInfo;
    /// Reads the next frame; `Ok(false)` at a clean end.
    fn decode(&mut self, picture: &mut Picture) -> Result<bool, VideoErrorKind>;
}

/// Attaches the file name to every error a decoder reports, and counts frames.
struct Named<D> {
    path: PathBuf,
    decoder: D,
    frames: u64,
}

impl<D: FrameDecoder> Named<D> {
    fn new(path: &Path, decoder: D) -> Self {
        Named {
            path: path.to_path_buf(),
            decoder,
            frames: 0,
        }
    }
}

impl<D: FrameDecoder> FrameSource for Named<D> {
    fn info(&self) -> VideoInfo {
        self.decoder.info()
    }

    fn read_frame(&mut self, picture: &mut Picture) -> Result<bool, VideoError> {
        match self.decoder.decode(picture) {
            Ok(got) => {
                self.frames += got as u64;
                Ok(got)
            }
            Err(kind) => Err(VideoError::new(&self.path, kind).at_frame(self.frames)),
        }
    }
}
