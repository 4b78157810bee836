//! Writing Claude Code activity rows (`code_activity`), deduplicated by `dedupe_key`, and reading
//! the per-session acceptance figures the report uses.

use super::Store;
use crate::error::Result;
use crate::sources::otel::claude_code::ActivityRow;
use rusqlite::params;

const INSERT: &str = "INSERT INTO code_activity (
    dedupe_key, session_id, timestamp_us, event_date, kind, tool_name, decision, source,
    prompt_id, line_type, language, value, cumulative, developer_id, ingested_run)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
  ON CONFLICT(dedupe_key) DO NOTHING";

/// Acceptance figures of one session (rule in `sources::otel::claude_code`).
#[derive(Clone, Debug, PartialEq)]
pub struct SessionAcceptance {
    /// Claude Code session id.
    pub session_id: String,
    /// Turns with at least one edit-tool decision.
    pub turns_with_edits: i64,
    /// Of those, turns with an accepted edit.
    pub accepted_turns: i64,
    /// Lines added (delta points summed; cumulative series by their largest value).
    pub lines_added: f64,
}

impl Store {
    /// Inserts activity rows in one transaction (or the open one, see `Store::in_write`); returns
    /// how many were new.
    pub(super) fn insert_activity_rows(
        &mut self,
        rows: &[ActivityRow],
        run_id: Option<i64>,
    ) -> Result<u64> {
        self.in_write(|tx| {
            let mut n = 0;
            let mut stmt = tx.prepare_cached(INSERT)?;
            for a in rows {
                n += stmt.execute(params![
                    &a.dedupe_key[..],
                    a.session_id,
                    a.timestamp.timestamp_micros(),
                    crate::time::iso_date(a.timestamp.date_naive()),
                    a.kind,
                    a.tool_name,
                    a.decision,
                    a.source,
                    a.prompt_id,
                    a.line_type,
                    a.language,
                    a.value,
                    a.cumulative,
                    a.developer_id,
                    run_id,
                ])? as u64;
            }
            Ok(n)
        })
    }

    /// Number of stored activity rows.
    pub fn activity_count(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM code_activity", [], |r| r.get(0))?)
    }

    /// Per-session acceptance: edit turns, accepted turns and lines added.
    pub fn session_acceptance(&self) -> Result<Vec<SessionAcceptance>> {
        let mut stmt = self.conn.prepare(
            "WITH turns AS (
                 SELECT session_id, COUNT(*) AS n, SUM(accepted) AS acc
                   FROM code_turn_acceptance WHERE session_id IS NOT NULL GROUP BY session_id),
             series AS (
                 SELECT session_id,
                        CASE WHEN cumulative THEN MAX(value) ELSE SUM(value) END AS v
                   FROM code_activity
                  WHERE kind = 'lines_of_code' AND line_type = 'added' AND session_id IS NOT NULL
                  GROUP BY session_id, cumulative, COALESCE(language, ''), COALESCE(developer_id, '')),
             lines AS (SELECT session_id, SUM(v) AS added FROM series GROUP BY session_id),
             ids AS (SELECT session_id FROM turns UNION SELECT session_id FROM lines)
             SELECT ids.session_id, COALESCE(turns.n, 0), COALESCE(turns.acc, 0),
                    COALESCE(lines.added, 0.0)
               FROM ids LEFT JOIN turns USING (session_id) LEFT JOIN lines USING (session_id)
              ORDER BY ids.session_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SessionAcceptance {
                session_id: r.get(0)?,
                turns_with_edits: r.get(1)?,
                accepted_turns: r.get(2)?,
                lines_added: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}
