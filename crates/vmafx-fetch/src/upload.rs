//! Writing result files: a local file under an allowed root, placed by rename so that no reader
//! ever sees a partial file (the object-store and rclone writers live beside their readers).

use std::io::{self, Write};
use std::path::Path;

use vmafx_contract::policy::{normalise, under_any};
use vmafx_contract::InputPolicy;

use crate::error::FetchError;

/// Writes `bytes` to `path`, which must lie (lexically and once its folder is resolved) under
/// one of the policy's file roots. The folder must exist; the file is replaced whole.
pub(crate) fn write_local(
    policy: &InputPolicy,
    uri: &str,
    path: &Path,
    bytes: &[u8],
    not_allowed: &str,
) -> Result<(), FetchError> {
    let outside = || FetchError::Policy {
        uri: uri.to_string(),
        reason: not_allowed.to_string(),
    };
    let fail = |source: io::Error| FetchError::Backend {
        uri: uri.to_string(),
        action: "write",
        detail: source.to_string(),
    };
    let lexical = normalise(path).ok_or_else(outside)?;
    if policy.allow_file_roots.is_empty() || !under_any(&lexical, &policy.allow_file_roots) {
        return Err(outside());
    }
    let (Some(folder), Some(name)) = (lexical.parent(), lexical.file_name()) else {
        return Err(outside());
    };
    // The folder is resolved (a symlink out of the root is refused); the file itself is
    // created by rename, so a symlink planted at its name is replaced, never followed.
    let real_folder = std::fs::canonicalize(folder).map_err(fail)?;
    let roots: Vec<_> = policy
        .allow_file_roots
        .iter()
        .filter_map(|root| std::fs::canonicalize(root).ok())
        .collect();
    if !under_any(&real_folder, &roots) {
        return Err(outside());
    }
    let mut file = tempfile::Builder::new()
        .prefix(".vmafx-")
        .tempfile_in(&real_folder)
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.as_file().sync_all().map_err(fail)?;
    file.persist(real_folder.join(name))
        .map_err(|e| fail(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(root: &Path) -> InputPolicy {
        InputPolicy {
            allow_file_roots: vec![root.to_path_buf()],
            ..InputPolicy::default()
        }
    }

    #[test]
    fn writes_under_a_root_and_replaces_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("frames.json");
        let uri = format!("file://{}", out.display());
        write_local(&policy(dir.path()), &uri, &out, b"first", "outside").unwrap();
        write_local(&policy(dir.path()), &uri, &out, b"second", "outside").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"second");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn refuses_paths_outside_the_roots_and_symlinked_folders() {
        let root = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let policy = policy(root.path());
        let outside = elsewhere.path().join("x.json");
        let err = write_local(&policy, "file:///x", &outside, b"x", "outside").unwrap_err();
        assert!(matches!(err, FetchError::Policy { .. }), "{err}");
        let dotted = root.path().join("../x.json");
        assert!(write_local(&policy, "file:///x", &dotted, b"x", "outside").is_err());
        let link = root.path().join("link");
        std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
        let err =
            write_local(&policy, "file:///x", &link.join("x.json"), b"x", "outside").unwrap_err();
        assert!(matches!(err, FetchError::Policy { .. }), "{err}");
        assert!(!outside.exists());
        let none = InputPolicy::default();
        assert!(write_local(&none, "file:///x", &root.path().join("a"), b"x", "no").is_err());
    }
}
