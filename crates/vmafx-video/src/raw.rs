//! Headerless planar YUV (`.yuv`) input, with the geometry given on the command line.

use std::io::Read;

use vmafx_engine::picture::Picture;

use crate::error::VideoErrorKind;
use crate::y4m::read_exact_or_count;
use crate::{check_geometry, FrameDecoder, RawParams, VideoInfo};

/// Streams fixed-size frames out of a raw YUV byte stream.
pub struct RawYuvReader<R> {
    reader: R,
    info: VideoInfo,
    frame_bytes: Vec<u8>,
}

impl<R: Read + Send> RawYuvReader<R> {
    /// Checks the geometry and prepares the frame buffer.
    pub fn new(reader: R, params: RawParams) -> Result<Self, VideoErrorKind> {
        if !(8..=16).contains(&params.bit_depth) {
            return Err(VideoErrorKind::Unsupported(format!(
                "bit depth {} (supported: 8 to 16)",
                params.bit_depth
            )));
        }
        let info = VideoInfo {
            width: params.width,
            height: params.height,
            format: params.format,
            bit_depth: params.bit_depth,
            frame_rate: None,
        };
        check_geometry(&info, 0).map_err(|e| match e {
            VideoErrorKind::Limit(m) => VideoErrorKind::Limit(format!("raw geometry: {m}")),
            other => other,
        })?;
        let len =
            Picture::raw_frame_len(params.format, params.bit_depth, params.width, params.height);
        Ok(RawYuvReader {
            reader,
            info,
            frame_bytes: vec![0; len],
        })
    }
}

impl<R: Read + Send> FrameDecoder for RawYuvReader<R> {
    fn info(&self) -> VideoInfo {
        self.info
    }

    fn decode(&mut self, picture: &mut Picture) -> Result<bool, VideoErrorKind> {
        let got = read_exact_or_count(&mut self.reader, &mut self.frame_bytes)?;
        if got == 0 {
            return Ok(false);
        }
        if got != self.frame_bytes.len() {
            return Err(VideoErrorKind::Truncated {
                got,
                expected: self.frame_bytes.len(),
            });
        }
        picture
            .fill_from_raw(&self.frame_bytes)
            .map_err(|e| VideoErrorKind::Unsupported(e.to_string()))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use vmafx_engine::picture::{PixelFormat, PlaneData};

    fn params(w: usize, h: usize, format: PixelFormat, bit_depth: u8) -> RawParams {
        RawParams {
            width: w,
            height: h,
            format,
            bit_depth,
        }
    }

    #[test]
    fn reads_whole_frames_and_reports_a_partial_one() {
        let data: Vec<u8> = (0..12u8).collect();
        let mut r = RawYuvReader::new(&data[..9], params(2, 2, PixelFormat::Yuv420, 8)).unwrap();
        let mut pic = r.info().new_picture().unwrap();
        assert!(r.decode(&mut pic).unwrap());
        match &pic.planes[2] {
            PlaneData::U8(p) => assert_eq!(p.data, vec![5]),
            PlaneData::U16(_) => panic!("8-bit stored wide"),
        }
        let err = r.decode(&mut pic).unwrap_err();
        assert!(
            matches!(
                err,
                VideoErrorKind::Truncated {
                    got: 3,
                    expected: 6
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn refuses_impossible_geometry() {
        assert!(RawYuvReader::new(&[][..], params(0, 2, PixelFormat::Yuv420, 8)).is_err());
        assert!(RawYuvReader::new(&[][..], params(2, 2, PixelFormat::Yuv420, 7)).is_err());
        assert!(RawYuvReader::new(&[][..], params(1 << 16, 2, PixelFormat::Yuv420, 8)).is_err());
        for (w, h, format, depth, needle) in [
            (usize::MAX, 2, PixelFormat::Yuv444, 16, "width"),
            (2, usize::MAX, PixelFormat::Yuv444, 16, "height"),
            (32768, 32768, PixelFormat::Yuv420, 8, "pixels"),
            (16384, 8192, PixelFormat::Yuv444, 16, "536870912"),
        ] {
            let err = RawYuvReader::new(&[][..], params(w, h, format, depth))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains(needle) && err.contains("raw geometry"),
                "{err}"
            );
        }
    }

    proptest! {
        #[test]
        fn frame_count_is_length_over_frame_size(
            w in 1usize..17, h in 1usize..17, frames in 0usize..4, tail in 0usize..3,
            fmt in prop::sample::select(vec![PixelFormat::Yuv420, PixelFormat::Yuv422, PixelFormat::Yuv444]),
            depth in prop::sample::select(vec![8u8, 10, 12, 16]),
        ) {
            let frame = Picture::raw_frame_len(fmt, depth, w, h);
            let tail = tail.min(frame - 1);
            let data = vec![0u8; frame * frames + tail];
            let mut r = RawYuvReader::new(&data[..], params(w, h, fmt, depth)).unwrap();
            let mut pic = r.info().new_picture().unwrap();
            let mut read = 0;
            loop {
                match r.decode(&mut pic) {
                    Ok(true) => read += 1,
                    Ok(false) => { prop_assert_eq!(tail, 0); break; }
                    Err(_) => { prop_assert!(tail > 0); break; }
                }
            }
            prop_assert_eq!(read, frames);
        }
    }
}
