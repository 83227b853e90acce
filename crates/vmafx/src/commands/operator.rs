//! `vmafx operator` (the Kubernetes operator) and `vmafx crd` (its CRD manifests).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::CrdArgs;
use crate::commands::service::{runtime, shutdown_on_signal};

/// Runs the operator, configured only by its environment variables.
pub fn run_operator() -> anyhow::Result<ExitCode> {
    let config = vmafx_operator::OperatorConfig::from_env()?;
    // reqwest and the webhook server use rustls without a built-in provider; ring is the one
    // the whole workspace builds with.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = runtime()?;
    runtime.block_on(async move {
        let client = kube::Client::try_default().await.context(
            "failed to load the Kubernetes client configuration (KUBECONFIG or in-cluster)",
        )?;
        let shutdown = shutdown_on_signal();
        tracing::info!(
            controller = %config.controller_grpc,
            namespace = %config.namespace,
            leader_election = config.leader_election,
            "vmafx operator starting"
        );
        vmafx_operator::run(config, client, shutdown).await?;
        tracing::info!("vmafx operator stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Prints the CRDs, or writes one file per CRD into each `--out-dir`.
pub fn run_crd(args: CrdArgs) -> anyhow::Result<ExitCode> {
    if args.out_dir.is_empty() {
        let yaml = vmafx_operator::crd::all_crds_yaml().context("failed to render the CRDs")?;
        print!("{yaml}");
        return Ok(ExitCode::SUCCESS);
    }
    for dir in &args.out_dir {
        write_crds(dir)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_crds(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    for manifest in vmafx_operator::crd::all_crds() {
        let yaml = vmafx_operator::crd::crd_yaml(&manifest.crd)
            .with_context(|| format!("failed to render {}", manifest.file_name))?;
        let path = dir.join(&manifest.file_name);
        std::fs::write(&path, yaml)
            .with_context(|| format!("failed to write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
