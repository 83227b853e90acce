//! Group commit: one thread owns the write connection and commits queued operations in batches.
//!
//! Each caller sends a closure and waits for its own reply. The thread takes whatever has queued
//! up while the previous batch was committing, runs each closure inside its own savepoint (so a
//! failing operation undoes only itself) and commits the batch. Replies go out only after the
//! commit: at once for lease bookkeeping ([`Durability::Committed`]), and after the syncer's
//! fsync of the WAL for everything else ([`Durability::Synced`]), so an acknowledged submission,
//! result or cancellation is on disk. Once an fsync has failed, every operation is answered with
//! [`Error::Fatal`] instead, committed or not.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::fatal::{self, Fatal};
use super::syncer::{Group, Syncer};
use super::{OpError, OpResult};
use crate::config::QueueConfig;
use crate::error::{Error, Result};

/// Operations per transaction at most; bounds the latency a single commit can add.
const MAX_BATCH: usize = 512;

/// What an operation sees besides the connection.
pub(crate) struct Ctx {
    pub(crate) config: QueueConfig,
}

/// When an operation's reply may go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// After its batch is flushed to disk: survives a power loss.
    Synced,
    /// After its batch commits: survives a crash of the process, and a power loss may roll it
    /// back. Only for lease bookkeeping (claim, heartbeat, progress, reap), which the lease
    /// protocol re-derives: a rolled-back claim's token is random and never reissued.
    Committed,
}

/// Why a batch's operations cannot be acknowledged.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Failed<'a> {
    /// The batch did not commit; the store goes on.
    Commit(&'a str),
    /// The store has stopped for good (a failed fsync).
    Fatal(&'a str),
}

/// A queued operation, erased over its result type.
pub(crate) trait Pending: Send {
    /// Whether its reply must wait for the WAL flush.
    fn durability(&self) -> Durability;
    /// Runs the operation; false when it failed and its savepoint must be rolled back.
    fn run(&mut self, conn: &Connection, ctx: &Ctx) -> bool;
    /// Replies to the caller once the batch's fate is known (`Some` when it cannot be
    /// acknowledged).
    fn finish(self: Box<Self>, failed: Option<Failed<'_>>);
}

struct Call<T, F> {
    durability: Durability,
    work: Option<F>,
    result: Option<OpResult<T>>,
    reply: SyncSender<OpResult<T>>,
}

impl<T, F> Pending for Call<T, F>
where
    T: Send,
    F: FnOnce(&Connection, &Ctx) -> OpResult<T> + Send,
{
    fn durability(&self) -> Durability {
        self.durability
    }

    fn run(&mut self, conn: &Connection, ctx: &Ctx) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = work(conn, ctx);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, failed: Option<Failed<'_>>) {
        let outcome = match (self.result, failed) {
            // A stopped store answers nothing else, so that callers see it at once.
            (_, Some(Failed::Fatal(reason))) => Err(OpError::Fatal(reason.to_owned())),
            // An operation that failed on its own reports its own error otherwise.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), None) => Ok(value),
            (_, Some(Failed::Commit(detail))) => Err(OpError::Commit(detail.to_owned())),
            (None, None) => Err(OpError::Commit("the operation was not run".to_owned())),
        };
        // The caller may have given up waiting; nothing is lost by not telling it.
        let _ = self.reply.send(outcome);
    }
}

/// The handle callers use to reach the writer thread.
pub(crate) struct Writer {
    path: PathBuf,
    fatal: Fatal,
    sender: Option<Sender<Box<dyn Pending>>>,
    thread: Option<JoinHandle<()>>,
    syncer: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on an open, migrated connection, and the syncer thread when
    /// one is given (without it the connection must commit with `synchronous=FULL`).
    pub(crate) fn start(
        path: &Path,
        conn: Connection,
        config: QueueConfig,
        syncer: Option<Syncer>,
        fatal: Fatal,
    ) -> Result<Writer> {
        let spawn_error = |source: std::io::Error| Error::Commit {
            path: path.to_owned(),
            detail: format!("failed to start a queue thread: {source}"),
        };
        let (sync_sender, sync_thread) = match syncer {
            Some(syncer) => {
                let (sender, receiver) = mpsc::channel::<Group>();
                let thread = std::thread::Builder::new()
                    .name("vmafx-queue-syncer".to_owned())
                    .spawn(move || syncer.run(receiver))
                    .map_err(spawn_error)?;
                (Some(sender), Some(thread))
            }
            None => (None, None),
        };
        let (sender, receiver) = mpsc::channel::<Box<dyn Pending>>();
        let thread_path = path.to_owned();
        let thread_fatal = fatal.clone();
        let thread = std::thread::Builder::new()
            .name("vmafx-queue-writer".to_owned())
            .spawn(move || {
                let ctx = Ctx { config };
                run(conn, ctx, receiver, sync_sender, thread_fatal, &thread_path);
            })
            .map_err(spawn_error)?;
        Ok(Writer {
            path: path.to_owned(),
            fatal,
            sender: Some(sender),
            thread: Some(thread),
            syncer: sync_thread,
        })
    }

    /// Whether a syncer thread flushes for this writer (otherwise COMMIT itself syncs).
    pub(crate) fn pipelined(&self) -> bool {
        self.syncer.is_some()
    }

    /// Runs `work` in the next batch and returns its result once the batch is committed.
    pub(crate) fn call<T, F>(&self, durability: Durability, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &Ctx) -> OpResult<T> + Send + 'static,
    {
        if let Some(reason) = self.fatal.get() {
            return Err(Error::Fatal(reason.to_owned()));
        }
        let closed = || Error::Closed {
            path: self.path.clone(),
        };
        let (reply, answer) = mpsc::sync_channel(1);
        let call = Call {
            durability,
            work: Some(work),
            result: None,
            reply,
        };
        self.sender
            .as_ref()
            .ok_or_else(closed)?
            .send(Box::new(call))
            .map_err(|_| closed())?;
        match answer.recv() {
            Ok(result) => result.map_err(|e| e.at(&self.path)),
            Err(_) => Err(closed()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel lets the thread finish its last batch and exit.
        self.sender.take();
        // The writer goes first: it holds the syncer's channel, whose closing stops the syncer.
        for thread in [self.thread.take(), self.syncer.take()]
            .into_iter()
            .flatten()
        {
            if thread.join().is_err() {
                tracing::error!(path = %self.path.display(), "queue thread panicked");
            }
        }
    }
}

fn run(
    conn: Connection,
    ctx: Ctx,
    receiver: Receiver<Box<dyn Pending>>,
    syncer: Option<Sender<Group>>,
    fatal: Fatal,
    path: &Path,
) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        if fatal.get().is_none() {
            if let Err(error) = commit_batch(&conn, &ctx, &mut batch, path) {
                // With synchronous=FULL (no syncer) COMMIT itself fsyncs.
                if fatal::is_fsync_error(&error) {
                    fatal.set(format!("failed to fsync {}: {error}", path.display()));
                } else {
                    let detail = error.to_string();
                    for op in batch.drain(..) {
                        op.finish(Some(Failed::Commit(&detail)));
                    }
                }
            }
        }
        // Checked after the commit too: a flush that failed meanwhile may have lost this batch.
        if let Some(reason) = fatal.get() {
            for op in batch.drain(..) {
                op.finish(Some(Failed::Fatal(reason)));
            }
            continue;
        }
        let Some(syncer) = &syncer else {
            // The connection synced inside COMMIT.
            for op in batch {
                op.finish(None);
            }
            continue;
        };
        let mut to_sync = Group::new();
        for op in batch {
            match op.durability() {
                Durability::Committed => op.finish(None),
                Durability::Synced => to_sync.push(op),
            }
        }
        if !to_sync.is_empty() {
            if let Err(unsent) = syncer.send(to_sync) {
                for op in unsent.0 {
                    op.finish(Some(Failed::Commit("the WAL syncer thread stopped")));
                }
            }
        }
    }
    if fatal.get().is_some() {
        fatal::no_checkpoint_on_close(&conn);
    }
    tracing::debug!(path = %path.display(), "queue writer stopped");
}

/// Runs and commits one batch, rolling it back on failure; the caller answers the operations.
fn commit_batch(
    conn: &Connection,
    ctx: &Ctx,
    batch: &mut [Box<dyn Pending>],
    path: &Path,
) -> rusqlite::Result<()> {
    // Cached statements: these run around every operation, and parsing them each time costs
    // more than the savepoints themselves.
    let exec = |sql: &str| {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([]).map(drop))
    };
    let outcome = (|| -> rusqlite::Result<()> {
        exec("BEGIN IMMEDIATE")?;
        for op in batch.iter_mut() {
            exec("SAVEPOINT op")?;
            if !op.run(conn, ctx) {
                exec("ROLLBACK TO op")?;
            }
            exec("RELEASE op")?;
        }
        exec("COMMIT")
    })();
    if let Err(error) = &outcome {
        tracing::error!(path = %path.display(), %error, ops = batch.len(), "queue batch failed");
        if !conn.is_autocommit() {
            if let Err(rollback) = conn.execute_batch("ROLLBACK") {
                tracing::error!(path = %path.display(), %rollback, "queue batch rollback failed");
            }
        }
    }
    outcome
}
