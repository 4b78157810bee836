//! The trace side of a report as an aggregate: additive counters per (local clock hour,
//! developer, model) cell, latency and TTFT distributions per cell, error counts per (status,
//! class) and the distinct (local hour, developer, session) triples.
//!
//! The aggregate is built either from trace rows ([`TraceAggregate::from_rows`], exact
//! distributions) or from the stored hourly rollups ([`TraceAggregate::from_hours`], DDSketch
//! distributions). Every trace-side indicator is computed from it, so both paths share one
//! definition of each number: counts and sums are equal, percentiles differ only by the sketch's
//! relative error. No I/O.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::breakdown::latency_bucket;
use super::input::TraceRow;
use crate::stats::quantile::SortedSample;
use crate::stats::sketch::{QuantileSketch, RELATIVE_ACCURACY};

/// Microseconds in one hour: rollup hours are `timestamp_us.div_euclid(HOUR_US)`.
pub const HOUR_US: i64 = 3_600_000_000;

/// A diff ratio at or above this counts as a high-quality acceptance (indicator 6).
pub const HIGH_DIFF_RATIO: f64 = 0.7;

/// The UTC hour (hours since the Unix epoch) holding an instant given in microseconds.
pub fn utc_hour(timestamp_us: i64) -> i64 {
    timestamp_us.div_euclid(HOUR_US)
}

/// A string that means something: `None` for a missing or empty value.
///
/// Rollup keys store a missing developer, model, session or error class as `''`, so an empty
/// string and no value are the same thing on both paths.
pub fn present(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.is_empty())
}

/// An HTTP status worth reporting: `None` when missing or not positive.
///
/// Rollup keys store "no status" as 0, so a zero or negative code and no code are the same thing
/// on both paths.
pub fn status_of(code: Option<i64>) -> Option<i64> {
    code.filter(|&c| c > 0)
}

/// The measured values of one call, as the counters read them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CallMeasures {
    /// Prompt plus completion tokens.
    pub tokens: i64,
    /// End-to-end latency (ms).
    pub latency_ms: Option<f64>,
    /// Time to first token (ms).
    pub ttft_ms: Option<f64>,
    /// Failed call.
    pub is_error: bool,
    /// Acceptance signal.
    pub accepted: Option<bool>,
    /// Diff ratio of the accepted change.
    pub diff_ratio: Option<f64>,
    /// Accepted lines.
    pub accepted_lines: Option<i64>,
    /// Cost (USD), `None` when unknown.
    pub cost_usd: Option<f64>,
}

impl CallMeasures {
    /// The measures of a report row.
    pub fn of_row(r: &TraceRow) -> Self {
        CallMeasures {
            tokens: r.tokens,
            latency_ms: r.latency_ms,
            ttft_ms: r.ttft_ms,
            is_error: r.is_error,
            accepted: r.accepted,
            diff_ratio: r.diff_ratio,
            accepted_lines: r.accepted_lines,
            cost_usd: r.cost_usd,
        }
    }

    /// The latency when it is a number.
    pub fn latency(&self) -> Option<f64> {
        self.latency_ms.filter(|v| v.is_finite())
    }

    /// The time to first token when it is a number.
    pub fn ttft(&self) -> Option<f64> {
        self.ttft_ms.filter(|v| v.is_finite())
    }

    /// The cost when it is known and a number.
    pub fn cost(&self) -> Option<f64> {
        self.cost_usd.filter(|v| v.is_finite())
    }
}

/// Additive counters of a set of calls: every count and sum the trace-side indicators read.
///
/// Signed, so that a correction (a row raised to larger token counts) can be applied as the
/// difference of two rows' counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    /// Calls.
    pub requests: i64,
    /// Prompt plus completion tokens.
    pub tokens: i64,
    /// Sum of known costs (USD).
    pub cost_usd: f64,
    /// Calls whose cost is unknown.
    pub cost_unknown: i64,
    /// Failed calls.
    pub errors: i64,
    /// Calls with an acceptance signal.
    pub signal: i64,
    /// Accepted calls.
    pub accepted: i64,
    /// Tokens of accepted calls.
    pub accepted_tokens: i64,
    /// Accepted lines of accepted calls reporting more than 0 lines.
    pub accepted_lines: i64,
    /// Tokens of those calls.
    pub line_tokens: i64,
    /// Calls with a diff ratio.
    pub diff_n: i64,
    /// Sum of diff ratios.
    pub diff_sum: f64,
    /// Diff ratios ≥ [`HIGH_DIFF_RATIO`].
    pub diff_high: i64,
    /// Calls with a latency, per [`super::breakdown::LATENCY_BUCKETS`] bucket.
    pub latency_buckets: [i64; 7],
    /// Calls with a time to first token.
    pub ttft_n: i64,
}

impl Counters {
    /// The counters of one call.
    pub fn of_call(m: &CallMeasures) -> Self {
        let mut c = Counters {
            requests: 1,
            tokens: m.tokens,
            errors: i64::from(m.is_error),
            ..Counters::default()
        };
        match m.cost() {
            Some(cost) => c.cost_usd = cost,
            None => c.cost_unknown = 1,
        }
        if let Some(a) = m.accepted {
            c.signal = 1;
            if a {
                c.accepted = 1;
                c.accepted_tokens = m.tokens;
                if let Some(lines) = m.accepted_lines.filter(|&l| l > 0) {
                    c.accepted_lines = lines;
                    c.line_tokens = m.tokens;
                }
            }
        }
        if let Some(d) = m.diff_ratio.filter(|d| d.is_finite()) {
            c.diff_n = 1;
            c.diff_sum = d;
            c.diff_high = i64::from(d >= HIGH_DIFF_RATIO);
        }
        if let Some(l) = m.latency() {
            c.latency_buckets[latency_bucket(l)] = 1;
        }
        c.ttft_n = i64::from(m.ttft().is_some());
        c
    }

    /// Adds `o` (`sign` 1) or takes it away (`sign` -1).
    fn combine(&mut self, o: &Counters, sign: i64) {
        let f = sign as f64;
        self.requests += sign * o.requests;
        self.tokens += sign * o.tokens;
        self.cost_usd += f * o.cost_usd;
        self.cost_unknown += sign * o.cost_unknown;
        self.errors += sign * o.errors;
        self.signal += sign * o.signal;
        self.accepted += sign * o.accepted;
        self.accepted_tokens += sign * o.accepted_tokens;
        self.accepted_lines += sign * o.accepted_lines;
        self.line_tokens += sign * o.line_tokens;
        self.diff_n += sign * o.diff_n;
        self.diff_sum += f * o.diff_sum;
        self.diff_high += sign * o.diff_high;
        for (a, b) in self.latency_buckets.iter_mut().zip(o.latency_buckets) {
            *a += sign * b;
        }
        self.ttft_n += sign * o.ttft_n;
    }

    /// Adds `o`.
    pub fn add(&mut self, o: &Counters) {
        self.combine(o, 1);
    }

    /// Takes `o` away (the inverse of [`Counters::add`] for counts).
    pub fn sub(&mut self, o: &Counters) {
        self.combine(o, -1);
    }

    /// The change from `old` to `new`.
    pub fn delta(old: &Counters, new: &Counters) -> Counters {
        let mut d = *new;
        d.sub(old);
        d
    }

    /// Calls with a latency.
    pub fn latency_n(&self) -> i64 {
        self.latency_buckets.iter().sum()
    }

    /// Calls whose cost is known.
    pub fn known_cost_calls(&self) -> i64 {
        self.requests - self.cost_unknown
    }
}

/// A distribution of latencies: every value (exact) or a mergeable sketch (rollups).
#[derive(Debug, Clone)]
pub enum Dist {
    /// Every value.
    Values(Vec<f64>),
    /// A DDSketch of the values.
    Sketch(QuantileSketch),
}

impl Default for Dist {
    fn default() -> Self {
        Dist::Values(Vec::new())
    }
}

impl Dist {
    /// Number of values described.
    pub fn len(&self) -> u64 {
        match self {
            Dist::Values(v) => v.len() as u64,
            Dist::Sketch(s) => s.count(),
        }
    }

    /// True when no value is described.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Percentiles `ps` (0–100) of the union of `dists`, in order.
///
/// Exact values give numpy's linear interpolation; sketches give the same interpolation between
/// sketched order statistics (see [`sketch_percentile`]). Mixed inputs are sketched.
pub fn percentiles<'a>(dists: impl IntoIterator<Item = &'a Dist>, ps: &[f64]) -> Vec<Option<f64>> {
    let mut values: Vec<f64> = Vec::new();
    let mut sketch: Option<QuantileSketch> = None;
    for d in dists {
        match d {
            Dist::Values(v) => values.extend_from_slice(v),
            Dist::Sketch(s) if !s.is_empty() => {
                // Sketches built with one configuration always merge; a failure leaves it out.
                let _ = sketch.get_or_insert_with(QuantileSketch::new).merge(s);
            }
            Dist::Sketch(_) => {}
        }
    }
    match sketch {
        None => match SortedSample::new(values) {
            Ok(s) => ps.iter().map(|&p| s.percentile(p)).collect(),
            Err(_) => vec![None; ps.len()],
        },
        Some(mut s) => {
            for v in values {
                let _ = s.add(v);
            }
            ps.iter().map(|&p| sketch_percentile(&s, p)).collect()
        }
    }
}

/// The sketch's estimate of the order statistic of rank `k` (0-based) of its `n` values.
///
/// The first and last are the exact minimum and maximum; the others are within the sketch's
/// relative accuracy of the true value, clamped to [min, max].
pub fn sketch_rank_value(s: &QuantileSketch, k: u64) -> Option<f64> {
    let n = s.count();
    let (min, max) = (s.min()?, s.max()?);
    if k == 0 {
        return Some(min);
    }
    if k + 1 >= n {
        return Some(max);
    }
    // The sketch reads rank ⌊q·(n−1)⌋; aiming at k + ½ keeps rounding from landing on k − 1.
    let q = (k as f64 + 0.5) / (n - 1) as f64;
    s.quantile(q).map(|v| v.clamp(min, max))
}

/// The p-th percentile (0–100) of a sketch with numpy's linear interpolation between the
/// sketched order statistics: for non-negative values it is within the sketch's relative
/// accuracy ([`RELATIVE_ACCURACY`]) of the exact percentile of the values.
pub fn sketch_percentile(s: &QuantileSketch, p: f64) -> Option<f64> {
    let n = s.count();
    if n == 0 || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let g = (p / 100.0) * (n - 1) as f64;
    let i = g.floor();
    let frac = g - i;
    let lo = sketch_rank_value(s, i as u64)?;
    if frac == 0.0 {
        return Some(lo);
    }
    let hi = sketch_rank_value(s, i as u64 + 1)?;
    Some(if frac < 0.5 {
        lo + frac * (hi - lo)
    } else {
        hi - (hi - lo) * (1.0 - frac)
    })
}

/// Relative accuracy of rollup percentiles (the sketch's α).
pub const PERCENTILE_RELATIVE_ERROR: f64 = RELATIVE_ACCURACY;

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

/// True when every UTC hour of `[start, end)` lies inside one local clock hour of `tz`: both
/// bounds on whole UTC hours and, in every hour between, the offset a whole number of hours
/// that does not change inside the hour. Then hourly UTC rollups re-bucket exactly.
pub fn hour_aligned(tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    let (s, e) = (start.timestamp(), end.timestamp());
    if s.rem_euclid(3600) != 0 || e.rem_euclid(3600) != 0 {
        return false;
    }
    let offset = |secs: i64| {
        DateTime::from_timestamp(secs, 0).map(|t| {
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        })
    };
    let mut h = s;
    while h < e {
        match (offset(h), offset(h + 3599)) {
            (Some(a), Some(b)) if a == b && a % 3600 == 0 => {}
            _ => return false,
        }
        h += 3600;
    }
    true
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
    /// Session id.
    pub session: Arc<str>,
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
    /// Session id.
    pub session: Arc<str>,
}

/// Everything the trace-side indicators of one repo read.
#[derive(Debug, Clone, Default)]
pub struct TraceAggregate {
    /// Cells sorted by (slot, developer, model).
    pub cells: Vec<Cell>,
    /// Failed calls per (status, class), sorted.
    pub errors: Vec<ErrorCount>,
    /// Distinct (local hour, developer, session), sorted.
    pub sessions: Vec<SessionSlot>,
    /// Latencies (ms) per local day, in day order.
    pub latency_by_day: BTreeMap<NaiveDate, Dist>,
    /// Times to first token (ms) of the whole window.
    pub ttft: Dist,
}

type CellKey = (Slot, Option<Arc<str>>, Option<Arc<str>>);
type ErrorKey = (Option<i64>, Option<Arc<str>>);

fn push(d: &mut Dist, v: f64) {
    match d {
        Dist::Values(values) => values.push(v),
        Dist::Sketch(s) => {
            // Finite by construction, which a sketch always accepts.
            let _ = s.add(v);
        }
    }
}

fn merge_sketch(d: &mut Dist, s: &QuantileSketch) {
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

/// Builds a [`TraceAggregate`] from stored hourly rollups one row at a time, re-bucketing UTC
/// hours into local hours of a timezone and merging each cell's sketches into per-day sketches
/// at once (so memory does not grow with the number of cells' sketches).
///
/// Exact only when [`hour_aligned`] holds for the window; the caller checks. Rows of UTC hours
/// outside chrono's range are dropped.
#[derive(Debug)]
pub struct HourAggregator {
    tz: Tz,
    slots: HashMap<i64, Option<Slot>>,
    cells: Vec<Cell>,
    errors: HashMap<ErrorKey, u64>,
    sessions: HashSet<SessionSlot>,
    latency_by_day: BTreeMap<NaiveDate, Dist>,
    ttft: Dist,
}

impl HourAggregator {
    /// An empty aggregator for timezone `tz`.
    pub fn new(tz: Tz) -> Self {
        HourAggregator {
            tz,
            slots: HashMap::new(),
            cells: Vec::new(),
            errors: HashMap::new(),
            sessions: HashSet::new(),
            latency_by_day: BTreeMap::new(),
            ttft: Dist::Sketch(QuantileSketch::new()),
        }
    }

    fn slot(&mut self, hour: i64) -> Option<Slot> {
        let tz = self.tz;
        *self
            .slots
            .entry(hour)
            .or_insert_with(|| Slot::of_utc_hour(hour, tz))
    }

    /// Adds one stored cell with its latency and TTFT sketches.
    pub fn cell(
        &mut self,
        hour: i64,
        developer: Option<Arc<str>>,
        model: Option<Arc<str>>,
        counts: Counters,
        latency: &QuantileSketch,
        ttft: &QuantileSketch,
    ) {
        let Some(slot) = self.slot(hour) else { return };
        self.cells.push(Cell {
            slot,
            developer,
            model,
            counts,
        });
        if !latency.is_empty() {
            let day = self
                .latency_by_day
                .entry(slot.day)
                .or_insert_with(|| Dist::Sketch(QuantileSketch::new()));
            merge_sketch(day, latency);
        }
        merge_sketch(&mut self.ttft, ttft);
    }

    /// Adds failed calls of one (status, class).
    pub fn error(&mut self, e: ErrorCount) {
        *self.errors.entry((e.status, e.class)).or_insert(0) += e.count;
    }

    /// Adds one stored (hour, developer, session).
    pub fn session(&mut self, s: HourSession) {
        if let Some(slot) = self.slot(s.hour) {
            self.sessions.insert(SessionSlot {
                slot,
                developer: s.developer,
                session: s.session,
            });
        }
    }

    /// The aggregate.
    pub fn finish(self) -> TraceAggregate {
        TraceAggregate::sorted(
            self.cells,
            self.errors,
            self.sessions,
            self.latency_by_day,
            self.ttft,
        )
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
                    session,
                });
            }
        }
        Self::sorted(
            cells.into_values().collect(),
            errors,
            sessions,
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

    fn sorted(
        mut cells: Vec<Cell>,
        errors: HashMap<ErrorKey, u64>,
        sessions: HashSet<SessionSlot>,
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
        let mut sessions: Vec<SessionSlot> = sessions.into_iter().collect();
        sessions.sort_by(|a, b| {
            (a.slot, &a.developer, &a.session).cmp(&(b.slot, &b.developer, &b.session))
        });
        TraceAggregate {
            cells,
            errors,
            sessions,
            latency_by_day,
            ttft,
        }
    }

    /// Counters of every cell added up.
    pub fn totals(&self) -> Counters {
        let mut t = Counters::default();
        for c in &self.cells {
            t.add(&c.counts);
        }
        t
    }

    /// Distinct sessions per local day.
    pub fn sessions_per_day(&self) -> HashMap<NaiveDate, u64> {
        let distinct: HashSet<(NaiveDate, &str)> = self
            .sessions
            .iter()
            .map(|s| (s.slot.day, &*s.session))
            .collect();
        let mut out = HashMap::new();
        for (day, _) in distinct {
            *out.entry(day).or_insert(0) += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn sketch(values: &[f64]) -> QuantileSketch {
        let mut s = QuantileSketch::new();
        for &v in values {
            s.add(v).unwrap();
        }
        s
    }

    #[test]
    fn sketch_percentiles_interpolate_like_numpy_within_alpha() {
        // Far-apart order statistics: interpolation matters, not just the rank.
        for values in [
            vec![100.0, 1_000.0],
            vec![5.0, 10.0, 40.0, 41.0, 900.0, 901.0, 5_000.0],
            (1..=97).map(|i| (i * i) as f64 * 3.7).collect::<Vec<_>>(),
            vec![250.0],
        ] {
            let exact = SortedSample::new(values.clone()).unwrap();
            let s = sketch(&values);
            for p in [0.0, 5.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 100.0] {
                let (e, got) = (
                    exact.percentile(p).unwrap(),
                    sketch_percentile(&s, p).unwrap(),
                );
                assert!(
                    (got - e).abs() <= PERCENTILE_RELATIVE_ERROR * e.abs() + 1e-12,
                    "p{p} of {values:?}: {got} vs {e}"
                );
            }
        }
        assert_eq!(sketch_percentile(&QuantileSketch::new(), 50.0), None);
        assert_eq!(sketch_percentile(&sketch(&[1.0]), 101.0), None);
    }

    #[test]
    fn counters_add_and_take_back() {
        let m = CallMeasures {
            tokens: 120,
            latency_ms: Some(1500.0),
            ttft_ms: Some(f64::NAN),
            accepted: Some(true),
            accepted_lines: Some(6),
            diff_ratio: Some(0.7),
            cost_usd: None,
            ..CallMeasures::default()
        };
        let c = Counters::of_call(&m);
        assert_eq!(
            (c.accepted_tokens, c.line_tokens, c.accepted_lines),
            (120, 120, 6)
        );
        assert_eq!((c.diff_high, c.cost_unknown, c.ttft_n), (1, 1, 0));
        assert_eq!(c.latency_buckets[1], 1);
        let raised = Counters::of_call(&CallMeasures {
            tokens: 300,
            cost_usd: Some(0.25),
            ..m
        });
        let d = Counters::delta(&c, &raised);
        assert_eq!((d.requests, d.tokens, d.accepted_tokens), (0, 180, 180));
        assert_eq!((d.cost_unknown, d.cost_usd), (-1, 0.25));
        let mut back = c;
        back.add(&d);
        assert_eq!(back, raised);
    }

    #[test]
    fn whole_hour_offsets_are_aligned_and_half_hours_are_not() {
        let (s, e) = (at("2025-10-20T22:00:00Z"), at("2025-10-31T23:00:00Z"));
        assert!(hour_aligned(chrono_tz::Europe::Berlin, s, e));
        assert!(hour_aligned(chrono_tz::UTC, s, e));
        let (s, e) = (at("2025-10-20T18:30:00Z"), at("2025-10-31T18:30:00Z"));
        assert!(!hour_aligned(chrono_tz::Asia::Kolkata, s, e));
        // Bounds on whole hours do not help when the offset is not whole.
        let (s, e) = (at("2025-10-20T18:00:00Z"), at("2025-10-21T18:00:00Z"));
        assert!(!hour_aligned(chrono_tz::Asia::Kolkata, s, e));
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
                session: "s".into(),
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
