//! Queries, run on read-only connections beside the writer.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use super::rows::{job_from_row, node_from_row, JOB_COLUMNS, NODE_COLUMNS};
use super::OpResult;
use crate::error::Error;
use crate::model::{
    Feedback, FeedbackFilter, Job, JobCounts, JobFilter, JobPage, JobState, Node, NodeFilter,
    NodePage,
};

const DEFAULT_PAGE: u32 = 50;
const DEFAULT_FEEDBACK_PAGE: u32 = 100;
const DEFAULT_NODE_PAGE: u32 = 100;
pub(crate) const MAX_PAGE: u32 = 1000;

/// The seq a page token carries: the key of the previous page's last row.
fn after_seq(token: &str) -> OpResult<i64> {
    token
        .parse()
        .ok()
        .filter(|seq: &i64| *seq > 0)
        .ok_or_else(|| Error::InvalidPageToken(token.to_owned()).into())
}

pub(crate) fn get(conn: &Connection, id: &str) -> OpResult<Option<Job>> {
    Ok(super::ops::job_by_id(conn, id)?.map(|row| row.job))
}

pub(crate) fn list(conn: &Connection, filter: &JobFilter) -> OpResult<JobPage> {
    let limit = match filter.limit {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    };
    let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    if !filter.states.is_empty() {
        let marks = vec!["?"; filter.states.len()].join(", ");
        sql.push_str(&format!(" AND state IN ({marks})"));
        args.extend(
            filter
                .states
                .iter()
                .map(|state| Value::Text(state.as_str().to_owned())),
        );
    }
    if let Some(node_id) = &filter.node_id {
        sql.push_str(" AND node_id = ?");
        args.push(Value::Text(node_id.clone()));
    }
    if let Some(token) = &filter.page_token {
        // The token is the seq of the previous page's last job; keyset paging stays stable
        // while jobs are added.
        sql.push_str(" AND seq < ?");
        args.push(Value::Integer(after_seq(token)?));
    }
    sql.push_str(" ORDER BY seq DESC LIMIT ?");
    args.push(Value::Integer(i64::from(limit) + 1));

    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params_from_iter(args))?;
    let mut jobs = Vec::new();
    let mut last_seq = None;
    let mut more = false;
    while let Some(row) = rows.next()? {
        if jobs.len() == limit as usize {
            more = true;
            break;
        }
        let job_row = job_from_row(row)?;
        last_seq = Some(job_row.seq);
        jobs.push(job_row.job);
    }
    let next_page_token = if more {
        last_seq.map(|seq| seq.to_string())
    } else {
        None
    };
    Ok(JobPage {
        jobs,
        next_page_token,
    })
}

pub(crate) fn frames(conn: &Connection, job_id: &str) -> OpResult<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT document FROM job_frames WHERE job_id = ?1")?
        .query_row(params![job_id], |row| row.get(0))
        .optional()?)
}

/// Live incarnations oldest first, one page of at most `max` (superseded incarnations are
/// history: they show only through [`node`] and the jobs that ran on them).
pub(crate) fn list_nodes(conn: &Connection, filter: &NodeFilter, max: u32) -> OpResult<NodePage> {
    let limit = match filter.limit {
        0 => DEFAULT_NODE_PAGE,
        n => n,
    }
    .min(max);
    let after = match &filter.page_token {
        Some(token) => after_seq(token)?,
        None => 0,
    };
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {NODE_COLUMNS} FROM nodes n WHERE n.superseded_ms IS NULL AND n.seq > ?1 \
         ORDER BY n.seq LIMIT ?2"
    ))?;
    let mut rows = statement.query(params![after, i64::from(limit) + 1])?;
    let mut nodes = Vec::new();
    let mut last_seq = None;
    let mut more = false;
    while let Some(row) = rows.next()? {
        if nodes.len() == limit as usize {
            more = true;
            break;
        }
        let node_row = node_from_row(row)?;
        last_seq = Some(node_row.seq);
        nodes.push(node_row.node);
    }
    Ok(NodePage {
        nodes,
        next_page_token: last_seq.filter(|_| more).map(|seq| seq.to_string()),
    })
}

pub(crate) fn node(conn: &Connection, id: &str) -> OpResult<Option<Node>> {
    Ok(super::ops::node_by_id(conn, id)?.map(|row| row.node))
}

pub(crate) fn counts(conn: &Connection) -> OpResult<JobCounts> {
    let mut statement = conn.prepare_cached("SELECT state, COUNT(*) FROM jobs GROUP BY state")?;
    let mut rows = statement.query([])?;
    let mut counts = JobCounts::default();
    while let Some(row) = rows.next()? {
        let state_text: String = row.get(0)?;
        let count = super::rows::get_u64(row, 1)?;
        let state: JobState = state_text.parse().map_err(|_| super::OpError::Corrupt {
            what: "job state".to_owned(),
            detail: format!("unknown state {state_text:?}"),
        })?;
        *counts.slot(state) += count;
    }
    Ok(counts)
}

pub(crate) fn list_feedback(conn: &Connection, filter: &FeedbackFilter) -> OpResult<Vec<Feedback>> {
    let limit = match filter.limit {
        0 => DEFAULT_FEEDBACK_PAGE,
        n => n.min(MAX_PAGE),
    };
    let mut statement = conn.prepare_cached(
        "SELECT f.seq, f.job_id, f.target, j.node_id, f.created_ms FROM job_feedback f \
         JOIN jobs j ON j.id = f.job_id WHERE f.seq > ?1 ORDER BY f.seq LIMIT ?2",
    )?;
    let rows = statement.query_map(params![filter.after_seq, i64::from(limit)], |row| {
        Ok(Feedback {
            seq: row.get(0)?,
            job_id: row.get(1)?,
            target: row.get(2)?,
            node_id: row.get(3)?,
            created_ms: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
