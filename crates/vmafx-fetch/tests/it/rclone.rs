//! rclone:// and remote:// through the real rclone binary, with `local` and `alias` remotes in a
//! temporary rclone.conf. Needs rclone on PATH (Debian: `apt-get install rclone`).

use std::path::PathBuf;

use vmafx_fetch::{FetchConfig, FetchError, Fetcher, RcloneConfig};

use crate::common::{entries, payload, read_stream};

struct Remote {
    dir: tempfile::TempDir,
    data: Vec<u8>,
}

impl Remote {
    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn fetcher(&self) -> Fetcher {
        Fetcher::new(FetchConfig {
            rclone: RcloneConfig {
                config_path: Some(self.dir.path().join("rclone.conf")),
                ..RcloneConfig::default()
            },
            ..FetchConfig::default()
        })
        .unwrap()
    }
}

/// `disk` is a local remote (absolute paths); `vids` an alias rooted at the data directory.
fn setup() -> Remote {
    let dir = tempfile::tempdir().unwrap();
    let data = payload(5 * 1024 * 1024 + 3, 11);
    std::fs::create_dir_all(dir.path().join("data/sub")).unwrap();
    std::fs::write(dir.path().join("data/sub/clip.y4m"), &data).unwrap();
    let conf = format!(
        "[disk]\ntype = local\n\n[vids]\ntype = alias\nremote = {}\n",
        dir.path().join("data").display()
    );
    std::fs::write(dir.path().join("rclone.conf"), conf).unwrap();
    Remote { dir, data }
}

#[test]
fn streams_through_rclone_cat() {
    let r = setup();
    let f = r.fetcher();
    let uri = format!("rclone://disk:{}/sub/clip.y4m", r.data_dir().display());
    assert!(read_stream(f.open(&uri).unwrap(), "clip.y4m") == r.data);
    // A remote name as the scheme: vids://sub/clip.y4m is vids:sub/clip.y4m.
    assert!(read_stream(f.open("vids://sub/clip.y4m").unwrap(), "clip.y4m") == r.data);
    assert_eq!(f.size("vids://sub/clip.y4m").unwrap(), r.data.len() as u64);
}

#[test]
fn downloads_through_rclone() {
    let r = setup();
    let out = tempfile::tempdir().unwrap();
    let path = r
        .fetcher()
        .download("vids://sub/clip.y4m", out.path())
        .unwrap();
    assert!(path.to_string_lossy().ends_with("-clip.y4m"));
    assert!(std::fs::read(&path).unwrap() == r.data);
    assert_eq!(entries(out.path()), 1);
}

#[test]
fn missing_file_is_not_found() {
    let r = setup();
    let err = r.fetcher().open("vids://sub/nope.y4m").unwrap_err();
    assert!(matches!(err, FetchError::NotFound { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("failed to open vids://sub/nope.y4m: not found (rclone: "),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
}

#[test]
fn directory_is_refused() {
    let r = setup();
    let err = r.fetcher().open("vids://sub").unwrap_err();
    assert!(matches!(err, FetchError::IsDirectory { .. }), "{err:?}");
}

#[test]
fn unconfigured_remotes_and_connection_strings_are_refused() {
    let r = setup();
    let f = r.fetcher();
    let err = f.open("nosuchremote://bucket/a.y4m").unwrap_err();
    assert!(matches!(err, FetchError::Policy { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "failed to open nosuchremote://bucket/a.y4m: the rclone remote \"nosuchremote\" is not configured on this node"
    );
    // A configured remote pointed at another host, an on-the-fly backend, a flag.
    for uri in [
        "rclone://vids,endpoint='http://127.0.0.1:1':sub/clip.y4m",
        "rclone://:local:/etc/passwd",
        "rclone://-vv:x",
        "rclone://--config=/tmp/x:y",
    ] {
        let err = f.open(uri).unwrap_err();
        assert!(matches!(err, FetchError::Parse { .. }), "{uri}: {err:?}");
        assert!(!err.to_string().contains('\n'));
    }
}

#[test]
fn missing_binary_is_reported() {
    let r = setup();
    let f = Fetcher::new(FetchConfig {
        rclone: RcloneConfig {
            binary: r.dir.path().join("no-rclone-here"),
            config_path: None,
        },
        ..FetchConfig::default()
    })
    .unwrap();
    let err = f.open("vids://sub/clip.y4m").unwrap_err();
    assert!(matches!(err, FetchError::RcloneMissing { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("failed to run rclone ("),
        "{err}"
    );
}

#[test]
fn uploads_through_rclone_rcat() {
    let r = setup();
    let f = r.fetcher();
    let body = payload(300_000, 5);
    f.upload("vids://out/frames.json", &body).unwrap();
    assert!(std::fs::read(r.data_dir().join("out/frames.json")).unwrap() == body);
    let err = f.upload("nosuch://out/frames.json", b"x").unwrap_err();
    assert!(matches!(err, FetchError::Policy { .. }), "{err}");
    let err = f
        .upload("http://example.com/frames.json", b"x")
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
}
