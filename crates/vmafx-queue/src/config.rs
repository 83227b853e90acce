//! Queue settings: leases, retries, node timeouts and the node capacity cap.

use serde::{Deserialize, Serialize};

/// Knobs of the queue; durations are in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueConfig {
    /// How long a claim lasts without a heartbeat or progress report.
    pub lease_ms: i64,
    /// Attempts per job when its spec names none.
    pub default_max_attempts: u32,
    /// Delay before the first retry; each further retry doubles it.
    pub backoff_base_ms: i64,
    /// The longest retry delay.
    pub backoff_max_ms: i64,
    /// A node silent this long is unhealthy and its jobs are reclaimed.
    pub node_timeout_ms: i64,
    /// The largest capacity a node may register with; a claim never leases a node more jobs at
    /// once than this, whatever it registered with earlier.
    pub max_node_capacity: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            lease_ms: 30_000,
            default_max_attempts: 3,
            backoff_base_ms: 1_000,
            backoff_max_ms: 60_000,
            node_timeout_ms: 60_000,
            max_node_capacity: 256,
        }
    }
}

impl QueueConfig {
    /// The delay before the retry that follows attempt number `attempts` (1-based).
    pub fn backoff_ms(&self, attempts: u32) -> i64 {
        let doublings = attempts.saturating_sub(1).min(62);
        let delay = self
            .backoff_base_ms
            .max(0)
            .saturating_mul(1_i64 << doublings);
        delay.min(self.backoff_max_ms.max(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let config = QueueConfig::default();
        assert_eq!(config.backoff_ms(1), 1_000);
        assert_eq!(config.backoff_ms(2), 2_000);
        assert_eq!(config.backoff_ms(3), 4_000);
        assert_eq!(config.backoff_ms(7), 60_000);
        assert_eq!(config.backoff_ms(u32::MAX), 60_000);
    }
}
