//! The SQLite implementation of [`JobStore`](crate::JobStore): WAL, one group-committing writer
//! thread, a syncer thread that makes acknowledged changes durable, and a pool of read-only
//! connections.

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
    HeartbeatAck, Job, JobCounts, JobFilter, JobPage, JobSpec, JobSummary, Lease, Node, NodeInfo,
    ProgressAck, Reaped, Submitted,
};
use crate::store::JobStore;
use syncer::Syncer;
use writer::{Durability, Writer};

/// The database file's name when [`SqliteStore::open`] is given a directory.
pub const DEFAULT_FILE_NAME: &str = "queue.db";

/// Idle read connections kept for reuse; more are opened under load and then closed.
const MAX_IDLE_READERS: usize = 8;

/// Why an operation failed, before the database path is attached.
#[derive(Debug)]
pub(crate) enum OpError {
    Db(rusqlite::Error),
    Corrupt { what: String, detail: String },
    Commit(String),
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
    // Declared before the readers so that it shuts down first; readers are plain connections.
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
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
        let syncer = start_pipelined_sync(&conn, &path)?;
        let first_reader = schema::open_reader(&path)?;
        let writer = Writer::start(&path, conn, config, syncer)?;
        tracing::info!(path = %path.display(), "queue database open");
        Ok(SqliteStore {
            path,
            writer,
            readers: Mutex::new(vec![first_reader]),
        })
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
fn start_pipelined_sync(conn: &Connection, path: &Path) -> Result<Option<Syncer>> {
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

    fn register_node(&self, info: NodeInfo, now_ms: i64) -> Result<Node> {
        self.writer.call(Durability::Synced, move |conn, _| {
            ops::register_node(conn, info, now_ms)
        })
    }

    fn heartbeat(&self, node_id: &str, now_ms: i64) -> Result<HeartbeatAck> {
        let node_id = node_id.to_owned();
        self.writer.call(Durability::Committed, move |conn, ctx| {
            ops::heartbeat(conn, ctx, &node_id, now_ms)
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
        frames_done: u64,
        frames_total: Option<u64>,
        now_ms: i64,
    ) -> Result<ProgressAck> {
        let job_id = job_id.to_owned();
        self.writer.call(Durability::Committed, move |conn, ctx| {
            ops::progress(conn, ctx, &job_id, token, frames_done, frames_total, now_ms)
        })
    }

    fn complete(
        &self,
        job_id: &str,
        token: u64,
        summary: JobSummary,
        frames_document: Vec<u8>,
        now_ms: i64,
    ) -> Result<Job> {
        let job_id = job_id.to_owned();
        self.writer.call(Durability::Synced, move |conn, _| {
            ops::complete(conn, &job_id, token, summary, frames_document, now_ms)
        })
    }

    fn fail(
        &self,
        job_id: &str,
        token: u64,
        error: &str,
        retryable: bool,
        now_ms: i64,
    ) -> Result<Job> {
        let job_id = job_id.to_owned();
        let error = error.to_owned();
        self.writer.call(Durability::Synced, move |conn, ctx| {
            ops::fail(conn, ctx, &job_id, token, &error, retryable, now_ms)
        })
    }

    fn reap(&self, now_ms: i64) -> Result<Reaped> {
        self.writer.call(Durability::Committed, move |conn, ctx| {
            ops::reap(conn, ctx, now_ms)
        })
    }

    fn frames(&self, job_id: &str) -> Result<Option<Vec<u8>>> {
        self.read(|conn| reads::frames(conn, job_id))
    }

    fn nodes(&self) -> Result<Vec<Node>> {
        self.read(reads::nodes)
    }

    fn node(&self, id: &str) -> Result<Option<Node>> {
        self.read(|conn| reads::node(conn, id))
    }

    fn counts(&self) -> Result<JobCounts> {
        self.read(reads::counts)
    }
}
