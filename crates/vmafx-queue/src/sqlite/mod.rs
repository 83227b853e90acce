//! The SQLite implementation of [`JobStore`](crate::JobStore): WAL, one group-committing writer
//! thread, a syncer thread that makes acknowledged changes durable, and a pool of read-only
//! connections.

mod fatal;
mod ops;
mod reads;
mod rows;
mod schema;
mod syncer;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;

use crate::config::QueueConfig;
use crate::error::{Error, Result};
use crate::model::{
    Feedback, FeedbackFilter, HeartbeatAck, HeldAttempt, Job, JobCounts, JobFilter, JobPage,
    JobSpec, JobSummary, Lease, Node, NodeFilter, NodeInfo, NodePage, ProgressAck, Purged, Reaped,
    Registered, Submitted,
};
use crate::store::JobStore;
use fatal::Fatal;
use syncer::Syncer;
use writer::{Durability, Writer};

/// The database file's name when [`SqliteStore::open`] is given a directory.
pub const DEFAULT_FILE_NAME: &str = "queue.db";

/// Idle read connections kept for reuse; more are opened under load and then closed.
const MAX_IDLE_READERS: usize = 8;

/// The most live nodes [`JobStore::nodes`] returns (the oldest ones).
pub const MAX_NODES_LISTED: u32 = 10_000;

/// The most jobs, and the most nodes, one [`JobStore::purge`] call deletes.
pub const PURGE_BATCH: u64 = 1_000;

/// Why an operation failed, before the database path is attached.
#[derive(Debug)]
pub(crate) enum OpError {
    Db(rusqlite::Error),
    Corrupt { what: String, detail: String },
    Commit(String),
    Fatal(String),
    Api(Error),
}

impl From<rusqlite::Error> for OpError {
    fn from(error: rusqlite::Error) -> Self {
        OpError::Db(error)
    }
}

impl From<Error> for OpError {
    fn from(error: Error) -> Self {
        OpError::Api(error)
    }
}

impl OpError {
    fn at(self, path: &Path) -> Error {
        match self {
            OpError::Db(source) => Error::Database {
                path: path.to_owned(),
                source,
            },
            OpError::Corrupt { what, detail } => Error::Corrupt {
                path: path.to_owned(),
                what,
                detail,
            },
            OpError::Commit(detail) => Error::Commit {
                path: path.to_owned(),
                detail,
            },
            OpError::Fatal(reason) => Error::Fatal(reason),
            OpError::Api(error) => error,
        }
    }
}

pub(crate) type OpResult<T> = std::result::Result<T, OpError>;

/// A [`JobStore`] on one SQLite file.
///
/// Dropping it lets the writer finish its last batch and closes the file.
pub struct SqliteStore {
    path: PathBuf,
    fatal: Fatal,
    // Declared before the readers so that it shuts down first; readers are plain connections.
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
    /// Test-only fault injection: makes the syncer's next WAL fsync fail.
    #[cfg(test)]
    fail_next_fsync: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the queue at `path`: a database file, or an
    /// existing directory, in which case the file is `queue.db` inside it. Missing parent
    /// directories of a file path are created.
    ///
    /// Fails, naming the file, when it is not a SQLite database, belongs to another application,
    /// is corrupt, or was written by a newer schema.
    pub fn open(path: impl AsRef<Path>, config: QueueConfig) -> Result<SqliteStore> {
        let path = resolve(path.as_ref())?;
        let conn = schema::open_writer(&path)?;
        let fatal = Fatal::default();
        let syncer = start_pipelined_sync(&conn, &path, &fatal)?;
        #[cfg(test)]
        let fail_next_fsync = syncer
            .as_ref()
            .map(|syncer| std::sync::Arc::clone(&syncer.fail_next_fsync))
            .unwrap_or_default();
        let first_reader = schema::open_reader(&path)?;
        let writer = Writer::start(&path, conn, config, syncer, fatal.clone())?;
        tracing::info!(path = %path.display(), "queue database open");
        Ok(SqliteStore {
            path,
            fatal,
            writer,
            readers: Mutex::new(vec![first_reader]),
            #[cfg(test)]
            fail_next_fsync,
        })
    }

    /// Test-only fault injection: the syncer's next WAL fsync reports an I/O error.
    #[cfg(test)]
    pub(crate) fn fail_next_fsync(&self) {
        self.fail_next_fsync
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The database file in use.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether durability is pipelined: commits skip fsync and a syncer thread flushes the WAL
    /// before durable replies. False only where the WAL file could not be opened, in which case
    /// every commit syncs (`synchronous=FULL`).
    pub fn pipelined_sync(&self) -> bool {
        self.writer.pipelined()
    }

    /// Runs a query on a pooled read-only connection.
    fn read<T>(&self, query: impl FnOnce(&Connection) -> OpResult<T>) -> Result<T> {
        // After a failed fsync even reads stop: they could show what may not be on disk.
        if let Some(reason) = self.fatal.get() {
            return Err(Error::Fatal(reason.to_owned()));
        }
        let pooled = self
            .readers
            .lock()
            .map(|mut idle| idle.pop())
            .unwrap_or(None);
        let conn = match pooled {
            Some(conn) => conn,
            None => schema::open_reader(&self.path)?,
        };
        let result = query(&conn).map_err(|e| e.at(&self.path));
        if let Ok(mut idle) = self.readers.lock() {
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
        result
    }

    /// Checks the whole file with `PRAGMA integrity_check` and that every job's columns decode;
    /// returns the problems found (empty when the database is consistent).
    pub fn check_integrity(&self) -> Result<Vec<String>> {
        self.read(|conn| {
            let mut problems = Vec::new();
            let mut statement = conn.prepare("PRAGMA integrity_check")?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let line: String = row.get(0)?;
                if line != "ok" {
                    problems.push(line);
                }
            }
            let mut statement = conn.prepare(&format!("SELECT {} FROM jobs", rows::JOB_COLUMNS))?;
            let mut jobs = statement.query([])?;
            while let Some(row) = jobs.next()? {
                match rows::job_from_row(row) {
                    Ok(job) => problems.extend(job_problems(&job.job)),
                    Err(e) => problems.push(e.at(&self.path).to_string()),
                }
            }
            Ok(problems)
        })
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if self.fatal.get().is_some() {
            if let Ok(idle) = self.readers.lock() {
                idle.iter().for_each(fatal::no_checkpoint_on_close);
            }
        }
    }
}

/// Invariants that tie a job's state to its other columns.
fn job_problems(job: &Job) -> Vec<String> {
    use crate::model::JobState;
    let mut problems = Vec::new();
    let mut expect = |ok: bool, what: &str| {
        if !ok {
            problems.push(format!("job {} ({}): {what}", job.id, job.state));
        }
    };
    expect(
        job.attempts <= job.max_attempts,
        "more attempts than allowed",
    );
    match job.state {
        JobState::Running => {
            expect(job.node_id.is_some(), "running without a node");
            expect(job.lease_expires_ms.is_some(), "running without a lease");
        }
        JobState::Completed => {
            expect(job.summary.is_some(), "completed without a summary");
            expect(job.finished_ms.is_some(), "finished without a finish time");
        }
        JobState::Failed => {
            expect(job.error.is_some(), "failed without an error");
            expect(job.finished_ms.is_some(), "finished without a finish time");
        }
        JobState::Cancelled => expect(job.finished_ms.is_some(), "finished without a finish time"),
        JobState::Pending => expect(job.lease_expires_ms.is_none(), "pending with a lease"),
    }
    problems
}

/// Switches the writer to committing without fsync and returns the syncer that flushes for it.
/// Where the WAL file cannot be opened the writer keeps `synchronous=FULL` and no syncer runs:
/// slower, equally durable.
fn start_pipelined_sync(conn: &Connection, path: &Path, fatal: &Fatal) -> Result<Option<Syncer>> {
    let wal_path = syncer::wal_path(path);
    let wal = match std::fs::File::open(&wal_path) {
        Ok(wal) => wal,
        Err(error) => {
            tracing::warn!(
                wal = %wal_path.display(), %error,
                "cannot open the WAL file; committing with synchronous=FULL instead"
            );
            return Ok(None);
        }
    };
    // The WAL file's directory entry must be durable before anything in it is relied on.
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Err(error) = std::fs::File::open(parent).and_then(|dir| dir.sync_all()) {
            tracing::warn!(dir = %parent.display(), %error, "cannot fsync the database directory");
        }
    }
    let checkpointer = schema::open_checkpointer(path)?;
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")
        .map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
    Ok(Some(Syncer {
        wal,
        checkpointer,
        path: path.to_owned(),
        fatal: fatal.clone(),
        #[cfg(test)]
        fail_next_fsync: Default::default(),
    }))
}

fn resolve(path: &Path) -> Result<PathBuf> {
    if path.is_dir() {
        return Ok(path.join(DEFAULT_FILE_NAME));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::CreateDir {
            path: parent.to_owned(),
            source,
        })?;
    }
    Ok(path.to_owned())
}

impl JobStore for SqliteStore {
    fn submit(&self, spec: JobSpec, now_ms: i64) -> Result<Submitted> {
        self.writer.call(Durability::Synced, move |conn, ctx| {
            ops::submit(conn, ctx, spec, now_ms)
        })
    }

    fn get(&self, id: &str) -> Result<Option<Job>> {
        self.read(|conn| reads::get(conn, id))
    }

    fn list(&self, filter: &JobFilter) -> Result<JobPage> {
        self.read(|conn| reads::list(conn, filter))
    }

    fn cancel(&self, id: &str, now_ms: i64) -> Result<Job> {
        let id = id.to_owned();
        self.writer.call(Durability::Synced, move |conn, _| {
            ops::cancel(conn, &id, now_ms)
        })
    }

    fn register_node(&self, info: NodeInfo, now_ms: i64) -> Result<Registered> {
        self.writer.call(Durability::Synced, move |conn, ctx| {
            ops::register_node(conn, ctx, info, now_ms)
        })
    }

    fn heartbeat(&self, node_id: &str, held: &[HeldAttempt], now_ms: i64) -> Result<HeartbeatAck> {
        let node_id = node_id.to_owned();
        let held = held.to_vec();
        self.writer.call(Durability::Committed, move |conn, ctx| {
            ops::heartbeat(conn, ctx, &node_id, &held, now_ms)
        })
    }

    fn claim(&self, node_id: &str, max: u32, now_ms: i64) -> Result<Vec<Lease>> {
        let node_id = node_id.to_owned();
        self.writer.call(Durability::Committed, move |conn, ctx| {
            ops::claim(conn, ctx, &node_id, max, now_ms)
        })
    }

    fn progress(
        &self,
        job_id: &str,
        token: u64,
        holder: Option<&str>,
        frames_done: u64,
        frames_total: Option<u64>,
        now_ms: i64,
    ) -> Result<ProgressAck> {
        let job_id = job_id.to_owned();
        let holder = holder.map(str::to_owned);
        self.writer.call(Durability::Committed, move |conn, ctx| {
            let lease = ops::LeaseRef {
                job_id: &job_id,
                token,
                holder: holder.as_deref(),
            };
            ops::progress(conn, ctx, lease, frames_done, frames_total, now_ms)
        })
    }

    fn complete(
        &self,
        job_id: &str,
        token: u64,
        holder: Option<&str>,
        summary: JobSummary,
        frames_document: Vec<u8>,
        now_ms: i64,
    ) -> Result<Job> {
        let job_id = job_id.to_owned();
        let holder = holder.map(str::to_owned);
        self.writer.call(Durability::Synced, move |conn, _| {
            let lease = ops::LeaseRef {
                job_id: &job_id,
                token,
                holder: holder.as_deref(),
            };
            ops::complete(conn, lease, summary, frames_document, now_ms)
        })
    }

    fn fail(
        &self,
        job_id: &str,
        token: u64,
        holder: Option<&str>,
        error: &str,
        retryable: bool,
        now_ms: i64,
    ) -> Result<Job> {
        let job_id = job_id.to_owned();
        let holder = holder.map(str::to_owned);
        let error = error.to_owned();
        self.writer.call(Durability::Synced, move |conn, ctx| {
            let lease = ops::LeaseRef {
                job_id: &job_id,
                token,
                holder: holder.as_deref(),
            };
            ops::fail(conn, ctx, lease, &error, retryable, now_ms)
        })
    }

    fn reap(&self, now_ms: i64) -> Result<Reaped> {
        self.writer.call(Durability::Committed, move |conn, ctx| {
            ops::reap(conn, ctx, now_ms)
        })
    }

    fn add_feedback(&self, job_id: &str, target: f64, now_ms: i64) -> Result<Feedback> {
        let job_id = job_id.to_owned();
        self.writer.call(Durability::Synced, move |conn, _| {
            ops::add_feedback(conn, &job_id, target, now_ms)
        })
    }

    fn list_feedback(&self, filter: &FeedbackFilter) -> Result<Vec<Feedback>> {
        self.read(|conn| reads::list_feedback(conn, filter))
    }

    fn frames(&self, job_id: &str) -> Result<Option<Vec<u8>>> {
        self.read(|conn| reads::frames(conn, job_id))
    }

    fn nodes(&self) -> Result<Vec<Node>> {
        let filter = NodeFilter {
            limit: MAX_NODES_LISTED,
            page_token: None,
        };
        self.read(|conn| reads::list_nodes(conn, &filter, MAX_NODES_LISTED))
            .map(|page| page.nodes)
    }

    fn list_nodes(&self, filter: &NodeFilter) -> Result<NodePage> {
        self.read(|conn| reads::list_nodes(conn, filter, reads::MAX_PAGE))
    }

    fn node(&self, id: &str) -> Result<Option<Node>> {
        self.read(|conn| reads::node(conn, id))
    }

    fn counts(&self) -> Result<JobCounts> {
        self.read(reads::counts)
    }

    fn purge(
        &self,
        finished_before_ms: Option<i64>,
        dead_nodes_before_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<Purged> {
        // Committed is enough: a purge that a power loss rolls back is simply done again.
        self.writer.call(Durability::Committed, move |conn, _| {
            ops::purge(conn, finished_before_ms, dead_nodes_before_ms, now_ms)
        })
    }

    fn check_writable(&self) -> Result<()> {
        self.writer
            .call(Durability::Synced, |conn, _| ops::probe(conn))
    }

    fn failure(&self) -> Option<String> {
        self.fatal.get().map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    fn spec(name: &str) -> JobSpec {
        JobSpec::new(
            format!("file:///{name}.y4m"),
            format!("file:///{name}-d.y4m"),
        )
    }

    fn expect_fatal<T: std::fmt::Debug>(what: &str, result: Result<T>) {
        match result {
            Err(Error::Fatal(reason)) => assert!(reason.contains("injected"), "{what}: {reason}"),
            other => panic!("{what}: expected Error::Fatal, got {other:?}"),
        }
    }

    #[test]
    fn a_failed_fsync_stops_the_store_for_good_and_the_wal_survives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.db");
        let store = SqliteStore::open(&path, QueueConfig::default()).unwrap();
        assert!(store.pipelined_sync());
        let acknowledged = store.submit(spec("before"), T0).unwrap().job.id;
        let node = store
            .register_node(
                NodeInfo {
                    name: "n".to_owned(),
                    vendor: "cpu".to_owned(),
                    backends: Vec::new(),
                    device: "test".to_owned(),
                    capacity: 1,
                    version: "0".to_owned(),
                    address: None,
                },
                T0,
            )
            .unwrap()
            .node;

        store.fail_next_fsync();
        expect_fatal(
            "the submit whose fsync failed",
            store.submit(spec("lost"), T0),
        );
        let reason = store.failure().expect("failure() names the reason");
        assert!(reason.contains("queue.db-wal"), "{reason}");

        // Nothing is acknowledged again: writes of either durability, and reads.
        expect_fatal("submit", store.submit(spec("after"), T0));
        expect_fatal("heartbeat", store.heartbeat(&node.id, &[], T0));
        expect_fatal("claim", store.claim(&node.id, 1, T0));
        expect_fatal("reap", store.reap(T0));
        expect_fatal("purge", store.purge(Some(T0), Some(T0), T0));
        expect_fatal("check_writable", store.check_writable());
        expect_fatal("get", store.get(&acknowledged));
        expect_fatal("list", store.list(&JobFilter::default()));
        expect_fatal("counts", store.counts());
        expect_fatal("nodes", store.nodes());
        let message = store.check_writable().unwrap_err().to_string();
        assert!(message.contains("restart the process"), "{message}");

        // Closing does not checkpoint: the WAL stays for recovery at the next open.
        drop(store);
        let wal = syncer::wal_path(&path);
        assert!(
            std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0),
            "the WAL was checkpointed away after a failed fsync"
        );
        let store = SqliteStore::open(&path, QueueConfig::default()).unwrap();
        assert_eq!(store.failure(), None);
        assert!(store.get(&acknowledged).unwrap().is_some());
        assert!(store.check_integrity().unwrap().is_empty());
        store.check_writable().unwrap();
    }
}
