//! Mapping between table rows and the model types.

use rusqlite::Row;

use super::{OpError, OpResult};
use crate::model::{Job, JobSpec, JobState, JobSummary, Node, NodeInfo};

/// The columns `job_from_row` reads, in order.
pub(crate) const JOB_COLUMNS: &str = "seq, id, spec, state, attempts, max_attempts, node_id, \
     frames_done, frames_total, error, created_ms, started_ms, finished_ms, not_before_ms, \
     lease_expires_ms, cancel_requested, summary, lease_token";

/// A job with the bookkeeping columns that the model does not show.
pub(crate) struct JobRow {
    /// Insertion order; the key of listings and their page tokens.
    pub(crate) seq: i64,
    pub(crate) job: Job,
    /// The current lease's token (0 before the first claim).
    pub(crate) token: u64,
}

/// Reads a row selected with [`JOB_COLUMNS`].
pub(crate) fn job_from_row(row: &Row<'_>) -> OpResult<JobRow> {
    let id: String = row.get(1)?;
    let spec_text: String = row.get(2)?;
    let spec: JobSpec = serde_json::from_str(&spec_text).map_err(|e| OpError::Corrupt {
        what: format!("spec of job {id}"),
        detail: e.to_string(),
    })?;
    let state_text: String = row.get(3)?;
    let state: JobState = state_text.parse().map_err(|_| OpError::Corrupt {
        what: format!("state of job {id}"),
        detail: format!("unknown state {state_text:?}"),
    })?;
    let summary_text: Option<String> = row.get(16)?;
    let summary: Option<JobSummary> = match summary_text {
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| OpError::Corrupt {
            what: format!("summary of job {id}"),
            detail: e.to_string(),
        })?),
        None => None,
    };
    let job = Job {
        spec,
        state,
        attempts: row.get(4)?,
        max_attempts: row.get(5)?,
        node_id: row.get(6)?,
        frames_done: get_u64(row, 7)?,
        frames_total: row
            .get::<_, Option<i64>>(8)?
            .map(|v| to_u64(8, v))
            .transpose()?,
        error: row.get(9)?,
        created_ms: row.get(10)?,
        started_ms: row.get(11)?,
        finished_ms: row.get(12)?,
        not_before_ms: row.get(13)?,
        lease_expires_ms: row.get(14)?,
        cancel_requested: row.get(15)?,
        summary,
        id,
    };
    Ok(JobRow {
        seq: row.get(0)?,
        job,
        token: get_u64(row, 17)?,
    })
}

/// The columns `node_from_row` reads, in order, from `nodes` aliased as `n`.
pub(crate) const NODE_COLUMNS: &str = "n.id, n.info, n.registered_ms, n.last_heartbeat_ms, \
     n.healthy, (SELECT COUNT(*) FROM jobs j WHERE j.state = 'RUNNING' AND j.node_id = n.id), \
     n.seq, n.name, n.superseded_ms";

/// A node incarnation with the bookkeeping columns that the model does not show.
pub(crate) struct NodeRow {
    pub(crate) node: Node,
    /// Registration order; the key of node listings and their page tokens.
    pub(crate) seq: i64,
    /// The registered name (also inside `node.info`, as the node sent it).
    pub(crate) name: String,
    /// When a later registration of the same name replaced this incarnation.
    pub(crate) superseded_ms: Option<i64>,
}

/// Reads a row selected with [`NODE_COLUMNS`].
pub(crate) fn node_from_row(row: &Row<'_>) -> OpResult<NodeRow> {
    let id: String = row.get(0)?;
    let info_text: String = row.get(1)?;
    let info: NodeInfo = serde_json::from_str(&info_text).map_err(|e| OpError::Corrupt {
        what: format!("info of node {id}"),
        detail: e.to_string(),
    })?;
    let node = Node {
        info,
        registered_ms: row.get(2)?,
        last_heartbeat_ms: row.get(3)?,
        healthy: row.get(4)?,
        running: row.get(5)?,
        id,
    };
    Ok(NodeRow {
        node,
        seq: row.get(6)?,
        name: row.get(7)?,
        superseded_ms: row.get(8)?,
    })
}

/// SQLite integers are signed; counters and tokens are stored as non-negative i64.
pub(crate) fn get_u64(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    to_u64(index, row.get(index)?)
}

fn to_u64(index: usize, value: i64) -> rusqlite::Result<u64> {
    u64::try_from(value).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Integer,
            Box::new(e),
        )
    })
}

/// Stores a counter; values past i64::MAX (never reached in practice) saturate.
pub(crate) fn sql_u64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Encodes a value for a JSON text column.
pub(crate) fn to_json<T: serde::Serialize>(what: &str, value: &T) -> OpResult<String> {
    serde_json::to_string(value).map_err(|e| OpError::Corrupt {
        what: what.to_owned(),
        detail: format!("failed to encode: {e}"),
    })
}
