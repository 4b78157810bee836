//! The PostgreSQL store, for a team: many machines write to and read from one server.
//!
//! It implements the store traits of [`super::seam`] with the SQLite store's semantics. One
//! client per store, behind a mutex (the traits' readers take `&self`). Every write transaction
//! ends with `NOTIFY prodlens_changes`; the store `LISTEN`s on its own connection, so
//! [`ChangeDetector::change_counter`] counts commits by any writer without polling a table.
//! The schema is versioned in `prodlens_schema` and migrated under a transaction-scoped advisory
//! lock, so several processes starting at once migrate it once.
//!
//! It holds every table of the SQLite store: calls with their rollups, runs, source checkpoints,
//! GitHub state (rows, rework links, HTTP cache, sync checkpoints), identity links, and reads
//! them back for the report, PR attribution, sessions lists, status and the lake.

mod attribution;
mod copy;
mod github;
mod identities;
mod prune;
mod rebuild;
mod report;
mod rollups;
mod schema;
mod sessions;
mod status;
mod teams;
mod writer;

use super::seam::*;
use super::source_state::Checkpoint;
use crate::error::{Error, Result, StoreError};
use crate::ingest::files::FileState;
use crate::pg::PgTarget;
use crate::record::TraceRecord;
use crate::store::runs::{RunCounts, RunRow};
use crate::store::trace_rows::{parse_event_date, record_from_row, TraceGroup, RECORD_COLUMNS};
use chrono::{NaiveDate, Utc};
use postgres::fallible_iterator::FallibleIterator;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The advisory lock key under which migrations run ("prodlens" in ASCII).
const MIGRATION_LOCK: i64 = 0x7072_6f64_6c65_6e73;

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        Error::Store(StoreError::new(e))
    }
}

/// The schema version this build writes to a PostgreSQL store.
pub const SCHEMA_VERSION: i64 = schema::MIGRATIONS.len() as i64;

/// A ProdLens store in a PostgreSQL database.
pub struct PgStore {
    client: Mutex<postgres::Client>,
    name: String,
    /// Notifications of commits seen so far.
    changes: AtomicI64,
}

impl PgStore {
    /// Connects (TLS as the target says), brings the schema up to date and listens for commits.
    pub fn open(target: &PgTarget) -> Result<Self> {
        let mut client = target.connect()?;
        migrate(&mut client)?;
        client.batch_execute("LISTEN prodlens_changes")?;
        Ok(PgStore {
            client: Mutex::new(client),
            name: target.name().to_string(),
            changes: AtomicI64::new(0),
        })
    }

    /// The server's identity without the password.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn client(&self) -> MutexGuard<'_, postgres::Client> {
        // A panic while holding the client leaves nothing half-written: transactions roll back.
        self.client.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of stored trace rows.
    pub fn trace_count(&self) -> Result<i64> {
        Ok(self
            .client()
            .query_one("SELECT COUNT(*) FROM traces", &[])?
            .get(0))
    }
}

/// Applies the pending migrations in one transaction, under the migration lock.
fn migrate(client: &mut postgres::Client) -> Result<()> {
    // A store at this build's version needs nothing written (so a role that may only read
    // opens it too); one that is newer is refused.
    let exists: bool = client
        .query_one("SELECT to_regclass('prodlens_schema') IS NOT NULL", &[])?
        .try_get(0)?;
    if exists {
        let version: Option<i64> = client
            .query_opt("SELECT version FROM prodlens_schema", &[])?
            .map(|r| r.try_get(0))
            .transpose()?;
        if version == Some(SCHEMA_VERSION) {
            return Ok(());
        }
    }
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS prodlens_schema (version BIGINT NOT NULL)")?;
    let found: Option<i64> = tx
        .query_opt("SELECT version FROM prodlens_schema", &[])?
        .map(|r| r.get(0));
    let version = match found {
        Some(v) => v,
        None => {
            tx.execute("INSERT INTO prodlens_schema (version) VALUES (0)", &[])?;
            0
        }
    };
    let supported = SCHEMA_VERSION;
    if version > supported {
        return Err(Error::SchemaTooNew {
            found: version,
            supported,
        });
    }
    if version == supported {
        return Ok(()); // another process migrated it meanwhile
    }
    for m in &schema::MIGRATIONS[version as usize..] {
        tx.batch_execute(m)?;
    }
    tx.execute("UPDATE prodlens_schema SET version = $1", &[&supported])?;
    tx.commit()?;
    Ok(())
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl RunLog for PgStore {
    fn start_run(&self, job: &str, source: &str) -> Result<i64> {
        let mut c = self.client();
        let id = c
            .query_one(
                "INSERT INTO etl_runs (job, source, started_at, outcome)
                 VALUES ($1, $2, $3, 'running') RETURNING id",
                &[&job, &source, &now()],
            )?
            .get(0);
        c.batch_execute("NOTIFY prodlens_changes")?;
        Ok(id)
    }

    fn finish_run(
        &self,
        id: i64,
        counts: &RunCounts,
        outcome: &str,
        details: Option<&str>,
    ) -> Result<()> {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let mut c = self.client();
        c.execute(
            "UPDATE etl_runs SET finished_at = $2, outcome = $3, read = $4, inserted = $5,
                duplicates = $6, dead_lettered = $7, skipped = $8, cost_unknown = $9,
                details = $10
             WHERE id = $1",
            &[
                &id,
                &now(),
                &outcome,
                &n(counts.read),
                &n(counts.inserted),
                &n(counts.duplicates),
                &n(counts.dead_lettered),
                &n(counts.skipped),
                &n(counts.cost_unknown),
                &details,
            ],
        )?;
        c.batch_execute("NOTIFY prodlens_changes")?;
        Ok(())
    }

    fn recent_runs(&self, limit: usize) -> Result<Vec<RunRow>> {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        let rows = self.client().query(
            "SELECT id, job, source, started_at, finished_at, outcome, read, inserted,
                    duplicates, dead_lettered, skipped, cost_unknown
             FROM etl_runs ORDER BY id DESC LIMIT $1",
            &[&i64::try_from(limit).unwrap_or(i64::MAX)],
        )?;
        Ok(rows
            .iter()
            .map(|r| RunRow {
                id: r.get(0),
                job: r.get(1),
                source: r.get(2),
                started_at: r.get(3),
                finished_at: r.get(4),
                outcome: r.get(5),
                counts: RunCounts {
                    read: n(r.get(6)),
                    inserted: n(r.get(7)),
                    duplicates: n(r.get(8)),
                    dead_lettered: n(r.get(9)),
                    skipped: n(r.get(10)),
                    cost_unknown: n(r.get(11)),
                },
            })
            .collect())
    }

    fn dead_letter_total(&self) -> Result<i64> {
        Ok(self
            .client()
            .query_one(
                "SELECT COALESCE(SUM(dead_lettered), 0)::BIGINT FROM etl_runs",
                &[],
            )?
            .get(0))
    }
}

impl SourceState for PgStore {
    fn input_files(&self) -> Result<Vec<FileState>> {
        let rows = self.client().query(
            r#"SELECT path, size, mtime_ns, head_hash, tail_hash, "offset", lines, resumable
               FROM input_files"#,
            &[],
        )?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(rows
            .iter()
            .map(|r| FileState {
                path: r.get(0),
                size: n(r.get(1)),
                mtime_ns: r.get(2),
                head_hash: r.get(3),
                tail_hash: r.get(4),
                offset: n(r.get(5)),
                lines: n(r.get(6)),
                resumable: r.get(7),
            })
            .collect())
    }

    fn save_input_files(&mut self, files: &[FileState]) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let mut c = self.client();
        let mut tx = c.transaction()?;
        let stmt = tx.prepare(
            r#"INSERT INTO input_files
                 (path, size, mtime_ns, head_hash, tail_hash, "offset", lines, resumable,
                  updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (path) DO UPDATE SET size = excluded.size,
                 mtime_ns = excluded.mtime_ns, head_hash = excluded.head_hash,
                 tail_hash = excluded.tail_hash, "offset" = excluded."offset",
                 lines = excluded.lines, resumable = excluded.resumable,
                 updated_at = excluded.updated_at"#,
        )?;
        // In path order, so that writers saving the same files lock them in one order.
        let mut sorted: Vec<&FileState> = files.iter().collect();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        for f in sorted {
            tx.execute(
                &stmt,
                &[
                    &f.path,
                    &n(f.size),
                    &f.mtime_ns,
                    &f.head_hash,
                    &f.tail_hash,
                    &n(f.offset),
                    &n(f.lines),
                    &f.resumable,
                    &now,
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn litellm_checkpoint(&self, source: &str) -> Result<Option<Checkpoint>> {
        Ok(self
            .client()
            .query_opt(
                "SELECT start_time, request_id FROM litellm_checkpoints WHERE source = $1",
                &[&source],
            )?
            .map(|r| Checkpoint {
                start_time: r.get(0),
                request_id: r.get(1),
            }))
    }

    fn set_litellm_checkpoint(&self, source: &str, c: &Checkpoint) -> Result<()> {
        self.client().execute(
            "INSERT INTO litellm_checkpoints (source, start_time, request_id, updated_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (source) DO UPDATE SET start_time = excluded.start_time,
                 request_id = excluded.request_id, updated_at = excluded.updated_at",
            &[&source, &c.start_time, &c.request_id, &now()],
        )?;
        Ok(())
    }
}

impl ChangeDetector for PgStore {
    /// Counts the `prodlens_changes` notifications received so far: every commit of a writer.
    fn change_counter(&self) -> Result<i64> {
        let mut c = self.client();
        // A round trip makes the client read what the server sent meanwhile, notifications
        // included; the non-blocking iterator alone only sees what was read already.
        c.batch_execute("SELECT 1")?;
        let mut seen = 0;
        let mut notes = c.notifications();
        let mut it = notes.iter();
        while let Some(n) = it.next()? {
            if n.channel() == "prodlens_changes" {
                seen += 1;
            }
        }
        Ok(self.changes.fetch_add(seen, Ordering::Relaxed) + seen)
    }
}

/// The trace columns in the order the writer copies them.
const COLUMNS: &str = "dedupe_key, call_id, response_id, source_format, timestamp_us,
    event_date, repo_slug, developer_id, session_id, trace_id, team_id, key_alias, model,
    provider, call_type, tokens_in, tokens_out, cache_read_tokens, cache_creation_tokens,
    latency_ms, ttft_ms, status_code, is_error, error_class, accepted, diff_ratio,
    accepted_lines, cache_hit, cost_usd, cost_source, ingested_run, cwd, git_branch,
    is_sidechain, client_version";

fn row_to_record(r: &postgres::Row) -> Result<TraceRecord> {
    record_from_row!(r, try_get)
}

impl TraceRows for PgStore {
    fn trace_groups(&self) -> Result<Vec<TraceGroup>> {
        let rows = self.client().query(
            "SELECT repo_slug, event_date, COUNT(*) FROM traces GROUP BY repo_slug, event_date",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                let date: String = r.try_get(1)?;
                Ok(TraceGroup {
                    repo: r.try_get(0)?,
                    date: parse_event_date(&date)?,
                    rows: r.try_get(2)?,
                })
            })
            .collect()
    }

    fn for_each_trace_in(
        &self,
        repo: Option<&str>,
        date: NaiveDate,
        f: &mut dyn FnMut(TraceRecord) -> Result<()>,
    ) -> Result<()> {
        let rows = self.client().query(
            &format!(
                "SELECT {RECORD_COLUMNS} FROM traces
                 WHERE repo_slug IS NOT DISTINCT FROM $1 AND event_date = $2 ORDER BY id"
            ),
            &[&repo, &date.format("%Y-%m-%d").to_string()],
        )?;
        for r in &rows {
            f(row_to_record(r)?)?;
        }
        Ok(())
    }
}
