//! Opening the database file: pragmas, recognising a vmafx database, and schema migrations.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::error::{Error, Result};

/// Marks a file as a vmafx queue ("vmfq"), so that another application's database is refused.
pub(crate) const APPLICATION_ID: i64 = 0x766d_6671;

/// Each entry moves the schema up one version; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    // 1: jobs, their per-frame documents, and nodes.
    "
    CREATE TABLE jobs (
        seq              INTEGER PRIMARY KEY,
        id               TEXT    NOT NULL UNIQUE,
        spec             TEXT    NOT NULL,
        backend          TEXT    NOT NULL,
        priority         INTEGER NOT NULL,
        idempotency_key  TEXT    UNIQUE,
        state            TEXT    NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        max_attempts     INTEGER NOT NULL,
        node_id          TEXT,
        frames_done      INTEGER NOT NULL DEFAULT 0,
        frames_total     INTEGER,
        error            TEXT,
        created_ms       INTEGER NOT NULL,
        started_ms       INTEGER,
        finished_ms      INTEGER,
        not_before_ms    INTEGER NOT NULL,
        lease_token      INTEGER NOT NULL DEFAULT 0,
        lease_expires_ms INTEGER,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        summary          TEXT
    );
    CREATE INDEX jobs_pending ON jobs (priority DESC, seq) WHERE state = 'PENDING';
    CREATE INDEX jobs_running_node ON jobs (node_id) WHERE state = 'RUNNING';
    CREATE INDEX jobs_running_lease ON jobs (lease_expires_ms) WHERE state = 'RUNNING';
    CREATE INDEX jobs_state_seq ON jobs (state, seq);
    CREATE INDEX jobs_node_seq ON jobs (node_id, seq);
    CREATE TABLE job_frames (
        job_id   TEXT PRIMARY KEY REFERENCES jobs (id),
        document BLOB NOT NULL
    );
    CREATE TABLE nodes (
        seq               INTEGER PRIMARY KEY,
        id                TEXT    NOT NULL UNIQUE,
        name              TEXT    NOT NULL UNIQUE,
        info              TEXT    NOT NULL,
        registered_ms     INTEGER NOT NULL,
        last_heartbeat_ms INTEGER NOT NULL,
        healthy           INTEGER NOT NULL
    );
    ",
    // 2: one node row per incarnation (the live one per name is unique), indexes for retention,
    // and the row the readiness probe writes.
    "
    CREATE TABLE nodes_v2 (
        seq               INTEGER PRIMARY KEY,
        id                TEXT    NOT NULL UNIQUE,
        name              TEXT    NOT NULL,
        info              TEXT    NOT NULL,
        registered_ms     INTEGER NOT NULL,
        last_heartbeat_ms INTEGER NOT NULL,
        healthy           INTEGER NOT NULL,
        superseded_ms     INTEGER
    );
    INSERT INTO nodes_v2 (seq, id, name, info, registered_ms, last_heartbeat_ms, healthy)
        SELECT seq, id, name, info, registered_ms, last_heartbeat_ms, healthy FROM nodes;
    DROP TABLE nodes;
    ALTER TABLE nodes_v2 RENAME TO nodes;
    CREATE UNIQUE INDEX nodes_live_name ON nodes (name) WHERE superseded_ms IS NULL;
    CREATE INDEX nodes_dead ON nodes (last_heartbeat_ms) WHERE healthy = 0;
    CREATE INDEX jobs_finished ON jobs (finished_ms) WHERE finished_ms IS NOT NULL;
    CREATE TABLE probe (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        writes INTEGER NOT NULL
    );
    INSERT INTO probe (id, writes) VALUES (1, 0);
    ",
    // 3: subjective scores given to completed jobs, in the order given (the trainer reads them
    // after the last seq it saw); one row per job, feedback given again replaces it.
    "
    CREATE TABLE job_feedback (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id     TEXT    NOT NULL UNIQUE REFERENCES jobs (id),
        target     REAL    NOT NULL,
        created_ms INTEGER NOT NULL
    );
    ",
];

/// Bytes the WAL file is cut back to when SQLite restarts it (`PRAGMA journal_size_limit`).
pub(crate) const WAL_SIZE_LIMIT: u64 = 64 << 20;

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens the writer's connection, creating and migrating the database as needed.
pub(crate) fn open_writer(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    // The writer runs some twenty distinct statements; rusqlite's default cache holds 16, and
    // re-parsing on every miss showed in profiles.
    conn.set_prepared_statement_cache_capacity(64);
    // Takes effect only in a file without tables yet (a new one), and must come before WAL mode,
    // which writes the first page: purged rows' pages can then be given back to the file system
    // (`PRAGMA incremental_vacuum`). Older files reuse freed pages for new rows instead.
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")
        .map_err(|e| open_error(path, e))?;
    configure(&conn, path)?;
    check_and_migrate(&mut conn, path)?;
    Ok(conn)
}

/// Opens a read-only connection for queries; it never blocks the writer (WAL).
pub(crate) fn open_reader(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| open_error(path, e))?;
    Ok(conn)
}

/// Opens the connection the syncer checkpoints with.
pub(crate) fn open_checkpointer(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    configure(&conn, path)?;
    Ok(conn)
}

fn configure(conn: &Connection, path: &Path) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| open_error(path, e))?;
    // The first statement that reads the file: a file that is not SQLite fails here.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(|e| open_error(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::NotVmafx {
            path: path.to_owned(),
            detail: format!("SQLite refused WAL mode (journal_mode is {mode})"),
        });
    }
    // FULL makes each commit durable against power loss, not only against a crash.
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(|e| open_error(path, e))?;
    // The WAL is reused from its start after each complete checkpoint but never shrinks by
    // itself: this truncates it back after a burst made it large.
    conn.execute_batch(&format!("PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}"))
        .map_err(|e| open_error(path, e))?;
    Ok(())
}

fn check_and_migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let app_id: i64 = pragma(conn, path, "application_id")?;
    let version: i64 = pragma(conn, path, "user_version")?;
    if app_id != APPLICATION_ID {
        let tables: i64 = conn
            .query_row("SELECT COUNT(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(|e| open_error(path, e))?;
        if app_id != 0 || version != 0 || tables != 0 {
            return Err(Error::NotVmafx {
                path: path.to_owned(),
                detail: format!(
                    "it is a SQLite database of another application (application_id {app_id:#x}, \
                     {tables} schema objects), not a vmafx queue"
                ),
            });
        }
    }
    if version > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if app_id == APPLICATION_ID {
        let check: String = conn
            .query_row("PRAGMA quick_check(1)", [], |row| row.get(0))
            .map_err(|e| open_error(path, e))?;
        if check != "ok" {
            return Err(Error::NotVmafx {
                path: path.to_owned(),
                detail: format!("the database is corrupt (quick_check: {check})"),
            });
        }
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let target = index as i64 + 1;
        let tx = conn.transaction().map_err(|e| open_error(path, e))?;
        tx.execute_batch(sql).map_err(|e| open_error(path, e))?;
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {target};"
        ))
        .map_err(|e| open_error(path, e))?;
        tx.commit().map_err(|e| open_error(path, e))?;
        tracing::info!(path = %path.display(), version = target, "migrated queue database schema");
    }
    Ok(())
}

fn pragma(conn: &Connection, path: &Path, name: &str) -> Result<i64> {
    conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
        .map_err(|e| open_error(path, e))
}

/// Turns SQLite's "not a database" codes into an error that says what the file is.
fn open_error(path: &Path, source: rusqlite::Error) -> Error {
    match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => Error::NotVmafx {
            path: path.to_owned(),
            detail: "the file is not a SQLite database (it is corrupt or of another kind)"
                .to_owned(),
        },
        Some(ErrorCode::DatabaseCorrupt) => Error::NotVmafx {
            path: path.to_owned(),
            detail: format!("the database is corrupt ({source})"),
        },
        _ => Error::Open {
            path: path.to_owned(),
            source,
        },
    }
}
