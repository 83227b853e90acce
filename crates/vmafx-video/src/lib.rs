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

    /// How many frames the whole input holds, when that is cheap to know (Y4M and raw files:
    /// from the file size); `None` otherwise. Used for progress only.
    fn frames_hint(&self) -> Option<u64> {
        None
    }
}

/// Largest width or height accepted from a Y4M header or raw geometry: twice 16K, so a
/// garbage header cannot ask for gigabytes while every real resolution fits.
pub const MAX_DIMENSION: usize = 1 << 15;
/// Largest luma area accepted, in pixels (2^27: twice 8K × 8K).
pub const MAX_AREA: usize = 1 << 27;
/// Largest frame accepted, in bytes as stored in the file (all planes, alpha included): 512 MiB.
/// Every frame costs a buffer of this size, allocated from the header before any frame data is
/// read, so this caps what a few header bytes can make the reader allocate. 8K × 8K 4:4:4 at
/// 16 bits (384 MiB) fits.
pub const MAX_FRAME_BYTES: u64 = 1 << 29;

/// Checks a clip's geometry against [`MAX_DIMENSION`], [`MAX_AREA`] and [`MAX_FRAME_BYTES`],
/// naming the offending field. `extra_plane_bytes` is auxiliary data stored with each frame
/// (Y4M's alpha plane). Returns the stored frame size in bytes.
pub(crate) fn check_geometry(
    info: &VideoInfo,
    extra_plane_bytes: u64,
) -> Result<u64, VideoErrorKind> {
    for (field, value) in [("width", info.width), ("height", info.height)] {
        if value == 0 || value > MAX_DIMENSION {
            return Err(VideoErrorKind::Limit(format!(
                "{field} {value} is outside 1..={MAX_DIMENSION}"
            )));
        }
    }
    // Both sides are at most 2^15, so neither product below can overflow.
    let area = info.width * info.height;
    if area > MAX_AREA {
        return Err(VideoErrorKind::Limit(format!(
            "{}x{} is {area} pixels, over the limit of {MAX_AREA}",
            info.width, info.height
        )));
    }
    let frame = stored_frame_bytes(info) + extra_plane_bytes;
    if frame > MAX_FRAME_BYTES {
        return Err(VideoErrorKind::Limit(format!(
            "a {}x{} {}-bit {} frame takes {frame} bytes, over the limit of {MAX_FRAME_BYTES}",
            info.width,
            info.height,
            info.bit_depth,
            info.format.short_name()
        )));
    }
    Ok(frame)
}

/// Bytes one frame of `info`'s shape takes in a Y4M or raw file.
pub fn stored_frame_bytes(info: &VideoInfo) -> u64 {
    let sample = if info.bit_depth > 8 { 2 } else { 1 };
    (0..3)
        .map(|i| {
            let (w, h) = info.format.stored_plane_size(i, info.width, info.height);
            w as u64 * h as u64
        })
        .sum::<u64>()
        * sample
}

/// Frames in a file of `file_len` bytes whose frames take `frame_bytes` each after a
/// `header_len`-byte header, each frame preceded by `per_frame` bytes (Y4M's `FRAME\n`).
fn frames_in(file_len: u64, header_len: u64, per_frame: u64, frame_bytes: u64) -> Option<u64> {
    let step = frame_bytes.saturating_add(per_frame);
    (step > 0).then(|| file_len.saturating_sub(header_len) / step)
}

/// Length of the first line of `path` including its newline (a Y4M stream header).
fn header_line_len(path: &Path) -> Option<u64> {
    let mut file = File::open(path).ok()?;
    let mut buf = [0u8; 4096];
    let got = read_up_to(&mut file, &mut buf).ok()?;
    buf[..got]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| i as u64 + 1)
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
        let len = file.metadata().map(|m| m.len()).ok();
        let reader =
            raw::RawYuvReader::new(BufReader::with_capacity(1 << 20, file), params).map_err(at)?;
        let total = len.and_then(|len| frames_in(len, 0, 0, stored_frame_bytes(&reader.info())));
        return Ok(Box::new(Named::new(path, reader).with_total(total)));
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
        let len = file.metadata().map(|m| m.len()).ok();
        let chained = std::io::Cursor::new(magic[..got].to_vec()).chain(file);
        let reader = y4m::Y4mReader::new(BufReader::with_capacity(1 << 20, chained)).map_err(at)?;
        // Exact unless frames carry parameters after FRAME, which only makes the hint small.
        let total = len.zip(header_line_len(path)).and_then(|(len, header)| {
            frames_in(len, header, 6, stored_frame_bytes(&reader.info()))
        });
        return Ok(Box::new(Named::new(path, reader).with_total(total)));
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
    total: Option<u64>,
}

impl<D: FrameDecoder> Named<D> {
    fn new(path: &Path, decoder: D) -> Self {
        Named {
            path: path.to_path_buf(),
            decoder,
            frames: 0,
            total: None,
        }
    }

    fn with_total(mut self, total: Option<u64>) -> Self {
        self.total = total;
        self
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

    fn frames_hint(&self) -> Option<u64> {
        self.total
    }
}
