//! Fuzzes the raw YUV reader with fuzzer-chosen geometry and contents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vmafx_engine::picture::PixelFormat;
use vmafx_video::raw::RawYuvReader;
use vmafx_video::{FrameDecoder, RawParams};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let format = match data[2] % 3 {
        0 => PixelFormat::Yuv420,
        1 => PixelFormat::Yuv422,
        _ => PixelFormat::Yuv444,
    };
    let params = RawParams {
        width: data[0] as usize,
        height: data[1] as usize,
        format,
        bit_depth: 8 + data[3] % 9,
    };
    let Ok(mut reader) = RawYuvReader::new(&data[4..], params) else {
        return;
    };
    let Ok(mut picture) = reader.info().new_picture() else {
        return;
    };
    while let Ok(true) = reader.decode(&mut picture) {}
});
