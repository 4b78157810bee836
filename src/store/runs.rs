//! The `etl_runs` table: every ingest run, with its counts and outcome.

use super::seam::*;
use super::Store;
use crate::error::Result;
use chrono::Utc;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

/// Counts recorded for a run.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct RunCounts {
    /// Lines read (blank lines excluded).
    pub read: u64,
    /// Rows inserted.
    pub inserted: u64,
    /// Records already stored.
    pub duplicates: u64,
    /// Lines sent to the dead-letter queue.
    pub dead_lettered: u64,
    /// Valid lines that are not LLM calls.
    pub skipped: u64,
    /// Inserted rows whose cost is unknown.
    pub cost_unknown: u64,
}

/// One row of `etl_runs`, as `status` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    /// Run id.
    pub id: i64,
    /// Job name (`ingest-traces`, …).
    pub job: String,
    /// Input description (paths, `-` for stdin).
    pub source: String,
    /// Start time, RFC 3339 UTC.
    pub started_at: String,
    /// Finish time, when finished.
    pub finished_at: Option<String>,
    /// `running`, `ok`, `failed: …`.
    pub outcome: String,
    /// Counts.
    #[serde(flatten)]
    pub counts: RunCounts,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl RunLog for Store {
    /// Records the start of a run and returns its id.
    fn start_run(&self, job: &str, source: &str) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO etl_runs (job, source, started_at, outcome) VALUES (?1, ?2, ?3, 'running')",
            params![job, source, now()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records the end of a run with its counts, outcome and optional JSON details.
    fn finish_run(
        &self,
        id: i64,
        counts: &RunCounts,
        outcome: &str,
        details: Option<&str>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE etl_runs SET finished_at = ?2, outcome = ?3, read = ?4, inserted = ?5,
                duplicates = ?6, dead_lettered = ?7, skipped = ?8, cost_unknown = ?9, details = ?10
             WHERE id = ?1",
            params![
                id,
                now(),
                outcome,
                counts.read as i64,
                counts.inserted as i64,
                counts.duplicates as i64,
                counts.dead_lettered as i64,
                counts.skipped as i64,
                counts.cost_unknown as i64,
                details
            ],
        )?;
        Ok(())
    }

    /// The most recent runs, newest first.
    fn recent_runs(&self, limit: usize) -> Result<Vec<RunRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, job, source, started_at, finished_at, outcome, read, inserted, duplicates,
                    dead_lettered, skipped, cost_unknown
             FROM etl_runs ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(RunRow {
                    id: r.get(0)?,
                    job: r.get(1)?,
                    source: r.get(2)?,
                    started_at: r.get(3)?,
                    finished_at: r.get(4)?,
                    outcome: r.get(5)?,
                    counts: RunCounts {
                        read: r.get::<_, i64>(6)? as u64,
                        inserted: r.get::<_, i64>(7)? as u64,
                        duplicates: r.get::<_, i64>(8)? as u64,
                        dead_lettered: r.get::<_, i64>(9)? as u64,
                        skipped: r.get::<_, i64>(10)? as u64,
                        cost_unknown: r.get::<_, i64>(11)? as u64,
                    },
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Total dead-lettered lines over all runs.
    fn dead_letter_total(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row(
                "SELECT COALESCE(SUM(dead_lettered), 0) FROM etl_runs",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }
}
