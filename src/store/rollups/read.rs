//! Reading the rollups of one repo over a window, narrowed like the row path.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::OptionalExtension;

use super::delta::{counters_from_row, models_of};
use super::sketches::merged_while;
use crate::error::{Error, Result};
use crate::metrics::aggregate::{ErrorCount, HourAggregator, SessionNumbers, TraceAggregate};
use crate::metrics::counters::{present, status_of, utc_hour};
use crate::stats::StatsError;
use crate::store::raw::RawQuery;
use crate::store::report_data::TraceFilter;
use crate::store::Store;

/// Shares repeated names (developers, models, sessions) as one allocation each.
#[derive(Default)]
pub(in crate::store) struct Interner {
    names: foldhash::HashSet<Arc<str>>,
    /// The name returned last.
    last: Option<Arc<str>>,
}

impl Interner {
    /// The shared copy of `v` (None for a missing or empty name).
    pub(in crate::store) fn get(&mut self, v: Option<&str>) -> Option<Arc<str>> {
        let v = present(v)?;
        // Rows in key order repeat a name (session-days of one developer) back to back.
        if let Some(last) = self.last.as_ref().filter(|last| ***last == *v) {
            return Some(last.clone());
        }
        let a = match self.names.get(v) {
            Some(a) => a.clone(),
            None => {
                let a: Arc<str> = Arc::from(v);
                self.names.insert(a.clone());
                a
            }
        };
        self.last = Some(a.clone());
        Some(a)
    }
}

impl Store {
    /// True when the file has the rollup tables with every counter this build reads (schema
    /// version 8 or later; an older file gets them when a writing command first opens it).
    pub(in crate::store) fn rollup_tables_current(&self) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM pragma_table_info('rollup_cells') WHERE name = 'line_output_tokens'",
                [],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Whether the store has the per-model session-days (schema version 7 and later).
    pub(in crate::store) fn session_model_tables_exist(&self) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rollup_session_models'",
                [],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// The trace aggregate of one repo over `[start, end)` from the hourly rollups, re-bucketed
    /// into local hours of `tz` and narrowed by `filter` as the row path narrows rows.
    ///
    /// Exact when `start` and `end` lie on whole UTC hours and `tz` keeps whole-hour offsets
    /// over the window (see [`crate::stats::calendar::hour_aligned`]).
    pub(in crate::store) fn rollup_aggregate(
        &self,
        repo: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        filter: &TraceFilter,
        tz: Tz,
    ) -> Result<TraceAggregate> {
        let (h0, h1) = (
            utc_hour(start.timestamp_micros()),
            utc_hour(end.timestamp_micros()),
        );
        let mut names = Interner::default();
        // In key order (the table's own), which is the aggregate's order in most timezones.
        // Read through the C API: most of a large report's rows are these (see store::raw).
        let mut cells = RawQuery::prepare(
            &self.conn,
            &format!(
                "SELECT hour, developer, model, {}, latency_sketch, ttft_sketch FROM rollup_cells
                 WHERE repo = ?1 AND hour >= ?2 AND hour < ?3
                   AND (?4 IS NULL OR lower(developer) IN (SELECT value FROM json_each(?4)))
                   AND (?5 IS NULL OR model = ?5)
                 ORDER BY hour, developer, model",
                super::CELL_COUNTERS.join(", ")
            ),
        )?;
        bind_window(&mut cells, repo, (h0, h1), filter)?;
        cells.bind_text(5, filter.model.as_deref())?;
        let mut agg = HourAggregator::new(tz);
        agg.expect_window(h0, h1);
        // The sketches are decoded and merged on a second thread meanwhile.
        let ((), merged) = merged_while(repo, |feed| {
            let at = 3 + super::CELL_COUNTERS.len();
            while let Some(r) = cells.next()? {
                let hour: i64 = r.get(0)?;
                let (developer, model) = (names.get(r.text(1)?), names.get(r.text(2)?));
                let counts = counters_from_row!(&r, 3, get, rusqlite::Error)?;
                if let Some(slot) = agg.cell_counts(hour, developer, model, counts) {
                    feed.push(slot.day, hour, r.blob(at)?, r.blob(at + 1)?);
                }
            }
            Ok(())
        })?;
        agg.add_sketches(merged.latency_by_day, &merged.ttft);
        // Summed here rather than by GROUP BY, which sorted every row of the window first.
        let mut errors = RawQuery::prepare(
            &self.conn,
            "SELECT status, error_class, errors FROM rollup_errors
             WHERE repo = ?1 AND hour >= ?2 AND hour < ?3
               AND (?4 IS NULL OR lower(developer) IN (SELECT value FROM json_each(?4)))
               AND (?5 IS NULL OR model = ?5)",
        )?;
        bind_window(&mut errors, repo, (h0, h1), filter)?;
        errors.bind_text(5, filter.model.as_deref())?;
        while let Some(r) = errors.next()? {
            agg.error(ErrorCount {
                status: status_of(Some(r.get::<i64>(0)?)),
                class: names.get(r.text(1)?),
                count: u64::try_from(r.get::<i64>(2)?).unwrap_or(0),
            });
        }
        drop(errors);
        let days = (h0.div_euclid(24), (h1 - 1).div_euclid(24));
        read_sessions(
            &self.conn,
            &mut agg,
            &mut names,
            repo,
            days,
            (h0, h1),
            filter,
        )?;
        Ok(agg.finish())
    }
}

/// Adds the session-days of a repo inside days `[d0, d1]` to `agg` as (local hour, developer,
/// session) entries of the window's hours `[h0, h1)`, narrowed by `filter`.
fn read_sessions(
    conn: &rusqlite::Connection,
    agg: &mut HourAggregator,
    names: &mut Interner,
    repo: &str,
    (d0, d1): (i64, i64),
    hours: (i64, i64),
    filter: &TraceFilter,
) -> Result<()> {
    // The per-model hours are read only under a model filter; rows in key order, which the
    // aggregate's session order follows. Read through the C API, like the cells.
    let mut rows = RawQuery::prepare(
        conn,
        if filter.model.is_some() {
            "SELECT day, developer, session, hours, models FROM rollup_sessions
             WHERE repo = ?1 AND day >= ?2 AND day <= ?3
               AND (?4 IS NULL OR lower(developer) IN (SELECT value FROM json_each(?4)))
             ORDER BY day, developer, session"
        } else {
            "SELECT day, developer, session, hours FROM rollup_sessions
             WHERE repo = ?1 AND day >= ?2 AND day <= ?3
               AND (?4 IS NULL OR lower(developer) IN (SELECT value FROM json_each(?4)))
             ORDER BY day, developer, session"
        },
    )?;
    bind_window(&mut rows, repo, (d0, d1), filter)?;
    let mut numbers = SessionNumbers::default();
    numbers.expect_days(d0, d1);
    while let Some(r) = rows.next()? {
        let day: i64 = r.get(0)?;
        let models = if filter.model.is_some() {
            r.text(4)?
        } else {
            None
        };
        let bits = u32::try_from(r.get::<i64>(3)?).map_err(|_| {
            Error::Stats(StatsError::Sketch(format!(
                "rollup session row {repo} day {day} has hours out of range; run `prod-lens rebuild-rollups`"
            )))
        })?;
        let h = session_hours(bits, models, filter, repo, day)?;
        session_day(
            agg,
            names,
            &mut numbers,
            (day, h, hours),
            r.text(1)?,
            r.text(2)?,
        );
    }
    Ok(())
}

/// Binds a rollup read's repo (?1), range (?2, ?3) and developer filter (?4).
fn bind_window(
    q: &mut RawQuery<'_>,
    repo: &str,
    (from, to): (i64, i64),
    filter: &TraceFilter,
) -> rusqlite::Result<()> {
    q.bind_text(1, Some(repo))?;
    q.bind_i64(2, from)?;
    q.bind_i64(3, to)?;
    q.bind_text(4, filter.developer_json().as_deref())
}

/// The hours of a session-day to count: all of them (`hours`), or under a model filter that
/// model's hours from the stored per-model masks (`models`).
pub(in crate::store) fn session_hours(
    hours: u32,
    models: Option<&str>,
    filter: &TraceFilter,
    repo: &str,
    day: i64,
) -> Result<u32> {
    let Some(model) = &filter.model else {
        return Ok(hours);
    };
    Ok(models_of(models.unwrap_or_default())
        .map_err(|e| {
            Error::Stats(StatsError::Sketch(format!(
                "rollup session row {repo} day {day} is unreadable ({e}); run `prod-lens rebuild-rollups`"
            )))
        })?
        .get(model.as_str())
        .copied()
        .unwrap_or(0))
}

/// Adds a session-day's hours inside the window's hours `[h0, h1)` to the aggregate (a row
/// without a session adds nothing).
pub(in crate::store) fn session_day(
    agg: &mut HourAggregator,
    names: &mut Interner,
    numbers: &mut SessionNumbers,
    (day, hours, (h0, h1)): (i64, u32, (i64, i64)),
    developer: Option<&str>,
    session: Option<&str>,
) {
    // Only the hours inside the window count: bits lo..hi of this day.
    let (lo, hi) = ((h0 - day * 24).clamp(0, 24), (h1 - day * 24).clamp(0, 24));
    let window = if hi > lo {
        ((1u64 << hi) - (1u64 << lo)) as u32
    } else {
        0
    };
    let (hours, Some(session)) = (hours & window, present(session)) else {
        return;
    };
    if hours == 0 {
        return;
    }
    let session = numbers.number_on(day, session);
    agg.session_day(day, hours, names.get(developer), session);
}
