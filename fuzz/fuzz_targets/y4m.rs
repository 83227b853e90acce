//! Fuzzes the Y4M parser: any byte string must parse or fail cleanly, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vmafx_video::y4m::Y4mReader;
use vmafx_video::FrameDecoder;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = Y4mReader::new(data) else {
        return;
    };
    let info = reader.info();
    // Keep allocations small enough for the fuzzer's memory limit.
    if info.width * info.height > 1 << 20 {
        return;
    }
    let Ok(mut picture) = info.new_picture() else {
        return;
    };
    for _ in 0..8 {
        if !matches!(reader.decode(&mut picture), Ok(true)) {
            break;
        }
    }
});
