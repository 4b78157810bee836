//! Recomputing the rollups exactly from the `traces` table.

use rusqlite::{params, Connection};
use serde::Serialize;

use super::{RollupDelta, RollupRow, TABLES};
use crate::error::Result;
use crate::metrics::counters::CallMeasures;
use crate::store::seam::RollupRebuild;

/// Rows aggregated in memory before they are written (bounds memory on big stores).
const CHUNK_ROWS: usize = 50_000;

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RebuildStats {
    /// The repo rebuilt, `None` for every repo.
    pub repo: Option<String>,
    /// Trace rows read.
    pub traces: u64,
    /// `rollup_cells` rows written.
    pub cells: u64,
    /// `rollup_errors` rows written.
    pub error_rows: u64,
    /// `rollup_sessions` rows written.
    pub session_rows: u64,
    /// `rollup_session_models` rows written.
    pub session_model_rows: u64,
}

/// Borrows a TEXT-or-NULL column without copying it.
fn text<'a>(row: &'a rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'a str>> {
    row.get_ref(i)?.as_str_or_null().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The columns a rollup reads, in [`rollup_row`] order.
pub(crate) const ROW_COLUMNS: &str = "repo_slug, timestamp_us, developer_id, session_id, model,
    tokens_in, tokens_out, latency_ms, ttft_ms, status_code, is_error, error_class, accepted,
    diff_ratio, accepted_lines, cost_usd";

/// A stored row as the rollups see it (columns as in [`ROW_COLUMNS`], from `at`).
pub(crate) fn rollup_row<'a>(
    r: &'a rusqlite::Row<'_>,
    at: usize,
) -> rusqlite::Result<RollupRow<'a>> {
    let tokens_in: i64 = r.get(at + 5)?;
    let tokens_out: i64 = r.get(at + 6)?;
    Ok(RollupRow {
        repo: text(r, at)?,
        timestamp_us: r.get(at + 1)?,
        developer: text(r, at + 2)?,
        session: text(r, at + 3)?,
        model: text(r, at + 4)?,
        status: r.get(at + 9)?,
        error_class: text(r, at + 11)?,
        measures: CallMeasures {
            tokens: tokens_in.saturating_add(tokens_out),
            output_tokens: tokens_out,
            latency_ms: r.get(at + 7)?,
            ttft_ms: r.get(at + 8)?,
            is_error: r.get(at + 10)?,
            accepted: r.get(at + 12)?,
            diff_ratio: r.get(at + 13)?,
            accepted_lines: r.get(at + 14)?,
            cost_usd: r.get(at + 15)?,
        },
    })
}

/// ` WHERE repo = ?1` for one repo, nothing for all (so that the primary key serves one repo).
fn repo_clause(repo: Option<&str>) -> &'static str {
    if repo.is_some() {
        " WHERE repo = ?1"
    } else {
        ""
    }
}

fn count(conn: &Connection, table: &str, repo: Option<&str>) -> Result<u64> {
    // `table` is one of the constant names in TABLES, never input.
    let sql = format!("SELECT COUNT(*) FROM {table}{}", repo_clause(repo));
    let n: i64 = match repo {
        Some(r) => conn.query_row(&sql, [r], |row| row.get(0))?,
        None => conn.query_row(&sql, [], |row| row.get(0))?,
    };
    Ok(n.max(0) as u64)
}

/// Deletes the rollups of `repo` (every repo when `None`) and recomputes them from `traces`.
///
/// Call inside a transaction: the rollups are never seen half rebuilt.
pub fn rebuild(conn: &Connection, repo: Option<&str>) -> Result<RebuildStats> {
    for table in TABLES {
        let sql = format!("DELETE FROM {table}{}", repo_clause(repo));
        match repo {
            Some(r) => conn.execute(&sql, [r])?,
            None => conn.execute(&sql, [])?,
        };
    }
    let filter = if repo.is_some() {
        "repo_slug = ?1"
    } else {
        "repo_slug IS NOT NULL AND repo_slug <> ''"
    };
    let mut stmt = conn.prepare(&format!("SELECT {ROW_COLUMNS} FROM traces WHERE {filter}"))?;
    let mut rows = match repo {
        Some(r) => stmt.query(params![r])?,
        None => stmt.query([])?,
    };
    let mut delta = RollupDelta::new();
    let (mut traces, mut pending) = (0u64, 0usize);
    while let Some(r) = rows.next()? {
        delta.add(&rollup_row(r, 0)?);
        traces += 1;
        pending += 1;
        if pending >= CHUNK_ROWS {
            delta.apply(conn)?;
            delta = RollupDelta::new();
            pending = 0;
        }
    }
    delta.apply(conn)?;
    Ok(RebuildStats {
        repo: repo.map(str::to_string),
        traces,
        cells: count(conn, TABLES[0], repo)?,
        error_rows: count(conn, TABLES[1], repo)?,
        session_rows: count(conn, TABLES[2], repo)?,
        session_model_rows: count(conn, TABLES[3], repo)?,
    })
}

impl RollupRebuild for crate::store::Store {
    /// Recomputes the rollups of `repo` (every repo when `None`) from `traces`, in one
    /// transaction that waits for other writers.
    fn rebuild_rollups(&mut self, repo: Option<&str>) -> Result<RebuildStats> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let stats = rebuild(&tx, repo)?;
        tx.commit()?;
        Ok(stats)
    }
}
