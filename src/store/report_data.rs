//! Reading the report's rows: one repo and one UTC instant range per query, parameterised SQL.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{params, OptionalExtension};

use super::raw::RawQuery;
use super::seam::*;
use super::{gh_time, parse_time, parse_ts, Store};
use crate::error::Result;
use crate::metrics::input::{
    CommitRow, Coverage, PullRow, RepoData, ReworkKind, ReworkRow, TraceRow,
};
use crate::metrics::Freshness;

/// Merged PRs of a repo in a window (optionally of one author); read from the index alone.
const MERGED_PULLS: &str = "SELECT number, author, created_at, merged_at FROM gh_pull_requests
     WHERE repo = ?1 AND merged_at >= ?2 AND merged_at < ?3
       AND (?4 IS NULL OR lower(author) IN (SELECT value FROM json_each(?4)))";

/// Commits of a repo authored in a window (optionally by one author); read from the index alone.
const AUTHORED_COMMITS: &str = "SELECT COALESCE(author_login, author_name), authored_at
     FROM gh_commits
     WHERE repo = ?1 AND authored_at >= ?2 AND authored_at < ?3
       AND (?4 IS NULL OR lower(COALESCE(author_login, author_name)) IN (SELECT value FROM json_each(?4)))";

/// Rework signals of a repo's stored PRs (optionally of one author's PRs) with each PR's merge
/// time, so that a reopen can be placed before the merge or on a PR that never merged.
const REWORK: &str = "SELECT w.kind, w.pr_number, w.at, w.within_window, p.merged_at
     FROM gh_rework w
     JOIN gh_pull_requests p ON p.repo = w.repo AND p.number = w.pr_number
     WHERE w.repo = ?1 AND (?2 IS NULL OR lower(p.author) IN (SELECT value FROM json_each(?2)))";

/// Borrows a TEXT-or-NULL column without copying it.
fn text<'a>(row: &'a rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'a str>> {
    row.get_ref(i)?.as_str_or_null().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Which rows of a repo a report reads: all, or one developer's and/or one model's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceFilter {
    /// Only calls whose developer id equals this (ignoring case), and commits / PRs authored by it.
    pub developer: Option<String>,
    /// Further developer ids and logins of the same person (identity links), matched like
    /// `developer`.
    pub linked: Vec<String>,
    /// Only calls of this model (exact name).
    pub model: Option<String>,
    /// Only the calls, commits and PRs of this team: its members' ids and logins are in
    /// `linked` (an empty team matches nothing).
    pub team: Option<String>,
}

impl TraceFilter {
    /// The developer filter as the SQL parameter the queries take: a JSON array of the
    /// ASCII-lower-cased names (SQLite's `lower()` folds ASCII only), or NULL for no filter.
    pub fn developer_json(&self) -> Option<String> {
        serde_json::to_string(&self.developer_names()?).ok()
    }

    /// The developer filter as a list of ASCII-lower-cased names, or None for no filter.
    pub fn developer_names(&self) -> Option<Vec<String>> {
        let mut names: Vec<String> = match (self.developer.as_deref(), &self.team) {
            (Some(d), _) => vec![d.to_ascii_lowercase()],
            (None, Some(_)) => Vec::new(),
            (None, None) => return None,
        };
        for l in &self.linked {
            let l = l.to_ascii_lowercase();
            if !names.contains(&l) {
                names.push(l);
            }
        }
        Some(names)
    }
}

/// How a report reads each repo: the UTC instant range, the filter, and whether from the
/// hourly rollups (re-bucketed into `tz`) or from the rows.
#[derive(Debug, Clone, Copy)]
pub struct RepoRead<'a> {
    /// Start of the window (inclusive).
    pub start: DateTime<Utc>,
    /// End of the window (exclusive).
    pub end: DateTime<Utc>,
    /// Which rows count.
    pub filter: &'a TraceFilter,
    /// The report's timezone (for the rollups' local hours).
    pub tz: Tz,
    /// From the rollups (true) or every row of the window (false).
    pub rollups: bool,
}

impl RepoRead<'_> {
    /// One repo's data with its coverage, and its freshness.
    pub fn load<S: ReportReader + ?Sized>(
        &self,
        store: &S,
        repo: &str,
    ) -> Result<(RepoData, Freshness)> {
        let mut data = if self.rollups {
            store.report_data_rollups(repo, self.start, self.end, self.filter, self.tz)?
        } else {
            store.report_data(repo, self.start, self.end, self.filter)?
        };
        data.coverage = Some(store.coverage(repo)?);
        Ok((data, store.report_freshness(repo)?))
    }

    /// Every repo of `repos`, one after another on `store`, in that order.
    pub fn load_each<S: ReportReader + ?Sized>(
        &self,
        store: &S,
        repos: &[String],
    ) -> Result<Vec<(RepoData, Freshness)>> {
        repos.iter().map(|repo| self.load(store, repo)).collect()
    }
}

impl ReportReader for Store {
    /// Reads the repos on up to one connection per core (each repo's queries on one
    /// connection, as [`RepoRead::load`] runs them); one repo, a store in the middle of a
    /// transaction (other connections would not see its writes), or a store that cannot open
    /// a second connection, is read on this one.
    fn report_data_each(
        &self,
        repos: &[String],
        read: &RepoRead<'_>,
    ) -> Result<Vec<(RepoData, Freshness)>> {
        let threads = crate::parallel::threads_for(repos.len());
        let others: Option<Vec<Store>> = (threads > 1 && self.conn.is_autocommit())
            .then(|| {
                (0..threads)
                    .map(|_| Store::open_read_only_shared(&self.path, threads))
                    .collect()
            })
            .and_then(|opened: Result<Vec<Store>>| opened.ok());
        match others {
            Some(stores) => crate::parallel::map_in_order(repos.len(), stores, |store, i| {
                read.load(store, &repos[i])
            })
            .into_iter()
            .collect(),
            None => read.load_each(self, repos),
        }
    }

    /// Every repo named by traces or GitHub rows, sorted.
    fn report_repos(&self) -> Result<Vec<String>> {
        let mut sources = vec![("traces", "repo_slug")];
        if self.gh_tables_exist()? {
            sources.extend([("gh_pull_requests", "repo"), ("gh_commits", "repo")]);
        }
        let mut repos = BTreeSet::new();
        for (table, column) in sources {
            // Walks the distinct values of an indexed leading column, one index seek per repo,
            // instead of reading every row. `table` and `column` are constants.
            let sql = format!(
                "WITH RECURSIVE r(repo) AS (
                   SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > '')
                   UNION ALL
                   SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > r.repo)
                     FROM r WHERE r.repo IS NOT NULL)
                 SELECT repo FROM r WHERE repo IS NOT NULL"
            );
            let mut stmt = self.conn.prepare(&sql)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            for repo in rows {
                repos.insert(repo?);
            }
        }
        Ok(repos.into_iter().collect())
    }

    /// Loads one repo's merged PRs, commits and rework inside `[start, end)` (UTC) and its
    /// calls from the hourly rollups, re-bucketed into local hours of `tz` (see
    /// [`Store::rollup_aggregate`]), narrowed by `filter`.
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

    /// Loads one repo's trace rows, merged PRs, commits and rework inside `[start, end)` (UTC),
    /// narrowed by `filter` (the exact path: every row of the window is read).
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
        let mut stmt = self.conn.prepare_cached(
            "SELECT timestamp_us, developer_id, session_id, model, tokens_in + tokens_out,
                    latency_ms, ttft_ms, status_code, is_error, error_class, accepted, diff_ratio,
                    accepted_lines, cost_usd, tokens_out
             FROM traces WHERE repo_slug = ?1 AND timestamp_us >= ?2 AND timestamp_us < ?3
               AND (?4 IS NULL OR lower(developer_id) IN (SELECT value FROM json_each(?4)))
               AND (?5 IS NULL OR model = ?5)",
        )?;
        // Developer, session and model repeat across rows: one shared copy of each.
        let mut names: HashSet<Arc<str>> = HashSet::new();
        let mut intern = |v: Option<&str>| -> Option<Arc<str>> {
            let v = v?;
            if let Some(hit) = names.get(v) {
                return Some(hit.clone());
            }
            let a: Arc<str> = Arc::from(v);
            names.insert(a.clone());
            Some(a)
        };
        let mut rows = stmt.query(params![
            repo,
            start.timestamp_micros(),
            end.timestamp_micros(),
            filter.developer_json(),
            filter.model
        ])?;
        while let Some(r) = rows.next()? {
            data.traces.push(TraceRow {
                timestamp: DateTime::from_timestamp_micros(r.get(0)?).unwrap_or_default(),
                developer: intern(text(r, 1)?),
                session: intern(text(r, 2)?),
                model: intern(text(r, 3)?),
                tokens: r.get(4)?,
                output_tokens: r.get(14)?,
                latency_ms: r.get(5)?,
                ttft_ms: r.get(6)?,
                status_code: r.get(7)?,
                is_error: r.get(8)?,
                error_class: r.get(9)?,
                accepted: r.get(10)?,
                diff_ratio: r.get(11)?,
                accepted_lines: r.get(12)?,
                cost_usd: r.get(13)?,
            });
        }
        drop(rows);
        self.report_github(&mut data, start, end, filter)?;
        Ok(data)
    }

    /// Data freshness of one repo: last trace ingest, newest trace day, last GitHub sync.
    fn report_freshness(&self, repo: &str) -> Result<Freshness> {
        let last_trace_ingest: Option<String> = self.conn.query_row(
            "SELECT MAX(finished_at) FROM etl_runs WHERE job = 'ingest-traces'",
            [],
            |r| r.get(0),
        )?;
        let latest_trace_day: Option<String> = self.conn.query_row(
            "SELECT MAX(event_date) FROM traces WHERE repo_slug = ?1",
            [repo],
            |r| r.get(0),
        )?;
        let last_github_sync = if self.gh_tables_exist()? {
            self.conn
                .query_row(
                    "SELECT last_sync FROM gh_repos WHERE repo = ?1",
                    [repo],
                    |r| r.get::<_, Option<String>>(0),
                )
                .optional()?
                .flatten()
        } else {
            None
        };
        Ok(Freshness {
            repo: repo.to_string(),
            last_trace_ingest,
            latest_trace_day,
            last_github_sync,
        })
    }

    fn has_rollups(&self) -> Result<bool> {
        self.rollup_tables_current()
    }

    fn coverage(&self, repo: &str) -> Result<Coverage> {
        self.repo_coverage(repo)
    }

    fn calls_without_repo(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<i64> {
        self.count_calls_without_repo(start, end)
    }

    /// The newest stored call's instant (None when there is none).
    fn newest_trace(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        let us: Option<i64> =
            self.conn
                .query_row("SELECT MAX(timestamp_us) FROM traces", [], |r| r.get(0))?;
        Ok(us.and_then(chrono::DateTime::from_timestamp_micros))
    }
}

impl Store {
    /// Adds the repo's GitHub rows inside `[start, end)` to `data`.
    fn report_github(
        &self,
        data: &mut RepoData,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        filter: &TraceFilter,
    ) -> Result<()> {
        let repo = data.repo.as_str();
        if !self.gh_tables_exist()? {
            return Ok(());
        }
        data.has_github = self
            .conn
            .query_row(
                "SELECT 1 WHERE EXISTS (SELECT 1 FROM gh_pull_requests WHERE repo = ?1)
                    OR EXISTS (SELECT 1 FROM gh_commits WHERE repo = ?1)
                    OR EXISTS (SELECT 1 FROM gh_repos WHERE repo = ?1)",
                [repo],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        let (s, e) = (gh_time(start), gh_time(end));
        // Read through the C API (store::raw), times parsed where they lie, without a copy.
        let developers = filter.developer_json();
        // Both queries take the repo, the window and the developer filter as ?1 to ?4.
        let prepare = |sql: &str| -> rusqlite::Result<RawQuery<'_>> {
            let mut q = RawQuery::prepare(&self.conn, sql)?;
            let values = [Some(repo), Some(&s), Some(&e), developers.as_deref()];
            for (i, v) in values.into_iter().enumerate() {
                q.bind_text(i + 1, v)?;
            }
            Ok(q)
        };
        let mut pulls = prepare(MERGED_PULLS)?;
        while let Some(r) = pulls.next()? {
            if let Some(created_at) = r.text(2)?.and_then(parse_time) {
                data.pulls.push(PullRow {
                    number: r.get(0)?,
                    author: r.text(1)?.map(str::to_string),
                    created_at,
                    merged_at: r.text(3)?.and_then(parse_time),
                });
            }
        }
        drop(pulls);
        let mut commits = prepare(AUTHORED_COMMITS)?;
        while let Some(r) = commits.next()? {
            if let Some(authored_at) = r.text(1)?.and_then(parse_time) {
                data.commits.push(CommitRow {
                    author: r.text(0)?.map(str::to_string),
                    authored_at,
                });
            }
        }
        drop(commits);
        let mut stmt = self.conn.prepare_cached(REWORK)?;
        let rows = stmt.query_map(params![repo, filter.developer_json()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        for row in rows {
            let (kind, pr_number, at, within_window, pr_merged) = row?;
            let kind = match kind.as_str() {
                "revert" => ReworkKind::Revert,
                "reopened" => ReworkKind::Reopened,
                _ => continue,
            };
            if let Some(at) = parse_ts(at) {
                data.rework.push(ReworkRow {
                    kind,
                    pr_number,
                    at,
                    within_window,
                    pr_merged_at: parse_ts(pr_merged),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_inside_a_transaction_reads_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        store.conn.execute_batch("BEGIN").unwrap();
        store
            .conn
            .execute_batch(
                "INSERT INTO gh_pull_requests (repo, number, title, author, state, draft,
                    created_at, updated_at, merged_at)
                 VALUES ('acme/a', 1, 't', 'ana', 'closed', 0, '2025-10-01T08:00:00Z',
                         '2025-10-03T08:00:00Z', '2025-10-03T08:00:00Z'),
                        ('acme/b', 2, 't', 'bo', 'closed', 0, '2025-10-01T08:00:00Z',
                         '2025-10-03T08:00:00Z', '2025-10-03T08:00:00Z');",
            )
            .unwrap();
        let filter = TraceFilter::default();
        let read = RepoRead {
            start: "2025-10-01T00:00:00Z".parse().unwrap(),
            end: "2025-10-10T00:00:00Z".parse().unwrap(),
            filter: &filter,
            tz: chrono_tz::UTC,
            rollups: true,
        };
        let repos = vec!["acme/a".to_string(), "acme/b".to_string()];
        let each = store.report_data_each(&repos, &read).unwrap();
        let merged: Vec<usize> = each.iter().map(|(d, _)| d.pulls.len()).collect();
        assert_eq!(merged, vec![1, 1]);
    }

    #[test]
    fn repos_read_side_by_side_equal_repos_read_one_by_one() {
        use chrono::TimeZone;
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("p.db")).unwrap();
        let mut calls = Vec::new();
        for key in 0..120u8 {
            let repo = format!("acme/r{}", key % 5);
            let mut r = crate::lake::tests::record(key, Some(&repo));
            r.timestamp = Utc
                .with_ymd_and_hms(2025, 10, 1 + u32::from(key % 9), u32::from(key % 24), 0, 0)
                .unwrap();
            r.session_id = Some(format!("s{}", key % 17));
            r.developer_id = Some(format!("dev{}", key % 4));
            r.latency_ms = Some(100.0 + f64::from(key));
            calls.push(r);
        }
        store.insert_traces(&calls, None).unwrap();
        let repos = store.report_repos().unwrap();
        assert_eq!(repos.len(), 5);
        let filter = TraceFilter::default();
        for rollups in [true, false] {
            let read = RepoRead {
                start: "2025-09-28T00:00:00Z".parse().unwrap(),
                end: "2025-10-14T00:00:00Z".parse().unwrap(),
                filter: &filter,
                tz: chrono_tz::Europe::Berlin,
                rollups,
            };
            let each = store.report_data_each(&repos, &read).unwrap();
            let one_by_one: Vec<(RepoData, Freshness)> = repos
                .iter()
                .map(|repo| read.load(&store, repo).unwrap())
                .collect();
            // In the repos' order, every field the same (RepoData has no PartialEq: Debug).
            assert_eq!(format!("{each:?}"), format!("{one_by_one:?}"));
            let calls: u64 = each
                .iter()
                .map(|(d, _)| match &d.aggregate {
                    Some(a) => a.totals().requests as u64,
                    None => d.traces.len() as u64,
                })
                .sum();
            assert_eq!(calls, 120, "rollups {rollups}");
        }
    }

    #[test]
    fn rework_rows_carry_the_merge_of_their_pr_and_follow_the_author_filter() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("w.db")).unwrap();
        store
            .conn
            .execute_batch(
                "INSERT INTO gh_pull_requests (repo, number, title, author, state, draft,
                    created_at, updated_at, merged_at)
                 VALUES ('acme/api', 1, 't', 'ana', 'closed', 0, '2025-10-01T08:00:00Z',
                         '2025-10-03T08:00:00Z', '2025-10-03T08:00:00Z'),
                        ('acme/api', 2, 't', 'bo', 'open', 0, '2025-10-01T08:00:00Z',
                         '2025-10-04T08:00:00Z', NULL);
                 INSERT INTO gh_rework (repo, kind, pr_number, source, at, within_window)
                 VALUES ('acme/api', 'reopened', 1, 'event:1', '2025-10-02T08:00:00Z', 1),
                        ('acme/api', 'reopened', 2, 'event:2', '2025-10-04T08:00:00Z', 1),
                        ('acme/api', 'reopened', 3, 'event:3', '2025-10-04T08:00:00Z', 1);",
            )
            .unwrap();
        let (start, end) = (
            "2025-10-01T00:00:00Z".parse().unwrap(),
            "2025-10-10T00:00:00Z".parse().unwrap(),
        );
        let all = store
            .report_data("acme/api", start, end, &TraceFilter::default())
            .unwrap();
        let mut merged: Vec<(i64, Option<String>)> = all
            .rework
            .iter()
            .map(|r| (r.pr_number, r.pr_merged_at.map(|t| t.to_rfc3339())))
            .collect();
        merged.sort();
        // PR 3 is not stored: whether it merged is unknown, so its reopen is not read.
        assert_eq!(
            merged,
            vec![(1, Some("2025-10-03T08:00:00+00:00".into())), (2, None)]
        );
        let bo = TraceFilter {
            developer: Some("BO".into()),
            model: None,
            ..TraceFilter::default()
        };
        let only = store.report_data("acme/api", start, end, &bo).unwrap();
        assert_eq!(only.rework.len(), 1);
        assert_eq!(only.rework[0].pr_number, 2);
    }

    #[test]
    fn window_reads_of_prs_and_commits_need_no_table_lookups() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("p.db")).unwrap();
        for sql in [MERGED_PULLS, AUTHORED_COMMITS] {
            let plan: Vec<String> = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(
                    params!["acme/api", "2025-09-01", "2025-10-01", None::<String>],
                    |r| r.get::<_, String>(3),
                )
                .unwrap()
                .collect::<std::result::Result<_, _>>()
                .unwrap();
            assert!(
                plan.iter().any(|p| p.contains("USING COVERING INDEX")),
                "{sql}: {plan:?}"
            );
        }
    }
}
