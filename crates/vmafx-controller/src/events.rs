//! Job change notifications: every change the controller makes is broadcast, and `WatchJob`
//! streams pick out the job they follow.

use std::sync::Arc;

use tokio::sync::broadcast;
use vmafx_api::v1;

/// How many changes a slow watcher may fall behind before it must re-read the job.
const BACKLOG: usize = 4096;

/// The broadcast of job changes.
pub struct JobEvents {
    sender: broadcast::Sender<Arc<v1::Job>>,
}

impl JobEvents {
    /// A broadcast with no subscribers yet.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(BACKLOG);
        JobEvents { sender }
    }

    /// Announces a job's new state; nobody listening is fine.
    pub fn publish(&self, job: v1::Job) {
        let _ = self.sender.send(Arc::new(job));
    }

    /// Whether anyone listens (progress updates are only read back for watchers).
    pub fn has_watchers(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    /// Changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<v1::Job>> {
        self.sender.subscribe()
    }
}
