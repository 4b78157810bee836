//! Writing a batch's rollup changes into SQLite: one upsert per key; stored sketches and model
//! masks are merged inside the upsert by the functions `delta::register_functions` registers.

use std::sync::OnceLock;

use rusqlite::{params, Connection};

use super::delta::{Changes, MODELS_UNION, SKETCH_MERGE};
use super::CELL_COUNTERS;
use crate::error::Result;

/// Writes `ch` inside the transaction that wrote the rows.
pub(super) fn write(ch: Changes, conn: &Connection) -> Result<()> {
    if !ch.cells.is_empty() {
        let mut upsert = conn.prepare_cached(cell_upsert_sql())?;
        for d in ch.cells {
            let c = &d.counts;
            let [b0, b1, b2, b3, b4, b5, b6] = &c.latency_buckets;
            upsert.execute(params![
                d.repo,
                d.hour,
                d.developer,
                d.model,
                c.requests,
                c.tokens,
                c.cost_usd,
                c.cost_unknown,
                c.errors,
                c.signal,
                c.accepted,
                c.accepted_tokens,
                c.accepted_lines,
                c.line_tokens,
                c.diff_n,
                c.diff_sum,
                c.diff_high,
                b0,
                b1,
                b2,
                b3,
                b4,
                b5,
                b6,
                c.ttft_n,
                c.line_calls,
                c.line_output_tokens,
                d.latency,
                d.ttft
            ])?;
        }
    }
    if !ch.errors.is_empty() {
        let mut upsert = conn.prepare_cached(
            "INSERT INTO rollup_errors (repo, hour, developer, model, status, error_class, errors)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (repo, hour, developer, model, status, error_class)
             DO UPDATE SET errors = errors + excluded.errors",
        )?;
        for e in ch.errors {
            upsert.execute(params![
                e.repo,
                e.hour,
                e.developer,
                e.model,
                e.status,
                e.class,
                e.errors
            ])?;
        }
    }
    if !ch.sessions.is_empty() {
        let mut upsert = conn.prepare_cached(&format!(
            "INSERT INTO rollup_sessions (repo, day, developer, session, hours, models,
                requests, tokens, cost_usd, cost_unknown, errors, first_us, last_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (repo, day, developer, session) DO UPDATE SET
                hours = hours | excluded.hours,
                models = {MODELS_UNION}(models, excluded.models),
                requests = requests + excluded.requests,
                tokens = tokens + excluded.tokens,
                cost_usd = cost_usd + excluded.cost_usd,
                cost_unknown = cost_unknown + excluded.cost_unknown,
                errors = errors + excluded.errors,
                first_us = min(first_us, excluded.first_us),
                last_us = max(last_us, excluded.last_us)"
        ))?;
        for d in ch.sessions {
            let c = &d.counts;
            upsert.execute(params![
                d.repo,
                d.day,
                d.developer,
                d.session,
                d.hours,
                d.models,
                c.requests,
                c.tokens,
                c.cost_usd,
                c.cost_unknown,
                c.errors,
                d.first_us,
                d.last_us
            ])?;
        }
    }
    if !ch.session_models.is_empty() {
        let mut upsert = conn.prepare_cached(
            "INSERT INTO rollup_session_models (repo, day, developer, session, model,
                requests, tokens, cost_usd, cost_unknown, errors, first_us, last_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (repo, day, developer, session, model) DO UPDATE SET
                requests = requests + excluded.requests,
                tokens = tokens + excluded.tokens,
                cost_usd = cost_usd + excluded.cost_usd,
                cost_unknown = cost_unknown + excluded.cost_unknown,
                errors = errors + excluded.errors,
                first_us = min(first_us, excluded.first_us),
                last_us = max(last_us, excluded.last_us)",
        )?;
        for m in ch.session_models {
            let c = &m.counts;
            upsert.execute(params![
                m.repo,
                m.day,
                m.developer,
                m.session,
                m.model,
                c.requests,
                c.tokens,
                c.cost_usd,
                c.cost_unknown,
                c.errors,
                m.first_us,
                m.last_us
            ])?;
        }
    }
    Ok(())
}

fn cell_upsert_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let cols = CELL_COUNTERS.join(", ");
        let marks: Vec<String> = (1..=CELL_COUNTERS.len() + 6)
            .map(|i| format!("?{i}"))
            .collect();
        let sets: Vec<String> = CELL_COUNTERS
            .iter()
            .map(|c| format!("{c} = {c} + excluded.{c}"))
            .collect();
        format!(
            "INSERT INTO rollup_cells (repo, hour, developer, model, {cols}, latency_sketch, ttft_sketch)
             VALUES ({})
             ON CONFLICT (repo, hour, developer, model) DO UPDATE SET {},
                latency_sketch = {SKETCH_MERGE}(latency_sketch, excluded.latency_sketch),
                ttft_sketch = {SKETCH_MERGE}(ttft_sketch, excluded.ttft_sketch)",
            marks.join(", "),
            sets.join(", ")
        )
    })
}
