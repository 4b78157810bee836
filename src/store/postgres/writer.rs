//! Writing calls into PostgreSQL: the batch is copied (`COPY … FROM STDIN (FORMAT binary)`) into
//! a temporary staging table, then one `INSERT … SELECT … ORDER BY seq ON CONFLICT DO NOTHING
//! RETURNING` keeps the first copy of every new key; Claude Code copies with more tokens raise
//! the stored row (locked `FOR UPDATE`) as in SQLite, and the rollups change in the same
//! transaction, which ends with `NOTIFY prodlens_changes`.

use super::{row_to_record, PgStore, COLUMNS};
use crate::error::{Error, Result};
use crate::record::{SourceFormat, TraceRecord};
use crate::sources::otel::claude_code::ActivityRow;
use crate::store::rollups::RollupDelta;
use crate::store::seam::TraceWriter;
use crate::store::trace_rows::RECORD_COLUMNS;
use crate::store::traces::{rollup_row_of, Written};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use std::collections::{HashMap, HashSet};

/// The staging table: the trace columns (types taken from `traces`) and the batch position.
fn staging_sql() -> String {
    format!(
        "CREATE TEMP TABLE IF NOT EXISTS prodlens_staging ON COMMIT DELETE ROWS AS
         SELECT 0::BIGINT AS seq, {COLUMNS} FROM traces WITH NO DATA"
    )
}

/// Types of `seq` and then of [`COLUMNS`], as the binary COPY sends them.
const TYPES: [Type; 36] = [
    Type::INT8,   // seq
    Type::BYTEA,  // dedupe_key
    Type::TEXT,   // call_id
    Type::TEXT,   // response_id
    Type::TEXT,   // source_format
    Type::INT8,   // timestamp_us
    Type::TEXT,   // event_date
    Type::TEXT,   // repo_slug
    Type::TEXT,   // developer_id
    Type::TEXT,   // session_id
    Type::TEXT,   // trace_id
    Type::TEXT,   // team_id
    Type::TEXT,   // key_alias
    Type::TEXT,   // model
    Type::TEXT,   // provider
    Type::TEXT,   // call_type
    Type::INT8,   // tokens_in
    Type::INT8,   // tokens_out
    Type::INT8,   // cache_read_tokens
    Type::INT8,   // cache_creation_tokens
    Type::FLOAT8, // latency_ms
    Type::FLOAT8, // ttft_ms
    Type::INT8,   // status_code
    Type::BOOL,   // is_error
    Type::TEXT,   // error_class
    Type::BOOL,   // accepted
    Type::FLOAT8, // diff_ratio
    Type::INT8,   // accepted_lines
    Type::BOOL,   // cache_hit
    Type::FLOAT8, // cost_usd
    Type::TEXT,   // cost_source
    Type::INT8,   // ingested_run
    Type::TEXT,   // cwd
    Type::TEXT,   // git_branch
    Type::BOOL,   // is_sidechain
    Type::TEXT,   // client_version
];

/// Tries of a batch that the server aborted for a conflict with another writer.
const ATTEMPTS: u32 = 5;

/// Why a try failed: a conflict with another writer (worth another try) or anything else.
enum WriteError {
    Retry(postgres::Error),
    Other(Error),
}

impl From<postgres::Error> for WriteError {
    fn from(e: postgres::Error) -> Self {
        use postgres::error::SqlState;
        match e.code() {
            Some(c)
                if *c == SqlState::T_R_DEADLOCK_DETECTED
                    || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
            {
                WriteError::Retry(e)
            }
            _ => WriteError::Other(e.into()),
        }
    }
}

impl From<Error> for WriteError {
    fn from(e: Error) -> Self {
        WriteError::Other(e)
    }
}

const INSERT_ACTIVITY: &str = "INSERT INTO code_activity (
    dedupe_key, session_id, timestamp_us, event_date, kind, tool_name, decision, source,
    prompt_id, line_type, language, value, cumulative, developer_id, ingested_run)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
  ON CONFLICT (dedupe_key) DO NOTHING";

impl TraceWriter for PgStore {
    /// Retried (up to [`ATTEMPTS`] times) when the server aborts the transaction for a deadlock
    /// or a serialization failure with another writer; nothing of an aborted try is kept.
    fn write_traces(&mut self, batch: &[TraceRecord], run_id: Option<i64>) -> Result<Vec<Written>> {
        let mut attempt = 1;
        loop {
            match self.write_once(batch, run_id) {
                Err(WriteError::Retry(_)) if attempt < ATTEMPTS => attempt += 1,
                Err(WriteError::Retry(e)) => return Err(e.into()),
                Err(WriteError::Other(e)) => return Err(e),
                Ok(w) => return Ok(w),
            }
        }
    }

    fn insert_activity(&mut self, rows: &[ActivityRow], run_id: Option<i64>) -> Result<u64> {
        let mut c = self.client();
        let mut tx = c.transaction()?;
        let stmt = tx.prepare(INSERT_ACTIVITY)?;
        let mut n = 0;
        for a in rows {
            n += tx.execute(
                &stmt,
                &[
                    &&a.dedupe_key[..],
                    &a.session_id,
                    &a.timestamp.timestamp_micros(),
                    &a.timestamp.format("%Y-%m-%d").to_string(),
                    &a.kind,
                    &a.tool_name,
                    &a.decision,
                    &a.source,
                    &a.prompt_id,
                    &a.line_type,
                    &a.language,
                    &a.value,
                    &a.cumulative,
                    &a.developer_id,
                    &run_id,
                ],
            )?;
        }
        tx.batch_execute("NOTIFY prodlens_changes")?;
        tx.commit()?;
        Ok(n)
    }

    /// Nothing to set aside: the server keeps its indexes and checkpoints itself.
    /// Nothing is set aside (several writers share the tables); a large load is followed by
    /// fresh planner statistics ([`TraceWriter::finish_bulk_load`]).
    fn start_bulk_load(&mut self, bytes: u64) -> Result<bool> {
        Ok(bytes >= LARGE_LOAD_BYTES)
    }

    /// Refreshes the planner's statistics of the tables a large load changed, so that the next
    /// report is planned for the rows now there rather than for the tables before the load.
    fn finish_bulk_load(&mut self) -> Result<()> {
        self.client().batch_execute(
            "ANALYZE traces, rollup_cells, rollup_errors, rollup_sessions, rollup_session_models,
                     gh_pull_requests, gh_commits, gh_rework",
        )?;
        Ok(())
    }
}

/// Input size from which a load ends by refreshing the planner's statistics (64 MiB).
const LARGE_LOAD_BYTES: u64 = 64 << 20;

impl PgStore {
    /// One try of [`TraceWriter::write_traces`].
    fn write_once(
        &mut self,
        batch: &[TraceRecord],
        run_id: Option<i64>,
    ) -> std::result::Result<Vec<Written>, WriteError> {
        let mut c = self.client();
        let mut tx = c.transaction()?;
        tx.batch_execute(&staging_sql())?;
        let sink = tx.copy_in(&format!(
            "COPY prodlens_staging (seq, {COLUMNS}) FROM STDIN (FORMAT binary)"
        ))?;
        let mut w = BinaryCopyInWriter::new(sink, &TYPES);
        for (i, r) in batch.iter().enumerate() {
            let (seq, ts) = (i as i64, r.timestamp.timestamp_micros());
            let date = crate::time::iso_date(r.event_date);
            let key = &r.dedupe_key[..];
            let row: [&(dyn ToSql + Sync); 36] = [
                &seq,
                &key,
                &r.call_id,
                &r.response_id,
                &r.source_format.name(),
                &ts,
                &date,
                &r.repo_slug,
                &r.developer_id,
                &r.session_id,
                &r.trace_id,
                &r.team_id,
                &r.key_alias,
                &r.model,
                &r.provider,
                &r.call_type,
                &r.tokens_in,
                &r.tokens_out,
                &r.cache_read_tokens,
                &r.cache_creation_tokens,
                &r.latency_ms,
                &r.ttft_ms,
                &r.status_code,
                &r.is_error,
                &r.error_class,
                &r.accepted,
                &r.diff_ratio,
                &r.accepted_lines,
                &r.cache_hit,
                &r.cost_usd,
                &r.cost_source.name(),
                &run_id,
                &r.cwd,
                &r.git_branch,
                &r.is_sidechain,
                &r.client_version,
            ];
            w.write(&row)?;
        }
        w.finish()?;
        // The first copy of a key in the batch wins, as row by row in SQLite. Rows go in key
        // order, so that writers whose batches share keys take their locks in one order and
        // never deadlock.
        let mut new: HashSet<Vec<u8>> = tx
            .query(
                &format!(
                    "INSERT INTO traces ({COLUMNS}) SELECT {COLUMNS} FROM prodlens_staging
                     ORDER BY dedupe_key, seq ON CONFLICT (dedupe_key) DO NOTHING
                     RETURNING dedupe_key"
                ),
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        // Claude Code copies of keys stored before this batch: their stored rows, locked.
        let earlier: Vec<Vec<u8>> = batch
            .iter()
            .filter(|r| {
                r.source_format == SourceFormat::ClaudeCode && !new.contains(&r.dedupe_key[..])
            })
            .map(|r| r.dedupe_key.to_vec())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut stored: HashMap<[u8; 16], TraceRecord> = HashMap::new();
        if !earlier.is_empty() {
            for row in tx.query(
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM traces WHERE dedupe_key = ANY($1) ORDER BY dedupe_key
                     FOR UPDATE"
                ),
                &[&earlier],
            )? {
                let rec = row_to_record(&row)?;
                stored.insert(rec.dedupe_key, rec);
            }
        }
        let mut written = Vec::with_capacity(batch.len());
        let mut rollups = RollupDelta::new();
        let mut raised: Vec<[u8; 16]> = Vec::new();
        for r in batch {
            if new.remove(&r.dedupe_key[..]) {
                rollups.add(&rollup_row_of(r));
                if r.source_format == SourceFormat::ClaudeCode {
                    stored.insert(r.dedupe_key, r.clone());
                }
                written.push(Written::Inserted);
                continue;
            }
            let tokens = r.tokens_in.saturating_add(r.tokens_out);
            let held = match stored.get_mut(&r.dedupe_key) {
                Some(s) if r.source_format == SourceFormat::ClaudeCode => s,
                _ => {
                    written.push(Written::Duplicate);
                    continue;
                }
            };
            let old = rollup_row_of(held);
            if tokens <= old.measures.tokens {
                written.push(Written::Duplicate);
                continue;
            }
            rollups.raise_to_copy(&old, r);
            written.push(Written::Raised {
                tokens_in: held.tokens_in,
                tokens_out: held.tokens_out,
                cache_read_tokens: held.cache_read_tokens,
                cache_creation_tokens: held.cache_creation_tokens,
                cost_usd: held.cost_usd,
            });
            held.tokens_in = r.tokens_in;
            held.tokens_out = r.tokens_out;
            held.cache_read_tokens = r.cache_read_tokens;
            held.cache_creation_tokens = r.cache_creation_tokens;
            held.cost_usd = r.cost_usd;
            held.cost_source = r.cost_source;
            raised.push(r.dedupe_key);
        }
        if !raised.is_empty() {
            let raise = tx.prepare(
                "UPDATE traces SET tokens_in = $2, tokens_out = $3, cache_read_tokens = $4,
                    cache_creation_tokens = $5, cost_usd = $6, cost_source = $7
                 WHERE dedupe_key = $1",
            )?;
            raised.sort_unstable();
            raised.dedup();
            for k in &raised {
                if let Some(h) = stored.get(k) {
                    tx.execute(
                        &raise,
                        &[
                            &&k[..],
                            &h.tokens_in,
                            &h.tokens_out,
                            &h.cache_read_tokens,
                            &h.cache_creation_tokens,
                            &h.cost_usd,
                            &h.cost_source.name(),
                        ],
                    )?;
                }
            }
        }
        super::rollups::write(&mut tx, rollups.into_changes())?;
        tx.batch_execute("NOTIFY prodlens_changes")?;
        tx.commit()?;
        Ok(written)
    }
}
