//! The committed CRD manifests must be exactly what the Rust types generate.

use std::path::Path;

#[test]
fn committed_crds_match_the_rust_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut drifted = Vec::new();
    for dir in ["config/crd/bases", "deploy/helm/vmafx/crds"] {
        for manifest in vmafx_operator::crd::all_crds() {
            let expected = vmafx_operator::crd::crd_yaml(&manifest.crd).unwrap();
            let path = root.join(dir).join(&manifest.file_name);
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed != expected {
                drifted.push(format!("{dir}/{}", manifest.file_name));
            }
        }
    }
    assert!(
        drifted.is_empty(),
        "CRD manifests drifted from the Rust types: {drifted:?}; regenerate them with \
         `cargo run -- crd --out-dir config/crd/bases --out-dir deploy/helm/vmafx/crds`"
    );
}

#[test]
fn crds_carry_the_seed_short_names_and_columns() {
    let summary: Vec<(String, Vec<String>, Vec<String>)> = vmafx_operator::crd::all_crds()
        .iter()
        .map(|m| {
            let names = &m.crd.spec.names;
            let version = &m.crd.spec.versions[0];
            let columns = version
                .additional_printer_columns
                .iter()
                .flatten()
                .map(|c| c.name.to_uppercase())
                .collect();
            assert_eq!(m.crd.spec.scope, "Namespaced");
            assert!(version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some());
            (
                names.kind.clone(),
                names.short_names.clone().unwrap_or_default(),
                columns,
            )
        })
        .collect();
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        summary,
        vec![
            (
                "VmafxJob".to_string(),
                strings(&["vmjob"]),
                strings(&["PHASE", "SCORE", "NODE", "AGE"])
            ),
            (
                "VmafxNode".to_string(),
                strings(&["vmnode"]),
                strings(&["VENDOR", "HEALTHY", "JOBS", "DEVICE", "AGE"])
            ),
            (
                "VmafxModelTraining".to_string(),
                strings(&["vmtrain"]),
                strings(&["PHASE", "SAMPLES", "MODELVERSION", "AGE"])
            ),
        ]
    );
}
