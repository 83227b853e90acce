//! The store's one-way switch to refusing every call after a failed fsync.
//!
//! After `fsync` reports an error, the kernel may already have dropped the dirty pages it could
//! not write, and a later `fsync` can succeed without them; PostgreSQL learned this the hard way
//! ("fsyncgate"). So the first failure stops the store for good: nothing is acknowledged, read or
//! checkpointed again, and connections close without checkpointing, leaving the WAL on disk for
//! SQLite to recover from when the process restarts.

use std::sync::{Arc, OnceLock};

use rusqlite::config::DbConfig;
use rusqlite::{ffi, Connection};

/// Why the store stopped, once it has: shared by the store, its writer and its syncer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fatal(Arc<OnceLock<String>>);

impl Fatal {
    /// The reason, once the store has stopped.
    pub(crate) fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }

    /// Stops the store; the first reason recorded is the one reported.
    pub(crate) fn set(&self, reason: String) {
        tracing::error!(%reason, "queue database stopped for good: a failed fsync is fatal");
        // A second failure changes nothing: the store is already stopped.
        let _ = self.0.set(reason);
    }
}

/// Whether SQLite failed to fsync the database, its WAL or its directory.
pub(crate) fn is_fsync_error(error: &rusqlite::Error) -> bool {
    error.sqlite_error().is_some_and(|e| {
        e.extended_code == ffi::SQLITE_IOERR_FSYNC || e.extended_code == ffi::SQLITE_IOERR_DIR_FSYNC
    })
}

/// Keeps `conn` from checkpointing the WAL into the database file when it closes.
pub(crate) fn no_checkpoint_on_close(conn: &Connection) {
    if let Err(error) = conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true) {
        tracing::error!(%error, "cannot stop the queue database from checkpointing on close");
    }
}
