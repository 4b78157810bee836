//! The trace side of a report as an aggregate: additive counters per (local clock hour,
//! developer, model) cell, latency distributions per local day and TTFT over the window, error
//! counts per (status, class) and the distinct (local hour, developer, session) triples.
//!
//! The aggregate is built either from trace rows ([`TraceAggregate::from_rows`], exact
//! distributions) or from the stored hourly rollups ([`TraceAggregate::from_hours`], DDSketch
//! distributions). Every trace-side indicator is computed from it, so both paths share one
//! definition of each number: counts and sums are equal, percentiles differ only by the sketch's
//! relative error. No I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

use super::counters::{present, status_of, CallMeasures, Counters};
use super::distribution::Dist;
use super::input::TraceRow;
use crate::stats::sketch::QuantileSketch;

pub use super::hours::{HourAggregator, SessionNumbers};

/// A local clock hour: the calendar day and hour (0–23) in the report's timezone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    /// Local day.
    pub day: NaiveDate,
    /// Local hour of the day.
    pub hour: u32,
}

impl Slot {
    /// The local clock hour holding `t` in `tz`.
    pub fn of(t: DateTime<Utc>, tz: Tz) -> Slot {
        let local = t.with_timezone(&tz);
        Slot {
            day: local.date_naive(),
            hour: local.hour(),
        }
    }

    /// The local clock hour holding UTC hour `hour` (hours since the epoch); `None` outside
    /// chrono's range.
    pub fn of_utc_hour(hour: i64, tz: Tz) -> Option<Slot> {
        let t = DateTime::from_timestamp(hour.checked_mul(3600)?, 0)?;
        Some(Slot::of(t, tz))
    }
}

/// The calls of one (local hour, developer, model).
#[derive(Debug, Clone)]
pub struct Cell {
    /// Local clock hour.
    pub slot: Slot,
    /// Developer id as stored (case kept).
    pub developer: Option<Arc<str>>,
    /// Model name.
    pub model: Option<Arc<str>>,
    /// The counters.
    pub counts: Counters,
}

/// Failed calls with one (status, error class).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorCount {
    /// HTTP status, `None` when not reported.
    pub status: Option<i64>,
    /// Error class, `None` when not reported.
    pub class: Option<Arc<str>>,
    /// Failed calls.
    pub count: u64,
}

/// A (local hour, developer, session) with at least one call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionSlot {
    /// Local clock hour.
    pub slot: Slot,
    /// Developer id as stored.
    pub developer: Option<Arc<str>>,
    /// The session's number: equal numbers for equal session ids. In a [`TraceAggregate`] the
    /// numbers are dense (`0..distinct_sessions`), so sessions are counted without names.
    pub session: u32,
}

/// One rollup cell as stored: a UTC hour instead of a local one.
#[derive(Debug, Clone)]
pub struct HourCell {
    /// UTC hour (hours since the epoch).
    pub hour: i64,
    /// Developer id.
    pub developer: Option<Arc<str>>,
    /// Model name.
    pub model: Option<Arc<str>>,
    /// The counters.
    pub counts: Counters,
    /// Latency sketch.
    pub latency: QuantileSketch,
    /// TTFT sketch.
    pub ttft: QuantileSketch,
}

/// One stored (UTC hour, developer, session) with at least one call.
#[derive(Debug, Clone)]
pub struct HourSession {
    /// UTC hour.
    pub hour: i64,
    /// Developer id.
    pub developer: Option<Arc<str>>,
    /// The session's number from one [`SessionNumbers`] for the whole aggregate.
    pub session: u32,
}

/// Everything the trace-side indicators of one repo read.
#[derive(Debug, Clone, Default)]
pub struct TraceAggregate {
    /// Cells sorted by (slot, developer, model).
    pub cells: Vec<Cell>,
    /// Failed calls per (status, class), sorted.
    pub errors: Vec<ErrorCount>,
    /// Distinct (local hour, developer, session), sorted by (hour, session, developer);
    /// sessions numbered densely in order of first appearance.
    pub sessions: Vec<SessionSlot>,
    /// Distinct sessions in `sessions` (their numbers are `0..distinct_sessions`).
    pub distinct_sessions: usize,
    /// Latencies (ms) per local day, in day order.
    pub latency_by_day: BTreeMap<NaiveDate, Dist>,
    /// Times to first token (ms) of the whole window.
    pub ttft: Dist,
}

type CellKey = (Slot, Option<Arc<str>>, Option<Arc<str>>);
pub(super) type ErrorKey = (Option<i64>, Option<Arc<str>>);

fn push(d: &mut Dist, v: f64) {
    match d {
        Dist::Values(values) => values.push(v),
        Dist::Sketch(s) => {
            // Finite by construction, which a sketch always accepts.
            let _ = s.add(v);
        }
    }
}

pub(super) fn merge_sketch(d: &mut Dist, s: &QuantileSketch) {
    if s.is_empty() {
        return;
    }
    if let Dist::Values(v) = d {
        let mut sketch = QuantileSketch::new();
        for &x in v.iter() {
            let _ = sketch.add(x);
        }
        *d = Dist::Sketch(sketch);
    }
    if let Dist::Sketch(acc) = d {
        // Sketches of one configuration always merge.
        let _ = acc.merge(s);
    }
}

fn clean(v: &Option<Arc<str>>) -> Option<Arc<str>> {
    v.as_ref().filter(|s| !s.is_empty()).cloned()
}

impl TraceAggregate {
    /// Aggregates trace rows, bucketed by local clock hour in `tz` (exact distributions).
    pub fn from_rows(rows: &[TraceRow], tz: Tz) -> Self {
        let mut cells: HashMap<CellKey, Cell> = HashMap::new();
        let mut errors: HashMap<ErrorKey, u64> = HashMap::new();
        let mut sessions: HashSet<SessionSlot> = HashSet::new();
        let mut numbers = SessionNumbers::default();
        let mut latency_by_day: BTreeMap<NaiveDate, Dist> = BTreeMap::new();
        let mut ttft = Dist::default();
        for r in rows {
            let slot = Slot::of(r.timestamp, tz);
            let (developer, model) = (clean(&r.developer), clean(&r.model));
            let m = CallMeasures::of_row(r);
            cells
                .entry((slot, developer.clone(), model.clone()))
                .or_insert_with(|| Cell {
                    slot,
                    developer: developer.clone(),
                    model,
                    counts: Counters::default(),
                })
                .counts
                .add(&Counters::of_call(&m));
            if let Some(l) = m.latency() {
                push(latency_by_day.entry(slot.day).or_default(), l);
            }
            if let Some(t) = m.ttft() {
                push(&mut ttft, t);
            }
            if r.is_error {
                let class = present(r.error_class.as_deref()).map(Arc::from);
                *errors.entry((status_of(r.status_code), class)).or_insert(0) += 1;
            }
            if let Some(session) = clean(&r.session) {
                sessions.insert(SessionSlot {
                    slot,
                    developer,
                    session: numbers.number(&session),
                });
            }
        }
        Self::sorted(
            cells.into_values().collect(),
            errors,
            sessions.into_iter().collect(),
            latency_by_day,
            ttft,
        )
    }

    /// Re-buckets stored hourly rollups into local hours of `tz` (see [`HourAggregator`]).
    pub fn from_hours(
        cells: Vec<HourCell>,
        errors: Vec<ErrorCount>,
        sessions: Vec<HourSession>,
        tz: Tz,
    ) -> Self {
        let mut agg = HourAggregator::new(tz);
        for c in cells {
            agg.cell(c.hour, c.developer, c.model, c.counts, &c.latency, &c.ttft);
        }
        for e in errors {
            agg.error(e);
        }
        for s in sessions {
            agg.session(s);
        }
        agg.finish()
    }

    /// Sorts everything; `sessions` may repeat entries, which are dropped.
    pub(super) fn sorted(
        mut cells: Vec<Cell>,
        errors: HashMap<ErrorKey, u64>,
        mut sessions: Vec<SessionSlot>,
        latency_by_day: BTreeMap<NaiveDate, Dist>,
        ttft: Dist,
    ) -> Self {
        // A fixed order makes floating-point sums reproducible run to run.
        cells.sort_by(|a, b| {
            (a.slot, &a.developer, &a.model).cmp(&(b.slot, &b.developer, &b.model))
        });
        let mut errors: Vec<ErrorCount> = errors
            .into_iter()
            .map(|((status, class), count)| ErrorCount {
                status,
                class,
                count,
            })
            .collect();
        errors.sort_by(|a, b| (a.status, &a.class).cmp(&(b.status, &b.class)));
        // By hour, then session number (developer names are compared only between entries of
        // one session and hour); equal entries are equal in every field, so an unstable sort
        // gives one order.
        sessions.sort_unstable_by(|a, b| {
            (a.slot, a.session, &a.developer).cmp(&(b.slot, b.session, &b.developer))
        });
        sessions.dedup();
        // Dense numbers in order of first appearance, whatever numbers the builder gave.
        let top = sessions.iter().map(|s| s.session as usize + 1).max();
        let mut dense = vec![u32::MAX; top.unwrap_or(0)];
        let mut distinct_sessions = 0usize;
        for s in &mut sessions {
            let n = &mut dense[s.session as usize];
            if *n == u32::MAX {
                *n = distinct_sessions as u32;
                distinct_sessions += 1;
            }
            s.session = *n;
        }
        drop(dense);
        TraceAggregate {
            cells,
            errors,
            sessions,
            distinct_sessions,
            latency_by_day,
            ttft,
        }
    }

    /// The distinct developer ids of the cells and sessions, each once, in no set order.
    pub fn developer_ids(&self) -> HashSet<&str> {
        // Equal names mostly share one allocation (they are interned when read): entries are
        // told apart by address first, which is cheap, and only new addresses by text.
        let mut addresses: HashSet<*const u8> = HashSet::new();
        let mut last = None;
        let mut ids: HashSet<&str> = HashSet::new();
        let names = self.cells.iter().map(|c| &c.developer);
        for d in names.chain(self.sessions.iter().map(|s| &s.developer)) {
            let Some(d) = d.as_deref() else { continue };
            if last == Some(d.as_ptr()) {
                continue;
            }
            last = Some(d.as_ptr());
            if addresses.insert(d.as_ptr()) {
                ids.insert(d);
            }
        }
        ids
    }

    /// Counters of every cell added up.
    pub fn totals(&self) -> Counters {
        let mut t = Counters::default();
        for c in &self.cells {
            t.add(&c.counts);
        }
        t
    }

    /// The same aggregate with every developer id replaced by the person it is linked to (the
    /// GitHub login), so that per-developer counts count people, not ids.
    pub fn with_people(&self, linker: &crate::identity::Linker) -> TraceAggregate {
        let mut seen: HashMap<Arc<str>, Arc<str>> = HashMap::new();
        let mut person = |d: &Option<Arc<str>>| -> Option<Arc<str>> {
            let d = d.as_ref()?;
            Some(
                seen.entry(d.clone())
                    .or_insert_with(|| match linker.link(d) {
                        Some(l) => Arc::from(l.login.as_str()),
                        None => d.clone(),
                    })
                    .clone(),
            )
        };
        let mut out = self.clone();
        for c in &mut out.cells {
            c.developer = person(&c.developer);
        }
        for s in &mut out.sessions {
            s.developer = person(&s.developer);
        }
        out
    }

    /// Distinct sessions per local day.
    pub fn sessions_per_day(&self) -> BTreeMap<NaiveDate, u64> {
        let mut out: BTreeMap<NaiveDate, u64> = BTreeMap::new();
        // The last day each session number was counted on (sessions are sorted by hour, so by
        // day): a session counts once per day without a set of names.
        let mut counted: Vec<Option<NaiveDate>> = vec![None; self.distinct_sessions];
        // The day being counted and its count so far, added to `out` when the day changes.
        let mut run: Option<(NaiveDate, u64)> = None;
        for s in &self.sessions {
            let day = s.slot.day;
            let Some(last) = counted.get_mut(s.session as usize) else {
                continue;
            };
            if *last == Some(day) {
                continue;
            }
            *last = Some(day);
            match &mut run {
                Some((d, n)) if *d == day => *n += 1,
                _ => {
                    if let Some((d, n)) = run.replace((day, 1)) {
                        *out.entry(d).or_insert(0) += n;
                    }
                }
            }
        }
        if let Some((d, n)) = run {
            *out.entry(d).or_insert(0) += n;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::counters::utc_hour;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn sessions_are_numbered_densely_and_counted_once_per_hour_and_day() {
        let mut numbers = SessionNumbers::default();
        assert_eq!(numbers.number("b"), 0);
        assert_eq!(numbers.number("a"), 1);
        assert_eq!(numbers.number("b"), 0);
        let h = utc_hour(at("2025-10-20T10:00:00Z").timestamp_micros());
        let s = |hour: i64, dev: &str, session: u32| HourSession {
            hour,
            developer: Some(dev.into()),
            session,
        };
        // Sparse builder numbers, a repeated entry, one session of two developers.
        let sessions = vec![
            s(h + 1, "ana", 900),
            s(h, "ana", 900),
            s(h, "ana", 900),
            s(h, "bo", 900),
            s(h, "bo", 7),
            s(h + 30, "bo", 7),
        ];
        let agg = TraceAggregate::from_hours(vec![], vec![], sessions, chrono_tz::UTC);
        assert_eq!(agg.sessions.len(), 5);
        assert_eq!(agg.distinct_sessions, 2);
        assert!(agg.sessions.iter().all(|x| x.session < 2));
        assert!(agg.sessions.windows(2).all(|w| w[0].slot <= w[1].slot));
        let per_day: Vec<u64> = agg.sessions_per_day().into_values().collect();
        assert_eq!(per_day, vec![2, 1]);
    }

    #[test]
    fn rows_and_hours_give_the_same_cells_across_a_dst_change() {
        let tz = chrono_tz::Europe::Berlin;
        // 00:30 and 01:30 UTC on 2025-10-26 are both 02:30 local (the repeated hour).
        let rows: Vec<TraceRow> = ["2025-10-26T00:30:00Z", "2025-10-26T01:30:00Z"]
            .iter()
            .map(|t| TraceRow {
                timestamp: at(t),
                developer: Some("a".into()),
                session: Some("s".into()),
                tokens: 5,
                ..TraceRow::default()
            })
            .collect();
        let exact = TraceAggregate::from_rows(&rows, tz);
        assert_eq!(exact.cells.len(), 1);
        assert_eq!(exact.cells[0].counts.requests, 2);
        assert_eq!(exact.sessions.len(), 1);
        let hours: Vec<HourCell> = rows
            .iter()
            .map(|r| HourCell {
                hour: utc_hour(r.timestamp.timestamp_micros()),
                developer: r.developer.clone(),
                model: None,
                counts: Counters::of_call(&CallMeasures::of_row(r)),
                latency: QuantileSketch::new(),
                ttft: QuantileSketch::new(),
            })
            .collect();
        let sessions = hours
            .iter()
            .map(|h| HourSession {
                hour: h.hour,
                developer: h.developer.clone(),
                session: 7,
            })
            .collect();
        let rolled = TraceAggregate::from_hours(hours, vec![], sessions, tz);
        // Two stored cells map to one local hour: they stay two cells, sets dedupe the hour.
        assert_eq!(rolled.cells.len(), 2);
        assert_eq!(rolled.latency_by_day.len(), exact.latency_by_day.len());
        assert!(rolled.cells.iter().all(|c| c.slot == exact.cells[0].slot));
        assert_eq!(rolled.totals(), exact.totals());
        assert_eq!(rolled.sessions, exact.sessions);
        assert_eq!(exact.cells[0].slot.day.to_string(), "2025-10-26");
    }
}
