//! Hourly rollups of the traces table, kept in the same transaction as the rows they describe.
//!
//! Four tables (schema in `migrations`, versions 5, 7 and 8), keyed by repo and UTC hour (hours since
//! the Unix epoch; any whole-hour timezone re-buckets them exactly):
//!
//! - `rollup_cells` (repo, hour, developer, model): additive counters of every trace-side
//!   indicator and DDSketch blobs of latency and time to first token;
//! - `rollup_errors` (repo, hour, developer, model, status, error_class): failed calls;
//! - `rollup_sessions` (repo, day, developer, session), `day` = UTC days since the epoch: the
//!   session's hours with a call (`hours`, bit h = UTC hour h of the day), the same per model
//!   (`models`, a JSON object name → hour bits), and its calls, tokens, known cost, unknown-cost
//!   calls, errors and first/last instant (µs) that day. A session-hour table folded into one row
//!   per session-day: exact distinct sessions per day, per developer and per (developer, session,
//!   local hour) under any developer / model filter, seven times fewer rows than one per hour on
//!   the benchmark data, and session lists (indexed by `repo, session`);
//! - `rollup_session_models` (repo, day, developer, session, model), schema version 7: the same
//!   counters and first/last instant per model, for session lists narrowed to one model.
//!
//! A missing developer, model, session or error class is stored as `''` and a missing status as
//! 0 (NULLs never conflict in a unique key); rows without a repo are not rolled up (no report
//! reads them). Writers aggregate a batch in memory ([`RollupDelta`]) and upsert once per key;
//! [`rebuild`] recomputes everything from `traces`.

mod delta;
mod read;
mod rebuild;
mod sketches;
mod write;

pub(in crate::store) use delta::{counters_from_row, merge_sketches, union_models, Changes};
pub use delta::{
    models_of, models_text, register_functions, RollupDelta, RollupRow, MODELS_UNION, SKETCH_MERGE,
};
pub(in crate::store) use read::{session_day, session_hours, Interner};
pub use rebuild::{rebuild, RebuildStats};
pub(crate) use rebuild::{rollup_row, ROW_COLUMNS};
pub(in crate::store) use sketches::merged_while;

/// The rollup tables, in the order they are written.
pub const TABLES: [&str; 4] = [
    "rollup_cells",
    "rollup_errors",
    "rollup_sessions",
    "rollup_session_models",
];

/// Schema of `rollup_session_models` (migration 7): the calls of each model in each session-day,
/// for session lists narrowed to one model.
pub(crate) const SESSION_MODELS_SCHEMA: &str = r#"
    CREATE TABLE rollup_session_models (
        repo          TEXT    NOT NULL,
        day           INTEGER NOT NULL,
        developer     TEXT    NOT NULL,
        session       TEXT    NOT NULL,
        model         TEXT    NOT NULL,
        requests      INTEGER NOT NULL,
        tokens        INTEGER NOT NULL,
        cost_usd      REAL    NOT NULL,
        cost_unknown  INTEGER NOT NULL,
        errors        INTEGER NOT NULL,
        first_us      INTEGER NOT NULL,
        last_us       INTEGER NOT NULL,
        PRIMARY KEY (repo, day, developer, session, model)
    ) WITHOUT ROWID;
    CREATE INDEX rollup_session_models_model ON rollup_session_models(model, day);
"#;

/// Columns migration 8 adds to `rollup_cells`: the accepted calls reporting lines and their
/// completion tokens (token efficiency per accepted line counts output tokens only).
pub(crate) const LINE_COUNTERS_SCHEMA: &str = r#"
    ALTER TABLE rollup_cells ADD COLUMN line_calls         INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_cells ADD COLUMN line_output_tokens INTEGER NOT NULL DEFAULT 0;
"#;

/// Schema of the rollup tables (migration 5).
pub(crate) const SCHEMA: &str = r#"
    CREATE TABLE rollup_cells (
        repo             TEXT    NOT NULL,
        hour             INTEGER NOT NULL,
        developer        TEXT    NOT NULL,
        model            TEXT    NOT NULL,
        requests         INTEGER NOT NULL,
        tokens           INTEGER NOT NULL,
        cost_usd         REAL    NOT NULL,
        cost_unknown     INTEGER NOT NULL,
        errors           INTEGER NOT NULL,
        signal           INTEGER NOT NULL,
        accepted         INTEGER NOT NULL,
        accepted_tokens  INTEGER NOT NULL,
        accepted_lines   INTEGER NOT NULL,
        line_tokens      INTEGER NOT NULL,
        diff_n           INTEGER NOT NULL,
        diff_sum         REAL    NOT NULL,
        diff_high        INTEGER NOT NULL,
        latency_lt_1s    INTEGER NOT NULL,
        latency_1_2s     INTEGER NOT NULL,
        latency_2_5s     INTEGER NOT NULL,
        latency_5_10s    INTEGER NOT NULL,
        latency_10_30s   INTEGER NOT NULL,
        latency_30_60s   INTEGER NOT NULL,
        latency_ge_60s   INTEGER NOT NULL,
        ttft_n           INTEGER NOT NULL,
        latency_sketch   BLOB,
        ttft_sketch      BLOB,
        PRIMARY KEY (repo, hour, developer, model)
    ) WITHOUT ROWID;

    CREATE TABLE rollup_errors (
        repo         TEXT    NOT NULL,
        hour         INTEGER NOT NULL,
        developer    TEXT    NOT NULL,
        model        TEXT    NOT NULL,
        status       INTEGER NOT NULL,
        error_class  TEXT    NOT NULL,
        errors       INTEGER NOT NULL,
        PRIMARY KEY (repo, hour, developer, model, status, error_class)
    ) WITHOUT ROWID;

    CREATE TABLE rollup_sessions (
        repo          TEXT    NOT NULL,
        day           INTEGER NOT NULL,
        developer     TEXT    NOT NULL,
        session       TEXT    NOT NULL,
        hours         INTEGER NOT NULL,
        models        TEXT    NOT NULL,
        requests      INTEGER NOT NULL,
        tokens        INTEGER NOT NULL,
        cost_usd      REAL    NOT NULL,
        cost_unknown  INTEGER NOT NULL,
        errors        INTEGER NOT NULL,
        first_us      INTEGER NOT NULL,
        last_us       INTEGER NOT NULL,
        PRIMARY KEY (repo, day, developer, session)
    ) WITHOUT ROWID;
    CREATE INDEX rollup_sessions_session ON rollup_sessions(repo, session, day);
"#;

/// The counter columns of `rollup_cells`, in [`crate::metrics::aggregate::Counters`] order.
pub(crate) const CELL_COUNTERS: [&str; 23] = [
    "requests",
    "tokens",
    "cost_usd",
    "cost_unknown",
    "errors",
    "signal",
    "accepted",
    "accepted_tokens",
    "accepted_lines",
    "line_tokens",
    "diff_n",
    "diff_sum",
    "diff_high",
    "latency_lt_1s",
    "latency_1_2s",
    "latency_2_5s",
    "latency_5_10s",
    "latency_10_30s",
    "latency_30_60s",
    "latency_ge_60s",
    "ttft_n",
    "line_calls",
    "line_output_tokens",
];
