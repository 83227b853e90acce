//! The input policy on the node, where I/O is allowed: canonical `file://` paths under the
//! allowed roots and regular files only, http(s) that never reaches a non-public address (after
//! DNS resolution, and on every redirect), rclone remotes that exist in the configuration, and
//! byte limits on inputs and model files. The lexical half of every rule is the contract's
//! ([`vmafx_contract::policy`]), the same the controller applied at submit time.

use std::fs::File;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use vmafx_contract::policy::{is_public_ip, normalise, under_any};
use vmafx_contract::InputPolicy;

use crate::error::FetchError;

/// Marks an error as a policy refusal, so that it surfaces as one through the HTTP stack.
pub(crate) const POLICY_MARK: &str = "refused by the input policy";

/// The most redirects one http(s) request follows.
pub(crate) const MAX_REDIRECTS: usize = 5;

/// Folders no input may come from whatever the roots: kernel and device views, whose "files"
/// are endless, blocking or secret (`/proc/self/environ`).
const NEVER_READ: [&str; 3] = ["/proc", "/sys", "/dev"];

fn refused(uri: &str, reason: impl Into<String>) -> FetchError {
    FetchError::Policy {
        uri: uri.to_string(),
        reason: reason.into(),
    }
}

/// Checks a `file://` input and returns its canonical path and size.
///
/// The lexical check comes before any file-system call, so the answer for a path outside the
/// roots says nothing about whether it exists or what it is. Symlinks are then resolved and the
/// real path must still be under a (canonical) root, be a regular file, and fit the size limit.
pub(crate) fn check_local_file(
    policy: &InputPolicy,
    uri: &str,
    path: &Path,
    limit: u64,
    not_allowed: &str,
) -> Result<(PathBuf, u64), FetchError> {
    let outside = || refused(uri, not_allowed.to_string());
    if policy.allow_file_roots.is_empty() {
        return Err(outside());
    }
    let Some(lexical) = normalise(path) else {
        return Err(outside());
    };
    if !under_any(&lexical, &policy.allow_file_roots) || never_read(&lexical) {
        return Err(outside());
    }
    let real = std::fs::canonicalize(&lexical).map_err(|e| io_error(uri, &e))?;
    let roots: Vec<PathBuf> = policy
        .allow_file_roots
        .iter()
        .filter_map(|root| std::fs::canonicalize(root).ok())
        .collect();
    if !under_any(&real, &roots) || never_read(&real) {
        return Err(outside());
    }
    let meta = std::fs::metadata(&real).map_err(|e| io_error(uri, &e))?;
    if meta.is_dir() {
        return Err(FetchError::IsDirectory {
            uri: uri.to_string(),
        });
    }
    if !meta.is_file() {
        return Err(refused(
            uri,
            "not a regular file (devices, FIFOs and sockets are never read)",
        ));
    }
    if meta.len() > limit {
        return Err(FetchError::TooLarge {
            uri: uri.to_string(),
            size: meta.len(),
            limit,
        });
    }
    // Opening proves read permission now rather than at decode time.
    File::open(&real).map_err(|e| io_error(uri, &e))?;
    Ok((real, meta.len()))
}

fn never_read(path: &Path) -> bool {
    NEVER_READ.iter().any(|dir| path.starts_with(dir))
}

fn io_error(uri: &str, e: &io::Error) -> FetchError {
    match e.kind() {
        io::ErrorKind::NotFound => FetchError::NotFound {
            uri: uri.to_string(),
            detail: e.to_string(),
        },
        io::ErrorKind::PermissionDenied => FetchError::AccessDenied {
            uri: uri.to_string(),
            detail: e.to_string(),
        },
        _ => FetchError::Backend {
            uri: uri.to_string(),
            action: "open",
            detail: e.to_string(),
        },
    }
}

/// Whether an http(s) authority (`host:port`, as written) is one the operator trusts.
pub(crate) fn trusted(trusted_hosts: &[String], host: &str, port: u16) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    trusted_hosts
        .iter()
        .any(|t| t.eq_ignore_ascii_case(&format!("{host}:{port}")))
}

/// A DNS resolver that refuses names resolving to non-public addresses (unless the policy allows
/// them). The HTTP client connects to exactly the addresses it returns, so there is no gap for
/// DNS rebinding between the check and the connection.
pub(crate) struct PolicyResolver {
    pub(crate) allow_private_networks: bool,
    /// Names answered from this table instead of DNS (the addresses are still checked).
    pub(crate) static_hosts: Arc<Vec<(String, IpAddr)>>,
    /// Host names of trusted authorities, whose addresses are not checked.
    pub(crate) trusted_names: Arc<Vec<String>>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let fixed: Vec<SocketAddr> = self
            .static_hosts
            .iter()
            .filter(|(n, _)| n.trim_end_matches('.').eq_ignore_ascii_case(&host))
            .map(|(_, ip)| SocketAddr::new(*ip, 0))
            .collect();
        let check = !self.allow_private_networks && !self.trusted_names.contains(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = if fixed.is_empty() {
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect()
            } else {
                fixed
            };
            if check {
                if let Some(bad) = addrs.iter().find(|a| !is_public_ip(a.ip())) {
                    let message = format!(
                        "{POLICY_MARK}: the host {host} resolves to {}, which is not a public address (see --allow-private-networks)",
                        bad.ip()
                    );
                    return Err(message.into());
                }
            }
            Ok::<Addrs, Box<dyn std::error::Error + Send + Sync>>(Box::new(addrs.into_iter()))
        })
    }
}

/// The redirect rule: at most [`MAX_REDIRECTS`], http(s) only, and every target host passes the
/// lexical check (names are checked again by [`PolicyResolver`] when connecting).
pub(crate) fn redirect_policy(
    policy: &InputPolicy,
    trusted_hosts: Arc<Vec<String>>,
) -> reqwest::redirect::Policy {
    let policy = policy.clone();
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let url = attempt.url();
        if !matches!(url.scheme(), "http" | "https") {
            let message = format!("{POLICY_MARK}: a redirect to a {} URL", url.scheme());
            return attempt.error(message);
        }
        let host = url
            .host_str()
            .unwrap_or("")
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url.port_or_known_default().unwrap_or(0);
        if trusted(&trusted_hosts, &host, port) {
            return attempt.follow();
        }
        match policy.check_http_host(&host) {
            Ok(()) => attempt.follow(),
            Err(reason) => {
                let message = format!("{POLICY_MARK}: a redirect to {url}: {reason}");
                attempt.error(message)
            }
        }
    })
}

/// A reader that fails once more than `limit` bytes came through, so that a download that
/// outgrows the input limit is cut off instead of filling the disk.
pub(crate) struct LimitedReader<R> {
    pub(crate) inner: R,
    pub(crate) limit: u64,
    pub(crate) read: u64,
    pub(crate) uri: String,
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(io::Error::other(format!(
                "{} is more than the input limit of {} bytes (see --max-input-bytes)",
                self.uri, self.limit
            )));
        }
        Ok(n)
    }
}

/// Checks a `path=` model file on the node: under a model folder after canonicalisation, a
/// regular file, at most `max_model_bytes`. Returns the canonical path to load.
pub fn check_model_file(policy: &InputPolicy, path: &Path) -> Result<PathBuf, String> {
    let label = path.display().to_string();
    let outside = || format!("{label}: path= models must lie under a --model-dir folder");
    if policy.model_dirs.is_empty() {
        return Err(format!(
            "{label}: path= models are not allowed on this node (see --model-dir)"
        ));
    }
    let Some(lexical) = normalise(path) else {
        return Err(outside());
    };
    if !under_any(&lexical, &policy.model_dirs) || never_read(&lexical) {
        return Err(outside());
    }
    let real = std::fs::canonicalize(&lexical).map_err(|e| format!("{label}: {e}"))?;
    let dirs: Vec<PathBuf> = policy
        .model_dirs
        .iter()
        .filter_map(|d| std::fs::canonicalize(d).ok())
        .collect();
    if !under_any(&real, &dirs) || never_read(&real) {
        return Err(outside());
    }
    let meta = std::fs::metadata(&real).map_err(|e| format!("{label}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{label}: not a regular file"));
    }
    if meta.len() > policy.max_model_bytes {
        return Err(format!(
            "{label}: {} bytes is more than the model limit of {} bytes",
            meta.len(),
            policy.max_model_bytes
        ));
    }
    Ok(real)
}
