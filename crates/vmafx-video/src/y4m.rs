//! YUV4MPEG2 (Y4M) parsing: the stream header, the per-frame `FRAME` markers and planar data.

use std::io::Read;

use vmafx_engine::picture::{Picture, PixelFormat};

use crate::error::VideoErrorKind;
use crate::{FrameDecoder, VideoInfo};

/// Longest stream header accepted; real ones are well under 200 bytes.
const MAX_HEADER_LEN: usize = 4096;
/// Longest frame header accepted (`FRAME` plus optional parameters).
const MAX_FRAME_HEADER_LEN: usize = 1024;
/// Largest width or height accepted, so a garbage header cannot ask for gigabytes.
pub const MAX_DIMENSION: usize = 1 << 15;
/// Largest luma area accepted (a little over 8K × 8K).
pub const MAX_AREA: usize = 1 << 27;

/// A parsed Y4M stream header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Y4mHeader {
    /// Geometry of every frame.
    pub info: VideoInfo,
    /// Bytes of auxiliary data after the three planes of each frame (the alpha plane of
    /// `444alpha`), skipped on read.
    pub extra_plane_bytes: usize,
}

/// Maps a Y4M `C` tag to format and depth. Accepts every tag libvmaf v3.2.0 reads, plus 8-bit
/// 4:2:2, mono and the 9- to 16-bit variants ffmpeg writes.
pub fn parse_chroma_tag(tag: &str) -> Result<(PixelFormat, u8, bool), VideoErrorKind> {
    let unsupported = || {
        VideoErrorKind::Unsupported(format!(
            "Y4M chroma tag \"C{tag}\" (supported: 420, 420jpeg, 420mpeg2, 420paldv, 422, 444, \
             444alpha, mono, and their p9..p16 / mono9..mono16 high-bit-depth forms)"
        ))
    };
    let (format, depth_text, alpha) = match tag {
        "420" | "420jpeg" | "420mpeg2" | "420paldv" => (PixelFormat::Yuv420, "", false),
        "422" => (PixelFormat::Yuv422, "", false),
        "444" => (PixelFormat::Yuv444, "", false),
        "444alpha" => (PixelFormat::Yuv444, "", true),
        "mono" => (PixelFormat::Yuv400, "", false),
        _ => {
            if let Some(rest) = tag.strip_prefix("420p") {
                (PixelFormat::Yuv420, rest, false)
            } else if let Some(rest) = tag.strip_prefix("422p") {
                (PixelFormat::Yuv422, rest, false)
            } else if let Some(rest) = tag.strip_prefix("444p") {
                (PixelFormat::Yuv444, rest, false)
            } else if let Some(rest) = tag.strip_prefix("mono") {
                (PixelFormat::Yuv400, rest, false)
            } else {
                return Err(unsupported());
            }
        }
    };
    let depth = if depth_text.is_empty() {
        8
    } else {
        match depth_text.parse::<u8>() {
            Ok(d) if (9..=16).contains(&d) && !depth_text.starts_with('0') => d,
            _ => return Err(unsupported()),
        }
    };
    Ok((format, depth, alpha))
}

/// Parses the header line (without its trailing newline).
pub fn parse_header(line: &[u8]) -> Result<Y4mHeader, VideoErrorKind> {
    let bad = |m: String| VideoErrorKind::BadHeader(m);
    let text = std::str::from_utf8(line).map_err(|_| bad("header is not ASCII text".into()))?;
    let mut words = text.split(' ').filter(|w| !w.is_empty());
    match words.next() {
        Some("YUV4MPEG2") => {}
        Some(w) if w.starts_with("YUV4MPEG") => {
            return Err(bad(format!("version \"{w}\" is not YUV4MPEG2")))
        }
        _ => return Err(bad("missing YUV4MPEG2 magic".into())),
    }
    let (mut width, mut height, mut frame_rate) = (None, None, None);
    let mut chroma = "420";
    for word in words {
        let (tag, value) = word.split_at(1);
        match tag {
            "W" => width = Some(parse_dimension("W", value)?),
            "H" => height = Some(parse_dimension("H", value)?),
            "F" => {
                let (n, d) = value
                    .split_once(':')
                    .ok_or_else(|| bad(format!("frame rate \"F{value}\" is not N:D")))?;
                let n: u32 = n
                    .parse()
                    .map_err(|_| bad(format!("frame rate \"F{value}\"")))?;
                let d: u32 = d
                    .parse()
                    .map_err(|_| bad(format!("frame rate \"F{value}\"")))?;
                frame_rate = Some((n, d));
            }
            "I" => match value {
                "p" | "?" | "" => {}
                _ => {
                    return Err(VideoErrorKind::Unsupported(format!(
                        "interlaced Y4M (I{value}); only progressive scan is scored"
                    )))
                }
            },
            "C" => chroma = value,
            // A (aspect), X (extensions) and unknown tags carry nothing the scores depend on.
            _ => {}
        }
    }
    let width = width.ok_or_else(|| bad("no W (width) tag".into()))?;
    let height = height.ok_or_else(|| bad("no H (height) tag".into()))?;
    if width * height > MAX_AREA {
        return Err(VideoErrorKind::Unsupported(format!(
            "{width}x{height} exceeds the largest supported area"
        )));
    }
    let (format, bit_depth, alpha) = parse_chroma_tag(chroma)?;
    let sample_bytes = if bit_depth > 8 { 2 } else { 1 };
    Ok(Y4mHeader {
        info: VideoInfo {
            width,
            height,
            format,
            bit_depth,
            frame_rate,
        },
        extra_plane_bytes: if alpha {
            width * height * sample_bytes
        } else {
            0
        },
    })
}

fn parse_dimension(tag: &str, value: &str) -> Result<usize, VideoErrorKind> {
    match value.parse::<usize>() {
        Ok(v) if v > 0 && v <= MAX_DIMENSION => Ok(v),
        Ok(v) => Err(VideoErrorKind::Unsupported(format!(
            "{tag}{v}: dimension must be between 1 and {MAX_DIMENSION}"
        ))),
        Err(_) => Err(VideoErrorKind::BadHeader(format!(
            "\"{tag}{value}\" is not a number"
        ))),
    }
}

/// Reads one `\n`-terminated line of at most `max` bytes. Returns `None` at a clean end of
/// stream (no byte at all).
fn read_line(reader: &mut impl Read, max: usize) -> Result<Option<Vec<u8>>, VideoErrorKind> {
    let mut line = Vec::with_capacity(64);
    let mut byte = [0u8; 1];
    loop {
        match reader.read(&mut byte) {
            Ok(0) => {
                return if line.is_empty() {
                    Ok(None)
                } else {
                    Err(VideoErrorKind::Truncated {
                        got: line.len(),
                        expected: line.len() + 1,
                    })
                }
            }
            Ok(_) => {
                if byte[0] == b'\n' {
                    return Ok(Some(line));
                }
                if line.len() >= max {
                    return Err(VideoErrorKind::BadHeader(format!(
                        "header line longer than {max} bytes"
                    )));
                }
                line.push(byte[0]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(VideoErrorKind::Io(e)),
        }
    }
}

/// Fills `buf` completely, or reports how much arrived before the stream ended.
pub(crate) fn read_exact_or_count(
    reader: &mut impl Read,
    buf: &mut [u8],
) -> Result<usize, VideoErrorKind> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(VideoErrorKind::Io(e)),
        }
    }
    Ok(filled)
}

/// Streams frames out of a Y4M byte stream.
pub struct Y4mReader<R> {
    reader: R,
    header: Y4mHeader,
    frame_bytes: Vec<u8>,
}

impl<R: Read + Send> Y4mReader<R> {
    /// Reads and validates the stream header.
    pub fn new(mut reader: R) -> Result<Self, VideoErrorKind> {
        let line = read_line(&mut reader, MAX_HEADER_LEN)?.ok_or(VideoErrorKind::Empty)?;
        let header = parse_header(&line)?;
        let info = header.info;
        // Direct frames go straight into the picture's planes; only the planes the picture does
        // not keep pass through this buffer.
        let planes = if Picture::raw_is_direct(info.format, info.bit_depth, info.width, info.height)
        {
            0
        } else {
            Picture::raw_frame_len(info.format, info.bit_depth, info.width, info.height)
        };
        let len = planes + header.extra_plane_bytes;
        Ok(Y4mReader {
            reader,
            header,
            frame_bytes: vec![0; len],
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &Y4mHeader {
        &self.header
    }
}

impl<R: Read + Send> FrameDecoder for Y4mReader<R> {
    fn info(&self) -> VideoInfo {
        self.header.info
    }

    fn decode(&mut self, picture: &mut Picture) -> Result<bool, VideoErrorKind> {
        let Some(marker) =
            read_line(&mut self.reader, MAX_FRAME_HEADER_LEN).map_err(|e| match e {
                VideoErrorKind::Truncated { .. } => {
                    VideoErrorKind::BadFrameMarker("stream ends inside a FRAME header".into())
                }
                other => other,
            })?
        else {
            return Ok(false);
        };
        if !(marker.starts_with(b"FRAME") && (marker.len() == 5 || marker[5] == b' ')) {
            let shown: String = String::from_utf8_lossy(&marker[..marker.len().min(16)]).into();
            return Err(VideoErrorKind::BadFrameMarker(format!(
                "expected \"FRAME\", found \"{}\"",
                shown.escape_default()
            )));
        }
        let info = self.header.info;
        let planes_len =
            Picture::raw_frame_len(info.format, info.bit_depth, info.width, info.height);
        let expected = planes_len + self.header.extra_plane_bytes;
        let direct = self.frame_bytes.len() == self.header.extra_plane_bytes;
        let mut got = 0;
        if direct {
            let planes = picture.direct_planes_mut().ok_or_else(|| {
                VideoErrorKind::Unsupported("picture does not match the stream".into())
            })?;
            for plane in planes {
                let n = read_exact_or_count(&mut self.reader, plane)?;
                got += n;
                if n != plane.len() {
                    return Err(VideoErrorKind::Truncated { got, expected });
                }
            }
            if got != planes_len {
                return Err(VideoErrorKind::Unsupported(
                    "picture does not match the stream".into(),
                ));
            }
        }
        let n = read_exact_or_count(&mut self.reader, &mut self.frame_bytes)?;
        got += n;
        if got != expected {
            return Err(VideoErrorKind::Truncated { got, expected });
        }
        if direct {
            picture.settle_direct_read();
        } else {
            picture
                .fill_from_raw(&self.frame_bytes[..planes_len])
                .map_err(|e| VideoErrorKind::Unsupported(e.to_string()))?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reader(bytes: &[u8]) -> Result<Y4mReader<&[u8]>, VideoErrorKind> {
        Y4mReader::new(bytes)
    }

    #[test]
    fn parses_common_headers() {
        let h = parse_header(b"YUV4MPEG2 W7 H5 F25:1 Ip A1:1 C420p10 XYSCSS=420P10").unwrap();
        assert_eq!((h.info.width, h.info.height, h.info.bit_depth), (7, 5, 10));
        assert_eq!(h.info.format, PixelFormat::Yuv420);
        assert_eq!(h.info.frame_rate, Some((25, 1)));
        let h = parse_header(b"YUV4MPEG2 W4 H2 F30000:1001").unwrap();
        assert_eq!((h.info.format, h.info.bit_depth), (PixelFormat::Yuv420, 8));
        assert_eq!(
            parse_header(b"YUV4MPEG2 W4 H2 Cmono16")
                .unwrap()
                .info
                .bit_depth,
            16
        );
        assert_eq!(
            parse_header(b"YUV4MPEG2 W4 H2 C444alpha")
                .unwrap()
                .extra_plane_bytes,
            8
        );
    }

    #[test]
    fn refuses_bad_headers_with_a_reason() {
        for (header, needle) in [
            (&b"YUV4MPEG2 H5 F25:1"[..], "no W"),
            (b"YUV4MPEG2 W5 F25:1", "no H"),
            (b"YUV4MPEG2 Wx H5", "not a number"),
            (b"YUV4MPEG2 W0 H5", "dimension"),
            (b"YUV4MPEG2 W5 H5 C411", "C411"),
            (b"YUV4MPEG2 W5 H5 C420p7", "C420p7"),
            (b"YUV4MPEG2 W5 H5 It", "interlaced"),
            (b"YUV4MPEG1 W5 H5", "YUV4MPEG2"),
            (b"RIFF", "magic"),
        ] {
            let err = parse_header(header).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn reads_frames_and_detects_truncation() {
        let mut data = b"YUV4MPEG2 W2 H2 F1:1 C420\n".to_vec();
        data.extend_from_slice(b"FRAME\n");
        data.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        data.extend_from_slice(b"FRAME Ixyz\n");
        data.extend_from_slice(&[7, 8, 9, 10, 11, 12]);
        let mut r = reader(&data).unwrap();
        let mut pic = r.info().new_picture().unwrap();
        assert!(r.decode(&mut pic).unwrap());
        assert!(r.decode(&mut pic).unwrap());
        assert!(!r.decode(&mut pic).unwrap());

        let cut = &data[..data.len() - 2];
        let mut r = reader(cut).unwrap();
        assert!(r.decode(&mut pic).unwrap());
        let err = r.decode(&mut pic).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");

        let mut bad = data.clone();
        bad[26] = b'X';
        let mut r = reader(&bad).unwrap();
        assert!(r
            .decode(&mut pic)
            .unwrap_err()
            .to_string()
            .contains("FRAME"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(mut r) = reader(&bytes) {
                if let Ok(mut pic) = r.info().new_picture() {
                    for _ in 0..4 {
                        if !matches!(r.decode(&mut pic), Ok(true)) { break; }
                    }
                }
            }
        }

        #[test]
        fn headers_round_trip(w in 1usize..4000, h in 1usize..4000, tag in prop::sample::select(
            vec!["420", "420jpeg", "420p10", "420p12", "422", "422p10", "444", "444p12", "mono", "420p16"])) {
            let text = format!("YUV4MPEG2 W{w} H{h} F24000:1001 Ip C{tag}");
            let parsed = parse_header(text.as_bytes()).unwrap();
            prop_assert_eq!((parsed.info.width, parsed.info.height), (w, h));
            prop_assert_eq!(parse_chroma_tag(tag).unwrap().1, parsed.info.bit_depth);
        }
    }
}
