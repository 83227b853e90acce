//! The state transitions, each run by the writer inside its own savepoint.

use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{
    job_from_row, node_from_row, sql_u64, to_json, JobRow, NodeRow, JOB_COLUMNS, NODE_COLUMNS,
};
use super::writer::Ctx;
use super::{OpResult, PURGE_BATCH};
use crate::error::Error;
use crate::model::{
    check_feedback_target, Backend, Feedback, HeartbeatAck, HeldAttempt, Job, JobSpec, JobState,
    JobSummary, Lease, NodeInfo, ProgressAck, Purged, Reaped, Registered, Submitted,
    MAX_METRIC_NAME_BYTES, MAX_SUMMARY_METRICS,
};

/// Bytes of per-frame documents one purge deletes at most (beyond its first job's): freeing a
/// document walks its overflow pages, so this bounds how long a purge holds the writer.
const PURGE_MAX_FRAME_BYTES: i64 = 64 << 20;

/// Free pages one purge gives back to the file system (databases made with
/// `auto_vacuum=INCREMENTAL`); the rest stay on the freelist for new rows to reuse.
const PURGE_VACUUM_PAGES: u32 = 2_048;

/// What progress, complete and fail present to prove they may touch a job.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LeaseRef<'a> {
    pub(crate) job_id: &'a str,
    pub(crate) token: u64,
    /// The node id that must hold the job's current attempt; `None` trusts the token alone.
    pub(crate) holder: Option<&'a str>,
}

pub(crate) fn job_by_id(conn: &Connection, id: &str) -> OpResult<Option<JobRow>> {
    let mut statement =
        conn.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))?;
    let mut rows = statement.query(params![id])?;
    match rows.next()? {
        Some(row) => Ok(Some(job_from_row(row)?)),
        None => Ok(None),
    }
}

pub(crate) fn node_by_id(conn: &Connection, id: &str) -> OpResult<Option<NodeRow>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {NODE_COLUMNS} FROM nodes n WHERE n.id = ?1"
    ))?;
    let mut rows = statement.query(params![id])?;
    match rows.next()? {
        Some(row) => Ok(Some(node_from_row(row)?)),
        None => Ok(None),
    }
}

/// The live incarnation with this id, or why there is none.
fn live_node(conn: &Connection, id: &str) -> OpResult<NodeRow> {
    match node_by_id(conn, id)? {
        None => Err(Error::NodeNotFound(id.to_owned()).into()),
        Some(row) if row.superseded_ms.is_some() => Err(Error::NodeSuperseded {
            node_id: id.to_owned(),
            name: row.name,
        }
        .into()),
        Some(row) => Ok(row),
    }
}

fn validate(spec: &JobSpec) -> Result<(), Error> {
    let invalid = |field, reason: &str| Error::InvalidSpec {
        field,
        reason: reason.to_owned(),
    };
    if spec.reference.trim().is_empty() {
        return Err(invalid("reference", "is empty"));
    }
    if spec.distorted.trim().is_empty() {
        return Err(invalid("distorted", "is empty"));
    }
    if spec.models.iter().any(|model| model.trim().is_empty()) {
        return Err(invalid("models", "holds an empty model spec"));
    }
    if spec
        .features
        .iter()
        .any(|feature| feature.trim().is_empty())
    {
        return Err(invalid("features", "holds an empty feature spec"));
    }
    if spec.idempotency_key.as_deref() == Some("") {
        return Err(invalid(
            "idempotency_key",
            "is empty (leave it out instead)",
        ));
    }
    if spec.max_attempts == Some(0) {
        return Err(invalid(
            "max_attempts",
            "is 0; a job needs at least one attempt",
        ));
    }
    Ok(())
}

pub(crate) fn submit(
    conn: &Connection,
    ctx: &Ctx,
    spec: JobSpec,
    now_ms: i64,
) -> OpResult<Submitted> {
    validate(&spec)?;
    if let Some(key) = &spec.idempotency_key {
        let existing: Option<String> = conn
            .prepare_cached("SELECT id FROM jobs WHERE idempotency_key = ?1")?
            .query_row(params![key], |row| row.get(0))
            .optional()?;
        if let Some(id) = existing {
            if let Some(found) = job_by_id(conn, &id)? {
                if found.job.spec == spec {
                    return Ok(Submitted {
                        job: found.job,
                        created: false,
                    });
                }
            }
            return Err(Error::IdempotencyConflict {
                key: key.clone(),
                job_id: id,
            }
            .into());
        }
    }
    let id = uuid::Uuid::now_v7().to_string();
    let max_attempts = spec
        .max_attempts
        .unwrap_or(ctx.config.default_max_attempts)
        .max(1);
    let spec_json = to_json("job spec", &spec)?;
    conn.prepare_cached(
        "INSERT INTO jobs (id, spec, backend, priority, idempotency_key, state, max_attempts, \
         created_ms, not_before_ms) VALUES (?1, ?2, ?3, ?4, ?5, 'PENDING', ?6, ?7, ?7)",
    )?
    .execute(params![
        id,
        spec_json,
        spec.backend.as_str(),
        spec.priority,
        spec.idempotency_key,
        max_attempts,
        now_ms
    ])?;
    tracing::debug!(job = %id, priority = spec.priority, backend = %spec.backend, "job submitted");
    Ok(Submitted {
        job: Job {
            id,
            spec,
            state: JobState::Pending,
            attempts: 0,
            max_attempts,
            node_id: None,
            frames_done: 0,
            frames_total: None,
            error: None,
            created_ms: now_ms,
            started_ms: None,
            finished_ms: None,
            not_before_ms: now_ms,
            lease_expires_ms: None,
            cancel_requested: false,
            summary: None,
        },
        created: true,
    })
}

pub(crate) fn cancel(conn: &Connection, id: &str, now_ms: i64) -> OpResult<Job> {
    let mut row = job_by_id(conn, id)?.ok_or_else(|| Error::JobNotFound(id.to_owned()))?;
    match row.job.state {
        JobState::Pending => {
            conn.prepare_cached(
                "UPDATE jobs SET state = 'CANCELLED', finished_ms = ?2 WHERE seq = ?1",
            )?
            .execute(params![row.seq, now_ms])?;
            row.job.state = JobState::Cancelled;
            row.job.finished_ms = Some(now_ms);
            tracing::info!(job = %id, "pending job cancelled");
        }
        JobState::Running if !row.job.cancel_requested => {
            conn.prepare_cached("UPDATE jobs SET cancel_requested = 1 WHERE seq = ?1")?
                .execute(params![row.seq])?;
            row.job.cancel_requested = true;
            tracing::info!(job = %id, node = ?row.job.node_id, "cancel requested for running job");
        }
        _ => {}
    }
    Ok(row.job)
}

/// Registers a new incarnation of `info.name`. Nodes keep one row per incarnation rather than one
/// per name: the id of a superseded incarnation must stay recognisable (so that its calls fail
/// with `NodeSuperseded` rather than as an unknown id) and still name the node its old jobs ran
/// on (ListJobs filters by incarnation id). A partial unique index keeps one live incarnation per
/// name; listings show only live ones; purge forgets superseded ones like dead nodes.
pub(crate) fn register_node(
    conn: &Connection,
    ctx: &Ctx,
    info: NodeInfo,
    now_ms: i64,
) -> OpResult<Registered> {
    if info.name.trim().is_empty() {
        return Err(Error::InvalidSpec {
            field: "name",
            reason: "of the node is empty".to_owned(),
        }
        .into());
    }
    let cap = ctx.config.max_node_capacity;
    if info.capacity > cap {
        return Err(Error::InvalidSpec {
            field: "capacity",
            reason: format!(
                "of node {} is {}, above the limit of {cap}",
                info.name, info.capacity
            ),
        }
        .into());
    }
    let info_json = to_json("node info", &info)?;
    let previous: Option<String> = conn
        .prepare_cached("SELECT id FROM nodes WHERE name = ?1 AND superseded_ms IS NULL")?
        .query_row(params![info.name], |row| row.get(0))
        .optional()?;
    let mut requeued = Vec::new();
    if let Some(previous) = previous {
        conn.prepare_cached("UPDATE nodes SET superseded_ms = ?2, healthy = 0 WHERE id = ?1")?
            .execute(params![previous, now_ms])?;
        // The process behind the old incarnation is gone (it would not register its own name
        // again otherwise), so its attempts are lost leases, ended now rather than at expiry.
        let message = format!("node {} restarted (new incarnation)", info.name);
        for row in running_jobs(conn, "node_id = ?1", params![previous])? {
            let (job, _) = end_attempt(conn, ctx, row, &message, true, now_ms)?;
            requeued.push(job.id);
        }
        tracing::info!(
            node = %previous, name = %info.name, ended = requeued.len(),
            "node incarnation superseded by a new registration"
        );
    }
    let id = uuid::Uuid::now_v7().to_string();
    conn.prepare_cached(
        "INSERT INTO nodes (id, name, info, registered_ms, last_heartbeat_ms, healthy) \
         VALUES (?1, ?2, ?3, ?4, ?4, 1)",
    )?
    .execute(params![id, info.name, info_json, now_ms])?;
    tracing::info!(node = %id, name = %info.name, "node registered");
    let node = node_by_id(conn, &id)?
        .ok_or_else(|| Error::NodeNotFound(id.clone()))?
        .node;
    Ok(Registered { node, requeued })
}

pub(crate) fn heartbeat(
    conn: &Connection,
    ctx: &Ctx,
    node_id: &str,
    held: &[HeldAttempt],
    now_ms: i64,
) -> OpResult<HeartbeatAck> {
    if held.len() > ctx.config.max_node_capacity as usize {
        return Err(Error::InvalidSpec {
            field: "held",
            reason: format!(
                "lists {} attempts, more than the node capacity cap of {}",
                held.len(),
                ctx.config.max_node_capacity
            ),
        }
        .into());
    }
    let updated = conn
        .prepare_cached(
            "UPDATE nodes SET last_heartbeat_ms = ?2, healthy = 1 \
             WHERE id = ?1 AND superseded_ms IS NULL",
        )?
        .execute(params![node_id, now_ms])?;
    if updated == 0 {
        // Not live: say whether it is unknown or superseded.
        live_node(conn, node_id)?;
        return Err(Error::NodeNotFound(node_id.to_owned()).into());
    }
    // Only the attempts the node names are renewed: a lease it never learned of (its claim's
    // reply was lost with a dying controller) must expire rather than be kept alive for ever.
    let expires = now_ms.saturating_add(ctx.config.lease_ms);
    let mut renew = conn.prepare_cached(
        "UPDATE jobs SET lease_expires_ms = ?4 \
         WHERE id = ?1 AND state = 'RUNNING' AND node_id = ?2 AND lease_token = ?3",
    )?;
    let mut lost = Vec::new();
    for attempt in held {
        // Tokens are stored as SQLite integers; one beyond i64 cannot match any lease.
        let renewed = match i64::try_from(attempt.token) {
            Ok(token) => renew.execute(params![attempt.job_id, node_id, token, expires])?,
            Err(_) => 0,
        };
        if renewed == 0 {
            lost.push(attempt.job_id.clone());
        }
    }
    let mut statement = conn.prepare_cached(
        "SELECT id FROM jobs WHERE state = 'RUNNING' AND node_id = ?1 AND cancel_requested = 1 \
         ORDER BY seq",
    )?;
    let cancel = statement
        .query_map(params![node_id], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(HeartbeatAck { cancel, lost })
}

pub(crate) fn claim(
    conn: &Connection,
    ctx: &Ctx,
    node_id: &str,
    max: u32,
    now_ms: i64,
) -> OpResult<Vec<Lease>> {
    let node = live_node(conn, node_id)?.node;
    if !node.healthy {
        return Err(Error::NodeUnhealthy(node_id.to_owned()).into());
    }
    // The cap also binds nodes registered with more before it was lowered.
    let capacity = node.info.capacity.min(ctx.config.max_node_capacity);
    let free = capacity.saturating_sub(node.running);
    let wanted = max.min(free);
    if wanted == 0 {
        return Ok(Vec::new());
    }
    // A node that names no backend is a plain cpu node.
    let mut backends: Vec<Backend> = node.info.backends.clone();
    if backends.is_empty() {
        backends.push(Backend::Cpu);
    }
    backends.sort();
    backends.dedup();
    // Backend names come from the enum, never from input, so they can be spliced in; the
    // statement cache then holds one plan per backend set.
    let offered = backends
        .iter()
        .map(|backend| format!("'{}'", backend.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut pick = conn.prepare_cached(&format!(
        "SELECT seq FROM jobs INDEXED BY jobs_pending WHERE state = 'PENDING' \
         AND not_before_ms <= ?1 AND backend IN ({offered}) ORDER BY priority DESC, seq LIMIT ?2"
    ))?;
    let picked = pick
        .query_map(params![now_ms, wanted], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    let expires_ms = now_ms.saturating_add(ctx.config.lease_ms);
    let mut take = conn.prepare_cached(&format!(
        "UPDATE jobs SET state = 'RUNNING', attempts = attempts + 1, node_id = ?2, \
         started_ms = ?3, lease_token = ?5, lease_expires_ms = ?4, frames_done = 0, \
         frames_total = NULL, cancel_requested = 0 WHERE seq = ?1 RETURNING {JOB_COLUMNS}"
    ))?;
    let mut leases = Vec::with_capacity(picked.len());
    for seq in picked {
        let mut rows = take.query(params![seq, node_id, now_ms, expires_ms, new_token(seq)])?;
        if let Some(row) = rows.next()? {
            let row = job_from_row(row)?;
            tracing::debug!(job = %row.job.id, node = %node_id, attempt = row.job.attempts, "job claimed");
            leases.push(Lease {
                job: row.job,
                token: row.token,
                expires_ms,
            });
        }
    }
    Ok(leases)
}

/// A fresh lease token: random rather than counted, so that a claim rolled back by a power loss
/// (claims are acknowledged before the WAL flush) can never be handed out again to another node.
fn new_token(seq: i64) -> i64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_i64(seq);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    // Positive and non-zero: 0 means "never claimed", and SQLite integers are signed.
    ((hasher.finish() >> 1) | 1) as i64
}

/// The current job row if `lease` is its live lease; otherwise why not. The holder is checked
/// before the token: a node reporting on another node's job is refused as such
/// (`NotLeaseHolder`), whatever token it guessed; its own stale attempts get `LeaseLost`.
fn leased(conn: &Connection, lease: LeaseRef<'_>) -> OpResult<JobRow> {
    let LeaseRef {
        job_id,
        token,
        holder,
    } = lease;
    if let Some(holder) = holder {
        live_node(conn, holder)?;
    }
    let row = job_by_id(conn, job_id)?.ok_or_else(|| Error::JobNotFound(job_id.to_owned()))?;
    if let Some(holder) = holder {
        if row.job.node_id.as_deref() != Some(holder) {
            return Err(Error::NotLeaseHolder {
                job_id: job_id.to_owned(),
                node_id: holder.to_owned(),
            }
            .into());
        }
    }
    if row.job.state != JobState::Running || row.token != token {
        return Err(Error::LeaseLost {
            job_id: job_id.to_owned(),
            token,
        }
        .into());
    }
    Ok(row)
}

pub(crate) fn progress(
    conn: &Connection,
    ctx: &Ctx,
    lease: LeaseRef<'_>,
    frames_done: u64,
    frames_total: Option<u64>,
    now_ms: i64,
) -> OpResult<ProgressAck> {
    let row = leased(conn, lease)?;
    conn.prepare_cached(
        "UPDATE jobs SET frames_done = ?2, frames_total = COALESCE(?3, frames_total), \
         lease_expires_ms = ?4 WHERE seq = ?1",
    )?
    .execute(params![
        row.seq,
        sql_u64(frames_done),
        frames_total.map(sql_u64),
        now_ms.saturating_add(ctx.config.lease_ms)
    ])?;
    Ok(ProgressAck {
        cancel: row.job.cancel_requested,
    })
}

pub(crate) fn complete(
    conn: &Connection,
    lease: LeaseRef<'_>,
    summary: JobSummary,
    frames_document: Vec<u8>,
    now_ms: i64,
) -> OpResult<Job> {
    let job_id = lease.job_id;
    let mut row = leased(conn, lease)?;
    // JSON has no NaN: serde_json would store null, which no score can be read back as.
    for score in &summary.models {
        if let Some((statistic, value)) = score.first_non_finite() {
            return Err(Error::InvalidSpec {
                field: "summary",
                reason: format!(
                    "holds {value} as the {statistic} of model {:?}; scores must be finite",
                    score.model
                ),
            }
            .into());
        }
    }
    if summary.metrics.len() > MAX_SUMMARY_METRICS {
        return Err(Error::InvalidSpec {
            field: "summary",
            reason: format!(
                "holds {} metrics; at most {MAX_SUMMARY_METRICS} are accepted",
                summary.metrics.len()
            ),
        }
        .into());
    }
    if let Some(metric) = summary
        .metrics
        .iter()
        .find(|m| m.name.is_empty() || m.name.len() > MAX_METRIC_NAME_BYTES)
    {
        return Err(Error::InvalidSpec {
            field: "summary",
            reason: format!(
                "holds a metric name of {} bytes; names are 1 to {MAX_METRIC_NAME_BYTES} bytes",
                metric.name.len()
            ),
        }
        .into());
    }
    let summary_json = to_json("job summary", &summary)?;
    let frames_total = row.job.frames_total.unwrap_or(summary.frames);
    conn.prepare_cached(
        "UPDATE jobs SET state = 'COMPLETED', summary = ?2, frames_done = ?3, frames_total = ?4, \
         finished_ms = ?5, lease_expires_ms = NULL WHERE seq = ?1",
    )?
    .execute(params![
        row.seq,
        summary_json,
        sql_u64(summary.frames),
        sql_u64(frames_total),
        now_ms
    ])?;
    conn.prepare_cached("INSERT OR REPLACE INTO job_frames (job_id, document) VALUES (?1, ?2)")?
        .execute(params![job_id, frames_document])?;
    tracing::info!(job = %job_id, node = ?row.job.node_id, frames = summary.frames, "job completed");
    row.job.state = JobState::Completed;
    row.job.frames_done = summary.frames;
    row.job.frames_total = Some(frames_total);
    row.job.finished_ms = Some(now_ms);
    row.job.lease_expires_ms = None;
    row.job.summary = Some(summary);
    Ok(row.job)
}

pub(crate) fn fail(
    conn: &Connection,
    ctx: &Ctx,
    lease: LeaseRef<'_>,
    error: &str,
    retryable: bool,
    now_ms: i64,
) -> OpResult<Job> {
    let row = leased(conn, lease)?;
    let (job, _) = end_attempt(conn, ctx, row, error, retryable, now_ms)?;
    Ok(job)
}

/// How an attempt that did not complete ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Requeued,
    Failed,
    Cancelled,
}

/// Closes a running attempt without a result: cancelled if a client asked, requeued with backoff
/// if allowed, FAILED otherwise. The error is kept in every case, so the last one survives.
fn end_attempt(
    conn: &Connection,
    ctx: &Ctx,
    mut row: JobRow,
    error: &str,
    retryable: bool,
    now_ms: i64,
) -> OpResult<(Job, Ending)> {
    let job = &mut row.job;
    let ending = if job.cancel_requested {
        Ending::Cancelled
    } else if retryable && job.attempts < job.max_attempts {
        Ending::Requeued
    } else {
        Ending::Failed
    };
    job.error = Some(error.to_owned());
    job.lease_expires_ms = None;
    match ending {
        Ending::Requeued => {
            job.state = JobState::Pending;
            job.not_before_ms = now_ms.saturating_add(ctx.config.backoff_ms(job.attempts));
            job.finished_ms = None;
        }
        Ending::Failed => {
            job.state = JobState::Failed;
            job.finished_ms = Some(now_ms);
        }
        Ending::Cancelled => {
            job.state = JobState::Cancelled;
            job.finished_ms = Some(now_ms);
        }
    }
    conn.prepare_cached(
        "UPDATE jobs SET state = ?2, error = ?3, not_before_ms = ?4, finished_ms = ?5, \
         lease_expires_ms = NULL WHERE seq = ?1",
    )?
    .execute(params![
        row.seq,
        job.state.as_str(),
        job.error,
        job.not_before_ms,
        job.finished_ms
    ])?;
    match ending {
        Ending::Requeued => tracing::warn!(
            job = %job.id, attempt = job.attempts, max = job.max_attempts,
            retry_at_ms = job.not_before_ms, %error, "job attempt failed; requeued"
        ),
        Ending::Failed => tracing::warn!(
            job = %job.id, attempt = job.attempts, %error, "job failed"
        ),
        Ending::Cancelled => tracing::info!(job = %job.id, "running job cancelled"),
    }
    Ok((row.job, ending))
}

pub(crate) fn reap(conn: &Connection, ctx: &Ctx, now_ms: i64) -> OpResult<Reaped> {
    let mut reaped = Reaped::default();
    let silent_since = now_ms.saturating_sub(ctx.config.node_timeout_ms);
    let silent = conn
        .prepare_cached(
            "SELECT id FROM nodes WHERE healthy = 1 AND last_heartbeat_ms < ?1 ORDER BY seq",
        )?
        .query_map(params![silent_since], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    for node_id in silent {
        conn.prepare_cached("UPDATE nodes SET healthy = 0 WHERE id = ?1")?
            .execute(params![node_id])?;
        tracing::warn!(node = %node_id, "node stopped heartbeating; marked unhealthy");
        let message = format!(
            "node {node_id} stopped heartbeating for more than {} ms",
            ctx.config.node_timeout_ms
        );
        let jobs = running_jobs(conn, "node_id = ?1", params![node_id])?;
        for row in jobs {
            record(
                &mut reaped,
                end_attempt(conn, ctx, row, &message, true, now_ms)?,
            );
        }
        reaped.unhealthy_nodes.push(node_id);
    }
    let expired = running_jobs(conn, "lease_expires_ms < ?1", params![now_ms])?;
    for row in expired {
        let message = format!(
            "lease expired on node {}: no heartbeat or progress for {} ms",
            row.job.node_id.as_deref().unwrap_or("?"),
            ctx.config.lease_ms
        );
        record(
            &mut reaped,
            end_attempt(conn, ctx, row, &message, true, now_ms)?,
        );
    }
    Ok(reaped)
}

fn running_jobs(
    conn: &Connection,
    condition: &str,
    args: impl rusqlite::Params,
) -> OpResult<Vec<JobRow>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'RUNNING' AND {condition} ORDER BY seq"
    ))?;
    let mut rows = statement.query(args)?;
    let mut jobs = Vec::new();
    while let Some(row) = rows.next()? {
        jobs.push(job_from_row(row)?);
    }
    Ok(jobs)
}

fn record(reaped: &mut Reaped, (job, ending): (Job, Ending)) {
    match ending {
        Ending::Requeued => reaped.requeued.push(job.id),
        Ending::Failed => reaped.failed.push(job.id),
        Ending::Cancelled => reaped.cancelled.push(job.id),
    }
}

/// Deletes what retention no longer keeps; see [`JobStore::purge`](crate::JobStore::purge).
/// Cutoffs past `now_ms` are taken as `now_ms`, so a skewed caller cannot purge the future.
pub(crate) fn purge(
    conn: &Connection,
    finished_before_ms: Option<i64>,
    dead_nodes_before_ms: Option<i64>,
    now_ms: i64,
) -> OpResult<Purged> {
    let mut purged = Purged::default();
    let batch = i64::try_from(PURGE_BATCH).unwrap_or(i64::MAX);
    if let Some(cutoff) = finished_before_ms.map(|ms| ms.min(now_ms)) {
        let candidates = conn
            .prepare_cached(
                "SELECT j.seq, j.id, \
                 COALESCE((SELECT length(f.document) FROM job_frames f WHERE f.job_id = j.id), 0) \
                 FROM jobs j INDEXED BY jobs_finished \
                 WHERE j.finished_ms IS NOT NULL AND j.finished_ms < ?1 \
                 AND j.state IN ('COMPLETED', 'FAILED', 'CANCELLED') \
                 ORDER BY j.finished_ms LIMIT ?2",
            )?
            .query_map(params![cutoff, batch], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut frame_bytes = 0_i64;
        for (seq, id, size) in candidates {
            if purged.jobs > 0 && frame_bytes.saturating_add(size) > PURGE_MAX_FRAME_BYTES {
                break;
            }
            frame_bytes = frame_bytes.saturating_add(size);
            // Frames and feedback first: they reference the job.
            conn.prepare_cached("DELETE FROM job_frames WHERE job_id = ?1")?
                .execute(params![id])?;
            conn.prepare_cached("DELETE FROM job_feedback WHERE job_id = ?1")?
                .execute(params![id])?;
            conn.prepare_cached("DELETE FROM jobs WHERE seq = ?1")?
                .execute(params![seq])?;
            purged.jobs += 1;
        }
    }
    if let Some(cutoff) = dead_nodes_before_ms.map(|ms| ms.min(now_ms)) {
        let dead = conn
            .prepare_cached(
                "SELECT n.seq FROM nodes n WHERE n.healthy = 0 AND n.last_heartbeat_ms < ?1 \
                 AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.state = 'RUNNING' \
                 AND j.node_id = n.id) ORDER BY n.last_heartbeat_ms LIMIT ?2",
            )?
            .query_map(params![cutoff, batch], |row| row.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        for seq in dead {
            conn.prepare_cached("DELETE FROM nodes WHERE seq = ?1")?
                .execute(params![seq])?;
            purged.nodes += 1;
        }
    }
    // Every call, deleting or not, so that periodic purges go on shrinking the file after a
    // large deletion. Each step of the pragma frees one page; it does nothing when the freelist
    // is empty or the file predates auto_vacuum=INCREMENTAL.
    let mut vacuum =
        conn.prepare_cached(&format!("PRAGMA incremental_vacuum({PURGE_VACUUM_PAGES})"))?;
    let mut steps = vacuum.query([])?;
    while steps.next()?.is_some() {}
    if purged.jobs > 0 || purged.nodes > 0 {
        tracing::info!(
            jobs = purged.jobs,
            nodes = purged.nodes,
            "queue retention purge"
        );
    }
    Ok(purged)
}

/// Stores feedback for a completed job; see
/// [`JobStore::add_feedback`](crate::JobStore::add_feedback).
pub(crate) fn add_feedback(
    conn: &Connection,
    job_id: &str,
    target: f64,
    now_ms: i64,
) -> OpResult<Feedback> {
    check_feedback_target(target)?;
    let row = job_by_id(conn, job_id)?.ok_or_else(|| Error::InvalidSpec {
        field: "id",
        reason: format!("names no job ({job_id:?}); feedback is given to a completed job"),
    })?;
    if row.job.state != JobState::Completed {
        return Err(Error::InvalidSpec {
            field: "id",
            reason: format!(
                "names job {job_id}, which is {}; feedback is given to a COMPLETED job only",
                row.job.state
            ),
        }
        .into());
    }
    // Replacing deletes and inserts, so the new row takes a seq above every earlier one
    // (AUTOINCREMENT never reuses one) and a reader that resumes after its last seq sees it.
    conn.prepare_cached(
        "INSERT OR REPLACE INTO job_feedback (job_id, target, created_ms) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![job_id, target, now_ms])?;
    let seq = conn.last_insert_rowid();
    tracing::info!(job = %job_id, target, "feedback stored");
    Ok(Feedback {
        seq,
        job_id: job_id.to_owned(),
        target,
        node_id: row.job.node_id,
        created_ms: now_ms,
    })
}

/// The readiness probe's write: one small row, changed on every call so that a page is written.
pub(crate) fn probe(conn: &Connection) -> OpResult<()> {
    conn.prepare_cached(
        "INSERT INTO probe (id, writes) VALUES (1, 1) \
         ON CONFLICT (id) DO UPDATE SET writes = writes + 1",
    )?
    .execute([])?;
    Ok(())
}
