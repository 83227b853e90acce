//! Following controller jobs without blocking reconciles: one background `WatchJob` stream per
//! followed job (up to a bound), each pushing the latest `Job` into a shared cache and asking for a
//! reconcile of its object. Jobs beyond the bound, and jobs whose stream broke, are polled with
//! `GetJob` by the reconciler instead.
//!
//! Every watch is one HTTP/2 stream, and a server allows a limited number of concurrent streams
//! per connection (hyper's default is 200). So streams are spread over a pool of connections,
//! at most [`STREAMS_PER_CONNECTION`] on each, and unary calls keep a connection of their own.
//! With the pool every job of a 1,000-job burst is watched, and its completion reaches the
//! object within a reconcile, not a ten-second poll.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::channel::mpsc::UnboundedSender;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use vmafx_api::v1;
use vmafx_api::view::is_terminal;

use crate::context::ControllerClient;
use crate::crd::{JobPhase, VmafxJob};

/// `WatchJob` streams on one connection at most; well below the controller's HTTP/2 stream
/// limit.
pub const STREAMS_PER_CONNECTION: usize = 100;

/// Connections in the watch pool; each is only opened when a stream needs it.
pub const WATCH_CONNECTIONS: usize = 50;

/// Concurrent `WatchJob` streams at most.
pub const MAX_WATCHES: usize = STREAMS_PER_CONNECTION * WATCH_CONNECTIONS;

/// Longest pause between attempts to re-open a broken watch.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How often the node list may be re-read to resolve an unknown node id.
const NODE_REFRESH: Duration = Duration::from_secs(2);

/// What is known of one followed controller job.
struct Entry {
    /// The newest job the stream (or a poll) delivered.
    latest: Option<v1::Job>,
    /// True while a watch stream is open and delivering, so `latest` is current.
    live: bool,
    /// True while a watch task exists for the job.
    watching: bool,
    /// Stops the watch task.
    stop: CancellationToken,
}

#[derive(Default)]
struct NodeNames {
    by_id: HashMap<String, String>,
    refreshed: Option<Instant>,
}

/// The shared cache of followed jobs, their watch tasks, and what the reconciler remembers
/// between runs.
pub struct Followers {
    entries: Mutex<HashMap<String, Entry>>,
    /// The watch connections, each with the semaphore that bounds its streams.
    connections: Vec<(ControllerClient, Arc<Semaphore>)>,
    trigger: UnboundedSender<ObjectRef<VmafxJob>>,
    shutdown: CancellationToken,
    phases: Mutex<HashMap<String, JobPhase>>,
    /// Controller job id by object UID, for reconciles handed an object older than our write of
    /// the id (re-submitting would be harmless, being keyed by the UID, but costs calls and
    /// repeats the Submitted event).
    submitted: Mutex<HashMap<String, String>>,
    /// When each object's status was last written, to space out progress-only writes.
    written: Mutex<HashMap<String, Instant>>,
    nodes: Mutex<NodeNames>,
}

/// Locks `mutex`, carrying on with the data if a panicking thread poisoned it: every update
/// here is a single insert or remove, so the data is never half-written.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Followers {
    /// A cache whose watches run on `connections`, at most `streams_per_connection` on each;
    /// reconciles are requested through `trigger`, and every watch stops when `shutdown` fires.
    pub fn new(
        connections: &[ControllerClient],
        streams_per_connection: usize,
        trigger: UnboundedSender<ObjectRef<VmafxJob>>,
        shutdown: CancellationToken,
    ) -> Self {
        Followers {
            entries: Mutex::new(HashMap::new()),
            connections: connections
                .iter()
                .map(|client| {
                    let slots = Arc::new(Semaphore::new(streams_per_connection));
                    (client.clone(), slots)
                })
                .collect(),
            trigger,
            shutdown,
            phases: Mutex::new(HashMap::new()),
            submitted: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
            nodes: Mutex::new(NodeNames::default()),
        }
    }

    /// The cached job when it can be trusted without asking the controller: a live stream
    /// delivered it, or it is terminal and so will never change.
    pub fn current(&self, id: &str) -> Option<v1::Job> {
        let entries = lock(&self.entries);
        let entry = entries.get(id)?;
        let job = entry.latest.as_ref()?;
        (entry.live || is_terminal(job.state)).then(|| job.clone())
    }

    /// Stores a job read by a poll.
    pub fn record(&self, job: &v1::Job) {
        if let Some(entry) = lock(&self.entries).get_mut(&job.id) {
            entry.latest = Some(job.clone());
        }
    }

    /// Number of watch streams open now.
    pub fn watching(&self) -> usize {
        lock(&self.entries).values().filter(|e| e.watching).count()
    }

    /// Makes sure job `id` is followed on behalf of `object`: starts a watch when none runs and a
    /// connection has a free slot (filling connections in order, so few are opened). Returns
    /// true when a watch runs for it.
    pub fn follow(self: &Arc<Self>, id: &str, object: ObjectRef<VmafxJob>) -> bool {
        let mut entries = lock(&self.entries);
        let entry = entries.entry(id.to_owned()).or_insert_with(|| Entry {
            latest: None,
            live: false,
            watching: false,
            stop: self.shutdown.child_token(),
        });
        if entry.watching {
            return true;
        }
        if entry
            .latest
            .as_ref()
            .is_some_and(|job| is_terminal(job.state))
        {
            // Nothing more will happen to it.
            return false;
        }
        let Some((client, permit)) = self.connections.iter().find_map(|(client, slots)| {
            let permit = Arc::clone(slots).try_acquire_owned().ok()?;
            Some((client.clone(), permit))
        }) else {
            return false;
        };
        entry.watching = true;
        let task = Watch {
            followers: Arc::clone(self),
            id: id.to_owned(),
            object,
            client,
            stop: entry.stop.clone(),
            _permit: permit,
        };
        tokio::spawn(task.run());
        true
    }

    /// Stops following job `id` and drops what is cached of it.
    pub fn forget(&self, id: &str) {
        if let Some(entry) = lock(&self.entries).remove(id) {
            entry.stop.cancel();
        }
    }

    /// The phase last written for the object with UID `uid`; newer than the object a reconcile
    /// was handed when the informer has not caught up with that write yet.
    pub fn last_phase(&self, uid: &str) -> Option<JobPhase> {
        lock(&self.phases).get(uid).copied()
    }

    /// Remembers the phase just written for `uid`.
    pub fn set_phase(&self, uid: &str, phase: JobPhase) {
        lock(&self.phases).insert(uid.to_owned(), phase);
    }

    /// The controller job submitted for the object with UID `uid`, when the object may not show
    /// it yet.
    pub fn submitted_job(&self, uid: &str) -> Option<String> {
        lock(&self.submitted).get(uid).cloned()
    }

    /// Remembers that the object with UID `uid` was submitted as controller job `id`.
    pub fn set_submitted(&self, uid: &str, id: &str) {
        lock(&self.submitted).insert(uid.to_owned(), id.to_owned());
    }

    /// Notes that the status of the object with UID `uid` was just written.
    pub fn wrote_status(&self, uid: &str) {
        lock(&self.written).insert(uid.to_owned(), Instant::now());
    }

    /// How much longer a progress-only write for `uid` should wait so that such writes are at
    /// least `interval` apart; `None` when it may go now.
    pub fn progress_wait(&self, uid: &str, interval: Duration) -> Option<Duration> {
        let written = lock(&self.written);
        let since = written.get(uid)?.elapsed();
        interval.checked_sub(since).filter(|wait| !wait.is_zero())
    }

    /// Forgets what was remembered of a deleted object.
    pub fn forget_object(&self, uid: &str) {
        lock(&self.phases).remove(uid);
        lock(&self.submitted).remove(uid);
        lock(&self.written).remove(uid);
    }

    /// The name node `id` registered under; the id itself when the controller does not say.
    pub async fn node_name(&self, client: &mut ControllerClient, id: &str) -> String {
        let refresh = {
            let nodes = lock(&self.nodes);
            if let Some(name) = nodes.by_id.get(id) {
                return name.clone();
            }
            nodes
                .refreshed
                .is_none_or(|at| at.elapsed() >= NODE_REFRESH)
        };
        if refresh {
            match list_all_nodes(client).await {
                Ok(listed) => {
                    let mut nodes = lock(&self.nodes);
                    nodes.refreshed = Some(Instant::now());
                    for node in listed {
                        if let Some(info) = node.info.filter(|i| !i.name.is_empty()) {
                            nodes.by_id.insert(node.id, info.name);
                        }
                    }
                }
                Err(status) => {
                    tracing::debug!(node = %id, "failed to list nodes: {}", status.message());
                }
            }
        }
        lock(&self.nodes)
            .by_id
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_owned())
    }

    fn delivered(&self, id: &str, job: v1::Job) -> bool {
        match lock(&self.entries).get_mut(id) {
            Some(entry) => {
                entry.latest = Some(job);
                entry.live = true;
                true
            }
            None => false,
        }
    }

    fn broke(&self, id: &str) {
        if let Some(entry) = lock(&self.entries).get_mut(id) {
            entry.live = false;
        }
    }

    fn ended(&self, id: &str) {
        if let Some(entry) = lock(&self.entries).get_mut(id) {
            entry.live = false;
            entry.watching = false;
        }
    }

    fn poke(&self, object: &ObjectRef<VmafxJob>) {
        // Fails only once the controller stopped listening, at shutdown.
        let _ = self.trigger.unbounded_send(object.clone());
    }
}

/// One background `WatchJob` stream.
struct Watch {
    followers: Arc<Followers>,
    id: String,
    object: ObjectRef<VmafxJob>,
    client: ControllerClient,
    stop: CancellationToken,
    /// Held for the task's lifetime: the slot frees when the task ends.
    _permit: OwnedSemaphorePermit,
}

/// How one stream session ended.
enum Ended {
    /// The job reached a terminal state, the controller forgot it, or we were told to stop.
    Done,
    /// The stream broke; open it again after a pause.
    Broken,
}

impl Watch {
    async fn run(mut self) {
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.session().await {
                Ended::Done => break,
                Ended::Broken => {
                    self.followers.broke(&self.id);
                    // Let the reconciler poll while the stream is down.
                    self.followers.poke(&self.object);
                }
            }
            tokio::select! {
                () = self.stop.cancelled() => break,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        self.followers.ended(&self.id);
        tracing::debug!(job = %self.id, "stopped watching");
    }

    async fn session(&mut self) -> Ended {
        let request = v1::WatchJobRequest {
            id: self.id.clone(),
        };
        let opened = tokio::select! {
            () = self.stop.cancelled() => return Ended::Done,
            opened = self.client.watch_job(request) => opened,
        };
        let mut stream = match opened {
            Ok(response) => response.into_inner(),
            Err(status) if status.code() == tonic::Code::NotFound => {
                // The reconciler's own GetJob reports the lost job.
                self.followers.broke(&self.id);
                self.followers.poke(&self.object);
                return Ended::Done;
            }
            Err(status) => {
                tracing::debug!(job = %self.id, "failed to watch: {}", status.message());
                return Ended::Broken;
            }
        };
        loop {
            let next = tokio::select! {
                () = self.stop.cancelled() => return Ended::Done,
                next = stream.message() => next,
            };
            match next {
                Ok(Some(job)) => {
                    let terminal = is_terminal(job.state);
                    if !self.followers.delivered(&self.id, job) {
                        return Ended::Done;
                    }
                    self.followers.poke(&self.object);
                    if terminal {
                        return Ended::Done;
                    }
                }
                Ok(None) => return Ended::Broken,
                Err(status) => {
                    tracing::debug!(job = %self.id, "watch broke: {}", status.message());
                    return Ended::Broken;
                }
            }
        }
    }
}

/// Every registered node, one page of the controller's paginated listing at a time.
pub async fn list_all_nodes(client: &mut ControllerClient) -> Result<Vec<v1::Node>, tonic::Status> {
    let mut nodes = Vec::new();
    let mut page_token = String::new();
    loop {
        let mut request = tonic::Request::new(v1::ListNodesRequest {
            page_size: 1000,
            page_token,
        });
        request.set_timeout(super::RPC_TIMEOUT);
        let page = client.list_nodes(request).await?.into_inner();
        nodes.extend(page.nodes);
        if page.next_page_token.is_empty() {
            return Ok(nodes);
        }
        page_token = page.next_page_token;
    }
}
