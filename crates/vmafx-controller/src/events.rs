//! Job change notifications: every change the controller makes goes to the `WatchJob` streams of
//! that one job. Watchers are kept per job id, so a change costs the same whether ten jobs or ten
//! thousand are watched (a single broadcast would wake every watcher for every change).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;
use vmafx_api::v1;

type Latest = Option<Arc<v1::Job>>;

/// The registry of watched jobs.
#[derive(Default)]
pub struct JobEvents {
    watched: Mutex<HashMap<String, watch::Sender<Latest>>>,
}

/// Locks `mutex`, carrying on if a panicking thread poisoned it: each update is one map
/// operation, so the map is never half-written.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl JobEvents {
    /// A registry with no watchers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Announces a job's new state to its watchers; nobody listening is fine.
    pub fn publish(&self, job: v1::Job) {
        let mut watched = lock(&self.watched);
        if let Some(sender) = watched.get(&job.id) {
            if sender.receiver_count() == 0 {
                watched.remove(&job.id);
            } else {
                sender.send_replace(Some(Arc::new(job)));
            }
        }
    }

    /// Whether anyone watches job `id` (progress is only read back for watched jobs).
    pub fn is_watched(&self, id: &str) -> bool {
        lock(&self.watched)
            .get(id)
            .is_some_and(|sender| sender.receiver_count() > 0)
    }

    /// Changes of job `id` from now on. Only the newest change is kept for a slow reader: a
    /// watcher wants the job's current state, not its history.
    pub fn subscribe(self: &Arc<Self>, id: &str) -> JobWatch {
        let mut watched = lock(&self.watched);
        let receiver = match watched.get(id) {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, receiver) = watch::channel(None);
                watched.insert(id.to_owned(), sender);
                receiver
            }
        };
        JobWatch {
            events: Arc::clone(self),
            id: id.to_owned(),
            receiver,
        }
    }

    /// Number of jobs with at least one registration (for tests).
    #[cfg(test)]
    fn registered(&self) -> usize {
        lock(&self.watched).len()
    }
}

/// One watcher's view of one job; unregisters the job when its last watcher goes.
pub struct JobWatch {
    events: Arc<JobEvents>,
    id: String,
    receiver: watch::Receiver<Latest>,
}

impl JobWatch {
    /// Waits for the next change; `None` once the registry is gone.
    pub async fn changed(&mut self) -> Option<Arc<v1::Job>> {
        loop {
            self.receiver.changed().await.ok()?;
            if let Some(job) = self.receiver.borrow_and_update().clone() {
                return Some(job);
            }
        }
    }
}

impl Drop for JobWatch {
    fn drop(&mut self) {
        let mut watched = lock(&self.events.watched);
        // This receiver still counts until the drop finishes.
        if watched
            .get(&self.id)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            watched.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, frames_done: u64) -> v1::Job {
        v1::Job {
            id: id.to_owned(),
            frames_done,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_watcher_sees_only_its_job() {
        let events = Arc::new(JobEvents::new());
        let mut a = events.subscribe("a");
        events.publish(job("b", 1));
        events.publish(job("a", 2));
        let seen = a.changed().await.expect("a change");
        assert_eq!((seen.id.as_str(), seen.frames_done), ("a", 2));
    }

    #[tokio::test]
    async fn a_slow_watcher_gets_the_newest_state() {
        let events = Arc::new(JobEvents::new());
        let mut a = events.subscribe("a");
        for done in 1..=5 {
            events.publish(job("a", done));
        }
        assert_eq!(a.changed().await.expect("a change").frames_done, 5);
    }

    #[tokio::test]
    async fn the_last_watcher_leaving_unregisters_the_job() {
        let events = Arc::new(JobEvents::new());
        let first = events.subscribe("a");
        let second = events.subscribe("a");
        assert!(events.is_watched("a"));
        drop(first);
        assert!(events.is_watched("a"));
        drop(second);
        assert!(!events.is_watched("a"));
        assert_eq!(events.registered(), 0);
        events.publish(job("a", 1));
        assert_eq!(events.registered(), 0);
    }
}
