//! Pipelined durability: fsyncs the WAL for batches the writer has already committed, and
//! checkpoints the WAL into the database file, off the writer's thread.
//!
//! The writer commits with `synchronous=NORMAL` (no fsync inside COMMIT) and hands the replies of
//! operations that must be durable to this thread, which acknowledges them only after an
//! `fdatasync` of the WAL file that covers their commit. This is what `synchronous=FULL` does,
//! except that the writer is already running the next batch while the disk flushes, and one
//! flush covers every batch committed meanwhile. Checkpoints run here too, so their two fsyncs
//! never stall the writer.
//!
//! A failed fsync (of the WAL here, or inside a checkpoint) is fatal (see [`super::fatal`]): the
//! waiting replies and every later one fail with [`Error::Fatal`](crate::Error::Fatal), and no
//! fsync or checkpoint is tried again.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::fatal::{self, Fatal};
use super::writer::{Failed, Pending};

/// How often the WAL is copied into the database file while the store is busy or idle.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Replies waiting for the flush that makes their batch durable.
pub(crate) type Group = Vec<Box<dyn Pending>>;

/// What the syncer thread owns.
pub(crate) struct Syncer {
    pub(crate) wal: File,
    pub(crate) checkpointer: Connection,
    pub(crate) path: PathBuf,
    pub(crate) fatal: Fatal,
    /// Test-only fault injection: makes the next WAL fsync fail.
    #[cfg(test)]
    pub(crate) fail_next_fsync: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The WAL file of a database, which SQLite names by appending "-wal".
pub(crate) fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

impl Syncer {
    pub(crate) fn run(self, groups: Receiver<Group>) {
        let mut last_checkpoint = Instant::now();
        loop {
            match groups.recv_timeout(CHECKPOINT_EVERY) {
                Ok(first) => {
                    let mut waiting = first;
                    while let Ok(more) = groups.try_recv() {
                        waiting.extend(more);
                    }
                    if self.fatal.get().is_none() {
                        if let Err(error) = self.sync_wal() {
                            self.fatal.set(format!(
                                "failed to fsync {}: {error}",
                                wal_path(&self.path).display()
                            ));
                        }
                    }
                    let failed = self.fatal.get().map(Failed::Fatal);
                    for op in waiting {
                        op.finish(failed);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
                self.checkpoint();
                last_checkpoint = Instant::now();
            }
        }
        self.checkpoint();
        if self.fatal.get().is_some() {
            fatal::no_checkpoint_on_close(&self.checkpointer);
        }
    }

    fn sync_wal(&self) -> std::io::Result<()> {
        #[cfg(test)]
        if self
            .fail_next_fsync
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(std::io::Error::other("injected fsync failure (test)"));
        }
        self.wal.sync_data()
    }

    fn checkpoint(&self) {
        // After a failed fsync nothing more may reach the database file.
        if self.fatal.get().is_some() {
            return;
        }
        // PASSIVE never waits for the writer or readers; what it cannot copy now waits for the
        // next round.
        let result = self
            .checkpointer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            });
        match result {
            Ok((frames, copied)) => {
                tracing::trace!(frames, copied, "queue WAL checkpoint");
            }
            Err(error) if fatal::is_fsync_error(&error) => self.fatal.set(format!(
                "failed to fsync {} while checkpointing: {error}",
                self.path.display()
            )),
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error, "queue WAL checkpoint failed");
            }
        }
    }
}
