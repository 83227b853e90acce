//! The node's control loop: register, heartbeat, claim jobs up to capacity, and drive each job's
//! lease (progress reports renew it; completion or failure ends it).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use thiserror::Error;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use vmafx_api::client::{ApiChannel, ClientOptions};
use vmafx_api::v1;
use vmafx_api::v1::node_service_client::NodeServiceClient;
use vmafx_fetch::Fetcher;

use crate::config::NodeConfig;
use crate::execute::{execute, ExecuteError, JobControl};
use crate::health;

/// Why a node could not start.
#[derive(Debug, Error)]
pub enum NodeError {
    /// The controller address is malformed.
    #[error("failed to use controller address \"{address}\": {message}")]
    Controller {
        /// The address given.
        address: String,
        /// What is wrong with it.
        message: String,
    },
    /// The input fetcher could not be set up.
    #[error("failed to set up input fetching: {0}")]
    Fetch(String),
    /// The health server could not listen.
    #[error("failed to serve node health on {addr}: {source}")]
    Health {
        /// The address asked for.
        addr: SocketAddr,
        /// The bind error.
        source: std::io::Error,
    },
    /// `capacity` is zero.
    #[error("failed to start: capacity must be at least 1")]
    Capacity,
}

/// An attempt this node holds, from its claim until its final report is through.
#[derive(Clone)]
pub(crate) struct HeldJob {
    /// The lease token, listed in heartbeats so that the controller renews this lease.
    token: u64,
    /// How the job is stopped.
    control: JobControl,
    /// Set when a heartbeat says the attempt is no longer this node's.
    lost: Arc<AtomicBool>,
}

/// State shared by the node's tasks.
pub(crate) struct Shared {
    pub(crate) config: NodeConfig,
    client: NodeServiceClient<ApiChannel>,
    fetcher: Arc<Fetcher>,
    pub(crate) node_id: Mutex<Option<String>>,
    pub(crate) running: Mutex<HashMap<String, HeldJob>>,
    pub(crate) connected: AtomicBool,
    slots: Arc<Semaphore>,
    wake: Notify,
}

impl Shared {
    pub(crate) fn node_id(&self) -> Option<String> {
        self.node_id.lock().ok().and_then(|id| id.clone())
    }

    fn set_node_id(&self, id: Option<String>) {
        if let Ok(mut slot) = self.node_id.lock() {
            *slot = id;
        }
    }

    pub(crate) fn running_count(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }

    fn client(&self) -> NodeServiceClient<ApiChannel> {
        self.client.clone()
    }
}

/// A started node.
pub struct NodeHandle {
    /// Where its health endpoints listen, if anywhere.
    pub http_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl NodeHandle {
    /// The id the controller gave this node, once registered.
    pub fn node_id(&self) -> Option<String> {
        self.shared.node_id()
    }

    /// Waits for the node to stop (after its token is cancelled).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Starts a node: it registers (retrying until the controller answers), then works until
/// `shutdown` is cancelled, at which point running jobs are handed back to the queue.
pub async fn run(config: NodeConfig, shutdown: CancellationToken) -> Result<NodeHandle, NodeError> {
    if config.capacity == 0 {
        return Err(NodeError::Capacity);
    }
    let options = ClientOptions {
        address: config.controller.clone(),
        ca_cert: config.ca_cert.clone(),
        client_identity: None,
        token: config.token.clone(),
        token_file: config.token_file.clone(),
    };
    let endpoint = options
        .endpoint()
        .map_err(|e| NodeError::Controller {
            address: config.controller.clone(),
            message: e.to_string(),
        })?
        .configure(|endpoint| {
            endpoint
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(120))
                .tcp_nodelay(true)
        });
    let client = NodeServiceClient::new(endpoint.connect_lazy())
        .max_decoding_message_size(vmafx_api::DEFAULT_MAX_RESULT_BYTES)
        .max_encoding_message_size(vmafx_api::DEFAULT_MAX_RESULT_BYTES);
    let fetcher =
        Fetcher::new(config.fetch.clone()).map_err(|e| NodeError::Fetch(e.to_string()))?;
    let shared = Arc::new(Shared {
        slots: Arc::new(Semaphore::new(config.capacity as usize)),
        config,
        client,
        fetcher: Arc::new(fetcher),
        node_id: Mutex::new(None),
        running: Mutex::new(HashMap::new()),
        connected: AtomicBool::new(false),
        wake: Notify::new(),
    });
    let http_addr = match shared.config.http_addr {
        Some(addr) => Some(
            health::serve(Arc::clone(&shared), addr, shutdown.clone())
                .await
                .map_err(|source| NodeError::Health { addr, source })?,
        ),
        None => None,
    };
    let task = tokio::spawn(main_loop(Arc::clone(&shared), shutdown));
    Ok(NodeHandle {
        http_addr,
        shared,
        task,
    })
}

fn node_info(config: &NodeConfig, http_addr: Option<SocketAddr>) -> v1::NodeInfo {
    v1::NodeInfo {
        name: config.name.clone(),
        vendor: config.vendor.clone(),
        backends: config.backends.clone(),
        device: config.device.clone(),
        capacity: config.capacity,
        version: env!("CARGO_PKG_VERSION").to_string(),
        address: http_addr.map(|a| format!("http://{a}")).unwrap_or_default(),
    }
}

/// Registers, retrying with back-off; `None` when shut down first.
async fn register(shared: &Shared, shutdown: &CancellationToken) -> Option<String> {
    let mut delay = Duration::from_millis(200);
    loop {
        let info = node_info(&shared.config, shared.config.http_addr);
        match shared
            .client()
            .register_node(v1::RegisterNodeRequest { info: Some(info) })
            .await
        {
            Ok(node) => {
                let id = node.into_inner().id;
                tracing::info!(node = %id, "registered with the controller");
                shared.connected.store(true, Ordering::Relaxed);
                shared.set_node_id(Some(id.clone()));
                return Some(id);
            }
            Err(status)
                if matches!(
                    status.code(),
                    Code::InvalidArgument | Code::Unauthenticated | Code::PermissionDenied
                ) =>
            {
                // Retrying cannot fix a bad registration or a wrong token until an operator
                // does; say so loudly and keep trying slowly (a reloaded token file may let us in).
                tracing::error!("failed to register: {}", status.message());
                shared.connected.store(false, Ordering::Relaxed);
                delay = Duration::from_secs(30);
            }
            Err(status) => {
                shared.connected.store(false, Ordering::Relaxed);
                tracing::warn!("failed to reach the controller: {}", status.message());
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

async fn main_loop(shared: Arc<Shared>, shutdown: CancellationToken) {
    let Some(mut node_id) = register(&shared, &shutdown).await else {
        return;
    };
    let heartbeats = tokio::spawn(heartbeat_loop(Arc::clone(&shared), shutdown.clone()));
    let mut jobs = tokio::task::JoinSet::new();
    let mut backoff = shared.config.poll_interval;
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let free = shared.slots.available_permits() as u32;
        if free == 0 {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = shared.wake.notified() => continue,
            }
        }
        let claimed = shared
            .client()
            .claim_job(v1::ClaimJobRequest {
                node_id: node_id.clone(),
                max: free,
            })
            .await;
        let wait = match claimed {
            Ok(response) => {
                shared.connected.store(true, Ordering::Relaxed);
                backoff = shared.config.poll_interval;
                let leases = response.into_inner().leases;
                let got = !leases.is_empty();
                for lease in leases {
                    let Ok(permit) = Arc::clone(&shared.slots).try_acquire_owned() else {
                        // More leases than slots cannot happen (the controller bounds them);
                        // if it does, hand the extra job straight back.
                        give_back(&shared, &lease, &node_id, "node has no free slot").await;
                        continue;
                    };
                    jobs.spawn(run_lease(
                        Arc::clone(&shared),
                        lease,
                        node_id.clone(),
                        permit,
                        shutdown.clone(),
                    ));
                }
                if got {
                    continue;
                }
                shared.config.poll_interval
            }
            Err(status) if matches!(status.code(), Code::NotFound | Code::FailedPrecondition) => {
                // The controller forgot us or marked us unhealthy: register again.
                tracing::warn!("claim refused ({}); registering again", status.message());
                match register(&shared, &shutdown).await {
                    Some(id) => node_id = id,
                    None => break,
                }
                continue;
            }
            Err(status) => {
                shared.connected.store(false, Ordering::Relaxed);
                tracing::warn!("failed to claim jobs: {}", status.message());
                backoff = (backoff * 2).min(Duration::from_secs(5));
                backoff
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            Some(_) = jobs.join_next(), if !jobs.is_empty() => {}
        }
    }
    // Running jobs see the token and hand their work back; wait for them to do so.
    while jobs.join_next().await.is_some() {}
    heartbeats.abort();
}

async fn heartbeat_loop(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(shared.config.heartbeat_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let Some(node_id) = shared.node_id() else {
            continue;
        };
        // The leases to renew: exactly those this node is working on or reporting.
        let held = shared
            .running
            .lock()
            .map(|running| {
                running
                    .iter()
                    .map(|(job_id, job)| v1::HeldAttempt {
                        job_id: job_id.clone(),
                        token: job.token,
                    })
                    .collect()
            })
            .unwrap_or_default();
        match shared
            .client()
            .heartbeat(v1::HeartbeatRequest { node_id, held })
            .await
        {
            Ok(response) => {
                shared.connected.store(true, Ordering::Relaxed);
                let response = response.into_inner();
                if let Ok(running) = shared.running.lock() {
                    for id in response.cancel_job_ids {
                        if let Some(job) = running.get(&id) {
                            tracing::info!(job = %id, "cancellation requested");
                            job.control.cancel.store(true, Ordering::Relaxed);
                        }
                    }
                    for id in response.lost_job_ids {
                        if let Some(job) = running.get(&id) {
                            tracing::warn!(job = %id, "the controller says this attempt is no longer ours");
                            job.lost.store(true, Ordering::Relaxed);
                            job.control.cancel.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }
            Err(status) => {
                shared.connected.store(false, Ordering::Relaxed);
                tracing::warn!("failed to send a heartbeat: {}", status.message());
            }
        }
    }
}

/// Fails a lease the node will not run, as retryable, so another node takes it.
async fn give_back(shared: &Shared, lease: &v1::Lease, node_id: &str, why: &str) {
    let Some(job) = &lease.job else { return };
    let _ = shared
        .client()
        .fail_job(v1::FailJobRequest {
            job_id: job.id.clone(),
            token: lease.token,
            error: why.to_string(),
            retryable: true,
            node_id: node_id.to_string(),
        })
        .await;
}

/// Retries a final report while the controller is unreachable, for about as long as a lease lasts.
async fn report_final<F, Fut>(what: &str, job_id: &str, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<v1::Job>, tonic::Status>>,
{
    let mut delay = Duration::from_millis(200);
    for _ in 0..40 {
        match call().await {
            Ok(_) => return,
            Err(status)
                if matches!(
                    status.code(),
                    Code::Unavailable | Code::Unknown | Code::DeadlineExceeded | Code::Cancelled
                ) =>
            {
                tracing::warn!(job = %job_id, "failed to report {what}, retrying: {}", status.message());
            }
            Err(status) => {
                // A lost lease or an unknown job: the controller has moved on; nothing to keep.
                tracing::warn!(job = %job_id, "controller refused {what}: {}", status.message());
                return;
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
    tracing::error!(job = %job_id, "gave up reporting {what}; the lease will expire and the job will run again");
}

async fn run_lease(
    shared: Arc<Shared>,
    lease: v1::Lease,
    node_id: String,
    permit: OwnedSemaphorePermit,
    shutdown: CancellationToken,
) {
    let Some(job) = lease.job.clone() else {
        drop(permit);
        return;
    };
    let job_id = job.id.clone();
    let token = lease.token;
    tracing::info!(job = %job_id, attempt = job.attempts, "job started");
    let control = JobControl::default();
    let lost = Arc::new(AtomicBool::new(false));
    if let Ok(mut running) = shared.running.lock() {
        running.insert(
            job_id.clone(),
            HeldJob {
                token,
                control: control.clone(),
                lost: Arc::clone(&lost),
            },
        );
    }
    let spec = job.spec.clone().unwrap_or_default();
    let scratch = shared.config.scratch_dir.join(format!("{job_id}-{token}"));
    let threads = shared.config.job_threads();
    let simd = shared.config.simd;
    let fetcher = Arc::clone(&shared.fetcher);
    let work_control = control.clone();
    let mut work = tokio::task::spawn_blocking(move || {
        execute(&spec, &fetcher, &scratch, threads, simd, &work_control)
    });

    let mut lease_lost = false;
    let mut ticker = tokio::time::interval(shared.config.progress_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let outcome = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = shutdown.cancelled(), if !control.cancelled() => {
                control.cancel.store(true, Ordering::Relaxed);
            }
            _ = ticker.tick() => {
                let now = (
                    control.frames_done.load(Ordering::Relaxed),
                    control.frames_total.load(Ordering::Relaxed),
                );
                // Sent every tick, changed or not: the report is also what renews the lease.
                match shared.client().report_progress(v1::ReportProgressRequest {
                    job_id: job_id.clone(),
                    token,
                    frames_done: now.0,
                    frames_total: now.1,
                    node_id: node_id.clone(),
                }).await {
                    Ok(response) => {
                        if response.into_inner().cancel {
                            control.cancel.store(true, Ordering::Relaxed);
                        }
                    }
                    Err(status) if matches!(status.code(), Code::FailedPrecondition | Code::NotFound | Code::PermissionDenied) => {
                        tracing::warn!(job = %job_id, "lease lost: {}", status.message());
                        lease_lost = true;
                        control.cancel.store(true, Ordering::Relaxed);
                    }
                    Err(status) => {
                        tracing::warn!(job = %job_id, "failed to report progress: {}", status.message());
                    }
                }
            }
        }
    };
    // Still listed in heartbeats until the final report below is through, so that a slow
    // report (the controller restarting) does not let the lease lapse.
    lease_lost |= lost.load(Ordering::Relaxed);
    let outcome = outcome.unwrap_or_else(|e| {
        Err(ExecuteError::Transient(format!(
            "scoring task ended abnormally: {e}"
        )))
    });
    if lease_lost {
        tracing::warn!(job = %job_id, "dropping the result of a job whose lease was lost");
    } else {
        match outcome {
            Ok(executed) => {
                tracing::info!(job = %job_id, frames = executed.summary.frames, "job completed");
                let summary = executed.summary;
                let frames_json = executed.frames_json;
                report_final("completion", &job_id, || {
                    let mut client = shared.client();
                    let request = v1::CompleteJobRequest {
                        job_id: job_id.clone(),
                        token,
                        summary: Some(summary.clone()),
                        frames_json: frames_json.clone(),
                        node_id: node_id.clone(),
                    };
                    async move { client.complete_job(request).await }
                })
                .await;
            }
            Err(err) => {
                let (message, retryable) = match &err {
                    ExecuteError::Cancelled if shutdown.is_cancelled() => {
                        ("node shut down while scoring".to_string(), true)
                    }
                    ExecuteError::Cancelled => ("cancelled".to_string(), false),
                    other => (other.to_string(), other.retryable()),
                };
                tracing::warn!(job = %job_id, retryable, "job failed: {message}");
                report_final("failure", &job_id, || {
                    let mut client = shared.client();
                    let request = v1::FailJobRequest {
                        job_id: job_id.clone(),
                        token,
                        error: message.clone(),
                        retryable,
                        node_id: node_id.clone(),
                    };
                    async move { client.fail_job(request).await }
                })
                .await;
            }
        }
    }
    if let Ok(mut running) = shared.running.lock() {
        running.remove(&job_id);
    }
    drop(permit);
    shared.wake.notify_one();
}
