//! The input policy: which inputs a job may name. This module holds the policy itself and its
//! *lexical* checks (on the text of a URI or a path, no I/O), which the controller applies at
//! submit time. The node applies them again and then the checks that need I/O: canonical paths
//! with symlinks resolved, file types, sizes, and resolved network addresses (`vmafx-fetch`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Component, Path, PathBuf};

use crate::model::{ModelSource, ModelSpec, OciReference};
use crate::uri::JobUri;

/// Default bound on a model file: the built-in models are about 100 KiB and the largest libvmaf
/// collection about 2 MiB, so 16 MiB leaves room while a hostile `path=` cannot exhaust memory.
pub const DEFAULT_MAX_MODEL_BYTES: u64 = 16 << 20;

/// Default bound on one input: 64 GiB holds about an hour of 4K 8-bit raw video, more than any
/// reasonable job, while a download cannot fill a node's disk without end.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 64 << 30;

/// Host names that always mean "this machine" or a cloud metadata service.
const LOCAL_NAMES: [&str; 4] = [
    "localhost",
    "metadata",
    "metadata.google.internal",
    "instance-data",
];

/// The `model_registries` entry that allows every registry.
pub const ANY_REGISTRY: &str = "*";

/// Which inputs a job may name.
///
/// [`InputPolicy::default`] is the controller's and node's default: no `file://` at all, no
/// private networks, no `path=` models. [`InputPolicy::permissive`] is for a local user scoring
/// their own files with `vmafx score`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct InputPolicy {
    /// `file://` inputs must lie under one of these (absolute) folders; none refuses every
    /// `file://` input.
    pub allow_file_roots: Vec<PathBuf>,
    /// Allow http(s) to loopback, link-local, private, CGNAT and metadata addresses.
    pub allow_private_networks: bool,
    /// `path=` models must lie under one of these folders; none refuses every `path=` model.
    pub model_dirs: Vec<PathBuf>,
    /// Registries (`HOST[:PORT]`, as written in `oci://`) that `oci://` models may come from;
    /// `*` allows any; none refuses every `oci://` model.
    pub model_registries: Vec<String>,
    /// The largest model file read.
    pub max_model_bytes: u64,
    /// The largest input read or downloaded.
    pub max_input_bytes: u64,
}

impl Default for InputPolicy {
    fn default() -> Self {
        InputPolicy {
            allow_file_roots: Vec::new(),
            allow_private_networks: false,
            model_dirs: Vec::new(),
            model_registries: Vec::new(),
            max_model_bytes: DEFAULT_MAX_MODEL_BYTES,
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

impl InputPolicy {
    /// Everything a local user could read anyway: every file, every network, no size bounds.
    pub fn permissive() -> InputPolicy {
        InputPolicy {
            allow_file_roots: vec![PathBuf::from("/")],
            allow_private_networks: true,
            model_dirs: vec![PathBuf::from("/")],
            model_registries: vec![ANY_REGISTRY.to_owned()],
            max_model_bytes: u64::MAX,
            max_input_bytes: u64::MAX,
        }
    }

    /// The lexical checks for an input URI; the reason is one line.
    pub fn check_uri(&self, uri: &JobUri) -> Result<(), String> {
        match uri {
            JobUri::File(path) => self.check_file_path(path),
            JobUri::Http { host, .. } => self.check_http_host(host),
            _ => Ok(()),
        }
    }

    /// A `file://` path: absolute, no `..`, under one of the roots.
    pub fn check_file_path(&self, path: &Path) -> Result<(), String> {
        if self.allow_file_roots.is_empty() {
            return Err(
                "file:// inputs are not allowed on this controller (see --allow-file-root)".into(),
            );
        }
        let Some(path) = normalise(path) else {
            return Err("a file:// path must be absolute and must not contain '..'".into());
        };
        if under_any(&path, &self.allow_file_roots) {
            Ok(())
        } else {
            Err("the file is not under an allowed file root (see --allow-file-root)".into())
        }
    }

    /// An http(s) host as written: no local names or literal private addresses unless allowed.
    pub fn check_http_host(&self, host: &str) -> Result<(), String> {
        if self.allow_private_networks {
            return Ok(());
        }
        let bare = host.trim_end_matches('.').to_ascii_lowercase();
        if LOCAL_NAMES.contains(&bare.as_str()) || bare.ends_with(".localhost") {
            return Err(format!(
                "the host {bare} is a local or metadata name (see --allow-private-networks)"
            ));
        }
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return check_ip(ip);
        }
        // Resolvers read "2130706433", "0x7f.1" or "127.1" as 127.0.0.1: a host whose last
        // label is numeric must be a plain dotted quad.
        let last = bare.rsplit('.').next().unwrap_or("");
        if last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x") {
            return Err(format!(
                "the host {bare} looks like an address but is not a dotted-quad IPv4 address"
            ));
        }
        Ok(())
    }

    /// A model spec's `path=`: absolute, no `..`, under one of the model folders.
    pub fn check_model(&self, spec: &ModelSpec) -> Result<(), String> {
        let path = match &spec.source {
            ModelSource::BuiltIn(_) => return Ok(()),
            ModelSource::Oci(reference) => return self.check_model_registry(reference),
            ModelSource::Path(path) => path,
        };
        if self.model_dirs.is_empty() {
            return Err("path= models are not allowed here (see --model-dir)".into());
        }
        match normalise(path) {
            Some(path) if under_any(&path, &self.model_dirs) => Ok(()),
            Some(_) => {
                Err("the model file is not under an allowed model folder (see --model-dir)".into())
            }
            None => Err("a path= model must be absolute and must not contain '..'".into()),
        }
    }

    /// An `oci://` model's registry: one of the model registries (compared without case).
    pub fn check_model_registry(&self, reference: &OciReference) -> Result<(), String> {
        if self.model_registries.is_empty() {
            return Err("oci:// models are not allowed here (see --model-registry)".into());
        }
        let allowed = self
            .model_registries
            .iter()
            .any(|r| r == ANY_REGISTRY || r.eq_ignore_ascii_case(&reference.registry));
        if allowed {
            Ok(())
        } else {
            Err(format!(
                "the registry {} is not an allowed model registry (see --model-registry)",
                reference.registry
            ))
        }
    }

    /// Whether `ip` may be connected to under this policy.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        self.allow_private_networks || is_public_ip(ip)
    }
}

fn check_ip(ip: IpAddr) -> Result<(), String> {
    if is_public_ip(ip) {
        Ok(())
    } else {
        Err(format!(
            "the address {ip} is loopback, link-local, private or otherwise not public (see --allow-private-networks)"
        ))
    }
}

/// `path` without `.` components, if it is absolute and holds no `..`.
pub fn normalise(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::Normal(_) => out.push(component),
            Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Whether `path` (normalised) lies under one of `roots` (normalised here).
pub fn under_any(path: &Path, roots: &[PathBuf]) -> bool {
    roots
        .iter()
        .filter_map(|root| normalise(root))
        .any(|root| path.starts_with(root))
}

/// Whether `ip` is a public unicast address: not loopback, link-local (which holds the
/// 169.254.169.254 metadata service), private, CGNAT, unspecified, broadcast, multicast,
/// documentation or reserved. IPv4-mapped and NAT64 IPv6 addresses are judged by their IPv4.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || s[0] & 0xffc0 == 0xfe80 // link-local
        || s[0] & 0xfe00 == 0xfc00 // unique local, which holds fd00:ec2::254
        || s[0] & 0xff00 == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible, deprecated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> JobUri {
        JobUri::parse(text).unwrap()
    }

    #[test]
    fn file_inputs_need_a_root() {
        let none = InputPolicy::default();
        assert_eq!(
            none.check_uri(&uri("file:///etc/passwd")).unwrap_err(),
            "file:// inputs are not allowed on this controller (see --allow-file-root)"
        );
        let some = InputPolicy {
            allow_file_roots: vec!["/data/clips".into()],
            ..InputPolicy::default()
        };
        assert!(some.check_uri(&uri("file:///data/clips/a.y4m")).is_ok());
        assert!(some.check_uri(&uri("file:///data/clips/./x/a.y4m")).is_ok());
        assert!(some.check_uri(&uri("file:///data/clipsX/a.y4m")).is_err());
        assert!(some
            .check_uri(&uri("file:///data/clips/../../etc/passwd"))
            .is_err());
        assert!(some.check_uri(&uri("file:///etc/passwd")).is_err());
        assert!(InputPolicy::permissive()
            .check_uri(&uri("file:///etc/passwd"))
            .is_ok());
    }

    #[test]
    fn private_hosts_are_refused_unless_allowed() {
        let p = InputPolicy::default();
        for host in [
            "http://127.0.0.1:9000/metrics",
            "http://169.254.169.254/latest",
            "http://localhost/x",
            "http://LOCALHOST./x",
            "http://a.localhost/x",
            "http://10.1.2.3/x",
            "http://172.20.0.1/x",
            "http://192.168.1.1/x",
            "http://100.64.0.1/x",
            "http://0.0.0.0/x",
            "http://[::1]/x",
            "http://[fe80::1]/x",
            "http://[fd00:ec2::254]/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://2130706433/x",
            "http://0x7f.1/x",
            "http://127.1/x",
            "http://metadata.google.internal/x",
        ] {
            assert!(p.check_uri(&uri(host)).is_err(), "{host}");
        }
        for host in [
            "https://example.com/v.mp4",
            "http://93.184.216.34/x",
            "http://[2606:4700::1]/x",
        ] {
            assert!(p.check_uri(&uri(host)).is_ok(), "{host}");
        }
        let open = InputPolicy {
            allow_private_networks: true,
            ..InputPolicy::default()
        };
        assert!(open
            .check_uri(&uri("http://127.0.0.1:9000/metrics"))
            .is_ok());
    }

    #[test]
    fn path_models_need_a_model_dir() {
        let spec = |t: &str| ModelSpec::parse(t).unwrap();
        let p = InputPolicy::default();
        assert!(p.check_model(&spec("version=vmaf_v0.6.1")).is_ok());
        assert!(p.check_model(&spec("path=/dev/zero")).is_err());
        let p = InputPolicy {
            model_dirs: vec!["/models".into()],
            ..InputPolicy::default()
        };
        assert!(p.check_model(&spec("path=/models/a.json")).is_ok());
        assert!(p.check_model(&spec("path=/models/../dev/zero")).is_err());
        assert!(p.check_model(&spec("path=models/a.json")).is_err());
        // oci:// models only from the listed registries.
        let err = p
            .check_model(&spec("oci://127.0.0.1:5000/m:v1"))
            .unwrap_err();
        assert!(err.contains("--model-registry"), "{err}");
        let p = InputPolicy {
            model_registries: vec!["Registry.Example:5000".into()],
            ..InputPolicy::default()
        };
        assert!(p
            .check_model(&spec("oci://registry.example:5000/m:v1"))
            .is_ok());
        let err = p
            .check_model(&spec("oci://registry.example/m:v1"))
            .unwrap_err();
        assert!(err.contains("registry.example is not an allowed"), "{err}");
        let any = InputPolicy::permissive();
        assert!(any.check_model(&spec("oci://anywhere.example/m@sha256:0000000000000000000000000000000000000000000000000000000000000000")).is_ok());
    }
}
