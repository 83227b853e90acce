//! Operator configuration, read only from the environment variables the seed README lists.
//!
//! Every variable has the seed's default. A value that does not parse stops start-up with an error
//! naming the variable; a variable the seed's migration table renamed stops it with an error
//! naming the replacement, so an old manifest cannot silently run with defaults.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// `host:port` of the Prometheus metrics listener (`0` disables it).
pub const METRICS_ADDR: &str = "VMAFX_OPERATOR_METRICS_ADDR";
/// `host:port` of the healthz/readyz listener.
pub const HEALTH_PROBE_ADDR: &str = "VMAFX_OPERATOR_HEALTH_PROBE_ADDR";
/// `true` to take part in leader election.
pub const LEADER_ELECTION: &str = "VMAFX_OPERATOR_LEADER_ELECTION";
/// Name of the Lease used for leader election.
pub const LEADER_ELECTION_ID: &str = "VMAFX_OPERATOR_LEADER_ELECTION_ID";
/// Admission webhook port; `0` disables the webhooks.
pub const WEBHOOK_PORT: &str = "VMAFX_OPERATOR_WEBHOOK_PORT";
/// Admission webhook bind host (empty: all interfaces).
pub const WEBHOOK_HOST: &str = "VMAFX_OPERATOR_WEBHOOK_HOST";
/// How long shutdown waits for in-flight reconciles, as a Go duration.
pub const GRACEFUL_SHUTDOWN: &str = "VMAFX_OPERATOR_GRACEFUL_SHUTDOWN";
/// Log verbosity: debug, info, warn or error.
pub const LOG_LEVEL: &str = "VMAFX_LOG_LEVEL";
/// gRPC address of the vmafx controller.
pub const CONTROLLER_GRPC_ADDR: &str = "VMAFX_CONTROLLER_GRPC_ADDR";
/// HTTP address of the vmafx controller.
pub const CONTROLLER_HTTP_ADDR: &str = "VMAFX_CONTROLLER_HTTP_ADDR";
/// Comma-separated image prefixes a `VmafxNode.spec.image` must start with.
pub const ALLOWED_IMAGES: &str = "VMAFX_OPERATOR_ALLOWED_IMAGES";
/// The image a `VmafxJob` with `execution: pod` runs when its spec names none.
pub const JOB_IMAGE: &str = "VMAFX_OPERATOR_JOB_IMAGE";
/// A file holding the token sent to the controller (first line), reread when it changes: in a
/// cluster, the operator's projected ServiceAccount token.
pub const TOKEN_FILE: &str = "VMAFX_TOKEN_FILE";
/// The token sent to the controller, when no token file is given.
pub const TOKEN: &str = "VMAFX_TOKEN";
/// CA certificate (PEM) of the controller's TLS certificate, for an `https://` controller.
pub const CA_CERT: &str = "VMAFX_CA_CERT";
/// Comma-separated `HOST=IP` pairs the operator's HTTP client resolves without DNS (as curl's
/// `--resolve`): for an operator run outside the cluster, where Service names do not resolve.
pub const RESOLVE: &str = "VMAFX_OPERATOR_RESOLVE";

/// Variables the seed's migration table renamed, with their replacements.
pub const RENAMED: [(&str, &str); 4] = [
    ("VMAFX_OPERATOR_PROBE_ADDR", HEALTH_PROBE_ADDR),
    ("VMAFX_OPERATOR_LEADER_ELECT", LEADER_ELECTION),
    ("VMAFX_OPERATOR_LOG_LEVEL", LOG_LEVEL),
    ("VMAFX_OPERATOR_WEBHOOKS_ENABLED", WEBHOOK_PORT),
];

/// A configuration the operator refuses to start with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A variable holds a value that does not parse.
    #[error("invalid {name}={value:?}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What it held.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A variable from before the seed's migration is set.
    #[error("{old} was renamed: set {new} instead{hint}")]
    Renamed {
        /// The old variable.
        old: &'static str,
        /// Its replacement.
        new: &'static str,
        /// Extra advice for a replacement of a different type.
        hint: &'static str,
    },
}

/// Log verbosity of the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything, including each reconcile.
    Debug,
    /// Transitions and start-up.
    Info,
    /// Retried failures.
    Warn,
    /// Failures only.
    Error,
}

impl LogLevel {
    /// The `tracing` filter directive for this level.
    pub fn as_filter(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Everything the operator reads from its environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorConfig {
    /// Metrics listener; `None` when disabled with `0`.
    pub metrics_addr: Option<SocketAddr>,
    /// healthz/readyz listener; `None` when disabled with `0`.
    pub health_probe_addr: Option<SocketAddr>,
    /// Whether to run leader election before reconciling.
    pub leader_election: bool,
    /// Lease name for leader election.
    pub leader_election_id: String,
    /// Admission webhook listener; `None` when the port is 0.
    pub webhook_addr: Option<SocketAddr>,
    /// How long shutdown waits for in-flight work.
    pub graceful_shutdown: Duration,
    /// Log verbosity.
    pub log_level: LogLevel,
    /// gRPC endpoint of the controller, as a URL (`http://host:port`).
    pub controller_grpc: String,
    /// HTTP endpoint of the controller, as a URL.
    pub controller_http: String,
    /// Namespace the operator runs in (for the defaults and the leader Lease).
    pub namespace: String,
    /// Prefixes a worker image must start with (`VMAFX_OPERATOR_ALLOWED_IMAGES`).
    pub allowed_images: Vec<String>,
    /// The image of `execution: pod` jobs that name none (`VMAFX_OPERATOR_JOB_IMAGE`; default
    /// `ghcr.io/vmafx/vmafx:<this operator's version>`).
    pub job_image: String,
    /// Host names the HTTP client resolves to fixed addresses (`VMAFX_OPERATOR_RESOLVE`).
    pub resolve: Vec<(String, IpAddr)>,
    /// File holding the controller token (`VMAFX_TOKEN_FILE`), reread when it changes.
    pub controller_token_file: Option<std::path::PathBuf>,
    /// The controller token itself (`VMAFX_TOKEN`), when no file is given.
    pub controller_token: Option<vmafx_api::client::Token>,
    /// CA of the controller's TLS certificate (`VMAFX_CA_CERT`).
    pub controller_ca_cert: Option<std::path::PathBuf>,
}

impl OperatorConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_vars(&vars, &current_namespace())
    }

    /// Reads the configuration from `vars`, with `namespace` as the operator's own namespace.
    pub fn from_vars(vars: &HashMap<String, String>, namespace: &str) -> Result<Self, ConfigError> {
        for (old, new) in RENAMED {
            if vars.contains_key(old) {
                let hint = if old == "VMAFX_OPERATOR_WEBHOOKS_ENABLED" {
                    " (a port such as 9443 enables the webhooks; 0 disables them)"
                } else {
                    ""
                };
                return Err(ConfigError::Renamed { old, new, hint });
            }
        }
        let get = |name: &str| {
            vars.get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let metrics_addr = listen_addr(
            METRICS_ADDR,
            get(METRICS_ADDR).as_deref().unwrap_or(":8081"),
        )?;
        let health_probe_addr = listen_addr(
            HEALTH_PROBE_ADDR,
            get(HEALTH_PROBE_ADDR).as_deref().unwrap_or(":8082"),
        )?;
        let leader_election = match get(LEADER_ELECTION) {
            None => false,
            Some(v) => parse_bool(&v).ok_or_else(|| ConfigError::Invalid {
                name: LEADER_ELECTION,
                value: v.clone(),
                reason: "expected true or false".into(),
            })?,
        };
        let leader_election_id =
            get(LEADER_ELECTION_ID).unwrap_or_else(|| "vmafx-operator.vmafx.dev".to_owned());
        if !is_dns_subdomain(&leader_election_id) {
            return Err(ConfigError::Invalid {
                name: LEADER_ELECTION_ID,
                value: leader_election_id,
                reason: "expected a DNS subdomain name (lower-case letters, digits, '-' and '.')"
                    .into(),
            });
        }
        let webhook_port: u16 = match get(WEBHOOK_PORT) {
            None => 0,
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                name: WEBHOOK_PORT,
                value: v.clone(),
                reason: "expected a port number from 0 to 65535".into(),
            })?,
        };
        let webhook_addr = if webhook_port == 0 {
            None
        } else {
            let host = get(WEBHOOK_HOST).unwrap_or_default();
            Some(
                listen_addr(WEBHOOK_HOST, &format!("{host}:{webhook_port}"))?.ok_or_else(|| {
                    ConfigError::Invalid {
                        name: WEBHOOK_HOST,
                        value: host,
                        reason: "expected an IP address".into(),
                    }
                })?,
            )
        };
        let graceful_shutdown = match get(GRACEFUL_SHUTDOWN) {
            None => Duration::from_secs(30),
            Some(v) => parse_go_duration(&v).ok_or_else(|| ConfigError::Invalid {
                name: GRACEFUL_SHUTDOWN,
                value: v.clone(),
                reason: "expected a duration such as 30s, 1m or 1m30s".into(),
            })?,
        };
        let log_level = match get(LOG_LEVEL).as_deref() {
            None | Some("info") => LogLevel::Info,
            Some("debug") => LogLevel::Debug,
            Some("warn") => LogLevel::Warn,
            Some("error") => LogLevel::Error,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: LOG_LEVEL,
                    value: other.to_owned(),
                    reason: "expected debug, info, warn or error".into(),
                })
            }
        };
        let controller_grpc = endpoint_url(
            CONTROLLER_GRPC_ADDR,
            get(CONTROLLER_GRPC_ADDR)
                .unwrap_or_else(|| format!("vmafx-controller.{namespace}.svc.cluster.local:9090")),
        )?;
        let controller_http = endpoint_url(
            CONTROLLER_HTTP_ADDR,
            get(CONTROLLER_HTTP_ADDR).unwrap_or_else(|| {
                format!("http://vmafx-controller.{namespace}.svc.cluster.local:8080")
            }),
        )?;
        let allowed_images = match get(ALLOWED_IMAGES) {
            None => crate::policy::DEFAULT_ALLOWED_IMAGES
                .map(str::to_owned)
                .to_vec(),
            Some(v) => parse_allowed_images(&v)?,
        };
        let job_image = match get(JOB_IMAGE).map(|v| v.trim().to_owned()) {
            None => format!("ghcr.io/vmafx/vmafx:{}", env!("CARGO_PKG_VERSION")),
            Some(v) if v.is_empty() || v.chars().any(char::is_whitespace) => {
                return Err(ConfigError::Invalid {
                    name: JOB_IMAGE,
                    value: v,
                    reason: "expected a container image reference".into(),
                })
            }
            Some(v) => v,
        };
        let resolve = match get(RESOLVE) {
            None => Vec::new(),
            Some(v) => parse_resolve(&v)?,
        };
        let controller_token_file = get(TOKEN_FILE)
            .filter(|v| !v.trim().is_empty())
            .map(std::path::PathBuf::from);
        let controller_token = get(TOKEN)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .map(vmafx_api::client::Token::new);
        let controller_ca_cert = get(CA_CERT)
            .filter(|v| !v.trim().is_empty())
            .map(std::path::PathBuf::from);
        Ok(OperatorConfig {
            metrics_addr,
            health_probe_addr,
            leader_election,
            leader_election_id,
            webhook_addr,
            graceful_shutdown,
            log_level,
            controller_grpc,
            controller_http,
            namespace: namespace.to_owned(),
            allowed_images,
            job_image,
            resolve,
            controller_token_file,
            controller_token,
            controller_ca_cert,
        })
    }
}

/// The namespace the operator runs in: `POD_NAMESPACE` (downward API), else the service account's
/// namespace file, else `default`.
pub fn current_namespace() -> String {
    if let Ok(ns) = std::env::var("POD_NAMESPACE") {
        if !ns.trim().is_empty() {
            return ns.trim().to_owned();
        }
    }
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}

/// Parses a Go-style listen address: `:8081` (all interfaces), `host:port`, or `0` (disabled).
fn listen_addr(name: &'static str, value: &str) -> Result<Option<SocketAddr>, ConfigError> {
    if value == "0" {
        return Ok(None);
    }
    let full = match value.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => value.to_owned(),
    };
    full.parse::<SocketAddr>()
        .map(Some)
        .map_err(|_| ConfigError::Invalid {
            name,
            value: value.to_owned(),
            reason: "expected :PORT, HOST:PORT with an IP address, or 0 to disable".into(),
        })
}

/// Turns `host:port` or a URL into a URL; gRPC endpoints default to plain `http://`.
fn endpoint_url(name: &'static str, value: String) -> Result<String, ConfigError> {
    let url = if value.contains("://") {
        value.clone()
    } else {
        format!("http://{value}")
    };
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let valid = rest.is_some_and(|rest| {
        let authority = rest.split('/').next().unwrap_or("");
        !authority.is_empty() && !authority.contains(char::is_whitespace)
    });
    if !valid {
        return Err(ConfigError::Invalid {
            name,
            value,
            reason: "expected HOST:PORT or an http(s):// URL".into(),
        });
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn parse_allowed_images(value: &str) -> Result<Vec<String>, ConfigError> {
    let prefixes: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    if prefixes.is_empty() {
        return Err(ConfigError::Invalid {
            name: ALLOWED_IMAGES,
            value: value.to_owned(),
            reason: "expected comma-separated image prefixes such as ghcr.io/vmafx/vmafx:".into(),
        });
    }
    for prefix in &prefixes {
        if let Some(problem) = crate::policy::image_prefix_problem(prefix) {
            return Err(ConfigError::Invalid {
                name: ALLOWED_IMAGES,
                value: value.to_owned(),
                reason: format!("{prefix:?}: {problem}"),
            });
        }
    }
    Ok(prefixes)
}

fn parse_resolve(value: &str) -> Result<Vec<(String, IpAddr)>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            pair.split_once('=')
                .and_then(|(host, ip)| {
                    let host = host.trim();
                    let ip = ip.trim().parse::<IpAddr>().ok()?;
                    (!host.is_empty()).then(|| (host.to_owned(), ip))
                })
                .ok_or_else(|| ConfigError::Invalid {
                    name: RESOLVE,
                    value: value.to_owned(),
                    reason: format!("{pair:?} is not HOST=IP"),
                })
        })
        .collect()
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

fn is_dns_subdomain(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 253
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Parses a Go `time.Duration` string such as `30s`, `1m30s`, `500ms` or `1.5h`.
pub fn parse_go_duration(value: &str) -> Option<Duration> {
    if value == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = value;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return None;
        }
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<OperatorConfig, ConfigError> {
        let vars = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OperatorConfig::from_vars(&vars, "vmafx-system")
    }

    #[test]
    fn defaults_follow_the_seed() {
        let c = config(&[]).unwrap();
        assert_eq!(c.metrics_addr, Some("0.0.0.0:8081".parse().unwrap()));
        assert_eq!(c.health_probe_addr, Some("0.0.0.0:8082".parse().unwrap()));
        assert!(!c.leader_election);
        assert_eq!(c.leader_election_id, "vmafx-operator.vmafx.dev");
        assert_eq!(c.webhook_addr, None);
        assert_eq!(c.graceful_shutdown, Duration::from_secs(30));
        assert_eq!(c.log_level, LogLevel::Info);
        assert_eq!(
            c.controller_grpc,
            "http://vmafx-controller.vmafx-system.svc.cluster.local:9090"
        );
        assert_eq!(
            c.controller_http,
            "http://vmafx-controller.vmafx-system.svc.cluster.local:8080"
        );
        assert_eq!(
            c.allowed_images,
            ["ghcr.io/vmafx/vmafx:", "ghcr.io/vmafx/vmafx@"]
        );
        assert!(c.resolve.is_empty());
    }

    #[test]
    fn allowed_images_and_resolve_are_parsed() {
        let c = config(&[
            (ALLOWED_IMAGES, "registry.local:5000/, ghcr.io/me/vmafx:"),
            (RESOLVE, "w.ns.svc=127.0.0.1,t.ns.svc=::1"),
        ])
        .unwrap();
        assert_eq!(
            c.allowed_images,
            ["registry.local:5000/", "ghcr.io/me/vmafx:"]
        );
        assert_eq!(
            c.resolve,
            [
                ("w.ns.svc".to_owned(), "127.0.0.1".parse().unwrap()),
                ("t.ns.svc".to_owned(), "::1".parse().unwrap())
            ]
        );
        let err = config(&[(ALLOWED_IMAGES, "ghcr.io/vmafx/vmafx")]).unwrap_err();
        assert!(err.to_string().contains("other repositories"), "{err}");
    }

    #[test]
    fn values_are_parsed() {
        let c = config(&[
            (METRICS_ADDR, "0"),
            (HEALTH_PROBE_ADDR, "127.0.0.1:18082"),
            (LEADER_ELECTION, "true"),
            (LEADER_ELECTION_ID, "my-lease"),
            (WEBHOOK_PORT, "9443"),
            (WEBHOOK_HOST, "127.0.0.1"),
            (GRACEFUL_SHUTDOWN, "1m30s"),
            (LOG_LEVEL, "debug"),
            (CONTROLLER_GRPC_ADDR, "127.0.0.1:19090"),
            (CONTROLLER_HTTP_ADDR, "http://127.0.0.1:18080/"),
        ])
        .unwrap();
        assert_eq!(c.metrics_addr, None);
        assert_eq!(
            c.health_probe_addr,
            Some("127.0.0.1:18082".parse().unwrap())
        );
        assert!(c.leader_election);
        assert_eq!(c.leader_election_id, "my-lease");
        assert_eq!(c.webhook_addr, Some("127.0.0.1:9443".parse().unwrap()));
        assert_eq!(c.graceful_shutdown, Duration::from_secs(90));
        assert_eq!(c.log_level, LogLevel::Debug);
        assert_eq!(c.controller_grpc, "http://127.0.0.1:19090");
        assert_eq!(c.controller_http, "http://127.0.0.1:18080");
    }

    #[test]
    fn invalid_values_name_the_variable() {
        for (name, value) in [
            (METRICS_ADDR, "eighty"),
            (HEALTH_PROBE_ADDR, "localhost"),
            (LEADER_ELECTION, "maybe"),
            (LEADER_ELECTION_ID, "Not_A_Name"),
            (WEBHOOK_PORT, "70000"),
            (GRACEFUL_SHUTDOWN, "30 seconds"),
            (LOG_LEVEL, "verbose"),
            (CONTROLLER_GRPC_ADDR, "ftp://x"),
            (ALLOWED_IMAGES, ","),
            (ALLOWED_IMAGES, "ghcr.io/vmafx"),
            (RESOLVE, "w.ns.svc"),
            (RESOLVE, "w.ns.svc=nowhere"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(name), "{text}");
            assert!(text.contains(value), "{text}");
        }
    }

    #[test]
    fn renamed_variables_name_their_replacement() {
        for (old, new) in RENAMED {
            let text = config(&[(old, "1")]).unwrap_err().to_string();
            assert!(text.contains(old) && text.contains(new), "{text}");
        }
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("1.5m"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("30"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("s"), None);
    }
}
