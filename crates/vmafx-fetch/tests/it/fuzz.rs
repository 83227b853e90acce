//! Bounded fuzzing of this crate's own parsers, as `vmafx-contract`'s fuzz tests do for the job
//! contract: the Pushgateway target (URL, job, grouping labels) and the PEM bundle of
//! `--registry-ca`. `VMAFX_FUZZ_CASES` cases each (2,000 by default); nothing may panic, every
//! error is one line, and every accepted target is a URL with no room for injection.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use vmafx_fetch::pushgateway::PushTarget;

fn runner() -> TestRunner {
    let cases = std::env::var("VMAFX_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Text near the valid forms, and anything at all.
fn text(valid: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(valid).prop_map(str::to_owned),
        (
            prop::sample::select(valid),
            ".{0,3}",
            any::<prop::sample::Index>()
        )
            .prop_map(|(seed, noise, at)| {
                let mut chars: Vec<char> = seed.chars().collect();
                let at = at.index(chars.len() + 1);
                chars.splice(at..at, noise.chars());
                chars.into_iter().collect()
            }),
        ".{0,40}",
    ]
}

#[test]
fn pushgateway_targets() {
    let urls = &[
        "http://gw:9091",
        "https://gw.example/prefix/",
        "http://[::1]:9091",
        "http://u:p@gw",
        "ftp://gw",
    ];
    let jobs = &["vmafx", "nightly-1.x", "a/b", ""];
    let labels = &["instance", "pod", "job", "__x", "1a"];
    let values = &["vmafx-score-x7k2p", "a b", "é", ""];
    let strategy = (text(urls), text(jobs), text(labels), text(values));
    runner()
        .run(&strategy, |(url, job, label, value)| {
            match PushTarget::new("--pushgateway", &url, &job, &[(label, value)]) {
                Ok(target) => {
                    let pushed_to = target.url();
                    prop_assert!(
                        pushed_to.starts_with("http://") || pushed_to.starts_with("https://"),
                        "{pushed_to}"
                    );
                    prop_assert!(
                        !pushed_to.contains(|c: char| c.is_whitespace()
                            || c.is_control()
                            || matches!(c, '?' | '#')),
                        "{pushed_to:?}"
                    );
                    // No credentials: '@' may appear in a path prefix, never in the host.
                    let authority = pushed_to
                        .split("://")
                        .nth(1)
                        .and_then(|rest| rest.split('/').next())
                        .unwrap_or_default();
                    prop_assert!(!authority.contains('@'), "{pushed_to:?}");
                    let group = format!("/metrics/job/{job}/");
                    prop_assert!(pushed_to.contains(&group), "{pushed_to}");
                }
                Err(e) => {
                    let text = e.to_string();
                    prop_assert!(!text.contains(['\n', '\r']), "{text:?}");
                    prop_assert!(!e.is_transient(), "a refused target is not transient");
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn registry_ca_bundles() {
    let pem = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2E=\n-----END CERTIFICATE-----\n";
    let strategy = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(move |(at, byte)| {
            let mut bytes = pem.as_bytes().to_vec();
            let at = at.index(bytes.len());
            bytes[at] = byte;
            bytes
        }),
    ];
    runner()
        .run(&strategy, |bytes| {
            if let Err(problem) = vmafx_fetch::oci::ca_certificates(&bytes) {
                prop_assert!(!problem.contains(['\n', '\r']), "{problem:?}");
            }
            Ok(())
        })
        .unwrap();
}
