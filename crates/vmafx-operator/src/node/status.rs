//! The pure half of node health: what the controller's registry says, the health decision, and
//! whether a new status is worth a write.

#[allow(unused_imports)]
use super::*;

/// What the controller's node registry says about the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Registry {
    /// The worker registered; its newest registration.
    Found {
        /// The controller's id for it.
        id: String,
        /// When its last heartbeat arrived, in Unix milliseconds.
        last_heartbeat_ms: i64,
        /// Jobs it runs now.
        running: u32,
        /// The device it reported.
        device: String,
    },
    /// No worker of this name registered.
    NotRegistered,
    /// The controller could not be asked.
    Unreachable(String),
}

/// The outcome of one health check.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthDecision {
    /// Probe answered and heartbeat fresh.
    pub healthy: bool,
    /// PascalCase reason for the Healthy condition.
    pub reason: &'static str,
    /// Human-readable detail.
    pub message: String,
    /// When to check again.
    pub recheck: Duration,
}

/// Decides health from the probe's outcome (`Err` says why it failed) and the registry, at
/// `now_ms`. The next check comes after [`PROBE_INTERVAL`], or sooner if the heartbeat turns
/// stale before then, so staleness is noticed within a fraction of a second.
pub fn decide_health(
    probe: &Result<(), String>,
    registry: &Registry,
    now_ms: i64,
) -> HealthDecision {
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    let mut recheck = PROBE_INTERVAL;
    if let Err(why) = probe {
        problems.push(("ProbeFailed", format!("health probe failed: {why}")));
    }
    match registry {
        Registry::Found {
            last_heartbeat_ms, ..
        } => {
            let age = Duration::from_millis(u64::try_from(now_ms - last_heartbeat_ms).unwrap_or(0));
            if age > HEARTBEAT_TIMEOUT {
                problems.push((
                    "HeartbeatStale",
                    format!(
                        "stale heartbeat: the last one reached the controller {} s ago, more than {} s",
                        age.as_secs(),
                        HEARTBEAT_TIMEOUT.as_secs()
                    ),
                ));
            } else {
                recheck = recheck.min(HEARTBEAT_TIMEOUT - age + STALE_MARGIN);
            }
        }
        Registry::NotRegistered => problems.push((
            "NotRegistered",
            "the worker has not registered with the controller".to_owned(),
        )),
        Registry::Unreachable(why) => problems.push((
            "ControllerUnreachable",
            format!("failed to read the controller's node registry: {why}"),
        )),
    }
    match problems.first() {
        None => HealthDecision {
            healthy: true,
            reason: "Healthy",
            message: "the worker answers its health probe and heartbeats".to_owned(),
            recheck,
        },
        Some((reason, _)) => HealthDecision {
            healthy: false,
            reason,
            message: problems
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            recheck,
        },
    }
}

/// The newest registration named `name` among the controller's nodes.
pub fn find_registration(nodes: &[vmafx_api::v1::Node], name: &str) -> Registry {
    nodes
        .iter()
        .filter(|n| n.info.as_ref().is_some_and(|i| i.name == name))
        .max_by_key(|n| n.last_heartbeat_ms.max(n.registered_ms))
        .map_or(Registry::NotRegistered, |n| Registry::Found {
            id: n.id.clone(),
            last_heartbeat_ms: n.last_heartbeat_ms.max(n.registered_ms),
            running: n.running,
            device: n
                .info
                .as_ref()
                .map(|i| i.device.clone())
                .unwrap_or_default(),
        })
}

pub(crate) fn time_from_ms(ms: i64) -> Option<Time> {
    Timestamp::from_millisecond(ms).ok().map(Time)
}

/// Whether `next` differs from `prev` in more than the probe time, which moves on every check.
pub(crate) fn worth_writing(
    prev: &VmafxNodeStatus,
    next: &VmafxNodeStatus,
    now: Timestamp,
) -> bool {
    let probe_age = prev.last_probe_time.as_ref().map_or(PROBE_INTERVAL, |t| {
        Duration::try_from(now.duration_since(t.0)).unwrap_or_default()
    });
    let mut same = next.clone();
    same.last_probe_time = prev.last_probe_time.clone();
    // Each write triggers another reconcile; refreshing only a recent probe time would loop.
    same != *prev
        || (next.last_probe_time != prev.last_probe_time && probe_age >= PROBE_INTERVAL / 2)
}
