//! When each source of a repo was collecting: the first and last stored call, the first and last
//! GitHub activity and the last GitHub sync. The report's association series and its default
//! window run only over days both sources cover.

use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;

use super::seam::*;
use super::{parse_ts, Store};
use crate::error::Result;
use crate::metrics::input::Coverage;

/// First call of a repo: the earliest instant of its earliest UTC date (repo/date index).
const TRACE_FIRST: &str = "SELECT MIN(timestamp_us) FROM traces WHERE repo_slug = ?1
     AND event_date = (SELECT MIN(event_date) FROM traces WHERE repo_slug = ?1)";
/// Last call of a repo: the latest instant of its latest UTC date (repo/date index).
const TRACE_LAST: &str = "SELECT MAX(timestamp_us) FROM traces WHERE repo_slug = ?1
     AND event_date = (SELECT MAX(event_date) FROM traces WHERE repo_slug = ?1)";

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl Store {
    /// When the traces and the GitHub data of `repo` start and end (any time, not the window).
    pub(super) fn repo_coverage(&self, repo: &str) -> Result<Coverage> {
        let us = |sql: &str| -> Result<Option<DateTime<Utc>>> {
            let v: Option<i64> = self.conn.query_row(sql, [repo], |r| r.get(0))?;
            Ok(v.and_then(DateTime::<Utc>::from_timestamp_micros))
        };
        let mut c = Coverage {
            trace_first: us(TRACE_FIRST)?,
            trace_last: us(TRACE_LAST)?,
            ..Coverage::default()
        };
        if !self.gh_tables_exist()? {
            return Ok(c);
        }
        let text = |sql: &str| -> Result<Option<DateTime<Utc>>> {
            let v: Option<String> = self.conn.query_row(sql, [repo], |r| r.get(0))?;
            Ok(parse_ts(v))
        };
        c.github_first = earliest(
            text("SELECT MIN(created_at) FROM gh_pull_requests WHERE repo = ?1")?,
            text("SELECT MIN(authored_at) FROM gh_commits WHERE repo = ?1 AND authored_at IS NOT NULL")?,
        );
        c.github_last = latest(
            latest(
                text("SELECT MAX(created_at) FROM gh_pull_requests WHERE repo = ?1")?,
                text("SELECT MAX(merged_at) FROM gh_pull_requests WHERE repo = ?1")?,
            ),
            text("SELECT MAX(authored_at) FROM gh_commits WHERE repo = ?1")?,
        );
        c.github_last_sync = parse_ts(
            self.conn
                .query_row(
                    "SELECT last_sync FROM gh_repos WHERE repo = ?1",
                    [repo],
                    |r| r.get::<_, Option<String>>(0),
                )
                .optional()?
                .flatten(),
        );
        Ok(c)
    }

    /// Calls in `[start, end)` stored without a repo (they appear in no per-repo figure).
    pub(super) fn count_calls_without_repo(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<i64> {
        let (s, e) = (start.timestamp_micros(), end.timestamp_micros());
        let day = |t: DateTime<Utc>| t.format("%Y-%m-%d").to_string();
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM traces WHERE repo_slug IS NULL
               AND event_date >= ?1 AND event_date <= ?2
               AND timestamp_us >= ?3 AND timestamp_us < ?4",
            rusqlite::params![day(start), day(end), s, e],
            |r| r.get(0),
        )?)
    }
}
