//! The grammar of job input URIs: `file:///abs/path`, `s3://bucket/key`, `gs://bucket/key`,
//! `azure://container/path`, `http(s)://host[:port]/path`, `rclone://remote:path`, and
//! `remote://path` for a configured rclone remote.
//!
//! An rclone remote is named, never described: names hold only letters, digits, `_`, `.` and
//! `-` and do not start with `-`, so connection strings (`remote,opt=…:`), on-the-fly remotes
//! (`:backend:`) and flag-like targets never reach rclone. `svn+ssh://h/x` is refused (`+` is
//! not in a remote name); `my_remote://x` is the remote `my_remote`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{quote, FieldError};

/// The longest URI a job may carry, in bytes.
pub const MAX_URI_BYTES: usize = 4096;

/// The schemes read without rclone.
pub const KNOWN_SCHEMES: [&str; 7] = ["file", "s3", "gs", "azure", "http", "https", "rclone"];

/// A parsed, checked input URI: what to read and through which backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobUri {
    /// `file:///abs/path` (percent-decoded), read in place on the node.
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
    /// `azure://container/path`; the storage account comes from the node's configuration.
    Azure {
        /// Container name.
        container: String,
        /// Blob path, without a leading `/`.
        path: String,
    },
    /// `http://` or `https://`.
    Http {
        /// `https` rather than `http`.
        secure: bool,
        /// The host as written (brackets stripped from an IPv6 literal).
        host: String,
        /// The port, when one is written.
        port: Option<u16>,
        /// The path, percent-decoded, starting with `/`.
        path: String,
    },
    /// A configured rclone remote: `rclone://remote:path` or `remote://path`.
    Rclone {
        /// The remote's name, as `rclone listremotes` prints it (without the `:`).
        remote: String,
        /// The path inside the remote.
        path: String,
    },
}

/// Why a URI was refused: the URI (quoted, shortened) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{quoted} is invalid: {reason}")]
pub struct InvalidUri {
    /// The URI, quoted and shortened for messages.
    pub quoted: String,
    /// What is wrong with it, one line.
    pub reason: String,
}

impl InvalidUri {
    /// The error as a field error: `reference: "…" is invalid: …`.
    pub fn in_field(self, field: &str) -> FieldError {
        FieldError::new(field, self.to_string())
    }
}

/// Whether `name` may name a configured rclone remote: letters, digits, `_`, `.` and `-`, not
/// starting with `-`, at most 64 bytes.
pub fn valid_remote_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl JobUri {
    /// Parses and checks an input URI (see the module documentation for the grammar).
    pub fn parse(uri: &str) -> Result<JobUri, InvalidUri> {
        let fail = |reason: String| InvalidUri {
            quoted: quote(uri),
            reason,
        };
        if uri.trim().is_empty() {
            return Err(fail("the URI is empty".into()));
        }
        if uri.len() > MAX_URI_BYTES {
            return Err(fail(format!(
                "the URI is {} bytes, more than {MAX_URI_BYTES}",
                uri.len()
            )));
        }
        if uri.chars().any(char::is_control) {
            return Err(fail("the URI contains a control character".into()));
        }
        let Some((scheme, rest)) = uri.split_once("://") else {
            return Err(fail(
                "expected scheme://… (file, s3, gs, azure, http, https, rclone or a configured rclone remote), e.g. file:///clips/ref.y4m or s3://bucket/ref.y4m"
                    .into(),
            ));
        };
        let lower = scheme.to_ascii_lowercase();
        let result = match lower.as_str() {
            "file" => file_uri(rest),
            "s3" => bucket_and_key(rest, "bucket", "key")
                .map(|(bucket, key)| JobUri::S3 { bucket, key }),
            "gs" => bucket_and_key(rest, "bucket", "object name")
                .map(|(bucket, key)| JobUri::Gcs { bucket, key }),
            "azure" => bucket_and_key(rest, "container", "blob path")
                .map(|(container, path)| JobUri::Azure { container, path }),
            "http" | "https" => http_uri(lower == "https", rest),
            "rclone" => rclone_target(rest),
            _ => {
                if !valid_remote_name(scheme) {
                    Err(format!(
                        "{} is neither a known scheme (file, s3, gs, azure, http, https, rclone) nor an rclone remote name (letters, digits, '_', '.' and '-', not starting with '-')",
                        quote(scheme)
                    ))
                } else {
                    rclone_remote(scheme, rest)
                }
            }
        };
        result.map_err(fail)
    }

    /// Parses `uri` and names `field` in the error (`reference: "…" is invalid: …`).
    pub fn parse_field(field: &str, uri: &str) -> Result<JobUri, FieldError> {
        JobUri::parse(uri).map_err(|e| e.in_field(field))
    }

    /// The last path segment (the file name), which format sniffing uses.
    pub fn name(&self) -> &str {
        let full: &str = match self {
            JobUri::File(p) => return p.file_name().and_then(|n| n.to_str()).unwrap_or(""),
            JobUri::S3 { key, .. } | JobUri::Gcs { key, .. } => key,
            JobUri::Azure { path, .. }
            | JobUri::Http { path, .. }
            | JobUri::Rclone { path, .. } => path,
        };
        full.rsplit('/').next().unwrap_or(full)
    }

    /// The backend's short name, for logs.
    pub fn scheme(&self) -> &'static str {
        match self {
            JobUri::File(_) => "file",
            JobUri::S3 { .. } => "s3",
            JobUri::Gcs { .. } => "gs",
            JobUri::Azure { .. } => "azure",
            JobUri::Http { .. } => "http",
            JobUri::Rclone { .. } => "rclone",
        }
    }

    /// For http(s): `http[s]://host[:port]`, the base a client sends requests to.
    pub fn http_base(&self) -> Option<String> {
        match self {
            JobUri::Http {
                secure, host, port, ..
            } => {
                let scheme = if *secure { "https" } else { "http" };
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host.clone()
                };
                Some(match port {
                    Some(port) => format!("{scheme}://{host}:{port}"),
                    None => format!("{scheme}://{host}"),
                })
            }
            _ => None,
        }
    }

    /// For rclone: its own `remote:path` spelling.
    pub fn rclone_target(&self) -> Option<String> {
        match self {
            JobUri::Rclone { remote, path } => Some(format!("{remote}:{path}")),
            _ => None,
        }
    }

    /// For file://: the path.
    pub fn file_path(&self) -> Option<&Path> {
        match self {
            JobUri::File(path) => Some(path),
            _ => None,
        }
    }
}

impl fmt::Display for JobUri {
    /// The canonical spelling, which parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobUri::File(p) => write!(f, "file://{}", percent_encode(&p.to_string_lossy())),
            JobUri::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            JobUri::Gcs { bucket, key } => write!(f, "gs://{bucket}/{key}"),
            JobUri::Azure { container, path } => write!(f, "azure://{container}/{path}"),
            JobUri::Http { path, .. } => write!(
                f,
                "{}{}",
                self.http_base().unwrap_or_default(),
                percent_encode(path)
            ),
            JobUri::Rclone { remote, path } => write!(f, "rclone://{remote}:{path}"),
        }
    }
}

fn file_uri(rest: &str) -> Result<JobUri, String> {
    // RFC 8089 allows an empty authority or "localhost"; any other host is a remote file.
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return Err("a file URI needs an absolute path (file:///abs/path)".into());
    }
    let path = percent_decode(path)?;
    if path.ends_with('/') {
        return Err("the path names a directory, not a file".into());
    }
    Ok(JobUri::File(PathBuf::from(path)))
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
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(format!(
            "the {bucket_word} name {} holds characters other than letters, digits, '-', '_' and '.'",
            quote(bucket)
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

fn http_uri(secure: bool, rest: &str) -> Result<JobUri, String> {
    if rest.contains(['?', '#']) {
        // The object-store client percent-encodes the whole path, so a query (a presigned URL's
        // signature, say) would not reach the server intact.
        return Err("query strings and fragments are not supported".into());
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err("the host is empty".into());
    }
    if authority.contains('@') {
        return Err("credentials in the URL are not supported".into());
    }
    let (host, port) = split_authority(authority)?;
    if path.len() <= 1 || path.ends_with('/') {
        return Err("the URL names no file".into());
    }
    Ok(JobUri::Http {
        secure,
        host,
        port,
        path: percent_decode(path)?,
    })
}

fn split_authority(authority: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((inside, after)) = bracketed.split_once(']') else {
            return Err("an IPv6 host needs a closing ']'".into());
        };
        if inside.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{} is not an IPv6 address", quote(inside)));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("expected ':PORT' after ']'")?),
        };
        (inside, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    let bracketed = authority.starts_with('[');
    if !bracketed
        && !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(format!(
            "the host {} holds characters other than letters, digits, '-', '_' and '.'",
            quote(host)
        ));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => {
                return Err(format!(
                    "the port {} is not a number from 1 to 65535",
                    quote(p)
                ))
            }
        },
    };
    Ok((host.to_string(), port))
}

fn rclone_target(rest: &str) -> Result<JobUri, String> {
    let Some((remote, path)) = rest.split_once(':') else {
        return Err("expected rclone://remote:path".into());
    };
    if remote.is_empty() {
        return Err(
            "expected rclone://remote:path with a configured remote's name before ':' (on-the-fly ':backend:' remotes are not allowed)"
                .into(),
        );
    }
    if !valid_remote_name(remote) {
        return Err(format!(
            "{} is not a configured remote's name (letters, digits, '_', '.' and '-', not starting with '-'; connection strings are not allowed)",
            quote(remote)
        ));
    }
    rclone_remote(remote, path)
}

fn rclone_remote(remote: &str, path: &str) -> Result<JobUri, String> {
    if path.is_empty() || path.ends_with('/') {
        return Err("the path names no file".into());
    }
    Ok(JobUri::Rclone {
        remote: remote.to_string(),
        path: path.to_string(),
    })
}

/// Percent-decodes `s`; the result holds no control characters.
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape at byte {i}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out)
        .map_err(|_| "percent escapes decode to invalid UTF-8".to_string())?;
    if text.chars().any(char::is_control) {
        return Err("percent escapes decode to a control character".into());
    }
    Ok(text)
}

/// Escapes what [`percent_decode`] and the URI grammar would read differently.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(uri: &str) -> JobUri {
        JobUri::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"))
    }

    fn err(uri: &str) -> String {
        JobUri::parse_field("reference", uri)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn accepts_each_scheme() {
        assert_eq!(
            ok("file:///data/a%20b.y4m"),
            JobUri::File("/data/a b.y4m".into())
        );
        assert_eq!(ok("file://localhost/x.mp4"), JobUri::File("/x.mp4".into()));
        assert_eq!(
            ok("s3://bkt/dir/a.mp4"),
            JobUri::S3 {
                bucket: "bkt".into(),
                key: "dir/a.mp4".into()
            }
        );
        assert_eq!(ok("gs://bkt/a.mp4").scheme(), "gs");
        assert_eq!(ok("azure://videos/x/a.mp4").name(), "a.mp4");
        let http = ok("https://example.com:8443/v/a%20b.y4m");
        assert_eq!(http.http_base().unwrap(), "https://example.com:8443");
        assert_eq!(http.to_string(), "https://example.com:8443/v/a b.y4m");
        assert_eq!(
            ok("http://[::1]:80/a").http_base().unwrap(),
            "http://[::1]:80"
        );
        assert_eq!(
            ok("rclone://drive:dir/a.mp4").rclone_target().unwrap(),
            "drive:dir/a.mp4"
        );
        assert_eq!(
            ok("my_remote://bucket/f.y4m").rclone_target().unwrap(),
            "my_remote:bucket/f.y4m"
        );
        assert_eq!(ok("S3://UPPER/x").scheme(), "s3");
    }

    #[test]
    fn refuses_bad_uris_naming_the_field() {
        for (uri, needle) in [
            ("", "empty"),
            ("   ", "empty"),
            ("/tmp/a.y4m", "expected scheme"),
            ("s3://bucket", "expected bucket/key"),
            ("s3:///key", "bucket name is empty"),
            ("s3://bucket/", "key is empty"),
            ("s3://bucket/dir/", "directory"),
            ("s3://bu cket/k", "holds characters"),
            ("file://host/x", "absolute path"),
            ("file:///a%zz", "percent escape"),
            ("file:///a%0a", "control"),
            ("file:///dir/", "directory"),
            ("http://", "host is empty"),
            ("http://h/", "names no file"),
            ("http://h:99999/a", "port"),
            ("http://u@h/a", "credentials"),
            ("https://h/a?sig=1", "query"),
            ("rclone://nocolon", "remote:path"),
            ("rclone://r:", "names no file"),
            ("rclone://:s3:bucket/x", "on-the-fly"),
            (
                "rclone://remote,endpoint='http://x':path",
                "connection strings",
            ),
            ("rclone://-flag:x", "not starting with '-'"),
            ("-flag://x", "not starting with '-'"),
            ("svn+ssh://h/x", "neither a known scheme"),
            ("s 3://a", "neither a known scheme"),
            ("a\nb://x", "control"),
        ] {
            let msg = err(uri);
            assert!(msg.starts_with("reference: "), "{msg}");
            assert!(msg.contains(needle), "{uri}: {msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
        let long = format!("s3://b/{}", "k".repeat(100 * 1024));
        let msg = err(&long);
        assert!(msg.contains("more than 4096"), "{msg}");
        assert!(msg.len() < 400, "{msg}");
    }

    #[test]
    fn display_parses_back() {
        for uri in [
            "file:///a%25b%3Fc.y4m",
            "http://h:1/a%23b",
            "rclone://r:a:b",
            "r.x-1://p/q",
        ] {
            let parsed = ok(uri);
            assert_eq!(ok(&parsed.to_string()), parsed, "{uri}");
        }
    }
}
