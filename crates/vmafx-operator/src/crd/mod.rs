//! The three custom resources of group `vmafx.dev/v1`, and the CRD manifests generated from them.
//!
//! The Rust types are the source of truth: `vmafx crd` prints [`all_crds_yaml`], the committed
//! copies under `config/crd/bases/` and `deploy/helm/vmafx/crds/` are its output, and a test fails
//! when they drift.

mod job;
mod node;
mod training;

pub use job::{Execution, JobPhase, VmafxJob, VmafxJobSpec, VmafxJobStatus, DEFAULT_MODEL};
pub(crate) use node::dns_subdomain;
pub use node::{GpuVendor, SecretKeyRef, VmafxNode, VmafxNodeSpec, VmafxNodeStatus};
pub use training::{
    interval_seconds, CheckpointPolicy, DataSource, TrainingPhase, TrainingStorage,
    VmafxModelTraining, VmafxModelTrainingSpec, VmafxModelTrainingStatus, ALGORITHM,
    NODE_SELECTOR_KEYS,
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The API group of every vmafx custom resource.
pub const GROUP: &str = "vmafx.dev";

/// One generated CRD and the file name it is committed under.
pub struct CrdManifest {
    /// File name in `config/crd/bases/`, kubebuilder style: `<group>_<plural>.yaml`.
    pub file_name: String,
    /// The CRD object.
    pub crd: CustomResourceDefinition,
}

/// Every CRD the operator serves, in a stable order.
pub fn all_crds() -> Vec<CrdManifest> {
    [VmafxJob::crd(), VmafxNode::crd(), VmafxModelTraining::crd()]
        .into_iter()
        .map(|crd| CrdManifest {
            file_name: format!("{GROUP}_{}.yaml", crd.spec.names.plural),
            crd,
        })
        .collect()
}

/// One CRD as the YAML document that is committed to the repository.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_yaml::Error> {
    Ok(format!("---\n{}", serde_yaml::to_string(crd)?))
}

/// All CRDs as one multi-document YAML stream, as `vmafx crd` prints it.
pub fn all_crds_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for manifest in all_crds() {
        out.push_str(&crd_yaml(&manifest.crd)?);
    }
    Ok(out)
}

/// Schema for a list of `metav1.Condition`s: merged by `type`, as Kubernetes API conventions ask.
pub(crate) fn conditions_schema(
    generator: &mut schemars::generate::SchemaGenerator,
) -> schemars::Schema {
    let mut schema =
        generator.subschema_for::<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>>();
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert(
        "x-kubernetes-list-map-keys".into(),
        serde_json::json!(["type"]),
    );
    schema
}

/// Schema for a non-negative count. schemars writes `format: uint64` for `u64`, a format the API
/// server does not know (it warns on every apply); `int64` with a minimum of 0 says the same.
pub(crate) fn count_schema(_: &mut schemars::generate::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "integer",
        "format": "int64",
        "minimum": 0,
        "nullable": true,
    })
}
