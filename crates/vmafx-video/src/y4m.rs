//! YUV4MPEG2 (Y4M) parsing: the stream header, the per-frame `FRAME` markers and planar data.

use std::io::Read;

use vmafx_engine::picture::{Picture, PixelFormat};

use crate::error::VideoErrorKind;
use crate::{FrameDecoder, VideoInfo};

/// Longest stream header accepted, newline excluded; real ones are well under 200 bytes.
pub const MAX_HEADER_LEN: usize = 4096;
/// Longest frame header accepted (`FRAME` plus optional parameters), newline excluded.
pub const MAX_FRAME_HEADER_LEN: usize = 1024;
pub use crate::{MAX_AREA, MAX_DIMENSION, MAX_FRAME_BYTES};

/// Longest piece of input quoted in an error message.
const MAX_QUOTED: usize = 32;

/// `bytes` as they may appear in a one-line error: at most [`MAX_QUOTED`] bytes, control
/// characters and quotes escaped, invalid UTF-8 replaced.
pub(crate) fn quoted(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(MAX_QUOTED)];
    let mut text: String = String::from_utf8_lossy(cut).escape_debug().collect();
    if cut.len() < bytes.len() {
        text.push_str("...");
    }
    text
}

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
            "Y4M chroma tag \"C{}\" (supported: 420, 420jpeg, 420mpeg2, 420paldv, 422, 444, \
             444alpha, mono, and their p9..p16 / mono9..mono16 high-bit-depth forms)",
            quoted(tag.as_bytes())
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

/// Parses the header line (without its trailing newline). Tags are single bytes; the values of
/// the tags read here (`W`, `H`, `F`, `I`, `C`) must be ASCII and given at most once, while other
/// tags (`A`, `X` extensions, unknown ones) are skipped whatever bytes they hold.
pub fn parse_header(line: &[u8]) -> Result<Y4mHeader, VideoErrorKind> {
    let bad = |m: String| VideoErrorKind::BadHeader(m);
    let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    match words.next() {
        Some(b"YUV4MPEG2") => {}
        Some(w) if w.starts_with(b"YUV4MPEG") => {
            return Err(bad(format!("version \"{}\" is not YUV4MPEG2", quoted(w))))
        }
        _ => return Err(bad("missing YUV4MPEG2 magic".into())),
    }
    let (mut width, mut height, mut frame_rate) = (None, None, None);
    let mut chroma = None;
    let mut interlace = None;
    for word in words {
        let Some((&tag, value)) = word.split_first() else {
            continue;
        };
        let slot_taken = match tag {
            b'W' => width.is_some(),
            b'H' => height.is_some(),
            b'F' => frame_rate.is_some(),
            b'I' => interlace.is_some(),
            b'C' => chroma.is_some(),
            // A (aspect), X (extensions) and unknown tags carry nothing the scores depend on.
            _ => continue,
        };
        let tag = tag as char;
        if slot_taken {
            return Err(bad(format!("tag {tag} is given twice")));
        }
        let value = std::str::from_utf8(value)
            .ok()
            .filter(|v| v.is_ascii())
            .ok_or_else(|| {
                bad(format!(
                    "tag {tag} value \"{}\" is not ASCII",
                    quoted(value)
                ))
            })?;
        match tag {
            'W' => width = Some(parse_dimension("W", value)?),
            'H' => height = Some(parse_dimension("H", value)?),
            'F' => frame_rate = Some(parse_frame_rate(value)?),
            'I' => {
                interlace = Some(());
                match value {
                    "p" | "?" | "" => {}
                    _ => {
                        return Err(VideoErrorKind::Unsupported(format!(
                            "interlaced Y4M (I{}); only progressive scan is scored",
                            quoted(value.as_bytes())
                        )))
                    }
                }
            }
            _ => chroma = Some(value),
        }
    }
    let width = width.ok_or_else(|| bad("no W (width) tag".into()))?;
    let height = height.ok_or_else(|| bad("no H (height) tag".into()))?;
    let (format, bit_depth, alpha) = parse_chroma_tag(chroma.unwrap_or("420"))?;
    let info = VideoInfo {
        width,
        height,
        format,
        bit_depth,
        // 0 in either part means "unknown" to some writers.
        frame_rate: frame_rate.filter(|&(n, d)| n > 0 && d > 0),
    };
    let sample_bytes = if bit_depth > 8 { 2 } else { 1 };
    // Dimensions are checked already, so this cannot overflow.
    let extra_plane_bytes = if alpha {
        width * height * sample_bytes
    } else {
        0
    };
    crate::check_geometry(&info, extra_plane_bytes as u64)?;
    Ok(Y4mHeader {
        info,
        extra_plane_bytes,
    })
}

fn parse_dimension(tag: &str, value: &str) -> Result<usize, VideoErrorKind> {
    // Digits only: `usize::from_str` would also take a leading `+`.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VideoErrorKind::BadHeader(format!(
            "\"{tag}{}\" is not a number",
            quoted(value.as_bytes())
        )));
    }
    match value.parse::<usize>() {
        Ok(v) if v > 0 && v <= MAX_DIMENSION => Ok(v),
        _ => Err(VideoErrorKind::Limit(format!(
            "{tag}{}: dimension must be between 1 and {MAX_DIMENSION}",
            quoted(value.as_bytes())
        ))),
    }
}

fn parse_frame_rate(value: &str) -> Result<(u32, u32), VideoErrorKind> {
    let bad = || {
        VideoErrorKind::BadHeader(format!(
            "frame rate \"F{}\" is not N:D",
            quoted(value.as_bytes())
        ))
    };
    let (n, d) = value.split_once(':').ok_or_else(bad)?;
    let part = |t: &str| -> Result<u32, VideoErrorKind> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    Ok((part(n)?, part(d)?))
}

/// One line read by [`read_line`].
enum Line {
    /// The bytes before the newline.
    Complete(Vec<u8>),
    /// The stream ended before any byte.
    End,
    /// The stream ended after this many bytes, with no newline.
    Unterminated(usize),
    /// More than the allowed number of bytes came without a newline.
    TooLong,
}

/// Reads one `\n`-terminated line of at most `max` bytes (newline excluded).
fn read_line(reader: &mut impl Read, max: usize) -> Result<Line, VideoErrorKind> {
    let mut line = Vec::with_capacity(64);
    let mut byte = [0u8; 1];
    loop {
        match reader.read(&mut byte) {
            Ok(0) if line.is_empty() => return Ok(Line::End),
            Ok(0) => return Ok(Line::Unterminated(line.len())),
            Ok(_) => {
                if byte[0] == b'\n' {
                    return Ok(Line::Complete(line));
                }
                if line.len() >= max {
                    return Ok(Line::TooLong);
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
        let bad = VideoErrorKind::BadHeader;
        let line = match read_line(&mut reader, MAX_HEADER_LEN)? {
            Line::Complete(line) => line,
            Line::End => return Err(VideoErrorKind::Empty),
            Line::Unterminated(n) => {
                return Err(bad(format!(
                    "stream ends after {n} bytes, inside the header line"
                )))
            }
            Line::TooLong => {
                return Err(bad(format!(
                    "header line is longer than {MAX_HEADER_LEN} bytes"
                )))
            }
        };
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
        let bad = VideoErrorKind::BadFrameMarker;
        let marker = match read_line(&mut self.reader, MAX_FRAME_HEADER_LEN)? {
            Line::Complete(marker) => marker,
            Line::End => return Ok(false),
            Line::Unterminated(n) => {
                return Err(bad(format!(
                    "stream ends after {n} bytes, inside a FRAME header"
                )))
            }
            Line::TooLong => {
                return Err(bad(format!(
                    "FRAME header is longer than {MAX_FRAME_HEADER_LEN} bytes"
                )))
            }
        };
        if !(marker.starts_with(b"FRAME") && (marker.len() == 5 || marker[5] == b' ')) {
            return Err(bad(format!(
                "expected \"FRAME\", found \"{}\"",
                quoted(&marker)
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

    #[test]
    fn non_ascii_tags_are_skipped_and_non_ascii_values_refused() {
        // A multi-byte first character used to be split inside itself, which panicked.
        let h = parse_header("YUV4MPEG2 W4 H2 éx Ωmega X\u{1F600}".as_bytes()).unwrap();
        assert_eq!((h.info.width, h.info.height), (4, 2));
        let h = parse_header(b"YUV4MPEG2 W4 H2 \xff\xfe A\x80").unwrap();
        assert_eq!(h.info.width, 4);
        for header in [
            "YUV4MPEG2 W4é H2".as_bytes(),
            b"YUV4MPEG2 W4 H2 C420\xff",
            "YUV4MPEG2 W4 H2 F２５:1".as_bytes(),
        ] {
            let err = parse_header(header).unwrap_err().to_string();
            assert!(err.contains("not ASCII"), "{err}");
        }
    }

    #[test]
    fn repeated_tags_are_refused() {
        for (header, tag) in [
            ("YUV4MPEG2 W4 H2 W8", 'W'),
            ("YUV4MPEG2 W4 H2 H2", 'H'),
            ("YUV4MPEG2 W4 H2 C420 C444", 'C'),
            ("YUV4MPEG2 W4 H2 F1:1 F2:1", 'F'),
            ("YUV4MPEG2 W4 H2 Ip Ip", 'I'),
        ] {
            let err = parse_header(header.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(&format!("tag {tag} is given twice")), "{err}");
        }
        // Extensions may repeat.
        assert!(parse_header(b"YUV4MPEG2 W4 H2 XA=1 XB=2 A1:1").is_ok());
    }

    #[test]
    fn sizes_beyond_the_limits_are_refused_before_allocating() {
        for (header, needle) in [
            ("YUV4MPEG2 W32769 H2", "dimension"),
            ("YUV4MPEG2 W99999999999999999999999 H2", "dimension"),
            ("YUV4MPEG2 W4 H18446744073709551616", "dimension"),
            ("YUV4MPEG2 W+4 H2", "not a number"),
            ("YUV4MPEG2 W-4 H2", "not a number"),
            ("YUV4MPEG2 W32768 H32768", "pixels, over the limit"),
            // 16384 × 8192 is within the area limit, but 4:4:4 at 16 bits takes 768 MiB.
            (
                "YUV4MPEG2 W16384 H8192 C444p16",
                "over the limit of 536870912",
            ),
        ] {
            let err = parse_header(header.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(needle), "{header}: {err}");
        }
        let h = parse_header(b"YUV4MPEG2 W16384 H8192 C420p16").unwrap();
        assert_eq!(h.info.width, 16384);
        assert!(reader(b"YUV4MPEG2 W32768 H4096 C420\n").is_ok());
    }

    #[test]
    fn frame_rates_are_digits_and_zero_means_unknown() {
        let rate = |h: &str| parse_header(h.as_bytes()).map(|h| h.info.frame_rate);
        assert_eq!(rate("YUV4MPEG2 W4 H2 F30:0").unwrap(), None);
        assert_eq!(rate("YUV4MPEG2 W4 H2 F0:0").unwrap(), None);
        for bad in ["F30", "F:1", "F1:", "F+1:1", "F99999999999:1", "F1:1:1"] {
            let err = rate(&format!("YUV4MPEG2 W4 H2 {bad}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("frame rate"), "{bad}: {err}");
        }
    }

    #[test]
    fn truncated_and_overlong_header_lines_are_refused() {
        let err = |bytes: &[u8]| {
            reader(bytes)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err(b"").contains("empty"));
        assert!(err(b"YUV4MPEG2 W4 H2").contains("inside the header line"));
        let mut long = b"YUV4MPEG2 W4 H2 X".to_vec();
        long.resize(MAX_HEADER_LEN + 10, b'x');
        long.push(b'\n');
        assert!(err(&long).contains("longer than 4096"));
        // Without a newline at all, reading stops at the limit rather than at the end.
        long.pop();
        long.resize(1 << 20, b'x');
        assert!(err(&long).contains("longer than 4096"));
    }

    #[test]
    fn truncated_and_overlong_frame_headers_are_refused() {
        let decode_err = |tail: &[u8]| {
            let mut data = b"YUV4MPEG2 W2 H2 C420\n".to_vec();
            data.extend_from_slice(tail);
            let mut r = reader(&data).unwrap();
            let mut pic = r.info().new_picture().unwrap();
            r.decode(&mut pic).unwrap_err().to_string()
        };
        assert!(decode_err(b"FRA").contains("inside a FRAME header"));
        assert!(decode_err(b"FRAME").contains("inside a FRAME header"));
        let mut long = b"FRAME ".to_vec();
        long.resize(MAX_FRAME_HEADER_LEN + 1, b'x');
        assert!(decode_err(&long).contains("longer than 1024"));
        assert!(decode_err(b"FRAMES\n").contains("expected"));
        assert!(decode_err(b"FRAME\n\x01\x02").contains("truncated"));
        // Garbage is quoted escaped and cut short, so the message stays one short line.
        let shown = decode_err(b"\x1b[2J\r\rjunk junk junk junk junk junk junk junk\n");
        assert!(
            shown.contains("\\u{1b}[2J\\r\\r") && shown.contains("...") && shown.len() < 120,
            "{shown}"
        );
    }

    #[test]
    fn quoted_input_is_escaped_and_cut() {
        assert_eq!(quoted(b"ab\n\"c"), "ab\\n\\\"c");
        assert_eq!(quoted(&[b'x'; 40]), format!("{}...", "x".repeat(32)));
        // Cutting inside a multi-byte character must not panic.
        assert!(!quoted("é".repeat(20).as_bytes()).is_empty());
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
