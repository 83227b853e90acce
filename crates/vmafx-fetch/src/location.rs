//! URI syntax: the job contract's [`JobUri`] grammar (`vmafx-contract`), the same one the
//! controller and the operator's webhook apply, so a URI they accept is one the node can parse.

use vmafx_contract::JobUri;

use crate::error::FetchError;

/// A parsed input URI: what to read and through which backend.
pub type Location = JobUri;

/// How much of a refused URI an error repeats.
const QUOTED_URI_CHARS: usize = 200;

/// Parses and checks an input URI with the contract's grammar.
pub fn parse(uri: &str) -> Result<Location, FetchError> {
    JobUri::parse(uri).map_err(|e| FetchError::Parse {
        uri: uri.chars().take(QUOTED_URI_CHARS).collect(),
        reason: e.reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(uri: &str) -> String {
        parse(uri).unwrap_err().to_string()
    }

    #[test]
    fn parses_with_the_contract_grammar() {
        assert_eq!(
            parse("rclone://drive:dir/a.mp4")
                .unwrap()
                .rclone_target()
                .unwrap(),
            "drive:dir/a.mp4"
        );
        assert_eq!(parse("my_remote://b/f.y4m").unwrap().scheme(), "rclone");
        assert_eq!(parse("s3://b/dir/clip.mp4").unwrap().name(), "clip.mp4");
    }

    #[test]
    fn refuses_bad_uris_naming_them() {
        for (uri, needle) in [
            ("", "empty"),
            ("relative/path.y4m", "expected scheme"),
            ("/abs/path.y4m", "expected scheme"),
            ("s3://bucket", "expected bucket/key"),
            ("svn+ssh://h/x", "neither a known scheme"),
            (
                "rclone://remote,endpoint='http://x':path",
                "connection strings",
            ),
            ("rclone://-x:y", "not starting with '-'"),
        ] {
            let msg = err(uri);
            assert!(
                msg.starts_with(&format!("failed to parse URI {uri:?}: ")),
                "{msg}"
            );
            assert!(msg.contains(needle), "{uri}: {msg}");
            assert!(!msg.contains('\n'));
        }
    }
}
