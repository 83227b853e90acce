//! Bounded fuzzing of the contract's parsers (URI, model spec, feature spec) on stable Rust:
//! random strings and mutations of valid seeds. Each parser gets `VMAFX_FUZZ_CASES` cases
//! (2,000 by default). Nothing may panic, every error is one line naming its field, and every
//! accepted value re-validates from its canonical spelling.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use vmafx_contract::{FeatureSpec, InputPolicy, JobUri, ModelSpec};

fn cases() -> u32 {
    std::env::var("VMAFX_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

const URI_SEEDS: &[&str] = &[
    "file:///data/clips/a%20b.y4m",
    "s3://bucket/dir/key.mp4",
    "gs://bucket/a.y4m",
    "azure://container/x/y.mkv",
    "https://example.com:8443/v/a.y4m",
    "http://[::1]:80/a",
    "rclone://remote:path/a.mkv",
    "my_remote://bucket/f.y4m",
    "rclone://remote,endpoint='http://x':path",
];

const MODEL_SEEDS: &[&str] = &[
    "version=vmaf_v0.6.1",
    "path=/models/m.json:name=foo:disable_clip:enable_transform",
    "version=vmaf_v0.6.1neg:vif.vif_enhn_gain_limit=1.5:adm.adm_enhn_gain_limit=1.0",
    "oci://registry/model:1",
];

const FEATURE_SEEDS: &[&str] = &[
    "psnr",
    "psnr=enable_chroma=false:min_sse=0.5",
    "float_ssim=scale=2",
];

/// A seed with a few random edits: characters inserted, deleted or replaced by ones that matter
/// to the grammars.
fn mutated(seeds: &'static [&'static str]) -> impl Strategy<Value = String> {
    let special = prop_oneof![
        Just(':'),
        Just('/'),
        Just('='),
        Just('%'),
        Just('.'),
        Just('-'),
        Just(','),
        Just('@'),
        Just('['),
        Just(']'),
        Just('?'),
        Just('\n'),
        Just('\0'),
        Just('é'),
        Just(' '),
        Just('+'),
        any::<char>(),
    ];
    (
        prop::sample::select(seeds),
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, special), 1..6),
    )
        .prop_map(|(seed, edits)| {
            let mut chars: Vec<char> = seed.chars().collect();
            for (at, op, c) in edits {
                let i = at.index(chars.len() + 1);
                match op {
                    0 => chars.insert(i, c),
                    1 if i < chars.len() => {
                        chars.remove(i);
                    }
                    _ if i < chars.len() => chars[i] = c,
                    _ => chars.push(c),
                }
            }
            chars.into_iter().collect()
        })
}

fn inputs(seeds: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![mutated(seeds), ".{0,80}", "[a-z0-9:/=.%_,@-]{0,60}",]
}

fn one_line_naming(err: &impl ToString, field: &str) -> Result<(), TestCaseError> {
    let text = err.to_string();
    prop_assert!(text.starts_with(&format!("{field}: ")), "{text}");
    prop_assert!(!text.contains('\n') && !text.contains('\r'), "{text:?}");
    Ok(())
}

#[test]
fn uri_parser() {
    let policy = InputPolicy {
        allow_file_roots: vec!["/data".into()],
        ..InputPolicy::default()
    };
    runner()
        .run(&inputs(URI_SEEDS), |text| {
            match JobUri::parse_field("reference", &text) {
                Ok(uri) => {
                    let again = JobUri::parse(&uri.to_string());
                    prop_assert_eq!(again.as_ref(), Ok(&uri), "{} -> {}", text, uri);
                    if let Err(reason) = policy.check_uri(&uri) {
                        prop_assert!(!reason.contains('\n'), "{}", reason);
                    }
                }
                Err(e) => one_line_naming(&e, "reference")?,
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn model_spec_parser() {
    runner()
        .run(&inputs(MODEL_SEEDS), |text| {
            match ModelSpec::parse_field("models[3]", &text) {
                Ok(spec) => {
                    let again = ModelSpec::parse(&spec.to_string());
                    prop_assert_eq!(again.as_ref(), Ok(&spec), "{}", text);
                }
                Err(e) => one_line_naming(&e, "models[3]")?,
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn feature_spec_parser() {
    runner()
        .run(&inputs(FEATURE_SEEDS), |text| {
            match FeatureSpec::parse_field("features[0]", &text) {
                Ok(spec) => {
                    let again = FeatureSpec::parse(&spec.to_string());
                    prop_assert_eq!(again.as_ref(), Ok(&spec), "{}", text);
                }
                Err(e) => one_line_naming(&e, "features[0]")?,
            }
            Ok(())
        })
        .unwrap();
}
