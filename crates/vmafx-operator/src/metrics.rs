//! The operator's Prometheus metrics, under the names controller-runtime uses so existing
//! dashboards and alerts keep working: reconcile counts and latency per controller, work-queue
//! depth, and leader status.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// How a reconcile ended, in controller-runtime's vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconcileResult {
    /// Finished, nothing scheduled.
    Success,
    /// Finished with an error; retried with backoff.
    Error,
    /// Finished and asked to run again after a delay.
    RequeueAfter,
}

impl ReconcileResult {
    fn as_str(self) -> &'static str {
        match self {
            ReconcileResult::Success => "success",
            ReconcileResult::Error => "error",
            ReconcileResult::RequeueAfter => "requeue_after",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    controller: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabel {
    controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    controller: String,
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LeaseLabel {
    name: String,
}

/// Every metric the operator exports, registered once.
pub struct Metrics {
    registry: Mutex<Registry>,
    reconcile_total: Family<ReconcileLabels, Counter>,
    reconcile_errors: Family<ControllerLabel, Counter>,
    reconcile_time: Family<ControllerLabel, Histogram>,
    queue_depth: Family<QueueLabels, Gauge>,
    leader: Family<LeaseLabel, Gauge>,
    pending: Mutex<HashMap<&'static str, HashSet<String>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers the metrics.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let reconcile_total = Family::<ReconcileLabels, Counter>::default();
        let reconcile_errors = Family::<ControllerLabel, Counter>::default();
        let reconcile_time = Family::<ControllerLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        let queue_depth = Family::<QueueLabels, Gauge>::default();
        let leader = Family::<LeaseLabel, Gauge>::default();
        registry.register(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            reconcile_total.clone(),
        );
        registry.register(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            reconcile_errors.clone(),
        );
        registry.register(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            reconcile_time.clone(),
        );
        registry.register(
            "workqueue_depth",
            "Current depth of workqueue",
            queue_depth.clone(),
        );
        registry.register(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master",
            leader.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            reconcile_total,
            reconcile_errors,
            reconcile_time,
            queue_depth,
            leader,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Makes every controller's series exist at zero, so dashboards see them before the first event.
    pub fn register_controller(&self, controller: &'static str) {
        for result in [
            ReconcileResult::Success,
            ReconcileResult::Error,
            ReconcileResult::RequeueAfter,
        ] {
            let _ = self.reconcile_total.get_or_create(&ReconcileLabels {
                controller: controller.to_owned(),
                result: result.as_str().to_owned(),
            });
        }
        let _ = self.reconcile_errors.get_or_create(&ControllerLabel {
            controller: controller.to_owned(),
        });
        let _ = self.reconcile_time.get_or_create(&ControllerLabel {
            controller: controller.to_owned(),
        });
        self.queue_depth
            .get_or_create(&queue_labels(controller))
            .set(0);
    }

    /// Notes that object `key` is waiting to be reconciled by `controller` (a watch event arrived).
    pub fn enqueued(&self, controller: &'static str, key: String) {
        let mut pending = lock(&self.pending);
        let set = pending.entry(controller).or_default();
        set.insert(key);
        let depth = set.len() as i64;
        self.queue_depth
            .get_or_create(&queue_labels(controller))
            .set(depth);
    }

    /// Notes that `controller` started reconciling object `key`.
    pub fn dequeued(&self, controller: &'static str, key: &str) {
        let mut pending = lock(&self.pending);
        let set = pending.entry(controller).or_default();
        set.remove(key);
        let depth = set.len() as i64;
        self.queue_depth
            .get_or_create(&queue_labels(controller))
            .set(depth);
    }

    /// Records one finished reconcile of `controller`.
    pub fn reconciled(&self, controller: &'static str, result: ReconcileResult, took: Duration) {
        self.reconcile_total
            .get_or_create(&ReconcileLabels {
                controller: controller.to_owned(),
                result: result.as_str().to_owned(),
            })
            .inc();
        if result == ReconcileResult::Error {
            self.reconcile_errors
                .get_or_create(&ControllerLabel {
                    controller: controller.to_owned(),
                })
                .inc();
        }
        self.reconcile_time
            .get_or_create(&ControllerLabel {
                controller: controller.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// Sets whether this process holds lease `name`.
    pub fn set_leader(&self, name: &str, leader: bool) {
        self.leader
            .get_or_create(&LeaseLabel {
                name: name.to_owned(),
            })
            .set(i64::from(leader));
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = lock(&self.registry);
        if encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

fn queue_labels(controller: &str) -> QueueLabels {
    QueueLabels {
        controller: controller.to_owned(),
        name: controller.to_owned(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_controller_runtime_names() {
        let metrics = Metrics::new();
        metrics.register_controller("vmafxjob");
        metrics.enqueued("vmafxjob", "ns/a".into());
        metrics.enqueued("vmafxjob", "ns/b".into());
        metrics.enqueued("vmafxjob", "ns/a".into());
        metrics.dequeued("vmafxjob", "ns/b");
        metrics.reconciled(
            "vmafxjob",
            ReconcileResult::Success,
            Duration::from_millis(3),
        );
        metrics.reconciled("vmafxjob", ReconcileResult::Error, Duration::from_millis(3));
        metrics.set_leader("vmafx-operator.vmafx.dev", true);
        let text = metrics.encode();
        for line in [
            "controller_runtime_reconcile_total{controller=\"vmafxjob\",result=\"success\"} 1",
            "controller_runtime_reconcile_total{controller=\"vmafxjob\",result=\"error\"} 1",
            "controller_runtime_reconcile_total{controller=\"vmafxjob\",result=\"requeue_after\"} 0",
            "controller_runtime_reconcile_errors_total{controller=\"vmafxjob\"} 1",
            "controller_runtime_reconcile_time_seconds_count{controller=\"vmafxjob\"} 2",
            "workqueue_depth{controller=\"vmafxjob\",name=\"vmafxjob\"} 1",
            "leader_election_master_status{name=\"vmafx-operator.vmafx.dev\"} 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }
}
