//! Retention (`prune`): deleting calls, code activity, their rollups and (optionally) GitHub rows
//! older than a UTC midnight, in one transaction.
//!
//! Rollup rows are keyed by UTC hour (`rollup_cells`, `rollup_errors`) or UTC day
//! (`rollup_sessions`, `rollup_session_models`; a session-day holds the calls of one UTC day
//! only, `day = hour / 24`). A cut at a UTC midnight therefore splits no rollup row: deleting the
//! calls before it and the rollup rows of the hours and days before it leaves exactly the rollups
//! that `rebuild-rollups` computes from the remaining calls. Both backends run the same steps
//! ([`CALL_STEPS`], [`GITHUB_STEPS`]); a dry run counts with the same filters instead of deleting.

use super::seam::Retention;
use super::{gh_time, Store};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use rusqlite::TransactionBehavior;
use serde::Serialize;
use std::collections::BTreeSet;

/// Microseconds in an hour.
const HOUR_US: i64 = 3_600_000_000;

/// What a prune deleted (or, in a dry run, would delete).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PruneCounts {
    /// The cut: rows strictly before this instant (a UTC midnight, RFC 3339).
    pub before: String,
    /// Whether nothing was deleted (the counts say what would be).
    pub dry_run: bool,
    /// Rows per table, in the order they are deleted.
    pub tables: Vec<TableCount>,
    /// Repos whose GitHub rows were deleted and whose rework links were recomputed.
    pub rework_repos: Vec<String>,
}

impl PruneCounts {
    /// Rows of every table together.
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// Rows of one table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableCount {
    /// The table.
    pub table: String,
    /// Rows deleted (or that would be).
    pub rows: u64,
}

/// Which value of the cut a step compares with.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bound {
    /// Microseconds since the epoch (`timestamp_us`).
    Micros,
    /// UTC hours since the epoch (`hour`).
    Hour,
    /// UTC days since the epoch (`day`).
    Day,
    /// GitHub's stored time text (`YYYY-MM-DDTHH:MM:SSZ`).
    GhTime,
}

/// One table and the filter (with `?1` for the cut) selecting its rows before the cut.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step {
    /// The table (a constant name, never input).
    pub table: &'static str,
    /// The `WHERE` condition; `?1` is the cut as [`Step::bound`] says.
    pub filter: &'static str,
    /// Which form of the cut `?1` takes.
    pub bound: Bound,
}

/// Calls, code activity and the rollups of whole hours and days before the cut.
pub(crate) const CALL_STEPS: [Step; 6] = [
    Step {
        table: "traces",
        filter: "timestamp_us < ?1",
        bound: Bound::Micros,
    },
    Step {
        table: "code_activity",
        filter: "timestamp_us < ?1",
        bound: Bound::Micros,
    },
    Step {
        table: "rollup_cells",
        filter: "hour < ?1",
        bound: Bound::Hour,
    },
    Step {
        table: "rollup_errors",
        filter: "hour < ?1",
        bound: Bound::Hour,
    },
    Step {
        table: "rollup_sessions",
        filter: "day < ?1",
        bound: Bound::Day,
    },
    Step {
        table: "rollup_session_models",
        filter: "day < ?1",
        bound: Bound::Day,
    },
];

/// GitHub rows before the cut: PRs last updated (and merged or closed, if ever) before it,
/// commits committed before it, issue events created before it.
pub(crate) const GITHUB_STEPS: [Step; 3] = [
    Step {
        table: "gh_pull_requests",
        filter: "updated_at < ?1 AND COALESCE(merged_at, '') < ?1 AND COALESCE(closed_at, '') < ?1",
        bound: Bound::GhTime,
    },
    Step {
        table: "gh_commits",
        filter: "committed_at < ?1",
        bound: Bound::GhTime,
    },
    Step {
        table: "gh_issue_events",
        filter: "created_at < ?1",
        bound: Bound::GhTime,
    },
];

/// The steps of a prune (GitHub rows only when asked).
pub(crate) fn steps(github: bool) -> Vec<Step> {
    let mut out = CALL_STEPS.to_vec();
    if github {
        out.extend(GITHUB_STEPS);
    }
    out
}

/// The cut in every form the steps compare with.
#[derive(Clone, Debug)]
pub(crate) struct Cut {
    /// Microseconds since the epoch.
    pub micros: i64,
    /// UTC hours since the epoch.
    pub hour: i64,
    /// UTC days since the epoch.
    pub day: i64,
    /// GitHub's time text.
    pub gh: String,
    /// RFC 3339.
    pub text: String,
}

impl Cut {
    /// The cut at `before`, which must be a UTC midnight (so no rollup row straddles it).
    pub fn new(before: DateTime<Utc>) -> Result<Cut> {
        let micros = before.timestamp_micros();
        if micros.rem_euclid(24 * HOUR_US) != 0 {
            return Err(Error::InvalidArgument(format!(
                "a prune cuts at a UTC midnight, not at {}",
                before.to_rfc3339()
            )));
        }
        let hour = micros.div_euclid(HOUR_US);
        Ok(Cut {
            micros,
            hour,
            day: hour.div_euclid(24),
            gh: gh_time(before),
            text: before.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }

    /// The counts of a prune at this cut, before any table is counted.
    pub fn counts(&self, dry_run: bool) -> PruneCounts {
        PruneCounts {
            before: self.text.clone(),
            dry_run,
            ..Default::default()
        }
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Store {
    fn prune_rows(&mut self, cut: &Cut, github: bool, dry_run: bool) -> Result<PruneCounts> {
        let mut counts = cut.counts(dry_run);
        // A real prune takes the write lock up front (no read snapshot to upgrade later).
        let behavior = if dry_run {
            TransactionBehavior::Deferred
        } else {
            TransactionBehavior::Immediate
        };
        let tx = self.conn.transaction_with_behavior(behavior)?;
        let value = |b: Bound| -> rusqlite::types::Value {
            match b {
                Bound::Micros => cut.micros.into(),
                Bound::Hour => cut.hour.into(),
                Bound::Day => cut.day.into(),
                Bound::GhTime => cut.gh.clone().into(),
            }
        };
        let mut repos = BTreeSet::new();
        if github {
            for s in GITHUB_STEPS {
                // `s.table` and `s.filter` are constants; the cut is a parameter.
                let sql = format!("SELECT DISTINCT repo FROM {} WHERE {}", s.table, s.filter);
                let mut stmt = tx.prepare(&sql)?;
                let found = stmt.query_map([value(s.bound)], |r| r.get::<_, String>(0))?;
                for repo in found {
                    repos.insert(repo?);
                }
            }
        }
        for s in steps(github) {
            let rows = if dry_run {
                let sql = format!("SELECT COUNT(*) FROM {} WHERE {}", s.table, s.filter);
                count(tx.query_row(&sql, [value(s.bound)], |r| r.get(0))?)
            } else {
                let sql = format!("DELETE FROM {} WHERE {}", s.table, s.filter);
                tx.execute(&sql, [value(s.bound)])? as u64
            };
            counts.tables.push(TableCount {
                table: s.table.to_string(),
                rows,
            });
        }
        if dry_run {
            tx.rollback()?;
        } else {
            for repo in &repos {
                super::github::recompute_rework_in(&tx, repo)?;
            }
            tx.commit()?;
        }
        counts.rework_repos = repos.into_iter().collect();
        Ok(counts)
    }
}

impl Retention for Store {
    /// One immediate transaction; the file does not shrink (freed pages are reused by later
    /// ingests; `VACUUM` when the store is idle gives them back to the file system).
    fn prune(&mut self, before: DateTime<Utc>, github: bool, dry_run: bool) -> Result<PruneCounts> {
        self.prune_rows(&Cut::new(before)?, github, dry_run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::tests::record;
    use crate::sources::otel::claude_code::ActivityRow;
    use crate::store::prelude::*;
    use chrono::TimeZone;

    #[test]
    fn a_cut_off_midnight_is_refused() {
        let t = Utc.with_ymd_and_hms(2025, 10, 12, 1, 0, 0).unwrap();
        assert!(matches!(Cut::new(t), Err(Error::InvalidArgument(_))));
        let t = Utc.with_ymd_and_hms(2025, 10, 12, 0, 0, 0).unwrap();
        let c = Cut::new(t).unwrap();
        assert_eq!(c.day * 24, c.hour);
        assert_eq!(c.gh, "2025-10-12T00:00:00Z");
    }

    #[test]
    fn calls_before_the_cut_go_with_their_rollups() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(&tmp.path().join("p.db")).unwrap();
        let mut old = record(1, Some("acme/api"));
        old.timestamp = Utc.with_ymd_and_hms(2025, 10, 11, 23, 59, 59).unwrap();
        old.event_date = old.timestamp.date_naive();
        old.session_id = Some("s".into());
        let mut new = record(2, Some("acme/api"));
        new.session_id = Some("s".into());
        store.insert_traces(&[old, new], None).unwrap();
        let activity = |key: u8, hour: u32| ActivityRow {
            dedupe_key: [key; 16],
            session_id: Some("s".into()),
            timestamp: Utc.with_ymd_and_hms(2025, 10, 11, hour, 0, 0).unwrap(),
            kind: "lines".into(),
            tool_name: None,
            decision: None,
            source: None,
            prompt_id: None,
            line_type: None,
            language: None,
            value: 1.0,
            cumulative: false,
            developer_id: None,
        };
        let acts = [activity(1, 22), activity(2, 23), activity(3, 23)];
        store.insert_activity(&acts, None).unwrap();
        let cut = Utc.with_ymd_and_hms(2025, 10, 11, 23, 0, 0).unwrap();
        assert!(store.prune(cut, false, true).is_err(), "not a midnight");
        let cut = Utc.with_ymd_and_hms(2025, 10, 12, 0, 0, 0).unwrap();
        let dry = store.prune(cut, false, true).unwrap();
        let real = store.prune(cut, false, false).unwrap();
        assert_eq!(dry.tables, real.tables);
        let rows: Vec<u64> = real.tables.iter().map(|t| t.rows).collect();
        assert_eq!(rows, [1, 3, 1, 0, 1, 1]);
        assert_eq!(store.prune(cut, false, false).unwrap().total(), 0);
    }
}
