//! What PR attribution reads from a PostgreSQL store: the SQLite store's queries (see
//! `store::attribution`) in PostgreSQL's SQL, giving the same inputs.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use postgres::types::ToSql;

use super::PgStore;
use crate::attribution::{AuthorCalls, BranchCall, CommitFacts, CommitNeeds, PrFacts};
use crate::error::Result;
use crate::store::attribution::{pr_facts_from_row, AttributionInputs, PrRow, PR_FACTS};
use crate::store::gh_time;
use crate::store::seam::PrReader;

/// A PR's facts from the [`PR_FACTS`] columns of a PostgreSQL row.
fn pr_facts(r: &postgres::Row) -> Result<Option<PrFacts>> {
    Ok(pr_facts_from_row!(r, try_get, postgres::Error)?)
}

impl PrReader for PgStore {
    fn attribution_inputs(
        &self,
        repo: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
        needs: CommitNeeds<'_>,
    ) -> Result<AttributionInputs> {
        let mut out = AttributionInputs::default();
        let (s, e) = (gh_time(start), gh_time(end));
        let mut c = self.client();
        let rows = c.query(
            &format!(
                "SELECT {PR_FACTS}, state, title, additions, deletions
                 FROM gh_pull_requests WHERE repo = $1
                   AND ((created_at >= $2 AND created_at < $3)
                        OR (merged_at >= $2 AND merged_at < $3)
                        OR (closed_at >= $2 AND closed_at < $3))
                 ORDER BY number"
            ),
            &[&repo, &s, &e],
        )?;
        for r in &rows {
            if let Some(facts) = pr_facts(r)? {
                out.prs.push(PrRow {
                    facts,
                    state: r.try_get(8)?,
                    title: r.try_get(9)?,
                    additions: r.try_get(10)?,
                    deletions: r.try_get(11)?,
                    ..PrRow::default()
                });
            }
        }
        out.base_refs = c
            .query(
                "SELECT DISTINCT base_ref COLLATE \"C\" FROM gh_pull_requests
                 WHERE repo = $1 AND base_ref IS NOT NULL ORDER BY 1",
                &[&repo],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        rework_flags(&mut c, repo, &mut out.prs)?;
        let Some(first) = out.prs.iter().map(|p| p.facts.span(now).0).min() else {
            return Ok(out);
        };
        let last = out
            .prs
            .iter()
            .map(|p| p.facts.span(now).1)
            .max()
            .unwrap_or(now);
        // Only the PRs' own branches are read (one index range each).
        let heads: Vec<&str> = out
            .prs
            .iter()
            .filter_map(|p| p.facts.head_ref.as_deref())
            .collect::<BTreeSet<&str>>()
            .into_iter()
            .collect();
        let listed: BTreeSet<i64> = out.prs.iter().map(|p| p.facts.number).collect();
        let others = c.query(
            &format!(
                "SELECT {PR_FACTS} FROM gh_pull_requests
                 WHERE repo = $1 AND head_ref = ANY($2::TEXT[]) ORDER BY head_ref COLLATE \"C\", number"
            ),
            &[&repo, &heads],
        )?;
        for r in &others {
            if let Some(p) = pr_facts(r)?.filter(|p| !listed.contains(&p.number)) {
                out.competitors.push(p);
            }
        }
        let calls = c.query(
            "SELECT timestamp_us, git_branch, tokens_in + tokens_out, cost_usd FROM traces
             WHERE repo_slug = $1 AND git_branch IS NOT NULL AND git_branch = ANY($4::TEXT[])
               AND timestamp_us >= $2 AND timestamp_us <= $3
             ORDER BY git_branch COLLATE \"C\", timestamp_us, tokens_in + tokens_out, cost_usd",
            &[
                &repo,
                &first.timestamp_micros(),
                &last.timestamp_micros(),
                &heads,
            ],
        )?;
        for r in &calls {
            if let Some(at) = DateTime::from_timestamp_micros(r.try_get(0)?) {
                out.calls.push(BranchCall {
                    at,
                    branch: r.try_get(1)?,
                    tokens: r.try_get(2)?,
                    cost_usd: r.try_get(3)?,
                });
            }
        }
        // Only commits that can be evidence are read: a PR's merge commit or a subject naming a
        // PR (`(#N)`), holding a trailer needle (ILIKE ignores case, as SQLite's LIKE does for
        // ASCII; the needles are ASCII).
        let merges: Vec<&str> = out
            .prs
            .iter()
            .map(|p| &p.facts)
            .chain(&out.competitors)
            .filter_map(|f| f.merge_commit_sha.as_deref())
            .collect();
        let (first_at, last_at) = (gh_time(first), gh_time(last + Duration::days(1)));
        let repo = repo.to_string();
        let mut values: Vec<&(dyn ToSql + Sync)> = vec![&repo, &first_at, &last_at, &merges];
        let mut sql = "SELECT sha, message, COALESCE(body, '') FROM gh_commits
             WHERE repo = $1 AND committed_at >= $2 AND committed_at <= $3
               AND (strpos(message, '(#') > 0 OR sha = ANY($4::TEXT[]))"
            .to_string();
        // The needles hold no `%` or `_`, so they are literal in a LIKE pattern.
        let likes: Vec<String> = needs
            .needles
            .unwrap_or_default()
            .iter()
            .map(|n| format!("%{n}%"))
            .collect();
        if needs.needles.is_some() {
            let mut any = vec!["FALSE".to_string()];
            for like in &likes {
                values.push(like);
                let k = values.len();
                any.push(format!(
                    "message ILIKE ${k} OR COALESCE(body, '') ILIKE ${k}"
                ));
            }
            sql.push_str(&format!(" AND ({})", any.join(" OR ")));
        }
        sql.push_str(" ORDER BY committed_at, sha COLLATE \"C\"");
        out.commits = c
            .query(&sql, &values)?
            .iter()
            .map(|r| {
                Ok(CommitFacts {
                    sha: r.try_get(0)?,
                    subject: r.try_get(1)?,
                    body: r.try_get(2)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(out)
    }

    fn hourly_calls(
        &self,
        repo: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(i64, String, AuthorCalls)>> {
        let (h0, h1) = (
            crate::metrics::counters::utc_hour(from.timestamp_micros()),
            crate::metrics::counters::utc_hour(to.timestamp_micros()),
        );
        // Rollups keep a missing developer as ''; the SQLite store reads those rows too.
        let rows = self.client().query(
            &format!(
                "SELECT hour, developer, SUM(requests)::BIGINT, SUM(tokens)::BIGINT, {}
                 FROM rollup_cells
                 WHERE repo = $1 AND hour >= $2 AND hour <= $3 AND developer IS NOT NULL
                 GROUP BY hour, developer ORDER BY hour, developer COLLATE \"C\"",
                super::sessions::exact_total("cost_usd")
            ),
            &[&repo, &h0, &h1],
        )?;
        rows.iter()
            .map(|r| {
                let calls: i64 = r.try_get(2)?;
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    AuthorCalls {
                        calls: u64::try_from(calls).unwrap_or(0),
                        tokens: r.try_get(3)?,
                        cost_usd: r.try_get(4)?,
                    },
                ))
            })
            .collect()
    }
}

/// Sets each PR's reverted / reopened flags from one read of the repo's rework rows.
fn rework_flags(c: &mut postgres::Client, repo: &str, prs: &mut [PrRow]) -> Result<()> {
    let mut by_pr: HashMap<i64, Vec<(String, String, bool)>> = HashMap::new();
    for r in c.query(
        "SELECT pr_number, kind, at, within_window FROM gh_rework WHERE repo = $1",
        &[&repo],
    )? {
        by_pr
            .entry(r.try_get(0)?)
            .or_default()
            .push((r.try_get(1)?, r.try_get(2)?, r.try_get(3)?));
    }
    for p in prs.iter_mut() {
        crate::store::attribution::apply_rework(p, by_pr.get(&p.facts.number));
    }
    Ok(())
}
