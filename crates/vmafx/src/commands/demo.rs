//! `vmafx demo`: makes a sample reference/distorted pair and scores it through an in-process
//! `vmafx serve` (embedded SQLite queue, controller and worker node on loopback), so a fresh
//! checkout shows the whole path with nothing else installed.

use std::process::ExitCode;

use std::path::Path;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use vmafx_api::v1;

use super::job::{require_completed, to_uri, Client};
use super::service::{build_controller, listen, local_url, node_config, runtime};
use crate::cli::{ControllerFlags, DemoArgs, NodeFlags};

/// The folder the demo writes its sample pairs under (one subfolder per run), which
/// `vmafx serve` allows as a file root by default.
pub fn demo_root() -> std::path::PathBuf {
    std::env::temp_dir().join("vmafx-demo")
}

/// Starts controller and node on free loopback ports with their data under `dir`, submits the
/// pair, waits for the result and shuts everything down.
fn score_through_serve(dir: &Path, reference: &Path, distorted: &Path) -> anyhow::Result<v1::Job> {
    let controller_flags = ControllerFlags {
        grpc_addr: Some("127.0.0.1:0".parse()?),
        http_addr: Some("127.0.0.1:0".parse()?),
        auth_token_file: None,
        auth_kubernetes: false,
        auth_kubernetes_roles: Vec::new(),
        tls_cert: None,
        tls_key: None,
        client_ca: None,
        insecure: false,
        max_message_bytes: vmafx_api::DEFAULT_MAX_MESSAGE_BYTES,
        max_result_bytes: vmafx_api::DEFAULT_MAX_RESULT_BYTES,
        retain_finished: crate::cli::Retention(None),
        max_watch_streams: vmafx_controller::DEFAULT_MAX_WATCH_STREAMS,
        data_dir: dir.join("vmafx-data"),
        lease_secs: 30,
        max_attempts: 1,
        node_timeout_secs: 60,
    };
    let node_flags = NodeFlags {
        capacity: 1,
        name: Some("demo".into()),
        vendor: "cpu".into(),
        backends: vec!["cpu".into()],
        threads_per_job: 0,
        scratch_dir: Some(dir.join("scratch")),
        rclone_config: None,
        registry: crate::cli::RegistryArgs {
            insecure_registry: false,
            registry_config: None,
            registry_ca: None,
        },
        model_cache: None,
        heartbeat_secs: 10,
        token_file: None,
        ca_cert: None,
        simd: None,
        force_scalar: None,
    };
    // The controller and node may read the sample pair's folder and nothing else.
    let policy = vmafx_contract::InputPolicy {
        allow_file_roots: vec![dir.to_path_buf()],
        ..vmafx_contract::InputPolicy::default()
    };
    let controller = build_controller(&controller_flags, policy.clone())?;
    let reference = to_uri("reference", &reference.to_string_lossy())?;
    let distorted = to_uri("distorted", &distorted.to_string_lossy())?;
    runtime()?.block_on(async move {
        let shutdown = CancellationToken::new();
        let bound = listen(
            controller,
            &controller_flags,
            super::service::DefaultBind::Loopback,
            None,
            shutdown.clone(),
        )
        .await?
        .bound;
        let node = vmafx_node::run(
            node_config(&node_flags, local_url(bound.grpc_addr), None, policy)?,
            shutdown.clone(),
        )
        .await?;
        let result = async {
            let mut client = Client::connect_with(vmafx_api::client::ClientOptions::new(
                local_url(bound.grpc_addr),
            ))
            .await?;
            let spec = v1::JobSpec {
                reference,
                distorted,
                ..v1::JobSpec::default()
            };
            let submitted = client.submit(spec, String::new()).await?;
            let id = submitted.job.map(|j| j.id).unwrap_or_default();
            let job = super::job::wait_with_progress(&mut client, &id).await?;
            require_completed(&job)?;
            anyhow::Ok(job)
        }
        .await;
        shutdown.cancel();
        node.wait().await;
        bound.wait().await.map_err(anyhow::Error::msg)?;
        result
    })
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => demo_root().join(std::process::id().to_string()),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let fixture = vmafx_fixtures::fixtures()
        .into_iter()
        .find(|f| f.name == "pan_420_8bit_blur")
        .context("the demo fixture is missing from vmafx-fixtures")?;
    let ref_path = dir.join("demo_ref.y4m");
    let dist_path = dir.join("demo_dist.y4m");
    fixture
        .write_pair(&ref_path, &dist_path)
        .with_context(|| format!("failed to write the sample pair into {}", dir.display()))?;
    let outcome = score_through_serve(&dir, &ref_path, &dist_path)?;
    let vmaf = outcome
        .summary
        .as_ref()
        .and_then(|s| s.models.first())
        .map(|m| m.mean)
        .unwrap_or(f64::NAN);
    println!("reference  {}", ref_path.display());
    println!("distorted  {}", dist_path.display());
    println!(
        "scored     {} frames through vmafx serve's queue and worker (job {})",
        outcome.summary.as_ref().map_or(0, |s| s.frames),
        outcome.id
    );
    println!("VMAF       {vmaf:.6} (vmaf_v0.6.1, mean over frames)");
    println!(
        "next: vmafx score -r {} -d {} --json -o out.json   (one pair, no service)",
        ref_path.display(),
        dist_path.display()
    );
    println!(
        "      vmafx serve   then   vmafx job submit -r {} -d {} --wait",
        ref_path.display(),
        dist_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
