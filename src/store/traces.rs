//! Writing trace rows: batched, in one transaction per batch, deduplicated by `dedupe_key`.

use super::raw::{Param, RawQuery};
use super::rollups::{rollup_row, RollupDelta, RollupRow};
use super::seam::TraceWriter;
use super::Store;
use crate::error::Result;
use crate::metrics::counters::CallMeasures;
use crate::record::{SourceFormat, TraceRecord};
use crate::sources::otel::claude_code::ActivityRow;
use rusqlite::params;

const INSERT: &str = "INSERT INTO traces (
    dedupe_key, call_id, response_id, source_format, timestamp_us, event_date, repo_slug,
    developer_id, session_id, trace_id, team_id, key_alias, model, provider, call_type,
    tokens_in, tokens_out, cache_read_tokens, cache_creation_tokens, latency_ms, ttft_ms,
    status_code, is_error, error_class, accepted, diff_ratio, accepted_lines, cache_hit,
    cost_usd, cost_source, ingested_run, cwd, git_branch, is_sidechain, client_version)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
          ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35)
  ON CONFLICT(dedupe_key) DO NOTHING";

/// Stored tokens and cost of a row, read before raising it, then the columns its rollups
/// read (`rollups::ROW_COLUMNS`, from column 4).
const STORED: &str = "SELECT cache_read_tokens, cache_creation_tokens, tokens_in, tokens_out,
    repo_slug, timestamp_us, developer_id, session_id, model, tokens_in, tokens_out, latency_ms,
    ttft_ms, status_code, is_error, error_class, accepted, diff_ratio, accepted_lines, cost_usd
    FROM traces WHERE dedupe_key = ?1";

/// Raises a stored row to a later copy's counts; timestamp, date and every other field stay.
const RAISE: &str = "UPDATE traces SET tokens_in = ?2, tokens_out = ?3, cache_read_tokens = ?4,
    cache_creation_tokens = ?5, cost_usd = ?6, cost_source = ?7 WHERE dedupe_key = ?1";

/// What writing one record did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Written {
    /// A new row.
    Inserted,
    /// An existing row raised to this copy's larger token counts; the old values are given so
    /// that totals can be corrected by the difference.
    Raised {
        /// Stored `tokens_in` before.
        tokens_in: i64,
        /// Stored `tokens_out` before.
        tokens_out: i64,
        /// Stored cache-read tokens before.
        cache_read_tokens: i64,
        /// Stored cache-creation tokens before.
        cache_creation_tokens: i64,
        /// Stored cost before.
        cost_usd: Option<f64>,
    },
    /// Already stored; nothing changed.
    Duplicate,
}

impl TraceWriter for Store {
    /// Writes a batch in one transaction and says, per record, what happened; the hourly
    /// rollups (see `rollups`) follow in the same transaction. While writes are kept open
    /// ([`TraceWriter::begin_writes`]) the batches' rollup changes are added up in memory and
    /// written once, just before the commit (or sooner, once they cover 50 000 calls): a key
    /// that several batches touch (the same hour, session or model) is upserted once, not once
    /// per batch.
    ///
    /// Stored rows are never replaced, with one exception: Claude Code writes the same message
    /// several times while streaming, early copies with placeholder counts, so a Claude Code
    /// record whose key is stored with fewer tokens (`tokens_in + tokens_out`) raises the stored
    /// row's tokens and cost to its own ([`Written::Raised`]). Everything else about the row
    /// (first copy's timestamp, date, run) stays, so it stays in the same day and lake partition.
    fn write_traces(&mut self, batch: &[TraceRecord], run_id: Option<i64>) -> Result<Vec<Written>> {
        if let Some(rollups) = self.grouped.as_mut() {
            let out = write_rows(&self.conn, batch, run_id, rollups).and_then(|w| {
                if rollups.rows() >= HELD_ROLLUP_ROWS {
                    std::mem::take(rollups).apply(&self.conn)?;
                }
                Ok(w)
            });
            if out.is_err() {
                self.rollback_writes();
            }
            return out;
        }
        self.in_write(|tx| {
            let mut rollups = RollupDelta::new();
            let out = write_rows(tx, batch, run_id, &mut rollups)?;
            rollups.apply(tx)?;
            Ok(out)
        })
    }

    fn insert_activity(&mut self, rows: &[ActivityRow], run_id: Option<i64>) -> Result<u64> {
        self.insert_activity_rows(rows, run_id)
    }

    fn begin_writes(&mut self) -> Result<bool> {
        if self.grouped.is_none() {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.grouped = Some(RollupDelta::new());
        }
        Ok(true)
    }

    fn commit_writes(&mut self) -> Result<()> {
        if let Some(rollups) = self.grouped.take() {
            // The rollups of every batch since `begin_writes`, then the commit; when either
            // fails the transaction is still open: undo it, so that the store is usable (and
            // the run can be logged) after the error.
            let committed = rollups
                .apply(&self.conn)
                .and_then(|()| Ok(self.conn.execute_batch("COMMIT")?));
            if committed.is_err() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            return committed;
        }
        Ok(())
    }

    fn rollback_writes(&mut self) {
        if self.grouped.take().is_some() {
            // Fails only when SQLite already rolled the transaction back.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn start_bulk_load(&mut self, bytes: u64) -> Result<bool> {
        self.bulk_start(bytes)
    }

    fn finish_bulk_load(&mut self) -> Result<()> {
        self.bulk_finish()
    }

    fn built_aside(&self) -> bool {
        self.is_aside()
    }

    fn publish(&mut self) -> Result<()> {
        Store::publish(self)
    }
}

/// Calls whose rollup change is held in memory, at most, while writes are kept open; more are
/// written at once (inside the open transaction). An ingest commits every 50 000 rows, so its
/// change is written with the group's last batch, just before the commit. Holding it there instead of writing each 10 000-row batch's:
/// 1 M LiteLLM lines make 719 k rollup upserts instead of 966 k (a key that several batches
/// touch is written once), and their first ingest took 12.1–14.4 s against 14.3–16.8 s
/// (alternated), for 5–10 MB more peak memory (196 MB at 4 M lines with the lake, as before).
const HELD_ROLLUP_ROWS: u64 = 50_000;

/// Writes a batch inside the caller's transaction (see [`TraceWriter::write_traces`]) and adds
/// its change to the rollups to `rollups`, for the caller to write in the same transaction.
fn write_rows(
    tx: &rusqlite::Connection,
    batch: &[TraceRecord],
    run_id: Option<i64>,
    rollups: &mut RollupDelta,
) -> Result<Vec<Written>> {
    let mut inserted = Vec::with_capacity(batch.len());
    {
        // Bound through the C API: no copy of each text value, no per-value dispatch (the
        // writer is an ingest's critical path).
        let mut stmt = RawQuery::prepare(tx, INSERT)?;
        let mut stored = tx.prepare_cached(STORED)?;
        let mut raise = tx.prepare_cached(RAISE)?;
        for r in batch {
            let tokens = r.tokens_in.saturating_add(r.tokens_out);
            let event_date = crate::time::iso_date(r.event_date);
            let n = stmt.execute(&[
                Param::Blob(&r.dedupe_key[..]),
                r.call_id.as_deref().into(),
                r.response_id.as_deref().into(),
                r.source_format.name().into(),
                r.timestamp.timestamp_micros().into(),
                event_date.as_str().into(),
                r.repo_slug.as_deref().into(),
                r.developer_id.as_deref().into(),
                r.session_id.as_deref().into(),
                r.trace_id.as_deref().into(),
                r.team_id.as_deref().into(),
                r.key_alias.as_deref().into(),
                r.model.as_deref().into(),
                r.provider.as_deref().into(),
                r.call_type.as_deref().into(),
                r.tokens_in.into(),
                r.tokens_out.into(),
                r.cache_read_tokens.into(),
                r.cache_creation_tokens.into(),
                r.latency_ms.into(),
                r.ttft_ms.into(),
                r.status_code.into(),
                r.is_error.into(),
                r.error_class.as_deref().into(),
                r.accepted.into(),
                r.diff_ratio.into(),
                r.accepted_lines.into(),
                r.cache_hit.into(),
                r.cost_usd.into(),
                r.cost_source.name().into(),
                run_id.into(),
                r.cwd.as_deref().into(),
                r.git_branch.as_deref().into(),
                r.is_sidechain.into(),
                r.client_version.as_deref().into(),
            ])?;
            // Already stored: a Claude Code copy with more tokens raises the stored row.
            if n == 0 && r.source_format == SourceFormat::ClaudeCode {
                let mut found = stored.query(params![&r.dedupe_key[..]])?;
                if let Some(row) = found.next()? {
                    let old = rollup_row(row, 4)?;
                    if tokens > old.measures.tokens {
                        raise.execute(params![
                            &r.dedupe_key[..],
                            r.tokens_in,
                            r.tokens_out,
                            r.cache_read_tokens,
                            r.cache_creation_tokens,
                            r.cost_usd,
                            r.cost_source.name(),
                        ])?;
                        rollups.raise_to_copy(&old, r);
                        inserted.push(Written::Raised {
                            tokens_in: row.get(2)?,
                            tokens_out: row.get(3)?,
                            cache_read_tokens: row.get(0)?,
                            cache_creation_tokens: row.get(1)?,
                            cost_usd: old.measures.cost_usd,
                        });
                    } else {
                        inserted.push(Written::Duplicate);
                    }
                    continue;
                }
            }
            if n == 1 {
                rollups.add(&rollup_row_of(r));
                inserted.push(Written::Inserted);
            } else {
                inserted.push(Written::Duplicate);
            }
        }
    }
    Ok(inserted)
}

impl Store {
    /// Runs `f` in a write transaction of its own or, while writes are kept open by
    /// [`TraceWriter::begin_writes`], in that transaction (all of it undone if `f` fails).
    pub(super) fn in_write<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T>,
    ) -> Result<T> {
        if self.grouped.is_some() {
            // No savepoint: one would copy every page the batch changes a second time (into
            // memory); a failure undoes the whole open transaction instead.
            let out = f(&self.conn);
            if out.is_err() {
                self.rollback_writes();
            }
            out
        } else {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        }
    }

    /// Number of stored trace rows.
    pub fn trace_count(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM traces", [], |r| r.get(0))?)
    }
}

/// A record as the rollups see it.
pub(in crate::store) fn rollup_row_of(r: &TraceRecord) -> RollupRow<'_> {
    RollupRow {
        repo: r.repo_slug.as_deref(),
        timestamp_us: r.timestamp.timestamp_micros(),
        developer: r.developer_id.as_deref(),
        session: r.session_id.as_deref(),
        model: r.model.as_deref(),
        status: r.status_code,
        error_class: r.error_class.as_deref(),
        measures: CallMeasures {
            tokens: r.tokens_in.saturating_add(r.tokens_out),
            output_tokens: r.tokens_out,
            latency_ms: r.latency_ms,
            ttft_ms: r.ttft_ms,
            is_error: r.is_error,
            accepted: r.accepted,
            diff_ratio: r.diff_ratio,
            accepted_lines: r.accepted_lines,
            cost_usd: r.cost_usd,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(c: &rusqlite::Connection, sql: &str) -> i64 {
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn writes_kept_open_are_committed_or_undone_together() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("x.db");
        let mut s = Store::open(&db).unwrap();
        let rows: Vec<_> = (1..=20u8)
            .map(|k| crate::lake::tests::record(k, Some("acme/api")))
            .collect();
        let other = rusqlite::Connection::open(&db).unwrap();
        let stored = |c: &rusqlite::Connection| {
            (
                count(c, "SELECT COUNT(*) FROM traces"),
                count(c, "SELECT COALESCE(SUM(requests), 0) FROM rollup_cells"),
            )
        };

        assert!(s.begin_writes().unwrap());
        assert!(s.begin_writes().unwrap()); // already open: nothing more
        assert!(s
            .write_traces(&rows[..10], None)
            .unwrap()
            .iter()
            .all(|w| *w == Written::Inserted));
        let second = s.write_traces(&rows[5..15], None).unwrap();
        assert_eq!(
            second.iter().filter(|w| **w == Written::Duplicate).count(),
            5,
            "rows of the open transaction count as stored"
        );
        // The rollups of the open transaction are held until its commit.
        assert_eq!(stored(s.conn()), (15, 0));
        assert_eq!(stored(&other), (0, 0), "nothing visible before the commit");
        s.commit_writes().unwrap();
        assert_eq!(stored(&other), (15, 15));
        s.commit_writes().unwrap(); // none open: nothing

        s.begin_writes().unwrap();
        s.write_traces(&rows[15..], None).unwrap();
        s.rollback_writes();
        assert_eq!(stored(s.conn()), (15, 15));

        // A write that fails undoes the whole open transaction and leaves the store usable.
        s.conn()
            .execute_batch(
                "CREATE TEMP TRIGGER boom BEFORE INSERT ON traces WHEN NEW.call_id = 'boom'
                 BEGIN SELECT RAISE(ABORT, 'boom'); END;",
            )
            .unwrap();
        let mut bad = crate::lake::tests::record(99, Some("acme/api"));
        bad.call_id = Some("boom".into());
        s.begin_writes().unwrap();
        s.write_traces(&rows[15..18], None).unwrap();
        assert!(s.write_traces(&[bad], None).is_err());
        assert_eq!(stored(s.conn()), (15, 15));
        assert!(s.grouped.is_none());
        s.write_traces(&rows[15..], None).unwrap();
        assert_eq!(stored(&other), (20, 20));
    }

    /// Every rollup table, each row as text, in key order.
    fn rollups(c: &rusqlite::Connection) -> Vec<String> {
        let mut out = Vec::new();
        for table in crate::store::rollups::TABLES {
            let mut q = c
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5"))
                .unwrap();
            let n = q.column_count();
            let mut rows = q.query([]).unwrap();
            while let Some(r) = rows.next().unwrap() {
                let cols: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect();
                out.push(format!("{table}: {}", cols.join(" | ")));
            }
        }
        out
    }

    #[test]
    fn rollups_held_over_batches_are_those_of_the_rows() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(&d.path().join("x.db")).unwrap();
        // 60 calls over four hours; sessions, models and hours recur in every batch.
        let rows: Vec<_> = (1..=60u8)
            .map(|k| {
                let mut r = crate::lake::tests::record(k, Some("acme/api"));
                r.source_format = SourceFormat::ClaudeCode;
                r.timestamp += chrono::Duration::minutes(i64::from(k) * 3);
                r.event_date = r.timestamp.date_naive();
                r.session_id = Some(format!("s{}", k % 4));
                r.model = Some(["opus", "sonnet"][usize::from(k % 2)].into());
                r.latency_ms = Some(f64::from(k) * 100.0);
                r.is_error = k % 7 == 0;
                r.error_class = r.is_error.then(|| "rate_limit".into());
                r
            })
            .collect();
        s.begin_writes().unwrap();
        for batch in rows.chunks(20) {
            s.write_traces(batch, None).unwrap();
        }
        // A later streaming copy with more tokens raises a row of the open transaction.
        let mut later = rows[3].clone();
        later.tokens_out += 500;
        later.cost_usd = Some(1.0);
        assert!(matches!(
            s.write_traces(&[later], None).unwrap()[..],
            [Written::Raised { .. }]
        ));
        s.commit_writes().unwrap();
        let held = rollups(s.conn());
        assert!(held.len() > 20, "{held:?}");

        crate::store::rollups::rebuild(s.conn(), None).unwrap();
        assert_eq!(held, rollups(s.conn()));
    }

    #[test]
    fn a_large_held_change_is_written_before_the_commit() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(&d.path().join("x.db")).unwrap();
        let n = HELD_ROLLUP_ROWS as u32 + 10;
        let rows: Vec<_> = (0..n)
            .map(|i| {
                let mut r = crate::lake::tests::record(1, Some("acme/api"));
                r.dedupe_key = u128::from(i).to_le_bytes();
                r.timestamp += chrono::Duration::minutes(i64::from(i % 600));
                r.event_date = r.timestamp.date_naive();
                r.session_id = Some(format!("s{}", i % 50));
                r.latency_ms = Some(f64::from(i % 300));
                r
            })
            .collect();
        let requests = |c: &rusqlite::Connection| {
            count(c, "SELECT COALESCE(SUM(requests), 0) FROM rollup_cells")
        };
        s.begin_writes().unwrap();
        let (first, last) = rows.split_at(HELD_ROLLUP_ROWS as usize);
        for batch in first.chunks(10_000) {
            s.write_traces(batch, None).unwrap();
        }
        // The held change reached its bound: written inside the still open transaction.
        assert_eq!(requests(s.conn()), HELD_ROLLUP_ROWS as i64);
        s.write_traces(last, None).unwrap();
        assert_eq!(requests(s.conn()), HELD_ROLLUP_ROWS as i64);
        s.commit_writes().unwrap();
        assert_eq!(requests(s.conn()), i64::from(n));
        let held = rollups(s.conn());
        crate::store::rollups::rebuild(s.conn(), None).unwrap();
        assert_eq!(held, rollups(s.conn()));
    }
}
