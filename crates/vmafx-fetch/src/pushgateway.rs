//! Pushing a batch run's metrics to a Prometheus Pushgateway (`PUT /metrics/job/<job>/<label>/
//! <value>…`, the text exposition format), for runs too short to be scraped: the chart's `Job`
//! workload. A push replaces the group's metrics; it is retried a few times, since a gateway that
//! restarts under a finished run should not fail it.

use std::time::Duration;

/// How long one push may take.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at one push before giving up.
pub const PUSH_ATTEMPTS: u32 = 3;
/// The largest metrics body pushed.
pub const MAX_PUSH_BYTES: usize = 1 << 20;
/// The longest job name or grouping label value.
pub const MAX_LABEL_VALUE_BYTES: usize = 128;
/// The largest password file read (a password, perhaps with a trailing newline).
pub const MAX_PASSWORD_FILE_BYTES: u64 = 4096;
/// The longest basic-auth user name.
pub const MAX_USER_BYTES: usize = 256;

/// Why metrics were not pushed. Each is one line naming the URL or field.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The gateway URL or a grouping value is not usable.
    #[error("{field}: {problem}")]
    Invalid {
        /// The flag or value at fault.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The gateway did not answer, or refused the push.
    #[error("failed to push metrics to {url}: {detail}")]
    Push {
        /// The group's URL.
        url: String,
        /// The last attempt's error or status.
        detail: String,
    },
}

impl PushError {
    /// Whether a later push may succeed (the gateway may be back); a bad URL stays bad.
    pub fn is_transient(&self) -> bool {
        matches!(self, PushError::Push { .. })
    }
}

/// Where metrics go: a gateway's base URL, the group (job, then label pairs) they replace, and
/// the credentials the gateway wants, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    base: String,
    job: String,
    grouping: Vec<(String, String)>,
    credentials: Option<BasicAuth>,
}

/// HTTP basic-auth credentials for a gateway behind `--web.config.file` or a proxy.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    user: String,
    password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl BasicAuth {
    /// `user` with the password in `password_file` (its first line; a Kubernetes Secret key
    /// mounted as a file, or a file of mode 0600). `user_field` and the file name the culprit
    /// in errors.
    pub fn from_file(
        user_field: &str,
        user: &str,
        password_file: &std::path::Path,
    ) -> Result<BasicAuth, PushError> {
        if user.is_empty()
            || user.len() > MAX_USER_BYTES
            || user.contains(':')
            || user.chars().any(char::is_control)
        {
            return Err(invalid(
                user_field,
                format!(
                    "{user:?} must be 1–{MAX_USER_BYTES} bytes with no ':' or control characters"
                ),
            ));
        }
        let file = password_file.display().to_string();
        let bytes = crate::limited_read(password_file, MAX_PASSWORD_FILE_BYTES)
            .map_err(|problem| invalid(&file, problem))?;
        let text =
            String::from_utf8(bytes).map_err(|_| invalid(&file, "the password is not UTF-8"))?;
        let password = text.strip_suffix('\n').unwrap_or(&text);
        let password = password.strip_suffix('\r').unwrap_or(password);
        if password.is_empty() || password.contains(['\n', '\r']) {
            return Err(invalid(
                &file,
                "must hold one password on one line (a trailing newline is allowed)",
            ));
        }
        Ok(BasicAuth {
            user: user.to_owned(),
            password: password.to_owned(),
        })
    }
}

fn invalid(field: &str, problem: impl Into<String>) -> PushError {
    PushError::Invalid {
        field: field.to_owned(),
        problem: problem.into(),
    }
}

/// A label name as Prometheus allows it.
fn label_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// A value that needs no escaping in a URL path segment (Pod and host names, run ids).
fn value_ok(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_LABEL_VALUE_BYTES
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl PushTarget {
    /// Checks `url` (`http://` or `https://` host, optional port and path prefix; no user
    /// information, query or fragment), `job` and the grouping labels; `field` names the URL's
    /// flag in errors.
    pub fn new(
        field: &str,
        url: &str,
        job: &str,
        grouping: &[(String, String)],
    ) -> Result<PushTarget, PushError> {
        let url = url.trim();
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| {
                invalid(
                    field,
                    format!("{url:?} must start with http:// or https://"),
                )
            })?;
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() {
            return Err(invalid(field, format!("{url:?} names no host")));
        }
        if host.contains('@')
            || rest.contains(['?', '#'])
            || rest.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                field,
                format!(
                    "{url:?} must hold no credentials, query, fragment, spaces or control characters"
                ),
            ));
        }
        if !value_ok(job) {
            return Err(invalid(
                "job name",
                format!(
                    "{job:?} must be 1–{MAX_LABEL_VALUE_BYTES} letters, digits, '.', '_' or '-'"
                ),
            ));
        }
        for (name, value) in grouping {
            if !label_name_ok(name) || name == "job" {
                return Err(invalid(
                    "grouping label",
                    format!("{name:?} is not a label name (or is `job`)"),
                ));
            }
            if !value_ok(value) {
                return Err(invalid(
                    &format!("grouping label {name}"),
                    format!(
                        "{value:?} must be 1–{MAX_LABEL_VALUE_BYTES} letters, digits, '.', '_' or '-'"
                    ),
                ));
            }
        }
        Ok(PushTarget {
            base: url.trim_end_matches('/').to_owned(),
            job: job.to_owned(),
            grouping: grouping.to_vec(),
            credentials: None,
        })
    }

    /// The same target, pushing with `credentials` (basic auth).
    pub fn with_basic_auth(mut self, credentials: BasicAuth) -> PushTarget {
        self.credentials = Some(credentials);
        self
    }

    /// The group's URL: `<base>/metrics/job/<job>/<label>/<value>…`.
    pub fn url(&self) -> String {
        let mut url = format!("{}/metrics/job/{}", self.base, self.job);
        for (name, value) in &self.grouping {
            url.push('/');
            url.push_str(name);
            url.push('/');
            url.push_str(value);
        }
        url
    }

    /// Replaces the group's metrics with `body` (text exposition format), retrying a failed
    /// attempt after 1 s and 2 s.
    pub fn push(&self, body: &str) -> Result<(), PushError> {
        let url = self.url();
        if body.len() > MAX_PUSH_BYTES {
            return Err(PushError::Push {
                url,
                detail: format!(
                    "{} bytes of metrics, more than {MAX_PUSH_BYTES}",
                    body.len()
                ),
            });
        }
        // The process may not have chosen a TLS provider yet; the rest of vmafx uses ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let failed = |detail: String| PushError::Push {
            url: url.clone(),
            detail,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| failed(format!("no I/O runtime: {e}")))?;
        let client = reqwest::Client::builder()
            .timeout(PUSH_TIMEOUT)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let mut last = String::new();
        for attempt in 0..PUSH_ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_secs(u64::from(attempt)));
            }
            // Built inside the runtime: the request's timer needs its context.
            let sent = runtime.block_on(async {
                let request = client
                    .put(&url)
                    .header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                    .body(body.to_owned());
                let request = match &self.credentials {
                    Some(c) => request.basic_auth(&c.user, Some(&c.password)),
                    None => request,
                };
                request.send().await
            });
            match sent {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    let text = runtime.block_on(response.text()).unwrap_or_default();
                    last = format!("HTTP {status}: {}", text.trim().replace('\n', " "));
                    // The gateway read the body and refused it: sending it again cannot help.
                    if status.is_client_error() {
                        break;
                    }
                }
                Err(e) => last = vmafx_contract::error_line(&e),
            }
        }
        Err(failed(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_their_group() {
        let target = PushTarget::new(
            "--pushgateway",
            "http://gw.example:9091/",
            "vmafx",
            &[("instance".into(), "score-abc12.ns".into())],
        )
        .unwrap();
        assert_eq!(
            target.url(),
            "http://gw.example:9091/metrics/job/vmafx/instance/score-abc12.ns"
        );
        let prefixed = PushTarget::new("--pushgateway", "https://h/prefix", "j", &[]).unwrap();
        assert_eq!(prefixed.url(), "https://h/prefix/metrics/job/j");
    }

    #[test]
    fn bad_urls_and_labels_are_named() {
        for (url, job, grouping, needle) in [
            ("gw:9091", "j", vec![], "--pushgateway"),
            ("ftp://gw", "j", vec![], "--pushgateway"),
            ("http://", "j", vec![], "names no host"),
            ("http://u:p@gw", "j", vec![], "credentials"),
            ("http://gw/?x=1", "j", vec![], "query"),
            // Found by the fuzz test: a NUL inside the host.
            ("http://\0gw:9091", "j", vec![], "control characters"),
            ("http://gw", "a/b", vec![], "job name"),
            ("http://gw", "", vec![], "job name"),
            (
                "http://gw",
                "j",
                vec![("job".to_owned(), "x".to_owned())],
                "grouping label",
            ),
            (
                "http://gw",
                "j",
                vec![("1x".to_owned(), "x".to_owned())],
                "grouping label",
            ),
            (
                "http://gw",
                "j",
                vec![("pod".to_owned(), "a b".to_owned())],
                "grouping label pod",
            ),
        ] {
            let err = PushTarget::new("--pushgateway", url, job, &grouping)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{url} {job}: {err}");
            assert_eq!(err.lines().count(), 1);
        }
    }

    #[test]
    fn credentials_come_from_a_one_line_file_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, body: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, body).unwrap();
            path
        };
        let good = file("good", b"s3cret word\n");
        let auth = BasicAuth::from_file("--pushgateway-user", "vmafx", &good).unwrap();
        assert_eq!(auth.password, "s3cret word");
        assert!(
            !format!("{auth:?}").contains("s3cret"),
            "Debug never shows the password"
        );
        let crlf = file("crlf", b"pw\r\n");
        assert_eq!(
            BasicAuth::from_file("u", "vmafx", &crlf).unwrap().password,
            "pw"
        );
        let big = file("big", &vec![b'x'; MAX_PASSWORD_FILE_BYTES as usize + 1]);
        for (user, path, needle) in [
            ("", good.clone(), "--pushgateway-user"),
            ("a:b", good.clone(), "--pushgateway-user"),
            ("vmafx", dir.path().join("missing"), "missing"),
            ("vmafx", big.clone(), "more than the 4096 bytes"),
            ("vmafx", file("empty", b""), "one password"),
            ("vmafx", file("two", b"a\nb\n"), "one line"),
            ("vmafx", file("latin1", b"\xe9t\xe9"), "UTF-8"),
        ] {
            let err = BasicAuth::from_file("--pushgateway-user", user, &path)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{user} {}: {err}", path.display());
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }

    #[test]
    fn an_unreachable_gateway_is_a_transient_failure_naming_the_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let target = PushTarget::new(
            "--pushgateway",
            &format!("http://127.0.0.1:{port}"),
            "j",
            &[],
        )
        .unwrap();
        let err = target.push("x 1\n").unwrap_err();
        assert!(err.is_transient());
        let text = err.to_string();
        assert!(
            text.contains(&format!("127.0.0.1:{port}/metrics/job/j")),
            "{text}"
        );
    }
}
