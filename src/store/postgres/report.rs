//! What a report reads from a PostgreSQL store: the SQLite store's queries in PostgreSQL's SQL,
//! giving the same [`RepoData`].
//!
//! Two differences of the engines are made explicit so that the results are the same: SQLite's
//! `lower()` folds ASCII only ([`ASCII_LOWER`] does the same here), and SQLite orders text by
//! its bytes (`COLLATE "C"` here, where an order reaches the output).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;

use super::PgStore;
use crate::error::Result;
use crate::metrics::aggregate::{ErrorCount, HourAggregator, SessionNumbers, TraceAggregate};
use crate::metrics::counters::{status_of, utc_hour};
use crate::metrics::input::{
    CommitRow, Coverage, PullRow, RepoData, ReworkKind, ReworkRow, TraceRow,
};
use crate::metrics::Freshness;
use crate::store::report_data::TraceFilter;
use crate::store::rollups::{
    counters_from_row, merged_while, session_day, session_hours, Interner, CELL_COUNTERS,
};
use crate::store::seam::ReportReader;
use crate::store::{gh_time, parse_ts};

/// SQLite's `lower()` of a column: ASCII letters only.
pub(super) fn ascii_lower(column: &str) -> String {
    format!("translate({column}, '{ASCII_UPPER}', '{ASCII_LOWER}')")
}

const ASCII_UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// The lower-case ASCII letters, in the order of [`ASCII_UPPER`].
pub(super) const ASCII_LOWER: &str = "abcdefghijklmnopqrstuvwxyz";

/// `column` matches the developer filter `$n` (a text array of ASCII-lower-cased names; NULL
/// for no filter).
fn developer_in(column: &str, n: usize) -> String {
    format!(
        "(${n}::TEXT[] IS NULL OR {} = ANY(${n}::TEXT[]))",
        ascii_lower(column)
    )
}

impl ReportReader for PgStore {
    /// Every repo named by traces or GitHub rows, sorted by bytes.
    fn report_repos(&self) -> Result<Vec<String>> {
        let mut c = self.client();
        let mut repos = BTreeSet::new();
        for (table, column) in [
            ("traces", "repo_slug"),
            ("gh_pull_requests", "repo"),
            ("gh_commits", "repo"),
        ] {
            // One index seek per distinct repo instead of reading every row; `table` and
            // `column` are constants.
            let sql = format!(
                "WITH RECURSIVE r(repo) AS (
                   SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > '')
                   UNION ALL
                   SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > r.repo)
                     FROM r WHERE r.repo IS NOT NULL)
                 SELECT repo FROM r WHERE repo IS NOT NULL"
            );
            for r in c.query(&sql, &[])? {
                repos.insert(r.try_get::<_, String>(0)?);
            }
        }
        Ok(repos.into_iter().collect())
    }

    fn report_data(
        &self,
        repo: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        filter: &TraceFilter,
    ) -> Result<RepoData> {
        let mut data = RepoData {
            repo: repo.to_string(),
            ..RepoData::default()
        };
        let (from, to, developers) = (
            start.timestamp_micros(),
            end.timestamp_micros(),
            filter.developer_names(),
        );
        let params: [&(dyn ToSql + Sync); 5] = [&repo, &from, &to, &developers, &filter.model];
        let mut c = self.client();
        // Streamed row by row: the window's rows are never held twice (as rows and as records).
        let mut rows = c.query_raw(
            &format!(
                "SELECT timestamp_us, developer_id, session_id, model, tokens_in + tokens_out,
                        latency_ms, ttft_ms, status_code, is_error, error_class, accepted,
                        diff_ratio, accepted_lines, cost_usd, tokens_out
                 FROM traces WHERE repo_slug = $1 AND timestamp_us >= $2 AND timestamp_us < $3
                   AND {} AND ($5::TEXT IS NULL OR model = $5)
                 ORDER BY id",
                developer_in("developer_id", 4)
            ),
            params.iter().map(|p| *p as &dyn ToSql),
        )?;
        let mut names = Interner::default();
        while let Some(r) = rows.next()? {
            data.traces.push(TraceRow {
                timestamp: DateTime::from_timestamp_micros(r.try_get(0)?).unwrap_or_default(),
                developer: names.get(r.try_get(1)?),
                session: names.get(r.try_get(2)?),
                model: names.get(r.try_get(3)?),
                tokens: r.try_get(4)?,
                output_tokens: r.try_get(14)?,
                latency_ms: r.try_get(5)?,
                ttft_ms: r.try_get(6)?,
                status_code: r.try_get(7)?,
                is_error: r.try_get(8)?,
                error_class: r.try_get(9)?,
                accepted: r.try_get(10)?,
                diff_ratio: r.try_get(11)?,
                accepted_lines: r.try_get(12)?,
                cost_usd: r.try_get(13)?,
            });
        }
        drop(rows);
        drop(c);
        self.report_github(&mut data, start, end, filter)?;
        Ok(data)
    }

    fn report_data_rollups(
        &self,
        repo: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        filter: &TraceFilter,
        tz: Tz,
    ) -> Result<RepoData> {
        let mut data = RepoData {
            repo: repo.to_string(),
            aggregate: Some(self.rollup_aggregate(repo, start, end, filter, tz)?),
            ..RepoData::default()
        };
        self.report_github(&mut data, start, end, filter)?;
        Ok(data)
    }

    fn report_freshness(&self, repo: &str) -> Result<Freshness> {
        let mut c = self.client();
        let last_trace_ingest: Option<String> = c
            .query_one(
                "SELECT MAX(finished_at) FROM etl_runs WHERE job = 'ingest-traces'",
                &[],
            )?
            .try_get(0)?;
        let latest_trace_day: Option<String> = c
            .query_one(
                "SELECT MAX(event_date) FROM traces WHERE repo_slug = $1",
                &[&repo],
            )?
            .try_get(0)?;
        let last_github_sync: Option<String> =
            match c.query_opt("SELECT last_sync FROM gh_repos WHERE repo = $1", &[&repo])? {
                Some(r) => r.try_get(0)?,
                None => None,
            };
        Ok(Freshness {
            repo: repo.to_string(),
            last_trace_ingest,
            latest_trace_day,
            last_github_sync,
        })
    }

    fn has_rollups(&self) -> Result<bool> {
        Ok(true)
    }

    /// The first and last call and GitHub activity of `repo`, as the SQLite store reads them.
    fn coverage(&self, repo: &str) -> Result<Coverage> {
        let mut c = self.client();
        let mut us = |sql: &str| -> Result<Option<DateTime<Utc>>> {
            let v: Option<i64> = c.query_one(sql, &[&repo])?.try_get(0)?;
            Ok(v.and_then(DateTime::<Utc>::from_timestamp_micros))
        };
        let mut cov = Coverage {
            trace_first: us("SELECT MIN(timestamp_us) FROM traces WHERE repo_slug = $1
                 AND event_date = (SELECT MIN(event_date) FROM traces WHERE repo_slug = $1)")?,
            trace_last: us("SELECT MAX(timestamp_us) FROM traces WHERE repo_slug = $1
                 AND event_date = (SELECT MAX(event_date) FROM traces WHERE repo_slug = $1)")?,
            ..Coverage::default()
        };
        let row = c.query_one(
            "SELECT (SELECT MIN(created_at) FROM gh_pull_requests WHERE repo = $1),
                    (SELECT MIN(authored_at) FROM gh_commits WHERE repo = $1),
                    (SELECT MAX(created_at) FROM gh_pull_requests WHERE repo = $1),
                    (SELECT MAX(merged_at) FROM gh_pull_requests WHERE repo = $1),
                    (SELECT MAX(authored_at) FROM gh_commits WHERE repo = $1),
                    (SELECT last_sync FROM gh_repos WHERE repo = $1)",
            &[&repo],
        )?;
        let t = |i: usize| -> Result<Option<DateTime<Utc>>> {
            Ok(parse_ts(row.try_get::<_, Option<String>>(i)?))
        };
        let pick = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>, later: bool| match (a, b) {
            (Some(a), Some(b)) => Some(if later { a.max(b) } else { a.min(b) }),
            (a, b) => a.or(b),
        };
        cov.github_first = pick(t(0)?, t(1)?, false);
        cov.github_last = pick(pick(t(2)?, t(3)?, true), t(4)?, true);
        cov.github_last_sync = t(5)?;
        Ok(cov)
    }

    fn calls_without_repo(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<i64> {
        let day = |t: DateTime<Utc>| t.format("%Y-%m-%d").to_string();
        Ok(self
            .client()
            .query_one(
                "SELECT COUNT(*) FROM traces WHERE repo_slug IS NULL
                   AND event_date >= $1 AND event_date <= $2
                   AND timestamp_us >= $3 AND timestamp_us < $4",
                &[
                    &day(start),
                    &day(end),
                    &start.timestamp_micros(),
                    &end.timestamp_micros(),
                ],
            )?
            .try_get(0)?)
    }

    fn newest_trace(&self) -> Result<Option<DateTime<Utc>>> {
        let us: Option<i64> = self
            .client()
            .query_one("SELECT MAX(timestamp_us) FROM traces", &[])?
            .try_get(0)?;
        Ok(us.and_then(DateTime::from_timestamp_micros))
    }
}

impl PgStore {
    /// The trace aggregate of one repo over `[start, end)` from the hourly rollups (see the
    /// SQLite store's `rollup_aggregate`, which this reads the same way).
    fn rollup_aggregate(
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
        let developers = filter.developer_names();
        let mut c = self.client();
        let mut names = Interner::default();
        let mut numbers = SessionNumbers::default();
        let mut agg = HourAggregator::new(tz);
        let cells = c.query(
            &format!(
                "SELECT hour, developer, model, {}, latency_sketch, ttft_sketch FROM rollup_cells
                 WHERE repo = $1 AND hour >= $2 AND hour < $3 AND {}
                   AND ($5::TEXT IS NULL OR model = $5)
                 ORDER BY hour, developer COLLATE \"C\", model COLLATE \"C\"",
                CELL_COUNTERS.join(", "),
                developer_in("developer", 4)
            ),
            &[&repo, &h0, &h1, &developers, &filter.model],
        )?;
        let at = 3 + CELL_COUNTERS.len();
        // The sketches are decoded and merged on a second thread meanwhile.
        let ((), merged) = merged_while(repo, |feed| {
            agg.reserve_cells(cells.len());
            for r in &cells {
                let hour: i64 = r.try_get(0)?;
                let (developer, model) = (names.get(r.try_get(1)?), names.get(r.try_get(2)?));
                let counts = counters_from_row!(r, 3, try_get, postgres::Error)?;
                if let Some(slot) = agg.cell_counts(hour, developer, model, counts) {
                    feed.push(slot.day, hour, r.try_get(at)?, r.try_get(at + 1)?);
                }
            }
            Ok(())
        })?;
        agg.add_sketches(merged.latency_by_day, &merged.ttft);
        drop(cells);
        let errors = c.query(
            &format!(
                "SELECT status, error_class, SUM(errors)::BIGINT FROM rollup_errors
                 WHERE repo = $1 AND hour >= $2 AND hour < $3 AND {}
                   AND ($5::TEXT IS NULL OR model = $5)
                 GROUP BY status, error_class",
                developer_in("developer", 4)
            ),
            &[&repo, &h0, &h1, &developers, &filter.model],
        )?;
        for r in &errors {
            let count: i64 = r.try_get(2)?;
            agg.error(ErrorCount {
                status: status_of(r.try_get(0)?),
                class: names.get(r.try_get(1)?),
                count: u64::try_from(count).unwrap_or(0),
            });
        }
        let (d0, d1) = (h0.div_euclid(24), (h1 - 1).div_euclid(24));
        numbers.expect_days(d0, d1);
        let models = if filter.model.is_some() {
            "models"
        } else {
            "NULL::TEXT"
        };
        let sessions = c.query(
            &format!(
                "SELECT day, developer, session, hours, {models} FROM rollup_sessions
                 WHERE repo = $1 AND day >= $2 AND day <= $3 AND {}
                 ORDER BY day, developer COLLATE \"C\", session COLLATE \"C\"",
                developer_in("developer", 4)
            ),
            &[&repo, &d0, &d1, &developers],
        )?;
        for r in &sessions {
            let day: i64 = r.try_get(0)?;
            let stored: i64 = r.try_get(3)?;
            let hours = session_hours(
                u32::try_from(stored).unwrap_or(0),
                r.try_get(4)?,
                filter,
                repo,
                day,
            )?;
            session_day(
                &mut agg,
                &mut names,
                &mut numbers,
                (day, hours, (h0, h1)),
                r.try_get(1)?,
                r.try_get(2)?,
            );
        }
        Ok(agg.finish())
    }

    /// Adds the repo's merged PRs, authored commits and rework inside `[start, end)` to `data`.
    fn report_github(
        &self,
        data: &mut RepoData,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        filter: &TraceFilter,
    ) -> Result<()> {
        let repo = data.repo.clone();
        let developers = filter.developer_names();
        let (s, e) = (gh_time(start), gh_time(end));
        let mut c = self.client();
        data.has_github = c
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM gh_pull_requests WHERE repo = $1)
                     OR EXISTS (SELECT 1 FROM gh_commits WHERE repo = $1)
                     OR EXISTS (SELECT 1 FROM gh_repos WHERE repo = $1)",
                &[&repo],
            )?
            .try_get(0)?;
        let pulls = c.query(
            &format!(
                "SELECT number, author, created_at, merged_at FROM gh_pull_requests
                 WHERE repo = $1 AND merged_at >= $2 AND merged_at < $3 AND {}
                 ORDER BY merged_at, author COLLATE \"C\", created_at, number",
                developer_in("author", 4)
            ),
            &[&repo, &s, &e, &developers],
        )?;
        for r in &pulls {
            if let Some(created_at) = parse_ts(r.try_get(2)?) {
                data.pulls.push(PullRow {
                    number: r.try_get(0)?,
                    author: r.try_get(1)?,
                    created_at,
                    merged_at: parse_ts(r.try_get(3)?),
                });
            }
        }
        let commits = c.query(
            &format!(
                "SELECT COALESCE(author_login, author_name), authored_at FROM gh_commits
                 WHERE repo = $1 AND authored_at >= $2 AND authored_at < $3 AND {}
                 ORDER BY authored_at",
                developer_in("COALESCE(author_login, author_name)", 4)
            ),
            &[&repo, &s, &e, &developers],
        )?;
        for r in &commits {
            if let Some(authored_at) = parse_ts(r.try_get(1)?) {
                data.commits.push(CommitRow {
                    author: r.try_get(0)?,
                    authored_at,
                });
            }
        }
        let rework = c.query(
            &format!(
                "SELECT w.kind, w.pr_number, w.at, w.within_window, p.merged_at
                 FROM gh_rework w
                 JOIN gh_pull_requests p ON p.repo = w.repo AND p.number = w.pr_number
                 WHERE w.repo = $1 AND {}
                 ORDER BY w.kind COLLATE \"C\", w.pr_number, w.source COLLATE \"C\"",
                developer_in("p.author", 2)
            ),
            &[&repo, &developers],
        )?;
        for r in &rework {
            let kind = match r.try_get::<_, &str>(0)? {
                "revert" => ReworkKind::Revert,
                "reopened" => ReworkKind::Reopened,
                _ => continue,
            };
            if let Some(at) = parse_ts(r.try_get(2)?) {
                data.rework.push(ReworkRow {
                    kind,
                    pr_number: r.try_get(1)?,
                    at,
                    within_window: r.try_get(3)?,
                    pr_merged_at: parse_ts(r.try_get(4)?),
                });
            }
        }
        Ok(())
    }
}
