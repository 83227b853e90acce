//! Fuzzes model loading from JSON: any bytes written as a model file must load or fail with
//! one line naming the file, never panic or abort; a model that loads must predict.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vmafx_fuzz::load_model_bytes;

fuzz_target!(|data: &[u8]| {
    load_model_bytes(data);
});
