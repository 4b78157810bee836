//! Writing a batch's rollup changes into PostgreSQL, in the writer's transaction.
//!
//! Counters are additive in SQL (`ON CONFLICT DO UPDATE SET c = c + excluded.c`), so writers on
//! several machines add up exactly. Sketches and per-model hour masks are merged under the row
//! lock: the upsert locks the row until commit and returns the stored value, which is merged
//! with the batch's in Rust (the same merge SQLite's functions run) and written back. A writer
//! that reaches the row next waits for the lock and then reads the merged value.

use crate::error::{Error, Result};
use crate::metrics::counters::Counters;
use crate::stats::StatsError;
use crate::store::rollups::{merge_sketches, union_models, Changes, CELL_COUNTERS};
use postgres::types::ToSql;
use postgres::Transaction;
use std::sync::OnceLock;

fn unreadable(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Stats(StatsError::Sketch(format!(
        "a stored rollup {what} is unreadable ({e}); run `prod-lens rebuild-rollups`"
    )))
}

fn cell_upsert_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let cols = CELL_COUNTERS.join(", ");
        let marks: Vec<String> = (1..=CELL_COUNTERS.len() + 6)
            .map(|i| format!("${i}"))
            .collect();
        let sets: Vec<String> = CELL_COUNTERS
            .iter()
            .map(|c| format!("{c} = rollup_cells.{c} + excluded.{c}"))
            .collect();
        format!(
            "INSERT INTO rollup_cells (repo, hour, developer, model, {cols}, latency_sketch, ttft_sketch)
             VALUES ({})
             ON CONFLICT (repo, hour, developer, model) DO UPDATE SET {}
             RETURNING (xmax = 0), latency_sketch, ttft_sketch",
            marks.join(", "),
            sets.join(", ")
        )
    })
}

/// The counters in [`CELL_COUNTERS`] order.
fn counter_values(c: &Counters) -> [&(dyn ToSql + Sync); 23] {
    let [b0, b1, b2, b3, b4, b5, b6] = &c.latency_buckets;
    [
        &c.requests,
        &c.tokens,
        &c.cost_usd,
        &c.cost_unknown,
        &c.errors,
        &c.signal,
        &c.accepted,
        &c.accepted_tokens,
        &c.accepted_lines,
        &c.line_tokens,
        &c.diff_n,
        &c.diff_sum,
        &c.diff_high,
        b0,
        b1,
        b2,
        b3,
        b4,
        b5,
        b6,
        &c.ttft_n,
        &c.line_calls,
        &c.line_output_tokens,
    ]
}

/// Writes `ch` inside `tx`.
pub(super) fn write(tx: &mut Transaction<'_>, ch: Changes) -> Result<()> {
    if !ch.cells.is_empty() {
        let upsert = tx.prepare(cell_upsert_sql())?;
        let set_sketches = tx.prepare(
            "UPDATE rollup_cells SET latency_sketch = $5, ttft_sketch = $6
             WHERE repo = $1 AND hour = $2 AND developer = $3 AND model = $4",
        )?;
        for d in &ch.cells {
            let mut params: Vec<&(dyn ToSql + Sync)> =
                vec![&d.repo, &d.hour, &d.developer, &d.model];
            params.extend(counter_values(&d.counts));
            params.push(&d.latency);
            params.push(&d.ttft);
            let row = tx.query_one(&upsert, &params)?;
            let inserted: bool = row.get(0);
            if inserted || (d.latency.is_none() && d.ttft.is_none()) {
                continue;
            }
            let stored_latency: Option<Vec<u8>> = row.get(1);
            let stored_ttft: Option<Vec<u8>> = row.get(2);
            let latency = merge_sketches(stored_latency.as_deref(), d.latency.as_deref())
                .map_err(|e| unreadable("sketch", e))?;
            let ttft = merge_sketches(stored_ttft.as_deref(), d.ttft.as_deref())
                .map_err(|e| unreadable("sketch", e))?;
            tx.execute(
                &set_sketches,
                &[&d.repo, &d.hour, &d.developer, &d.model, &latency, &ttft],
            )?;
        }
    }
    if !ch.errors.is_empty() {
        let upsert = tx.prepare(
            "INSERT INTO rollup_errors (repo, hour, developer, model, status, error_class, errors)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (repo, hour, developer, model, status, error_class)
             DO UPDATE SET errors = rollup_errors.errors + excluded.errors",
        )?;
        for e in &ch.errors {
            tx.execute(
                &upsert,
                &[
                    &e.repo,
                    &e.hour,
                    &e.developer,
                    &e.model,
                    &e.status,
                    &e.class,
                    &e.errors,
                ],
            )?;
        }
    }
    if !ch.sessions.is_empty() {
        let upsert = tx.prepare(
            "INSERT INTO rollup_sessions (repo, day, developer, session, hours, models,
                requests, tokens, cost_usd, cost_unknown, errors, first_us, last_us)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (repo, day, developer, session) DO UPDATE SET
                hours = rollup_sessions.hours | excluded.hours,
                requests = rollup_sessions.requests + excluded.requests,
                tokens = rollup_sessions.tokens + excluded.tokens,
                cost_usd = rollup_sessions.cost_usd + excluded.cost_usd,
                cost_unknown = rollup_sessions.cost_unknown + excluded.cost_unknown,
                errors = rollup_sessions.errors + excluded.errors,
                first_us = LEAST(rollup_sessions.first_us, excluded.first_us),
                last_us = GREATEST(rollup_sessions.last_us, excluded.last_us)
             RETURNING (xmax = 0), models",
        )?;
        let set_models = tx.prepare(
            "UPDATE rollup_sessions SET models = $5
             WHERE repo = $1 AND day = $2 AND developer = $3 AND session = $4",
        )?;
        for d in &ch.sessions {
            let c = &d.counts;
            let hours = i64::from(d.hours);
            let row = tx.query_one(
                &upsert,
                &[
                    &d.repo,
                    &d.day,
                    &d.developer,
                    &d.session,
                    &hours,
                    &d.models,
                    &c.requests,
                    &c.tokens,
                    &c.cost_usd,
                    &c.cost_unknown,
                    &c.errors,
                    &d.first_us,
                    &d.last_us,
                ],
            )?;
            if row.get::<_, bool>(0) {
                continue;
            }
            let stored: String = row.get(1);
            let merged =
                union_models(stored.clone(), &d.models).map_err(|e| unreadable("model mask", e))?;
            if merged != stored {
                tx.execute(
                    &set_models,
                    &[&d.repo, &d.day, &d.developer, &d.session, &merged],
                )?;
            }
        }
    }
    if !ch.session_models.is_empty() {
        let upsert = tx.prepare(
            "INSERT INTO rollup_session_models (repo, day, developer, session, model,
                requests, tokens, cost_usd, cost_unknown, errors, first_us, last_us)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (repo, day, developer, session, model) DO UPDATE SET
                requests = rollup_session_models.requests + excluded.requests,
                tokens = rollup_session_models.tokens + excluded.tokens,
                cost_usd = rollup_session_models.cost_usd + excluded.cost_usd,
                cost_unknown = rollup_session_models.cost_unknown + excluded.cost_unknown,
                errors = rollup_session_models.errors + excluded.errors,
                first_us = LEAST(rollup_session_models.first_us, excluded.first_us),
                last_us = GREATEST(rollup_session_models.last_us, excluded.last_us)",
        )?;
        for m in &ch.session_models {
            let c = &m.counts;
            tx.execute(
                &upsert,
                &[
                    &m.repo,
                    &m.day,
                    &m.developer,
                    &m.session,
                    &m.model,
                    &c.requests,
                    &c.tokens,
                    &c.cost_usd,
                    &c.cost_unknown,
                    &c.errors,
                    &m.first_us,
                    &m.last_us,
                ],
            )?;
        }
    }
    Ok(())
}
