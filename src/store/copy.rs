//! Copying one store into another (`migrate-store`): a pilot's SQLite file into the team's
//! PostgreSQL store.
//!
//! Calls are read back as records and written through the target's trace writer, so the
//! target deduplicates them and keeps its rollups in the same transactions (the rollups are
//! recomputed, not copied). Every other table ([`TABLES`]) is copied row for row; a row whose
//! key is already in the target is left as it is there. So a copy can be repeated, or resumed
//! after it stopped, and ends with the same rows.

use serde::Serialize;

use super::seam::*;
use crate::error::Result;
use crate::record::TraceRecord;

/// A value of a copied column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// NULL.
    Null,
    /// An integer (SQLite keeps booleans as 0 and 1).
    Int(i64),
    /// A float.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// The type a copied column has in a typed store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 64-bit integer.
    Int,
    /// Double precision.
    Real,
    /// Text.
    Text,
    /// Bytes.
    Blob,
    /// Boolean (0 / 1 in SQLite).
    Bool,
}

/// A table copied row for row: its columns (the store's own ids left out) and the columns
/// that identify a row (a row whose key is in the target already is not copied again).
#[derive(Debug)]
pub struct CopyTable {
    /// Table name.
    pub name: &'static str,
    /// Copied columns and their types.
    pub columns: &'static [(&'static str, Kind)],
    /// The columns that identify a row.
    pub key: &'static [&'static str],
}

use Kind::{Blob, Bool, Int, Real, Text};

/// Every table copied row for row, in copy order.
pub const TABLES: &[CopyTable] = &[
    CopyTable {
        name: "etl_runs",
        columns: &[
            ("job", Text),
            ("source", Text),
            ("started_at", Text),
            ("finished_at", Text),
            ("outcome", Text),
            ("read", Int),
            ("inserted", Int),
            ("duplicates", Int),
            ("dead_lettered", Int),
            ("skipped", Int),
            ("cost_unknown", Int),
            ("details", Text),
        ],
        key: &["job", "source", "started_at"],
    },
    CopyTable {
        name: "gh_pull_requests",
        columns: &[
            ("repo", Text),
            ("number", Int),
            ("id", Int),
            ("title", Text),
            ("author", Text),
            ("state", Text),
            ("draft", Bool),
            ("created_at", Text),
            ("updated_at", Text),
            ("closed_at", Text),
            ("merged_at", Text),
            ("merge_commit_sha", Text),
            ("base_ref", Text),
            ("head_ref", Text),
            ("additions", Int),
            ("deletions", Int),
            ("changed_files", Int),
            ("revert_title", Text),
            ("revert_shas", Text),
            ("revert_numbers", Text),
        ],
        key: &["repo", "number"],
    },
    CopyTable {
        name: "gh_commits",
        columns: &[
            ("repo", Text),
            ("sha", Text),
            ("author_login", Text),
            ("author_name", Text),
            ("author_email", Text),
            ("authored_at", Text),
            ("committed_at", Text),
            ("message", Text),
            ("revert_shas", Text),
            ("body", Text),
        ],
        key: &["repo", "sha"],
    },
    CopyTable {
        name: "gh_issue_events",
        columns: &[
            ("repo", Text),
            ("id", Int),
            ("event", Text),
            ("issue_number", Int),
            ("is_pull_request", Bool),
            ("actor", Text),
            ("created_at", Text),
            ("commit_id", Text),
        ],
        key: &["repo", "id"],
    },
    CopyTable {
        name: "gh_rework",
        columns: &[
            ("repo", Text),
            ("kind", Text),
            ("pr_number", Int),
            ("source", Text),
            ("at", Text),
            ("days_after_merge", Real),
            ("within_window", Bool),
        ],
        key: &["repo", "kind", "pr_number", "source"],
    },
    CopyTable {
        name: "gh_http_cache",
        columns: &[
            ("url", Text),
            ("repo", Text),
            ("stream", Text),
            ("etag", Text),
            ("last_modified", Text),
            ("next_url", Text),
            ("items", Int),
            ("min_key", Text),
            ("max_key", Text),
            ("fetched_at", Text),
        ],
        key: &["url"],
    },
    CopyTable {
        name: "gh_sync_state",
        columns: &[
            ("repo", Text),
            ("stream", Text),
            ("checkpoint", Text),
            ("probe_url", Text),
            ("probe_etag", Text),
            ("last_sync", Text),
        ],
        key: &["repo", "stream"],
    },
    CopyTable {
        name: "gh_repos",
        columns: &[
            ("repo", Text),
            ("last_sync", Text),
            ("last_outcome", Text),
            ("rate_limit_remaining", Int),
            ("rate_limit_reset", Text),
        ],
        key: &["repo"],
    },
    CopyTable {
        name: "identity_map",
        columns: &[
            ("developer_id", Text),
            ("github_login", Text),
            ("source", Text),
            ("loaded_at", Text),
        ],
        key: &["developer_id"],
    },
    CopyTable {
        name: "teams",
        columns: &[
            ("member", Text),
            ("team", Text),
            ("source", Text),
            ("loaded_at", Text),
        ],
        key: &["member"],
    },
    // The privacy setting, its pseudonym key included: the same pseudonyms after the move.
    CopyTable {
        name: "settings",
        columns: &[("name", Text), ("value", Text)],
        key: &["name"],
    },
    CopyTable {
        name: "litellm_checkpoints",
        columns: &[
            ("source", Text),
            ("start_time", Text),
            ("request_id", Text),
            ("updated_at", Text),
        ],
        key: &["source"],
    },
    CopyTable {
        name: "input_files",
        columns: &[
            ("path", Text),
            ("size", Int),
            ("mtime_ns", Int),
            ("head_hash", Blob),
            ("tail_hash", Blob),
            ("offset", Int),
            ("lines", Int),
            ("resumable", Bool),
            ("updated_at", Text),
        ],
        key: &["path"],
    },
    CopyTable {
        name: "code_activity",
        columns: &[
            ("dedupe_key", Blob),
            ("session_id", Text),
            ("timestamp_us", Int),
            ("event_date", Text),
            ("kind", Text),
            ("tool_name", Text),
            ("decision", Text),
            ("source", Text),
            ("prompt_id", Text),
            ("line_type", Text),
            ("language", Text),
            ("value", Real),
            ("cumulative", Bool),
            ("developer_id", Text),
            ("ingested_run", Int),
        ],
        key: &["dedupe_key"],
    },
];

/// Reading a store's tables row for row (the source of a copy).
pub trait TableSource {
    /// Rows in `table` (0 when the store has no such table).
    fn table_len(&self, table: &CopyTable) -> Result<u64>;

    /// Calls `f` with every row of `table`, its cells in [`CopyTable::columns`] order.
    fn for_each_row(
        &self,
        table: &CopyTable,
        f: &mut dyn FnMut(Vec<Cell>) -> Result<()>,
    ) -> Result<()>;
}

/// Writing copied rows into a store (the target of a copy).
pub trait TableTarget {
    /// Stores the rows whose key is not in `table` yet, in one transaction; returns how many.
    fn copy_rows(&mut self, table: &CopyTable, rows: &[Vec<Cell>]) -> Result<u64>;
}

/// What a copy reads: the calls and the other tables.
pub trait CopySource: TraceRows + TableSource {}

impl<T: TraceRows + TableSource + ?Sized> CopySource for T {}

/// What a copy writes: calls (with their rollups), the other tables and its own run.
pub trait CopyTarget: TraceWriter + TableTarget + RunLog {}

impl<T: TraceWriter + TableTarget + RunLog + ?Sized> CopyTarget for T {}

/// What a copy did to one table.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TableCopied {
    /// Table name (`traces` for the calls).
    pub table: String,
    /// Rows read from the source.
    pub read: u64,
    /// Rows new to the target.
    pub copied: u64,
    /// Rows the target had already.
    pub present: u64,
}

impl TableCopied {
    /// Counts a batch of `read` rows of which `new` were new to the target; returns `read`.
    fn tally(&mut self, read: usize, new: u64) -> u64 {
        let read = read as u64;
        self.read += read;
        self.copied += new;
        self.present += read - new;
        read
    }
}

/// Rows a copy has done so far and rows it will do in all (for a progress bar).
pub trait CopyProgress {
    /// `done` of `total` rows are copied; `table` is being copied.
    fn update(&self, table: &str, done: u64, total: u64);
}

/// Rows written per transaction.
const BATCH: usize = 5_000;

/// Copies every table of `from` into `to`, then every call; returns what was done per table.
/// The calls are written under a `migrate-store` run of the target, named `source`.
pub fn copy_store(
    from: &dyn CopySource,
    to: &mut dyn CopyTarget,
    source: &str,
    progress: &dyn CopyProgress,
) -> Result<Vec<TableCopied>> {
    let groups = from.trace_groups()?;
    let calls: u64 = groups
        .iter()
        .map(|g| u64::try_from(g.rows).unwrap_or(0))
        .sum();
    let mut total = calls;
    for t in TABLES {
        total += from.table_len(t)?;
    }
    let run = to.start_run("migrate-store", source)?;
    let mut done = 0u64;
    let mut out = Vec::new();
    let mut result = (|| -> Result<()> {
        for t in TABLES {
            let mut c = TableCopied {
                table: t.name.to_string(),
                ..TableCopied::default()
            };
            let mut batch = Vec::with_capacity(BATCH);
            let mut flush = |batch: &mut Vec<Vec<Cell>>, c: &mut TableCopied| -> Result<()> {
                let new = to.copy_rows(t, batch)?;
                done += c.tally(batch.len(), new);
                progress.update(t.name, done, total);
                batch.clear();
                Ok(())
            };
            from.for_each_row(t, &mut |row| {
                batch.push(row);
                if batch.len() >= BATCH {
                    flush(&mut batch, &mut c)?;
                }
                Ok(())
            })?;
            flush(&mut batch, &mut c)?;
            out.push(c);
        }
        let mut c = TableCopied {
            table: "traces".into(),
            ..TableCopied::default()
        };
        // The calls are a large load: statistics are refreshed at its end.
        let bulk = to.start_bulk_load(u64::MAX)?;
        let mut batch: Vec<TraceRecord> = Vec::with_capacity(BATCH);
        let mut flush = |batch: &mut Vec<TraceRecord>, c: &mut TableCopied| -> Result<()> {
            let new = to
                .insert_traces(batch, Some(run))?
                .into_iter()
                .filter(|&inserted| inserted)
                .count() as u64;
            done += c.tally(batch.len(), new);
            progress.update("traces", done, total);
            batch.clear();
            Ok(())
        };
        for g in &groups {
            from.for_each_trace_in(g.repo.as_deref(), g.date, &mut |r| {
                batch.push(r);
                if batch.len() >= BATCH {
                    flush(&mut batch, &mut c)?;
                }
                Ok(())
            })?;
        }
        flush(&mut batch, &mut c)?;
        out.push(c);
        if bulk {
            to.finish_bulk_load()?;
        }
        Ok(())
    })();
    let traces = out.iter().find(|c| c.table == "traces");
    let counts = crate::store::runs::RunCounts {
        read: traces.map_or(0, |c| c.read),
        inserted: traces.map_or(0, |c| c.copied),
        duplicates: traces.map_or(0, |c| c.present),
        ..Default::default()
    };
    let outcome = if result.is_ok() { "ok" } else { "failed" };
    let details = result.as_ref().err().map(|e| e.to_string());
    if let Err(e) = to.finish_run(run, &counts, outcome, details.as_deref()) {
        result = result.and(Err(e));
    }
    result.map(|()| out)
}

impl TableSource for super::Store {
    fn table_len(&self, table: &CopyTable) -> Result<u64> {
        // `table.name` is one of the constant names of [`TABLES`].
        let n: i64 =
            self.conn
                .query_row(&format!("SELECT COUNT(*) FROM {}", table.name), [], |r| {
                    r.get(0)
                })?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn for_each_row(
        &self,
        table: &CopyTable,
        f: &mut dyn FnMut(Vec<Cell>) -> Result<()>,
    ) -> Result<()> {
        use rusqlite::types::ValueRef;
        let columns: Vec<String> = table
            .columns
            .iter()
            .map(|(c, _)| format!("\"{c}\""))
            .collect();
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {} FROM {} ORDER BY {}",
            columns.join(", "),
            table.name,
            table.key.join(", ")
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let mut cells = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                cells.push(match r.get_ref(i)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Int(v),
                    ValueRef::Real(v) => Cell::Real(v),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                });
            }
            f(cells)?;
        }
        Ok(())
    }
}
