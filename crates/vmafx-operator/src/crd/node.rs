//! `VmafxNode`: a worker the operator runs as a one-Pod StatefulSet and watches through the
//! controller.

// Every `printcolumn(…)` in `#[kube(…)]` repeats `type_ = "string"`; clippy reads that as a
// duplicated attribute.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A scoring worker with `capacity` slots on one kind of accelerator.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "vmafx.dev",
    version = "v1",
    kind = "VmafxNode",
    namespaced,
    shortname = "vmnode",
    category = "vmafx",
    status = "VmafxNodeStatus",
    doc = "A vmafx worker node with GPU (or CPU) scoring capacity",
    printcolumn(name = "Vendor", type_ = "string", json_path = ".spec.gpuVendor"),
    printcolumn(name = "Healthy", type_ = "boolean", json_path = ".status.healthy"),
    printcolumn(name = "Jobs", type_ = "integer", json_path = ".status.jobs"),
    printcolumn(name = "Device", type_ = "string", json_path = ".status.device"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct VmafxNodeSpec {
    /// Accelerator vendor: nvidia, amd, intel or cpu. Decides the GPU resource the worker asks for.
    pub gpu_vendor: String,
    /// Jobs the worker scores at once (`vmafx node --capacity`).
    #[serde(default = "default_capacity")]
    #[schemars(range(min = 1))]
    pub capacity: i32,
    /// Container image of the worker; it must contain the `vmafx` binary on its PATH.
    pub image: String,
    /// Where the operator probes the worker's `/healthz`: a Service URL in this namespace.
    /// Defaults to the Service the operator creates for the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_endpoint: Option<String>,
    /// ServiceAccount the worker Pod runs as, for a controller started with
    /// `--auth-kubernetes`: map it to the node role (`--auth-kubernetes-role
    /// NAMESPACE/NAME=node`, the chart's `auth.kubernetesRoles`). The Pod's projected token then
    /// identifies it as `<metadata.name>-worker-0.<namespace>`, the name it registers under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// A Secret key holding the worker's controller token, for a controller started with
    /// `--auth-token-file`; the token's NAME there must be `<metadata.name>-worker-0.<namespace>`
    /// (or a prefix of it ending in `*`) with role node. At most one of this and
    /// `serviceAccountName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret: Option<SecretKeyRef>,
}

/// One key of a Secret in the object's namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// The Secret's name.
    pub name: String,
    /// The key whose value is used.
    pub key: String,
}

fn default_capacity() -> i32 {
    1
}

impl VmafxNodeSpec {
    /// Checks the worker's credentials: at most one of `serviceAccountName` and `tokenSecret`,
    /// each naming a valid object (and key). The error is the field and what is wrong.
    pub fn check_credentials(&self) -> Result<(), (&'static str, String)> {
        let account = self.service_account_name.as_deref();
        if account.is_some() && self.token_secret.is_some() {
            return Err((
                "spec.tokenSecret",
                "set at most one of spec.serviceAccountName and spec.tokenSecret".to_owned(),
            ));
        }
        if let Some(account) = account.filter(|a| !dns_subdomain(a)) {
            return Err((
                "spec.serviceAccountName",
                format!("{account:?} is not a lower-case DNS subdomain name"),
            ));
        }
        if let Some(secret) = &self.token_secret {
            secret
                .check()
                .map_err(|message| ("spec.tokenSecret", message))?;
        }
        Ok(())
    }
}

impl SecretKeyRef {
    /// Checks that the reference names a Secret and a valid key; what is wrong otherwise.
    pub fn check(&self) -> Result<(), String> {
        let key_ok = !self.key.is_empty()
            && self.key.len() <= 253
            && self
                .key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !dns_subdomain(&self.name) || !key_ok {
            return Err(format!(
                "{{name: {:?}, key: {:?}}} must name a Secret and one of its keys",
                self.name, self.key
            ));
        }
        Ok(())
    }
}

/// Whether `name` is a Kubernetes object name (a lower-case RFC 1123 DNS subdomain).
/// Whether `name` is a valid object name (an RFC 1123 DNS subdomain).
pub(crate) fn dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// The accelerator vendors a node may declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuVendor {
    /// NVIDIA GPUs, requested as `nvidia.com/gpu`.
    Nvidia,
    /// AMD GPUs, requested as `amd.com/gpu`.
    Amd,
    /// Intel GPUs, requested as `gpu.intel.com/i915`.
    Intel,
    /// No accelerator.
    Cpu,
}

impl GpuVendor {
    /// Every vendor, in the order error messages list them.
    pub const ALL: [GpuVendor; 4] = [
        GpuVendor::Nvidia,
        GpuVendor::Amd,
        GpuVendor::Intel,
        GpuVendor::Cpu,
    ];

    /// Parses the spec's spelling (exact, lower case).
    pub fn parse(value: &str) -> Option<GpuVendor> {
        GpuVendor::ALL.into_iter().find(|v| v.as_str() == value)
    }

    /// The spelling used in specs and by `vmafx node --vendor`.
    pub fn as_str(self) -> &'static str {
        match self {
            GpuVendor::Nvidia => "nvidia",
            GpuVendor::Amd => "amd",
            GpuVendor::Intel => "intel",
            GpuVendor::Cpu => "cpu",
        }
    }

    /// The extended resource a worker of this vendor requests one of, if any.
    pub fn gpu_resource(self) -> Option<&'static str> {
        match self {
            GpuVendor::Nvidia => Some("nvidia.com/gpu"),
            GpuVendor::Amd => Some("amd.com/gpu"),
            GpuVendor::Intel => Some("gpu.intel.com/i915"),
            GpuVendor::Cpu => None,
        }
    }

    /// The scoring backends a worker of this vendor offers.
    pub fn backends(self) -> &'static [&'static str] {
        match self {
            GpuVendor::Nvidia => &["cpu", "cuda", "vulkan"],
            GpuVendor::Amd => &["cpu", "hip", "vulkan"],
            GpuVendor::Intel => &["cpu", "sycl", "vulkan"],
            GpuVendor::Cpu => &["cpu"],
        }
    }
}

/// What the operator last saw of the worker.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmafxNodeStatus {
    /// The worker answered its health probe and its last heartbeat is at most 60 s old.
    #[serde(default)]
    pub healthy: bool,
    /// The last heartbeat the controller received from the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat: Option<Time>,
    /// Jobs the worker is scoring now.
    #[serde(default)]
    pub jobs: i32,
    /// The device the worker reported (GPU model, or CPU description).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The controller's id for the worker, once it has registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// When the operator last probed the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<Time>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Available` (the StatefulSet exists) and `Healthy`, in the Kubernetes condition format.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "super::conditions_schema")]
    pub conditions: Vec<Condition>,
}
