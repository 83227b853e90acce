//! URI syntax: turns `file://`, `s3://`, `gs://`, `azure://`, `http(s)://`, `rclone://` and
//! `remote://` strings into a checked `Location`, so bad URIs are refused before a job starts.

use std::fmt;
use std::path::PathBuf;

use crate::error::FetchError;

/// A parsed input URI: what to read and through which backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A local file (`file:///abs/path` or a bare absolute path), read in place.
    File(PathBuf),
    /// `s3://bucket/key`.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Object key, without a leading `/`.
        key: String,
    },
    /// `gs://bucket/key`.
    Gcs {
        /// Bucket name.
        bucket: String,
        /// Object name, without a leading `/`.
        key: String,
    },
    /// `azure://container/path`; the storage account comes from the configuration.
    Azure {
        /// Container name.
        container: String,
        /// Blob path, without a leading `/`.
        path: String,
    },
    /// `http://` or `https://`.
    Http {
        /// `http://host[:port]` or `https://host[:port]`.
        base: String,
        /// The path, percent-decoded, starting with `/`.
        path: String,
    },
    /// Anything read through the rclone binary: `rclone://remote:path` or `remote://path`.
    Rclone {
        /// rclone's own `remote:path` spelling.
        target: String,
    },
}

impl Location {
    /// The last path segment (the file name), which format sniffing uses.
    pub fn name(&self) -> &str {
        let full: &str = match self {
            Location::File(p) => return p.file_name().and_then(|n| n.to_str()).unwrap_or(""),
            Location::S3 { key, .. } | Location::Gcs { key, .. } => key,
            Location::Azure { path, .. } | Location::Http { path, .. } => path,
            Location::Rclone { target } => target.rsplit(':').next().unwrap_or(target),
        };
        full.rsplit('/').next().unwrap_or(full)
    }

    /// The backend's short name, for logs.
    pub fn scheme(&self) -> &'static str {
        match self {
            Location::File(_) => "file",
            Location::S3 { .. } => "s3",
            Location::Gcs { .. } => "gs",
            Location::Azure { .. } => "azure",
            Location::Http { .. } => "http",
            Location::Rclone { .. } => "rclone",
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(p) => write!(f, "file://{}", p.display()),
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            Location::Gcs { bucket, key } => write!(f, "gs://{bucket}/{key}"),
            Location::Azure { container, path } => write!(f, "azure://{container}/{path}"),
            Location::Http { base, path } => write!(f, "{base}{path}"),
            Location::Rclone { target } => write!(f, "rclone://{target}"),
        }
    }
}

/// Parses and checks an input URI.
///
/// Accepted: `/abs/path`, `file:///abs/path`, `s3://bucket/key`, `gs://bucket/key`,
/// `azure://container/path`, `http(s)://host[:port]/path`, `rclone://remote:path`, and
/// `remote://path` for any other scheme, which names an rclone remote (`remote:path`).
pub fn parse(uri: &str) -> Result<Location, FetchError> {
    let fail = |reason: &str| FetchError::Parse {
        uri: uri.to_string(),
        reason: reason.to_string(),
    };
    if uri.is_empty() {
        return Err(fail("the URI is empty"));
    }
    if uri.chars().any(char::is_control) {
        return Err(fail("the URI contains a control character"));
    }
    if uri.starts_with('/') {
        return file_location(uri).map_err(|r| fail(&r));
    }
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Err(fail(
            "expected scheme://… (file, s3, gs, azure, http, https, rclone or an rclone remote) or an absolute path",
        ));
    };
    if !valid_scheme(scheme) {
        return Err(fail(
            "the scheme must start with a letter and hold only letters, digits, '-', '_' or '.'",
        ));
    }
    let result = match scheme.to_ascii_lowercase().as_str() {
        "file" => file_uri(rest),
        "s3" => {
            bucket_and_key(rest, "bucket", "key").map(|(bucket, key)| Location::S3 { bucket, key })
        }
        "gs" => bucket_and_key(rest, "bucket", "object name")
            .map(|(bucket, key)| Location::Gcs { bucket, key }),
        "azure" => bucket_and_key(rest, "container", "blob path")
            .map(|(container, path)| Location::Azure { container, path }),
        "http" | "https" => http_location(&scheme.to_ascii_lowercase(), rest),
        "rclone" => rclone_target(rest),
        _ => rclone_remote(scheme, rest),
    };
    result.map_err(|r| fail(&r))
}

fn valid_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn file_uri(rest: &str) -> Result<Location, String> {
    // RFC 8089 allows an empty authority or "localhost"; any other host is a remote file.
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return Err("a file URI needs an absolute path (file:///abs/path)".to_string());
    }
    file_location(&percent_decode(path)?)
}

fn file_location(path: &str) -> Result<Location, String> {
    if path.ends_with('/') {
        return Err("the path names a directory, not a file".to_string());
    }
    Ok(Location::File(PathBuf::from(path)))
}

fn bucket_and_key(
    rest: &str,
    bucket_word: &str,
    key_word: &str,
) -> Result<(String, String), String> {
    let Some((bucket, key)) = rest.split_once('/') else {
        return Err(format!("expected {bucket_word}/{key_word}"));
    };
    if bucket.is_empty() {
        return Err(format!("the {bucket_word} name is empty"));
    }
    if !bucket
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "the {bucket_word} name {bucket:?} holds characters other than letters, digits, '-', '_' and '.'"
        ));
    }
    if key.is_empty() {
        return Err(format!("the {key_word} is empty"));
    }
    if key.ends_with('/') {
        return Err(format!("the {key_word} names a directory, not an object"));
    }
    Ok((bucket.to_string(), key.to_string()))
}

fn http_location(scheme: &str, rest: &str) -> Result<Location, String> {
    if rest.contains(['?', '#']) {
        // OpenDAL's http service percent-encodes the whole path, so a query (a presigned URL's
        // signature, say) would not reach the server intact.
        return Err("query strings and fragments are not supported".to_string());
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err("the host is empty".to_string());
    }
    if authority.contains('@') {
        return Err("credentials in the URL are not supported".to_string());
    }
    if path.len() <= 1 || path.ends_with('/') {
        return Err("the URL names no file".to_string());
    }
    Ok(Location::Http {
        base: format!("{scheme}://{authority}"),
        path: percent_decode(path)?,
    })
}

fn rclone_target(rest: &str) -> Result<Location, String> {
    let Some((remote, path)) = rest.split_once(':') else {
        return Err("expected rclone://remote:path".to_string());
    };
    if remote.is_empty() || remote.contains('/') {
        return Err("expected rclone://remote:path with a remote name before ':'".to_string());
    }
    rclone_remote(remote, path)
}

fn rclone_remote(remote: &str, path: &str) -> Result<Location, String> {
    if path.is_empty() || path.ends_with('/') {
        return Err("the path names no file".to_string());
    }
    Ok(Location::Rclone {
        target: format!("{remote}:{path}"),
    })
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape at byte {i}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent escapes decode to invalid UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(uri: &str) -> Location {
        parse(uri).unwrap()
    }

    fn err(uri: &str) -> String {
        parse(uri).unwrap_err().to_string()
    }

    #[test]
    fn accepts_each_scheme() {
        assert_eq!(ok("/data/a.y4m"), Location::File("/data/a.y4m".into()));
        assert_eq!(
            ok("file:///data/a%20b.y4m"),
            Location::File("/data/a b.y4m".into())
        );
        assert_eq!(
            ok("file://localhost/x.mp4"),
            Location::File("/x.mp4".into())
        );
        assert_eq!(
            ok("s3://bkt/dir/a.mp4"),
            Location::S3 {
                bucket: "bkt".into(),
                key: "dir/a.mp4".into()
            }
        );
        assert_eq!(
            ok("gs://bkt/a.mp4"),
            Location::Gcs {
                bucket: "bkt".into(),
                key: "a.mp4".into()
            }
        );
        assert_eq!(
            ok("azure://videos/x/a.mp4"),
            Location::Azure {
                container: "videos".into(),
                path: "x/a.mp4".into()
            }
        );
        assert_eq!(
            ok("https://example.com:8443/v/a%20b.y4m"),
            Location::Http {
                base: "https://example.com:8443".into(),
                path: "/v/a b.y4m".into()
            }
        );
        assert_eq!(
            ok("rclone://drive:dir/a.mp4"),
            Location::Rclone {
                target: "drive:dir/a.mp4".into()
            }
        );
        assert_eq!(
            ok("myremote://bucket/file.y4m"),
            Location::Rclone {
                target: "myremote:bucket/file.y4m".into()
            }
        );
    }

    #[test]
    fn names_the_last_segment() {
        assert_eq!(ok("s3://b/dir/clip.mp4").name(), "clip.mp4");
        assert_eq!(ok("rclone://r:clip.y4m").name(), "clip.y4m");
        assert_eq!(ok("rclone://r:d/clip.y4m").name(), "clip.y4m");
        assert_eq!(ok("/a/b/c.yuv").name(), "c.yuv");
        assert_eq!(ok("http://h/a/b.y4m").name(), "b.y4m");
    }

    #[test]
    fn refuses_bad_uris_naming_them() {
        for (uri, needle) in [
            ("", "empty"),
            ("relative/path.y4m", "expected scheme"),
            ("s3://bucket", "expected bucket/key"),
            ("s3:///key", "bucket name is empty"),
            ("s3://bucket/", "key is empty"),
            ("s3://bucket/dir/", "directory"),
            ("s3://bu cket/k", "holds characters"),
            ("gs://b", "expected bucket/object name"),
            ("azure://c/", "blob path is empty"),
            ("file://host/x", "absolute path"),
            ("file:///a%zz", "percent escape"),
            ("http://", "host is empty"),
            ("http://h/", "names no file"),
            ("https://h/a?sig=1", "query"),
            ("rclone://nocolon", "remote:path"),
            ("rclone://r:", "names no file"),
            ("1bad://x/y", "scheme must start"),
            ("/dir/", "directory"),
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
