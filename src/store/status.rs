//! What `prod-lens status` reports: stored traces per repo, recent runs, dead letters, GitHub data.

use super::runs::RunRow;
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

fn iso(us: Option<i64>) -> Option<String> {
    us.and_then(chrono::DateTime::from_timestamp_micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

impl Store {
    /// Gathers the status report (last `runs` runs).
    pub fn status(&self, runs: usize) -> Result<Status> {
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
}
