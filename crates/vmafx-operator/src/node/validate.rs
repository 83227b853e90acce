//! Checking a `VmafxNode` spec (vendor, capacity, image, name length, credentials) and the
//! operator's policy (allowed images, in-namespace health endpoints).

#[allow(unused_imports)]
use super::*;

/// What is wrong with a spec, as a condition reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// PascalCase reason.
    pub reason: &'static str,
    /// What to fix.
    pub message: String,
}

/// Checks the spec; the vendor it names on success.
pub fn validate(node: &VmafxNode) -> Result<GpuVendor, Invalid> {
    let vendor = GpuVendor::parse(&node.spec.gpu_vendor).ok_or_else(|| Invalid {
        reason: "InvalidGpuVendor",
        message: format!(
            "spec.gpuVendor {:?} is not one of {}",
            node.spec.gpu_vendor,
            GpuVendor::ALL.map(GpuVendor::as_str).join(", ")
        ),
    })?;
    if node.spec.capacity < 1 {
        return Err(Invalid {
            reason: "InvalidCapacity",
            message: format!("spec.capacity {} must be at least 1", node.spec.capacity),
        });
    }
    if node.spec.image.trim().is_empty() {
        return Err(Invalid {
            reason: "InvalidImage",
            message: "spec.image must name a container image".to_owned(),
        });
    }
    let worker = worker_name(node);
    if worker.len() > MAX_WORKER_NAME {
        return Err(Invalid {
            reason: "NameTooLong",
            message: format!(
                "the worker StatefulSet name {worker:?} would be longer than {MAX_WORKER_NAME} characters; shorten metadata.name"
            ),
        });
    }
    node.spec
        .check_credentials()
        .map_err(|(_, message)| Invalid {
            reason: "InvalidCredentials",
            message,
        })?;
    Ok(vendor)
}

/// Checks what the operator's policy allows: `spec.image` must start with one of
/// `allowed_images` (`VMAFX_OPERATOR_ALLOWED_IMAGES`), and `spec.healthEndpoint`, when set, must be
/// a Service in the node's own namespace. The webhook refuses the same, when it runs.
pub fn check_policy(node: &VmafxNode, allowed_images: &[String]) -> Result<(), Invalid> {
    crate::policy::check_image(&node.spec.image, allowed_images).map_err(|message| Invalid {
        reason: "ImageNotAllowed",
        message: format!("spec.image: {message}"),
    })?;
    let endpoint = node.spec.health_endpoint.as_deref().map(str::trim);
    if let Some(endpoint) = endpoint.filter(|e| !e.is_empty()) {
        let namespace = node.namespace().unwrap_or_default();
        crate::policy::check_service_url(endpoint, &namespace).map_err(|message| Invalid {
            reason: "InvalidHealthEndpoint",
            message: format!("spec.healthEndpoint: {message}"),
        })?;
    }
    Ok(())
}
