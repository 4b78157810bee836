//! The Parquet lake: every stored LLM call, also as a Hive-partitioned Parquet dataset
//! (`<lake>/repo=<owner>__<name>/date=<YYYY-MM-DD>/part-<unique>.parquet`) that DuckDB, pyarrow,
//! Spark and friends read as is. The schema is in [`schema`] and the README.
//!
//! # Why concurrent ingests cannot lose or duplicate rows
//!
//! * **Newness is decided once, by SQLite.** Each ingest inserts a batch in one SQLite transaction
//!   (`ON CONFLICT(dedupe_key) DO NOTHING`) and hands the lake only the rows that transaction
//!   inserted. Two processes can never both insert the same key, so no row is given to two lake
//!   writers, and no lock is needed to decide what to write.
//! * **Files are never shared.** Each writer creates new files under names unique to it (time,
//!   pid, counter, hash) in a hidden temporary name, fsyncs, and renames them into place. Nobody
//!   reads, appends to or rewrites an existing file during ingest, so there is nothing to race on,
//!   and readers see whole files or nothing.
//! * **The gap between SQLite and the lake is closed by recovery.** A crash after SQLite committed
//!   a batch but before its rows reached a visible file loses them from the lake only. To notice,
//!   an ingest leaves a marker file for as long as it may hold such rows; to act, recovery compares
//!   the lake with SQLite key by key and writes what is missing ([`repair`]). The marker of a
//!   *running* ingest must not trigger that (its rows are still on their way), so ingests hold an
//!   OS file lock ([`lock`]) *shared* for their whole run, and recovery runs only under the
//!   *exclusive* lock: when no ingest is running. An ingest tries it, without waiting, when it
//!   starts and when it finishes, so the next ingest after a crash (or `lake repair`) converges the
//!   lake to exactly SQLite's rows. Shared locks never block each other, so ingests do not
//!   serialise on the lake; only `lake compact`/`lake repair` wait for them.
//!
//! One lake mirrors one database. Rows ingested with `--no-parquet` stay out of the lake until
//! `lake repair` writes them.

pub mod check;
pub mod compact;
pub mod files;
pub mod lock;
pub mod partition;
pub mod prune;
pub mod repair;
pub mod schema;
pub mod sink;
pub mod writer;

pub use sink::{LakeOptions, LakeReport, LakeSink};
pub use writer::BufferLimits;

use crate::error::Result;
use crate::store::seam::TraceRows;
use std::path::{Path, PathBuf};

/// The default lake folder for a database file: `parquet/` next to it.
pub fn default_dir(db: &Path) -> PathBuf {
    db.parent().unwrap_or(Path::new(".")).join("parquet")
}

/// `lake repair`: waits for running ingests, then resolves interrupted compactions, removes
/// abandoned temporary files and writes every SQLite row the lake lacks (e.g. rows ingested with
/// `--no-parquet`, or of a crashed ingest).
pub fn repair(root: &Path, store: &dyn TraceRows) -> Result<repair::RecoveryReport> {
    let lock = lock::ExclusiveLock::acquire(root)?;
    repair::recover(root, Some(store), &lock, BufferLimits::default(), true)
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::record::{CostSource, SourceFormat, TraceRecord};
    use chrono::{TimeZone, Utc};

    /// A plausible record with dedupe key `[key; 16]`.
    pub(crate) fn record(key: u8, repo: Option<&str>) -> TraceRecord {
        let ts = Utc.with_ymd_and_hms(2025, 10, 12, 19, 0, 0).unwrap();
        TraceRecord {
            dedupe_key: [key; 16],
            call_id: Some(format!("call-{key}")),
            response_id: None,
            source_format: SourceFormat::LitellmPayload,
            timestamp: ts,
            event_date: ts.date_naive(),
            repo_slug: repo.map(str::to_string),
            developer_id: Some("dev-a".into()),
            session_id: None,
            trace_id: None,
            team_id: None,
            key_alias: None,
            model: Some("gpt-4o".into()),
            provider: None,
            call_type: None,
            tokens_in: 100,
            tokens_out: 20,
            cache_read_tokens: 5,
            cache_creation_tokens: 0,
            latency_ms: Some(12.5),
            ttft_ms: None,
            status_code: Some(200),
            is_error: false,
            error_class: None,
            accepted: None,
            diff_ratio: None,
            accepted_lines: None,
            cache_hit: Some(false),
            reported_cost: None,
            cost_usd: Some(0.25),
            cost_source: CostSource::Estimated,
            cwd: None,
            git_branch: None,
            is_sidechain: None,
            client_version: None,
        }
    }
}
