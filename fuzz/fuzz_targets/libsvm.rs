//! Fuzzes the libsvm text parser: the input becomes the `"model"` string of an otherwise valid
//! model file (two VMAF features), which must load or fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vmafx_fuzz::load_model_bytes;

fuzz_target!(|data: &[u8]| {
    let svm = String::from_utf8_lossy(data);
    let document = format!(
        r#"{{"model_dict": {{"model_type": "LIBSVMNUSVR", "norm_type": "linear_rescale",
            "feature_names": ["VMAF_integer_feature_adm2_score",
                              "VMAF_integer_feature_motion2_score"],
            "slopes": [0.01, 1.0, 0.05], "intercepts": [-0.3, -1.0, 0.0],
            "score_clip": [0.0, 100.0], "model": {}}}}}"#,
        json_string(&svm)
    );
    load_model_bytes(document.as_bytes());
});

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
