//! The controller's Prometheus metrics: submissions, terminal outcomes, claim latency, and queue
//! and node gauges read from the store at scrape time.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use vmafx_queue::{JobCounts, JobState, Node};

/// A label set with one `state` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

/// A label set with one `healthy` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabel {
    healthy: String,
}

/// Every metric the controller exports, registered once.
pub struct Metrics {
    registry: Mutex<Registry>,
    submitted: Counter,
    finished: Family<StateLabel, Counter>,
    jobs: Family<StateLabel, Gauge>,
    nodes: Family<HealthLabel, Gauge>,
    claim_seconds: Histogram,
}

impl Metrics {
    /// Registers the metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("vmafx");
        let submitted = Counter::default();
        let finished = Family::<StateLabel, Counter>::default();
        let jobs = Family::<StateLabel, Gauge>::default();
        let nodes = Family::<HealthLabel, Gauge>::default();
        let claim_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        registry.register(
            "jobs_submitted",
            "Jobs accepted into the queue",
            submitted.clone(),
        );
        registry.register(
            "jobs_finished",
            "Jobs that reached a terminal state, by state",
            finished.clone(),
        );
        registry.register("jobs", "Jobs in the store, by state", jobs.clone());
        registry.register("nodes", "Registered worker nodes, by health", nodes.clone());
        registry.register(
            "claim_duration_seconds",
            "Time to lease jobs to a node, store commit included",
            claim_seconds.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            submitted,
            finished,
            jobs,
            nodes,
            claim_seconds,
        }
    }

    /// Counts one new job.
    pub fn job_submitted(&self) {
        self.submitted.inc();
    }

    /// Counts one job reaching `state`.
    pub fn job_finished(&self, state: &str) {
        self.finished
            .get_or_create(&StateLabel {
                state: state.to_string(),
            })
            .inc();
    }

    /// Records one claim's latency.
    pub fn claim_observed(&self, took: Duration) {
        self.claim_seconds.observe(took.as_secs_f64());
    }

    /// The text exposition, with gauges set from `counts` and `nodes`.
    pub fn render(&self, counts: &JobCounts, nodes: &[Node]) -> String {
        for state in [
            JobState::Pending,
            JobState::Running,
            JobState::Completed,
            JobState::Failed,
            JobState::Cancelled,
        ] {
            let count = counts.get(state);
            self.jobs
                .get_or_create(&StateLabel {
                    state: state.as_str().to_string(),
                })
                .set(count as i64);
        }
        let healthy = nodes.iter().filter(|n| n.healthy).count() as i64;
        for (label, value) in [("true", healthy), ("false", nodes.len() as i64 - healthy)] {
            self.nodes
                .get_or_create(&HealthLabel {
                    healthy: label.to_string(),
                })
                .set(value);
        }
        let mut text = String::new();
        let registry = match self.registry.lock() {
            Ok(registry) => registry,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &registry);
        text
    }
}
