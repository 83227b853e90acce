//! Node vocabulary: GPU vendors, scoring backends, the capacity cap, and the check a node's
//! registration must pass.

use std::fmt;
use std::str::FromStr;

use crate::{quote, FieldError};

/// The most jobs one node may run at once: a bound on how much of the queue one claim can take.
pub const MAX_NODE_CAPACITY: u32 = 256;

/// The longest node name, in bytes (a Kubernetes pod name's limit).
pub const MAX_NODE_NAME_BYTES: usize = 253;

/// A GPU vendor a node may register with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vendor {
    /// NVIDIA.
    Nvidia,
    /// AMD.
    Amd,
    /// Intel.
    Intel,
    /// No GPU.
    Cpu,
}

impl Vendor {
    /// Every vendor.
    pub const ALL: [Vendor; 4] = [Vendor::Nvidia, Vendor::Amd, Vendor::Intel, Vendor::Cpu];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Nvidia => "nvidia",
            Vendor::Amd => "amd",
            Vendor::Intel => "intel",
            Vendor::Cpu => "cpu",
        }
    }

    /// The wire names, comma-separated, for messages.
    pub fn names() -> String {
        Vendor::ALL.map(Vendor::as_str).join(", ")
    }

    /// Parses a vendor, naming `field` in the error.
    pub fn parse_field(field: &str, text: &str) -> Result<Vendor, FieldError> {
        text.parse().map_err(|_| {
            FieldError::new(
                field,
                format!("{} is not one of {}", quote(text), Vendor::names()),
            )
        })
    }
}

impl FromStr for Vendor {
    type Err = ();

    fn from_str(text: &str) -> Result<Vendor, ()> {
        Vendor::ALL
            .into_iter()
            .find(|v| v.as_str() == text)
            .ok_or(())
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scoring backend. Serialized by its wire name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Plain CPU scoring.
    Cpu,
    /// NVIDIA CUDA.
    Cuda,
    /// AMD HIP.
    Hip,
    /// Intel SYCL.
    Sycl,
    /// Vulkan compute.
    Vulkan,
}

impl Backend {
    /// Every backend.
    pub const ALL: [Backend; 5] = [
        Backend::Cpu,
        Backend::Cuda,
        Backend::Hip,
        Backend::Sycl,
        Backend::Vulkan,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Cuda => "cuda",
            Backend::Hip => "hip",
            Backend::Sycl => "sycl",
            Backend::Vulkan => "vulkan",
        }
    }

    /// Parses a backend, the empty string meaning cpu; names `field` in the error.
    pub fn parse_field(field: &str, text: &str) -> Result<Backend, FieldError> {
        if text.is_empty() {
            return Ok(Backend::Cpu);
        }
        text.parse().map_err(|_| {
            FieldError::new(
                field,
                format!(
                    "unknown backend {} (expected cpu, cuda, hip, sycl or vulkan)",
                    quote(text)
                ),
            )
        })
    }
}

impl FromStr for Backend {
    type Err = ();

    fn from_str(text: &str) -> Result<Backend, ()> {
        Backend::ALL
            .into_iter()
            .find(|b| b.as_str() == text)
            .ok_or(())
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a node registers with, as the API carries it.
#[derive(Debug, Clone, Copy)]
pub struct NodeDraft<'a> {
    /// The node's name.
    pub name: &'a str,
    /// Its vendor.
    pub vendor: &'a str,
    /// Its backends; empty means cpu.
    pub backends: &'a [String],
    /// Jobs it runs at once.
    pub capacity: u32,
}

/// A checked registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidNode {
    /// The vendor.
    pub vendor: Vendor,
    /// The backends (cpu when none were given).
    pub backends: Vec<Backend>,
}

/// Checks a node name as Kubernetes checks a pod name: 1 to 253 bytes of `a-z`, `0-9`, `.`,
/// `-` (and `_`, which hostnames outside Kubernetes sometimes hold).
pub fn check_node_name(field: &str, name: &str) -> Result<(), FieldError> {
    if name.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if name.len() > MAX_NODE_NAME_BYTES {
        return Err(FieldError::new(
            field,
            format!("is {} bytes, more than {MAX_NODE_NAME_BYTES}", name.len()),
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err(FieldError::new(
            field,
            format!(
                "{} holds characters other than a-z, 0-9, '.', '-' and '_'",
                quote(name)
            ),
        ));
    }
    Ok(())
}

/// Checks a registration: the name, the vendor, the backends, and 1 ≤ capacity ≤ 256. Fields
/// are named `info.name`, `info.vendor`, `info.backends[i]` and `info.capacity`.
pub fn validate_node(node: &NodeDraft<'_>) -> Result<ValidNode, FieldError> {
    check_node_name("info.name", node.name)?;
    let vendor = Vendor::parse_field("info.vendor", node.vendor)?;
    if node.capacity == 0 {
        return Err(FieldError::new("info.capacity", "must be at least 1"));
    }
    if node.capacity > MAX_NODE_CAPACITY {
        return Err(FieldError::new(
            "info.capacity",
            format!("{} is more than {MAX_NODE_CAPACITY}", node.capacity),
        ));
    }
    let backends = if node.backends.is_empty() {
        vec![Backend::Cpu]
    } else {
        node.backends
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let field = format!("info.backends[{i}]");
                if b.is_empty() {
                    return Err(FieldError::new(field, "must not be empty"));
                }
                Backend::parse_field(&field, b)
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(ValidNode { vendor, backends })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft<'a>(
        name: &'a str,
        vendor: &'a str,
        backends: &'a [String],
        capacity: u32,
    ) -> NodeDraft<'a> {
        NodeDraft {
            name,
            vendor,
            backends,
            capacity,
        }
    }

    #[test]
    fn registrations_are_checked_field_by_field() {
        let cuda = vec!["cuda".to_string()];
        let ok = validate_node(&draft("gpu-0.pool", "nvidia", &cuda, 4)).unwrap();
        assert_eq!(ok.backends, [Backend::Cuda]);
        assert_eq!(
            validate_node(&draft("n", "cpu", &[], 1)).unwrap().backends,
            [Backend::Cpu]
        );
        for (node, field) in [
            (draft("", "cpu", &[], 1), "info.name"),
            (draft("Upper", "cpu", &[], 1), "info.name"),
            (draft("n", "quantum", &[], 1), "info.vendor"),
            (draft("n", "cpu", &[], 0), "info.capacity"),
            (draft("n", "cpu", &[], 257), "info.capacity"),
        ] {
            assert_eq!(validate_node(&node).unwrap_err().field, field);
        }
        let long = "a".repeat(254);
        assert_eq!(
            validate_node(&draft(&long, "cpu", &[], 1))
                .unwrap_err()
                .field,
            "info.name"
        );
        let bad = vec!["cpu".to_string(), "opencl".to_string()];
        assert_eq!(
            validate_node(&draft("n", "cpu", &bad, 1)).unwrap_err().to_string(),
            "info.backends[1]: unknown backend \"opencl\" (expected cpu, cuda, hip, sycl or vulkan)"
        );
        assert_eq!(
            Vendor::parse_field("spec.gpuVendor", "NVIDIA")
                .unwrap_err()
                .to_string(),
            "spec.gpuVendor: \"NVIDIA\" is not one of nvidia, amd, intel, cpu"
        );
    }
}
