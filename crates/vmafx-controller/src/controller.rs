//! The controller's shared context: request validation, store calls on blocking threads, change
//! publication for watchers, and metrics. The gRPC and HTTP front ends are thin layers over it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use vmafx_api::v1;
use vmafx_queue::{JobStore, QueueConfig};

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
    /// Which inputs a submitted job may name (checked at submit time).
    pub policy: vmafx_contract::InputPolicy,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            queue: QueueConfig::default(),
            reap_interval: Duration::from_secs(1),
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
    /// The store failed.
    #[error("failed to access the job store: {0}")]
    Store(String),
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

/// The controller: one per process, shared by every front end.
pub struct Controller {
    store: Arc<dyn JobStore>,
    events: Arc<JobEvents>,
    metrics: Metrics,
    config: ControllerConfig,
}

impl Controller {
    /// A controller over `store`.
    pub fn new(store: Arc<dyn JobStore>, config: ControllerConfig) -> Arc<Controller> {
        Arc::new(Controller {
            store,
            events: Arc::new(JobEvents::new()),
            metrics: Metrics::new(),
            config,
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
        spec: Option<v1::JobSpec>,
        idempotency_key: String,
    ) -> Result<(v1::Job, bool), ControllerError> {
        let spec = spec.ok_or_else(|| ControllerError::InvalidArgument("spec: missing".into()))?;
        let spec = convert::validate_spec(&spec, idempotency_key, &self.config.policy)?;
        let submitted = self
            .store_call(move |store| store.submit(spec, now_ms()))
            .await?;
        let job = convert::job(&submitted.job);
        if submitted.created {
            self.metrics.job_submitted();
            self.publish(&job);
        }
        Ok((job, submitted.created))
    }

    /// One job.
    pub async fn get_job(&self, id: String) -> Result<v1::Job, ControllerError> {
        let wanted = id.clone();
        self.store_call(move |store| store.get(&wanted))
            .await?
            .map(|job| convert::job(&job))
            .ok_or_else(|| ControllerError::NotFound(format!("job {id} not found")))
    }

    /// A page of jobs, newest first.
    pub async fn list_jobs(
        &self,
        request: v1::ListJobsRequest,
    ) -> Result<v1::ListJobsResponse, ControllerError> {
        let filter = convert::list_filter(&request)?;
        let page = self.store_call(move |store| store.list(&filter)).await?;
        Ok(v1::ListJobsResponse {
            jobs: page.jobs.iter().map(convert::job).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    /// Cancels a job: at once when it waits, through its node when it runs.
    pub async fn cancel(&self, id: String) -> Result<v1::Job, ControllerError> {
        let job = self
            .store_call(move |store| store.cancel(&id, now_ms()))
            .await?;
        let job = convert::job(&job);
        self.publish(&job);
        Ok(job)
    }

    /// The changes of job `id` from now on.
    pub fn subscribe(&self, id: &str) -> JobWatch {
        self.events.subscribe(id)
    }

    /// The per-frame results of a completed job.
    pub async fn frames(&self, id: String) -> Result<Vec<u8>, ControllerError> {
        let wanted = id.clone();
        self.store_call(move |store| store.frames(&wanted))
            .await?
            .ok_or_else(|| ControllerError::NotFound(format!("job {id} has no per-frame results")))
    }

    /// Every registered node.
    pub async fn nodes(&self) -> Result<Vec<v1::Node>, ControllerError> {
        let nodes = self.store_call(|store| store.nodes()).await?;
        Ok(nodes.iter().map(convert::node).collect())
    }

    /// Registers (or re-registers) a worker node.
    pub async fn register_node(
        &self,
        info: Option<v1::NodeInfo>,
    ) -> Result<v1::Node, ControllerError> {
        let info = info.ok_or_else(|| ControllerError::InvalidArgument("info: missing".into()))?;
        let info = convert::validate_node_info(&info)?;
        let node = self
            .store_call(move |store| store.register_node(info, now_ms()))
            .await?;
        tracing::info!(node = %node.id, name = %node.info.name, "node registered");
        Ok(convert::node(&node))
    }

    /// Records a node's heartbeat; returns the jobs it must cancel.
    pub async fn heartbeat(&self, node_id: String) -> Result<Vec<String>, ControllerError> {
        let ack = self
            .store_call(move |store| store.heartbeat(&node_id, now_ms()))
            .await?;
        Ok(ack.cancel)
    }

    /// Leases up to `max` jobs to a node.
    pub async fn claim(
        &self,
        node_id: String,
        max: u32,
    ) -> Result<Vec<v1::Lease>, ControllerError> {
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
        request: v1::ReportProgressRequest,
    ) -> Result<bool, ControllerError> {
        let watched = self.events.is_watched(&request.job_id);
        let ack = self
            .store_call(move |store| {
                let total = (request.frames_total != 0).then_some(request.frames_total);
                let ack = store.progress(
                    &request.job_id,
                    request.token,
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

    /// Stores a job's result, once: a stale lease is refused.
    pub async fn complete(
        &self,
        request: v1::CompleteJobRequest,
    ) -> Result<v1::Job, ControllerError> {
        let summary = convert::summary_from_api(request.summary.as_ref());
        let job = self
            .store_call(move |store| {
                store.complete(
                    &request.job_id,
                    request.token,
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
    pub async fn fail(&self, request: v1::FailJobRequest) -> Result<v1::Job, ControllerError> {
        let job = self
            .store_call(move |store| {
                store.fail(
                    &request.job_id,
                    request.token,
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
            if let Ok(job) = self.get_job(id.clone()).await {
                self.publish(&job);
            }
        }
        Ok(())
    }

    /// Whether the store answers.
    pub async fn store_ready(&self) -> bool {
        self.store_call(|store| store.counts()).await.is_ok()
    }

    /// The Prometheus exposition of the controller's metrics, with queue gauges read now.
    pub async fn metrics_text(&self) -> Result<String, ControllerError> {
        let counts = self.store_call(|store| store.counts()).await?;
        let nodes = self.store_call(|store| store.nodes()).await?;
        Ok(self.metrics.render(&counts, &nodes))
    }
}
