//! Writing a batch's rollup changes into PostgreSQL, in the writer's transaction.
//!
//! Each table takes one `INSERT … SELECT … FROM UNNEST(arrays) ON CONFLICT DO UPDATE` per batch,
//! its rows in key order (so concurrent writers lock rows in one order). Counters are additive
//! in SQL, so writers on several machines add up exactly. Sketches and per-model hour masks are
//! merged under the row lock: the upsert locks each row until commit and returns the stored
//! value, which is merged with the batch's in Rust (the same merge SQLite's functions run) and
//! written back by one `UPDATE … FROM UNNEST`. A writer that reaches a row next waits for the
//! lock and then reads the merged value.

use crate::error::{Error, Result};
use crate::metrics::counters::Counters;
use crate::stats::StatsError;
use crate::store::rollups::{merge_sketches, union_models, Changes, CELL_COUNTERS};
use postgres::types::ToSql;
use postgres::Transaction;
use std::collections::HashMap;
use std::sync::OnceLock;

fn unreadable(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Stats(StatsError::Sketch(format!(
        "a stored rollup {what} is unreadable ({e}); run `prod-lens rebuild-rollups`"
    )))
}

/// The SQL array type of each counter in [`CELL_COUNTERS`] order (two are sums of reals).
fn counter_type(name: &str) -> &'static str {
    match name {
        "cost_usd" | "diff_sum" => "float8[]",
        _ => "int8[]",
    }
}

fn cell_upsert_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let cols = CELL_COUNTERS.join(", ");
        let mut arrays: Vec<String> = ["text[]", "int8[]", "text[]", "text[]"]
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::{t}", i + 1))
            .collect();
        for (i, c) in CELL_COUNTERS.iter().enumerate() {
            arrays.push(format!("${}::{}", i + 5, counter_type(c)));
        }
        let n = CELL_COUNTERS.len() + 4;
        arrays.push(format!("${}::bytea[]", n + 1));
        arrays.push(format!("${}::bytea[]", n + 2));
        let sets: Vec<String> = CELL_COUNTERS
            .iter()
            .map(|c| format!("{c} = rollup_cells.{c} + excluded.{c}"))
            .collect();
        format!(
            "INSERT INTO rollup_cells (repo, hour, developer, model, {cols}, latency_sketch, ttft_sketch)
             SELECT * FROM UNNEST({})
             ON CONFLICT (repo, hour, developer, model) DO UPDATE SET {}
             RETURNING repo, hour, developer, model, (xmax = 0), latency_sketch, ttft_sketch",
            arrays.join(", "),
            sets.join(", ")
        )
    })
}

/// Column `i` of [`CELL_COUNTERS`] over every cell.
fn counter_column(counts: &[&Counters], i: usize) -> Box<dyn ToSql + Sync> {
    let int = |f: &dyn Fn(&Counters) -> i64| -> Box<dyn ToSql + Sync> {
        Box::new(counts.iter().map(|c| f(c)).collect::<Vec<i64>>())
    };
    match CELL_COUNTERS[i] {
        "cost_usd" => Box::new(counts.iter().map(|c| c.cost_usd).collect::<Vec<f64>>()),
        "diff_sum" => Box::new(counts.iter().map(|c| c.diff_sum).collect::<Vec<f64>>()),
        "requests" => int(&|c| c.requests),
        "tokens" => int(&|c| c.tokens),
        "cost_unknown" => int(&|c| c.cost_unknown),
        "errors" => int(&|c| c.errors),
        "signal" => int(&|c| c.signal),
        "accepted" => int(&|c| c.accepted),
        "accepted_tokens" => int(&|c| c.accepted_tokens),
        "accepted_lines" => int(&|c| c.accepted_lines),
        "line_tokens" => int(&|c| c.line_tokens),
        "diff_n" => int(&|c| c.diff_n),
        "diff_high" => int(&|c| c.diff_high),
        "ttft_n" => int(&|c| c.ttft_n),
        "line_calls" => int(&|c| c.line_calls),
        "line_output_tokens" => int(&|c| c.line_output_tokens),
        // The seven latency buckets, in order.
        _ => {
            let b = i - CELL_COUNTERS
                .iter()
                .position(|c| *c == "latency_lt_1s")
                .unwrap_or(i);
            Box::new(
                counts
                    .iter()
                    .map(|c| c.latency_buckets.get(b).copied().unwrap_or(0))
                    .collect::<Vec<i64>>(),
            )
        }
    }
}

/// (repo, hour or day, developer, model or session) of a returned row.
type Key = (String, i64, String, String);

/// A cell's stored latency and time-to-first-token sketches.
type Sketches = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The key columns of rows to update: repo, hour or day, developer, model or session.
#[derive(Default)]
struct KeyColumns<'a> {
    repo: Vec<&'a str>,
    at: Vec<i64>,
    developer: Vec<&'a str>,
    last: Vec<&'a str>,
}

impl<'a> KeyColumns<'a> {
    fn push(&mut self, repo: &'a str, at: i64, developer: &'a str, last: &'a str) {
        self.repo.push(repo);
        self.at.push(at);
        self.developer.push(developer);
        self.last.push(last);
    }
}

/// Writes `ch` inside `tx`.
pub(super) fn write(tx: &mut Transaction<'_>, ch: Changes) -> Result<()> {
    if !ch.cells.is_empty() {
        let cells = &ch.cells;
        let mut cols: Vec<Box<dyn ToSql + Sync>> = vec![
            Box::new(cells.iter().map(|d| d.repo.as_str()).collect::<Vec<_>>()),
            Box::new(cells.iter().map(|d| d.hour).collect::<Vec<_>>()),
            Box::new(
                cells
                    .iter()
                    .map(|d| d.developer.as_str())
                    .collect::<Vec<_>>(),
            ),
            Box::new(cells.iter().map(|d| d.model.as_str()).collect::<Vec<_>>()),
        ];
        let counts: Vec<&Counters> = cells.iter().map(|d| &d.counts).collect();
        cols.extend((0..CELL_COUNTERS.len()).map(|i| counter_column(&counts, i)));
        cols.push(Box::new(
            cells
                .iter()
                .map(|d| d.latency.as_deref())
                .collect::<Vec<_>>(),
        ));
        cols.push(Box::new(
            cells.iter().map(|d| d.ttft.as_deref()).collect::<Vec<_>>(),
        ));
        let params: Vec<&(dyn ToSql + Sync)> = cols.iter().map(|b| b.as_ref()).collect();
        let returned = tx.query(cell_upsert_sql(), &params)?;
        let mut stored: HashMap<Key, Sketches> = HashMap::new();
        for r in &returned {
            if !r.try_get::<_, bool>(4)? {
                let key = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
                stored.insert(key, (r.try_get(5)?, r.try_get(6)?));
            }
        }
        let mut upd = KeyColumns::default();
        let mut latencies: Vec<Option<Vec<u8>>> = Vec::new();
        let mut ttfts: Vec<Option<Vec<u8>>> = Vec::new();
        for d in cells
            .iter()
            .filter(|d| d.latency.is_some() || d.ttft.is_some())
        {
            let key = (d.repo.clone(), d.hour, d.developer.clone(), d.model.clone());
            let Some((lat, ttft)) = stored.get(&key) else {
                continue; // inserted with the batch's sketches
            };
            let lat = merge_sketches(lat.as_deref(), d.latency.as_deref())
                .map_err(|e| unreadable("sketch", e))?;
            let ttft = merge_sketches(ttft.as_deref(), d.ttft.as_deref())
                .map_err(|e| unreadable("sketch", e))?;
            upd.push(&d.repo, d.hour, &d.developer, &d.model);
            latencies.push(lat);
            ttfts.push(ttft);
        }
        if !upd.repo.is_empty() {
            tx.execute(
                "UPDATE rollup_cells c SET latency_sketch = u.l, ttft_sketch = u.t
                 FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::bytea[],
                             $6::bytea[]) AS u(repo, hour, developer, model, l, t)
                 WHERE c.repo = u.repo AND c.hour = u.hour AND c.developer = u.developer
                   AND c.model = u.model",
                &[
                    &upd.repo,
                    &upd.at,
                    &upd.developer,
                    &upd.last,
                    &latencies,
                    &ttfts,
                ],
            )?;
        }
    }
    if !ch.errors.is_empty() {
        let e = &ch.errors;
        tx.execute(
            "INSERT INTO rollup_errors (repo, hour, developer, model, status, error_class, errors)
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::int8[],
                                  $6::text[], $7::int8[])
             ON CONFLICT (repo, hour, developer, model, status, error_class)
             DO UPDATE SET errors = rollup_errors.errors + excluded.errors",
            &[
                &e.iter().map(|x| x.repo.as_str()).collect::<Vec<_>>(),
                &e.iter().map(|x| x.hour).collect::<Vec<_>>(),
                &e.iter().map(|x| x.developer.as_str()).collect::<Vec<_>>(),
                &e.iter().map(|x| x.model.as_str()).collect::<Vec<_>>(),
                &e.iter().map(|x| x.status).collect::<Vec<_>>(),
                &e.iter().map(|x| x.class.as_str()).collect::<Vec<_>>(),
                &e.iter().map(|x| x.errors).collect::<Vec<_>>(),
            ],
        )?;
    }
    if !ch.sessions.is_empty() {
        let s = &ch.sessions;
        let returned = tx.query(
            "INSERT INTO rollup_sessions (repo, day, developer, session, hours, models,
                requests, tokens, cost_usd, cost_unknown, errors, first_us, last_us)
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::int8[],
                                  $6::text[], $7::int8[], $8::int8[], $9::float8[],
                                  $10::int8[], $11::int8[], $12::int8[], $13::int8[])
             ON CONFLICT (repo, day, developer, session) DO UPDATE SET
                hours = rollup_sessions.hours | excluded.hours,
                requests = rollup_sessions.requests + excluded.requests,
                tokens = rollup_sessions.tokens + excluded.tokens,
                cost_usd = rollup_sessions.cost_usd + excluded.cost_usd,
                cost_unknown = rollup_sessions.cost_unknown + excluded.cost_unknown,
                errors = rollup_sessions.errors + excluded.errors,
                first_us = LEAST(rollup_sessions.first_us, excluded.first_us),
                last_us = GREATEST(rollup_sessions.last_us, excluded.last_us)
             RETURNING repo, day, developer, session, (xmax = 0), models",
            &[
                &s.iter().map(|x| x.repo.as_str()).collect::<Vec<_>>(),
                &s.iter().map(|x| x.day).collect::<Vec<_>>(),
                &s.iter().map(|x| x.developer.as_str()).collect::<Vec<_>>(),
                &s.iter().map(|x| x.session.as_str()).collect::<Vec<_>>(),
                &s.iter().map(|x| i64::from(x.hours)).collect::<Vec<_>>(),
                &s.iter().map(|x| x.models.as_str()).collect::<Vec<_>>(),
                &s.iter().map(|x| x.counts.requests).collect::<Vec<_>>(),
                &s.iter().map(|x| x.counts.tokens).collect::<Vec<_>>(),
                &s.iter().map(|x| x.counts.cost_usd).collect::<Vec<_>>(),
                &s.iter().map(|x| x.counts.cost_unknown).collect::<Vec<_>>(),
                &s.iter().map(|x| x.counts.errors).collect::<Vec<_>>(),
                &s.iter().map(|x| x.first_us).collect::<Vec<_>>(),
                &s.iter().map(|x| x.last_us).collect::<Vec<_>>(),
            ],
        )?;
        let mut stored: HashMap<Key, String> = HashMap::new();
        for r in &returned {
            if !r.try_get::<_, bool>(4)? {
                let key = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
                stored.insert(key, r.try_get(5)?);
            }
        }
        let mut upd = KeyColumns::default();
        let mut models: Vec<String> = Vec::new();
        for d in s {
            let key = (
                d.repo.clone(),
                d.day,
                d.developer.clone(),
                d.session.clone(),
            );
            let Some(old) = stored.remove(&key) else {
                continue; // inserted with the batch's models
            };
            let merged =
                union_models(old.clone(), &d.models).map_err(|e| unreadable("model mask", e))?;
            if merged != old {
                upd.push(&d.repo, d.day, &d.developer, &d.session);
                models.push(merged);
            }
        }
        if !upd.repo.is_empty() {
            tx.execute(
                "UPDATE rollup_sessions r SET models = u.models
                 FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[])
                      AS u(repo, day, developer, session, models)
                 WHERE r.repo = u.repo AND r.day = u.day AND r.developer = u.developer
                   AND r.session = u.session",
                &[&upd.repo, &upd.at, &upd.developer, &upd.last, &models],
            )?;
        }
    }
    if !ch.session_models.is_empty() {
        let m = &ch.session_models;
        tx.execute(
            "INSERT INTO rollup_session_models (repo, day, developer, session, model,
                requests, tokens, cost_usd, cost_unknown, errors, first_us, last_us)
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[],
                                  $6::int8[], $7::int8[], $8::float8[], $9::int8[],
                                  $10::int8[], $11::int8[], $12::int8[])
             ON CONFLICT (repo, day, developer, session, model) DO UPDATE SET
                requests = rollup_session_models.requests + excluded.requests,
                tokens = rollup_session_models.tokens + excluded.tokens,
                cost_usd = rollup_session_models.cost_usd + excluded.cost_usd,
                cost_unknown = rollup_session_models.cost_unknown + excluded.cost_unknown,
                errors = rollup_session_models.errors + excluded.errors,
                first_us = LEAST(rollup_session_models.first_us, excluded.first_us),
                last_us = GREATEST(rollup_session_models.last_us, excluded.last_us)",
            &[
                &m.iter().map(|x| x.repo.as_str()).collect::<Vec<_>>(),
                &m.iter().map(|x| x.day).collect::<Vec<_>>(),
                &m.iter().map(|x| x.developer.as_str()).collect::<Vec<_>>(),
                &m.iter().map(|x| x.session.as_str()).collect::<Vec<_>>(),
                &m.iter().map(|x| x.model.as_str()).collect::<Vec<_>>(),
                &m.iter().map(|x| x.counts.requests).collect::<Vec<_>>(),
                &m.iter().map(|x| x.counts.tokens).collect::<Vec<_>>(),
                &m.iter().map(|x| x.counts.cost_usd).collect::<Vec<_>>(),
                &m.iter().map(|x| x.counts.cost_unknown).collect::<Vec<_>>(),
                &m.iter().map(|x| x.counts.errors).collect::<Vec<_>>(),
                &m.iter().map(|x| x.first_us).collect::<Vec<_>>(),
                &m.iter().map(|x| x.last_us).collect::<Vec<_>>(),
            ],
        )?;
    }
    Ok(())
}
