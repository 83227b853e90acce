//! The controller's shared context: request validation, store calls on blocking threads, change
//! publication for watchers, and metrics. The gRPC and HTTP front ends are thin layers over it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use vmafx_api::v1;
use vmafx_queue::{HeartbeatAck, HeldAttempt, JobStore, QueueConfig};

use crate::auth::{Access, Denied, Identity, Role};
use crate::convert;
use crate::events::{JobEvents, JobWatch};
use crate::metrics::Metrics;

/// Tunables of a controller.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Leases, retries, back-off and node timeout.
    pub queue: QueueConfig,
    /// How often expired leases and silent nodes are looked for.
    pub reap_interval: Duration,
    /// Finished jobs (and their per-frame results) older than this are deleted; `None` keeps
    /// them for ever.
    pub retain_finished: Option<Duration>,
    /// Nodes silent for this long, with no running job, are forgotten.
    pub forget_nodes_after: Duration,
    /// How many `WatchJob` streams may be open at once; more are refused as RESOURCE_EXHAUSTED.
    pub max_watch_streams: usize,
    /// Which inputs a submitted job may name (checked at submit time).
    pub policy: vmafx_contract::InputPolicy,
}

/// How long finished jobs are kept unless configured otherwise.
pub const DEFAULT_RETAIN_FINISHED: Duration = Duration::from_secs(30 * 24 * 3600);

/// How long a dead node stays listed unless configured otherwise.
pub const DEFAULT_FORGET_NODES_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How many watch streams may be open unless configured otherwise: twice what one operator uses
/// at its largest (5,000), so a client that leaks streams cannot exhaust memory.
pub const DEFAULT_MAX_WATCH_STREAMS: usize = 10_000;

/// How often retention runs: deleting is bounded per call, so frequent small calls keep up
/// without ever holding the writer long.
const PURGE_EVERY: Duration = Duration::from_secs(60);

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            queue: QueueConfig::default(),
            reap_interval: Duration::from_secs(1),
            retain_finished: Some(DEFAULT_RETAIN_FINISHED),
            forget_nodes_after: DEFAULT_FORGET_NODES_AFTER,
            max_watch_streams: DEFAULT_MAX_WATCH_STREAMS,
            policy: vmafx_contract::InputPolicy::default(),
        }
    }
}

/// Why a controller call failed; each maps onto one gRPC status and one HTTP status.
#[derive(Debug, Error)]
pub enum ControllerError {
    /// The request is malformed; the message names the field.
    #[error("{0}")]
    InvalidArgument(String),
    /// No such job or node.
    #[error("{0}")]
    NotFound(String),
    /// The caller's lease on a job is gone (it expired and the job moved on).
    #[error("{0}")]
    LeaseLost(String),
    /// The idempotency key is taken by a different request.
    #[error("{0}")]
    Conflict(String),
    /// The caller sent no valid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// A bound on concurrent work is reached; try again later.
    #[error("{0}")]
    ResourceExhausted(String),
    /// The store failed.
    #[error("failed to access the job store: {0}")]
    Store(String),
}

impl From<Denied> for ControllerError {
    fn from(denied: Denied) -> Self {
        ControllerError::PermissionDenied(denied.to_string())
    }
}

impl From<vmafx_queue::Error> for ControllerError {
    fn from(err: vmafx_queue::Error) -> Self {
        convert::queue_error(err)
    }
}

/// Milliseconds since the Unix epoch, the store's clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The most node ids whose names are cached; past it the cache starts afresh (ids are never
/// reused, so a stale entry is only a missed shortcut, never a wrong answer).
const NODE_NAME_CACHE: usize = 10_000;

/// The controller: one per process, shared by every front end.
pub struct Controller {
    store: Arc<dyn JobStore>,
    events: Arc<JobEvents>,
    metrics: Metrics,
    config: ControllerConfig,
    /// Node id → registered name, for checking that a node acts only as itself.
    node_names: Mutex<HashMap<String, String>>,
    watch_streams: Arc<AtomicUsize>,
}

/// An open `WatchJob` stream's place in the bound; dropping it frees the place.
pub struct WatchSlot(Arc<AtomicUsize>);

impl Drop for WatchSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether every number of a result summary is finite: NaN and infinities are not scores.
fn check_summary(summary: Option<&v1::JobSummary>) -> Result<(), ControllerError> {
    for (i, model) in summary.iter().flat_map(|s| s.models.iter()).enumerate() {
        for (name, value) in [
            ("mean", model.mean),
            ("min", model.min),
            ("max", model.max),
            ("harmonic_mean", model.harmonic_mean),
        ] {
            if !value.is_finite() {
                return Err(ControllerError::InvalidArgument(format!(
                    "summary.models[{i}].{name}: {value} is not a score (must be finite)"
                )));
            }
        }
    }
    Ok(())
}

impl Controller {
    /// A controller over `store`.
    pub fn new(store: Arc<dyn JobStore>, config: ControllerConfig) -> Arc<Controller> {
        Arc::new(Controller {
            store,
            events: Arc::new(JobEvents::new()),
            metrics: Metrics::new(),
            config,
            node_names: Mutex::new(HashMap::new()),
            watch_streams: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The controller's settings.
    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    /// Runs a store call on a blocking thread: SQLite commits wait for the disk.
    async fn store_call<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn JobStore) -> Result<T, vmafx_queue::Error> + Send + 'static,
    ) -> Result<T, ControllerError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || call(store.as_ref()))
            .await
            .map_err(|e| ControllerError::Store(format!("store task ended: {e}")))?
            .map_err(ControllerError::from)
    }

    fn publish(&self, job: &v1::Job) {
        if vmafx_api::view::is_terminal(job.state) {
            self.metrics
                .job_finished(vmafx_api::view::state_name(job.state));
        }
        self.events.publish(job.clone());
    }

    /// Queues a job, or returns the job an earlier submission with the same idempotency key made.
    pub async fn submit(
        &self,
        caller: &Identity,
        spec: Option<v1::JobSpec>,
        idempotency_key: String,
    ) -> Result<(v1::Job, bool), ControllerError> {
        caller.require(Access::Submit)?;
        let spec = spec.ok_or_else(|| ControllerError::InvalidArgument("spec: missing".into()))?;
        let spec = convert::validate_spec(&spec, idempotency_key, &self.config.policy)?;
        let submitted = self
            .store_call(move |store| store.submit(spec, now_ms()))
            .await?;
        let job = convert::job(&submitted.job);
        if submitted.created {
            tracing::info!(job = %job.id, caller = %caller.name, "job submitted");
            self.metrics.job_submitted();
            self.publish(&job);
        }
        Ok((job, submitted.created))
    }

    /// One job.
    pub async fn get_job(&self, caller: &Identity, id: String) -> Result<v1::Job, ControllerError> {
        caller.require(Access::Read)?;
        self.read_job(id).await
    }

    async fn read_job(&self, id: String) -> Result<v1::Job, ControllerError> {
        let wanted = id.clone();
        self.store_call(move |store| store.get(&wanted))
            .await?
            .map(|job| convert::job(&job))
            .ok_or_else(|| ControllerError::NotFound(format!("job {id} not found")))
    }

    /// A page of jobs, newest first.
    pub async fn list_jobs(
        &self,
        caller: &Identity,
        request: v1::ListJobsRequest,
    ) -> Result<v1::ListJobsResponse, ControllerError> {
        caller.require(Access::Read)?;
        let filter = convert::list_filter(&request)?;
        let page = self.store_call(move |store| store.list(&filter)).await?;
        Ok(v1::ListJobsResponse {
            jobs: page.jobs.iter().map(convert::job).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    /// Cancels a job: at once when it waits, through its node when it runs.
    pub async fn cancel(&self, caller: &Identity, id: String) -> Result<v1::Job, ControllerError> {
        caller.require(Access::Submit)?;
        let job = self
            .store_call(move |store| store.cancel(&id, now_ms()))
            .await?;
        let job = convert::job(&job);
        tracing::info!(job = %job.id, caller = %caller.name, "cancel requested");
        self.publish(&job);
        Ok(job)
    }

    /// The job now and its changes from then on, holding one of the bounded watch places.
    pub async fn watch(
        &self,
        caller: &Identity,
        id: String,
    ) -> Result<(v1::Job, JobWatch, WatchSlot), ControllerError> {
        caller.require(Access::Read)?;
        let open = self.watch_streams.fetch_add(1, Ordering::AcqRel);
        let slot = WatchSlot(Arc::clone(&self.watch_streams));
        if open >= self.config.max_watch_streams {
            return Err(ControllerError::ResourceExhausted(format!(
                "{} watch streams are open, the most this controller serves; try again later",
                self.config.max_watch_streams
            )));
        }
        // Subscribe before reading the job, so no change between the two is missed.
        let changes = self.events.subscribe(&id);
        let first = self.read_job(id).await?;
        Ok((first, changes, slot))
    }

    /// Stores a target score for a completed job.
    pub async fn submit_feedback(
        &self,
        caller: &Identity,
        request: v1::SubmitFeedbackRequest,
    ) -> Result<v1::Feedback, ControllerError> {
        caller.require(Access::Submit)?;
        let v1::SubmitFeedbackRequest { job_id, target } = request;
        if job_id.is_empty() {
            return Err(ControllerError::InvalidArgument(
                "job_id: missing".to_owned(),
            ));
        }
        // Checked here too, so a bad target is refused before the writer is asked.
        vmafx_queue::check_feedback_target(target).map_err(ControllerError::from)?;
        let feedback = self
            .store_call(move |store| store.add_feedback(&job_id, target, now_ms()))
            .await?;
        tracing::info!(job = %feedback.job_id, target, caller = %caller.name, "feedback stored");
        Ok(convert::feedback(&feedback))
    }

    /// Feedback in the order given, after `request.after_seq`.
    pub async fn list_feedback(
        &self,
        caller: &Identity,
        request: v1::ListFeedbackRequest,
    ) -> Result<v1::ListFeedbackResponse, ControllerError> {
        caller.require(Access::Read)?;
        let filter = vmafx_queue::FeedbackFilter {
            after_seq: request.after_seq.max(0),
            limit: request.page_size,
        };
        let page = self
            .store_call(move |store| store.list_feedback(&filter))
            .await?;
        Ok(v1::ListFeedbackResponse {
            feedback: page.iter().map(convert::feedback).collect(),
        })
    }

    /// The per-frame results of a completed job.
    pub async fn frames(&self, caller: &Identity, id: String) -> Result<Vec<u8>, ControllerError> {
        caller.require(Access::Read)?;
        let wanted = id.clone();
        self.store_call(move |store| store.frames(&wanted))
            .await?
            .ok_or_else(|| ControllerError::NotFound(format!("job {id} has no per-frame results")))
    }

    /// A page of registered nodes, oldest first.
    pub async fn list_nodes(
        &self,
        caller: &Identity,
        request: v1::ListNodesRequest,
    ) -> Result<v1::ListNodesResponse, ControllerError> {
        caller.require(Access::Read)?;
        let filter = vmafx_queue::NodeFilter {
            limit: request.page_size,
            page_token: (!request.page_token.is_empty()).then_some(request.page_token),
        };
        let page = self
            .store_call(move |store| store.list_nodes(&filter))
            .await?;
        Ok(v1::ListNodesResponse {
            nodes: page.nodes.iter().map(convert::node).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    /// The name node `node_id` registered under, from the cache or the store.
    async fn node_name(&self, node_id: &str) -> Result<String, ControllerError> {
        if let Some(name) = self.node_names_lock().get(node_id) {
            return Ok(name.clone());
        }
        let wanted = node_id.to_owned();
        let node = self
            .store_call(move |store| store.node(&wanted))
            .await?
            .ok_or_else(|| ControllerError::NotFound(format!("node {node_id} not found")))?;
        let mut names = self.node_names_lock();
        if names.len() >= NODE_NAME_CACHE {
            names.clear();
        }
        names.insert(node.id.clone(), node.info.name.clone());
        Ok(node.info.name)
    }

    fn node_names_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.node_names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Checks that `caller` may act as node `node_id`, and returns the lease holder the store
    /// must check: a node token acts only as the node it names, on attempts that node leases.
    async fn acting_node<'a>(
        &self,
        caller: &Identity,
        node_id: &'a str,
    ) -> Result<Option<&'a str>, ControllerError> {
        caller.require(Access::Node)?;
        if caller.role != Role::Node {
            return Ok((!node_id.is_empty()).then_some(node_id));
        }
        if node_id.is_empty() {
            return Err(ControllerError::InvalidArgument(
                "node_id: required (the node the lease belongs to)".into(),
            ));
        }
        let name = self.node_name(node_id).await?;
        if !caller.may_be_node(&name) {
            return Err(ControllerError::PermissionDenied(format!(
                "permission denied: {} may act only as node {0:?}, not as node {node_id} ({name:?})",
                caller.name
            )));
        }
        Ok(Some(node_id))
    }

    /// Registers a worker node, starting a new incarnation: the attempts of an earlier process
    /// under the same name go back to the queue at once.
    pub async fn register_node(
        &self,
        caller: &Identity,
        info: Option<v1::NodeInfo>,
    ) -> Result<v1::Node, ControllerError> {
        caller.require(Access::Node)?;
        let info = info.ok_or_else(|| ControllerError::InvalidArgument("info: missing".into()))?;
        if caller.role == Role::Node && !caller.may_be_node(&info.name) {
            return Err(ControllerError::PermissionDenied(format!(
                "permission denied: {} may register only as node {0:?}, not {:?}",
                caller.name, info.name
            )));
        }
        let info = convert::validate_node_info(&info)?;
        let registered = self
            .store_call(move |store| store.register_node(info, now_ms()))
            .await?;
        let node = registered.node;
        tracing::info!(node = %node.id, name = %node.info.name, "node registered");
        self.node_names_lock()
            .insert(node.id.clone(), node.info.name.clone());
        for id in registered.requeued {
            tracing::warn!(job = %id, name = %node.info.name, "node restarted; its attempt goes back to the queue");
            if let Ok(job) = self.read_job(id).await {
                self.publish(&job);
            }
        }
        Ok(convert::node(&node))
    }

    /// Records a node's heartbeat and renews the leases it lists; returns the jobs it must
    /// cancel and the listed attempts it no longer holds.
    pub async fn heartbeat(
        &self,
        caller: &Identity,
        node_id: String,
        held: Vec<HeldAttempt>,
    ) -> Result<HeartbeatAck, ControllerError> {
        self.acting_node(caller, &node_id).await?;
        self.store_call(move |store| store.heartbeat(&node_id, &held, now_ms()))
            .await
    }

    /// Leases up to `max` jobs to a node.
    pub async fn claim(
        &self,
        caller: &Identity,
        node_id: String,
        max: u32,
    ) -> Result<Vec<v1::Lease>, ControllerError> {
        self.acting_node(caller, &node_id).await?;
        let started = std::time::Instant::now();
        let leases = self
            .store_call(move |store| store.claim(&node_id, max, now_ms()))
            .await?;
        self.metrics.claim_observed(started.elapsed());
        let leases: Vec<v1::Lease> = leases.iter().map(convert::lease).collect();
        for lease in &leases {
            if let Some(job) = &lease.job {
                self.publish(job);
            }
        }
        Ok(leases)
    }

    /// Records progress and renews the lease; returns whether the job was cancelled.
    pub async fn progress(
        &self,
        caller: &Identity,
        request: v1::ReportProgressRequest,
    ) -> Result<bool, ControllerError> {
        let holder = self
            .acting_node(caller, &request.node_id)
            .await?
            .map(str::to_owned);
        let watched = self.events.is_watched(&request.job_id);
        let ack = self
            .store_call(move |store| {
                let total = (request.frames_total != 0).then_some(request.frames_total);
                let ack = store.progress(
                    &request.job_id,
                    request.token,
                    holder.as_deref(),
                    request.frames_done,
                    total,
                    now_ms(),
                )?;
                // Only watchers need the updated job; skip the read when nobody watches.
                let job = if watched {
                    store.get(&request.job_id)?
                } else {
                    None
                };
                Ok((ack, job))
            })
            .await?;
        let (ack, job) = ack;
        if let Some(job) = job {
            self.events.publish(convert::job(&job));
        }
        Ok(ack.cancel)
    }

    /// Stores a job's result, once: a stale lease, another node's lease or a non-finite score
    /// is refused.
    pub async fn complete(
        &self,
        caller: &Identity,
        request: v1::CompleteJobRequest,
    ) -> Result<v1::Job, ControllerError> {
        let holder = self
            .acting_node(caller, &request.node_id)
            .await?
            .map(str::to_owned);
        check_summary(request.summary.as_ref())?;
        let summary = convert::summary_from_api(request.summary.as_ref());
        let job = self
            .store_call(move |store| {
                store.complete(
                    &request.job_id,
                    request.token,
                    holder.as_deref(),
                    summary,
                    request.frames_json,
                    now_ms(),
                )
            })
            .await?;
        let job = convert::job(&job);
        self.publish(&job);
        Ok(job)
    }

    /// Records a failed attempt: the job retries after a back-off or ends FAILED (or CANCELLED).
    pub async fn fail(
        &self,
        caller: &Identity,
        request: v1::FailJobRequest,
    ) -> Result<v1::Job, ControllerError> {
        let holder = self
            .acting_node(caller, &request.node_id)
            .await?
            .map(str::to_owned);
        let job = self
            .store_call(move |store| {
                store.fail(
                    &request.job_id,
                    request.token,
                    holder.as_deref(),
                    &request.error,
                    request.retryable,
                    now_ms(),
                )
            })
            .await?;
        let job = convert::job(&job);
        self.publish(&job);
        Ok(job)
    }

    /// Requeues jobs whose lease expired and marks silent nodes unhealthy.
    pub async fn reap(&self) -> Result<(), ControllerError> {
        let reaped = self.store_call(|store| store.reap(now_ms())).await?;
        for node in &reaped.unhealthy_nodes {
            tracing::warn!(node = %node, "node missed its heartbeats; marked unhealthy");
        }
        for id in reaped
            .requeued
            .iter()
            .chain(&reaped.failed)
            .chain(&reaped.cancelled)
        {
            tracing::warn!(job = %id, "lease expired; job taken back");
            if let Ok(job) = self.read_job(id.clone()).await {
                self.publish(&job);
            }
        }
        Ok(())
    }

    /// Deletes finished jobs past the retention time and nodes dead for longer than
    /// `forget_nodes_after`, a bounded batch per call.
    pub async fn purge(&self) -> Result<vmafx_queue::Purged, ControllerError> {
        let now = now_ms();
        let before =
            |age: Duration| now.saturating_sub(age.as_millis().min(i64::MAX as u128) as i64);
        let finished_before = self.config.retain_finished.map(before);
        let dead_before = Some(before(self.config.forget_nodes_after));
        let purged = self
            .store_call(move |store| store.purge(finished_before, dead_before, now))
            .await?;
        if purged.jobs > 0 || purged.nodes > 0 {
            tracing::info!(
                jobs = purged.jobs,
                nodes = purged.nodes,
                "retention: deleted old jobs and nodes"
            );
        }
        Ok(purged)
    }

    /// Whether the store answers and can make a write durable: false while the disk is full or
    /// the volume read-only, so the controller is taken out of service instead of failing every
    /// submission.
    pub async fn store_ready(&self) -> bool {
        self.store_call(|store| store.check_writable())
            .await
            .is_ok()
    }

    /// Why the store stopped for good (a failed fsync), if it did: the process must exit and
    /// recover from the WAL on restart rather than acknowledge anything more.
    pub fn store_failure(&self) -> Option<String> {
        self.store.failure()
    }

    /// The Prometheus exposition of the controller's metrics, with queue gauges read now.
    pub async fn metrics_text(&self, caller: &Identity) -> Result<String, ControllerError> {
        caller.require(Access::Read)?;
        let counts = self.store_call(|store| store.counts()).await?;
        let nodes = self.store_call(|store| store.nodes()).await?;
        Ok(self.metrics.render(&counts, &nodes))
    }
}

/// How often retention runs; see [`Controller::purge`].
pub fn purge_interval() -> Duration {
    PURGE_EVERY
}
