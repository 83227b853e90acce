//! Runs the whole operator: probes and metrics, webhooks, leader election, and the three
//! reconcilers, with graceful shutdown. This is what `vmafx operator` calls.

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{self, OperatorConfig};
use crate::context::{Context, ContextError};
use crate::leader::{LeaderElector, LeaderError, Timings};
use crate::metrics::Metrics;
use crate::probes::{self, ProbeError, Readiness};
use crate::webhook::{self, WebhookError};
use crate::{counted, job, node, training};

/// The controller names reconcilers report metrics under, as controller-runtime names them.
pub const CONTROLLERS: [&str; 3] = ["vmafxjob", "vmafxnode", "vmafxmodeltraining"];

/// Why the operator stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// A probe or metrics listener could not be bound.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// The webhook server could not start.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// The shared context could not be built.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// Leadership was lost; the process must restart so that only one replica reconciles.
    #[error(transparent)]
    Leadership(#[from] LeaderError),
}

/// Runs the operator until `shutdown` fires (returns `Ok`) or leadership is lost.
pub async fn run(
    config: OperatorConfig,
    client: Client,
    shutdown: CancellationToken,
) -> Result<(), OperatorError> {
    run_with_timings(config, client, shutdown, Timings::default()).await
}

/// [`run`] with explicit leader-election timings.
pub async fn run_with_timings(
    config: OperatorConfig,
    client: Client,
    shutdown: CancellationToken,
    timings: Timings,
) -> Result<(), OperatorError> {
    let metrics = Arc::new(Metrics::new());
    let client = counted::kube_client(client, Arc::clone(&metrics));
    let readiness = Arc::new(Readiness::default());
    let servers = CancellationToken::new();
    let mut background = JoinSet::new();

    // Bind every listener first, so a taken port stops start-up with a clear error.
    let health = match config.health_probe_addr {
        Some(addr) => Some(probes::bind(addr, config::HEALTH_PROBE_ADDR).await?),
        None => None,
    };
    let metrics_listener = match config.metrics_addr {
        Some(addr) => Some(probes::bind(addr, config::METRICS_ADDR).await?),
        None => None,
    };
    let webhook_server = match config.webhook_addr {
        Some(addr) => Some(
            webhook::bind(addr)
                .await?
                .with_policy(webhook::AdmissionPolicy {
                    allowed_images: config.allowed_images.clone(),
                    job_image: config.job_image.clone(),
                }),
        ),
        None => None,
    };
    readiness.set("kubernetes", false, "not contacted yet");
    if let Some(listener) = health {
        background.spawn(probes::serve_health(
            listener,
            readiness.clone(),
            servers.clone(),
        ));
    }
    if let Some(listener) = metrics_listener {
        background.spawn(probes::serve_metrics(
            listener,
            metrics.clone(),
            servers.clone(),
        ));
    }
    if let Some(server) = webhook_server {
        readiness.set("webhook", true, "serving");
        background.spawn(webhook::serve(server, servers.clone()));
    }

    let ctx = Arc::new(Context::new(
        client.clone(),
        config.clone(),
        metrics.clone(),
    )?);
    match client.apiserver_version().await {
        Ok(version) => readiness.set(
            "kubernetes",
            true,
            format!("API server {}.{}", version.major, version.minor),
        ),
        Err(error) => readiness.set(
            "kubernetes",
            false,
            format!("failed to reach the API server: {error}"),
        ),
    }

    let lease = config.leader_election_id.clone();
    let mut elector = if config.leader_election {
        metrics.set_leader(&lease, false);
        readiness.set("leader", true, "standing for election");
        let identity = leader_identity();
        tracing::info!(lease = %lease, identity = %identity, "waiting to become leader");
        let mut elector = LeaderElector::new(
            client.clone(),
            &config.namespace,
            &lease,
            &identity,
            timings,
        );
        if !elector.acquire(&shutdown).await {
            servers.cancel();
            drain(&mut background, config.graceful_shutdown).await;
            return Ok(());
        }
        tracing::info!(lease = %lease, identity = %identity, "became leader");
        Some(elector)
    } else {
        None
    };
    metrics.set_leader(&lease, true);

    // The series exist from the moment this replica starts reconciling, so a standby is told
    // apart from a leader by its metrics alone.
    for controller in CONTROLLERS {
        metrics.register_controller(controller);
    }
    let controllers = CancellationToken::new();
    let mut reconcilers = JoinSet::new();
    reconcilers.spawn(job::run(ctx.clone(), controllers.clone()));
    reconcilers.spawn(node::run(ctx.clone(), controllers.clone()));
    reconcilers.spawn(training::run(ctx.clone(), controllers.clone()));

    let outcome = match elector.as_mut() {
        Some(elector) => {
            let held = elector.hold(&shutdown).await;
            if held.is_err() {
                metrics.set_leader(&lease, false);
            }
            held.map_err(OperatorError::from)
        }
        None => {
            shutdown.cancelled().await;
            Ok(())
        }
    };
    tracing::info!("stopping controllers");
    controllers.cancel();
    drain(&mut reconcilers, config.graceful_shutdown).await;
    servers.cancel();
    drain(&mut background, Duration::from_secs(5)).await;
    outcome
}

/// Waits up to `limit` for `tasks`, then abandons the rest.
async fn drain(tasks: &mut JoinSet<()>, limit: Duration) {
    let all = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(limit, all).await.is_err() {
        tracing::warn!("graceful shutdown timed out after {limit:?}; abandoning in-flight work");
        tasks.abort_all();
    }
}

/// A leader-election identity unique to this process: the pod name (or host name) plus a random
/// suffix, as client-go does, so a restarted pod never mistakes its predecessor's lease for its own.
fn leader_identity() -> String {
    let base = std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "vmafx-operator".to_owned());
    let mut bytes = [0u8; 8];
    let suffix = match std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
    {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => {
            u64::from(std::process::id())
                ^ std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0)
        }
    };
    format!("{base}_{suffix:016x}")
}
