//! file://: read in place, never copied, and only under the allowed roots.

use std::path::Path;

use vmafx_fetch::{FetchConfig, FetchError, Fetcher, Input, InputPolicy};

/// A fetcher that may read files under `root`.
pub fn rooted(root: &Path) -> Fetcher {
    Fetcher::new(FetchConfig {
        policy: InputPolicy {
            allow_file_roots: vec![root.to_path_buf()],
            ..InputPolicy::default()
        },
        ..FetchConfig::default()
    })
    .unwrap()
}

#[test]
fn file_uri_is_read_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.y4m");
    std::fs::write(&path, b"YUV4MPEG2 W2 H2\n").unwrap();
    let f = rooted(dir.path());
    for uri in [
        format!("file://{}", path.display()),
        format!("file://localhost{}", path.display()),
    ] {
        match f.open(&uri).unwrap() {
            Input::Local(p) => assert_eq!(p, path),
            other => panic!("expected a local path, got {other:?}"),
        }
        assert_eq!(f.size(&uri).unwrap(), 16);
        // Nothing to download: the file itself is returned, and no copy appears.
        let out = tempfile::tempdir().unwrap();
        assert_eq!(f.download(&uri, out.path()).unwrap(), path);
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
    }
}

#[test]
fn missing_file_and_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = rooted(dir.path());
    let missing = format!("file://{}/nope.y4m", dir.path().display());
    let err = f.open(&missing).unwrap_err();
    assert!(matches!(err, FetchError::NotFound { .. }), "{err:?}");
    assert!(err
        .to_string()
        .starts_with(&format!("failed to open {missing}: not found")));

    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let err = f.open(&format!("file://{}", sub.display())).unwrap_err();
    assert!(matches!(err, FetchError::IsDirectory { .. }), "{err:?}");
}

#[test]
fn bad_uri_is_a_parse_error() {
    let f = Fetcher::new(FetchConfig::default()).unwrap();
    let err = f.open("s3://bucket-only").unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to parse URI \"s3://bucket-only\": expected bucket/key"
    );
}

#[test]
fn azure_without_account_is_a_config_error() {
    let f = Fetcher::new(FetchConfig::default()).unwrap();
    let err = f.open("azure://videos/a.y4m").unwrap_err();
    assert!(matches!(err, FetchError::Config { .. }), "{err:?}");
    assert!(err.to_string().contains("AZURE_STORAGE_ACCOUNT"), "{err}");
}
