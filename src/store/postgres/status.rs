//! `status` of a PostgreSQL store: the SQLite store's report, read with PostgreSQL's SQL.

use super::sessions::exact_total;
use super::PgStore;
use crate::error::Result;
use crate::store::seam::{GithubState, RunLog, StatusReader};
use crate::store::status::{RepoTraces, Status, TraceTotals};

const HOUR_US: i64 = 3_600_000_000;

fn iso(us: Option<i64>) -> Option<String> {
    us.and_then(crate::time::iso_micros)
}

impl StatusReader for PgStore {
    /// Traces per repo from the rollups (first and last call from the rows of the edge hours),
    /// calls without a repo from the rows, dead letters, the latest runs and the GitHub figures
    /// per repo.
    fn status(&self, runs: usize) -> Result<Status> {
        let mut by_repo = Vec::new();
        {
            let mut c = self.client();
            // Costs summed exactly, as SQLite's compensated sums give them.
            let rows = c.query(
                &format!(
                    "SELECT repo, SUM(requests)::BIGINT, {}, SUM(cost_unknown)::BIGINT,
                            MIN(hour), MAX(hour)
                     FROM rollup_cells GROUP BY repo ORDER BY repo COLLATE \"C\"",
                    exact_total("cost_usd")
                ),
                &[],
            )?;
            let edge = c.prepare(
                "SELECT MIN(timestamp_us), MAX(timestamp_us) FROM traces
                 WHERE repo_slug = $1 AND timestamp_us >= $2 AND timestamp_us < $3",
            )?;
            for r in &rows {
                let repo: String = r.try_get(0)?;
                let (first_h, last_h): (i64, i64) = (r.try_get(4)?, r.try_get(5)?);
                let first: Option<i64> = c
                    .query_one(
                        &edge,
                        &[&repo, &(first_h * HOUR_US), &((first_h + 1) * HOUR_US)],
                    )?
                    .try_get(0)?;
                let last: Option<i64> = c
                    .query_one(
                        &edge,
                        &[&repo, &(last_h * HOUR_US), &((last_h + 1) * HOUR_US)],
                    )?
                    .try_get(1)?;
                by_repo.push(RepoTraces {
                    repo: Some(repo),
                    count: r.try_get(1)?,
                    first: iso(first),
                    last: iso(last),
                    cost_usd: r.try_get(2)?,
                    cost_unknown: r.try_get(3)?,
                });
            }
            let none = c.query_one(
                &format!(
                    "SELECT COUNT(*), MIN(timestamp_us), MAX(timestamp_us), {},
                            COUNT(*) FILTER (WHERE cost_usd IS NULL)
                     FROM traces WHERE repo_slug IS NULL",
                    exact_total("cost_usd")
                ),
                &[],
            )?;
            let count: i64 = none.try_get(0)?;
            if count > 0 {
                by_repo.push(RepoTraces {
                    repo: None,
                    count,
                    first: iso(none.try_get(1)?),
                    last: iso(none.try_get(2)?),
                    cost_usd: none.try_get(3)?,
                    cost_unknown: none.try_get(4)?,
                });
            }
        }
        Ok(Status {
            database: self.name().to_string(),
            schema_version: StatusReader::schema_version(self)?,
            traces: TraceTotals {
                total: by_repo.iter().map(|r| r.count).sum(),
                by_repo,
            },
            dead_letters: self.dead_letter_total()?,
            runs: self.recent_runs(runs)?,
            github: self.gh_status()?,
        })
    }

    fn schema_version(&self) -> Result<i64> {
        Ok(self
            .client()
            .query_one("SELECT version FROM prodlens_schema", &[])?
            .try_get(0)?)
    }

    fn has_session_model_rollups(&self) -> Result<bool> {
        Ok(true)
    }
}
