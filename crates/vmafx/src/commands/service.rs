//! `vmafx controller`, `vmafx node` and `vmafx serve`: the long-running service processes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use vmafx_api::client::{read_token, Token};
use vmafx_api::tls::ServerTls;
use vmafx_contract::InputPolicy;
use vmafx_controller::{Authenticator, Controller, ControllerConfig, Identity, Role, ServeOptions};
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
        model_registries: flags.model_registries.clone(),
        max_model_bytes: flags.max_model_bytes.unwrap_or(defaults.max_model_bytes),
        max_input_bytes: flags.max_input_bytes.unwrap_or(defaults.max_input_bytes),
    }
}

/// What scoring pairs in this process needs (the trainer's posted pairs, the MCP `score` tool):
/// a fetcher under `policy` with object-store settings from the environment, and the machine's
/// best kernels (scalar ones when `VMAFX_FORCE_SCALAR` says so).
pub fn local_scoring(
    policy: InputPolicy,
) -> anyhow::Result<(vmafx_fetch::Fetcher, vmafx_engine::cpu::SimdLevel)> {
    let mut fetch = vmafx_fetch::FetchConfig::from_env();
    fetch.policy = policy;
    let fetcher = vmafx_fetch::Fetcher::new(fetch).context("failed to start the input fetcher")?;
    let simd = vmafx_engine::cpu::SimdRequest {
        level: None,
        force_scalar: vmafx_engine::cpu::SimdRequest::force_scalar_value(
            std::env::var("VMAFX_FORCE_SCALAR").ok().as_deref(),
        ),
        cpumask: None,
    }
    .resolve()?;
    Ok((fetcher, simd))
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
            retain_finished: flags.retain_finished.0,
            max_watch_streams: flags.max_watch_streams.max(1),
            policy,
            ..ControllerConfig::default()
        },
    ))
}

/// The node settings described by `flags`, talking to `controller`; its token comes from
/// `--token-file` (reread when it changes), else `VMAFX_TOKEN`.
pub fn node_config(
    flags: &NodeFlags,
    controller: String,
    http_addr: Option<SocketAddr>,
    policy: InputPolicy,
) -> anyhow::Result<NodeConfig> {
    let mut config = NodeConfig::new(controller);
    config.ca_cert = flags.ca_cert.clone();
    match &flags.token_file {
        Some(path) => {
            // Read once now so that a wrong path fails at start, not at the first call.
            read_token(Some(path))?;
            config.token_file = Some(path.clone());
        }
        None => config.token = read_token(None)?,
    }
    config.capacity = flags.capacity;
    if let Some(name) = &flags.name {
        config.name = name.clone();
    }
    config.vendor = flags.vendor.clone();
    for backend in &flags.backends {
        // A pool advertises its GPU's backends so that the controller routes those jobs to it;
        // until a GPU backend is built they are scored, identically, on its CPU. Say so once.
        let field = "--backends (VMAFX_NODE_BACKENDS)";
        let backend = vmafx_contract::Backend::parse_field(field, backend.trim())?;
        if !vmafx_node::SERVED_BACKENDS.contains(&backend) {
            tracing::warn!(
                "{field}: this build of vmafx cannot score with {backend}; its jobs are scored on the CPU"
            );
        }
    }
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
    config.fetch.registry = flags.registry.options();
    config.fetch.model_cache = flags.model_cache.clone();
    config.heartbeat_interval = Duration::from_secs(flags.heartbeat_secs.max(1));
    config.simd = vmafx_engine::cpu::SimdRequest {
        level: flags.simd,
        force_scalar: vmafx_engine::cpu::SimdRequest::force_scalar_value(
            flags.force_scalar.as_deref(),
        ),
        cpumask: None,
    }
    .resolve()?;
    config.device = vmafx_node::cpu_description(config.simd);
    config.http_addr = http_addr;
    Ok(config)
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

/// Which interface a service listens on when no address is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultBind {
    /// `vmafx serve` and the demo: this machine only.
    Loopback,
    /// `vmafx controller`: every interface (which then needs authentication or `--insecure`).
    Everywhere,
}

/// The listeners, authentication and limits `flags` describe. Listening beyond loopback without
/// authentication is refused unless `--insecure` says so.
pub async fn serve_options(
    flags: &ControllerFlags,
    default: DefaultBind,
    internal_node: Option<&str>,
) -> anyhow::Result<(ServeOptions, Option<Token>)> {
    let ip = match default {
        DefaultBind::Loopback => IpAddr::V4(Ipv4Addr::LOCALHOST),
        DefaultBind::Everywhere => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let grpc_addr = flags.grpc_addr.unwrap_or(SocketAddr::new(ip, 9090));
    let http_addr = flags.http_addr.unwrap_or(SocketAddr::new(ip, 8080));
    let mut auth = Authenticator::default();
    if let Some(path) = &flags.auth_token_file {
        auth = auth.with_token_file(path)?;
    }
    if flags.auth_kubernetes {
        let mut roles = std::collections::HashMap::new();
        for mapping in &flags.auth_kubernetes_roles {
            let (account, role) = vmafx_controller::kubernetes::parse_role_mapping(mapping)?;
            roles.insert(account, role);
        }
        if roles.is_empty() {
            anyhow::bail!(
                "--auth-kubernetes needs at least one --auth-kubernetes-role NAMESPACE/SERVICEACCOUNT=ROLE"
            );
        }
        let client = kube::Client::try_default()
            .await
            .context("--auth-kubernetes: failed to configure the Kubernetes client")?;
        auth = auth.with_kubernetes(vmafx_controller::kubernetes::TokenReviewer::new(
            client, roles,
        ));
    } else if !flags.auth_kubernetes_roles.is_empty() {
        anyhow::bail!("--auth-kubernetes-role needs --auth-kubernetes");
    }
    // `vmafx serve`'s own node gets a token that exists only in this process's memory.
    let mut internal_token = None;
    if let (Some(name), true) = (internal_node, auth.is_enforcing()) {
        let token = random_token()?;
        auth = auth.with_internal_token(
            &token,
            Identity {
                name: name.to_owned(),
                role: Role::Node,
            },
        );
        internal_token = Some(Token::new(token));
    }
    let auth = Arc::new(auth);
    let tls = ServerTls::from_flags(
        flags.tls_cert.as_deref(),
        flags.tls_key.as_deref(),
        flags.client_ca.as_deref(),
    )?;
    if !auth.is_enforcing() && !flags.insecure {
        if let Some(open) = [grpc_addr, http_addr]
            .into_iter()
            .find(|addr| !addr.ip().is_loopback())
        {
            anyhow::bail!(
                "refusing to listen on {open} without authentication: give --auth-token-file FILE or --auth-kubernetes, or --insecure to serve everyone on the network"
            );
        }
    }
    if !auth.is_enforcing() && flags.insecure {
        tracing::warn!(%grpc_addr, %http_addr, "--insecure: anyone who can reach these addresses may submit, cancel and act as a node");
    }
    Ok((
        ServeOptions {
            grpc_addr,
            http_addr,
            auth,
            max_message_bytes: flags.max_message_bytes,
            max_result_bytes: flags.max_result_bytes,
            tls,
        },
        internal_token,
    ))
}

/// 32 random bytes from the kernel, as hex.
fn random_token() -> anyhow::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .context("failed to read /dev/urandom for the built-in node's token")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A started controller, and the token its built-in node (if any) must send.
pub struct Listening {
    /// The running listeners.
    pub bound: vmafx_controller::Bound,
    /// The in-memory token of the built-in node, when authentication is on.
    pub internal_token: Option<Token>,
    /// Whether the listeners serve TLS.
    pub tls: bool,
}

/// Starts `controller`'s listeners as `flags` describe; `internal_node` names the built-in node
/// of `vmafx serve`, which gets a token of its own.
pub async fn listen(
    controller: Arc<Controller>,
    flags: &ControllerFlags,
    default: DefaultBind,
    internal_node: Option<&str>,
    shutdown: CancellationToken,
) -> anyhow::Result<Listening> {
    let (options, internal_token) = serve_options(flags, default, internal_node).await?;
    let tls = options.tls.is_some();
    let bound = vmafx_controller::serve(controller, options, shutdown).await?;
    Ok(Listening {
        bound,
        internal_token,
        tls,
    })
}

/// Runs `vmafx controller`.
pub fn run_controller(args: ControllerArgs) -> anyhow::Result<ExitCode> {
    let controller = build_controller(&args.controller, input_policy(&args.policy, Vec::new()))?;
    runtime()?.block_on(async move {
        let shutdown = shutdown_on_signal();
        let bound = listen(
            controller,
            &args.controller,
            DefaultBind::Everywhere,
            None,
            shutdown,
        )
        .await?
        .bound;
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
    let policy = input_policy(&args.policy, Vec::new());
    let config = node_config(
        &args.node,
        args.controller.clone(),
        Some(args.http_addr),
        policy,
    )?;
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
        let node_name = args
            .node
            .name
            .clone()
            .unwrap_or_else(|| NodeConfig::new("").name);
        let listening = listen(
            controller,
            &args.controller,
            DefaultBind::Loopback,
            Some(&node_name),
            shutdown.clone(),
        )
        .await?;
        let bound = listening.bound;
        let mut config = node_config(
            &args.node,
            builtin_node_url(bound.grpc_addr, listening.tls),
            args.node_http_addr,
            policy,
        )?;
        config.name = node_name;
        if listening.tls && config.ca_cert.is_none() {
            // A self-signed certificate for localhost verifies itself.
            config.ca_cert = args.controller.tls_cert.clone();
        }
        if let Some(token) = listening.internal_token {
            config.token = Some(token);
            config.token_file = None;
        }
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

/// The address `vmafx serve`'s built-in node reaches the controller on: loopback, by the name a
/// certificate for this machine carries when TLS is on.
fn builtin_node_url(addr: SocketAddr, tls: bool) -> String {
    if tls {
        format!("https://localhost:{}", addr.port())
    } else {
        local_url(addr)
    }
}
