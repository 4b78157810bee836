//! What `prod-lens status` reports: stored traces per repo, recent runs, dead letters, GitHub data.

use super::runs::RunRow;
use super::seam::*;
use super::Store;
use crate::error::Result;
use serde::Serialize;

/// Trace rows of one repo.
#[derive(Clone, Debug, Serialize)]
pub struct RepoTraces {
    /// `owner/name`, or null for calls without a repo.
    pub repo: Option<String>,
    /// Rows.
    pub count: i64,
    /// Earliest call (RFC 3339 UTC).
    pub first: Option<String>,
    /// Latest call (RFC 3339 UTC).
    pub last: Option<String>,
    /// Summed cost of rows with a known cost.
    pub cost_usd: f64,
    /// Rows whose cost is unknown.
    pub cost_unknown: i64,
}

/// Stored traces overall and per repo.
#[derive(Clone, Debug, Serialize)]
pub struct TraceTotals {
    /// All rows.
    pub total: i64,
    /// Per repo.
    pub by_repo: Vec<RepoTraces>,
}

/// The whole status report.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// Database file.
    pub database: String,
    /// Schema version.
    pub schema_version: i64,
    /// Stored traces.
    pub traces: TraceTotals,
    /// Dead-lettered lines over all runs.
    pub dead_letters: i64,
    /// Recent runs, newest first.
    pub runs: Vec<RunRow>,
    /// GitHub data and freshness per repo.
    pub github: Vec<super::github::GitHubRepoStatus>,
}

/// First and last call of a repo within one hour. `+repo_slug` keeps the planner on the
/// timestamp index (one hour of rows), not on the (repo, date) index (every row of the repo).
const EDGE_OF_HOUR: &str = "SELECT MIN(timestamp_us), MAX(timestamp_us) FROM traces
     WHERE timestamp_us >= ?2 AND timestamp_us < ?3 AND +repo_slug = ?1";

fn iso(us: Option<i64>) -> Option<String> {
    us.and_then(crate::time::iso_micros)
}

impl StatusReader for Store {
    /// Gathers the status report (last `runs` runs).
    fn status(&self, runs: usize) -> Result<Status> {
        let by_repo = if self.has_rollups()? {
            self.repo_traces_from_rollups()?
        } else {
            self.repo_traces_scan()?
        };
        Ok(Status {
            database: self.path.display().to_string(),
            schema_version: self.schema_version()?,
            traces: TraceTotals {
                total: by_repo.iter().map(|r| r.count).sum(),
                by_repo,
            },
            dead_letters: self.dead_letter_total()?,
            runs: self.recent_runs(runs)?,
            // A file from before the GitHub tables existed (opened read-only) has none.
            github: if self.gh_tables_exist()? {
                self.gh_status()?
            } else {
                Vec::new()
            },
        })
    }

    /// The schema version of the file.
    fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn has_session_model_rollups(&self) -> Result<bool> {
        self.session_model_tables_exist()
    }
}

impl Store {
    /// Per-repo totals by scanning every trace row.
    fn repo_traces_scan(&self) -> Result<Vec<RepoTraces>> {
        let mut stmt = self.conn.prepare(
            "SELECT repo_slug, COUNT(*), MIN(timestamp_us), MAX(timestamp_us),
                    COALESCE(SUM(cost_usd), 0), SUM(cost_usd IS NULL)
             FROM traces GROUP BY repo_slug ORDER BY repo_slug IS NULL, repo_slug",
        )?;
        let by_repo = stmt
            .query_map([], |r| {
                Ok(RepoTraces {
                    repo: r.get(0)?,
                    count: r.get(1)?,
                    first: iso(r.get(2)?),
                    last: iso(r.get(3)?),
                    cost_usd: r.get(4)?,
                    cost_unknown: r.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(by_repo)
    }
    /// Per-repo totals from the hourly rollups; first and last call are read exactly from the
    /// rows of the first and last rolled-up hour (timestamp index), calls without a repo from
    /// their own rows (repo index).
    fn repo_traces_from_rollups(&self) -> Result<Vec<RepoTraces>> {
        const HOUR_US: i64 = 3_600_000_000;
        let mut stmt = self.conn.prepare(
            "SELECT repo, SUM(requests), TOTAL(cost_usd), SUM(cost_unknown), MIN(hour), MAX(hour)
             FROM rollup_cells GROUP BY repo ORDER BY repo",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut edge = self.conn.prepare(EDGE_OF_HOUR)?;
        let mut out = Vec::with_capacity(rows.len() + 1);
        for (repo, count, cost_usd, cost_unknown, first_h, last_h) in rows {
            let (first, _): (Option<i64>, Option<i64>) = edge.query_row(
                rusqlite::params![repo, first_h * HOUR_US, (first_h + 1) * HOUR_US],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (_, last): (Option<i64>, Option<i64>) = edge.query_row(
                rusqlite::params![repo, last_h * HOUR_US, (last_h + 1) * HOUR_US],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            out.push(RepoTraces {
                repo: Some(repo),
                count,
                first: iso(first),
                last: iso(last),
                cost_usd,
                cost_unknown,
            });
        }
        let none = self.conn.query_row(
            "SELECT COUNT(*), MIN(timestamp_us), MAX(timestamp_us),
                    COALESCE(SUM(cost_usd), 0), SUM(cost_usd IS NULL)
             FROM traces WHERE repo_slug IS NULL",
            [],
            |r| {
                Ok(RepoTraces {
                    repo: None,
                    count: r.get(0)?,
                    first: iso(r.get(1)?),
                    last: iso(r.get(2)?),
                    cost_usd: r.get(3)?,
                    cost_unknown: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                })
            },
        )?;
        if none.count > 0 {
            out.push(none);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_of_hour_reads_one_hour_through_the_timestamp_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let plan: String = store
            .conn
            .query_row(
                &format!("EXPLAIN QUERY PLAN {EDGE_OF_HOUR}"),
                rusqlite::params!["acme/api", 0, 3_600_000_000i64],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("INDEX traces_timestamp"), "{plan}");
    }
}
