//! GitHub rows, rework links, the conditional-request cache and sync state in PostgreSQL: the
//! SQLite store's `store/github.rs` with PostgreSQL's SQL. The same upserts (the newest copy of a
//! PR wins, line counts are never blanked), the same inserted/refreshed counts and the same rework
//! links; every write transaction ends with `NOTIFY prodlens_changes`.

use super::PgStore;
use crate::error::Result;
use crate::github::client::Validators;
use crate::github::model::{Digest, Page, Stream};
use crate::github::rework::{self, CommitFacts, PrFacts, ReopenFacts, RevertRef};
use crate::store::github::{ApplyCounts, CacheEntry, GitHubRepoStatus, StreamState};
use crate::store::parse_ts;
use crate::store::seam::GithubState;
use chrono::{DateTime, Utc};
use postgres::Transaction;

/// Times as the SQLite store writes them (UTC, whole seconds).
fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn join<T: ToString>(v: &[T]) -> Option<String> {
    (!v.is_empty()).then(|| v.iter().map(T::to_string).collect::<Vec<_>>().join(" "))
}

fn split(s: Option<String>) -> Vec<String> {
    s.map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// A page's rows in key order, so that writers storing overlapping pages lock rows in one order
/// (the sort is stable: copies of one key keep their order, and the last still wins).
fn in_key_order<T, K: Ord>(rows: &[T], key: impl Fn(&T) -> K) -> Vec<&T> {
    let mut v: Vec<&T> = rows.iter().collect();
    v.sort_by_key(|r| key(r));
    v
}

/// The upsert of one pull request; returns whether the row existed before (a CTE sees the table
/// as it was before the statement's own insert).
const UPSERT_PULL: &str = "
    WITH before AS (SELECT 1 FROM gh_pull_requests WHERE repo = $1 AND number = $2),
    up AS (
        INSERT INTO gh_pull_requests (repo, number, id, title, author, state, draft,
            created_at, updated_at, closed_at, merged_at, merge_commit_sha, base_ref, head_ref,
            additions, deletions, changed_files, revert_title, revert_shas, revert_numbers)
        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)
        ON CONFLICT (repo, number) DO UPDATE SET id = excluded.id, title = excluded.title,
            author = excluded.author, state = excluded.state, draft = excluded.draft,
            created_at = excluded.created_at, updated_at = excluded.updated_at,
            closed_at = excluded.closed_at, merged_at = excluded.merged_at,
            merge_commit_sha = excluded.merge_commit_sha, base_ref = excluded.base_ref,
            head_ref = excluded.head_ref,
            additions = COALESCE(excluded.additions, gh_pull_requests.additions),
            deletions = COALESCE(excluded.deletions, gh_pull_requests.deletions),
            changed_files = COALESCE(excluded.changed_files, gh_pull_requests.changed_files),
            revert_title = excluded.revert_title, revert_shas = excluded.revert_shas,
            revert_numbers = excluded.revert_numbers
        WHERE excluded.updated_at >= gh_pull_requests.updated_at)
    SELECT EXISTS (SELECT 1 FROM before)";

/// The upsert of one commit; returns whether the row existed before.
const UPSERT_COMMIT: &str = "
    WITH before AS (SELECT 1 FROM gh_commits WHERE repo = $1 AND sha = $2),
    up AS (
        INSERT INTO gh_commits (repo, sha, author_login, author_name, author_email,
            authored_at, committed_at, message, revert_shas, body)
        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
        ON CONFLICT (repo, sha) DO UPDATE SET author_login = excluded.author_login,
            author_name = excluded.author_name, author_email = excluded.author_email,
            authored_at = excluded.authored_at, committed_at = excluded.committed_at,
            message = excluded.message, revert_shas = excluded.revert_shas,
            body = excluded.body)
    SELECT EXISTS (SELECT 1 FROM before)";

/// The upsert of one issue event; returns whether the row existed before.
const UPSERT_EVENT: &str = "
    WITH before AS (SELECT 1 FROM gh_issue_events WHERE repo = $1 AND id = $2),
    up AS (
        INSERT INTO gh_issue_events (repo, id, event, issue_number, is_pull_request, actor,
            created_at, commit_id)
        VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
        ON CONFLICT (repo, id) DO UPDATE SET event = excluded.event,
            issue_number = excluded.issue_number, is_pull_request = excluded.is_pull_request,
            actor = excluded.actor, created_at = excluded.created_at,
            commit_id = excluded.commit_id)
    SELECT EXISTS (SELECT 1 FROM before)";

fn write_rows(tx: &mut Transaction<'_>, repo: &str, page: &Page) -> Result<ApplyCounts> {
    let mut c = ApplyCounts::default();
    let mut tally = |existed: bool| {
        if existed {
            c.updated += 1
        } else {
            c.inserted += 1
        }
    };
    match page {
        Page::Pulls(rows) => {
            let up = tx.prepare(UPSERT_PULL)?;
            for p in in_key_order(rows, |p| p.number) {
                let existed = tx.query_one(
                    &up,
                    &[
                        &repo,
                        &p.number,
                        &p.id,
                        &p.title,
                        &p.author,
                        &p.state,
                        &p.draft,
                        &p.created_at,
                        &p.updated_at,
                        &p.closed_at,
                        &p.merged_at,
                        &p.merge_commit_sha,
                        &p.base_ref,
                        &p.head_ref,
                        &p.additions,
                        &p.deletions,
                        &p.changed_files,
                        &p.reverts.title,
                        &join(&p.reverts.shas),
                        &join(&p.reverts.numbers),
                    ],
                )?;
                tally(existed.try_get(0)?);
            }
        }
        Page::Commits(rows) => {
            let up = tx.prepare(UPSERT_COMMIT)?;
            for r in in_key_order(rows, |r| r.sha.clone()) {
                let existed = tx.query_one(
                    &up,
                    &[
                        &repo,
                        &r.sha,
                        &r.author_login,
                        &r.author_name,
                        &r.author_email,
                        &r.authored_at,
                        &r.committed_at,
                        &r.message,
                        &join(&r.reverts.shas),
                        &r.body,
                    ],
                )?;
                tally(existed.try_get(0)?);
            }
        }
        Page::Events(rows) => {
            let up = tx.prepare(UPSERT_EVENT)?;
            for e in in_key_order(rows, |e| e.id) {
                let existed = tx.query_one(
                    &up,
                    &[
                        &repo,
                        &e.id,
                        &e.event,
                        &e.issue_number,
                        &e.is_pull_request,
                        &e.actor,
                        &e.created_at,
                        &e.commit_id,
                    ],
                )?;
                tally(existed.try_get(0)?);
            }
        }
    }
    Ok(c)
}

/// The stored facts rework is computed from: PRs (in number order, as SQLite reads them),
/// commits and `reopened` events of PRs.
fn rework_facts(
    tx: &mut Transaction<'_>,
    repo: &str,
) -> Result<(Vec<PrFacts>, Vec<CommitFacts>, Vec<ReopenFacts>)> {
    let mut prs = Vec::new();
    for r in tx.query(
        "SELECT number, title, merged_at, merge_commit_sha, revert_title, revert_shas,
                revert_numbers FROM gh_pull_requests WHERE repo = $1 ORDER BY number",
        &[&repo],
    )? {
        prs.push(PrFacts {
            number: r.try_get(0)?,
            title: r.try_get(1)?,
            merged_at: parse_ts(r.try_get(2)?),
            merge_commit_sha: r.try_get(3)?,
            reverts: RevertRef {
                title: r.try_get(4)?,
                shas: split(r.try_get(5)?),
                numbers: split(r.try_get(6)?)
                    .iter()
                    .filter_map(|n| n.parse().ok())
                    .collect(),
            },
        });
    }
    let mut commits = Vec::new();
    for r in tx.query(
        r#"SELECT sha, message, committed_at, revert_shas FROM gh_commits WHERE repo = $1
           ORDER BY sha COLLATE "C""#,
        &[&repo],
    )? {
        let subject: String = r.try_get(1)?;
        commits.push(CommitFacts {
            sha: r.try_get(0)?,
            reverts: RevertRef {
                title: rework::revert_title(&subject),
                shas: split(r.try_get(3)?),
                numbers: Vec::new(),
            },
            subject,
            at: parse_ts(r.try_get(2)?),
        });
    }
    let mut reopens = Vec::new();
    for r in tx.query(
        "SELECT id, issue_number, created_at FROM gh_issue_events
         WHERE repo = $1 AND event = 'reopened' AND is_pull_request
           AND issue_number IS NOT NULL
         ORDER BY id",
        &[&repo],
    )? {
        if let Some(at) = parse_ts(Some(r.try_get(2)?)) {
            reopens.push(ReopenFacts {
                id: r.try_get(0)?,
                number: r.try_get(1)?,
                at,
            });
        }
    }
    Ok((prs, commits, reopens))
}

/// Recomputes the repo's rework links inside `tx`, under a transaction-scoped lock of the repo's
/// links, so that two transactions recomputing one repo replace the links one after the other.
pub(super) fn recompute_rework_in(tx: &mut postgres::Transaction<'_>, repo: &str) -> Result<usize> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('prodlens gh_rework ' || $1::TEXT, 0))",
        &[&repo],
    )?;
    let (prs, commits, reopens) = rework_facts(tx, repo)?;
    let links = rework::compute(&prs, &commits, &reopens);
    tx.execute("DELETE FROM gh_rework WHERE repo = $1", &[&repo])?;
    let ins = tx.prepare(
        "INSERT INTO gh_rework (repo, kind, pr_number, source, at, days_after_merge,
            within_window)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )?;
    for l in &links {
        tx.execute(
            &ins,
            &[
                &repo,
                &l.kind,
                &l.pr_number,
                &l.source,
                &l.at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                &l.days_after_merge,
                &l.within_window,
            ],
        )?;
    }
    Ok(links.len())
}

impl GithubState for PgStore {
    fn gh_cache_get(&self, url: &str) -> Result<Option<CacheEntry>> {
        let row = self.client().query_opt(
            "SELECT etag, last_modified, next_url, items, min_key, max_key
             FROM gh_http_cache WHERE url = $1",
            &[&url],
        )?;
        let Some(r) = row else {
            return Ok(None);
        };
        Ok(Some(CacheEntry {
            validators: Validators {
                etag: r.try_get(0)?,
                last_modified: r.try_get(1)?,
            },
            next_url: r.try_get(2)?,
            digest: Digest {
                items: r.try_get::<_, i64>(3)?.max(0) as usize,
                min_key: r.try_get(4)?,
                max_key: r.try_get(5)?,
            },
        }))
    }

    fn gh_apply_page(
        &mut self,
        repo: &str,
        page: &Page,
        cache: Option<(&str, &CacheEntry)>,
    ) -> Result<ApplyCounts> {
        let mut c = self.client();
        let mut tx = c.transaction()?;
        let counts = write_rows(&mut tx, repo, page)?;
        if let Some((url, e)) = cache {
            tx.execute(
                "INSERT INTO gh_http_cache (url, repo, stream, etag, last_modified, next_url, items,
                    min_key, max_key, fetched_at)
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
                 ON CONFLICT (url) DO UPDATE SET repo = excluded.repo, stream = excluded.stream,
                    etag = excluded.etag, last_modified = excluded.last_modified,
                    next_url = excluded.next_url, items = excluded.items,
                    min_key = excluded.min_key, max_key = excluded.max_key,
                    fetched_at = excluded.fetched_at",
                &[
                    &url,
                    &repo,
                    &page.stream().name(),
                    &e.validators.etag,
                    &e.validators.last_modified,
                    &e.next_url,
                    &(e.digest.items as i64),
                    &e.digest.min_key,
                    &e.digest.max_key,
                    &now(),
                ],
            )?;
        }
        tx.batch_execute("NOTIFY prodlens_changes")?;
        tx.commit()?;
        Ok(counts)
    }

    fn gh_stream_state(&self, repo: &str, stream: Stream) -> Result<StreamState> {
        let row = self.client().query_opt(
            "SELECT checkpoint, probe_url, probe_etag FROM gh_sync_state
             WHERE repo = $1 AND stream = $2",
            &[&repo, &stream.name()],
        )?;
        Ok(match row {
            Some(r) => StreamState {
                checkpoint: r.try_get(0)?,
                probe_url: r.try_get(1)?,
                probe_etag: r.try_get(2)?,
            },
            None => StreamState::default(),
        })
    }

    fn gh_set_stream_state(&self, repo: &str, stream: Stream, s: &StreamState) -> Result<()> {
        let mut c = self.client();
        let mut tx = c.transaction()?;
        tx.execute(
            "INSERT INTO gh_sync_state (repo, stream, checkpoint, probe_url, probe_etag, last_sync)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (repo, stream) DO UPDATE SET checkpoint = excluded.checkpoint,
                probe_url = excluded.probe_url, probe_etag = excluded.probe_etag,
                last_sync = excluded.last_sync",
            &[
                &repo,
                &stream.name(),
                &s.checkpoint,
                &s.probe_url,
                &s.probe_etag,
                &now(),
            ],
        )?;
        tx.batch_execute("NOTIFY prodlens_changes")?;
        tx.commit()?;
        Ok(())
    }

    fn gh_finish_repo(
        &self,
        repo: &str,
        outcome: &str,
        remaining: Option<i64>,
        reset: Option<i64>,
    ) -> Result<()> {
        let reset = reset
            .and_then(|r| DateTime::from_timestamp(r, 0))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let mut c = self.client();
        let mut tx = c.transaction()?;
        tx.execute(
            "INSERT INTO gh_repos (repo, last_sync, last_outcome, rate_limit_remaining,
                rate_limit_reset)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (repo) DO UPDATE SET last_sync = excluded.last_sync,
                last_outcome = excluded.last_outcome,
                rate_limit_remaining =
                    COALESCE(excluded.rate_limit_remaining, gh_repos.rate_limit_remaining),
                rate_limit_reset = COALESCE(excluded.rate_limit_reset, gh_repos.rate_limit_reset)",
            &[&repo, &now(), &outcome, &remaining, &reset],
        )?;
        tx.batch_execute("NOTIFY prodlens_changes")?;
        tx.commit()?;
        Ok(())
    }

    fn gh_rate_limit_remaining(&self, repo: &str) -> Result<Option<i64>> {
        let row = self.client().query_opt(
            "SELECT rate_limit_remaining FROM gh_repos WHERE repo = $1",
            &[&repo],
        )?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => None,
        })
    }

    /// Recomputes the repo's rework links under a lock of the repo's links, so that two syncs of
    /// one repo finishing together replace the links one after the other.
    fn gh_recompute_rework(&mut self, repo: &str) -> Result<usize> {
        let mut c = self.client();
        let mut tx = c.transaction()?;
        let n = recompute_rework_in(&mut tx, repo)?;
        tx.batch_execute("NOTIFY prodlens_changes")?;
        tx.commit()?;
        Ok(n)
    }

    /// Always true: opening the store migrates it, GitHub tables included.
    fn gh_tables_exist(&self) -> Result<bool> {
        Ok(true)
    }

    /// GitHub figures per repo, in the byte order of the repo names (SQLite's `BINARY`).
    fn gh_status(&self) -> Result<Vec<GitHubRepoStatus>> {
        let rows = self.client().query(
            r#"WITH repos AS (
                SELECT repo FROM gh_pull_requests UNION SELECT repo FROM gh_commits
                UNION SELECT repo FROM gh_issue_events UNION SELECT repo FROM gh_repos)
             SELECT r.repo,
                (SELECT COUNT(*) FROM gh_pull_requests p WHERE p.repo = r.repo),
                (SELECT COUNT(*) FROM gh_pull_requests p
                    WHERE p.repo = r.repo AND p.merged_at IS NOT NULL),
                (SELECT COUNT(*) FROM gh_commits c WHERE c.repo = r.repo),
                (SELECT COUNT(DISTINCT pr_number) FROM gh_rework w
                    WHERE w.repo = r.repo AND w.kind = 'reopened'),
                (SELECT COUNT(DISTINCT pr_number) FROM gh_rework w
                    WHERE w.repo = r.repo AND w.kind = 'revert' AND w.within_window),
                g.last_sync, g.last_outcome, g.rate_limit_remaining
             FROM repos r LEFT JOIN gh_repos g ON g.repo = r.repo
             ORDER BY r.repo COLLATE "C""#,
            &[],
        )?;
        rows.iter()
            .map(|r| {
                Ok(GitHubRepoStatus {
                    repo: r.try_get(0)?,
                    pull_requests: r.try_get(1)?,
                    merged: r.try_get(2)?,
                    commits: r.try_get(3)?,
                    reopened: r.try_get(4)?,
                    reverted: r.try_get(5)?,
                    last_sync: r.try_get(6)?,
                    last_outcome: r.try_get(7)?,
                    rate_limit_remaining: r.try_get(8)?,
                })
            })
            .collect()
    }
}
