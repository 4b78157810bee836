//! One batch's change to the rollups: aggregated in memory, then one upsert per key.

use std::collections::BTreeMap;

// Per-row hashing of names and keys is on the single writer thread: a fast hash, not SipHash.
use foldhash::HashMap;
use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

use crate::error::Result;
use crate::metrics::counters::{present, status_of, utc_hour, CallMeasures, Counters};
use crate::stats::sketch::QuantileSketch;

/// One stored call as the rollups see it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RollupRow<'a> {
    /// `owner/name`; calls without a repo are not rolled up.
    pub repo: Option<&'a str>,
    /// When the call started (µs since the epoch, UTC).
    pub timestamp_us: i64,
    /// Developer id.
    pub developer: Option<&'a str>,
    /// Session id.
    pub session: Option<&'a str>,
    /// Model name.
    pub model: Option<&'a str>,
    /// HTTP status.
    pub status: Option<i64>,
    /// Error class.
    pub error_class: Option<&'a str>,
    /// The measured values.
    pub measures: CallMeasures,
}

/// Interned names; id 0 is the empty string (a missing value).
#[derive(Default)]
struct Names {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, v: Option<&str>) -> u32 {
        let Some(v) = present(v) else { return 0 };
        if let Some(&id) = self.ids.get(v) {
            return id;
        }
        self.names.push(v.to_string());
        let id = self.names.len() as u32;
        self.ids.insert(v.to_string(), id);
        id
    }

    fn name(&self, id: u32) -> &str {
        id.checked_sub(1)
            .and_then(|i| self.names.get(i as usize))
            .map_or("", String::as_str)
    }
}

/// (repo, hour, developer, model)
type CellKey = (u32, i64, u32, u32);
/// (repo, hour, developer, model, status, error class)
type ErrorKey = (u32, i64, u32, u32, i64, u32);
/// (repo, UTC day, developer, session)
type SessionKey = (u32, i64, u32, u32);
/// (repo, UTC day, developer, session, model)
type SessionModelKey = (u32, i64, u32, u32, u32);

#[derive(Default)]
struct CellDelta {
    counts: Counters,
    /// New latencies; sketched one cell at a time when written, so that a batch never holds
    /// thousands of sketches at once.
    latency: Vec<f64>,
    /// New times to first token.
    ttft: Vec<f64>,
}

/// The counters a session-day (or one model's calls in it) keeps: a fifth of [`Counters`]'
/// size, as a delta holds tens of thousands of them while writes are kept open.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(in crate::store) struct SessionCounts {
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
}

impl SessionCounts {
    fn add(&mut self, c: &Counters) {
        self.requests += c.requests;
        self.tokens += c.tokens;
        self.cost_usd += c.cost_usd;
        self.cost_unknown += c.cost_unknown;
        self.errors += c.errors;
    }
}

/// Counters of some calls with the instants of the first and last.
struct Tally {
    counts: SessionCounts,
    first_us: i64,
    last_us: i64,
}

impl Tally {
    fn new(ts: i64) -> Self {
        Self {
            counts: SessionCounts::default(),
            first_us: ts,
            last_us: ts,
        }
    }

    fn add(&mut self, counts: &Counters, ts: i64) {
        self.counts.add(counts);
        self.first_us = self.first_us.min(ts);
        self.last_us = self.last_us.max(ts);
    }
}

struct SessionDelta {
    tally: Tally,
    /// UTC hours of the day with a call (bit h for hour h).
    hours: u32,
    /// Per model of the calls (name id): the hours with a call of that model.
    models: Vec<(u32, u32)>,
}

/// A cell's change (`rollup_cells`): counters to add and the batch's sketches to merge.
pub(in crate::store) struct CellChange {
    pub repo: String,
    pub hour: i64,
    pub developer: String,
    pub model: String,
    pub counts: Counters,
    pub latency: Option<Vec<u8>>,
    pub ttft: Option<Vec<u8>>,
}

/// Failed calls to add to one `rollup_errors` row.
pub(in crate::store) struct ErrorChange {
    pub repo: String,
    pub hour: i64,
    pub developer: String,
    pub model: String,
    pub status: i64,
    pub class: String,
    pub errors: i64,
}

/// A session-day's change (`rollup_sessions`): hours and models to unite, counters to add.
pub(in crate::store) struct SessionChange {
    pub repo: String,
    pub day: i64,
    pub developer: String,
    pub session: String,
    pub hours: u32,
    pub models: String,
    pub counts: SessionCounts,
    pub first_us: i64,
    pub last_us: i64,
}

/// A session-day-model's change (`rollup_session_models`).
pub(in crate::store) struct SessionModelChange {
    pub repo: String,
    pub day: i64,
    pub developer: String,
    pub session: String,
    pub model: String,
    pub counts: SessionCounts,
    pub first_us: i64,
    pub last_us: i64,
}

/// A batch's rollup changes as rows, for any backend to write.
pub(in crate::store) struct Changes {
    pub cells: Vec<CellChange>,
    pub errors: Vec<ErrorChange>,
    pub sessions: Vec<SessionChange>,
    pub session_models: Vec<SessionModelChange>,
}

/// The change a batch of writes makes to the rollups, aggregated per key.
#[derive(Default)]
pub struct RollupDelta {
    /// Calls added or raised.
    rows: u64,
    names: Names,
    cells: HashMap<CellKey, CellDelta>,
    errors: HashMap<ErrorKey, i64>,
    sessions: HashMap<SessionKey, SessionDelta>,
    /// The calls of one model in one session-day.
    session_models: HashMap<SessionModelKey, Tally>,
}

/// The stored sketch of `values`; `None` when there are none.
fn sketch_bytes(values: &[f64]) -> Option<Vec<u8>> {
    if values.is_empty() {
        return None;
    }
    let mut s = QuantileSketch::new();
    for &v in values {
        // Only finite values are collected, which a sketch always accepts.
        let _ = s.add(v);
    }
    Some(s.to_bytes())
}

impl RollupDelta {
    /// An empty delta.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls added or raised so far (a measure of the memory the delta holds).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// True when nothing would be written.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
            && self.errors.is_empty()
            && self.sessions.is_empty()
            && self.session_models.is_empty()
    }

    /// The cell key of a stored call; `None` for a call without a repo (not rolled up).
    fn cell_key(&mut self, row: &RollupRow) -> Option<CellKey> {
        let repo = self.names.id(Some(present(row.repo)?));
        Some((
            repo,
            utc_hour(row.timestamp_us),
            self.names.id(row.developer),
            self.names.id(row.model),
        ))
    }

    /// Adds a newly stored call.
    pub fn add(&mut self, row: &RollupRow) {
        self.rows += 1;
        let Some((repo, hour, dev, model)) = self.cell_key(row) else {
            return;
        };
        let counts = Counters::of_call(&row.measures);
        let cell = self.cells.entry((repo, hour, dev, model)).or_default();
        cell.counts.add(&counts);
        cell.latency.extend(row.measures.latency());
        cell.ttft.extend(row.measures.ttft());
        if row.measures.is_error {
            let status = status_of(row.status).unwrap_or(0);
            let class = self.names.id(row.error_class);
            *self
                .errors
                .entry((repo, hour, dev, model, status, class))
                .or_insert(0) += 1;
        }
        self.session(repo, hour, dev, model, row, &counts);
    }

    /// Records that a stored call was raised to a later streaming copy `r`: its tokens,
    /// completion tokens and cost; every other measure stays the stored one.
    pub fn raise_to_copy(&mut self, stored: &RollupRow, r: &crate::record::TraceRecord) {
        self.raise(
            stored,
            &CallMeasures {
                tokens: r.tokens_in.saturating_add(r.tokens_out),
                output_tokens: r.tokens_out,
                cost_usd: r.cost_usd,
                ..stored.measures
            },
        );
    }

    /// Records that a stored call's measures changed from `stored.measures` to `new` (a Claude
    /// Code row raised to a later copy's counts); its key fields stay those of `stored`.
    pub fn raise(&mut self, stored: &RollupRow, new: &CallMeasures) {
        self.rows += 1;
        let Some((repo, hour, dev, model)) = self.cell_key(stored) else {
            return;
        };
        let d = Counters::delta(
            &Counters::of_call(&stored.measures),
            &Counters::of_call(new),
        );
        self.cells
            .entry((repo, hour, dev, model))
            .or_default()
            .counts
            .add(&d);
        // Error status and class never change on a raise, so `rollup_errors` stays.
        self.session(repo, hour, dev, model, stored, &d);
    }

    fn session(
        &mut self,
        repo: u32,
        hour: i64,
        dev: u32,
        model: u32,
        row: &RollupRow,
        counts: &Counters,
    ) {
        let Some(session) = present(row.session) else {
            return;
        };
        let session = self.names.id(Some(session));
        let ts = row.timestamp_us;
        let bit = 1u32 << hour.rem_euclid(24);
        let day = hour.div_euclid(24);
        self.session_models
            .entry((repo, day, dev, session, model))
            .or_insert_with(|| Tally::new(ts))
            .add(counts, ts);
        let s = self
            .sessions
            .entry((repo, day, dev, session))
            .or_insert_with(|| SessionDelta {
                tally: Tally::new(ts),
                hours: 0,
                models: Vec::new(),
            });
        s.tally.add(counts, ts);
        s.hours |= bit;
        match s.models.iter_mut().find(|(m, _)| *m == model) {
            Some((_, mask)) => *mask |= bit,
            None => s.models.push((model, bit)),
        }
    }

    /// The delta as rows to write, each table's in key order (names compared as text), so
    /// that each table is written front to back.
    pub(in crate::store) fn into_changes(self) -> Changes {
        let n = &self.names;
        let mut order: Vec<u32> = (0..=n.names.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| n.name(a).cmp(n.name(b)));
        let mut rank = vec![0u32; order.len()];
        for (r, &id) in order.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        let rk = |id: u32| rank.get(id as usize).copied().unwrap_or(0);
        let s = |id: u32| n.name(id).to_string();
        let mut cells: Vec<(CellKey, CellDelta)> = self.cells.into_iter().collect();
        cells.sort_unstable_by_key(|(k, _)| (rk(k.0), k.1, rk(k.2), rk(k.3)));
        let mut errors: Vec<(ErrorKey, i64)> = self.errors.into_iter().collect();
        errors.sort_unstable_by_key(|(k, _)| (rk(k.0), k.1, rk(k.2), rk(k.3), k.4, rk(k.5)));
        let mut sessions: Vec<(SessionKey, SessionDelta)> = self.sessions.into_iter().collect();
        sessions.sort_unstable_by_key(|(k, _)| (rk(k.0), k.1, rk(k.2), rk(k.3)));
        let mut models: Vec<(SessionModelKey, Tally)> = self.session_models.into_iter().collect();
        models.sort_unstable_by_key(|(k, _)| (rk(k.0), k.1, rk(k.2), rk(k.3), rk(k.4)));
        Changes {
            cells: cells
                .into_iter()
                .map(|((repo, hour, dev, model), d)| CellChange {
                    repo: s(repo),
                    hour,
                    developer: s(dev),
                    model: s(model),
                    latency: sketch_bytes(&d.latency),
                    ttft: sketch_bytes(&d.ttft),
                    counts: d.counts,
                })
                .collect(),
            errors: errors
                .into_iter()
                .map(
                    |((repo, hour, dev, model, status, class), errors)| ErrorChange {
                        repo: s(repo),
                        hour,
                        developer: s(dev),
                        model: s(model),
                        status,
                        class: s(class),
                        errors,
                    },
                )
                .collect(),
            sessions: sessions
                .into_iter()
                .map(|((repo, day, dev, session), d)| SessionChange {
                    repo: s(repo),
                    day,
                    developer: s(dev),
                    session: s(session),
                    hours: d.hours,
                    models: models_text(d.models.iter().map(|&(m, mask)| (n.name(m), mask))),
                    counts: d.tally.counts,
                    first_us: d.tally.first_us,
                    last_us: d.tally.last_us,
                })
                .collect(),
            session_models: models
                .into_iter()
                .map(|((repo, day, dev, session, model), t)| SessionModelChange {
                    repo: s(repo),
                    day,
                    developer: s(dev),
                    session: s(session),
                    model: s(model),
                    counts: t.counts,
                    first_us: t.first_us,
                    last_us: t.last_us,
                })
                .collect(),
        }
    }

    /// Writes the delta with one upsert per key; a stored sketch is merged with the batch's
    /// inside the upsert (see [`register_functions`]). Call inside the transaction that wrote
    /// the rows, on a connection of [`crate::store::Store`].
    pub fn apply(self, conn: &Connection) -> Result<()> {
        super::write::write(self.into_changes(), conn)
    }
}

/// Name of the SQL function that merges two stored sketches (NULL is an empty sketch).
pub const SKETCH_MERGE: &str = "prodlens_sketch_merge";

/// Name of the SQL function that unites two stored model hour masks (see [`models_text`]).
pub const MODELS_UNION: &str = "prodlens_models_union";

/// The stored form of the models of a session-day: a JSON object from model name (`""` for
/// calls without a model) to the bit mask of UTC hours with a call of that model, keys in byte
/// order. Masks of one name are OR-ed.
pub fn models_text<'a>(models: impl IntoIterator<Item = (&'a str, u32)>) -> String {
    let mut map: BTreeMap<&str, u32> = BTreeMap::new();
    for (m, mask) in models {
        *map.entry(m).or_insert(0) |= mask;
    }
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
}

/// Reads a stored model mask object (see [`models_text`]).
pub fn models_of(text: &str) -> std::result::Result<BTreeMap<String, u32>, serde_json::Error> {
    serde_json::from_str(text)
}

/// The stored union of two stored model hour masks (see [`models_text`]); `a` when equal.
pub(in crate::store) fn union_models(
    a: String,
    b: &str,
) -> std::result::Result<String, serde_json::Error> {
    if a == b {
        return Ok(a);
    }
    let (a, b) = (models_of(&a)?, models_of(b)?);
    Ok(models_text(
        a.iter().chain(&b).map(|(m, &mask)| (m.as_str(), mask)),
    ))
}

/// The stored union of two stored sketches (None is an empty sketch).
pub(in crate::store) fn merge_sketches(
    a: Option<&[u8]>,
    b: Option<&[u8]>,
) -> std::result::Result<Option<Vec<u8>>, crate::stats::StatsError> {
    match (a, b) {
        (None, None) => Ok(None),
        (Some(x), None) | (None, Some(x)) => Ok(Some(x.to_vec())),
        (Some(a), Some(b)) => {
            let mut a = QuantileSketch::from_bytes(a)?;
            let b = QuantileSketch::from_bytes(b)?;
            a.merge(&b)?;
            Ok(Some(a.to_bytes()))
        }
    }
}

/// Registers [`SKETCH_MERGE`] and [`MODELS_UNION`] on `conn`: `prodlens_sketch_merge(a, b)` is
/// the stored form of the union of two sketches, `prodlens_models_union(a, b)` of two model
/// hour masks; corrupt input is an error naming the repair.
pub fn register_functions(conn: &Connection) -> Result<()> {
    conn.create_scalar_function(
        MODELS_UNION,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let a: String = ctx.get(0)?;
            let b: String = ctx.get(1)?;
            union_models(a, &b).map_err(user_error)
        },
    )?;
    conn.create_scalar_function(
        SKETCH_MERGE,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let a = ctx.get_raw(0).as_blob_or_null().map_err(user_error)?;
            let b = ctx.get_raw(1).as_blob_or_null().map_err(user_error)?;
            merge_sketches(a, b).map_err(user_error)
        },
    )?;
    Ok(())
}

fn user_error(e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(
        format!("a stored rollup value is unreadable ({e}); run `prod-lens rebuild-rollups`")
            .into(),
    )
}

/// Counters from `$row` starting at column `$at`, in [`super::CELL_COUNTERS`] order: `$get` is
/// the row type's fallible getter (`get` for SQLite, `try_get` for PostgreSQL) and `$err` its
/// error type; evaluates to `Result<Counters, $err>`.
macro_rules! counters_from_row {
    ($row:expr, $at:expr, $get:ident, $err:ty) => {
        (|| -> std::result::Result<$crate::metrics::counters::Counters, $err> {
            let (row, at) = ($row, $at);
            let mut latency_buckets = [0i64; 7];
            for (i, b) in latency_buckets.iter_mut().enumerate() {
                *b = row.$get(at + 13 + i)?;
            }
            Ok($crate::metrics::counters::Counters {
                requests: row.$get(at)?,
                tokens: row.$get(at + 1)?,
                cost_usd: row.$get(at + 2)?,
                cost_unknown: row.$get(at + 3)?,
                errors: row.$get(at + 4)?,
                signal: row.$get(at + 5)?,
                accepted: row.$get(at + 6)?,
                accepted_tokens: row.$get(at + 7)?,
                accepted_lines: row.$get(at + 8)?,
                line_tokens: row.$get(at + 9)?,
                diff_n: row.$get(at + 10)?,
                diff_sum: row.$get(at + 11)?,
                diff_high: row.$get(at + 12)?,
                latency_buckets,
                ttft_n: row.$get(at + 20)?,
                line_calls: row.$get(at + 21)?,
                line_output_tokens: row.$get(at + 22)?,
            })
        })()
    };
}
pub(in crate::store) use counters_from_row;
