//! The operator's Prometheus metrics, under the names controller-runtime uses so existing
//! dashboards and alerts keep working: reconcile counts and latency per controller, work-queue
//! depth, leader status, and client-go's count of API requests; plus the calls made to the vmafx
//! controller.

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
struct RequestLabels {
    method: String,
    resource: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabel {
    rpc: String,
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
    api_requests: Family<RequestLabels, Counter>,
    controller_calls: Family<RpcLabel, Counter>,
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
        let api_requests = Family::<RequestLabels, Counter>::default();
        let controller_calls = Family::<RpcLabel, Counter>::default();
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
        registry.register(
            "rest_client_requests",
            "Number of HTTP requests to the Kubernetes API, partitioned by method, resource and status code",
            api_requests.clone(),
        );
        registry.register(
            "vmafx_operator_controller_requests",
            "Number of calls to the vmafx controller's gRPC API (a WatchJob stream counts once), by method",
            controller_calls.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            reconcile_total,
            reconcile_errors,
            reconcile_time,
            queue_depth,
            leader,
            api_requests,
            controller_calls,
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

    /// Counts one answered request to the Kubernetes API: `method` as sent, `resource` as
    /// [`api_resource`] names it, `code` the HTTP status (`<error>` when none came back).
    pub fn api_request(&self, method: &str, resource: &str, code: &str) {
        self.api_requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                resource: resource.to_owned(),
                code: code.to_owned(),
            })
            .inc();
    }

    /// Counts one call to the controller, `path` being the gRPC path
    /// (`/vmafx.v1.JobService/SubmitJob` is counted as `SubmitJob`).
    pub fn controller_call(&self, path: &str) {
        let rpc = path.rsplit('/').next().unwrap_or(path);
        self.controller_calls
            .get_or_create(&RpcLabel {
                rpc: rpc.to_owned(),
            })
            .inc();
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

/// The resource a Kubernetes API path addresses, with its subresource and `watch` when the
/// request is a watch: `/apis/vmafx.dev/v1/namespaces/a/vmafxjobs/b/status` → `vmafxjobs/status`.
/// Names and namespaces are left out so the label's values stay few.
pub fn api_resource(path: &str, query: Option<&str>) -> String {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // Skip the group and version: /api/v1/… or /apis/GROUP/VERSION/…
    let rest = match segments.first() {
        Some(&"api") => segments.get(2..),
        Some(&"apis") => segments.get(3..),
        _ => None,
    };
    let Some(rest) = rest.filter(|rest| !rest.is_empty()) else {
        return path.to_owned();
    };
    let rest = match rest {
        ["namespaces", _, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    let mut resource = rest[0].to_owned();
    if let Some(sub) = rest.get(2) {
        resource.push('/');
        resource.push_str(sub);
    }
    let watching = query.is_some_and(|q| q.split('&').any(|pair| pair == "watch=true"));
    if watching {
        resource.push_str(" watch");
    }
    resource
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

    #[test]
    fn counts_api_requests_and_controller_calls() {
        let metrics = Metrics::new();
        metrics.api_request("PATCH", "vmafxjobs/status", "200");
        metrics.api_request("PATCH", "vmafxjobs/status", "200");
        metrics.controller_call("/vmafx.v1.JobService/SubmitJob");
        let text = metrics.encode();
        for line in [
            "rest_client_requests_total{method=\"PATCH\",resource=\"vmafxjobs/status\",code=\"200\"} 2",
            "vmafx_operator_controller_requests_total{rpc=\"SubmitJob\"} 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn names_the_resource_of_an_api_path() {
        for (path, query, want) in [
            (
                "/apis/vmafx.dev/v1/namespaces/a/vmafxjobs/b/status",
                None,
                "vmafxjobs/status",
            ),
            (
                "/apis/vmafx.dev/v1/vmafxjobs",
                Some("watch=true&timeoutSeconds=290"),
                "vmafxjobs watch",
            ),
            ("/apis/events.k8s.io/v1/namespaces/a/events", None, "events"),
            ("/api/v1/namespaces/a", None, "namespaces"),
            ("/api/v1/namespaces", None, "namespaces"),
            (
                "/apis/coordination.k8s.io/v1/namespaces/a/leases/l",
                None,
                "leases",
            ),
            ("/version", None, "/version"),
        ] {
            assert_eq!(api_resource(path, query), want, "{path}");
        }
    }
}
