//! `vmafx controller`, `vmafx node` and `vmafx serve`: the long-running service processes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use vmafx_contract::InputPolicy;
use vmafx_controller::{Controller, ControllerConfig, ServeOptions};
use vmafx_node::NodeConfig;
use vmafx_queue::{QueueConfig, SqliteStore};

use crate::cli::{ControllerArgs, ControllerFlags, NodeArgs, NodeFlags, PolicyFlags, ServeArgs};

/// A multi-threaded runtime for the service commands.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

/// A token cancelled on Ctrl-C or SIGTERM, for graceful shutdown.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        trigger.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        trigger.cancel();
    });
    token
}

/// The input policy `flags` describe; `default_roots` apply when no `--allow-file-root` is given.
pub fn input_policy(flags: &PolicyFlags, default_roots: Vec<PathBuf>) -> InputPolicy {
    let defaults = InputPolicy::default();
    InputPolicy {
        allow_file_roots: if flags.allow_file_roots.is_empty() {
            default_roots
        } else {
            flags.allow_file_roots.clone()
        },
        allow_private_networks: flags.allow_private_networks,
        model_dirs: flags.model_dirs.clone(),
        max_model_bytes: defaults.max_model_bytes,
        max_input_bytes: flags.max_input_bytes.unwrap_or(defaults.max_input_bytes),
    }
}

/// `vmafx serve`'s default file roots: the current directory and the demo's folder.
pub fn serve_default_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    roots.push(super::demo::demo_root());
    roots
}

/// Opens the store and builds the controller described by `flags`, checking submissions
/// against `policy`.
pub fn build_controller(
    flags: &ControllerFlags,
    policy: InputPolicy,
) -> anyhow::Result<Arc<Controller>> {
    std::fs::create_dir_all(&flags.data_dir)
        .with_context(|| format!("failed to create data folder {}", flags.data_dir.display()))?;
    let queue = QueueConfig {
        lease_ms: flags.lease_secs.max(1) as i64 * 1000,
        default_max_attempts: flags.max_attempts.max(1),
        node_timeout_ms: flags.node_timeout_secs.max(1) as i64 * 1000,
        ..QueueConfig::default()
    };
    let path = flags.data_dir.join("vmafx.db");
    let store = SqliteStore::open(&path, queue)
        .with_context(|| format!("failed to open the job store {}", path.display()))?;
    Ok(Controller::new(
        Arc::new(store),
        ControllerConfig {
            queue,
            policy,
            ..ControllerConfig::default()
        },
    ))
}

/// The node settings described by `flags`, talking to `controller`.
pub fn node_config(
    flags: &NodeFlags,
    controller: String,
    http_addr: Option<SocketAddr>,
    policy: InputPolicy,
) -> NodeConfig {
    let mut config = NodeConfig::new(controller);
    config.capacity = flags.capacity;
    if let Some(name) = &flags.name {
        config.name = name.clone();
    }
    config.vendor = flags.vendor.clone();
    config.backends = flags.backends.clone();
    config.threads_per_job = flags.threads_per_job;
    if let Some(dir) = &flags.scratch_dir {
        config.scratch_dir = dir.clone();
    }
    // Object-store credentials come from the usual provider variables (AWS_*, GOOGLE_*, AZURE_*).
    config.fetch = vmafx_fetch::FetchConfig::from_env();
    config.fetch.policy = policy;
    if let Some(path) = &flags.rclone_config {
        config.fetch.rclone.config_path = Some(path.clone());
    }
    config.heartbeat_interval = Duration::from_secs(flags.heartbeat_secs.max(1));
    config.http_addr = http_addr;
    config
}

/// The address a local client reaches a listener on: loopback when it listens on all addresses.
pub fn local_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        addr.ip()
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Starts `controller`'s listeners at the addresses in `flags`.
pub async fn listen(
    controller: Arc<Controller>,
    flags: &ControllerFlags,
    shutdown: CancellationToken,
) -> anyhow::Result<vmafx_controller::Bound> {
    let options = ServeOptions {
        grpc_addr: flags.grpc_addr,
        http_addr: flags.http_addr,
    };
    Ok(vmafx_controller::serve(controller, options, shutdown).await?)
}

/// Runs `vmafx controller`.
pub fn run_controller(args: ControllerArgs) -> anyhow::Result<ExitCode> {
    let controller = build_controller(&args.controller, input_policy(&args.policy, Vec::new()))?;
    runtime()?.block_on(async move {
        let shutdown = shutdown_on_signal();
        let bound = listen(controller, &args.controller, shutdown).await?;
        eprintln!(
            "vmafx controller: gRPC on {}, HTTP on {}",
            bound.grpc_addr, bound.http_addr
        );
        bound.wait().await.map_err(anyhow::Error::msg)?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs `vmafx node`.
pub fn run_node(args: NodeArgs) -> anyhow::Result<ExitCode> {
    let controller = normalize_controller(&args.controller);
    let policy = input_policy(&args.policy, Vec::new());
    let config = node_config(&args.node, controller, Some(args.http_addr), policy);
    runtime()?.block_on(async move {
        let shutdown = shutdown_on_signal();
        let node = vmafx_node::run(config, shutdown).await?;
        if let Some(addr) = node.http_addr {
            eprintln!("vmafx node: health on {addr}");
        }
        node.wait().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs `vmafx serve`.
pub fn run_serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let policy = input_policy(&args.policy, serve_default_roots());
    let controller = build_controller(&args.controller, policy.clone())?;
    runtime()?.block_on(async move {
        let shutdown = shutdown_on_signal();
        let bound = listen(controller, &args.controller, shutdown.clone()).await?;
        let config = node_config(
            &args.node,
            local_url(bound.grpc_addr),
            args.node_http_addr,
            policy,
        );
        let node = vmafx_node::run(config, shutdown).await?;
        eprintln!(
            "vmafx serve: gRPC on {}, HTTP on {} (web page: {}/), data in {}",
            bound.grpc_addr,
            bound.http_addr,
            local_url(bound.http_addr),
            args.controller.data_dir.display()
        );
        node.wait().await;
        bound.wait().await.map_err(anyhow::Error::msg)?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Accepts `host:port` as well as a URL.
pub fn normalize_controller(address: &str) -> String {
    if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    }
}
