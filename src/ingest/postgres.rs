//! `ingest-litellm`: reads the LiteLLM proxy's own `"LiteLLM_SpendLogs"` table incrementally.
//!
//! Each run opens one read-only, repeatable-read transaction, binds a portal (a server-side
//! cursor) over the rows after the stored checkpoint, ordered by `("startTime", request_id)`
//! (LiteLLM indexes exactly that pair), and fetches it in batches. Every batch goes through the
//! spend-log source module, pricing and the store like a file line would; after a batch is
//! committed the checkpoint (its last `startTime` + `request_id`) is saved in SQLite. A crash
//! between the two re-reads one batch next time, which the dedupe key absorbs.
//!
//! Rows are read as `to_jsonb(row)` minus `messages`, `response` and `proxy_server_request`, so
//! prompt and response text never leave the server and tables of older LiteLLM versions (fewer
//! columns) read the same way.
//!
//! Limit: LiteLLM writes spend logs from an in-memory queue, so a row can be committed after a
//! row with a later `startTime`; one that lands behind the checkpoint is not read by later runs.

use super::{committed, flush, IngestOptions, IngestSummary};
use crate::error::{Error, Result};
use crate::pricing::Pricer;
use crate::record::{SourceFormat, TraceRecord};
use crate::sinks::dead_letter::DeadLetterWriter;
use crate::sinks::RecordSink;
use crate::sources::{self, LineOutcome};
use crate::store::prelude::*;
use crate::store::source_state::Checkpoint;
use postgres::{Client, IsolationLevel};
use std::time::Instant;

/// The rows after a checkpoint, in checkpoint order, with the checkpoint columns as text.
const SELECT: &str = r#"SELECT
    (to_jsonb(t) - 'messages' - 'response' - 'proxy_server_request')::text,
    to_char(t."startTime", 'YYYY-MM-DD HH24:MI:SS.US'),
    t.request_id
  FROM "LiteLLM_SpendLogs" t
  WHERE $1::text IS NULL
     OR (t."startTime", t.request_id) > ($1::text::timestamp, $2::text)
  ORDER BY t."startTime", t.request_id"#;

fn pg(e: postgres::Error) -> Error {
    Error::Postgres(e.to_string())
}

/// Reads every spend-log row after the checkpoint of `source` into the store (and `sinks`),
/// `batch_rows` at a time, recording the run in `etl_runs` (job `ingest-litellm`).
pub fn ingest_spend_logs(
    store: &mut dyn IngestStore,
    client: &mut Client,
    source: &str,
    opts: &IngestOptions,
    batch_rows: usize,
    sinks: &mut [&mut dyn RecordSink],
) -> Result<IngestSummary> {
    let started = Instant::now();
    let run_id = store.start_run("ingest-litellm", source)?;
    let mut summary = IngestSummary {
        run_id,
        inputs: 1,
        ..Default::default()
    };
    let mut dead = DeadLetterWriter::new(&opts.dead_letter_dir, "litellm-spend-logs", source);
    let result = read_all(
        store,
        client,
        source,
        opts,
        batch_rows.max(1),
        sinks,
        &mut dead,
        &mut summary,
    )
    .and_then(|()| sinks.iter_mut().try_for_each(|s| s.finish()));
    if dead.written() > 0 {
        summary
            .dead_letter_files
            .push(dead.path().display().to_string());
    }
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    summary.records_per_second = summary.read as f64 / summary.elapsed_seconds.max(1e-9);
    let outcome = match &result {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("failed: {e}"),
    };
    let details = serde_json::to_string(&summary)?;
    store.finish_run(run_id, &super::counts(&summary), &outcome, Some(&details))?;
    result.map(|()| summary)
}

#[allow(clippy::too_many_arguments)]
fn read_all(
    store: &mut dyn IngestStore,
    client: &mut Client,
    source: &str,
    opts: &IngestOptions,
    batch_rows: usize,
    sinks: &mut [&mut dyn RecordSink],
    dead: &mut DeadLetterWriter,
    summary: &mut IngestSummary,
) -> Result<()> {
    let checkpoint = store.litellm_checkpoint(source)?;
    let (p1, p2) = match &checkpoint {
        Some(c) => (Some(c.start_time.clone()), Some(c.request_id.clone())),
        None => (None, None),
    };
    let mut tx = client
        .build_transaction()
        .read_only(true)
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
        .map_err(pg)?;
    let stmt = tx.prepare(SELECT).map_err(pg)?;
    let portal = tx.bind(&stmt, &[&p1, &p2]).map_err(pg)?;
    let mut pricer = Pricer::new(opts.prices.clone(), opts.default_price);
    let max_rows = i32::try_from(batch_rows).unwrap_or(i32::MAX);
    loop {
        let rows = tx.query_portal(&portal, max_rows).map_err(pg)?;
        let Some(last) = rows.last() else { break };
        let next = Checkpoint {
            start_time: last.try_get(1).map_err(pg)?,
            request_id: last.try_get(2).map_err(pg)?,
        };
        let mut batch: Vec<TraceRecord> = Vec::with_capacity(rows.len());
        for row in &rows {
            summary.read += 1;
            let json: String = row.try_get(0).map_err(pg)?;
            match sources::parse_line(json.as_bytes(), Some(SourceFormat::LitellmSpendLogs)) {
                LineOutcome::Record(mut r) => {
                    if r.repo_slug.is_none() {
                        r.repo_slug = opts.default_repo.as_ref().map(|s| s.as_str().to_string());
                    }
                    pricer.apply(&mut r);
                    batch.push(*r);
                }
                LineOutcome::Skipped(_) => summary.skipped += 1,
                LineOutcome::Dead(reason) => {
                    dead.write(summary.read, &reason, json.as_bytes())?;
                    summary.dead_lettered += 1;
                }
                // A spend-log row is one call; the forced format never yields a batch.
                LineOutcome::Batch(_) => {
                    dead.write(
                        summary.read,
                        "unexpected batch in a spend-log row",
                        json.as_bytes(),
                    )?;
                    summary.dead_lettered += 1;
                }
            }
        }
        flush(store, &mut batch, sinks, summary, summary.run_id)?;
        // Each batch is committed as it is written.
        committed(sinks)?;
        store.set_litellm_checkpoint(source, &next)?;
    }
    tx.commit().map_err(pg)?;
    Ok(())
}
