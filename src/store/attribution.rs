//! Reading what PR attribution needs for one repo and window: the PRs, the calls made on
//! branches (partial index `traces_repo_branch`), the commits around them, each PR's rework
//! flags, and a PR author's calls while it was open (hourly rollups, or rows without them).

use chrono::{DateTime, Duration, Utc};
use rusqlite::params;

use super::seam::*;
use super::{gh_time, parse_ts, Store};
use crate::attribution::{AuthorCalls, BranchCall, CommitFacts, CommitNeeds, PrFacts};
use crate::error::Result;

/// A PR of the window with what the `prs` listing shows besides its evidence.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrRow {
    /// What attribution reads.
    pub facts: PrFacts,
    /// `open` or `closed`.
    pub state: String,
    /// Title.
    pub title: String,
    /// Lines added, when GitHub reported them.
    pub additions: Option<i64>,
    /// Lines deleted, when GitHub reported them.
    pub deletions: Option<i64>,
    /// Reverted within 21 days of its merge.
    pub reverted: bool,
    /// Reopened before its merge (or, unmerged, at all).
    pub reopened: bool,
}

/// Everything attribution reads for one repo.
#[derive(Debug, Clone, Default)]
pub struct AttributionInputs {
    /// PRs created, merged or closed in the window.
    pub prs: Vec<PrRow>,
    /// Every base branch of the repo's PRs (never a PR's own work).
    pub base_refs: Vec<String>,
    /// Other PRs of the repo on the same head branches (outside the window): a call on a reused
    /// branch name goes to the right PR whatever the window.
    pub competitors: Vec<PrFacts>,
    /// Calls on a branch in the PRs' spans.
    pub calls: Vec<BranchCall>,
    /// Commits around the PRs that can carry trailer evidence: merge commits of the PRs (and of
    /// their competitors) and commits whose subject names a PR, narrowed to those holding a
    /// needle of [`CommitNeeds`].
    pub commits: Vec<CommitFacts>,
}

/// The columns [`pr_facts`] reads, first in a `SELECT` of `gh_pull_requests`.
pub(in crate::store) const PR_FACTS: &str = "number, author, head_ref, base_ref, created_at,
     merged_at, closed_at, merge_commit_sha";

/// A PR's facts from the [`PR_FACTS`] columns of `$r` (None when its creation time does not
/// parse): `$get` is the row type's fallible getter (`get` for SQLite, `try_get` for
/// PostgreSQL) and `$err` its error type; evaluates to `Result<Option<PrFacts>, $err>`.
macro_rules! pr_facts_from_row {
    ($r:expr, $get:ident, $err:ty) => {
        (|| -> std::result::Result<Option<$crate::attribution::PrFacts>, $err> {
            use $crate::store::parse_ts;
            let r = $r;
            let Some(created_at) = parse_ts(r.$get(4)?) else {
                return Ok(None);
            };
            Ok(Some($crate::attribution::PrFacts {
                number: r.$get(0)?,
                author: r.$get(1)?,
                head_ref: r.$get(2)?,
                base_ref: r.$get(3)?,
                created_at,
                merged_at: parse_ts(r.$get(5)?),
                closed_at: parse_ts(r.$get(6)?),
                merge_commit_sha: r.$get(7)?,
            }))
        })()
    };
}
pub(in crate::store) use pr_facts_from_row;

/// A PR's facts from the [`PR_FACTS`] columns of a SQLite row.
fn pr_facts(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<PrFacts>> {
    pr_facts_from_row!(r, get, rusqlite::Error)
}

impl PrReader for Store {
    /// Loads the PRs of `repo` created, merged or closed in `[start, end)` and what their
    /// evidence is built from; `needs` narrows the commits read for trailers.
    fn attribution_inputs(
        &self,
        repo: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
        needs: CommitNeeds<'_>,
    ) -> Result<AttributionInputs> {
        let mut out = AttributionInputs::default();
        if !self.gh_tables_exist()? {
            return Ok(out);
        }
        let (s, e) = (gh_time(start), gh_time(end));
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {PR_FACTS}, state, title, additions, deletions
             FROM gh_pull_requests WHERE repo = ?1
               AND ((created_at >= ?2 AND created_at < ?3) OR (merged_at >= ?2 AND merged_at < ?3)
                    OR (closed_at >= ?2 AND closed_at < ?3))
             ORDER BY number"
        ))?;
        let rows = stmt.query_map(params![repo, s, e], |r| {
            let Some(facts) = pr_facts(r)? else {
                return Ok(None);
            };
            Ok(Some(PrRow {
                facts,
                state: r.get(8)?,
                title: r.get(9)?,
                additions: r.get(10)?,
                deletions: r.get(11)?,
                ..PrRow::default()
            }))
        })?;
        for row in rows {
            out.prs.extend(row?);
        }
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT base_ref FROM gh_pull_requests WHERE repo = ?1 AND base_ref IS NOT NULL",
        )?;
        out.base_refs = stmt
            .query_map([repo], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        self.rework_flags(repo, &mut out.prs)?;
        let Some(first) = out.prs.iter().map(|p| p.facts.span(now).0).min() else {
            return Ok(out);
        };
        let last = out
            .prs
            .iter()
            .map(|p| p.facts.span(now).1)
            .max()
            .unwrap_or(now);
        let mut stmt = self.conn.prepare(
            "SELECT timestamp_us, git_branch, tokens_in + tokens_out, cost_usd FROM traces
             WHERE repo_slug = ?1 AND git_branch IS NOT NULL
               AND git_branch IN (SELECT value FROM json_each(?4))
               AND timestamp_us >= ?2 AND timestamp_us <= ?3",
        )?;
        // Only the PRs' own branches are read (one index range each).
        let heads: std::collections::BTreeSet<&str> = out
            .prs
            .iter()
            .filter_map(|p| p.facts.head_ref.as_deref())
            .collect();
        let heads = serde_json::to_string(&heads).unwrap_or_else(|_| "[]".into());
        let listed: std::collections::BTreeSet<i64> =
            out.prs.iter().map(|p| p.facts.number).collect();
        let mut others = self.conn.prepare(&format!(
            "SELECT {PR_FACTS} FROM gh_pull_requests
             WHERE repo = ?1 AND head_ref IN (SELECT value FROM json_each(?2))"
        ))?;
        for row in others.query_map(params![repo, heads], pr_facts)? {
            if let Some(p) = row?.filter(|p| !listed.contains(&p.number)) {
                out.competitors.push(p);
            }
        }
        let rows = stmt.query_map(
            params![
                repo,
                first.timestamp_micros(),
                last.timestamp_micros(),
                heads
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<f64>>(3)?,
                ))
            },
        )?;
        for row in rows {
            let (us, branch, tokens, cost_usd) = row?;
            if let Some(at) = DateTime::from_timestamp_micros(us) {
                out.calls.push(BranchCall {
                    at,
                    branch,
                    tokens,
                    cost_usd,
                });
            }
        }
        // Merge commits land at the merge; commits naming a PR from its span on. A store from
        // before schema version 10 (opened read-only) has no bodies: subjects only.
        let has_body: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('gh_commits') WHERE name = 'body')",
            [],
            |r| r.get(0),
        )?;
        // Only commits that can be evidence leave SQLite: a PR's merge commit or a subject
        // naming a PR (`(#N)`), holding a trailer needle (`LIKE` ignores ASCII case).
        let body = if has_body { "COALESCE(body, '')" } else { "''" };
        let merges: Vec<&str> = out
            .prs
            .iter()
            .map(|p| &p.facts)
            .chain(&out.competitors)
            .filter_map(|f| f.merge_commit_sha.as_deref())
            .collect();
        let merges = serde_json::to_string(&merges).unwrap_or_else(|_| "[]".into());
        let (first_at, last_at) = (gh_time(first), gh_time(last + Duration::days(1)));
        let mut values: Vec<&dyn rusqlite::ToSql> = vec![&repo, &first_at, &last_at, &merges];
        let mut sql = format!(
            "SELECT sha, message, {body} FROM gh_commits
             WHERE repo = ?1 AND committed_at >= ?2 AND committed_at <= ?3
               AND (instr(message, '(#') > 0 OR sha IN (SELECT value FROM json_each(?4)))"
        );
        // The needles hold no `%` or `_`, so they are literal in a LIKE pattern.
        let likes: Vec<String> = needs
            .needles
            .unwrap_or_default()
            .iter()
            .map(|n| format!("%{n}%"))
            .collect();
        if needs.needles.is_some() {
            let mut any = vec!["0".to_string()];
            for like in &likes {
                values.push(like);
                let k = values.len();
                any.push(format!("message LIKE ?{k} OR {body} LIKE ?{k}"));
            }
            sql.push_str(&format!(" AND ({})", any.join(" OR ")));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        out.commits = stmt
            .query_map(values.as_slice(), |r| {
                Ok(CommitFacts {
                    sha: r.get(0)?,
                    subject: r.get(1)?,
                    body: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(out)
    }

    /// Calls, tokens and known cost per (UTC hour, developer id) of `repo` within `[from, to]`
    /// (hours since the epoch), from the rollups (rows when there are none).
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
        let sql = if self.has_rollups()? {
            "SELECT hour, developer, SUM(requests), SUM(tokens), TOTAL(cost_usd) FROM rollup_cells
             WHERE repo = ?1 AND hour >= ?2 AND hour <= ?3 AND developer IS NOT NULL
             GROUP BY hour, developer"
        } else {
            "SELECT timestamp_us / 3600000000, developer_id, COUNT(*), SUM(tokens_in + tokens_out),
                    TOTAL(cost_usd) FROM traces
             WHERE repo_slug = ?1 AND timestamp_us >= ?2 * 3600000000
               AND timestamp_us < (?3 + 1) * 3600000000 AND developer_id IS NOT NULL
             GROUP BY 1, 2"
        };
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map(params![repo, h0, h1], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                AuthorCalls {
                    calls: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    tokens: r.get(3)?,
                    cost_usd: r.get(4)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Store {
    fn rework_flags(&self, repo: &str, prs: &mut [PrRow]) -> Result<()> {
        // One read of the repo's rework rows (not one query per PR).
        let mut stmt = self
            .conn
            .prepare("SELECT pr_number, kind, at, within_window FROM gh_rework WHERE repo = ?1")?;
        let mut by_pr: std::collections::HashMap<i64, Vec<(String, String, bool)>> =
            std::collections::HashMap::new();
        let rows = stmt.query_map([repo], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        for row in rows {
            let (n, kind, at, within) = row?;
            by_pr.entry(n).or_default().push((kind, at, within));
        }
        for p in prs.iter_mut() {
            apply_rework(p, by_pr.get(&p.facts.number));
        }
        Ok(())
    }
}

/// Sets a PR's flags from its rework rows (kind, at, within the revert window): reverted
/// within the window after its merge, reopened before its merge (or, unmerged, at all).
pub(in crate::store) fn apply_rework(p: &mut PrRow, rows: Option<&Vec<(String, String, bool)>>) {
    for (kind, at, within) in rows.into_iter().flatten() {
        match kind.as_str() {
            "revert" => p.reverted |= *within && p.facts.merged_at.is_some(),
            "reopened" => {
                let at = parse_ts(Some(at.clone()));
                p.reopened |= match (at, p.facts.merged_at) {
                    (Some(a), Some(m)) => a <= m,
                    _ => true,
                };
            }
            _ => {}
        }
    }
}
