//! Writing trace rows: batched, in one transaction per batch, deduplicated by `dedupe_key`.

use super::Store;
use crate::error::Result;
use crate::record::TraceRecord;
use rusqlite::params;

const INSERT: &str = "INSERT INTO traces (
    dedupe_key, call_id, response_id, source_format, timestamp_us, event_date, repo_slug,
    developer_id, session_id, trace_id, team_id, key_alias, model, provider, call_type,
    tokens_in, tokens_out, cache_read_tokens, cache_creation_tokens, latency_ms, ttft_ms,
    status_code, is_error, error_class, accepted, diff_ratio, accepted_lines, cache_hit,
    cost_usd, cost_source, ingested_run)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
          ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31)
  ON CONFLICT(dedupe_key) DO NOTHING";

impl Store {
    /// Inserts a batch in one transaction and returns, per record, whether it was new.
    ///
    /// A record whose dedupe key is already stored (an earlier run, another process, or earlier
    /// in this batch) is left out and reported as `false`.
    pub fn insert_traces(
        &mut self,
        batch: &[TraceRecord],
        run_id: Option<i64>,
    ) -> Result<Vec<bool>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut inserted = Vec::with_capacity(batch.len());
        {
            let mut stmt = tx.prepare_cached(INSERT)?;
            for r in batch {
                let n = stmt.execute(params![
                    &r.dedupe_key[..],
                    r.call_id,
                    r.response_id,
                    r.source_format.name(),
                    r.timestamp.timestamp_micros(),
                    r.event_date.format("%Y-%m-%d").to_string(),
                    r.repo_slug,
                    r.developer_id,
                    r.session_id,
                    r.trace_id,
                    r.team_id,
                    r.key_alias,
                    r.model,
                    r.provider,
                    r.call_type,
                    r.tokens_in,
                    r.tokens_out,
                    r.cache_read_tokens,
                    r.cache_creation_tokens,
                    r.latency_ms,
                    r.ttft_ms,
                    r.status_code,
                    r.is_error,
                    r.error_class,
                    r.accepted,
                    r.diff_ratio,
                    r.accepted_lines,
                    r.cache_hit,
                    r.cost_usd,
                    r.cost_source.name(),
                    run_id,
                ])?;
                inserted.push(n == 1);
            }
        }
        tx.commit()?;
        Ok(inserted)
    }

    /// Number of stored trace rows.
    pub fn trace_count(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM traces", [], |r| r.get(0))?)
    }
}
